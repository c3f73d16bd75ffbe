/* SPDX-License-Identifier: MIT */
/*
 * Volume spec parsing: Mesos' JSON list of Volume messages, validated the way
 * the docker/volume isolator does (facts/mesos-isolator.md), with every size
 * bounded because the document comes from a framework, not from the operator.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/fileio.h"
#include "common/macro.h"
#include "helper/spec/spec.h"

static void json_putp(struct json_object **obj)
{
	json_object_put(*obj);
}
#define _cleanup_json_ _cleanup_(json_putp)

static void tokener_freep(struct json_tokener **tok)
{
	if (*tok)
		json_tokener_free(*tok);
}

static int fail(struct spec_error *err, int r, size_t index, const char *field, const char *fmt,
		...) _printf_(5, 6);
static int fail(struct spec_error *err, int r, size_t index, const char *field, const char *fmt,
		...)
{
	va_list ap;

	if (!err)
		return r;
	err->index = index;
	snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return r;
}

static const char *type_name(struct json_object *obj)
{
	switch (json_object_get_type(obj)) {
	case json_type_null:
		return "null";
	case json_type_boolean:
		return "a boolean";
	case json_type_double:
	case json_type_int:
		return "a number";
	case json_type_object:
		return "an object";
	case json_type_array:
		return "an array";
	case json_type_string:
		return "a string";
	}
	return "an unknown type";
}

/* A member that is absent or JSON null is "not set", as in protobuf's JSON mapping. */
static struct json_object *member(struct json_object *obj, const char *key)
{
	struct json_object *val = NULL;

	if (!json_object_object_get_ex(obj, key, &val))
		return NULL;
	return json_object_is_type(val, json_type_null) ? NULL : val;
}

enum {
	STR_PRINTABLE = 1 << 0, /* no control characters: it ends up in paths, logs, records */
};

/*
 * The string at obj[key], checked: a string, at most max bytes, no NUL (json-c
 * keeps "\u0000" inside the string, which C would silently cut). Returns 0 with
 * *ret_str NULL when the member is not set.
 */
static int get_string(struct json_object *obj, const char *key, size_t max, unsigned flags,
		      size_t index, const char *field, struct spec_error *err, const char **ret_str)
{
	struct json_object *val = member(obj, key);
	const char *s;
	size_t len;

	if (!val) {
		*ret_str = NULL;
		return 0;
	}
	if (!json_object_is_type(val, json_type_string))
		return fail(err, -EINVAL, index, field, "expected a string, got %s",
			    type_name(val));
	s = json_object_get_string(val);
	len = (size_t)json_object_get_string_len(val);
	if (len > max)
		return fail(err, -E2BIG, index, field, "longer than %zu bytes", max);
	if (memchr(s, '\0', len))
		return fail(err, -EINVAL, index, field, "contains a NUL character");
	if (flags & STR_PRINTABLE) {
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
				return fail(err, -EINVAL, index, field,
					    "contains a control character");
	}
	*ret_str = s;
	return 0;
}

/* An optional object member: NULL when not set, an error when it is something else. */
static int get_object(struct json_object *obj, const char *key, size_t index, const char *field,
		      struct spec_error *err, struct json_object **ret_obj)
{
	struct json_object *val = member(obj, key);

	if (val && !json_object_is_type(val, json_type_object))
		return fail(err, -EINVAL, index, field, "expected an object, got %s",
			    type_name(val));
	*ret_obj = val;
	return 0;
}

static void volume_clear(struct spec_volume *v)
{
	free(v->driver);
	free(v->name);
	free(v->container_path);
	for (size_t i = 0; i < v->n_opts; i++) {
		free(v->opts[i].key);
		free(v->opts[i].value);
	}
	free(v->opts);
	memset(v, 0, sizeof(*v));
}

/*
 * The driver name picks a socket or spec file under the plugin directories
 * (/run/docker/plugins/<driver>.sock): a name that climbs out of them would
 * let a framework pick any socket on the host. Docker's own plugin names
 * ("rexray", "vieux/sshfs:latest") never have "." or ".." components.
 */
static bool driver_name_is_safe(const char *d)
{
	size_t len = strlen(d);

	if (len == 0 || d[0] == '/' || d[len - 1] == '/')
		return false;
	for (const char *p = d; *p;) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (n == 0)
			return false; /* "a//b" */
		p += n;
		if (*p == '/')
			p++;
	}
	return true;
}

