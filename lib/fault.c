/* SPDX-License-Identifier: MIT */
/* fault.c - death points of the test build (see fault_int.h). */
#include "fault_int.h"

#ifdef IPCFS_FAULT_INJECT
#include <signal.h>
#include <stdlib.h>
#include <string.h>

void fault_point(const char *name)
{
	const char *want = getenv("IPCFS_FAULT");

	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fault_unused;
#endif
