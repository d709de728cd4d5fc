/* SPDX-License-Identifier: MIT */
/*
 * test_typed.c - typed messages: a dict of arrays built in place and read
 * in place, inline and in the arena; every header field out of range gives
 * -EBADMSG; random bytes never crash a reader.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"

struct pair {
	char dir[PATH_MAX];
	struct ipcfs_member *a, *b;
};

static void pair_up(struct pair *p, uint64_t arena)
{
	struct ipcfs_params prm;
	ipcfs_params_init(&prm);
	prm.ranks = 2;
	prm.slots = 8;
	prm.slot_bytes = 8192;
	prm.arena_bytes = arena;
	tl_group(p->dir, &prm);
	p->a = tl_join(p->dir, 0);
	p->b = tl_join(p->dir, 1);
}

static void pair_done(struct pair *p)
{
	ipcfs_leave(p->a);
	ipcfs_leave(p->b);
	tl_group_done(p->dir);
}

START_TEST(dtypes)
{
	static const struct { int dt; int size; const char *name; } t[] = {
		{ IPCFS_U8, 1, "u8" }, { IPCFS_I8, 1, "i8" }, { IPCFS_I16, 2, "i16" },
		{ IPCFS_U16, 2, "u16" }, { IPCFS_I32, 4, "i32" }, { IPCFS_U32, 4, "u32" },
		{ IPCFS_I64, 8, "i64" }, { IPCFS_U64, 8, "u64" }, { IPCFS_F16, 2, "f16" },
		{ IPCFS_BF16, 2, "bf16" }, { IPCFS_F32, 4, "f32" }, { IPCFS_F64, 8, "f64" },
		{ IPCFS_BOOL, 1, "bool" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_int_eq(ipcfs_dtype_size(t[i].dt), t[i].size);
		ck_assert_str_eq(ipcfs_dtype_name(t[i].dt), t[i].name);
	}
	ck_assert_int_eq(ipcfs_dtype_size(0), -EINVAL);
	ck_assert_int_eq(ipcfs_dtype_size(99), -EINVAL);
	ck_assert_str_eq(ipcfs_dtype_name(-1), "unknown");
}
END_TEST

START_TEST(dict_of_arrays)
{
	struct pair p;
	struct ipcfs_builder bld;
	struct ipcfs_msg msg;
	struct ipcfs_field f;
	const uint64_t ids_shape[] = { 4, 128 }, pos_shape[] = { 512 }, mask_shape[] = { 7 };
	void *ids, *pos, *temp, *mask;

	pair_up(&p, 0);
	long long cap = IPCFS_TYPED_HDR + ipcfs_field_bytes("token_ids", IPCFS_I64, 2, ids_shape) +
			ipcfs_field_bytes("positions", IPCFS_I32, 1, pos_shape) +
			ipcfs_field_bytes("temperature", IPCFS_F32, 0, NULL) +
			ipcfs_field_bytes("mask", IPCFS_BOOL, 1, mask_shape);
	ck_assert_int_le(cap, 8192);
	ck_assert_int_eq(ipcfs_build_begin(p.a, &bld, (size_t)cap, 0), 0);
	ck_assert_int_eq(ipcfs_build_add(&bld, "token_ids", IPCFS_I64, 2, ids_shape, &ids), 0);
	/* Written where the readers will read them. */
	for (int i = 0; i < 4 * 128; i++)
		((int64_t *)ids)[i] = 1000000007ll * i;
	ck_assert_int_eq(ipcfs_build_add(&bld, "positions", IPCFS_I32, 1, pos_shape, &pos), 0);
	for (int i = 0; i < 512; i++)
		((int32_t *)pos)[i] = -i;
	ck_assert_int_eq(ipcfs_build_add(&bld, "temperature", IPCFS_F32, 0, NULL, &temp), 0);
	*(float *)temp = 0.7f;
	ck_assert_int_eq(ipcfs_build_add(&bld, "mask", IPCFS_BOOL, 1, mask_shape, &mask), 0);
	memset(mask, 1, 7);
	/* Exactly full: one more byte of field does not fit. */
	void *x;
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", IPCFS_U8, 0, NULL, &x), -ENOSPC);
	ck_assert_int_eq(ipcfs_build_commit(&bld, IPCFS_ALL), 0);
	ck_assert_int_eq(ipcfs_build_commit(&bld, IPCFS_ALL), -EINVAL); /* once */

	ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
	ck_assert_int_eq(msg.kind, IPCFS_KIND_TYPED);
	ck_assert_int_eq(ipcfs_msg_nfields(&msg), 4);
	ck_assert_int_eq(ipcfs_msg_find(&msg, "token_ids", &f), 0);
	ck_assert_int_eq(f.dtype, IPCFS_I64);
	ck_assert_uint_eq(f.ndim, 2);
	ck_assert_uint_eq(f.shape[0], 4);
	ck_assert_uint_eq(f.shape[1], 128);
	ck_assert_uint_eq(f.count, 512);
	ck_assert_uint_eq(f.bytes, 4096);
	ck_assert_uint_eq((uintptr_t)f.data % 16, 0);
	for (int i = 0; i < 512; i++)
		ck_assert_int_eq(((const int64_t *)f.data)[i], 1000000007ll * i);
	ck_assert_int_eq(ipcfs_msg_find(&msg, "temperature", &f), 0);
	ck_assert_uint_eq(f.ndim, 0);
	ck_assert_uint_eq(f.count, 1);
	ck_assert(*(const float *)f.data == 0.7f);
	ck_assert_int_eq(ipcfs_msg_field(&msg, 1, &f), 0);
	ck_assert_str_eq(f.name, "positions");
	ck_assert_int_eq(((const int32_t *)f.data)[511], -511);
	ck_assert_uint_eq((uintptr_t)f.data % 16, 0);
	ck_assert_int_eq(ipcfs_msg_field(&msg, 3, &f), 0);
	ck_assert_str_eq(f.name, "mask");
	ck_assert_int_eq(ipcfs_msg_field(&msg, 4, &f), -ENOENT);
	ck_assert_int_eq(ipcfs_msg_find(&msg, "nope", &f), -ENOENT);
	ck_assert_int_eq(ipcfs_release(p.b, &msg), 0);

	/* A raw message is not typed. */
	ck_assert_int_eq(ipcfs_send(p.a, IPCFS_ALL, "raw", 3, 0), 0);
	ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
	ck_assert_int_eq(ipcfs_msg_nfields(&msg), -EINVAL);
	ck_assert_int_eq(ipcfs_msg_field(&msg, 0, &f), -EINVAL);
	ipcfs_release(p.b, &msg);
	pair_done(&p);
}
END_TEST

