/* SPDX-License-Identifier: MIT */
/*
 * The decisions: pure functions of a parsed policy and facts the caller
 * gathered. Each denial names the rule (file:line) and says why in words an
 * operator can act on.
 */
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/debug.h"
#include "policy/policy-internal.h"

static int deny(struct policy_denial *d, const struct policy *p, struct policy_loc loc,
		const char *fmt, ...) _printf_(4, 5);

static int deny(struct policy_denial *d, const struct policy *p, struct policy_loc loc,
		const char *fmt, ...)
{
	va_list ap;

	if (loc.line)
		snprintf(d->rule, sizeof(d->rule), "%s:%u", loc.file, loc.line);
	else
		snprintf(d->rule, sizeof(d->rule), "%s (built-in default)",
			 p->n_files ? p->files[0] : "policy");
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
	/* Reasons quote what the framework sent: no escape sequence reaches a terminal. */
	for (char *c = d->reason; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	debug(DEBUG_POLICY, "policy", "denied by %s: %s", d->rule, d->reason);
	return -EACCES;
}

static const struct policy_loc builtin = {};

const struct policy_driver *policy_find_driver(const struct policy *p, const char *driver)
{
	for (size_t i = 0; i < p->n_drivers; i++)
		if (!p->drivers[i].is_glob && !strcmp(p->drivers[i].name, driver))
			return &p->drivers[i];
	/* FNM_PATHNAME: a "*" in "vendor/NAME" globs stays within one component. */
	for (size_t i = 0; i < p->n_drivers; i++)
		if (p->drivers[i].is_glob && !fnmatch(p->drivers[i].name, driver, FNM_PATHNAME))
			return &p->drivers[i];
	return NULL;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

static bool has_dotdot(const char *path)
{
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += n;
		s += *s == '/';
	}
	return false;
}

/*
 * Driver names become socket and spec file names under the plugin directories:
 * no control character, no "..", no leading '/'.
 */
static int check_driver(const struct policy *p, const char *driver, struct policy_denial *d,
			const struct policy_driver **ret)
{
	const struct policy_driver *drv;

	if (!driver || !*driver)
		return deny(d, p, builtin, "no driver name");
	if (strlen(driver) > p->max_name_length)
		return deny(d, p, p->max_name_length_loc, "driver name longer than %lu bytes",
			    p->max_name_length);
	if (has_control(driver) || driver[0] == '/' || strstr(driver, ".."))
		return deny(d, p, builtin,
			    "driver name '%s' holds a control character, '..' or a "
			    "leading '/'",
			    driver);
	drv = policy_find_driver(p, driver);
	if (!drv)
		return deny(d, p, builtin, "driver '%s' has no [driver %s] section", driver,
			    driver);
	*ret = drv;
	return 0;
}

int policy_check_caller(const struct policy *p, uid_t uid, const gid_t *gids, size_t n_gids,
			struct policy_denial *ret_denial)
{
	if (!p->callers_loc.line) {
		if (uid == 0)
			return 0;
		return deny(ret_denial, p, builtin,
			    "uid %u may not run dvmount: without 'callers' only root may", uid);
	}
	for (size_t i = 0; i < p->n_callers; i++) {
		const struct policy_id *id = &p->callers[i];

		if (!id->resolved)
			continue;
		if (!id->is_group && id->id == uid)
			return 0;
		if (id->is_group)
			for (size_t j = 0; j < n_gids; j++)
				if (gids[j] == id->id)
					return 0;
	}
	return deny(ret_denial, p, p->callers_loc, "uid %u (and its groups) is not in 'callers'",
		    uid);
}

static int check_option(const struct policy *p, const struct policy_driver *drv,
			const struct policy_option *o, struct policy_denial *d)
{
	unsigned long max =
	    drv->max_option_length_loc.line ? drv->max_option_length : p->max_option_length;
	struct policy_loc max_loc =
	    drv->max_option_length_loc.line ? drv->max_option_length_loc : p->max_option_length_loc;
	const char *forced = NULL;
	bool allowed = false;

	if (!o->key || !o->value)
		return deny(d, p, builtin, "option without a key or value");
	for (size_t i = 0; i < drv->n_deny_options; i++) {
		const struct policy_option *f = &drv->deny_options[i];

		if (strcmp(f->key, o->key))
			continue;
		if (!f->value || !fnmatch(f->value, o->value, 0))
			return deny(d, p, drv->deny_options_loc,
				    "option '%s=%s' is forbidden for driver '%s'", o->key, o->value,
				    drv->name);
	}
	for (size_t i = 0; i < drv->n_force_options; i++)
		if (!strcmp(drv->force_options[i].key, o->key))
			forced = drv->force_options[i].value;
	if (forced) {
		if (strcmp(forced, o->value))
			return deny(d, p, drv->force_options_loc,
				    "option '%s' is forced to '%s' for driver '%s', not '%s'",
				    o->key, forced, drv->name, o->value);
		return 0;
	}
	for (size_t i = 0; i < drv->options.n; i++)
		if (!strcmp(drv->options.v[i], o->key))
			allowed = true;
	if (!allowed)
		return deny(d, p, drv->options.loc.line ? drv->options.loc : drv->loc,
			    "option '%s' is not allowed for driver '%s'", o->key, drv->name);
	if (strlen(o->value) > max)
		return deny(d, p, max_loc, "option '%s' is longer than %lu bytes", o->key, max);
	for (size_t i = 0; i < drv->n_globs; i++)
		if (!strcmp(drv->globs[i].key, o->key) && fnmatch(drv->globs[i].glob, o->value, 0))
			return deny(d, p, drv->globs[i].loc,
				    "option '%s=%s' does not match '%s' for driver '%s'", o->key,
				    o->value, drv->globs[i].glob, drv->name);
	return 0;
}

/* The target rules, on a normalized absolute path inside the container. */
static int check_target(const struct policy *p, const char *t, struct policy_denial *d)
{
	if (!t || !policy_path_canonical(t))
		return deny(d, p, builtin, "target '%s' is not a normalized absolute path",
			    t ? t : "(none)");
	if (!strcmp(t, "/"))
		return deny(d, p, builtin, "target is the container's root '/'");
	for (size_t i = 0; i < p->deny_paths.n; i++)
		if (policy_path_under(t, p->deny_paths.v[i], true))
			return deny(d, p, p->deny_paths.loc,
				    "container path '%s' lies under the denied '%s'", t,
				    p->deny_paths.v[i]);
	if (!p->allow_paths.loc.line)
		return 0;
	for (size_t i = 0; i < p->allow_paths.n; i++)
		if (policy_path_under(t, p->allow_paths.v[i], true))
			return 0;
	return deny(d, p, p->allow_paths.loc,
		    "container path '%s' is not under any allow-container-paths entry", t);
}

static int check_container_path(const struct policy *p, const struct policy_volume_req *req,
				struct policy_denial *d)
{
	if (!req->container_path || !*req->container_path || has_control(req->container_path))
		return deny(d, p, builtin, "no container path, or one with a control character");
	/* "../../etc" relative to the sandbox climbs out of it: refuse, do not normalize. */
	if (has_dotdot(req->container_path))
		return deny(d, p, builtin, "container path '%s' holds '..'", req->container_path);
	return check_target(p, req->target, d);
}

int policy_check_resolved_target(const struct policy *p, const char *resolved,
				 struct policy_denial *ret_denial)
{
	if (resolved && has_control(resolved))
		return deny(ret_denial, p, builtin, "resolved target holds a control character");
	return check_target(p, resolved, ret_denial);
}

int policy_check_volume(const struct policy *p, const struct policy_volume_req *req,
			struct policy_denial *ret_denial)
{
	const struct policy_driver *drv = NULL;
	int r;

	r = check_driver(p, req->driver, ret_denial, &drv);
	if (r < 0)
		return r;
	if (!req->name || !*req->name || has_control(req->name) || !strcmp(req->name, ".") ||
	    !strcmp(req->name, ".."))
		return deny(ret_denial, p, builtin,
			    "volume name '%s' is empty, '.', '..' or holds "
			    "a control character",
			    req->name ? req->name : "");
	if (strlen(req->name) > p->max_name_length)
		return deny(ret_denial, p, p->max_name_length_loc,
			    "volume name longer than %lu bytes", p->max_name_length);
	if (req->n_volumes > p->max_volumes)
		return deny(ret_denial, p, p->max_volumes_loc,
			    "%zu volumes in one container, more than max-volumes = %lu",
			    req->n_volumes, p->max_volumes);
	if (req->n_options > p->max_options)
		return deny(ret_denial, p, p->max_options_loc,
			    "%zu options for volume '%s', more than max-options = %lu",
			    req->n_options, req->name, p->max_options);
	if ((req->mode != POLICY_MODE_RW && req->mode != POLICY_MODE_RO) ||
	    !(drv->modes & req->mode))
		return deny(ret_denial, p, drv->modes_loc.line ? drv->modes_loc : drv->loc,
			    "mode %s is not allowed for driver '%s'",
			    req->mode == POLICY_MODE_RO ? "RO" : "RW", drv->name);
	for (size_t i = 0; i < req->n_options; i++) {
		for (size_t j = 0; j < i; j++)
			if (req->options[i].key && req->options[j].key &&
			    !strcmp(req->options[i].key, req->options[j].key))
				return deny(ret_denial, p, builtin, "option '%s' given twice",
					    req->options[i].key);
		r = check_option(p, drv, &req->options[i], ret_denial);
		if (r < 0)
			return r;
	}
	return check_container_path(p, req, ret_denial);
}

/* Lexical normalization for the comparison: "//" and "." go, ".." was refused. */
static bool normalize(const char *path, char *buf, size_t size)
{
	size_t o = 0;

	for (const char *s = path; *s;) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (!n || (n == 1 && s[0] == '.')) {
			s += n;
			continue;
		}
		if (o + 1 + n + 1 > size)
			return false;
		buf[o++] = '/';
		memcpy(buf + o, s, n);
		o += n;
		s += n;
	}
	if (!o)
		buf[o++] = '/';
	buf[o] = '\0';
	return true;
}

