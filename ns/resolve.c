/* SPDX-License-Identifier: MIT */
/*
 * Path resolution beneath a root with openat2(RESOLVE_IN_ROOT): the kernel
 * keeps absolute symlinks and ".." inside the root, so a container cannot
 * redirect a mount target outside it (CVE-2021-30465). Missing directories
 * are made one component at a time, each relative to a parent fd that was
 * itself resolved under the same rule, and looked up again afterwards.
 * Nothing here logs or allocates: it runs in the forked namespace child.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "ns/ns.h"

/* openat2 returns EAGAIN when a rename or mount raced the lookup. */
#define RESOLVE_RETRY_MAX 16

static int openat2_dir(int dirfd, const char *path, unsigned flags, int *ret_fd)
{
	struct open_how how = {
	    .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int fd = -1;

	if (flags & NS_NO_SYMLINKS)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	for (int i = 0; i < RESOLVE_RETRY_MAX; i++) {
		fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
	*ret_fd = fd;
	return 0;
}

/* Make the missing tail of path, component by component. */
static int create_path(int rootfd, const char *path, unsigned flags, mode_t mode, int *ret_fd)
{
	_cleanup_close_ int parent = -EBADF;
	char prefix[PATH_MAX] = "", name[NAME_MAX + 1];
	size_t used = 0;
	int r;

	r = openat2_dir(rootfd, "/", flags, &parent);
	if (r < 0)
		return r;

	for (const char *p = path; *p;) {
		_cleanup_close_ int fd = -EBADF;
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (!len)
			break;
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		if (used + 1 + len >= sizeof(prefix))
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = '\0';
		prefix[used++] = '/';
		memcpy(prefix + used, p, len);
		used += len;
		prefix[used] = '\0';
		p += len;

		/*
		 * Always resolve the whole prefix from the root, never the
		 * component from the parent: a symlink component must be read
		 * relative to the container root, not to its parent directory.
		 */
		for (int i = 0; i < RESOLVE_RETRY_MAX; i++) {
			r = openat2_dir(rootfd, prefix, flags, &fd);
			if (r != -ENOENT || !strcmp(name, ".") || !strcmp(name, ".."))
				break;
			/*
			 * mkdirat never follows a final symlink: a dangling one
			 * gives EEXIST and the lookup above keeps failing,
			 * until the bound is reached.
			 */
			if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
				return negerrno();
		}
		if (r < 0)
			return r;
		closep(&parent);
		parent = TAKE_FD(fd);
	}
	*ret_fd = TAKE_FD(parent);
	return 0;
}

int ns_resolve_in_root(int rootfd, const char *path, unsigned flags, mode_t mode, int *ret_fd)
{
	size_t len;
	int fd, r;

	if (rootfd < 0 || !path)
		return -EINVAL;
	len = strnlen(path, PATH_MAX);
	if (!len)
		return -EINVAL;
	if (len >= PATH_MAX)
		return -ENAMETOOLONG;

	r = openat2_dir(rootfd, path, flags, &fd);
	if (r == -ENOENT && (flags & NS_CREATE))
		r = create_path(rootfd, path, flags, mode, &fd);
	if (r < 0)
		return r;
	*ret_fd = fd;
	return 0;
}

int ns_resolve_host(const char *root, const char *path, unsigned flags, mode_t mode, int *ret_fd)
{
	_cleanup_close_ int hostfd = -EBADF, rootfd = -EBADF;
	int r;

	hostfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (hostfd < 0)
		return negerrno();
	if (root) {
		r = ns_resolve_in_root(hostfd, root, flags & NS_NO_SYMLINKS, 0, &rootfd);
		if (r < 0)
			return r;
	} else {
		rootfd = TAKE_FD(hostfd);
	}
	return ns_resolve_in_root(rootfd, path, flags, mode, ret_fd);
}
