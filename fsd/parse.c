/* SPDX-License-Identifier: MIT */
/*
 * parse.c - strict parsers for group names, attribute values and ctl
 * commands. Input is untrusted bytes from write(2): nothing here assumes a
 * NUL terminator, every number is checked for overflow, and every failure
 * says why in words.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "ipcfs/ctl_proto.h"
#include "parse_int.h"

/* The limits of ipcfs_params_check(), from the protocol's one list. */
#define SLOTS_MAX CTL_SLOTS_MAX
#define SLOT_BYTES_MAX CTL_SLOT_BYTES_MAX
#define SPIN_US_MAX CTL_SPIN_US_MAX
#define TIMEOUT_MS_MAX CTL_TIMEOUT_MS_MAX
#define ARENA_BYTES_MAX CTL_SEG_BYTES_MAX
#define NUMA_NODE_MAX CTL_NUMA_NODE_MAX

static const char *const attr_names[FSD_ATTR_COUNT] = {
	[FSD_ATTR_RANKS] = "ranks",         [FSD_ATTR_SLOTS] = "slots",
	[FSD_ATTR_SLOT_BYTES] = "slot_bytes", [FSD_ATTR_ARENA_BYTES] = "arena_bytes",
	[FSD_ATTR_NUMA_NODE] = "numa_node", [FSD_ATTR_HUGEPAGES] = "hugepages",
	[FSD_ATTR_SPIN_US] = "spin_us",     [FSD_ATTR_TIMEOUT_MS] = "timeout_ms",
	[FSD_ATTR_ALGO] = "algo",           [FSD_ATTR_MODE] = "mode",
	[FSD_ATTR_NODE_TIMEOUT_MS] = "node_timeout_ms",
};

_Static_assert(FSD_ALGO_NCCL + 1 == CTL_ALGO_COUNT, "enum fsd_algo follows ctl_algo_names");

static const char *const huge_names[] = { "none", "2M", "1G" };

void fsd_attrs_init(struct fsd_attrs *a)
{
	memset(a, 0, sizeof(*a));
	ipcfs_params_init(&a->p);
	a->mode = 0770;
	a->p.mode = a->mode & 0666;
	a->hugepages = FSD_HUGE_NONE;
	a->algo = FSD_ALGO_AUTO;
	a->node_timeout_ms = 3000;
}

const char *fsd_attr_name(enum fsd_attr a)
{
	return (unsigned)a < FSD_ATTR_COUNT ? attr_names[a] : "?";
}

int fsd_attr_lookup(const char *name, size_t len)
{
	for (int i = 0; i < FSD_ATTR_COUNT; i++)
		if (strlen(attr_names[i]) == len && memcmp(attr_names[i], name, len) == 0)
			return i;
	return -1;
}

int fsd_attr_in_segment(enum fsd_attr a)
{
	switch (a) {
	case FSD_ATTR_RANKS:
	case FSD_ATTR_SLOTS:
	case FSD_ATTR_SLOT_BYTES:
	case FSD_ATTR_ARENA_BYTES:
	case FSD_ATTR_NUMA_NODE:
	case FSD_ATTR_SPIN_US:
	case FSD_ATTR_TIMEOUT_MS:
	case FSD_ATTR_HUGEPAGES:
		return 1;
	default:
		return 0;
	}
}

void fsd_quote(const char *s, size_t len, char *out, size_t size)
{
	size_t o = 0;

	if (!size)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		char tmp[8];
		int n;
		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '"')
			n = snprintf(tmp, sizeof(tmp), "%c", ch);
		else if (ch == '\n')
			n = snprintf(tmp, sizeof(tmp), "\\n");
		else
			n = snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
		if (o + (size_t)n + 4 > size) {
			/* Cut: room for "..." and the terminator. */
			if (o + 4 <= size)
				memcpy(out + o, "...", 3), o += 3;
			break;
		}
		memcpy(out + o, tmp, (size_t)n);
		o += (size_t)n;
	}
	out[o] = '\0';
}

int fsd_parse_name(const char *s, size_t len, char *why, size_t whylen)
{
	const char *problem = ctl_name_problem(s, len);

	return problem ? util_why_set(-EINVAL, why, whylen, "%s", problem) : 0;
}

/* Drop one trailing newline (what echo adds). */
static size_t chomp(const char *buf, size_t len)
{
	return len && buf[len - 1] == '\n' ? len - 1 : len;
}

