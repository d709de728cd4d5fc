/* SPDX-License-Identifier: MIT */
/* fault.c - death points of the test build (see fault_int.h). */
#include "fault_int.h"

#ifdef IPCFS_FAULT_INJECT
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void (*fault_hook)(const char *name);

void fault_set_hook(void (*hook)(const char *name))
{
	fault_hook = hook;
}

void fault_point(const char *name)
{
	const char *want = getenv("IPCFS_FAULT");

	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
	if (fault_hook)
		fault_hook(name);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fault_unused;
#endif
