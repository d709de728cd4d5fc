/* SPDX-License-Identifier: MIT */
/*
 * fsd.h - the daemon's shared state: the registry of groups, the per-group
 * bookkeeping (members it watches, events, error log, GPU records) and the
 * entry points each part of fsd/ gives the others.
 *
 * Files, each the owner of what it names (calls go down this list, never
 * up; state.h's files are plain data with no lock and no FUSE):
 *   main.c        arguments, mounting, the session loop
 *   tree.c        directory operations and the FUSE operation table
 *   openfiles.c   open, read, write, poll, release of files
 *   node.c        inode numbers, node kinds, stat, error logging
 *   ctl.c         what is written: commands and attribute values
 *   files.c       what is read: the content of every file
 *   watcher.c     the background thread: pidfd exits, periodic scans
 *   registry.c    the list of groups, create, destroy, attribute changes,
 *                 state files, adoption after a restart
 *   segfile.c     a group's segment file and its mappings
 *   liveness.c    struct fsd_members: pidfds, the scan, and
 *                 fsd_members_transition (joined, left, died)
 *   events.c      struct fsd_events: the events files
 *   stats.c       struct fsd_stats: counters less the reset-stat baseline
 *   statedir.c    the state directory, opened safely
 *   state.c       the state file's grammar (parse, format)
 *   text.c        a growing text buffer for what is rendered (pure)
 *   gpu_store.c   struct fsd_gpu_store: the GPU records
 *   parse.c       what users write: names, values, commands
 *   log.c         the daemon's log and the error_log files
 *   cluster.c     the nodes and node files of a group spanning machines (pure)
 *   bridge.c      struct fsd_bridge: the group's ipcfs-bridge process
 *   (lib/keys.c: the keys file, CURVE key directory and files; no lock)
 *
 * Locking, outermost first:
 *   fsd->create_lock    one creation or destruction of a group at a time
 *                       (mkdir, rmdir, create, destroy)
 *   group->bcast_lock   serializes bcasts, attribute changes and segment
 *                       re-creation (a bcast uses the mapping without
 *                       holding group->lock; a re-creation builds the new
 *                       segment holding bcast_lock alone)
 *   fsd->lock           the list of groups, the daemon-wide error log
 *   group->lock         the rest of struct fsd_group (each field says)
 *   fsd->ev_lock        the parked reads of events files (events.c): who
 *                       takes one off the lists answers it
 *   fsd->fh_lock        the list of open files (tree.c), held for list
 *                       changes only
 * fsd->lock and group->lock are never held together except in that order,
 * and neither is held across a wait longer than a system call. ev_lock is
 * innermost: nothing of ours is taken under it. libfuse calls our interrupt
 * callback, which takes ev_lock, holding the request's own lock; so under
 * ev_lock the only libfuse call is fuse_req_interrupted (it takes the
 * session lock, which libfuse never holds while calling us), and replies
 * go out after ev_lock is dropped.
 */
#ifndef IPCFS_FSD_H
#define IPCFS_FSD_H

#define FUSE_USE_VERSION FUSE_MAKE_VERSION(3, 12)
#include <fuse_lowlevel.h>

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "arena_int.h"
#include "channel_int.h"
#include "ipcfs/cluster.h"
#include "parse_int.h"
#include "segment_int.h"
#include "state.h"

#define FSD_GROUPS_MAX 1024     /* more: mkdir fails with ENOSPC */
#define FSD_ERRLOG_LINES 64     /* error_log keeps the last 64 errors */
#define FSD_ERRLOG_LINE 320
#define FSD_EVENTS 256          /* events kept per group for readers */
#define FSD_EVENT_LINE 128
#define FSD_SCAN_MS 100         /* liveness / stall scan period */

/* ---- log.c: the daemon's log and the error_log files ------------------ */

struct fsd_errlog {
	char lines[FSD_ERRLOG_LINES][FSD_ERRLOG_LINE];
	unsigned next;  /* index of the next line to write */
	unsigned count; /* lines held, <= FSD_ERRLOG_LINES */
};

void fsd_log_init(bool foreground, bool debug);
__attribute__((format(printf, 2, 3))) void fsd_log(int prio, const char *fmt, ...);
/* Append "TIME FILE: "INPUT": ENAME: WHY" to @log (caller holds its lock)
 * and to the daemon's log. */
