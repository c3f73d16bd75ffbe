/* SPDX-License-Identifier: MIT */
/*
 * A plugin's Mountpoint as the plugin sees it, looked at in bounded time.
 *
 * The view: a plugin's new mounts may not reach our mount namespace (dvmount
 * started from a private namespace, a service with PrivateMounts, a plugin in
 * its own namespace as Docker's managed plugins are): there the path shows
 * the empty directory under the plugin's mount. So the path is resolved
 * beneath /proc/PID/root of the plugin's process, and the tree is cloned in
 * that process's mount namespace (open_tree(OPEN_TREE_CLONE) refuses a mount
 * of another namespace with EINVAL).
 *
 * The bound: a FUSE or NFS volume whose daemon stopped answering blocks
 * every lookup, stat or chown that reaches it, in an uninterruptible-looking
 * but killable wait. Every step that may touch the volume's filesystem runs
 * in a forked child that is SIGKILLed at the deadline; statx is asked for
 * cached attributes only (AT_STATX_DONT_SYNC: mount facts are the VFS's).
 *
 * The child only makes syscalls (no stdio, no malloc): the parent may have
 * been multi-threaded when it forked.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/macro.h"
#include "ns/ns.h"

/* openat2 may fail with EAGAIN while mounts or renames race: retry a little. */
#define PEEK_OPENAT2_RETRIES 32
/* A path has at most PATH_MAX / 2 components: bounds the walk to the mount root. */
#define PEEK_UP_MAX (PATH_MAX / 2)

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif
#ifndef RESOLVE_CACHED
#define RESOLVE_CACHED 0x20
#endif

struct peek_msg {
	uint32_t index;
	int32_t result;
	uint8_t exists, has_symlink, is_directory, is_mount_point;
	uint32_t mount_root_up;
	uint32_t dev_major, dev_minor;
	uint64_t ino;
};

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool same_file(const struct statx *a, const struct statx *b)
{
	return a->stx_ino == b->stx_ino && a->stx_dev_major == b->stx_dev_major &&
	       a->stx_dev_minor == b->stx_dev_minor && a->stx_mnt_id == b->stx_mnt_id;
}

/*
 * The root and mount namespace of the process behind pidfd: its root as an
 * O_PATH fd, and whether either differs from ours. /proc/PID is opened first
 * and the pidfd checked afterwards, so the directory is that process's and
 * not a reused pid's.
 */
static int open_view(int pidfd, int *ret_rootfd, bool *ret_other_root, bool *ret_other_ns)
{
	_cleanup_close_ int dirfd = -EBADF, rootfd = -EBADF;
	struct statx ours, theirs;
	struct stat ns_ours, ns_theirs;
	int r;

	r = ns_pidfd_proc_dir(pidfd, &dirfd);
	if (r < 0)
		return r;
	rootfd = openat(dirfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return errno == ENOENT ? -ESRCH : negerrno();
	if (fstatat(dirfd, "ns/mnt", &ns_theirs, 0) < 0 || stat("/proc/self/ns/mnt", &ns_ours) < 0)
		return errno == ENOENT ? -ESRCH : negerrno();
	if (statx(rootfd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID,
		  &theirs) < 0 ||
	    statx(AT_FDCWD, "/", AT_STATX_DONT_SYNC, STATX_INO | STATX_MNT_ID, &ours) < 0)
		return negerrno();
	r = ns_pidfd_alive(pidfd);
	if (r < 0)
		return r;
	*ret_other_ns = ns_ours.st_ino != ns_theirs.st_ino || ns_ours.st_dev != ns_theirs.st_dev;
	*ret_other_root = *ret_other_ns || !same_file(&ours, &theirs);
	*ret_rootfd = TAKE_FD(rootfd);
	return 0;
}

static int resolve_no_symlinks(int rootfd, const char *path)
{
	struct open_how how = {
		.flags = O_PATH | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
	};
	long fd = -1;

	while (*path == '/')
		path++;
	for (int i = 0; i < PEEK_OPENAT2_RETRIES; i++) {
		fd = syscall(SYS_openat2, rootfd, *path ? path : ".", &how, sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd < 0 ? (errno == ENOSYS ? -EOPNOTSUPP : negerrno()) : (int)fd;
}

static size_t count_components(const char *path)
{
	size_t n = 0;

	for (const char *s = path; *s;) {
		size_t len = strcspn(s, "/");

		n += len > 0 && !(len == 1 && s[0] == '.');
		s += len;
		s += *s == '/';
	}
	return n;
}

/* Is fd the root of a mount? Cached attributes only: never a call into the filesystem. */
static int mount_root(int fd, bool *ret)
{
	struct statx self, up;

	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_MNT_ID, &self) < 0)
		return negerrno();
	if (self.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) {
		*ret = self.stx_attributes & STATX_ATTR_MOUNT_ROOT;
		return 0;
	}
	/* Before 5.8: ".." of a mount root lies on the parent mount. */
	if (!(self.stx_mask & STATX_MNT_ID))
		return -EOPNOTSUPP;
	if (statx(fd, "..", AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC, STATX_MNT_ID, &up) < 0)
		return negerrno();
	*ret = self.stx_mnt_id != up.stx_mnt_id;
	return 0;
}

/*
 * How many components above fd its nearest mount root lies (0: fd is one),
 * walking ".." at most max times; max when none was found on the way.
 */
static int mount_root_distance(int fd, size_t max, uint32_t *ret)
{
	_cleanup_close_ int cur = -EBADF;
	bool is_root;
	int r;

	cur = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return negerrno();
	for (size_t up = 0; up < max && up < PEEK_UP_MAX; up++) {
		int parent;

		r = mount_root(cur, &is_root);
		if (r < 0)
			return r;
		if (is_root) {
			*ret = (uint32_t)up;
			return 0;
		}
		parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0)
			return negerrno();
		close(cur);
		cur = parent;
	}
	*ret = (uint32_t)max;
	return 0;
}

