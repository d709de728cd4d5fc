/* SPDX-License-Identifier: MIT */
/* fault.c - death points of the test build (see fault_int.h). */
#include "fault_int.h"

#ifdef IPCFS_FAULT_INJECT
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void (*fault_hook)(const char *name);

void fault_set_hook(void (*hook)(const char *name))
{
	fault_hook = hook;
}

/* $IPCFS_FAULT_GATE is "NAME:PATH": the point NAME waits while the file
 * PATH exists, so that a test holds a call there (a daemon re-creating a
 * segment) and looks at what else goes on meanwhile. */
static void gate(const char *name)
{
	const char *g = getenv("IPCFS_FAULT_GATE");
	const char *colon = g ? strchr(g, ':') : NULL;
	struct timespec nap = { 0, 10000000 };

	if (!colon || (size_t)(colon - g) != strlen(name) || strncmp(g, name, strlen(name)))
		return;
	while (access(colon + 1, F_OK) == 0)
		nanosleep(&nap, NULL);
}

void fault_point(const char *name)
{
	const char *want = getenv("IPCFS_FAULT");

	if (want && strcmp(want, name) == 0)
		raise(SIGKILL);
	gate(name);
	if (fault_hook)
		fault_hook(name);
}
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int fault_unused;
#endif
