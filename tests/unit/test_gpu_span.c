/* SPDX-License-Identifier: MIT */
/*
 * test_gpu_span.c - a GPU communicator whose ranks span nodes, the parts
 * that need no peer: how many nodes the group's `nodes` file gives
 * (gpu_nodes.c), and the decision every rank takes from the HELLO records
 * (gpu_span_decide): NCCL, or a clear error when it cannot be used. End to
 * end across two simulated nodes: tests/shell/gpu_nodes.sh.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu_int.h"
#include "testlib.h"

static int nodes_of(const char *text, int world)
{
	int n = -1, rc = gpu_nodes_parse(text, strlen(text), world, &n);

	return rc ? rc : n;
}

START_TEST(nodes_count)
{
	ck_assert_int_eq(nodes_of("", 4), 1);
	ck_assert_int_eq(nodes_of("\n# nothing\n", 4), 1);
	ck_assert_int_eq(nodes_of("a tcp://10.0.0.1:7100 0-3\n", 4), 1);
	ck_assert_int_eq(nodes_of("a tcp://10.0.0.1:7100 0-1\nb tcp://10.0.0.2:7100 2-3\n", 4), 2);
	/* no final newline, tabs, comments, ranks interleaved */
	ck_assert_int_eq(nodes_of("# two\n\ta\ttcp://10.0.0.1:7100\t0,2 \n\n"
				  "b tcp://10.0.0.2:7100 1,3", 4), 2);
	ck_assert_int_eq(nodes_of("x tcp://1.2.3.4:1 0\ny tcp://1.2.3.5:1 1-2\n"
				  "z tcp://1.2.3.6:1 3-7,8\n", 9), 3);
	char big[1024] = "";
	for (int i = 0; i < 64; i += 4) {
		char line[64];
		snprintf(line, sizeof(line), "n%d tcp://10.0.0.%d:7000 %d-%d\n", i, i + 1, i, i + 3);
		strcat(big, line);
	}
	ck_assert_int_eq(nodes_of(big, 64), 16);
}
END_TEST

START_TEST(nodes_malformed)
{
	static const char *const bad[] = {
		"a tcp://10.0.0.1:7100 0-1\n",                            /* ranks 2-3 on no node */
		"a tcp://10.0.0.1:7100 0-2\nb tcp://10.0.0.2:7100 2-3\n", /* rank 2 twice */
		"a tcp://10.0.0.1:7100 0-1,1\nb tcp://10.0.0.2:7100 2-3\n",
		"a tcp://10.0.0.1:7100 0-4\n",                            /* beyond the group */
		"a tcp://10.0.0.1:7100\n",                                /* two words */
		"a tcp://10.0.0.1:7100 0-3 x\n",                          /* four */
		"a tcp://10.0.0.1:7100 0-\n",
		"a tcp://10.0.0.1:7100 3-0\n",
		"a tcp://10.0.0.1:7100 0-3,\n",
		"a tcp://10.0.0.1:7100 0,,1-3\n",
		"a tcp://10.0.0.1:7100 -3\n",
		"a tcp://10.0.0.1:7100 0000-3\n",                         /* 4 digits */
		"a tcp://10.0.0.1:7100 0-3x\n",
	};
	int n = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(nodes_of(bad[i], 4) == -EBADMSG, "accepted: %s", bad[i]);
	ck_assert_int_eq(gpu_nodes_parse("a tcp://1.2.3.4:5 0\0", 20, 1, &n), -EBADMSG);
	ck_assert_int_eq(nodes_of("a tcp://1.2.3.4:5 0\n", 0), -EBADMSG);
	ck_assert_int_eq(nodes_of("a tcp://1.2.3.4:5 0\n", 65), -EBADMSG);
	ck_assert_int_eq(n, 7);  /* untouched on error */
}
END_TEST

/* The file of a mounted group (only its `nodes` is read); a plain
 * directory is one machine whatever it holds. */