static int send_msg(int sock, const void *m, size_t size, int fd)
{
	char control[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)m, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		mh.msg_control = control;
		mh.msg_controllen = sizeof(control);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? negerrno() : 0;
}

/* Phase one for one path: resolve it and gather its facts; *fd is kept for phase two. */
static void look(int rootfd, const struct ns_peek *pk, struct peek_msg *m, int *fd)
{
	struct statx stx;
	int r;

	*fd = resolve_no_symlinks(rootfd, pk->path);
	if (*fd == -ELOOP) {
		/* RESOLVE_NO_SYMLINKS also refuses a symlink as the last component. */
		m->has_symlink = 1;
		return;
	}
	if (*fd == -ENOENT || *fd == -ENOTDIR)
		return;
	if (*fd < 0) {
		m->result = *fd;
		return;
	}
	m->exists = 1;
	if (statx(*fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &stx) < 0) {
		m->result = negerrno();
		return;
	}
	m->is_directory = S_ISDIR(stx.stx_mode);
	m->dev_major = stx.stx_dev_major;
	m->dev_minor = stx.stx_dev_minor;
	m->ino = stx.stx_ino;
	if (!m->is_directory)
		return;
	/* NS_PEEK_NO_ROOT_WALK: only whether it is a mount root (up to 1). */
	r = mount_root_distance(*fd,
				(pk->flags & NS_PEEK_NO_ROOT_WALK) ? 1 : count_components(pk->path),
				&m->mount_root_up);
	if (r < 0)
		m->result = r;
	m->is_mount_point = m->mount_root_up == 0;
}

/* Does this path go on to the chown or the clone, once the caller said yes? */
static bool wants_phase_two(const struct ns_peek *pk, const struct peek_msg *m)
{
	return (pk->flags & (NS_PEEK_CHOWN | NS_PEEK_TREE)) && m->result == 0 && m->is_directory;
}

