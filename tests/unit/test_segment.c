/* SPDX-License-Identifier: MIT */
/* test_segment.c - the segment: parameters, layout, create/join/leave,
 * validation of a corrupt header, NUMA policy, counters. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <numaif.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc_int.h"
#include "member_int.h"
#include "segment_int.h"
#include "testlib.h"

START_TEST(params_defaults_valid)
{
	struct ipcfs_params p;
	ipcfs_params_init(&p);
	ck_assert_int_eq(ipcfs_params_check(&p), 0);
	ck_assert_uint_eq(p.ranks, 8);
	ck_assert_uint_eq(p.slots, 64);
	ck_assert_uint_eq(p.slot_bytes, 4096);
	ck_assert_int_eq(p.numa_node, -1);
}
END_TEST

START_TEST(params_out_of_range)
{
	struct ipcfs_params p;
#define EXPECT(field, value, err)                                              \
	do {                                                                   \
		ipcfs_params_init(&p);                                         \
		p.field = value;                                               \
		ck_assert_msg(ipcfs_params_check(&p) == (err), #field "=" #value); \
	} while (0)
	EXPECT(ranks, 0, -EINVAL);
	EXPECT(ranks, 65, -EINVAL);
	EXPECT(ranks, 64, 0);
	EXPECT(slots, 0, -EINVAL);
	EXPECT(slots, 1, -EINVAL);
	EXPECT(slots, 3, -EINVAL);
	EXPECT(slots, 2, 0);
	EXPECT(slots, 131072, -EINVAL);
	EXPECT(slot_bytes, 0, -EINVAL);
	EXPECT(slot_bytes, 100, -EINVAL);
	EXPECT(slot_bytes, 64, 0);
	EXPECT(slot_bytes, 32u << 20, -EINVAL);
	EXPECT(spin_us, 2000000, -EINVAL);
	EXPECT(timeout_ms, 0, -EINVAL);
	/* The daemon's limit is the library's (ctl_proto.h): one day. */
	EXPECT(timeout_ms, 86400000, 0);
	EXPECT(timeout_ms, 86400001, -EINVAL);
	EXPECT(numa_node, -2, -EINVAL);
	EXPECT(mode, 010000, -EINVAL);
	EXPECT(arena_bytes, 100, -EINVAL);
	EXPECT(arena_bytes, (uint64_t)1 << 50, -ERANGE);
#undef EXPECT
	/* The largest layout: 65 rings of 65536 slots of 16 MiB. */
	ipcfs_params_init(&p);
	p.ranks = 64;
	p.slots = 65536;
	p.slot_bytes = 16u << 20;
	ck_assert_int_eq(ipcfs_params_check(&p), -ERANGE);
	ck_assert_int_eq(ipcfs_params_check(NULL), -EINVAL);
}
END_TEST

START_TEST(layout_is_aligned)
{
	struct ipcfs_params p;
	char dir[PATH_MAX], path[PATH_MAX];
	struct seg_map m;

	ipcfs_params_init(&p);
	p.ranks = 5;
	p.slots = 8;
	p.slot_bytes = 192;
	p.arena_bytes = 8192;
	tl_group(dir, &p);
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(seg_map_path(path, 0, &m), 0);
	ck_assert_uint_eq(m.size, seg_layout_size(&p));
	const struct seg_layout *l = seg_layout(&m);
	ck_assert_uint_eq(l->rank_off % SEG_PAGE, 0);
	ck_assert_uint_eq(l->ring_off % SEG_PAGE, 0);
	ck_assert_uint_eq(l->arena_off % SEG_PAGE, 0);
	ck_assert_uint_eq(l->rank_stride % SEG_LINE, 0);
	ck_assert_uint_eq(l->slot_stride, 192 + SEG_LINE);
	ck_assert_uint_ge(l->ring_off, l->rank_off + 6 * l->rank_stride);
	ck_assert_uint_ge(l->arena_off, l->ring_off + 6 * l->ring_bytes);
	ck_assert_uint_eq(l->arena_off + 8192, m.size);
	ck_assert_uint_eq(l->total_bytes, m.size);
	/* The parameters come back as they were given. */
	struct ipcfs_params back;
	seg_params(&m, &back);
	ck_assert_int_eq(memcmp(&back, &p, sizeof(p)), 0);
	/* Every slot's payload is 32-byte aligned. */
	for (unsigned s = 0; s <= p.ranks; s++)
		for (uint64_t i = 0; i < p.slots; i++)
			ck_assert_uint_eq((uintptr_t)seg_slot_data(seg_slot(&m, s, i)) % 32, 0);
	struct stat st;
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	/* Pre-faulted: every page is allocated (tmpfs counts blocks). */
	ck_assert_uint_ge((uint64_t)st.st_blocks * 512, m.size);
	seg_unmap(&m);
	tl_group_done(dir);
}
END_TEST