void fsd_errlog_add(struct fsd_errlog *log, const char *where, const char *input, size_t len,
		    int err, const char *why);
/* Copy the log, oldest first, into a malloc'd buffer. */
char *fsd_errlog_dump(const struct fsd_errlog *log, size_t *len);

struct fsd;

/* ---- statedir.c: the state directory ------------------------------ */

/* Open d->statedir into d->state_fd, creating it (mode 0711) if missing,
 * only if nobody but us and root can change it: -EPERM, -ELOOP, ... with
 * the reason in @why otherwise. */
int fsd_statedir_open(struct fsd *d, char *why, size_t whylen);
/* Create @name in @dirfd afresh (a name already there, link or file, is
 * removed first; O_EXCL, O_NOFOLLOW): fd or -errno. */
int fsd_open_new(int dirfd, const char *name, int flags, mode_t mode);
/* Open the regular file @name in @dirfd, not through a link: fd, -ELOOP
 * for a link, -EBADF for anything else but a regular file, or -errno. */
int fsd_open_file(int dirfd, const char *name, int flags);

/* ---- registry.c: groups --------------------------------------------- */

struct fsd_event_reader;
struct fsd_fh;

/* What the daemon knows of one rank's process. */
struct fsd_watch {
	pid_t pid;      /* 0: not watched */
	int pidfd;      /* -1 if none */
	uint32_t gen;   /* bumped on each watch, to ignore stale epoll events */
};

/* The members as the daemon sees them: owned by liveness.c, whose
 * fsd_members_transition alone changes seen_state and tells readers of
 * events. All protected by group->lock. */
struct fsd_members {
	struct fsd_watch watch[IPCFS_MAX_RANKS];
	int seen_state[IPCFS_MAX_RANKS];          /* last owner state the daemon saw */
	pid_t seen_pid[IPCFS_MAX_RANKS];          /* and its process */
	uint64_t stall_seen[IPCFS_MAX_RANKS + 1]; /* stall_since_ns already reported */
	bool unswept;                             /* a departure left unfinished was reported */
};

/* The events of a group (events.c), protected by group->lock. */
struct fsd_events {
	char lines[FSD_EVENTS][FSD_EVENT_LINE];
	uint64_t next;                  /* sequence number of the next event */
	struct fsd_event_reader *readers;
};


/* What the daemon knows of a group's bridge (bridge.c), group->lock. */
struct fsd_node_stat {
	bool reported, up;
	uint64_t tx_msgs, tx_bytes, rx_msgs, rx_bytes, acked, rtt_us;
};

struct fsd_bridge {
	pid_t pid;                      /* our child, 0 if none */
	bool stopping;                  /* SIGTERM sent */
	bool held;                      /* an rmdir stops it: not restarted */
	unsigned starts;
	int last_status;                /* wait status of its last exit */
	uint64_t started_ns, next_ns;   /* CLOCK_MONOTONIC: started, may start again */
	unsigned backoff_ms;
	struct fsd_node_stat node[FSD_NODES_MAX]; /* as it last reported, by node index */
	/* Its counters come through a pipe, not the mount (its own opens of
	 * the mount every 0.5 s made a hand unmount fail with EBUSY): the
	 * read end (non-blocking; -1 if none) and a line cut by a read. */
	int report_fd;
	size_t carry_len;
	char carry[FSD_BRIDGE_LINE_MAX];
	/* CURVE (keys): why the daemon did not start it ("" if it did), and
	 * the connections it refused, as it last reported. */
	char keys_error[FSD_WHY_MAX];
	bool auth;
	uint64_t auth_refused;
};

struct fsd_group {
	struct fsd_group *next;         /* protected by fsd->lock */
	unsigned refs;                  /* protected by fsd->lock; the list counts one */
	uint32_t id;                    /* immutable; unique while the daemon runs */
	char name[FSD_NAME_MAX + 1];    /* immutable */
	char state_path[FSD_NAME_MAX + 8]; /* immutable: NAME.state in the state directory */

	pthread_mutex_t bcast_lock;
	pthread_mutex_t lock;

