/* SPDX-License-Identifier: MIT */
/*
 * msg.c - ipcfs send and ipcfs recv: join a group as a rank and move
 * messages between it and stdin/stdout.
 *
 * Framing: send makes one message of every input line (newline stripped)
 * or, with --whole, one message of the whole input; recv writes every
 * message followed by a newline, or as is with --raw.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ipcfs.h"

/* ---- ranks lists: "all", "3", "1,2,5-7" ------------------------------------ */

static int parse_ranks(const char *what, const char *s, uint64_t *mask)
{
	uint64_t m = 0;
	const char *p = s;

	if (!strcmp(s, "all")) {
		*mask = IPCFS_ALL;
		return 0;
	}
	while (*p) {
		char *end;
		long a, b;
		if (*p < '0' || *p > '9')
			goto bad;
		a = strtol(p, &end, 10);
		b = a;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				goto bad;
			b = strtol(end + 1, &end, 10);
		}
		if (a > b || b >= IPCFS_MAX_RANKS) {
			cli_usage("%s '%s': ranks are 0..%d", what, s, IPCFS_MAX_RANKS - 1);
			return -1;
		}
		for (long r = a; r <= b; r++)
			m |= IPCFS_RANK_BIT(r);
		if (*end == ',' && end[1])
			end++;
		else if (*end)
			goto bad;
		p = end;
	}
	if (!m)
		goto bad;
	*mask = m;
	return 0;
bad:
	cli_usage("%s '%s' is not a rank list (e.g. 3, 1,2,5-7 or all)", what, s);
	return -1;
}

static void format_ranks(uint64_t mask, char *out, size_t size)
{
	size_t o = 0;
	out[0] = 0;
	for (int r = 0; r < IPCFS_MAX_RANKS && o < size; r++)
		if (mask & IPCFS_RANK_BIT(r))
			o += (size_t)snprintf(out + o, size - o, "%s%d", o ? "," : "", r);
}

/* Join @dir as @rank (-1: any); report a failure. */
static int join(const char *dir, int rank, struct ipcfs_member **m)
{
	int rc = ipcfs_join(dir, rank, m);
	if (rc >= 0)
		return rc;
	const char *hint = "";
	if (rc == -EBUSY)
		hint = rank >= 0 ? " (the rank is held by a live process)" : " (no free rank)";
	else if (rc == -EINVAL && rank >= 0)
		hint = " (rank outside the group)";
	if (rank >= 0)
		cli_err("join %s as rank %d: %s%s", dir, rank, strerror(-rc), hint);
	else
		cli_err("join %s: %s%s", dir, strerror(-rc), hint);
	return rc;
}

/* Set by SIGINT/SIGTERM while recv waits: leave the group, then exit. */
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	interrupted = sig;
}

/* Catch SIGINT and SIGTERM without SA_RESTART, so that a wait can notice
 * them and the member leaves the group instead of showing up as dead. */
