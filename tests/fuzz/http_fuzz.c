/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the plugin's HTTP answers (uring/http.c on
 * libhttp-parser), fed as the engine feeds them: in pieces of any size, then
 * the peer's close. Whatever arrives, http_resp_feed() ends in one of its
 * documented results and never keeps more body than the limit.
 *
 * Input: one byte choosing the piece sizes, one choosing the limits, then
 * the bytes the plugin sent.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uring/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The engine's defaults, and small ones that the fuzzer can reach. */
	static const struct rpc_limits limits[] = {
		{ .max_body = 1 << 20, .max_headers = 64, .max_header_size = 16 << 10 },
		{ .max_body = 16, .max_headers = 2, .max_header_size = 40 },
	};
	const struct rpc_limits *lim;
	struct http_resp r;
	size_t piece, off = 0;
	int ret = 0;

	if (size < 2)
		return 0;
	piece = 1 + data[0] % 64;
	lim = &limits[data[1] % 2];
	data += 2;
	size -= 2;

	http_resp_init(&r, lim);
	while (off < size && ret == 0) {
		size_t n = piece < size - off ? piece : size - off;

		ret = http_resp_feed(&r, (const char *)data + off, n);
		off += n;
	}
	if (ret == 0)
		ret = http_resp_feed(&r, NULL, 0);
	if (ret != 1 && ret != -EBADMSG && ret != -EMSGSIZE && ret != -ECONNRESET && ret != -ENOMEM)
		abort();
	if (r.body_len > lim->max_body || (r.body && r.body[r.body_len] != '\0'))
		abort();
	if (ret == 1) {
		http_resp_keep_alive(&r);
		/* One answer per request: anything more is refused, the close is not. */
		if (http_resp_feed(&r, "x", 1) != -EBADMSG || http_resp_feed(&r, NULL, 0) != 1)
			abort();
	}
	http_resp_done(&r);
	return 0;
}
