/* SPDX-License-Identifier: MIT */
/*
 * dvmount prepare: give a container its Docker volumes.
 *
 *   prepare --container-id ID --volumes FILE|- [--pid PID] [--rootfs DIR]
 *           [--sandbox DIR] [--user UID[:GID]]
 *
 * Policy first (nothing reaches a plugin before it allowed the request), the
 * intent written before any plugin call, one plugin Mount per volume per host
 * under a host-stable ID, every Mountpoint checked again, then the attach:
 * open_tree + mount_setattr here, one setns'd child for the move_mounts.
 * All or nothing: a failure undoes what this prepare did.
 */
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/jsonutil.h"
#include "helper/audit.h"
#include "helper/caller.h"
#include "helper/caps.h"
#include "helper/lifecycle.h"
#include "ns/mountpoint.h"
#include "helper/spec/spec.h"
#include "ns/ns.h"

#define MAX_GROUPS 256

struct args {
	const char *cid;
	const char *volumes;
	pid_t pid;
	const char *rootfs;
	const char *sandbox;
	int rootfs_fd; /* caller not root: the --rootfs that was checked, O_PATH */
	bool chown;
	uid_t uid;
	gid_t gid;
};

/* One volume on its way into the container. */
struct pvol {
	const struct spec_volume *sv;
	char key[STATE_KEY_MAX];
	/*
	 * Sized to what they hold, not PATH_MAX each: two PATH_MAX arrays made
	 * this struct 8.5 KiB, and 64 of them one allocation that glibc mmaps,
	 * faults in page by page and munmaps (issue 11).
	 */
	char *target; /* absolute, inside the root */
	char *where;  /* where it lands, as seen from the process's root */
	bool create;
	json_object *entry; /* the volume entry */
	json_object *rec;   /* its entry in the record (borrowed from pvols.rec) */
	char mount_id[STATE_MOUNT_ID_LEN + 1];
	char renewed_from[STATE_MOUNT_ID_LEN + 1]; /* the id mount_id replaced, or "" */
	bool needs_mount;
	bool mount_tried; /* a Mount request went out for it */
	char *host_path;
	int tree_fd;
	int target_fd; /* O_PATH: the resolved target, judged, mounted onto */
	uint64_t mnt_id;
	uint64_t mnt_legacy_id;
	dev_t tree_dev; /* the attached tree's root, to know its copies by */
	uint64_t tree_ino;
	struct policy_mount_attrs attrs;
	struct plugin_opt *opts;
	size_t n_opts;
};

struct pvols {
	struct pvol *v;
	size_t n;
	json_object *rec; /* the container record, as last saved */
};

static void pvols_free(struct pvols *p)
{
	/* The trees and targets closed together (close_many), not 2 closes a volume. */
	_cleanup_free_ int *fds = p->v ? malloc((2 * p->n + 1) * sizeof(*fds)) : NULL;
	size_t k = 0;

	for (size_t i = 0; p->v && i < p->n; i++) {
		json_object_put(p->v[i].entry);
		free(p->v[i].target);
		free(p->v[i].where);
		free(p->v[i].host_path);
		free(p->v[i].opts);
		if (fds) {
			fds[k++] = p->v[i].tree_fd;
			fds[k++] = p->v[i].target_fd;
			continue;
		}
		if (p->v[i].tree_fd >= 0)
			close(p->v[i].tree_fd);
		if (p->v[i].target_fd >= 0)
			close(p->v[i].target_fd);
	}
	if (fds)
		close_many(fds, k);
	free(p->v);
	json_object_put(p->rec);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dvmount prepare --container-id ID --volumes FILE|- [--pid PID]\n"
		   "         [--rootfs DIR] [--sandbox DIR] [--user UID[:GID]]\n");
}

static int parse_id(const char *s, unsigned long max, unsigned long *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > max || *s == '-')
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_user(const char *s, struct args *a)
{
	char buf[64];
	char *colon;
	unsigned long v;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (parse_id(buf, 0xfffffffeUL, &v) < 0)
		return -EINVAL;
	a->uid = (uid_t)v;
	a->gid = (gid_t)-1;
	if (colon) {
		if (parse_id(colon + 1, 0xfffffffeUL, &v) < 0)
			return -EINVAL;
		a->gid = (gid_t)v;
	}
	a->chown = true;
	return 0;
}

