/* SPDX-License-Identifier: MIT */
/* The OCI state and config.json as JSON: one object, bounded nesting. */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "common/jsonutil.h"
#include "helper/oci.h"

int oci_parse_object(const char *buf, size_t len, json_object **ret, const char **ret_why)
{
	_cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(OCI_JSON_DEPTH);
	_cleanup_json_ json_object *o = NULL;

	if (!tok)
		return -ENOMEM;
	if (len > INT_MAX || strlen(buf) != len) {
		*ret_why = "it holds a NUL byte";
		return -EBADMSG;
	}
	o = json_tokener_parse_ex(tok, buf, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		/* "null" parses, to no object: json-c's words for that are "success". */
		*ret_why = e == json_tokener_continue  ? "it ends too early"
			   : e == json_tokener_success ? "not a JSON object"
						       : json_tokener_error_desc(e);
		return -EBADMSG;
	}
	for (size_t i = json_tokener_get_parse_end(tok); i < len; i++)
		if (!strchr(" \t\r\n", buf[i])) {
			*ret_why = "trailing data after the object";
			return -EBADMSG;
		}
	if (!json_object_is_type(o, json_type_object)) {
		*ret_why = "not a JSON object";
		return -EBADMSG;
	}
	*ret = TAKE_PTR(o);
	return 0;
}
