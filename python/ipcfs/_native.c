/* SPDX-License-Identifier: MIT */
/*
 * _native.c - the hot path of the ipcfs Python package, against the
 * CPython API and the public libipcfs interface (ipcfs.h) only.
 *
 * Lifetimes (why the objects hold what they hold):
 *   Member   one joined rank. leave() stops new operations at once, but the
 *            ipcfs_leave() (which unmaps the segment) waits until no message
 *            is held and no call is blocked with the GIL released.
 *   Message  one received view. It holds a reference to its Member (so the
 *            mapping outlives it) and exports its bytes through the buffer
 *            protocol; every memoryview, numpy array or tensor made from it
 *            holds it through that export. release() with exports alive
 *            raises BufferError; the message goes back to the group when
 *            it is released or when its last reference (view) is gone.
 *
 * Waits (receive, reserve, wait for ranks) run in slices of SLICE_MS with
 * the GIL released; between slices, signal handlers run
 * (PyErr_CheckSignals), so Ctrl-C interrupts a wait within a slice and a
 * message not yet returned stays queued in the group.
 *
 * Threads: every field of Member and Message is read and written with the
 * GIL held. A Message released by another thread while the Member's
 * receiving thread is inside the library (rx_busy) is queued in `deferred`
 * and handed back by that thread when its slice ends, as ipcfs.h allows
 * one receiving thread per member.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <limits.h>
#include <structmember.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "ipcfs.h"
#include "objmsg.h"

/* Longest time a wait keeps the GIL released before signals are checked. */
#define SLICE_MS 50
/* How often a long wait looks for ranks whose process died (as the
 * library's own waits do). */
#define REAP_MS 100
/* Copies larger than this run with the GIL released. */
#define NOGIL_COPY 65536

static PyObject *IpcfsError, *IpcfsTimeoutError, *IpcfsBlockingError, *IpcfsBrokenPipeError,
	*IpcfsNotConnectedError, *IpcfsMessageTooLongError;
static PyObject *pickle_loads, *str_buffers;
/* ipcfs._arrays(msg): numpy views of a typed message's fields. */
static PyObject *arrays_fn;

/* ---- errors ---------------------------------------------------------------- */

/* Raise the ipcfs exception for @neg_errno (a negative errno) with the
 * sentence @fmt...; returns NULL. */
static PyObject *raise_errno(int neg_errno, const char *fmt, ...)
{
	int e = -neg_errno;
	PyObject *cls = IpcfsError, *text, *exc;
	va_list ap;

	switch (e) {
	case ETIMEDOUT: cls = IpcfsTimeoutError; break;
	case EAGAIN: cls = IpcfsBlockingError; break;
	case EPIPE: cls = IpcfsBrokenPipeError; break;
	case ENOTCONN: cls = IpcfsNotConnectedError; break;
	case EMSGSIZE: case ENOMEM: cls = IpcfsMessageTooLongError; break;
	}
	va_start(ap, fmt);
	text = PyUnicode_FromFormatV(fmt, ap);
	va_end(ap);
	if (!text)
		return NULL;
	exc = PyObject_CallFunction(cls, "iO", e, text);
	Py_DECREF(text);
	if (exc) {
		PyErr_SetObject(cls, exc);
		Py_DECREF(exc);
	}
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- Member ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	struct ipcfs_member *m;    /* NULL once ipcfs_leave() ran */
	int rank, size;
	int left;                  /* leave() called: no new operation */
	int busy;                  /* calls inside the library without the GIL */
	int rx_busy;               /* of which a receive: releases are deferred */
	Py_ssize_t held;           /* received messages not yet released */
	struct ipcfs_msg *deferred;
	Py_ssize_t ndeferred, capdeferred;
	struct ipcfs_params params;
	PyObject *dir;
	PyObject *weakrefs;
} MemberObject;

typedef struct {
	PyObject_HEAD
	MemberObject *member;      /* strong: keeps the mapping */
	struct ipcfs_msg msg;
	Py_ssize_t exports;        /* live buffer exports (views) */
	int released;
	PyObject *weakrefs;
} MessageObject;

static PyTypeObject MemberType, MessageType;

/* Run the deferred ipcfs_leave() when nothing needs the mapping any more. */
static void member_maybe_finish(MemberObject *self)
{
	if (self->left && self->m && !self->busy && !self->held) {
		struct ipcfs_member *m = self->m;
		self->m = NULL;
		Py_BEGIN_ALLOW_THREADS
		ipcfs_leave(m);
		Py_END_ALLOW_THREADS
	}
}

static void member_drain_deferred(MemberObject *self)
{
	for (Py_ssize_t i = 0; i < self->ndeferred; i++)
		ipcfs_release(self->m, &self->deferred[i]);
	self->ndeferred = 0;
}

/* Hand a message back to the group (or queue it while another thread is
 * receiving through the member). */
static void member_release_msg(MemberObject *self, struct ipcfs_msg *msg)
{
	if (self->rx_busy) {
		if (self->ndeferred == self->capdeferred) {
			Py_ssize_t cap = self->capdeferred ? self->capdeferred * 2 : 8;
			struct ipcfs_msg *d = PyMem_Realloc(self->deferred, cap * sizeof(*d));
			if (!d) {
				/* Cannot queue it: leave the view held; the group
				 * gets it back at ipcfs_leave(). */
				self->held--;
				return;
			}
			self->deferred = d;
			self->capdeferred = cap;
		}
		self->deferred[self->ndeferred++] = *msg;
	} else {
		ipcfs_release(self->m, msg);
	}
	self->held--;
	member_maybe_finish(self);
}

static int member_usable(MemberObject *self)
{
	if (!self->m || self->left) {
		raise_errno(-ENOTCONN, "rank %d has left the group %R: join it again to send or receive",
			    self->rank, self->dir ? self->dir : Py_None);
		return 0;
	}
	return 1;
}

