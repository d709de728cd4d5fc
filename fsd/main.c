/* SPDX-License-Identifier: MIT */
/*
 * main.c - ipcfsd: arguments, the state directory, mounting, signals and
 * the FUSE session loop.
 *
 *   ipcfsd [-f] [-d] [-o OPTIONS] [MOUNTPOINT]
 *
 * MOUNTPOINT defaults to $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs. Our own
 * option is statedir=DIR (default /dev/shm/ipcfs/<hash of uid and mount
 * point>); the others go to FUSE. SIGTERM, SIGINT and SIGHUP unmount and
 * exit 0; so does an unmount from outside (fusermount3 -u).
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "fsd.h"
#include "util.h"

struct options {
	char *statedir;
	int max_threads;
};

static const struct fuse_opt option_spec[] = {
	{ "statedir=%s", offsetof(struct options, statedir), 0 },
	{ "threads=%d", offsetof(struct options, max_threads), 0 },
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o OPTIONS] [MOUNTPOINT]\n\n"
	       "Serve the ipcfs control plane as a FUSE file system (see ipcfsd(8), ipcfs(7)).\n\n"
	       "  -f                 stay in the foreground, log to stderr\n"
	       "  -d                 debug: foreground, log every FUSE request\n"
	       "  -o statedir=DIR    where segments and state files live\n"
	       "                     (default /dev/shm/ipcfs/<id of uid and mount point>)\n"
	       "  -o threads=N       most worker threads (default 64; a blocked\n"
	       "                     read of an events file holds none)\n"
	       "  -h, --help         this help; -V, --version: the version\n\n"
	       "MOUNTPOINT defaults to $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs.\n\n"
	       "FUSE options:\n", prog);
	fuse_lowlevel_help();
}

static int default_mountpoint(char *out, size_t size)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n = xdg && *xdg ? snprintf(out, size, "%s/ipcfs", xdg) : snprintf(out, size, "/run/ipcfs");
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	if (mkdir(out, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Undo the octal escapes of a /proc/self/mountinfo field in place. */
static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/* Whether an ipcfs file system is mounted on @path: mounting another over
 * it would hide its groups from everyone while its members keep using
 * them. */
static bool ipcfs_mounted_on(const char *path)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	if (!f)
		return false;
	while (!found && getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], type[64];
		const char *sep = strstr(line, " - ");
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT ... - TYPE SOURCE OPTIONS */
		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s", type) != 1)
			continue;
		unescape(mnt);
		found = strcmp(mnt, path) == 0 && strcmp(type, "fuse.ipcfs") == 0;
	}
	free(line);
	fclose(f);
	return found;
}

/* The mount point (given or default, resolved) and the state directory
 * (given, made absolute, or the default for this uid and mount point). */
static int setup_paths(struct fsd *d, const char *mountpoint, const char *statedir)
{
	char mnt[PATH_MAX];
	int rc;

	if (mountpoint) {
		snprintf(mnt, sizeof(mnt), "%s", mountpoint);
	} else if ((rc = default_mountpoint(mnt, sizeof(mnt))) != 0) {
		fsd_log(LOG_ERR, "default mount point: %s", strerror(-rc));
		return -1;
	}
	if (!realpath(mnt, d->mountpoint)) {
		fsd_log(LOG_ERR, "mount point %s: %m", mnt);
		return -1;
	}
	if (ipcfs_mounted_on(d->mountpoint)) {
		fsd_log(LOG_ERR, "%s is already served by ipcfsd: unmount it first "
			"(fusermount3 -u %s), or choose another mount point",
			d->mountpoint, d->mountpoint);
		return -1;
	}
	if (statedir) {
		/* Absolute: a detached daemon runs in /. */
		if (statedir[0] == '/')
			snprintf(d->statedir, sizeof(d->statedir), "%s", statedir);
		else if (!getcwd(mnt, sizeof(mnt)) ||
			 snprintf(d->statedir, sizeof(d->statedir), "%s/%s", mnt, statedir) >=
				 (int)sizeof(d->statedir)) {
			fsd_log(LOG_ERR, "statedir %s: path too long", statedir);
			return -1;
		}
	} else {
		char key[PATH_MAX + 16];
		snprintf(key, sizeof(key), "%u:%s", (unsigned)d->uid, d->mountpoint);
		snprintf(d->statedir, sizeof(d->statedir), "/dev/shm/ipcfs/%016llx",
			 (unsigned long long)util_fnv1a64(key, strlen(key)));
	}
	return 0;
}