START_TEST(large_field_in_arena)
{
	struct pair p;
	struct ipcfs_builder bld;
	struct ipcfs_msg msg;
	struct ipcfs_field f;
	const uint64_t shape[] = { 1024, 1024, 4 }; /* 16 MiB of f32 */
	void *data, *small;

	pair_up(&p, 32 << 20);
	long long cap = IPCFS_TYPED_HDR + ipcfs_field_bytes("image", IPCFS_F32, 3, shape) +
			ipcfs_field_bytes("id", IPCFS_U64, 0, NULL);
	ck_assert_int_eq(ipcfs_build_begin(p.a, &bld, (size_t)cap, 1000), 0);
	ck_assert_int_eq(ipcfs_build_add(&bld, "id", IPCFS_U64, 0, NULL, &small), 0);
	*(uint64_t *)small = 42;
	ck_assert_int_eq(ipcfs_build_add(&bld, "image", IPCFS_F32, 3, shape, &data), 0);
	tl_fill(data, 16 << 20, 9);
	ck_assert_int_eq(ipcfs_build_commit(&bld, IPCFS_ALL), 0);
	ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
	ck_assert_int_eq(ipcfs_msg_find(&msg, "image", &f), 0);
	ck_assert_uint_eq(f.bytes, 16 << 20);
	ck_assert(tl_check(f.data, f.bytes, 9));
	ck_assert_int_eq(ipcfs_msg_find(&msg, "id", &f), 0);
	ck_assert_uint_eq(*(const uint64_t *)f.data, 42);
	ipcfs_release(p.b, &msg);
	pair_done(&p);
}
END_TEST

