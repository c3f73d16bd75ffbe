/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the Mesos volume spec (`make fuzz`): any bytes parse
 * or fail with -errno and a message, never crash, leak or read out of bounds;
 * a spec that parses survives its canonical form: spec_to_json() reads back
 * to the same volumes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_volume(const struct spec_volume *a, const struct spec_volume *b)
{
	if (strcmp(a->driver, b->driver) || strcmp(a->name, b->name) ||
	    strcmp(a->container_path, b->container_path) || a->mode != b->mode ||
	    a->n_opts != b->n_opts)
		abort();
	for (size_t i = 0; i < a->n_opts; i++)
		if (strcmp(a->opts[i].key, b->opts[i].key) ||
		    strcmp(a->opts[i].value, b->opts[i].value) ||
		    spec_volume_opt(b, a->opts[i].key) != b->opts[i].value)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_spec_ struct spec *spec = NULL, *again = NULL;
	struct json_object *canon = NULL;
	struct spec_error err;
	char msg[512];
	const char *text;
	int r;

	r = spec_parse((const char *)data, size, &spec, &err);
	if (r < 0) {
		if (r != -EINVAL && r != -E2BIG && r != -EFBIG && r != -ENOMEM)
			abort();
		spec_error_format(&err, msg, sizeof(msg));
		return 0;
	}
	if (spec_to_json(spec, &canon) < 0)
		return 0;
	text = json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN);
	if (spec_parse(text, strlen(text), &again, &err) < 0 || again->n != spec->n)
		abort();
	for (size_t i = 0; i < spec->n; i++) {
		same_volume(&spec->v[i], &again->v[i]);
		spec_path_is_absolute(spec->v[i].container_path);
	}
	json_object_put(canon);
	return 0;
}