START_TEST(nodes_file)
{
	char dir[] = "/tmp/ipcfs-test-span.XXXXXX", path[PATH_MAX];
	struct gpu_rdv v;
	int n = 0;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/nodes", dir);
	memset(&v, 0, sizeof(v));
	strcpy(v.dir, dir);
	v.mounted = true;
	ck_assert_int_eq(gpu_nodes_read(&v, 4, &n), 0);  /* no file: a daemon before nodes */
	ck_assert_int_eq(n, 1);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("a tcp://10.9.0.1:7100 0-1\nb tcp://10.9.0.2:7100 2-3\n", f);
	fclose(f);
	ck_assert_int_eq(gpu_nodes_read(&v, 4, &n), 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(gpu_nodes_read(&v, 5, &n), -EBADMSG);  /* rank 4 on no node */
	v.mounted = false;
	ck_assert_int_eq(gpu_nodes_read(&v, 4, &n), 0);
	ck_assert_int_eq(n, 1);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* HELLO records of @world ranks that can use NCCL across nodes. */
static void hellos(struct gpu_record *r, int world)
{
	for (int p = 0; p < world; p++) {
		memset(&r[p], 0, sizeof(r[p]));
		r[p].kind = GPU_REC_HELLO;
		r[p].rank = (uint32_t)p;
		r[p].world = (uint32_t)world;
		r[p].pid = 100 + (uint32_t)p;
		r[p].gen = 1;
		r[p].flags = GPU_F_NCCL_WANT | (p == 0 ? GPU_F_HELLO_ID : 0);
		r[p].buf_bytes = 1 << 20;
		r[p].algo = ALLREDUCE_ALGO_AUTO;
		r[p].oneshot_max = 4096;
		r[p].probe_off = 8 << 20;
		memset(r[p].uuid, 0x10 + p, GPU_UUID_BYTES);  /* GPU 0 of each node: */
		r[p].uuid[0] = (unsigned char)(p % 2);           /* uuids differ anyway */
		snprintf(r[p].host, sizeof(r[p].host), "node%d", p / 2);
	}
}

static int decide(const struct gpu_record *r, int world, char *why)
{
	why[0] = '\0';
	return gpu_span_decide(r, world, 2, why, 400);
}

START_TEST(decide_nccl)
{
	struct gpu_record r[4];
	char why[400];

	hellos(r, 4);
	ck_assert_int_eq(decide(r, 4, why), 0);
	/* One GPU index on two machines is two GPUs. */
	memcpy(r[2].uuid, r[0].uuid, GPU_UUID_BYTES);
	ck_assert_int_eq(decide(r, 4, why), 0);
	/* IPCFS_ALGO=oneshot on every rank: still NCCL (the plan decides
	 * per call; across nodes it is NCCL whatever was asked). */
	for (int p = 0; p < 4; p++)
		r[p].algo = ALLREDUCE_ALGO_ONESHOT;
	ck_assert_int_eq(decide(r, 4, why), 0);
	struct allreduce_plan_env env = { .world = 4, .nodes = 2, .peer_access = false };
	enum allreduce_reason reason;
	ck_assert_int_eq(allreduce_plan_choose(NULL, &env, ALLREDUCE_ALGO_ONESHOT, 1024,
					       ALLREDUCE_F32, &reason), ALLREDUCE_ALGO_NCCL);
}
END_TEST

START_TEST(decide_no_nccl)
{
	struct gpu_record r[4];
	char why[400];

	/* IPCFS_NCCL=0 on a rank of the other node. */
	hellos(r, 4);
	r[3].flags &= ~GPU_F_NCCL_WANT;
	ck_assert_int_eq(decide(r, 4, why), -EOPNOTSUPP);
	ck_assert_msg(strstr(why, "span 2 nodes") && strstr(why, "rank 3 disabled NCCL") &&
		      strstr(why, "IPCFS_NCCL=0"), "%s", why);
	/* ... and on rank 0, which then makes no id: the setting is named. */
	hellos(r, 4);
	r[0].flags = 0;
	ck_assert_int_eq(decide(r, 4, why), -EOPNOTSUPP);
	ck_assert_msg(strstr(why, "rank 0 disabled NCCL"), "%s", why);
	/* NCCL unavailable on rank 0 (no libnccl, ncclGetUniqueId failed). */
	hellos(r, 4);
	r[0].flags &= ~GPU_F_HELLO_ID;
	ck_assert_int_eq(decide(r, 4, why), -EOPNOTSUPP);
	ck_assert_msg(strstr(why, "NCCL is unavailable on rank 0"), "%s", why);
	/* Two ranks on one GPU of one machine: NCCL refuses. */
	hellos(r, 4);
	memcpy(r[3].uuid, r[2].uuid, GPU_UUID_BYTES);
	ck_assert_int_eq(decide(r, 4, why), -EOPNOTSUPP);
	ck_assert_msg(strstr(why, "ranks 2 and 3 share one GPU"), "%s", why);
}
END_TEST

START_TEST(decide_mismatch)
{
	struct gpu_record r[4];
	char why[400];

	hellos(r, 4);
	r[1].blocks = 4;
	ck_assert_int_eq(decide(r, 4, why), -EINVAL);
	ck_assert_msg(strstr(why, "rank 1 has other settings") && strstr(why, "IPCFS_GPU_BLOCKS"),
		      "%s", why);
	hellos(r, 4);
	r[2].probe_off = 0;  /* IPCFS_NCCL_ABOVE */
	ck_assert_int_eq(decide(r, 4, why), -EINVAL);
	hellos(r, 4);
	r[3].buf_bytes = 4096;
	ck_assert_int_eq(decide(r, 4, why), -EINVAL);
	ck_assert_msg(strstr(why, "rank 3 has buf_bytes 4096"), "%s", why);
	/* A rank that failed first is what the others report, before any
	 * other difference. */
	r[2].flags = GPU_F_FAILED;
	ck_assert_int_eq(decide(r, 4, why), -ECANCELED);
	ck_assert_msg(strstr(why, "rank 2 failed"), "%s", why);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gpu_span");
	TCase *tc = tcase_create("span");

	tcase_add_test(tc, nodes_count);
	tcase_add_test(tc, nodes_malformed);
	tcase_add_test(tc, nodes_file);
	tcase_add_test(tc, decide_nccl);
	tcase_add_test(tc, decide_no_nccl);
	tcase_add_test(tc, decide_mismatch);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
