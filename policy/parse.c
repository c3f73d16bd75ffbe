/* SPDX-License-Identifier: MIT */
/*
 * The policy grammar (man/dvmount-policy.5): INI-like lines, strict and
 * bounded. Every error names file:line:column and what was expected; parsing
 * goes on after an error so `policy check` reports all of them at once.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/policy-internal.h"

enum section_kind {
	SEC_NONE,
	SEC_SKIP, /* after a bad header: its keys are not checked */
	SEC_DVMOUNT,
	SEC_DRIVER,
};

struct parser {
	struct policy *p;
	const char *file;
	struct policy_diags *d;
	const char *line_start;
	unsigned line;
	unsigned key_col;
	enum section_kind sec;
	struct policy_driver *drv;
};

void policy_diag(struct policy_diags *d, const char *file, unsigned line, unsigned column,
		 bool warning, const char *fmt, ...)
{
	struct policy_diag diag = {
		.file = file, .line = line, .column = column, .warning = warning
	};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag.message = msg;
	if (!warning) {
		d->errors++;
		if (d->errors == 1 && d->first) {
			snprintf(d->first->file, sizeof(d->first->file), "%s", file);
			d->first->line = line;
			d->first->column = column;
			snprintf(d->first->message, sizeof(d->first->message), "%s", msg);
		}
	}
	if (d->report)
		d->report(&diag, d->userdata);
}

#define perr(ps, col, ...) policy_diag((ps)->d, (ps)->file, (ps)->line, (col), false, __VA_ARGS__)

static unsigned col_of(const struct parser *ps, const char *q)
{
	return (unsigned)(q - ps->line_start) + 1;
}

static struct policy_loc here(const struct parser *ps)
{
	return (struct policy_loc){ .file = ps->file, .line = ps->line };
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void list_clear(struct policy_list *l)
{
	strv_free(l->v, l->n);
	*l = (struct policy_list){};
}

static void options_free(struct policy_option *o, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free((char *)o[i].key);
		free((char *)o[i].value);
	}
	free(o);
}

static void driver_clear(struct policy_driver *drv)
{
	free(drv->name);
	list_clear(&drv->host_paths);
	list_clear(&drv->options);
	for (size_t i = 0; i < drv->n_globs; i++) {
		free(drv->globs[i].key);
		free(drv->globs[i].glob);
	}
	free(drv->globs);
	options_free(drv->deny_options, drv->n_deny_options);
	options_free(drv->force_options, drv->n_force_options);
	free(drv->socket_owner.name);
}

struct policy *policy_free(struct policy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_drivers; i++)
		driver_clear(&p->drivers[i]);
	free(p->drivers);
	for (size_t i = 0; i < p->n_callers; i++)
		free(p->callers[i].name);
	free(p->callers);
	list_clear(&p->deny_paths);
	list_clear(&p->allow_paths);
	strv_free(p->files, p->n_files);
	free(p);
	return NULL;
}

static int strv_push(char ***v, size_t *n, const char *s)
{
	char **nv;
	char *c;

	c = strdup(s);
	if (!c)
		return -ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof(**v));
	if (!nv) {
		free(c);
		return -ENOMEM;
	}
	nv[(*n)++] = c;
	*v = nv;
	return 0;
}

struct policy *policy_new(void)
{
	static const char *const deny[] = { "/proc", "/sys", "/dev" };
	struct policy *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->max_volumes = POLICY_DEFAULT_MAX_VOLUMES;
	p->max_options = POLICY_DEFAULT_MAX_OPTIONS;
	p->max_name_length = POLICY_DEFAULT_MAX_NAME_LENGTH;
	p->max_option_length = POLICY_DEFAULT_MAX_OPTION_LENGTH;
	p->mount_flags = POLICY_MNT_NOSUID | POLICY_MNT_NODEV;
	for (size_t i = 0; i < ARRAY_SIZE(deny); i++)
		if (strv_push(&p->deny_paths.v, &p->deny_paths.n, deny[i]) < 0)
			return policy_free(p);
	return p;
}

/* ---- lexical checks ---- */

