/* SPDX-License-Identifier: MIT */
/*
 * The OCI runtime's JSON documents as `dvmount oci-hook` reads them: the
 * container state on stdin and the bundle's config.json (runtime-spec
 * "state" and "config"), both from outside dvmount. It never prints.
 */
#ifndef DVMOUNT_HELPER_OCI_H
#define DVMOUNT_HELPER_OCI_H

#include <json-c/json.h>
#include <stddef.h>

/* Nesting allowed in either document: config.json's seccomp profile nests a few levels. */
#define OCI_JSON_DEPTH 64

/*
 * Parse buf[0..len) (NUL-terminated at len) as exactly one JSON object with
 * only whitespace after it. Returns 0 and *ret (the caller's reference), or
 * -EBADMSG with *ret_why (a static string: "it holds a NUL byte", "it ends
 * too early", json-c's words, "trailing data after the object", "not a JSON
 * object"), or -ENOMEM. Nothing is written on failure but *ret_why.
 */
int oci_parse_object(const char *buf, size_t len, json_object **ret, const char **ret_why);

#endif
