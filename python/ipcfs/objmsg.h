/* SPDX-License-Identifier: MIT */
/*
 * objmsg.h - the layout of an object message (Member.send_obj()): one raw
 * ipcfs message holding a pickle (protocol 5) stream and its out-of-band
 * buffers, so that a reader rebuilds the object with read-only views of
 * the buffers in place. ipcfs/_objects.py decodes the same layout with
 * struct formats; tests/python/test_mirror.py checks that both agree.
 *
 *   struct objmsg_hdr                       16 bytes
 *   struct objmsg_buf [nbuf]                16 bytes each: where buffer i is
 *   pickle stream                           stream_len bytes
 *   buffer 0, buffer 1, ...                 each at an OBJMSG_ALIGN offset
 *
 * Integers are in the machine's byte order (one machine, by design).
 */
#ifndef IPCFS_PY_OBJMSG_H
#define IPCFS_PY_OBJMSG_H

#include <stddef.h>
#include <stdint.h>

#define OBJMSG_MAGIC 0x35595049u /* "IPY5" */
#define OBJMSG_ALIGN 64u         /* a cache line: any dtype, AVX-512 loads */
#define OBJMSG_MAX_BUFFERS 65536

struct objmsg_hdr {
	uint32_t magic;
	uint32_t nbuf;
	uint64_t stream_len;
};

struct objmsg_buf {
	uint64_t off; /* from the start of the message */
	uint64_t len;
};

static inline size_t objmsg_align(size_t off)
{
	return (off + OBJMSG_ALIGN - 1) & ~(size_t)(OBJMSG_ALIGN - 1);
}

static inline size_t objmsg_stream_off(uint32_t nbuf)
{
	return sizeof(struct objmsg_hdr) + (size_t)nbuf * sizeof(struct objmsg_buf);
}

/* First byte after the stream: buffers start at or after it. */
static inline uint64_t objmsg_data_off(uint32_t nbuf, uint64_t stream_len)
{
	return objmsg_stream_off(nbuf) + stream_len;
}

#endif
