/* SPDX-License-Identifier: MIT */
/*
 * replay.c - runs a libFuzzer target over files without libFuzzer, so
 * that `make check` replays each corpus and every past crash with the
 * ordinary compiler:  replay_TARGET FILE|DIR...
 *
 * An input that runs past LIMIT_S fails as a hang, as `make fuzz` judges
 * one (tests/fuzz/run.sh: -timeout=10), so that an input saved for being
 * slow fails here until what made it slow is fixed.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIMIT_S 10

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *current;

/* SIGALRM: the input in hand ran LIMIT_S seconds. Only async-signal-safe
 * calls here. */
static void hang(int sig)
{
	static const char what[] = ": ran past the replay's limit (a hang)\n";

	(void)sig;
	(void)!write(STDERR_FILENO, current, strlen(current));
	(void)!write(STDERR_FILENO, what, sizeof(what) - 1);
	_exit(1);
}

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;

	if (!f || fstat(fileno(f), &st) != 0) {
		perror(path);
		return 1;
	}
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
	fclose(f);
	if (!buf)
		return 1;
	current = path;
	alarm(LIMIT_S);
	LLVMFuzzerTestOneInput(buf, n);
	alarm(0);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned files = 0;
	int bad = 0;

	signal(SIGALRM, hang);
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) {
			perror(argv[i]);
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			bad |= run_file(argv[i]);
			files++;
			continue;
		}
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			char p[4096];
			if (e->d_name[0] == '.')
				continue;
			snprintf(p, sizeof(p), "%s/%s", argv[i], e->d_name);
			bad |= run_file(p);
			files++;
		}
		if (d)
			closedir(d);
	}
	printf("%u inputs replayed\n", files);
	return bad;
}
