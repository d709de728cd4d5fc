/* SPDX-License-Identifier: MIT */
/*
 * native_send.c - sending: reservations, bytes, object messages (and their decoding).
 */
#include "native.h"

struct reserve_arg {
	size_t len;
	void *buf;
};

static int op_reserve(MemberObject *self, void *arg, int timeout_ms)
{
	struct reserve_arg *a = arg;
	return ipcfs_reserve(self->m, a->len, &a->buf, timeout_ms);
}

/* Reserve @len bytes; NULL with the error set. */
void *member_reserve(MemberObject *self, size_t len, int timeout_ms)
{
	struct reserve_arg a = {len, NULL};
	int rc = member_wait(self, op_reserve, &a, timeout_ms, 0);
	if (rc >= 0)
		return a.buf;
	if (rc == WAIT_FAILED)
		return NULL;
	return reserve_error(self, rc, len, timeout_ms);
}

/* Raise the error of a reservation of @len bytes that returned @rc. */
void *reserve_error(MemberObject *self, int rc, size_t len, int timeout_ms)
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

PyObject *commit_error(MemberObject *self, int rc, uint64_t dest)
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

/* Copy @n bytes into our reservation; large copies without the GIL (the
 * source is held by a buffer export). `busy` keeps a leave() from another
 * thread from unmapping meanwhile; the caller runs member_maybe_finish()
 * once it is done with the member. */
void copy_out(MemberObject *self, void *dst, const void *src, size_t n)
{
	if (n >= NOGIL_COPY) {
		self->busy++;
		Py_BEGIN_ALLOW_THREADS
		memcpy(dst, src, n);
		Py_END_ALLOW_THREADS
		self->busy--;
	} else if (n) {
		memcpy(dst, src, n);
	}
}

PyObject *member_send(MemberObject *self, PyObject *args, PyObject *kw)
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
	copy_out(self, buf, view.buf, (size_t)view.len);
	rc = ipcfs_commit(self->m, dest, (size_t)view.len);
	PyBuffer_Release(&view);
	if (rc < 0)
		commit_error(self, rc, dest);
	member_maybe_finish(self);
	if (rc < 0)
		return NULL;
	Py_RETURN_NONE;
fail:
	PyBuffer_Release(&view);
	member_maybe_finish(self);
	return NULL;
}

/*
 * _send_pickled(stream, buffers, to, timeout_ms): one object message (see
 * objmsg.h): the pickle stream and every out-of-band buffer copied once,
 * straight into the reserved slot or arena block.
 */
PyObject *member_send_pickled(MemberObject *self, PyObject *args)
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
			copy_out(self, base + off, views[i].buf, (size_t)views[i].len);
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
	member_maybe_finish(self);
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
 * An object without out-of-band buffers: nothing of the result refers to
 * the message, so the stream is read through a bare view (no export to
 * count) that is released, made unusable, as soon as loads returns.
 */
static PyObject *loads_inband(MessageObject *msg, const unsigned char *stream, uint64_t len)
{
	PyObject *mv = PyMemoryView_FromMemory((char *)stream, (Py_ssize_t)len, PyBUF_READ);
	if (!mv)
		return NULL;
	PyObject *ret = PyObject_CallOneArg(pickle_loads, mv);
	PyObject *r = PyObject_CallMethodNoArgs(mv, str_release);
	if (!r) {
		/* Something kept an export of the view: keep the message held
		 * for ever rather than let the view outlive it. */
		Py_INCREF(msg);
		if (ret)
			PyErr_Clear();
	}
	Py_XDECREF(r);
	Py_DECREF(mv);
	return ret;
}

/*
 * Decode the object message @msg: check a copy of its header and buffer
 * table, then pickle.loads(stream, buffers=[read-only views]). The views
 * keep @msg held; the stream's view is released before returning.
 */
PyObject *message_loads(MessageObject *msg)
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
	if (h.nbuf == 0)
		return loads_inband(msg, p + objmsg_stream_off(0), h.stream_len);
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

PyObject *member_recv_obj(MemberObject *self, PyObject *args, PyObject *kw)
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

