/* SPDX-License-Identifier: MIT */
/*
 * The shared half of prepare/cleanup/recover: reference counts kept as one
 * entry per (volume, container), the plugin Unmount at the last user, and a
 * cleanup that never lets a failed Unmount pin the count of others
 * (MESOS-10126).
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/jsonutil.h"
#include "helper/audit.h"
#include "helper/lifecycle.h"
#include "ns/mountpoint.h"
#include "ns/ns.h"

struct policy *lc_limits_policy(const struct globals *g)
{
	struct policy *p = NULL;
	struct policy_error err;

	return policy_load(g->policy_file, NULL, &p, &err) == 0 ? p : NULL;
}

static unsigned policy_limit(const char *driver, void *userdata)
{
	return policy_max_in_flight(userdata, driver);
}

/* The client, its max-in-flight from limit(driver, userdata), its slot dir from st's. */
static int plugin_client_limited(const struct globals *g, struct state *st,
				 unsigned (*limit)(const char *driver, void *userdata),
				 void *userdata, struct plugin_client **ret)
{
	_cleanup_(plugin_client_freep) struct plugin_client *pc = NULL;
	_cleanup_state_ struct state *own = NULL;
	_cleanup_close_ int fd = -EBADF;
	struct plugin_config cfg;
	int r;

	globals_plugin_config(g, &cfg);
	cfg.max_in_flight_for = limit;
	cfg.limit_userdata = userdata;
	r = plugin_client_new(&cfg, &pc);
	if (r < 0)
		return r;
	if (!st && state_open(g->state_dir, &own) == 0)
		st = own;
	/* Without the slot dir the limit still holds within this process. */
	if (st && state_slot_dir(st, &fd) == 0)
		plugin_client_set_slot_dir(pc, fd);
	*ret = TAKE_PTR(pc);
	return 0;
}

int lc_plugin_client(const struct globals *g, struct state *st, const struct policy *policy,
		     struct plugin_client **ret)
{
	return plugin_client_limited(g, st, policy_limit, (void *)policy, ret);
}

/*
 * A command that needs no policy decision reads the policy only for a
 * plugin's max-in-flight, and only when it makes a call that is limited:
 * status, and a cleanup whose volumes other containers still use, read no
 * policy file at all.
 */
static unsigned lazy_policy_limit(const char *driver, void *userdata)
{
	struct lc *lc = userdata;

	if (!lc->limits_tried) {
		lc->limits = lc_limits_policy(lc->g);
		lc->limits_tried = true;
	}
	return policy_max_in_flight(lc->limits, driver);
}

int lc_open(struct globals *g, bool with_policy, struct lc *ret)
{
	int r;

	*ret = (struct lc){ .g = g };
	if (mkdir(g->state_dir, 0700) < 0 && errno != EEXIST) {
		lc_fail(ret, "cannot create the state dir '%s': %s", g->state_dir, strerror(errno));
		return -errno;
	}
	r = state_open(g->state_dir, &ret->st);
	/* dvdcli's use has no record: its entry counts by name (state.h). */
	if (r == 0)
		state_pin_user(ret->st, LC_DVDCLI_USER);
	if (r < 0) {
		lc_fail(ret, "cannot open the state dir '%s': %s", g->state_dir,
			r == -EPERM ? "not owned by root, a symlink, or group/world writable"
				    : strerror(-r));
		return r;
	}
	if (with_policy) {
		struct policy_error err;

		r = policy_load(g->policy_file, NULL, &ret->policy, &err);
		if (r < 0) {
			if (err.line)
				lc_fail(ret, "%s:%u:%u: %s", err.file, err.line, err.column,
					err.message);
			else
				lc_fail(ret, "%s", err.message);
			/* No policy file: nothing is allowed. */
			ret->denied = r == -ENOENT || r == -EPERM;
			return r;
		}
	}
	if (with_policy)
		r = lc_plugin_client(g, ret->st, ret->policy, &ret->pc);
	else
		r = plugin_client_limited(g, ret->st, lazy_policy_limit, ret, &ret->pc);
	if (r < 0) {
		lc_fail(ret, "cannot start the plugin client: %s", strerror(-r));
		return r;
	}
	return 0;
}

void lc_close(struct lc *lc)
{
	plugin_client_free(lc->pc);
	state_close(lc->st);
	if (lc->view_pidfd_1 > 0)
		close(lc->view_pidfd_1 - 1);
	policy_free(lc->policy);
	policy_free(lc->limits);
	for (size_t i = 0; i < lc->n_failures; i++)
		free(lc->failures[i]);
	*lc = (struct lc){ 0 };
}

void lc_fail(struct lc *lc, const char *fmt, ...)
{
	char *line;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (r < 0)
		return;
	if (lc->n_failures == LC_FAILURES_MAX) {
		free(line);
		return;
	}
	lc->failures[lc->n_failures++] = line;
}

int lc_report(struct lc *lc, struct dv_error *err)
{
	enum dv_error_kind kind = lc->denied ? DV_ERROR_DENIED : DV_ERROR_FAIL;
	size_t n = lc->n_failures;
	/* The carrier's line is the last one; a carrier already holding one takes none. */
	bool printed_all = err->kind != DV_ERROR_NONE;
	bool more = n == LC_FAILURES_MAX;

	if (!n)
		return lc->denied ? dv_said(err, kind) : 0;
	for (size_t i = 0; i < n; i++) {
		if (i == n - 1 && !more && !printed_all)
			break;
		if (lc->cid)
			log_error(lc->g, "container '%s': %s", lc->cid, lc->failures[i]);
		else
			log_error(lc->g, "%s", lc->failures[i]);
	}
	if (printed_all) {
		if (more)
			log_error(lc->g, "(more failures not shown)");
		return dv_error_set(err, kind, 0, NULL);
	}
	if (more)
		return dv_error_set(err, kind, 0, "(more failures not shown)");
	if (lc->cid)
		return dv_error_set(err, kind, 0, "container '%s': %s", lc->cid,
				    lc->failures[n - 1]);
	return dv_error_set(err, kind, 0, "%s", lc->failures[n - 1]);
}

/*
 * Every crash point, in the order an operation meets them: the tests kill
 * dvmount at each (tests/crash_points_test.c enumerates this list through
 * DVMOUNT_CRASH_AT=list). A point not listed here is a bug: it aborts.
 */
