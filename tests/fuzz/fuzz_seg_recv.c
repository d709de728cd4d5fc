/* SPDX-License-Identifier: MIT */
/*
 * fuzz_seg_recv.c - libFuzzer target: members and the daemon's paths over
 * a segment that a hostile member scribbles on. The contract (issue 14,
 * DESIGN.md): whatever the segment holds, every call returns, with 0 or
 * an error (-EBADMSG, -EIO, -EINVAL, -EAGAIN, ...), never crashes, never
 * hangs, and never hands out or reads memory outside the mapping.
 *
 * Set up once: a real group (ipcfs_group_create, so the layout is the
 * library's), three members joined as ranks 0-2 (rank 3 stays free) and
 * the daemon's control sender (ring 4, as fsd/segfile.c claims it), with
 * traffic of every kind in the rings and the arena (small, typed, arena
 * blocks, a ring that wrapped); that segment is the snapshot. The one
 * shared mapping lies between large PROT_NONE guards, so that any access
 * outside it faults at once (ASan does not watch shared mappings).
 *
 * Each input: the snapshot is restored, every channel starts again
 * (chan_init: a new incarnation reads heads and slots), then the input is
 * a program of operations, structure-aware so that the fuzzer reaches deep
 * states: each op byte picks either a write (which field of the header, a
 * rank, a slot or an arena block, or a raw offset, and which value: from a
 * table of meaningful ones, the field's value plus a small delta, a flipped
 * bit, or raw bytes), or an action of a member or the daemon with no
 * waiting (timeout 0): receive, release, send (small and arena payloads),
 * read a typed message, reap, sweep, mark a rank gone, claim a rank, start
 * a channel again, read every statistic as the daemon does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include "arena_int.h"
#include "channel_int.h"
#include "member_int.h"
#include "membership_int.h"
#include "proc_int.h"
#include "segment_int.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RANKS 4u    /* ranks 0-2 joined, 3 free; ring 4: the control sender */
#define NMEM 3u     /* members */
#define NCHAN 4u    /* members and the control sender */
#define HELD_MAX 16 /* views a member keeps at once */
#define GUARD ((size_t)1 << 30)

static struct {
	bool ready;
	struct ipcfs_member *mem[NMEM];
	struct chan ctl;        /* the daemon's control sender */
	struct chan *chan[NCHAN];
	char *base;             /* the one mapping of the segment */
	size_t size;
	unsigned char *snap;    /* the segment after the set-up traffic */
	pid_t pid, dead;        /* ours, and one that is surely gone */
	uint64_t table[48];     /* meaningful values */
	unsigned ntable;
	struct ipcfs_msg held[NMEM][HELD_MAX];
	unsigned nheld[NMEM];
	bool trace;             /* $IPCFS_FUZZ_TRACE: say what each call returned */
} F;

#define TRACE(...) (F.trace ? fprintf(stderr, __VA_ARGS__) : 0)

/* ---- the input, read as a program -------------------------------------- */


static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_seg_recv: %s returned %d\n", what, rc);
	abort();
}

/* An errno a call may return over a corrupt segment (0 included). */
static void allowed(const char *what, int rc)
{
	switch (rc) {
	case 0: case -EAGAIN: case -EBADMSG: case -EIO: case -EINVAL: case -EPIPE:
	case -ENOTCONN: case -ETIMEDOUT: case -EMSGSIZE: case -ENOMEM: case -ENOSPC:
	case -EBUSY:
		return;
	default:
		die(what, rc);
	}
}

/* ---- writes into the segment --------------------------------------------- */

static struct seg_map *seg(void)
{
	return &F.ctl.seg;
}

/* A value for a field now holding @cur. */
static uint64_t value(struct in *in, uint64_t cur)
{
	switch (get8(in) % 4) {
	case 0: return F.table[get8(in) % F.ntable];
	case 1: return cur + (uint64_t)(int64_t)(int8_t)get8(in);
	case 2: return cur ^ ((uint64_t)1 << (get8(in) % 64));
	default: return getn(in, 8);
	}
}

