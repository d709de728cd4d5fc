/* SPDX-License-Identifier: MIT */
/*
 * test_gpu.c - the host side of the GPU all-reduce without a GPU: the
 * handle record (round trip, every malformed variant -> -EBADMSG), names,
 * the rendezvous through gpu/NAME/RANK in a plain group directory with
 * records written by forked ranks (late, stale, malformed, gone), the
 * algorithm settings, and -ENODEV with a reason from the entry points.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gpu_int.h"
#include "testlib.h"

/* The layout init uses: [signal block | probe words | buffer]. */
#define PROBE_OFF ((gpu_signal_bytes + 255) / 256 * 256)
#define BUF_OFF (PROBE_OFF + 256)

static void sample(struct gpu_record *r, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->kind = GPU_REC_BUF;
	r->world = 4;
	r->rank = (uint32_t)(seed % 4);
	r->pid = 1000 + (uint32_t)seed;
	r->flags = GPU_F_IPC | GPU_F_NCCL_WANT;
	r->gen = seed * 7 + 1;
	r->buf_bytes = 1 << 20;
	r->sig_off = 0;
	r->probe_off = PROBE_OFF;
	r->buf_off = BUF_OFF;
	r->algo = ALLREDUCE_ALGO_TWOSHOT;
	r->blocks = 32;
	r->oneshot_max = 12345;
	for (int i = 0; i < GPU_UUID_BYTES; i++)
		r->uuid[i] = (unsigned char)(seed * 31 + (uint64_t)i);
	for (int i = 0; i < GPU_HANDLE_BYTES; i++)
		r->handle[i] = (unsigned char)(seed + (uint64_t)i * 3);
	for (int i = 0; i < GPU_NCCL_ID_BYTES; i++)
		r->nccl_id[i] = (unsigned char)(255 - i);
	snprintf(r->host, sizeof(r->host), "host-%llu", (unsigned long long)seed);
}

static void same(const struct gpu_record *a, const struct gpu_record *b)
{
	ck_assert_uint_eq(a->kind, b->kind);
	ck_assert_uint_eq(a->rank, b->rank);
	ck_assert_uint_eq(a->world, b->world);
	ck_assert_uint_eq(a->pid, b->pid);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_uint_eq(a->gen, b->gen);
	ck_assert_uint_eq(a->buf_bytes, b->buf_bytes);
	ck_assert_uint_eq(a->buf_off, b->buf_off);
	ck_assert_uint_eq(a->sig_off, b->sig_off);
	ck_assert_uint_eq(a->probe_off, b->probe_off);
	ck_assert_uint_eq(a->algo, b->algo);
	ck_assert_uint_eq(a->blocks, b->blocks);
	ck_assert_uint_eq(a->oneshot_max, b->oneshot_max);
	ck_assert_str_eq(a->host, b->host);
	ck_assert(!memcmp(a->uuid, b->uuid, sizeof(a->uuid)));
	ck_assert(!memcmp(a->handle, b->handle, sizeof(a->handle)));
	ck_assert(!memcmp(a->nccl_id, b->nccl_id, sizeof(a->nccl_id)));
}

START_TEST(record_round_trip)
{
	char hex[GPU_REC_HEX + 2];
	struct gpu_record a, b;

	for (uint64_t s = 0; s < 64; s++) {
		sample(&a, s);
		a.kind = GPU_REC_BUF + (uint32_t)(s % 6);
		ck_assert_int_eq(gpu_record_encode(&a, hex, sizeof(hex)), GPU_REC_HEX);
		ck_assert_uint_eq(strlen(hex), GPU_REC_HEX);
		ck_assert_int_eq(gpu_record_decode(hex, strlen(hex), &b), 0);
		same(&a, &b);
		/* one trailing newline, as in the files, and upper case */
		strcat(hex, "\n");
		for (char *p = hex; *p; p++)
			if (*p >= 'a' && *p <= 'f')
				*p = (char)(*p - 'a' + 'A');
		ck_assert_int_eq(gpu_record_decode(hex, strlen(hex), &b), 0);
		same(&a, &b);
	}
	ck_assert_int_eq(gpu_record_encode(&a, hex, GPU_REC_HEX), -ENOSPC);
	memset(a.host, 'x', sizeof(a.host));
	ck_assert_int_eq(gpu_record_encode(&a, hex, sizeof(hex)), -EINVAL);
}
END_TEST