	/* Protected by lock; seg, seg_path and ctl are replaced only with
	 * bcast_lock held too (fsd_group_set_attr), so a bcast may use them
	 * holding bcast_lock alone. */
	bool removed;
	uid_t uid;
	gid_t gid;
	struct fsd_attrs attrs;
	uint64_t attrs_gen;             /* bumped at each change of attrs */
	char seg_path[PATH_MAX];        /* for display: where members find it */
	struct seg_map seg;             /* always mapped while the group exists (segfile.c) */
	struct chan ctl;                /* the control sender (bcast_lock), on its own mapping */
	bool ctl_ready;

	struct fsd_members members;     /* liveness.c, lock */
	struct fsd_events ev;           /* events.c, lock */
	struct fsd_stats stats;         /* stats.c, lock */
	struct fsd_gpu_store gpu;       /* gpu_store.c, lock */
	struct fsd_errlog errs;         /* log.c, lock */
	struct fsd_cluster cluster;     /* nodes and node (cluster.c), lock */
	struct fsd_bridge bridge;       /* bridge.c, lock */
};

struct fsd {
	char mountpoint[PATH_MAX];
	char statedir[PATH_MAX];
	int state_fd;                   /* the verified state directory (statedir.c) */
	int lock_fd;
	bool foreground;
	uid_t uid;
	gid_t gid;
	struct fuse_session *se;
	uint64_t start_ns;              /* CLOCK_MONOTONIC, for uptime */
	time_t start_time;              /* wall clock, for the top level's times */

	pthread_mutex_t create_lock;   /* one mkdir at a time */
	pthread_mutex_t lock;
	struct fsd_group *groups;
	unsigned ngroups;
	uint32_t next_id;
	struct fsd_errlog errs;
	_Atomic uint64_t commands, errors;

	/* liveness.c */
	int epfd, stopfd;
	pthread_t watcher;
	bool watcher_running;

	/* events.c: reads of events files waiting for an event */
	pthread_mutex_t ev_lock;
	struct fsd_event_wait *ev_waits; /* all of them, any group */
	bool ev_closing;                 /* the session loop ended: park no more */

	/* tree.c: every open file */
	pthread_mutex_t fh_lock;
	struct fsd_fh *fhs;
};

/* Open (creating if needed) and lock the state directory, then adopt every
 * group found there. */
int fsd_registry_open(struct fsd *d);
void fsd_registry_close(struct fsd *d);

/* Find a group by name or id and take a reference; NULL if none. */
struct fsd_group *fsd_group_get(struct fsd *d, const char *name);
struct fsd_group *fsd_group_get_id(struct fsd *d, uint32_t id);
void fsd_group_put(struct fsd *d, struct fsd_group *g);

/* Create a group owned by @uid/@gid with @attrs (NULL: defaults). */
int fsd_group_create(struct fsd *d, const char *name, uid_t uid, gid_t gid,
		     const struct fsd_attrs *attrs, char *why, size_t whylen);
/* Destroy: -EPERM unless @uid is the owner or 0, -EBUSY with live members. */
int fsd_group_destroy(struct fsd *d, const char *name, uid_t uid, char *why, size_t whylen);

/* Change one attribute (caller holds bcast_lock, not lock): -EBUSY once a
 * member joined; re-creates the segment when the value lives there,
 * building the new one without holding lock. */
int fsd_group_set_attr(struct fsd *d, struct fsd_group *g, const struct fsd_attr_value *v,
		       char *why, size_t whylen);
/* Rewrite the group's state file (caller holds lock): 0 or -errno, and a
 * line in the daemon's log. */
int fsd_group_save(struct fsd *d, struct fsd_group *g);
/* Snapshot of the groups, each with a reference; free with fsd_groups_put. */
struct fsd_group **fsd_groups_get(struct fsd *d, unsigned *n);
void fsd_groups_put(struct fsd *d, struct fsd_group **v, unsigned n);


/* Whether any member ever joined (the attributes are then frozen); the
 * ranks that ever joined; how many are live now. */
bool fsd_group_joined(const struct fsd_group *g);
uint64_t fsd_group_joined_mask(const struct fsd_group *g);
unsigned fsd_group_live(const struct fsd_group *g);

/* ---- segfile.c: a group's segment and its mapping ---------------------- */

/* Where a segment lives: a directory descriptor and a name in it. */
struct fsd_seg_loc {
	int dirfd;      /* the state directory's, or one of ours (own) */
	bool own;
	char name[FSD_NAME_MAX + 32];
	char path[PATH_MAX];
};

