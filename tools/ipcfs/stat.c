/* SPDX-License-Identifier: MIT */
/*
 * stat.c - ipcfs stat [GROUP]: the daemon-wide or a group's counters as
 * the flat keyed text of the stat file, one JSON object, or the Prometheus
 * text of the metrics file (for GROUP: only that group's samples).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(void)
{
	printf("usage: ipcfs stat [-m DIR] [--json | --prometheus] [GROUP]\n\n"
	       "Print the daemon-wide counters (MOUNT/stat) or those of GROUP\n"
	       "(MOUNT/groups/GROUP/stat; GROUP may also be a group directory path).\n\n"
	       "  -j, --json         one JSON object: the counters as numbers; for a\n"
	       "                     group also \"group\" and \"members\" (one object per\n"
	       "                     rank that ever joined, from the members file)\n"
	       "  -p, --prometheus   the Prometheus text of MOUNT/metrics (for GROUP,\n"
	       "                     only the samples labelled group=\"GROUP\")\n"
	       "  -m, --mount DIR    mount point (default $IPCFS_MOUNT, else\n"
	       "                     $XDG_RUNTIME_DIR/ipcfs, else /run/ipcfs)\n"
	       "  -h, --help         this help\n\n"
	       "Exit status: 0 success, 1 a file could not be read, 2 usage error.\n");
}

/* Whether @s is a JSON-safe integer (optional '-', digits, no leading 0). */
static bool is_int(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s || (s[0] == '0' && s[1]))
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static void json_value(const char *v)
{
	if (is_int(v)) {
		fputs(v, stdout);
	} else {
		char buf[256] = "";
		cli_json_str(buf, sizeof(buf), v);
		fputs(buf, stdout);
	}
}

static void json_key(const char *k, bool *first)
{
	char buf[256] = "";
	cli_json_str(buf, sizeof(buf), k);
	printf("%s%s:", *first ? "" : ",", buf);
	*first = false;
}

/* "RANK k=v k=v ..." lines as JSON objects. */
static void json_members(const char *text)
{
	bool first_line = true;

	putchar('[');
	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		char line[1024];
		if (l && l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = 0;
			char *save, *tok = strtok_r(line, " ", &save);
			bool first = true;
			printf("%s{", first_line ? "" : ",");
			first_line = false;
			json_key("rank", &first);
			json_value(tok);
			while ((tok = strtok_r(NULL, " ", &save))) {
				char *eq = strchr(tok, '=');
				if (!eq)
					continue;
				*eq = 0;
				json_key(tok, &first);
				json_value(eq + 1);
			}
			putchar('}');
		}
		p += l + (eol ? 1 : 0);
	}
	putchar(']');
}

/* The label value of group="..." in a sample line, into @out. */
static bool sample_group(const char *line, char *out, size_t size)
{
	const char *b = strchr(line, '{'), *g;
	if (!b)
		return false;
	g = strstr(b, "group=\"");
	if (!g)
		return false;
	g += 7;
	const char *e = strchr(g, '"');
	if (!e || (size_t)(e - g) >= size)
		return false;
	memcpy(out, g, (size_t)(e - g));
	out[e - g] = 0;
	return true;
}

/* Print the samples of @text labelled group="@name", each family's # HELP
 * and # TYPE lines before its first sample. */
static void filter_metrics(const char *text, const char *name)
{
	char help[4096] = "", type[4096] = "";
	bool shown = false;

	for (const char *p = text; *p;) {
		const char *eol = strchr(p, '\n');
		size_t l = eol ? (size_t)(eol - p) : strlen(p);
		char line[4096];
		if (l < sizeof(line)) {
			memcpy(line, p, l);
			line[l] = 0;
			char g[256];
			if (!strncmp(line, "# HELP ", 7)) {
				snprintf(help, sizeof(help), "%s", line);
				type[0] = 0;
				shown = false;
			} else if (!strncmp(line, "# TYPE ", 7)) {
				snprintf(type, sizeof(type), "%s", line);
			} else if (line[0] != '#' && sample_group(line, g, sizeof(g)) && !strcmp(g, name)) {
				if (!shown) {
					if (help[0])
						printf("%s\n", help);
					if (type[0])
						printf("%s\n", type);
					shown = true;
				}
				printf("%s\n", line);
			}
		}
		p += l + (eol ? 1 : 0);
	}
}

int cmd_stat(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "mount", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *mopt = NULL;
	bool json = false, prom = false;
	char mount[PATH_MAX], dir[PATH_MAX], path[PATH_MAX + 16];
	int o, rc;

	while ((o = cli_getopt(argc, argv, "jpm:h", lopts)) != -1) {
		switch (o) {
		case 'j': json = true; break;
		case 'p': prom = true; break;
		case 'm': mopt = optarg; break;
		case 'h': usage(); return EXIT_OK;
		default: return EXIT_USAGE;
		}
	}
	if (json && prom)
		return cli_usage("--json and --prometheus exclude each other");
	if (argc - optind > 1)
		return cli_usage("one group at most, not '%s' and '%s'", argv[optind], argv[optind + 1]);
	const char *group = optind < argc ? argv[optind] : NULL;
	cli_mount(mopt, mount, sizeof(mount));
	if (group && cli_group_dir(mount, group, dir, sizeof(dir)))
		return EXIT_USAGE;

	char *text = NULL;
	if (prom)
		snprintf(path, sizeof(path), "%s/metrics", mount);
	else if (group)
		snprintf(path, sizeof(path), "%s/stat", dir);
	else
		snprintf(path, sizeof(path), "%s/stat", mount);
	rc = cli_read_file(path, &text, NULL);
	if (rc) {
		cli_err("read %s: %s%s", path, strerror(-rc),
			rc == -ENOENT && group ? " (no such group, or no ipcfsd mounted there)"
			: rc == -ENOENT ? " (no ipcfsd mounted there?)" : "");
		return EXIT_RUNTIME;
	}
	if (prom) {
		if (group) {
			/* The label is the group's name: the last part of a path. */
			const char *name = strrchr(dir, '/');
			char gstat[PATH_MAX + 16], *probe;
			name = name ? name + 1 : dir;
			snprintf(gstat, sizeof(gstat), "%s/stat", dir);
			rc = cli_read_file(gstat, &probe, NULL);
			if (rc) {
				cli_err("read %s: %s", gstat, strerror(-rc));
				free(text);
				return EXIT_RUNTIME;
			}
			free(probe);
			filter_metrics(text, name);
		} else {
			fputs(text, stdout);
		}
	} else if (json) {
		struct kv kv[128];
		int n = cli_parse_kv(text, kv, 128);
		bool first = true;
		putchar('{');
		if (group) {
			const char *name = strrchr(dir, '/');
			json_key("group", &first);
			json_value(name ? name + 1 : dir);
		}
		for (int i = 0; i < n; i++) {
			json_key(kv[i].key, &first);
			json_value(kv[i].val);
		}
		if (group) {
			char mpath[PATH_MAX + 16], *mtext;
			snprintf(mpath, sizeof(mpath), "%s/members", dir);
			rc = cli_read_file(mpath, &mtext, NULL);
			if (rc) {
				cli_err("read %s: %s", mpath, strerror(-rc));
				free(text);
				return EXIT_RUNTIME;
			}
			json_key("members", &first);
			json_members(mtext);
			free(mtext);
		}
		printf("}\n");
	} else {
		fputs(text, stdout);
	}
	free(text);
	if (fflush(stdout) != 0) {
		cli_err("write to stdout: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}
