/* SPDX-License-Identifier: MIT */
/*
 * Private to helper/plugin/: what plugin.c takes from plugin_discovery.c and
 * plugin_slot.c. Nothing outside this directory includes it (make
 * layers-check); the rest of the program sees helper/plugin/plugin.h only.
 */
#ifndef DVMOUNT_HELPER_PLUGIN_PLUGIN_INTERNAL_H
#define DVMOUNT_HELPER_PLUGIN_PLUGIN_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/macro.h"
#include "helper/plugin/plugin.h"

/* ---- plugin_discovery.c: plugin discovery (facts/plugin-protocol.md) ---- */
#define PLUGIN_PATH_MAX 16 /* directories in --plugin-path */

struct plugin_location {
	char url[PATH_MAX + 8]; /* unix:///... or tcp://host:port */
	char file[PATH_MAX];	/* the socket or spec file it came from */
	char error[PATH_MAX + 128];
};

bool plugin_name_valid(const char *name);

/*
 * Find the plugin: 0 and its address, -ENOENT when nothing matches (worth a
 * retry: a plugin may still be starting), other -errno for a broken spec file.
 * loc->error says why in words.
 */
int plugin_discover(const char *plugin_path, const char *name, struct plugin_location *loc);

/* ---- plugin_slot.c ---- */
/*
 * Host-wide call slots: at most N of the calls that change a plugin's volumes
 * or mounts (Create, Remove, Mount, Unmount) in flight to one plugin, counted
 * across every dvmount process that shares a state dir (DESIGN.md "Plugin
 * calls in flight"). Slot i of plugin P is an flock() on the file
 * "<i>@<P escaped>" in the slot directory; the kernel drops a lock when its
 * holder dies, so a crashed dvmount never keeps a slot.
 *
 * Only non-blocking attempts are made here: a caller that got none waits and
 * tries again (flock() cannot wait with a deadline, and the wait must count
 * against the call's timeout).
 */

struct plugin_slots {
	int fds[PLUGIN_SLOT_MAX]; /* held locks, fds[0..n) */
	size_t n;
};

/*
 * Take free slots of DRIVER among 0..limit-1 (limit at most PLUGIN_SLOT_MAX)
 * without waiting until S holds WANT of them (want <= limit). DIRFD is the
 * slot directory (borrowed); -EBADF: no directory, slots are then counted in
 * this process only and always granted. Returns the number of slots S holds
 * (0 when every slot is taken by someone else), or -errno: -ENAMETOOLONG for
 * a driver name that makes no file name, or what openat()/flock() failed with.
 */
int plugin_slots_take(int dirfd, const char *driver, unsigned limit, size_t want,
		      struct plugin_slots *s);

/* Release every slot S holds (S may hold none). */
void plugin_slots_release(struct plugin_slots *s);

/*
 * Fairness between processes: flock() grants no turns, so a process that
 * gives its slot back after each call and takes it again at once would keep
 * a plugin to itself while others poll. A process that found no slot free
 * says so with a shared lock on "wait@<driver>" (plugin_slots_wait_mark();
 * *fd keeps it until closed: close it once a slot is got); one that held a
 * slot asks plugin_slots_others_wait() before taking one again, and lets the
 * waiters go first when they are there.
 *
 * plugin_slots_wait_mark() takes the mark when *FD holds none (-EBADF): 0,
 * also when it cannot right now (another process is probing: it tries again
 * at its next poll), or -errno from openat()/flock(); -ENAMETOOLONG as above.
 * plugin_slots_others_wait() returns 1 when another process waits for a slot
 * of DRIVER, 0 when none does (or DIRFD is -EBADF), or -errno. The caller must
 * hold no mark of its own then (its shared lock would answer 1).
 */
int plugin_slots_wait_mark(int dirfd, const char *driver, int *fd);
int plugin_slots_others_wait(int dirfd, const char *driver);

#endif
