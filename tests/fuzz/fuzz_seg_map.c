/* SPDX-License-Identifier: MIT */
/*
 * fuzz_seg_map.c - libFuzzer target: mapping a segment whose header and
 * size anyone may have changed (lib/segment.c: seg_map_fd and the
 * validation every member and the daemon run before trusting a layout).
 *
 * A real segment file (seg_create_at) is the template. Each input changes
 * its header, structure-aware (which field, and a meaningful value, the
 * field's value plus a small delta, a flipped bit, or raw bytes), and the
 * file's size, writes it to a memfd and maps it. Contracts: 0, -EBADMSG
 * or -EPROTO; a layout accepted lies inside the file, and every rank's
 * statistics and the arena's can then be read, and a channel set up on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena_int.h"
#include "channel_int.h"
#include "segment_int.h"
#include "fuzz_input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SIZE_MAX_FUZZ ((size_t)1 << 20)

static unsigned char *tmpl;
static size_t tmpl_size;
static int mfd = -1;

static void setup(void)
{
	char dir[] = "/tmp/ipcfs-fuzz-XXXXXX";
	struct ipcfs_params p;
	struct stat st;

	ipcfs_params_init(&p);
	p.ranks = 4;
	p.slots = 8;
	p.slot_bytes = 64;
	p.arena_bytes = 16384;
	if (!mkdtemp(dir))
		abort();
	int dfd = open(dir, O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || seg_create_at(dfd, "seg", &p, (uid_t)-1, (gid_t)-1) != 0)
		abort();
	int fd = openat(dfd, "seg", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		abort();
	tmpl_size = (size_t)st.st_size;
	tmpl = malloc(tmpl_size);
	if (!tmpl || pread(fd, tmpl, tmpl_size, 0) != (ssize_t)tmpl_size)
		abort();
	close(fd);
	unlinkat(dfd, "seg", 0);
	close(dfd);
	rmdir(dir);
	mfd = memfd_create("ipcfs-fuzz-seg", MFD_CLOEXEC);
	if (mfd < 0)
		abort();
}


/* The header's fields: offset and width. */
#define F(name) { offsetof(struct seg_hdr, name), sizeof(((struct seg_hdr *)0)->name) }
#define L(name) F(layout.name)
static const struct {
	size_t off, width;
} fields[] = {
	F(magic), F(abi), F(hdr_bytes), L(ranks), L(slots), L(slot_bytes), L(slot_stride),
	L(spin_us), L(timeout_ms), L(numa_node), L(mode), L(hugepage_kb), L(pad), L(total_bytes),
	L(rank_off), L(rank_stride), L(ring_off), L(ring_bytes), L(arena_off), L(arena_bytes),
};

static uint64_t value(struct in *in, uint64_t cur)
{
	static const uint64_t table[] = {
		0, 1, 2, 3, 4, 63, 64, 65, 4096, 8192, 16384, 65536, 1u << 20, UINT32_MAX,
		UINT64_MAX, (uint64_t)1 << 32, (uint64_t)1 << 63, IPCFS_ABI, IPCFS_ABI + 1,
		sizeof(struct seg_hdr), SEG_MAGIC,
	};
	switch (get8(in) % 4) {
	case 0: return table[get8(in) % (sizeof(table) / sizeof(table[0]))];
	case 1: return cur + (uint64_t)(int64_t)(int8_t)get8(in);
	case 2: return cur ^ ((uint64_t)1 << (get8(in) % 64));
	default: return getn(in, 8);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char *buf;
	struct in in = { data, size };
	struct seg_map m;

	if (!tmpl)
		setup();
	if (!buf && !(buf = malloc(SIZE_MAX_FUZZ)))
		abort();
	/* The file's size: as made, a page more or less, or any up to 1 MiB
	 * (zeros after the template). */
	size_t len = tmpl_size;
	switch (get8(&in) % 4) {
	case 1: len += 4096; break;
	case 2: len -= 4096; break;
	case 3: len = getn(&in, 3) % SIZE_MAX_FUZZ; break;
	}
	memcpy(buf, tmpl, tmpl_size);
	if (len > tmpl_size)
		memset(buf + tmpl_size, 0, len - tmpl_size);
	while (in.n) {
		uint8_t f = get8(&in);
		size_t off = fields[f % (sizeof(fields) / sizeof(fields[0]))].off;
		if (fields[f % (sizeof(fields) / sizeof(fields[0]))].width == 8) {
			uint64_t cur;
			memcpy(&cur, buf + off, 8);
			cur = value(&in, cur);
			memcpy(buf + off, &cur, 8);
		} else {
			uint32_t cur;
			memcpy(&cur, buf + off, 4);
			cur = (uint32_t)value(&in, cur);
			memcpy(buf + off, &cur, 4);
		}
	}
	if (ftruncate(mfd, 0) != 0 || pwrite(mfd, buf, len, 0) != (ssize_t)len)
		abort();
	int rc = seg_map_fd(mfd, SEG_MAP_WRITE, &m);
	if (rc == -EBADMSG || rc == -EPROTO)
		return 0;
	if (rc)
		abort();
	/* Everything the copies say lies inside the mapping. */
	const struct seg_layout *l = seg_layout(&m);
	uint64_t nr = (uint64_t)l->ranks + 1;
	if (m.size != len || !l->slots || (l->slots & (l->slots - 1)) ||
	    l->slot_stride < SEG_SLOT_HDR + l->slot_bytes ||
	    l->rank_off + nr * l->rank_stride > l->ring_off ||
	    l->ring_bytes < (uint64_t)l->slots * l->slot_stride ||
	    l->ring_off + nr * l->ring_bytes > l->arena_off || l->arena_off + l->arena_bytes > m.size)
		abort();
	struct ipcfs_rank_stat st;
	struct arena_stat as;
	for (unsigned i = 0; i <= l->ranks; i++)
		if (seg_rank_stat(&m, i, &st))
			abort();
	arena_stat(&m, &as);
	struct chan c;
	if (chan_init(&c, &m, 0))
		abort();
	chan_fini(&c); /* unmaps */
	return 0;
}
