/* SPDX-License-Identifier: MIT */
/*
 * test_fsd_parse.c - the daemon's parsers (fsd/parse.c): group names,
 * attribute values with units and ranges, group and daemon-wide ctl
 * commands, and random input that must be refused without a crash.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse_int.h"

static char why[FSD_WHY_MAX];

static int name(const char *s)
{
	return fsd_parse_name(s, strlen(s), why, sizeof(why));
}

static int attr(enum fsd_attr a, const char *s, struct fsd_attr_value *v)
{
	why[0] = '\0';
	return fsd_parse_attr(a, s, strlen(s), v, why, sizeof(why));
}

static int gcmd(const char *s, struct fsd_cmd *c)
{
	why[0] = '\0';
	return fsd_parse_group_cmd(s, strlen(s), c, why, sizeof(why));
}

static int rcmd(const char *s, struct fsd_cmd *c)
{
	why[0] = '\0';
	return fsd_parse_root_cmd(s, strlen(s), c, why, sizeof(why));
}

START_TEST(names)
{
	char n64[65], n65[66];

	memset(n64, 'a', 64);
	n64[64] = '\0';
	memset(n65, 'a', 65);
	n65[65] = '\0';
	ck_assert_int_eq(name("g"), 0);
	ck_assert_int_eq(name("A-b_c.9"), 0);
	ck_assert_int_eq(name("a."), 0);
	ck_assert_int_eq(name(n64), 0);
	ck_assert_int_eq(name(n65), -EINVAL);
	ck_assert_int_eq(name(""), -EINVAL);
	ck_assert_int_eq(name(".x"), -EINVAL);
	ck_assert_int_eq(name(".."), -EINVAL);
	ck_assert_int_eq(name("a/b"), -EINVAL);
	ck_assert_int_eq(name("a b"), -EINVAL);
	ck_assert_int_eq(name("a\nb"), -EINVAL);
	ck_assert_int_eq(name("\xc3\xa9"), -EINVAL);
	ck_assert_int_eq(fsd_parse_name("ab\0c", 4, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "[A-Za-z0-9_.-]"));
}
END_TEST

START_TEST(attr_numbers)
{
	struct fsd_attr_value v;

	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "1\n", &v), 0);
	ck_assert_uint_eq(v.u, 1);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "64", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "0", &v), -ERANGE);
	ck_assert_str_eq(why, "ranks 0 out of range 1..64");
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "65", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "\n", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "4\n\n", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, " 4", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "+4", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "-4", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "4.0", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "18446744073709551615", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_RANKS, "18446744073709551616", &v), -ERANGE);
	ck_assert_str_eq(why, "ranks: number too large");

	ck_assert_int_eq(attr(FSD_ATTR_SLOTS, "2", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_SLOTS, "65536", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_SLOTS, "131072", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_SLOTS, "1", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_SLOTS, "48", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_SPIN_US, "0", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_SPIN_US, "1000000", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_SPIN_US, "1000001", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_TIMEOUT_MS, "0", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_TIMEOUT_MS, "1", &v), 0);
}
END_TEST

START_TEST(attr_sizes)
{
	struct fsd_attr_value v;

	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "64", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "4K", &v), 0);
	ck_assert_uint_eq(v.u, 4096);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "16M", &v), 0);
	ck_assert_uint_eq(v.u, 16u << 20);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "2KiB\n", &v), 0);
	ck_assert_uint_eq(v.u, 2048);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "17M", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "100", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "K", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "4k", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "4KK", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_ARENA_BYTES, "0", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_ARENA_BYTES, "1G", &v), 0);
	ck_assert_uint_eq(v.u, 1u << 30);
	ck_assert_int_eq(attr(FSD_ATTR_ARENA_BYTES, "1025G", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_ARENA_BYTES, "4097", &v), -EINVAL);
	/* Overflow in the suffix multiplication. */
	ck_assert_int_eq(attr(FSD_ATTR_ARENA_BYTES, "18446744073709551615G", &v), -ERANGE);
}
END_TEST

