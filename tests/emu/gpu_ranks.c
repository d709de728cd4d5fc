/* SPDX-License-Identifier: MIT */
/*
 * gpu_ranks - the GPU communicator (lib/gpu.c) end to end with forked
 * ranks over the CPU stand-in of libipcfs_cuda.so (cuda_emu.c), on a plain
 * group directory or a mounted one. For tests/shell/gpu_emu*.sh.
 *
 *   gpu_ranks [-c] [-s] [-w WORLD] [-r FIRST-LAST] [-b BUF_BYTES] [-i ITERS]
 *             [-a ALGO] DIR SCENARIO
 *
 * -c creates (and at the end destroys) a plain group of WORLD ranks in DIR;
 * otherwise DIR is an existing group (a mount's groups/NAME). IPCFS_CUDA_LIB
 * must name libipcfs_cuda_emu.so. -a is the algorithm the ranks expect to
 * be forced (from the group's algo file or $IPCFS_ALGO), default auto.
 * What else to expect comes from the emulator's environment (see
 * cuda_emu.c) and $IPCFS_ONESHOT_MAX: peer access, NCCL available or not.
 * -r runs only ranks FIRST..LAST here (the others run elsewhere: another
 * simulated node); -s says the group's ranks span nodes: every call must
 * go to NCCL and CUDA IPC must not be used at all (tests/shell/gpu_nodes.sh).
 *
 * Scenarios:
 *   mixed       every dtype, sizes 0..256 KiB (odd ones, beyond the
 *               buffer), in and out of place, ITERS rounds: results equal
 *               the CPU reference bit for bit, inputs untouched, the
 *               per-algorithm counters of stat as expected
 *   registered  a user buffer: zero copy where allowed, input untouched
 *   register_fail  rank 1 registers host memory: all fail, none uses it;
 *               a retry works
 *   graph       calls captured, registered after capture, replayed twice,
 *               a second capture and registration
 *   graph_unregistered  a replay before registration: ENXIO, not a crash
 *   graph_mismatch      rank 1 captures one call fewer: EINVAL everywhere
 *   timeout     rank 1 skips a call: rank 0 gets ETIMEDOUT, no hang
 *   mismatch    rank 1 has other settings: EINVAL at init on every rank
 *   span_nccl_off   (-s) rank 3 sets IPCFS_NCCL=0: EOPNOTSUPP at init on
 *               every rank, naming rank 3
 *   span_nccl_fail  (-s) NCCL fails on rank 2: init fails on every rank,
 *               the others naming rank 2, and nobody hangs
 *   span_pending    (-s) rank 2 sends rank 0 a message just before init:
 *               EPROTO on rank 0, saying why; the others give up at once
 *
 * Rank 0 destroys its communicator last (200 ms late), so that a rank that
 * frees its buffer while a peer still maps it would abort the emulator.
 * Exit 0 when every rank passed; a failing rank prints "rank R: ..." on
 * stderr.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ipcfs/plan.h"
#include "gpu_ranks.h"
#include "ipcfs.h"

struct emu_api emu;

int world = 2, rank = -1, iters = 2;
bool span;
size_t buf_bytes = 64 * 1024;
static enum allreduce_algo forced = ALLREDUCE_ALGO_AUTO;
const char *scenario;

void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "rank %d (%s): ", rank, scenario);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " [ipcfs_gpu_error: %s]\n", ipcfs_gpu_error());
	exit(1);
}

bool env_on(const char *name)
{
	const char *e = getenv(name);
	return e && *e && strcmp(e, "0");
}

static void load_emu(void)
{
	const char *path = getenv("IPCFS_CUDA_LIB");
	void *h = path ? dlopen(path, RTLD_NOW | RTLD_LOCAL) : NULL;

	if (!h)
		die("IPCFS_CUDA_LIB must name libipcfs_cuda_emu.so: %s", dlerror());
	*(void **)&emu.alloc = dlsym(h, "ipcfs_k_buf_alloc");
	*(void **)&emu.stats = dlsym(h, "ipcfs_emu_stats");
	*(void **)&emu.capture = dlsym(h, "ipcfs_emu_capture");
	*(void **)&emu.replay = dlsym(h, "ipcfs_emu_replay");
	*(void **)&emu.graph_reset = dlsym(h, "ipcfs_emu_graph_reset");
	emu.ops = dlsym(h, "ipcfs_k_ops_v1");
	if (!emu.alloc || !emu.stats || !emu.capture || !emu.replay || !emu.graph_reset ||
	    !emu.ops)
		die("%s is not the emulator", path);
}

void *dev_alloc(size_t bytes)
{
	void *p;
	if (emu.alloc(bytes, &p))
		die("emulated cudaMalloc(%zu)", bytes);
	return p;
}

static const int dtypes[] = { IPCFS_F32, IPCFS_F16, IPCFS_BF16 };

int kdtype(int dtype)
{
	return dtype == IPCFS_F32 ? ALLREDUCE_F32 : dtype == IPCFS_F16 ? ALLREDUCE_F16
								    : ALLREDUCE_BF16;
}

/* Rank @r's input of round @seed: small multiples of 0.37 that round
 * differently in each dtype. */
