/* SPDX-License-Identifier: MIT */
/*
 * native_message.c - the Message type: a held view, its buffer exports and release.
 */
#include "native.h"

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

PyTypeObject MessageType = {
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

