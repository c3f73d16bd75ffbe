/* SPDX-License-Identifier: MIT */
/*
 * The io_uring path: each step of each call is one SQE linked to a timeout for
 * what is left of that call's deadline. The ring is restricted to the four
 * opcodes it needs, so a bug here cannot turn it into anything else.
 */
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/debug.h"
#include "uring/flight.h"

struct rpc_ring {
	struct io_uring ring;
};

#define RING_ENTRIES (RPC_MAX_ACTIVE * 2)

static const unsigned ring_ops[] = {
	IORING_OP_CONNECT,
	IORING_OP_SEND,
	IORING_OP_RECV,
	IORING_OP_LINK_TIMEOUT,
};

/*
 * Debian 12's liburing 2.3 declares io_uring_register_restrictions() and
 * io_uring_enable_rings() but its shared library does not export them: call
 * io_uring_register(2) directly.
 */
static int ring_register(struct io_uring *ring, unsigned op, const void *arg, unsigned n)
{
	long r = syscall(__NR_io_uring_register, ring->ring_fd, op, arg, n);

	return r < 0 ? negerrno() : 0;
}

static int restrict_ring(struct io_uring *ring)
{
	struct io_uring_restriction res[ARRAY_SIZE(ring_ops) + 1] = {};

	for (size_t i = 0; i < ARRAY_SIZE(ring_ops); i++) {
		res[i].opcode = IORING_RESTRICTION_SQE_OP;
		res[i].sqe_op = (__u8)ring_ops[i];
	}
	res[ARRAY_SIZE(ring_ops)].opcode = IORING_RESTRICTION_SQE_FLAGS_ALLOWED;
	res[ARRAY_SIZE(ring_ops)].sqe_flags = IOSQE_IO_LINK;
	return ring_register(ring, IORING_REGISTER_RESTRICTIONS, res, ARRAY_SIZE(res));
}

int rpc_ring_new(struct rpc_ring **ret)
{
	struct io_uring_params p = { .flags = IORING_SETUP_R_DISABLED };
	struct io_uring_probe *probe;
	struct rpc_ring *r;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	/* No SQPOLL: its kernel thread keeps the creator's credentials (kernel.md). */
	err = io_uring_queue_init_params(RING_ENTRIES, &r->ring, &p);
	if (err < 0) {
		free(r);
		return err;
	}
	probe = io_uring_get_probe_ring(&r->ring);
	for (size_t i = 0; probe && i < ARRAY_SIZE(ring_ops); i++)
		if (!io_uring_opcode_supported(probe, (int)ring_ops[i]))
			err = -EOPNOTSUPP;
	if (!probe)
		err = -EOPNOTSUPP;
	io_uring_free_probe(probe);
	if (!err)
		err = restrict_ring(&r->ring);
	if (!err)
		err = ring_register(&r->ring, IORING_REGISTER_ENABLE_RINGS, NULL, 0);
	if (err < 0) {
		io_uring_queue_exit(&r->ring);
		free(r);
		return err;
	}
	*ret = r;
	return 0;
}

void rpc_ring_free(struct rpc_ring *r)
{
	if (!r)
		return;
	io_uring_queue_exit(&r->ring);
	free(r);
}

/* Queue the flight's current step with its linked timeout; false if it ended. */
static bool queue_step(struct rpc_engine *e, struct io_uring *ring, struct flight *f)
{
	struct io_uring_sqe *sqe, *tsqe;
	uint64_t now = rpc_now_ns(), left;

	if (f->op == OP_DONE)
		return false;
	if (now >= f->deadline_ns) {
		flight_fail(e, f, -ETIMEDOUT);
		return false;
	}
	if (io_uring_sq_space_left(ring) < 2)
		io_uring_submit(ring);
	/* Both or neither: a lone SQE without its timeout must never be queued. */
	if (io_uring_sq_space_left(ring) < 2) {
		flight_fail(e, f, -EBUSY);
		return false;
	}
	sqe = io_uring_get_sqe(ring);
	tsqe = io_uring_get_sqe(ring);
	switch (f->op) {
	case OP_CONNECT:
		io_uring_prep_connect(sqe, f->fd, (const struct sockaddr *)&f->call->addr->sa,
				      f->call->addr->len);
		break;
	case OP_SEND:
		io_uring_prep_send(sqe, f->fd, f->req + f->sent, f->req_len - f->sent,
				   MSG_NOSIGNAL);
		break;
	case OP_RECV:
		io_uring_prep_recv(sqe, f->fd, f->buf, sizeof(f->buf), 0);
		break;
	case OP_DONE:
		break;
	}
	io_uring_sqe_set_data(sqe, f);
	sqe->flags |= IOSQE_IO_LINK;

	left = f->deadline_ns - now;
	f->ts.tv_sec = (long long)(left / 1000000000ULL);
	f->ts.tv_nsec = (long long)(left % 1000000000ULL);
	io_uring_prep_link_timeout(tsqe, &f->ts, 0);
	/* Timeout completions carry no flight: the flight may be gone by then. */
	io_uring_sqe_set_data(tsqe, NULL);
	return true;
}

int rpc_run_uring(struct rpc_engine *e, struct flight *flights, size_t n)
{
	struct io_uring *ring = &rpc_engine_ring(e)->ring;
	size_t next = 0, active = 0, done = 0;

	while (done < n) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int r;

		while (next < n && active < RPC_MAX_ACTIVE) {
			struct flight *f = &flights[next++];

			flight_start(e, f, false);
			if (queue_step(e, ring, f))
				active++;
			else
				done++;
		}
		if (done == n)
			break;
		r = io_uring_submit_and_wait(ring, 1);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return -EREMOTEIO; /* the caller must not free what the kernel holds */

		io_uring_for_each_cqe(ring, head, cqe)
		{
			struct flight *f = io_uring_cqe_get_data(cqe);
			int res = cqe->res;

			seen++;
			if (!f)
				continue;
			/* Cancelled by its linked timeout: the deadline passed. */
			if (res == -ECANCELED)
				res = -ETIMEDOUT;
			flight_step_done(e, f, res, false);
			if (f->op == OP_DONE || !queue_step(e, ring, f)) {
				active--;
				done++;
			}
		}
		io_uring_cq_advance(ring, seen);
	}
	return 0;
}