void fill(void *p, int dtype, size_t count, int r, unsigned seed)
{
	for (size_t i = 0; i < count; i++)
		allreduce_store_f32(p, kdtype(dtype), i,
				    (float)((int)((r * 7919u + i * 31u + seed * 17u) % 41u) - 20) *
					    0.37f);
}

/* out must equal the CPU reference of every rank's input of @seed. */
void verify(const void *out, int dtype, size_t count, unsigned seed, const char *what)
{
	size_t es = allreduce_plan_dtype_size(kdtype(dtype)), bytes = count * es;
	void *in[IPCFS_MAX_RANKS], *ref = calloc(1, bytes + 16);

	for (int r = 0; r < world; r++) {
		in[r] = calloc(1, bytes + 16);
		fill(in[r], dtype, count, r, seed);
	}
	/* The kernels' order: any rank's result is the same bytes. */
	for (size_t i = 0; i < count; i++)
		allreduce_store_f32(ref, kdtype(dtype), i,
				    allreduce_ref_sum1(world, kdtype(dtype),
						       (const void *const *)in, i));
	if (memcmp(out, ref, bytes)) {
		size_t i = 0;
		while (i < count && !memcmp((const char *)out + i * es, (char *)ref + i * es, es))
			i++;
		die("%s: dtype %d count %zu seed %u: element %zu differs from the reference "
		    "(%g, expected %g)", what, dtype, count, seed, i,
		    (double)allreduce_load_f32(out, kdtype(dtype), i),
		    (double)allreduce_load_f32(ref, kdtype(dtype), i));
	}
	for (int r = 0; r < world; r++)
		free(in[r]);
	free(ref);
}

static void untouched(const void *in, int dtype, size_t count, unsigned seed, const char *what)
{
	size_t bytes = count * allreduce_plan_dtype_size(kdtype(dtype));
	void *want = calloc(1, bytes + 16);

	fill(want, dtype, count, rank, seed);
	if (memcmp(in, want, bytes))
		die("%s: the input was modified (dtype %d count %zu)", what, dtype, count);
	free(want);
}

/* ---- what the communicator should do --------------------------------------- */

static bool peer(void)
{
	return !env_on("IPCFS_EMU_NO_PEER");
}

static bool nccl_available(void)
{
	const char *u = getenv("IPCFS_EMU_UUID"), *n = getenv("IPCFS_NCCL");
	return u && !strcmp(u, "pid") && !(n && !strcmp(n, "0")) && !env_on("IPCFS_EMU_NCCL_FAIL");
}

static size_t oneshot_max(void)
{
	const char *e = getenv("IPCFS_ONESHOT_MAX");
	return e ? strtoull(e, NULL, 0) : world == 2 ? 512 * 1024 : world <= 4 ? 256 * 1024
									   : 128 * 1024;
}

