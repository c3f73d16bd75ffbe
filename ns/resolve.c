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
#include <linux/magic.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "common/macro.h"
#include "ns/ns.h"

/* Linux 5.12; Debian 12's headers have it, older ones may not. */
#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20
#endif

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

/*
 * ns_resolve_real: the container's own path walk, done here one component
 * at a time so that its result is known as a path (what runc 1.1 did with
 * filepath-securejoin). Each component is looked at with readlinkat relative
 * to an fd of the symlink-free prefix; a link is read and its text put in
 * front of what is left (an absolute one restarts from the root, ".." never
 * climbs above it); a missing component is made (NS_CREATE), so the missing
 * target of a dangling link is created where the link points, inside the
 * root. The final open (RESOLVE_NO_SYMLINKS) proves that the path found has
 * no link left in it: a link swapped in meanwhile makes it fail (ELOOP), and
 * the walk starts again, a bounded number of times.
 */

/* Linux follows at most 40 links in one lookup (MAXSYMLINKS). */
#define RESOLVE_LINKS_MAX 40
/* Attempts at a walk that a concurrent rename keeps invalidating. */
#define RESOLVE_WALK_MAX 16

static int open_nolinks(int rootfd, const char *path, int *ret_fd)
{
	return openat2_dir(rootfd, path, NS_NO_SYMLINKS, ret_fd);
}

/* Drop the last component of an absolute, normalized path ("/" stays "/"). */
static void path_pop(char *path, size_t *len)
{
	while (*len > 1 && path[*len - 1] != '/')
		(*len)--;
	if (*len > 1)
		(*len)--;
	path[*len] = '\0';
}

/* "link text" + "/" + rest, into todo (which rest may point into). */
static int splice_link(const char *link, const char *rest, char todo[static PATH_MAX])
{
	char tmp[PATH_MAX];
	size_t ll = strlen(link), rl = strlen(rest);

	if (ll + 1 + rl >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, link, ll);
	tmp[ll] = '/';
	memcpy(tmp + ll + 1, rest, rl + 1);
	memcpy(todo, tmp, ll + rl + 2);
	return 0;
}