static const char *const crash_points[] = {
	/* prepare */
	"after-intent",		/* the "preparing" record is durable, nothing else */
	"after-users",		/* its users and volume entries ("mounting"), not yet durable */
	"after-durable-intent", /* the record names every mount id: the one durable write */
	"before-mount",		/* Get/Create/Mount not yet sent */
	"after-mount",		/* the plugin answered, entries not yet updated */
	"before-attach",	/* entries and the attach plan are durable */
	"after-attach",		/* mounts attached, record still "preparing" */
	"after-commit",		/* record "prepared", locks still held */
	/* cleanup, recover's cleanups, prepare's undo */
	"cleanup-before-detach", "cleanup-after-detach",
	"cleanup-after-users",	 /* users removed, volumes not yet released */
	"before-unmount",	 /* "unmounting" durable, Unmount not yet sent */
	"after-unmount",	 /* the plugin answered, entries not yet updated */
	"after-pending-sync",	 /* a failed Unmount's entry durable, the record not removed */
	"cleanup-after-release", /* volumes released, the record not yet removed */
	/* recover */
	"recover-after-list",	/* records judged, nothing cleaned up yet */
	"recover-before-retry", /* containers done, unused volumes not yet retried */
	/* the dvdcli drop-in */
	"dvdcli-after-sync",  /* its user and "mounting" durable, Mount not yet sent */
	"dvdcli-after-mount", /* the plugin answered, the entry not yet updated */
	"dvdcli-after-unuse", /* its user removed, the volume not yet released */
};

const char *const *lc_crash_points(size_t *ret_n)
{
	*ret_n = ARRAY_SIZE(crash_points);
	return crash_points;
}

void lc_crash_point(const char *name)
{
	/* secure_getenv: a setuid run never honours it. */
	const char *at = secure_getenv("DVMOUNT_CRASH_AT");
	bool known = false;

	for (size_t i = 0; i < ARRAY_SIZE(crash_points); i++)
		known |= !strcmp(crash_points[i], name);
	if (!known)
		abort();
	if (at && !strcmp(at, name))
		raise(SIGKILL);
}

bool lc_caller_owns(const struct lc *lc, json_object *record)
{
	json_object *v;

	if (lc->g->caller_is_root)
		return true;
	v = json_object_object_get(record, "owner_uid");
	return json_object_is_type(v, json_type_int) && json_object_get_int64(v) == getuid();
}

const char *lc_json_str(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

long long lc_json_int(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : 0;
}

bool lc_json_bool(json_object *o, const char *key)
{
	return json_object_get_boolean(json_object_object_get(o, key));
}

/* Seconds on CLOCK_BOOTTIME: never stepped, counts suspend, restarts at boot. */
static long long boot_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (long long)ts.tv_sec;
}

/* This boot's id (36 characters and a newline in procfs), or "" when unreadable. */
static void boot_id(char ret[static 40])
{
	_cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, ret, 39) : -1;

	ret[n > 0 ? n : 0] = '\0';
	ret[strcspn(ret, "\n")] = '\0';
}

void lc_mark_in_flight(json_object *entry, unsigned timeout_ms)
{
	long long window = MAX(2 * (((long long)timeout_ms + 999) / 1000), LC_IN_FLIGHT_MIN_S);
	char id[40];

	boot_id(id);
	json_object_object_add(entry, "in_flight_until",
			       json_object_new_int64((long long)time(NULL) + window));
	json_object_object_add(entry, "in_flight_boot_id", json_object_new_string(id));
	json_object_object_add(entry, "in_flight_until_boottime",
			       json_object_new_int64(boot_seconds() + window));
}

void lc_clear_in_flight(json_object *entry)
{
	json_object_object_del(entry, "in_flight_until");
	json_object_object_del(entry, "in_flight_boot_id");
	json_object_object_del(entry, "in_flight_until_boottime");
}

bool lc_in_flight(json_object *entry)
{
	const char *marked = lc_json_str(entry, "in_flight_boot_id");
	char id[40];

	boot_id(id);
	if (marked && *id && !strcmp(marked, id))
		return lc_json_int(entry, "in_flight_until_boottime") > boot_seconds();
	return lc_json_int(entry, "in_flight_until") > (long long)time(NULL);
}

/*
 * Is the plugin's mountpoint for this entry not mounted? The recorded host
 * path; for a Mount that never answered, what Get (or, without Get, Path)
 * says now: a volume the plugin does not have is mounted nowhere. Not a
 * directory any more, or no longer the root of a mount, is evidence; a
 * mountpoint that was never the root of a mount (a directory inside it, as
 * REX-Ray answers) tells nothing. While a call of ours may still be under way
 * (IN_FLIGHT) only Get's "no such volume" counts: a Mount still running can
 * mount the path any moment, but not a volume the plugin does not have (our
 * Mount is sent only after Get or Create said it exists).
 */
static bool host_path_unmounted(struct lc *lc, json_object *vol, bool in_flight)
{
	_cleanup_close_ int pidfd = -EBADF;
	_cleanup_free_ char *asked = NULL;
	struct policy_mountpoint_facts f;
	struct ns_peek pk = { 0 };
	pid_t pid = 0;
	const char *hp = lc_json_str(vol, "host_path");
	json_object *root = json_object_object_get(vol, "mount_root");

	if (!hp || in_flight) {
		struct plugin_req q = { .driver = lc_json_str(vol, "driver"),
					.method = PLUGIN_GET,
					.name = lc_json_str(vol, "name") };
		bool gone;

		plugin_call_many(lc->pc, &q, 1);
		if (q.result == -EREMOTEIO && q.unsupported) {
			plugin_req_clear(&q);
			q.method = PLUGIN_PATH;
			plugin_call_many(lc->pc, &q, 1);
		}
		/*
		 * No such volume: evidence even while a Mount may run. One whose
		 * Mountpoint is empty (the protocol's Get names where a volume is
		 * mounted, nothing when it is not) only once no call of ours can
		 * be under way: a Mount still running may fill it in later. Without
		 * this a prepare killed before its Mount went out left recover
		 * failing on that volume forever (tests/crash_points_test.c).
		 */
		gone = q.method == PLUGIN_GET &&
		       (q.result == -EREMOTEIO ||
			(!in_flight && q.result == 0 && (!q.mountpoint || !*q.mountpoint)));
		if (q.result == 0 && q.mountpoint && *q.mountpoint)
			asked = TAKE_PTR(q.mountpoint);
		plugin_req_clear(&q);
		if (gone)
			return true;
		if (in_flight)
			return false;
		hp = asked;
	}
	if (!hp || *hp != '/')
		return false;
	/* As the plugin sees it: its mounts may not reach our namespace. */
	pk.path = hp;
	if (lc_plugin_view(lc, vol, lc_json_str(vol, "driver"), &pidfd, &pid) < 0 ||
	    ns_mountpoint_inspect(pidfd, &pk, 1, lc->g->timeout_other_ms, NULL, NULL, &f) < 0 ||
	    pk.result < 0)
		return false;
	if (!f.exists || !f.is_directory)
		return true;
	if (root && !json_object_get_boolean(root))
		return false;
	return !f.is_mount_point;
}