static int member_init(MemberObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"path", "rank", NULL};
	PyObject *path;
	int rank = -1, rc;
	struct ipcfs_member *m = NULL;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|i", kwlist, PyUnicode_FSConverter, &path, &rank))
		return -1;
	if (self->m) {
		Py_DECREF(path);
		PyErr_SetString(PyExc_RuntimeError, "Member already initialized");
		return -1;
	}
	const char *p = PyBytes_AS_STRING(path);
	Py_BEGIN_ALLOW_THREADS
	rc = ipcfs_join(p, rank, &m);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		const char *why = rc == -ENOENT ? "no group there (create it with ipcfs.create_group() or mkdir in the mount)"
			: rc == -EBUSY ? (rank < 0 ? "every rank is taken by a live process" : "that rank is held by a live process")
			: rc == -EINVAL ? "the rank is out of range for the group"
			: rc == -EPROTO ? "the segment was made by another version of libipcfs"
			: rc == -EBADMSG ? "the segment is corrupt" : strerror(-rc);
		raise_errno(rc, "join %s as rank %d: %s", p, rank, why);
		Py_DECREF(path);
		return -1;
	}
	self->m = m;
	self->rank = rc;
	self->size = ipcfs_size(m);
	ipcfs_group_params(m, &self->params);
	self->dir = PyUnicode_DecodeFSDefault(p);
	Py_DECREF(path);
	return self->dir ? 0 : -1;
}

static void member_dealloc(MemberObject *self)
{
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* No Message refers to us any more (each holds a reference), and no
	 * call is in flight (it holds one too): leave now. */
	if (self->m) {
		member_drain_deferred(self);
		ipcfs_leave(self->m);
		self->m = NULL;
	}
	PyMem_Free(self->deferred);
	Py_XDECREF(self->dir);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *member_leave(MemberObject *self, PyObject *unused)
{
	(void)unused;
	self->left = 1;
	member_maybe_finish(self);
	Py_RETURN_NONE;
}

/* A destination: None or ALL, a rank, or an iterable of ranks. */
static int parse_dest(MemberObject *self, PyObject *to, uint64_t *out)
{
	if (to == Py_None) {
		*out = IPCFS_ALL;
		return 1;
	}
	if (PyLong_Check(to)) {
		int overflow;
		long long v = PyLong_AsLongLongAndOverflow(to, &overflow);
		if (overflow > 0 || v == -1) {
			unsigned long long u = PyLong_AsUnsignedLongLong(to);
			if (u == IPCFS_ALL) {
				*out = IPCFS_ALL;
				return 1;
			}
			PyErr_Clear();
		} else if (!PyErr_Occurred() && v >= 0 && v < self->size) {
			*out = IPCFS_RANK_BIT(v);
			return 1;
		}
		PyErr_Clear();
		raise_errno(-EINVAL, "destination %R is not a rank of the group (0..%d) nor ipcfs.ALL",
			    to, self->size - 1);
		return 0;
	}
	PyObject *it = PyObject_GetIter(to), *item;
	uint64_t mask = 0;
	if (!it)
		return 0;
	while ((item = PyIter_Next(it))) {
		long v = PyLong_AsLong(item);
		if ((v == -1 && PyErr_Occurred()) || v < 0 || v >= self->size) {
			PyErr_Clear();
			raise_errno(-EINVAL, "destination rank %R is not a rank of the group (0..%d)", item,
				    self->size - 1);
			Py_DECREF(item);
			Py_DECREF(it);
			return 0;
		}
		mask |= IPCFS_RANK_BIT(v);
		Py_DECREF(item);
	}
	Py_DECREF(it);
	if (PyErr_Occurred())
		return 0;
	*out = mask;
	return 1;
}

/* Append ", "-separated rank numbers of @mask to a new str. */
static PyObject *ranks_text(uint64_t mask)
{
	char buf[64 * 4 + 8];
	size_t n = 0;
	buf[0] = '\0';
	for (int r = 0; r < 64; r++)
		if (mask >> r & 1)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%d", n ? ", " : "", r);
	return PyUnicode_FromString(n ? buf : "none");
}

/*
 * Run @op (a library wait with a timeout) in slices with the GIL released,
 * checking signals in between, until it returns something other than
 * -ETIMEDOUT/-EAGAIN or @timeout_ms (-1: for ever) passes. Returns the
 * library's result, or INT_MIN when a signal handler raised (the Python
 * error is set) or the member left meanwhile (ENOTCONN set).
 */
#define SLICED_FAILED INT_MIN
typedef int (*wait_op)(MemberObject *self, void *arg, int slice_ms);

static int sliced(MemberObject *self, wait_op op, void *arg, int timeout_ms, int rx)
{
	int rc = op(self, arg, 0); /* the fast path: no system call, GIL kept */
	if (rc != -EAGAIN || timeout_ms == 0)
		return rc;
	uint64_t start = now_ms(), last_reap = start;
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : start + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline)
			return -ETIMEDOUT;
		int slice = deadline - now < SLICE_MS ? (int)(deadline - now) : SLICE_MS;
		/* The library looks for dead ranks only after 100 ms of one
		 * wait, which a slice never reaches: look here, as often. */
		int reap = now - last_reap >= REAP_MS;
		if (reap)
			last_reap = now;
		self->busy++;
		self->rx_busy += rx;
		Py_BEGIN_ALLOW_THREADS
		if (reap)
			ipcfs_reap(self->m, NULL);
		rc = op(self, arg, slice);
		Py_END_ALLOW_THREADS
		self->busy--;
		self->rx_busy -= rx;
		if (rx && !self->rx_busy)
			member_drain_deferred(self);
		if (rc != -ETIMEDOUT && rc != -EAGAIN)
			return rc;
		/* Nothing was taken from the group in this slice: a handler
		 * that raises loses nothing. */
		if (PyErr_CheckSignals() < 0) {
			member_maybe_finish(self);
			return SLICED_FAILED;
		}
		if (self->left) {
			member_maybe_finish(self);
			raise_errno(-ENOTCONN, "rank %d left the group while waiting", self->rank);
			return SLICED_FAILED;
		}
	}
}