static int add_opt(struct spec_volume *v, const char *key, const char *value)
{
	_cleanup_free_ char *k = NULL, *val = strdup(value);

	if (!val)
		return -ENOMEM;
	/* Mesos builds a hashmap from the parameters: a repeated key keeps the last value. */
	for (size_t i = 0; i < v->n_opts; i++) {
		if (strcmp(v->opts[i].key, key) == 0) {
			free(v->opts[i].value);
			v->opts[i].value = TAKE_PTR(val);
			return 0;
		}
	}
	k = strdup(key);
	if (!k)
		return -ENOMEM;
	/* opts was sized for the parameter count, so there is room. */
	v->opts[v->n_opts].key = TAKE_PTR(k);
	v->opts[v->n_opts].value = TAKE_PTR(val);
	v->n_opts++;
	return 0;
}

static int parse_opts(struct json_object *dv, size_t index, struct spec_volume *v,
		      struct spec_error *err)
{
	struct json_object *dopts = NULL, *params;
	size_t n;
	int r;

	r = get_object(dv, "driver_options", index, "source.docker_volume.driver_options", err,
		       &dopts);
	if (r < 0 || !dopts)
		return r;
	params = member(dopts, "parameter");
	if (!params)
		return 0;
	if (!json_object_is_type(params, json_type_array))
		return fail(err, -EINVAL, index, "source.docker_volume.driver_options.parameter",
			    "expected an array, got %s", type_name(params));
	n = json_object_array_length(params);
	if (n > SPEC_MAX_OPTS)
		return fail(err, -E2BIG, index, "source.docker_volume.driver_options.parameter",
			    "more than %d driver options", SPEC_MAX_OPTS);
	if (n == 0)
		return 0;
	v->opts = calloc(n, sizeof(*v->opts));
	if (!v->opts)
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(params, i);
		const char *key = NULL, *value = NULL;
		char field[64];

		snprintf(field, sizeof(field), "source.docker_volume.driver_options.parameter[%zu]",
			 i);
		if (!p || !json_object_is_type(p, json_type_object))
			return fail(err, -EINVAL, index, field, "expected an object, got %s",
				    type_name(p));

		snprintf(field, sizeof(field),
			 "source.docker_volume.driver_options.parameter[%zu].key", i);
		r = get_string(p, "key", SPEC_MAX_KEY, STR_PRINTABLE, index, field, err, &key);
		if (r < 0)
			return r;
		if (!key || !key[0])
			return fail(err, -EINVAL, index, field, "the option key is not specified");

		snprintf(field, sizeof(field),
			 "source.docker_volume.driver_options.parameter[%zu].value", i);
		/* Values go to the plugin inside JSON: any text but NUL is fine. */
		r = get_string(p, "value", SPEC_MAX_VALUE, 0, index, field, err, &value);
		if (r < 0)
			return r;
		if (!value)
			return fail(err, -EINVAL, index, field,
				    "the value of option '%s' is not specified", key);

		r = add_opt(v, key, value);
		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * One array entry. Returns 0 and fills *ret_vol for a DOCKER_VOLUME volume,
 * 1 for a volume of another type (not ours: left to other isolators, and not
 * validated any further), or a negative errno with err filled.
 */
static int parse_volume(struct json_object *jv, size_t index, struct spec_volume *ret_vol,
			struct spec_error *err)
{
	_cleanup_(volume_clear) struct spec_volume v = { .index = index };
	struct json_object *source = NULL, *dv = NULL;
	const char *type = NULL, *path = NULL, *mode = NULL, *name = NULL, *driver = NULL;
	int r;

	if (!json_object_is_type(jv, json_type_object))
		return fail(err, -EINVAL, index, "", "expected an object, got %s", type_name(jv));

	r = get_object(jv, "source", index, "source", err, &source);
	if (r < 0)
		return r;
	if (!source)
		return 1;
	r = get_string(source, "type", SPEC_MAX_FILE, 0, index, "source.type", err, &type);
	if (r < 0)
		return r;
	if (!type || strcmp(type, "DOCKER_VOLUME") != 0)
		return 1;

