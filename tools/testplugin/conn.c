/* SPDX-License-Identifier: MIT */
/*
 * One thread per connection: parse HTTP/1.1 requests with libhttp-parser
 * (keep-alive, pipelining, Content-Length and chunked bodies), hand each to
 * api_handle(), and put the answer on the wire, or break the wire the way
 * the request's fault says.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <http_parser.h>

#include "tools/testplugin/testplugin.h"

#define MAX_URL 1024
#define READ_CHUNK 16384
#define THREAD_STACK (512 * 1024)

struct conn {
	int fd;
	http_parser parser;
	char url[MAX_URL + 1];
	size_t url_len;
	char *body;
	size_t body_len, body_cap;
	unsigned n_headers;
	size_t header_bytes;
	bool last_was_value;
	bool complete;
	const char *limit; /* which bound a request broke, for the 400 */
};

static atomic_int n_conns;

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	default:
		return "Status";
	}
}

static struct conn *conn_of(http_parser *p)
{
	return p->data;
}

static int on_message_begin(http_parser *p)
{
	struct conn *c = conn_of(p);

	c->url_len = 0;
	c->body_len = 0;
	c->n_headers = 0;
	c->header_bytes = 0;
	c->last_was_value = true;
	return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct conn *c = conn_of(p);

	if (len > MAX_URL - c->url_len) {
		c->limit = "URL too long";
		return 1;
	}
	memcpy(c->url + c->url_len, at, len);
	c->url_len += len;
	c->url[c->url_len] = '\0';
	return 0;
}

static int count_header_bytes(struct conn *c, size_t len)
{
	c->header_bytes += len;
	if (c->header_bytes > TP_MAX_HEADER_BYTES) {
		c->limit = "headers too large";
		return 1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at _unused_, size_t len)
{
	struct conn *c = conn_of(p);

	if (c->last_was_value && ++c->n_headers > TP_MAX_HEADERS) {
		c->limit = "too many headers";
		return 1;
	}
	c->last_was_value = false;
	return count_header_bytes(c, len);
}

static int on_header_value(http_parser *p, const char *at _unused_, size_t len)
{
	struct conn *c = conn_of(p);

	c->last_was_value = true;
	return count_header_bytes(c, len);
}

static int on_headers_complete(http_parser *p)
{
	struct conn *c = conn_of(p);

	/* ULLONG_MAX: no Content-Length (chunked, or no body) */
	if (p->content_length != ULLONG_MAX && p->content_length > TP_MAX_BODY) {
		c->limit = "body too large";
		return -1; /* -1 is an error; 1 would mean "skip the body" */
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct conn *c = conn_of(p);

	if (len > TP_MAX_BODY - c->body_len) {
		c->limit = "body too large";
		return 1;
	}
	if (c->body_len + len + 1 > c->body_cap) {
		size_t cap = MAX(c->body_cap * 2, c->body_len + len + 1);
		char *grown = realloc(c->body, cap);

		if (!grown) {
			c->limit = "out of memory";
			return 1;
		}
		c->body = grown;
		c->body_cap = cap;
	}
	memcpy(c->body + c->body_len, at, len);
	c->body_len += len;
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct conn *c = conn_of(p);

	/* Stop here so that pipelined requests are answered one at a time. */
	c->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return negerrno();
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_head(int fd, const struct api_answer *a, bool chunked, bool closing)
{
	char head[512];
	int n;

	if (chunked)
		n = snprintf(
		    head, sizeof(head),
		    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n%s\r\n",
		    a->status, reason(a->status), a->content_type,
		    closing ? "Connection: close\r\n" : "");
	else
		n = snprintf(head, sizeof(head),
			     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s\r\n",
			     a->status, reason(a->status), a->content_type, a->body_len,
			     closing ? "Connection: close\r\n" : "");
	return send_all(fd, head, (size_t)n);
}

/* Four chunks (fewer for a tiny body), as a Go server sends big bodies. */
static int send_chunked(int fd, const struct api_answer *a)
{
	size_t step = MAX(a->body_len / 4, (size_t)1);
	char line[32];
	int r;

	for (size_t off = 0; off < a->body_len; off += step) {
		size_t len = MIN(step, a->body_len - off);
		int n = snprintf(line, sizeof(line), "%zx\r\n", len);

		r = send_all(fd, line, (size_t)n);
		if (r >= 0)
			r = send_all(fd, a->body + off, len);
		if (r >= 0)
			r = send_all(fd, "\r\n", 2);
		if (r < 0)
			return r;
	}
	return send_all(fd, "0\r\n\r\n", 5);
}

/* Read and drop everything until the client gives up. */
static void drain(int fd)
{
	char buf[4096];

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno != EINTR))
			return;
	}
}

