/* SPDX-License-Identifier: MIT */
/*
 * typed.c - self-describing messages: named typed arrays built in place by
 * the sender and read in place by the receivers.
 *
 * Layout (native byte order: sender and readers share one machine):
 *
 *   header  16 bytes: u32 magic "IPCT", u16 version, u16 nfields, u64 bytes
 *   field   u32 field_bytes (all of the field, multiple of 16)
 *           u16 name_len (without the NUL), u8 dtype, u8 ndim
 *           u64 data_bytes
 *           u64 shape[ndim]
 *           name, NUL, padding to 16
 *           data (data_bytes), padding to 16
 *
 * Fields follow each other; the message starts 32-byte aligned (a ring
 * slot) or 64-byte aligned (an arena block), so every field's data is
 * 16-byte aligned. A reader copies each header word out of shared memory
 * before checking it, and checks all of them: a sender (or a stray write)
 * can make a message wrong but never make a reader step out of it.
 */
#include <errno.h>
#include <string.h>

#include "ipcfs.h"
#include "member_int.h"

#define TYPED_MAGIC 0x54435049u /* "IPCT" */
#define TYPED_VERSION 1
#define FIELD_HDR 16u

struct typed_hdr {
	uint32_t magic;
	uint16_t version;
	uint16_t nfields;
	uint64_t bytes;
};

struct field_hdr {
	uint32_t field_bytes;
	uint16_t name_len;
	uint8_t dtype;
	uint8_t ndim;
	uint64_t data_bytes;
};

_Static_assert(sizeof(struct typed_hdr) == IPCFS_TYPED_HDR, "typed header");
_Static_assert(sizeof(struct field_hdr) == FIELD_HDR, "field header");

static uint64_t round16(uint64_t v)
{
	return (v + 15) & ~(uint64_t)15;
}

int ipcfs_dtype_size(int dtype)
{
	switch (dtype) {
	case IPCFS_U8: case IPCFS_I8: case IPCFS_BOOL:
		return 1;
	case IPCFS_I16: case IPCFS_U16: case IPCFS_F16: case IPCFS_BF16:
		return 2;
	case IPCFS_I32: case IPCFS_U32: case IPCFS_F32:
		return 4;
	case IPCFS_I64: case IPCFS_U64: case IPCFS_F64:
		return 8;
	default:
		return -EINVAL;
	}
}

