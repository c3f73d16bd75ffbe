/* SPDX-License-Identifier: MIT */
/*
 * Shared by the files of policy/ only (parse.c builds it, decide.c reads it, load.c feeds
 * files to parse.c): the in-memory form of a policy. Not for other directories.
 */
#ifndef DVMOUNT_POLICY_INTERNAL_H
#define DVMOUNT_POLICY_INTERNAL_H

#include <stdint.h>

#include "policy/policy.h"

/* Where a rule came from; line 0: not set in any file (a built-in default). */
struct policy_loc {
	const char *file; /* points into policy.files */
	unsigned line;
};

struct policy_list {
	char **v;
	size_t n;
	struct policy_loc loc;
};

/* A uid or gid from `callers` or `socket-owner`; a name is resolved by policy_load(). */
struct policy_id {
	bool is_group;
	bool resolved;
	uint32_t id;
	char *name; /* NULL when given as a number */
	unsigned column;
};

struct policy_option_glob {
	char *key;
	char *glob;
	struct policy_loc loc;
};

struct policy_driver {
	char *name;
	bool is_glob;
	struct policy_loc loc;

	struct policy_list host_paths;
	bool require_mount_point;
	struct policy_loc require_mount_point_loc;
	struct policy_list options;
	struct policy_option_glob *globs;
	size_t n_globs;
	struct policy_option *deny_options; /* value NULL: the key at all; else a glob */
	size_t n_deny_options;
	struct policy_loc deny_options_loc;
	struct policy_option *force_options;
	size_t n_force_options;
	struct policy_loc force_options_loc;
	unsigned modes;
	struct policy_loc modes_loc;
	bool force_readonly;
	struct policy_loc force_readonly_loc;
	bool socket_owner_any;
	struct policy_id socket_owner;
	struct policy_loc socket_owner_loc;
	unsigned mount_flags;
	struct policy_loc mount_flags_loc;
	unsigned long max_option_length;
	struct policy_loc max_option_length_loc;
	unsigned long max_in_flight; /* 0: not set (1) */
	struct policy_loc max_in_flight_loc;
};

enum {
	POLICY_MNT_NOSUID = 1 << 0,
	POLICY_MNT_NODEV = 1 << 1,
	POLICY_MNT_NOEXEC = 1 << 2,
};

/* Built-in defaults (man/dvmount-policy.5). */
#define POLICY_DEFAULT_MAX_VOLUMES 64
#define POLICY_DEFAULT_MAX_OPTIONS 16
#define POLICY_DEFAULT_MAX_NAME_LENGTH 255
#define POLICY_DEFAULT_MAX_OPTION_LENGTH 1024

struct policy {
	char **files;
	size_t n_files;

	struct policy_loc dvmount_loc;
	struct policy_id *callers;
	size_t n_callers;
	struct policy_loc callers_loc;
	unsigned long max_volumes, max_options, max_name_length, max_option_length;
	struct policy_loc max_volumes_loc, max_options_loc, max_name_length_loc,
	    max_option_length_loc;
	struct policy_list deny_paths;
	struct policy_list allow_paths;
	unsigned mount_flags;
	struct policy_loc mount_flags_loc;

	struct policy_driver *drivers;
	size_t n_drivers;
};

/* The diagnostics sink shared by parse.c and load.c. */
struct policy_diags {
	policy_report_fn report; /* NULL: keep only the first error */
	void *userdata;
	unsigned errors;
	struct policy_error *first; /* may be NULL */
};

void policy_diag(struct policy_diags *d, const char *file, unsigned line, unsigned column,
		 bool warning, const char *fmt, ...) _printf_(6, 7);

struct policy *policy_new(void);

/* Parse one file into P (sections accumulate across files). 0 or -ENOMEM. */
int policy_parse_into(struct policy *p, const char *name, const char *buf, size_t len,
		      struct policy_diags *d);

/* Warnings for rules that can never match, after every file was parsed. */
void policy_lint_rules(const struct policy *p, struct policy_diags *d);

/* The section for DRIVER: an exact name first, else the first matching glob. */
const struct policy_driver *policy_find_driver(const struct policy *p, const char *driver);

/* Lexical checks shared by the parser and the decisions. */
bool policy_glob_valid(const char *glob, size_t *ret_bad);
bool policy_path_canonical(const char *path);
bool policy_path_under(const char *path, const char *prefix, bool or_equal);

#endif