/* Returns true when the connection stays open for another request. */
static bool answer(struct conn *c, bool keep_alive)
{
	static const char garbage[] = "\x16\x03\x01\x00garbage, not HTTP\r\n\xff\xfe\x00\x01";
	struct api_request req = {
		.path = c->url,
		.body = c->body ? c->body : "",
		.body_len = c->body_len,
		.is_post = c->parser.method == HTTP_POST,
	};
	struct api_answer a;
	bool keep = keep_alive;
	int r;

	api_handle(&req, &a);
	switch (a.fault.kind) {
	case FAULT_HANG:
		drain(c->fd);
		keep = false;
		break;
	case FAULT_GARBAGE:
		send_all(c->fd, garbage, sizeof(garbage) - 1);
		keep = false;
		break;
	case FAULT_CLOSE:
		r = send_head(c->fd, &a, false, false);
		if (r >= 0)
			send_all(c->fd, a.body, a.body_len / 2);
		keep = false;
		break;
	case FAULT_CHUNKED:
		r = send_head(c->fd, &a, true, !keep);
		if (r >= 0)
			r = send_chunked(c->fd, &a);
		keep = keep && r >= 0;
		break;
	default:
		r = send_head(c->fd, &a, false, !keep);
		if (r >= 0)
			r = send_all(c->fd, a.body, a.body_len);
		keep = keep && r >= 0;
		break;
	}
	api_answer_done(&a);
	if (a.fault.kind == FAULT_RESTART)
		tp_restart();
	return keep;
}

static void bad_request(struct conn *c)
{
	struct api_answer a;
	char why[256];

	snprintf(why, sizeof(why), "%s",
		 c->limit ? c->limit : http_errno_description(HTTP_PARSER_ERRNO(&c->parser)));
	api_bad_request(why, &a);
	if (send_head(c->fd, &a, false, true) >= 0)
		send_all(c->fd, a.body, a.body_len);
	api_answer_done(&a);
}

static void serve(struct conn *c)
{
	char buf[READ_CHUNK];

	http_parser_init(&c->parser, HTTP_REQUEST);
	c->parser.data = c;
	for (;;) {
		ssize_t n = read(c->fd, buf, sizeof(buf));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		while (off < (size_t)n) {
			off +=
			    http_parser_execute(&c->parser, &settings, buf + off, (size_t)n - off);
			if (c->complete) {
				bool keep = http_should_keep_alive(&c->parser);

				c->complete = false;
				if (!answer(c, keep))
					return;
				http_parser_pause(&c->parser, 0);
				continue;
			}
			if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
				bad_request(c);
				return;
			}
		}
	}
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;

	serve(c);
	close(c->fd);
	free(c->body);
	free(c);
	atomic_fetch_sub(&n_conns, 1);
	return NULL;
}

int conn_start(int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
				   "Connection: close\r\n\r\n";
	_cleanup_close_ int owned = fd;
	pthread_attr_t attr;
	pthread_t tid;
	struct conn *c;
	int r;

	if (atomic_fetch_add(&n_conns, 1) >= TP_MAX_CONNS) {
		atomic_fetch_sub(&n_conns, 1);
		send_all(fd, busy, sizeof(busy) - 1);
		return -EMFILE;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		atomic_fetch_sub(&n_conns, 1);
		return -ENOMEM;
	}
	c->fd = owned;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, THREAD_STACK);
	r = pthread_create(&tid, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (r != 0) {
		free(c);
		atomic_fetch_sub(&n_conns, 1);
		return -r;
	}
	TAKE_FD(owned);
	return 0;
}