const char *ipcfs_dtype_name(int dtype)
{
	static const char *const names[] = {
		[IPCFS_U8] = "u8", [IPCFS_I8] = "i8", [IPCFS_I16] = "i16", [IPCFS_U16] = "u16",
		[IPCFS_I32] = "i32", [IPCFS_U32] = "u32", [IPCFS_I64] = "i64", [IPCFS_U64] = "u64",
		[IPCFS_F16] = "f16", [IPCFS_BF16] = "bf16", [IPCFS_F32] = "f32", [IPCFS_F64] = "f64",
		[IPCFS_BOOL] = "bool",
	};
	if (dtype <= 0 || (size_t)dtype >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[dtype];
}

/* Elements and bytes of a shape, overflow-checked. */
static int shape_bytes(int dtype, unsigned ndim, const uint64_t *shape, uint64_t *count,
		       uint64_t *bytes)
{
	int esize = ipcfs_dtype_size(dtype);
	uint64_t n = 1;

	if (esize < 0 || ndim > IPCFS_MAX_DIMS || (ndim && !shape))
		return -EINVAL;
	for (unsigned i = 0; i < ndim; i++)
		if (__builtin_mul_overflow(n, shape[i], &n))
			return -EOVERFLOW;
	if (__builtin_mul_overflow(n, (uint64_t)esize, bytes) || *bytes > (uint64_t)1 << 48)
		return -EOVERFLOW;
	*count = n;
	return 0;
}

/* Offset of a field's data from the field's start. */
static uint64_t data_offset(unsigned ndim, size_t name_len)
{
	return round16(FIELD_HDR + 8u * ndim + name_len + 1);
}

long long ipcfs_field_bytes(const char *name, int dtype, unsigned ndim, const uint64_t *shape)
{
	uint64_t count, bytes;
	size_t nl = name ? strnlen(name, IPCFS_NAME_MAX + 1) : 0;
	int rc;

	if (nl == 0 || nl > IPCFS_NAME_MAX)
		return -EINVAL;
	rc = shape_bytes(dtype, ndim, shape, &count, &bytes);
	if (rc)
		return rc;
	return (long long)(data_offset(ndim, nl) + round16(bytes));
}

int ipcfs_build_begin(struct ipcfs_member *m, struct ipcfs_builder *b, size_t capacity,
		      int timeout_ms)
{
	void *buf;
	int rc;

	if (!m || !b || capacity < IPCFS_TYPED_HDR)
		return -EINVAL;
	rc = ipcfs_reserve(m, capacity, &buf, timeout_ms);
	if (rc)
		return rc;
	b->m = m;
	b->base = buf;
	b->cap = capacity;
	b->used = IPCFS_TYPED_HDR;
	b->nfields = 0;
	return 0;
}

int ipcfs_build_add(struct ipcfs_builder *b, const char *name, int dtype, unsigned ndim,
		    const uint64_t *shape, void **data)
{
	uint64_t count, bytes;
	size_t nl;
	int rc;

	if (!b || !b->base || !data || !name || b->nfields == UINT16_MAX)
		return -EINVAL;
	nl = strnlen(name, IPCFS_NAME_MAX + 1);
	if (nl == 0 || nl > IPCFS_NAME_MAX)
		return -EINVAL;
	rc = shape_bytes(dtype, ndim, shape, &count, &bytes);
	if (rc)
		return rc;
	uint64_t doff = data_offset(ndim, nl), total = doff + round16(bytes);
	if (total > UINT32_MAX || total > b->cap - b->used)
		return total > UINT32_MAX ? -EOVERFLOW : -ENOSPC;

	unsigned char *f = b->base + b->used;
	struct field_hdr h = {
		.field_bytes = (uint32_t)total, .name_len = (uint16_t)nl,
		.dtype = (uint8_t)dtype, .ndim = (uint8_t)ndim, .data_bytes = bytes,
	};
	memcpy(f, &h, sizeof(h));
	if (ndim)
		memcpy(f + FIELD_HDR, shape, 8u * ndim);
	/* Name, NUL and padding: the padding is zeroed so that messages are
	 * deterministic bytes (no stale data of earlier messages leaks). */
	memset(f + FIELD_HDR + 8u * ndim, 0, doff - FIELD_HDR - 8u * ndim);
	memcpy(f + FIELD_HDR + 8u * ndim, name, nl);
	/* And the padding after the data, which the caller does not write. */
	memset(f + doff + bytes, 0, total - doff - bytes);
	*data = f + doff;
	b->used += total;
	b->nfields++;
	return 0;
}

int ipcfs_build_commit(struct ipcfs_builder *b, uint64_t dest)
{
	if (!b || !b->base)
		return -EINVAL;
	struct typed_hdr h = {
		.magic = TYPED_MAGIC, .version = TYPED_VERSION,
		.nfields = (uint16_t)b->nfields, .bytes = b->used,
	};
	memcpy(b->base, &h, sizeof(h));
	int rc = member_commit_kind(b->m, dest, b->used, IPCFS_KIND_TYPED);
	if (!rc)
		b->base = NULL; /* a builder publishes once */
	return rc;
}

/* The message's header, checked: number of fields or an error. */
static int typed_header(const struct ipcfs_msg *msg)
{
	struct typed_hdr h;

	if (!msg || !msg->data || msg->kind != IPCFS_KIND_TYPED)
		return -EINVAL;
	if (msg->len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, msg->data, sizeof(h));
	if (h.magic != TYPED_MAGIC || h.version != TYPED_VERSION || h.bytes != msg->len)
		return -EBADMSG;
	return h.nfields;
}

/* Check the field at byte @off of @msg and fill @f; its size in *@size. */
static int parse_field(const struct ipcfs_msg *msg, uint64_t off, struct ipcfs_field *f,
		       uint64_t *size)
{
	const unsigned char *base = msg->data;
	struct field_hdr h;
	uint64_t shape[IPCFS_MAX_DIMS], count, bytes;

	if (off % 16 || off > msg->len || msg->len - off < FIELD_HDR)
		return -EBADMSG;
	memcpy(&h, base + off, sizeof(h));
	if (h.ndim > IPCFS_MAX_DIMS || h.name_len == 0 || h.name_len > IPCFS_NAME_MAX ||
	    h.field_bytes % 16 ||
	    h.field_bytes > msg->len - off)
		return -EBADMSG;
	uint64_t doff = data_offset(h.ndim, h.name_len);
	if (doff > h.field_bytes || h.data_bytes > h.field_bytes - doff)
		return -EBADMSG;
	if (h.ndim)
		memcpy(shape, base + off + FIELD_HDR, 8u * h.ndim);
	if (shape_bytes(h.dtype, h.ndim, shape, &count, &bytes) || bytes != h.data_bytes)
		return -EBADMSG;
	const char *name = (const char *)base + off + FIELD_HDR + 8u * h.ndim;
	/* Copied, then checked: the copy is what the caller sees. */
	memcpy(f->name, name, h.name_len);
	f->name[h.name_len] = '\0';
	if (strlen(f->name) != h.name_len || name[h.name_len] != '\0')
		return -EBADMSG;
	f->dtype = h.dtype;
	f->ndim = h.ndim;
	memset(f->shape, 0, sizeof(f->shape));
	if (h.ndim)
		memcpy(f->shape, shape, 8u * h.ndim);
	f->count = count;
	f->bytes = bytes;
	f->data = base + off + doff;
	*size = h.field_bytes;
	return 0;
}

int ipcfs_msg_nfields(const struct ipcfs_msg *msg)
{
	int n = typed_header(msg);
	struct ipcfs_field f;
	uint64_t off = IPCFS_TYPED_HDR, size;

	/* Check every field once, so that a count is only given for a
	 * message that can be walked to its end. */
	for (int i = 0; n > 0 && i < n; i++) {
		int rc = parse_field(msg, off, &f, &size);
		if (rc)
			return rc;
		off += size;
	}
	return n;
}

/* Lookups check the whole message first (ipcfs_msg_nfields), so that a
 * corrupt message is refused whichever field is asked for. */
int ipcfs_msg_field(const struct ipcfs_msg *msg, unsigned index, struct ipcfs_field *f)
{
	int n = ipcfs_msg_nfields(msg);
	uint64_t off = IPCFS_TYPED_HDR, size;
	struct ipcfs_field tmp;

	if (n < 0)
		return n;
	if (!f)
		return -EINVAL;
	if (index >= (unsigned)n)
		return -ENOENT;
	for (unsigned i = 0; i <= index; i++) {
		int rc = parse_field(msg, off, i == index ? f : &tmp, &size);
		if (rc)
			return rc;
		off += size;
	}
	return 0;
}

int ipcfs_msg_find(const struct ipcfs_msg *msg, const char *name, struct ipcfs_field *f)
{
	int n = ipcfs_msg_nfields(msg);
	uint64_t off = IPCFS_TYPED_HDR, size;

	if (n < 0)
		return n;
	if (!f || !name)
		return -EINVAL;
	for (int i = 0; i < n; i++) {
		int rc = parse_field(msg, off, f, &size);
		if (rc)
			return rc;
		if (!strcmp(f->name, name))
			return 0;
		off += size;
	}
	return -ENOENT;
}
