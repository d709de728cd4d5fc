/* SPDX-License-Identifier: MIT */
/*
 * top.c - ipcfs top: a live full-screen view of the groups of a mount,
 * redrawn every --delay seconds with plain ANSI escapes (no curses), rates
 * from the difference of two successive reads of the stat and members
 * files. Without a terminal on stdout it prints plain frames, one after
 * the other (for logs and pipes).
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ipcfs.h"

static void usage(void)
{
	printf("usage: ipcfs top [-m DIR] [-d SECONDS] [-n N] [GROUP...]\n\n"
	       "A live view of every group of the mount (or of the GROUPs named): ranks\n"
	       "live, message and byte rates, lag, stalls, sleeps, timeouts, arena use,\n"
	       "bcasts, and any GPU all-reduce counters the stat files show; below each\n"
	       "group, one row per rank that ever joined (from its members file). Rates\n"
	       "are per second, between two successive reads (\"-\" on the first screen).\n\n"
	       "  -d, --delay SECONDS   refresh period, 0.1..3600 (default 1)\n"
	       "  -n, --iterations N    draw N screens, then exit (default: until q)\n"
	       "  -m, --mount DIR       mount point (default $IPCFS_MOUNT, else\n"
	       "                        $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs)\n"
	       "  -h, --help            this help\n\n"
	       "Keys (when stdin is a terminal): q quits; any other key redraws now.\n"
	       "Ctrl-C quits too. Without a terminal on stdout, screens are printed one\n"
	       "after another without escape sequences.\n"
	       "Exit status: 0 success, 1 the mount could not be read, 2 usage error.\n");
}

/* One rank's line of a members file. */
struct rank_row {
	int rank, pid;
	char state[12];
	uint64_t sent, sent_bytes, recv, recv_bytes, lag, stalls, timeouts, stalled_ms;
};

struct group_snap {
	char name[80];
	struct kv kv[96];
	int nkv;
	struct rank_row rows[IPCFS_MAX_RANKS];
	int nrows;
};

struct snap {
	double t;
	struct kv root[32];
	int nroot;
	struct group_snap *g;
	int ng;
};

static volatile sig_atomic_t stop, winch;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

static void parse_members(const char *text, struct group_snap *g)
{
	g->nrows = 0;
	for (const char *p = text; *p && g->nrows < IPCFS_MAX_RANKS;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024];
		if (l && l < sizeof(line)) {
			struct rank_row *r = &g->rows[g->nrows];
			char *save, *tok;
			memcpy(line, p, l);
			line[l] = 0;
			memset(r, 0, sizeof(*r));
			tok = strtok_r(line, " ", &save);
			r->rank = atoi(tok);
			snprintf(r->state, sizeof(r->state), "?");
			while ((tok = strtok_r(NULL, " ", &save))) {
				char *eq = strchr(tok, '=');
				if (!eq)
					continue;
				*eq++ = 0;
				uint64_t v = strtoull(eq, NULL, 10);
				if (!strcmp(tok, "pid")) r->pid = (int)v;
				else if (!strcmp(tok, "state")) snprintf(r->state, sizeof(r->state), "%s", eq);
				else if (!strcmp(tok, "sent")) r->sent = v;
				else if (!strcmp(tok, "sent_bytes")) r->sent_bytes = v;
				else if (!strcmp(tok, "recv")) r->recv = v;
				else if (!strcmp(tok, "recv_bytes")) r->recv_bytes = v;
				else if (!strcmp(tok, "lag")) r->lag = v;
				else if (!strcmp(tok, "stalls")) r->stalls = v;
				else if (!strcmp(tok, "timeouts")) r->timeouts = v;
				else if (!strcmp(tok, "stalled_ms")) r->stalled_ms = v;
			}
			g->nrows++;
		}
		p += l + (eol ? 1 : 0);
	}
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct group_snap *)a)->name, ((const struct group_snap *)b)->name);
}

