/* SPDX-License-Identifier: MIT */
/* gpu_nccl_int.h - step 5 of the communicator's set-up: NCCL (gpu_nccl.c). */
#ifndef IPCFS_GPU_NCCL_INT_H
#define IPCFS_GPU_NCCL_INT_H

#include "gpu_comm_int.h"

/* Initialize NCCL when every rank wants it and no two ranks share a
 * device (@recs: the BUF records). *ok = 1 when it worked here; a failure
 * is a verdict (c->nccl_why), not an error. < 0 only when the exchange of
 * the NCCL id failed (reason set). */
int gpu_nccl_init(struct ipcfs_gpu_comm *c, const struct gpu_record *recs, int *ok);
/* Poll c->nccl, being initialized, until it is ready or failed (0, and
 * *@poll_rc what the poll said, c->nccl_why set when it failed), past
 * c->timeout_ms (-ETIMEDOUT), or until @gave_up(@c, @arg), asked between
 * polls, returns < 0 (that, c->nccl_why set by it): a peer gave up. */
int gpu_nccl_poll_ready(struct ipcfs_gpu_comm *c, int (*gave_up)(struct ipcfs_gpu_comm *c, void *arg),
			void *arg, int *poll_rc);
/* Release c->nccl: abort when it (or a peer's) failed or the communicator
 * broke (ncclCommDestroy is collective and would wait for the peers),
 * else destroy. */
void gpu_nccl_close(struct ipcfs_gpu_comm *c);

#endif