/* Write a 4- or 8-byte field (@wide) at @p with a value from the input. */
static void poke(struct in *in, void *p, bool wide)
{
	if ((char *)p < F.base || (char *)p + (wide ? 8 : 4) > F.base + F.size)
		abort(); /* the harness's own bug */
	if (wide) {
		uint64_t cur = __atomic_load_n((uint64_t *)p, __ATOMIC_RELAXED);
		__atomic_store_n((uint64_t *)p, value(in, cur), __ATOMIC_RELAXED);
	} else {
		uint32_t cur = __atomic_load_n((uint32_t *)p, __ATOMIC_RELAXED);
		__atomic_store_n((uint32_t *)p, (uint32_t)value(in, cur), __ATOMIC_RELAXED);
	}
}

/*
 * A lock word naming a live thread other than ours makes every taker wait
 * its bound (2 s, then -ETIMEDOUT: test_hostile.c, lock_held_by_a_live_
 * stranger) - correct, but it would only slow the fuzzer down. Such a word
 * is turned into one naming a thread that is gone (taken over at once).
 */
static void no_live_stranger(void)
{
	struct seg_arena *a = arena_state(seg());
	uint32_t w = atomic_load_explicit(&a->lock, memory_order_relaxed);
	uint32_t holder = w & ~ARENA_LOCK_WAITERS;

	if (holder && holder != (uint32_t)F.pid && holder < (1u << 22) &&
	    (kill((pid_t)holder, 0) == 0 || errno != ESRCH))
		atomic_store_explicit(&a->lock, (w & ARENA_LOCK_WAITERS) | (uint32_t)F.dead,
				      memory_order_relaxed);
}

static void write_hdr(struct in *in)
{
	struct seg_hdr *h = seg()->hdr;
	struct seg_arena *a = arena_state(seg());

	switch (get8(in) % 12) {
	case 0: poke(in, &h->live, true); break;
	case 1: poke(in, &h->joined, true); break;
	case 2: poke(in, &h->epoch, true); break;
	case 3: poke(in, &a->lock, false); break;
	case 4: poke(in, &a->lock_start, true); break;
	case 5: poke(in, &a->gen, true); break;
	case 6: poke(in, &a->used_bytes, true); break;
	case 7: poke(in, &a->blocks, true); break;
	case 8: poke(in, &a->broken, true); break;
	case 9: poke(in, &a->waiting, false); break;
	case 10: poke(in, &a->freed_bell, false); break;
	default: poke(in, &a->frees, true); break;
	}
}

static void write_rank(struct in *in)
{
	struct seg_rank *r = seg_rank(seg(), get8(in) % (RANKS + 1));

	switch (get8(in) % 10) {
	case 0: poke(in, &r->owner, true); break;
	case 1: poke(in, &r->starttime, true); break;
	case 2: poke(in, &r->head, true); break;
	case 3: poke(in, &r->released[get8(in) % (RANKS + 1)], true); break;
	case 4: poke(in, &r->rx_waiting, false); break;
	case 5: poke(in, &r->rx_bell, false); break;
	case 6: poke(in, &r->tx_waiting, false); break;
	case 7: poke(in, &r->tx_bell, false); break;
	case 8: poke(in, &r->stall_since_ns, true); break;
	default: poke(in, &r->released[RANKS], true); break;
	}
}

static void write_slot(struct in *in)
{
	unsigned ring = get8(in) % (RANKS + 1);
	struct seg_slot *sl = seg_slot(seg(), ring, get8(in));
	uint64_t *words = seg_slot_data(sl);

	switch (get8(in) % 5) {
	case 0: poke(in, &sl->seq, true); break;
	case 1: poke(in, &sl->dest, true); break;
	case 2: poke(in, &sl->len, false); break;
	case 3: poke(in, &sl->kind, false); break;
	default: /* the payload: an arena reference is words 0-2 */
		poke(in, &words[get8(in) % (seg_layout(seg())->slot_bytes / 8)], true);
		break;
	}
}

/* The header of the n-th block, walking the sizes as they are now (the
 * harness's own bounded walk, to aim at real headers), or of any line. */
static struct arena_block *pick_block(struct in *in)
{
	const struct seg_map *m = seg();
	uint8_t sel = get8(in);

