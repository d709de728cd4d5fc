/* SPDX-License-Identifier: MIT */
/*
 * main.c - the ipcfs command: dispatch to the subcommands and the helpers
 * they share (cli.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ipcfs.h"

const char *cli_name = "ipcfs";

static const struct {
	const char *name;
	int (*fn)(int, char **);
	const char *what;
} commands[] = {
	{ "stat", cmd_stat, "print the daemon's or a group's counters (text, JSON, Prometheus)" },
	{ "top", cmd_top, "live full-screen view of groups, ranks and rates" },
	{ "send", cmd_send, "join a group and send stdin (or a file) as messages" },
	{ "recv", cmd_recv, "join a group and write the messages received to stdout" },
	{ "bench", cmd_bench, "run the broadcast or large-payload benchmark" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void help(FILE *f)
{
	fprintf(f, "usage: ipcfs COMMAND [OPTIONS] [ARGS]\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-7s %s\n", commands[i].name, commands[i].what);
	fprintf(f, "\n'ipcfs COMMAND --help' describes one. Options of every command:\n"
		   "  -m, --mount DIR   the ipcfsd mount point (default: $IPCFS_MOUNT, else\n"
		   "                    $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs)\n"
		   "  -h, --help        help of the command\n\n"
		   "Exit status: 0 success, 1 runtime failure, 2 usage error.\n"
		   "ipcfs --version prints the version. See ipcfs(1), ipcfs(7).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "ipcfs: no command (see ipcfs --help)\n");
		return EXIT_USAGE;
	}
	const char *c = argv[1];
	if (!strcmp(c, "-h") || !strcmp(c, "--help")) {
		help(stdout);
		return EXIT_OK;
	}
	if (!strcmp(c, "-V") || !strcmp(c, "--version")) {
		printf("ipcfs %d.%d.%d abi %d\n", IPCFS_VERSION_MAJOR, IPCFS_VERSION_MINOR,
		       IPCFS_VERSION_PATCH, IPCFS_ABI);
		return EXIT_OK;
	}
	if (!strcmp(c, "help")) {
		if (argc < 3) {
			help(stdout);
			return EXIT_OK;
		}
		c = argv[2];
		for (size_t i = 0; i < N_COMMANDS; i++) {
			if (!strcmp(c, commands[i].name)) {
				static char name[64];
				char *hargv[] = { argv[2], (char *)"--help", NULL };
				snprintf(name, sizeof(name), "ipcfs %s", c);
				cli_name = name;
				return commands[i].fn(2, hargv);
			}
		}
		fprintf(stderr, "ipcfs help: unknown command '%s' (see ipcfs --help)\n", c);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (!strcmp(c, commands[i].name)) {
			static char name[64];
			snprintf(name, sizeof(name), "ipcfs %s", c);
			cli_name = name;
			return commands[i].fn(argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "ipcfs: unknown command '%s' (see ipcfs --help)\n", c);
	return EXIT_USAGE;
}

/* ---- helpers ------------------------------------------------------------- */

void cli_err(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fflush(stdout);
	fprintf(stderr, "%s: %s\n", cli_name, line);
}

int cli_usage(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s (see %s --help)\n", cli_name, line, cli_name);
	return EXIT_USAGE;
}

int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts)
{
	char opts[128];
	int o;

	/* A leading ':' makes a missing value ':' rather than '?'. */
	snprintf(opts, sizeof(opts), ":%s", shortopts);
	opterr = 0;
	o = getopt_long(argc, argv, opts, longopts, NULL);
	if (o == '?') {
		if (optopt)
			cli_usage("unknown option '-%c'", optopt);
		else
			cli_usage("unknown option '%s'", argv[optind - 1]);
		return -2;
	}
	if (o == ':') {
		const char *a = argv[optind - 1];
		if (!strncmp(a, "--", 2))
			cli_usage("option '%.*s' needs a value", (int)strcspn(a, "="), a);
		else if (optopt && optopt < 256 && strchr(shortopts, optopt))
			cli_usage("option '-%c' needs a value", optopt);
		else
			cli_usage("option '%s' needs a value", argv[optind - 1]);
		return -2;
	}
	return o;
}

int cli_long(const char *what, const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno) {
		cli_usage("%s '%s' is not a number", what, s);
		return -1;
	}
	if (v < min || v > max) {
		cli_usage("%s %lld out of range %lld..%lld", what, v, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

void cli_mount(const char *opt, char *out, size_t size)
{
	const char *e = getenv("IPCFS_MOUNT"), *xdg = getenv("XDG_RUNTIME_DIR");

	if (opt && *opt)
		snprintf(out, size, "%s", opt);
	else if (e && *e)
		snprintf(out, size, "%s", e);
	else if (xdg && *xdg)
		snprintf(out, size, "%s/ipcfs", xdg);
	else
		snprintf(out, size, "/run/ipcfs");
}

int cli_group_dir(const char *mount, const char *group, char *out, size_t size)
{
	int n;

	if (!*group)
		return cli_usage("the group name is empty"), -1;
	if (strchr(group, '/'))
		n = snprintf(out, size, "%s", group);
	else
		n = snprintf(out, size, "%s/groups/%s", mount, group);
	if (n < 0 || (size_t)n >= size) {
		cli_usage("group path too long");
		return -1;
	}
	return 0;
}

int cli_read_file(const char *path, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	int fd;

	if (!b)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(b);
		return -e;
	}
	for (;;) {
		if (cap - n < 2048) {
			char *nb = realloc(b, cap * 2);
			if (!nb) {
				close(fd);
				free(b);
				return -ENOMEM;
			}
			b = nb;
			cap *= 2;
		}
		ssize_t r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			close(fd);
			free(b);
			return -e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = 0;
	*buf = b;
	if (len)
		*len = n;
	return 0;
}

int cli_parse_kv(const char *text, struct kv *out, int max)
{
	int n = 0;

	for (const char *p = text; *p && n < max;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		const char *sp = memchr(p, ' ', l);
		if (sp && sp > p && (size_t)(sp - p) < sizeof(out->key) &&
		    l - (size_t)(sp - p) - 1 < sizeof(out->val) && l - (size_t)(sp - p) > 1) {
			memcpy(out[n].key, p, (size_t)(sp - p));
			out[n].key[sp - p] = 0;
			memcpy(out[n].val, sp + 1, l - (size_t)(sp - p) - 1);
			out[n].val[l - (size_t)(sp - p) - 1] = 0;
			n++;
		}
		p += l + (eol ? 1 : 0);
	}
	return n;
}

uint64_t cli_kv_u64(const struct kv *v, int n, const char *key, uint64_t def)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].key, key))
			return strtoull(v[i].val, NULL, 10);
	return def;
}

void cli_json_str(char *out, size_t size, const char *s)
{
	size_t o = strlen(out);

#define PUT(c) do { if (o + 1 < size) out[o++] = (c); } while (0)
	PUT('"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\') {
			PUT('\\');
			PUT((char)*p);
		} else if (*p < 0x20) {
			char esc[8];
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			for (char *e = esc; *e; e++)
				PUT(*e);
		} else {
			PUT((char)*p);
		}
	}
	PUT('"');
#undef PUT
	out[o < size ? o : size - 1] = 0;
}

int64_t cli_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double cli_now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
