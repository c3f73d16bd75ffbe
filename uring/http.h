/* SPDX-License-Identifier: MIT */
/*
 * Private to uring/: HTTP/1.1 request formatting and incremental response
 * parsing on libhttp-parser, with the limits of struct rpc_limits.
 */
#ifndef DVMOUNT_URING_HTTP_H
#define DVMOUNT_URING_HTTP_H

#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>

#include "uring/rpc.h"

struct http_resp {
	http_parser parser;
	const struct rpc_limits *limits;
	unsigned n_headers;
	size_t header_bytes;
	char *body;
	size_t body_len, body_cap;
	size_t received; /* raw bytes fed so far */
	int error;	 /* -EMSGSIZE from a callback */
	bool complete;
	bool in_field; /* inside a header name, which may arrive in pieces */
};

/* Format "POST path" with the headers plugins expect; returns the length or -errno. */
int http_format_request(const char *path, const char *body, size_t body_len, char **ret);

void http_resp_init(struct http_resp *r, const struct rpc_limits *limits);
void http_resp_done(struct http_resp *r);

/*
 * Feed received bytes; len 0 means the peer closed. Returns 1 when the response
 * is complete, 0 when more is needed, -EBADMSG (not HTTP), -EMSGSIZE (over a
 * limit) or -ECONNRESET (closed before the end).
 */
int http_resp_feed(struct http_resp *r, const char *buf, size_t len);

/* After completion: may the connection carry another request? */
bool http_resp_keep_alive(const struct http_resp *r);

#endif
