/* SPDX-License-Identifier: MIT */
/*
 * parse_int.h - the parsers of everything a user writes to the ipcfsd tree:
 * group names, attribute values and ctl commands. Pure functions on byte
 * buffers (no file system, no globals), so that they are unit-tested and
 * fuzzed on their own (tests/unit/test_fsd_parse.c).
 *
 * Conventions: every parser takes a buffer and its length (not
 * NUL-terminated: it is what write(2) gave), returns 0 or a negative errno,
 * and on error writes the reason, in words, into @why:
 *   -EINVAL  malformed (syntax, unknown word, junk bytes)
 *   -ERANGE  well formed number outside its range
 */
#ifndef IPCFS_FSD_PARSE_INT_H
#define IPCFS_FSD_PARSE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "util.h" /* util_why_set */

#include "ipcfs/ctl_proto.h"
#include "ipcfs.h"

/* Group and GPU buffer names, and the longest hex record of `register`:
 * the protocol's (ctl_proto.h). */
#define FSD_NAME_MAX CTL_NAME_MAX
#define FSD_HEX_MAX CTL_HEX_MAX
/* Longest write accepted by a ctl or attribute file: a register command
 * with a full record, and a little room for its words. */
#define FSD_WRITE_MAX (FSD_HEX_MAX + 128)
/* Size of a reason buffer. */
#define FSD_WHY_MAX 160
/* PCI address as in /sys/bus/pci/devices: "0000:3b:00.0". */
#define FSD_PCI_MAX 16

enum fsd_attr {
	FSD_ATTR_RANKS,
	FSD_ATTR_SLOTS,
	FSD_ATTR_SLOT_BYTES,
	FSD_ATTR_ARENA_BYTES,
	FSD_ATTR_NUMA_NODE,
	FSD_ATTR_HUGEPAGES,
	FSD_ATTR_SPIN_US,
	FSD_ATTR_TIMEOUT_MS,
	FSD_ATTR_ALGO,
	FSD_ATTR_MODE,
	FSD_ATTR_NODE_TIMEOUT_MS, /* a group spanning machines: a silent node's ranks leave */
	FSD_ATTR_COUNT
};

enum fsd_hugepages { FSD_HUGE_NONE, FSD_HUGE_2M, FSD_HUGE_1G };
enum fsd_algo { FSD_ALGO_AUTO, FSD_ALGO_ONESHOT, FSD_ALGO_TWOSHOT, FSD_ALGO_NCCL };

/* Everything a group is configured with. */
struct fsd_attrs {
	struct ipcfs_params p; /* p.mode: the segment's mode, derived from mode */
	uint32_t mode;         /* permission bits of the group directory */
	int hugepages;         /* enum fsd_hugepages */
	int algo;              /* enum fsd_algo */
	char numa_pci[FSD_PCI_MAX]; /* set when numa_node was given as auto:PCI */
	uint32_t node_timeout_ms;   /* read by ipcfs-bridge (default 3000) */
};

/* One parsed attribute value. numa_node "auto:PCI" leaves the node to be
 * resolved by the caller (it reads sysfs): pci[] is set and i is -1. */
struct fsd_attr_value {
	enum fsd_attr attr;
	uint64_t u;            /* unsigned attributes, mode, hugepages, algo */
	int64_t i;             /* numa_node */
	char pci[FSD_PCI_MAX]; /* numa_node auto:PCI, else "" */
};

enum fsd_cmd_kind {
	FSD_CMD_JOIN,
	FSD_CMD_LEAVE,
	FSD_CMD_BCAST,
	FSD_CMD_REGISTER,
	FSD_CMD_UNREGISTER,
	FSD_CMD_RESET_STAT,
	FSD_CMD_CREATE,  /* daemon-wide ctl */
	FSD_CMD_DESTROY, /* daemon-wide ctl */
};

struct fsd_cmd {
	enum fsd_cmd_kind kind;
	unsigned rank;                /* join, leave, register, unregister: 0..63 */
	char name[FSD_NAME_MAX + 1];  /* register, unregister, create, destroy */
	const char *text;             /* bcast TEXT, register HEXRECORD: points into the input */
	size_t text_len;
	unsigned nattrs;              /* create: key=value pairs */
	struct fsd_attr_value attrs[FSD_ATTR_COUNT];
};

/* Defaults of a new group (ipcfs_params_init, mode 0770, segment 0660). */
void fsd_attrs_init(struct fsd_attrs *a);

/* Name of an attribute file; index of a name (-1 if none). */
const char *fsd_attr_name(enum fsd_attr a);
int fsd_attr_lookup(const char *name, size_t len);

/* Whether a value of @a changes the segment's layout or header (so the
 * segment is re-created when it changes). */
int fsd_attr_in_segment(enum fsd_attr a);

/* 0 if @s (@len bytes) is a valid group or buffer name, else -EINVAL. */
int fsd_parse_name(const char *s, size_t len, char *why, size_t whylen);

/* Parse a value written to attribute file @a (one trailing newline
 * allowed). Checks the value's own range, not its consistency with the
 * other attributes (fsd_attrs_check does). */
int fsd_parse_attr(enum fsd_attr a, const char *buf, size_t len, struct fsd_attr_value *v,
		   char *why, size_t whylen);

/* Store a parsed value (numa_node: v->i must be resolved) into @attrs. */
void fsd_attrs_set(struct fsd_attrs *attrs, const struct fsd_attr_value *v);

/* Check the whole set (ipcfs_params_check): -EINVAL, or -ERANGE when the
 * segment would be too large. */
int fsd_attrs_check(const struct fsd_attrs *attrs, char *why, size_t whylen);

/* Format the value of @a with a trailing newline; returns its length. */
int fsd_attr_format(const struct fsd_attrs *attrs, enum fsd_attr a, char *buf, size_t size);

/* Parse one command written to a group's ctl / the daemon-wide ctl. */
int fsd_parse_group_cmd(const char *buf, size_t len, struct fsd_cmd *c, char *why, size_t whylen);
int fsd_parse_root_cmd(const char *buf, size_t len, struct fsd_cmd *c, char *why, size_t whylen);

/* Parse a PCI address "DDDD:BB:DD.F" or "BB:DD.F" into canonical
 * lower-case "dddd:bb:dd.f" (@out, FSD_PCI_MAX bytes). */
int fsd_parse_pci(const char *s, size_t len, char *out, char *why, size_t whylen);

/* Decimal digits only, no sign, no spaces: -EINVAL if malformed, -ERANGE
 * beyond 64 bits. */
int fsd_parse_u64(const char *s, size_t len, uint64_t *out);
/* A GPU record: an even number (not 0) of hex digits, at most FSD_HEX_MAX. */
int fsd_parse_hex(const char *s, size_t len, char *why, size_t whylen);

/* Copy @len bytes of @s into @out as printable text (\xNN escapes, at most
 * @size-1 characters, "..." when cut), for logs. */
void fsd_quote(const char *s, size_t len, char *out, size_t size);

#endif