/* 0: go on; 1: done (the help); -errno: a usage error, in err. */
static int parse_args(int argc, char **argv, struct args *a, struct dv_error *err)
{
	static const struct option options[] = { { "container-id", required_argument, NULL, 'c' },
						 { "volumes", required_argument, NULL, 'v' },
						 { "pid", required_argument, NULL, 'p' },
						 { "rootfs", required_argument, NULL, 'r' },
						 { "sandbox", required_argument, NULL, 's' },
						 { "user", required_argument, NULL, 'u' },
						 { "json", no_argument, NULL, 'j' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	unsigned long v;
	int opt;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			a->cid = optarg;
			break;
		case 'v':
			a->volumes = optarg;
			break;
		case 'p':
			if (parse_id(optarg, 0x3fffffffUL, &v) < 0 || v == 0)
				return dv_usage(err, "prepare: invalid --pid '%s'", optarg);
			a->pid = (pid_t)v;
			break;
		case 'r':
			a->rootfs = optarg;
			break;
		case 's':
			a->sandbox = optarg;
			break;
		case 'u':
			if (parse_user(optarg, a) < 0)
				return dv_usage(err,
						"prepare: invalid --user '%s' (expected UID[:GID])",
						optarg);
			break;
		case 'j':
			break; /* prepare always prints JSON */
		case 'h':
			usage(stdout);
			return 1;
		default:
			return dv_usage(err, "prepare: unknown or incomplete option '%s'",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return dv_usage(err, "prepare: unexpected argument '%s'", argv[optind]);
	if (!a->cid || !a->volumes)
		return dv_usage(err, "prepare: --container-id and --volumes are required");
	if (state_container_id_valid(a->cid) < 0)
		return dv_usage(err,
				"prepare: invalid container id '%s' ([A-Za-z0-9._:-], at most 128, "
				"not starting with '.')",
				a->cid);
	if (!strncmp(a->cid, "dvdcli:", 7))
		return dv_usage(err, "prepare: container ids starting with 'dvdcli:' are reserved");
	for (const char *p = a->rootfs; p; p = NULL)
		if (*p != '/')
			return dv_usage(err, "prepare: --rootfs '%s' must be absolute", p);
	for (const char *p = a->sandbox; p; p = NULL)
		if (*p != '/')
			return dv_usage(err, "prepare: --sandbox '%s' must be absolute", p);
	return 0;
}

/* Lexically normalise "/a/./b//../c" to "/a/c"; ".." stops at the root. */
static int normalize(const char *in, char out[static PATH_MAX])
{
	size_t len = 0;

	out[len++] = '/';
	for (const char *p = in; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 1 && p[0] == '.') {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			while (len > 1 && out[len - 1] != '/')
				len--;
			if (len > 1)
				len--;
		} else {
			if (len + (len > 1) + n + 1 > PATH_MAX)
				return -ENAMETOOLONG;
			if (len > 1)
				out[len++] = '/';
			memcpy(out + len, p, n);
			len += n;
		}
		p += n;
	}
	out[len] = '\0';
	return 0;
}

/* *dst = a copy of the len bytes at s, NUL-terminated; the old *dst is freed. */
static int set_str(char **dst, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p, s, len);
	p[len] = '\0';
	free(*dst);
	*dst = p;
	return 0;
}

/* The target as the process sees it from its own root: rootfs + target. */
static int set_where(const struct args *a, struct pvol *v)
{
	size_t rl = a->rootfs ? strlen(a->rootfs) : 0, tl = strlen(v->target);
	char *p;

	/* "/" + "/x" is "/x", not "//x". */
	while (rl > 1 && a->rootfs[rl - 1] == '/')
		rl--;
	if (rl == 1)
		rl = 0;
	/* rootfs + "/" is the rootfs itself. */
	if (rl && !strcmp(v->target, "/"))
		tl = 0;
	p = malloc(rl + tl + 1);
	if (!p)
		return -ENOMEM;
	if (rl)
		memcpy(p, a->rootfs, rl);
	memcpy(p + rl, v->target, tl);
	p[rl + tl] = '\0';
	free(v->where);
	v->where = p;
	return 0;
}

/*
 * Where a volume lands (Mesos' container_path table): an absolute path is
 * taken in the container's root (the rootfs if it has one, created) or on the
 * host's root (must exist); a relative one below the sandbox (created).
 */
static int compute_target(struct lc *lc, const struct args *a, const char *sandbox, struct pvol *v)
{
	const char *cp = v->sv->container_path;
	char joined[2 * PATH_MAX + 1], norm[PATH_MAX];
	size_t cl = strnlen(cp, PATH_MAX), sl = sandbox ? strnlen(sandbox, PATH_MAX) : 0;

	if (cl == PATH_MAX || sl == PATH_MAX) {
		lc_fail(lc, "volume %zu ('%s'): container_path too long", v->sv->index,
			v->sv->name);
		return -ENAMETOOLONG;
	}
	if (spec_path_is_absolute(cp)) {
		memcpy(joined, cp, cl);
		joined[cl] = '\0';
		v->create = a->rootfs != NULL;
	} else {
		/*
		 * An OCI container has no sandbox, and runtime-spec mount
		 * destinations are absolute ("MUST be an absolute path"): refuse
		 * rather than guess a base, and say what an OCI user can write.
		 */
		if (!sandbox && lc->g->oci_hook) {
			lc_fail(lc,
				"volume %zu ('%s'): relative container_path '%s' is refused in "
				"an OCI hook (no sandbox there); write it absolute, e.g. '/%s'",
				v->sv->index, v->sv->name, cp, cp);
			return -EINVAL;
		}
		if (!sandbox) {
			lc_fail(lc,
				"volume %zu ('%s'): relative container_path '%s' needs --sandbox",
				v->sv->index, v->sv->name, cp);
			return -EINVAL;
		}
		memcpy(joined, sandbox, sl);
		joined[sl] = '/';
		memcpy(joined + sl + 1, cp, cl);
		joined[sl + 1 + cl] = '\0';
		v->create = true;
	}
	if (normalize(joined, norm) < 0) {
		lc_fail(lc, "volume %zu ('%s'): container_path too long", v->sv->index,
			v->sv->name);
		return -ENAMETOOLONG;
	}
	if (set_str(&v->target, norm, strlen(norm)) < 0 || set_where(a, v) < 0)
		return -ENOMEM;
	return 0;
}

static int policy_owner_check(const char *driver, uid_t owner, char *why, size_t why_len,
			      void *userdata)
{
	struct lc *lc = userdata;
	struct policy_denial d;

	if (policy_check_socket(lc->policy, driver, owner, &d) == 0)
		return 0;
	snprintf(why, why_len, "denied by %s: %s", d.rule, d.reason);
	lc->denied = true;
	return -EACCES;
}

static int check_caller(struct lc *lc)
{
	gid_t gids[MAX_GROUPS + 1];
	struct policy_denial d;
	int n;

	gids[0] = getgid();
	n = getgroups(MAX_GROUPS, gids + 1);
	if (n < 0)
		n = 0;
	if (policy_check_caller(lc->policy, getuid(), gids, (size_t)n + 1, &d) == 0)
		return 0;
	lc_fail(lc, "denied by %s: %s", d.rule, d.reason);
	lc->denied = true;
	return -EACCES;
}

/*
 * dvmount setuid, run by a caller the policy lets in: that caller may only aim
 * it at a process, a rootfs and a sandbox of its own, never at the host's own
 * mount namespace (where a mount over /usr/local/bin would make it root).
 */
static int check_caller_owns(struct lc *lc, struct args *a)
{
	uid_t uid = getuid();
	struct stat st, self_ns, target_ns;
	char path[64];

	if (lc->g->caller_is_root)
		return 0;
	if (a->pid) {
		snprintf(path, sizeof(path), "/proc/%d", (int)a->pid);
		if (stat(path, &st) < 0 || st.st_uid != uid) {
			lc_fail(lc, "--pid %d: not a process of the caller (uid %u)", (int)a->pid,
				(unsigned)uid);
			return -EPERM;
		}
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", (int)a->pid);
		if (stat(path, &target_ns) < 0 || stat("/proc/self/ns/mnt", &self_ns) < 0 ||
		    (target_ns.st_ino == self_ns.st_ino && target_ns.st_dev == self_ns.st_dev)) {
			lc_fail(lc,
				"--pid %d: shares dvmount's mount namespace; callers other than "
				"root may attach only into a container's own",
				(int)a->pid);
			return -EPERM;
		}
	}
	const char *paths[] = { a->rootfs, a->sandbox };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		_cleanup_close_ int fd = -EBADF;

		if (!paths[i])
			continue;
		/*
		 * Opened as the caller (it must reach it itself), checked as the
		 * fd, and the rootfs used as that fd: no second lookup by name.
		 */
		if (caller_openat(lc->g, AT_FDCWD, paths[i], O_PATH | O_DIRECTORY | O_NOFOLLOW,
				  &fd) < 0 ||
		    fstat(fd, &st) < 0 || st.st_uid != uid || !S_ISDIR(st.st_mode)) {
			lc_fail(lc, "'%s': not a directory of the caller (uid %u)", paths[i],
				(unsigned)uid);
			return -EPERM;
		}
		if (paths[i] == a->rootfs)
			a->rootfs_fd = TAKE_FD(fd);
	}
	/* Without a rootfs or a process, targets are the host's: not a caller's to pick. */
	if (!a->rootfs && !a->pid) {
		lc_fail(lc, "callers other than root must name a container (--pid or --rootfs)");
		return -EPERM;
	}
	return 0;
}

static int read_spec(struct lc *lc, const char *path, struct spec **ret)
{
	_cleanup_close_ int fd = -EBADF;
	struct spec_error err;
	char msg[512];
	int r;

	if (!strcmp(path, "-")) {
		r = spec_read_fd(STDIN_FILENO, ret, &err);
	} else {
		/* As the caller: what it could not read itself stays unread. */
		r = caller_openat(lc->g, AT_FDCWD, path, O_RDONLY | O_NONBLOCK, &fd);
		if (r < 0) {
			lc_fail(lc, "cannot open '%s': %s", path,
				r == -ENOENT ? CALLER_NOT_FOUND : strerror(-r));
			return r;
		}
		r = spec_read_fd(fd, ret, &err);
	}
	if (r < 0)
		lc_fail(lc, "%s", spec_error_format(&err, msg, sizeof(msg)));
	return r;
}

