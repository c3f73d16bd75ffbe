/* SPDX-License-Identifier: MIT */
/*
 * Attach and detach mounts in another process's mount namespace. The work is
 * done by ONE forked child per batch, because setns(CLONE_NEWNS) fails in a
 * process with io_uring worker threads, and entering the container's
 * namespace must never happen in the process that owns rings, plugin sockets
 * or state files (facts/kernel.md). The child:
 *   1. closes every fd it does not need (CVE-2024-21626),
 *   2. opens its own /proc/self/fd on the HOST's procfs (after setns, /proc
 *      is whatever the container mounted there),
 *   3. enters the namespace once with setns(pidfd, CLONE_NEWNS),
 *   4. resolves the container root and every target with openat2
 *      RESOLVE_IN_ROOT relative to /proc/PID/root, opened by the parent,
 *   5. mounts onto the resolved fd (MOVE_MOUNT_T_EMPTY_PATH), so no path is
 *      ever looked up twice (CVE-2021-30465, CVE-2025-52881),
 *   6. reports each mount's outcome in memory shared with the parent
 *      (MAP_SHARED, made before the fork), as soon as it is known, so that
 *      the parent knows what was moved even when the child dies midway; the
 *      pipe only tells the parent that the child is done (EOF).
 * The child only makes syscalls: no stdio, no malloc (the parent may have
 * been multi-threaded when it forked).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/nsfs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/macro.h"
#include "ns/ns.h"

void (*ns_child_pause_hook)(const char *point);

/* Child exit status for "died without telling why". */
#define CHILD_EXIT_UNKNOWN 255

/* What a record tells; its state is stored last, so a record it marks is whole. */
enum {
	RECORD_NONE,   /* not tried, or the child died before telling */
	RECORD_DONE,   /* result and mnt_id are set */
	RECORD_UNDONE, /* done, then undone (all or nothing): -ECANCELED */
};

struct record {
	int32_t result;
	uint32_t state;
	uint64_t mnt_id;
};

/*
 * The child's reports: one record per mount, and one for its own failure
 * before any mount was tried. In memory shared with the parent rather than
 * written to a pipe: a write per mount cost the child a syscall and the
 * parent a poll and a read (issue 11: per-volume syscalls), and a record
 * stored before the child is killed is there all the same.
 */
struct reports {
	struct record setup;
	struct record rec[];
};

static size_t reports_size(size_t n)
{
	return sizeof(struct reports) + n * sizeof(struct record);
}

