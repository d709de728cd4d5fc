/* SPDX-License-Identifier: MIT */
/*
 * events.c - the pollable `events` file of a group.
 *
 * Events are lines in a ring of the last FSD_EVENTS, numbered from 0. Each
 * open file handle has its own position, starting at the next event (a
 * reader sees what happens after it opened, like tail -f); a reader that
 * fell more than FSD_EVENTS behind gets a "lost N" line. A read with
 * nothing new blocks (or fails with EAGAIN under O_NONBLOCK); poll()
 * reports POLLIN and is woken through fuse_lowlevel_notify_poll().
 *
 * A blocked read holds no thread of the daemon: its request is parked (a
 * struct fsd_event_wait on the reader and on the daemon's list) and the
 * worker thread goes back to serve others, so any number of `cat events`
 * costs nothing but memory. The parked request is answered, exactly once,
 * by whoever takes it off the lists under d->ev_lock:
 *   fsd_event_post       the new lines (the reads of one reader in the
 *                        order they came, each within its size)
 *   on_interrupt         EINTR: the reading process got a signal
 *   fsd_events_removed   end of file: the group was removed
 *   fsd_events_shutdown  EINTR: the session loop ended
 *   fsd_events_release   EBADF: a release with a read in flight (the
 *                        kernel does not send one; answered anyway)
 *
 * libfuse may run the interrupt callback on another thread at any time
 * after it is registered, even inside the registering call, and even after
 * the request was answered (it keeps the request alive until the callback
 * returns). So the callback is registered before the request is parked,
 * it gets the daemon (which outlives every request) rather than a reader
 * (which a release may have freed), it finds the parked request by its
 * address, and the read checks fuse_req_interrupted() under ev_lock as it
 * parks: an interrupt either came before (the flag is set: EINTR now) or
 * finds the request parked.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsd.h"

struct fsd_event_reader {
	struct fsd_event_reader *next, *prev; /* the group's (g->lock) */
	struct fsd *d;
	struct fsd_group *g;       /* holds a reference */
	uint64_t pos;              /* sequence number of the next event to read */
	struct fuse_pollhandle *ph; /* to notify when an event arrives */
	struct fsd_event_wait *waits; /* parked reads, oldest first (d->ev_lock) */
};

/* A parked read. */
struct fsd_event_wait {
	struct fsd_event_wait *next, *prev; /* d->ev_waits */
	struct fsd_event_wait *rnext;       /* r->waits */
	struct fsd_event_reader *r;
	fuse_req_t req;
	size_t size;
	char buf[];                         /* @size bytes, for the answer */
};

/* Park @w (caller holds d->ev_lock). */
static void wait_park(struct fsd *d, struct fsd_event_wait *w)
{
	struct fsd_event_wait **p = &w->r->waits;

	w->prev = NULL;
	w->next = d->ev_waits;
	if (d->ev_waits)
		d->ev_waits->prev = w;
	d->ev_waits = w;
	while (*p) /* a reader has one parked read, rarely more */
		p = &(*p)->rnext;
	w->rnext = NULL;
	*p = w;
}

/* Take @w off both lists; the caller now answers it (caller holds
 * d->ev_lock). */
static void wait_unpark(struct fsd *d, struct fsd_event_wait *w)
{
	struct fsd_event_wait **p = &w->r->waits;

	if (w->prev)
		w->prev->next = w->next;
	else
		d->ev_waits = w->next;
	if (w->next)
		w->next->prev = w->prev;
	while (*p != w)
		p = &(*p)->rnext;
	*p = w->rnext;
	w->next = w->prev = w->rnext = NULL;
}

/* Answer a read that is no longer parked (or never was) and free it. */
static void wait_answer(struct fsd_event_wait *w, int err, size_t n)
{
	if (err)
		fuse_reply_err(w->req, err);
	else
		fuse_reply_buf(w->req, w->buf, n);
	free(w);
}

/* Interrupt callback: @data is the daemon. Runs with libfuse's lock of
 * @req held, possibly after @req was answered: then it is not parked. */
static void on_interrupt(fuse_req_t req, void *data)
{
	struct fsd *d = data;
	struct fsd_event_wait *w;

	pthread_mutex_lock(&d->ev_lock);
	for (w = d->ev_waits; w && w->req != req; w = w->next)
		;
	if (w)
		wait_unpark(d, w);
	pthread_mutex_unlock(&d->ev_lock);
	if (w)
		wait_answer(w, EINTR, 0);
}

/* Copy the lines from r->pos that fit in @size into @buf (caller holds the
 * lock); returns the bytes copied. */
static size_t take_lines(struct fsd_event_reader *r, char *buf, size_t size)
{
	struct fsd_group *g = r->g;
	size_t o = 0;

	if (g->ev.next - r->pos > FSD_EVENTS) {
		uint64_t lost = g->ev.next - FSD_EVENTS - r->pos;
		int n = snprintf(buf, size, "lost %llu\n", (unsigned long long)lost);
		if (n < 0 || (size_t)n >= size)
			return 0;
		o = (size_t)n;
		r->pos = g->ev.next - FSD_EVENTS;
	}
	while (r->pos < g->ev.next) {
		const char *line = g->ev.lines[r->pos % FSD_EVENTS];
		size_t n = strlen(line);
		if (o + n > size) {
			if (o == 0) { /* a read smaller than one line: cut it */
				memcpy(buf, line, size);
				o = size;
				r->pos++;
			}
			break;
		}
		memcpy(buf + o, line, n);
		o += n;
		r->pos++;
	}
	return o;
}