int fsd_parse_u64(const char *s, size_t len, uint64_t *out)
{
	return ctl_parse_u64(s, len, out);
}

static int word_index(const char *s, size_t len, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (strlen(words[i]) == len && memcmp(words[i], s, len) == 0)
			return i;
	return -1;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int fsd_parse_pci(const char *s, size_t len, char *out, char *why, size_t whylen)
{
	/* Canonical form: 4 hex (domain) : 2 hex (bus) : 2 hex (device) . 1 digit 0-7 */
	static const char shape[] = "xxxx:xx:xx.f";
	char tmp[FSD_PCI_MAX];
	size_t off = 0;

	if (len == 7) { /* "BB:DD.F": domain 0000 */
		memcpy(tmp, "0000:", 5);
		off = 5;
	} else if (len != 12) {
		return util_why_set(-EINVAL, why, whylen, "PCI address is not DDDD:BB:DD.F");
	}
	memcpy(tmp + off, s, len);
	tmp[off + len] = '\0';
	for (size_t i = 0; i < 12; i++) {
		char c = tmp[i];
		bool ok = shape[i] == 'x' ? is_hex(c)
			: shape[i] == 'f' ? (c >= '0' && c <= '7') : c == shape[i];
		if (!ok)
			return util_why_set(-EINVAL, why, whylen, "PCI address is not DDDD:BB:DD.F");
		if (c >= 'A' && c <= 'F')
			tmp[i] = (char)(c - 'A' + 'a');
	}
	memcpy(out, tmp, 13);
	return 0;
}

/* Check an unsigned value against [lo, hi]: -ERANGE with a reason. */
int fsd_parse_hex(const char *s, size_t len, char *why, size_t whylen)
{
	/* Never empty: the state file writes a record as the last word of
	 * its line, and an empty one would not read back. */
	if (len == 0)
		return util_why_set(-EINVAL, why, whylen, "register: HEXRECORD is empty");
	if (len > FSD_HEX_MAX)
		return util_why_set(-EINVAL, why, whylen, "register: HEXRECORD longer than %d characters",
			       FSD_HEX_MAX);
	if (len % 2)
		return util_why_set(-EINVAL, why, whylen, "register: HEXRECORD has an odd number of digits");
	for (size_t i = 0; i < len; i++)
		if (!is_hex(s[i]))
			return util_why_set(-EINVAL, why, whylen, "register: HEXRECORD is not hexadecimal");
	return 0;
}

static int in_range(uint64_t v, uint64_t lo, uint64_t hi, const char *what, char *why, size_t whylen)
{
	if (v < lo || v > hi)
		return util_why_set(-ERANGE, why, whylen, "%s %llu out of range %llu..%llu", what,
			       (unsigned long long)v, (unsigned long long)lo, (unsigned long long)hi);
	return 0;
}

/* How the value of each attribute is written and what it may be: adding an
 * attribute is one row here (and its place in struct fsd_attrs). */
enum attr_kind { K_U64, K_SIZE, K_OCTAL, K_WORD, K_NUMA };

static const struct attr_spec {
	enum attr_kind kind;
	uint64_t lo, hi;               /* K_U64, K_SIZE, K_OCTAL */
	uint64_t multiple;             /* the value must be a multiple (0: any) */
	bool pow2;                     /* the value must be a power of two */
	const char *const *words;      /* K_WORD: the values, their number and */
	int nwords;                    /* how to list them */
	const char *list;
} attr_specs[FSD_ATTR_COUNT] = {
	[FSD_ATTR_RANKS] = { K_U64, 1, IPCFS_MAX_RANKS },
	[FSD_ATTR_SLOTS] = { K_U64, 2, SLOTS_MAX, .pow2 = true },
	[FSD_ATTR_SLOT_BYTES] = { K_SIZE, 64, SLOT_BYTES_MAX, .multiple = 64 },
	[FSD_ATTR_ARENA_BYTES] = { K_SIZE, 0, ARENA_BYTES_MAX, .multiple = 4096 },
	[FSD_ATTR_NUMA_NODE] = { K_NUMA, 0, NUMA_NODE_MAX },
	[FSD_ATTR_HUGEPAGES] = { K_WORD, .words = huge_names, .nwords = 3,
				 .list = "none, 2M, 1G" },
	[FSD_ATTR_SPIN_US] = { K_U64, 0, SPIN_US_MAX },
	[FSD_ATTR_TIMEOUT_MS] = { K_U64, 1, TIMEOUT_MS_MAX },
	[FSD_ATTR_ALGO] = { K_WORD, .words = ctl_algo_names, .nwords = CTL_ALGO_COUNT,
			    .list = "auto, oneshot, twoshot, nccl" },
	[FSD_ATTR_MODE] = { K_OCTAL, 0, 0777 },
	[FSD_ATTR_NODE_TIMEOUT_MS] = { K_U64, 100, 3600000 },
};

/* Octal, 1 to 4 digits, as chmod takes it; no setuid, setgid or sticky. */
static int parse_mode(const char *buf, size_t len, uint64_t *u, char *why, size_t whylen)
{
	*u = 0;
	for (size_t i = 0; i < len; i++) {
		if (len > 4 || buf[i] < '0' || buf[i] > '7')
			return util_why_set(-EINVAL, why, whylen, "mode: not an octal mode like 0770");
		*u = *u * 8 + (unsigned)(buf[i] - '0');
	}
	if (*u > 0777)
		return util_why_set(-ERANGE, why, whylen,
			       "mode: %04llo has bits beyond 0777 (no setuid/setgid/sticky)",
			       (unsigned long long)*u);
	return 0;
}

/* -1, a node number or auto:PCI_ADDRESS (resolved by the caller). */
static int parse_numa(const char *buf, size_t len, struct fsd_attr_value *v, char *why,
		      size_t whylen)
{
	uint64_t u;
	int rc;

	v->i = -1;
	if (len == 2 && memcmp(buf, "-1", 2) == 0)
		return 0;
	if (len > 5 && memcmp(buf, "auto:", 5) == 0)
		return fsd_parse_pci(buf + 5, len - 5, v->pci, why, whylen);
	rc = ctl_parse_u64(buf, len, &u);
	if (rc == -EINVAL)
		return util_why_set(rc, why, whylen, "numa_node: not -1, a node number or auto:PCI_ADDRESS");
	if (rc)
		return util_why_set(rc, why, whylen, "numa_node: number too large");
	rc = in_range(u, 0, NUMA_NODE_MAX, "numa_node", why, whylen);
	if (!rc)
		v->i = (int64_t)u;
	return rc;
}

/* A decimal number (K_SIZE: with a binary suffix) and its range. */
static int parse_number(enum fsd_attr a, const struct attr_spec *sp, const char *buf, size_t len,
			uint64_t *u, char *why, size_t whylen)
{
	const char *name = attr_names[a];
	int rc = sp->kind == K_SIZE ? ctl_parse_size(buf, len, u) : ctl_parse_u64(buf, len, u);

	if (rc == -EINVAL)
		return util_why_set(rc, why, whylen, "%s: not a decimal number%s", name,
			       sp->kind == K_SIZE ? " (suffixes K, M, G allowed)" : "");
	if (rc)
		return util_why_set(rc, why, whylen, "%s: number too large", name);
	if ((rc = in_range(*u, sp->lo, sp->hi, name, why, whylen)))
		return rc;
	if (sp->pow2 && (*u & (*u - 1)))
		return util_why_set(-EINVAL, why, whylen, "%s: %llu is not a power of two", name,
			       (unsigned long long)*u);
	if (sp->multiple && *u % sp->multiple)
		return util_why_set(-EINVAL, why, whylen, "%s: %llu is not a multiple of %llu", name,
			       (unsigned long long)*u, (unsigned long long)sp->multiple);
	return 0;
}

int fsd_parse_attr(enum fsd_attr a, const char *buf, size_t len, struct fsd_attr_value *v,
		   char *why, size_t whylen)
{
	memset(v, 0, sizeof(*v));
	v->attr = a;
	if ((unsigned)a >= FSD_ATTR_COUNT)
		return util_why_set(-EINVAL, why, whylen, "no such attribute");
	const struct attr_spec *sp = &attr_specs[a];
	len = chomp(buf, len);
	if (len == 0)
		return util_why_set(-EINVAL, why, whylen, "%s: empty value", attr_names[a]);
	if (len > 64)
		return util_why_set(-EINVAL, why, whylen, "%s: value longer than 64 bytes", attr_names[a]);
	switch (sp->kind) {
	case K_U64:
	case K_SIZE:
		return parse_number(a, sp, buf, len, &v->u, why, whylen);
	case K_OCTAL:
		return parse_mode(buf, len, &v->u, why, whylen);
	case K_NUMA:
		return parse_numa(buf, len, v, why, whylen);
	case K_WORD: {
		int k = word_index(buf, len, sp->words, sp->nwords);
		if (k < 0)
			return util_why_set(-EINVAL, why, whylen, "%s: not one of %s", attr_names[a],
				       sp->list);
		v->u = (uint64_t)k;
		return 0;
	}
	}
	return util_why_set(-EINVAL, why, whylen, "no such attribute");
}

void fsd_attrs_set(struct fsd_attrs *at, const struct fsd_attr_value *v)
{
	switch (v->attr) {
	case FSD_ATTR_RANKS: at->p.ranks = (uint32_t)v->u; break;
	case FSD_ATTR_SLOTS: at->p.slots = (uint32_t)v->u; break;
	case FSD_ATTR_SLOT_BYTES: at->p.slot_bytes = (uint32_t)v->u; break;
	case FSD_ATTR_ARENA_BYTES: at->p.arena_bytes = v->u; break;
	case FSD_ATTR_SPIN_US: at->p.spin_us = (uint32_t)v->u; break;
	case FSD_ATTR_TIMEOUT_MS: at->p.timeout_ms = (uint32_t)v->u; break;
	case FSD_ATTR_HUGEPAGES:
		at->hugepages = (int)v->u;
		at->p.hugepage_kb = at->hugepages == FSD_HUGE_2M ? 2048
				  : at->hugepages == FSD_HUGE_1G ? 1048576 : 0;
		break;
	case FSD_ATTR_ALGO: at->algo = (int)v->u; break;
	case FSD_ATTR_NODE_TIMEOUT_MS: at->node_timeout_ms = (uint32_t)v->u; break;
	case FSD_ATTR_NUMA_NODE:
		at->p.numa_node = (int32_t)v->i;
		memcpy(at->numa_pci, v->pci, sizeof(at->numa_pci));
		break;
	case FSD_ATTR_MODE:
		at->mode = (uint32_t)v->u;
		/* The segment gets the read and write bits: nobody executes it. */
		at->p.mode = at->mode & 0666;
		break;
	default:
		break;
	}
}

int fsd_attrs_check(const struct fsd_attrs *at, char *why, size_t whylen)
{
	int rc = ipcfs_params_check(&at->p);

	if (rc == -ERANGE)
		return util_why_set(rc, why, whylen, "the segment would exceed the size limit");
	if (rc)
		return util_why_set(rc, why, whylen, "inconsistent parameters");
	return 0;
}

int fsd_attr_format(const struct fsd_attrs *at, enum fsd_attr a, char *buf, size_t size)
{
	int n;

	switch (a) {
	case FSD_ATTR_RANKS: n = snprintf(buf, size, "%u\n", at->p.ranks); break;
	case FSD_ATTR_SLOTS: n = snprintf(buf, size, "%u\n", at->p.slots); break;
	case FSD_ATTR_SLOT_BYTES: n = snprintf(buf, size, "%u\n", at->p.slot_bytes); break;
	case FSD_ATTR_ARENA_BYTES:
		n = snprintf(buf, size, "%llu\n", (unsigned long long)at->p.arena_bytes);
		break;
	case FSD_ATTR_SPIN_US: n = snprintf(buf, size, "%u\n", at->p.spin_us); break;
	case FSD_ATTR_TIMEOUT_MS: n = snprintf(buf, size, "%u\n", at->p.timeout_ms); break;
	case FSD_ATTR_NUMA_NODE: n = snprintf(buf, size, "%d\n", (int)at->p.numa_node); break;
	case FSD_ATTR_HUGEPAGES:
		n = snprintf(buf, size, "%s\n", huge_names[(unsigned)at->hugepages % 3]);
		break;
	case FSD_ATTR_ALGO:
		n = snprintf(buf, size, "%s\n", ctl_algo_names[(unsigned)at->algo % CTL_ALGO_COUNT]);
		break;
	case FSD_ATTR_MODE: n = snprintf(buf, size, "%04o\n", at->mode); break;
	case FSD_ATTR_NODE_TIMEOUT_MS: n = snprintf(buf, size, "%u\n", at->node_timeout_ms); break;
	default: n = snprintf(buf, size, "?\n"); break;
	}
	return n < 0 ? 0 : (size_t)n >= size ? (int)size - 1 : n;
}

/* ---- commands --------------------------------------------------------- */

/* A cursor over the words of a command. */
struct words {
	const char *s;
	size_t len, pos;
};

static bool next_word(struct words *w, const char **word, size_t *wlen)
{
	while (w->pos < w->len && (w->s[w->pos] == ' ' || w->s[w->pos] == '\t'))
		w->pos++;
	if (w->pos >= w->len)
		return false;
	size_t start = w->pos;
	while (w->pos < w->len && w->s[w->pos] != ' ' && w->s[w->pos] != '\t')
		w->pos++;
	*word = w->s + start;
	*wlen = w->pos - start;
	return true;
}

static bool word_is(const char *w, size_t wlen, const char *lit)
{
	return strlen(lit) == wlen && memcmp(w, lit, wlen) == 0;
}

/* Reject what no command contains: NUL and control bytes (tab aside). */
static int check_bytes(const char *buf, size_t len, char *why, size_t whylen)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return util_why_set(-EINVAL, why, whylen,
				       "control byte 0x%02x at offset %zu (one command per write)", c, i);
	}
	return 0;
}

