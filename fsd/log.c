/* SPDX-License-Identifier: MIT */
/*
 * log.c - the daemon's own log (stderr in the foreground, syslog when
 * detached) and the error_log rings that users read.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "fsd.h"
#include "wait_int.h"

static bool log_stderr = true;
static bool log_debug;

void fsd_log_init(bool foreground, bool debug)
{
	log_stderr = foreground;
	log_debug = debug;
	if (!foreground)
		openlog("ipcfsd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

void fsd_log(int prio, const char *fmt, ...)
{
	va_list ap;

	if (prio >= LOG_DEBUG && !log_debug)
		return;
	va_start(ap, fmt);
	if (log_stderr) {
		/* One write(2) per line: lines of concurrent threads do not
		 * mix. Not stdio: at exit libfuse 3.14 cancels its workers, one
		 * of which may be printing (perror of a failed read of the
		 * device) and die holding stderr's lock; our "exiting" line
		 * would then wait for it for ever. */
		static const char prefix[] = "ipcfsd: ";
		char line[1024];
		size_t p = sizeof(prefix) - 1, room = sizeof(line) - p - 1;
		memcpy(line, prefix, p);
		int n = vsnprintf(line + p, room + 1, fmt, ap);
		size_t len = p + (n < 0 ? 0 : (size_t)n < room ? (size_t)n : room);
		line[len++] = '\n';
		ssize_t w = write(STDERR_FILENO, line, len);
		(void)w; /* nowhere to report it */
	} else {
		vsyslog(prio, fmt, ap);
	}
	va_end(ap);
}

void fsd_errlog_add(struct fsd_errlog *log, const char *where, const char *input, size_t len,
		    int err, const char *why)
{
	char q[120], stamp[40];
	struct timespec ts;
	struct tm tm;
	const char *ename = strerrorname_np(err > 0 ? err : -err);

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fsd_quote(input ? input : "", input ? len : 0, q, sizeof(q));

	char *line = log->lines[log->next];
	snprintf(line, FSD_ERRLOG_LINE, "%s.%06ldZ %s: \"%s\": %s: %s", stamp, ts.tv_nsec / 1000,
		 where, q, ename ? ename : "E?", why && *why ? why : strerror(err > 0 ? err : -err));
	log->next = (log->next + 1) % FSD_ERRLOG_LINES;
	if (log->count < FSD_ERRLOG_LINES)
		log->count++;
	/* The daemon's log has its own time stamps: skip ours. */
	fsd_log(LOG_NOTICE, "%s", line + strlen(stamp) + strlen(".000000Z "));
}

char *fsd_errlog_dump(const struct fsd_errlog *log, size_t *len)
{
	char *buf = malloc((size_t)log->count * (FSD_ERRLOG_LINE + 1) + 1);
	size_t o = 0;

	if (!buf)
		return NULL;
	unsigned first = (log->next + FSD_ERRLOG_LINES - log->count) % FSD_ERRLOG_LINES;
	for (unsigned i = 0; i < log->count; i++) {
		const char *l = log->lines[(first + i) % FSD_ERRLOG_LINES];
		size_t n = strlen(l);
		memcpy(buf + o, l, n);
		o += n;
		buf[o++] = '\n';
	}
	buf[o] = '\0';
	*len = o;
	return buf;
}