/* o[key] = val, or no key when val is NULL or "": changed in place when there. */
static int rec_set_str(json_object *o, const char *key, const char *val)
{
	json_object *cur;

	if (!val || !*val) {
		json_object_object_del(o, key);
		return 0;
	}
	if (json_object_object_get_ex(o, key, &cur) && json_object_is_type(cur, json_type_string))
		return strcmp(json_object_get_string(cur), val)
			   ? json_object_set_string(cur, val) - 1
			   : 0;
	cur = json_object_new_string(val);
	return cur ? json_object_object_add(o, key, cur) : -ENOMEM;
}

/* o[key] = val, or no key when not present. */
static int rec_set_int(json_object *o, const char *key, int64_t val, bool present)
{
	json_object *cur;

	if (!present) {
		json_object_object_del(o, key);
		return 0;
	}
	if (json_object_object_get_ex(o, key, &cur) && json_object_is_type(cur, json_type_int))
		return json_object_set_int64(cur, val) - 1;
	cur = json_object_new_int64(val);
	return cur ? json_object_object_add(o, key, cur) : -ENOMEM;
}

/*
 * The record's entry of one volume, brought up to date in place: a prepare
 * writes the record up to three times and only the mount ids, the host path,
 * the attached ids and (for a nested target) the target change between them,
 * so the objects are made once, not 15 per volume per write (issue 11).
 */
static int record_volume(json_object *o, const struct pvol *v)
{
	int r = 0;

	r |= rec_set_str(o, "driver", v->sv->driver);
	r |= rec_set_str(o, "name", v->sv->name);
	r |= rec_set_str(o, "key", v->key);
	r |= rec_set_str(o, "mode", spec_mode_to_string(v->sv->mode));
	r |= rec_set_str(o, "container_path", v->sv->container_path);
	r |= rec_set_str(o, "target", v->target);
	r |= rec_set_str(o, "host_path", v->host_path);
	r |= rec_set_str(o, "mount_id", v->mount_id);
	/* Tells recover the entry is older than this record if it still has it. */
	r |= rec_set_str(o, "renewed_from", v->renewed_from);
	r |= rec_set_int(o, "attached_mnt_id", (int64_t)v->mnt_id, v->mnt_id);
	r |= rec_set_int(o, "attached_mountinfo_id", (int64_t)v->mnt_legacy_id, v->mnt_legacy_id);
	r |= rec_set_int(o, "attached_dev", (int64_t)v->tree_dev, v->tree_ino);
	r |= rec_set_int(o, "attached_ino", (int64_t)v->tree_ino, v->tree_ino);
	return r ? -ENOMEM : 0;
}

/*
 * durable: the record was or is now written with STATE_DURABLE, and says so
 * ("durable": false otherwise): cleanup and recover tell from it whether it
 * is a durable proof of its mount ids (helper/state/state.h). The record is
 * built at the first save and kept in pv->rec for the next ones.
 */
static int save_record(struct lc *lc, const struct args *a, unsigned long long start,
		       const char *phase, struct pvols *pv, bool durable, unsigned flags)
{
	json_object *rec = pv->rec, *vols;
	int r;

	if (!rec) {
		rec = pv->rec = json_object_new_object();
		vols = json_object_new_array_ext((int)pv->n);
		if (!rec || !vols) {
			json_object_put(vols);
			return -ENOMEM;
		}
		json_object_object_add(rec, "container_id", json_object_new_string(a->cid));
		json_object_object_add(rec, "phase", json_object_new_string(phase));
		json_object_object_add(rec, "durable", json_object_new_boolean(durable));
		/* Whose container: a caller other than root may clean up only its own. */
		json_object_object_add(rec, "owner_uid", json_object_new_int64(getuid()));
		if (a->pid) {
			json_object_object_add(rec, "pid", json_object_new_int64(a->pid));
			json_object_object_add(rec, "start_time",
					       json_object_new_int64((int64_t)start));
			json_object_object_add(rec, "root",
					       json_object_new_string(a->rootfs ? a->rootfs : "/"));
		}
		json_object_object_add(rec, "volumes", vols);
		for (size_t i = 0; i < pv->n; i++) {
			pv->v[i].rec = json_object_new_object();
			if (!pv->v[i].rec || json_object_array_add(vols, pv->v[i].rec) < 0) {
				json_object_put(pv->v[i].rec);
				pv->v[i].rec = NULL;
				return -ENOMEM;
			}
		}
	}
	r = rec_set_str(rec, "phase", phase);
	if (r == 0)
		r = json_object_set_boolean(json_object_object_get(rec, "durable"), durable)
			? 0
			: -ENOMEM;
	for (size_t i = 0; i < pv->n && r == 0; i++)
		r = record_volume(pv->v[i].rec, &pv->v[i]);
	if (r < 0)
		return r;
	return state_container_save(lc->st, a->cid, rec, flags);
}

/* Volume entries: reuse a live plugin mount, or plan a Mount (lc_acquire). */
static int plan_mounts(struct lc *lc, struct pvol *v, size_t n)
{
	_cleanup_free_ struct lc_acquire *a = calloc(n + 1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		a[i] = (struct lc_acquire){ .key = v[i].key,
					    .driver = v[i].sv->driver,
					    .name = v[i].sv->name };
	r = lc_acquire(lc, a, n, lc->cid);
	/* Even on failure: what was acquired is undone from these. */
	for (size_t i = 0; i < n; i++) {
		v[i].entry = TAKE_PTR(a[i].entry);
		memcpy(v[i].mount_id, a[i].mount_id, sizeof(v[i].mount_id));
		memcpy(v[i].renewed_from, a[i].renewed_from, sizeof(v[i].renewed_from));
		v[i].host_path = TAKE_PTR(a[i].host_path);
		v[i].needs_mount = a[i].needs_mount;
	}
	return r;
}

static int do_mounts(struct lc *lc, struct pvol *v, size_t n)
{
	_cleanup_free_ struct plugin_mount *m = calloc(n + 1, sizeof(*m));
	_cleanup_free_ size_t *idx = calloc(n + 1, sizeof(*idx));
	size_t k = 0;
	int r, failed = 0;

	if (!m || !idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].needs_mount)
			continue;
		m[k] = (struct plugin_mount){ .driver = v[i].sv->driver,
					      .name = v[i].sv->name,
					      .id = v[i].mount_id,
					      .opts = v[i].opts,
					      .n_opts = v[i].n_opts };
		idx[k++] = i;
	}
	lc_crash_point("before-mount");
	r = k ? plugin_mount_many(lc->pc, m, k) : 0;
	if (r < 0) {
		lc_fail(lc, "plugin calls failed: %s", strerror(-r));
		return r;
	}
	for (size_t j = 0; j < k; j++)
		v[idx[j]].mount_tried = true;
	lc_crash_point("after-mount");
	for (size_t j = 0; j < k; j++) {
		struct pvol *p = &v[idx[j]];

		lc_acquire_mounted(lc, p->entry, &m[j], 0);
		if (m[j].result < 0) {
			lc_fail(lc, "%s", m[j].err);
			if (m[j].result == -EACCES)
				lc->denied = true;
			failed++;
		} else {
			p->host_path = TAKE_PTR(m[j].mountpoint);
		}
		plugin_mount_clear(&m[j]);
		r = state_volume_save(lc->st, p->key, p->entry);
		if (r < 0) {
			lc_fail(lc, "volume '%s': cannot save its entry: %s", p->sv->name,
				strerror(-r));
			failed++;
		}
	}
	return failed;
}