START_TEST(attr_words)
{
	struct fsd_attr_value v;
	struct fsd_attrs a;
	char buf[64];

	ck_assert_int_eq(attr(FSD_ATTR_HUGEPAGES, "2M", &v), 0);
	ck_assert_uint_eq(v.u, FSD_HUGE_2M);
	ck_assert_int_eq(attr(FSD_ATTR_HUGEPAGES, "1G\n", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_HUGEPAGES, "2m", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_ALGO, "twoshot", &v), 0);
	ck_assert_uint_eq(v.u, FSD_ALGO_TWOSHOT);
	ck_assert_int_eq(attr(FSD_ATTR_ALGO, "twoshots", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_MODE, "0770", &v), 0);
	ck_assert_uint_eq(v.u, 0770);
	ck_assert_int_eq(attr(FSD_ATTR_MODE, "7", &v), 0);
	ck_assert_int_eq(attr(FSD_ATTR_MODE, "1777", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_MODE, "0800", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_MODE, "00770", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "-1", &v), 0);
	ck_assert_int_eq(v.i, -1);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "3", &v), 0);
	ck_assert_int_eq(v.i, 3);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "-2", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "1024", &v), -ERANGE);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "auto:0000:3B:00.0", &v), 0);
	ck_assert_str_eq(v.pci, "0000:3b:00.0");
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "auto:3b:00.7", &v), 0);
	ck_assert_str_eq(v.pci, "0000:3b:00.7");
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "auto:3b:00.8", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "auto:", &v), -EINVAL);
	ck_assert_int_eq(attr(FSD_ATTR_NUMA_NODE, "auto:0000:3b:00.0x", &v), -EINVAL);

	/* Set and format round trip; the segment mode follows the mode. */
	fsd_attrs_init(&a);
	ck_assert_int_eq(attr(FSD_ATTR_MODE, "0750", &v), 0);
	fsd_attrs_set(&a, &v);
	ck_assert_uint_eq(a.p.mode, 0640);
	fsd_attr_format(&a, FSD_ATTR_MODE, buf, sizeof(buf));
	ck_assert_str_eq(buf, "0750\n");
	ck_assert_int_eq(attr(FSD_ATTR_SLOT_BYTES, "1K", &v), 0);
	fsd_attrs_set(&a, &v);
	fsd_attr_format(&a, FSD_ATTR_SLOT_BYTES, buf, sizeof(buf));
	ck_assert_str_eq(buf, "1024\n");
	ck_assert_int_eq(fsd_attrs_check(&a, why, sizeof(why)), 0);
	for (int i = 0; i < FSD_ATTR_COUNT; i++) {
		const char *n = fsd_attr_name((enum fsd_attr)i);
		ck_assert_int_eq(fsd_attr_lookup(n, strlen(n)), i);
		/* Every formatted default parses back. */
		fsd_attrs_init(&a);
		int len = fsd_attr_format(&a, (enum fsd_attr)i, buf, sizeof(buf));
		ck_assert_int_eq(fsd_parse_attr((enum fsd_attr)i, buf, (size_t)len, &v, why, sizeof(why)), 0);
	}
	ck_assert_int_eq(fsd_attr_lookup("rank", 4), -1);
}
END_TEST

