/* SPDX-License-Identifier: MIT */
/*
 * bench.c - ipcfs bench bcast|payload|all: run the benchmark drivers of
 * `make bench` (tools/bench/run_bcast.sh, run_payload.sh) on the contender
 * binaries of a build directory, with a progress line on stderr.
 *
 * The drivers print their tables on stdout (passed through) and one line
 * per run on stderr ("bcast: ipcfs size=64 readers=1 iters=... ... ok").
 * On a terminal those lines become one status line rewritten in place
 * (runs done, failures, elapsed time, the run in progress); failures and
 * warnings stay on the screen. Elsewhere they are passed through as they
 * are, with a line every 30 s while one run takes long.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

static void usage(void)
{
	printf("usage: ipcfs bench [OPTIONS] bcast|payload|all\n\n"
	       "Run a benchmark of `make bench`: bcast (broadcast round trip of 64 B to\n"
	       "64 KiB against a cache-line ping-pong floor, MPI, ZeroMQ, Unix sockets:\n"
	       "tools/bench/run_bcast.sh) or payload (1-256 MiB payloads against memcpy\n"
	       "and the others: tools/bench/run_payload.sh), or both. Tables go to\n"
	       "stdout, raw JSON lines to RESULTS/bcast.jsonl and payload.jsonl,\n"
	       "progress to stderr. Build the contenders first (make bench does).\n\n"
	       "  -b, --build DIR      build directory holding bench/ (default: the\n"
	       "                       directory of this program when it has bench/,\n"
	       "                       else ./build)\n"
	       "  -s, --scripts DIR    where run_bcast.sh and run_payload.sh are (default:\n"
	       "                       $IPCFS_BENCH_SCRIPTS, else tools/bench next to the\n"
	       "                       build directory, else ./tools/bench)\n"
	       "  -o, --results DIR    results directory (default results)\n"
	       "  -S, --scale X        multiply the iteration counts (BENCH_SCALE; 0.1 for\n"
	       "                       a quick look)\n"
	       "      --sizes LIST     bcast payload sizes in bytes (BENCH_SIZES), or for\n"
	       "                       payload the sizes in MiB (PAYLOAD_SIZES_MIB)\n"
	       "      --readers LIST   reader counts (BENCH_READERS), e.g. \"1 3\"\n"
	       "      --pin LIST       bcast placements (BENCH_PIN): \"0 1\" (default) runs\n"
	       "                       every contender unpinned and pinned to CPUs\n"
	       "  -t, --timeout SEC    limit of one run (BENCH_TIMEOUT, default 300)\n"
	       "  -q, --quiet          no progress on stderr\n"
	       "  -h, --help           this help\n\n"
	       "Exit status: 0 every run succeeded, 1 a driver failed or a run failed\n"
	       "(its row says FAILED), 2 usage error.\n");
}

static bool is_dir(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Directory of this executable (/proc/self/exe), or "". */
static void exe_dir(char *out, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", out, size - 1);
	out[n > 0 ? n : 0] = 0;
	char *slash = strrchr(out, '/');
	if (slash)
		*slash = 0;
	else
		out[0] = 0;
}

struct progress {
	bool tty, quiet;
	double start, last_line;
	int done, failed;
	char cur[512];     /* the run in progress (a partial line) */
	size_t curlen;
	bool status_shown;
};

static void status(struct progress *p)
{
	if (p->quiet || !p->tty)
		return;
	int el = (int)(cli_now_s() - p->start);
	char cur[512];
	snprintf(cur, sizeof(cur), "%.*s", (int)p->curlen, p->cur);
	/* The driver's "... " tail adds nothing here. */
	size_t l = strlen(cur);
	while (l && (cur[l - 1] == ' ' || cur[l - 1] == '.'))
		cur[--l] = 0;
	char failed[32] = "";
	if (p->failed)
		snprintf(failed, sizeof(failed), ", %d failed", p->failed);
	fprintf(stderr, "\r\033[K%s: [%d done%s, %d:%02d] %.90s", cli_name, p->done, failed,
		el / 60, el % 60, cur);
	p->status_shown = true;
}

static void clear_status(struct progress *p)
{
	if (p->status_shown) {
		fputs("\r\033[K", stderr);
		p->status_shown = false;
	}
}

