/* SPDX-License-Identifier: MIT */
/*
 * The plain-syscall path, for when io_uring is disabled or filtered: the same
 * steps on non-blocking sockets, waited for with poll().
 */
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "common/debug.h"
#include "uring/flight.h"

/* A Unix socket whose listen backlog is full answers EAGAIN: try again soon. */
#define CONNECT_RETRY_MS 2

/*
 * Run the flight's steps until one would block. Returns the poll events to
 * wait for, 0 when the flight ended, or -1 to retry a connect after a pause.
 */
static int advance(struct rpc_engine *e, struct flight *f)
{
	for (;;) {
		ssize_t n;
		int err;
		socklen_t len = sizeof(err);

		switch (f->op) {
		case OP_CONNECT:
			if (f->connecting) {
				if (!f->revents)
					return POLLOUT;
				if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
					err = errno;
				f->connecting = false;
				flight_step_done(e, f, -err, true);
				break;
			}
			if (connect(f->fd, (const struct sockaddr *)&f->call->addr->sa,
				    f->call->addr->len) == 0) {
				flight_step_done(e, f, 0, true);
				break;
			}
			if (errno == EINPROGRESS) {
				f->connecting = true;
				return POLLOUT;
			}
			if (errno == EAGAIN)
				return -1;
			flight_step_done(e, f, negerrno(), true);
			break;
		case OP_SEND:
			n = send(f->fd, f->req + f->sent, f->req_len - f->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return POLLOUT;
			flight_step_done(e, f, n < 0 ? negerrno() : (int)n, true);
			break;
		case OP_RECV:
			n = recv(f->fd, f->buf, sizeof(f->buf), MSG_DONTWAIT);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return POLLIN;
			flight_step_done(e, f, n < 0 ? negerrno() : (int)n, true);
			break;
		case OP_DONE:
			return 0;
		}
	}
}

int rpc_run_poll(struct rpc_engine *e, struct flight *flights, size_t n)
{
	_cleanup_free_ struct pollfd *pfd = calloc(RPC_MAX_ACTIVE, sizeof(*pfd));
	_cleanup_free_ struct flight **owner = calloc(RPC_MAX_ACTIVE, sizeof(*owner));
	size_t next = 0, done = 0;

	if (!pfd || !owner)
		return -ENOMEM;
	while (done < n) {
		uint64_t now = rpc_now_ns(), wake = UINT64_MAX;
		nfds_t np = 0;
		int timeout_ms;

		/* Start new flights while there is room, then step every active one. */
		for (size_t i = 0; i < n; i++) {
			struct flight *f = &flights[i];
			int ev;

			if (i == next) {
				if (next - done >= RPC_MAX_ACTIVE)
					break;
				flight_start(e, f, true);
				next++;
			}
			if (f->op == OP_DONE)
				continue;
			if (now >= f->deadline_ns) {
				flight_fail(e, f, -ETIMEDOUT);
				done++;
				continue;
			}
			ev = advance(e, f);
			if (ev == 0) {
				done++;
				continue;
			}
			wake = MIN(wake, f->deadline_ns);
			if (ev < 0) {
				wake = MIN(wake, now + CONNECT_RETRY_MS * 1000000ULL);
				continue;
			}
			pfd[np] = (struct pollfd){ .fd = f->fd, .events = (short)ev };
			owner[np++] = f;
		}
		if (done == n)
			break;
		now = rpc_now_ns();
		timeout_ms = wake <= now ? 0 : (int)MIN((wake - now + 999999) / 1000000, 60000);
		if (poll(pfd, np, timeout_ms) < 0 && errno != EINTR)
			return negerrno();
		for (nfds_t i = 0; i < np; i++)
			owner[i]->revents = pfd[i].revents;
	}
	return 0;
}