/* Bytes of a record, to forge variants with a valid checksum. */
static void to_bytes(const char *hex, unsigned char *b)
{
	for (int i = 0; i < GPU_REC_BYTES; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		b[i] = (unsigned char)v;
	}
}

static void to_hex(unsigned char *b, char *hex, bool fix_sum)
{
	if (fix_sum) {
		uint64_t h = 0xcbf29ce484222325ull;
		for (int i = 0; i < GPU_REC_BYTES - 8; i++)
			h = (h ^ b[i]) * 0x100000001b3ull;
		for (int i = 0; i < 8; i++)
			b[GPU_REC_BYTES - 8 + i] = (unsigned char)(h >> (8 * i));
	}
	for (int i = 0; i < GPU_REC_BYTES; i++)
		sprintf(hex + 2 * i, "%02x", b[i]);
}

static void put32le(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64le(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static int decode_str(const char *s)
{
	struct gpu_record r;
	return gpu_record_decode(s, strlen(s), &r);
}

START_TEST(record_malformed)
{
	char good[GPU_REC_HEX + 2], hex[GPU_REC_HEX + 8];
	unsigned char b[GPU_REC_BYTES];
	struct gpu_record a, r;

	sample(&a, 3);
	gpu_record_encode(&a, good, sizeof(good));
	ck_assert_int_eq(decode_str(good), 0);

	/* lengths */
	ck_assert_int_eq(gpu_record_decode(good, 0, &r), -EBADMSG);
	ck_assert_int_eq(gpu_record_decode(NULL, 0, &r), -EBADMSG);
	ck_assert_int_eq(gpu_record_decode(good, GPU_REC_HEX - 2, &r), -EBADMSG);
	ck_assert_int_eq(gpu_record_decode(good, GPU_REC_HEX - 1, &r), -EBADMSG);
	snprintf(hex, sizeof(hex), "%s00", good);
	ck_assert_int_eq(decode_str(hex), -EBADMSG);
	snprintf(hex, sizeof(hex), "%s\n\n", good);
	ck_assert_int_eq(decode_str(hex), -EBADMSG);
	snprintf(hex, sizeof(hex), " %.*s", GPU_REC_HEX - 1, good);
	ck_assert_int_eq(decode_str(hex), -EBADMSG);
	/* a non-hex digit anywhere; a flipped digit anywhere (checksum) */
	for (int i = 0; i < GPU_REC_HEX; i += 37) {
		strcpy(hex, good);
		hex[i] = 'g';
		ck_assert_int_eq(decode_str(hex), -EBADMSG);
		strcpy(hex, good);
		hex[i] = hex[i] == '0' ? '1' : '0';
		ck_assert_int_eq(decode_str(hex), -EBADMSG);
	}
	strcpy(hex, good);
	hex[5] = '\0';
	ck_assert_int_eq(gpu_record_decode(hex, GPU_REC_HEX, &r), -EBADMSG);

	/* forged with a valid checksum: each field out of range */
	struct { int off, width; uint64_t v; } bad[] = {
		{ 0, 4, 0x52475048 },      /* magic */
		{ 4, 2, 2 },               /* version */
		{ 6, 2, 0 },               /* kind */
		{ 6, 2, 7 },               /* beyond the last kind (HELLO) */
		{ 8, 4, 4 },               /* rank >= world */
		{ 12, 4, 0 },              /* world */
		{ 12, 4, 65 },
		{ 16, 4, 0 },              /* pid */
		{ 32, 8, 1000 },           /* buf_bytes % 16 */
		{ 40, 8, BUF_OFF + 1 },    /* buf_off % 16 */
		{ 48, 8, 16 },             /* sig_off unaligned */
		{ 56, 8, 256 },            /* probe overlaps the signal block */
		{ 40, 8, PROBE_OFF },      /* buffer overlaps the probe words */
		{ 32, 8, 0 },              /* no buffer with GPU_F_IPC */
		{ 336, 4, ALLREDUCE_NALGOS },
		{ 340, 4, 65 },            /* blocks */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		to_bytes(good, b);
		if (bad[i].width == 2) {
			b[bad[i].off] = (unsigned char)bad[i].v;
			b[bad[i].off + 1] = (unsigned char)(bad[i].v >> 8);
		} else if (bad[i].width == 4) {
			put32le(b + bad[i].off, (uint32_t)bad[i].v);
		} else {
			put64le(b + bad[i].off, bad[i].v);
		}
		to_hex(b, hex, true);
		ck_assert_msg(decode_str(hex) == -EBADMSG, "variant %zu accepted", i);
		to_hex(b, hex, false);  /* stale checksum */
		ck_assert_int_eq(decode_str(hex), -EBADMSG);
	}
	/* host name: no NUL, or bytes after the NUL */
	to_bytes(good, b);
	memset(b + 144, 'h', GPU_HOST_MAX);
	to_hex(b, hex, true);
	ck_assert_int_eq(decode_str(hex), -EBADMSG);
	to_bytes(good, b);
	b[144 + GPU_HOST_MAX - 1] = 'z';
	to_hex(b, hex, true);
	ck_assert_int_eq(decode_str(hex), -EBADMSG);
	/* the unforged original still decodes */
	to_bytes(good, b);
	to_hex(b, hex, true);
	ck_assert_int_eq(decode_str(hex), 0);
}
END_TEST

START_TEST(names)
{
	char longest[GPU_NAME_MAX + 2];

	ck_assert_int_eq(gpu_name_check("tp0"), 0);
	ck_assert_int_eq(gpu_name_check("a.b-c_D9"), 0);
	memset(longest, 'n', sizeof(longest));
	longest[GPU_NAME_MAX] = '\0';
	ck_assert_int_eq(gpu_name_check(longest), 0);
	longest[GPU_NAME_MAX] = 'n';
	longest[GPU_NAME_MAX + 1] = '\0';
	ck_assert_int_eq(gpu_name_check(longest), -EINVAL);
	ck_assert_int_eq(gpu_name_check(""), -EINVAL);
	ck_assert_int_eq(gpu_name_check(NULL), -EINVAL);
	ck_assert_int_eq(gpu_name_check(".hidden"), -EINVAL);
	ck_assert_int_eq(gpu_name_check("a/b"), -EINVAL);
	ck_assert_int_eq(gpu_name_check("a b"), -EINVAL);
}
END_TEST

/* ---- rendezvous with forked ranks ---------------------------------------- */

struct fake {
	const char *dir;
	int rank, world;
	int delay_ms;      /* publish after this */
	int go;            /* read end: the parent closes the write end when done */
	int go_w;          /* write end, closed in the child */
	bool corrupt;      /* write a malformed record instead */
	bool unpublish;    /* remove the record before waiting */
};

static struct gpu_record fake_rec(int rank, int world, pid_t pid)
{
	struct gpu_record r;
	sample(&r, (uint64_t)rank);
	r.rank = (uint32_t)rank;
	r.world = (uint32_t)world;
	r.pid = (uint32_t)pid;
	r.gen = 1;
	return r;
}

static int fake_rank(void *arg)
{
	struct fake *f = arg;
	struct ipcfs_member *m;
	struct gpu_rdv v;
	char c;

	close(f->go_w);
	if (ipcfs_join(f->dir, f->rank, &m) != f->rank)
		return 10;
	if (gpu_rdv_init(&v, f->dir))
		return 11;
	usleep((useconds_t)f->delay_ms * 1000);
	if (f->corrupt) {
		char path[PATH_MAX + 32];
		snprintf(path, sizeof(path), "%s/gpu/t/%d", f->dir, f->rank);
		FILE *fp = fopen(path, "w");
		if (!fp)
			return 12;
		fputs("not a record\n", fp);
		fclose(fp);
	} else {
		struct gpu_record r = fake_rec(f->rank, f->world, getpid());
		if (gpu_rdv_publish(&v, "t", f->rank, &r))
			return 13;
	}
	if (f->unpublish) {
		usleep(100 * 1000);
		if (gpu_rdv_unpublish(&v, "t", f->rank))
			return 14;
	}
	while (read(f->go, &c, 1) < 0 && errno == EINTR)
		;
	ipcfs_leave(m);
	return 0;
}

struct fakes {
	pid_t pid[8];
	int n;
	int pipe[2];
};

static void start(struct fakes *fs, const char *dir, int world, int delay_ms, int corrupt_rank,
		  bool unpublish)
{
	static struct fake f[8];

	ck_assert_int_eq(pipe(fs->pipe), 0);
	fs->n = 0;
	for (int r = 1; r < world; r++) {
		f[r] = (struct fake){ dir, r, world, r == world - 1 ? delay_ms : 0, fs->pipe[0],
				      fs->pipe[1], r == corrupt_rank, unpublish };
		fs->pid[fs->n++] = tl_fork(fake_rank, &f[r]);
	}
	close(fs->pipe[0]);
}

static void finish(struct fakes *fs)
{
	close(fs->pipe[1]);
	for (int i = 0; i < fs->n; i++)
		ck_assert_int_eq(tl_wait(fs->pid[i], 20), 0);
}

START_TEST(rendezvous_plain)
{
	struct ipcfs_params p;
	struct gpu_record recs[IPCFS_MAX_RANKS], mine;
	struct ipcfs_member *m;
	struct gpu_rdv v;
	struct fakes fs;
	char dir[PATH_MAX], path[PATH_MAX + 16];
	struct stat st;

	ipcfs_params_init(&p);
	p.ranks = 4;
	tl_group(dir, &p);
	m = tl_join(dir, 0);
	ck_assert_int_eq(gpu_rdv_init(&v, dir), 0);
	ck_assert(!v.mounted);

	/* Nobody else there: a bounded wait. */
	mine = fake_rec(0, 4, getpid());
	ck_assert_int_eq(gpu_rdv_publish(&v, "t", 0, &mine), 0);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 0xf, GPU_REC_BUF, 1, 50, gpu_accept_live, m,
					recs), -ETIMEDOUT);
	/* Our own record is there, atomically (no temp file left). */
	snprintf(path, sizeof(path), "%s/gpu/t/0", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 1, GPU_REC_BUF, 1, 0, gpu_accept_live, m,
					recs), 0);
	same(&recs[0], &mine);
	/* Another generation is waited past. */
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 1, GPU_REC_BUF, 2, 20, gpu_accept_live, m,
					recs), -ETIMEDOUT);

	/* Three forked ranks, the last one 200 ms late. */
	start(&fs, dir, 4, 200, -1, false);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 0xf, GPU_REC_BUF, 1, 10000, gpu_accept_live,
					m, recs), 0);
	for (int r = 1; r < 4; r++) {
		struct gpu_record want = fake_rec(r, 4, (pid_t)recs[r].pid);
		same(&recs[r], &want);
		ck_assert_int_eq(recs[r].pid, fs.pid[r - 1]);
	}
	finish(&fs);
	/* They left: their records are stale now, and count as gone. */
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 0xe, GPU_REC_BUF, 1, 50, gpu_accept_live, m,
					recs), -ETIMEDOUT);
	ck_assert_int_eq(gpu_rdv_wait_gone(&v, "t", 4, 0xe, GPU_REC_BUF, 1, 0, gpu_accept_live,
					   m), 0);
	/* Without the liveness check they are still readable. */
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 0xe, GPU_REC_BUF, 1, 0, NULL, NULL, recs), 0);

	/* A malformed record ends the wait with -EBADMSG. */
	start(&fs, dir, 4, 0, 2, false);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 0xf, GPU_REC_BUF, 1, 10000, gpu_accept_live,
					m, recs), -EBADMSG);
	finish(&fs);

	/* A record of another world size or rank is malformed too. */
	mine = fake_rec(1, 8, getpid());
	ck_assert_int_eq(gpu_rdv_publish(&v, "t", 1, &mine), 0);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 2, GPU_REC_BUF, 1, 0, NULL, NULL, recs),
			 -EBADMSG);
	mine = fake_rec(3, 4, getpid());
	ck_assert_int_eq(gpu_rdv_publish(&v, "t", 1, &mine), 0);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 2, GPU_REC_BUF, 1, 0, NULL, NULL, recs),
			 -EBADMSG);

	/* The destroy barrier: ranks remove their records, the wait ends. */
	for (int r = 1; r < 4; r++)
		ck_assert_int_eq(gpu_rdv_unpublish(&v, "t", r), 0);
	start(&fs, dir, 4, 0, -1, true);
	ck_assert_int_eq(gpu_rdv_gather(&v, "t", 4, 0xe, GPU_REC_BUF, 1, 10000, gpu_accept_live,
					m, recs), 0);
	ck_assert_int_eq(gpu_rdv_wait_gone(&v, "t", 4, 0xe, GPU_REC_BUF, 1, 10000,
					   gpu_accept_live, m), 0);
	finish(&fs);

	/* Unpublishing the last record removes gpu/t and gpu/. */
	for (int r = 0; r < 4; r++)
		gpu_rdv_unpublish(&v, "t", r);
	snprintf(path, sizeof(path), "%s/gpu", dir);
	ck_assert_int_eq(stat(path, &st), -1);
	ck_assert_int_eq(gpu_rdv_read(&v, "t", 0, &mine), -ENOENT);
	ipcfs_leave(m);
	tl_group_done(dir);
}
END_TEST