struct mp_judge {
	struct lc *lc;
	struct pvol *v;
	const size_t *idx; /* batch index -> volume */
	struct policy_denial *d;
	bool *denied;
};

/* Between the look and the chown or clone: the policy on what was seen. */
static int mp_decide(const struct policy_mountpoint_facts *f, size_t i, void *userdata)
{
	struct mp_judge *j = userdata;
	size_t k = j->idx[i];

	if (policy_check_mountpoint(j->lc->policy, j->v[k].sv->driver, f, &j->d[k]) < 0) {
		j->denied[k] = true;
		return -EACCES;
	}
	return 0;
}

struct mp_batch {
	size_t n; /* entries whose fds are set (-EBADF or owned) */
	struct ns_peek *pk;
	struct policy_mountpoint_facts *f;
	struct policy_denial *d;
	bool *denied;
	int *pidfd;
	pid_t *pid;
	int *result;
	size_t *idx;
	struct ns_peek *gpk;
	struct policy_mountpoint_facts *gf;
};

static void mp_batch_free(struct mp_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->pidfd[i] >= 0)
			close(b->pidfd[i]);
		if (b->pk[i].tree_fd >= 0)
			close(b->pk[i].tree_fd);
	}
	free(b->pk);
	free(b->f);
	free(b->d);
	free(b->denied);
	free(b->pidfd);
	free(b->pid);
	free(b->result);
	free(b->idx);
	free(b->gpk);
	free(b->gf);
}

/*
 * Look at every Mountpoint as its plugin sees it: one child per plugin
 * process (ns_peek), judged by the policy before the chown and the clone.
 * b->result[i] gets each volume's outcome.
 */
static int mp_look(struct lc *lc, const struct args *a, struct pvol *v, size_t n,
		   struct mp_batch *b)
{
	json_object *with_fd = NULL;
	size_t m = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		b->pidfd[i] = -EBADF;
		b->pk[i].tree_fd = -EBADF;
		b->result[i] = -ECANCELED;
	}
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		if (!v[i].host_path)
			continue;
		if (a->pid)
			policy_mount_attrs(lc->policy, v[i].sv->driver,
					   v[i].sv->mode == SPEC_RO ? POLICY_MODE_RO
								    : POLICY_MODE_RW,
					   &v[i].attrs);
		b->pk[i] = (struct ns_peek){
			.path = v[i].host_path,
			/* The walk to the nearest mount root only where the policy reads it. */
			.flags = (a->pid ? NS_PEEK_TREE : 0) | (a->chown ? NS_PEEK_CHOWN : 0) |
				 (policy_needs_mount_root(lc->policy, v[i].sv->driver)
				      ? 0
				      : NS_PEEK_NO_ROOT_WALK),
			.attrs =
			    (v[i].attrs.readonly || v[i].sv->mode == SPEC_RO ? NS_ATTR_RDONLY : 0) |
			    (v[i].attrs.nosuid ? NS_ATTR_NOSUID : 0) |
			    (v[i].attrs.nodev ? NS_ATTR_NODEV : 0) |
			    (v[i].attrs.noexec ? NS_ATTR_NOEXEC : 0),
			.uid = a->uid,
			.gid = a->gid,
			.tree_fd = -EBADF,
		};
		/* Looked at with the first volume of its plugin process, through its pidfd. */
		if (lc_same_plugin_view(v[i].entry, with_fd)) {
			b->pid[i] = (pid_t)lc_json_int(v[i].entry, "plugin_pid");
			b->result[i] = -EINPROGRESS;
			continue;
		}
		b->result[i] =
		    lc_plugin_view(lc, v[i].entry, v[i].sv->driver, &b->pidfd[i], &b->pid[i]);
		/* Waiting for its look. */
		if (b->result[i] == 0)
			b->result[i] = -EINPROGRESS;
		if (b->pidfd[i] >= 0)
			with_fd = v[i].entry;
	}
	for (size_t i = 0; i < n; i++) {
		struct mp_judge j = {
			.lc = lc, .v = v, .idx = b->idx, .d = b->d, .denied = b->denied
		};

		if (b->result[i] != -EINPROGRESS)
			continue;
		/* Every volume of the same plugin process (or of our own view) at once. */
		m = 0;
		for (size_t k = i; k < n; k++)
			if (b->result[k] == -EINPROGRESS && b->pid[k] == b->pid[i]) {
				b->idx[m] = k;
				b->gpk[m++] = b->pk[k];
				b->result[k] = -ECANCELED;
			}
		r = ns_mountpoint_inspect(b->pidfd[i], b->gpk, m, lc->g->timeout_other_ms,
					  mp_decide, &j, b->gf);
		for (size_t g = 0; g < m; g++) {
			size_t k = b->idx[g];

			b->pk[k] = b->gpk[g];
			b->f[k] = b->gf[g];
			b->result[k] = r < 0 ? r : b->gpk[g].result;
		}
	}
	return 0;
}

/*
 * Check each Mountpoint, in the plugin's view, against the policy, chown it,
 * and clone its tree for attaching, in bounded time.
 */