/* The algorithm of a call of @bytes with a buffer of @room bytes. */
static enum allreduce_algo expect(size_t bytes, size_t room)
{
	if (span || forced == ALLREDUCE_ALGO_NCCL || bytes % 16 || !peer() || bytes > room)
		return ALLREDUCE_ALGO_NCCL;
	if (forced != ALLREDUCE_ALGO_AUTO)
		return forced;
	return bytes <= oneshot_max() ? ALLREDUCE_ALGO_ONESHOT : ALLREDUCE_ALGO_TWOSHOT;
}

struct tally {
	uint64_t n[ALLREDUCE_NALGOS], bytes, errors;
};

static void count_call(struct tally *t, enum allreduce_algo a, size_t bytes, int rc)
{
	if (rc) {
		t->errors++;
	} else {
		t->n[a]++;
		t->bytes += bytes;
	}
}

/* One call expected to run @a; returns @a, or ALLREDUCE_NALGOS when it
 * failed as expected (NCCL needed and unavailable). */
static enum allreduce_algo call(struct ipcfs_gpu_comm *c, struct tally *t, const void *in,
				void *out, size_t count, int dtype, enum allreduce_algo a)
{
	size_t bytes = count * allreduce_plan_dtype_size(kdtype(dtype));
	int want = a == ALLREDUCE_ALGO_NCCL && !nccl_available() ? -EOPNOTSUPP : 0;
	int rc = ipcfs_allreduce(c, in, out, count, dtype, IPCFS_OP_SUM, NULL);

	if (rc != want)
		die("ipcfs_allreduce(count %zu, dtype %d, %s): %d, expected %d", count, dtype,
		    in == out ? "in place" : "out of place", rc, want);
	/* The stream is asynchronous: the result is there after a sync. */
	if (!rc && (rc = ipcfs_gpu_comm_check(c)))
		die("ipcfs_gpu_comm_check after a call of count %zu: %d", count, rc);
	count_call(t, a, bytes, rc);
	return rc ? ALLREDUCE_NALGOS : a;
}

/* The rank's counters when the scenario began (a mounted group keeps
 * them across joins). */
static struct ipcfs_rank_stat st0;

static void check_stat(struct ipcfs_member *m, const struct tally *t)
{
	struct ipcfs_rank_stat st;

	if (rank == 0)
		printf("rank 0 (%s): one-shot %llu, two-shot %llu, NCCL %llu, %llu bytes, "
		       "%llu failed as expected\n", scenario,
		       (unsigned long long)t->n[ALLREDUCE_ALGO_ONESHOT],
		       (unsigned long long)t->n[ALLREDUCE_ALGO_TWOSHOT],
		       (unsigned long long)t->n[ALLREDUCE_ALGO_NCCL], (unsigned long long)t->bytes,
		       (unsigned long long)t->errors);

	if (ipcfs_stat_rank(m, rank, &st))
		die("ipcfs_stat_rank");
	st.allreduce_oneshot -= st0.allreduce_oneshot;
	st.allreduce_twoshot -= st0.allreduce_twoshot;
	st.allreduce_nccl -= st0.allreduce_nccl;
	st.allreduce_bytes -= st0.allreduce_bytes;
	st.allreduce_errors -= st0.allreduce_errors;
	if (st.allreduce_oneshot != t->n[ALLREDUCE_ALGO_ONESHOT] ||
	    st.allreduce_twoshot != t->n[ALLREDUCE_ALGO_TWOSHOT] ||
	    st.allreduce_nccl != t->n[ALLREDUCE_ALGO_NCCL] || st.allreduce_bytes != t->bytes ||
	    st.allreduce_errors != t->errors)
		die("stat: oneshot %llu twoshot %llu nccl %llu bytes %llu errors %llu, expected "
		    "%llu %llu %llu %llu %llu",
		    (unsigned long long)st.allreduce_oneshot, (unsigned long long)st.allreduce_twoshot,
		    (unsigned long long)st.allreduce_nccl, (unsigned long long)st.allreduce_bytes,
		    (unsigned long long)st.allreduce_errors,
		    (unsigned long long)t->n[ALLREDUCE_ALGO_ONESHOT],
		    (unsigned long long)t->n[ALLREDUCE_ALGO_TWOSHOT],
		    (unsigned long long)t->n[ALLREDUCE_ALGO_NCCL], (unsigned long long)t->bytes,
		    (unsigned long long)t->errors);
}

