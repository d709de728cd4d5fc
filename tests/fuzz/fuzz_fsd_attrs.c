/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fsd_attrs.c - libFuzzer target: a group's attributes as users write
 * them, one file after the other (fsd/parse.c, as fsd_group_set_attr and
 * the daemon-wide `create NAME key=value...` apply them), and names.
 *
 * The input is a program: each step writes one attribute file (its index,
 * then a length and that many bytes), or a whole create command, or a
 * name. A value is taken as the daemon takes it: parsed, stored into a
 * copy of the attributes, the whole set checked, and kept only if that
 * passes. Contracts: parsers give 0, -EINVAL or -ERANGE with a reason; a
 * set that passed the check is one the library accepts (ipcfs_params_check,
 * a segment size); every attribute formats to text that parses back to the
 * same value; a name valid for GPU buffers is a valid group name.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_int.h"
#include "parse_int.h"
#include "segment_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void expect_errno(int rc, const char *why)
{
	if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
		abort();
	if (rc && !why[0])
		abort();
}

/* What the daemon keeps must be what the library takes. */
static void consistent(const struct fsd_attrs *a)
{
	if (ipcfs_params_check(&a->p) != 0 || seg_layout_size(&a->p) == 0)
		abort();
}

/* Store @v into @a if the whole set still checks (fsd_group_set_attr).
 * numa_node auto:PCI is resolved from sysfs by the daemon: not here. */
static void apply(struct fsd_attrs *a, const struct fsd_attr_value *v)
{
	char why[FSD_WHY_MAX] = "";
	struct fsd_attrs next = *a;

	if (v->pci[0])
		return;
	fsd_attrs_set(&next, v);
	int rc = fsd_attrs_check(&next, why, sizeof(why));
	expect_errno(rc, why);
	if (rc == 0) {
		consistent(&next);
		*a = next;
	}
}

/* Every attribute formats to a value that parses back to itself. */
static void round_trip(const struct fsd_attrs *a)
{
	for (int i = 0; i < FSD_ATTR_COUNT; i++) {
		char buf[128], again[128], why[FSD_WHY_MAX] = "";
		struct fsd_attr_value v;
		struct fsd_attrs b = *a;

		int n = fsd_attr_format(a, (enum fsd_attr)i, buf, sizeof(buf));
		if (n <= 0 || (size_t)n >= sizeof(buf))
			abort();
		if (fsd_parse_attr((enum fsd_attr)i, buf, (size_t)n, &v, why, sizeof(why)))
			abort();
		if (v.pci[0])
			continue; /* auto:PCI is shown as given, resolved elsewhere */
		fsd_attrs_set(&b, &v);
		int m = fsd_attr_format(&b, (enum fsd_attr)i, again, sizeof(again));
		if (m != n || memcmp(buf, again, (size_t)n))
			abort();
	}
}

static void name(const char *s, size_t n)
{
	char why[FSD_WHY_MAX] = "", z[FSD_NAME_MAX + 2];
	int rc = fsd_parse_name(s, n, why, sizeof(why));

	expect_errno(rc, why);
	if (n < sizeof(z) && !memchr(s, '\0', n)) {
		memcpy(z, s, n);
		z[n] = '\0';
		/* GPU names are group names, shorter. */
		if (gpu_name_check(z) == 0 && rc != 0)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fsd_attrs a;
	size_t i = 0;

	fsd_attrs_init(&a);
	consistent(&a);
	while (i + 2 <= size) {
		uint8_t op = data[i], len = data[i + 1];
		i += 2;
		size_t n = len < size - i ? len : size - i;
		const char *s = (const char *)data + i;
		char why[FSD_WHY_MAX] = "";
		struct fsd_attr_value v;
		struct fsd_cmd c;
		int rc;

		i += n;
		if (op < 0xe0) {
			/* A write to one attribute file. */
			rc = fsd_parse_attr((enum fsd_attr)(op % FSD_ATTR_COUNT), s, n, &v, why,
					    sizeof(why));
			expect_errno(rc, why);
			if (rc == 0)
				apply(&a, &v);
		} else if (op < 0xf0) {
			/* create NAME key=value...: a new group's set. */
			rc = fsd_parse_root_cmd(s, n, &c, why, sizeof(why));
			expect_errno(rc, why);
			if (rc == 0 && c.kind == FSD_CMD_CREATE) {
				/* As fsd_root_ctl and fsd_group_create: all set,
				 * then the whole set checked once. */
				struct fsd_attrs fresh;
				fsd_attrs_init(&fresh);
				for (unsigned k = 0; k < c.nattrs; k++)
					if (!c.attrs[k].pci[0])
						fsd_attrs_set(&fresh, &c.attrs[k]);
				why[0] = '\0';
				rc = fsd_attrs_check(&fresh, why, sizeof(why));
				expect_errno(rc, why);
				if (rc == 0) {
					consistent(&fresh);
					round_trip(&fresh);
				}
			}
		} else {
			name(s, n);
		}
	}
	round_trip(&a);
	return 0;
}