	r = get_string(jv, "container_path", SPEC_MAX_PATH, STR_PRINTABLE, index, "container_path",
		       err, &path);
	if (r < 0)
		return r;
	if (!path || !path[0])
		return fail(err, -EINVAL, index, "container_path",
			    "container_path is required and must not be empty");

	r = get_string(jv, "mode", SPEC_MAX_FILE, 0, index, "mode", err, &mode);
	if (r < 0)
		return r;
	if (!mode)
		return fail(err, -EINVAL, index, "mode", "mode is required: \"RW\" or \"RO\"");
	if (strcmp(mode, "RW") == 0)
		v.mode = SPEC_RW;
	else if (strcmp(mode, "RO") == 0)
		v.mode = SPEC_RO;
	else
		return fail(err, -EINVAL, index, "mode", "invalid mode: expected \"RW\" or \"RO\"");

	r = get_object(source, "docker_volume", index, "source.docker_volume", err, &dv);
	if (r < 0)
		return r;
	if (!dv)
		return fail(err, -EINVAL, index, "source.docker_volume",
			    "'source.docker_volume' is not set for a DOCKER_VOLUME volume");

	/* name first: it is the required one in mesos.proto, and the driver message quotes it. */
	r = get_string(dv, "name", SPEC_MAX_NAME, STR_PRINTABLE, index, "source.docker_volume.name",
		       err, &name);
	if (r < 0)
		return r;
	if (!name || !name[0])
		return fail(err, -EINVAL, index, "source.docker_volume.name",
			    "The volume name is not specified");

	r = get_string(dv, "driver", SPEC_MAX_DRIVER, STR_PRINTABLE, index,
		       "source.docker_volume.driver", err, &driver);
	if (r < 0)
		return r;
	/* Mesos only tests has_driver(); an empty driver could name no plugin either. */
	if (!driver || !driver[0])
		return fail(err, -EINVAL, index, "source.docker_volume.driver",
			    "The volume driver is not specified for volume '%s'", name);
	if (!driver_name_is_safe(driver))
		return fail(err, -EINVAL, index, "source.docker_volume.driver",
			    "invalid driver name '%s': no '.', '..' or empty path components",
			    driver);

	v.container_path = strdup(path);
	v.name = strdup(name);
	v.driver = strdup(driver);
	if (!v.container_path || !v.name || !v.driver)
		return -ENOMEM;

	r = parse_opts(dv, index, &v, err);
	if (r < 0)
		return r;

	*ret_vol = v;
	memset(&v, 0, sizeof(v));
	return 0;
}

/* The array itself, or the one inside a ContainerInfo ("volumes") or TaskInfo ("container"). */
static int find_volumes(struct json_object *root, struct spec_error *err,
			struct json_object **ret_arr)
{
	struct json_object *arr, *container;
	const char *field = "volumes";

	if (json_object_is_type(root, json_type_array)) {
		*ret_arr = root;
		return 0;
	}
	if (!json_object_is_type(root, json_type_object))
		return fail(err, -EINVAL, SPEC_NO_INDEX, "",
			    "expected an array of volumes or an object with \"volumes\", got %s",
			    type_name(root));

	arr = member(root, "volumes");
	if (!arr) {
		container = member(root, "container");
		if (container && json_object_is_type(container, json_type_object)) {
			arr = member(container, "volumes");
			field = "container.volumes";
		}
	}
	/*
	 * An object without volumes is refused rather than read as "no volumes":
	 * a misspelt key must not start a task without its storage.
	 */
	if (!arr)
		return fail(err, -EINVAL, SPEC_NO_INDEX, "",
			    "no \"volumes\" or \"container\".\"volumes\" array in the object");
	if (!json_object_is_type(arr, json_type_array))
		return fail(err, -EINVAL, SPEC_NO_INDEX, field, "expected an array, got %s",
			    type_name(arr));
	*ret_arr = arr;
	return 0;
}

static int parse_json(const char *buf, size_t len, struct spec_error *err,
		      struct json_object **ret_root)
{
	_cleanup_(tokener_freep) struct json_tokener *tok = NULL;
	struct json_object *root;
	enum json_tokener_error jerr;
	const char *nul;
	size_t i;

	for (i = 0; i < len && buf[i] && strchr(" \t\r\n", buf[i]); i++)
		;
	if (i == len)
		return fail(err, -EINVAL, SPEC_NO_INDEX, "", "empty volume spec");
	/* JSON has no raw NUL; json-c would treat it as the end of the text. */
	nul = memchr(buf, '\0', len);
	if (nul)
		return fail(err, -EINVAL, SPEC_NO_INDEX, "", "NUL byte at offset %zu",
			    (size_t)(nul - buf));

