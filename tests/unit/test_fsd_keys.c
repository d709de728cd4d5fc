/* SPDX-License-Identifier: MIT */
/*
 * test_fsd_keys.c - the CURVE keys of a group spanning machines
 * (lib/keys.c): the keys path, Z85 key files, and the checks of the key
 * directory (owner, mode, symbolic links, garbage), each refusal with its
 * errno and a reason naming the file; random bytes never crash a parser.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcfs/keys.h"
#include "testlib.h"

static char why[160];

/* Two keys (any 40 Z85 characters below the 32-bit bound decode). */
#define KEY_A "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
#define KEY_B "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"

static int path(const char *s, char *out)
{
	why[0] = '\0';
	return fsd_keys_parse_path(s, strlen(s), out, why, sizeof(why));
}

START_TEST(keys_path)
{
	char out[FSD_KEYS_PATH_MAX + 1], lng[FSD_KEYS_PATH_MAX + 3];

	ck_assert_int_eq(path("/etc/ipcfs/keys\n", out), 0);
	ck_assert_str_eq(out, "/etc/ipcfs/keys");
	ck_assert_int_eq(path("", out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(path("\n", out), 0);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(path("/a/..b/c.", out), 0);
	ck_assert_int_eq(path("keys", out), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "absolute"));
	ck_assert_int_eq(path("/a/../b", out), -EINVAL);
	ck_assert_int_eq(path("/a/./b", out), -EINVAL);
	ck_assert_int_eq(path("/a/..", out), -EINVAL);
	ck_assert_int_eq(path("/a\nb", out), -EINVAL);
	ck_assert_int_eq(path("/a\n\n", out), -EINVAL);
	ck_assert_int_eq(fsd_keys_parse_path("/a\0b", 4, out, why, sizeof(why)), -EINVAL);
	memset(lng, 'k', sizeof(lng));
	lng[0] = '/';
	ck_assert_int_eq(fsd_keys_parse_path(lng, FSD_KEYS_PATH_MAX, out, why, sizeof(why)), 0);
	ck_assert_int_eq(fsd_keys_parse_path(lng, FSD_KEYS_PATH_MAX + 1, out, why, sizeof(why)),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(z85)
{
	/* The test vector of ZeroMQ RFC 32. */
	const uint8_t hello[8] = { 0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B };
	uint8_t out[32];

	ck_assert_int_eq(fsd_z85_decode("HelloWorld", 10, out), 0);
	ck_assert_mem_eq(out, hello, 8);
	ck_assert_int_eq(fsd_z85_decode("Hello", 4, out), -EINVAL);  /* not a multiple of 5 */
	ck_assert_int_eq(fsd_z85_decode("Hell\"", 5, out), -EINVAL); /* outside the alphabet */
	ck_assert_int_eq(fsd_z85_decode("Hell\0", 5, out), -EINVAL);
	ck_assert_int_eq(fsd_z85_decode("%nSc0", 5, out), 0);        /* 0xffffffff */
	ck_assert_int_eq(fsd_z85_decode("%nSc1", 5, out), -EINVAL);  /* beyond 32 bits */
	ck_assert_int_eq(fsd_key_parse(KEY_A "\n", 41, out, why, sizeof(why)), 0);
	ck_assert_int_eq(fsd_key_parse(KEY_A, 40, out, why, sizeof(why)), 0);
	ck_assert_int_eq(fsd_key_parse(KEY_A, 39, out, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(fsd_key_parse(KEY_A "\n\n", 42, out, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(fsd_key_parse(KEY_A " ", 41, out, why, sizeof(why)), -EINVAL);
	ck_assert_int_eq(fsd_key_parse("", 0, out, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a key"));
}
END_TEST

static char dir[64];
static struct fsd_cluster cl;

static void put(const char *name, const char *text, mode_t mode)
{
	char p[128];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	unlink(p);
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	ck_assert_int_eq(chmod(p, mode), 0);
}

static void setup(void)
{
	char why2[160];
	snprintf(dir, sizeof(dir), "/tmp/ipcfs-keys.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	memset(&cl, 0, sizeof(cl));
	ck_assert_int_eq(fsd_cluster_parse_nodes("a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2-3\n",
						 52, 4, &cl, why2, sizeof(why2)), 0);
	put("a.pub", KEY_A "\n", 0600);
	put("b.pub", KEY_B "\n", 0600);
	put("b.key", KEY_A "\n", 0600);
}

static void teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static int load(int self, struct fsd_keys *k)
{
	why[0] = '\0';
	return fsd_keys_load(dir, getuid(), &cl, self, k, why, sizeof(why));
}

START_TEST(load_good)
{
	struct fsd_keys k;
	uint8_t a[32], b[32];

	ck_assert_int_eq(fsd_z85_decode(KEY_A, 40, a), 0);
	ck_assert_int_eq(fsd_z85_decode(KEY_B, 40, b), 0);
	ck_assert_int_eq(load(1, &k), 0);
	ck_assert_mem_eq(k.pub[0], a, 32);
	ck_assert_mem_eq(k.pub[1], b, 32);
	ck_assert_mem_eq(k.secret, a, 32);
	ck_assert_int_eq(k.self, 1);
	/* No node of ours yet (the daemon before node is written). */
	ck_assert_int_eq(load(-1, &k), 0);
	ck_assert_int_eq(k.self, -1);
	/* Executable bits for others on the directory are allowed. */
	ck_assert_int_eq(chmod(dir, 0711), 0);
	ck_assert_int_eq(load(1, &k), 0);
}
END_TEST

START_TEST(load_refused)
{
	struct fsd_keys k;
	char p[128], q[128];

	/* Readable by others. */
	put("b.key", KEY_A "\n", 0644);
	ck_assert_int_eq(load(1, &k), -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "b.key has mode 0644"));
	put("b.key", KEY_A "\n", 0620);
	ck_assert_int_eq(load(1, &k), -EACCES);
	/* A public key writable by the group. */
	put("b.key", KEY_A "\n", 0600);
	put("a.pub", KEY_A "\n", 0660);
	ck_assert_int_eq(load(1, &k), -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "a.pub"));
	put("a.pub", KEY_A "\n", 0600);
	/* The directory readable by others. */
	ck_assert_int_eq(chmod(dir, 0755), 0);
	ck_assert_int_eq(load(1, &k), -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "keys directory has mode 0755"));
	ck_assert_int_eq(chmod(dir, 0700), 0);
	/* Someone else's (as the group's owner is not us). */
	ck_assert_int_eq(fsd_keys_load(dir, getuid() + 1, &cl, 1, &k, why, sizeof(why)), -EACCES);
	ck_assert_ptr_nonnull(strstr(why, "not to the group's owner"));
	/* A symbolic link, to a good key. */
	snprintf(p, sizeof(p), "%s/b.key", dir);
	snprintf(q, sizeof(q), "%s/real.key", dir);
	ck_assert_int_eq(rename(p, q), 0);
	ck_assert_int_eq(symlink(q, p), 0);
	ck_assert_int_eq(load(1, &k), -ELOOP);
	ck_assert_ptr_nonnull(strstr(why, "b.key: a symbolic link"));
	ck_assert_int_eq(unlink(p), 0);
	/* Missing. */
	ck_assert_int_eq(load(1, &k), -ENOENT);
	ck_assert_ptr_nonnull(strstr(why, "b.key"));
	/* Garbage. */
	put("b.key", "not a key at all\n", 0600);
	ck_assert_int_eq(load(1, &k), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "b.key: not a key"));
	/* Not a regular file. */
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	ck_assert_int_eq(load(1, &k), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a regular file"));
	ck_assert_int_eq(unlink(p), 0);
	/* The directory itself a symbolic link, or not a directory. */
	snprintf(p, sizeof(p), "%s/link", dir);
	ck_assert_int_eq(symlink(dir, p), 0);
	ck_assert_int_eq(fsd_keys_load(p, getuid(), &cl, -1, &k, why, sizeof(why)), -ELOOP);
	ck_assert_int_eq(fsd_keys_load(q, getuid(), &cl, -1, &k, why, sizeof(why)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(why, "not a directory"));
	ck_assert_int_eq(fsd_keys_load("/nonexistent/ipcfs", getuid(), &cl, -1, &k, why, sizeof(why)),
			 -ENOENT);
}
END_TEST

START_TEST(random_bytes)
{
	uint64_t seed = 42;
	char buf[300], out[FSD_KEYS_PATH_MAX + 1];
	uint8_t key[32];

	for (int i = 0; i < 20000; i++) {
		size_t len = tl_rand(&seed) % sizeof(buf);
		for (size_t j = 0; j < len; j++)
			buf[j] = (char)(tl_rand(&seed) % 4 ? 0x21 + tl_rand(&seed) % 94 : tl_rand(&seed));
		if (i % 2)
			buf[0] = '/';
		int rc = fsd_keys_parse_path(buf, len, out, why, sizeof(why));
		ck_assert(rc == 0 || rc == -EINVAL || rc == -ENAMETOOLONG);
		if (rc == 0)
			ck_assert_uint_le(strlen(out), FSD_KEYS_PATH_MAX);
		rc = fsd_key_parse(buf, len % 45, key, why, sizeof(why));
		ck_assert(rc == 0 || rc == -EINVAL);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsd_keys");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, keys_path);
	tcase_add_test(tc, z85);
	tcase_add_test(tc, random_bytes);
	suite_add_tcase(s, tc);
	TCase *fs = tcase_create("files");
	tcase_add_checked_fixture(fs, setup, teardown);
	tcase_add_test(fs, load_good);
	tcase_add_test(fs, load_refused);
	suite_add_tcase(s, fs);
	return tl_run(s);
}
