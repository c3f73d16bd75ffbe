/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "helper/mountpoint.h"

/* openat2 may fail with EAGAIN while mounts or renames race: retry a little. */
#define OPENAT2_RETRIES 32

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U
#endif
#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

static bool path_has_dotdot(const char *path)
{
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += n;
		s += *s == '/';
	}
	return false;
}

static int open_no_symlinks(int rootfd, const char *rel)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = -1;

	for (int i = 0; i < OPENAT2_RETRIES; i++) {
		fd = syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? negerrno() : (int)fd;
}

/*
 * A mount root either says so (STATX_ATTR_MOUNT_ROOT, 5.8) or has another
 * mount id than its parent: ".." from a mount root crosses into the parent mount.
 */
static int is_mount_root(int fd, bool *ret)
{
	struct statx self, parent;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_SYNC_AS_STAT, STATX_MNT_ID, &self) < 0)
		return negerrno();
	if (self.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
		*ret = self.stx_attributes & STATX_ATTR_MOUNT_ROOT;
		return 0;
	}
	if (!(self.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	if (statx(fd, "..", AT_SYMLINK_NOFOLLOW | AT_STATX_SYNC_AS_STAT, STATX_MNT_ID, &parent) < 0)
		return negerrno();
	*ret = self.stx_mnt_id != parent.stx_mnt_id ||
	       (self.stx_dev_major != parent.stx_dev_major ||
		self.stx_dev_minor != parent.stx_dev_minor);
	return 0;
}

int mountpoint_inspect(const char *path, struct policy_mountpoint_facts *ret_facts, int *ret_fd)
{
	struct policy_mountpoint_facts f = { .path = path };
	_cleanup_close_ int rootfd = -EBADF, fd = -EBADF;
	struct stat st;
	int r;

	if (!path || path[0] != '/')
		return -EINVAL;
	f.has_dotdot = path_has_dotdot(path);
	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return negerrno();
	/* Resolve from an fd on "/": the same start whatever the cwd or path. */
	while (*path == '/')
		path++;
	fd = open_no_symlinks(rootfd, *path ? path : ".");
	switch (fd) {
	case -ELOOP:
		/* RESOLVE_NO_SYMLINKS also refuses a symlink as the last component. */
		f.has_symlink = true;
		goto out;
	case -ENOENT:
	case -ENOTDIR:
		goto out;
	default:
		if (fd < 0)
			return fd;
	}
	f.exists = true;
	if (fstat(fd, &st) < 0)
		return negerrno();
	f.is_directory = S_ISDIR(st.st_mode);
	if (f.is_directory) {
		r = is_mount_root(fd, &f.is_mount_point);
		if (r < 0)
			return r;
	}
out:
	if (ret_fd)
		*ret_fd = f.is_directory ? TAKE_FD(fd) : -EBADF;
	*ret_facts = f;
	return 0;
}
