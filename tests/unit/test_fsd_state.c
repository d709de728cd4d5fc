/* SPDX-License-Identifier: MIT */
/*
 * test_fsd_state.c - the daemon's state file (fsd/state.c): what it writes
 * reads back the same; files of older daemons and damaged lines; the
 * lines that make a file unusable; random bytes, which must be refused or
 * skipped without a crash or a leak.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "testlib.h"

static char why[FSD_WHY_MAX];

static int parse(const char *s, struct fsd_state *st, unsigned *skipped)
{
	why[0] = '\0';
	return fsd_state_parse(s, strlen(s), st, skipped, why, sizeof(why));
}

static void full_state(struct fsd_state *st)
{
	memset(st, 0, sizeof(*st));
	fsd_attrs_init(&st->attrs);
	st->uid = 1000;
	st->gid = 100;
	st->attrs.p.ranks = 5;
	st->attrs.p.slots = 64;
	st->attrs.p.arena_bytes = 1 << 20;
	st->attrs.mode = 0750;
	st->attrs.p.mode = 0640;
	st->attrs.algo = FSD_ALGO_NCCL;
	st->attrs.p.numa_node = 0;
	snprintf(st->attrs.numa_pci, sizeof(st->attrs.numa_pci), "0000:3b:00.0");
	st->stats.bcasts = 42;
	st->stats.base_bcasts = 7;
	st->stats.base[0].sent = 3;
	st->stats.base[IPCFS_MAX_RANKS].recv_bytes = 1ull << 40;
	st->stats.base[2].allreduce_errors = 9;
	ck_assert_int_eq(fsd_gpu_store(&st->gpu, "buf", 0, "c0ffee", 6), 0);
	ck_assert_int_eq(fsd_gpu_store(&st->gpu, "buf", 63, "00", 2), 0);
	ck_assert_int_eq(fsd_gpu_store(&st->gpu, "w.2", 1, "abcdef01", 8), 0);
	char why2[160];
	static const char nodes[] = "a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2-4\n";
	ck_assert_int_eq(fsd_cluster_parse_nodes(nodes, strlen(nodes), 5, &st->cluster, why2,
						 sizeof(why2)), 0);
	snprintf(st->cluster.self, sizeof(st->cluster.self), "b");
	snprintf(st->cluster.keys, sizeof(st->cluster.keys), "/etc/ipcfs/keys dir");
}

START_TEST(round_trip)
{
	struct fsd_state a, b;
	unsigned skipped;
	size_t len;

	full_state(&a);
	char *buf = fsd_state_format(&a, &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(fsd_state_parse(buf, len, &b, &skipped, why, sizeof(why)), 0);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_uint_eq(b.uid, 1000);
	ck_assert_uint_eq(b.gid, 100);
	ck_assert_int_eq(memcmp(&a.attrs, &b.attrs, sizeof(a.attrs)), 0);
	ck_assert_uint_eq(b.stats.bcasts, 42);
	ck_assert_uint_eq(b.stats.base_bcasts, 7);
	ck_assert_int_eq(memcmp(a.stats.base, b.stats.base, sizeof(a.stats.base)), 0);
	const struct fsd_gpu_name *n = fsd_gpu_find(&b.gpu, "buf", 3);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->rec[0], "c0ffee");
	ck_assert_str_eq(n->rec[63], "00");
	ck_assert_uint_eq(n->nrec, 2);
	n = fsd_gpu_find(&b.gpu, "w.2", 3);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->rec[1], "abcdef01");
	ck_assert_int_eq(memcmp(&a.cluster, &b.cluster, sizeof(a.cluster)), 0);
	/* Formatting what was read gives the same bytes. */
	size_t len2;
	char *buf2 = fsd_state_format(&b, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert_int_eq(memcmp(buf, buf2, len), 0);
	free(buf);
	free(buf2);
	fsd_state_clear(&a);
	fsd_state_clear(&b);
}
END_TEST