static int check_mountpoints(struct lc *lc, const struct args *a, struct pvol *v, size_t n)
{
	_cleanup_(mp_batch_free) struct mp_batch b = {
		.pk = calloc(n + 1, sizeof(*b.pk)),
		.f = calloc(n + 1, sizeof(*b.f)),
		.d = calloc(n + 1, sizeof(*b.d)),
		.denied = calloc(n + 1, sizeof(*b.denied)),
		.pidfd = calloc(n + 1, sizeof(*b.pidfd)),
		.pid = calloc(n + 1, sizeof(*b.pid)),
		.result = calloc(n + 1, sizeof(*b.result)),
		.idx = calloc(n + 1, sizeof(*b.idx)),
		.gpk = calloc(n + 1, sizeof(*b.gpk)),
		.gf = calloc(n + 1, sizeof(*b.gf)),
	};
	int failed = 0, r;

	if (!b.pk || !b.f || !b.d || !b.denied || !b.pidfd || !b.pid || !b.result || !b.idx ||
	    !b.gpk || !b.gf)
		return -ENOMEM;
	mp_look(lc, a, v, n, &b);
	for (size_t i = 0; i < n; i++) {
		char why[LC_VIEW_ERR_MAX];

		if (!v[i].host_path)
			continue;
		r = b.result[i];
		if (r == 0 && !b.denied[i] &&
		    policy_check_mountpoint(lc->policy, v[i].sv->driver, &b.f[i], &b.d[i]) < 0)
			b.denied[i] = true;
		if (b.denied[i]) {
			lc_fail(lc, "volume '%s' of driver '%s': mountpoint '%s' denied by %s: %s",
				v[i].sv->name, v[i].sv->driver, v[i].host_path, b.d[i].rule,
				b.d[i].reason);
			lc->denied = true;
			failed++;
			continue;
		}
		if (r == 0 && !a->pid && b.pk[i].other_view)
			r = lc_check_own_view(lc, &b.pk[i]);
		if (r < 0) {
			lc_fail(lc, "volume '%s' of driver '%s': mountpoint '%s': %s",
				v[i].sv->name, v[i].sv->driver, v[i].host_path,
				lc_view_strerror(lc, r, why));
			failed++;
			continue;
		}
		if (v[i].needs_mount) {
			json_object_object_add(v[i].entry, "mount_root",
					       json_object_new_boolean(b.f[i].is_mount_point));
			state_volume_save(lc->st, v[i].key, v[i].entry);
		}
		if (!a->pid)
			continue;
		/* The tree of exactly the directory that was checked: no second lookup. */
		v[i].tree_fd = TAKE_FD(b.pk[i].tree_fd);
		/*
		 * Its id survives move_mount: recorded before attaching, so
		 * cleanup finds it; with its root's identity, in the same statx.
		 */
		r = ns_tree_ids(v[i].tree_fd, &v[i].mnt_id, &v[i].tree_dev, &v[i].tree_ino);
		/* And the id mountinfo shows, to see it there wherever it was moved. */
		if (r == 0 && ns_mount_id_legacy(v[i].tree_fd, "", &v[i].mnt_legacy_id) < 0)
			v[i].mnt_legacy_id = 0;
		if (r < 0) {
			lc_fail(lc, "volume '%s': open_tree '%s': %s", v[i].sv->name,
				v[i].host_path, strerror(-r));
			failed++;
		}
	}
	return failed;
}

/* The order of v for mounting (parents first) or for detaching (children first). */
static int depth_order(const struct pvol *v, size_t n, bool deepest_first, size_t **ret_order)
{
	_cleanup_free_ const char **targets = calloc(n + 1, sizeof(*targets));
	size_t *order = calloc(n + 1, sizeof(*order));

	if (!targets || !order || n > NS_MOUNTS_MAX) {
		free(order);
		return n > NS_MOUNTS_MAX ? -E2BIG : -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		targets[i] = v[i].target;
	lc_depth_order(targets, n, deepest_first, order);
	*ret_order = order;
	return 0;
}

/* path is base or lies below it (whole components). */
static bool path_at_or_under(const char *path, const char *base)
{
	size_t len = strlen(base);

	if (!strcmp(base, "/"))
		return true;
	return !strncmp(path, base, len) && (path[len] == '\0' || path[len] == '/');
}

static int resolve_targets(struct lc *lc, const struct args *a, int pidfd, struct pvol *v,
			   const size_t *idx, size_t k);

/*
 * Attach in rounds of nesting: first the targets under no other target of
 * this prepare, then those under one of them, and so on (parents first: a
 * child attached first would be hidden under its parent). A nested target was
 * resolved before its parent volume covered it: it is resolved and judged
 * again once the parent is attached, inside the parent volume, as the
 * container will see it.
 */
static int attach(struct lc *lc, const struct args *a, int pidfd, struct pvol *v, size_t n)
{
	_cleanup_free_ struct ns_mount *m = calloc(n + 1, sizeof(*m));
	_cleanup_free_ size_t *level = calloc(n + 1, sizeof(*level));
	_cleanup_free_ size_t *idx = calloc(n + 1, sizeof(*idx));
	size_t max = 0;
	int failed = 0, r = 0;

	if (!m || !level || !idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++)
			if (j != i && path_at_or_under(v[i].target, v[j].target) &&
			    (strcmp(v[i].target, v[j].target) || j < i))
				level[i]++;
		max = level[i] > max ? level[i] : max;
	}
	for (size_t lvl = 0; lvl <= max && n && !failed; lvl++) {
		size_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (level[i] == lvl)
				idx[k++] = i;
		if (!k)
			continue;
		if (lvl > 0 && resolve_targets(lc, a, pidfd, v, idx, k) < 0)
			return (int)k;
		for (size_t j = 0; j < k; j++)
			m[j] = (struct ns_mount){ .tree_fd = v[idx[j]].tree_fd,
						  .target = v[idx[j]].target,
						  .target_fd = v[idx[j]].target_fd,
						  .tree_mnt_id = v[idx[j]].mnt_id,
						  .flags =
						      NS_ALL_OR_NOTHING | NS_TARGET_FD |
						      (lc->g->caller_is_root ? 0 : NS_OWN_USERNS) };
		r = ns_attach(pidfd, a->rootfs ? a->rootfs : "/", m, k, lc->g->timeout_other_ms);
		for (size_t j = 0; j < k; j++) {
			const struct pvol *p = &v[idx[j]];

			if (m[j].result == 0 || m[j].result == -ECANCELED)
				continue;
			failed++;
			if (m[j].result == -EXDEV)
				lc_fail(
				    lc,
				    "volume '%s' of driver '%s': target '%s' in pid %d lies on a "
				    "shared mount: the volume would propagate out of the "
				    "container to the mount's peers; refused (make the "
				    "container's mounts private or slave)",
				    p->sv->name, p->sv->driver, p->where, (int)a->pid);
			else if (m[j].result == -EPERM && !lc->g->caller_is_root) {
				/* NS_OWN_USERNS: the caller could undo the mount's attributes. */
				lc_fail(
				    lc,
				    "volume '%s' of driver '%s': attaching at '%s' in pid %d: "
				    "its mount namespace belongs to a user namespace other than "
				    "dvmount's, where the caller could make the volume writable, "
				    "dev and suid again; refused to callers other than root",
				    p->sv->name, p->sv->driver, p->where, (int)a->pid);
				lc->denied = true;
			} else if (m[j].result == -ETIMEDOUT)
				/* The attach child was killed at --timeout: a hung mount there. */
				lc_fail(lc,
					"volume '%s' of driver '%s': attaching at '%s' in pid %d: "
					"the filesystem there did not answer within %.1f s "
					"(--timeout): a hung volume in the container?",
					p->sv->name, p->sv->driver, p->where, (int)a->pid,
					lc->g->timeout_other_ms / 1000.0);
			else
				lc_fail(lc, "volume '%s': attaching at '%s' in pid %d: %s",
					p->sv->name, p->where, (int)a->pid, strerror(-m[j].result));
		}
		if (r < 0 && !failed) {
			lc_fail(lc, "attaching into pid %d: %s", (int)a->pid, strerror(-r));
			failed++;
		}
	}
	return failed;
}

/*
 * The root the targets resolve under: the process's own root (pidfd), or
 * ours; then the rootfs beneath it. A caller that is not root had its rootfs
 * checked as an open fd: the directory found here must be that one.
 */
/*
 * Without --pid the containerizer binds onto the printed target itself: print
 * where the fd really is on the host, not rootfs + path, so that it cannot
 * be led out of the rootfs by a link planted after we looked.
 */
static int fd_path(int fd, char ret[static PATH_MAX])
{
	char link[64];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, ret, PATH_MAX - 1);
	if (len <= 0)
		return -1;
	ret[len] = '\0';
	return 0;
}