static int parse_rank_word(struct words *w, unsigned *rank, const char *cmd, char *why, size_t whylen)
{
	const char *word;
	size_t wlen;
	uint64_t v = 0;

	if (!next_word(w, &word, &wlen))
		return util_why_set(-EINVAL, why, whylen, "%s: missing RANK", cmd);
	int rc = ctl_parse_u64(word, wlen, &v);
	if (rc == -EINVAL)
		return util_why_set(rc, why, whylen, "%s: RANK is not a decimal number", cmd);
	if (rc || v >= IPCFS_MAX_RANKS)
		return util_why_set(-ERANGE, why, whylen, "%s: RANK out of range 0..%d", cmd,
			       IPCFS_MAX_RANKS - 1);
	*rank = (unsigned)v;
	return 0;
}

static int parse_name_word(struct words *w, char *name, const char *cmd, char *why, size_t whylen)
{
	const char *word;
	size_t wlen;
	char sub[FSD_WHY_MAX];

	if (!next_word(w, &word, &wlen))
		return util_why_set(-EINVAL, why, whylen, "%s: missing NAME", cmd);
	if (fsd_parse_name(word, wlen, sub, sizeof(sub)))
		return util_why_set(-EINVAL, why, whylen, "%s: %s", cmd, sub);
	memcpy(name, word, wlen);
	name[wlen] = '\0';
	return 0;
}

