/* SPDX-License-Identifier: MIT */
/*
 * ipcfs/rank_counters.h - the per-rank counters, defined once. Internal to
 * libipcfs and the daemon; not installed.
 *
 * One row per uint64_t field of struct ipcfs_rank_stat (ipcfs.h) that a
 * group sums over its ranks:
 *
 *   X(field, kind, metric, help)
 *
 * field   the member of struct ipcfs_rank_stat, and the key of the
 *         group's `stat` file and of the rank's line in `members`
 * kind    counter or gauge (Prometheus TYPE)
 * metric  the family of the `metrics` file (a counter ends in _total)
 * help    its HELP text
 *
 * From this table come the group's `stat` sums and keys, the `members`
 * fields and the `metrics` families (fsd/files.c); the compile-time checks
 * below tie it to the public struct, so a field added there without a row
 * here does not build. Fields that are not summed (rank, state, pid,
 * stalled_ms) are rendered on their own.
 */
#ifndef IPCFS_RANK_COUNTERS_H
#define IPCFS_RANK_COUNTERS_H

#include <stddef.h>

#include "ipcfs.h"

#define IPCFS_RANK_COUNTERS(X)                                                                   \
	X(sent, counter, "ipcfs_rank_sent_messages_total", "Messages the rank committed.")       \
	X(sent_bytes, counter, "ipcfs_rank_sent_bytes_total", "Payload bytes the rank committed.") \
	X(recv, counter, "ipcfs_rank_received_messages_total", "Messages the rank received.")    \
	X(recv_bytes, counter, "ipcfs_rank_received_bytes_total",                                \
	  "Payload bytes the rank received.")                                                    \
	X(waits, counter, "ipcfs_rank_waits_total", "Receives that found nothing and waited.")  \
	X(spins, counter, "ipcfs_rank_spins_total",                                              \
	  "Spin-loop rounds while waiting to send or receive.")                                  \
	X(sleeps, counter, "ipcfs_rank_sleeps_total",                                            \
	  "Futex sleeps while waiting to send or receive.")                                      \
	X(wakeups, counter, "ipcfs_rank_wakeups_total",                                          \
	  "Futex wake calls the rank made for sleeping peers.")                                  \
	X(stalls, counter, "ipcfs_rank_stalls_total",                                            \
	  "Sends that waited for ring space (back pressure).")                                   \
	X(timeouts, counter, "ipcfs_rank_timeouts_total",                                        \
	  "Sends and receives that ended with ETIMEDOUT.")                                       \
	X(lag, gauge, "ipcfs_rank_lag_messages",                                                 \
	  "Messages addressed to the rank not yet released.")                                    \
	X(allreduce_oneshot, counter, "ipcfs_rank_allreduce_oneshot_total",                      \
	  "GPU all-reduce calls run by the one-shot kernel.")                                    \
	X(allreduce_twoshot, counter, "ipcfs_rank_allreduce_twoshot_total",                      \
	  "GPU all-reduce calls run by the two-shot kernel.")                                    \
	X(allreduce_nccl, counter, "ipcfs_rank_allreduce_nccl_total",                            \
	  "GPU all-reduce calls run by NCCL.")                                                   \
	X(allreduce_bytes, counter, "ipcfs_rank_allreduce_bytes_total",                          \
	  "Bytes reduced by GPU all-reduce calls (count times element size).")                  \
	X(allreduce_errors, counter, "ipcfs_rank_allreduce_errors_total",                        \
	  "GPU all-reduce calls that failed, timeouts included.")

#define IPCFS_RANK_COUNTER_ONE(f, kind, metric, help) +1
enum { IPCFS_RANK_NCOUNTERS = 0 IPCFS_RANK_COUNTERS(IPCFS_RANK_COUNTER_ONE) };

/* Every row is a uint64_t of the public struct... */
#define IPCFS_RANK_COUNTER_CHECK(f, kind, metric, help)                                         \
	_Static_assert(sizeof(((struct ipcfs_rank_stat *)0)->f) == 8, #f " is a uint64_t");
IPCFS_RANK_COUNTERS(IPCFS_RANK_COUNTER_CHECK)
/* ... and every uint64_t of it after pid, but stalled_ms, has a row. */
_Static_assert(sizeof(struct ipcfs_rank_stat) ==
		       offsetof(struct ipcfs_rank_stat, sent) + 8 * (IPCFS_RANK_NCOUNTERS + 1),
	       "struct ipcfs_rank_stat and IPCFS_RANK_COUNTERS list the same counters");

#endif
