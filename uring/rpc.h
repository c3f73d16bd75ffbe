/* SPDX-License-Identifier: MIT */
/*
 * The plugin transport: many HTTP/1.1 POSTs in flight at once, to one plugin or
 * several, from one thread, each with its own deadline. io_uring does the socket
 * I/O (CONNECT/SEND/RECV, each linked to a timeout); when io_uring is missing or
 * forbidden (kernel.io_uring_disabled, seccomp) non-blocking sockets and poll()
 * give the same results. Idle keep-alive connections are kept per address and
 * reused by later calls. Nothing here logs except through debug().
 */
#ifndef DVMOUNT_URING_RPC_H
#define DVMOUNT_URING_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

struct rpc_addr {
	struct sockaddr_storage sa;
	socklen_t len;
	char text[128]; /* "unix:///run/docker/plugins/x.sock" or "tcp://127.0.0.1:8080" */
};

/* Parse "unix:///path" or "tcp://host:port" (host resolved now). */
int rpc_addr_parse(const char *url, struct rpc_addr *ret);
int rpc_addr_unix(const char *path, struct rpc_addr *ret);

struct rpc_limits {
	size_t max_body;	/* response body; default 1 MiB */
	unsigned max_headers;	/* response header lines; default 64 */
	size_t max_header_size; /* all header names and values together; default 16 KiB */
};

struct rpc_call {
	/* in */
	const struct rpc_addr *addr;
	const char *path; /* "/VolumeDriver.Mount" */
	const char *body;
	size_t body_len;
	unsigned timeout_ms; /* the whole call: connect, send and receive */
	bool idempotent;     /* may be sent again if a kept-alive connection died under it */
	/*
	 * Called once the connection stands (new or kept-alive) and before a
	 * byte is sent, with peer_* filled in: a negative return ends the call
	 * with -EACCES and sends nothing. NULL: every peer is fine.
	 */
	int (*check_peer)(const struct rpc_call *c, void *userdata);
	void *check_userdata;

	/* out: result is 0 when an HTTP response arrived (any status), else -errno:
	 * -ETIMEDOUT, -ECONNREFUSED/-ENOENT (nobody listens), -ECONNRESET (closed
	 * mid-answer), -EBADMSG (not HTTP), -EMSGSIZE (over a limit). */
	int result;
	int status;
	char *resp; /* body, NUL-terminated, owned by the call: rpc_call_reset() frees it */
	size_t resp_len;
	bool reused_conn; /* served on a kept-alive connection */
	/*
	 * SO_PEERCRED of a unix-socket connection: the process that listen()ed
	 * on the socket, read on the connected socket itself, so that no file
	 * swapped at the socket's path can lie about it. pid 0 for TCP, or for a
	 * listener in a pid namespace we cannot see into; uid/gid then -1.
	 */
	pid_t peer_pid;
	uid_t peer_uid;
	gid_t peer_gid;
	/*
	 * SO_PEERPIDFD (6.5) of the same connection: a pidfd on that very
	 * process, which a reused pid cannot stand in for. Valid only while
	 * check_peer runs (dup it to keep it; rpc closes it afterwards).
	 * Negative when there is none: -ESRCH, the listener has exited and
	 * been reaped (its pid number may name another process now);
	 * -EOPNOTSUPP, a kernel without SO_PEERPIDFD; -EBADF for TCP and
	 * outside check_peer.
	 */
	int peer_pidfd;
};

void rpc_call_reset(struct rpc_call *c);

struct rpc_engine;

enum {
	RPC_NO_URING = 1 << 0,	       /* force the plain-syscall path */
	RPC_RING_FOR_BATCHES = 1 << 1, /* a lone call (n = 1) uses poll() unless a ring exists */
};

/*
 * An engine with its idle-connection pool; flags RPC_*, limits NULL for the
 * defaults (1 MiB body, 64 headers of 16 KiB). The io_uring ring is not made
 * here but by the first rpc_run (or rpc_engine_uses_uring), so that a process
 * that calls no plugin never sets one up. 0, or -ENOMEM; the caller owns *ret
 * (rpc_engine_free, which accepts NULL).
 */
int rpc_engine_new(unsigned flags, const struct rpc_limits *limits, struct rpc_engine **ret);
void rpc_engine_free(struct rpc_engine *e);
static inline void rpc_engine_freep(struct rpc_engine **e)
{
	rpc_engine_free(*e);
}
/*
 * Whether calls go through io_uring: false with RPC_NO_URING, when the ring
 * cannot be made (io_uring off by sysctl or seccomp) or was abandoned after a
 * failure. Makes the ring if no call has yet.
 */
bool rpc_engine_uses_uring(struct rpc_engine *e);

/*
 * Run every call to completion (each ends with its own result) and return 0,
 * or -errno if the engine itself failed. Calls to the same address may run on
 * separate connections at once.
 */
int rpc_run(struct rpc_engine *e, struct rpc_call *const *calls, size_t n);

/* Close idle connections (for tests counting fds). */
void rpc_engine_drop_idle(struct rpc_engine *e);

#endif