static int reports_new(size_t n, struct reports **ret)
{
	/* Zeroed: every record RECORD_NONE. */
	void *p =
	    mmap(NULL, reports_size(n), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return negerrno();
	*ret = p;
	return 0;
}

static void reports_free(struct reports *rep, size_t n)
{
	if (rep)
		munmap(rep, reports_size(n));
}

/*
 * /proc/PID/root of the process behind pidfd, as an O_PATH fd. The /proc/PID
 * directory is opened first and the pidfd checked afterwards: if the process
 * is alive then, the directory is its own and not a reused pid's.
 */
int ns_open_proc_root(int pidfd, int *ret_fd)
{
	_cleanup_close_ int dirfd = -EBADF, fd = -EBADF;
	int r;

	r = ns_pidfd_proc_dir(pidfd, &dirfd);
	if (r < 0)
		return r;
	fd = openat(dirfd, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : negerrno();
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* In the child: the record is whole before its state says so (release). */
static void send_record(struct record *rec, int result, uint64_t mnt_id)
{
	rec->result = result;
	rec->mnt_id = mnt_id;
	__atomic_store_n(&rec->state, RECORD_DONE, __ATOMIC_RELEASE);
}

/* Join base and a relative target; an absolute target stands alone. */
static int target_path(const char *base, const char *target, char *buf, size_t size)
{
	size_t blen = 0, tlen;

	if (!target || !*target)
		return -EINVAL;
	tlen = strnlen(target, size);
	if (target[0] != '/' && base) {
		blen = strnlen(base, size);
		if (blen + 1 + tlen >= size)
			return -ENAMETOOLONG;
		memcpy(buf, base, blen);
		buf[blen++] = '/';
	}
	if (blen + tlen >= size)
		return -ENAMETOOLONG;
	memcpy(buf + blen, target, tlen);
	buf[blen + tlen] = '\0';
	return 0;
}

static void fmt_uint(unsigned v, char buf[static 16])
{
	char tmp[16];
	size_t n = 0;

	do {
		tmp[n++] = '0' + v % 10;
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
}

/*
 * Unmount exactly the mount whose root fd refers to. umount2 takes only a
 * path, so go through the magic link /proc/self/fd/<fd> of the HOST procfs,
 * the child's working directory since child_enter (opened before setns):
 * the kernel resolves it to that very mount, with no name the container
 * could swap.
 */
static int umount_fd(int fd)
{
	char name[16];

	fmt_uint((unsigned)fd, name);
	if (umount2(name, MNT_DETACH) < 0)
		return negerrno();
	return 0;
}

/* The child's start: close what it does not need, enter the namespace. */
/*
 * Is the mount namespace this process is in (fddir: its /proc/self/fd,
 * opened before setns) owned by the user namespace own? 0, -EPERM, -errno.
 */
static int mntns_owned_by(int fddir, const struct stat *own)
{
	_cleanup_close_ int mnt = -EBADF, user = -EBADF;
	struct stat st;

	mnt = openat(fddir, "../ns/mnt", O_RDONLY | O_CLOEXEC);
	if (mnt < 0)
		return negerrno();
	user = ioctl(mnt, NS_GET_USERNS);
	if (user < 0)
		return negerrno();
	if (fstat(user, &st) < 0)
		return negerrno();
	return st.st_dev == own->st_dev && st.st_ino == own->st_ino ? 0 : -EPERM;
}

static int child_enter(int pidfd, int procroot, const char *root, bool own_userns, int *keep,
		       size_t nkeep, int *ret_fddir, int *ret_rootfd)
{
	_cleanup_close_ int fddir = -EBADF;
	struct stat own;
	int r;

	r = ns_child_close_all_but(keep, nkeep);
	if (r < 0)
		return r;
	fddir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fddir < 0)
		return negerrno();
	if (own_userns && stat("/proc/self/ns/user", &own) < 0)
		return negerrno();
	if (setns(pidfd, CLONE_NEWNS) < 0)
		return negerrno();
	/*
	 * Judged on the namespace entered, not on the pid before: the process
	 * may unshare a new one at any time, and move_mount onto a target fd
	 * works only in the namespace that fd's mount is in.
	 */
	if (own_userns) {
		r = mntns_owned_by(fddir, &own);
		if (r < 0)
			return r;
	}
	r = ns_resolve_in_root(procroot, root, 0, 0, ret_rootfd);
	if (r < 0)
		return r;
	/*
	 * umount_fd's names are relative to it: entered once, not per mount
	 * (issue 11). setns has just moved the working directory to the
	 * namespace's root, and nothing in the child changes it after this.
	 */
	if (fchdir(fddir) < 0)
		return negerrno();
	*ret_fddir = TAKE_FD(fddir);
	return 0;
}

/* A mountinfo line is at most a few escaped paths long. */
#define MOUNTINFO_LINE_MAX 65536

/* In one mountinfo line: is it mount id's, and does it carry "shared:N"? */
static int line_shared(const char *line, size_t len, unsigned id)
{
	const char *end = line + len, *p = line;
	unsigned long v = 0;
	int field = 1;

	if (p == end || *p < '0' || *p > '9')
		return -1;
	for (; p < end && *p >= '0' && *p <= '9'; p++)
		v = v * 10 + (unsigned long)(*p - '0');
	if (v != id)
		return -1;
	/* Optional fields start at field 7 and end at the lone "-". */
	for (; p < end; p++) {
		if (*p != ' ')
			continue;
		field++;
		if (field < 7)
			continue;
		if (end - p >= 3 && p[1] == '-' && p[2] == ' ')
			return 0;
		if (end - p > 8 && !memcmp(p + 1, "shared:", 7))
			return 1;
	}
	return 0;
}

#ifndef STATX_MNT_ID_UNIQUE
#define STATX_MNT_ID_UNIQUE 0x00004000U
#endif
#ifndef __NR_statmount
#define __NR_statmount 457 /* Linux 6.8, the same number on every architecture */
#endif
#define STATMOUNT_MNT_BASIC 0x00000002U
#define MNT_ID_REQ_SIZE_VER0 24

/* The kernel's struct statmount up to mnt_propagation (uapi/linux/mount.h, 6.8). */
struct dv_statmount {
	uint32_t size;
	uint32_t spare1;
	uint64_t mask;
	uint32_t sb_dev_major, sb_dev_minor;
	uint64_t sb_magic;
	uint32_t sb_flags, fs_type;
	uint64_t mnt_id, mnt_parent_id;
	uint32_t mnt_id_old, mnt_parent_id_old;
	uint64_t mnt_attr;
	uint64_t mnt_propagation; /* MS_SHARED, MS_SLAVE, MS_PRIVATE, MS_UNBINDABLE */
};

struct dv_mnt_id_req {
	uint32_t size;
	uint32_t spare;
	uint64_t mnt_id;
	uint64_t param;
};

/* Mounts whose propagation one child remembers (the rest are asked again). */
#define SEEN_MAX 16

/*
 * The propagation of the mounts one attach child has asked statmount about,
 * by unique mount id: targets mostly lie on one or a few mounts, asked once
 * each rather than once per target (issue 11). A unique id is never reused,
 * so an entry cannot name another mount. In the child's stack: no malloc.
 */
struct seen_mounts {
	size_t n;
	uint64_t id[SEEN_MAX];
	bool shared[SEEN_MAX];
};

/*
 * Is fd's mount shared, asked of statmount (6.8) in this process's mount
 * namespace: one call, where reading mountinfo costs the whole table per
 * target (a prepare of 64 volumes read it 64 times), and none for a mount
 * in seen. 1, 0, -EOPNOTSUPP before 6.8, -errno.
 */
static int statmount_shared(int fd, struct seen_mounts *seen)
{
	struct dv_mnt_id_req req = { .size = MNT_ID_REQ_SIZE_VER0, .param = STATMOUNT_MNT_BASIC };
	struct dv_statmount sm = { 0 };
	struct statx stx;
	bool shared;

	if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW | AT_STATX_DONT_SYNC,
		  STATX_MNT_ID_UNIQUE, &stx) < 0)
		return negerrno();
	if (!(stx.stx_mask & STATX_MNT_ID_UNIQUE))
		return -EOPNOTSUPP;
	for (size_t i = 0; i < seen->n; i++)
		if (seen->id[i] == stx.stx_mnt_id)
			return seen->shared[i] ? 1 : 0;
	req.mnt_id = stx.stx_mnt_id;
	if (syscall(__NR_statmount, &req, &sm, sizeof(sm), 0) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
	if (!(sm.mask & STATMOUNT_MNT_BASIC) || sm.size < sizeof(sm))
		return -EOPNOTSUPP;
	shared = !!(sm.mnt_propagation & MS_SHARED);
	if (seen->n < SEEN_MAX) {
		seen->id[seen->n] = stx.stx_mnt_id;
		seen->shared[seen->n++] = shared;
	}
	return shared ? 1 : 0;
}

/*
 * Is the mount that fd lies on a member of a peer group (statmount's
 * MS_SHARED; mountinfo's "shared:N" before 6.8)? Then a mount placed on it
 * propagates to every peer: out of the container into the host or sibling
 * namespaces (issue 9). Before 6.8, read from
 * this process's own mountinfo through the host procfs (fddir is its
 * /proc/self/fd, opened before setns): its contents follow the namespace
 * the reader is in when it opens the file. 1 shared, 0 not, -errno.
 */
static int mount_is_shared(int fddir, int fd, struct seen_mounts *seen)
{
	static char buf[MOUNTINFO_LINE_MAX];
	_cleanup_close_ int mi = -EBADF;
	size_t have = 0;
	uint64_t id;
	int r;

	r = statmount_shared(fd, seen);
	if (r != -EOPNOTSUPP)
		return r;
	r = ns_mount_id_legacy(fd, "", &id);
	if (r < 0)
		return r;
	mi = openat(fddir, "../mountinfo", O_RDONLY | O_CLOEXEC);
	if (mi < 0)
		return negerrno();
	for (;;) {
		ssize_t len = read(mi, buf + have, sizeof(buf) - have);
		char *nl, *start = buf;

		if (len < 0 && errno == EINTR)
			continue;
		if (len < 0)
			return negerrno();
		if (len == 0)
			return -ENODATA; /* not listed: cannot tell */
		have += (size_t)len;
		while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
			r = line_shared(start, (size_t)(nl - start), (unsigned)id);
			if (r >= 0)
				return r;
			start = nl + 1;
		}
		have -= (size_t)(start - buf);
		if (have == sizeof(buf))
			return -E2BIG;
		memmove(buf, start, have);
	}
}

static int attach_one(int rootfd, int fddir, const struct ns_mount *m, struct seen_mounts *seen,
		      uint64_t *ret_id)
{
	_cleanup_close_ int fd = -EBADF;
	char path[PATH_MAX];
	int target, r;

	/* Resolved and judged by the caller: mount onto exactly that directory. */
	if (m->flags & NS_TARGET_FD) {
		target = m->target_fd;
	} else {
		r = target_path(m->base, m->target, path, sizeof(path));
		if (r < 0)
			return r;
		r = ns_resolve_in_root(rootfd, path, m->flags & (NS_CREATE | NS_NO_SYMLINKS),
				       m->mode ? m->mode : 0755, &fd);
		if (r < 0)
			return r;
		target = fd;
	}
	/*
	 * Refused rather than made private: the container's propagation is its
	 * runtime's choice (Kubernetes' Bidirectional mounts rely on it), and a
	 * copy that reached the host cannot be taken back once the container
	 * is gone. The attached tree itself is private (ns_open_tree).
	 */
	r = mount_is_shared(fddir, target, seen);
	if (r != 0)
		return r > 0 ? -EXDEV : r;
	if (move_mount(m->tree_fd, "", target, "",
		       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
	/*
	 * The tree fd now refers to the attached mount: its id is ours, the
	 * one the caller read before (move_mount keeps a mount's id). The
	 * mount is there even if statx fails: report it, with id 0.
	 */
	if (m->tree_mnt_id)
		*ret_id = m->tree_mnt_id;
	else if (ns_mount_id(m->tree_fd, "", ret_id) < 0)
		*ret_id = 0;
	return 0;
}

static int attach_child(int pidfd, int procroot, const char *root, struct ns_mount *mounts,
			size_t n, int wfd, struct reports *rep)
{
	_cleanup_close_ int fddir = -EBADF, rootfd = -EBADF;
	int keep[2 * NS_MOUNTS_MAX + 3];
	bool all_or_nothing = false, failed = false, own_userns = false;
	struct seen_mounts seen = { 0 };
	size_t nkeep = 0;
	int r;

	keep[nkeep++] = pidfd;
	keep[nkeep++] = procroot;
	keep[nkeep++] = wfd;
	for (size_t i = 0; i < n; i++) {
		keep[nkeep++] = mounts[i].tree_fd;
		if (mounts[i].flags & NS_TARGET_FD)
			keep[nkeep++] = mounts[i].target_fd;
		all_or_nothing |= !!(mounts[i].flags & NS_ALL_OR_NOTHING);
		own_userns |= !!(mounts[i].flags & NS_OWN_USERNS);
	}
	r = child_enter(pidfd, procroot, root, own_userns, keep, nkeep, &fddir, &rootfd);
	if (r < 0) {
		send_record(&rep->setup, r, 0);
		return r;
	}
	if (ns_child_pause_hook)
		ns_child_pause_hook("attach-child");

	/* mounts is the child's own copy: results are kept there for the undo. */
	for (size_t i = 0; i < n && !(failed && all_or_nothing); i++) {
		uint64_t id = 0;

		r = attach_one(rootfd, fddir, &mounts[i], &seen, &id);
		mounts[i].result = r;
		mounts[i].mnt_id = r < 0 ? 0 : id;
		send_record(&rep->rec[i], r, mounts[i].mnt_id);
		failed |= r < 0;
	}
	if (!failed || !all_or_nothing)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (mounts[i].result < 0 || !(mounts[i].flags & NS_ALL_OR_NOTHING))
			continue;
		/*
		 * If the undo fails the mount stays reported as attached. One
		 * store: killed before it, the record still says attached.
		 */
		if (umount_fd(mounts[i].tree_fd) == 0)
			__atomic_store_n(&rep->rec[i].state, RECORD_UNDONE, __ATOMIC_RELEASE);
	}
	return 0;
}

static int detach_one(int rootfd, const struct ns_unmount *t)
{
	_cleanup_close_ int fd = -EBADF;
	char path[PATH_MAX];
	uint64_t id;
	int r;

	r = target_path(t->base, t->target, path, sizeof(path));
	if (r < 0)
		return r;
	r = ns_resolve_in_root(rootfd, path, 0, 0, &fd);
	if (r < 0)
		return r;
	r = ns_is_mounted(fd, "", &id);
	if (r < 0)
		return r;
	if (id != t->mnt_id)
		return r ? -ESTALE : -ENOENT;
	if (!r)
		return -ENOENT; /* a directory inside our mount, not its root */
	return umount_fd(fd);
}

static int detach_child(int pidfd, int procroot, const char *root, const struct ns_unmount *t,
			size_t n, int wfd, struct reports *rep)
{
	_cleanup_close_ int fddir = -EBADF, rootfd = -EBADF;
	int keep[3] = { pidfd, procroot, wfd };
	int r;

	r = child_enter(pidfd, procroot, root, false, keep, ARRAY_SIZE(keep), &fddir, &rootfd);
	if (r < 0) {
		send_record(&rep->setup, r, 0);
		return r;
	}
	for (size_t i = 0; i < n; i++)
		send_record(&rep->rec[i], detach_one(rootfd, &t[i]), t[i].mnt_id);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Wait (bounded in time) until the child closes the pipe, its one write
 * end, by exiting; then reap it and hand apply() each record it stored.
 * The return value is the child's own setup failure, if any.
 */
static int collect(pid_t child, int rfd, const struct reports *rep, size_t n, unsigned timeout_ms,
		   void (*apply)(void *, size_t, const struct record *), void *data)
{
	/* A hung FUSE mount in the container must not hang us past --timeout. */
	long long deadline = now_ms() + timeout_ms;
	int status, setup = 0, r = 0, reaped;
	long long left;

	for (;;) {
		struct pollfd pfd = { .fd = rfd, .events = POLLIN };
		char c;
		ssize_t len;

		left = deadline - now_ms();
		if (left <= 0) {
			kill(child, SIGKILL);
			r = -ETIMEDOUT;
			break;
		}
		if (poll(&pfd, 1, (int)left) < 0) {
			if (errno == EINTR)
				continue;
			kill(child, SIGKILL);
			r = negerrno();
			break;
		}
		if (!pfd.revents)
			continue;
		/* The child writes nothing: this is EOF (or an error: stop as well). */
		len = read(rfd, &c, 1);
		if (len < 0 && errno == EINTR)
			continue;
		break;
	}
	/*
	 * After EOF it only exits: wait up to what is left of the timeout.
	 * Killed, it may be stuck in a FUSE request for good: never wait
	 * for it unbounded (issue 9), and it holds no fd of ours.
	 */
	left = r < 0 ? NS_CHILD_GRACE_MS : deadline - now_ms();
	reaped = ns_child_reap(
	    child, r<0, left> NS_CHILD_GRACE_MS ? (unsigned)left : NS_CHILD_GRACE_MS, &status);
	if (reaped == -ETIMEDOUT && r == 0) {
		reaped = ns_child_reap(child, true, NS_CHILD_GRACE_MS, &status);
		r = -ETIMEDOUT;
	}
	/*
	 * What it stored before it exited or was killed. A child stuck in a
	 * syscall when killed never returns to store more.
	 */
	if (__atomic_load_n(&rep->setup.state, __ATOMIC_ACQUIRE) != RECORD_NONE &&
	    rep->setup.result < 0)
		setup = rep->setup.result;
	for (size_t i = 0; i < n; i++)
		if (__atomic_load_n(&rep->rec[i].state, __ATOMIC_ACQUIRE) != RECORD_NONE)
			apply(data, i, &rep->rec[i]);
	/*
	 * ECHILD: SIGCHLD ignored, or a handler reaped it first: the exit
	 * status is lost, the records still tell what was done.
	 */
	if (reaped < 0)
		return r ? r : reaped == -ECHILD ? setup : reaped;
	if (r < 0)
		return r;
	if (setup < 0)
		return setup;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) != CHILD_EXIT_UNKNOWN)
		return -WEXITSTATUS(status);
	return -EPROTO;
}

/* In the child: errno values fit an exit status. */
_noreturn_ static void child_exit(int r)
{
	_exit(r >= 0 ? 0 : (-r < CHILD_EXIT_UNKNOWN ? -r : CHILD_EXIT_UNKNOWN));
}

static void apply_attach(void *data, size_t i, const struct record *rec)
{
	struct ns_mount *m = (struct ns_mount *)data + i;
	bool undone = rec->state == RECORD_UNDONE;

	m->result = undone ? -ECANCELED : rec->result;
	m->mnt_id = undone || rec->result < 0 ? 0 : rec->mnt_id;
}

static void apply_detach(void *data, size_t i, const struct record *rec)
{
	((struct ns_unmount *)data)[i].result = rec->result;
}

/* The batch's answer: its first real failure; ECANCELED only if nothing else. */
static int first_failure(const int *results, size_t stride, size_t n)
{
	int cancelled = 0;

	for (size_t i = 0; i < n; i++) {
		int r = *(const int *)((const char *)results + i * stride);

		if (r == -ECANCELED)
			cancelled = r;
		else if (r < 0)
			return r;
	}
	return cancelled;
}

/* fork with a pipe back; the child gets SIGKILL if we die first. */
static int spawn(int *ret_rfd, int *ret_wfd, pid_t *ret_pid)
{
	pid_t parent = getpid(), pid;
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return negerrno();
	pid = fork();
	if (pid < 0) {
		int r = negerrno();

		close(p[0]);
		close(p[1]);
		return r;
	}
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/*
		 * A parent killed before that line sends no signal: its
		 * orphan would attach after recover undid the prepare
		 * (tests/kill_at_fork_test.c). Gone already: do nothing.
		 */
		if (getppid() != parent)
			_exit(1);
		*ret_wfd = p[1];
		*ret_rfd = -EBADF;
	} else {
		close(p[1]);
		*ret_rfd = p[0];
		*ret_wfd = -EBADF;
	}
	*ret_pid = pid;
	return 0;
}

