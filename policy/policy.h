/* SPDX-License-Identifier: MIT */
/*
 * The policy: which callers, drivers, options, modes, host and container paths
 * dvmount allows (man/dvmount-policy.5). Default deny: a request is allowed only
 * if every rule allows it, and a driver without a [driver NAME] section gets
 * nothing.
 *
 * policy_load() is the only function that does I/O (it reads the files, checks
 * their owner and mode, and resolves user and group names). Every decision is a
 * pure function of the loaded policy and facts the caller gathered: they return
 * 0 when allowed and -EACCES with a struct policy_denial naming the rule
 * ("file:line") when denied.
 *
 * How prepare uses it:
 *
 *	_cleanup_(policy_freep) struct policy *p = NULL;
 *	struct policy_error err;
 *	struct policy_denial d;
 *
 *	r = policy_load(g->policy_file, NULL, &p, &err);     error: exit 3 if -ENOENT, else 1
 *	r = policy_check_caller(p, getuid(), gids, n, &d);   gids: getgid() + getgroups()
 *	for each volume:
 *		r = policy_check_volume(p, &req, &d);        before any plugin call
 *		r = policy_check_resolved_target(p, path, &d); once the target resolved
 *		r = policy_check_socket(p, driver, st.st_uid, &d);
 *		append policy_forced_options() to the Mount request options
 *	after Mount answered:
 *		ns_mountpoint_inspect(answer, &facts, &fd);     ns/mountpoint.h
 *		r = policy_check_mountpoint(p, driver, &facts, &d);
 *		policy_mount_attrs(p, driver, mode, &attrs); for mount_setattr
 *	a denial: the command's error carrier, kind denied (exit 3), with
 *		"denied by %s: %s", d.rule, d.reason       helper/error.h
 */
#ifndef DVMOUNT_POLICY_POLICY_H
#define DVMOUNT_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/macro.h"

/* Bounds on what a policy file may hold: anything larger is an error. */
#define POLICY_MAX_FILE_SIZE (1024 * 1024)
#define POLICY_MAX_LINE 4096
#define POLICY_MAX_DROPINS 256
#define POLICY_MAX_DRIVERS 1024
#define POLICY_MAX_LIST 256 /* items of one list value */

struct policy;

/* Where a parse or load failed; line and column are 1-based, 0 when not known. */
struct policy_error {
	char file[512];
	unsigned line;
	unsigned column;
	char message[512];
};

/* One diagnostic of policy_lint(), valid only during the callback. */
struct policy_diag {
	const char *file;
	unsigned line; /* 0: about the whole file */
	unsigned column;
	bool warning;
	const char *message;
};
typedef void (*policy_report_fn)(const struct policy_diag *d, void *userdata);

/* Why a decision denied: rule is "file:line", or "file (built-in default)". */
struct policy_denial {
	char rule[560];
	char reason[512];
};

enum policy_mode {
	POLICY_MODE_RW = 1 << 0,
	POLICY_MODE_RO = 1 << 1,
};

struct policy_option {
	const char *key;
	const char *value;
};

/* One volume as the containerizer asked for it, before any plugin call. */
struct policy_volume_req {
	const char *driver;
	const char *name;
	const struct policy_option *options;
	size_t n_options;
	enum policy_mode mode;
	const char *container_path; /* as given: may be relative to the sandbox */
	const char *target;	    /* normalized absolute path inside the container */
	size_t n_volumes;	    /* volumes of this container, this one included */
};

/*
 * What ns/mountpoint.c found out about a plugin's Mountpoint answer,
 * resolved from "/" without following any symlink.
 */
struct policy_mountpoint_facts {
	const char *path;    /* as the plugin answered it */
	bool has_symlink;    /* some component is a symlink */
	bool has_dotdot;     /* some component is ".." */
	bool exists;	     /* resolution reached an existing file */
	bool is_directory;   /* ... and it is a directory */
	bool is_mount_point; /* ... and the root of a mount */
	/*
	 * Components between path and the nearest mount root at or above it:
	 * 0 when path is one (or unknown: then only is_mount_point counts); REX-Ray answers
	 * <dir>/<name>/data, 1 below its mount (facts/plugin-protocol.md).
	 */
	unsigned mount_root_up;
};

/* Flags for mount_setattr on an attached mount. */
struct policy_mount_attrs {
	bool readonly;
	bool nosuid;
	bool nodev;
	bool noexec;
};