	tok = json_tokener_new_ex(SPEC_MAX_DEPTH);
	if (!tok)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	root = json_tokener_parse_ex(tok, buf, (int)len);
	jerr = json_tokener_get_error(tok);
	/*
	 * json-c waits for more input after a bare "true" or "12"; a NUL byte
	 * (refused above inside buf) tells it the text has ended.
	 */
	if (!root && jerr == json_tokener_continue) {
		root = json_tokener_parse_ex(tok, "", 1);
		jerr = json_tokener_get_error(tok);
	}
	if (root) {
		*ret_root = root;
		return 0;
	}
	if (jerr == json_tokener_continue || jerr == json_tokener_error_parse_eof)
		return fail(err, -EINVAL, SPEC_NO_INDEX, "", "truncated JSON: %zu bytes", len);
	if (jerr == json_tokener_error_depth)
		return fail(err, -E2BIG, SPEC_NO_INDEX, "", "JSON nested deeper than %d levels",
			    SPEC_MAX_DEPTH);
	return fail(err, -EINVAL, SPEC_NO_INDEX, "", "invalid JSON at offset %zu: %s",
		    json_tokener_get_parse_end(tok), json_tokener_error_desc(jerr));
}

static int parse(const char *buf, size_t len, struct spec **ret_spec, struct spec_error *err)
{
	_cleanup_json_ struct json_object *root = NULL;
	_cleanup_spec_ struct spec *spec = NULL;
	struct json_object *arr = NULL;
	size_t n;
	int r;

	if (len > SPEC_MAX_FILE)
		return fail(err, -EFBIG, SPEC_NO_INDEX, "", "volume spec larger than %d bytes",
			    SPEC_MAX_FILE);
	r = parse_json(buf, len, err, &root);
	if (r < 0)
		return r;
	r = find_volumes(root, err, &arr);
	if (r < 0)
		return r;
	n = json_object_array_length(arr);
	if (n > SPEC_MAX_VOLUMES)
		return fail(err, -E2BIG, SPEC_NO_INDEX, "", "more than %d volumes",
			    SPEC_MAX_VOLUMES);

	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return -ENOMEM;
	spec->v = calloc(MAX(n, 1), sizeof(*spec->v));
	if (!spec->v)
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		struct spec_volume *v = &spec->v[spec->n];

		r = parse_volume(json_object_array_get_idx(arr, i), i, v, err);
		if (r < 0)
			return r;
		if (r > 0)
			continue;
		/* At most SPEC_MAX_VOLUMES squared comparisons. */
		for (size_t j = 0; j < spec->n; j++) {
			if (strcmp(spec->v[j].driver, v->driver) == 0 &&
			    strcmp(spec->v[j].name, v->name) == 0) {
				r = fail(err, -EINVAL, i, "source.docker_volume",
					 "Found duplicate docker volume with driver '%s' "
					 "and name '%s'",
					 v->driver, v->name);
				volume_clear(v);
				return r;
			}
		}
		spec->n++;
	}

	*ret_spec = TAKE_PTR(spec);
	return 0;
}

int spec_parse(const char *buf, size_t len, struct spec **ret_spec, struct spec_error *err)
{
	int r = parse(buf, len, ret_spec, err);

	/* Allocation failures deep inside leave err alone: say it here, once. */
	if (r == -ENOMEM)
		return fail(err, r, SPEC_NO_INDEX, "", "out of memory");
	return r;
}

int spec_read_fd(int fd, struct spec **ret_spec, struct spec_error *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = read_fd_bounded(fd, SPEC_MAX_FILE, &buf, &len);
	if (r == -EFBIG)
		return fail(err, r, SPEC_NO_INDEX, "", "volume spec larger than %d bytes",
			    SPEC_MAX_FILE);
	if (r == -ENOMEM)
		return fail(err, r, SPEC_NO_INDEX, "", "out of memory");
	if (r < 0)
		return fail(err, r, SPEC_NO_INDEX, "", "reading the volume spec: %s", strerror(-r));
	return spec_parse(buf, len, ret_spec, err);
}

