/* SPDX-License-Identifier: MIT */
/*
 * fuzz_typed.c - libFuzzer target: the typed-message reader (lib/typed.c:
 * ipcfs_msg_nfields, ipcfs_msg_field, ipcfs_msg_find) over a message's
 * bytes, held in a buffer of exactly its length (ASan sees any read past
 * it).
 *
 * The first byte picks the form of the rest: the message's raw bytes, or
 * a program for the library's own builder (ipcfs_build_add over a buffer
 * of ours: fields with names, dtypes and shapes from the input; the header
 * written by ipcfs_build_commit, which then refuses to publish without a
 * member), followed by byte flips at chosen offsets, so that the fuzzer
 * works on messages that are nearly right. Contracts: a count, or
 * -EBADMSG; every field handed out lies inside the message, with a
 * NUL-terminated name; a built message that was not flipped reads back
 * field for field.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipcfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CAP 4096
#define NF 8

struct built {
	unsigned n;
	char name[NF][16];
	int dtype[NF];
	unsigned ndim[NF];
	uint64_t shape[NF][IPCFS_MAX_DIMS];
};

static uint8_t get8(const uint8_t **p, size_t *n)
{
	if (!*n)
		return 0;
	(*n)--;
	return *(*p)++;
}

/* Build up to NF fields into @buf; the message's length. */
static size_t build(unsigned char *buf, const uint8_t **p, size_t *n, struct built *w)
{
	struct ipcfs_builder b = { .m = NULL, .base = buf, .cap = CAP, .used = IPCFS_TYPED_HDR };
	unsigned count = get8(p, n) % (NF + 1);

	memset(buf, 0, CAP);
	memset(w, 0, sizeof(*w));
	for (unsigned f = 0; f < count; f++) {
		unsigned k = w->n;
		uint8_t nl = get8(p, n) % 15 + 1;
		for (unsigned i = 0; i < nl; i++)
			w->name[k][i] = (char)('a' + get8(p, n) % 26);
		w->dtype[k] = get8(p, n) % 16 - 2; /* some are no dtype at all */
		w->ndim[k] = get8(p, n) % (IPCFS_MAX_DIMS + 2);
		for (unsigned d = 0; d < w->ndim[k] && d < IPCFS_MAX_DIMS; d++)
			w->shape[k][d] = get8(p, n) % 5;
		void *dp;
		int rc = ipcfs_build_add(&b, w->name[k], w->dtype[k], w->ndim[k], w->shape[k], &dp);
		if (rc == 0)
			w->n++;
		else if (rc != -EINVAL && rc != -ENOSPC && rc != -EOVERFLOW)
			abort();
	}
	/* Writes the header, then refuses: no member to publish through. */
	if (ipcfs_build_commit(&b, 1) != -EINVAL)
		abort();
	return b.used;
}

static void read_all(const struct ipcfs_msg *msg, const struct built *w)
{
	struct ipcfs_field f;
	int n = ipcfs_msg_nfields(msg);

	if (n < 0) {
		if (n != -EBADMSG || w)
			abort();
		return;
	}
	if (w && (unsigned)n != w->n)
		abort();
	for (int i = 0; i < n; i++) {
		if (ipcfs_msg_field(msg, (unsigned)i, &f))
			abort(); /* nfields checked them all */
		const char *d = f.data, *m = msg->data;
		if (d < m || f.bytes > msg->len || (size_t)(d - m) > msg->len - f.bytes ||
		    f.ndim > IPCFS_MAX_DIMS || strnlen(f.name, sizeof(f.name)) == sizeof(f.name))
			abort();
		if (w && (strcmp(f.name, w->name[i]) || f.dtype != w->dtype[i] ||
			  f.ndim != w->ndim[i] ||
			  memcmp(f.shape, w->shape[i], 8u * f.ndim)))
			abort();
		struct ipcfs_field g;
		int rc = ipcfs_msg_find(msg, f.name, &g);
		/* The first field of that name (names may repeat). */
		if (rc || g.data > f.data)
			abort();
	}
	if (ipcfs_msg_field(msg, (unsigned)n, &f) != -ENOENT)
		abort();
	if (ipcfs_msg_find(msg, "no such field name at all", &f) != -ENOENT)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char work[CAP];
	struct built w;
	const uint8_t *p = data;
	size_t n = size, len;

	if (!n)
		return 0;
	uint8_t mode = get8(&p, &n);
	bool flipped = false;
	if (mode & 1) {
		len = build(work, &p, &n, &w);
		/* Flips: (offset, xor) pairs over the message. */
		while (n >= 2) {
			uint16_t off = get8(&p, &n);
			uint8_t x = get8(&p, &n);
			if (len && x) {
				work[off % len] ^= x;
				flipped = true;
			}
		}
	} else {
		len = n < CAP ? n : CAP;
		memcpy(work, p, len);
	}
	unsigned char *buf = malloc(len ? len : 1);
	if (!buf)
		abort();
	memcpy(buf, work, len);
	struct ipcfs_msg msg = { .data = buf, .len = len, .kind = IPCFS_KIND_TYPED };
	read_all(&msg, (mode & 1) && !flipped ? &w : NULL);
	free(buf);
	return 0;
}