struct recv_arg {
	int src;
	struct ipcfs_msg *msg;
};

static int op_recv(MemberObject *self, void *arg, int slice_ms)
{
	struct recv_arg *a = arg;
	return ipcfs_recv(self->m, a->src, a->msg, slice_ms);
}

/* Receive one message into a new Message object, or NULL with an error. */
static MessageObject *member_recv_msg(MemberObject *self, int src, int timeout_ms)
{
	MessageObject *msg;
	struct ipcfs_msg raw;
	struct recv_arg a = {src, &raw};

	if (!member_usable(self))
		return NULL;
	if (src != IPCFS_ANY && src != IPCFS_SRC_CTL && (src < 0 || src >= self->size)) {
		raise_errno(-EINVAL, "recv: source %d is not a rank of the group (0..%d), ipcfs.ANY nor ipcfs.SRC_CTL",
			    src, self->size - 1);
		return NULL;
	}
	/* Allocated first: a message once taken from the group is never
	 * lost to a failed allocation. */
	msg = PyObject_New(MessageObject, &MessageType);
	if (!msg)
		return NULL;
	msg->member = NULL;
	msg->exports = 0;
	msg->released = 1;
	msg->weakrefs = NULL;
	int rc = sliced(self, op_recv, &a, timeout_ms, 1);
	if (rc < 0) {
		Py_DECREF(msg);
		if (rc == SLICED_FAILED)
			return NULL;
		char from[32];
		if (src == IPCFS_ANY)
			snprintf(from, sizeof(from), "any rank");
		else
			snprintf(from, sizeof(from), "rank %d", src);
		switch (-rc) {
		case ETIMEDOUT:
			return (MessageObject *)raise_errno(rc, "recv from %s: no message within %d ms", from, timeout_ms);
		case EAGAIN:
			return (MessageObject *)raise_errno(rc, "recv from %s: no message pending (timeout_ms=0)", from);
		case EPIPE:
			return (MessageObject *)raise_errno(rc, "recv from %s: the sender has died or left and nothing more is pending", from);
		case EBADMSG:
			return (MessageObject *)raise_errno(rc, "recv from %s: a corrupt slot header was found and its message skipped; receive again", from);
		default:
			return (MessageObject *)raise_errno(rc, "recv from %s: %s", from, strerror(-rc));
		}
	}
	Py_INCREF(self);
	msg->member = self;
	msg->msg = raw;
	msg->released = 0;
	self->held++;
	return msg;
}

static PyObject *member_recv(MemberObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"src", "timeout_ms", NULL};
	int src = IPCFS_ANY, timeout_ms = -1;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|ii", kwlist, &src, &timeout_ms))
		return NULL;
	return (PyObject *)member_recv_msg(self, src, timeout_ms);
}

struct reserve_arg {
	size_t len;
	void *buf;
};

static int op_reserve(MemberObject *self, void *arg, int slice_ms)
{
	struct reserve_arg *a = arg;
	return ipcfs_reserve(self->m, a->len, &a->buf, slice_ms);
}

static void *reserve_error(MemberObject *self, int rc, size_t len, int timeout_ms);

/* Reserve @len bytes; NULL with the error set. */
static void *member_reserve(MemberObject *self, size_t len, int timeout_ms)
{
	struct reserve_arg a = {len, NULL};
	int rc = sliced(self, op_reserve, &a, timeout_ms, 0);
	if (rc >= 0)
		return a.buf;
	if (rc == SLICED_FAILED)
		return NULL;
	return reserve_error(self, rc, len, timeout_ms);
}

/* Raise the error of a reservation of @len bytes that returned @rc. */
static void *reserve_error(MemberObject *self, int rc, size_t len, int timeout_ms)
{
	const struct ipcfs_params *p = &self->params;
	switch (-rc) {
	case EMSGSIZE:
		return raise_errno(rc,
			"a message of %zu bytes does not fit: the group's slot_bytes is %u and its arena_bytes is 0 "
			"(no arena); create the group with arena_bytes of at least %zu "
			"(ipcfs.create_group(dir, arena_bytes=...) or `echo N > arena_bytes` in a mounted group), "
			"or slot_bytes of at least %zu", len, (unsigned)p->slot_bytes, len + 64,
			(len + 63) / 64 * 64);
	case ENOMEM:
		return raise_errno(rc,
			"a message of %zu bytes does not fit: larger than slot_bytes (%u) and than the group's whole "
			"arena (arena_bytes %llu, less a 64-byte header); create the group with arena_bytes of at least %zu",
			len, (unsigned)p->slot_bytes, (unsigned long long)p->arena_bytes, len + 64);
	case ETIMEDOUT:
		return raise_errno(rc,
			"send of %zu bytes: no room within %d ms (a reader still holds the slot or arena space; "
			"see its lag in stat, or release its messages and views)", len, timeout_ms);
	case EAGAIN:
		return raise_errno(rc, "send of %zu bytes: no room now (timeout_ms=0)", len);
	default:
		return raise_errno(rc, "reserve %zu bytes: %s", len, strerror(-rc));
	}
}

static PyObject *commit_error(MemberObject *self, int rc, uint64_t dest)
{
	if (rc == -ENOTCONN) {
		uint64_t live = 0;
		ipcfs_live(self->m, &live);
		live &= ~IPCFS_RANK_BIT(self->rank);
		PyObject *miss = ranks_text(dest == IPCFS_ALL ? 0 : dest & ~live);
		PyObject *liv = ranks_text(live);
		if (dest == IPCFS_ALL)
			raise_errno(rc, "send to all: no other rank is live (live: %S); wait_ranks() first", liv);
		else
			raise_errno(rc, "send: rank(s) %S of the destination are not live (live: %S); wait_ranks() first",
				    miss, liv);
		Py_XDECREF(miss);
		Py_XDECREF(liv);
		return NULL;
	}
	return raise_errno(rc, "commit: %s (the destination holds the sender or ranks outside the group?)",
			   strerror(-rc));
}