START_TEST(builder_errors)
{
	struct pair p;
	struct ipcfs_builder bld;
	void *d;
	char longname[300];
	const uint64_t huge[] = { UINT64_MAX / 2, 3 }, nine[9] = { 1, 1, 1, 1, 1, 1, 1, 1, 1 };

	pair_up(&p, 0);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert_int_eq(ipcfs_build_begin(p.a, &bld, 8, 0), -EINVAL);
	ck_assert_int_eq(ipcfs_build_begin(p.a, &bld, 100000, 0), -EMSGSIZE); /* no arena */
	ck_assert_int_eq(ipcfs_build_begin(p.a, &bld, 4096, 0), 0);
	ck_assert_int_eq(ipcfs_build_add(&bld, "", IPCFS_U8, 0, NULL, &d), -EINVAL);
	ck_assert_int_eq(ipcfs_build_add(&bld, longname, IPCFS_U8, 0, NULL, &d), -EINVAL);
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", 0, 0, NULL, &d), -EINVAL);
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", IPCFS_U8, 9, nine, &d), -EINVAL);
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", IPCFS_U8, 2, NULL, &d), -EINVAL);
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", IPCFS_U64, 2, huge, &d), -EOVERFLOW);
	const uint64_t big[] = { 4096 };
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", IPCFS_U8, 1, big, &d), -ENOSPC);
	ck_assert_int_eq(ipcfs_field_bytes("x", IPCFS_U8, 1, big), 16 + 16 + 4096);
	ck_assert_int_eq(ipcfs_field_bytes(NULL, IPCFS_U8, 0, NULL), -EINVAL);
	/* Empty message: zero fields is valid. */
	ck_assert_int_eq(ipcfs_build_commit(&bld, IPCFS_ALL), 0);
	struct ipcfs_msg msg;
	ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
	ck_assert_int_eq(ipcfs_msg_nfields(&msg), 0);
	ipcfs_release(p.b, &msg);
	pair_done(&p);
}
END_TEST

/* Build a two-field message; return the sender's pointer to its bytes. */
static unsigned char *send_two(struct pair *p, size_t *len)
{
	struct ipcfs_builder bld;
	/* The first field's data is large (3 x 500 i32), so that a name
	 * length beyond IPCFS_NAME_MAX still lies inside the field. */
	const uint64_t s1[] = { 3, 500 };
	void *d;
	ck_assert_int_eq(ipcfs_build_begin(p->a, &bld, 8192, 0), 0);
	unsigned char *base = bld.base;
	ck_assert_int_eq(ipcfs_build_add(&bld, "first", IPCFS_I32, 2, s1, &d), 0);
	ck_assert_int_eq(ipcfs_build_add(&bld, "second", IPCFS_F64, 0, NULL, &d), 0);
	*len = bld.used;
	ck_assert_int_eq(ipcfs_build_commit(&bld, IPCFS_ALL), 0);
	return base;
}

START_TEST(corrupt_headers)
{
	/* Offsets in the message: header 0..15; field 0 at 16: field_bytes
	 * (u32) 16, name_len (u16) 20, dtype 22, ndim 23, data_bytes 24,
	 * shape 32 and 40, name at 48. */
	static const struct { size_t off; unsigned width; uint64_t value; const char *what; } bad[] = {
		{ 0, 4, 0xdeadbeef, "magic" },
		{ 4, 2, 2, "version" },
		{ 6, 2, 3, "nfields beyond the message" },
		{ 8, 8, 1 << 20, "bytes" },
		{ 16, 4, 17, "field_bytes not a multiple of 16" },
		{ 16, 4, 1u << 30, "field_bytes beyond the message" },
		{ 16, 4, 16, "field_bytes smaller than its header" },
		{ 20, 2, 0, "empty name" },
		{ 20, 2, 300, "name_len beyond the field" },
		{ 20, 2, 3, "name_len shorter than the name" },
		{ 22, 1, 0, "dtype 0" },
		{ 22, 1, 200, "dtype 200" },
		{ 23, 1, 9, "ndim 9" },
		{ 23, 1, 1, "ndim that does not match data_bytes" },
		{ 40, 8, 501, "shape that does not match data_bytes" },
		{ 24, 8, 6001, "data_bytes" },
		{ 24, 8, UINT64_MAX, "data_bytes huge" },
		{ 32, 8, UINT64_MAX, "shape overflowing" },
		{ 48 + 5, 1, 'x', "name without its NUL" },
	};
	struct pair p;
	pair_up(&p, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len;
		unsigned char *base = send_two(&p, &len);
		memcpy(base + bad[i].off, &bad[i].value, bad[i].width);
		struct ipcfs_msg msg;
		struct ipcfs_field f;
		ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
		int n = ipcfs_msg_nfields(&msg);
		int rc = ipcfs_msg_find(&msg, "second", &f);
		ck_assert_msg(n == -EBADMSG && rc == -EBADMSG, "%s: nfields %d, find %d", bad[i].what, n,
			      rc);
		ipcfs_release(p.b, &msg);
	}
	pair_done(&p);
}
END_TEST

