/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "uring/http.h"

/*
 * Go servers reject a request without a Host line; the engine sends this one.
 * Accept is the engine's; Content-Type is what the plugin SDK documents.
 */
#define REQUEST_HEAD                                                                               \
	"POST %s HTTP/1.1\r\n"                                                                     \
	"Host: plugin.moby.localhost\r\n"                                                          \
	"User-Agent: dvmount/0.1\r\n"                                                              \
	"Accept: application/vnd.docker.plugins.v1.2+json\r\n"                                     \
	"Content-Type: application/json\r\n"                                                       \
	"Content-Length: %zu\r\n"                                                                  \
	"\r\n"

int http_format_request(const char *path, const char *body, size_t body_len, char **ret)
{
	_cleanup_free_ char *buf = NULL;
	int head;

	head = snprintf(NULL, 0, REQUEST_HEAD, path, body_len);
	if (head < 0)
		return -EINVAL;
	buf = malloc((size_t)head + body_len + 1);
	if (!buf)
		return -ENOMEM;
	snprintf(buf, (size_t)head + 1, REQUEST_HEAD, path, body_len);
	if (body_len)
		memcpy(buf + head, body, body_len);
	buf[head + body_len] = '\0';
	*ret = TAKE_PTR(buf);
	return head + (int)body_len;
}

static int count_header(http_parser *p, const char *at _unused_, size_t len)
{
	struct http_resp *r = p->data;

	r->header_bytes += len;
	if (r->header_bytes > r->limits->max_header_size) {
		r->error = -EMSGSIZE;
		return 1;
	}
	return 0;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;

	/* The parser may split one name over several calls: count names, not calls. */
	if (!r->in_field && ++r->n_headers > r->limits->max_headers) {
		r->error = -EMSGSIZE;
		return 1;
	}
	r->in_field = true;
	return count_header(p, at, len);
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;

	r->in_field = false;
	return count_header(p, at, len);
}

static int on_headers_complete(http_parser *p)
{
	struct http_resp *r = p->data;

	/* Refuse a declared body over the limit before reading any of it. */
	if (!(p->flags & F_CHUNKED) && p->content_length != ULLONG_MAX &&
	    p->content_length > r->limits->max_body) {
		r->error = -EMSGSIZE;
		return -1;
	}
	return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
	struct http_resp *r = p->data;

	if (len > r->limits->max_body - r->body_len) {
		r->error = -EMSGSIZE;
		return 1;
	}
	if (r->body_len + len + 1 > r->body_cap) {
		size_t cap = MAX(r->body_cap * 2, r->body_len + len + 1);
		char *b = realloc(r->body, MIN(cap, r->limits->max_body + 1));

		if (!b) {
			r->error = -ENOMEM;
			return 1;
		}
		r->body = b;
		r->body_cap = MIN(cap, r->limits->max_body + 1);
	}
	memcpy(r->body + r->body_len, at, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

static int on_message_complete(http_parser *p)
{
	struct http_resp *r = p->data;

	r->complete = true;
	/* One response per request: stop here rather than parse what follows. */
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void http_resp_init(struct http_resp *r, const struct rpc_limits *limits)
{
	*r = (struct http_resp){ .limits = limits };
	http_parser_init(&r->parser, HTTP_RESPONSE);
	r->parser.data = r;
}

void http_resp_done(struct http_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int http_resp_feed(struct http_resp *r, const char *buf, size_t len)
{
	size_t n;

	if (r->complete)
		return len ? -EBADMSG : 1;
	n = http_parser_execute(&r->parser, &settings, buf, len);
	r->received += len;
	if (r->error)
		return r->error;
	if (r->complete) {
		/* Bytes after the response: the peer is out of step; not reusable. */
		if (n < len)
			r->parser.flags |= F_CONNECTION_CLOSE;
		return 1;
	}
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK)
		return len ? -EBADMSG : -ECONNRESET;
	if (len == 0)
		return -ECONNRESET;
	return 0;
}

bool http_resp_keep_alive(const struct http_resp *r)
{
	return r->complete && !(r->parser.flags & F_CONNECTION_CLOSE) &&
	       http_should_keep_alive(&r->parser);
}
