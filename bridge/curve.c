/* SPDX-License-Identifier: MIT */
/*
 * curve.c - CURVE authentication and encryption between the bridges, when
 * the group's keys file names a key directory (fsd/keys.h).
 *
 * The ROUTER is a CURVE server with this node's secret key; each DEALER a
 * CURVE client that knows the server key of the node it connects to, so
 * both ends prove their keys. A CURVE server alone accepts any client that
 * knows its public key, so a ZAP handler (RFC 27, inproc://zeromq.zap.01,
 * bound before the ROUTER listens) accepts only the public keys of the
 * other nodes and names the node as the connection's User-Id: a message
 * whose routing id (NAME#ID, net.c) claims another node is dropped
 * (bridge_curve_sender_ok), and only a connection that proved a node's
 * key becomes that node's connection at the ROUTER (net.c, note_rid).
 * A monitor on the ROUTER counts the handshakes that failed (a key that is
 * not a node's, a peer without CURVE); the count goes to the group's bridge
 * file ("auth curve=1 refused=N") and each new refusal to its error_log.
 * Keys configured but unusable: the bridge does not start at all.
 *
 * The ZAP thread owns the ZAP and monitor sockets (created by the network
 * thread before it starts); it ends when the context is terminated.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "bridge.h"
#include "ipcfs/keys.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MON_ENDPOINT "inproc://ipcfs-bridge.monitor"
#define LOG_FIRST 20 /* refusals logged one by one, then every LOG_EVERY-th */
#define LOG_EVERY 1000

static struct {
	bool on;
	struct fsd_keys k;       /* read-only once the ZAP thread runs */
	void *zap, *mon;         /* the ZAP thread's, once it runs */
	pthread_t thread;
	bool running;
	_Atomic uint64_t refused; /* handshakes failed (monitor) */
	_Atomic uint64_t denied;  /* of which: keys the ZAP handler refused */
} C;

bool bridge_log_nth(uint64_t n)
{
	return n <= LOG_FIRST || n % LOG_EVERY == 0;
}

/* The keys file of the group: 0 and the path ("" if none), or -errno. */
static int keys_path(struct bridge *b, char *path)
{
	char file[sizeof(b->dir) + 8], text[FSD_KEYS_PATH_MAX + 8], why[FSD_KEYS_WHY_MAX];
	ssize_t n;

	snprintf(file, sizeof(file), "%s/keys", b->dir);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		path[0] = '\0';
		/* A plain group directory (tests) has no keys file: no keys. */
		return errno == ENOENT ? 0 : -errno;
	}
	n = read(fd, text, sizeof(text));
	int err = errno;
	close(fd);
	if (n < 0)
		return -err;
	int rc = fsd_keys_parse_path(text, (size_t)n, path, why, sizeof(why));
	if (rc)
		bridge_log(b, "%s: %s", file, why);
	return rc;
}

/* This node's secret key gives its public key: the pair is one. */
static int check_pair(struct bridge *b)
{
	char pub[FSD_KEY_Z85 + 1], sec[FSD_KEY_Z85 + 1];
	uint8_t derived[FSD_KEY_BYTES];
	int rc = 0;

	if (!zmq_z85_encode(sec, C.k.secret, FSD_KEY_BYTES) || zmq_curve_public(pub, sec) ||
	    fsd_z85_decode(pub, FSD_KEY_Z85, derived))
		rc = -EINVAL;
	else if (memcmp(derived, C.k.pub[b->self], FSD_KEY_BYTES))
		rc = -EKEYREJECTED;
	explicit_bzero(sec, sizeof(sec));
	if (rc)
		bridge_log(b, "keys: %s.key is not the secret key of %s.pub", b->cl.node[b->self].name,
			   b->cl.node[b->self].name);
	return rc;
}

static int load(struct bridge *b)
{
	char path[FSD_KEYS_PATH_MAX + 1], why[FSD_KEYS_WHY_MAX];
	struct stat st;
	int rc;

	if ((rc = keys_path(b, path)) || !path[0])
		return rc;
	if (!zmq_has("curve")) {
		bridge_log(b, "keys %s: this libzmq has no CURVE (built without libsodium): "
			   "refusing to run unauthenticated", path);
		return -ENOTSUP;
	}
	/* The group's owner: the owner of its directory in the mount. */
	if (stat(b->dir, &st))
		return -errno;
	if ((rc = fsd_keys_load(path, st.st_uid, &b->cl, b->self, &C.k, why, sizeof(why)))) {
		bridge_log(b, "%s: refusing to run unauthenticated", why);
		return rc;
	}
	if ((rc = check_pair(b)))
		return rc;
	C.on = true;
	return 0;
}

/* One ZAP request (RFC 27) on @s: reply 200 with the node's name as
 * User-Id when the client's key is another node's, else 400. */
