/* SPDX-License-Identifier: MIT */
/*
 * proc_int.h - what /proc says of a process: its start time, which tells
 * a live process from a dead one whose pid was reused. The lowest layer
 * beside wait.c: the arena (its lock's holder), membership (a rank's
 * owner) and the daemon use it. Internal; not installed.
 */
#ifndef IPCFS_PROC_INT_H
#define IPCFS_PROC_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of process (or thread) @pid, clock ticks since boot
 * (/proc/PID/stat field 22); 0 if it does not exist, is a zombie or
 * @pid is not a pid. */
uint64_t proc_starttime(pid_t pid);

/* Start time of the calling thread (/proc/thread-self/stat). */
uint64_t proc_thread_starttime(void);

/* The PID namespace this process lives in (inode of /proc/self/ns/pid),
 * 0 if unknown (no /proc): pids and thread ids are comparable only
 * between processes of the same one. */
uint64_t proc_pidns(void);

/* Whether a pid of PID namespace @ns can be looked up here: @ns is ours
 * and our /proc is of it (not so in a namespace that kept the host's
 * /proc: our pids mean other processes there). */
bool proc_pid_visible(uint64_t ns);

#endif