/* ---- scenarios --------------------------------------------------------------- */

static const size_t counts[] = { 0, 1, 7, 8, 64, 1000, 1024, 4096, 24576, 65536 };
#define NCOUNTS (sizeof(counts) / sizeof(counts[0]))
#define MAXCOUNT 65536

static void mixed(struct ipcfs_member *m, struct ipcfs_gpu_comm *c)
{
	void *in = dev_alloc(MAXCOUNT * 4), *out = dev_alloc(MAXCOUNT * 4);
	struct tally t = { 0 };

	for (int it = 0; it < iters; it++)
		for (size_t d = 0; d < 3; d++)
			for (size_t k = 0; k < NCOUNTS; k++)
				for (int inplace = 0; inplace < 2; inplace++) {
					unsigned seed = (unsigned)(it * 1000 + (int)d * 100 +
								   (int)k * 2 + inplace);
					void *o = inplace ? in : out;
					fill(in, dtypes[d], counts[k], rank, seed);
					size_t bytes = counts[k] * allreduce_plan_dtype_size(
									   kdtype(dtypes[d]));
					if (call(c, &t, in, o, counts[k], dtypes[d],
						 expect(bytes, buf_bytes)) == ALLREDUCE_NALGOS)
						continue;
					if (ipcfs_gpu_comm_check(c))
						die("ipcfs_gpu_comm_check");
					verify(o, dtypes[d], counts[k], seed, "mixed");
					if (!inplace)
						untouched(in, dtypes[d], counts[k], seed, "mixed");
				}
	check_stat(m, &t);
}

static void registered(struct ipcfs_member *m, struct ipcfs_gpu_comm *c)
{
	const size_t ubytes = 2 * buf_bytes;
	void *u = dev_alloc(ubytes + 4096), *out = dev_alloc(ubytes);
	struct tally t = { 0 };
	struct emu_stats s0, s1;
	int rc = ipcfs_gpu_register(c, u, ubytes);

	if (!peer()) {
		if (rc != -EOPNOTSUPP)
			die("ipcfs_gpu_register without peer access: %d", rc);
		return;
	}
	if (rc)
		die("ipcfs_gpu_register: %d", rc);
	/* Sizes under and above the communicator's own buffer. */
	const size_t sizes[] = { 1024, 16384, ubytes * 3 / 4 };
	for (size_t k = 0; k < 3; k++)
		for (int inplace = 0; inplace < 2; inplace++) {
			size_t count = sizes[k] / 4;
			unsigned seed = (unsigned)(k * 2 + (size_t)inplace);
			void *o = inplace ? u : out;
			enum allreduce_algo a;

			fill(u, IPCFS_F32, count, rank, seed);
			/* Two-shot out of place copies the input into the
			 * communicator's buffer: NCCL when it does not fit. */
			a = expect(sizes[k], ubytes);
			if (a == ALLREDUCE_ALGO_TWOSHOT && !inplace && sizes[k] > buf_bytes)
				a = ALLREDUCE_ALGO_NCCL;
			emu.stats(&s0);
			if (call(c, &t, u, o, count, IPCFS_F32, a) == ALLREDUCE_NALGOS)
				continue;
			emu.stats(&s1);
			bool zero = (a == ALLREDUCE_ALGO_ONESHOT && !inplace) ||
				    (a == ALLREDUCE_ALGO_TWOSHOT && inplace);
			if (a != ALLREDUCE_ALGO_NCCL && (s1.copy_in - s0.copy_in == 0) != zero)
				die("registered, %zu bytes %s (%s): copied %llu bytes", sizes[k],
				    inplace ? "in place" : "out of place", allreduce_plan_algo_name(a),
				    (unsigned long long)(s1.copy_in - s0.copy_in));
			verify(o, IPCFS_F32, count, seed, "registered");
			if (!inplace)
				untouched(u, IPCFS_F32, count, seed, "registered");
		}
	check_stat(m, &t);
}

