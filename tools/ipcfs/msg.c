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

int cmd_send(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "to", required_argument, NULL, 't' },
		{ "rank", required_argument, NULL, 'r' },
		{ "whole", no_argument, NULL, 'w' },
		{ "wait", required_argument, NULL, 'W' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "mount", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mopt = NULL;
	uint64_t dest = IPCFS_ALL;
	long long rank = -1, wait_ms = 5000, timeout = -1;
	bool whole = false, verbose = false;
	char mount[PATH_MAX], dir[PATH_MAX];
	int o;

	while ((o = cli_getopt(argc, argv, "t:r:wW:T:vm:h", lopts)) != -1) {
		switch (o) {
		case 't':
			if (parse_ranks("--to", optarg, &dest))
				return EXIT_USAGE;
			break;
		case 'r':
			if (cli_long("--rank", optarg, -1, IPCFS_MAX_RANKS - 1, &rank))
				return EXIT_USAGE;
			break;
		case 'w': whole = true; break;
		case 'W':
			if (cli_long("--wait", optarg, 0, INT32_MAX, &wait_ms))
				return EXIT_USAGE;
			break;
		case 'T':
			if (cli_long("--timeout", optarg, -1, INT32_MAX, &timeout))
				return EXIT_USAGE;
			break;
		case 'v': verbose = true; break;
		case 'm': mopt = optarg; break;
		case 'h': send_usage(); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage("no GROUP");
	if (argc - optind > 2)
		return cli_usage("too many arguments ('%s')", argv[optind + 2]);
	if (rank >= 0 && dest != IPCFS_ALL && (dest & IPCFS_RANK_BIT(rank)))
		return cli_usage("--to includes the sender's own rank %lld", rank);
	cli_mount(mopt, mount, sizeof(mount));
	if (cli_group_dir(mount, argv[optind], dir, sizeof(dir)))
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
	int me = join(dir, (int)rank, &m);
	if (me < 0) {
		if (in != stdin)
			fclose(in);
		return EXIT_RUNTIME;
	}
	int ret = EXIT_RUNTIME;
	unsigned long long nr = 0;
	char *buf = NULL;
	size_t cap = 0;
	if (dest != IPCFS_ALL) {
		if (dest & IPCFS_RANK_BIT(me)) {
			ret = cli_usage("--to includes the sender's own rank %d", me);
			goto out;
		}
		if (dest >> ipcfs_size(m)) {
			char list[256];
			format_ranks(dest, list, sizeof(list));
			ret = cli_usage("--to %s: the group has %d ranks (0..%d)", list, ipcfs_size(m),
					ipcfs_size(m) - 1);
			goto out;
		}
	}
	if (verbose)
		fprintf(stderr, "%s: joined %s as rank %d\n", cli_name, dir, me);
	if (wait_dest(m, dest, wait_ms))
		goto out;

	if (whole) {
		size_t len = 0, r;
		cap = 65536;
		buf = malloc(cap);
		while (buf && (r = fread(buf + len, 1, cap - len, in)) > 0) {
			len += r;
			if (len == cap) {
				char *nb = realloc(buf, cap * 2);
				if (!nb) {
					free(buf);
					buf = NULL;
					break;
				}
				buf = nb;
				cap *= 2;
			}
		}
		if (!buf) {
			cli_err("read %s: %s", file, strerror(ENOMEM));
			goto out;
		}
		if (ferror(in)) {
			if (!interrupted) /* an interrupted read is no error */
				cli_err("read %s: %s", file, strerror(errno));
			goto out;
		}
		if (send_one(m, dest, buf, len, timeout, ++nr))
			goto out;
	} else {
		ssize_t len;
		errno = 0;
		while ((len = getline(&buf, &cap, in)) >= 0) {
			if (len > 0 && buf[len - 1] == '\n')
				len--;
			if (send_one(m, dest, buf, (size_t)len, timeout, ++nr))
				goto out;
		}
		if (ferror(in)) {
			if (!interrupted) /* an interrupted read is no error */
				cli_err("read %s: %s", file, strerror(errno));
			goto out;
		}
	}
	if (verbose)
		fprintf(stderr, "%s: sent %llu message%s\n", cli_name, nr, nr == 1 ? "" : "s");
	ret = EXIT_OK;
out:
	if (interrupted)
		ret = 128 + interrupted; /* quietly: the user asked for it */
	free(buf);
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

int cmd_recv(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "rank", required_argument, NULL, 'r' },
		{ "count", required_argument, NULL, 'c' },
		{ "from", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "raw", no_argument, NULL, 'R' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "mount", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mopt = NULL;
	long long rank = -1, count = -1, src = IPCFS_ANY, timeout = -1;
	bool raw = false, verbose = false;
	char mount[PATH_MAX], dir[PATH_MAX];
	int o;

	while ((o = cli_getopt(argc, argv, "r:c:f:T:Rvm:h", lopts)) != -1) {
		switch (o) {
		case 'r':
			if (cli_long("--rank", optarg, -1, IPCFS_MAX_RANKS - 1, &rank))
				return EXIT_USAGE;
			break;
		case 'c':
			if (cli_long("--count", optarg, 0, INT64_MAX, &count))
				return EXIT_USAGE;
			break;
		case 'f':
			if (!strcmp(optarg, "ctl"))
				src = IPCFS_SRC_CTL;
			else if (!strcmp(optarg, "any"))
				src = IPCFS_ANY;
			else if (cli_long("--from", optarg, 0, IPCFS_MAX_RANKS - 1, &src))
				return EXIT_USAGE;
			break;
		case 'T':
			if (cli_long("--timeout", optarg, -1, INT32_MAX, &timeout))
				return EXIT_USAGE;
			break;
		case 'R': raw = true; break;
		case 'v': verbose = true; break;
		case 'm': mopt = optarg; break;
		case 'h': recv_usage(); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage("no GROUP");
	if (argc - optind > 1)
		return cli_usage("too many arguments ('%s')", argv[optind + 1]);
	if (rank >= 0 && src == rank)
		return cli_usage("--from %lld is the receiver's own rank", src);
	cli_mount(mopt, mount, sizeof(mount));
	if (cli_group_dir(mount, argv[optind], dir, sizeof(dir)))
		return EXIT_USAGE;

	/* Before joining: an interrupt from the moment the rank is ours on
	 * must end in a leave. */
	catch_interrupts();
	struct ipcfs_member *m;
	int me = join(dir, (int)rank, &m);
	if (me < 0)
		return EXIT_RUNTIME;
	int ret = EXIT_RUNTIME;
	long long got = 0;
	if (src != IPCFS_ANY && src != IPCFS_SRC_CTL && (src >= ipcfs_size(m) || src == me)) {
		ret = src == me ? cli_usage("--from %lld is the receiver's own rank", src)
				: cli_usage("--from %lld: the group has %d ranks", src, ipcfs_size(m));
		goto out;
	}
	if (verbose)
		fprintf(stderr, "%s: joined %s as rank %d\n", cli_name, dir, me);
	/* A reader of stdout that goes away (| head) ends us quietly. */
	signal(SIGPIPE, SIG_IGN);

	while (count < 0 || got < count) {
		struct ipcfs_msg msg;
		int64_t start = cli_now_ms();
		int rc = 0;
		for (;;) {
			if (interrupted)
				break;
			int left = time_left(start, timeout), slice = wait_slice(left);
			rc = ipcfs_recv(m, (int)src, &msg, slice);
			if (rc == -ETIMEDOUT && slice != left)
				continue; /* a slice, not the caller's timeout */
			/* Every sender gone: before the first message, or while
			 * K are still due, wait for new ones. */
			if (rc == -EPIPE && (got == 0 || count >= 0) && left != 0) {
				sleep_ms(left < 0 || left > 10 ? 10 : left);
				continue;
			}
			if (rc == -EPIPE && left == 0)
				rc = -ETIMEDOUT;
			break;
		}
		if (interrupted) {
			ret = 128 + interrupted;
			goto out;
		}
		if (rc == -EBADMSG) {
			cli_err("message %lld: %s (skipped)", got + 1, strerror(EBADMSG));
			continue;
		}
		if (rc == -EPIPE) {
			ret = EXIT_OK; /* end of the stream */
			goto out;
		}
		if (rc == -ETIMEDOUT || rc == -EAGAIN) {
			if (count < 0 && got > 0) {
				ret = EXIT_OK;
			} else if (count >= 0) {
				cli_err("timed out after %lld ms: %lld of %lld messages received", timeout,
					got, count);
			} else {
				cli_err("timed out after %lld ms: no message", timeout);
			}
			goto out;
		}
		if (rc < 0) {
			cli_err("receive message %lld: %s", got + 1, strerror(-rc));
			goto out;
		}
		got++;
		size_t w = msg.len ? fwrite(msg.data, 1, msg.len, stdout) : 0;
		int e = w == msg.len && (raw || putchar('\n') != EOF) && fflush(stdout) == 0 ? 0 : errno;
		ipcfs_release(m, &msg);
		if (e == EPIPE) {
			ret = EXIT_OK;
			goto out;
		}
		if (e) {
			cli_err("write to stdout: %s", strerror(e));
			goto out;
		}
	}
	ret = EXIT_OK;
out:
	if (verbose)
		fprintf(stderr, "%s: received %lld message%s\n", cli_name, got, got == 1 ? "" : "s");
	ipcfs_leave(m);
	return ret;
}