/* Read the mount: 0, or -errno when its stat cannot be read. */
static int take(const char *mount, char **only, int nonly, struct snap *s)
{
	char path[PATH_MAX + 128], *text;
	int rc;

	memset(s, 0, sizeof(*s));
	s->t = cli_now_s();
	snprintf(path, sizeof(path), "%s/stat", mount);
	rc = cli_read_file(path, &text, NULL);
	if (rc)
		return rc;
	s->nroot = cli_parse_kv(text, s->root, 32);
	free(text);

	snprintf(path, sizeof(path), "%s/groups", mount);
	DIR *d = opendir(path);
	if (!d)
		return -errno;
	int cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= sizeof(s->g->name))
			continue;
		if (nonly) {
			bool want = false;
			for (int i = 0; i < nonly; i++)
				want |= !strcmp(only[i], e->d_name);
			if (!want)
				continue;
		}
		if (s->ng == cap) {
			cap = cap ? cap * 2 : 8;
			struct group_snap *ng = realloc(s->g, (size_t)cap * sizeof(*ng));
			if (!ng) {
				closedir(d);
				return -ENOMEM;
			}
			s->g = ng;
		}
		struct group_snap *g = &s->g[s->ng];
		memset(g, 0, sizeof(*g));
		snprintf(g->name, sizeof(g->name), "%s", e->d_name);
		snprintf(path, sizeof(path), "%s/groups/%s/stat", mount, e->d_name);
		if (cli_read_file(path, &text, NULL))
			continue; /* removed meanwhile, or not ours to read */
		g->nkv = cli_parse_kv(text, g->kv, 96);
		free(text);
		snprintf(path, sizeof(path), "%s/groups/%s/members", mount, e->d_name);
		if (cli_read_file(path, &text, NULL) == 0) {
			parse_members(text, g);
			free(text);
		}
		s->ng++;
	}
	closedir(d);
	if (s->ng > 1)
		qsort(s->g, (size_t)s->ng, sizeof(*s->g), name_cmp);
	return 0;
}

static const struct group_snap *find_group(const struct snap *s, const char *name)
{
	for (int i = 0; s && i < s->ng; i++)
		if (!strcmp(s->g[i].name, name))
			return &s->g[i];
	return NULL;
}

static const struct rank_row *find_rank(const struct group_snap *g, int rank)
{
	for (int i = 0; g && i < g->nrows; i++)
		if (g->rows[i].rank == rank)
			return &g->rows[i];
	return NULL;
}