/*
 * The rule for dropping an entry whose Unmount failed (DESIGN.md "State"):
 * only on evidence that the plugin holds nothing. A refusal is the plugin's
 * word about this ID; a timeout, a cut connection or a call never sent is no
 * word at all. A Mount or Unmount of ours that timed out may still be running
 * in the plugin (its Unmount then overtook it) while lc_in_flight() says so;
 * so may a Mount whose sender was killed mid-call (the mark is written with
 * the intent, before the Mount goes out).
 */
static bool plugin_holds_nothing(struct lc *lc, json_object *vol, const struct plugin_req *q)
{
	if (q->result != -EREMOTEIO || q->unsupported)
		return false;
	return host_path_unmounted(lc, vol, lc_in_flight(vol));
}

/* Load (or start) each entry and read its state: held[i] when a mount may be live. */
static int acquire_load(struct lc *lc, struct lc_acquire *a, size_t n, json_object **held)
{
	int r;

	for (size_t i = 0; i < n; i++) {
		enum state_vol s;

		r = state_volume_load(lc->st, a[i].key, &a[i].entry);
		if (r == 0)
			r = state_volume_is(a[i].entry, a[i].driver, a[i].name);
		else if (r == -ENOENT)
			r = state_volume_new(a[i].driver, a[i].name, &a[i].entry);
		if (r == 0)
			r = state_vol_get(a[i].entry, &s);
		if (r == 0)
			r = state_volume_mount_id(a[i].entry, a[i].mount_id);
		if (r < 0) {
			lc_fail(lc, "volume '%s' of driver '%s': state entry '%s': %s", a[i].name,
				a[i].driver, a[i].key,
				r == -EBADMSG || r == -EFBIG
				    ? "unreadable (empty or corrupt), set aside in quarantine/"
				    : strerror(-r));
			return r;
		}
		if (state_vol_held(s))
			held[i] = a[i].entry;
	}
	return 0;
}

