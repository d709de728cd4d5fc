/* SPDX-License-Identifier: MIT */
/*
 * native_typed.c - typed messages (named arrays): fields of a received one,
 * sending one.
 */
#include "native.h"

/* Fields of one typed message sent from Python (their shapes live on the
 * stack while it is built). */
#define MAX_FIELDS 1024

/* msg._fields() -> [(name, dtype, shape, offset, nbytes)], offsets from the
 * start of the payload, each checked by the library against the message. */
PyObject *message_fields(MessageObject *self, PyObject *unused)
{
	(void)unused;
	if (self->released) {
		PyErr_SetString(PyExc_BufferError, "the message was released");
		return NULL;
	}
	int n = ipcfs_msg_nfields(&self->msg);
	if (n < 0)
		return raise_errno(n, n == -EINVAL ? "the message from rank %d is not a typed message (send_arrays())"
					   : "the typed message from rank %d has a corrupt header", self->msg.src);
	PyObject *out = PyList_New(n);
	for (int i = 0; out && i < n; i++) {
		struct ipcfs_field f;
		int rc = ipcfs_msg_field(&self->msg, (unsigned)i, &f);
		if (rc < 0) {
			Py_DECREF(out);
			return raise_errno(rc, "field %d of the typed message from rank %d: corrupt", i, self->msg.src);
		}
		PyObject *shape = PyTuple_New(f.ndim);
		for (unsigned d = 0; shape && d < f.ndim; d++)
			PyTuple_SET_ITEM(shape, d, PyLong_FromUnsignedLongLong(f.shape[d]));
		PyObject *t = shape ? Py_BuildValue("(siNnn)", f.name, f.dtype, shape,
						    (Py_ssize_t)((const char *)f.data - (const char *)self->msg.data),
						    (Py_ssize_t)f.bytes)
				    : NULL;
		if (!t) {
			Py_DECREF(out);
			return NULL;
		}
		PyList_SET_ITEM(out, i, t);
	}
	return out;
}

struct build_arg {
	struct ipcfs_builder *b;
	size_t cap;
};

static int op_build_begin(MemberObject *self, void *arg, int timeout_ms)
{
	struct build_arg *a = arg;
	return ipcfs_build_begin(self->m, a->b, a->cap, timeout_ms);
}

/*
 * _send_fields([(name, dtype, shape, buffer)], to, timeout_ms): one typed
 * message, each buffer (C-contiguous, of the field's bytes) copied once
 * into its place in shared memory.
 */
static PyObject *send_fields(MemberObject *self, PyObject *args)
{
	PyObject *fields, *to = Py_None;
	int timeout_ms = -1, rc;
	uint64_t dest;
	size_t cap = IPCFS_TYPED_HDR;
	struct ipcfs_builder b;

	if (!PyArg_ParseTuple(args, "O!|Oi", &PyList_Type, &fields, &to, &timeout_ms))
		return NULL;
	if (!member_usable(self) || !parse_dest(self, to, &dest))
		return NULL;
	Py_ssize_t n = PyList_GET_SIZE(fields);
	if (n > MAX_FIELDS)
		return raise_errno(-E2BIG, "a typed message of %zd fields: at most %d (use send_obj())", n, MAX_FIELDS);
	uint64_t shapes[n ? n : 1][IPCFS_MAX_DIMS];
	for (Py_ssize_t i = 0; i < n; i++) {
		const char *name;
		int dtype;
		PyObject *shape, *buf;
		if (!PyArg_ParseTuple(PyList_GET_ITEM(fields, i), "siO!O", &name, &dtype, &PyTuple_Type, &shape, &buf))
			return NULL;
		Py_ssize_t nd = PyTuple_GET_SIZE(shape);
		if (nd > IPCFS_MAX_DIMS)
			return raise_errno(-EINVAL, "field %s: %zd dimensions, at most %d", name, nd, IPCFS_MAX_DIMS);
		for (Py_ssize_t d = 0; d < nd; d++) {
			shapes[i][d] = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(shape, d));
			if (PyErr_Occurred())
				return NULL;
		}
		long long fb = ipcfs_field_bytes(name, dtype, (unsigned)nd, shapes[i]);
		if (fb < 0)
			return raise_errno((int)fb, "field %s: bad name (1..255 bytes), dtype or shape", name);
		cap += (size_t)fb;
	}
	struct build_arg a = {&b, cap};
	rc = member_wait(self, op_build_begin, &a, timeout_ms, 0);
	if (rc < 0) {
		if (rc == WAIT_FAILED)
			return NULL;
		/* Same limits and sentences as a plain send. */
		return reserve_error(self, rc, cap, timeout_ms);
	}
	for (Py_ssize_t i = 0; i < n; i++) {
		PyObject *item = PyList_GET_ITEM(fields, i);
		const char *name = PyUnicode_AsUTF8(PyTuple_GET_ITEM(item, 0));
		int dtype = (int)PyLong_AsLong(PyTuple_GET_ITEM(item, 1));
		unsigned nd = (unsigned)PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 2));
		void *dst;
		Py_buffer view;
		rc = ipcfs_build_add(&b, name, dtype, nd, shapes[i], &dst);
		if (rc < 0)
			return raise_errno(rc, "field %s: %s", name, strerror(-rc));
		if (PyObject_GetBuffer(PyTuple_GET_ITEM(item, 3), &view, PyBUF_C_CONTIGUOUS) < 0)
			return NULL;
		size_t bytes = (size_t)ipcfs_dtype_size(dtype);
		for (unsigned d = 0; d < nd; d++)
			bytes *= shapes[i][d];
		if ((size_t)view.len != bytes) {
			PyBuffer_Release(&view);
			return raise_errno(-EINVAL, "field %s: the buffer has %zd bytes, its dtype and shape need %zu",
					   name, view.len, bytes);
		}
		copy_out(self, dst, view.buf, bytes);
		PyBuffer_Release(&view);
	}
	rc = ipcfs_build_commit(&b, dest);
	if (rc < 0)
		return commit_error(self, rc, dest);
	Py_RETURN_NONE;
}

PyObject *member_send_fields(MemberObject *self, PyObject *args)
{
	PyObject *r = send_fields(self, args);
	member_maybe_finish(self); /* a leave() deferred during a copy */
	return r;
}
