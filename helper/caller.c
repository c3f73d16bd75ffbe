/* SPDX-License-Identifier: MIT */
/*
 * The caller's filesystem identity (helper/caller.h). setfsuid and setfsgid
 * act on the calling thread only: dvmount opens caller-named paths from its
 * main thread, before any plugin call starts io_uring workers, which take
 * their credentials from the submitting task anyway.
 */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <unistd.h>

#include "helper/caller.h"
#include "helper/caps.h"

int caller_fs_enter(const struct globals *g, struct caller_fs *ret_saved)
{
	uint64_t eff, prm;
	uid_t uid = getuid();
	gid_t gid = getgid();

	*ret_saved = (struct caller_fs){ .active = false };
	if (g->caller_is_root)
		return 0;
	/*
	 * The capabilities to put back, read before fsuid leaves 0: that
	 * clears the filesystem ones (CAP_DAC_OVERRIDE, CAP_CHOWN) from the
	 * effective set (capabilities(7)), and a state read after it would
	 * restore them missing.
	 */
	if (caps_load() < 0)
		return -EPERM;
	ret_saved->caps = capng_save_state();
	if (!ret_saved->caps)
		return -ENOMEM;
	ret_saved->active = true;
	/* setfsuid returns the previous value and never fails visibly: ask again. */
	ret_saved->fsgid = (gid_t)setfsgid(gid);
	ret_saved->fsuid = (uid_t)setfsuid(uid);
	if ((uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid) {
		caller_fs_leave(ret_saved);
		return -EPERM;
	}
	/*
	 * A start with file capabilities never had fsuid 0: clear the whole
	 * effective set here, and put it back after.
	 */
	/* Keep the permitted set: only the effective one goes. */
	for (unsigned cap = 0; cap <= CAP_LAST_CAP; cap++)
		capng_update(CAPNG_DROP, CAPNG_EFFECTIVE, cap);
	if (capng_apply(CAPNG_SELECT_CAPS) < 0 || caps_get(&eff, &prm) < 0 ||
	    (eff & (CAPS(CAP_DAC_OVERRIDE) | CAPS(CAP_SYS_ADMIN)))) {
		caller_fs_leave(ret_saved);
		return -EPERM;
	}
	return 0;
}

void caller_fs_leave(struct caller_fs *saved)
{
	if (!saved || !saved->active)
		return;
	setfsuid(saved->fsuid);
	setfsgid(saved->fsgid);
	if (saved->caps) {
		void *caps = saved->caps;

		saved->caps = NULL;
		/* capng_restore_state frees the saved state. */
		capng_restore_state(&caps);
		capng_apply(CAPNG_SELECT_CAPS);
	}
	saved->active = false;
}

int caller_openat(const struct globals *g, int dirfd, const char *path, int flags, int *ret_fd)
{
	struct caller_fs saved;
	int fd, r;

	r = caller_fs_enter(g, &saved);
	if (r < 0)
		return r;
	fd = openat(dirfd, path, flags | O_CLOEXEC | O_NOCTTY);
	r = fd < 0 ? -errno : 0;
	caller_fs_leave(&saved);
	if (r < 0)
		return !g->caller_is_root && (r == -EACCES || r == -EPERM) ? -ENOENT : r;
	*ret_fd = fd;
	return 0;
}
