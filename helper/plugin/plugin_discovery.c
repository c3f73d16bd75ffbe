/* SPDX-License-Identifier: MIT */
/*
 * Finding a plugin by name the way the Docker engine does (pkg/plugins):
 * sockets first, then .spec and .json files, first hit wins.
 */
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "common/jsonutil.h"
#include "helper/plugin/plugin-internal.h"

static const char *const engine_socket_dirs[] = { "/run/docker/plugins", NULL };
static const char *const engine_spec_dirs[] = { "/etc/docker/plugins", "/usr/lib/docker/plugins",
						NULL };

/* Spec files are a URL or a small JSON document. */
#define SPEC_MAX 8192

bool plugin_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 255 || !strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (const char *p = name; *p; p++)
		if (*p == '/' || iscntrl((unsigned char)*p))
			return false;
	return true;
}

/* A spec file, whole and bounded, as a NUL-terminated string. */
static int read_spec_file(const char *path, char **ret_buf)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	size_t len;

	if (fd < 0)
		return negerrno();
	return read_fd_bounded(fd, SPEC_MAX, ret_buf, &len);
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (isspace((unsigned char)*s))
		s++;
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

static int set_url(struct plugin_location *loc, const char *url, const char *file)
{
	if (strlen(url) >= sizeof(loc->url))
		return -ENAMETOOLONG;
	snprintf(loc->url, sizeof(loc->url), "%s", url);
	snprintf(loc->file, sizeof(loc->file), "%s", file);
	return 0;
}

static int parse_spec(const char *file, struct plugin_location *loc)
{
	_cleanup_free_ char *buf = NULL;
	char *url;
	int r;

	r = read_spec_file(file, &buf);
	if (r < 0) {
		snprintf(loc->error, sizeof(loc->error), "cannot read '%s': %s", file,
			 strerror(-r));
		return r;
	}
	url = trim(buf);
	if (!strstr(url, "://")) {
		/* The engine's words for a spec without a scheme. */
		snprintf(loc->error, sizeof(loc->error), "'%s': Unknown protocol", file);
		return -EPROTONOSUPPORT;
	}
	if (strncmp(url, "unix://", 7) && strncmp(url, "tcp://", 6)) {
		snprintf(loc->error, sizeof(loc->error), "'%s': unsupported address '%.64s'", file,
			 url);
		return -EPROTONOSUPPORT;
	}
	return set_url(loc, url, file);
}

static int parse_json_spec(const char *file, struct plugin_location *loc)
{
	_cleanup_free_ char *buf = NULL;
	json_object *doc, *addr, *tls;
	const char *a;
	int r;

	r = read_spec_file(file, &buf);
	if (r < 0) {
		snprintf(loc->error, sizeof(loc->error), "cannot read '%s': %s", file,
			 strerror(-r));
		return r;
	}
	doc = json_tokener_parse(buf);
	addr = json_get_ci(doc, "Addr");
	tls = json_get_ci(doc, "TLSConfig");
	if (!addr || !json_object_is_type(addr, json_type_string)) {
		snprintf(loc->error, sizeof(loc->error), "'%s': no \"Addr\" string", file);
		json_object_put(doc);
		return -EINVAL;
	}
	a = json_object_get_string(addr);
	if (!strncmp(a, "https://", 8) || (tls && !json_object_is_type(tls, json_type_null))) {
		snprintf(loc->error, sizeof(loc->error),
			 "'%s': TLS plugin addresses are not supported", file);
		json_object_put(doc);
		return -EPROTONOSUPPORT;
	}
	if (!strncmp(a, "http://", 7)) {
		char url[256];

		snprintf(url, sizeof(url), "tcp://%s", a + 7);
		url[strcspn(url + 6, "/") + 6] = '\0';
		r = set_url(loc, url, file);
	} else if (!strncmp(a, "tcp://", 6) || !strncmp(a, "unix://", 7)) {
		r = set_url(loc, a, file);
	} else {
		snprintf(loc->error, sizeof(loc->error), "'%s': unsupported address '%.64s'", file,
			 a);
		r = -EPROTONOSUPPORT;
	}
	json_object_put(doc);
	return r;
}

static bool is_socket(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static bool is_file(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int find_socket(const char *dir, const char *name, struct plugin_location *loc)
{
	char path[PATH_MAX], url[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/%s.sock", dir, name);
	if (!is_socket(path))
		snprintf(path, sizeof(path), "%s/%s/%s.sock", dir, name, name);
	if (!is_socket(path))
		return -ENOENT;
	snprintf(url, sizeof(url), "unix://%s", path);
	return set_url(loc, url, path);
}

static int find_spec(const char *dir, const char *name, struct plugin_location *loc)
{
	static const char *const layouts[] = { "%s/%s.spec", "%s/%s/%s.spec", "%s/%s.json",
					       "%s/%s/%s.json" };
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(layouts); i++) {
		if (i % 2 == 0)
			snprintf(path, sizeof(path), layouts[i], dir, name);
		else
			snprintf(path, sizeof(path), layouts[i], dir, name, name);
		if (!is_file(path))
			continue;
		return i < 2 ? parse_spec(path, loc) : parse_json_spec(path, loc);
	}
	return -ENOENT;
}

int plugin_discover(const char *plugin_path, const char *name, struct plugin_location *loc)
{
	const char *socket_dirs[PLUGIN_PATH_MAX + 1], *spec_dirs[PLUGIN_PATH_MAX + 1];
	char dirs[4096];
	size_t n = 0;
	int r;

	memset(loc, 0, sizeof(*loc));
	if (!plugin_name_valid(name)) {
		snprintf(loc->error, sizeof(loc->error), "invalid plugin name");
		return -EINVAL;
	}
	if (plugin_path) {
		/* --plugin-path: every directory holds sockets and specs, sockets first. */
		if (strlen(plugin_path) >= sizeof(dirs))
			return -ENAMETOOLONG;
		strcpy(dirs, plugin_path);
		for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && n < PLUGIN_PATH_MAX;
		     d = strtok_r(NULL, ":", &save))
			socket_dirs[n] = spec_dirs[n] = d, n++;
		socket_dirs[n] = spec_dirs[n] = NULL;
	} else {
		memcpy(socket_dirs, engine_socket_dirs, sizeof(engine_socket_dirs));
		memcpy(spec_dirs, engine_spec_dirs, sizeof(engine_spec_dirs));
	}

	for (size_t i = 0; socket_dirs[i]; i++)
		if (find_socket(socket_dirs[i], name, loc) == 0)
			return 0;
	for (size_t i = 0; spec_dirs[i]; i++) {
		r = find_spec(spec_dirs[i], name, loc);
		if (r != -ENOENT)
			return r;
	}
	snprintf(loc->error, sizeof(loc->error), "not found in %s",
		 plugin_path ? plugin_path
			     : "/run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins");
	return -ENOENT;
}