bool policy_glob_valid(const char *glob, size_t *ret_bad)
{
	const char *s = glob;

	if (!*s) {
		*ret_bad = 0;
		return false;
	}
	while (*s) {
		if (*s == '\\') {
			if (!s[1]) {
				*ret_bad = (size_t)(s - glob);
				return false;
			}
			s += 2;
			continue;
		}
		if (*s == '[') {
			const char *open = s++;

			if (*s == '!' || *s == '^')
				s++;
			if (*s == ']') /* a leading ']' is a member, as fnmatch(3) says */
				s++;
			while (*s && *s != ']')
				s++;
			if (!*s) {
				*ret_bad = (size_t)(open - glob);
				return false;
			}
		}
		s++;
	}
	return true;
}

/* Absolute, no empty, "." or ".." component, no trailing slash (but "/"). */
bool policy_path_canonical(const char *path)
{
	const char *s = path;

	if (!path || path[0] != '/' || strlen(path) >= PATH_MAX)
		return false;
	if (!path[1])
		return true;
	while (*s == '/') {
		const char *c = s + 1;
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		s = c + n;
	}
	return true;
}

/* Component-wise prefix: "/proc" covers "/proc/sys", not "/procfs". */
bool policy_path_under(const char *path, const char *prefix, bool or_equal)
{
	size_t n = strlen(prefix);

	if (!strcmp(prefix, "/"))
		return path[0] == '/' && (or_equal || path[1]);
	if (strncmp(path, prefix, n))
		return false;
	if (!path[n])
		return or_equal;
	return path[n] == '/';
}

static bool is_key_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

static bool is_option_key(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 128)
		return false;
	for (; *s; s++)
		if (!is_key_char(*s))
			return false;
	return true;
}

/* Next space-separated token of a value, NUL-terminated in place. */
static char *next_token(char **cursor)
{
	char *s = *cursor, *t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s) {
		*cursor = s;
		return NULL;
	}
	t = s;
	while (*s && *s != ' ' && *s != '\t')
		s++;
	if (*s)
		*s++ = '\0';
	*cursor = s;
	return t;
}

/* ---- values ---- */

/* Mark a key as set; a second one in the same section is an error. */
static bool claim(struct parser *ps, struct policy_loc *loc, const char *key)
{
	if (loc->line) {
		perr(ps, ps->key_col, "duplicate key '%s' (first set at %s:%u)", key, loc->file,
		     loc->line);
		return false;
	}
	*loc = here(ps);
	return true;
}

static int parse_uint(struct parser *ps, const char *key, char *value, unsigned long lo,
		      unsigned long hi, unsigned long *ret, struct policy_loc *loc)
{
	unsigned long v = 0;
	const char *s;

	for (s = value; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > hi)
			break;
		v = v * 10 + (unsigned long)(*s - '0');
	}
	if (!*value || *s || v < lo || v > hi) {
		perr(ps, col_of(ps, value), "expected a number from %lu to %lu for '%s'", lo, hi,
		     key);
		return 0;
	}
	if (claim(ps, loc, key))
		*ret = v;
	return 0;
}

static int parse_bool(struct parser *ps, const char *key, char *value, bool *ret,
		      struct policy_loc *loc)
{
	bool v;

	if (!strcmp(value, "yes") || !strcmp(value, "true"))
		v = true;
	else if (!strcmp(value, "no") || !strcmp(value, "false"))
		v = false;
	else {
		perr(ps, col_of(ps, value), "expected yes or no for '%s'", key);
		return 0;
	}
	if (claim(ps, loc, key))
		*ret = v;
	return 0;
}