static void zap_request(struct bridge *b, void *s)
{
	char f[8][FSD_KEY_BYTES + 64];
	size_t fl[8] = { 0 };
	int nf = 0, more = 1;
	size_t ml = sizeof(more);

	/* Frames past the seventh land in f[7] (a request with them is
	 * refused), each cut to its buffer. */
	while (more) {
		int n = zmq_recv(s, f[nf < 7 ? nf : 7], sizeof(f[0]), 0);
		if (n < 0)
			return;
		fl[nf < 7 ? nf : 7] = (size_t)n < sizeof(f[0]) ? (size_t)n : sizeof(f[0]);
		nf++;
		if (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml))
			more = 0;
	}
	/* version, request id, domain, address, routing id, mechanism, key */
	int node = -1;
	if (nf == 7 && fl[0] == 3 && !memcmp(f[0], "1.0", 3) && fl[5] == 5 &&
	    !memcmp(f[5], "CURVE", 5) && fl[6] == FSD_KEY_BYTES)
		for (unsigned i = 0; i < b->cl.n && node < 0; i++)
			if ((int)i != b->self && !memcmp(C.k.pub[i], f[6], FSD_KEY_BYTES))
				node = (int)i;
	const char *user = node >= 0 ? b->cl.node[node].name : "";
	if (node < 0) {
		uint64_t n = atomic_fetch_add(&C.denied, 1) + 1;
		char addr[64];
		snprintf(addr, sizeof(addr), "%.*s", nf > 3 ? (int)(fl[3] < 63 ? fl[3] : 63) : 0, f[3]);
		if (bridge_log_nth(n))
			bridge_log(b, "refused a connection from %s: its public key is not one of the "
				   "nodes' (%llu so far)", addr[0] ? addr : "?", (unsigned long long)n);
	}
	zmq_send(s, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(s, f[1], nf > 1 ? fl[1] : 0, ZMQ_SNDMORE);
	zmq_send(s, node >= 0 ? "200" : "400", 3, ZMQ_SNDMORE);
	zmq_send(s, node >= 0 ? "OK" : "not a node's key", node >= 0 ? 2 : 16, ZMQ_SNDMORE);
	zmq_send(s, user, strlen(user), ZMQ_SNDMORE);
	zmq_send(s, "", 0, 0);
}

/* One monitor event: a failed handshake is a refused connection. */
static void mon_event(struct bridge *b, void *s)
{
	zmq_msg_t m;
	uint16_t ev = 0;
	uint32_t val = 0;
	int more = 1;
	size_t ml = sizeof(more);

	for (int i = 0; more; i++) {
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, s, 0) < 0) {
			zmq_msg_close(&m);
			return;
		}
		if (i == 0 && zmq_msg_size(&m) >= 6) {
			memcpy(&ev, zmq_msg_data(&m), 2);
			memcpy(&val, (char *)zmq_msg_data(&m) + 2, 4);
		}
		zmq_msg_close(&m);
		if (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &ml))
			more = 0;
	}
	if (!(ev & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
		    ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)))
		return;
	uint64_t n = atomic_fetch_add(&C.refused, 1) + 1;
	char detail[64];
	if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		snprintf(detail, sizeof(detail), "%s", strerror((int)val));
	else
		snprintf(detail, sizeof(detail), "%s %#x",
			 val == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH ? "no CURVE" : "protocol error",
			 val);
	/* The ZAP handler logged a key refused already, with the peer. */
	if (ev != ZMQ_EVENT_HANDSHAKE_FAILED_AUTH && bridge_log_nth(n))
		bridge_log(b, "refused a connection: its handshake failed (%s): a peer without CURVE, "
			   "or with another server key (%llu so far)", detail, (unsigned long long)n);
}

static void *zap_main(void *arg)
{
	struct bridge *b = arg;
	zmq_pollitem_t it[2] = { { .socket = C.zap, .events = ZMQ_POLLIN },
				 { .socket = C.mon, .events = ZMQ_POLLIN } };

	/* Until the context is terminated (ETERM), at the bridge's exit. */
	while (zmq_poll(it, 2, -1) >= 0 || errno == EINTR) {
		if (it[0].revents & ZMQ_POLLIN)
			zap_request(b, C.zap);
		if (it[1].revents & ZMQ_POLLIN)
			mon_event(b, C.mon);
	}
	zmq_close(C.zap);
	zmq_close(C.mon);
	return NULL;
}

static int fail(void *s1, void *s2, int err)
{
	if (s1)
		zmq_close(s1);
	if (s2)
		zmq_close(s2);
	return err;
}

