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
 * A blocked read holds one of the daemon's worker threads and re-checks
 * every 100 ms whether it was interrupted (the reader got a signal), the
 * group went away or the daemon is shutting down.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fsd.h"

struct fsd_event_reader {
	struct fsd_event_reader *next, *prev;
	struct fsd_group *g;       /* holds a reference */
	uint64_t pos;              /* sequence number of the next event to read */
	struct fuse_pollhandle *ph; /* to notify when an event arrives */
};

void fsd_event_post(struct fsd_group *g, const char *fmt, ...)
{
	va_list ap;
	char *line = g->events[g->ev_next % FSD_EVENTS];

	va_start(ap, fmt);
	vsnprintf(line, FSD_EVENT_LINE - 1, fmt, ap);
	va_end(ap);
	strcat(line, "\n");
	g->ev_next++;
	pthread_cond_broadcast(&g->ev_cond);
	for (struct fsd_event_reader *r = g->readers; r; r = r->next) {
		if (r->ph) {
			fuse_lowlevel_notify_poll(r->ph);
			fuse_pollhandle_destroy(r->ph);
			r->ph = NULL;
		}
	}
}

struct fsd_event_reader *fsd_events_open(struct fsd_group *g)
{
	struct fsd_event_reader *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->g = g;
	pthread_mutex_lock(&g->lock);
	r->pos = g->ev_next;
	r->next = g->readers;
	if (g->readers)
		g->readers->prev = r;
	g->readers = r;
	pthread_mutex_unlock(&g->lock);
	return r;
}

void fsd_events_release(struct fsd_event_reader *r)
{
	struct fsd_group *g = r->g;

	pthread_mutex_lock(&g->lock);
	if (r->prev)
		r->prev->next = r->next;
	else
		g->readers = r->next;
	if (r->next)
		r->next->prev = r->prev;
	if (r->ph)
		fuse_pollhandle_destroy(r->ph);
	pthread_mutex_unlock(&g->lock);
	free(r);
}

/* Copy the lines from r->pos that fit in @size into @buf (caller holds the
 * lock); returns the bytes copied. */
static size_t take_lines(struct fsd_event_reader *r, char *buf, size_t size)
{
	struct fsd_group *g = r->g;
	size_t o = 0;

	if (g->ev_next - r->pos > FSD_EVENTS) {
		uint64_t lost = g->ev_next - FSD_EVENTS - r->pos;
		int n = snprintf(buf, size, "lost %llu\n", (unsigned long long)lost);
		if (n < 0 || (size_t)n >= size)
			return 0;
		o = (size_t)n;
		r->pos = g->ev_next - FSD_EVENTS;
	}
	while (r->pos < g->ev_next) {
		const char *line = g->events[r->pos % FSD_EVENTS];
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

void fsd_events_read(fuse_req_t req, struct fsd *d, struct fsd_event_reader *r, size_t size,
		     bool nonblock)
{
	struct fsd_group *g = r->g;
	char *buf;
	int err = 0;
	size_t n = 0;

	if (size > 65536)
		size = 65536;
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&g->lock);
	for (;;) {
		if (r->pos < g->ev_next) {
			n = take_lines(r, buf, size);
			break;
		}
		if (g->removed)
			break; /* end of file */
		if (nonblock) {
			err = EAGAIN;
			break;
		}
		if (fuse_req_interrupted(req) || fuse_session_exited(d->se)) {
			err = EINTR;
			break;
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&g->ev_cond, &g->lock, &ts);
	}
	pthread_mutex_unlock(&g->lock);
	if (err)
		fuse_reply_err(req, err);
	else
		fuse_reply_buf(req, buf, n);
	free(buf);
}

void fsd_events_poll(fuse_req_t req, struct fsd_event_reader *r, struct fuse_pollhandle *ph)
{
	struct fsd_group *g = r->g;
	unsigned revents = 0;

	pthread_mutex_lock(&g->lock);
	if (r->pos < g->ev_next || g->removed)
		revents = POLLIN | POLLRDNORM;
	if (ph) {
		if (r->ph)
			fuse_pollhandle_destroy(r->ph);
		r->ph = NULL;
		if (revents)
			fuse_pollhandle_destroy(ph);
		else
			r->ph = ph; /* notified by the next fsd_event_post */
	}
	pthread_mutex_unlock(&g->lock);
	fuse_reply_poll(req, revents);
}