/* A list of canonical absolute paths; ALLOW_NONE: "none" alone means empty. */
static int parse_paths(struct parser *ps, const char *key, char *value, struct policy_list *l,
		       bool allow_none)
{
	struct policy_list nl = {};
	char *cur = value, *tok;
	bool bad = false;
	int r = 0;

	if (l->loc.line) {
		claim(ps, &l->loc, key);
		return 0;
	}
	if (allow_none && !strcmp(value, "none"))
		goto done;
	while ((tok = next_token(&cur))) {
		if (!policy_path_canonical(tok)) {
			perr(ps, col_of(ps, tok),
			     "expected an absolute path without '.', '..', '//' or a trailing '/' "
			     "for '%s', got '%s'",
			     key, tok);
			bad = true;
			continue;
		}
		if (nl.n >= POLICY_MAX_LIST) {
			perr(ps, col_of(ps, tok), "more than %d entries for '%s'", POLICY_MAX_LIST,
			     key);
			bad = true;
			break;
		}
		r = strv_push(&nl.v, &nl.n, tok);
		if (r < 0)
			break;
	}
done:
	if (r < 0 || bad) {
		list_clear(&nl);
		/* Still mark it set: a later duplicate is reported, not a cascade. */
		l->loc = here(ps);
		return r;
	}
	list_clear(l);
	*l = nl;
	l->loc = here(ps);
	return 0;
}

static bool parse_id_token(struct parser *ps, const char *tok, bool users_only,
			   struct policy_id *ret)
{
	struct policy_id id = { .column = col_of(ps, tok) };
	const char *s = tok;
	unsigned long long v = 0;
	size_t n;

	if (!strncmp(s, "uid:", 4)) {
		s += 4;
	} else if (!strncmp(s, "gid:", 4)) {
		if (users_only)
			goto bad;
		id.is_group = true;
		s += 4;
	}
	n = strlen(s);
	if (!n || n > 32)
		goto bad;
	if (strspn(s, "0123456789") == n) {
		if (n > 10)
			goto bad;
		v = strtoull(s, NULL, 10);
		if (v >= UINT32_MAX) /* (uid_t)-1 means "no change" to the kernel */
			goto bad;
		id.id = (uint32_t)v;
		id.resolved = true;
	} else {
		for (size_t i = 0; i < n; i++)
			if (!is_key_char(s[i]) && !(s[i] == '$' && i == n - 1))
				goto bad;
		id.name = strdup(s);
		if (!id.name)
			return false;
	}
	*ret = id;
	return true;
bad:
	perr(ps, col_of(ps, tok), "expected %s, got '%s'",
	     users_only ? "uid:N, uid:NAME, NAME or any"
			: "uid:N, gid:N, uid:NAME, gid:NAME or NAME",
	     tok);
	ret->column = 0;
	return true;
}

static int parse_callers(struct parser *ps, const char *key, char *value)
{
	struct policy *p = ps->p;
	char *cur = value, *tok;

	if (!claim(ps, &p->callers_loc, key))
		return 0;
	while ((tok = next_token(&cur))) {
		struct policy_id id = {};
		struct policy_id *n;

		if (!parse_id_token(ps, tok, false, &id))
			return -ENOMEM;
		if (!id.column)
			continue;
		if (p->n_callers >= POLICY_MAX_LIST) {
			free(id.name);
			perr(ps, col_of(ps, tok), "more than %d entries for '%s'", POLICY_MAX_LIST,
			     key);
			break;
		}
		n = realloc(p->callers, (p->n_callers + 1) * sizeof(*n));
		if (!n) {
			free(id.name);
			return -ENOMEM;
		}
		n[p->n_callers++] = id;
		p->callers = n;
	}
	return 0;
}

static int parse_mount_options(struct parser *ps, const char *key, char *value, unsigned *ret,
			       struct policy_loc *loc)
{
	static const struct {
		const char *name;
		unsigned flag;
	} flags[] = {
		{ "nosuid", POLICY_MNT_NOSUID },
		{ "nodev", POLICY_MNT_NODEV },
		{ "noexec", POLICY_MNT_NOEXEC },
	};
	char *cur = value, *tok;
	unsigned v = 0;
	bool bad = false;

	if (!claim(ps, loc, key))
		return 0;
	if (!strcmp(value, "none")) {
		*ret = 0;
		return 0;
	}
	while ((tok = next_token(&cur))) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(flags); i++)
			if (!strcmp(tok, flags[i].name))
				break;
		if (i == ARRAY_SIZE(flags)) {
			perr(ps, col_of(ps, tok),
			     "expected nosuid, nodev, noexec or none, got '%s'", tok);
			bad = true;
			continue;
		}
		v |= flags[i].flag;
	}
	if (!bad)
		*ret = v;
	return 0;
}