/* Rank 1 registers host memory (CUDA IPC cannot export it): every rank
 * fails, at once, and none keeps the buffer; then a retry works. */
static void register_fail(struct ipcfs_member *m, struct ipcfs_gpu_comm *c)
{
	void *u = dev_alloc(4096), *out = dev_alloc(4096), *host = aligned_alloc(16, 4096);
	struct tally t = { 0 };
	struct emu_stats s0, s1;
	int rc = ipcfs_gpu_register(c, rank == 1 ? host : u, 4096);

	if (rc != -EINVAL)
		die("a registration that rank 1 failed: %d", rc);
	if (rank != 1 && !strstr(ipcfs_gpu_error(), "rank 1 failed"))
		die("the reason does not name rank 1");
	/* Not registered anywhere: one-shot out of place copies. */
	fill(u, IPCFS_F32, 1024, rank, 7);
	emu.stats(&s0);
	call(c, &t, u, out, 1024, IPCFS_F32, ALLREDUCE_ALGO_ONESHOT);
	emu.stats(&s1);
	if (s1.copy_in - s0.copy_in != 4096)
		die("a failed registration is used");
	verify(out, IPCFS_F32, 1024, 7, "register_fail");
	if ((rc = ipcfs_gpu_register(c, u, 4096)))
		die("the retry: %d", rc);
	emu.stats(&s0);
	call(c, &t, u, out, 1024, IPCFS_F32, ALLREDUCE_ALGO_ONESHOT);
	emu.stats(&s1);
	if (s1.copy_in != s0.copy_in)
		die("the retried registration is not used");
	verify(out, IPCFS_F32, 1024, 7, "register_fail retry");
	check_stat(m, &t);
	free(host);
}

struct capture {
	void *in, *out;
	size_t count;
	int dtype;
};

/* Capture @n calls, register them (@reg), replay twice with new inputs,
 * verify. */
static void graph_round(struct ipcfs_gpu_comm *c, struct capture *cap, int n, int round,
			bool reg)
{
	struct emu_stats s0, s1;
	int rc;

	emu.graph_reset();
	emu.stats(&s0);
	emu.capture(1);
	for (int i = 0; i < n; i++) {
		rc = ipcfs_allreduce(c, cap[i].in, cap[i].out, cap[i].count, cap[i].dtype,
				     IPCFS_OP_SUM, NULL);
		if (rc)
			die("captured ipcfs_allreduce %d: %d", i, rc);
	}
	emu.capture(0);
	emu.stats(&s1);
	if (s1.launches != s0.launches || s1.recorded != (uint64_t)n)
		die("capture ran kernels (%llu) or recorded %llu of %d",
		    (unsigned long long)(s1.launches - s0.launches),
		    (unsigned long long)s1.recorded, n);
	if (reg && (rc = ipcfs_gpu_register_graph(c)))
		die("ipcfs_gpu_register_graph: %d", rc);
	for (int rep = 0; rep < 2; rep++) {
		for (int i = 0; i < n; i++)
			fill(cap[i].in, cap[i].dtype, cap[i].count, rank,
			     (unsigned)(round * 100 + rep * 10 + i));
		emu.stats(&s0);
		if ((rc = emu.replay()))
			die("replay: %d", rc);
		emu.stats(&s1);
		if ((rc = ipcfs_gpu_comm_check(c))) {
			if (!reg && rc == -ENXIO && strstr(ipcfs_gpu_error(), "register_graph"))
				return;  /* expected */
			die("ipcfs_gpu_comm_check after a replay: %d", rc);
		}
		if (!reg)
			die("a replay before registration did not fail");
		/* Which calls read their input in place: one-shot out of
		 * place, two-shot in place. */
		uint64_t zero = 0;
		for (int i = 0; i < n; i++) {
			size_t bytes = cap[i].count * allreduce_plan_dtype_size(kdtype(cap[i].dtype));
			enum allreduce_algo a = expect(bytes, SIZE_MAX);
			zero += (a == ALLREDUCE_ALGO_ONESHOT && cap[i].in != cap[i].out) ||
				(a == ALLREDUCE_ALGO_TWOSHOT && cap[i].in == cap[i].out);
			verify(cap[i].out, cap[i].dtype, cap[i].count,
			       (unsigned)(round * 100 + rep * 10 + i), "graph");
		}
		if (s1.indirect - s0.indirect != zero)
			die("graph replay: %llu calls read in place, expected %llu",
			    (unsigned long long)(s1.indirect - s0.indirect),
			    (unsigned long long)zero);
	}
}