/* A segment built and not installed yet: mapped, its file under a
 * temporary name beside where it goes. Its holder installs it
 * (fsd_seg_replace) or discards it. */
struct fsd_seg_new {
	struct fsd_seg_loc loc;
	char tmp[FSD_NAME_MAX + 40];
	struct seg_map map;
};

/* Build a segment for @a of group @name owned by @uid/@gid: -errno with
 * the reason in @why. Takes no lock and touches no group: the long part
 * of a re-creation (a large arena is pre-faulted here). */
int fsd_seg_build(struct fsd *d, const char *name, uid_t uid, gid_t gid,
		  const struct fsd_attrs *a, struct fsd_seg_new *n, char *why, size_t whylen);
/* Unmap and remove a segment built and not installed. */
void fsd_seg_discard(struct fsd_seg_new *n);

/* Create the segment for @a (where its attributes put it, which becomes
 * g->seg_path) and map it into @out: -errno with the reason in @why. */
int fsd_seg_make(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *a,
		 struct seg_map *out, char *why, size_t whylen);
/* Map the existing segment of @g (located by g->attrs) into g->seg. */
int fsd_seg_adopt(struct fsd *d, struct fsd_group *g);
/* Become the control sender of g->seg, the segment of @a (ring `ranks`),
 * through a mapping the control channel owns. */
int fsd_seg_claim_ctl(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *a);
/* Stop the control sender and unmap g->seg. */
void fsd_seg_release(struct fsd_group *g);
/* Remove the file of @g's segment; change its mode. */
void fsd_seg_remove(struct fsd *d, struct fsd_group *g);
int fsd_seg_chmod(struct fsd *d, struct fsd_group *g, mode_t mode);
/* Replace g->seg by @fresh, built for @next, once no member can join the
 * old one (caller holds bcast_lock and lock, nobody joined): -EBUSY when a
 * member is joining. @fresh is installed or discarded. */
int fsd_seg_replace(struct fsd *d, struct fsd_group *g, const struct fsd_attrs *next,
		    struct fsd_seg_new *fresh, char *why, size_t whylen);
/* Resolve numa_node auto:PCI through sysfs; checks a node exists. */
int fsd_resolve_numa(struct fsd_attr_value *v, char *why, size_t whylen);

/* ---- stats.c ----------------------------------------------------------- */

/* Counters of rank index @i (ranks: the control sender) less the
 * reset-stat baseline. */
void fsd_stats_rank(const struct fsd_stats *s, const struct seg_map *seg, unsigned i,
		    struct ipcfs_rank_stat *st);
uint64_t fsd_stats_bcasts(const struct fsd_stats *s);
/* A bcast ended with @rc. */
void fsd_stats_bcast_done(struct fsd_stats *s, int rc);
/* reset-stat: the counters now become the baseline. */
void fsd_stats_reset(struct fsd_stats *s, const struct seg_map *seg);
/* A fresh segment: its counters start from 0, so does the baseline. */
void fsd_stats_new_segment(struct fsd_stats *s);
uint64_t fsd_stats_joins(const struct seg_map *seg, unsigned r);
void fsd_stats_arena(const struct seg_map *seg, struct arena_stat *a);

/* ---- events.c -------------------------------------------------------- */

struct fsd_event_wait;

/* Append an event and answer the reads waiting for one (caller holds
 * g->lock). */
__attribute__((format(printf, 2, 3)))
void fsd_event_post(struct fsd_group *g, const char *fmt, ...);
struct fsd_event_reader *fsd_events_open(struct fsd *d, struct fsd_group *g);
void fsd_events_release(struct fsd_event_reader *r);
/* Answer @req now, or park it until an event, a signal, the group's
 * removal or the end of the daemon; never waits. */
void fsd_events_read(fuse_req_t req, struct fsd *d, struct fsd_event_reader *r, size_t size,
		     bool nonblock);
void fsd_events_poll(fuse_req_t req, struct fsd_event_reader *r, struct fuse_pollhandle *ph);
/* The group is removed (caller holds g->lock, g->removed set): parked
 * reads get end of file, pollers are woken. */
void fsd_events_removed(struct fsd_group *g);
/* The session loop ended: parked reads get EINTR, none is parked after. */
void fsd_events_shutdown(struct fsd *d);

/* ---- watcher.c: the background thread --------------------------------- */

