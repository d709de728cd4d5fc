/* SPDX-License-Identifier: MIT */
/*
 * proc_int.h - what /proc says of a process: its start time, which tells
 * a live process from a dead one whose pid was reused. The lowest layer
 * beside wait.c: the arena (its lock's holder), membership (a rank's
 * owner) and the daemon use it. Internal; not installed.
 */
#ifndef IPCFS_PROC_INT_H
#define IPCFS_PROC_INT_H

#include <stdint.h>
#include <sys/types.h>

/* Start time of process (or thread) @pid, clock ticks since boot
 * (/proc/PID/stat field 22); 0 if it does not exist, is a zombie or
 * @pid is not a pid. */
uint64_t proc_starttime(pid_t pid);

#endif