/* ---- settings ------------------------------------------------------------ */

static void write_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(settings)
{
	char dir[] = "/tmp/ipcfs-gpu-settings-XXXXXX", path[PATH_MAX];
	struct gpu_settings s;
	uint64_t v;

	unsetenv("IPCFS_ALGO");
	unsetenv("IPCFS_ONESHOT_MAX");
	unsetenv("IPCFS_GPU_BLOCKS");
	unsetenv("IPCFS_GPU_TIMEOUT_MS");
	unsetenv("IPCFS_NCCL");
	ck_assert_ptr_nonnull(mkdtemp(dir));

	/* No attribute: auto and the documented thresholds. */
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), 0);
	ck_assert_int_eq(s.algo, ALLREDUCE_ALGO_AUTO);
	ck_assert_uint_eq(s.tuning.oneshot_max[2], 512 * 1024);
	ck_assert_uint_eq(s.tuning.oneshot_max[4], 256 * 1024);
	ck_assert_uint_eq(s.tuning.oneshot_max[8], 128 * 1024);
	ck_assert(s.nccl);
	ck_assert_uint_eq(s.blocks, 0);

	static const char *const names[] = { "auto\n", "oneshot\n", "twoshot", " nccl \n" };
	for (int a = 0; a < 4; a++) {
		write_file(dir, "algo", names[a]);
		ck_assert_int_eq(gpu_settings_load(dir, true, &s), 0);
		ck_assert_int_eq(s.algo, a);
	}
	write_file(dir, "algo", "fastest\n");
	ck_assert_int_eq(gpu_settings_load(dir, true, &s), -EINVAL);
	ck_assert_ptr_nonnull(strstr(ipcfs_gpu_error(), "algo"));

	/* $IPCFS_ALGO overrides in a plain directory, not in a mounted one. */
	write_file(dir, "algo", "oneshot\n");
	setenv("IPCFS_ALGO", "nccl", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), 0);
	ck_assert_int_eq(s.algo, ALLREDUCE_ALGO_NCCL);
	ck_assert_int_eq(gpu_settings_load(dir, true, &s), 0);
	ck_assert_int_eq(s.algo, ALLREDUCE_ALGO_ONESHOT);
	setenv("IPCFS_ALGO", "bogus", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), -EINVAL);
	unsetenv("IPCFS_ALGO");

	/* Sizes have the grammar of the attribute files (ctl_parse_size). */
	setenv("IPCFS_ONESHOT_MAX", "64K", 1);
	setenv("IPCFS_GPU_BLOCKS", "8", 1);
	setenv("IPCFS_GPU_TIMEOUT_MS", "250", 1);
	setenv("IPCFS_NCCL", "0", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), 0);
	for (int n = 2; n <= 8; n++)
		ck_assert_uint_eq(s.tuning.oneshot_max[n], 64 * 1024);
	ck_assert_uint_eq(s.blocks, 8);
	ck_assert_uint_eq(s.timeout_ns, 250000000ull);
	ck_assert(!s.nccl);
	setenv("IPCFS_GPU_BLOCKS", "65", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), -EINVAL);
	setenv("IPCFS_GPU_BLOCKS", "0", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), -EINVAL);
	unsetenv("IPCFS_GPU_BLOCKS");
	setenv("IPCFS_ONESHOT_MAX", "12q", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), -EINVAL);
	setenv("IPCFS_ONESHOT_MAX", "64k", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), -EINVAL);
	setenv("IPCFS_ONESHOT_MAX", "512KiB", 1);
	ck_assert_int_eq(gpu_settings_load(dir, false, &s), 0);
	ck_assert_uint_eq(s.tuning.oneshot_max[2], 512 * 1024);
	unsetenv("IPCFS_ONESHOT_MAX");
	unsetenv("IPCFS_GPU_TIMEOUT_MS");
	unsetenv("IPCFS_NCCL");

	ck_assert_int_eq(gpu_parse_size("1M", &v), 0);
	ck_assert_uint_eq(v, 1 << 20);
	ck_assert_int_eq(gpu_parse_size("7\n", &v), 0);
	ck_assert_uint_eq(v, 7);
	ck_assert_int_eq(gpu_parse_size("", &v), -EINVAL);
	ck_assert_int_eq(gpu_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(gpu_parse_size("99999999999999999999", &v), -EINVAL);
	ck_assert_int_eq(gpu_parse_size("18014398509481984G", &v), -EINVAL);

	snprintf(path, sizeof(path), "%s/algo", dir);
	unlink(path);
	rmdir(dir);
}
END_TEST

