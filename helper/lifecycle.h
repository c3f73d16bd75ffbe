/* SPDX-License-Identifier: MIT */
/*
 * What prepare, cleanup, recover and status share: the state, the plugin
 * client and the policy opened once, the container record's layout, the
 * per-volume reference counts, and the list of failures to report.
 *
 * A container record (containers/<cid>.json):
 *   {"container_id": ID, "phase": "preparing" | "prepared",
 *    "durable": false (never written durably: it proves no mount id; a
 *                      record without the key counts as durable),
 *    "pid": N, "start_time": N, "root": "/" or the rootfs,    (with --pid)
 *    "volumes": [{"driver", "name", "key", "mode", "container_path",
 *                 "target", "host_path", "mount_id", "attached_mnt_id"}...]}
 * A volume entry (volumes/<key>/volume.json) adds to state_volume_new():
 *   "host_path", "mounted", "pending_unmount", "mount_root" (the plugin's
 *   mountpoint was the root of a mount when it was mounted).
 */
#ifndef DVMOUNT_HELPER_LIFECYCLE_H
#define DVMOUNT_HELPER_LIFECYCLE_H

#include <json-c/json.h>
#include <stdbool.h>

#include "helper/dvmount.h"
#include "helper/error.h"
#include "helper/plugin/plugin.h"
#include "helper/state/state.h"
#include "ns/ns.h"
#include "policy/policy.h"

#define LC_FAILURES_MAX 64

struct lc {
	struct globals *g;
	struct state *st;
	struct plugin_client *pc;
	struct policy *policy;
	/* Without with_policy: the policy if it loads, for max-in-flight; read on first need. */
	struct policy *limits;
	bool limits_tried;
	const char *cid; /* the container being worked on, for messages */
	/* Failures to report, one line each, in order. */
	char *failures[LC_FAILURES_MAX];
	size_t n_failures;
	bool denied; /* a policy denial: exit 3 */
	/*
	 * Volumes whose Unmount the plugin refused in this run: lc_release_unused
	 * does not ask again before the next run (Unmount is not idempotent,
	 * and one refusal is one error line). As many as failures are reported.
	 */
	char unmount_refused[LC_FAILURES_MAX][STATE_KEY_MAX];
	size_t n_unmount_refused;
	/*
	 * The record whose volumes lc_release_unused() releases was never
	 * durable ("durable": false: a prepare that planned no Mount): the
	 * entries its container leaves to other users need no sync, since it
	 * proved no mount id (helper/state/state.h). False: durable, or it
	 * cannot be told (no record, an older one): they are made durable.
	 */
	bool release_volatile;
	/* Unmounts lc_release_unused() sent in this run. */
	unsigned unmounts_sent;
	/* The last plugin process opened by lc_plugin_view(), +1 (0: none). */
	int view_pidfd_1;
	pid_t view_pid;
	unsigned long long view_start;
};

/*
 * Open the state (and the plugin client; the policy when with_policy). Without
 * with_policy the policy is still read, quietly, for its max-in-flight only,
 * when the first limited plugin call needs it: a missing or broken one means 1
 * (taking volumes away never needs a policy). ret must stay where it is until
 * lc_close (the client keeps a pointer to it).
 */
int lc_open(struct globals *g, bool with_policy, struct lc *ret);
void lc_close(struct lc *lc);

/*
 * The policy for max-in-flight only: NULL when there is none or it does not
 * load (nothing is said: every plugin then gets 1). The caller frees it.
 */
struct policy *lc_limits_policy(const struct globals *g);

/*
 * A plugin client for G whose Create/Remove/Mount/Unmount slots are counted
 * host-wide in ST's slot dir (ST may be NULL: G's state dir is opened for it;
 * where that fails, this process only), with POLICY's max-in-flight (borrowed:
 * it must outlive the client; NULL: 1) unless --max-in-flight is given.
 * Returns 0 or -errno from plugin_client_new().
 */
int lc_plugin_client(const struct globals *g, struct state *st, const struct policy *policy,
		     struct plugin_client **ret);

/* Record one failure line (printed by lc_report). */
void lc_fail(struct lc *lc, const char *fmt, ...) _printf_(2, 3);
/*
 * Report the failures recorded with lc_fail(), each prefixed with
 * "container 'CID': " while lc->cid is set: all but the last printed now, in
 * order (log_error), the last one put in err for main to print after them
 * (helper/error.h: one carrier, several failures); a carrier that already
 * holds an error keeps it, and every line is printed. The kind is denied
 * when lc->denied (exit 3; with no line: said already), else failure.
 * At LC_FAILURES_MAX the carrier's line is "(more failures not shown)".
 * Returns 0 when there is nothing to report, else the carrier's -errno
 * (-EACCES denied, -EIO failure).
 */
