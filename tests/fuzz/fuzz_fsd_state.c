/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fsd_state.c - libFuzzer target: the daemon's state file parser
 * (fsd/state.c). Any input gives 0 or -EBADMSG; what it accepts formats
 * to a file that parses back to the same bytes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsd_state *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b));
	char why[FSD_WHY_MAX];
	unsigned skipped;
	size_t la, lb;

	if (!a || !b)
		abort();
	int rc = fsd_state_parse((const char *)data, size, a, &skipped, why, sizeof(why));
	if (rc != 0 && rc != -EBADMSG)
		abort();
	if (rc == 0) {
		char *fa = fsd_state_format(a, &la);
		if (!fa || fsd_state_parse(fa, la, b, &skipped, why, sizeof(why)) != 0 || skipped)
			abort();
		char *fb = fsd_state_format(b, &lb);
		if (!fb || la != lb || memcmp(fa, fb, la) != 0)
			abort();
		free(fa);
		free(fb);
		fsd_state_clear(a);
		fsd_state_clear(b);
	}
	free(a);
	free(b);
	return 0;
}