static int peek_child(int pidfd, int rootfd, bool other_ns, const struct ns_peek *pk, size_t n,
		      int sock)
{
	static int fds[NS_MOUNTS_MAX];
	static char go[NS_MOUNTS_MAX];
	bool two = false, entered = false;
	ssize_t len;
	int r;

	for (size_t i = 0; i < n; i++) {
		struct peek_msg m = { .index = (uint32_t)i };

		look(rootfd, &pk[i], &m, &fds[i]);
		two |= wants_phase_two(&pk[i], &m);
		if (!wants_phase_two(&pk[i], &m) && fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -EBADF;
		}
		r = send_msg(sock, &m, sizeof(m), -EBADF);
		if (r < 0)
			return r;
	}
	if (!two)
		return 0;
	/* The facts first: the caller judges them before anything is changed. */
	while ((len = read(sock, go, n)) < 0 && errno == EINTR)
		;
	if (len != (ssize_t)n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		struct peek_msg m = { .index = (uint32_t)i };
		_cleanup_close_ int tree = -EBADF;

		if (fds[i] < 0 || !go[i])
			continue;
		if ((pk[i].flags & NS_PEEK_CHOWN) &&
		    fchownat(fds[i], "", pk[i].uid, pk[i].gid, AT_EMPTY_PATH) < 0)
			m.result = negerrno();
		/* The clone must be made where the mount is: in the plugin's namespace. */
		if (m.result == 0 && (pk[i].flags & NS_PEEK_TREE) && other_ns && !entered) {
			if (setns(pidfd, CLONE_NEWNS) < 0)
				m.result = negerrno();
			entered = m.result == 0;
		}
		if (m.result == 0 && (pk[i].flags & NS_PEEK_TREE))
			m.result = ns_open_tree(fds[i], "", pk[i].attrs, &tree);
		r = send_msg(sock, &m, sizeof(m), tree);
		if (r < 0)
			return r;
	}
	return 0;
}

static void set_facts(struct ns_peek *pk, const struct peek_msg *m, bool other_root);

/* The facts of a directory reached from the caches, up components below its mount root. */
static void cached_facts(struct peek_msg *m, const struct statx *stx, uint32_t up)
{
	m->exists = 1;
	m->is_directory = 1;
	m->dev_major = stx->stx_dev_major;
	m->dev_minor = stx->stx_dev_minor;
	m->ino = stx->stx_ino;
	m->mount_root_up = up;
	m->is_mount_point = up == 0;
}

/* Has path a ".." component? */
static bool has_dotdot(const char *path)
{
	for (const char *s = path; *s;) {
		size_t len = strcspn(s, "/");

		if (len == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += len;
		s += *s == '/';
	}
	return false;
}

/* look_cached() for NS_PEEK_NO_ROOT_WALK: the whole path in one lookup. */
static int look_cached_whole(int rootfd, const struct ns_peek *pk, struct peek_msg *m, int *ret_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve =
		    RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_CACHED,
	};
	_cleanup_close_ int fd = -EBADF;
	const char *path = pk->path;
	struct statx stx;

	/* A ".." sets the walk's "jumped" state: NFS would revalidate at its end. */
	if (has_dotdot(path))
		return -EAGAIN;
	while (*path == '/')
		path++;
	if (!*path)
		return -EAGAIN;
	fd = (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
	if (fd < 0)
		return -EAGAIN;
	if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO, &stx) < 0 ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) || !S_ISDIR(stx.stx_mode))
		return -EAGAIN;
	cached_facts(m, &stx, (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 0 : 1);
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/*
 * Phase one for one path from the kernel's caches alone, in this process:
 * one component at a time with RESOLVE_CACHED (5.12: -EAGAIN where a lookup
 * would need the filesystem or a revalidation, as a FUSE dentry past its
 * timeout does), each component's mount-root bit from cached attributes, so
 * nothing here can wait on a hung volume. The walk down gives the nearest
 * mount root without the ".." walk (a ".." may revalidate an NFS dentry).
 * -EAGAIN for anything but an existing directory reached that way: the
 * child decides those.
 */
static int look_cached(int rootfd, const struct ns_peek *pk, struct peek_msg *m, int *ret_fd)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve =
		    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_CACHED,
	};
	_cleanup_close_ int cur = -EBADF;
	char name[NAME_MAX + 1];
	uint32_t depth = 0, root_at = 0;
	struct statx stx = { 0 };

	if (pk->flags & NS_PEEK_NO_ROOT_WALK)
		return look_cached_whole(rootfd, pk, m, ret_fd);
	cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return negerrno();
	for (const char *s = pk->path; *s;) {
		size_t len = strcspn(s, "/");
		long fd;

		if (len == 0 || (len == 1 && s[0] == '.')) {
			s += len;
			s += *s == '/';
			continue;
		}
		if (len > NAME_MAX || (len == 2 && s[0] == '.' && s[1] == '.'))
			return -EAGAIN;
		memcpy(name, s, len);
		name[len] = '\0';
		fd = syscall(SYS_openat2, cur, name, &how, sizeof(how));
		if (fd < 0)
			return -EAGAIN;
		close(cur);
		cur = (int)fd;
		depth++;
		if (statx(cur, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_TYPE | STATX_INO,
			  &stx) < 0 ||
		    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
			return -EAGAIN;
		if (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)
			root_at = depth;
		s += len;
		s += *s == '/';
	}
	if (depth == 0 || !S_ISDIR(stx.stx_mode))
		return -EAGAIN;
	/* As the child counts: components above the path to its nearest mount root. */
	cached_facts(m, &stx, root_at ? depth - root_at : depth);
	*ret_fd = TAKE_FD(cur);
	return 0;
}

