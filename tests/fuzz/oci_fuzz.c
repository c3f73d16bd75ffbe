/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for what an OCI runtime hands `dvmount oci-hook`: the
 * container state on stdin and the bundle's config.json, both read with
 * oci_parse_object(), then the "org.dvmount.volumes" annotation that either
 * carries, read as the volume spec, and the per-volume annotations
 * (org.dvmount.volume.NAME...) turned into one. Any bytes end in an object
 * or -EBADMSG with a reason, never a crash or leak; per-volume annotations
 * that convert give a spec that parses.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helper/oci.h"
#include "helper/oci_annotations.h"
#include "helper/spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void per_volume(json_object *ann)
{
	_cleanup_spec_ struct spec *spec = NULL;
	struct spec_error err;
	char why[512], *json = NULL;
	int r;

	if (!json_object_is_type(ann, json_type_object))
		return;
	r = oci_annotations_volumes(ann, &json, why, sizeof(why));
	if (r < 0 && r != -EINVAL && r != -E2BIG && r != -ENOMEM)
		abort();
	if (r == 0 && json) {
		/* What the conversion writes, prepare reads: only the spec's own limits refuse it.
		 */
		r = spec_parse(json, strlen(json), &spec, &err);
		if (r < 0 && r != -EINVAL && r != -E2BIG)
			abort();
	}
	free(json);
}

static void volumes_of(json_object *doc)
{
	_cleanup_spec_ struct spec *spec = NULL;
	json_object *ann, *v, *root;
	struct spec_error err;

	json_object_object_get_ex(doc, "id", &v);
	json_object_get_string(v);
	json_object_object_get_ex(doc, "pid", &v);
	json_object_get_int64(v);
	if (json_object_object_get_ex(doc, "root", &root))
		json_object_object_get_ex(root, "path", &v);
	if (!json_object_object_get_ex(doc, "annotations", &ann))
		return;
	if (json_object_object_get_ex(ann, "org.dvmount.volumes", &v) &&
	    json_object_is_type(v, json_type_string))
		spec_parse(json_object_get_string(v), (size_t)json_object_get_string_len(v), &spec,
			   &err);
	per_volume(ann);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_object *doc = NULL;
	const char *why = NULL;
	char *buf = malloc(size + 1);
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	r = oci_parse_object(buf, size, &doc, &why);
	free(buf);
	if (r == 0)
		volumes_of(doc);
	else if (r == -EBADMSG && (!why || !*why))
		abort();
	else if (r != -EBADMSG && r != -ENOMEM)
		abort();
	json_object_put(doc);
	return 0;
}