/* ---- [dvmount] ---- */

static int k_callers(struct parser *ps, const char *key, char *value)
{
	return parse_callers(ps, key, value);
}

static int k_max_volumes(struct parser *ps, const char *key, char *value)
{
	return parse_uint(ps, key, value, 0, 4096, &ps->p->max_volumes, &ps->p->max_volumes_loc);
}

static int k_max_options(struct parser *ps, const char *key, char *value)
{
	return parse_uint(ps, key, value, 0, 256, &ps->p->max_options, &ps->p->max_options_loc);
}

static int k_max_name_length(struct parser *ps, const char *key, char *value)
{
	return parse_uint(ps, key, value, 1, 4096, &ps->p->max_name_length,
			  &ps->p->max_name_length_loc);
}

static int k_max_option_length(struct parser *ps, const char *key, char *value)
{
	if (ps->sec == SEC_DRIVER)
		return parse_uint(ps, key, value, 0, 65536, &ps->drv->max_option_length,
				  &ps->drv->max_option_length_loc);
	return parse_uint(ps, key, value, 0, 65536, &ps->p->max_option_length,
			  &ps->p->max_option_length_loc);
}

static int k_deny_paths(struct parser *ps, const char *key, char *value)
{
	return parse_paths(ps, key, value, &ps->p->deny_paths, true);
}

static int k_allow_paths(struct parser *ps, const char *key, char *value)
{
	return parse_paths(ps, key, value, &ps->p->allow_paths, false);
}

static int k_mount_options(struct parser *ps, const char *key, char *value)
{
	if (ps->sec == SEC_DRIVER)
		return parse_mount_options(ps, key, value, &ps->drv->mount_flags,
					   &ps->drv->mount_flags_loc);
	return parse_mount_options(ps, key, value, &ps->p->mount_flags, &ps->p->mount_flags_loc);
}

/* ---- [driver NAME] ---- */

static int k_host_paths(struct parser *ps, const char *key, char *value)
{
	return parse_paths(ps, key, value, &ps->drv->host_paths, false);
}

static int k_require_mount_point(struct parser *ps, const char *key, char *value)
{
	return parse_bool(ps, key, value, &ps->drv->require_mount_point,
			  &ps->drv->require_mount_point_loc);
}

static int k_options(struct parser *ps, const char *key, char *value)
{
	struct policy_list *l = &ps->drv->options;
	char *cur = value, *tok;
	int r;

	if (!claim(ps, &l->loc, key))
		return 0;
	while ((tok = next_token(&cur))) {
		if (!is_option_key(tok)) {
			perr(ps, col_of(ps, tok),
			     "expected an option key of letters, digits, '.', '_' or '-', got '%s'",
			     tok);
			continue;
		}
		if (l->n >= POLICY_MAX_LIST) {
			perr(ps, col_of(ps, tok), "more than %d entries for '%s'", POLICY_MAX_LIST,
			     key);
			break;
		}
		r = strv_push(&l->v, &l->n, tok);
		if (r < 0)
			return r;
	}
	return 0;
}

/* deny-options: KEY or KEY=GLOB; force-options: KEY=VALUE. */
static int parse_option_pairs(struct parser *ps, const char *key, char *value, bool force,
			      struct policy_option **v, size_t *n, struct policy_loc *loc)
{
	char *cur = value, *tok;

