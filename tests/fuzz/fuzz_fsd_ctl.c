/* SPDX-License-Identifier: MIT */
/*
 * fuzz_fsd_ctl.c - libFuzzer target: what users write to the daemon's
 * tree (fsd/parse.c): group and daemon-wide ctl commands, attribute values,
 * group names and PCI addresses. The first byte picks the parser; every
 * input gives 0, -EINVAL or -ERANGE, with a reason on error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "parse_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[FSD_WHY_MAX] = "", pci[FSD_PCI_MAX];
	struct fsd_attr_value v;
	struct fsd_cmd c;
	int rc;

	if (size == 0)
		return 0;
	const char *s = (const char *)data + 1;
	size_t n = size - 1;
	switch (data[0] % 5) {
	case 0: rc = fsd_parse_group_cmd(s, n, &c, why, sizeof(why)); break;
	case 1: rc = fsd_parse_root_cmd(s, n, &c, why, sizeof(why)); break;
	case 2:
		rc = fsd_parse_attr((enum fsd_attr)(data[0] / 5 % FSD_ATTR_COUNT), s, n, &v, why,
				    sizeof(why));
		break;
	case 3: rc = fsd_parse_name(s, n, why, sizeof(why)); break;
	default: rc = fsd_parse_pci(s, n, pci, why, sizeof(why)); break;
	}
	if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
		abort();
	if (rc && !why[0])
		abort();
	/* A command's text points into the input. */
	if (!rc && data[0] % 5 < 2 && c.text && (c.text < s || c.text + c.text_len > s + n))
		abort();
	return 0;
}