/* Copy @n bytes; large copies without the GIL (the source is held by a
 * buffer export, the destination is our reservation). */
static void copy_out(void *dst, const void *src, size_t n)
{
	if (n >= NOGIL_COPY) {
		Py_BEGIN_ALLOW_THREADS
		memcpy(dst, src, n);
		Py_END_ALLOW_THREADS
	} else if (n) {
		memcpy(dst, src, n);
	}
}

static PyObject *member_send(MemberObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"data", "to", "timeout_ms", NULL};
	PyObject *to = Py_None;
	int timeout_ms = -1, rc;
	Py_buffer view;
	uint64_t dest;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "y*|Oi", kwlist, &view, &to, &timeout_ms))
		return NULL;
	if (!member_usable(self) || !parse_dest(self, to, &dest))
		goto fail;
	void *buf = member_reserve(self, (size_t)view.len, timeout_ms);
	if (!buf)
		goto fail;
	/* One copy, straight from the caller's buffer into shared memory. */
	copy_out(buf, view.buf, (size_t)view.len);
	rc = ipcfs_commit(self->m, dest, (size_t)view.len);
	PyBuffer_Release(&view);
	if (rc < 0)
		return commit_error(self, rc, dest);
	Py_RETURN_NONE;
fail:
	PyBuffer_Release(&view);
	return NULL;
}

/*
 * _send_pickled(stream, buffers, to, timeout_ms): one object message (see
 * objmsg.h): the pickle stream and every out-of-band buffer copied once,
 * straight into the reserved slot or arena block.
 */
static PyObject *member_send_pickled(MemberObject *self, PyObject *args)
{
	PyObject *stream_obj, *buffers, *to = Py_None;
	int timeout_ms = -1, rc;
	Py_buffer stream;
	Py_buffer *views = NULL;
	Py_ssize_t nbuf = 0, got = 0;
	uint64_t dest;
	PyObject *ret = NULL;

	if (!PyArg_ParseTuple(args, "OO!|Oi", &stream_obj, &PyList_Type, &buffers, &to, &timeout_ms))
		return NULL;
	if (PyObject_GetBuffer(stream_obj, &stream, PyBUF_SIMPLE) < 0)
		return NULL;
	if (!member_usable(self) || !parse_dest(self, to, &dest))
		goto out;
	nbuf = PyList_GET_SIZE(buffers);
	if (nbuf > OBJMSG_MAX_BUFFERS) {
		raise_errno(-E2BIG, "send_obj: %zd out-of-band buffers, at most %d in one message", nbuf,
			    OBJMSG_MAX_BUFFERS);
		goto out;
	}
	views = PyMem_Calloc(nbuf ? (size_t)nbuf : 1, sizeof(*views));
	if (!views) {
		PyErr_NoMemory();
		goto out;
	}
	size_t total = objmsg_data_off((uint32_t)nbuf, (uint64_t)stream.len);
	for (; got < nbuf; got++) {
		if (PyObject_GetBuffer(PyList_GET_ITEM(buffers, got), &views[got], PyBUF_FULL_RO) < 0)
			goto out;
		total = objmsg_align(total) + (size_t)views[got].len;
	}
	unsigned char *base = member_reserve(self, total, timeout_ms);
	if (!base)
		goto out;
	struct objmsg_hdr h = {OBJMSG_MAGIC, (uint32_t)nbuf, (uint64_t)stream.len};
	memcpy(base, &h, sizeof(h));
	size_t off = objmsg_data_off((uint32_t)nbuf, (uint64_t)stream.len);
	memcpy(base + objmsg_stream_off((uint32_t)nbuf), stream.buf, (size_t)stream.len);
	for (Py_ssize_t i = 0; i < nbuf; i++) {
		off = objmsg_align(off);
		struct objmsg_buf b = {off, (uint64_t)views[i].len};
		memcpy(base + sizeof(h) + (size_t)i * sizeof(b), &b, sizeof(b));
		if (PyBuffer_IsContiguous(&views[i], 'A')) {
			copy_out(base + off, views[i].buf, (size_t)views[i].len);
		} else if (PyBuffer_ToContiguous(base + off, &views[i], views[i].len, 'A') < 0) {
			goto out; /* reservation stays unpublished: reused next time */
		}
		off += (size_t)views[i].len;
	}
	rc = ipcfs_commit(self->m, dest, total);
	if (rc < 0) {
		commit_error(self, rc, dest);
		goto out;
	}
	ret = Py_None;
	Py_INCREF(ret);
out:
	for (Py_ssize_t i = 0; i < got; i++)
		PyBuffer_Release(&views[i]);
	PyMem_Free(views);
	PyBuffer_Release(&stream);
	return ret;
}

/* memoryview of bytes [off, off+len) of @base (a memoryview of a message). */
static PyObject *mv_slice(PyObject *base, uint64_t off, uint64_t len)
{
	PyObject *lo = PyLong_FromUnsignedLongLong(off), *hi = PyLong_FromUnsignedLongLong(off + len);
	PyObject *sl = lo && hi ? PySlice_New(lo, hi, NULL) : NULL, *r = NULL;
	if (sl)
		r = PyObject_GetItem(base, sl);
	Py_XDECREF(lo);
	Py_XDECREF(hi);
	Py_XDECREF(sl);
	return r;
}

/*
 * Decode the object message @msg: check a copy of its header and buffer
 * table, then pickle.loads(stream, buffers=[read-only views]). The views
 * keep @msg held; the stream's view is released before returning.
 */