static void graph(struct ipcfs_gpu_comm *c, bool reg)
{
	struct capture cap[12];
	int n = 0;

	/* Separate allocations and slices of one: the table shares the
	 * handle of an allocation among its calls. */
	char *slab = dev_alloc(8 * 65536);
	const size_t cnts[] = { 256, 1024, 4096, 16384 };
	for (int i = 0; i < 4; i++) {
		size_t b = cnts[i] * 4;
		cap[n++] = (struct capture){ slab + i * 65536, dev_alloc(b), cnts[i], IPCFS_F32 };
		cap[n] = (struct capture){ dev_alloc(b), NULL, cnts[i] * 2, IPCFS_BF16 };
		cap[n].out = cap[n].in;  /* in place */
		n++;
		cap[n++] = (struct capture){ slab + (4 + i) * 65536, dev_alloc(b), cnts[i] * 2,
					     IPCFS_F16 };
	}
	graph_round(c, cap, n, 1, reg);
	if (reg) {
		/* A second capture, registered as a second batch. */
		graph_round(c, cap + 2, n - 2, 2, true);
	}
}

static void timeout(struct ipcfs_gpu_comm *c)
{
	void *in = dev_alloc(4096), *out = dev_alloc(4096);
	int rc;

	fill(in, IPCFS_F32, 1024, rank, 1);
	if ((rc = ipcfs_allreduce(c, in, out, 1024, IPCFS_F32, IPCFS_OP_SUM, NULL)) ||
	    (rc = ipcfs_gpu_comm_check(c)))
		die("first call: %d", rc);
	verify(out, IPCFS_F32, 1024, 1, "timeout");
	if (rank == 1)
		return;  /* skips the second call */
	if ((rc = ipcfs_allreduce(c, in, out, 1024, IPCFS_F32, IPCFS_OP_SUM, NULL)))
		die("second call, enqueue: %d", rc);
	if ((rc = ipcfs_gpu_comm_check(c)) != -ETIMEDOUT)
		die("second call: %d, expected -ETIMEDOUT", rc);
	if (!strstr(ipcfs_gpu_error(), "timeout"))
		die("the reason does not say timeout");
	if ((rc = ipcfs_allreduce(c, in, out, 1024, IPCFS_F32, IPCFS_OP_SUM, NULL)) != -ETIMEDOUT)
		die("a call after the timeout: %d, expected -ETIMEDOUT (sticky)", rc);
}

/* Across nodes, a rank stays at least a second: the bridges tell each
 * other their live ranks every 200 ms, and a remote rank that came and went
 * between two reports (its proxy joined by its first message) leaves its
 * proxy joined on the other node for good (an issue of ipcfs-bridge), which
 * the next scenario would meet. */
static struct timespec joined_at;

static int leave(struct ipcfs_member *m)
{
	struct timespec now;

	if (span) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		long ms = (now.tv_sec - joined_at.tv_sec) * 1000 +
			  (now.tv_nsec - joined_at.tv_nsec) / 1000000;
		if (ms < 1000)
			usleep((useconds_t)(1000 - ms) * 1000);
	}
	return ipcfs_leave(m);
}

/* The scenarios whose subject is init across nodes: 1 when @rc was as
 * expected (the scenario is over), 0 for the others. */