/* Serve until unmounted or signalled: 0, or 1 on an error of the loop. */
static int serve(struct fsd *d, const struct fuse_cmdline_opts *opts, int max_threads)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();

	if (!cfg)
		return 1;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned)opts->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, max_threads > 0 ? (unsigned)max_threads : 64);
	if (opts->max_idle_threads != UINT_MAX) /* given with -o max_idle_threads */
		fuse_loop_cfg_set_idle_threads(cfg, opts->max_idle_threads);
	int rc = fuse_session_loop_mt(d->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	/* The workers are joined: answer the events reads still parked (the
	 * kernel drops the answers if the connection is gone already; libfuse
	 * would not free their requests). */
	fsd_events_shutdown(d);
	fsd_tree_close(d);
	/* An unmount that races with a worker taking a request off the queue
	 * (a lazy unmount whose last user just closed: its release is queued)
	 * fails that read with ECONNABORTED rather than ENODEV (fs/fuse/dev.c);
	 * libfuse 3.14 reports it as an error, but it is the same end. */
	if (rc == -ECONNABORTED)
		rc = 0;
	/* 0: unmounted from outside; > 0: the signal that ended us. */
	if (rc < 0)
		fsd_log(LOG_ERR, "session loop: %s", strerror(-rc));
	else
		fsd_log(LOG_INFO, "exiting (%s)", rc > 0 ? strsignal(rc) : "unmounted");
	return rc < 0 ? 1 : 0;
}

/* Mount, detach, watch the members and serve; 0 or 1 (the exit status). */
/* Every group's bridge, at exit. */
static void stop_bridges(struct fsd *d)
{
	unsigned n;
	struct fsd_group **v = fsd_groups_get(d, &n);

	for (unsigned i = 0; v && i < n; i++)
		fsd_bridge_stop(v[i]);
	if (v)
		fsd_groups_put(d, v, n);
}

static int mount_and_serve(struct fsd *d, struct fuse_args *args,
			   const struct fuse_cmdline_opts *opts, int max_threads)
{
	int ret = 1;

	d->se = fuse_session_new(args, &fsd_ops, sizeof(fsd_ops), d);
	if (!d->se)
		return 1;
	/* libfuse only takes over signals left at their default; a daemon
	 * started in the background by a script inherits SIGINT ignored, and
	 * must still stop on it. */
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (fuse_set_signal_handlers(d->se) != 0)
		goto out_session;
	if (fuse_session_mount(d->se, d->mountpoint) != 0)
		goto out_signals;
	fsd_log(LOG_INFO, "serving %s, state in %s", d->mountpoint, d->statedir);
	/* Detach after mounting (errors still reach the terminal), and start
	 * threads after detaching (fork keeps only the calling thread). */
	fuse_daemonize(opts->foreground);
	if (fsd_liveness_start(d) != 0)
		fsd_log(LOG_ERR, "cannot start the liveness watcher: %m");
	else
		ret = serve(d, opts, max_threads);
	fsd_liveness_stop(d);
	fuse_session_unmount(d->se);
	/* After the unmount: a stopping bridge's last writes to the tree fail
	 * at once instead of waiting for a loop that ended. */
	stop_bridges(d);
out_signals:
	fuse_remove_signal_handlers(d->se);
out_session:
	fuse_session_destroy(d->se);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct options o = { .max_threads = 64 };
	struct fsd d;
	int ret = 1;

	memset(&d, 0, sizeof(d));
	d.lock_fd = d.state_fd = d.epfd = d.stopfd = -1;
	pthread_mutex_init(&d.lock, NULL);
	pthread_mutex_init(&d.create_lock, NULL);
	pthread_mutex_init(&d.ev_lock, NULL);
	pthread_mutex_init(&d.fh_lock, NULL);
	d.start_ns = wait_now_ns();
	d.start_time = time(NULL);
	d.uid = getuid();
	d.gid = getgid();

	if (fuse_opt_parse(&args, &o, option_spec, NULL) != 0)
		return 1;
	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		return 0;
	}
	if (opts.show_version) {
		printf("ipcfsd %d.%d.%d (abi %d), FUSE %s\n", IPCFS_VERSION_MAJOR, IPCFS_VERSION_MINOR,
		       IPCFS_VERSION_PATCH, IPCFS_ABI, fuse_pkgversion());
		return 0;
	}
	d.foreground = opts.foreground;
	fsd_log_init(opts.foreground, opts.debug);
	if (setup_paths(&d, opts.mountpoint, o.statedir) != 0)
		goto out_args;

	/* Kernel permission checks on every node, from the owners and modes
	 * we report; others may reach the mount only when we run as root. */
	fuse_opt_add_arg(&args, "-odefault_permissions,fsname=ipcfs,subtype=ipcfs");
	if (geteuid() == 0)
		fuse_opt_add_arg(&args, "-oallow_other");
	if (fsd_registry_open(&d) == 0)
		ret = mount_and_serve(&d, &args, &opts, o.max_threads);
	fsd_registry_close(&d);
out_args:
	free(opts.mountpoint);
	free(o.statedir);
	fuse_opt_free_args(&args);
	return ret;
}
