/* SPDX-License-Identifier: MIT */
/*
 * The engine: addresses, the idle connection pool, and the steps of one call.
 * The I/O itself is done by rpc_uring.c or rpc_poll.c.
 */
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <time.h>

#include "common/debug.h"
#include "uring/flight.h"

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD 77 /* Linux 6.5, asm-generic/socket.h */
#endif

/* Idle keep-alive connections kept for reuse, per engine. */
#define MAX_IDLE 64

struct idle_conn {
	int fd;
	char key[sizeof(((struct rpc_addr *)0)->text)];
};

struct rpc_engine {
	unsigned flags;
	struct rpc_limits limits;
	struct rpc_ring *ring; /* NULL: the poll() path, or not made yet */
	bool ring_tried;       /* made, failed, or abandoned: never again */
	struct idle_conn idle[MAX_IDLE];
	unsigned n_idle;
};

uint64_t rpc_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int rpc_addr_unix(const char *path, struct rpc_addr *ret)
{
	struct sockaddr_un *un = (struct sockaddr_un *)&ret->sa;
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(un->sun_path) || path[0] != '/')
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	un->sun_family = AF_UNIX;
	memcpy(un->sun_path, path, len + 1);
	ret->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	snprintf(ret->text, sizeof(ret->text), "unix://%s", path);
	return 0;
}

static int addr_tcp(const char *hostport, struct rpc_addr *ret)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	char host[256];
	const char *port;
	size_t hlen;

	/* "[::1]:8080" or "127.0.0.1:8080"; a port is required, as in the engine. */
	if (hostport[0] == '[') {
		const char *end = strchr(hostport, ']');

		if (!end || end[1] != ':')
			return -EINVAL;
		hlen = (size_t)(end - hostport - 1);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport + 1, hlen);
		port = end + 2;
	} else {
		const char *colon = strrchr(hostport, ':');

		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - hostport);
		if (hlen >= sizeof(host))
			return -EINVAL;
		memcpy(host, hostport, hlen);
		port = colon + 1;
	}
	host[hlen] = '\0';
	if (!*host || !*port || strchr(port, '/'))
		return -EINVAL;
	if (getaddrinfo(host, port, &hints, &res) != 0 || !res)
		return -EHOSTUNREACH;
	memset(ret, 0, sizeof(*ret));
	memcpy(&ret->sa, res->ai_addr, res->ai_addrlen);
	ret->len = res->ai_addrlen;
	freeaddrinfo(res);
	snprintf(ret->text, sizeof(ret->text), "tcp://%s", hostport);
	return 0;
}

int rpc_addr_parse(const char *url, struct rpc_addr *ret)
{
	if (!strncmp(url, "unix://", 7))
		return rpc_addr_unix(url + 7, ret);
	if (!strncmp(url, "tcp://", 6))
		return addr_tcp(url + 6, ret);
	return -EPROTONOSUPPORT;
}

void rpc_call_reset(struct rpc_call *c)
{
	free(c->resp);
	c->resp = NULL;
	c->resp_len = 0;
	c->result = 0;
	c->status = 0;
	c->reused_conn = false;
	c->peer_pid = 0;
	c->peer_uid = (uid_t)-1;
	c->peer_gid = (gid_t)-1;
	c->peer_pidfd = -EBADF;
}

/*
 * Who listens at the other end of a unix socket (nothing for TCP), and is it
 * one the caller trusts? 0 or -EACCES.
 */
static int check_peer(struct rpc_call *c, int fd)
{
	_cleanup_close_ int pidfd = -EBADF;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int r = 0;

	/* Nothing of a previous connection (or of a zeroed call) may pass for this one. */
	c->peer_pid = 0;
	c->peer_uid = (uid_t)-1;
	c->peer_gid = (gid_t)-1;
	if (c->addr->sa.ss_family == AF_UNIX &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof(cred)) {
		c->peer_pid = cred.pid;
		c->peer_uid = cred.uid;
		c->peer_gid = cred.gid;
		len = sizeof(pidfd);
		/*
		 * Before 6.5 ENOPROTOOPT: the pid number is all there is. Any
		 * other failure: the listener is gone (reaped), and its number
		 * may be another process's by now.
		 */
		if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) < 0)
			pidfd = errno == ENOPROTOOPT ? -EOPNOTSUPP : -ESRCH;
		else if (len != sizeof(pidfd))
			pidfd = -EOPNOTSUPP;
	}
	c->peer_pidfd = pidfd;
	if (c->check_peer && c->check_peer(c, c->check_userdata) < 0)
		r = -EACCES;
	c->peer_pidfd = -EBADF;
	if (pidfd < 0)
		pidfd = -EBADF;
	return r;
}

