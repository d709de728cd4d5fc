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
 * Waits (receive, reserve, wait for ranks) run with the GIL released, as
 * one library call; the library asks back (ipcfs_set_interrupt(3)) when a
 * signal cuts a sleep short and at least every SLICE_MS, and signal
 * handlers run then (PyErr_CheckSignals), so Ctrl-C interrupts a wait at
 * once and a message not yet returned stays queued in the group. Only a
 * wait that runs out counts as a timeout in the group's stat.
 *
 * Threads: every field of Member and Message is read and written with the
 * GIL held. A Message released by another thread while the Member's
 * receiving thread is inside the library (rx_busy) is queued in `deferred`
 * and handed back by that thread (its wait is interrupted for it), as ipcfs.h allows
 * one receiving thread per member.
 */
#include "native.h"

PyObject *IpcfsError, *IpcfsTimeoutError, *IpcfsBlockingError, *IpcfsBrokenPipeError,
	*IpcfsNotConnectedError, *IpcfsMessageTooLongError;
PyObject *pickle_loads, *str_buffers, *str_release, *arrays_fn;

/* ---- errors ---------------------------------------------------------------- */

PyObject *raise_errno(int neg_errno, const char *fmt, ...)
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
	str_release = PyUnicode_InternFromString("release");
	if (!pickle_loads || !str_buffers || !str_release)
		goto fail;
	PyModule_AddIntConstant(mod, "SLICE_MS", SLICE_MS);
	return mod;
fail:
	Py_DECREF(mod);
	return NULL;
}