static int expect_end(struct words *w, const char *cmd, char *why, size_t whylen)
{
	const char *word;
	size_t wlen;

	if (next_word(w, &word, &wlen))
		return util_why_set(-EINVAL, why, whylen, "%s: unexpected word after the arguments", cmd);
	return 0;
}

/* Common start of both parsers: length, bytes, the command word. */
static int start_cmd(const char *buf, size_t *len, struct words *w, struct fsd_cmd *c,
		     const char **cmd, size_t *cmdlen, char *why, size_t whylen)
{
	memset(c, 0, sizeof(*c));
	if (*len > FSD_WRITE_MAX)
		return util_why_set(-EINVAL, why, whylen, "command longer than %d bytes", FSD_WRITE_MAX);
	*len = chomp(buf, *len);
	int rc = check_bytes(buf, *len, why, whylen);
	if (rc)
		return rc;
	w->s = buf;
	w->len = *len;
	w->pos = 0;
	if (!next_word(w, cmd, cmdlen))
		return util_why_set(-EINVAL, why, whylen, "empty command");
	return 0;
}

int fsd_parse_group_cmd(const char *buf, size_t len, struct fsd_cmd *c, char *why, size_t whylen)
{
	struct words w;
	const char *cmd, *word;
	size_t cmdlen, wlen;
	int rc = start_cmd(buf, &len, &w, c, &cmd, &cmdlen, why, whylen);

	if (rc)
		return rc;
	if (word_is(cmd, cmdlen, CTL_JOIN) || word_is(cmd, cmdlen, CTL_LEAVE)) {
		c->kind = cmd[0] == 'j' ? FSD_CMD_JOIN : FSD_CMD_LEAVE;
		const char *name = cmd[0] == 'j' ? "join" : "leave";
		rc = parse_rank_word(&w, &c->rank, name, why, whylen);
		return rc ? rc : expect_end(&w, name, why, whylen);
	}
	if (word_is(cmd, cmdlen, CTL_BCAST)) {
		c->kind = FSD_CMD_BCAST;
		/* TEXT: everything after one separator, spaces kept. */
		if (w.pos >= w.len || w.pos + 1 >= w.len)
			return util_why_set(-EINVAL, why, whylen, "bcast: missing TEXT");
		c->text = buf + w.pos + 1;
		c->text_len = w.len - w.pos - 1;
		return 0;
	}
	if (word_is(cmd, cmdlen, CTL_REGISTER)) {
		c->kind = FSD_CMD_REGISTER;
		if ((rc = parse_name_word(&w, c->name, "register", why, whylen)) ||
		    (rc = parse_rank_word(&w, &c->rank, "register", why, whylen)))
			return rc;
		if (!next_word(&w, &word, &wlen))
			return util_why_set(-EINVAL, why, whylen, "register: missing HEXRECORD");
		if ((rc = fsd_parse_hex(word, wlen, why, whylen)))
			return rc;
		c->text = word;
		c->text_len = wlen;
		return expect_end(&w, "register", why, whylen);
	}
	if (word_is(cmd, cmdlen, CTL_UNREGISTER)) {
		c->kind = FSD_CMD_UNREGISTER;
		if ((rc = parse_name_word(&w, c->name, "unregister", why, whylen)) ||
		    (rc = parse_rank_word(&w, &c->rank, "unregister", why, whylen)))
			return rc;
		return expect_end(&w, "unregister", why, whylen);
	}
	if (word_is(cmd, cmdlen, CTL_RESET_STAT)) {
		c->kind = FSD_CMD_RESET_STAT;
		return expect_end(&w, "reset-stat", why, whylen);
	}
	char q[40];
	fsd_quote(cmd, cmdlen, q, sizeof(q));
	return util_why_set(-EINVAL, why, whylen,
		       "unknown command \"%s\" (join, leave, bcast, register, unregister, reset-stat)", q);
}