int lc_acquire(struct lc *lc, struct lc_acquire *a, size_t n, const char *user)
{
	_cleanup_free_ json_object **held = calloc(n + 1, sizeof(*held));
	_cleanup_free_ int *alive = calloc(n + 1, sizeof(*alive));
	int r;

	if (!held || !alive)
		return -ENOMEM;
	r = acquire_load(lc, a, n, held);
	if (r < 0)
		return r;
	/* Still there, as each plugin sees it: all volumes in one look per plugin. */
	r = lc_volumes_live(lc, held, n, alive);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		int live = alive[i];
		bool changed;

		if (live < 0) {
			char why[LC_VIEW_ERR_MAX];

			lc_fail(lc, "volume '%s' of driver '%s': mountpoint '%s': %s", a[i].name,
				a[i].driver, lc_json_str(a[i].entry, "host_path"),
				lc_view_strerror(lc, live, why));
			return live;
		}
		if (live) {
			/* In use on this host already: no second plugin Mount. */
			a[i].host_path = strdup(lc_json_str(a[i].entry, "host_path"));
			if (!a[i].host_path)
				return -ENOMEM;
			r = state_vol_apply(a[i].entry, STATE_VOL_REUSE);
		} else {
			enum state_vol s = STATE_VOL_IDLE;
			bool died;

			r = 0;
			/*
			 * Mounting, with the volume lock ours: an earlier run died
			 * around its Mount, or its Mount timed out. Until no such
			 * call can still be under way, an Unmount could overtake it
			 * and the Mount finish with nobody to release it; after, it
			 * happened or never will: released and renewed like a mount
			 * that went away. A second Mount under the same id is
			 * refused by a plugin that counts ids, and the first one
			 * forgotten (tests/crash_points_test.c).
			 */
			state_vol_get(a[i].entry, &s);
			died = s == STATE_VOL_MOUNTING;
			if (died && lc_in_flight(a[i].entry)) {
				lc_fail(lc,
					"volume '%s' of driver '%s': a Mount of an earlier run may "
					"still be under way in the plugin; try again later",
					a[i].name, a[i].driver);
				return -EBUSY;
			}
			if (held[i] || died) {
				/* Gone underneath us (a plugin restart, a reboot): mount afresh. */
				struct plugin_req q = { .driver = a[i].driver,
							.method = PLUGIN_UNMOUNT,
							.name = a[i].name,
							.id = a[i].mount_id };

				plugin_call_many(lc->pc, &q, 1);
				plugin_req_clear(&q);
				memcpy(a[i].renewed_from, a[i].mount_id, sizeof(a[i].renewed_from));
				r = state_vol_apply(a[i].entry, STATE_VOL_RENEW);
				if (r >= 0)
					r = state_volume_mount_id(a[i].entry, a[i].mount_id);
			}
			a[i].needs_mount = true;
			/*
			 * A crash from here on leaves a Mount that may have happened,
			 * or may still happen (the plugin goes on with a call whose
			 * sender died): say so, and for how long.
			 */
			if (r >= 0)
				r = state_vol_apply(a[i].entry, STATE_VOL_MOUNT_BEGIN);
			if (r >= 0)
				lc_mark_in_flight(a[i].entry, lc->g->timeout_mount_ms);
		}
		changed = r > 0 || a[i].needs_mount;
		if (r >= 0)
			r = state_user_add(lc->st, a[i].key, user);
		/* No rewrite of an entry that did not change (a reuse, the common case). */
		if (r == 0 && changed)
			r = state_volume_save(lc->st, a[i].key, a[i].entry);
		if (r < 0) {
			lc_fail(lc, "volume '%s': cannot record its use: %s", a[i].name,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

void lc_acquire_mounted(struct lc *lc, json_object *entry, const struct plugin_mount *m,
			int call_result)
{
	if (call_result == 0 && m->result == 0) {
		state_vol_apply(entry, STATE_VOL_MOUNT_DONE);
		lc_clear_in_flight(entry);
		json_object_object_add(entry, "host_path", json_object_new_string(m->mountpoint));
	} else if (call_result < 0 || !m->mount_sent || !lc_mount_uncertain(m->result)) {
		/* The plugin's refusal (or no call at all): no Mount happened, none to undo. */
		state_vol_apply(entry, STATE_VOL_MOUNT_REFUSED);
		lc_clear_in_flight(entry);
	} else {
		/*
		 * A timeout or a cut connection: it may still happen, so the entry
		 * stays "mounting" and the release sends an Unmount.
		 */
		lc_mark_in_flight(entry, lc->g->timeout_mount_ms);
	}
}

static bool unmount_refused(const struct lc *lc, const char *key)
{
	for (size_t i = 0; i < lc->n_unmount_refused; i++)
		if (!strcmp(lc->unmount_refused[i], key))
			return true;
	return false;
}

int lc_release_unused(struct lc *lc, const char *const *keys, size_t n)
{
	_cleanup_free_ struct plugin_req *q = calloc(n + 1, sizeof(*q));
	_cleanup_free_ json_object **vol = calloc(n + 1, sizeof(*vol));
	_cleanup_free_ size_t *idx = calloc(n + 1, sizeof(*idx));
	char(*ids)[STATE_MOUNT_ID_LEN + 1] = calloc(n + 1, sizeof(*ids));
	/* Entries other users still hold, to be made durable: state.h. */
	_cleanup_free_ json_object **kept = calloc(n + 1, sizeof(*kept));
	_cleanup_free_ const char **kept_keys = calloc(n + 1, sizeof(*kept_keys));
	size_t k = 0, n_kept = 0;
	int r, failed = 0;

	if (!q || !vol || !idx || !ids || !kept || !kept_keys) {
		free(ids);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		enum state_vol s;

		/* Entries without a record go here: they never keep a volume mounted. */
		r = state_user_prune(lc->st, keys[i]);
		if (r > 0 && !lc->release_volatile) {
			/*
			 * Still used, and the caller's durable record, whose
			 * removal follows, may be the one durable proof of its
			 * mount id: the users left may have none (an attach-only
			 * prepare writes no durable record). Durable first.
			 */
			r = state_volume_load(lc->st, keys[i], &kept[n_kept]);
			if (r == 0)
				kept_keys[n_kept++] = keys[i];
			else if (r != -ENOENT) {
				lc_fail(lc, "volume entry '%s' unreadable: %s", keys[i],
					strerror(-r));
				failed++;
			}
			continue;
		}
		if (r != 0)
			continue;
		/* Refused earlier in this run (recover's sweep after its cleanups): the next run's.
		 */
		if (unmount_refused(lc, keys[i]))
			continue;
		r = state_volume_load(lc->st, keys[i], &vol[k]);
		if (r == -ENOENT) {
			/* Only its lock and users dir (a crash before the entry): tidy them. */
			state_volume_remove(lc->st, keys[i]);
			continue;
		}
		if (r < 0) {
			lc_fail(lc, "volume entry '%s' unreadable: %s", keys[i], strerror(-r));
			failed++;
			continue;
		}
		r = state_vol_get(vol[k], &s);
		if (r < 0) {
			lc_fail(lc, "volume entry '%s' has no state we can read", keys[i]);
			json_object_put(vol[k]);
			vol[k] = NULL;
			failed++;
			continue;
		}
		if (s == STATE_VOL_IDLE) {
			/* Never mounted (a prepare that failed before Mount): just forget it. */
			state_volume_remove(lc->st, keys[i]);
			json_object_put(vol[k]);
			vol[k] = NULL;
			continue;
		}
		if (state_volume_mount_id(vol[k], ids[k]) < 0) {
			lc_fail(lc, "volume entry '%s' has no valid mount id", keys[i]);
			json_object_put(vol[k]);
			vol[k] = NULL;
			failed++;
			continue;
		}
		/* Said before the call: a crash after it leaves an Unmount that may have happened.
		 */
		r = state_vol_apply(vol[k], STATE_VOL_UNMOUNT_BEGIN);
		/* Renamed into place at the commit below: one sync for all (state.h). */
		if (r > 0)
			r = state_volume_save_flags(lc->st, keys[i], vol[k], STATE_BATCH);
		if (r < 0) {
			lc_fail(lc, "volume entry '%s' not saved: %s", keys[i], strerror(-r));
			json_object_put(vol[k]);
			vol[k] = NULL;
			failed++;
			continue;
		}
		q[k] = (struct plugin_req){ .driver = lc_json_str(vol[k], "driver"),
					    .method = PLUGIN_UNMOUNT,
					    .name = lc_json_str(vol[k], "name"),
					    .id = ids[k] };
		idx[k++] = i;
	}
	r = state_volume_save_durable(lc->st, kept_keys, kept, n_kept);
	for (size_t j = 0; j < n_kept; j++)
		json_object_put(kept[j]);
	if (r < 0) {
		lc_fail(lc, "volumes still in use not made durable: %s", strerror(-r));
		failed++;
	}
	/* "unmounting" said before the calls, of every volume at once. */
	r = state_volume_commit(lc->st);
	if (r < 0) {
		lc_fail(lc, "volume entries not saved before their Unmount: %s", strerror(-r));
		for (size_t j = 0; j < k; j++)
			json_object_put(vol[j]);
		free(ids);
		return failed + 1;
	}
	lc_crash_point("before-unmount");
	lc->unmounts_sent += k;
	r = k ? plugin_call_many(lc->pc, q, k) : 0;
	if (r < 0) {
		/*
		 * Kept, and maybe named by no record once the caller's goes:
		 * durable now, and marked, so that the run that releases them
		 * later removes them durably too (state.h); all at once.
		 */
		for (size_t j = 0; j < k; j++)
			kept_keys[j] = keys[idx[j]];
		state_volume_save_durable(lc->st, kept_keys, vol, k);
		for (size_t j = 0; j < k; j++)
			json_object_put(vol[j]);
		free(ids);
		return r;
	}
	lc_crash_point("after-unmount");
	for (size_t j = 0; j < k; j++) {
		const char *key = keys[idx[j]];

		if (q[j].result == 0) {
			r = state_volume_remove_flags(lc->st, key, STATE_BATCH);
			if (r < 0) {
				lc_fail(lc, "volume entry '%s' not removed: %s", key, strerror(-r));
				failed++;
			}
		} else if (plugin_holds_nothing(lc, vol[j], &q[j])) {
			/* Said once: the entry is gone, later runs have nothing to retry. */
			r = state_volume_remove_flags(lc->st, key, STATE_BATCH);
			log_warn(lc->g,
				 "volume '%s' of driver '%s': the plugin refused the Unmount "
				 "(%s) and its mountpoint is not mounted: it holds nothing; "
				 "entry released",
				 lc_json_str(vol[j], "name"), lc_json_str(vol[j], "driver"),
				 q[j].err);
			if (r < 0) {
				lc_fail(lc, "volume entry '%s' not removed: %s", key, strerror(-r));
				failed++;
			}
		} else {
			bool in_flight = lc_in_flight(vol[j]);

			/* Keep the entry: recover retries; other users are never held up. */
			if (lc_mount_uncertain(q[j].result))
				lc_mark_in_flight(vol[j], lc->g->timeout_other_ms);
			state_vol_apply(vol[j], STATE_VOL_UNMOUNT_FAILED);
			json_object_object_add(vol[j], "last_error",
					       json_object_new_string(q[j].err));
			/*
			 * Durable now, before the caller's record removal is: after
			 * that no record names this mount id (state.h).
			 */
			state_volume_save_durable(lc->st, &key, &vol[j], 1);
			lc_crash_point("after-pending-sync");
			if (lc->n_unmount_refused < ARRAY_SIZE(lc->unmount_refused))
				snprintf(lc->unmount_refused[lc->n_unmount_refused++],
					 STATE_KEY_MAX, "%s", key);
			lc_fail(lc, "%s (kept for retry%s)", q[j].err,
				in_flight && q[j].result == -EREMOTEIO
				    ? ": a call that timed out may still be under way in the plugin"
				    : "");
			failed++;
		}
		plugin_req_clear(&q[j]);
		json_object_put(vol[j]);
	}
	/* The removals above, durable at once, before the caller's record goes. */
	r = state_volume_commit(lc->st);
	if (r < 0) {
		lc_fail(lc, "volume entries released but their removal not synced: %s",
			strerror(-r));
		failed++;
	}
	free(ids);
	return failed;
}

int lc_plugin_view(struct lc *lc, json_object *entry, const char *driver, int *ret_pidfd,
		   pid_t *ret_pid)
{
	long long pid = lc_json_int(entry, "plugin_pid");
	long long start = lc_json_int(entry, "plugin_start");
	unsigned long long now = 0;
	pid_t cur = 0;
	int r;

	/* Every volume of a plugin names the same process: open it once. */
	if (pid > 0 && pid == lc->view_pid && (unsigned long long)start == lc->view_start &&
	    lc->view_pidfd_1 > 0) {
		*ret_pidfd = fcntl(lc->view_pidfd_1 - 1, F_DUPFD_CLOEXEC, 3);
		if (*ret_pidfd < 0)
			return negerrno();
		*ret_pid = (pid_t)pid;
		return 0;
	}
	if (pid > 0 && pid <= INT32_MAX && start > 0 &&
	    ns_pidfd_open((pid_t)pid, (unsigned long long)start, ret_pidfd, NULL) == 0) {
		int keep = fcntl(*ret_pidfd, F_DUPFD_CLOEXEC, 3);

		if (keep >= 0) {
			if (lc->view_pidfd_1 > 0)
				close(lc->view_pidfd_1 - 1);
			lc->view_pidfd_1 = keep + 1;
			lc->view_pid = (pid_t)pid;
			lc->view_start = (unsigned long long)start;
		}
		*ret_pid = (pid_t)pid;
		return 0;
	}
	r = plugin_peer_view(lc->pc, driver, ret_pidfd, &cur, &now);
	if (r < 0)
		return r;
	*ret_pid = cur;
	if (*ret_pidfd < 0) {
		json_object_object_del(entry, "plugin_pid");
		json_object_object_del(entry, "plugin_start");
		return 0;
	}
	json_object_object_add(entry, "plugin_pid", json_object_new_int64(cur));
	json_object_object_add(entry, "plugin_start", json_object_new_int64((int64_t)now));
	return 0;
}

bool lc_same_plugin_view(json_object *entry, json_object *prev)
{
	long long pid, start;

	if (!entry || !prev)
		return false;
	pid = lc_json_int(entry, "plugin_pid");
	start = lc_json_int(entry, "plugin_start");
	return pid > 0 && start > 0 && pid == lc_json_int(prev, "plugin_pid") &&
	       start == lc_json_int(prev, "plugin_start");
}

const char *lc_view_strerror(const struct lc *lc, int r, char buf[static LC_VIEW_ERR_MAX])
{
	switch (r) {
	case -ETIMEDOUT:
		snprintf(buf, LC_VIEW_ERR_MAX,
			 "its filesystem did not answer within %.1f s (--timeout): a hung volume?",
			 lc->g->timeout_other_ms / 1000.0);
		break;
	case -ESRCH:
		snprintf(buf, LC_VIEW_ERR_MAX,
			 "the plugin's process cannot be seen from here, so what is there "
			 "cannot be proven to be the plugin's mount: not attached");
		break;
	case -EXDEV:
		snprintf(buf, LC_VIEW_ERR_MAX,
			 "the plugin's mount is not what dvmount's mount namespace shows there "
			 "(its mounts do not propagate here): use --pid, or run dvmount where "
			 "the plugin's mounts are seen");
		break;
	default:
		snprintf(buf, LC_VIEW_ERR_MAX, "%s", strerror(-r));
	}
	return buf;
}

int lc_check_own_view(struct lc *lc, const struct ns_peek *plugin_view)
{
	struct ns_peek pk = { .path = plugin_view->path };
	struct policy_mountpoint_facts f;
	int r;

	r = ns_mountpoint_inspect(-EBADF, &pk, 1, lc->g->timeout_other_ms, NULL, NULL, &f);
	if (r == 0)
		r = pk.result;
	if (r < 0)
		return r;
	if (!f.is_directory || pk.dev != plugin_view->dev || pk.ino != plugin_view->ino)
		return -EXDEV;
	return 0;
}

int lc_volumes_live(struct lc *lc, json_object *const *entries, size_t n, int *ret_live)
{
	_cleanup_free_ struct ns_peek *pk = calloc(n + 1, sizeof(*pk));
	_cleanup_free_ struct policy_mountpoint_facts *f = calloc(n + 1, sizeof(*f));
	_cleanup_free_ size_t *idx = calloc(n + 1, sizeof(*idx));
	_cleanup_free_ int *pidfd = calloc(n + 1, sizeof(*pidfd));
	_cleanup_free_ pid_t *pid = calloc(n + 1, sizeof(*pid));
	json_object *with_fd = NULL;
	int r;

	if (!pk || !f || !idx || !pidfd || !pid)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *hp = entries[i] ? lc_json_str(entries[i], "host_path") : NULL;
		const char *driver = entries[i] ? lc_json_str(entries[i], "driver") : NULL;

		pidfd[i] = -EBADF;
		ret_live[i] = 0;
		if (!hp || hp[0] != '/' || !driver)
			continue;
		/* Looked at with the first volume of its plugin process, through its pidfd. */
		if (lc_same_plugin_view(entries[i], with_fd)) {
			pid[i] = (pid_t)lc_json_int(entries[i], "plugin_pid");
			ret_live[i] = -EINPROGRESS;
			continue;
		}
		ret_live[i] = lc_plugin_view(lc, entries[i], driver, &pidfd[i], &pid[i]);
		if (ret_live[i] == 0)
			ret_live[i] = -EINPROGRESS;
		if (pidfd[i] >= 0)
			with_fd = entries[i];
	}
	/* Every volume of the same plugin process (or of our own view) in one look. */
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;

		if (ret_live[i] != -EINPROGRESS)
			continue;
		for (size_t k = i; k < n; k++)
			if (ret_live[k] == -EINPROGRESS && pid[k] == pid[i]) {
				idx[m] = k;
				/* Live or not needs no walk to the nearest mount root. */
				pk[m] = (struct ns_peek){ .flags = NS_PEEK_NO_ROOT_WALK };
				pk[m++].path = lc_json_str(entries[k], "host_path");
				ret_live[k] = -ECANCELED;
			}
		r = ns_mountpoint_inspect(pidfd[i], pk, m, lc->g->timeout_other_ms, NULL, NULL, f);
		for (size_t g = 0; g < m; g++) {
			json_object *e = entries[idx[g]];

			if (r < 0 || pk[g].result < 0)
				ret_live[idx[g]] = r < 0 ? r : pk[g].result;
			else
				ret_live[idx[g]] =
				    f[g].is_directory &&
				    (!lc_json_bool(e, "mount_root") || f[g].is_mount_point);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (pidfd[i] >= 0)
			close(pidfd[i]);
	return 0;
}

struct user_scan {
	struct lc *lc;
	const char *cid;
	char (*keys)[STATE_KEY_MAX];
	size_t n, cap;
	bool found;
};

static int match_user(const char *cid, void *userdata)
{
	struct user_scan *s = userdata;

	s->found |= !strcmp(cid, s->cid);
	return 0;
}

static int scan_volume(const char *key, void *userdata)
{
	struct user_scan *s = userdata;

	s->found = false;
	state_user_list(s->lc->st, key, match_user, s);
	if (s->found && s->n < s->cap)
		snprintf(s->keys[s->n++], STATE_KEY_MAX, "%s", key);
	return 0;
}

/* The keys of the volumes a container uses: from its record, or by scanning. */
static int container_keys(struct lc *lc, const char *cid, json_object *record,
			  char (**ret)[STATE_KEY_MAX], size_t *ret_n)
{
	json_object *vols = json_object_object_get(record, "volumes");
	size_t cap =
	    json_object_is_type(vols, json_type_array) ? json_object_array_length(vols) : 4096;
	char(*keys)[STATE_KEY_MAX] = calloc(cap + 1, STATE_KEY_MAX);
	size_t n = 0;

	if (!keys)
		return -ENOMEM;
	if (record && json_object_is_type(vols, json_type_array)) {
		for (size_t i = 0; i < cap; i++) {
			const char *key = lc_json_str(json_object_array_get_idx(vols, i), "key");

			if (key)
				snprintf(keys[n++], STATE_KEY_MAX, "%s", key);
		}
	} else {
		struct user_scan s = { .lc = lc, .cid = cid, .keys = keys, .cap = cap };
		int r = state_volume_list(lc->st, scan_volume, &s);

		if (r < 0) {
			free(keys);
			return r;
		}
		n = s.n;
	}
	*ret = keys;
	*ret_n = n;
	return 0;
}

static size_t path_depth(const char *path)
{
	size_t n = 0;

	for (const char *s = path ? path : ""; *s;) {
		size_t len = strcspn(s, "/");

		n += len > 0 && !(len == 1 && s[0] == '.');
		s += len;
		s += *s == '/';
	}
	return n;
}

void lc_depth_order(const char *const *paths, size_t n, bool deepest_first, size_t *ret_order)
{
	size_t depth[NS_MOUNTS_MAX];

	n = MIN(n, (size_t)NS_MOUNTS_MAX);
	/* An insertion sort: stable, and n is bounded. */
	for (size_t i = 0; i < n; i++) {
		size_t d = path_depth(paths[i]), j = i;

		for (; j > 0 && (deepest_first ? depth[j - 1] < d : depth[j - 1] > d); j--) {
			depth[j] = depth[j - 1];
			ret_order[j] = ret_order[j - 1];
		}
		depth[j] = d;
		ret_order[j] = i;
	}
}

/*
 * Detach the container's mounts if its namespace is still there. Returns 0
 * when nothing of ours is left in it, -EBUSY when something may be.
 */
static int detach_attached(struct lc *lc, json_object *record)
{
	json_object *vols = json_object_object_get(record, "volumes");
	long long pid = lc_json_int(record, "pid");
	unsigned long long start = (unsigned long long)lc_json_int(record, "start_time");
	const char *root = lc_json_str(record, "root");
	struct ns_unmount u[NS_MOUNTS_MAX], sorted[NS_MOUNTS_MAX];
	long long listed_id[NS_MOUNTS_MAX], sorted_id[NS_MOUNTS_MAX];
	const char *targets[NS_MOUNTS_MAX];
	size_t order[NS_MOUNTS_MAX];
	_cleanup_close_ int pidfd = -EBADF;
	size_t n = 0;
	int r;

	if (pid <= 0 || !json_object_is_type(vols, json_type_array))
		return 0;
	for (size_t i = 0; i < json_object_array_length(vols) && n < NS_MOUNTS_MAX; i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		long long id = lc_json_int(v, "attached_mnt_id");

		if (id > 0 && lc_json_str(v, "target")) {
			listed_id[n] = lc_json_int(v, "attached_mountinfo_id");
			u[n++] = (struct ns_unmount){ .target = lc_json_str(v, "target"),
						      .mnt_id = (uint64_t)id };
		}
	}
	if (n == 0)
		return 0;
	/* Children first: a parent's lazy detach would take them along unseen. */
	for (size_t i = 0; i < n; i++)
		targets[i] = u[i].target;
	lc_depth_order(targets, n, true, order);
	for (size_t i = 0; i < n; i++) {
		sorted[i] = u[order[i]];
		sorted_id[i] = listed_id[order[i]];
	}
	memcpy(u, sorted, n * sizeof(u[0]));
	memcpy(listed_id, sorted_id, n * sizeof(listed_id[0]));
	/* A process that is gone (or a reused pid) took its namespace with it. */
	r = ns_pidfd_open((pid_t)pid, start, &pidfd, NULL);
	if (r < 0)
		return 0;
	r = ns_detach(pidfd, root ? root : "/", u, n, lc->g->timeout_other_ms);
	/*
	 * A rootfs recorded before pivot_root (an OCI createRuntime hook) is "/"
	 * once the container runs: look there too. The id check keeps it exact.
	 */
	if (r == -ENOENT && root && strcmp(root, "/")) {
		for (size_t i = 0; i < n; i++)
			u[i].result = 0;
		r = ns_detach(pidfd, "/", u, n, lc->g->timeout_other_ms);
	}
	if (r == -ESRCH)
		return 0;
	int busy = 0;

	for (size_t i = 0; i < n; i++) {
		/*
		 * ENOENT: nothing of ours at the target (never attached, or gone
		 * already), unless the container moved it: its mount table tells.
		 * A table that cannot be read tells nothing: the volumes are kept
		 * (an Unmount under a live container is never undone), as for a
		 * moved mount; a process that is gone took its namespace along.
		 */
		int listed = u[i].result == -ENOENT && listed_id[i] > 0
				 ? ns_mount_listed((pid_t)pid, (uint64_t)listed_id[i])
				 : 0;

		if (listed == 1) {
			busy++;
			lc_fail(lc,
				"the mount attached at '%s' in pid %lld is still there but "
				"no longer at that path; its volumes stay in use",
				u[i].target, pid);
			continue;
		}
		if (listed < 0 && listed != -ESRCH) {
			busy++;
			lc_fail(lc,
				"cannot tell whether the mount attached at '%s' in pid %lld "
				"is still there (reading its mount table with %s: %s); its "
				"volumes stay in use",
				u[i].target, pid, NS_LIBMOUNT_SONAME, strerror(-listed));
			continue;
		}
		if (u[i].result == 0 || u[i].result == -ENOENT || u[i].result == -ESRCH)
			continue;
		busy++;
		lc_fail(lc, "detaching '%s' in pid %lld: %s; its volumes stay in use", u[i].target,
			pid,
			u[i].result == -ESTALE ? "another mount is there now, left alone"
					       : strerror(-u[i].result));
	}
	if (r < 0 && !busy && r != -ENOENT && r != -ESTALE) {
		lc_fail(lc, "detaching from pid %lld: %s; its volumes stay in use", pid,
			strerror(-r));
		busy++;
	}
	return busy ? -EBUSY : 0;
}

/* Is the container's mount namespace ours (or can that not be told)? */
static bool same_mountns(long long pid)
{
	struct stat a, b;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%lld/ns/mnt", pid);
	if (stat(path, &a) < 0)
		return false; /* gone: its namespace with it */
	return stat("/proc/self/ns/mnt", &b) < 0 || (a.st_ino == b.st_ino && a.st_dev == b.st_dev);
}

/*
 * Copies of the container's volumes that propagated into OUR namespace
 * (prepared by a dvmount that did not refuse shared targets, issue 9): where
 * the record's root is a host path (before pivot_root), each target seen
 * from here is checked for a mount of exactly the attached tree and that is
 * detached. A pivoted container's targets have no known host path here.
 */
static void sweep_copies(struct lc *lc, json_object *record)
{
	json_object *vols = json_object_object_get(record, "volumes");
	const char *root = lc_json_str(record, "root");
	char path[PATH_MAX];

	if (!root || !strcmp(root, "/") || !json_object_is_type(vols, json_type_array) ||
	    same_mountns(lc_json_int(record, "pid")))
		return;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		long long dev = lc_json_int(v, "attached_dev"),
			  ino = lc_json_int(v, "attached_ino");
		const char *target = lc_json_str(v, "target");
		const char *host_path = lc_json_str(v, "host_path");
		uint64_t keep = 0;
		int r;

		if (ino <= 0 || !target ||
		    snprintf(path, sizeof(path), "%s/%s", root, target) >= (int)sizeof(path))
			continue;
		/* root + target may name the plugin's Mountpoint itself here. */
		if (!host_path || ns_mount_id(AT_FDCWD, host_path, &keep) < 0)
			keep = 0;
		r = ns_umount_copies(path, (dev_t)dev, (uint64_t)ino, keep);
		if (r < 0)
			lc_fail(lc, "volume '%s': a copy of it that propagated to '%s': %s",
				lc_json_str(v, "name"), path, strerror(-r));
		else if (r > 0)
			debug(DEBUG_NS, "ns",
			      "volume '%s': %d propagated copies detached at \"%s\"",
			      lc_json_str(v, "name"), r, path);
	}
}

/*
 * A volume entry that a power cut took (written without fsync, state.h)
 * while the durable record still names its mount id: derive it again, so
 * that the release sends the Unmount the plugin may be waiting for. So too
 * an entry that still has the id the record says it renewed: the write of
 * the renewal was lost, the entry is older than the record. Needs the
 * volume locks of the record's volumes.
 */
/* Does the entry still hold the id that the record volume rv renewed? */
static bool entry_older(json_object *entry, json_object *rv)
{
	const char *from = lc_json_str(rv, "renewed_from");
	char id[STATE_MOUNT_ID_LEN + 1];

	return from && state_volume_mount_id(entry, id) == 0 && !strcmp(id, from);
}

static void rederive_entries(struct lc *lc, json_object *record)
{
	json_object *vols = json_object_object_get(record, "volumes");
	size_t n = json_object_is_type(vols, json_type_array) ? json_object_array_length(vols) : 0;

	for (size_t i = 0; i < n; i++) {
		json_object *rv = json_object_array_get_idx(vols, i);
		const char *key = lc_json_str(rv, "key"), *host = lc_json_str(rv, "host_path");
		_cleanup_json_ json_object *entry = NULL;
		char id[STATE_MOUNT_ID_LEN + 1];
		int r;

		if (state_volume_mount_id(rv, id) < 0)
			continue; /* no Mount was sent under an id this record names */
		r = state_volume_load(lc->st, key, &entry);
		if (r == 0 && !entry_older(entry, rv))
			continue;
		if (r < 0 && r != -ENOENT && r != -EBADMSG)
			continue;
		json_object_put(TAKE_PTR(entry));
		if (state_volume_new(lc_json_str(rv, "driver"), lc_json_str(rv, "name"), &entry) <
		    0)
			continue;
		json_object_object_add(entry, "mount_id", json_object_new_string(id));
		/* With a host path the Mount answered; without, it may be in flight. */
		state_vol_apply(entry, STATE_VOL_MOUNT_BEGIN);
		if (host && state_vol_apply(entry, STATE_VOL_MOUNT_DONE) > 0)
			json_object_object_add(entry, "host_path", json_object_new_string(host));
		if (state_volume_save(lc->st, key, entry) == 0)
			log_warn(lc->g,
				 "volume '%s' of driver '%s': its entry was lost (a power "
				 "cut?); derived again from container '%s' record",
				 lc_json_str(rv, "name"), lc_json_str(rv, "driver"),
				 lc_json_str(record, "container_id"));
	}
}

bool lc_record_volatile(json_object *record)
{
	json_object *d;

	return record && json_object_object_get_ex(record, "durable", &d) &&
	       json_object_is_type(d, json_type_boolean) && !json_object_get_boolean(d);
}

int lc_cleanup_container(struct lc *lc, const char *cid,
			 bool (*still_wanted)(json_object *record, void *userdata), void *userdata)
{
	_cleanup_json_ json_object *record = NULL;
	_cleanup_(state_unlockp) struct state_locks *locks = NULL;
	_cleanup_free_ char(*keys)[STATE_KEY_MAX] = NULL;
	_cleanup_free_ const char **kp = NULL;
	char qname[STATE_QNAME_MAX] = "";
	size_t n = 0;
	unsigned sent;
	bool lost = false, durable;
	int cfd, r, failed_before = (int)lc->n_failures;

	r = state_lock_container(lc->st, cid, &cfd);
	if (r < 0) {
		lc_fail(lc, "cannot lock the container record: %s", strerror(-r));
		return r;
	}
	r = state_container_load(lc->st, cid, &record, qname);
	if (r == -EBADMSG || r == -EFBIG) {
		lc_fail(lc,
			"record was corrupt, set aside as quarantine/%s; its volumes are "
			"found from their user entries",
			qname);
		record = NULL;
	} else if (r == -ENODATA) {
		/*
		 * Written without a sync, and a power cut took its data: it
		 * proved nothing (state.h), its volumes are found from their
		 * user entries, as a corrupt one's. No failure: by design.
		 */
		debug(DEBUG_STATE, "state", "container '%s': record lost by a power cut", cid);
		lost = true;
	} else if (r < 0 && r != -ENOENT) {
		lc_fail(lc, "cannot read the record: %s", strerror(-r));
		state_unlock_container(lc->st, cfd);
		return r;
	}
	/*
	 * A setuid dvmount's caller cleans up only containers it prepared: not
	 * root's, and not one whose record is gone or unreadable (whose was it?).
	 */
	if (!lc->g->caller_is_root && (!record || !lc_caller_owns(lc, record))) {
		state_unlock_container(lc->st, cfd);
		if (!record && r == -ENOENT)
			return 0;
		lc_fail(lc, "not a container of the caller (uid %u)", (unsigned)getuid());
		lc->denied = true;
		return -EACCES;
	}
	/*
	 * Judged again under the lock; a record gone meanwhile (not one set
	 * aside as corrupt) was cleaned up or undone by whoever held the lock.
	 */
	if (still_wanted && (record || r == -ENOENT) && !still_wanted(record, userdata)) {
		state_unlock_container(lc->st, cfd);
		return 0;
	}
	lc_crash_point("cleanup-before-detach");
	if (detach_attached(lc, record) < 0) {
		/* Its mounts may still be in a live container: no Unmount under it. */
		state_unlock_container(lc->st, cfd);
		return -EBUSY;
	}
	sweep_copies(lc, record);
	lc_crash_point("cleanup-after-detach");

	r = container_keys(lc, cid, record, &keys, &n);
	if (r < 0)
		goto out;
	kp = calloc(n + 1, sizeof(*kp));
	if (!kp) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		kp[i] = keys[i];
	r = n ? state_lock_volumes(lc->st, kp, n, &locks) : 0;
	if (r < 0) {
		lc_fail(lc, "cannot lock the volumes: %s", strerror(-r));
		goto out;
	}
	if (record)
		rederive_entries(lc, record);
	for (size_t i = 0; i < n; i++) {
		r = state_user_remove(lc->st, keys[i], cid);
		if (r < 0 && r != -ENOENT)
			lc_fail(lc, "volume entry '%s': cannot remove the user: %s", keys[i],
				strerror(-r));
	}
	lc_crash_point("cleanup-after-users");
	sent = lc->unmounts_sent;
	lc->release_volatile = lost || lc_record_volatile(record);
	r = lc_release_unused(lc, kp, n);
	lc->release_volatile = false;
	if (r < 0)
		lc_fail(lc, "releasing volumes: %s", strerror(-r));
	lc_crash_point("cleanup-after-release");
	/*
	 * Forget the container whatever the Unmounts said (MESOS-10126).
	 * Durably when the record was (a lost removal would bring back its
	 * mount ids), or when an Unmount went out (a record that came back
	 * would have recover derive the released entry again and ask the
	 * plugin a second time); else it proved nothing: state.h.
	 */
	durable = (!lost && !lc_record_volatile(record)) || lc->unmounts_sent != sent;
	r = state_container_remove_flags(lc->st, cid, durable ? STATE_DURABLE : 0);
	if (r < 0 && r != -ENOENT)
		lc_fail(lc, "cannot remove the record: %s", strerror(-r));
	r = 0;
out:
	state_unlock(TAKE_PTR(locks));
	state_unlock_container(lc->st, cfd);
	audit_log("op=dvmount-cleanup container=%s auid=%u res=%s", cid, (unsigned)getuid(),
		  r < 0 || (int)lc->n_failures > failed_before ? "failed" : "success");
	if (r < 0)
		return r;
	return (int)lc->n_failures - failed_before;
}