static void catch_interrupts(void)
{
	struct sigaction sa = { .sa_handler = on_interrupt };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* Waits (for a message, or for room to send) go in slices short enough
 * to notice an interrupt. */
#define WAIT_SLICE_MS 100

/* What is left of @timeout ms (-1: none) since @start, never below 0. */
static int time_left(int64_t start, long long timeout)
{
	if (timeout < 0)
		return -1;
	int64_t l = start + timeout - cli_now_ms();
	return l > 0 ? (int)l : 0;
}

/* The next slice to wait, given what is left (-1: no limit). */
static int wait_slice(int left)
{
	return left < 0 || left > WAIT_SLICE_MS ? WAIT_SLICE_MS : left;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- what send and recv share ------------------------------------------------ */

/* The options both commands take, and the group they name. */
struct msg_opts {
	long long rank;	    /* --rank, -1: the lowest free rank */
	long long timeout;  /* --timeout in ms, -1: for ever */
	bool verbose;	    /* --verbose */
	const char *mount;  /* --mount, NULL: the default mount point */
	const char *group;  /* the GROUP operand */
	char dir[PATH_MAX]; /* its directory, set by msg_group_dir() */
};

/* The shared options, spliced into each command's tables. */
#define MSG_COMMON_SOPTS "r:T:vm:h"
#define MSG_COMMON_LOPTS                              \
	{ "rank", required_argument, NULL, 'r' },       \
	{ "timeout", required_argument, NULL, 'T' },    \
	{ "verbose", no_argument, NULL, 'v' },          \
	{ "mount", required_argument, NULL, 'm' },      \
	{ "help", no_argument, NULL, 'h' }

/* A command's own option @c (value @arg) into @ctx: 0, or an exit status. */
typedef int (*msg_opt_fn)(int c, const char *arg, void *ctx);

/*
 * Parse the command line of send or recv: the shared options into @o,
 * every other one through @own; then GROUP and at most @max_operands
 * operands in all (the first after GROUP is left at argv[optind + 1]).
 * Returns -1 to go on, or the exit status to return (help: EXIT_OK).
 */
static int parse_common_opts(int argc, char **argv, const char *sopts,
			     const struct option *lopts, int max_operands, void (*usage)(void),
			     msg_opt_fn own, void *ctx, struct msg_opts *o)
{
	int c, rc;

	*o = (struct msg_opts){ .rank = -1, .timeout = -1 };
	while ((c = cli_getopt(argc, argv, sopts, lopts)) != -1) {
		switch (c) {
		case 'r':
			if (cli_long("--rank", optarg, -1, IPCFS_MAX_RANKS - 1, &o->rank))
				return EXIT_USAGE;
			break;
		case 'T':
			if (cli_long("--timeout", optarg, -1, INT32_MAX, &o->timeout))
				return EXIT_USAGE;
			break;
		case 'v': o->verbose = true; break;
		case 'm': o->mount = optarg; break;
		case 'h': usage(); return EXIT_OK;
		case -2: return EXIT_USAGE;
		default:
			rc = own(c, optarg, ctx);
			if (rc)
				return rc;
		}
	}
	if (optind >= argc)
		return cli_usage("no GROUP");
	if (argc - optind > max_operands)
		return cli_usage("too many arguments ('%s')", argv[optind + max_operands]);
	o->group = argv[optind];
	return -1;
}

/* o->dir from the mount point and GROUP: 0, or the exit status. */
static int msg_group_dir(struct msg_opts *o)
{
	char mount[PATH_MAX];

	cli_mount(o->mount, mount, sizeof(mount));
	return cli_group_dir(mount, o->group, o->dir, sizeof(o->dir)) ? EXIT_USAGE : 0;
}

/* ---- send ------------------------------------------------------------------ */

static void send_usage(void)
{
	printf("usage: ipcfs send [OPTIONS] GROUP [FILE|-]\n\n"
	       "Join GROUP (a name under MOUNT/groups, or a group directory path) as a\n"
	       "rank, wait for the destination ranks to be live, then send the input\n"
	       "(FILE, or stdin for '-' or none): one message per line, the newline\n"
	       "stripped (an empty line is an empty message), or the whole input as one\n"
	       "message with --whole. Leaves the group at the end of the input; what was\n"
	       "sent stays readable by its destinations.\n\n"
	       "  -t, --to RANKS     destinations: a list such as 3 or 1,2,5-7, or all\n"
	       "                     (default: every other live rank at each message)\n"
	       "  -r, --rank R       join as rank R (default: the lowest free rank)\n"
	       "  -w, --whole        the whole input is one message\n"
	       "  -W, --wait MS      wait at most MS ms for the destinations to be live\n"
	       "                     (without --to: for one other live rank); default 5000\n"
	       "  -T, --timeout MS   wait at most MS ms for ring or arena space per message\n"
	       "                     (default -1: for ever; back pressure from slow readers)\n"
	       "  -v, --verbose      report the rank and the count on stderr\n"
	       "  -m, --mount DIR    mount point (default $IPCFS_MOUNT, else\n"
	       "                     $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs)\n"
	       "  -h, --help         this help\n\n"
	       "A message longer than slot_bytes goes through the group's arena; without\n"
	       "one it fails (EMSGSIZE).\n"
	       "Exit status: 0 all sent, 1 runtime failure (join, wait, send, input),\n"
	       "2 usage error.\n");
}

/* Wait for the destinations: the ranks of @mask, or one other live rank. */
static int wait_dest(struct ipcfs_member *m, uint64_t mask, long long wait_ms)
{
	uint64_t me = IPCFS_RANK_BIT(ipcfs_rank(m)), live;
	char list[256];

	if (mask != IPCFS_ALL) {
		int rc = ipcfs_wait_ranks(m, mask, (int)wait_ms);
		if (rc == 0)
			return 0;
		ipcfs_live(m, &live);
		format_ranks(mask & ~live, list, sizeof(list));
		if (rc == -ETIMEDOUT || rc == -EAGAIN)
			cli_err("wait for rank(s) %s to be live: none joined within %lld ms", list,
				wait_ms);
		else
			cli_err("wait for rank(s) %s to be live: %s", list, strerror(-rc));
		return -1;
	}
	int64_t deadline = cli_now_ms() + wait_ms;
	for (;;) {
		ipcfs_live(m, &live);
		if (live & ~me)
			return 0;
		if (cli_now_ms() >= deadline) {
			cli_err("wait for a receiver: no other rank live within %lld ms", wait_ms);
			return -1;
		}
		sleep_ms(2);
	}
}

static int send_one(struct ipcfs_member *m, uint64_t dest, const void *data, size_t len,
		    long long timeout, unsigned long long nr)
{
	int64_t start = cli_now_ms();
	int rc;
	/* Wait for room in slices, as recv does, so that an interrupt can
	 * end the wait (the caller then leaves the group). */
	for (;;) {
		if (interrupted)
			return -1;
		int left = time_left(start, timeout), slice = wait_slice(left);
		rc = ipcfs_send(m, dest, data, len, slice);
		if (rc != -ETIMEDOUT || slice == left)
			break;
	}
	if (rc == 0)
		return 0;
	const char *hint = "";
	if (rc == -EMSGSIZE)
		hint = " (larger than slot_bytes and the group has no arena)";
	else if (rc == -ENOMEM)
		hint = " (larger than the whole arena)";
	else if (rc == -ENOTCONN)
		hint = dest == IPCFS_ALL ? " (no other rank is live any more)"
					 : " (a destination rank is not live any more)";
	else if (rc == -ETIMEDOUT || rc == -EAGAIN)
		hint = " (readers too slow: no room in the ring within --timeout)";
	cli_err("send message %llu (%zu bytes): %s%s", nr, len, strerror(-rc), hint);
	return -1;
}

/* What send takes besides the shared options. */
struct send_opts {
	uint64_t dest;	   /* --to, IPCFS_ALL: every other live rank */
	long long wait_ms; /* --wait */
	bool whole;	   /* --whole */
};

static int send_opt(int c, const char *arg, void *ctx)
{
	struct send_opts *s = ctx;

	switch (c) {
	case 't': return parse_ranks("--to", arg, &s->dest) ? EXIT_USAGE : 0;
	case 'W': return cli_long("--wait", arg, 0, INT32_MAX, &s->wait_ms) ? EXIT_USAGE : 0;
	case 'w': s->whole = true; return 0;
	default: return EXIT_USAGE;
	}
}

/* After joining as @me: --to within the group and without @me. 0, or
 * the exit status (a usage error). */
static int check_dest(struct ipcfs_member *m, uint64_t dest, int me)
{
	if (dest == IPCFS_ALL)
		return 0;
	if (dest & IPCFS_RANK_BIT(me))
		return cli_usage("--to includes the sender's own rank %d", me);
	if (dest >> ipcfs_size(m)) {
		char list[256];
		format_ranks(dest, list, sizeof(list));
		return cli_usage("--to %s: the group has %d ranks (0..%d)", list, ipcfs_size(m),
				 ipcfs_size(m) - 1);
	}
	return 0;
}

/* Read all of @in into a malloc'd *@buf. 0, or -1 (reported). */
static int read_whole(FILE *in, const char *file, char **buf, size_t *len)
{
	size_t cap = 65536, r;
	char *b = malloc(cap);

	*len = 0;
	while (b && (r = fread(b + *len, 1, cap - *len, in)) > 0) {
		*len += r;
		if (*len == cap) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				free(b);
				b = NULL;
				break;
			}
			b = nb;
			cap *= 2;
		}
	}
	*buf = b;
	if (!b) {
		cli_err("read %s: %s", file, strerror(ENOMEM));
		return -1;
	}
	if (ferror(in)) {
		if (!interrupted) /* an interrupted read is no error */
			cli_err("read %s: %s", file, strerror(errno));
		return -1;
	}
	return 0;
}