static PyObject *message_loads(MessageObject *msg)
{
	const unsigned char *p = msg->msg.data;
	size_t len = msg->msg.len;
	struct objmsg_hdr h;
	PyObject *base = NULL, *stream = NULL, *bufs = NULL, *ret = NULL, *kw = NULL;

	if (len < sizeof(h))
		goto bad;
	memcpy(&h, p, sizeof(h)); /* the checked copy: used from here on */
	if (h.magic != OBJMSG_MAGIC || h.nbuf > OBJMSG_MAX_BUFFERS ||
	    objmsg_stream_off(h.nbuf) > len || h.stream_len > len - objmsg_stream_off(h.nbuf))
		goto bad;
	uint64_t lo = objmsg_data_off(h.nbuf, h.stream_len);
	base = PyMemoryView_FromObject((PyObject *)msg);
	if (!base)
		return NULL;
	bufs = PyList_New(h.nbuf);
	if (!bufs)
		goto out;
	for (uint32_t i = 0; i < h.nbuf; i++) {
		struct objmsg_buf b;
		memcpy(&b, p + sizeof(h) + (size_t)i * sizeof(b), sizeof(b));
		if (b.off < lo || b.off > len || b.len > len - b.off) {
			Py_CLEAR(bufs);
			Py_CLEAR(base);
			goto bad;
		}
		PyObject *v = mv_slice(base, b.off, b.len);
		if (!v)
			goto out;
		PyList_SET_ITEM(bufs, i, v);
	}
	stream = mv_slice(base, objmsg_stream_off(h.nbuf), h.stream_len);
	Py_CLEAR(base);
	if (!stream)
		goto out;
	kw = PyDict_New();
	if (!kw || PyDict_SetItem(kw, str_buffers, bufs) < 0)
		goto out;
	PyObject *a = PyTuple_Pack(1, stream);
	if (!a)
		goto out;
	ret = PyObject_Call(pickle_loads, a, kw);
	Py_DECREF(a);
out:
	if (stream) {
		PyObject *r = PyObject_CallMethod(stream, "release", NULL);
		if (!r)
			PyErr_Clear(); /* someone kept an export of the stream: it stays held */
		Py_XDECREF(r);
	}
	Py_XDECREF(stream);
	Py_XDECREF(bufs);
	Py_XDECREF(base);
	Py_XDECREF(kw);
	return ret;
bad:
	return raise_errno(-EBADMSG,
		"recv_obj: the message from rank %d (seq %llu, %zu bytes) is not an object message made by "
		"send_obj(), or its header is corrupt; receive it with recv() instead", msg->msg.src,
		(unsigned long long)msg->msg.seq, len);
}

static PyObject *member_recv_obj(MemberObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"src", "timeout_ms", NULL};
	int src = IPCFS_ANY, timeout_ms = -1;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|ii", kwlist, &src, &timeout_ms))
		return NULL;
	MessageObject *msg = member_recv_msg(self, src, timeout_ms);
	if (!msg)
		return NULL;
	PyObject *obj = message_loads(msg);
	if (!obj && PyErr_ExceptionMatches(IpcfsError)) {
		/* Not an object message: hand it to the caller on the
		 * exception (exc.message), nothing is lost. */
		PyObject *t, *v, *tb;
		PyErr_Fetch(&t, &v, &tb);
		PyErr_NormalizeException(&t, &v, &tb);
		if (v)
			PyObject_SetAttrString(v, "message", (PyObject *)msg);
		PyErr_Restore(t, v, tb);
	}
	Py_DECREF(msg); /* released now unless views of it live on in obj */
	return obj;
}

struct wait_arg {
	uint64_t mask;
};

static int op_wait(MemberObject *self, void *arg, int slice_ms)
{
	struct wait_arg *a = arg;
	return ipcfs_wait_ranks(self->m, a->mask, slice_ms);
}

static PyObject *member_wait_ranks(MemberObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"ranks", "timeout_ms", NULL};
	PyObject *ranks = Py_None;
	int timeout_ms = -1;
	struct wait_arg a;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|Oi", kwlist, &ranks, &timeout_ms))
		return NULL;
	if (!member_usable(self) || !parse_dest(self, ranks, &a.mask))
		return NULL;
	int rc = sliced(self, op_wait, &a, timeout_ms, 1);
	if (rc >= 0)
		Py_RETURN_NONE;
	if (rc == SLICED_FAILED)
		return NULL;
	uint64_t want = a.mask == IPCFS_ALL ? (self->size == 64 ? ~0ull : (1ull << self->size) - 1) : a.mask;
	uint64_t live = 0;
	ipcfs_live(self->m, &live);
	PyObject *miss = ranks_text(want & ~live), *liv = ranks_text(live);
	if (rc == -ETIMEDOUT || rc == -EAGAIN)
		raise_errno(rc,
			"rank(s) %S of the group's %d did not join within %d ms (live: %S); if the job has fewer "
			"processes, create the group with ranks=<number of processes> or wait for those ranks only "
			"(wait_ranks(ranks=[...])), or pass a longer timeout_ms", miss, self->size, timeout_ms, liv);
	else
		raise_errno(rc, "wait for ranks %S: %s", miss, strerror(-rc));
	Py_XDECREF(miss);
	Py_XDECREF(liv);
	return NULL;
}

static PyObject *member_live(MemberObject *self, PyObject *unused)
{
	(void)unused;
	uint64_t mask = 0;
	if (!member_usable(self))
		return NULL;
	ipcfs_live(self->m, &mask);
	PyObject *l = PyList_New(0);
	for (int r = 0; l && r < 64; r++)
		if (mask >> r & 1) {
			PyObject *v = PyLong_FromLong(r);
			if (!v || PyList_Append(l, v) < 0) {
				Py_XDECREF(v);
				Py_CLEAR(l);
				break;
			}
			Py_DECREF(v);
		}
	return l;
}

