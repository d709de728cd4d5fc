/* SPDX-License-Identifier: MIT */
/*
 * test_bridge_out.c - the bridge's outbound side (bridge/out.c, included
 * whole: its filing and retiring are static) on a real segment, without
 * ZeroMQ: proxies of remote ranks file a local broadcast, one leaves
 * before the others have it, and what goes on the wire is still readable
 * and what was held is released.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>

#include "testlib.h"

#include "../../bridge/out.c"

/* What out.c needs of main.c and net.c. */
uint64_t bridge_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bridge_kick(struct bridge *b)
{
	(void)b;
}

void bridge_log(struct bridge *b, const char *fmt, ...)
{
	(void)b;
	(void)fmt;
}

bool bridge_node_up(struct bridge *b, unsigned node)
{
	(void)b;
	(void)node;
	return true;
}

void bridge_poke_acks(struct bridge *b, unsigned node)
{
	(void)b;
	(void)node;
}

/* The wire: every entry sent, its payload read as ZeroMQ would. */
static struct entry *sent[16];
static unsigned nsent;
static uint64_t seed;

void bridge_send_entry(struct bridge *b, struct entry *e)
{
	(void)b;
	ck_assert_uint_lt(nsent, 16);
	ck_assert(tl_check(e->data, e->len, seed));
	sent[nsent++] = e;
}

static struct bridge B;

/* Node a: ranks 0-1 (us), node b: ranks 2-4 (proxies here). */
static void bridge_init(const char *dir)
{
	memset(&B, 0, sizeof(B));
	bridge_self = &B;
	snprintf(B.dir, sizeof(B.dir), "%s", dir);
	B.ranks = 5;
	B.self = 0;
	B.cl.n = 2;
	strcpy(B.cl.node[0].name, "a");
	B.cl.node[0].ranks = 0x3;
	strcpy(B.cl.node[1].name, "b");
	B.cl.node[1].ranks = 0x1c;
	B.release_batch = 1;
	B.slot_payload = 1024;
	pthread_mutex_init(&B.lock, NULL);
	for (unsigned r = 0; r < IPCFS_MAX_RANKS; r++) {
		pthread_mutex_init(&B.rq[r].mu, NULL);
		pthread_mutex_init(&B.px[r].mu, NULL);
		pthread_cond_init(&B.px[r].cv, NULL);
	}
	nsent = 0;
}

/* Proxy @r joins (its rank is live on node b). */
static void proxy_join(unsigned r)
{
	B.px[r].want = true;
	ck_assert(settle(&B, r));
	ck_assert_ptr_nonnull(B.m[r]);
}

/* Proxy @r leaves: its mapping of the segment is gone after this. */
static void proxy_leave(unsigned r)
{
	B.px[r].want = false;
	ck_assert(!settle(&B, r));
	ck_assert_ptr_null(B.m[r]);
}

/* Proxy @r receives the next message and files it, as its thread does. */
static void proxy_file(unsigned r)
{
	struct ipcfs_msg msg;
	uint64_t dest;

	ck_assert_int_eq(ipcfs_recv(B.m[r], IPCFS_ANY, &msg, 2000), 0);
	ck_assert_int_eq(ipcfs_msg_dest(B.m[r], &msg, &dest), 0);
	pthread_mutex_lock(&B.lock);
	file_view(&B, r, &msg, dest);
	flush_stream(&B, &B.st[msg.src][1], bridge_send_entry);
	pthread_mutex_unlock(&B.lock);
}

/*
 * A broadcast of @len bytes from rank 0 to node b's ranks; proxies
 * @first file it, then proxy @gone leaves, then the rest file it: it goes
 * on the wire once, read through a view of a proxy still joined, and
 * the ack hands every view back.
 */
static void leave_between_filings(size_t len, uint64_t first, unsigned gone)
{
	char dir[PATH_MAX];
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	p.ranks = 5;
	p.slots = 8;
	p.slot_bytes = 1024;
	p.arena_bytes = 1 << 20;
	tl_group(dir, &p);
	bridge_init(dir);
	struct ipcfs_member *snd = tl_join(dir, 0);
	for (unsigned r = 2; r < 5; r++)
		proxy_join(r);

	char *buf = malloc(len);
	seed = len;
	tl_fill(buf, len, seed);
	ck_assert_int_eq(ipcfs_send(snd, 0x1c, buf, len, 2000), 0);
	for (uint64_t m = first; m; m &= m - 1)
		proxy_file((unsigned)__builtin_ctzll(m));
	ck_assert_uint_eq(nsent, 0);
	proxy_leave(gone);
	for (uint64_t m = 0x1c & ~first & ~IPCFS_RANK_BIT(gone); m; m &= m - 1)
		proxy_file((unsigned)__builtin_ctzll(m));
	ck_assert_uint_eq(nsent, 1);
	ck_assert_uint_eq(sent[0]->len, len);

	/* Node b acks it: each proxy still joined releases its view, and
	 * the sender's ring (or arena block) is free again. */
	uint64_t sent_ns;
	bridge_acked(&B, 1, 0, sent[0]->w, &sent_ns);
	for (unsigned r = 2; r < 5; r++)
		if (B.m[r])
			release_due(&B, r);
	uint64_t joined = 0;
	for (unsigned r = 2; r < 5; r++)
		if (B.m[r])
			joined |= IPCFS_RANK_BIT(r);
	for (unsigned i = 0; i < p.slots; i++)
		ck_assert_int_eq(ipcfs_send(snd, joined, buf, 8, 0), 0);
	struct seg_map sm;
	tl_map_seg(dir, &sm);
	ck_assert_uint_eq(tl_arena_used(&sm), 0);
	seg_unmap(&sm);
	free(buf);
	for (unsigned r = 2; r < 5; r++)
		if (B.m[r])
			proxy_leave(r);
	bridge_out_fini(&B);
	ipcfs_leave(snd);
	tl_group_done(dir);
}

/* The one that made the entry (whose view it is read through) leaves
 * before any other proxy has filed it. */
START_TEST(maker_leaves_before_others_file)
{
	leave_between_filings(200, IPCFS_RANK_BIT(2), 2);
}
END_TEST

START_TEST(maker_leaves_before_others_file_arena)
{
	leave_between_filings(64 * 1024, IPCFS_RANK_BIT(2), 2);
}
END_TEST

/* ... after another has filed it too: read through that one's view. */
START_TEST(maker_leaves_after_another_filed)
{
	leave_between_filings(200, IPCFS_RANK_BIT(2) | IPCFS_RANK_BIT(3), 2);
}
END_TEST

START_TEST(maker_leaves_after_another_filed_arena)
{
	leave_between_filings(64 * 1024, IPCFS_RANK_BIT(2) | IPCFS_RANK_BIT(3), 2);
}
END_TEST

/* One that did not make it leaves: nothing changes for the others. */
START_TEST(other_leaves)
{
	leave_between_filings(64 * 1024, IPCFS_RANK_BIT(2) | IPCFS_RANK_BIT(3), 3);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("bridge_out");
	TCase *tc = tcase_create("retire");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, maker_leaves_before_others_file);
	tcase_add_test(tc, maker_leaves_before_others_file_arena);
	tcase_add_test(tc, maker_leaves_after_another_filed);
	tcase_add_test(tc, maker_leaves_after_another_filed_arena);
	tcase_add_test(tc, other_leaves);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