/* Send @in, whole or line by line, counting messages in *@nr. 0, or -1
 * (reported). */
static int send_input(struct ipcfs_member *m, const struct send_opts *s, long long timeout,
		      FILE *in, const char *file, unsigned long long *nr)
{
	char *buf = NULL;
	int ret = -1;

	if (s->whole) {
		size_t len;
		if (read_whole(in, file, &buf, &len) == 0)
			ret = send_one(m, s->dest, buf, len, timeout, ++*nr);
		free(buf);
		return ret;
	}
	size_t cap = 0;
	ssize_t len;
	errno = 0;
	while ((len = getline(&buf, &cap, in)) >= 0) {
		if (len > 0 && buf[len - 1] == '\n')
			len--;
		if (send_one(m, s->dest, buf, (size_t)len, timeout, ++*nr))
			goto out;
	}
	if (ferror(in)) {
		if (!interrupted) /* an interrupted read is no error */
			cli_err("read %s: %s", file, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

int cmd_send(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "whole", no_argument, NULL, 'w' },
		{ "wait", required_argument, NULL, 'W' },
		MSG_COMMON_LOPTS,
		{ 0 },
	};
	struct send_opts s = { .dest = IPCFS_ALL, .wait_ms = 5000 };
	struct msg_opts o;
	int ret = parse_common_opts(argc, argv, "t:wW:" MSG_COMMON_SOPTS, lopts, 2, send_usage,
				    send_opt, &s, &o);
	if (ret >= 0)
		return ret;
	if (o.rank >= 0 && s.dest != IPCFS_ALL && (s.dest & IPCFS_RANK_BIT(o.rank)))
		return cli_usage("--to includes the sender's own rank %lld", o.rank);
	if (msg_group_dir(&o))
		return EXIT_USAGE;

	const char *file = optind + 1 < argc ? argv[optind + 1] : "-";
	FILE *in = stdin;
	if (strcmp(file, "-") != 0) {
		in = fopen(file, "r");
		if (!in) {
			cli_err("open %s: %s", file, strerror(errno));
			return EXIT_RUNTIME;
		}
	}

	/* Before joining: an interrupt from the moment the rank is ours on
	 * must end in a leave (reading stdin or waiting for room). */
	catch_interrupts();
	struct ipcfs_member *m;
	int me = join(o.dir, (int)o.rank, &m);
	if (me < 0) {
		if (in != stdin)
			fclose(in);
		return EXIT_RUNTIME;
	}
	unsigned long long nr = 0;
	ret = check_dest(m, s.dest, me);
	if (ret)
		goto out;
	ret = EXIT_RUNTIME;
	if (o.verbose)
		fprintf(stderr, "%s: joined %s as rank %d\n", cli_name, o.dir, me);
	if (wait_dest(m, s.dest, s.wait_ms) || send_input(m, &s, o.timeout, in, file, &nr))
		goto out;
	if (o.verbose)
		fprintf(stderr, "%s: sent %llu message%s\n", cli_name, nr, nr == 1 ? "" : "s");
	ret = EXIT_OK;
out:
	if (interrupted)
		ret = 128 + interrupted; /* quietly: the user asked for it */
	ipcfs_leave(m);
	if (in != stdin)
		fclose(in);
	return ret;
}

/* ---- recv ------------------------------------------------------------------ */

static void recv_usage(void)
{
	printf("usage: ipcfs recv [OPTIONS] GROUP\n\n"
	       "Join GROUP (a name under MOUNT/groups, or a group directory path) as a\n"
	       "rank and write the messages addressed to it on stdout, each followed by\n"
	       "a newline (as they are with --raw), flushed one by one.\n\n"
	       "  -r, --rank R       join as rank R (default: the lowest free rank)\n"
	       "  -c, --count K      exit after K messages\n"
	       "  -f, --from SRC     only from rank SRC, or 'ctl' for the bcast command\n"
	       "                     of the group's ctl file (default: from any rank)\n"
	       "  -T, --timeout MS   wait at most MS ms for each message (default -1:\n"
	       "                     for ever)\n"
	       "  -R, --raw          no newline after each message\n"
	       "  -v, --verbose      report the rank and the count on stderr\n"
	       "  -m, --mount DIR    mount point (default $IPCFS_MOUNT, else\n"
	       "                     $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs)\n"
	       "  -h, --help         this help\n\n"
	       "Until a first message comes, recv waits for senders to join (those that\n"
	       "left earlier do not end it). After that, without --count, the stream\n"
	       "ends when every sender has left or died and all they sent was read, or\n"
	       "when --timeout passes with nothing new: exit 0. With --count, recv\n"
	       "waits for new senders until it has K messages.\n"
	       "Exit status: 0 success (also when the reader of stdout goes away),\n"
	       "1 runtime failure (join; no message or fewer than K before the timeout;\n"
	       "a write error), 2 usage error.\n");
}

/* What recv takes besides the shared options. */
struct recv_opts {
	long long count; /* --count, -1: no limit */
	long long src;	 /* --from: a rank, IPCFS_ANY or IPCFS_SRC_CTL */
	bool raw;	 /* --raw */
};

static int recv_opt(int c, const char *arg, void *ctx)
{
	struct recv_opts *r = ctx;

	switch (c) {
	case 'c': return cli_long("--count", arg, 0, INT64_MAX, &r->count) ? EXIT_USAGE : 0;
	case 'f':
		if (!strcmp(arg, "ctl"))
			r->src = IPCFS_SRC_CTL;
		else if (!strcmp(arg, "any"))
			r->src = IPCFS_ANY;
		else if (cli_long("--from", arg, 0, IPCFS_MAX_RANKS - 1, &r->src))
			return EXIT_USAGE;
		return 0;
	case 'R': r->raw = true; return 0;
	default: return EXIT_USAGE;
	}
}

/* Wait for the next message of the stream into @msg, @got received so
 * far: ipcfs_recv's result, with "every sender gone" waited out while
 * the stream has not begun or messages are still due. */
static int recv_next(struct ipcfs_member *m, const struct recv_opts *r, long long timeout,
		     long long got, struct ipcfs_msg *msg)
{
	int64_t start = cli_now_ms();
	int rc = 0;

	for (;;) {
		if (interrupted)
			break;
		int left = time_left(start, timeout), slice = wait_slice(left);
		rc = ipcfs_recv(m, (int)r->src, msg, slice);
		if (rc == -ETIMEDOUT && slice != left)
			continue; /* a slice, not the caller's timeout */
		/* Every sender gone: before the first message, or while
		 * K are still due, wait for new ones. */
		if (rc == -EPIPE && (got == 0 || r->count >= 0) && left != 0) {
			sleep_ms(left < 0 || left > 10 ? 10 : left);
			continue;
		}
		if (rc == -EPIPE && left == 0)
			rc = -ETIMEDOUT;
		break;
	}
	return rc;
}

/* Write @msg on stdout and release it: 0, or the errno of the write. */
static int write_msg(struct ipcfs_member *m, const struct recv_opts *r, struct ipcfs_msg *msg)
{
	size_t w = msg->len ? fwrite(msg->data, 1, msg->len, stdout) : 0;
	int e = w == msg->len && (r->raw || putchar('\n') != EOF) && fflush(stdout) == 0 ? 0 : errno;
	ipcfs_release(m, msg);
	return e;
}

/* Receive until the stream ends, counting in *@got: the exit status. */
static int recv_stream(struct ipcfs_member *m, const struct recv_opts *r, long long timeout,
		       long long *got)
{
	while (r->count < 0 || *got < r->count) {
		struct ipcfs_msg msg;
		int rc = recv_next(m, r, timeout, *got, &msg);
		if (interrupted)
			return 128 + interrupted;
		if (rc == -EBADMSG) {
			cli_err("message %lld: %s (skipped)", *got + 1, strerror(EBADMSG));
			continue;
		}
		if (rc == -EPIPE)
			return EXIT_OK; /* end of the stream */
		if (rc == -ETIMEDOUT || rc == -EAGAIN) {
			if (r->count < 0 && *got > 0)
				return EXIT_OK;
			if (r->count >= 0)
				cli_err("timed out after %lld ms: %lld of %lld messages received",
					timeout, *got, r->count);
			else
				cli_err("timed out after %lld ms: no message", timeout);
			return EXIT_RUNTIME;
		}
		if (rc < 0) {
			cli_err("receive message %lld: %s", *got + 1, strerror(-rc));
			return EXIT_RUNTIME;
		}
		++*got;
		int e = write_msg(m, r, &msg);
		if (e == EPIPE)
			return EXIT_OK;
		if (e) {
			cli_err("write to stdout: %s", strerror(e));
			return EXIT_RUNTIME;
		}
	}
	return EXIT_OK;
}

int cmd_recv(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "count", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'f' },
		{ "raw", no_argument, NULL, 'R' },
		MSG_COMMON_LOPTS,
		{ 0 },
	};
	struct recv_opts r = { .count = -1, .src = IPCFS_ANY };
	struct msg_opts o;
	int ret = parse_common_opts(argc, argv, "c:f:R" MSG_COMMON_SOPTS, lopts, 1, recv_usage,
				    recv_opt, &r, &o);
	if (ret >= 0)
		return ret;
	if (o.rank >= 0 && r.src == o.rank)
		return cli_usage("--from %lld is the receiver's own rank", r.src);
	if (msg_group_dir(&o))
		return EXIT_USAGE;

	/* Before joining: an interrupt from the moment the rank is ours on
	 * must end in a leave. */
	catch_interrupts();
	struct ipcfs_member *m;
	int me = join(o.dir, (int)o.rank, &m);
	if (me < 0)
		return EXIT_RUNTIME;
	long long got = 0, src = r.src;
	if (src != IPCFS_ANY && src != IPCFS_SRC_CTL && (src >= ipcfs_size(m) || src == me)) {
		ret = src == me ? cli_usage("--from %lld is the receiver's own rank", src)
				: cli_usage("--from %lld: the group has %d ranks", src, ipcfs_size(m));
		goto out;
	}
	if (o.verbose)
		fprintf(stderr, "%s: joined %s as rank %d\n", cli_name, o.dir, me);
	/* A reader of stdout that goes away (| head) ends us quietly. */
	signal(SIGPIPE, SIG_IGN);
	ret = recv_stream(m, &r, o.timeout, &got);
out:
	if (o.verbose)
		fprintf(stderr, "%s: received %lld message%s\n", cli_name, got, got == 1 ? "" : "s");
	ipcfs_leave(m);
	return ret;
}