	if (!claim(ps, loc, key))
		return 0;
	while ((tok = next_token(&cur))) {
		char *eq = strchr(tok, '=');
		char *k, *val = NULL;
		struct policy_option *nv;
		size_t bad;

		if (eq)
			*eq = '\0';
		if (!is_option_key(tok) || (force && !eq)) {
			perr(ps, col_of(ps, tok), "expected %s for '%s'",
			     force ? "KEY=VALUE" : "KEY or KEY=GLOB", key);
			continue;
		}
		if (eq && !force && !policy_glob_valid(eq + 1, &bad)) {
			perr(ps, col_of(ps, eq + 1) + (unsigned)bad, "bad glob '%s' for '%s'",
			     eq + 1, key);
			continue;
		}
		if (*n >= POLICY_MAX_LIST) {
			perr(ps, col_of(ps, tok), "more than %d entries for '%s'", POLICY_MAX_LIST,
			     key);
			break;
		}
		k = strdup(tok);
		if (eq)
			val = strdup(eq + 1);
		nv = k && (!eq || val) ? realloc(*v, (*n + 1) * sizeof(**v)) : NULL;
		if (!nv) {
			free(k);
			free(val);
			return -ENOMEM;
		}
		nv[(*n)++] = (struct policy_option){ .key = k, .value = val };
		*v = nv;
	}
	return 0;
}

static int k_deny_options(struct parser *ps, const char *key, char *value)
{
	struct policy_driver *drv = ps->drv;

	return parse_option_pairs(ps, key, value, false, &drv->deny_options, &drv->n_deny_options,
				  &drv->deny_options_loc);
}

static int k_force_options(struct parser *ps, const char *key, char *value)
{
	struct policy_driver *drv = ps->drv;

	return parse_option_pairs(ps, key, value, true, &drv->force_options, &drv->n_force_options,
				  &drv->force_options_loc);
}

static int k_modes(struct parser *ps, const char *key, char *value)
{
	char *cur = value, *tok;
	unsigned v = 0;
	bool bad = false;

	if (!claim(ps, &ps->drv->modes_loc, key))
		return 0;
	while ((tok = next_token(&cur))) {
		if (!strcasecmp(tok, "RW"))
			v |= POLICY_MODE_RW;
		else if (!strcasecmp(tok, "RO"))
			v |= POLICY_MODE_RO;
		else {
			perr(ps, col_of(ps, tok), "expected RW or RO, got '%s'", tok);
			bad = true;
		}
	}
	if (!bad)
		ps->drv->modes = v;
	return 0;
}

static int k_force_readonly(struct parser *ps, const char *key, char *value)
{
	return parse_bool(ps, key, value, &ps->drv->force_readonly, &ps->drv->force_readonly_loc);
}

static int k_socket_owner(struct parser *ps, const char *key, char *value)
{
	struct policy_driver *drv = ps->drv;
	struct policy_id id = {};
	char *cur = value, *tok;

	if (!claim(ps, &drv->socket_owner_loc, key))
		return 0;
	tok = next_token(&cur);
	if (next_token(&cur)) {
		perr(ps, col_of(ps, value), "expected one owner for '%s'", key);
		return 0;
	}
	if (!strcmp(tok, "any")) {
		drv->socket_owner_any = true;
		return 0;
	}
	if (!parse_id_token(ps, tok, true, &id))
		return -ENOMEM;
	if (id.column)
		drv->socket_owner = id;
	return 0;
}

static int k_max_in_flight(struct parser *ps, const char *key, char *value)
{
	return parse_uint(ps, key, value, 1, POLICY_MAX_IN_FLIGHT, &ps->drv->max_in_flight,
			  &ps->drv->max_in_flight_loc);
}

static int k_option_glob(struct parser *ps, const char *key, char *value)
{
	struct policy_driver *drv = ps->drv;
	const char *okey = key + strlen("option.");
	struct policy_option_glob *n;
	size_t bad;
	char *k, *g;

	if (!is_option_key(okey)) {
		perr(ps, ps->key_col,
		     "expected option.KEY with a KEY of letters, digits, '.', '_' "
		     "or '-', got '%s'",
		     key);
		return 0;
	}
	for (size_t i = 0; i < drv->n_globs; i++)
		if (!strcmp(drv->globs[i].key, okey)) {
			perr(ps, ps->key_col, "duplicate key '%s' (first set at %s:%u)", key,
			     drv->globs[i].loc.file, drv->globs[i].loc.line);
			return 0;
		}
	if (!policy_glob_valid(value, &bad)) {
		perr(ps, col_of(ps, value) + (unsigned)bad,
		     "bad glob '%s' for '%s': expected a closed '[...]' and no trailing '\\'",
		     value, key);
		return 0;
	}
	if (drv->n_globs >= POLICY_MAX_LIST) {
		perr(ps, ps->key_col, "more than %d option.KEY rules", POLICY_MAX_LIST);
		return 0;
	}
	k = strdup(okey);
	g = strdup(value);
	n = k && g ? realloc(drv->globs, (drv->n_globs + 1) * sizeof(*n)) : NULL;
	if (!n) {
		free(k);
		free(g);
		return -ENOMEM;
	}
	n[drv->n_globs++] = (struct policy_option_glob){ .key = k, .glob = g, .loc = here(ps) };
	drv->globs = n;
	return 0;
}

