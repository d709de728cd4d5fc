/* SPDX-License-Identifier: MIT */
/*
 * soak.h - what the soak driver's processes share (tests/soak/).
 *
 * The conductor (soak.c) maps one anonymous shared region before it forks
 * anything: the epoch's phase per group, one record per incarnation (one
 * process that joined one rank once) and each incarnation's logs of what
 * it sent and what it received. A member (soak_member.c) writes only its
 * own record and logs; the conductor reads them after the member exited
 * or was killed (soak_check.c checks them). The region outlives every
 * member, so what a member logged before a SIGKILL is still there.
 */
#ifndef SOAK_H
#define SOAK_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#define SOAK_MAX_GROUPS 4
#define SOAK_MAX_INCS 256        /* incarnations per epoch */
#define SOAK_SENT_CAP (128u << 10) /* sent records per incarnation */
#define SOAK_RECV_CAP (512u << 10) /* received records per incarnation */
#define SOAK_MAGIC 0x6b616f73736663ULL /* "cfssoak" */

/* Phases of a group's epoch, set by the conductor only. */
enum { PH_RUN = 0, PH_STOP_SEND, PH_DRAIN, PH_LEAVE };

/* States of an incarnation. */
enum {
	INC_FREE = 0, INC_STARTING, INC_JOINED, INC_JOIN_FAILED,
	INC_LEFT,       /* left early on its own (excused as a reader) */
	INC_EXITED,     /* stayed to the end of the epoch: a checked reader */
	INC_KILLED,     /* SIGKILLed by the conductor (excused as a reader) */
	INC_CRASHED,    /* exited otherwise: a violation */
};

/* Status of a sent record. */
enum { SENT_PENDING = 0, SENT_OK, SENT_FAILED };

/* One message as its sender logged it; written before the send
 * (PENDING), its status after it. */
struct soak_sent {
	uint64_t seq;
	uint64_t dest;          /* IPCFS_ALL or the mask given to commit */
	uint64_t t_start;       /* CLOCK_MONOTONIC ns before reserve */
	uint32_t len;
	_Atomic uint32_t status;
};

/* One delivery as its reader logged it. */
struct soak_recv {
	uint32_t inc;           /* the sender's incarnation */
	uint32_t len;
	uint64_t seq;
};

/* The header at the start of every payload. */
struct soak_hdr {
	uint64_t magic;
	uint64_t seq;
	uint64_t dest;
	uint32_t inc;
	uint32_t len;
	uint32_t group;
	uint32_t epoch;
};

struct soak_inc {
	int group, rank;
	pid_t pid;
	_Atomic int state;
	_Atomic int send_done;   /* its sender stopped (PH_STOP_SEND seen) */
	_Atomic int drained;     /* its reader found nothing more in PH_DRAIN */
	_Atomic int leave_now;   /* the conductor asks it to leave early */
	int join_rc;
	uint64_t t_join_start, t_join_done;
	_Atomic uint32_t nsent;  /* records in its sent log (release: S1) */
	_Atomic uint32_t nrecv;  /* records in its recv log */
	_Atomic uint32_t log_full;
	/* Counters for the summary, written by the member only. */
	_Atomic uint64_t sent_ok, sent_bytes, recv_msgs, recv_bytes;
	_Atomic uint64_t max_over_ns;   /* worst blocking call beyond its timeout */
	_Atomic uint64_t calls;         /* blocking calls measured */
	_Atomic uint32_t violations;
	char violation[200];            /* the first one, in words */
};

struct soak_shared {
	_Atomic int phase[SOAK_MAX_GROUPS];
	uint32_t epoch;
	uint64_t slack_ns;
	struct soak_inc inc[SOAK_MAX_INCS];
};

/* The logs of incarnation i (in the region after struct soak_shared). */
struct soak_sent *soak_sent_log(unsigned i);
struct soak_recv *soak_recv_log(unsigned i);

/* soak_member.c: the life of one incarnation (never returns). */
void soak_member_main(struct soak_shared *sh, unsigned i, const char *dir);

/* soak_check.c: check group @g's logs after its epoch; violations are
 * printed and counted in the return value; *checked gets the deliveries
 * checked, *required the deliveries proven exactly once. */
unsigned soak_check_group(struct soak_shared *sh, unsigned ninc, int g, uint64_t *checked,
			  uint64_t *required);



#endif