	if (sel & 0x80) {
		uint64_t off = 0, want = sel & 0x7f;
		for (unsigned k = 0; k < want; k++) {
			uint64_t sz = __atomic_load_n(&arena_block_at(m, off)->size, __ATOMIC_RELAXED);
			if (sz < ARENA_MIN_BLOCK || sz % 64 || sz >= seg_layout(m)->arena_bytes - off)
				break;
			off += sz;
		}
		return arena_block_at(m, off);
	}
	return arena_block_at(m, (uint64_t)get8(in) * 64 % (seg_layout(m)->arena_bytes - ARENA_HDR + 64));
}

static void write_block(struct in *in)
{
	struct arena_block *b = pick_block(in);

	switch (get8(in) % 8) {
	case 0: poke(in, &b->magic, true); break;
	case 1: poke(in, &b->size, true); break;
	case 2: poke(in, &b->prev_size, true); break;
	case 3: poke(in, &b->state, false); break;
	case 4: poke(in, &b->owner, false); break;
	case 5: poke(in, &b->holders, true); break;
	case 6: poke(in, &b->gen, true); break;
	default: poke(in, &b->len, true); break;
	}
}

static void write_raw(struct in *in)
{
	uint64_t off = getn(in, 4) % (F.size / 8) * 8;
	poke(in, F.base + off, true);
}

/* ---- what members and the daemon do ------------------------------------ */

/* The memory a view points at lies in the mapping; read all of it. */
static void check_view(const void *p, size_t len)
{
	const char *d = p;
	if (!d || d < F.base || d > F.base + F.size || len > (size_t)(F.base + F.size - d))
		abort();
	volatile unsigned char sum = 0;
	for (size_t i = 0; i < len; i++)
		sum += (unsigned char)d[i];
	(void)sum;
}

/* A typed message is read in place: every field must lie inside it. */
static void read_typed(const struct ipcfs_msg *msg)
{
	struct ipcfs_field f;
	int n = ipcfs_msg_nfields(msg);

	if (n < 0) {
		if (n != -EBADMSG && n != -EINVAL)
			die("ipcfs_msg_nfields", n);
		return;
	}
	for (int i = 0; i < n && i < 8; i++) {
		int rc = ipcfs_msg_field(msg, (unsigned)i, &f);
		if (rc == -EBADMSG)
			return; /* the memory changed under it: only a shared segment does that */
		if (rc)
			die("ipcfs_msg_field", rc);
		const char *d = f.data, *m = msg->data;
		if (d < m || f.bytes > msg->len || d - m > (ptrdiff_t)(msg->len - f.bytes))
			abort();
		check_view(f.data, f.bytes);
	}
	int rc = ipcfs_msg_find(msg, "ids", &f);
	if (rc && rc != -ENOENT && rc != -EBADMSG)
		die("ipcfs_msg_find", rc);
}

static void do_recv(struct in *in)
{
	unsigned who = get8(in) % NMEM;
	uint8_t s = get8(in) % (RANKS + 2);
	int src = s == 0 ? IPCFS_ANY : s <= RANKS ? (int)s - 1 : IPCFS_SRC_CTL;
	struct ipcfs_msg msg;

	if (F.nheld[who] == HELD_MAX)
		return;
	int rc = ipcfs_recv(F.mem[who], src, &msg, 0);
	TRACE("recv %u from %d: %d\n", who, src, rc);
	allowed("ipcfs_recv", rc);
	if (rc)
		return;
	check_view(msg.data, msg.len);
	if (msg.kind == IPCFS_KIND_TYPED)
		read_typed(&msg);
	F.held[who][F.nheld[who]++] = msg;
}

static void do_release(struct in *in)
{
	unsigned who = get8(in) % NMEM;

	if (!F.nheld[who])
		return;
	unsigned k = get8(in) % F.nheld[who];
	int rc = ipcfs_release(F.mem[who], &F.held[who][k]);
	TRACE("release %u: %d\n", who, rc);
	if (rc && rc != -EINVAL)
		die("ipcfs_release", rc);
	F.held[who][k] = F.held[who][--F.nheld[who]];
}