void spec_free(struct spec *spec)
{
	if (!spec)
		return;
	for (size_t i = 0; i < spec->n; i++)
		volume_clear(&spec->v[i]);
	free(spec->v);
	free(spec);
}

char *spec_error_format(const struct spec_error *err, char *buf, size_t size)
{
	char where[32] = "";

	if (!size)
		return buf;
	if (err->index != SPEC_NO_INDEX)
		snprintf(where, sizeof(where), "volume %zu: ", err->index);
	snprintf(buf, size, "%s%s%s%s", where, err->field, err->field[0] ? ": " : "", err->msg);
	return buf;
}

const char *spec_mode_to_string(enum spec_mode mode)
{
	return mode == SPEC_RO ? "RO" : "RW";
}

bool spec_path_is_absolute(const char *path)
{
	return path && path[0] == '/';
}

const char *spec_volume_opt(const struct spec_volume *v, const char *key)
{
	for (size_t i = 0; i < v->n_opts; i++)
		if (strcmp(v->opts[i].key, key) == 0)
			return v->opts[i].value;
	return NULL;
}

/* Give val to obj; json_object_object_add() leaves it with us when it fails. */
static int add_member(struct json_object *obj, const char *key, struct json_object *val)
{
	if (!val)
		return -ENOMEM;
	if (json_object_object_add(obj, key, val) < 0) {
		json_object_put(val);
		return -ENOMEM;
	}
	return 0;
}

static int add_string(struct json_object *obj, const char *key, const char *s)
{
	return add_member(obj, key, json_object_new_string(s));
}

static int opts_to_json(const struct spec_volume *v, struct json_object **ret_obj)
{
	_cleanup_json_ struct json_object *dopts = json_object_new_object();
	struct json_object *params = json_object_new_array_ext((int)v->n_opts);
	int r;

	if (!dopts || !params) {
		json_object_put(params);
		return -ENOMEM;
	}
	r = add_member(dopts, "parameter", params);
	if (r < 0)
		return r;
	for (size_t i = 0; i < v->n_opts; i++) {
		_cleanup_json_ struct json_object *p = json_object_new_object();

		if (!p)
			return -ENOMEM;
		r = add_string(p, "key", v->opts[i].key);
		if (r >= 0)
			r = add_string(p, "value", v->opts[i].value);
		if (r < 0)
			return r;
		if (json_object_array_add(params, p) < 0)
			return -ENOMEM;
		p = NULL; /* the array holds it now */
	}
	*ret_obj = TAKE_PTR(dopts);
	return 0;
}

int spec_volume_to_json(const struct spec_volume *v, struct json_object **ret_obj)
{
	_cleanup_json_ struct json_object *obj = json_object_new_object();
	struct json_object *source, *dv, *dopts = NULL;
	int r;

	if (!obj)
		return -ENOMEM;
	r = add_string(obj, "container_path", v->container_path);
	if (r < 0)
		return r;
	r = add_string(obj, "mode", spec_mode_to_string(v->mode));
	if (r < 0)
		return r;
	source = json_object_new_object();
	r = add_member(obj, "source", source);
	if (r < 0)
		return r;
	r = add_string(source, "type", "DOCKER_VOLUME");
	if (r < 0)
		return r;
	dv = json_object_new_object();
	r = add_member(source, "docker_volume", dv);
	if (r < 0)
		return r;
	r = add_string(dv, "driver", v->driver);
	if (r < 0)
		return r;
	r = add_string(dv, "name", v->name);
	if (r < 0)
		return r;
	if (v->n_opts > 0) {
		r = opts_to_json(v, &dopts);
		if (r < 0)
			return r;
		r = add_member(dv, "driver_options", dopts);
		if (r < 0)
			return r;
	}
	*ret_obj = TAKE_PTR(obj);
	return 0;
}

int spec_to_json(const struct spec *spec, struct json_object **ret_obj)
{
	_cleanup_json_ struct json_object *arr = json_object_new_array_ext((int)MAX(spec->n, 1));

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < spec->n; i++) {
		struct json_object *obj;
		int r = spec_volume_to_json(&spec->v[i], &obj);

		if (r < 0)
			return r;
		if (json_object_array_add(arr, obj) < 0) {
			json_object_put(obj);
			return -ENOMEM;
		}
	}
	*ret_obj = TAKE_PTR(arr);
	return 0;
}