static int span_init_checked(int rc)
{
	if (!strcmp(scenario, "span_nccl_off")) {
		if (rc != -EOPNOTSUPP || !strstr(ipcfs_gpu_error(), "rank 3 disabled NCCL") ||
		    !strstr(ipcfs_gpu_error(), "IPCFS_NCCL=0"))
			die("init across nodes with IPCFS_NCCL=0 on rank 3: %d, expected "
			    "-EOPNOTSUPP naming rank 3 and IPCFS_NCCL=0", rc);
		return 1;
	}
	if (!strcmp(scenario, "span_pending")) {
		/* The others see rank 0's verdict while NCCL waits for it, or
		 * (rank 0 gone first with its NCCL id) NCCL fails: both end. */
		bool ok = rank == 0 ? rc == -EPROTO &&
					      strstr(ipcfs_gpu_error(), "not a GPU set-up record")
				    : (rc == -ECANCELED && strstr(ipcfs_gpu_error(), "rank 0 gave up")) ||
					      rc == -EIO;
		if (!ok)
			die("init with a message pending from rank 2 to rank 0: %d", rc);
		return 1;
	}
	if (!strcmp(scenario, "span_nccl_fail")) {
		const char *want = rank == 2 ? "emulated" : "rank 2";
		if (rc != (rank == 2 ? -EIO : -ECANCELED) || !strstr(ipcfs_gpu_error(), want))
			die("init across nodes with NCCL failing on rank 2: %d, expected %d "
			    "saying \"%s\"", rc, rank == 2 ? -EIO : -ECANCELED, want);
		return 1;
	}
	return 0;
}

static int run_rank(const char *dir)
{
	struct ipcfs_member *m;
	struct ipcfs_gpu_comm *c = NULL;
	int rc;

	load_emu();
	if (!strcmp(scenario, "mismatch") && rank == 1)
		setenv("IPCFS_GPU_BLOCKS", "4", 1);
	if (!strcmp(scenario, "timeout"))
		setenv("IPCFS_GPU_TIMEOUT_MS", "300", 1);
	faults_setup();
	if (!strcmp(scenario, "span_nccl_off") && rank == 3)
		setenv("IPCFS_NCCL", "0", 1);
	if (!strcmp(scenario, "span_nccl_fail") && rank == 2)
		setenv("IPCFS_EMU_NCCL_FAIL", "1", 1);
	if ((rc = ipcfs_join(dir, rank, &m)) != rank)
		die("ipcfs_join: %d", rc);
	clock_gettime(CLOCK_MONOTONIC, &joined_at);
	if (!strcmp(scenario, "span_pending") && rank == 2 &&
	    ((rc = ipcfs_wait_ranks(m, IPCFS_RANK_BIT(0), 20000)) ||
	     (rc = ipcfs_send(m, IPCFS_RANK_BIT(0), "app", 3, 20000))))
		die("a message to rank 0 before init: %d", rc);
	if (ipcfs_stat_rank(m, rank, &st0))
		die("ipcfs_stat_rank");
	rc = ipcfs_gpu_comm_init(m, "emu", buf_bytes, faults_init_timeout(), &c);
	if (faults_after_init(rc, c)) {
		if (!rc)
			ipcfs_gpu_comm_destroy(c);
		leave(m);
		return 0;
	}
	if (span_init_checked(rc)) {
		if (!rc)
			ipcfs_gpu_comm_destroy(c);
		leave(m);
		return 0;
	}
	if (!strcmp(scenario, "mismatch")) {
		if (rc != -EINVAL || !strstr(ipcfs_gpu_error(), "other settings"))
			die("init with other settings on rank 1: %d", rc);
		leave(m);
		return 0;
	}
	if (rc)
		die("ipcfs_gpu_comm_init: %d", rc);
	if (!peer() && !span && !strstr(ipcfs_gpu_error(), "read back"))
		die("no reason given for the missing peer access");
	if (span) {
		struct emu_stats es;
		emu.stats(&es);
		if (!strstr(ipcfs_gpu_error(), "span"))
			die("init across nodes does not say so");
		if (es.ipc_exports || es.ipc_opens)
			die("CUDA IPC across nodes: %llu handles exported, %llu opened",
			    (unsigned long long)es.ipc_exports, (unsigned long long)es.ipc_opens);
	}
	if (faults_run(m, c))
		;
	else if (!strcmp(scenario, "mixed"))
		mixed(m, c);
	else if (!strcmp(scenario, "registered"))
		registered(m, c);
	else if (!strcmp(scenario, "register_fail"))
		register_fail(m, c);
	else if (!strcmp(scenario, "graph"))
		graph(c, true);
	else if (!strcmp(scenario, "graph_unregistered"))
		graph(c, false);
	else if (!strcmp(scenario, "graph_mismatch")) {
		void *in = dev_alloc(4096), *out = dev_alloc(4096);
		emu.capture(1);
		for (int i = 0; i < 3 - (rank == 1); i++)
			if ((rc = ipcfs_allreduce(c, in, out, 1024, IPCFS_F32, IPCFS_OP_SUM, NULL)))
				die("captured call: %d", rc);
		emu.capture(0);
		rc = ipcfs_gpu_register_graph(c);
		if (rc != -EINVAL || (rank != 1 && !strstr(ipcfs_gpu_error(), "captured") &&
				      !strstr(ipcfs_gpu_error(), "failed")))
			die("register_graph with different captures: %d", rc);
	} else if (!strcmp(scenario, "timeout"))
		timeout(c);
	else
		die("unknown scenario");
	if (rank == 0)
		usleep(200 * 1000);
	if ((rc = ipcfs_gpu_comm_destroy(c)))
		die("ipcfs_gpu_comm_destroy: %d", rc);
	if ((rc = leave(m)))
		die("ipcfs_leave: %d", rc);
	return 0;
}