int fsd_liveness_start(struct fsd *d);
void fsd_liveness_stop(struct fsd *d);

/* ---- liveness.c: the members of a group -------------------------------- */

/* The epoll set the watches join (set once by fsd_liveness_start). */
void fsd_members_epoll(int fd);
/* The process watched for rank @r with generation @gen exited (caller
 * holds g->lock): marked dead unless the watch changed since. */
void fsd_members_exited(struct fsd_group *g, unsigned r, uint32_t gen);
/* Watch rank @r's process, @pid in the owner word, known as @host in our
 * PID namespace (0: @pid is ours). -EXDEV: the owner lives in another PID
 * namespace and its pid here is unknown; each scan then asks its liveness
 * lock (caller holds g->lock). */
int fsd_watch_rank(struct fsd *d, struct fsd_group *g, unsigned r, pid_t pid, pid_t host);
/* Whether process @writer (a pid of ours) is rank @r's owner @owner as
 * seen in its own PID namespace. */
bool fsd_writer_owns(const struct fsd_group *g, unsigned r, pid_t writer, pid_t owner);
void fsd_unwatch_rank(struct fsd_group *g, unsigned r);
/* One pass over @g: adopt live ranks nobody watches, notice left and dead
 * ones, post stalls (caller holds g->lock). */
void fsd_scan_group(struct fsd *d, struct fsd_group *g);
/* State (IPCFS_STATE_*) and process of rank @r's owner word. */
int fsd_owner(const struct fsd_group *g, unsigned r, pid_t *pid);
/* The one place where the daemon's view of rank @r changes: it is now in
 * @state with process @pid; posts joined, left or died (and logs it) when
 * that differs from what it saw (caller holds g->lock). */
void fsd_members_transition(struct fsd_group *g, unsigned r, int state, pid_t pid);
/* Take the segment's states as seen, with no event (an adopted or fresh
 * segment). */
void fsd_members_adopt(struct fsd_group *g);
/* Thread group id of thread @tid (/proc/TID/status), or -errno. */
pid_t fsd_tgid_of(pid_t tid);

/* ---- bridge.c: the group's ipcfs-bridge ------------------------------------- */

struct text;
/* Start, reap, restart or stop the bridge as the group's nodes and node
 * say (caller holds g->lock; every scan). */
void fsd_bridge_scan(struct fsd *d, struct fsd_group *g);
/* Before an rmdir by @uid (caller holds no lock): if @uid may remove the
 * group and its only live members are the bridge's proxies, stop the
 * bridge and wait for it (its proxies leave through the mount); it is
 * not restarted until fsd_bridge_release. */
void fsd_bridge_hold(struct fsd *d, struct fsd_group *g, uid_t uid);
/* The rmdir failed: the bridge may start again (caller holds g->lock). */
void fsd_bridge_release(struct fsd_group *g);
/* A new group's bridge state; what is left of it when the group is freed. */
void fsd_bridge_init(struct fsd_group *g);
void fsd_bridge_free(struct fsd_group *g);
/* SIGTERM the group's bridge and reap it (SIGKILL after 3 s): at exit. */
void fsd_bridge_stop(struct fsd_group *g);
/* Stop the bridge (caller holds g->lock) so that the scan starts it again,
 * with what the group says now (keys). */
void fsd_bridge_restart(struct fsd_group *g);
/* Take in what the bridge has reported since (caller holds g->lock): the
 * scan does, and reading bridge or stat, so both show its latest. */
void fsd_bridge_collect(struct fsd_group *g);
/* The bridge file; its lines in stat (caller holds g->lock). */
void fsd_bridge_render(const struct fsd_group *g, struct text *t);
void fsd_bridge_stat(const struct fsd_group *g, struct text *t);

/* ---- ctl.c: everything written ---------------------------------------- */

/* Handle a write to a group's ctl, an attribute or the daemon-wide ctl.
 * Returns 0 or -errno; the error is logged by the caller's error_log. */
int fsd_group_ctl(struct fsd *d, struct fsd_group *g, fuse_req_t req, const char *buf, size_t len,
		  char *why, size_t whylen);
int fsd_group_attr_write(struct fsd *d, struct fsd_group *g, enum fsd_attr a, const char *buf,
			 size_t len, char *why, size_t whylen);
int fsd_root_ctl(struct fsd *d, fuse_req_t req, const char *buf, size_t len, char *why,
		 size_t whylen);