int ns_attach(int pidfd, const char *root, struct ns_mount *mounts, size_t n, unsigned timeout_ms)
{
	_cleanup_close_ int procroot = -EBADF, rfd = -EBADF;
	struct reports *rep = NULL;
	int wfd, r;
	pid_t pid;

	if (pidfd < 0 || (n && !mounts) || n > NS_MOUNTS_MAX || timeout_ms == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (mounts[i].tree_fd < 0 || !mounts[i].target ||
		    ((mounts[i].flags & NS_TARGET_FD) && mounts[i].target_fd < 0))
			return -EINVAL;
		mounts[i].result = -ECANCELED;
		mounts[i].mnt_id = 0;
	}
	if (!n)
		return 0;
	r = ns_open_proc_root(pidfd, &procroot);
	if (r < 0)
		goto fail;
	r = reports_new(n, &rep);
	if (r < 0)
		goto fail;
	r = spawn(&rfd, &wfd, &pid);
	if (r < 0)
		goto fail;
	if (pid == 0)
		child_exit(attach_child(pidfd, procroot, root ? root : "/", mounts, n, wfd, rep));

	r = collect(pid, rfd, rep, n, timeout_ms, apply_attach, mounts);
	debug(DEBUG_NS, "ns", "attach of %zu mounts: %d", n, r);
	if (r < 0)
		goto fail;
	reports_free(rep, n);
	return first_failure(&mounts[0].result, sizeof(mounts[0]), n);
fail:
	reports_free(rep, n);
	/* Nothing was reported for a mount the child never got to. */
	for (size_t i = 0; i < n; i++)
		if (mounts[i].result == -ECANCELED && !mounts[i].mnt_id)
			mounts[i].result = r;
	return r;
}

