/* SPDX-License-Identifier: MIT */
/*
 * statedir.c - the state directory, opened as a root service opens its
 * own: the daemon may run as root while the directory lies under
 * /dev/shm, where anybody may create names.
 *
 * The directory is used only if nobody else can change what it holds:
 * every directory on its path is owned by root or by us and is not
 * writable by group or others unless sticky (then others may add names
 * but not remove or rename ours), none is a symbolic link, and the state
 * directory itself is ours and writable by us alone. It is then held open,
 * and every file in it (state files, segments, temporary files, the lock)
 * is reached through that descriptor with O_NOFOLLOW, and created with
 * O_EXCL: a name we did not make is never written through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <syslog.h>
#include <unistd.h>

#include "fsd.h"

/* The parent shared by the default state directories of every user. */
#define SHARED_PARENT "/dev/shm/ipcfs"

/* Whether directory @fd (named @name) is safe to hold what we trust. */
static int check_dir(int fd, const char *name, bool ours, char *why, size_t whylen)
{
	struct stat st;
	uid_t me = geteuid();

	if (fstat(fd, &st) != 0)
		return -errno;
	if (ours ? st.st_uid != me : st.st_uid != 0 && st.st_uid != me) {
		snprintf(why, whylen, "%s is owned by uid %u, not by %s%u: remove it or choose "
			 "another statedir", name, (unsigned)st.st_uid, ours ? "" : "root or ",
			 (unsigned)me);
		return -EPERM;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) && (ours || !(st.st_mode & S_ISVTX))) {
		snprintf(why, whylen, "%s is writable by group or others (mode %04o)%s", name,
			 (unsigned)(st.st_mode & 07777), ours ? "" : " and not sticky");
		return -EPERM;
	}
	return 0;
}

/* Open directory @name in @dirfd without following a link. */
static int open_dir_at(int dirfd, const char *name, const char *path, char *why, size_t whylen)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd >= 0)
		return fd;
	int rc = -errno;
	struct stat st;
	if ((rc == -ELOOP || rc == -ENOTDIR) && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		snprintf(why, whylen, "%s is a symbolic link: give its target as statedir", path);
	else
		snprintf(why, whylen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* Open the directory @path (absolute, no link anywhere), checking each
 * directory on the way. */
static int open_trusted(const char *path, char *why, size_t whylen)
{
	char buf[PATH_MAX], sofar[PATH_MAX] = "";
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

	if (fd < 0)
		return -errno;
	if ((rc = check_dir(fd, "/", false, why, whylen))) {
		close(fd);
		return rc;
	}
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *c = strtok_r(buf, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		size_t n = strlen(sofar);
		snprintf(sofar + n, sizeof(sofar) - n, "/%s", c);
		int next = open_dir_at(fd, c, sofar, why, whylen);
		close(fd);
		if (next < 0)
			return next;
		fd = next;
		if ((rc = check_dir(fd, sofar, false, why, whylen))) {
			close(fd);
			return rc;
		}
	}
	return fd;
}

/* The default parent is made by whichever daemon comes first, sticky and
 * open to all like /tmp; any other parent must exist. */
static void make_shared_parent(const char *parent)
{
	if (strcmp(parent, SHARED_PARENT) == 0 && mkdir(parent, 01777) == 0)
		chmod(parent, 01777); /* not subject to the umask */
}

/*
 * Segments are shared mappings of files in the state directory. On a file
 * system with a disk behind it, every page a message dirties is written
 * back to that disk periodically, and the first store after each
 * write-back faults (the file system tracks the page again): the data
 * path then pays disk I/O and page faults that shared memory never should.
 * Such a directory works, but not as the user meant: say so.
 */
static void warn_if_on_disk(int fd, const char *name)
{
	struct statfs sf;

	if (fstatfs(fd, &sf) != 0)
		return;
	switch ((unsigned long)sf.f_type) {
	case TMPFS_MAGIC:
	case RAMFS_MAGIC:
	case HUGETLBFS_MAGIC:
		return;
	default:
		fsd_log(LOG_WARNING, "statedir %s is not on tmpfs (file system type %#lx): "
			"segments there are written back to its disk while messages pass; "
			"choose a directory on tmpfs, such as under /dev/shm",
			name, (unsigned long)sf.f_type);
	}
}

int fsd_statedir_open(struct fsd *d, char *why, size_t whylen)
{
	char parent[PATH_MAX], real[PATH_MAX];
	const char *leaf;
	int pfd, fd, rc;

	snprintf(parent, sizeof(parent), "%s", d->statedir);
	char *slash = strrchr(parent, '/');
	leaf = d->statedir + (slash - parent) + 1;
	if (!slash || !*leaf || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0) {
		snprintf(why, whylen, "%s: not a directory name", d->statedir);
		return -EINVAL;
	}
	*slash = '\0';
	make_shared_parent(parent);
	/* Links above the parent are the administrator's (/var/run); the
	 * resolved path is then checked with no link followed. */
	if (!realpath(*parent ? parent : "/", real)) {
		rc = -errno;
		snprintf(why, whylen, "%s: %s", *parent ? parent : "/", strerror(-rc));
		return rc;
	}
	if ((pfd = open_trusted(real, why, whylen)) < 0)
		return pfd;
	if (mkdirat(pfd, leaf, 0700) != 0 && errno != EEXIST) {
		rc = -errno;
		snprintf(why, whylen, "cannot create %s: %s", d->statedir, strerror(-rc));
		close(pfd);
		return rc;
	}
	fd = open_dir_at(pfd, leaf, d->statedir, why, whylen);
	close(pfd);
	if (fd < 0)
		return fd;
	/* Others may reach the segments they were granted, not list them. */
	if ((rc = check_dir(fd, d->statedir, true, why, whylen)) || fchmod(fd, 0711) != 0) {
		rc = rc ? rc : -errno;
		if (!*why)
			snprintf(why, whylen, "chmod %s: %s", d->statedir, strerror(-rc));
		close(fd);
		return rc;
	}
	d->state_fd = fd;
	warn_if_on_disk(fd, d->statedir);
	return 0;
}

int fsd_open_new(int dirfd, const char *name, int flags, mode_t mode)
{
	/* A leftover of a crash, or a name planted before: unlinkat removes
	 * the name itself, never what a link points to. */
	if (unlinkat(dirfd, name, 0) != 0 && errno != ENOENT)
		return -errno;
	int fd = openat(dirfd, name, flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	return fd < 0 ? -errno : fd;
}

int fsd_open_file(int dirfd, const char *name, int flags)
{
	struct stat st;
	int fd = openat(dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return errno == ELOOP ? -ELOOP : -errno;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EBADF;
	}
	/* Reads and writes of regular files never block: back to blocking
	 * mode for the stdio and mmap users. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
