/* SPDX-License-Identifier: MIT */
/*
 * ipcfs/ctl_proto.h - the control protocol, defined once: the words of the
 * commands written to a group's ctl file, their formatters (the library
 * writes with them), the grammar of names and sizes, the limits of a
 * group's parameters and the names of the all-reduce algorithms. The
 * daemon's parser (fsd/parse.c) and the library's writers (member.c, the
 * GPU registration) both use this header, so the two sides cannot drift.
 * Pure functions, no state; internal to libipcfs and the daemon.
 */
#ifndef IPCFS_CTL_PROTO_H
#define IPCFS_CTL_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* Longest group or GPU buffer name, and GPU record (hex digits). */
#define CTL_NAME_MAX 64
#define CTL_HEX_MAX 4096

/* Command words of a group's ctl. */
#define CTL_JOIN "join"
#define CTL_LEAVE "leave"
#define CTL_BCAST "bcast"
#define CTL_REGISTER "register"
#define CTL_UNREGISTER "unregister"
#define CTL_RESET_STAT "reset-stat"
/* ... and of the daemon's ctl. */
#define CTL_CREATE "create"
#define CTL_DESTROY "destroy"

/* Limits of a group's parameters (ipcfs_params_check, the attribute
 * files). */
#define CTL_SLOTS_MAX 65536u
#define CTL_SLOT_BYTES_MAX (16u << 20)
#define CTL_SPIN_US_MAX 1000000u
#define CTL_TIMEOUT_MS_MAX 86400000u /* one day */
#define CTL_SEG_BYTES_MAX ((uint64_t)1 << 40)
#define CTL_NUMA_NODE_MAX 1023

/* The all-reduce algorithms, as the algo attribute spells them; the
 * index is enum allreduce_algo (ipcfs/plan.h). */
#define CTL_ALGO_COUNT 4
extern const char *const ctl_algo_names[CTL_ALGO_COUNT];

/* Formatters of the commands a member writes: the length written to @buf
 * (newline included, NUL-terminated), or -ENAMETOOLONG if @size is short
 * or a name breaks the grammar (-EINVAL then). */
int ctl_fmt_join(char *buf, size_t size, int rank);
int ctl_fmt_leave(char *buf, size_t size, unsigned rank);
int ctl_fmt_register(char *buf, size_t size, const char *name, int rank, const char *hex);
int ctl_fmt_unregister(char *buf, size_t size, const char *name, int rank);

/* Send one command to the ctl file at @path: one write(2) of all of @cmd,
 * as the daemon takes one command per write. 0, -errno, or -EIO for a
 * short write. */
int ctl_send(const char *path, const char *cmd);

/* NULL when the @len bytes at @s are a valid name (1..CTL_NAME_MAX of
 * [A-Za-z0-9_.-], not starting with '.'), else why not, in words. */
const char *ctl_name_problem(const char *s, size_t len);

/* Decimal digits only: 0, -EINVAL (malformed), -ERANGE (beyond 64 bits). */
int ctl_parse_u64(const char *s, size_t len, uint64_t *out);
/* A byte count: decimal with an optional binary suffix K, M, G (KiB, MiB,
 * GiB too). 0, -EINVAL or -ERANGE. */
int ctl_parse_size(const char *s, size_t len, uint64_t *out);

#endif