/* Map the segment of @dir writable, for corrupting it. */
static void *map_raw(const char *dir, size_t *size, char *path)
{
	struct stat st;
	ck_assert_int_eq(member_segment_path(dir, path, PATH_MAX), 0);
	int fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ck_assert_ptr_ne(p, MAP_FAILED);
	close(fd);
	*size = (size_t)st.st_size;
	return p;
}

START_TEST(corrupt_header_rejected)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct ipcfs_member *m;
	size_t size;

	tl_group(dir, NULL);
	struct seg_hdr *h = map_raw(dir, &size, path);
	struct seg_hdr saved = *h;
#define CORRUPT(stmt, err)                                                     \
	do {                                                                   \
		stmt;                                                          \
		ck_assert_msg(ipcfs_join(dir, 0, &m) == (err), #stmt);        \
		memcpy(h, &saved, offsetof(struct seg_hdr, live));             \
	} while (0)
	CORRUPT(h->magic ^= 1, -EBADMSG);
	CORRUPT(h->abi = IPCFS_ABI + 1, -EPROTO);
	/* A segment of the layout before this one (ABI 1: a header of 384
	 * bytes with a pthread mutex in the arena's state) is another ABI,
	 * not a corrupt segment. */
	CORRUPT((h->abi = 1, h->hdr_bytes = 384), -EPROTO);
	/* ABI 2 had this header's sizes but no seg_rank.cpu (0 there, not
	 * unknown): its segments are another ABI too. */
	CORRUPT(h->abi = 2, -EPROTO);
	CORRUPT(h->layout.pad = 1, -EBADMSG);
	CORRUPT(h->layout.mode = 010000, -EBADMSG);
	CORRUPT(h->hdr_bytes = 12, -EBADMSG);
	CORRUPT(h->layout.ranks = 0, -EBADMSG);
	CORRUPT(h->layout.ranks = 1000, -EBADMSG);
	CORRUPT(h->layout.ranks = 9, -EBADMSG);
	CORRUPT(h->layout.slots = 63, -EBADMSG);
	CORRUPT(h->layout.slots = 128, -EBADMSG);
	CORRUPT(h->layout.slot_bytes = 1 << 30, -EBADMSG);
	CORRUPT(h->layout.slot_stride = 64, -EBADMSG);
	CORRUPT(h->layout.rank_off = 0, -EBADMSG);
	CORRUPT(h->layout.ring_off = (uint64_t)1 << 60, -EBADMSG);
	CORRUPT(h->layout.ring_bytes += 64, -EBADMSG);
	CORRUPT(h->layout.arena_off -= 4096, -EBADMSG);
	CORRUPT(h->layout.arena_bytes = 4096, -EBADMSG);
	CORRUPT(h->layout.total_bytes *= 2, -EBADMSG);
	CORRUPT(h->layout.timeout_ms = 0, -EBADMSG);
#undef CORRUPT
	/* Restored, it maps again. */
	m = tl_join(dir, 0);
	ipcfs_leave(m);
	/* A truncated file and an empty one. */
	ck_assert_int_eq(truncate(path, (off_t)size - 4096), 0);
	ck_assert_int_eq(ipcfs_join(dir, 0, &m), -EBADMSG);
	ck_assert_int_eq(truncate(path, 0), 0);
	ck_assert_int_eq(ipcfs_join(dir, 0, &m), -EBADMSG);
	munmap(h, size);
	tl_group_done(dir);
}
END_TEST

START_TEST(numa_policy_bound)
{
	struct ipcfs_params p;
	char dir[PATH_MAX], path[PATH_MAX];
	struct seg_map m;

	ipcfs_params_init(&p);
	p.numa_node = 0;
	tl_group(dir, &p);
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	/* Populated, as a member maps it: move_pages reports mapped pages. */
	ck_assert_int_eq(seg_map_path(path, SEG_MAP_WRITE | SEG_MAP_POPULATE, &m), 0);
	ck_assert_int_eq(seg_layout(&m)->numa_node, 0);
	/* The shared policy recorded on the file is what a new mapping sees. */
	int mode = -1;
	unsigned long mask[16] = { 0 };
	ck_assert_int_eq(get_mempolicy(&mode, mask, sizeof(mask) * 8,
				       (char *)m.base + seg_layout(&m)->ring_off,
				       MPOL_F_ADDR), 0);
	ck_assert_int_eq(mode, MPOL_BIND);
	ck_assert_uint_eq(mask[0], 1);
	/* And the pages are there. */
	void *pages[4] = { m.base, (char *)m.base + seg_layout(&m)->rank_off,
			   (char *)m.base + seg_layout(&m)->ring_off,
			   (char *)m.base + m.size - 4096 };
	int status[4];
	ck_assert_int_eq(move_pages(0, 4, pages, NULL, status, 0), 0);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(status[i], 0);
	seg_unmap(&m);
	tl_group_done(dir);

	/* A node that does not exist. */
	char tmpl[] = "/tmp/ipcfs-test.XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	p.numa_node = 1000;
	snprintf(dir, sizeof(dir), "%s/g", tmpl);
	ck_assert_int_eq(ipcfs_group_create(dir, &p), -EINVAL);
	rmdir(dir);
	rmdir(tmpl);
}
END_TEST