/* One complete line of the driver's stderr. */
static void driver_line(struct progress *p, const char *l)
{
	bool result = false, failed = strstr(l, "FAILED") != NULL;
	size_t n = strlen(l);

	if ((n >= 3 && !strcmp(l + n - 3, " ok")) || failed || strstr(l, "SKIPPED")) {
		result = true;
		p->done++;
		p->failed += failed;
	}
	if (p->quiet || !p->tty)
		return; /* counted; the bytes were passed through */
	clear_status(p);
	if (!result || failed)
		fprintf(stderr, "%s\n", l); /* warnings, failures: keep them */
}

/* Run @script BUILD RESULTS with the environment set; 0 or 1. */
static int run_driver(const char *name, const char *script, const char *build,
		      const char *results, struct progress *p)
{
	int pipefd[2];

	if (pipe2(pipefd, O_CLOEXEC)) {
		cli_err("pipe: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0) {
		cli_err("fork: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		execlp("bash", "bash", script, build, results, (char *)NULL);
		fprintf(stderr, "ipcfs bench: exec bash %s: %s\n", script, strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	int before = p->failed;
	p->curlen = 0;
	p->last_line = cli_now_s();
	for (;;) {
		struct pollfd pfd = { .fd = pipefd[0], .events = POLLIN };
		int pr = poll(&pfd, 1, 1000);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0) {
			/* Nothing for a second: refresh the clock, or say we live. */
			if (p->tty)
				status(p);
			else if (!p->quiet && cli_now_s() - p->last_line >= 30) {
				fprintf(stderr, "\n%s: still running (%d runs done, %.0f s)\n", cli_name,
					p->done, cli_now_s() - p->start);
				p->last_line = cli_now_s();
			}
			continue;
		}
		char buf[4096];
		ssize_t n = read(pipefd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		p->last_line = cli_now_s();
		if (!p->tty && !p->quiet)
			fwrite(buf, 1, (size_t)n, stderr); /* as it comes */
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				p->cur[p->curlen] = 0;
				driver_line(p, p->cur);
				p->curlen = 0;
			} else if (p->curlen < sizeof(p->cur) - 1) {
				p->cur[p->curlen++] = buf[i];
			}
		}
		status(p);
	}
	close(pipefd[0]);
	if (p->curlen) {
		p->cur[p->curlen] = 0;
		driver_line(p, p->cur);
		p->curlen = 0;
	}
	clear_status(p);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		if (WIFEXITED(st))
			cli_err("%s: %s exited with status %d", name, script, WEXITSTATUS(st));
		else
			cli_err("%s: %s killed by signal %d", name, script, WTERMSIG(st));
		return EXIT_RUNTIME;
	}
	if (p->failed > before) {
		cli_err("%s: %d run(s) failed (see %s/%s.log)", name, p->failed - before, results,
			name);
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

int cmd_bench(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "build", required_argument, NULL, 'b' },
		{ "scripts", required_argument, NULL, 's' },
		{ "results", required_argument, NULL, 'o' },
		{ "scale", required_argument, NULL, 'S' },
		{ "sizes", required_argument, NULL, 1 },
		{ "readers", required_argument, NULL, 2 },
		{ "pin", required_argument, NULL, 3 },
		{ "timeout", required_argument, NULL, 't' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *build = NULL, *scripts = getenv("IPCFS_BENCH_SCRIPTS"), *results = "results";
	const char *sizes = NULL, *readers = NULL;
	struct progress p = { 0 };
	char bbuf[PATH_MAX], sbuf[PATH_MAX + 32], path[PATH_MAX * 2];
	int o;

	if (scripts && !*scripts)
		scripts = NULL;
	while ((o = cli_getopt(argc, argv, "b:s:o:S:t:qh", lopts)) != -1) {
		switch (o) {
		case 'b': build = optarg; break;
		case 's': scripts = optarg; break;
		case 'o': results = optarg; break;
		case 'S': {
			char *end;
			double v = strtod(optarg, &end);
			if (!*optarg || *end || !(v > 0 && v <= 1000))
				return cli_usage("--scale '%s': a number above 0, at most 1000", optarg);
			setenv("BENCH_SCALE", optarg, 1);
			break;
		}
		case 1:
		case 2:
			for (const char *c = optarg; *c; c++)
				if ((*c < '0' || *c > '9') && *c != ' ' && *c != ',')
					return cli_usage("--%s '%s': numbers separated by spaces",
							 o == 1 ? "sizes" : "readers", optarg);
			if (o == 1)
				sizes = optarg;
			else
				readers = optarg;
			break;
		case 3:
			if (strcmp(optarg, "0") && strcmp(optarg, "1") && strcmp(optarg, "0 1") &&
			    strcmp(optarg, "1 0"))
				return cli_usage("--pin '%s': 0 (unpinned), 1 (pinned) or \"0 1\"",
						 optarg);
			setenv("BENCH_PIN", optarg, 1);
			break;
		case 't': {
			long long t;
			if (cli_long("--timeout", optarg, 1, 86400, &t))
				return EXIT_USAGE;
			setenv("BENCH_TIMEOUT", optarg, 1);
			break;
		}
		case 'q': p.quiet = true; break;
		case 'h': usage(); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage("which benchmark: bcast, payload or all");
	if (argc - optind > 1)
		return cli_usage("too many arguments ('%s')", argv[optind + 1]);
	const char *which = argv[optind];
	bool bcast = !strcmp(which, "bcast") || !strcmp(which, "all");
	bool payload = !strcmp(which, "payload") || !strcmp(which, "all");
	if (!bcast && !payload)
		return cli_usage("unknown benchmark '%s' (bcast, payload or all)", which);

	/* The build directory: given, this program's own, or ./build. */
	if (!build) {
		exe_dir(bbuf, sizeof(bbuf));
		snprintf(path, sizeof(path), "%s/bench", bbuf);
		build = bbuf[0] && is_dir(path) ? bbuf : "build";
	}
	if (!scripts) {
		snprintf(sbuf, sizeof(sbuf), "%s/../tools/bench", build);
		snprintf(path, sizeof(path), "%s/run_bcast.sh", sbuf);
		scripts = is_file(path) ? sbuf : "tools/bench";
	}
	snprintf(path, sizeof(path), "%s/bench", build);
	if (!is_dir(path)) {
		cli_err("no benchmark binaries: %s is not a directory (build them with make bench, "
			"or give --build DIR)", path);
		return EXIT_RUNTIME;
	}

	p.tty = isatty(STDERR_FILENO);
	p.start = cli_now_s();
	int ret = EXIT_OK;
	struct { const char *name, *script, *bin; bool on; } runs[] = {
		{ "bcast", "run_bcast.sh", "bcast_", bcast },
		{ "payload", "run_payload.sh", "payload_", payload },
	};
	for (size_t i = 0; i < 2; i++) {
		if (!runs[i].on)
			continue;
		char script[PATH_MAX * 2];
		snprintf(script, sizeof(script), "%s/%s", scripts, runs[i].script);
		if (!is_file(script)) {
			cli_err("%s: no driver %s: %s (give --scripts DIR%s)", runs[i].name, script,
				strerror(ENOENT),
				i == 1 ? "; the payload benchmark may not be in this tree yet" : "");
			ret = EXIT_RUNTIME;
			continue;
		}
		/* At least one contender, or the driver's own error. */
		bool any = false;
		static const char *const contenders[] = { "ipcfs", "floor", "memcpy", "mpi", "zmq", "unix" };
		for (size_t c = 0; c < sizeof(contenders) / sizeof(contenders[0]); c++) {
			snprintf(path, sizeof(path), "%s/bench/%s%s", build, runs[i].bin, contenders[c]);
			any |= access(path, X_OK) == 0;
		}
		if (!any) {
			cli_err("%s: no %s* contender in %s/bench (build them with make bench)",
				runs[i].name, runs[i].bin, build);
			ret = EXIT_RUNTIME;
			continue;
		}
		if (sizes)
			setenv(i == 0 ? "BENCH_SIZES" : "PAYLOAD_SIZES_MIB", sizes, 1);
		if (readers)
			setenv("BENCH_READERS", readers, 1);
		if (run_driver(runs[i].name, script, build, results, &p))
			ret = EXIT_RUNTIME;
		unsetenv("BENCH_SIZES");
		unsetenv("PAYLOAD_SIZES_MIB");
	}
	if (!p.quiet)
		fprintf(stderr, "%s: %d runs, %d failed, %.0f s; results in %s/\n", cli_name, p.done,
			p.failed, cli_now_s() - p.start, results);
	return ret;
}
