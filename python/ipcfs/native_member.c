/* SPDX-License-Identifier: MIT */
/*
 * native_member.c - the Member type: join, leave, receive, interruptible waits, stat.
 */
#include "native.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}


/* Run the deferred ipcfs_leave() when nothing needs the mapping any more. */
/* A Member inherited through fork() names the parent's rank: the child
 * must neither use nor leave it (that would take the rank from the
 * parent); its copy of the mapping goes with the child. */
static int member_ours(const MemberObject *self)
{
	return self->pid == getpid();
}

void member_maybe_finish(MemberObject *self)
{
	if (self->m && !member_ours(self)) {
		self->m = NULL;
		return;
	}
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
void member_release_msg(MemberObject *self, struct ipcfs_msg *msg)
{
	if (!self->m || !member_ours(self)) {
		self->held--; /* a fork child's copy: the parent releases its own */
		return;
	}
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

int member_usable(MemberObject *self)
{
	if (self->m && !member_ours(self)) {
		raise_errno(-ENOTCONN, "rank %d was joined by process %d, not this one (%d, a fork of it?): "
			    "join the group again in this process", self->rank, (int)self->pid, (int)getpid());
		return 0;
	}
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
	member_set_interrupt(self);
	self->pid = getpid();
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
	if (self->m && member_ours(self)) {
		member_drain_deferred(self);
		ipcfs_leave(self->m);
	}
	self->m = NULL;
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
int parse_dest(MemberObject *self, PyObject *to, uint64_t *out)
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
PyObject *ranks_text(uint64_t mask)
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
 * Asked by the library while a wait of this member sleeps, without the GIL
 * (ipcfs_set_interrupt(3)): after a sleep a signal cut short and at least
 * every SLICE_MS. Takes the GIL to run Python's signal handlers; stops the
 * wait (the library returns -EINTR, having taken nothing) when a handler
 * raised, the member left, or releases other threads deferred wait for
 * this receiving thread. Looks for dead ranks every REAP_MS as well.
 */
static int wait_interrupt(void *arg)
{
	MemberObject *self = arg;
	PyGILState_STATE g = PyGILState_Ensure();
	uint64_t now = now_ms();

	if (now - self->last_reap >= REAP_MS) {
		self->last_reap = now;
		ipcfs_reap(self->m, NULL);
	}
	int stop = PyErr_CheckSignals() < 0 || self->left ||
		   (self->ndeferred && self->rx_busy && pthread_equal(self->rx_thread, pthread_self()));
	PyGILState_Release(g);
	return stop;
}

int member_set_interrupt(MemberObject *self)
{
	return ipcfs_set_interrupt(self->m, wait_interrupt, self);
}

/*
 * Run @op (a library wait) with the GIL released, for @timeout_ms (-1: for
 * ever). The library asks wait_interrupt() while it sleeps; when that stops
 * the wait, handle why (an exception, a leave, deferred releases to hand
 * back) and go on waiting for what is left of the time. Returns the
 * library's result, or WAIT_FAILED when a signal handler raised (the
 * Python error is set) or the member left meanwhile (ENOTCONN set). @rx: a
 * receive-side wait (releases from other threads are deferred meanwhile).
 */
int member_wait(MemberObject *self, wait_op op, void *arg, int timeout_ms, int rx)
{
	int rc = op(self, arg, 0); /* the fast path: no system call, GIL kept */
	if (rc != -EAGAIN || timeout_ms == 0)
		return rc;
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = now_ms();
		int left_ms = deadline == UINT64_MAX ? -1
			      : now >= deadline ? 0
			      : deadline - now > INT32_MAX ? INT32_MAX : (int)(deadline - now);
		if (left_ms == 0)
			return -ETIMEDOUT;
		self->busy++;
		self->rx_busy += rx;
		if (rx)
			self->rx_thread = pthread_self();
		Py_BEGIN_ALLOW_THREADS
		rc = op(self, arg, left_ms);
		Py_END_ALLOW_THREADS
		self->busy--;
		self->rx_busy -= rx;
		if (rx && !self->rx_busy)
			member_drain_deferred(self);
		if (rc != -EINTR)
			return rc;
		/* Stopped by wait_interrupt(): nothing was taken from the
		 * group, so a handler that raises loses nothing. */
		if (PyErr_Occurred()) {
			member_maybe_finish(self);
			return WAIT_FAILED;
		}
		if (self->left) {
			member_maybe_finish(self);
			raise_errno(-ENOTCONN, "rank %d left the group while waiting", self->rank);
			return WAIT_FAILED;
		}
	}
}

struct recv_arg {
	int src;
	struct ipcfs_msg *msg;
};

static int op_recv(MemberObject *self, void *arg, int timeout_ms)
{
	struct recv_arg *a = arg;
	return ipcfs_recv(self->m, a->src, a->msg, timeout_ms);
}

/* Receive one message into a new Message object, or NULL with an error. */
MessageObject *member_recv_msg(MemberObject *self, int src, int timeout_ms)
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
	int rc = member_wait(self, op_recv, &a, timeout_ms, 1);
	if (rc < 0) {
		Py_DECREF(msg);
		if (rc == WAIT_FAILED)
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

struct wait_arg {
	uint64_t mask;
};

static int op_wait(MemberObject *self, void *arg, int timeout_ms)
{
	struct wait_arg *a = arg;
	return ipcfs_wait_ranks(self->m, a->mask, timeout_ms);
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
	int rc = member_wait(self, op_wait, &a, timeout_ms, 1);
	if (rc >= 0) {
		member_maybe_finish(self);
		Py_RETURN_NONE;
	}
	if (rc == WAIT_FAILED)
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

PyTypeObject MemberType = {
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

