/* SPDX-License-Identifier: MIT */
/*
 * Private to uring/: one call in flight and the steps it goes through
 * (connect, send, receive), shared by the io_uring and the poll() paths so
 * that both give the same results. A backend performs the current operation
 * and reports its result with flight_step_done().
 */
#ifndef DVMOUNT_URING_FLIGHT_H
#define DVMOUNT_URING_FLIGHT_H

#include <linux/time_types.h>
#include <stdint.h>

#include "uring/http.h"
#include "uring/rpc.h"

enum flight_op {
	OP_CONNECT,
	OP_SEND,
	OP_RECV,
	OP_DONE,
};

struct flight {
	struct rpc_call *call;
	int fd;
	enum flight_op op;
	bool reused;	 /* the connection came from the idle pool */
	bool retried;	 /* already restarted once after a stale keep-alive */
	bool connecting; /* poll path: a non-blocking connect is under way */
	short revents;	 /* poll path: what poll() last reported */
	char *req;
	size_t req_len, sent;
	struct http_resp resp;
	uint64_t deadline_ns;
	struct __kernel_timespec ts; /* the linked timeout of the current operation */
	char buf[16384];
};

/* Rings carry this many calls at once; more wait for a free place. */
#define RPC_MAX_ACTIVE 128U

uint64_t rpc_now_ns(void);

/* Open or reuse a connection; on failure the flight is already OP_DONE. */
void flight_start(struct rpc_engine *e, struct flight *f, bool nonblock);
/* The result of the current operation: bytes, 0 or -errno. */
void flight_step_done(struct rpc_engine *e, struct flight *f, int res, bool nonblock);
/* End the flight with an error (a timeout, say) and close its connection. */
void flight_fail(struct rpc_engine *e, struct flight *f, int error);
void flight_release(struct flight *f);

int rpc_run_uring(struct rpc_engine *e, struct flight *flights, size_t n);
int rpc_run_poll(struct rpc_engine *e, struct flight *flights, size_t n);

/* The engine's ring lives in rpc_uring.c. */
struct rpc_ring;
int rpc_ring_new(struct rpc_ring **ret);
void rpc_ring_free(struct rpc_ring *r);
struct rpc_ring *rpc_engine_ring(struct rpc_engine *e);
/* After a ring failure: stop using it (and never free it), fall back to poll(). */
void rpc_ring_abandon(struct rpc_engine *e);

#endif
