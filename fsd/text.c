/* SPDX-License-Identifier: MIT */
/* text.c - a growing text buffer (text.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "text.h"

void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;

	while (!t->oom) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		int n = t->buf ? vsnprintf(t->buf + t->len, room, fmt, ap) : -1;
		va_end(ap);
		if (n >= 0 && (size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = t->cap ? t->cap * 2 : 1024;
		if (n >= 0 && cap < t->len + (size_t)n + 1)
			cap = t->len + (size_t)n + 1;
		char *nb = realloc(t->buf, cap);
		if (!nb) {
			t->oom = true;
			return;
		}
		t->buf = nb;
		t->cap = cap;
	}
}
