/* SPDX-License-Identifier: MIT */
/*
 * fuzz_gpu_record.c - libFuzzer target: a peer's GPU record as a member
 * reads it from the rendezvous directory (lib/gpu_record.c,
 * gpu_record_decode, which gpu_rdv_read runs over the file's bytes).
 *
 * The first byte picks the form of the rest: text as found in the file,
 * or the record's bytes, which the harness writes out as a record would
 * be (hex, its checksum made to match, magic and version set when asked,
 * upper-case digits or a newline when asked), so that the fuzzer works on
 * the fields behind the checksum. Contracts: 0 or -EBADMSG; a record
 * accepted encodes to the canonical text of what was read, and decodes
 * again to the same record.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_int.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
	char hex[GPU_REC_HEX + 2], canon[GPU_REC_HEX + 1], again[GPU_REC_HEX + 1];
	struct gpu_record r, r2;
	unsigned char b[GPU_REC_BYTES];
	const char *text;
	size_t len;

	if (size == 0)
		return 0;
	uint8_t mode = data[0];
	if (!(mode & 1)) {
		/* Exactly the file's bytes, in a buffer of their size. */
		char *t = malloc(size - 1 ? size - 1 : 1);
		if (!t)
			abort();
		memcpy(t, data + 1, size - 1);
		int rc = gpu_record_decode(t, size - 1, &r);
		free(t);
		if (rc != 0 && rc != -EBADMSG)
			abort();
		if (rc)
			return 0;
	} else {
		memset(b, 0, sizeof(b));
		memcpy(b, data + 1, size - 1 < sizeof(b) ? size - 1 : sizeof(b));
		if (mode & 2) {
			put32(b, GPU_REC_MAGIC);
			b[4] = GPU_REC_VERSION;
			b[5] = 0;
		}
		uint64_t sum = util_fnv1a64(b, GPU_REC_BYTES - 8);
		for (int i = 0; i < 8; i++)
			b[GPU_REC_BYTES - 8 + i] = (unsigned char)(sum >> (8 * i));
		const char *d = mode & 4 ? upper : lower;
		for (size_t i = 0; i < GPU_REC_BYTES; i++) {
			hex[2 * i] = d[b[i] >> 4];
			hex[2 * i + 1] = d[b[i] & 15];
			canon[2 * i] = lower[b[i] >> 4];
			canon[2 * i + 1] = lower[b[i] & 15];
		}
		canon[GPU_REC_HEX] = '\0';
		len = GPU_REC_HEX;
		if (mode & 8)
			hex[len++] = '\n';
		text = hex;
		int rc = gpu_record_decode(text, len, &r);
		if (rc != 0 && rc != -EBADMSG)
			abort();
		if (rc)
			return 0;
		/* The record's text is canonical: every byte is a field. */
		if (gpu_record_encode(&r, again, sizeof(again)) != GPU_REC_HEX ||
		    memcmp(again, canon, GPU_REC_HEX))
			abort();
	}
	if (gpu_record_encode(&r, again, sizeof(again)) != GPU_REC_HEX)
		abort();
	if (gpu_record_decode(again, GPU_REC_HEX, &r2) != 0 || memcmp(&r, &r2, sizeof(r)))
		abort();
	return 0;
}