/*
 * Both phases without a child, for a view in OUR mount namespace (the clone
 * can be made here) and no chown (a setattr goes to the filesystem): the
 * same facts, the same judging of the whole batch before any clone. -EAGAIN
 * when some path is not answered from the caches (then nothing was changed
 * and the child does it all).
 */
static int peek_cached(int rootfd, bool other_root, struct ns_peek *pk, size_t n,
		       int (*decide)(const struct ns_peek *pk, size_t i, void *userdata),
		       void *userdata)
{
	_cleanup_free_ int *fds = calloc(n, sizeof(*fds));
	int r = 0;

	if (!fds)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		fds[i] = -EBADF;
	for (size_t i = 0; i < n && r == 0; i++) {
		struct peek_msg m = { .index = (uint32_t)i };

		r = look_cached(rootfd, &pk[i], &m, &fds[i]);
		if (r == 0)
			set_facts(&pk[i], &m, other_root);
	}
	for (size_t i = 0; i < n && r == 0; i++)
		if ((pk[i].flags & NS_PEEK_TREE) && decide) {
			int d = decide(&pk[i], i, userdata);

			if (d < 0)
				pk[i].result = d;
		}
	for (size_t i = 0; i < n && r == 0; i++)
		if ((pk[i].flags & NS_PEEK_TREE) && pk[i].result == 0)
			pk[i].result = ns_open_tree(fds[i], "", pk[i].attrs, &pk[i].tree_fd);
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (r < 0)
		for (size_t i = 0; i < n; i++)
			pk[i] = (struct ns_peek){ .path = pk[i].path,
						  .flags = pk[i].flags,
						  .attrs = pk[i].attrs,
						  .uid = pk[i].uid,
						  .gid = pk[i].gid,
						  .result = -ECANCELED,
						  .tree_fd = -EBADF };
	return r;
}

/*
 * Wait for one message of the child (size bytes, starting with its index,
 * below n) until the deadline; -ETIMEDOUT after it.
 */
static int receive(int sock, long long deadline, size_t n, void *ret_msg, size_t size, int *ret_fd)
{
	char control[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = ret_msg, .iov_len = size };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;
	ssize_t len;

	*ret_fd = -EBADF;
	for (;;) {
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		long long left = deadline - now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(&pfd, 1, (int)MIN(left, (long long)INT32_MAX)) < 0) {
			if (errno == EINTR)
				continue;
			return negerrno();
		}
		if (pfd.revents)
			break;
	}
	mh.msg_control = control;
	mh.msg_controllen = sizeof(control);
	len = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	if (len < 0)
		return negerrno();
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
	if (len != (ssize_t)size || *(const uint32_t *)ret_msg >= n) {
		if (*ret_fd >= 0)
			close(*ret_fd);
		*ret_fd = -EBADF;
		return -EPROTO; /* the child died before it could say */
	}
	return 0;
}

static void set_facts(struct ns_peek *pk, const struct peek_msg *m, bool other_root)
{
	pk->result = m->result;
	pk->exists = m->exists;
	pk->has_symlink = m->has_symlink;
	pk->is_directory = m->is_directory;
	pk->is_mount_point = m->is_mount_point;
	pk->mount_root_up = m->mount_root_up;
	pk->dev = makedev(m->dev_major, m->dev_minor);
	pk->ino = m->ino;
	pk->other_view = other_root;
}

