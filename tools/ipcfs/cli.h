/* SPDX-License-Identifier: MIT */
/*
 * cli.h - what the parts of the ipcfs command share: error reporting,
 * option and number parsing, the mount point and group paths, reading the
 * daemon's generated files and flat keyed text.
 *
 * Exit status of every subcommand: 0 success, 1 a runtime failure, 2 a
 * usage error (unknown option, bad value, missing argument).
 */
#ifndef IPCFS_CLI_H
#define IPCFS_CLI_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* "ipcfs stat", "ipcfs recv", ...: the prefix of every message. */
extern const char *cli_name;

/* One line "PREFIX: MESSAGE" on stderr. */
__attribute__((format(printf, 1, 2))) void cli_err(const char *fmt, ...);
/* A usage error: the line, a hint to --help; returns EXIT_USAGE. */
__attribute__((format(printf, 1, 2))) int cli_usage(const char *fmt, ...);

/*
 * getopt_long for a subcommand (argv[0] is its name), with messages in our
 * format: returns the option, -1 at the end, or -2 after reporting an
 * unknown option or a missing value (the caller returns EXIT_USAGE).
 */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);

/* Strict decimal integer in [min, max]; 0 or -1 (reported as a usage
 * error about option @what). */
int cli_long(const char *what, const char *s, long long min, long long max, long long *out);

/* The mount point: @opt (-m), else $IPCFS_MOUNT, else $XDG_RUNTIME_DIR/ipcfs,
 * else /run/ipcfs. */
void cli_mount(const char *opt, char *out, size_t size);

/* The directory of group @group: @group itself when it contains a '/',
 * else MOUNT/groups/GROUP. -1 (reported) if too long. */
int cli_group_dir(const char *mount, const char *group, char *out, size_t size);

/* Read a whole file into a NUL-terminated malloc'd buffer: 0 or -errno. */
int cli_read_file(const char *path, char **buf, size_t *len);

/* A flat keyed "KEY VALUE" file, parsed. */
struct kv {
	char key[64];
	char val[64];
};
/* Parse @text into at most @max pairs; returns how many. Lines that are
 * not "KEY VALUE" are skipped. */
int cli_parse_kv(const char *text, struct kv *out, int max);
/* Value of @key as a number, or @def. */
uint64_t cli_kv_u64(const struct kv *v, int n, const char *key, uint64_t def);

/* Append @s to @out as a JSON string, quotes included. */
void cli_json_str(char *out, size_t size, const char *s);

/* Monotonic clock, milliseconds and seconds. */
int64_t cli_now_ms(void);
double cli_now_s(void);

/* Subcommands. */
int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_recv(int argc, char **argv);
int cmd_bench(int argc, char **argv);

#endif
