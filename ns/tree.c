/* SPDX-License-Identifier: MIT */
/*
 * Detached mount trees and mount identity: open_tree(OPEN_TREE_CLONE) plus
 * mount_setattr on the clone while it is still detached (on a mount attached
 * in another namespace mount_setattr fails with EINVAL), and statx mount ids
 * to recognise our own mounts later.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <linux/openat2.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/macro.h"
#include "ns/ns.h"

/* Linux 6.8: 64-bit mount ids that are never reused; older headers lack it. */
#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif

int ns_open_tree(int dirfd, const char *path, unsigned attrs, int *ret_fd)
{
	struct mount_attr attr = { .propagation = MS_PRIVATE };
	_cleanup_close_ int fd = -EBADF;

	if (!path || (attrs & ~(NS_ATTR_RDONLY | NS_ATTR_NOSUID | NS_ATTR_NODEV | NS_ATTR_NOEXEC)))
		return -EINVAL;
	if (attrs & NS_ATTR_RDONLY)
		attr.attr_set |= MOUNT_ATTR_RDONLY;
	if (attrs & NS_ATTR_NOSUID)
		attr.attr_set |= MOUNT_ATTR_NOSUID;
	if (attrs & NS_ATTR_NODEV)
		attr.attr_set |= MOUNT_ATTR_NODEV;
	if (attrs & NS_ATTR_NOEXEC)
		attr.attr_set |= MOUNT_ATTR_NOEXEC;

	fd = open_tree(dirfd, path,
		       OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | AT_NO_AUTOMOUNT |
			   AT_SYMLINK_NOFOLLOW | (*path ? 0 : AT_EMPTY_PATH));
	if (fd < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
	/*
	 * Recursive and atomic: no submount is ever writable when RDONLY
	 * was asked, which a remount loop over the tree could not promise.
	 */
	if (mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
	debug(DEBUG_NS, "ns", "cloned tree \"%s\" attrs 0x%x", path, attrs);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

static int do_statx(int dirfd, const char *path, struct statx *ret_stx)
{
	/* Mount ids are the VFS's: never wait on a (possibly hung) filesystem for them. */
	int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC |
		    (*path ? 0 : AT_EMPTY_PATH);

	/* An older kernel ignores the unknown UNIQUE bit and gives the old id. */
	if (statx(dirfd, path, flags, STATX_MNT_ID | STATX_MNT_ID_UNIQUE | STATX_INO, ret_stx) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
	if (!(ret_stx->stx_mask & (STATX_MNT_ID | STATX_MNT_ID_UNIQUE)))
		return -EOPNOTSUPP;
	return 0;
}

int ns_mount_id(int dirfd, const char *path, uint64_t *ret_id)
{
	struct statx stx;
	int r;

	if (!path)
		return -EINVAL;
	r = do_statx(dirfd, path, &stx);
	if (r < 0)
		return r;
	*ret_id = stx.stx_mnt_id;
	return 0;
}

int ns_tree_ids(int fd, uint64_t *ret_id, dev_t *ret_dev, uint64_t *ret_ino)
{
	struct statx stx;
	int r;

	r = do_statx(fd, "", &stx);
	if (r < 0)
		return r;
	*ret_id = stx.stx_mnt_id;
	*ret_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	*ret_ino = stx.stx_ino;
	return 0;
}

int ns_mount_id_legacy(int dirfd, const char *path, uint64_t *ret_id)
{
	int flags = AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT | AT_STATX_DONT_SYNC |
		    (path && *path ? 0 : AT_EMPTY_PATH);
	struct statx stx;

	if (!path)
		return -EINVAL;
	if (statx(dirfd, path, flags, STATX_MNT_ID, &stx) < 0)
		return negerrno();
	if (!(stx.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	*ret_id = stx.stx_mnt_id;
	return 0;
}

int ns_is_mounted(int dirfd, const char *path, uint64_t *ret_id)
{
	_cleanup_close_ int fd = -EBADF;
	struct statx stx, up;
	int r;

	if (!path)
		return -EINVAL;
	r = do_statx(dirfd, path, &stx);
	if (r < 0)
		return r;
	if (ret_id)
		*ret_id = stx.stx_mnt_id;
	if (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)
		return !!(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);

	/* Before 5.8: ".." of a mount root lies on the parent mount. */
	fd = openat(dirfd, *path ? path : ".", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return negerrno();
	r = do_statx(fd, "..", &up);
	if (r < 0)
		return r;
	if (up.stx_ino == stx.stx_ino && up.stx_dev_major == stx.stx_dev_major &&
	    up.stx_dev_minor == stx.stx_dev_minor)
		return 1; /* "/" is its own parent */
	return up.stx_mnt_id != stx.stx_mnt_id;
}

int ns_tree_identity(int fd, dev_t *ret_dev, uint64_t *ret_ino)
{
	struct statx stx;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO, &stx) < 0)
		return negerrno();
	*ret_dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	*ret_ino = stx.stx_ino;
	return 0;
}

/* Copies stacked at one path: more than a few is not a propagation accident. */
#define COPIES_MAX 16

int ns_umount_copies(const char *path, dev_t dev, uint64_t ino, uint64_t keep_id)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	int n = 0, r;

	if (!path || path[0] != '/')
		return -EINVAL;
	for (; n < COPIES_MAX; n++) {
		_cleanup_close_ int fd = -EBADF;
		char link[64];
		struct statx stx;

		fd = (int)syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof(how));
		if (fd < 0)
			return errno == ENOENT || errno == ELOOP || errno == ENOTDIR ? n
										     : negerrno();
		r = do_statx(fd, "", &stx);
		if (r < 0)
			return r;
		/* The plugin's own mount has the tree's root too: it is no copy. */
		if (!(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) ||
		    !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ||
		    makedev(stx.stx_dev_major, stx.stx_dev_minor) != dev || stx.stx_ino != ino ||
		    (keep_id && stx.stx_mnt_id == keep_id))
			return n;
		/* Through the fd's magic link: exactly the mount that was checked. */
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		if (umount2(link, MNT_DETACH) < 0)
			return negerrno();
		debug(DEBUG_NS, "ns", "detached a propagated copy at \"%s\"", path);
	}
	return n;
}
