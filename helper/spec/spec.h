/* SPDX-License-Identifier: MIT */
/*
 * The volume spec: what `prepare --volumes FILE|-` and the OCI hook's
 * org.dvmount.volumes annotation carry. It is Mesos' JSON form of a list of
 * Volume messages (mesos.proto), as `mesos-execute --volumes` reads it:
 *
 *   [{"container_path": "/tmp/myvolume", "mode": "RW",
 *     "source": {"type": "DOCKER_VOLUME",
 *                "docker_volume": {"driver": "convoy", "name": "myvolume",
 *                                  "driver_options": {"parameter":
 *                                      [{"key": "size", "value": "10G"}]}}}}]
 *
 * or an object holding that array at "volumes" (ContainerInfo) or at
 * "container"."volumes" (TaskInfo). Only DOCKER_VOLUME volumes are kept;
 * the others belong to other isolators and are skipped without a look.
 *
 * This module validates and bounds; it does not resolve container paths
 * (prepare decides where a relative or absolute path lands) and it does not
 * apply the policy. It never prints: errors come back in struct spec_error.
 *
 * helper/spec/ owns parsing and bounding the volume spec and nothing else:
 * it must not know the commands, the lifecycle, the state or the plugins,
 * and includes only its own header, common/ and system and library headers
 * (make layers-check).
 */
#ifndef DVMOUNT_HELPER_SPEC_SPEC_H
#define DVMOUNT_HELPER_SPEC_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json_object.h>

/* Bounds on everything a caller controls. Lengths are in bytes, without the NUL. */
#define SPEC_MAX_FILE (1024 * 1024) /* whole document */
#define SPEC_MAX_DEPTH 16	    /* JSON nesting, TaskInfo included */
#define SPEC_MAX_VOLUMES 256	    /* array entries, skipped ones included */
#define SPEC_MAX_OPTS 64	    /* driver_options.parameter entries per volume */
#define SPEC_MAX_DRIVER 255
#define SPEC_MAX_NAME 255
#define SPEC_MAX_KEY 255
#define SPEC_MAX_VALUE 4096
#define SPEC_MAX_PATH 4095 /* fits PATH_MAX with its NUL */

/* spec_error.index when the error is about the document, not one volume. */
#define SPEC_NO_INDEX SIZE_MAX

enum spec_mode {
	SPEC_RW,
	SPEC_RO,
};

struct spec_opt {
	char *key;
	char *value;
};

struct spec_volume {
	size_t index; /* position in the input array, skipped volumes counted */
	char *driver;
	char *name;
	char *container_path; /* as given: absolute or relative to the sandbox */
	enum spec_mode mode;
	size_t n_opts;
	struct spec_opt *opts; /* unique keys, first-seen order, last value wins */
};

struct spec {
	size_t n;
	struct spec_volume *v;
};

/*
 * What went wrong and where: index is the volume's position in the input
 * array (0-based, SPEC_NO_INDEX for the document), field its JSON path
 * inside that volume ("source.docker_volume.driver",
 * "source.docker_volume.driver_options.parameter[3].key"), empty when the
 * whole volume or document is meant.
 */
struct spec_error {
	size_t index;
	char field[64];
	char msg[256];
};

/*
 * Parse and validate buf[0..len) (need not be NUL-terminated). Returns 0 and
 * *ret_spec, or -EINVAL (malformed or invalid), -E2BIG (a bound exceeded),
 * -EFBIG (len over SPEC_MAX_FILE), -ENOMEM; err (may be NULL) says why.
 * A valid document may hold zero DOCKER_VOLUME volumes.
 */
int spec_parse(const char *buf, size_t len, struct spec **ret_spec, struct spec_error *err);

/* Read fd to its end (a file or a pipe such as stdin), at most SPEC_MAX_FILE bytes, and parse. */
int spec_read_fd(int fd, struct spec **ret_spec, struct spec_error *err);

void spec_free(struct spec *spec);
static inline void spec_freep(struct spec **spec)
{
	spec_free(*spec);
}
#define _cleanup_spec_ __attribute__((cleanup(spec_freep)))

/*
 * "volume 2: source.docker_volume.driver: The volume driver is not ..."
 * into buf (always NUL-terminated, truncated if needed). Returns buf.
 */
char *spec_error_format(const struct spec_error *err, char *buf, size_t size);

/*
 * The canonical Mesos form of one volume (for records): container_path, mode,
 * source.type, source.docker_volume.{driver,name,driver_options} (the latter
 * only with options, deduplicated, in order). spec_parse() reads it back.
 * Returns 0 or -ENOMEM.
 */
int spec_volume_to_json(const struct spec_volume *v, struct json_object **ret_obj);
/* The canonical array of every kept volume. */
int spec_to_json(const struct spec *spec, struct json_object **ret_obj);

/* "RW" or "RO". */
const char *spec_mode_to_string(enum spec_mode mode);

/* An absolute container path lands at rootfs + path; a relative one in the sandbox. */
bool spec_path_is_absolute(const char *path);

/* The option's value, or NULL when the volume has no such key. */
const char *spec_volume_opt(const struct spec_volume *v, const char *key);

#endif
