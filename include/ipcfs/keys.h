/* SPDX-License-Identifier: MIT */
/*
 * keys.h - the CURVE keys of a group spanning machines. The group's `keys`
 * file names a directory (an absolute path; empty: no keys, the bridges
 * talk in the clear) that holds
 *
 *     NAME.pub   the public key of every node NAME of the `nodes` file
 *     NAME.key   the secret key of this machine's node (`node`)
 *
 * each 40 characters of Z85, as zmq_curve_keypair(3) and
 * `ipcfs-bridge keygen` write them, with one optional trailing newline.
 * The directory and every file are owned by the group's owner, readable
 * and writable by nobody else (mode & 066 == 0) and not symbolic links:
 * anything else is refused (EACCES, ELOOP, EINVAL, ENOENT with the reason),
 * never used. Shared by the daemon, which checks the files when `keys` is
 * written and before it starts the bridge, and by ipcfs-bridge, which
 * loads them; the parsers are pure (tests/unit/test_fsd_keys.c).
 */
#ifndef IPCFS_KEYS_H
#define IPCFS_KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipcfs/cluster.h"

#define FSD_KEY_BYTES 32 /* a CURVE key */
#define FSD_KEY_Z85 40   /* its Z85 text */
/* A reason buffer that holds a path and what is wrong with it. */
#define FSD_KEYS_WHY_MAX (FSD_KEYS_PATH_MAX + 128)

struct fsd_keys {
	uint8_t pub[FSD_NODES_MAX][FSD_KEY_BYTES]; /* by node index in the cluster */
	uint8_t secret[FSD_KEY_BYTES];             /* this node's, if loaded */
	int self;                                  /* whose secret it is, -1 if none */
};

/* Parse a `keys` value (one trailing newline allowed; empty: no keys) into
 * @out (FSD_KEYS_PATH_MAX + 1 bytes): an absolute path of printable
 * characters without "." or ".." components. -EINVAL, -ENAMETOOLONG. */
int fsd_keys_parse_path(const char *buf, size_t len, char *out, char *why, size_t whylen);

/* Decode @len Z85 characters (a multiple of 5) into @len / 5 * 4 bytes at
 * @out: 0, or -EINVAL (a character outside Z85, a group beyond 32 bits). */
int fsd_z85_decode(const char *s, size_t len, uint8_t *out);

/* Parse the content of a key file (@len bytes, any content) into @key. */
int fsd_key_parse(const char *buf, size_t len, uint8_t key[FSD_KEY_BYTES], char *why,
		  size_t whylen);

/*
 * Check the directory @dir and load from it the public key of every node
 * of @c and, when @self >= 0, the secret key of node @self, into @k.
 * Every file and the directory must be owned by @owner, mode & 066 == 0,
 * not symbolic links. 0, or -errno with the reason (naming the file) in
 * @why: -ELOOP a symbolic link, -EACCES the owner or the mode, -ENOENT a
 * file missing, -EINVAL not a key (or not a regular file / directory).
 */
int fsd_keys_load(const char *dir, uid_t owner, const struct fsd_cluster *c, int self,
		  struct fsd_keys *k, char *why, size_t whylen);

#endif