int lc_report(struct lc *lc, struct dv_error *err);

/*
 * Release the plugin mount of every volume whose last user was just removed:
 * Unmount with the host-stable ID, then drop the entry. A failed Unmount
 * drops it only on evidence that the plugin holds nothing (DESIGN.md "State"):
 * the plugin refused, no call of ours can still be under way in it (see
 * lc_mark_in_flight()), and its mountpoint is not mounted; that is said once
 * as a warning and is no failure. Otherwise the entry stays with
 * "pending_unmount" for a later retry, and the failure is recorded; that retry
 * is a later run's: a volume refused once in this run (lc->unmount_refused) is
 * skipped. The volume locks must be held. keys[i] whose state_user_count() is 0 are the
 * candidates. The others, which other users still hold, are saved durably
 * (state_volume_save_durable()) unless lc->release_volatile: the caller's
 * durable record may have been their mount id's one durable proof, and its
 * removal follows (helper/state/state.h). Returns the number of failures,
 * or -ENOMEM.
 */
int lc_release_unused(struct lc *lc, const char *const *keys, size_t n);

/*
 * Was this container record never written durably ("durable": false)? Then
 * it proves no mount id (helper/state/state.h). False for NULL (a record
 * set aside as corrupt) and for a record without the key (written before
 * the key existed, durably): what cannot be told counts as durable.
 */
bool lc_record_volatile(json_object *record);

/*
 * Clean up one container (its record may be NULL when it was corrupt: then
 * its users are found by scanning the volumes). Detaches what is still
 * attached, removes its users, releases unused volumes, removes the record.
 * Takes and releases the container and volume locks itself. still_wanted
 * (may be NULL) judges the record again once the lock is held: a prepare that
 * was under way when the caller looked may have finished meanwhile; it gets
 * NULL when the record is gone (another cleanup or recover, or a failed
 * prepare, finished it while the caller waited; not when it was corrupt).
 * Returns 0, or the number of failures reported, or -errno.
 * A container whose mounts cannot be detached while it lives keeps its
 * volumes (no Unmount under a running container): the failure is reported.
 * The record's removal is durable unless the record was never durable and
 * no Unmount was sent (helper/state/state.h).
 */
int lc_cleanup_container(struct lc *lc, const char *cid,
			 bool (*still_wanted)(json_object *record, void *userdata), void *userdata);

/*
 * A pidfd on the plugin process whose view of its Mountpoints counts
 * (plugin_peer_view()) in *ret_pidfd and its pid in *ret_pid; -EBADF
 * and 0 for a TCP plugin. The
 * process the volume entry recorded ("plugin_pid", "plugin_start") when it
 * still runs, so that a plugin that stopped answering is not asked; else the
 * plugin's listener now, then recorded in entry (not saved). -ESRCH: the
 * plugin's process cannot be seen from here; the activation's -errno.
 */
int lc_plugin_view(struct lc *lc, json_object *entry, const char *driver, int *ret_pidfd,
		   pid_t *ret_pid);

/*
 * Does entry record the same plugin process (plugin_pid and plugin_start,
 * both set) as prev, whose lc_plugin_view() gave a pidfd? Then a batch looks
 * at both through prev's pidfd: no lc_plugin_view(), whose dup of the pidfd
 * cost a fcntl and a close per volume (issue 11). Either may be NULL (no).
 */
bool lc_same_plugin_view(json_object *entry, json_object *prev);

/*
 * Words for a failure of lc_plugin_view(), lc_volumes_live() or
 * ns_mountpoint_inspect(), naming the rule behind it; written to buf.
 */
#define LC_VIEW_ERR_MAX 256
const char *lc_view_strerror(const struct lc *lc, int r, char buf[static LC_VIEW_ERR_MAX]);

/*
 * Is the plugin mount each of n volume entries records still there, in its
 * plugin's view (its directory exists and, if it was the root of a mount,
 * still is)? One look per plugin process (ns_peek), --timeout bounded.
 * ret_live[i]: 1 yes, 0 no (or no host_path), -errno when that cannot be
 * told: -ETIMEDOUT (the filesystem did not answer within the --timeout),
 * -ESRCH (lc_plugin_view()). entries[i] may gain plugin_pid/plugin_start
 * (not saved). Returns 0 or -ENOMEM.
 */
int lc_volumes_live(struct lc *lc, json_object *const *entries, size_t n, int *ret_live);

/*
 * For a consumer in OUR mount namespace (prepare without --pid, the dvdcli
 * drop-in: the containerizer binds the path here): is what we see at
 * plugin_view->path the very directory the plugin sees (device and inode)?
 * 0 yes; -EXDEV no (the plugin's mounts do not reach us); -errno of the look.
 */
int lc_check_own_view(struct lc *lc, const struct ns_peek *plugin_view);