START_TEST(long_name_refused)
{
	/* A field whose header claims a 1000-byte name, consistent with the
	 * rest (no data, and the name and its NUL inside the field): still
	 * refused, as names are at most IPCFS_NAME_MAX bytes. */
	struct pair p;
	struct ipcfs_builder bld;
	const uint64_t n[] = { 2000 };
	void *d;

	pair_up(&p, 0);
	ck_assert_int_eq(ipcfs_build_begin(p.a, &bld, 4096, 0), 0);
	unsigned char *base = bld.base;
	ck_assert_int_eq(ipcfs_build_add(&bld, "x", IPCFS_U8, 1, n, &d), 0);
	ck_assert_int_eq(ipcfs_build_commit(&bld, IPCFS_ALL), 0);
	uint16_t name_len = 1000;
	uint64_t zero = 0;
	memcpy(base + 16 + 4, &name_len, 2);   /* name_len */
	memcpy(base + 16 + 8, &zero, 8);       /* data_bytes */
	memcpy(base + 16 + 16, &zero, 8);      /* shape[0] */
	memset(base + 16 + 24, 'a', 1000);      /* the name */
	base[16 + 24 + 1000] = '\0';
	struct ipcfs_msg msg;
	struct ipcfs_field f;
	ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
	ck_assert_int_eq(ipcfs_msg_nfields(&msg), -EBADMSG);
	ck_assert_int_eq(ipcfs_msg_field(&msg, 0, &f), -EBADMSG);
	ipcfs_release(p.b, &msg);
	pair_done(&p);
}
END_TEST

START_TEST(random_bytes_never_crash)
{
	struct pair p;
	uint64_t x = 12345;
	int ok = 0, bad = 0;

	pair_up(&p, 0);
	for (int round = 0; round < (int)(20000 * tl_scale()); round++) {
		size_t len;
		unsigned char *base = send_two(&p, &len);
		/* Flip a few random bytes, or a run of random ones. */
		int flips = 1 + (int)(tl_rand(&x) % 6);
		for (int i = 0; i < flips; i++)
			base[tl_rand(&x) % len] = (unsigned char)tl_rand(&x);
		struct ipcfs_msg msg;
		struct ipcfs_field f;
		ck_assert_int_eq(ipcfs_recv(p.b, 0, &msg, 0), 0);
		int n = ipcfs_msg_nfields(&msg);
		ck_assert(n == -EBADMSG || n >= 0);
		for (int i = 0; n > 0 && i < n; i++) {
			ck_assert_int_eq(ipcfs_msg_field(&msg, (unsigned)i, &f), 0);
			/* Whatever a field says, it lies inside the message. */
			const unsigned char *d = f.data, *b = msg.data;
			ck_assert(d >= b && d + f.bytes <= b + msg.len);
			ck_assert_uint_le(f.ndim, IPCFS_MAX_DIMS);
			ck_assert_uint_eq(strlen(f.name) > 0, 1);
		}
		n >= 0 ? ok++ : bad++;
		ipcfs_release(p.b, &msg);
	}
	ck_assert_int_gt(bad, 0);
	ck_assert_int_gt(ok, 0);
	pair_done(&p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("typed");
	TCase *tc = tcase_create("typed");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, dtypes);
	tcase_add_test(tc, dict_of_arrays);
	tcase_add_test(tc, large_field_in_arena);
	tcase_add_test(tc, builder_errors);
	tcase_add_test(tc, corrupt_headers);
	tcase_add_test(tc, long_name_refused);
	tcase_add_test(tc, random_bytes_never_crash);
	suite_add_tcase(s, tc);
	return tl_run(s);
}