/* ---- without a GPU -------------------------------------------------------- */

START_TEST(no_gpu)
{
	struct ipcfs_params p;
	struct ipcfs_gpu_comm *c = (struct ipcfs_gpu_comm *)1;
	struct ipcfs_member *m;
	char dir[PATH_MAX], lib[PATH_MAX + 32];
	const char *build = getenv("BUILD");
	int rc;

	ipcfs_params_init(&p);
	p.ranks = 2;
	tl_group(dir, &p);
	m = tl_join(dir, 0);

	/* Bad arguments first: -EINVAL, whatever the machine. */
	ck_assert_int_eq(ipcfs_gpu_comm_init(NULL, "x", 1024, 0, &c), -EINVAL);
	ck_assert_int_eq(ipcfs_gpu_comm_init(m, "bad name", 1024, 0, &c), -EINVAL);
	ck_assert_int_eq(ipcfs_gpu_comm_init(m, "x", 1000, 0, &c), -EINVAL);
	ck_assert_int_eq(ipcfs_allreduce(NULL, NULL, NULL, 0, IPCFS_F32, IPCFS_OP_SUM, NULL),
			 -EINVAL);
	ck_assert_int_eq(ipcfs_gpu_comm_check(NULL), -EINVAL);
	ck_assert_int_eq(ipcfs_gpu_register(NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(ipcfs_gpu_comm_destroy(NULL), 0);

	/* A CUDA library that is not there. */
	setenv("IPCFS_CUDA_LIB", "/nonexistent/libipcfs_cuda.so", 1);
	ck_assert_int_eq(ipcfs_gpu_comm_init(m, "x", 1024, 100, &c), -ENODEV);
	ck_assert_ptr_nonnull(strstr(ipcfs_gpu_error(), "/nonexistent/libipcfs_cuda.so"));
	ck_assert_ptr_null(c);

	/* The real one, when built: no device here gives -ENODEV with a
	 * reason; on a GPU machine the lone rank 0 waits for rank 1. */
	snprintf(lib, sizeof(lib), "%s/libipcfs_cuda.so", build ? build : "build");
	if (access(lib, F_OK) == 0) {
		setenv("IPCFS_CUDA_LIB", lib, 1);
		rc = ipcfs_gpu_comm_init(m, "x", 1024, 100, &c);
		ck_assert_msg(rc == -ENODEV || rc == -ETIMEDOUT, "rc %d", rc);
		ck_assert_msg(strlen(ipcfs_gpu_error()) > 0, "no reason");
		if (rc == -ENODEV)
			fprintf(stderr, "test_gpu: no GPU: %s\n", ipcfs_gpu_error());
	}
	/* The default search (next to the program, then the linker's path). */
	unsetenv("IPCFS_CUDA_LIB");
	rc = ipcfs_gpu_comm_init(m, "x", 1024, 100, &c);
	ck_assert_msg(rc == -ENODEV || rc == -ETIMEDOUT, "rc %d", rc);
	ck_assert_msg(strlen(ipcfs_gpu_error()) > 0, "no reason");
	ipcfs_leave(m);
	tl_group_done(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gpu");
	TCase *tc = tcase_create("host");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, record_round_trip);
	tcase_add_test(tc, record_malformed);
	tcase_add_test(tc, names);
	tcase_add_test(tc, rendezvous_plain);
	tcase_add_test(tc, settings);
	tcase_add_test(tc, no_gpu);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
