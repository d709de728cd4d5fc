/* SPDX-License-Identifier: MIT */
/*
 * test_fsd_cluster.c - the nodes and node files of a group spanning
 * machines (fsd/cluster.c): what is accepted and how it reads back, each
 * way a file is wrong with its errno and a reason naming the line, and
 * random bytes (refused or accepted, never a crash).
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipcfs/cluster.h"
#include "testlib.h"

static char why[160];

static int parse(const char *s, unsigned ranks, struct fsd_cluster *c)
{
	why[0] = '\0';
	return fsd_cluster_parse_nodes(s, strlen(s), ranks, c, why, sizeof(why));
}

START_TEST(accepted)
{
	struct fsd_cluster c = { 0 };
	char line[256];

	ck_assert_int_eq(parse("a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2,3\n", 4, &c), 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.node[0].name, "a");
	ck_assert_str_eq(c.node[0].addr, "tcp://10.9.0.1:7100");
	ck_assert_uint_eq(c.node[0].ip, 0x0a090001u);
	ck_assert_uint_eq(c.node[0].port, 7100);
	ck_assert_uint_eq(c.node[0].ranks, 0x3);
	ck_assert_uint_eq(c.node[1].ranks, 0xc);
	ck_assert_int_eq(fsd_cluster_node_of(&c, 3), 1);
	ck_assert_int_eq(fsd_cluster_node_of(&c, 4), -1);
	ck_assert_int_eq(fsd_cluster_find(&c, "b"), 1);
	ck_assert_int_eq(fsd_cluster_find(&c, "c"), -1);
	/* Canonical form: ranges joined, one space. */
	fsd_cluster_format_node(&c.node[1], line, sizeof(line));
	ck_assert_str_eq(line, "b tcp://10.9.0.2:7100 2-3\n");
	/* Comments, blank lines, tabs, CRs, leading zeros of the address. */
	ck_assert_int_eq(parse("# two nodes\n\n  x\ttcp://010.0.0.1:1 1,0 \r\ny tcp://10.0.0.1:2 2", 3,
			       &c), 0);
	ck_assert_uint_eq(c.n, 2);
	ck_assert_str_eq(c.node[0].addr, "tcp://10.0.0.1:1");
	/* Sixty-four ranks on many nodes; an empty file clears. */
	char big[4096];
	size_t o = 0;
	for (unsigned i = 0; i < 16; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "n%u tcp://10.0.0.%u:9 %u-%u\n", i, i + 1,
				      4 * i, 4 * i + 3);
	ck_assert_int_eq(parse(big, 64, &c), 0);
	ck_assert_uint_eq(c.n, 16);
	ck_assert_uint_eq(c.node[15].ranks, 0xfull << 60);
	ck_assert_int_eq(parse("", 64, &c), 0);
	ck_assert_uint_eq(c.n, 0);
}
END_TEST