/* A write to a group's nodes (@self false) or node (@self true) file:
 * checked (cluster.h), kept in the state file, or -errno and nothing
 * changed. nodes: 1 when the text is valid so far but leaves ranks on no
 * node (openfiles.c gathers the next writes of the same open file). */
int fsd_group_cluster_write(struct fsd *d, struct fsd_group *g, bool self, const char *buf,
			    size_t len, char *why, size_t whylen);
/* A write to a group's keys file (include/ipcfs/keys.h): the directory and, once nodes
 * are set, its key files checked, kept in the state file, the bridge
 * restarted to use them; or -errno and nothing changed. */
int fsd_group_keys_write(struct fsd *d, struct fsd_group *g, const char *buf, size_t len,
			 char *why, size_t whylen);

/* ---- files.c: everything read ------------------------------------------ */

/* Node kinds of the tree (tree.c decodes inode numbers into them). */
enum fsd_kind {
	FSD_N_NONE,
	FSD_N_ROOT, FSD_N_VERSION, FSD_N_ROOT_CTL, FSD_N_ROOT_STAT, FSD_N_GROUPS, FSD_N_ROOT_ERRLOG,
	FSD_N_ROOT_METRICS,
	FSD_N_GROUP, FSD_N_ATTR, FSD_N_SHM, FSD_N_GCTL, FSD_N_MEMBERS, FSD_N_GSTAT, FSD_N_EVENTS,
	FSD_N_GERRLOG, FSD_N_GPU, FSD_N_GPU_NAME, FSD_N_GPU_REC,
	FSD_N_NODES, FSD_N_NODE, FSD_N_BRIDGE,
	FSD_N_KEYS,
};

struct fsd_node {
	enum fsd_kind kind;
	uint32_t gid;   /* group id (group nodes) */
	int attr;       /* FSD_N_ATTR */
	uint32_t nid;   /* GPU name id */
	unsigned rank;  /* FSD_N_GPU_REC */
};

/* Generate the content of a readable node into a malloc'd buffer. */
int fsd_file_render(struct fsd *d, const struct fsd_node *n, char **out, size_t *len);

/* ---- node.c: the nodes of the tree ------------------------------------ */

/* What a node lets its users do: the mode bits derive from the group's
 * mode through these. */
enum fsd_access { ACC_DIR, ACC_RW, ACC_RO, ACC_WO };

static inline struct fsd *fsd_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The node of inode @ino; false if there is no such number. */
bool fsd_node_decode(fuse_ino_t ino, struct fsd_node *n);
enum fsd_access fsd_node_access(enum fsd_kind k);
/* Whether node @n exists now (caller holds g->lock for group nodes). */
bool fsd_node_exists(struct fsd_group *g, const struct fsd_node *n);
/* Stat inode @ino: 0, or -ENOENT when it is gone. */
int fsd_node_stat(struct fsd *d, fuse_ino_t ino, struct stat *st);
/* The inode of @name in directory @parent, or 0. */
fuse_ino_t fsd_node_child(struct fsd *d, fuse_ino_t parent, const char *name);
/* Call @add for each entry of directory @ino: 0, -ENOENT, -ENOTDIR. */
typedef void (*fsd_list_fn)(void *arg, const char *name, fuse_ino_t ino, bool dir);
int fsd_node_list(struct fsd *d, fuse_ino_t ino, fsd_list_fn add, void *arg);
/* Log a failed operation in the daemon-wide or the group's error_log. */
void fsd_root_error(struct fsd *d, const char *where, const char *input, size_t len, int err,
		    const char *why);
void fsd_group_error(struct fsd *d, struct fsd_group *g, const char *where, const char *input,
		     size_t len, int err, const char *why);

/* ---- openfiles.c: open files ---------------------------------------------- */

void fsd_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fsd_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fsd_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fsd_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		 struct fuse_file_info *fi);
void fsd_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		  struct fuse_file_info *fi);
void fsd_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		 struct fuse_pollhandle *ph);
/* The session loop ended (its workers are joined): free the open files the
 * kernel will never release; after fsd_events_shutdown. */
void fsd_tree_close(struct fsd *d);

/* ---- tree.c: directories and the table of operations --------------------- */

extern const struct fuse_lowlevel_ops fsd_ops;

#endif