int ns_detach(int pidfd, const char *root, struct ns_unmount *targets, size_t n,
	      unsigned timeout_ms)
{
	_cleanup_close_ int procroot = -EBADF, rfd = -EBADF;
	struct reports *rep = NULL;
	int wfd, r;
	pid_t pid;

	if (pidfd < 0 || (n && !targets) || n > NS_MOUNTS_MAX || timeout_ms == 0)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!targets[i].target)
			return -EINVAL;
		targets[i].result = -ECANCELED;
	}
	if (!n)
		return 0;
	r = ns_open_proc_root(pidfd, &procroot);
	if (r < 0)
		goto fail;
	r = reports_new(n, &rep);
	if (r < 0)
		goto fail;
	r = spawn(&rfd, &wfd, &pid);
	if (r < 0)
		goto fail;
	if (pid == 0)
		child_exit(detach_child(pidfd, procroot, root ? root : "/", targets, n, wfd, rep));

	r = collect(pid, rfd, rep, n, timeout_ms, apply_detach, targets);
	debug(DEBUG_NS, "ns", "detach of %zu mounts: %d", n, r);
	if (r < 0)
		goto fail;
	reports_free(rep, n);
	return first_failure(&targets[0].result, sizeof(targets[0]), n);
fail:
	reports_free(rep, n);
	for (size_t i = 0; i < n; i++)
		if (targets[i].result == -ECANCELED)
			targets[i].result = r;
	return r;
}
