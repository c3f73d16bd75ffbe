/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the plugin's JSON answers (helper/plugin/plugin.c's decoding,
 * the engine's error rule and the Mountpoint of Mount, Path and Get): any
 * body under any status ends in 0, -EREMOTEIO or -EBADMSG with a one-line
 * message, never a crash or leak.
 *
 * Input: one byte choosing the endpoint, one the HTTP status, then the body.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/plugin/plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 200, 404, 500, 400, 204, 301 };
	struct plugin_req r = { .driver = "fuzz", .name = "v" };
	char *body;
	int ret;

	if (size < 2)
		return 0;
	r.method = (enum plugin_method)(data[0] % (PLUGIN_CAPABILITIES + 1));
	/* The engine hands over the body NUL-terminated, as libFuzzer does not. */
	body = malloc(size - 2 + 1);
	if (!body)
		return 0;
	memcpy(body, data + 2, size - 2);
	body[size - 2] = '\0';

	ret = plugin_decode_answer(statuses[data[1] % 6], body, size - 2, &r);
	if (ret != 0 && ret != -EREMOTEIO && ret != -EBADMSG && ret != -ENOMEM)
		abort();
	/* The message ends up in one line on stderr: something, and no control byte. */
	if (ret < 0 && (!r.err[0] || r.mountpoint))
		abort();
	for (const char *p = r.err; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			abort();
	if (ret == 0 && (!r.reply || ((r.method == PLUGIN_MOUNT || r.method == PLUGIN_PATH ||
				       r.method == PLUGIN_GET) != !!r.mountpoint)))
		abort();
	if (ret == 0 && r.method == PLUGIN_MOUNT && !*r.mountpoint)
		abort();
	plugin_req_clear(&r);
	free(body);
	return 0;
}