START_TEST(refused)
{
	static const struct {
		const char *text;
		unsigned ranks;
		int err;
		const char *why;
	} bad[] = {
		{ "a tcp://10.0.0.1:1 0\nb tcp://10.0.0.2:1 0\n", 1, -EINVAL, "rank 0 on two nodes" },
		{ "a tcp://10.0.0.1:1 0\n", 2, -EINVAL, "rank 1 is on no node" },
		{ "a tcp://10.0.0.1:1 0-2\n", 2, -ERANGE, "line 1: rank 2 beyond" },
		{ "a tcp://10.0.0.1:1 0\na tcp://10.0.0.2:1 1\n", 2, -EINVAL, "node a listed twice" },
		{ "a tcp://10.0.0.1:1 0\nb tcp://10.0.0.1:1 1\n", 2, -EINVAL, "share tcp://10.0.0.1:1" },
		{ "a tcp://10.0.0.1 0\n", 1, -EINVAL, "line 1: address has no :PORT" },
		{ "a tcp://10.0.0.1:0 0\n", 1, -ERANGE, "port 0 out of range" },
		{ "a tcp://10.0.0.1:65536 0\n", 1, -ERANGE, "port 65536" },
		{ "a tcp://10.0.0.256:1 0\n", 1, -EINVAL, "IPv4" },
		{ "a tcp://host:1 0\n", 1, -EINVAL, "IPv4" },
		{ "a udp://10.0.0.1:1 0\n", 1, -EINVAL, "tcp://" },
		{ "a tcp://0.0.0.0:1 0\n", 1, -EINVAL, "0.0.0.0" },
		{ "a tcp://10.0.0.1:1\n", 1, -EINVAL, "not NAME" },
		{ "a tcp://10.0.0.1:1 0 extra\n", 1, -EINVAL, "not NAME" },
		{ "a/b tcp://10.0.0.1:1 0\n", 1, -EINVAL, "outside" },
		{ ".. tcp://10.0.0.1:1 0\n", 1, -EINVAL, ". or .." },
		{ "a tcp://10.0.0.1:1 1-0\n", 2, -EINVAL, "list like" },
		{ "a tcp://10.0.0.1:1 0,\n", 1, -EINVAL, "comma" },
		{ "a tcp://10.0.0.1:1 0,0\n", 1, -EINVAL, "rank 0 listed twice" },
		{ "a tcp://10.0.0.1:1 -1\n", 1, -EINVAL, "list like" },
		{ "a tcp://10.0.0.1:1 99999999999999999999\n", 1, -EINVAL, "list like" },
		{ "\nx tcp://10.0.0.1:1 0\nyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy tcp://10.0.0.2:1 1\n", 2, -EINVAL,
		  "line 3: node name longer" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct fsd_cluster c = { .n = 7 };
		int rc = parse(bad[i].text, bad[i].ranks, &c);
		ck_assert_msg(rc == bad[i].err, "case %zu: rc %d why %s", i, rc, why);
		ck_assert_msg(strstr(why, bad[i].why), "case %zu: why \"%s\"", i, why);
		ck_assert_uint_eq(c.n, 7); /* untouched */
	}
	/* NUL bytes, too many nodes. */
	struct fsd_cluster c = { 0 };
	ck_assert_int_eq(fsd_cluster_parse_nodes("a\0b", 3, 1, &c, why, sizeof(why)), -EINVAL);
	char big[4096];
	size_t o = 0;
	for (unsigned i = 0; i < 17; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "n%u tcp://10.0.0.%u:9 %u\n", i, i + 1, i);
	ck_assert_int_eq(parse(big, 17, &c), -ERANGE);
	ck_assert_ptr_nonnull(strstr(why, "line 17: more than 16 nodes"));
}
END_TEST

START_TEST(self_and_ranks)
{
	struct fsd_cluster c = { 0 };
	char name[FSD_NODE_NAME_MAX + 1];

	/* node before nodes: any valid name; then nodes must list it. */
	ck_assert_int_eq(fsd_cluster_parse_self("b\n", 2, &c, c.self, why, sizeof(why)), 0);
	ck_assert_str_eq(c.self, "b");
	ck_assert_int_eq(parse("a tcp://10.0.0.1:1 0\nc tcp://10.0.0.2:1 1\n", 2, &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "node is b"));
	ck_assert_int_eq(parse("a tcp://10.0.0.1:1 0\nb tcp://10.0.0.2:1 1\n", 2, &c), 0);
	ck_assert_str_eq(c.self, "b");
	ck_assert_int_eq(fsd_cluster_parse_self("c", 1, &c, name, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not one of the nodes"));
	ck_assert_int_eq(fsd_cluster_parse_self("a b", 3, &c, name, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(fsd_cluster_parse_self("\n", 1, &c, name, why, sizeof(why)), 0);
	ck_assert_str_eq(name, "");
	/* ranks may change only to what the nodes hold. */
	ck_assert_int_eq(fsd_cluster_check_ranks(&c, 2, why, sizeof(why)), 0);
	ck_assert_int_eq(fsd_cluster_check_ranks(&c, 3, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "rank 2 is on no node"));
	ck_assert_int_eq(fsd_cluster_check_ranks(&c, 1, why, sizeof(why)), -EINVAL);
}
END_TEST

START_TEST(random_bytes)
{
	uint64_t seed = 15;
	char buf[300];

	for (int i = 0; i < 20000; i++) {
		struct fsd_cluster c = { 0 };
		size_t n = tl_rand(&seed) % sizeof(buf);
		for (size_t k = 0; k < n; k++)
			buf[k] = i % 3 ? "ab tcp:/10.9,-\n#"[tl_rand(&seed) % 16] : (char)tl_rand(&seed);
		int rc = fsd_cluster_parse_nodes(buf, n, 1 + tl_rand(&seed) % 64, &c, why, sizeof(why));
		ck_assert(rc == 0 || rc == -EINVAL || rc == -ERANGE);
		if (rc)
			ck_assert_uint_ne(strlen(why), 0);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsd_cluster");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, accepted);
	tcase_add_test(tc, refused);
	tcase_add_test(tc, self_and_ranks);
	tcase_add_test(tc, random_bytes);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
