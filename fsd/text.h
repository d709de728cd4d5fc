/* SPDX-License-Identifier: MIT */
/*
 * text.h - a growing text buffer for what the daemon renders (file
 * contents, the state file). Pure: no lock, no FUSE. Start from
 * `struct text t = { 0 }`; on success t.buf holds t.len bytes and a NUL
 * (the caller frees it); after a failed allocation t.oom is set and
 * further additions do nothing.
 */
#ifndef IPCFS_FSD_TEXT_H
#define IPCFS_FSD_TEXT_H

#include <stdbool.h>
#include <stddef.h>

struct text {
	char *buf;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3)))
void text_add(struct text *t, const char *fmt, ...);

#endif