int fsd_parse_root_cmd(const char *buf, size_t len, struct fsd_cmd *c, char *why, size_t whylen)
{
	struct words w;
	const char *cmd, *word;
	size_t cmdlen, wlen;
	int rc = start_cmd(buf, &len, &w, c, &cmd, &cmdlen, why, whylen);

	if (rc)
		return rc;
	if (word_is(cmd, cmdlen, CTL_DESTROY)) {
		c->kind = FSD_CMD_DESTROY;
		rc = parse_name_word(&w, c->name, "destroy", why, whylen);
		return rc ? rc : expect_end(&w, "destroy", why, whylen);
	}
	if (word_is(cmd, cmdlen, CTL_CREATE)) {
		c->kind = FSD_CMD_CREATE;
		rc = parse_name_word(&w, c->name, "create", why, whylen);
		if (rc)
			return rc;
		unsigned seen = 0;
		while (next_word(&w, &word, &wlen)) {
			const char *eq = memchr(word, '=', wlen);
			char q[40];
			if (!eq) {
				fsd_quote(word, wlen, q, sizeof(q));
				return util_why_set(-EINVAL, why, whylen, "create: \"%s\" is not key=value", q);
			}
			int a = fsd_attr_lookup(word, (size_t)(eq - word));
			if (a < 0) {
				fsd_quote(word, (size_t)(eq - word), q, sizeof(q));
				return util_why_set(-EINVAL, why, whylen, "create: no attribute \"%s\"", q);
			}
			if (seen & (1u << a))
				return util_why_set(-EINVAL, why, whylen, "create: %s given twice",
					       fsd_attr_name((enum fsd_attr)a));
			seen |= 1u << a;
			rc = fsd_parse_attr((enum fsd_attr)a, eq + 1, wlen - (size_t)(eq + 1 - word),
					    &c->attrs[c->nattrs], why, whylen);
			if (rc)
				return rc;
			c->nattrs++;
		}
		return 0;
	}
	char q[40];
	fsd_quote(cmd, cmdlen, q, sizeof(q));
	return util_why_set(-EINVAL, why, whylen, "unknown command \"%s\" (create, destroy)", q);
}