/*
 * Order n container paths for mounting (issue 9): fewer components first, so
 * a parent is attached before what goes inside it; deepest_first reverses
 * that for detaching. Equal depths keep their order. ret_order[k] is the
 * index of the k-th path; n at most NS_MOUNTS_MAX.
 */
void lc_depth_order(const char *const *paths, size_t n, bool deepest_first, size_t *ret_order);

/* A Mount that failed this way may still have happened (timeout, cut connection). */
static inline bool lc_mount_uncertain(int result)
{
	return result == -ETIMEDOUT || result == -ECONNRESET || result == -EBADMSG ||
	       result == -EMSGSIZE;
}

/*
 * A Mount or Unmount of this entry ended without an answer (timed out, cut):
 * the plugin may still be doing it, and a refusal of the Unmount that
 * follows proves nothing until then. The window is twice the call's
 * timeout_ms from now, at least LC_IN_FLIGHT_MIN_S (a short --timeout-mount
 * must not make a busy plugin's slow Mount look over). A bound, not a proof,
 * past which dvmount takes the plugin's refusal at its word.
 *
 * Recorded on CLOCK_BOOTTIME with this boot's id ("in_flight_boot_id",
 * "in_flight_until_boottime", seconds): the wall clock jumps (NTP stepping a
 * host that booted with a wrong RTC, an operator's date -s), and a jump
 * forward would end the window while the call still runs. "in_flight_until"
 * (wall-clock seconds) is kept for an entry read after a reboot, when the
 * boot clock no longer compares.
 */
#define LC_IN_FLIGHT_MIN_S 30
void lc_mark_in_flight(json_object *entry, unsigned timeout_ms);

/*
 * Is a call of ours that lc_mark_in_flight() recorded on ENTRY possibly still
 * under way in the plugin? Judged on the boot clock when the entry was marked
 * in this boot, else on the wall clock. False for an entry never marked.
 */
bool lc_in_flight(json_object *entry);

/*
 * The plugin answered the Mount that the intent marked (mounted or refused):
 * nothing of it is under way any more. Removes what lc_mark_in_flight() wrote.
 */
void lc_clear_in_flight(json_object *entry);

/* One volume to acquire (lc_acquire): in, then out. */
struct lc_acquire {
	const char *key, *driver, *name;	   /* in: the volume and its state key */
	json_object *entry;			   /* out: its entry, the caller's to put */
	char mount_id[STATE_MOUNT_ID_LEN + 1];	   /* out: the id to Mount or use */
	char renewed_from[STATE_MOUNT_ID_LEN + 1]; /* out: the id it replaced, or "" */
	char *host_path;			   /* out: a live mount reused (the caller frees) */
	bool needs_mount;			   /* out: send a Mount under mount_id */
};
/*
 * Acquire a host mount under a stable ID, for prepare and dvdcli alike: for
 * each of n volumes whose locks the caller holds, reuse the plugin mount that
 * is still live (host_path), or plan a Mount (needs_mount, the entry says
 * "mounting"; a held mount that went away is Unmounted first and renewed
 * under a fresh id), and count user as one of its users. Entries are saved
 * (not durably: state.h) only when they changed. Reports each failure with
 * lc_fail() and returns its -errno: the first n' entries are then filled in
 * for the caller's undo; 0 on success.
 */
int lc_acquire(struct lc *lc, struct lc_acquire *a, size_t n, const char *user);
/*
 * The outcome of a Mount of entry, in its state (not saved): mounted at
 * m->mountpoint; back to idle when refused or never sent (call_result < 0:
 * the whole call failed); still mounting, in flight, when it may yet happen.
 */
void lc_acquire_mounted(struct lc *lc, json_object *entry, const struct plugin_mount *m,
			int call_result);

/* The user entry the dvdcli drop-in holds for Mesos (not a valid container of ours). */
#define LC_DVDCLI_USER "dvdcli:mesos"

/*
 * Crash points for the recovery tests: with DVMOUNT_CRASH_AT=name (read with
 * secure_getenv, so never in a setuid run) dvmount SIGKILLs itself there.
 * name must be one of lc_crash_points() (else abort(): a typo would make a
 * test pass without crashing anywhere).
 */
void lc_crash_point(const char *name);
/*
 * Every crash point name, in the order operations meet them; *ret_n gets
 * their number. Static storage. DVMOUNT_CRASH_AT=list prints them (main.c).
 */
const char *const *lc_crash_points(size_t *ret_n);

/* May the caller act on this record? Root always; others only on their own. */
bool lc_caller_owns(const struct lc *lc, json_object *record);

/* Small JSON accessors with defaults. */
const char *lc_json_str(json_object *o, const char *key);
long long lc_json_int(json_object *o, const char *key);
bool lc_json_bool(json_object *o, const char *key);

#endif
