/* SPDX-License-Identifier: MIT */
/*
 * What must hold after any crash of dvmount once recover has run (issue 14:
 * crash points, randomized kills, power cuts), checked from outside: the
 * state through `status --json`, the plugin through its call log, the
 * containers through their mount tables.
 *
 *   - every record is readable: nothing quarantined, status works;
 *   - no user without its plugin mount: a volume with users has its Mount
 *     ID held by the plugin;
 *   - no plugin mount without a live user, and the plugin's call log
 *     balanced against dvmount: the plugin holds exactly as many Mount IDs
 *     as there are volumes with users;
 *   - no attached mount without a record: a container's targets are mounts
 *     exactly while its record is there.
 *
 * "Held" is the plugin's log read as the truth (lcenv.h): a Mount ID is held
 * while its successful Mounts outnumber its successful Unmounts.
 *
 * A Mount that a killed run may still have under way cannot be proven
 * released: recover keeps such a volume until its in-flight window is over
 * (helper/state.h, lc_mark_in_flight). inv_recover() ends the window the way
 * a test can: lcenv_expire_in_flight(), then recover again.
 *
 * Library code for tests: it never prints nor asserts; a violation is
 * described in the caller's buffer for its TH_LOG.
 */
#ifndef DVMOUNT_TESTS_INVARIANTS_H
#define DVMOUNT_TESTS_INVARIANTS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "tests/lib/lcenv.h"

#define INV_IDS_MAX 64	 /* Mount IDs tracked at once (balanced ones are forgotten) */
#define INV_ID_MAX 80	 /* a Mount ID with its NUL (64 hex digits from dvmount) */
#define INV_WHY_MAX 1024 /* a description buffer that holds several violations */

/* Mount IDs in the plugin's log and their net count (Mounts - Unmounts that succeeded). */
struct inv_held {
	char ids[INV_IDS_MAX][INV_ID_MAX];
	int net[INV_IDS_MAX];
	size_t n;
};

/*
 * Read the plugin's call log (lcenv's e->log: one JSON object per line,
 * with "endpoint", "id", "status", "err") into ret. An absent log holds
 * nothing. IDs whose Mounts and Unmounts pair up may be left out (dvmount
 * takes a fresh ID per plugin mount: a long log has many). Returns 0, or
 * -E2BIG when more than INV_IDS_MAX IDs are unbalanced at once; ret is
 * zeroed first.
 */
int inv_plugin_held(const char *log_path, struct inv_held *ret);
/*
 * The same read from rclone's `serve docker` state file (<cache-dir>/
 * docker-plugin.state: a JSON array of volumes, each with "mounts", the IDs
 * it holds), for a plugin without a call log: each ID listed counts 1.
 * An absent file holds nothing. Returns 0, -EBADMSG for a file that is
 * not such an array, -E2BIG for more than INV_IDS_MAX IDs; ret is zeroed
 * first.
 */
int inv_rclone_held(const char *state_path, struct inv_held *ret);
/* Whether id's net count is above zero. */
bool inv_is_held(const struct inv_held *h, const char *id);
/* How many Mount IDs have a net count above zero. */
int inv_held_count(const struct inv_held *h);

/*
 * A container as the checks see it: its mount namespace (the pid of a
 * process in it) and the prefix (an absolute path in that namespace) under
 * which its targets land; mounts, how many mounts are at or under prefix
 * while cid has a record (none without one).
 */
struct inv_container {
	const char *cid;
	pid_t pid;
	const char *prefix;
	int mounts;
};

/*
 * Check the invariants above against e's state and plugin, for the n
 * containers given (others in the state are checked through the volumes
 * only). Returns 0 when they hold; the number of violations (> 0) when not,
 * each described in why (NUL-terminated, "; "-separated, truncated to
 * size); -EIO or -EBADMSG when status fails or prints no JSON, or the
 * error of inv_plugin_held() (why says so).
 */
int inv_check(struct lcenv *e, const struct inv_container *c, size_t n, char *why, size_t size);
/* inv_check() with what the plugin holds given (inv_rclone_held()), not read from e->log. */
int inv_check_held(struct lcenv *e, const struct inv_held *h, const struct inv_container *c,
		   size_t n, char *why, size_t size);

/*
 * recover with args (NULL-terminated: "recover" and its flags), then, after
 * the in-flight windows are over (lcenv_expire_in_flight), once more. The
 * first run must succeed, or fail (exit 1) only because a volume is "kept
 * for retry"; the second must succeed: a kill never leaves a volume that
 * recover fails on forever. Returns 0, or the number of runs that broke
 * this (> 0) with why describing them; -EIO when a run cannot be started,
 * -errno of lcenv_expire_in_flight() when the windows cannot be ended.
 */
int inv_recover(struct lcenv *e, char *const args[], char *why, size_t size);
/*
 * inv_recover() for a plugin whose calls take time: when the first run
 * kept a volume for retry, waits settle_ms before ending the windows, so
 * that a call the killed run left in the plugin (a plugin finishes a Mount
 * whose client went away) is over, as it is when a real window ends.
 */
int inv_recover_settle(struct lcenv *e, char *const args[], unsigned settle_ms, char *why,
		       size_t size);

#endif