int bridge_curve_open(struct bridge *b, void *ctx, void *router)
{
	void *zap = NULL, *mon = NULL;
	int one = 1, rc;

	if ((rc = load(b)) || !C.on)
		return rc;
	/* The handler first: a CURVE server without one accepts anyone. */
	zap = zmq_socket(ctx, ZMQ_REP);
	if (!zap || zmq_bind(zap, ZAP_ENDPOINT))
		return fail(zap, NULL, -errno);
	if (zmq_socket_monitor(router, MON_ENDPOINT, ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
			       ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH))
		return fail(zap, NULL, -errno);
	mon = zmq_socket(ctx, ZMQ_PAIR);
	if (!mon || zmq_connect(mon, MON_ENDPOINT))
		return fail(zap, mon, -errno);
	if (zmq_setsockopt(router, ZMQ_CURVE_SERVER, &one, sizeof(one)) ||
	    zmq_setsockopt(router, ZMQ_CURVE_SECRETKEY, C.k.secret, FSD_KEY_BYTES) ||
	    zmq_setsockopt(router, ZMQ_ZAP_DOMAIN, "ipcfs", 5))
		return fail(zap, mon, -errno);
	C.zap = zap;
	C.mon = mon;
	/* The sockets move to the thread: pthread_create orders our use of
	 * them before its. */
	if ((rc = pthread_create(&C.thread, NULL, zap_main, b)))
		return fail(zap, mon, -rc);
	C.running = true;
	bridge_log(b, "CURVE: connections authenticated with the keys of %u nodes", b->cl.n);
	return 0;
}

int bridge_curve_client(struct bridge *b, void *dealer, unsigned node)
{
	if (!C.on)
		return 0;
	if (zmq_setsockopt(dealer, ZMQ_CURVE_SERVERKEY, C.k.pub[node], FSD_KEY_BYTES) ||
	    zmq_setsockopt(dealer, ZMQ_CURVE_PUBLICKEY, C.k.pub[b->self], FSD_KEY_BYTES) ||
	    zmq_setsockopt(dealer, ZMQ_CURVE_SECRETKEY, C.k.secret, FSD_KEY_BYTES))
		return -errno;
	return 0;
}

bool bridge_curve_sender_ok(struct bridge *b, void *frame, int node)
{
	static _Atomic uint64_t bad;

	if (!C.on)
		return true;
	/* The ZAP handler named the node whose key the peer proved. */
	const char *user = zmq_msg_gets(frame, "User-Id");
	if (user && !strcmp(user, b->cl.node[node].name))
		return true;
	uint64_t n = atomic_fetch_add(&bad, 1) + 1;
	if (bridge_log_nth(n))
		bridge_log(b, "dropped a message that says it is from node %s, sent with the key of %s",
			   b->cl.node[node].name, user ? user : "no node");
	return false;
}

int bridge_curve_report(char *buf, size_t size)
{
	if (!C.on)
		return 0;
	int n = snprintf(buf, size, "auth curve=1 refused=%llu\n",
			 (unsigned long long)atomic_load(&C.refused));
	return n > 0 && (size_t)n < size ? n : 0;
}

void bridge_curve_close(void)
{
	if (C.running)
		pthread_join(C.thread, NULL);
	C.running = false;
	explicit_bzero(&C.k, sizeof(C.k));
}

int bridge_keygen(int argc, char **argv)
{
	char pub[FSD_KEY_Z85 + 1], sec[FSD_KEY_Z85 + 1], name[FSD_NODE_NAME_MAX + 1], why[FSD_KEYS_WHY_MAX];
	struct fsd_cluster none = { 0 };
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: ipcfs-bridge keygen DIR NAME\n"
				"  write the CURVE key pair of node NAME: DIR/NAME.key (secret) and\n"
				"  DIR/NAME.pub, mode 0600 (DIR made 0700 if missing)\n");
		return 2;
	}
	if (fsd_cluster_parse_self(argv[2], strlen(argv[2]), &none, name, why, sizeof(why)) || !name[0]) {
		fprintf(stderr, "ipcfs-bridge keygen: %s\n", name[0] ? why : "empty node name");
		return 1;
	}
	if (!zmq_has("curve")) {
		fprintf(stderr, "ipcfs-bridge keygen: this libzmq has no CURVE (built without libsodium)\n");
		return 1;
	}
	if (mkdir(argv[1], 0700) && errno != EEXIST) {
		fprintf(stderr, "ipcfs-bridge keygen: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (zmq_curve_keypair(pub, sec)) {
		fprintf(stderr, "ipcfs-bridge keygen: %s\n", zmq_strerror(errno));
		return 1;
	}
	int dfd = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = dfd < 0 ? 1 : 0;
	for (int i = 0; !rc && i < 2; i++) {
		char file[FSD_NODE_NAME_MAX + 8];
		snprintf(file, sizeof(file), "%s.%s", name, i ? "pub" : "key");
		/* O_EXCL: never replace a key that nodes may already trust. */
		int fd = openat(dfd, file, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 || fchmod(fd, 0600) || dprintf(fd, "%s\n", i ? pub : sec) != FSD_KEY_Z85 + 1) {
			fprintf(stderr, "ipcfs-bridge keygen: %s/%s: %s\n", argv[1], file, strerror(errno));
			rc = 1;
		}
		if (fd >= 0)
			close(fd);
	}
	if (dfd < 0)
		fprintf(stderr, "ipcfs-bridge keygen: %s: %s\n", argv[1], strerror(errno));
	explicit_bzero(sec, sizeof(sec));
	if (dfd >= 0)
		close(dfd);
	if (!rc)
		printf("%s\n", pub);
	return rc;
}
