/* SPDX-License-Identifier: MIT */
/*
 * keys.c - the CURVE keys of a group spanning machines (ipcfs/keys.h): the
 * `keys` path, Z85 key files, and the checks of the directory that holds
 * them. Input is untrusted: the path comes from write(2), the files from
 * whoever could write them, which is why who that can be is checked first.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipcfs/keys.h"
#include "util.h"

static const char z85_chars[] =
	"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

int fsd_keys_parse_path(const char *buf, size_t len, char *out, char *why, size_t whylen)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len == 0) {
		out[0] = '\0';
		return 0;
	}
	if (len > FSD_KEYS_PATH_MAX)
		return util_why_set(-ENAMETOOLONG, why, whylen, "keys: longer than %d bytes",
				   FSD_KEYS_PATH_MAX);
	if (buf[0] != '/')
		return util_why_set(-EINVAL, why, whylen, "keys: not an absolute path");
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)buf[i] < 0x20 || buf[i] == 0x7f)
			return util_why_set(-EINVAL, why, whylen, "keys: a control character in the path");
	/* Each component between slashes: not . or .. (the path is checked
	 * as written, so that what is checked is what is used). */
	for (size_t i = 0; i < len;) {
		size_t j = i + 1;
		while (j < len && buf[j] != '/')
			j++;
		size_t cl = j - i - 1;
		const char *c = buf + i + 1;
		if ((cl == 1 && c[0] == '.') || (cl == 2 && c[0] == '.' && c[1] == '.'))
			return util_why_set(-EINVAL, why, whylen, "keys: a . or .. in the path");
		i = j;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	return 0;
}

int fsd_z85_decode(const char *s, size_t len, uint8_t *out)
{
	if (len % 5)
		return -EINVAL;
	for (size_t i = 0; i < len; i += 5) {
		uint64_t v = 0;
		for (size_t j = 0; j < 5; j++) {
			const char *p = s[i + j] ? memchr(z85_chars, s[i + j], sizeof(z85_chars) - 1) : NULL;
			if (!p)
				return -EINVAL;
			v = v * 85 + (uint64_t)(p - z85_chars);
		}
		if (v > UINT32_MAX)
			return -EINVAL;
		for (size_t j = 0; j < 4; j++)
			out[i / 5 * 4 + j] = (uint8_t)(v >> (24 - 8 * j));
	}
	return 0;
}

int fsd_key_parse(const char *buf, size_t len, uint8_t key[FSD_KEY_BYTES], char *why,
		  size_t whylen)
{
	if (len && buf[len - 1] == '\n')
		len--;
	if (len != FSD_KEY_Z85)
		return util_why_set(-EINVAL, why, whylen, "not a key (%d characters of Z85, not %zu bytes)",
				   FSD_KEY_Z85, len);
	if (fsd_z85_decode(buf, len, key))
		return util_why_set(-EINVAL, why, whylen, "not a key (a character outside Z85)");
	return 0;
}

/* Whether what @st describes may hold keys: owned by @owner, nobody else
 * reads or writes it. */
static int check_owner_mode(const struct stat *st, uid_t owner, const char *what, char *why,
			    size_t whylen)
{
	if (st->st_uid != owner)
		return util_why_set(-EACCES, why, whylen, "%s belongs to uid %u, not to the group's owner %u",
				   what, (unsigned)st->st_uid, (unsigned)owner);
	if (st->st_mode & 066)
		return util_why_set(-EACCES, why, whylen,
				   "%s has mode %04o: others may read or write it (chmod go-rw)", what,
				   (unsigned)(st->st_mode & 07777));
	return 0;
}

/* Read the key @dir/@name (opened under @dfd) into @key. */
static int load_file(int dfd, const char *dir, const char *name, uid_t owner,
		     uint8_t key[FSD_KEY_BYTES], char *why, size_t whylen)
{
	char what[FSD_KEYS_PATH_MAX + FSD_NODE_NAME_MAX + 8], buf[FSD_KEY_Z85 + 8], sub[128];
	struct stat st;
	ssize_t n;
	int rc;

	snprintf(what, sizeof(what), "%s/%s", dir, name);
	/* O_NOFOLLOW: a link is refused (ELOOP), never followed somewhere
	 * else; O_NONBLOCK: a FIFO put there does not hang us. */
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		return util_why_set(rc, why, whylen, "%s: %s", what,
				   rc == -ELOOP ? "a symbolic link (name the file itself)" : strerror(-rc));
	}
	if (fstat(fd, &st)) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = util_why_set(-EINVAL, why, whylen, "%s: not a regular file", what);
	} else if (!(rc = check_owner_mode(&st, owner, what, why, whylen))) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			rc = util_why_set(-errno, why, whylen, "%s: %s", what, strerror(errno));
		else if ((rc = fsd_key_parse(buf, (size_t)n, key, sub, sizeof(sub))))
			util_why_set(rc, why, whylen, "%s: %s", what, sub);
	}
	close(fd);
	return rc;
}

int fsd_keys_load(const char *dir, uid_t owner, const struct fsd_cluster *c, int self,
		  struct fsd_keys *k, char *why, size_t whylen)
{
	char name[FSD_NODE_NAME_MAX + 8];
	struct stat st;
	int rc = 0;

	memset(k, 0, sizeof(*k));
	k->self = -1;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		/* O_DIRECTORY | O_NOFOLLOW on a link to a directory: ENOTDIR. */
		if (rc == -ENOTDIR && !lstat(dir, &st) && S_ISLNK(st.st_mode))
			rc = -ELOOP;
		return util_why_set(rc == -ENOTDIR ? -EINVAL : rc, why, whylen, "keys %s: %s", dir,
				   rc == -ELOOP ? "a symbolic link (name the directory itself)"
				   : rc == -ENOTDIR ? "not a directory" : strerror(-rc));
	}
	if (fstat(dfd, &st))
		rc = util_why_set(-errno, why, whylen, "keys %s: %s", dir, strerror(errno));
	else
		rc = check_owner_mode(&st, owner, "keys directory", why, whylen);
	for (unsigned i = 0; !rc && i < c->n; i++) {
		snprintf(name, sizeof(name), "%s.pub", c->node[i].name);
		rc = load_file(dfd, dir, name, owner, k->pub[i], why, whylen);
	}
	if (!rc && self >= 0 && (unsigned)self < c->n) {
		snprintf(name, sizeof(name), "%s.key", c->node[self].name);
		if (!(rc = load_file(dfd, dir, name, owner, k->secret, why, whylen)))
			k->self = self;
	}
	close(dfd);
	return rc;
}