int rpc_engine_new(unsigned flags, const struct rpc_limits *limits, struct rpc_engine **ret)
{
	struct rpc_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->flags = flags;
	e->limits = (struct rpc_limits){ .max_body = 1 << 20,
					 .max_headers = 64,
					 .max_header_size = 16 << 10 };
	if (limits) {
		if (limits->max_body)
			e->limits.max_body = limits->max_body;
		if (limits->max_headers)
			e->limits.max_headers = limits->max_headers;
		if (limits->max_header_size)
			e->limits.max_header_size = limits->max_header_size;
	}
	/* The ring is made by the first call (engine_ring): most commands make none. */
	e->ring_tried = flags & RPC_NO_URING;
	*ret = e;
	return 0;
}

/*
 * The ring, made on first use: its setup (io_uring_setup, a probe, the
 * restrictions: three syscalls and a 256-entry SQ/CQ mapping) is wasted on a
 * command that never calls a plugin, such as the prepare of volumes that are
 * mounted already. NULL: the poll() path.
 */
static struct rpc_ring *engine_ring(struct rpc_engine *e)
{
	int r;

	if (e->ring_tried)
		return e->ring;
	e->ring_tried = true;
	/* io_uring may be off (sysctl, seccomp): the poll path does the same job. */
	r = rpc_ring_new(&e->ring);
	if (r < 0)
		debug(DEBUG_URING, "uring", "no ring (%s): plain syscalls", strerror(-r));
	return e->ring;
}

void rpc_engine_drop_idle(struct rpc_engine *e)
{
	while (e->n_idle)
		close(e->idle[--e->n_idle].fd);
}

void rpc_engine_free(struct rpc_engine *e)
{
	if (!e)
		return;
	rpc_engine_drop_idle(e);
	rpc_ring_free(e->ring);
	free(e);
}

/*
 * A lone call gains nothing from the ring, and making one (about 80 us in a
 * fresh process, measured against poll() for one Plugin.Activate: README's
 * Fixed cost) costs more than the call: with RPC_RING_FOR_BATCHES it goes
 * through poll() unless a ring is there already.
 */
static bool use_ring(struct rpc_engine *e, size_t n)
{
	if (n == 1 && (e->flags & RPC_RING_FOR_BATCHES) && !e->ring)
		return false;
	return engine_ring(e) != NULL;
}

bool rpc_engine_uses_uring(struct rpc_engine *e)
{
	return engine_ring(e) != NULL;
}

struct rpc_ring *rpc_engine_ring(struct rpc_engine *e)
{
	return e->ring;
}

void rpc_ring_abandon(struct rpc_engine *e)
{
	/* Not freed: requests may still be live in it. */
	e->ring = NULL;
	e->ring_tried = true;
}

/* An idle connection the peer has closed (or written to) is no use: readable means dead. */
static bool idle_alive(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) == 0;
}

static int take_idle(struct rpc_engine *e, const char *key)
{
	for (unsigned i = e->n_idle; i-- > 0;) {
		if (strcmp(e->idle[i].key, key))
			continue;
		int fd = e->idle[i].fd;

		e->idle[i] = e->idle[--e->n_idle];
		if (idle_alive(fd))
			return fd;
		close(fd);
	}
	return -ENOENT;
}

static void put_idle(struct rpc_engine *e, int fd, const char *key)
{
	if (e->n_idle == MAX_IDLE) {
		close(fd);
		return;
	}
	e->idle[e->n_idle].fd = fd;
	snprintf(e->idle[e->n_idle].key, sizeof(e->idle[0].key), "%s", key);
	e->n_idle++;
}

static void flight_end(struct rpc_engine *e, struct flight *f, int result)
{
	struct rpc_call *c = f->call;

	c->result = result;
	c->reused_conn = f->reused;
	if (result == 0) {
		c->status = f->resp.parser.status_code;
		c->resp = f->resp.body ? TAKE_PTR(f->resp.body) : strdup("");
		c->resp_len = f->resp.body_len;
		if (!c->resp)
			c->result = -ENOMEM;
	}
	if (f->fd >= 0) {
		if (result == 0 && http_resp_keep_alive(&f->resp))
			put_idle(e, f->fd, c->addr->text);
		else
			close(f->fd);
		f->fd = -EBADF;
	}
	f->op = OP_DONE;
	debug(DEBUG_RPC, "rpc", "%s %s: result %d status %d%s", c->addr->text, c->path, c->result,
	      c->status, f->reused ? " (kept-alive connection)" : "");
}