/*
 * The nearest mount root at or above a normalized path, up components above
 * it, in place: "/a/b/c" up 1 gives "/a/b".
 */
static void strip_components(char *norm, unsigned up)
{
	for (; up > 0; up--) {
		char *slash = strrchr(norm, '/');

		if (!slash || slash == norm) {
			strcpy(norm, "/");
			return;
		}
		*slash = '\0';
	}
}

int policy_check_mountpoint(const struct policy *p, const char *driver,
			    const struct policy_mountpoint_facts *facts,
			    struct policy_denial *ret_denial)
{
	const struct policy_driver *drv = NULL;
	const char *path = facts->path;
	char norm[PATH_MAX], mount_root[PATH_MAX];
	int r;

	r = check_driver(p, driver, ret_denial, &drv);
	if (r < 0)
		return r;
	if (!path || path[0] != '/' || has_control(path) || !normalize(path, norm, sizeof(norm)))
		return deny(ret_denial, p, builtin,
			    "plugin '%s' answered mountpoint '%s', not an absolute path", driver,
			    path ? path : "");
	if (facts->has_dotdot || has_dotdot(path))
		return deny(ret_denial, p, builtin,
			    "plugin '%s' answered mountpoint '%s' with '..'", driver, path);
	if (facts->has_symlink)
		return deny(ret_denial, p, builtin,
			    "plugin '%s' answered mountpoint '%s' through a symlink", driver, path);
	if (!facts->exists || !facts->is_directory)
		return deny(ret_denial, p, builtin,
			    "plugin '%s' answered mountpoint '%s', not an existing directory",
			    driver, path);
	if (!drv->host_paths.n)
		return deny(ret_denial, p, drv->loc,
			    "driver '%s' has no host-paths: every mountpoint is denied", drv->name);
	for (size_t i = 0; i < drv->host_paths.n; i++) {
		/* Strictly below: the host directory itself holds every volume. */
		if (!policy_path_under(norm, drv->host_paths.v[i], false))
			continue;
		/*
		 * REX-Ray answers <dir>/<name>/data, a directory inside its
		 * mount (to hide lost+found): what counts is that the nearest
		 * mount root at or above the answer lies under host-paths too.
		 */
		snprintf(mount_root, sizeof(mount_root), "%s", norm);
		strip_components(mount_root, facts->mount_root_up);
		if (drv->require_mount_point && !facts->is_mount_point &&
		    !(facts->mount_root_up > 0 &&
		      policy_path_under(mount_root, drv->host_paths.v[i], false)))
			return deny(ret_denial, p, drv->require_mount_point_loc,
				    "plugin '%s' answered mountpoint '%s', not a mount point "
				    "nor inside one under its host-paths",
				    driver, path);
		return 0;
	}
	return deny(ret_denial, p, drv->host_paths.loc,
		    "plugin '%s' answered mountpoint '%s', not under its host-paths", driver, path);
}

