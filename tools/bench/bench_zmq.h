/* SPDX-License-Identifier: MIT */
/*
 * bench_zmq.h - what the ZeroMQ contenders (bcast_zmq.c, payload_zmq.c)
 * share: EINTR-retrying wrappers, their two ipc:// endpoints and the
 * slow-joiner handshake.
 *
 * Endpoints: the sender's PUB socket, bound to ipc:///tmp/PREFIX-PID.data,
 * to one SUB socket per reader; every reader's PUSH socket to the sender's
 * PULL socket, bound to ipc:///tmp/PREFIX-PID.ack.
 *
 * Slow joiners: a PUB socket drops what it sends before a subscriber's
 * connection is up. Before timing, the sender publishes "H" (hello) every
 * few milliseconds until every reader has pushed back one "h"+index, then
 * publishes "G" (go); a reader ignores hellos until the go. PUB/SUB keeps
 * order per connection, so the go and the data that follow reach everyone.
 * After the last ack the sender publishes "B" (bye), and only then does
 * each reader push its memory figures.
 *
 * Once everyone is connected the two socket files are unlinked (the open
 * connections do not need them), so nothing is left in /tmp even when the
 * run dies later; bench_zmq_paths() registers an atexit handler for the
 * earlier exits.
 *
 * ZeroMQ functions return EINTR when the SIGCHLD watcher of bench_common
 * runs; the wrappers retry. Every failure exits through bench_die().
 */
#ifndef BENCH_ZMQ_H
#define BENCH_ZMQ_H

#include <stddef.h>
#include <zmq.h>

#define BENCH_ZMQ_HANDSHAKE_MS 30000 /* readers must all connect within this */

/* Name the endpoints /tmp/@prefix-PID.{data,ack} (call before forking, so
 * the readers know them too). */
void bench_zmq_paths(const char *prefix);

/* Unlink the two socket files (registered with atexit by the sender's
 * bench_zmq_sender_open()). */
void bench_zmq_unlink_paths(void);

/* Exit with "@who: @what: <zmq error>" if @rc < 0. */
void bench_zmq_check(int rc, const char *what, const char *who);

/* zmq_send() of @len bytes (copied), retrying on EINTR. */
void bench_zmq_send(void *sock, const void *buf, size_t len, const char *who);

/* Receive one message into *@msg (initialised by the caller). */
void bench_zmq_recv_msg(void *sock, zmq_msg_t *msg, const char *who);

/* Receive a message of exactly @len bytes into @buf. */
void bench_zmq_recv_exact(void *sock, void *buf, size_t len, const char *who);

/* A new context (exits on failure; @who NULL: the sender). */
void *bench_zmq_ctx_new(const char *who);

/*
 * Reader @r: a new context in *@ctx, its SUB socket (subscribed to
 * everything, connected to the data endpoint) in *@sub and its PUSH socket
 * (connected to the ack endpoint) in *@push; initialises *@msg; then takes
 * part in the handshake, returning after the go.
 */
void bench_zmq_reader_join(int r, void **ctx, void **sub, void **push, zmq_msg_t *msg,
			   const char *who);

/* Reader: receive into *@msg the bye that ends the run, then close it. */
void bench_zmq_reader_bye(void *sub, zmq_msg_t *msg, const char *who);

/* Sender: a new context in *@ctx, PUB bound to the data endpoint in
 * *@pub, PULL bound to the ack endpoint in *@pull. */
void bench_zmq_sender_open(void **ctx, void **pub, void **pull);

/* Sender: the handshake with @readers readers, up to the go; then unlinks
 * the socket files. */
void bench_zmq_sender_handshake(void *pub, void *pull, int readers);

#endif /* BENCH_ZMQ_H */