int main(int argc, char **argv)
{
	bool create = false;
	int opt, failed = 0, first = 0, last = -1;
	pid_t pids[IPCFS_MAX_RANKS];

	while ((opt = getopt(argc, argv, "csw:r:b:i:a:")) != -1) {
		switch (opt) {
		case 'c': create = true; break;
		case 's': span = true; break;
		case 'r':
			if (sscanf(optarg, "%d-%d", &first, &last) != 2)
				die("bad -r %s (FIRST-LAST)", optarg);
			break;
		case 'w': world = atoi(optarg); break;
		case 'b': buf_bytes = strtoull(optarg, NULL, 0); break;
		case 'i': iters = atoi(optarg); break;
		case 'a':
			if (allreduce_plan_algo_parse(optarg, &forced))
				die("bad -a %s", optarg);
			break;
		default: return 2;
		}
	}
	if (last < 0)
		last = world - 1;
	if (optind + 2 != argc || world < 2 || world > 8 || first < 0 || first > last ||
	    last >= world) {
		fprintf(stderr, "usage: gpu_ranks [-c] [-s] [-w WORLD] [-r FIRST-LAST] [-b BUF] "
				"[-i ITERS] [-a ALGO] DIR SCENARIO\n");
		return 2;
	}
	scenario = argv[optind + 1];
	if (create) {
		struct ipcfs_params p;
		ipcfs_params_init(&p);
		p.ranks = (unsigned)world;
		if (ipcfs_group_create(argv[optind], &p))
			die("ipcfs_group_create %s", argv[optind]);
	}
	/* The emulated device that the ranks share: its resident blocks. */
	int devfd = memfd_create("ipcfs-emu-device", 0);
	char fdstr[16];
	if (devfd < 0 || ftruncate(devfd, 4096))
		die("memfd for the emulated device");
	snprintf(fdstr, sizeof(fdstr), "%d", devfd);
	setenv("IPCFS_EMU_DEVICE_FD", fdstr, 1);
	for (int r = first; r <= last; r++) {
		pids[r] = fork();
		if (pids[r] == 0) {
			rank = r;
			exit(run_rank(argv[optind]));
		}
	}
	for (int r = first; r <= last; r++) {
		int st;
		if (waitpid(pids[r], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "gpu_ranks %s: rank %d %s %d\n", scenario, r,
				WIFSIGNALED(st) ? "killed by signal" : "exited",
				WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
			failed = 1;
		}
	}
	if (create && ipcfs_group_destroy(argv[optind]))
		failed = 1;
	if (!failed)
		printf("gpu_ranks %s: %d ranks passed\n", scenario, last - first + 1);
	return failed;
}