static void do_send(struct in *in)
{
	unsigned who = get8(in) % NCHAN;
	uint8_t sz = get8(in);
	size_t len = sz & 0x80 ? 65 + (size_t)(sz & 0x7f) * 97 : (size_t)(sz % 65);
	uint8_t d = get8(in);
	uint64_t dest = d == 0 ? IPCFS_ALL : d & 0x1f;
	void *buf;
	int rc;

	if (who < NMEM) {
		char tmp[65 + 127 * 97];
		memset(tmp, 'x', len);
		rc = ipcfs_send(F.mem[who], dest, tmp, len, 0);
		TRACE("send %u %zu bytes to %#llx: %d\n", who, len, (unsigned long long)dest, rc);
		allowed("ipcfs_send", rc);
		return;
	}
	/* The daemon's broadcast (fsd/events.c: the control sender). */
	rc = chan_reserve(&F.ctl, len, &buf, 0);
	allowed("chan_reserve", rc);
	if (rc)
		return;
	check_view(buf, len);
	memset(buf, 'c', len);
	rc = chan_commit(&F.ctl, dest, len, 0);
	allowed("chan_commit", rc);
	if (rc)
		chan_unreserve(&F.ctl);
}

/* Everything the daemon reads for stat, metrics and liveness. */
static void do_stat(void)
{
	struct ipcfs_rank_stat st;
	struct arena_stat as;
	struct seg_owner o;
	uint64_t live;

	for (unsigned i = 0; i <= RANKS; i++) {
		allowed("seg_rank_stat", seg_rank_stat(seg(), i, &st));
		seg_owner_read(seg(), i, &o);
		(void)seg_stall_since(seg(), i);
		(void)seg_joins(seg(), i);
	}
	(void)seg_joined_mask(seg());
	(void)seg_live_mask(seg());
	arena_stat(seg(), &as);
	allowed("ipcfs_stat_rank", ipcfs_stat_rank(F.mem[0], IPCFS_SRC_CTL, &st));
	allowed("ipcfs_live", ipcfs_live(F.mem[0], &live));
}

/* A channel starts again, as a new incarnation of its rank would. */
static void restart(unsigned c)
{
	struct chan *ch = F.chan[c];
	struct seg_map m = ch->seg;
	unsigned me = ch->me;

	free(ch->heldmap);
	if (chan_init(ch, &m, me))
		abort();
	if (c < NMEM)
		F.nheld[c] = 0;
}

static void do_action(struct in *in, uint8_t op)
{
	unsigned r;
	uint64_t gone, saved[RANKS];

	switch (op % 12) {
	case 0: case 1: case 2: do_recv(in); break;
	case 3: case 4: do_release(in); break;
	case 5: do_send(in); break;
	case 6:
		if (ipcfs_reap(F.mem[get8(in) % NMEM], &gone) < 0)
			die("ipcfs_reap", -1);
		break;
	case 7: arena_sweep(seg(), get8(in) % (RANKS + 1), seg()->lock_wait_ns); break;
	case 8:
		r = get8(in);
		seg_mark_gone(seg(), r % (RANKS + 1), r & 0x80 ? IPCFS_STATE_LEFT : IPCFS_STATE_DEAD);
		break;
	case 9:
		/* A join (or the daemon's claim of the control ring). */
		r = get8(in) % (RANKS + 1);
		if (seg_claim(seg(), r, F.pid) == 0)
			seg_go_live(seg(), r, F.pid);
		break;
	case 10:
		r = get8(in);
		if (r & 0x80) {
			/* The daemon retiring the segment, then keeping it. */
			if (seg_retire_ranks(seg(), F.pid, saved))
				seg_unretire_ranks(seg(), F.pid, saved);
		} else {
			restart(r % NCHAN);
		}
		break;
	default: do_stat(); break;
	}
}

/* ---- set-up ---------------------------------------------------------------- */

static void must(const char *what, int rc)
{
	if (rc < 0) {
		fprintf(stderr, "fuzz_seg_recv: set-up: %s: %s\n", what, strerror(-rc));
		exit(1);
	}
}

