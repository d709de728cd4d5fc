/* SPDX-License-Identifier: MIT */
/* fuzz_input.h - a fuzz input read as a program: bytes taken one at a time,
 * zeros once it is used up (shared by the structure-aware targets). */
#ifndef IPCFS_FUZZ_INPUT_H
#define IPCFS_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t get8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* @bytes bytes, little-endian. */
static inline uint64_t getn(struct in *in, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v |= (uint64_t)get8(in) << (8 * i);
	return v;
}

#endif
