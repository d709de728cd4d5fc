/* SPDX-License-Identifier: MIT */
/* member_int.h - helpers of lib/member.c shared with the daemon and tools. */
#ifndef IPCFS_MEMBER_INT_H
#define IPCFS_MEMBER_INT_H

#include <stddef.h>
#include <stdint.h>

/* Read the segment path named by @dir/shm into @out (absolute path). */
int member_segment_path(const char *dir, char *out, size_t size);

struct ipcfs_member;

struct seg_map;
struct chan;

/* The mapped segment of @m and its rank index (for the GPU host side,
 * which keeps its counters there). */
struct seg_map *member_seg(struct ipcfs_member *m);
/* The channel of @m (tests look at its waiting decisions). */
struct chan *member_chan(struct ipcfs_member *m);
/* The group directory @m joined (as given to ipcfs_join). */
const char *member_dir(const struct ipcfs_member *m);

/* Say that @m relays a rank of another node (the bridge's proxies): its
 * readers spin while its messages flow (seg_rank.relay). */
void member_mark_relay(struct ipcfs_member *m);
/* ipcfs_leave, the rank marked @how (IPCFS_STATE_LEFT, or _DEAD for a
 * member that stands for a process that died elsewhere: the bridge's
 * proxies). */
int member_leave_as(struct ipcfs_member *m, int how);
/* ipcfs_commit() with a message kind (IPCFS_KIND_*). */
int member_commit_kind(struct ipcfs_member *m, uint64_t dest, size_t len, uint32_t kind);

#endif