/* Read a small number from a file (sysfs, procfs). */
static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool write_long(const char *path, long v)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

/* Page size the kernel uses for the mapping that contains @addr. */
static long kernel_page_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	bool in = false;
	long kb = -1;
	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "KernelPageSize: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

START_TEST(hugepages_backed)
{
	const char *nr = "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages";
	struct ipcfs_params p;
	char tmpl[] = "/tmp/ipcfs-huge.XXXXXX", gtmpl[] = "/tmp/ipcfs-test.XXXXXX";
	char dir[PATH_MAX], path[PATH_MAX];

	ipcfs_params_init(&p);
	p.ranks = 2;
	p.hugepage_kb = 2048;
	/* tmpl: where hugetlbfs gets mounted; the group directory elsewhere
	 * (hugetlbfs files cannot be written with write(2)). */
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_ptr_nonnull(mkdtemp(gtmpl));
	snprintf(dir, sizeof(dir), "%s/g", gtmpl);
	/* No hugetlbfs of that size: a clear error, not a silent fallback. */
	setenv("IPCFS_HUGETLBFS", tmpl, 1);
	ck_assert_int_eq(ipcfs_group_create(dir, &p), -ENODEV);
	p.hugepage_kb = 4096;
	ck_assert_int_eq(ipcfs_group_create(dir, &p), -EINVAL);
	p.hugepage_kb = 2048;
	long saved = read_long(nr);
	if (geteuid() != 0 || saved < 0 || mount("none", tmpl, "hugetlbfs", 0, "pagesize=2M") != 0) {
		/* Mounting hugetlbfs and reserving pages needs root. */
		fprintf(stderr, "hugepages_backed: not root or no hugetlbfs: only the errors checked\n");
		rmdir(tmpl);
		rmdir(gtmpl);
		return;
	}
	/* Nothing reserved: -ENOMEM. */
	ck_assert(write_long(nr, 0));
	ck_assert_int_eq(ipcfs_group_create(dir, &p), -ENOMEM);
	/* Reserve a few pages: the segment takes whole huge pages of them. */
	ck_assert(write_long(nr, saved + 4));
	long free0 = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	ck_assert_int_ge(free0, 2);
	ck_assert_int_eq(ipcfs_group_create(dir, &p), 0);
	ck_assert_int_eq(member_segment_path(dir, path, sizeof(path)), 0);
	ck_assert_int_eq(strncmp(path, tmpl, strlen(tmpl)), 0);
	long free1 = read_long("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
	ck_assert_int_lt(free1, free0); /* pre-faulted from the pool */
	struct ipcfs_member *a = tl_join(dir, 0), *b = tl_join(dir, 1);
	struct seg_map m;
	ck_assert_int_eq(seg_map_path(path, 0, &m), 0);
	ck_assert_int_eq(m.size % (2 << 20), 0);
	ck_assert_int_eq(kernel_page_kb(m.base), 2048);
	seg_unmap(&m);
	struct ipcfs_msg msg;
	ck_assert_int_eq(ipcfs_send(a, IPCFS_ALL, "huge", 4, 0), 0);
	ck_assert_int_eq(ipcfs_recv(b, 0, &msg, 0), 0);
	ck_assert_int_eq(memcmp(msg.data, "huge", 4), 0);
	ipcfs_release(b, &msg);
	ipcfs_leave(a);
	ipcfs_leave(b);
	ck_assert_int_eq(ipcfs_group_destroy(dir), 0);
	ck_assert_int_eq(umount(tmpl), 0);
	ck_assert(write_long(nr, saved));
	rmdir(tmpl);
	rmdir(gtmpl);
}
END_TEST

START_TEST(process_start_time)
{
	ck_assert_uint_gt(proc_starttime(getpid()), 0);
	ck_assert_uint_eq(proc_starttime(0), 0);
	ck_assert_uint_eq(proc_starttime(-1), 0);
	/* A zombie counts as gone. */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	usleep(50000);
	ck_assert_uint_eq(proc_starttime(pid), 0);
	tl_wait(pid, 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("segment");
	TCase *tc = tcase_create("segment");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, params_defaults_valid);
	tcase_add_test(tc, params_out_of_range);
	tcase_add_test(tc, layout_is_aligned);
	tcase_add_test(tc, corrupt_header_rejected);
	tcase_add_test(tc, numa_policy_bound);
	tcase_add_test(tc, process_start_time);
	tcase_add_test(tc, hugepages_backed);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