START_TEST(group_commands)
{
	struct fsd_cmd c;

	ck_assert_int_eq(gcmd("join 3\n", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_JOIN);
	ck_assert_uint_eq(c.rank, 3);
	ck_assert_int_eq(gcmd("leave 63", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_LEAVE);
	ck_assert_int_eq(gcmd("  join\t7  ", &c), 0);
	ck_assert_uint_eq(c.rank, 7);
	ck_assert_int_eq(gcmd("join 64", &c), -ERANGE);
	ck_assert_int_eq(gcmd("join", &c), -EINVAL);
	ck_assert_str_eq(why, "join: missing RANK");
	ck_assert_int_eq(gcmd("join x", &c), -EINVAL);
	ck_assert_int_eq(gcmd("join 1 2", &c), -EINVAL);
	ck_assert_int_eq(gcmd("join 1\n\n", &c), -EINVAL);
	ck_assert_int_eq(gcmd("Join 1", &c), -EINVAL);

	ck_assert_int_eq(gcmd("bcast hello  world\n", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_BCAST);
	ck_assert_uint_eq(c.text_len, 12);
	ck_assert_int_eq(memcmp(c.text, "hello  world", 12), 0);
	ck_assert_int_eq(gcmd("bcast  x", &c), 0);
	ck_assert_uint_eq(c.text_len, 2); /* spaces after the first separator are text */
	ck_assert_int_eq(gcmd("bcast", &c), -EINVAL);
	ck_assert_int_eq(gcmd("bcast ", &c), -EINVAL);
	ck_assert_int_eq(gcmd("bcast caf\xc3\xa9", &c), 0);
	ck_assert_int_eq(gcmd("bcast a\x01", &c), -EINVAL);

	ck_assert_int_eq(gcmd("register buf 2 00ffAB\n", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_REGISTER);
	ck_assert_str_eq(c.name, "buf");
	ck_assert_uint_eq(c.rank, 2);
	ck_assert_uint_eq(c.text_len, 6);
	ck_assert_int_eq(gcmd("register buf 2 0", &c), -EINVAL);
	ck_assert_int_eq(gcmd("register buf 2 0g", &c), -EINVAL);
	ck_assert_int_eq(gcmd("register buf 2", &c), -EINVAL);
	ck_assert_int_eq(gcmd("register .buf 2 00", &c), -EINVAL);
	ck_assert_int_eq(gcmd("register buf 99 00", &c), -ERANGE);
	ck_assert_int_eq(gcmd("register buf 2 00 11", &c), -EINVAL);
	ck_assert_int_eq(gcmd("unregister buf 2", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_UNREGISTER);
	ck_assert_int_eq(gcmd("unregister buf", &c), -EINVAL);
	ck_assert_int_eq(gcmd("reset-stat\n", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_RESET_STAT);
	ck_assert_int_eq(gcmd("reset-stat x", &c), -EINVAL);
	ck_assert_int_eq(gcmd("", &c), -EINVAL);
	ck_assert_int_eq(gcmd("\n", &c), -EINVAL);
	ck_assert_int_eq(gcmd("create g", &c), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "unknown command \"create\""));
	ck_assert_int_eq(fsd_parse_group_cmd("join\0 1", 7, &c, why, sizeof(why)), -EINVAL);
}
END_TEST

START_TEST(register_limits)
{
	size_t n = strlen("register b 0 ") + FSD_HEX_MAX;
	char *s = malloc(n + 3);
	struct fsd_cmd c;

	ck_assert_ptr_nonnull(s);
	strcpy(s, "register b 0 ");
	memset(s + 13, 'a', FSD_HEX_MAX);
	s[n] = '\0';
	ck_assert_int_eq(gcmd(s, &c), 0);
	ck_assert_uint_eq(c.text_len, FSD_HEX_MAX);
	s[n] = 'a';
	s[n + 1] = 'a';
	s[n + 2] = '\0';
	ck_assert_int_eq(gcmd(s, &c), -EINVAL);
	free(s);

	/* A write over the limit is refused before anything else. */
	char *big = malloc(FSD_WRITE_MAX + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', FSD_WRITE_MAX + 1);
	ck_assert_int_eq(fsd_parse_group_cmd(big, FSD_WRITE_MAX + 1, &c, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "longer than"));
	free(big);
}
END_TEST

START_TEST(root_commands)
{
	struct fsd_cmd c;

	ck_assert_int_eq(rcmd("create g\n", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_CREATE);
	ck_assert_str_eq(c.name, "g");
	ck_assert_uint_eq(c.nattrs, 0);
	ck_assert_int_eq(rcmd("create g ranks=4 slot_bytes=1K algo=nccl numa_node=auto:3b:00.0", &c), 0);
	ck_assert_uint_eq(c.nattrs, 4);
	ck_assert_int_eq(c.attrs[0].attr, FSD_ATTR_RANKS);
	ck_assert_uint_eq(c.attrs[0].u, 4);
	ck_assert_uint_eq(c.attrs[1].u, 1024);
	ck_assert_str_eq(c.attrs[3].pci, "0000:3b:00.0");
	ck_assert_int_eq(rcmd("create g ranks=4 ranks=5", &c), -EINVAL);
	ck_assert_int_eq(rcmd("create g ranks=0", &c), -ERANGE);
	ck_assert_int_eq(rcmd("create g ranks", &c), -EINVAL);
	ck_assert_int_eq(rcmd("create g =4", &c), -EINVAL);
	ck_assert_int_eq(rcmd("create g nope=4", &c), -EINVAL);
	ck_assert_int_eq(rcmd("create g ranks=", &c), -EINVAL);
	ck_assert_int_eq(rcmd("create", &c), -EINVAL);
	ck_assert_int_eq(rcmd("create .g", &c), -EINVAL);
	ck_assert_int_eq(rcmd("destroy g", &c), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_DESTROY);
	ck_assert_int_eq(rcmd("destroy g h", &c), -EINVAL);
	ck_assert_int_eq(rcmd("join 1", &c), -EINVAL);
}
END_TEST

/* What the library writes (ctl_proto.h's formatters) the daemon parses
 * back to the same command: the two ends of the protocol agree. */
START_TEST(library_commands_round_trip)
{
	struct fsd_cmd c;
	char buf[CTL_HEX_MAX + 128], why[FSD_WHY_MAX], hex[CTL_HEX_MAX + 1];
	int n;

	n = ctl_fmt_join(buf, sizeof(buf), 63);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(fsd_parse_group_cmd(buf, (size_t)n, &c, why, sizeof(why)), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_JOIN);
	ck_assert_uint_eq(c.rank, 63);
	n = ctl_fmt_leave(buf, sizeof(buf), 7);
	ck_assert_int_eq(fsd_parse_group_cmd(buf, (size_t)n, &c, why, sizeof(why)), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_LEAVE);
	ck_assert_uint_eq(c.rank, 7);
	/* The longest name and record the protocol allows. */
	memset(hex, 'a', CTL_HEX_MAX);
	hex[CTL_HEX_MAX] = '\0';
	char name[CTL_NAME_MAX + 2];
	memset(name, 'n', CTL_NAME_MAX);
	name[CTL_NAME_MAX] = '\0';
	n = ctl_fmt_register(buf, sizeof(buf), name, 3, hex);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(fsd_parse_group_cmd(buf, (size_t)n, &c, why, sizeof(why)), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_REGISTER);
	ck_assert_str_eq(c.name, name);
	ck_assert_uint_eq(c.rank, 3);
	ck_assert_uint_eq(c.text_len, CTL_HEX_MAX);
	n = ctl_fmt_unregister(buf, sizeof(buf), name, 3);
	ck_assert_int_eq(fsd_parse_group_cmd(buf, (size_t)n, &c, why, sizeof(why)), 0);
	ck_assert_int_eq(c.kind, FSD_CMD_UNREGISTER);
	/* A name the daemon would refuse is refused by the formatter. */
	name[CTL_NAME_MAX] = 'n';
	name[CTL_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(ctl_fmt_register(buf, sizeof(buf), name, 3, "00"), -EINVAL);
	ck_assert_int_eq(ctl_fmt_unregister(buf, sizeof(buf), ".x", 3), -EINVAL);
	/* A buffer too short says so. */
	ck_assert_int_eq(ctl_fmt_join(buf, 4, 1), -ENAMETOOLONG);
	/* The algo names the daemon accepts are the protocol's. */
	for (int a = 0; a < CTL_ALGO_COUNT; a++) {
		struct fsd_attr_value v;
		ck_assert_int_eq(fsd_parse_attr(FSD_ATTR_ALGO, ctl_algo_names[a],
						strlen(ctl_algo_names[a]), &v, why, sizeof(why)), 0);
		ck_assert_uint_eq(v.u, (unsigned)a);
	}
}
END_TEST

START_TEST(quote)
{
	char out[16];

	fsd_quote("a\"\\\n\x01", 5, out, sizeof(out));
	ck_assert_str_eq(out, "a\\x22\\x5c\\n...");
	fsd_quote("abc", 3, out, sizeof(out));
	ck_assert_str_eq(out, "abc");
	fsd_quote("0123456789abcdefghij", 20, out, sizeof(out));
	ck_assert_str_eq(out, "0123456789ab...");
}
END_TEST

/* Random bytes, and mutations of valid commands: every parser returns 0 or
 * a negative errno with a reason, never crashes (run under ASan in the
 * sanitizer build). */
START_TEST(fuzz)
{
	static const char *seeds[] = {
		"join 3\n", "leave 1", "bcast hi", "register buf 1 00ff", "unregister b 2",
		"reset-stat", "create g ranks=4 slots=8", "destroy g",
	};
	unsigned seed = 12345;
	char buf[512];
	struct fsd_cmd c;
	struct fsd_attr_value v;

	for (int i = 0; i < 200000; i++) {
		size_t len;
		seed = seed * 1103515245u + 12345u;
		if (i % 2) {
			len = (seed >> 16) % sizeof(buf);
			for (size_t j = 0; j < len; j++) {
				seed = seed * 1103515245u + 12345u;
				buf[j] = (char)(seed >> 16);
			}
		} else {
			const char *s = seeds[(seed >> 16) % 8];
			len = strlen(s);
			memcpy(buf, s, len);
			for (int k = 0; k < 3; k++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % len] = (char)(seed >> 16);
			}
		}
		why[0] = '\0';
		int rc = fsd_parse_group_cmd(buf, len, &c, why, sizeof(why));
		ck_assert(rc == 0 || (rc < 0 && why[0]));
		rc = fsd_parse_root_cmd(buf, len, &c, why, sizeof(why));
		ck_assert(rc == 0 || (rc < 0 && why[0]));
		rc = fsd_parse_attr((enum fsd_attr)(i % FSD_ATTR_COUNT), buf, len, &v, why, sizeof(why));
		ck_assert(rc == 0 || rc == -EINVAL || rc == -ERANGE);
		if (len < 80)
			fsd_parse_name(buf, len, why, sizeof(why));
	}
}
END_TEST

static Suite *parse_suite(void)
{
	Suite *s = suite_create("fsd_parse");
	TCase *tc = tcase_create("parse");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, names);
	tcase_add_test(tc, attr_numbers);
	tcase_add_test(tc, attr_sizes);
	tcase_add_test(tc, attr_words);
	tcase_add_test(tc, group_commands);
	tcase_add_test(tc, register_limits);
	tcase_add_test(tc, root_commands);
	tcase_add_test(tc, library_commands_round_trip);
	tcase_add_test(tc, quote);
	tcase_add_test(tc, fuzz);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(parse_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