static int open_target_root(struct lc *lc, const struct args *a, int pidfd, int *ret_fd)
{
	_cleanup_close_ int base = -EBADF, fd = -EBADF;
	struct stat checked, found;
	int r;

	if (pidfd >= 0)
		r = ns_open_proc_root(pidfd, &base);
	else
		r = (base = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 ? -errno : 0;
	if (r < 0) {
		lc_fail(lc, "process %d: its root: %s", (int)a->pid, strerror(-r));
		return r;
	}
	r = ns_resolve_in_root(base, a->rootfs ? a->rootfs : "/", 0, 0, &fd);
	if (r < 0) {
		lc_fail(lc, "rootfs '%s': %s", a->rootfs ? a->rootfs : "/", strerror(-r));
		return r;
	}
	if (a->rootfs_fd >= 0) {
		if (fstat(a->rootfs_fd, &checked) < 0 || fstat(fd, &found) < 0)
			return -errno;
		if (checked.st_dev != found.st_dev || checked.st_ino != found.st_ino) {
			lc_fail(lc,
				"--rootfs '%s': in process %d's root, not the directory that "
				"was checked",
				a->rootfs, (int)a->pid);
			lc->denied = true;
			return -EPERM;
		}
	}
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/*
 * Follow each target to where it really is inside the root (ns_resolve_real:
 * links followed inside the root, the missing target of a dangling link made
 * there, as runc 1.1 did) and judge that place with the container-path rules
 * again: a link in the image must not carry a volume onto a denied path. The
 * fd kept is what attach mounts onto, so the place judged is the place used.
 */
/* Resolve and judge one target beneath rootfd; 0 or -errno, reported. */
/* Judge one target as ns_resolve_real_bounded() resolved it (rs->fd is taken). */
static int resolve_one(struct lc *lc, const struct args *a, int pidfd, struct pvol *v,
		       struct ns_resolve *rs)
{
	const struct spec_volume *sv = v->sv;
	_cleanup_close_ int fd = TAKE_FD(rs->fd);
	struct policy_denial d;
	char *real = rs->real;
	int r = rs->result;

	if (r == -ETIMEDOUT) {
		/* Killed at --timeout: a hung volume on the way (issue 9). */
		lc_fail(lc,
			"volume '%s' of driver '%s': target '%s': the filesystem there did not "
			"answer within %.1f s (--timeout): a hung volume in the container?",
			sv->name, sv->driver, v->where, lc->g->timeout_other_ms / 1000.0);
	} else if (r == -ENOENT && !v->create) {
		/* Mesos' words for this case. */
		lc_fail(lc, "volume '%s': Absolute container path '%s' does not exist", sv->name,
			v->target);
	} else if (r == -EXDEV) {
		lc_fail(lc,
			"volume '%s': container path '%s' leads through a link in /proc, which is "
			"never followed",
			sv->name, v->target);
	} else if (r < 0) {
		lc_fail(lc, "volume '%s': target '%s': %s", sv->name, v->where, strerror(-r));
	} else if (policy_check_resolved_target(lc->policy, real, &d) < 0) {
		lc_fail(lc,
			"volume %zu ('%s' of driver '%s'): container path '%s' resolves to '%s' in "
			"the container, denied by %s: %s",
			sv->index, sv->name, sv->driver, v->target, real, d.rule, d.reason);
		lc->denied = true;
		r = -EACCES;
	}
	if (r < 0)
		return r;
	if (set_str(&v->target, real, strnlen(real, PATH_MAX - 1)) < 0 || set_where(a, v) < 0)
		return -ENOMEM;
	if (pidfd < 0) {
		char host[PATH_MAX];

		if (fd_path(fd, host) < 0) {
			r = -errno;
			lc_fail(lc, "volume '%s': target '%s': %s", sv->name, v->target,
				strerror(-r));
			return r;
		}
		if (set_str(&v->where, host, strlen(host)) < 0)
			return -ENOMEM;
	}
	if (v->target_fd >= 0)
		close(v->target_fd);
	v->target_fd = TAKE_FD(fd);
	return 0;
}

/*
 * Resolve and judge the targets of idx[0..k) (all of them: idx NULL, k = n)
 * beneath the process's root (or ours).
 */
static int resolve_targets(struct lc *lc, const struct args *a, int pidfd, struct pvol *v,
			   const size_t *idx, size_t k)
{
	_cleanup_free_ struct ns_resolve *rs = malloc((k + 1) * sizeof(*rs));
	_cleanup_close_ int rootfd = -EBADF;
	struct caller_fs cfs;
	int failed = 0, r;

	if (!rs)
		return -ENOMEM;
	r = open_target_root(lc, a, pidfd, &rootfd);
	if (r < 0)
		return r;
	/*
	 * Field by field, not zeroed whole (calloc, a compound literal): each
	 * entry's real[] is PATH_MAX bytes that only need their first zeroed
	 * (issue 11: 4 KiB of memset per volume was most of this function's
	 * CPU at 64 volumes).
	 */
	for (size_t j = 0; j < k; j++) {
		const struct pvol *p = &v[idx ? idx[j] : j];

		rs[j].path = p->target;
		rs[j].flags = p->create ? NS_CREATE : 0;
		rs[j].mode = 0755;
		rs[j].result = -ECANCELED;
		rs[j].real[0] = '\0';
		rs[j].fd = -EBADF;
	}
	/*
	 * As the caller, whose container this is: it may own the mount
	 * namespace (a user namespace of its own) and bind root's directories
	 * under a target's path; a missing target is made only where the
	 * caller could make it itself (issue 10). The child inherits fsuid and
	 * the emptied effective set. A root caller is unchanged.
	 */
	r = caller_fs_enter(lc->g, &cfs);
	if (r < 0) {
		lc_fail(lc, "cannot take the caller's identity: %s", strerror(-r));
		return r;
	}
	/* Each result says what went wrong, a timeout included. */
	r = ns_resolve_real_bounded(rootfd, rs, k, lc->g->timeout_other_ms);
	caller_fs_leave(&cfs);
	for (size_t j = 0; j < k && r < 0; j++)
		if (rs[j].result == -ECANCELED)
			rs[j].result = r;
	for (size_t j = 0; j < k; j++)
		if (resolve_one(lc, a, pidfd, &v[idx ? idx[j] : j], &rs[j]) < 0)
			failed++;
	return failed ? (lc->denied ? -EACCES : -EIO) : 0;
}

/* Take back what attach() put in the container, when a later step fails. */
static void detach_ours(struct lc *lc, const struct args *a, int pidfd, struct pvol *v, size_t n)
{
	_cleanup_free_ struct ns_unmount *u = calloc(n + 1, sizeof(*u));
	_cleanup_free_ size_t *order = NULL;
	size_t k = 0;

	if (!u || depth_order(v, n, true, &order) < 0)
		return;
	/* Children first. */
	for (size_t j = 0; j < n; j++) {
		size_t i = order[j];

		if (v[i].mnt_id)
			u[k++] =
			    (struct ns_unmount){ .target = v[i].target, .mnt_id = v[i].mnt_id };
	}
	/* Recorded before attaching: "nothing of ours there" is the normal answer for some. */
	if (k && ns_detach(pidfd, a->rootfs ? a->rootfs : "/", u, k, lc->g->timeout_other_ms) < 0)
		for (size_t j = 0; j < k; j++)
			if (u[j].result < 0 && u[j].result != -ESRCH && u[j].result != -ENOENT &&
			    u[j].result != -ESTALE)
				lc_fail(lc, "detaching '%s' again: %s", u[j].target,
					strerror(-u[j].result));
}

static void print_result(const struct args *a, struct pvol *v, size_t n)
{
	_cleanup_json_ json_object *out = json_object_new_object();
	json_object *vols = json_object_new_array(), *binds = json_object_new_array();
	_cleanup_free_ json_object **bind = calloc(n + 1, sizeof(*bind));
	_cleanup_free_ size_t *order = NULL;

	json_object_object_add(out, "container_id", json_object_new_string(a->cid));
	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		bool ro = v[i].sv->mode == SPEC_RO || v[i].attrs.readonly;

		json_object_object_add(o, "driver", json_object_new_string(v[i].sv->driver));
		json_object_object_add(o, "name", json_object_new_string(v[i].sv->name));
		json_object_object_add(o, "mode",
				       json_object_new_string(spec_mode_to_string(v[i].sv->mode)));
		json_object_object_add(o, "host_path", json_object_new_string(v[i].host_path));
		json_object_object_add(o, "container_path",
				       json_object_new_string(v[i].sv->container_path));
		json_object_object_add(o, "target", json_object_new_string(v[i].where));
		json_object_object_add(o, "attached", json_object_new_boolean(a->pid != 0));
		json_object_object_add(o, "mount_id", json_object_new_string(v[i].mount_id));
		json_object_object_add(o, "readonly", json_object_new_boolean(ro));
		json_object_array_add(vols, o);
		if (!a->pid) {
			json_object *b = json_object_new_object();

			json_object_object_add(b, "source", json_object_new_string(v[i].host_path));
			json_object_object_add(b, "target", json_object_new_string(v[i].where));
			json_object_object_add(b, "readonly", json_object_new_boolean(ro));
			json_object_object_add(b, "recursive", json_object_new_boolean(1));
			if (bind)
				bind[i] = b;
			else
				json_object_array_add(binds, b);
		}
	}
	/* In the order the containerizer must perform them: parents first. */
	if (bind && !a->pid) {
		bool sorted = depth_order(v, n, false, &order) == 0;

		for (size_t k = 0; k < n; k++)
			json_object_array_add(binds, bind[sorted ? order[k] : k]);
	}
	json_object_object_add(out, "volumes", vols);
	if (a->pid)
		json_object_put(binds);
	else
		json_object_object_add(out, "bind_mounts", binds);
	printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
	fflush(stdout);
}

/*
 * Undo this prepare: users removed, volumes nobody else uses Unmounted, record
 * gone; durable is whether the record was written durably (as cleanup's).
 */
static void undo(struct lc *lc, struct pvol *v, size_t n, bool durable)
{
	_cleanup_free_ const char **keys = calloc(n + 1, sizeof(*keys));
	unsigned sent = lc->unmounts_sent;

	if (!keys)
		return;
	for (size_t i = 0; i < n; i++) {
		keys[i] = v[i].key;
		/* After a failed Mount no Unmount is sent: nor for one never asked for. */
		if (v[i].entry && v[i].needs_mount && !v[i].mount_tried) {
			state_vol_apply(v[i].entry, STATE_VOL_MOUNT_REFUSED);
			lc_clear_in_flight(v[i].entry);
			state_volume_save(lc->st, v[i].key, v[i].entry);
		}
		state_user_remove(lc->st, v[i].key, lc->cid);
	}
	lc->release_volatile = !durable;
	lc_release_unused(lc, keys, n);
	lc->release_volatile = false;
	state_container_remove_flags(lc->st, lc->cid,
				     durable || lc->unmounts_sent != sent ? STATE_DURABLE : 0);
}

static int run(struct lc *lc, struct args *a)
{
	_cleanup_spec_ struct spec *spec = NULL;
	_cleanup_(pvols_free) struct pvols pv = { 0 };
	struct pvol *v;
	_cleanup_free_ const char **keys = NULL;
	_cleanup_(state_unlockp) struct state_locks *locks = NULL;
	_cleanup_json_ json_object *existing = NULL;
	_cleanup_close_ int pidfd = -EBADF;
	char cwd[PATH_MAX], link[64];
	const char *sandbox = a->sandbox;
	unsigned long long start = 0;
	int cfd = -EBADF, r, failed = 0;
	bool durable = false;
	size_t n;

	if (check_caller(lc) < 0)
		return -EACCES;
	r = check_caller_owns(lc, a);
	if (r < 0) {
		lc->denied = true;
		return r;
	}
	r = read_spec(lc, a->volumes, &spec);
	if (r < 0)
		return r;
	n = spec->n;
	pv.v = v = calloc(n + 1, sizeof(*v));
	keys = calloc(n + 1, sizeof(*keys));
	if (!v || !keys)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i].tree_fd = v[i].target_fd = -EBADF;
	pv.n = n;

	if (a->pid) {
		r = ns_pidfd_open(a->pid, 0, &pidfd, &start);
		if (r < 0) {
			lc_fail(lc, "process %d: %s", (int)a->pid,
				r == -ESRCH ? "no such process" : strerror(-r));
			return r;
		}
		/* The sandbox defaults to the process's working directory. */
		snprintf(link, sizeof(link), "/proc/%d/cwd", (int)a->pid);
		ssize_t len = sandbox || a->rootfs ? -1 : readlink(link, cwd, sizeof(cwd) - 1);

		if (len > 0) {
			cwd[len] = '\0';
			sandbox = cwd;
		}
	}

	/* Everything the policy can judge before a plugin hears of it. */
	for (size_t i = 0; i < n; i++) {
		struct policy_volume_req req;
		struct policy_denial d;
		const struct policy_option *forced;
		size_t n_forced = policy_forced_options(lc->policy, spec->v[i].driver, &forced);
		struct spec_volume *sv = &spec->v[i];

		v[i].sv = sv;
		r = state_volume_key(sv->driver, sv->name, v[i].key);
		if (r < 0) {
			lc_fail(lc, "volume %zu ('%s'): driver and name too long", sv->index,
				sv->name);
			return r;
		}
		keys[i] = v[i].key;
		r = compute_target(lc, a, sandbox, &v[i]);
		if (r < 0)
			return r;
		v[i].opts = calloc(sv->n_opts + n_forced + 1, sizeof(*v[i].opts));
		if (!v[i].opts)
			return -ENOMEM;
		for (size_t j = 0; j < sv->n_opts; j++)
			v[i].opts[v[i].n_opts++] =
			    (struct plugin_opt){ sv->opts[j].key, sv->opts[j].value };
		req = (struct policy_volume_req){
			.driver = sv->driver,
			.name = sv->name,
			.options = (const struct policy_option *)v[i].opts,
			.n_options = v[i].n_opts,
			.mode = sv->mode == SPEC_RO ? POLICY_MODE_RO : POLICY_MODE_RW,
			.container_path = sv->container_path,
			.target = v[i].target,
			.n_volumes = n,
		};
		if (policy_check_volume(lc->policy, &req, &d) < 0) {
			lc_fail(lc, "volume %zu ('%s' of driver '%s'): denied by %s: %s", sv->index,
				sv->name, sv->driver, d.rule, d.reason);
			lc->denied = true;
			continue;
		}
		for (size_t j = 0; j < n_forced; j++)
			v[i].opts[v[i].n_opts++] =
			    (struct plugin_opt){ forced[j].key, forced[j].value };
	}
	if (lc->n_failures)
		return -EACCES;
	/* Before any plugin call too: where each volume really lands. */
	r = resolve_targets(lc, a, pidfd, v, NULL, n);
	if (r < 0)
		return r;
	/* Caller paths and targets opened: CAP_CHOWN is for --user only. */
	r = caps_drop("resolved", a->chown ? 0 : CAPS(CAP_CHOWN));
	if (r < 0) {
		lc_fail(lc, "cannot drop capabilities: %s", strerror(-r));
		return r;
	}

	r = state_lock_container(lc->st, a->cid, &cfd);
	if (r < 0) {
		lc_fail(lc, "cannot lock the record: %s", strerror(-r));
		return r;
	}
	r = state_container_load(lc->st, a->cid, &existing, NULL);
	if (r != -ENOENT) {
		if (r == 0)
			lc_fail(lc, "already prepared (phase '%s'): run cleanup first",
				lc_json_str(existing, "phase"));
		else
			lc_fail(lc, "an unreadable record exists: run recover or cleanup first");
		state_unlock_container(lc->st, cfd);
		return -EEXIST;
	}
	/*
	 * The intent, before any plugin call: a killed run leaves recover
	 * something to undo. Not durable yet: the one durable write comes once
	 * the mount ids are known (a power cut before it lost no Mount).
	 */
	r = save_record(lc, a, start, "preparing", &pv, false, 0);
	if (r < 0) {
		lc_fail(lc, "cannot write the record: %s", strerror(-r));
		state_unlock_container(lc->st, cfd);
		return r;
	}
	lc_crash_point("after-intent");
	r = n ? state_lock_volumes(lc->st, keys, n, &locks) : 0;
	if (r < 0) {
		lc_fail(lc, "cannot lock the volumes: %s", strerror(-r));
		goto fail;
	}
	r = plan_mounts(lc, v, n);
	if (r < 0)
		goto fail;
	lc_crash_point("after-users");
	for (size_t i = 0; i < n; i++)
		durable |= v[i].needs_mount;
	/*
	 * The operation's one durable write: every mount id this prepare may
	 * make the plugin hold, before any Mount under it (state.h). With no
	 * Mount planned (every volume reused) there is none to write: the
	 * mount ids reused are proven durably already, and a power cut kills
	 * this container too. Nor a second write of the intent: a kill here
	 * is one at "after-users".
	 */
	if (durable) {
		r = save_record(lc, a, start, "preparing", &pv, true, STATE_DURABLE);
		if (r < 0) {
			lc_fail(lc, "cannot write the record: %s", strerror(-r));
			goto fail;
		}
	}
	lc_crash_point("after-durable-intent");
	failed = do_mounts(lc, v, n);
	if (failed == 0)
		failed = check_mountpoints(lc, a, v, n);
	/*
	 * Mountpoints checked, chowned, their trees open: CAP_CHOWN is done;
	 * without --pid nothing is mounted or entered from here on.
	 */
	if (failed == 0 &&
	    caps_drop("mounted",
		      CAPS(CAP_CHOWN) | (a->pid ? 0
						: CAPS(CAP_SYS_ADMIN) | CAPS(CAP_SYS_CHROOT) |
						      CAPS(CAP_SYS_PTRACE))) < 0) {
		lc_fail(lc, "cannot drop capabilities");
		failed++;
	}
	/* What will be attached where, before it is: a crash leaves cleanup the ids. */
	/* It replaces the durable record: never by an empty file (state.h). */
	if (failed == 0 && a->pid) {
		r = save_record(lc, a, start, "preparing", &pv, durable,
				durable ? STATE_DATA_SYNC : 0);
		if (r < 0) {
			lc_fail(lc, "cannot write the record: %s", strerror(-r));
			failed++;
		}
	}
	lc_crash_point("before-attach");
	if (failed == 0)
		failed = a->pid ? attach(lc, a, pidfd, v, n) : 0;
	lc_crash_point("after-attach");
	if (failed)
		goto fail;
	/*
	 * Not durable: a power cut kills the container, and recover undoes
	 * "preparing". Its data is synced: an empty file must not replace the
	 * durable "preparing" record (state.h); there is none to protect when
	 * no Mount was planned.
	 */
	r = save_record(lc, a, start, "prepared", &pv, durable, durable ? STATE_DATA_SYNC : 0);
	if (r < 0) {
		lc_fail(lc, "cannot write the record: %s", strerror(-r));
		goto fail;
	}
	lc_crash_point("after-commit");
	/* Committed: no undo can need a mount, the namespace or /proc/PID again. */
	r = caps_drop("attached", CAPS(CAP_SYS_ADMIN) | CAPS(CAP_SYS_CHROOT) |
				      CAPS(CAP_SYS_PTRACE) | CAPS(CAP_CHOWN));
	state_unlock(TAKE_PTR(locks));
	state_unlock_container(lc->st, cfd);
	/* Nothing left needs root's identity either: no root-owned file, no signal. */
	if (r == 0)
		r = caps_leave_root();
	if (r == 0)
		r = caps_drop("committed", CAPS(CAP_DAC_OVERRIDE));
	if (r < 0)
		lc_fail(lc, "cannot drop capabilities: %s", strerror(-r));
	print_result(a, v, n);
	return 0;

fail:
	/* A failed attach undid itself (all or nothing); a later failure needs this. */
	if (a->pid)
		detach_ours(lc, a, pidfd, v, n);
	if (!locks && n)
		state_lock_volumes(lc->st, keys, n, &locks);
	undo(lc, v, n, durable);
	state_unlock(TAKE_PTR(locks));
	state_unlock_container(lc->st, cfd);
	return -EIO;
}