START_TEST(older_and_damaged)
{
	struct fsd_state st;
	unsigned skipped;

	/* A minimal file: defaults for the rest, no final newline. */
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 5\ngid 6", &st, &skipped), 0);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_uint_eq(st.uid, 5);
	ck_assert_uint_eq(st.attrs.p.ranks, 8);
	fsd_state_clear(&st);

	/* Each damaged line is skipped and counted; the rest is read. */
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 5\ngid 6\n"
			       "ranks 99\n"             /* out of range */
			       "slots 32\n"
			       "bcasts 12x\n"           /* not a number */
			       "bcasts 99999999999999999999\n" /* beyond 64 bits */
			       "base 65 sent=1\n"       /* rank index beyond */
			       "base 1 sent=2 newer=5\n" /* a newer counter: ignored */
			       "gpu bad/name 0 00\n"
			       "gpu buf 64 00\n"
			       "gpu buf 1 0g\n"
			       "gpu buf 1 abc\n"
			       "gpu buf 2  \n"          /* an empty record (fuzz_fsd_state) */
			       "gpu ok 1 ab\n"
			       "frobnicate 1\n"
			       "\n", &st, &skipped), 0);
	ck_assert_uint_eq(skipped, 11);
	ck_assert_str_eq(why, "line 4 skipped: ranks 99 out of range 1..64");
	ck_assert_uint_eq(st.attrs.p.ranks, 8);
	ck_assert_uint_eq(st.attrs.p.slots, 32);
	ck_assert_uint_eq(st.cluster.n, 0);
	ck_assert_uint_eq(st.stats.bcasts, 0);
	ck_assert_uint_eq(st.stats.base[1].sent, 2);
	ck_assert_ptr_null(fsd_gpu_find(&st.gpu, "buf", 3));
	ck_assert_ptr_nonnull(fsd_gpu_find(&st.gpu, "ok", 2));
	fsd_state_clear(&st);

	/* The nodes lines are checked together: a rank twice skips them all
	 * (as one line); a node line naming no node is skipped too. */
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 1\ngid 1\nranks 2\n"
			       "nodes a tcp://10.0.0.1:1 0\nnodes b tcp://10.0.0.2:1 0\nnode b\n",
			       &st, &skipped), 0);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_str_eq(why, "line 5 skipped: rank 0 on two nodes (the second: b)");
	ck_assert_uint_eq(st.cluster.n, 0);
	ck_assert_str_eq(st.cluster.self, "b");
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 1\ngid 1\nranks 2\nnode c\n"
			       "nodes a tcp://10.0.0.1:1 0\nnodes b tcp://10.0.0.2:1 1\n",
			       &st, &skipped), 0);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_str_eq(why, "line 5 skipped: node c is not one of the nodes");
	ck_assert_uint_eq(st.cluster.n, 2);
	ck_assert_str_eq(st.cluster.self, "");
	/* keys before the nodes (which must keep it), and a bad keys line. */
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 1\ngid 1\nranks 2\nkeys /k\n"
			       "nodes a tcp://10.0.0.1:1 0\nnodes b tcp://10.0.0.2:1 1\n",
			       &st, &skipped), 0);
	ck_assert_uint_eq(skipped, 0);
	ck_assert_str_eq(st.cluster.keys, "/k");
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 1\ngid 1\nkeys k/../x\n", &st, &skipped), 0);
	ck_assert_uint_eq(skipped, 1);
	ck_assert_str_eq(why, "line 4 skipped: keys: not an absolute path");
	ck_assert_str_eq(st.cluster.keys, "");
}
END_TEST

START_TEST(unusable)
{
	struct fsd_state st;
	unsigned skipped;

	ck_assert_int_eq(parse("", &st, &skipped), -EBADMSG);
	ck_assert_int_eq(parse("uid 5\ngid 6\n", &st, &skipped), -EBADMSG);
	ck_assert_str_eq(why, "not a state file (first line is not \"ipcfs-state 1\")");
	ck_assert_int_eq(parse("ipcfs-state 2\nuid 5\ngid 6\n", &st, &skipped), -EBADMSG);
	ck_assert_int_eq(parse("ipcfs-state 1\ngid 6\ngpu a 0 00\n", &st, &skipped), -EBADMSG);
	ck_assert_str_eq(why, "no uid or gid line");
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 5\n", &st, &skipped), -EBADMSG);
	ck_assert_int_eq(parse("ipcfs-state 1\nuid -1\ngid 6\n", &st, &skipped), -EBADMSG);
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 4294967295\ngid 6\n", &st, &skipped), -EBADMSG);
	ck_assert_int_eq(parse("ipcfs-state 1\nuid 5 6\ngid 6\n", &st, &skipped), -EBADMSG);
	/* A NUL byte ends nothing: the line is skipped. */
	static const char nul[] = "ipcfs-state 1\nuid 5\ngid 6\nslots 3\0002\n";
	ck_assert_int_eq(fsd_state_parse(nul, sizeof(nul) - 1, &st, &skipped, why, sizeof(why)), 0);
	ck_assert_uint_eq(skipped, 1);
	fsd_state_clear(&st);
}
END_TEST

/* Random bytes, and valid files with random bytes changed: a result, and
 * no crash or leak (ASan), whatever the input. */
START_TEST(fuzz)
{
	struct fsd_state base, st;
	uint64_t seed = 0x5eed5eedull;
	unsigned skipped;
	size_t len;

	full_state(&base);
	char *good = fsd_state_format(&base, &len);
	ck_assert_ptr_nonnull(good);
	char *buf = malloc(len + 512);
	for (int i = 0; i < 20000; i++) {
		size_t n;
		if (i % 2) {
			n = len;
			memcpy(buf, good, len);
			for (int k = 0; k < 1 + i % 8; k++)
				buf[tl_rand(&seed) % len] = (char)tl_rand(&seed);
		} else {
			n = tl_rand(&seed) % 512;
			for (size_t k = 0; k < n; k++)
				buf[k] = (char)(i % 4 ? " \n=0123456789abcdefgpubase"[tl_rand(&seed) % 26]
						      : (char)tl_rand(&seed));
			if (n >= 13 && i % 3)
				memcpy(buf, "ipcfs-state 1\nuid 1\ngid 1\n", 13);
		}
		int rc = fsd_state_parse(buf, n, &st, &skipped, why, sizeof(why));
		ck_assert(rc == 0 || rc == -EBADMSG);
		if (rc == 0)
			fsd_state_clear(&st);
	}
	free(buf);
	free(good);
	fsd_state_clear(&base);
}
END_TEST

static Suite *state_suite(void)
{
	Suite *s = suite_create("fsd_state");
	TCase *tc = tcase_create("state");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, older_and_damaged);
	tcase_add_test(tc, unusable);
	tcase_add_test(tc, fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(state_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
