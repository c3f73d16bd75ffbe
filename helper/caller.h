/* SPDX-License-Identifier: MIT */
#ifndef DVMOUNT_HELPER_CALLER_H
#define DVMOUNT_HELPER_CALLER_H

#include <stdbool.h>
#include <sys/types.h>

#include "helper/dvmount.h"

/*
 * The caller's filesystem identity, for every path a caller that is not root
 * names (a policy file to check, --volumes, --known-file, the OCI bundle and
 * its config.json, --rootfs, --sandbox): DESIGN.md "Privilege", issue 10.
 * Like bubblewrap's setup phase: fsuid and fsgid become the caller's real
 * uid and gid (the supplementary groups are the caller's already: neither a
 * setuid exec nor file capabilities change them), and no capability stays in
 * the effective set, so that CAP_DAC_OVERRIDE reaches nothing the caller
 * could not reach itself. For a root caller both are no-ops.
 */
struct caller_fs {
	bool active;
	uid_t fsuid;
	gid_t fsgid;
	void *caps; /* libcap-ng saved state to restore */
};

/*
 * Take on the caller's identity for filesystem access until caller_fs_leave.
 * 0 or -EPERM (the switch did not take: nothing is opened then).
 */
int caller_fs_enter(const struct globals *g, struct caller_fs *ret_saved);
/* Back to dvmount's own identity; accepts a zeroed or inactive struct. */
void caller_fs_leave(struct caller_fs *saved);

/*
 * openat(dirfd, path, flags | O_CLOEXEC | O_NOCTTY) as the caller. For a
 * caller that is not root, a file it may not read (EACCES, EPERM) gives
 * -ENOENT like a missing one: nothing tells whether it exists.
 * Returns 0 and the fd in *ret_fd, or -errno.
 */
int caller_openat(const struct globals *g, int dirfd, const char *path, int flags, int *ret_fd);

/* The message for caller_openat's -ENOENT: no hint of existence either way. */
#define CALLER_NOT_FOUND "not found, or not readable by the caller"

#endif