void flight_fail(struct rpc_engine *e, struct flight *f, int error)
{
	flight_end(e, f, error);
}

static void open_connection(struct rpc_engine *e, struct flight *f, bool nonblock)
{
	const struct rpc_addr *a = f->call->addr;

	f->fd =
	    socket(a->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (f->fd < 0) {
		flight_end(e, f, negerrno());
		return;
	}
	f->reused = false;
	f->op = OP_CONNECT;
}

void flight_start(struct rpc_engine *e, struct flight *f, bool nonblock)
{
	struct rpc_call *c = f->call;
	int r;

	rpc_call_reset(c);
	f->fd = -EBADF;
	f->deadline_ns = rpc_now_ns() + (uint64_t)c->timeout_ms * 1000000ULL;
	http_resp_init(&f->resp, &e->limits);
	r = http_format_request(c->path, c->body, c->body_len, &f->req);
	if (r < 0) {
		flight_end(e, f, r);
		return;
	}
	f->req_len = (size_t)r;
	f->fd = take_idle(e, c->addr->text);
	if (f->fd >= 0) {
		f->reused = true;
		f->op = OP_SEND;
		r = check_peer(c, f->fd);
		if (r < 0)
			flight_end(e, f, r);
		return;
	}
	open_connection(e, f, nonblock);
}

/*
 * A kept-alive connection the plugin closed while idle fails on first use with
 * EPIPE, ECONNRESET or an EOF before any byte of the answer. Start once more on
 * a new connection when the request cannot have reached the plugin (nothing
 * was sent), or when sending it twice is harmless (Get, Path, ...); never for
 * Mount or Unmount, which a plugin may have carried out before it hung up.
 */
static bool retry_fresh(struct rpc_engine *e, struct flight *f, int res, bool nonblock)
{
	if (!f->reused || f->retried || f->resp.received > 0)
		return false;
	if (res != -EPIPE && res != -ECONNRESET && res != 0)
		return false;
	if (f->sent > 0 && !f->call->idempotent)
		return false;
	close(f->fd);
	f->fd = -EBADF;
	f->retried = true;
	f->sent = 0;
	open_connection(e, f, nonblock);
	return true;
}

void flight_step_done(struct rpc_engine *e, struct flight *f, int res, bool nonblock)
{
	int r;

	switch (f->op) {
	case OP_CONNECT:
		if (res < 0)
			flight_end(e, f, res);
		else if ((r = check_peer(f->call, f->fd)) < 0)
			flight_end(e, f, r);
		else
			f->op = OP_SEND;
		return;
	case OP_SEND:
		if (res < 0) {
			if (!retry_fresh(e, f, res, nonblock))
				flight_end(e, f, res);
			return;
		}
		f->sent += (size_t)res;
		if (f->sent == f->req_len)
			f->op = OP_RECV;
		return;
	case OP_RECV:
		if (res < 0) {
			if (!retry_fresh(e, f, res, nonblock))
				flight_end(e, f, res);
			return;
		}
		if (res == 0 && retry_fresh(e, f, 0, nonblock))
			return;
		r = http_resp_feed(&f->resp, f->buf, (size_t)res);
		if (r < 0)
			flight_end(e, f, r);
		else if (r == 1)
			flight_end(e, f, 0);
		return;
	case OP_DONE:
		return;
	}
}

void flight_release(struct flight *f)
{
	free(f->req);
	f->req = NULL;
	http_resp_done(&f->resp);
}

int rpc_run(struct rpc_engine *e, struct rpc_call *const *calls, size_t n)
{
	_cleanup_free_ struct flight *flights = NULL;
	int r;

	if (n == 0)
		return 0;
	flights = calloc(n, sizeof(*flights));
	if (!flights)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		flights[i].call = calls[i];
		flights[i].fd = -EBADF;
	}
	r = use_ring(e, n) ? rpc_run_uring(e, flights, n) : rpc_run_poll(e, flights, n);
	if (r == -EREMOTEIO) {
		/*
		 * The ring failed with requests in flight: the kernel may still
		 * write into these buffers. Leave them allocated (the process is
		 * short-lived), fail the calls, and use plain syscalls from now on.
		 */
		for (size_t i = 0; i < n; i++)
			if (flights[i].op != OP_DONE) {
				calls[i]->result = -EIO;
				flights[i].fd = -EBADF;
			}
		rpc_ring_abandon(e);
		TAKE_PTR(flights);
		return -EIO;
	}
	for (size_t i = 0; i < n; i++) {
		if (r < 0 && flights[i].op != OP_DONE)
			flight_fail(e, &flights[i], r);
		flight_release(&flights[i]);
	}
	return r;
}