static PyObject *member_stat(MemberObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"rank", NULL};
	PyObject *rank_obj = Py_None;
	struct ipcfs_rank_stat st;

	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &rank_obj))
		return NULL;
	if (!member_usable(self))
		return NULL;
	int rank = rank_obj == Py_None ? self->rank : (int)PyLong_AsLong(rank_obj);
	if (PyErr_Occurred())
		return NULL;
	int rc = ipcfs_stat_rank(self->m, rank, &st);
	if (rc < 0)
		return raise_errno(rc, "stat: %d is not a rank of the group (0..%d) nor ipcfs.SRC_CTL", rank,
				   self->size - 1);
	return Py_BuildValue("{si,ss,si,sK,sK,sK,sK,sK,sK,sK,sK,sK,sK,sK,sK}", "rank", st.rank, "state",
			     ipcfs_state_name(st.state), "pid", (int)st.pid, "sent", st.sent, "sent_bytes",
			     st.sent_bytes, "recv", st.recv, "recv_bytes", st.recv_bytes, "waits", st.waits,
			     "spins", st.spins, "sleeps", st.sleeps, "wakeups", st.wakeups, "stalls", st.stalls,
			     "timeouts", st.timeouts, "lag", st.lag, "stalled_ms", st.stalled_ms);
}

static PyObject *member_params(MemberObject *self, PyObject *unused)
{
	(void)unused;
	const struct ipcfs_params *p = &self->params;
	return Py_BuildValue("{sI,sI,sI,sI,sI,si,sI,sI,sK}", "ranks", p->ranks, "slots", p->slots,
			     "slot_bytes", p->slot_bytes, "spin_us", p->spin_us, "timeout_ms", p->timeout_ms,
			     "numa_node", (int)p->numa_node, "mode", p->mode, "hugepage_kb", p->hugepage_kb,
			     "arena_bytes", (unsigned long long)p->arena_bytes);
}

static PyObject *member_get_held(MemberObject *self, void *c)
{
	(void)c;
	return PyLong_FromSsize_t(self->held);
}

static PyObject *member_get_left(MemberObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->left);
}

static PyObject *member_get_mapped(MemberObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->m != NULL);
}

#include "_native_typed.h"

static PyMethodDef member_methods[] = {
	{"leave", (PyCFunction)member_leave, METH_NOARGS,
	 "Leave the group. The unmap waits until every message and view of it is gone."},
	{"recv", (PyCFunction)(void (*)(void))member_recv, METH_VARARGS | METH_KEYWORDS,
	 "recv(src=ANY, timeout_ms=-1) -> Message"},
	{"recv_obj", (PyCFunction)(void (*)(void))member_recv_obj, METH_VARARGS | METH_KEYWORDS,
	 "recv_obj(src=ANY, timeout_ms=-1) -> the object sent by send_obj()"},
	{"send", (PyCFunction)(void (*)(void))member_send, METH_VARARGS | METH_KEYWORDS,
	 "send(data, to=ALL, timeout_ms=-1): copy a bytes-like object once into shared memory"},
	{"_send_pickled", (PyCFunction)member_send_pickled, METH_VARARGS, NULL},
	{"_send_fields", (PyCFunction)member_send_fields, METH_VARARGS, NULL},
	{"wait_ranks", (PyCFunction)(void (*)(void))member_wait_ranks, METH_VARARGS | METH_KEYWORDS, NULL},
	{"live", (PyCFunction)member_live, METH_NOARGS, "Ranks live now, as a list."},
	{"stat", (PyCFunction)(void (*)(void))member_stat, METH_VARARGS | METH_KEYWORDS, NULL},
	{"params", (PyCFunction)member_params, METH_NOARGS, "The parameters of the group, as a dict."},
	{NULL, NULL, 0, NULL},
};

static PyMemberDef member_members[] = {
	{"rank", T_INT, offsetof(MemberObject, rank), READONLY, NULL},
	{"size", T_INT, offsetof(MemberObject, size), READONLY, NULL},
	{"dir", T_OBJECT, offsetof(MemberObject, dir), READONLY, NULL},
	{NULL, 0, 0, 0, NULL},
};

static PyGetSetDef member_getset[] = {
	{"held", (getter)member_get_held, NULL, "received messages not yet released", NULL},
	{"left", (getter)member_get_left, NULL, "leave() was called", NULL},
	{"mapped", (getter)member_get_mapped, NULL, "the segment is still mapped", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MemberType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ipcfs._native.Member",
	.tp_basicsize = sizeof(MemberObject),
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Member(path, rank=-1): a rank of a group (see ipcfs_join(3)).",
	.tp_new = PyType_GenericNew,
	.tp_init = (initproc)member_init,
	.tp_dealloc = (destructor)member_dealloc,
	.tp_methods = member_methods,
	.tp_members = member_members,
	.tp_getset = member_getset,
	.tp_weaklistoffset = offsetof(MemberObject, weakrefs),
};

/* ---- Message ----------------------------------------------------------------- */

static void message_do_release(MessageObject *self)
{
	if (self->released)
		return;
	self->released = 1;
	member_release_msg(self->member, &self->msg);
}

static void message_dealloc(MessageObject *self)
{
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->member) {
		message_do_release(self);
		Py_DECREF(self->member);
	}
	PyObject_Free(self);
}

