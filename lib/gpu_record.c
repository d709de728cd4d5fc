/* SPDX-License-Identifier: MIT */
/*
 * gpu_record.c - the GPU communicator's handle record (layout in
 * gpu_int.h): its hex encoding, decoding with every check, the checksum
 * shared with the graph tables, and communicator names.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "ipcfs/cuda_abi.h"
#include "ipcfs/ctl_proto.h"
#include "gpu_int.h"
#include "util.h"

/* ---- the record --------------------------------------------------------- */

static void put16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint16_t get16(const unsigned char *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const unsigned char *p)
{
	uint32_t v = 0;
	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}


enum {
	O_MAGIC = 0, O_VERSION = 4, O_KIND = 6, O_RANK = 8, O_WORLD = 12, O_PID = 16,
	O_FLAGS = 20, O_GEN = 24, O_BUF_BYTES = 32, O_BUF_OFF = 40, O_SIG_OFF = 48,
	O_PROBE_OFF = 56, O_UUID = 64, O_HANDLE = 80, O_HOST = 144, O_NCCL = 208,
	O_ALGO = 336, O_BLOCKS = 340, O_ONESHOT = 344, O_SUM = 352,
};
_Static_assert(O_SUM + 8 == GPU_REC_BYTES, "record layout");
_Static_assert(O_HOST - O_HANDLE == GPU_HANDLE_BYTES && O_NCCL - O_HOST == GPU_HOST_MAX &&
	       O_ALGO - O_NCCL == GPU_NCCL_ID_BYTES, "record fields");
_Static_assert(GPU_HANDLE_BYTES == IPCFS_K_IPC_HANDLE_BYTES &&
	       GPU_UUID_BYTES == IPCFS_K_UUID_BYTES &&
	       GPU_NCCL_ID_BYTES == IPCFS_K_NCCL_ID_BYTES, "sizes shared with libipcfs_cuda");

const size_t gpu_signal_bytes = sizeof(struct ipcfs_k_signal);

int gpu_record_encode(const struct gpu_record *r, char *hex, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char b[GPU_REC_BYTES];

	if (size < GPU_REC_HEX + 1)
		return -ENOSPC;
	if (!memchr(r->host, '\0', sizeof(r->host)))
		return -EINVAL;
	memset(b, 0, sizeof(b));
	put32(b + O_MAGIC, GPU_REC_MAGIC);
	put16(b + O_VERSION, GPU_REC_VERSION);
	put16(b + O_KIND, (uint16_t)r->kind);
	put32(b + O_RANK, r->rank);
	put32(b + O_WORLD, r->world);
	put32(b + O_PID, r->pid);
	put32(b + O_FLAGS, r->flags);
	put64(b + O_GEN, r->gen);
	put64(b + O_BUF_BYTES, r->buf_bytes);
	put64(b + O_BUF_OFF, r->buf_off);
	put64(b + O_SIG_OFF, r->sig_off);
	put64(b + O_PROBE_OFF, r->probe_off);
	memcpy(b + O_UUID, r->uuid, GPU_UUID_BYTES);
	memcpy(b + O_HANDLE, r->handle, GPU_HANDLE_BYTES);
	memcpy(b + O_HOST, r->host, strlen(r->host));
	memcpy(b + O_NCCL, r->nccl_id, GPU_NCCL_ID_BYTES);
	put32(b + O_ALGO, r->algo);
	put32(b + O_BLOCKS, r->blocks);
	put64(b + O_ONESHOT, r->oneshot_max);
	put64(b + O_SUM, util_fnv1a64(b, O_SUM));
	for (size_t i = 0; i < GPU_REC_BYTES; i++) {
		hex[2 * i] = digits[b[i] >> 4];
		hex[2 * i + 1] = digits[b[i] & 15];
	}
	hex[GPU_REC_HEX] = '\0';
	return GPU_REC_HEX;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int gpu_record_decode(const char *text, size_t len, struct gpu_record *r)
{
	unsigned char b[GPU_REC_BYTES];
	size_t nul;

	if (!text)
		return -EBADMSG;
	if (len && text[len - 1] == '\n')
		len--;
	if (len != GPU_REC_HEX)
		return -EBADMSG;
	for (size_t i = 0; i < GPU_REC_BYTES; i++) {
		int hi = hexval(text[2 * i]), lo = hexval(text[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EBADMSG;
		b[i] = (unsigned char)(hi << 4 | lo);
	}
	if (get32(b + O_MAGIC) != GPU_REC_MAGIC || get16(b + O_VERSION) != GPU_REC_VERSION ||
	    get64(b + O_SUM) != util_fnv1a64(b, O_SUM))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->kind = get16(b + O_KIND);
	r->rank = get32(b + O_RANK);
	r->world = get32(b + O_WORLD);
	r->pid = get32(b + O_PID);
	r->flags = get32(b + O_FLAGS);
	r->gen = get64(b + O_GEN);
	r->buf_bytes = get64(b + O_BUF_BYTES);
	r->buf_off = get64(b + O_BUF_OFF);
	r->sig_off = get64(b + O_SIG_OFF);
	r->probe_off = get64(b + O_PROBE_OFF);
	memcpy(r->uuid, b + O_UUID, GPU_UUID_BYTES);
	memcpy(r->handle, b + O_HANDLE, GPU_HANDLE_BYTES);
	memcpy(r->host, b + O_HOST, GPU_HOST_MAX);
	memcpy(r->nccl_id, b + O_NCCL, GPU_NCCL_ID_BYTES);
	r->algo = get32(b + O_ALGO);
	r->blocks = get32(b + O_BLOCKS);
	r->oneshot_max = get64(b + O_ONESHOT);

	if (r->kind < GPU_REC_BUF || r->kind > GPU_REC_HELLO)
		return -EBADMSG;
	if (r->world < 1 || r->world > IPCFS_MAX_RANKS || r->rank >= r->world || !r->pid)
		return -EBADMSG;
	nul = strnlen(r->host, GPU_HOST_MAX);
	if (nul == GPU_HOST_MAX)
		return -EBADMSG;
	for (size_t i = nul; i < GPU_HOST_MAX; i++)  /* canonical: zero padded */
		if (r->host[i])
			return -EBADMSG;
	if (r->buf_bytes % ALLREDUCE_VEC_BYTES || r->buf_off % ALLREDUCE_VEC_BYTES)
		return -EBADMSG;
	if (r->kind == GPU_REC_BUF && (r->flags & GPU_F_IPC)) {
		if (r->sig_off % 256 || r->probe_off % 256 || !r->buf_bytes ||
		    r->sig_off + sizeof(struct ipcfs_k_signal) > r->probe_off ||
		    r->probe_off + 8 * IPCFS_K_MAX_RANKS > r->buf_off)
			return -EBADMSG;
	}
	if (r->algo >= ALLREDUCE_NALGOS || r->blocks > IPCFS_K_MAX_BLOCKS)
		return -EBADMSG;
	return 0;
}

int gpu_name_check(const char *name)
{
	/* The protocol's name grammar (ctl_proto.h), shorter: the daemon's
	 * names of the sub-records (NAME.nccl, NAME.g0, ...) must fit too. */
	if (!name || strlen(name) > GPU_NAME_MAX || ctl_name_problem(name, strlen(name)))
		return -EINVAL;
	return 0;
}