/* A count with a k/M/G suffix (powers of 1000), or bytes with Ki/Mi/Gi. */
static void human(char *out, size_t size, double v, bool bytes)
{
	static const char *const dec[] = { "", "k", "M", "G", "T", "P" };
	static const char *const bin[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double base = bytes ? 1024 : 1000;
	int i = 0;

	while (fabs(v) >= base * 0.9995 && i < 5) {
		v /= base;
		i++;
	}
	if (i == 0)
		snprintf(out, size, bytes ? "%.0f%s" : "%.0f%s", v, bytes ? bin[0] : dec[0]);
	else
		snprintf(out, size, "%.*f%s", v < 9.95 ? 1 : 0, v, bytes ? bin[i] : dec[i]);
}

/* Rate of a counter between two reads, formatted; "-" without a previous. */
static void rate(char *out, size_t size, bool have, uint64_t now, uint64_t before, double dt,
		 bool bytes)
{
	if (!have || dt <= 0) {
		snprintf(out, size, "-");
		return;
	}
	double r = now >= before ? (double)(now - before) / dt : 0; /* reset-stat: 0 */
	human(out, size, r, bytes);
	if (bytes) {
		size_t l = strlen(out);
		snprintf(out + l, size - l, "/s");
	}
}

/* The screen, as lines. */
struct screen {
	char **lines;
	int n, cap;
};

__attribute__((format(printf, 2, 3)))
static void line(struct screen *sc, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (sc->n == sc->cap) {
		int cap = sc->cap ? sc->cap * 2 : 64;
		char **nl = realloc(sc->lines, (size_t)cap * sizeof(*nl));
		if (!nl)
			return;
		sc->lines = nl;
		sc->cap = cap;
	}
	sc->lines[sc->n] = strdup(buf);
	if (sc->lines[sc->n])
		sc->n++;
}

static void uptime(char *out, size_t size, uint64_t s)
{
	if (s >= 86400)
		snprintf(out, size, "%llud%02lluh", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(out, size, "%lluh%02llum", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60));
	else
		snprintf(out, size, "%llum%02llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
}

static void build(struct screen *sc, const char *mount, const struct snap *s,
		  const struct snap *prev, double delay, bool keys)
{
	char up[32], clock[16];
	time_t now = time(NULL);
	struct tm tm;
	double dt = prev ? s->t - prev->t : 0;

	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	uptime(up, sizeof(up), cli_kv_u64(s->root, s->nroot, "uptime_s", 0));
	line(sc, "ipcfs top - %s - %s - up %s - %llu groups, %llu live members - every %gs%s",
	     mount, clock, up, (unsigned long long)cli_kv_u64(s->root, s->nroot, "groups", 0),
	     (unsigned long long)cli_kv_u64(s->root, s->nroot, "members", 0), delay,
	     keys ? " - q quits" : "");
	line(sc, "daemon: commands %llu, errors %llu",
	     (unsigned long long)cli_kv_u64(s->root, s->nroot, "commands", 0),
	     (unsigned long long)cli_kv_u64(s->root, s->nroot, "errors", 0));
	line(sc, "%s", "");
	line(sc, "%-16s %5s %8s %8s %10s %6s %7s %8s %8s %6s %17s %7s", "GROUP", "LIVE", "SENT/s",
	     "RECV/s", "BYTES/s", "LAG", "STALLS", "SLEEPS/s", "WAITS/s", "TMOUT", "ARENA", "BCASTS");
	if (!s->ng)
		line(sc, "(no groups)");
	for (int i = 0; i < s->ng; i++) {
		const struct group_snap *g = &s->g[i];
		const struct group_snap *pg = find_group(prev, g->name);
		char sent[16], recv[16], bytes[24], sleeps[16], waits[16], au[16], ab[16], arena[40];
#define V(k) cli_kv_u64(g->kv, g->nkv, k, 0)
#define P(k) (pg ? cli_kv_u64(pg->kv, pg->nkv, k, 0) : 0)
		rate(sent, sizeof(sent), pg, V("sent"), P("sent"), dt, false);
		rate(recv, sizeof(recv), pg, V("recv"), P("recv"), dt, false);
		rate(bytes, sizeof(bytes), pg, V("sent_bytes"), P("sent_bytes"), dt, true);
		rate(sleeps, sizeof(sleeps), pg, V("sleeps"), P("sleeps"), dt, false);
		rate(waits, sizeof(waits), pg, V("waits"), P("waits"), dt, false);
		if (V("arena_bytes")) {
			human(au, sizeof(au), (double)V("arena_used_bytes"), true);
			human(ab, sizeof(ab), (double)V("arena_bytes"), true);
			snprintf(arena, sizeof(arena), "%s/%s", au, ab);
		} else {
			snprintf(arena, sizeof(arena), "-");
		}
		char live[16];
		snprintf(live, sizeof(live), "%llu/%llu", (unsigned long long)V("live_members"),
			 (unsigned long long)V("ranks"));
		line(sc, "%-16.16s %5s %8s %8s %10s %6llu %7llu %8s %8s %6llu %17s %7llu", g->name,
		     live, sent, recv, bytes, (unsigned long long)V("lag"),
		     (unsigned long long)V("stalls"), sleeps, waits,
		     (unsigned long long)V("timeouts"), arena, (unsigned long long)V("bcasts"));
		/* GPU all-reduce counters, whatever the stat file has of them,
		 * once the group has made any such call. */
		char gpu[512] = "";
		size_t o = 0;
		bool used = false;
		for (int k = 0; k < g->nkv && o < sizeof(gpu); k++)
			if (!strncmp(g->kv[k].key, "allreduce", 9)) {
				o += (size_t)snprintf(gpu + o, sizeof(gpu) - o, " %s=%s",
						      g->kv[k].key, g->kv[k].val);
				used |= strcmp(g->kv[k].val, "0") != 0;
			}
		if (used)
			line(sc, "  gpu:%s", gpu);
		if (V("stalled_ranks"))
			line(sc, "  ! %llu rank(s) stalled longer than timeout_ms",
			     (unsigned long long)V("stalled_ranks"));
#undef V
#undef P
		if (g->nrows)
			line(sc, "  %4s %8s %5s %8s %8s %10s %10s %6s %7s %6s %9s", "RANK", "PID",
			     "STATE", "SENT/s", "RECV/s", "SENT_B/s", "RECV_B/s", "LAG", "STALLS",
			     "TMOUT", "STALLED");
		for (int r = 0; r < g->nrows; r++) {
			const struct rank_row *w = &g->rows[r];
			const struct rank_row *pw = find_rank(pg, w->rank);
			char rs[16], rr[16], rsb[24], rrb[24], stalled[24];
			rate(rs, sizeof(rs), pw, w->sent, pw ? pw->sent : 0, dt, false);
			rate(rr, sizeof(rr), pw, w->recv, pw ? pw->recv : 0, dt, false);
			rate(rsb, sizeof(rsb), pw, w->sent_bytes, pw ? pw->sent_bytes : 0, dt, true);
			rate(rrb, sizeof(rrb), pw, w->recv_bytes, pw ? pw->recv_bytes : 0, dt, true);
			if (w->stalled_ms)
				snprintf(stalled, sizeof(stalled), "%llums",
					 (unsigned long long)w->stalled_ms);
			else
				snprintf(stalled, sizeof(stalled), "-");
			line(sc, "  %4d %8d %5s %8s %8s %10s %10s %6llu %7llu %6llu %9s", w->rank,
			     w->pid, w->state, rs, rr, rsb, rrb, (unsigned long long)w->lag,
			     (unsigned long long)w->stalls, (unsigned long long)w->timeouts, stalled);
		}
	}
}

static void screen_free(struct screen *sc)
{
	for (int i = 0; i < sc->n; i++)
		free(sc->lines[i]);
	free(sc->lines);
	memset(sc, 0, sizeof(*sc));
}

static void snap_free(struct snap *s)
{
	free(s->g);
	s->g = NULL;
	s->ng = 0;
}

/* Draw @sc: on a terminal over the previous screen, cut to its size. */
static void draw(const struct screen *sc, bool tty, bool first)
{
	if (!tty) {
		if (!first)
			putchar('\n');
		for (int i = 0; i < sc->n; i++)
			printf("%s\n", sc->lines[i]);
		fflush(stdout);
		return;
	}
	struct winsize ws = { 0 };
	int rows = 24, cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	fputs(first ? "\033[?25l\033[H\033[2J" : "\033[H", stdout);
	int shown = sc->n <= rows - 1 ? sc->n : rows - 2;
	for (int i = 0; i < shown; i++) {
		/* Cut at the width: a wrapped line would scroll the screen. */
		printf("%.*s\033[K\n", cols - 1 > 0 ? cols - 1 : 1, sc->lines[i]);
	}
	if (shown < sc->n)
		printf("... %d more lines (a larger terminal shows them)\033[K\n", sc->n - shown);
	fputs("\033[J", stdout);
	fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "delay", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "mount", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mopt = NULL;
	double delay = 1;
	long long iters = -1;
	char mount[PATH_MAX];
	int o;

	while ((o = cli_getopt(argc, argv, "d:n:m:h", lopts)) != -1) {
		switch (o) {
		case 'd': {
			char *end;
			errno = 0;
			delay = strtod(optarg, &end);
			if (!*optarg || *end || errno || !(delay >= 0.1 && delay <= 3600))
				return cli_usage("--delay '%s': seconds, 0.1..3600", optarg);
			break;
		}
		case 'n':
			if (cli_long("--iterations", optarg, 1, INT32_MAX, &iters))
				return EXIT_USAGE;
			break;
		case 'm': mopt = optarg; break;
		case 'h': usage(); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	cli_mount(mopt, mount, sizeof(mount));
	char **only = argv + optind;
	int nonly = argc - optind;
	for (int i = 0; i < nonly; i++)
		if (!*only[i] || strchr(only[i], '/'))
			return cli_usage("'%s' is not a group name", only[i]);

	struct snap cur, prev = { 0 };
	int rc = take(mount, only, nonly, &cur);
	if (rc) {
		cli_err("read %s/stat: %s%s", mount, strerror(-rc),
			rc == -ENOENT ? " (no ipcfsd mounted there?)" : "");
		return EXIT_RUNTIME;
	}

	bool tty = isatty(STDOUT_FILENO), keys = isatty(STDIN_FILENO) && tty;
	struct termios saved;
	bool restore = false;
	struct sigaction sa = { 0 };
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
		struct termios raw = saved;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 1;
		raw.c_cc[VTIME] = 0;
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	} else {
		keys = false;
	}

	int ret = EXIT_OK;
	for (long long n = 0;; n++) {
		struct screen sc = { 0 };
		build(&sc, mount, &cur, n ? &prev : NULL, delay, keys);
		draw(&sc, tty, n == 0);
		screen_free(&sc);
		if (iters > 0 && n + 1 >= iters)
			break;
		/* Wait for the next refresh, a key, a resize or a signal. */
		double until = cli_now_s() + delay;
		bool redraw = false;
		while (!stop && !redraw) {
			double left = until - cli_now_s();
			if (left <= 0)
				break;
			struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
			int pr = poll(keys ? &pfd : NULL, keys ? 1 : 0, (int)(left * 1000) + 1);
			if (pr > 0) {
				char c;
				ssize_t r = read(STDIN_FILENO, &c, 1);
				if (r == 1 && (c == 'q' || c == 'Q'))
					stop = 1;
				else if (r == 1)
					redraw = true;
				else
					keys = false; /* EOF: no more keys, just wait */
			}
			if (winch) {
				winch = 0;
				redraw = true;
			}
		}
		if (stop)
			break;
		snap_free(&prev);
		prev = cur;
		rc = take(mount, only, nonly, &cur);
		if (rc) {
			cli_err("read %s/stat: %s", mount, strerror(-rc));
			cur = prev;
			prev = (struct snap){ 0 };
			ret = EXIT_RUNTIME;
			break;
		}
	}
	if (tty)
		fputs("\033[?25h", stdout);
	fflush(stdout);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	snap_free(&prev);
	snap_free(&cur);
	return ret;
}