int policy_check_socket(const struct policy *p, const char *driver, uid_t owner,
			struct policy_denial *ret_denial)
{
	const struct policy_driver *drv = NULL;
	int r;

	r = check_driver(p, driver, ret_denial, &drv);
	if (r < 0)
		return r;
	if (drv->socket_owner_any)
		return 0;
	if (!drv->socket_owner_loc.line) {
		if (owner == 0)
			return 0;
		return deny(ret_denial, p, builtin,
			    "the socket of plugin '%s' is owned by uid %u, not root", driver,
			    owner);
	}
	if (drv->socket_owner.resolved && drv->socket_owner.id == owner)
		return 0;
	return deny(ret_denial, p, drv->socket_owner_loc,
		    "the socket of plugin '%s' is owned by uid %u, not its socket-owner", driver,
		    owner);
}

size_t policy_forced_options(const struct policy *p, const char *driver,
			     const struct policy_option **ret)
{
	const struct policy_driver *drv = driver ? policy_find_driver(p, driver) : NULL;

	*ret = drv ? drv->force_options : NULL;
	return drv ? drv->n_force_options : 0;
}

bool policy_needs_mount_root(const struct policy *p, const char *driver)
{
	const struct policy_driver *drv = p && driver ? policy_find_driver(p, driver) : NULL;

	return !drv || drv->require_mount_point;
}

int policy_mount_attrs(const struct policy *p, const char *driver, enum policy_mode mode,
		       struct policy_mount_attrs *ret_attrs)
{
	const struct policy_driver *drv = driver ? policy_find_driver(p, driver) : NULL;
	unsigned flags;

	if (!drv)
		return -ENOENT;
	flags = drv->mount_flags_loc.line ? drv->mount_flags : p->mount_flags;
	*ret_attrs = (struct policy_mount_attrs){
		.readonly = mode != POLICY_MODE_RW || drv->force_readonly,
		.nosuid = flags & POLICY_MNT_NOSUID,
		.nodev = flags & POLICY_MNT_NODEV,
		.noexec = flags & POLICY_MNT_NOEXEC,
	};
	return 0;
}

unsigned policy_max_in_flight(const struct policy *p, const char *driver)
{
	const struct policy_driver *drv = p && driver ? policy_find_driver(p, driver) : NULL;

	return drv && drv->max_in_flight_loc.line ? (unsigned)drv->max_in_flight : 1;
}
