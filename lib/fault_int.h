/* SPDX-License-Identifier: MIT */
/*
 * fault_int.h - death points for tests. In the test build of the library
 * (-DIPCFS_FAULT_INJECT: build/tests/libipcfs-fault.a, never installed),
 * FAULT_POINT(name) kills the process with SIGKILL when $IPCFS_FAULT
 * names that point, so that a test can make a real process die at a
 * chosen instruction of the protocol; a test may also set a hook, called
 * at every point with its name, to act inside a call (mark a peer gone at
 * the worst moment), or hold a point while a file exists
 * ($IPCFS_FAULT_GATE=NAME:PATH). In every other build it is nothing.
 */
#ifndef IPCFS_FAULT_INT_H
#define IPCFS_FAULT_INT_H

#ifdef IPCFS_FAULT_INJECT
void fault_point(const char *name);
void fault_set_hook(void (*hook)(const char *name));
#define FAULT_POINT(name) fault_point(name)
#else
#define FAULT_POINT(name) ((void)0)
#endif

#endif