typedef int (*key_fn)(struct parser *ps, const char *key, char *value);

static const struct key_def {
	const char *name;
	key_fn fn;
} dvmount_keys[] = {
	{ "callers", k_callers },
	{ "max-volumes", k_max_volumes },
	{ "max-options", k_max_options },
	{ "max-name-length", k_max_name_length },
	{ "max-option-length", k_max_option_length },
	{ "deny-container-paths", k_deny_paths },
	{ "allow-container-paths", k_allow_paths },
	{ "mount-options", k_mount_options },
}, driver_keys[] = {
	{ "host-paths", k_host_paths },
	{ "require-mount-point", k_require_mount_point },
	{ "options", k_options },
	{ "option.KEY", k_option_glob },
	{ "deny-options", k_deny_options },
	{ "force-options", k_force_options },
	{ "max-option-length", k_max_option_length },
	{ "modes", k_modes },
	{ "force-readonly", k_force_readonly },
	{ "socket-owner", k_socket_owner },
	{ "mount-options", k_mount_options },
	{ "max-in-flight", k_max_in_flight },
};

/* ---- lines ---- */

static int parse_section(struct parser *ps, char *s)
{
	struct policy *p = ps->p;
	size_t n = strlen(s);
	char *inner, *cur, *kind, *name, *extra;
	struct policy_driver *drv;
	size_t bad;

	ps->sec = SEC_SKIP;
	if (s[n - 1] != ']') {
		perr(ps, col_of(ps, s + n), "expected ']' to close the section header");
		return 0;
	}
	s[n - 1] = '\0';
	inner = cur = s + 1;
	kind = next_token(&cur);
	name = kind ? next_token(&cur) : NULL;
	if (kind && !strcmp(kind, "dvmount") && !name) {
		if (p->dvmount_loc.line) {
			perr(ps, col_of(ps, s), "duplicate section [dvmount] (first at %s:%u)",
			     p->dvmount_loc.file, p->dvmount_loc.line);
			return 0;
		}
		p->dvmount_loc = here(ps);
		ps->sec = SEC_DVMOUNT;
		return 0;
	}
	if (!kind || strcmp(kind, "driver") || !name) {
		perr(ps, col_of(ps, kind ? kind : inner),
		     "expected [dvmount] or [driver NAME] as a section header");
		return 0;
	}
	extra = next_token(&cur);
	if (extra) {
		perr(ps, col_of(ps, extra), "expected one driver name in [driver NAME]");
		return 0;
	}
	if (strlen(name) > 255) {
		perr(ps, col_of(ps, name), "driver name longer than 255 bytes");
		return 0;
	}
	if (!policy_glob_valid(name, &bad)) {
		perr(ps, col_of(ps, name) + (unsigned)bad,
		     "bad glob in driver name '%s': expected a closed '[...]' and no trailing '\\'",
		     name);
		return 0;
	}
	for (size_t i = 0; i < p->n_drivers; i++)
		if (!strcmp(p->drivers[i].name, name)) {
			perr(ps, col_of(ps, s), "duplicate section [driver %s] (first at %s:%u)",
			     name, p->drivers[i].loc.file, p->drivers[i].loc.line);
			return 0;
		}
	if (p->n_drivers >= POLICY_MAX_DRIVERS) {
		perr(ps, col_of(ps, s), "more than %d driver sections", POLICY_MAX_DRIVERS);
		return 0;
	}
	drv = realloc(p->drivers, (p->n_drivers + 1) * sizeof(*drv));
	if (!drv)
		return -ENOMEM;
	p->drivers = drv;
	drv = &p->drivers[p->n_drivers];
	*drv = (struct policy_driver){
		.name = strdup(name),
		.is_glob = strpbrk(name, "*?[") != NULL,
		.loc = here(ps),
		.modes = POLICY_MODE_RW | POLICY_MODE_RO,
	};
	if (!drv->name)
		return -ENOMEM;
	p->n_drivers++;
	ps->sec = SEC_DRIVER;
	ps->drv = drv;
	return 0;
}

