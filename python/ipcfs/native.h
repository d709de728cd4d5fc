/* SPDX-License-Identifier: MIT */
/*
 * native.h - what the files of the ipcfs._native extension share (the
 * objects, the errors, the interruptible waits). See _native.c for the design.
 */
#ifndef IPCFS_PY_NATIVE_H
#define IPCFS_PY_NATIVE_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <structmember.h>
#include <time.h>
#include <unistd.h>

#include "ipcfs.h"
#include "objmsg.h"

/* How often, at most, a wait checks Python's signals while it sleeps
 * (the library asks wait_interrupt() after every sleep a signal cuts short
 * and at least this often: ipcfs_set_interrupt(3)). */
#define SLICE_MS 50
/* How often a long wait looks for ranks whose process died. */
#define REAP_MS 100
/* Copies larger than this run with the GIL released. */
#define NOGIL_COPY 65536

/* A joined rank (native_member.c owns it). Every field is read and written
 * with the GIL held; m is used without it only while busy > 0. */
typedef struct {
	PyObject_HEAD
	struct ipcfs_member *m;    /* NULL once ipcfs_leave() ran */
	int rank, size;
	pid_t pid;                 /* the process that joined: a fork child's copy is not ours */
	int left;                  /* leave() called: no new operation */
	int busy;                  /* calls inside the library without the GIL */
	int rx_busy;               /* of which a receive: releases are deferred */
	Py_ssize_t held;           /* received messages not yet released */
	struct ipcfs_msg *deferred;
	Py_ssize_t ndeferred, capdeferred;
	pthread_t rx_thread;       /* the receiving thread, while rx_busy */
	uint64_t last_reap;        /* ms, CLOCK_MONOTONIC: wait_interrupt's last reap */
	struct ipcfs_params params;
	PyObject *dir;
	PyObject *weakrefs;
} MemberObject;

/* A received message (native_message.c owns it); fields under the GIL. */
typedef struct {
	PyObject_HEAD
	MemberObject *member;      /* strong: keeps the mapping */
	struct ipcfs_msg msg;
	Py_ssize_t exports;        /* live buffer exports (views) */
	int released;
	PyObject *weakrefs;
} MessageObject;


extern PyTypeObject MemberType, MessageType;
extern PyObject *IpcfsError, *IpcfsTimeoutError, *IpcfsBlockingError, *IpcfsBrokenPipeError,
	*IpcfsNotConnectedError, *IpcfsMessageTooLongError;
/* pickle.loads, the interned "buffers" and "release", ipcfs._arrays (set
 * at import). */
extern PyObject *pickle_loads, *str_buffers, *str_release, *arrays_fn;

/* Raise the ipcfs exception for @neg_errno (a negative errno) with the
 * sentence @fmt...; returns NULL. */
PyObject *raise_errno(int neg_errno, const char *fmt, ...);

/* ---- native_member.c ---- */
int member_usable(MemberObject *self);
/* Run a leave() deferred while calls or messages needed the mapping. */
void member_maybe_finish(MemberObject *self);
void member_release_msg(MemberObject *self, struct ipcfs_msg *msg);
int parse_dest(MemberObject *self, PyObject *to, uint64_t *out);
PyObject *ranks_text(uint64_t mask);
/* A wait (see member_wait()); WAIT_FAILED: a Python error is set. */
#define WAIT_FAILED INT_MIN
typedef int (*wait_op)(MemberObject *self, void *arg, int timeout_ms);
int member_wait(MemberObject *self, wait_op op, void *arg, int timeout_ms, int rx);
/* Let the library's waits for this member be interrupted (signals, leave). */
int member_set_interrupt(MemberObject *self);
MessageObject *member_recv_msg(MemberObject *self, int src, int timeout_ms);

/* ---- native_send.c ---- */
void *member_reserve(MemberObject *self, size_t len, int timeout_ms);
void *reserve_error(MemberObject *self, int rc, size_t len, int timeout_ms);
PyObject *commit_error(MemberObject *self, int rc, uint64_t dest);
void copy_out(MemberObject *self, void *dst, const void *src, size_t n);
PyObject *member_send(MemberObject *self, PyObject *args, PyObject *kw);
PyObject *member_send_pickled(MemberObject *self, PyObject *args);
PyObject *member_recv_obj(MemberObject *self, PyObject *args, PyObject *kw);
PyObject *message_loads(MessageObject *msg);

/* ---- native_typed.c ---- */
PyObject *message_fields(MessageObject *self, PyObject *unused);
PyObject *member_send_fields(MemberObject *self, PyObject *args);

#endif