/* Both phases, on the parent's side. */
static int talk(int sock, long long deadline, bool other_root, struct ns_peek *pk, size_t n,
		int (*decide)(const struct ns_peek *pk, size_t i, void *userdata), void *userdata)
{
	static char go[NS_MOUNTS_MAX];
	bool asked = false;
	size_t two = 0;
	struct peek_msg m;
	int fd, r;

	for (size_t k = 0; k < n; k++) {
		r = receive(sock, deadline, n, &m, sizeof(m), &fd);
		if (fd >= 0)
			close(fd);
		if (r < 0)
			return r;
		set_facts(&pk[m.index], &m, other_root);
		go[m.index] = wants_phase_two(&pk[m.index], &m);
		asked |= go[m.index];
	}
	if (!asked)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!go[i])
			continue;
		r = decide ? decide(&pk[i], i, userdata) : 0;
		if (r < 0) {
			pk[i].result = r;
			go[i] = 0;
		}
		two += go[i];
	}
	if (write(sock, go, n) != (ssize_t)n)
		return negerrno();
	for (size_t k = 0; k < two; k++) {
		r = receive(sock, deadline, n, &m, sizeof(m), &fd);
		if (r < 0)
			return r;
		pk[m.index].result = m.result;
		pk[m.index].tree_fd = fd;
		if (m.result == 0 && (pk[m.index].flags & NS_PEEK_TREE) && fd < 0)
			return -EPROTO;
	}
	return 0;
}

/*
 * fork() with a SOCK_SEQPACKET pair: *ret_sock is the parent's end in the
 * parent and the child's end in the child (*ret_child 0), which is SIGKILLed
 * if we die first.
 */
static int spawn(int *ret_sock, pid_t *ret_child)
{
	pid_t parent = getpid(), child;
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return negerrno();
	child = fork();
	if (child < 0) {
		r = negerrno();
		close(sv[0]);
		close(sv[1]);
		return r;
	}
	if (child == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* A parent killed before the prctl sends no signal (ns/attach.c's spawn). */
		if (getppid() != parent)
			_exit(1);
	}
	close(sv[child == 0 ? 0 : 1]);
	*ret_sock = sv[child == 0 ? 1 : 0];
	*ret_child = child;
	return 0;
}

int ns_peek(int pidfd, struct ns_peek *pk, size_t n, unsigned timeout_ms,
	    int (*decide)(const struct ns_peek *pk, size_t i, void *userdata), void *userdata)
{
	_cleanup_close_ int rootfd = -EBADF;
	bool other_root = false, other_ns = false, chowns = false;
	long long deadline = now_ms() + timeout_ms;
	int sock, r;
	pid_t child;

	if ((n && !pk) || n > NS_MOUNTS_MAX || timeout_ms == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!pk[i].path || pk[i].path[0] != '/')
			return -EINVAL;
		pk[i].result = -ECANCELED;
		pk[i].tree_fd = -EBADF;
	}
	if (!n)
		return 0;
	if (pidfd >= 0) {
		r = open_view(pidfd, &rootfd, &other_root, &other_ns);
		if (r < 0)
			return r;
	} else {
		rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return negerrno();
	}
	for (size_t i = 0; i < n; i++)
		chowns |= pk[i].flags & NS_PEEK_CHOWN;
	/* Our own namespace, all from the caches: no child to fork (issue 9's cost). */
	r = other_ns || chowns ? -EAGAIN : peek_cached(rootfd, other_root, pk, n, decide, userdata);
	if (r != -EAGAIN) {
		debug(DEBUG_NS, "ns", "peek at %zu paths (%s view, cached): %d", n,
		      other_root ? "another root's" : "our", r);
		goto checked;
	}
	r = spawn(&sock, &child);
	if (r < 0)
		return r;
	if (child == 0) {
		int keep[] = { pidfd, rootfd, sock };

		/* None of our fds, stdout and locks included, stays in a stuck child. */
		if (ns_child_close_all_but(keep, ARRAY_SIZE(keep)) < 0)
			_exit(1);
		_exit(peek_child(pidfd, rootfd, other_ns, pk, n, sock) < 0 ? 1 : 0);
	}
	r = talk(sock, deadline, other_root, pk, n, decide, userdata);
	close(sock);
	/*
	 * Killed, it may be stuck in a FUSE request for good: waited for a
	 * grace only (issue 9). Otherwise it has sent all and only exits.
	 */
	ns_child_reap(child, r < 0, NS_CHILD_GRACE_MS, NULL);
	debug(DEBUG_NS, "ns", "peek at %zu paths (%s view): %d", n,
	      other_ns	   ? "another namespace's"
	      : other_root ? "another root's"
			   : "our",
	      r);
checked:
	/* What was opened is the plugin's only if the plugin is still there now. */
	if (r == 0 && pidfd >= 0)
		r = ns_pidfd_alive(pidfd);
	if (r < 0)
		for (size_t i = 0; i < n; i++) {
			if (pk[i].tree_fd >= 0)
				close(pk[i].tree_fd);
			pk[i].tree_fd = -EBADF;
			pk[i].result = r;
		}
	return r;
}