static int parse_key(struct parser *ps, char *s)
{
	const struct key_def *keys;
	size_t n_keys, klen = 0;
	char *value, *q;
	char expected[400];
	size_t off = 0;

	while (is_key_char(s[klen]))
		klen++;
	if (!klen) {
		perr(ps, col_of(ps, s), "expected a key or a [section] header");
		return 0;
	}
	ps->key_col = col_of(ps, s);
	q = s + klen;
	while (*q == ' ' || *q == '\t')
		q++;
	if (*q != '=') {
		perr(ps, col_of(ps, q), "expected '=' after key '%.*s'", (int)klen, s);
		return 0;
	}
	value = q + 1;
	while (*value == ' ' || *value == '\t')
		value++;
	s[klen] = '\0';
	if (!*value) {
		perr(ps, col_of(ps, value), "expected a value after '%s ='", s);
		return 0;
	}
	switch (ps->sec) {
	case SEC_NONE:
		perr(ps, ps->key_col,
		     "key '%s' outside a section: expected [dvmount] or "
		     "[driver NAME] first",
		     s);
		return 0;
	case SEC_SKIP:
		return 0;
	case SEC_DVMOUNT:
		keys = dvmount_keys;
		n_keys = ARRAY_SIZE(dvmount_keys);
		break;
	case SEC_DRIVER:
	default:
		keys = driver_keys;
		n_keys = ARRAY_SIZE(driver_keys);
		if (!strncmp(s, "option.", 7))
			return k_option_glob(ps, s, value);
		break;
	}
	for (size_t i = 0; i < n_keys; i++)
		if (!strcmp(keys[i].name, s))
			return keys[i].fn(ps, s, value);
	for (size_t i = 0; i < n_keys && off < sizeof(expected); i++)
		off += (size_t)snprintf(expected + off, sizeof(expected) - off, "%s%s",
					i ? ", " : "", keys[i].name);
	perr(ps, ps->key_col, "unknown key '%s' in [%s] (expected one of: %s)", s,
	     ps->sec == SEC_DVMOUNT ? "dvmount" : "driver NAME", expected);
	return 0;
}

static int parse_line(struct parser *ps, char *line, size_t n)
{
	char *s = line;

	/* '#' starts a comment at the start of a line or after a blank. */
	for (size_t i = 0; i < n; i++)
		if (line[i] == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
			line[i] = '\0';
			n = i;
			break;
		}
	while (n && (line[n - 1] == ' ' || line[n - 1] == '\t'))
		line[--n] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s)
		return 0;
	if (*s == '[')
		return parse_section(ps, s);
	return parse_key(ps, s);
}

int policy_parse_into(struct policy *p, const char *name, const char *buf, size_t len,
		      struct policy_diags *d)
{
	struct parser ps = { .p = p, .d = d, .sec = SEC_NONE };
	char line[POLICY_MAX_LINE + 1];
	size_t pos = 0;
	int r;

