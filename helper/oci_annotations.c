/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/jsonutil.h"
#include "helper/oci_annotations.h"

#define OPT_INFIX ".opt."

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* DRIVER:CONTAINER_PATH[:ro|:rw] into a Mesos Volume object (without options). */
static int volume_object(const char *name, const char *value, json_object **ret, char *why,
			 size_t why_len)
{
	_cleanup_json_ json_object *vol = NULL;
	const char *colon = strchr(value, ':');
	const char *mode = "RW";
	size_t plen;

	if (!colon || colon == value || !colon[1]) {
		snprintf(why, why_len,
			 "annotation '" OCI_VOLUME_PREFIX "%s': '%s' is not "
			 "DRIVER:CONTAINER_PATH[:ro|:rw]",
			 name, value);
		return -EINVAL;
	}
	plen = strlen(colon + 1);
	if (plen > 3) {
		const char *suffix = colon + 1 + plen - 3;

		if (!strcmp(suffix, ":ro") || !strcmp(suffix, ":rw")) {
			mode = suffix[2] == 'o' ? "RO" : "RW";
			plen -= 3;
		}
	}
	vol = json_object_new_object();
	json_object *src = json_object_new_object(), *dv = json_object_new_object();

	if (!vol || !src || !dv) {
		json_object_put(src);
		json_object_put(dv);
		return -ENOMEM;
	}
	json_object_object_add(vol, "container_path",
			       json_object_new_string_len(colon + 1, (int)plen));
	json_object_object_add(vol, "mode", json_object_new_string(mode));
	json_object_object_add(dv, "driver",
			       json_object_new_string_len(value, (int)(colon - value)));
	json_object_object_add(dv, "name", json_object_new_string(name));
	json_object_object_add(src, "type", json_object_new_string("DOCKER_VOLUME"));
	json_object_object_add(src, "docker_volume", dv);
	json_object_object_add(vol, "source", src);
	*ret = TAKE_PTR(vol);
	return 0;
}

static int add_option(json_object *vol, const char *key, const char *value)
{
	json_object *src, *dv, *opts, *params, *kv;

	json_object_object_get_ex(vol, "source", &src);
	json_object_object_get_ex(src, "docker_volume", &dv);
	if (!json_object_object_get_ex(dv, "driver_options", &opts)) {
		opts = json_object_new_object();
		if (!opts)
			return -ENOMEM;
		json_object_object_add(dv, "driver_options", opts);
		json_object_object_add(opts, "parameter", json_object_new_array());
	}
	json_object_object_get_ex(opts, "parameter", &params);
	kv = json_object_new_object();
	if (!kv || !params)
		return -ENOMEM;
	json_object_object_add(kv, "key", json_object_new_string(key));
	json_object_object_add(kv, "value", json_object_new_string(value));
	json_object_array_add(params, kv);
	return 0;
}

int oci_annotations_volumes(json_object *ann, char **ret_json, char *why, size_t why_len)
{
	_cleanup_free_ const char **names = NULL;
	_cleanup_json_ json_object *vols = NULL, *arr = NULL;
	const size_t plen = strlen(OCI_VOLUME_PREFIX);
	size_t n = 0;
	int r;

	*ret_json = NULL;
	names = calloc(OCI_VOLUME_ANNOTATIONS_MAX, sizeof(*names));
	vols = json_object_new_object();
	if (!names || !vols)
		return -ENOMEM;
	/* First the volumes, then their options: annotations come in any order. */
	json_object_object_foreach(ann, key, val)
	{
		const char *name = key + plen;

		if (strncmp(key, OCI_VOLUME_PREFIX, plen) || strstr(name, OPT_INFIX))
			continue;
		if (n == OCI_VOLUME_ANNOTATIONS_MAX) {
			snprintf(why, why_len,
				 "more than %d '" OCI_VOLUME_PREFIX "NAME' annotations",
				 OCI_VOLUME_ANNOTATIONS_MAX);
			return -E2BIG;
		}
		if (!*name || !json_object_is_type(val, json_type_string)) {
			snprintf(why, why_len, "annotation '%s' must name a volume and be a string",
				 key);
			return -EINVAL;
		}
		json_object *vol;

		r = volume_object(name, json_object_get_string(val), &vol, why, why_len);
		if (r < 0)
			return r;
		json_object_object_add(vols, name, vol);
		names[n++] = name;
	}
	json_object_object_foreach(ann, okey, oval)
	{
		const char *infix, *name = okey + plen;
		char vname[256];
		json_object *vol;

		if (strncmp(okey, OCI_VOLUME_PREFIX, plen) || !(infix = strstr(name, OPT_INFIX)))
			continue;
		if ((size_t)(infix - name) >= sizeof(vname) || !infix[strlen(OPT_INFIX)] ||
		    !json_object_is_type(oval, json_type_string)) {
			snprintf(why, why_len,
				 "annotation '%s' is not '" OCI_VOLUME_PREFIX "NAME.opt.KEY' "
				 "with a string value",
				 okey);
			return -EINVAL;
		}
		snprintf(vname, sizeof(vname), "%.*s", (int)(infix - name), name);
		if (!json_object_object_get_ex(vols, vname, &vol)) {
			snprintf(why, why_len,
				 "annotation '%s': no volume annotation '" OCI_VOLUME_PREFIX "%s'",
				 okey, vname);
			return -EINVAL;
		}
		r = add_option(vol, infix + strlen(OPT_INFIX), json_object_get_string(oval));
		if (r < 0)
			return r;
	}
	if (n == 0)
		return 0;
	qsort(names, n, sizeof(*names), by_name);
	arr = json_object_new_array();
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *vol;

		json_object_object_get_ex(vols, names[i], &vol);
		json_object_array_add(arr, json_object_get(vol));
	}
	*ret_json = strdup(json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
								   JSON_C_TO_STRING_NOSLASHESCAPE));
	return *ret_json ? 0 : -ENOMEM;
}