struct resolve_msg {
	uint32_t index; /* first: receive() checks it */
	int32_t result;
	char real[PATH_MAX];
};

static int resolve_child(int rootfd, const struct ns_resolve *rs, size_t n, int sock)
{
	static struct resolve_msg m;
	int r;

	for (size_t i = 0; i < n; i++) {
		_cleanup_close_ int fd = -EBADF;

		/* Answered from the cache before the fork. */
		if (rs[i].fd >= 0)
			continue;

		m.index = (uint32_t)i;
		m.real[0] = '\0';
		m.result =
		    ns_resolve_real(rootfd, rs[i].path, rs[i].flags, rs[i].mode, m.real, &fd);
		r = send_msg(sock, &m, sizeof(m), fd);
		if (r < 0)
			return r;
	}
	return 0;
}

int ns_resolve_real_bounded(int rootfd, struct ns_resolve *rs, size_t n, unsigned timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	static struct resolve_msg m;
	size_t left = n;
	int sock, r = 0;
	pid_t child;

	if ((n && !rs) || n > NS_MOUNTS_MAX || timeout_ms == 0 || rootfd < 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!rs[i].path)
			return -EINVAL;
		rs[i].result = -ECANCELED;
		rs[i].fd = -EBADF;
		rs[i].real[0] = '\0';
	}
	/* What the dentry cache answers needs no child (it cannot block). */
	for (size_t i = 0; i < n; i++)
		if (ns_resolve_real_cached(rootfd, rs[i].path, rs[i].real, &rs[i].fd) == 0) {
			rs[i].result = 0;
			left--;
		}
	if (!left)
		return 0;
	r = spawn(&sock, &child);
	/* r11: not made, the fds answered from the cache go too, as below. */
	if (r < 0)
		goto failed;
	if (child == 0) {
		int keep[] = { rootfd, sock };

		/* None of our fds, stdout and locks included, stays in a stuck child. */
		if (ns_child_close_all_but(keep, ARRAY_SIZE(keep)) < 0)
			_exit(1);
		_exit(resolve_child(rootfd, rs, n, sock) < 0 ? 1 : 0);
	}
	for (size_t k = 0; k < left && r == 0; k++) {
		int fd;

		r = receive(sock, deadline, n, &m, sizeof(m), &fd);
		if (r < 0)
			break;
		/* Each index once, and never one answered before the fork. */
		if (rs[m.index].fd >= 0 || rs[m.index].result != -ECANCELED) {
			if (fd >= 0)
				close(fd);
			r = -EPROTO;
			break;
		}
		rs[m.index].result = m.result;
		memcpy(rs[m.index].real, m.real, sizeof(m.real));
		rs[m.index].real[PATH_MAX - 1] = '\0';
		rs[m.index].fd = fd;
		if (m.result == 0 && fd < 0)
			r = -EPROTO;
	}
	close(sock);
	/* Killed, it may be stuck in a FUSE request for good (issue 9): a grace only. */
	ns_child_reap(child, r < 0, NS_CHILD_GRACE_MS, NULL);
	debug(DEBUG_NS, "ns", "resolve of %zu targets: %d", n, r);
failed:
	if (r < 0)
		for (size_t i = 0; i < n; i++) {
			if (rs[i].fd >= 0)
				close(rs[i].fd);
			rs[i].fd = -EBADF;
			if (rs[i].result == 0 || rs[i].result == -ECANCELED)
				rs[i].result = r;
		}
	return r;
}