static int walk_once(int rootfd, const char *path, unsigned flags, mode_t mode,
		     char cur[static PATH_MAX], int *ret_fd)
{
	_cleanup_close_ int parent = -EBADF;
	char todo[PATH_MAX], link[PATH_MAX], name[NAME_MAX + 1];
	size_t clen = 1, links = 0;
	const char *p;
	int r;

	if (strlen(path) >= sizeof(todo))
		return -ENAMETOOLONG;
	strcpy(todo, path);
	strcpy(cur, "/");
	r = open_nolinks(rootfd, "/", &parent);
	if (r < 0)
		return r;

	p = todo;
	for (;;) {
		size_t len;
		ssize_t ll;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (!len)
			break;
		if (len > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = '\0';
		p += len;
		if (!strcmp(name, "."))
			continue;
		if (!strcmp(name, "..")) {
			path_pop(cur, &clen);
			closep(&parent);
			r = open_nolinks(rootfd, cur, &parent);
			if (r < 0)
				return r;
			continue;
		}

		ll = readlinkat(parent, name, link, sizeof(link));
		if (ll >= 0) {
			struct statfs sfs;

			if ((size_t)ll >= sizeof(link))
				return -ENAMETOOLONG;
			link[ll] = '\0';
			if (flags & NS_NO_SYMLINKS)
				return -ELOOP;
			if (++links > RESOLVE_LINKS_MAX)
				return -ELOOP;
			/*
			 * procfs links (/proc/self, /proc/PID/root, fd/N) name
			 * what they point at as seen by the reader, not by the
			 * container: never followed (CVE-2019-16884's kind).
			 */
			if (fstatfs(parent, &sfs) < 0)
				return negerrno();
			if (sfs.f_type == PROC_SUPER_MAGIC)
				return -EXDEV;
			r = splice_link(link, p, todo);
			if (r < 0)
				return r;
			p = todo;
			if (link[0] == '/') {
				strcpy(cur, "/");
				clen = 1;
				closep(&parent);
				r = open_nolinks(rootfd, "/", &parent);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (errno != EINVAL && errno != ENOENT)
			return negerrno();
		if (errno == ENOENT) {
			if (!(flags & NS_CREATE))
				return -ENOENT;
			/* EEXIST: made meanwhile; the lookup below decides. */
			if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
				return negerrno();
		}
		if (clen + (clen > 1) + len >= PATH_MAX)
			return -ENAMETOOLONG;
		if (clen > 1)
			cur[clen++] = '/';
		memcpy(cur + clen, name, len + 1);
		clen += len;
		closep(&parent);
		r = open_nolinks(rootfd, cur, &parent);
		if (r < 0)
			return r;
	}
	*ret_fd = TAKE_FD(parent);
	return 0;
}

/*
 * The fast path: ONE lookup of the whole path with no symlink allowed. When
 * it succeeds, the kernel met no link, so the path it walked is the text's
 * own components: the real path is the text with "." and "//" dropped, and
 * the fd is what the walk's final open would have given. Only for a text
 * without "..": after a link, ".." climbs from where the link led, which the
 * text does not tell (and one ".." too many stops at the root). A link, a
 * missing component, a race (EAGAIN, EXDEV) or anything else leaves it to
 * the walk, which decides: 1 when this did not answer, 0 when it did.
 */
static int resolve_link_free(int rootfd, const char *path, bool cached,
			     char ret_path[static PATH_MAX], int *ret_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS |
			   (cached ? RESOLVE_CACHED : 0),
	};
	char real[PATH_MAX];
	size_t used = 0;
	int fd;

	for (const char *p = path; *p;) {
		size_t len;

		p += strspn(p, "/");
		len = strcspn(p, "/");
		if (!len)
			break;
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		if (!(len == 1 && p[0] == '.')) {
			/*
			 * "/" + the component: one longer than the text when
			 * it is relative (r11: PATH_MAX - 1 characters wrote
			 * past real and ret_path). The walk says -ENAMETOOLONG.
			 */
			if (used + 1 + len >= sizeof(real))
				return 1;
			real[used++] = '/';
			memcpy(real + used, p, len);
			used += len;
		}
		p += len;
	}
	if (!used)
		real[used++] = '/';
	real[used] = '\0';
	/* EAGAIN: a race, or (RESOLVE_CACHED) not all in the cache: the caller's turn. */
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0)
		return 1;
	memcpy(ret_path, real, used + 1);
	*ret_fd = fd;
	return 0;
}

int ns_resolve_real_cached(int rootfd, const char *path, char ret_path[static PATH_MAX],
			   int *ret_fd)
{
	if (rootfd < 0 || !path || !*path)
		return -EINVAL;
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	return resolve_link_free(rootfd, path, true, ret_path, ret_fd) == 0 ? 0 : -EAGAIN;
}

int ns_resolve_real(int rootfd, const char *path, unsigned flags, mode_t mode,
		    char ret_path[static PATH_MAX], int *ret_fd)
{
	char cur[PATH_MAX];
	int fd = -EBADF, r = -ELOOP;

	if (rootfd < 0 || !path || !*path)
		return -EINVAL;
	if (strnlen(path, PATH_MAX) >= PATH_MAX)
		return -ENAMETOOLONG;
	/* Most targets exist and hold no link: one openat2 instead of one per component. */
	if (resolve_link_free(rootfd, path, false, ret_path, ret_fd) == 0)
		return 0;
	/* ELOOP from an open: a link appeared in a checked prefix; walk again. */
	for (int i = 0; i < RESOLVE_WALK_MAX; i++) {
		r = walk_once(rootfd, path, flags, mode, cur, &fd);
		if (r != -ELOOP || (flags & NS_NO_SYMLINKS))
			break;
	}
	if (r < 0)
		return r;
	memcpy(ret_path, cur, strlen(cur) + 1);
	*ret_fd = fd;
	return 0;
}
