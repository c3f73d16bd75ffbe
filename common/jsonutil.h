/* SPDX-License-Identifier: MIT */
/* json-c ownership and the lookups the plugin protocol needs. */
#ifndef DVMOUNT_COMMON_JSONUTIL_H
#define DVMOUNT_COMMON_JSONUTIL_H

#include <json-c/json.h>
#include <strings.h>

#include "common/macro.h"

static inline void json_putp(json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

static inline void json_tokener_freep(json_tokener **t)
{
	if (*t)
		json_tokener_free(*t);
}

/* Go's encoding/json matches object keys without regard to case. */
static inline json_object *json_get_ci(json_object *obj, const char *key)
{
	if (!json_object_is_type(obj, json_type_object))
		return NULL;
	json_object_object_foreach(obj, k, v)
	{
		if (!strcasecmp(k, key))
			return v;
	}
	return NULL;
}

#endif