/*
 * Read FILE and then DROPIN_DIR/ *.conf in name order (NULL: "policy.d" next
 * to FILE; a missing drop-in directory is fine), refusing any file or directory
 * that is not owned by root or is group/world writable, and resolve user and
 * group names. Returns 0, -ENOENT when FILE does not exist (everything is
 * denied: ret_err says where the file goes), -EPERM for a bad owner or mode,
 * -EINVAL for a syntax error, or another -errno; ret_err says where and why.
 */
int policy_load(const char *file, const char *dropin_dir, struct policy **ret,
		struct policy_error *ret_err);

/*
 * Parse one policy held in memory; NAME is used in rule locations. No I/O:
 * user and group names stay unresolved and never match. Returns 0 or -EINVAL
 * (ret_err filled) or -ENOMEM.
 */
int policy_parse_buffer(const char *name, const char *buf, size_t len, struct policy **ret,
			struct policy_error *ret_err);

/*
 * `dvmount policy check`: load like policy_load() but report every error and
 * every warning (rules that can never match) through REPORT. Returns the
 * number of errors (0: the policy loads) or -ENOMEM.
 */
int policy_lint(const char *file, const char *dropin_dir, policy_report_fn report, void *userdata);

struct policy *policy_free(struct policy *p);
static inline void policy_freep(struct policy **p)
{
	policy_free(*p);
}

/*
 * May this caller (real uid, real gid and supplementary groups) run dvmount?
 * Without a `callers` key only uid 0 may.
 */
int policy_check_caller(const struct policy *p, uid_t uid, const gid_t *gids, size_t n_gids,
			struct policy_denial *ret_denial);

/* Driver, name, options, mode, container path and limits: before any plugin call. */
int policy_check_volume(const struct policy *p, const struct policy_volume_req *req,
			struct policy_denial *ret_denial);

/*
 * The container-path rules again, on where the target really is: resolved
 * normalized absolute path inside the container root, after every symlink
 * on the way was followed inside that root (ns_resolve_real). A link in the
 * image ("/data -> /proc") must not carry a volume onto a denied path, nor
 * out of allow-container-paths (DESIGN.md "Privilege"). 0 or -EACCES.
 */
int policy_check_resolved_target(const struct policy *p, const char *resolved,
				 struct policy_denial *ret_denial);

/* The plugin's Mountpoint answer, before anything is attached. */
int policy_check_mountpoint(const struct policy *p, const char *driver,
			    const struct policy_mountpoint_facts *facts,
			    struct policy_denial *ret_denial);

/* The owner of the plugin's socket (default: must be root). */
int policy_check_socket(const struct policy *p, const char *driver, uid_t owner,
			struct policy_denial *ret_denial);

/*
 * Options the policy forces on DRIVER (`force-options`): the caller adds the
 * ones missing from the request; policy_check_volume() already denied a
 * request that set one to another value. Returns how many, *ret points into P.
 */
size_t policy_forced_options(const struct policy *p, const char *driver,
			     const struct policy_option **ret);

/*
 * Does policy_check_mountpoint() read facts->mount_root_up for DRIVER's
 * answers? Only under `require-mount-point = yes` (a directory inside a
 * mount, REX-Ray's <dir>/<name>/data). Finding the nearest mount root costs
 * a lookup per component of the Mountpoint (ns_peek), which a caller may
 * spare when this is false (issue 11: per-volume work). True for a driver
 * without a section: the check denies it anyway, and nothing is spared.
 */
bool policy_needs_mount_root(const struct policy *p, const char *driver);

/* Attach flags for DRIVER and the requested MODE; -ENOENT without a section. */
int policy_mount_attrs(const struct policy *p, const char *driver, enum policy_mode mode,
		       struct policy_mount_attrs *ret_attrs);

/* Highest `max-in-flight` a policy accepts (calls held by one plugin at once). */
#define POLICY_MAX_IN_FLIGHT 256

/*
 * How many of the calls that change a plugin's volumes or mounts (Create,
 * Remove, Mount, Unmount) may be in flight to DRIVER at once, host-wide: its
 * section's `max-in-flight`, else 1 (DESIGN.md "Plugin calls in flight": the
 * Docker engine sends them one after another, and rclone's plugin deadlocks
 * when they overlap). P may be NULL (no policy: 1). Returns 1..POLICY_MAX_IN_FLIGHT.
 */
unsigned policy_max_in_flight(const struct policy *p, const char *driver);

#endif
