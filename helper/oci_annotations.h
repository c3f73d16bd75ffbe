/* SPDX-License-Identifier: MIT */
/*
 * The OCI hook's second way to name volumes: one annotation per volume, a
 * form that needs no JSON on a command line (podman parses --annotation
 * values as CSV, so a JSON value with quotes fails: facts/oci-runtimes.md):
 *
 *   org.dvmount.volume.NAME = DRIVER:CONTAINER_PATH[:ro|:rw]
 *   org.dvmount.volume.NAME.opt.KEY = VALUE      (a driver option, repeatable)
 *
 * Issue 13. NAME is the Docker volume's name; it may not contain ".opt.".
 */
#ifndef DVMOUNT_HELPER_OCI_ANNOTATIONS_H
#define DVMOUNT_HELPER_OCI_ANNOTATIONS_H

#include <json-c/json.h>
#include <stddef.h>

#define OCI_VOLUME_PREFIX "org.dvmount.volume."
/* Annotations of this form looked at, at most (the policy limits volumes further). */
#define OCI_VOLUME_ANNOTATIONS_MAX 1024

/*
 * Turn the per-volume annotations of ann (config.json's "annotations"
 * object) into the Mesos JSON array `prepare --volumes` reads, volumes in
 * the order of their names. *ret_json (malloc'd, the caller frees it) is
 * NULL when ann has no such annotation. On failure, why (why_len bytes)
 * names the annotation and what is wrong with it.
 * Returns 0, -EINVAL (a malformed annotation, an option without its volume),
 * -E2BIG (more than OCI_VOLUME_ANNOTATIONS_MAX) or -ENOMEM.
 */
int oci_annotations_volumes(json_object *ann, char **ret_json, char *why, size_t why_len);

#endif