static void send_n(unsigned who, uint64_t dest, size_t len, unsigned n)
{
	static char buf[4096];
	memset(buf, 's', sizeof(buf));
	for (unsigned i = 0; i < n; i++)
		must("ipcfs_send", ipcfs_send(F.mem[who], dest, buf, len, 0));
}

static void drain(unsigned who)
{
	struct ipcfs_msg msg;
	while (ipcfs_recv(F.mem[who], IPCFS_ANY, &msg, 0) == 0)
		must("ipcfs_release", ipcfs_release(F.mem[who], &msg));
}

/* Traffic of every kind: a ring that wrapped, small and arena messages
 * pending for several readers, a typed message, the daemon's broadcasts. */
static void traffic(void)
{
	struct ipcfs_builder b;
	uint64_t shape[2] = { 3, 2 };
	void *p;

	send_n(1, IPCFS_RANK_BIT(2), 40, 6);
	drain(2);
	send_n(1, IPCFS_RANK_BIT(2), 40, 6);
	drain(2);
	send_n(1, IPCFS_ALL, 10, 1);
	must("ipcfs_build_begin", ipcfs_build_begin(F.mem[1], &b, 256, 0));
	must("ipcfs_build_add", ipcfs_build_add(&b, "ids", IPCFS_I64, 2, shape, &p));
	memset(p, 1, 48);
	must("ipcfs_build_add", ipcfs_build_add(&b, "t", IPCFS_F32, 0, NULL, &p));
	must("ipcfs_build_commit", ipcfs_build_commit(&b, IPCFS_RANK_BIT(0) | IPCFS_RANK_BIT(2)));
	send_n(2, IPCFS_RANK_BIT(0) | IPCFS_RANK_BIT(1), 1000, 1);
	send_n(0, IPCFS_RANK_BIT(1), 20, 2);
	send_n(2, IPCFS_RANK_BIT(0), 3000, 1);
	void *buf;
	must("chan_reserve", chan_reserve(&F.ctl, 2000, &buf, 0));
	memset(buf, 'd', 2000);
	must("chan_commit", chan_commit(&F.ctl, IPCFS_ALL, 2000, 0));
	must("chan_reserve", chan_reserve(&F.ctl, 30, &buf, 0));
	memset(buf, 'd', 30);
	must("chan_commit", chan_commit(&F.ctl, IPCFS_ALL, 30, 0));
}

/* Move every channel's view of the segment onto one mapping between
 * PROT_NONE guards. */