static int message_getbuffer(MessageObject *self, Py_buffer *view, int flags)
{
	if (self->released) {
		PyErr_SetString(PyExc_BufferError, "the message was released: its bytes are no longer ours");
		view->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, (void *)self->msg.data, (Py_ssize_t)self->msg.len, 1,
			      flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void message_releasebuffer(MessageObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyBufferProcs message_as_buffer = {
	(getbufferproc)message_getbuffer,
	(releasebufferproc)message_releasebuffer,
};

static PyObject *message_release(MessageObject *self, PyObject *unused)
{
	(void)unused;
	if (self->released)
		Py_RETURN_NONE;
	if (self->exports) {
		PyErr_Format(PyExc_BufferError,
			     "cannot release the message from rank %d (seq %llu): %zd view(s) of it (memoryview, "
			     "array or tensor) are still alive; drop them (or copy what you keep) first: the message "
			     "goes back to the group when the last view is gone",
			     self->msg.src, (unsigned long long)self->msg.seq, self->exports);
		return NULL;
	}
	message_do_release(self);
	Py_RETURN_NONE;
}

static PyObject *message_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	Py_INCREF(self);
	return self;
}

static PyObject *message_exit(MessageObject *self, PyObject *args)
{
	(void)args;
	return message_release(self, NULL);
}

static PyObject *message_loads_m(MessageObject *self, PyObject *unused)
{
	(void)unused;
	if (self->released) {
		PyErr_SetString(PyExc_BufferError, "the message was released");
		return NULL;
	}
	return message_loads(self);
}

static PyObject *message_arrays(MessageObject *self, PyObject *unused)
{
	(void)unused;
	if (!arrays_fn) {
		PyErr_SetString(PyExc_RuntimeError, "import ipcfs, not ipcfs._native alone");
		return NULL;
	}
	return PyObject_CallOneArg(arrays_fn, (PyObject *)self);
}

static PyObject *message_bytes(MessageObject *self, PyObject *unused)
{
	(void)unused;
	if (self->released) {
		PyErr_SetString(PyExc_BufferError, "the message was released: copy it before release()");
		return NULL;
	}
	return PyBytes_FromStringAndSize(self->msg.data, (Py_ssize_t)self->msg.len);
}

static PyObject *message_get_data(MessageObject *self, void *c)
{
	(void)c;
	return PyMemoryView_FromObject((PyObject *)self);
}

static PyObject *message_get_exports(MessageObject *self, void *c)
{
	(void)c;
	return PyLong_FromSsize_t(self->exports);
}

static PyObject *message_get_released(MessageObject *self, void *c)
{
	(void)c;
	return PyBool_FromLong(self->released);
}

static PyObject *message_get_member(MessageObject *self, void *c)
{
	(void)c;
	PyObject *m = self->member ? (PyObject *)self->member : Py_None;
	Py_INCREF(m);
	return m;
}

#define MSG_GET(name, expr, conv)                                                   \
	static PyObject *message_get_##name(MessageObject *self, void *c)          \
	{                                                                           \
		(void)c;                                                            \
		return conv(expr);                                                  \
	}
MSG_GET(src, self->msg.src, PyLong_FromLong)
MSG_GET(kind, self->msg.kind, PyLong_FromUnsignedLong)
MSG_GET(seq, self->msg.seq, PyLong_FromUnsignedLongLong)
MSG_GET(len, self->msg.len, PyLong_FromSize_t)

static PyMethodDef message_methods[] = {
	{"release", (PyCFunction)message_release, METH_NOARGS,
	 "Hand the message back to the group now; BufferError while views of it are alive."},
	{"bytes", (PyCFunction)message_bytes, METH_NOARGS, "A copy of the payload."},
	{"loads", (PyCFunction)message_loads_m, METH_NOARGS, "The object of a send_obj() message."},
	{"_fields", (PyCFunction)message_fields, METH_NOARGS, NULL},
	{"arrays", (PyCFunction)message_arrays, METH_NOARGS,
	 "The fields of a typed message as {name: read-only numpy array}, views that keep it held."},
	{"__enter__", (PyCFunction)message_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)message_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef message_getset[] = {
	{"data", (getter)message_get_data, NULL, "the payload as a read-only memoryview (no copy)", NULL},
	{"exports", (getter)message_get_exports, NULL, "live views of the message", NULL},
	{"released", (getter)message_get_released, NULL, NULL, NULL},
	{"member", (getter)message_get_member, NULL, NULL, NULL},
	{"src", (getter)message_get_src, NULL, "sending rank", NULL},
	{"kind", (getter)message_get_kind, NULL, "KIND_RAW or KIND_TYPED", NULL},
	{"seq", (getter)message_get_seq, NULL, "per-sender sequence number", NULL},
	{"len", (getter)message_get_len, NULL, "payload bytes", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject MessageType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "ipcfs._native.Message",
	.tp_basicsize = sizeof(MessageObject),
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A received message: a read-only view into shared memory, held until released.",
	.tp_dealloc = (destructor)message_dealloc,
	.tp_as_buffer = &message_as_buffer,
	.tp_methods = message_methods,
	.tp_getset = message_getset,
	.tp_weaklistoffset = offsetof(MessageObject, weakrefs),
};

/* ---- module functions -------------------------------------------------------- */

static int params_from_kwargs(PyObject *kw, struct ipcfs_params *p)
{
	PyObject *k, *v;
	Py_ssize_t pos = 0;

	ipcfs_params_init(p);
	while (kw && PyDict_Next(kw, &pos, &k, &v)) {
		const char *name = PyUnicode_AsUTF8(k);
		if (!name)
			return -1;
		if (v == Py_None)
			continue;
		long long x = PyLong_AsLongLong(v);
		if (x == -1 && PyErr_Occurred())
			return -1;
#define P(f)                                   \
	if (!strcmp(name, #f)) {               \
		p->f = (__typeof__(p->f))x;    \
		if ((long long)p->f != x)      \
			goto range;            \
		continue;                      \
	}
		P(ranks) P(slots) P(slot_bytes) P(spin_us) P(timeout_ms) P(numa_node) P(mode) P(hugepage_kb)
		P(arena_bytes)
#undef P
		raise_errno(-EINVAL, "create_group: no parameter %s (ranks, slots, slot_bytes, spin_us, timeout_ms, "
			    "numa_node, mode, hugepage_kb, arena_bytes)", name);
		return -1;
range:
		raise_errno(-EINVAL, "create_group: %s=%lld is out of range", name, x);
		return -1;
	}
	return 0;
}

static PyObject *mod_group_create(PyObject *mod, PyObject *args, PyObject *kw)
{
	(void)mod;
	PyObject *path;
	struct ipcfs_params p;
	int rc;

	if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path))
		return NULL;
	if (params_from_kwargs(kw, &p) < 0) {
		Py_DECREF(path);
		return NULL;
	}
	const char *dir = PyBytes_AS_STRING(path);
	Py_BEGIN_ALLOW_THREADS
	rc = ipcfs_group_create(dir, &p);
	Py_END_ALLOW_THREADS
	if (rc < 0) {
		if (rc == -EINVAL || rc == -ERANGE)
			raise_errno(rc, "create group %s: a parameter is out of range (ranks=%u: 1..64, slots=%u: a "
				    "power of two 2..65536, slot_bytes=%u: a multiple of 64, 64..16 MiB, spin_us=%u: "
				    "0..1000000, arena_bytes=%llu, numa_node=%d: a node of this machine or -1)",
				    dir, p.ranks, p.slots, p.slot_bytes, p.spin_us, (unsigned long long)p.arena_bytes,
				    (int)p.numa_node);
		else if (rc == -EEXIST)
			raise_errno(rc, "create group %s: the directory already holds a group (destroy_group() it, "
				    "or join it)", dir);
		else
			raise_errno(rc, "create group %s: %s", dir, strerror(-rc));
		Py_DECREF(path);
		return NULL;
	}
	Py_DECREF(path);
	Py_RETURN_NONE;
}

static PyObject *mod_group_destroy(PyObject *mod, PyObject *args)
{
	(void)mod;
	PyObject *path;
	if (!PyArg_ParseTuple(args, "O&", PyUnicode_FSConverter, &path))
		return NULL;
	int rc = ipcfs_group_destroy(PyBytes_AS_STRING(path));
	if (rc < 0) {
		raise_errno(rc, "destroy group %s: %s", PyBytes_AS_STRING(path),
			    rc == -ENOENT ? "no group there" : strerror(-rc));
		Py_DECREF(path);
		return NULL;
	}
	Py_DECREF(path);
	Py_RETURN_NONE;
}

/* Sizes and offsets of the structures Python code also decodes (the
 * struct-mirror test compares them with the struct formats there). */
static PyObject *mod_layout(PyObject *mod, PyObject *unused)
{
	(void)mod;
	(void)unused;
	return Py_BuildValue(
		"{s:(n,{s:n,s:n,s:n}),s:(n,{s:n,s:n}),s:I,s:n}",
		"objmsg_hdr", (Py_ssize_t)sizeof(struct objmsg_hdr),
		"magic", (Py_ssize_t)offsetof(struct objmsg_hdr, magic),
		"nbuf", (Py_ssize_t)offsetof(struct objmsg_hdr, nbuf),
		"stream_len", (Py_ssize_t)offsetof(struct objmsg_hdr, stream_len),
		"objmsg_buf", (Py_ssize_t)sizeof(struct objmsg_buf),
		"off", (Py_ssize_t)offsetof(struct objmsg_buf, off),
		"len", (Py_ssize_t)offsetof(struct objmsg_buf, len),
		"magic", (unsigned)OBJMSG_MAGIC, "align", (Py_ssize_t)OBJMSG_ALIGN);
}

static PyObject *mod_set_arrays(PyObject *mod, PyObject *fn)
{
	(void)mod;
	Py_INCREF(fn);
	Py_XSETREF(arrays_fn, fn);
	Py_RETURN_NONE;
}

static PyMethodDef mod_methods[] = {
	{"_set_arrays", (PyCFunction)mod_set_arrays, METH_O, NULL},
	{"group_create", (PyCFunction)(void (*)(void))mod_group_create, METH_VARARGS | METH_KEYWORDS, NULL},
	{"group_destroy", (PyCFunction)mod_group_destroy, METH_VARARGS, NULL},
	{"_layout", (PyCFunction)mod_layout, METH_NOARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef moddef = {
	PyModuleDef_HEAD_INIT, "ipcfs._native", "The native hot path of the ipcfs package.", -1, mod_methods,
	NULL, NULL, NULL, NULL,
};

static PyObject *new_exc(PyObject *mod, const char *name, PyObject *bases)
{
	char full[96];
	snprintf(full, sizeof(full), "ipcfs.%s", name);
	PyObject *e = PyErr_NewException(full, bases, NULL);
	if (e && PyModule_AddObjectRef(mod, name, e) < 0)
		Py_CLEAR(e);
	return e;
}

static PyObject *sub_exc(PyObject *mod, const char *name, PyObject *builtin)
{
	PyObject *bases = PyTuple_Pack(2, IpcfsError, builtin);
	if (!bases)
		return NULL;
	PyObject *e = new_exc(mod, name, bases);
	Py_DECREF(bases);
	return e;
}

PyMODINIT_FUNC PyInit__native(void)
{
	PyObject *mod, *pickle;

	if (PyType_Ready(&MemberType) < 0 || PyType_Ready(&MessageType) < 0)
		return NULL;
	mod = PyModule_Create(&moddef);
	if (!mod)
		return NULL;
	if (!(IpcfsError = new_exc(mod, "IpcfsError", PyExc_OSError)) ||
	    !(IpcfsTimeoutError = sub_exc(mod, "IpcfsTimeoutError", PyExc_TimeoutError)) ||
	    !(IpcfsBlockingError = sub_exc(mod, "IpcfsBlockingError", PyExc_BlockingIOError)) ||
	    !(IpcfsBrokenPipeError = sub_exc(mod, "IpcfsBrokenPipeError", PyExc_BrokenPipeError)) ||
	    !(IpcfsNotConnectedError = sub_exc(mod, "IpcfsNotConnectedError", PyExc_ConnectionError)) ||
	    !(IpcfsMessageTooLongError = sub_exc(mod, "IpcfsMessageTooLongError", PyExc_ValueError)))
		goto fail;
	if (PyModule_AddObjectRef(mod, "Member", (PyObject *)&MemberType) < 0 ||
	    PyModule_AddObjectRef(mod, "Message", (PyObject *)&MessageType) < 0)
		goto fail;
	pickle = PyImport_ImportModule("pickle");
	if (!pickle)
		goto fail;
	pickle_loads = PyObject_GetAttrString(pickle, "loads");
	Py_DECREF(pickle);
	str_buffers = PyUnicode_InternFromString("buffers");
	if (!pickle_loads || !str_buffers)
		goto fail;
	PyModule_AddIntConstant(mod, "SLICE_MS", SLICE_MS);
	return mod;
fail:
	Py_DECREF(mod);
	return NULL;
}
