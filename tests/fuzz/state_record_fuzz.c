/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the state records (containers/<cid>.json and
 * volumes/<key>/volume.json) as state_parse_object() takes them from disk:
 * any bytes are one JSON object or -EBADMSG, never a crash or leak; a record
 * that is believed reads back from its own text (what the writer saves), and
 * no proper prefix of that text (a torn write) is believed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/state/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[STATE_MOUNT_ID_LEN + 1];
	json_object *obj = NULL, *again = NULL, *cut = NULL;
	const char *text;
	size_t len;
	char *buf;
	int r;

	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	r = state_parse_object(buf, size, &obj);
	free(buf);
	if (r != 0 && r != -EBADMSG && r != -ENOMEM)
		abort();
	if (r < 0)
		return 0;
	/* The record readers' first look: a volume entry's mount id. */
	r = state_volume_mount_id(obj, id);
	if (r == 0 && strlen(id) != STATE_MOUNT_ID_LEN)
		abort();

	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	len = strlen(text);
	if (state_parse_object(text, len, &again) != 0)
		abort();
	/* A torn write of it: the first half. */
	buf = strndup(text, len / 2);
	if (buf && state_parse_object(buf, len / 2, &cut) != -EBADMSG)
		abort();
	free(buf);
	json_object_put(again);
	json_object_put(obj);
	return 0;
}