/* Answer @r's parked reads, oldest first, while it has lines to read, and
 * all of them with end of file once the group is removed (caller holds
 * g->lock, which orders this against the reads parking). */
static void answer_waits(struct fsd_event_reader *r)
{
	struct fsd_group *g = r->g;
	struct fsd *d = r->d;

	while (r->pos < g->ev.next || g->removed) {
		struct fsd_event_wait *w;
		pthread_mutex_lock(&d->ev_lock);
		w = r->waits;
		if (w)
			wait_unpark(d, w);
		pthread_mutex_unlock(&d->ev_lock);
		if (!w)
			return;
		/* A removed group's reader still gets the lines it has not
		 * read, then end of file. */
		wait_answer(w, 0, r->pos < g->ev.next ? take_lines(r, w->buf, w->size) : 0);
	}
}

/* Wake @r's poller, if any (caller holds g->lock). */
static void wake_poller(struct fsd_event_reader *r)
{
	if (r->ph) {
		fuse_lowlevel_notify_poll(r->ph);
		fuse_pollhandle_destroy(r->ph);
		r->ph = NULL;
	}
}

void fsd_event_post(struct fsd_group *g, const char *fmt, ...)
{
	va_list ap;
	char *line = g->ev.lines[g->ev.next % FSD_EVENTS];

	va_start(ap, fmt);
	vsnprintf(line, FSD_EVENT_LINE - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	g->ev.next++;
	for (struct fsd_event_reader *r = g->ev.readers; r; r = r->next) {
		wake_poller(r);
		answer_waits(r);
	}
}

void fsd_events_removed(struct fsd_group *g)
{
	for (struct fsd_event_reader *r = g->ev.readers; r; r = r->next) {
		wake_poller(r); /* poll now reports POLLIN: read gives end of file */
		answer_waits(r);
	}
}

struct fsd_event_reader *fsd_events_open(struct fsd *d, struct fsd_group *g)
{
	struct fsd_event_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->d = d;
	r->g = g;
	pthread_mutex_lock(&g->lock);
	r->pos = g->ev.next;
	r->next = g->ev.readers;
	if (g->ev.readers)
		g->ev.readers->prev = r;
	g->ev.readers = r;
	pthread_mutex_unlock(&g->lock);
	return r;
}

void fsd_events_release(struct fsd_event_reader *r)
{
	struct fsd_group *g = r->g;
	struct fsd *d = r->d;
	struct fsd_event_wait *left = NULL, *w;

	pthread_mutex_lock(&g->lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		g->ev.readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->ph)
		fuse_pollhandle_destroy(r->ph);
	pthread_mutex_lock(&d->ev_lock);
	while ((w = r->waits)) {
		wait_unpark(d, w);
		w->rnext = left;
		left = w;
	}
	pthread_mutex_unlock(&d->ev_lock);
	pthread_mutex_unlock(&g->lock);
	while ((w = left)) {
		left = w->rnext;
		wait_answer(w, EBADF, 0);
	}
	free(r);
}

void fsd_events_read(fuse_req_t req, struct fsd *d, struct fsd_event_reader *r, size_t size,
		     bool nonblock)
{
	struct fsd_group *g = r->g;
	struct fsd_event_wait *w;
	bool parked = false;
	int err = 0;
	size_t n = 0;

	if (size > 65536)
		size = 65536;
	w = malloc(sizeof(*w) + size);
	if (!w) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	w->r = r;
	w->req = req;
	w->size = size;
	/* Before the request can be parked: once parked, another thread may
	 * answer it, and libfuse free it, at any moment. If the interrupt came
	 * already, on_interrupt runs in here and finds nothing parked; the
	 * check below under ev_lock sees the flag. */
	fuse_req_interrupt_func(req, on_interrupt, d);
	pthread_mutex_lock(&g->lock);
	if (r->pos < g->ev.next) {
		n = take_lines(r, w->buf, size);
	} else if (g->removed) {
		n = 0; /* end of file */
	} else if (nonblock) {
		err = EAGAIN;
	} else {
		pthread_mutex_lock(&d->ev_lock);
		if (d->ev_closing || fuse_session_exited(d->se) || fuse_req_interrupted(req)) {
			err = EINTR;
		} else {
			wait_park(d, w);
			parked = true;
		}
		pthread_mutex_unlock(&d->ev_lock);
	}
	pthread_mutex_unlock(&g->lock);
	/* Parked: @w and @req now belong to whoever takes them off the lists,
	 * maybe already; touch neither. */
	if (!parked)
		wait_answer(w, err, n);
}

void fsd_events_shutdown(struct fsd *d)
{
	struct fsd_event_wait *left = NULL, *w;

	pthread_mutex_lock(&d->ev_lock);
	d->ev_closing = true;
	while ((w = d->ev_waits)) {
		wait_unpark(d, w);
		w->rnext = left;
		left = w;
	}
	pthread_mutex_unlock(&d->ev_lock);
	while ((w = left)) {
		left = w->rnext;
		wait_answer(w, EINTR, 0);
	}
}

void fsd_events_poll(fuse_req_t req, struct fsd_event_reader *r, struct fuse_pollhandle *ph)
{
	struct fsd_group *g = r->g;
	unsigned revents = 0;

	pthread_mutex_lock(&g->lock);
	if (r->pos < g->ev.next || g->removed)
		revents = POLLIN | POLLRDNORM;
	if (ph) {
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		r->ph = NULL;
		if (revents)
			fuse_pollhandle_destroy(ph);
		else
			r->ph = ph; /* notified by the next fsd_event_post or the removal */
	}
	pthread_mutex_unlock(&g->lock);
	fuse_reply_poll(req, revents);
}