	r = strv_push(&p->files, &p->n_files, name);
	if (r < 0)
		return r;
	ps.file = p->files[p->n_files - 1];
	ps.line_start = line;
	if (len > POLICY_MAX_FILE_SIZE) {
		policy_diag(d, ps.file, 0, 0, false, "file larger than %d bytes",
			    POLICY_MAX_FILE_SIZE);
		return 0;
	}
	while (pos < len) {
		const char *start = buf + pos;
		const char *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		size_t i;

		pos += n + (nl != NULL);
		ps.line++;
		if (n > POLICY_MAX_LINE) {
			perr(&ps, POLICY_MAX_LINE + 1, "line longer than %d bytes",
			     POLICY_MAX_LINE);
			continue;
		}
		for (i = 0; i < n; i++) {
			unsigned char c = (unsigned char)start[i];

			if (c == '\0' || c == 0x7f || (c < 0x20 && c != '\t'))
				break;
		}
		if (i < n) {
			unsigned char c = (unsigned char)start[i];

			if (c == '\0')
				perr(&ps, (unsigned)i + 1, "NUL byte: expected text");
			else
				perr(&ps, (unsigned)i + 1,
				     "control character 0x%02x: expected text", c);
			continue;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		r = parse_line(&ps, line, n);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- rules that can never match ---- */

#define pwarn(d, loc, col, ...) policy_diag((d), (loc).file, (loc).line, (col), true, __VA_ARGS__)

static bool has_key(const struct policy_driver *drv, const char *key)
{
	for (size_t i = 0; i < drv->options.n; i++)
		if (!strcmp(drv->options.v[i], key))
			return true;
	for (size_t i = 0; i < drv->n_force_options; i++)
		if (!strcmp(drv->force_options[i].key, key))
			return true;
	return false;
}

void policy_lint_rules(const struct policy *p, struct policy_diags *d)
{
	if (p->max_volumes_loc.line && p->max_volumes == 0)
		pwarn(d, p->max_volumes_loc, 1, "max-volumes = 0: every volume is denied");
	for (size_t i = 0; i < p->allow_paths.n; i++)
		for (size_t j = 0; j < p->deny_paths.n; j++)
			if (policy_path_under(p->allow_paths.v[i], p->deny_paths.v[j], true))
				pwarn(d, p->allow_paths.loc, 1,
				      "allow-container-paths entry '%s' lies under the denied "
				      "'%s': it never matches",
				      p->allow_paths.v[i], p->deny_paths.v[j]);
	for (size_t i = 0; i < p->deny_paths.n; i++)
		if (!strcmp(p->deny_paths.v[i], "/"))
			pwarn(d, p->deny_paths.loc, 1,
			      "deny-container-paths holds '/': every container path is denied");
	if (!p->n_drivers && p->n_files)
		policy_diag(d, p->files[0], 0, 0, true,
			    "no [driver NAME] section: every volume "
			    "is denied");

	for (size_t i = 0; i < p->n_drivers; i++) {
		const struct policy_driver *drv = &p->drivers[i];

		if (!drv->host_paths.n)
			pwarn(d, drv->loc, 1,
			      "driver '%s' has no host-paths: every mountpoint is "
			      "denied",
			      drv->name);
		if (!drv->modes)
			pwarn(d, drv->modes_loc, 1,
			      "driver '%s' allows no mode: every volume is "
			      "denied",
			      drv->name);
		if (!drv->is_glob && (strstr(drv->name, "..") || drv->name[0] == '/'))
			pwarn(d, drv->loc, 1,
			      "driver name '%s' is never accepted (no '..' or "
			      "leading '/'): this section never matches",
			      drv->name);
		for (size_t j = 0; j < drv->n_globs; j++)
			if (!has_key(drv, drv->globs[j].key))
				pwarn(d, drv->globs[j].loc, 1,
				      "option.%s never applies: '%s' is not in 'options'",
				      drv->globs[j].key, drv->globs[j].key);
		for (size_t j = 0; j < drv->n_deny_options; j++)
			if (!has_key(drv, drv->deny_options[j].key))
				pwarn(d, drv->deny_options_loc, 1,
				      "deny-options '%s' never matches: '%s' is not allowed anyway",
				      drv->deny_options[j].key, drv->deny_options[j].key);
		for (size_t j = 0; j < p->n_drivers; j++) {
			const struct policy_driver *o = &p->drivers[j];

			/* An exact section always wins over a glob, whatever the order. */
			if (j < i && o->is_glob && drv->is_glob && !strcmp(o->name, "*"))
				pwarn(d, drv->loc, 1,
				      "[driver %s] never matches: [driver *] at "
				      "%s:%u comes first",
				      drv->name, o->loc.file, o->loc.line);
		}
	}
}