static void guard_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) != 0)
		must("open segment", -errno);
	F.size = (size_t)st.st_size;
	char *res = mmap(NULL, F.size + 2 * GUARD, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		must("reserve", -errno);
	F.base = mmap(res + GUARD, F.size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (F.base == MAP_FAILED)
		must("map segment", -errno);
	close(fd);
	for (unsigned c = 0; c < NCHAN; c++) {
		struct seg_map *m = &F.chan[c]->seg;
		munmap(m->base, m->size);
		m->base = F.base;
		m->hdr = (struct seg_hdr *)(void *)F.base;
	}
}

static void table(void)
{
	const struct seg_map *m = seg();
	uint64_t v[] = {
		0, 1, 2, 3, 7, 8, 9, 15, 16, 63, 64, 65, 127, 128, 192, 4095, 4096,
		UINT32_MAX, UINT64_MAX, INT64_MAX, SEG_SEQ_BUSY, SEG_SEQ_BUSY | 1,
		seg_layout(m)->arena_bytes, seg_layout(m)->arena_bytes - 64, seg_layout(m)->arena_bytes - 128, seg_layout(m)->arena_bytes + 64,
		(uint64_t)1 << 36, 0x0f, 0x1f, 0x8000000000000000ull | 0x0f,
		0x4b4c42414e524141ull /* ARENA_MAGIC */, ARENA_PUBLISHED, ARENA_RESERVED,
		KIND_ARENA, KIND_ARENA | IPCFS_KIND_TYPED, ARENA_LOCK_WAITERS,
		(uint64_t)F.pid, (uint64_t)F.dead, ARENA_LOCK_WAITERS | (uint64_t)F.pid,
		SEG_OWNER(IPCFS_STATE_LIVE, F.pid), SEG_OWNER(IPCFS_STATE_LIVE, F.dead),
		SEG_OWNER(IPCFS_STATE_DEAD, F.pid), SEG_OWNER(IPCFS_STATE_LEFT, F.dead),
		SEG_OWNER(IPCFS_STATE_LIVE, 1), proc_starttime(F.pid), seg_layout(m)->slot_bytes,
		seg_layout(m)->slot_bytes + 1, 24,
	};
	_Static_assert(sizeof(v) / sizeof(v[0]) <= sizeof(F.table) / sizeof(F.table[0]),
		       "table size");
	memcpy(F.table, v, sizeof(v));
	F.ntable = sizeof(v) / sizeof(v[0]);
}

static void setup(void)
{
	char tmp[] = "/tmp/ipcfs-fuzz-XXXXXX", dir[PATH_MAX], path[PATH_MAX];
	struct ipcfs_params p;
	struct seg_map sm;

	F.trace = getenv("IPCFS_FUZZ_TRACE") != NULL;
	F.pid = getpid();
	F.dead = fork();
	if (F.dead == 0)
		_exit(0);
	if (F.dead < 0 || waitpid(F.dead, NULL, 0) != F.dead)
		must("fork", -ECHILD);
	ipcfs_params_init(&p);
	p.ranks = RANKS;
	p.slots = 8;
	p.slot_bytes = 64;
	p.arena_bytes = 16384;
	p.spin_us = 0;
	if (!mkdtemp(tmp))
		must("mkdtemp", -errno);
	snprintf(dir, sizeof(dir), "%s/g", tmp);
	must("ipcfs_group_create", ipcfs_group_create(dir, &p));
	for (unsigned r = 0; r < NMEM; r++) {
		must("ipcfs_join", ipcfs_join(dir, (int)r, &F.mem[r]));
		F.chan[r] = member_chan(F.mem[r]);
		/* A word written to name a live thread that holds nothing
		 * (pid 1, a kernel thread) keeps every arena call of a member
		 * waiting its whole patience: at 2 s, a few such calls would
		 * exceed the input's time limit and read as a hang. Its size
		 * is not what is tested; that it holds is. */
		F.chan[r]->seg.lock_wait_ns = SEG_LOCK_WAIT_SERVICE_NS;
	}
	/* The daemon's control sender, claimed as fsd/segfile.c does. */
	must("member_segment_path", member_segment_path(dir, path, sizeof(path)));
	must("seg_map_path", seg_map_path(path, SEG_MAP_WRITE | SEG_MAP_SERVICE, &sm));
	must("seg_claim", seg_claim(&sm, RANKS, F.pid));
	seg_go_live(&sm, RANKS, F.pid);
	must("chan_init", chan_init(&F.ctl, &sm, RANKS));
	F.chan[NMEM] = &F.ctl;
	guard_map(path);
	/* Nothing left on disk, whatever happens next. */
	must("ipcfs_group_destroy", ipcfs_group_destroy(dir));
	rmdir(tmp);
	traffic();
	F.snap = malloc(F.size);
	if (!F.snap)
		must("malloc", -ENOMEM);
	memcpy(F.snap, F.base, F.size);
	table();
	F.ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };

	if (!F.ready)
		setup();
	memcpy(F.base, F.snap, F.size);
	for (unsigned c = 0; c < NCHAN; c++)
		restart(c);
	for (unsigned ops = 0; in.n && ops < 64; ops++) {
		uint8_t op = get8(&in);
		switch (op % 8) {
		case 0: write_hdr(&in); break;
		case 1: write_rank(&in); break;
		case 2: write_slot(&in); break;
		case 3: write_block(&in); break;
		case 4: write_raw(&in); break;
		default: do_action(&in, op / 8); break;
		}
		no_live_stranger();
	}
	/* Every view handed out can be given back. */
	for (unsigned w = 0; w < NMEM; w++)
		while (F.nheld[w]) {
			int rc = ipcfs_release(F.mem[w], &F.held[w][--F.nheld[w]]);
			if (rc && rc != -EINVAL)
				die("ipcfs_release", rc);
		}
	return 0;
}