int cmd_prepare(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	struct args a = { .rootfs_fd = -EBADF };
	struct lc lc;
	int r;

	r = parse_args(argc, argv, &a, err);
	if (r != 0)
		return r < 0 ? r : 0;
	r = lc_open(g, true, &lc);
	lc.cid = a.cid;
	if (r == 0) {
		/* The policy decides which plugin sockets to trust. */
		plugin_client_set_owner_check(lc.pc, policy_owner_check, &lc);
		r = run(&lc, &a);
		if (r < 0 && !lc.n_failures)
			lc_fail(&lc, "prepare failed: %s", strerror(-r));
	}
	r = lc_report(&lc, err);
	lc_close(&lc);
	if (a.rootfs_fd >= 0)
		close(a.rootfs_fd);
	audit_log("op=dvmount-prepare container=%s auid=%u pid=%d res=%s", a.cid,
		  (unsigned)getuid(), (int)a.pid,
		  err->kind == DV_ERROR_NONE	 ? "success"
		  : err->kind == DV_ERROR_DENIED ? "denied"
						 : "failed");
	/* As before the carrier: a failure with nothing more to say. */
	if (caps_drop("done", CAPS_KEPT) < 0 && r == 0)
		r = dv_said(err, DV_ERROR_FAIL);
	return r;
}
