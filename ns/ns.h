/* SPDX-License-Identifier: MIT */
/*
 * Namespaces and mounts: attach detached mount trees (Docker volumes already
 * mounted on the host by a plugin) into the mount namespace of a container
 * process, and detach them again, without ever following a path the
 * container could swap under us (facts/kernel.md: CVE-2021-30465,
 * CVE-2024-21626, CVE-2025-52881).
 *
 * Every function returns 0 (or a positive value where said) on success and
 * -errno on failure; out-parameters are written only on success. Missing
 * kernel features (ENOSYS at run time) come back as -EOPNOTSUPP.
 *
 * ns/ owns namespaces, mounts and what a path is in another process's view
 * (ns/mountpoint.h: the facts of a plugin's Mountpoint). It is library code:
 * it never prints, and must not know the program, the plugins, the state or
 * the spec: it includes only its own headers, common/ and policy/ (the facts
 * struct it fills) (make layers-check).
 */
#ifndef DVMOUNT_NS_NS_H
#define DVMOUNT_NS_NS_H

#include <stdbool.h>
#include <stddef.h>
#include <limits.h>
#include <stdint.h>
#include <sys/types.h>

/* Largest batch ns_attach/ns_detach accept (bounded like every input). */
#define NS_MOUNTS_MAX 1024

/* ns_open_tree attrs, applied recursively and atomically to the clone. */
enum {
	NS_ATTR_RDONLY = 1 << 0,
	NS_ATTR_NOSUID = 1 << 1,
	NS_ATTR_NODEV = 1 << 2,
	NS_ATTR_NOEXEC = 1 << 3,
};

/* Resolution and attach flags (ns_resolve_*, struct ns_mount.flags). */
enum {
	/* Create missing directories, one component at a time. */
	NS_CREATE = 1 << 0,
	/* Refuse any symlink on the way (RESOLVE_NO_SYMLINKS). */
	NS_NO_SYMLINKS = 1 << 1,
	/*
	 * ns_attach: if any mount of the batch fails, stop there and detach
	 * this mount again. Set it on every mount for all-or-nothing.
	 */
	NS_ALL_OR_NOTHING = 1 << 2,
	/*
	 * ns_attach: target_fd is the target, already resolved in the
	 * process's root (ns_open_proc_root + ns_resolve_real) and judged by
	 * the caller; it is mounted onto as it is, never looked up again.
	 */
	NS_TARGET_FD = 1 << 3,
	/*
	 * ns_attach: refuse (-EPERM, nothing attached) a mount namespace owned
	 * by a user namespace other than ours. Whoever owns that user namespace
	 * may mount_setattr() there and clear the volume's read-only, nodev and
	 * nosuid attributes: the kernel locks them only on mounts copied into
	 * such a namespace, never on one moved in (fs/namespace.c,
	 * MNT_LOCK_READONLY). Set it on any mount of the batch: it applies to
	 * the namespace. For callers that are not root (issue 10).
	 */
	NS_OWN_USERNS = 1 << 4,
};

struct ns_mount {
	/* in */
	int tree_fd;	    /* detached tree from ns_open_tree; not closed here */
	const char *target; /* inside the container root */
	const char *base;   /* a relative target is taken below it; NULL: "/" */
	unsigned flags;	    /* NS_CREATE, NS_NO_SYMLINKS, NS_ALL_OR_NOTHING, NS_TARGET_FD */
	int target_fd;	    /* with NS_TARGET_FD: O_PATH fd of the target; not closed here */
	mode_t mode;	    /* for created directories (the umask applies) */
	/*
	 * The tree's ns_mount_id() when the caller read it already (0: not
	 * known): move_mount keeps a mount's id, so the child reports it
	 * without a statx per mount.
	 */
	uint64_t tree_mnt_id;
	/* out */
	int result;	 /* 0, -errno, or -ECANCELED (undone or not tried) */
	uint64_t mnt_id; /* of the attached mount (ns_mount_id), 0 if none */
};

struct ns_unmount {
	/* in */
	const char *target; /* as given to ns_attach */
	const char *base;
	uint64_t mnt_id; /* recorded by ns_attach: only this mount goes */
	/* out */
	int result; /* 0; -ENOENT; -ESTALE: another mount is there now */
};

/*
 * Test builds only (helper/caps.h): called in the attach child once it closed
 * what it does not keep and entered the namespace, so that a test can read
 * its /proc/PID/fd there. NULL in dvmount. It may make syscalls only.
 */
extern void (*ns_child_pause_hook)(const char *point);

/*
 * The pid (in our pid namespace) of the process behind pidfd, from its
 * fdinfo. -ESRCH: it has exited (or is not visible from here); -EBADF: not a
 * pidfd; -EBADMSG: an fdinfo we cannot read.
 */
int ns_pidfd_pid(int pidfd, pid_t *ret_pid);

/*
 * /proc/PID of the process behind pidfd as an O_PATH directory fd (the
 * caller closes it), opened first and the pidfd checked alive afterwards, so
 * that it is that process's and not a reused pid's. -ESRCH: gone;
 * -EOPNOTSUPP: no pidfd_send_signal (before 5.1); -errno of ns_pidfd_pid().
 */
int ns_pidfd_proc_dir(int pidfd, int *ret_dirfd);

/*
 * pidfd_open(pid) checked against pid reuse: the start time (field 22 of
 * /proc/PID/stat, clock ticks since boot) is read after opening, while the
 * pidfd's process is shown alive afterwards (so that it is its own), and must
 * match expect_start unless that is 0; it goes to *ret_start (may be NULL).
 * Returns 0 with the pidfd (O_CLOEXEC, the caller's) in *ret_pidfd; -ESRCH:
 * pid is gone or is another process than expect_start says; -EOPNOTSUPP: no
 * pidfd_open (before 5.3); -EBADMSG: an unreadable stat line; -errno.
 */
int ns_pidfd_open(pid_t pid, unsigned long long expect_start, int *ret_pidfd,
		  unsigned long long *ret_start);
/*
 * 0 while the process behind pidfd runs (or is a zombie not yet reaped),
 * -ESRCH once it has exited. A process we may not signal (EPERM) is alive.
 */
int ns_pidfd_alive(int pidfd);
/* Start time of pid (clock ticks since boot): -ESRCH if there is none. */
int ns_process_start(pid_t pid, unsigned long long *ret_start);
/* For recovery: pid runs (not a zombie) and started at start. */
bool ns_process_alive(pid_t pid, unsigned long long start);

/*
 * /proc/PID/root of the process behind pidfd as an O_PATH fd: its root as it
 * sees it, reachable from our own mount namespace. The pidfd is checked after
 * the open, so the directory is that process's and not a reused pid's.
 * -ESRCH: it is gone; -EBADF: not a pidfd.
 */
int ns_open_proc_root(int pidfd, int *ret_fd);

/*
 * A detached recursive clone of dirfd/path (never following a final
 * symlink or an automount), with attrs (NS_ATTR_*) set recursively and
 * propagation private, ready for ns_attach.
 */
int ns_open_tree(int dirfd, const char *path, unsigned attrs, int *ret_fd);

/*
 * Attach mounts[i].tree_fd at mounts[i].target into the mount namespace of
 * the process behind pidfd, in one child that enters that namespace once.
 * root is the container root as that process sees it from its own root:
 * "/" once running, the rootfs path before pivot_root (OCI createRuntime).
 * Targets are resolved beneath root: symlinks and ".." never leave it.
 * The child is SIGKILLed after timeout_ms (milliseconds, the whole batch;
 * the caller's --timeout): a target reached through a hung FUSE or NFS
 * mount in the container must not hold us (and the volumes' locks) longer.
 * Fills result and mnt_id of every mount; returns 0 when all succeeded, else
 * the first failure (-ESRCH: the process is gone; -EXDEV: the target lies on
 * a shared mount, from which the volume would propagate to the mount's peers
 * in other namespaces: refused, issue 9; -EPERM: NS_OWN_USERNS and the
 * namespace belongs to another user namespace; -ETIMEDOUT: the child was killed,
 * mounts without a result keep mnt_id 0 or the id it reported; -EINVAL: a
 * bad argument or timeout_ms 0).
 */
int ns_attach(int pidfd, const char *root, struct ns_mount *mounts, size_t n, unsigned timeout_ms);

/*
 * Detach (MNT_DETACH) each target in the namespace of pidfd, only when the
 * mount found there is the one with the recorded id. -ESRCH: the process
 * and so its namespace are gone; nothing is left to do. -ETIMEDOUT: the
 * child did not finish within timeout_ms (milliseconds, as for ns_attach)
 * and was killed. Otherwise 0 or the first per-target failure.
 */
int ns_detach(int pidfd, const char *root, struct ns_unmount *targets, size_t n,
	      unsigned timeout_ms);

/*
 * Detach, in OUR mount namespace, each mount stacked at the absolute path
 * (no symlink followed) whose root is the directory dev:ino (statx, cached
 * attributes only): copies of an attached volume that propagated out of a
 * container through a shared mount (issue 9); never the mount whose id
 * (ns_mount_id()) is keep_id, the plugin's own mount when the path is its
 * Mountpoint (0: none). Returns how many went, at most a bounded number;
 * -errno when a lookup or umount failed.
 */
int ns_umount_copies(const char *path, dev_t dev, uint64_t ino, uint64_t keep_id);
/* The device and inode of the root of the tree fd (cached attributes only). */
int ns_tree_identity(int fd, dev_t *ret_dev, uint64_t *ret_ino);
/*
 * ns_mount_id() and ns_tree_identity() of the tree fd in one statx (issue
 * 11: three statx per volume were two too many). Returns 0 or -errno as
 * ns_mount_id(); nothing is written on failure.
 */
int ns_tree_ids(int fd, uint64_t *ret_id, dev_t *ret_dev, uint64_t *ret_ino);

/*
 * Resolve path beneath rootfd (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS:
 * absolute symlinks and ".." stay inside), to an O_PATH directory fd.
 * NS_CREATE makes missing directories with mode; NS_NO_SYMLINKS refuses
 * symlinks. Used in the namespace child and on the host alike.
 */
int ns_resolve_in_root(int rootfd, const char *path, unsigned flags, mode_t mode, int *ret_fd);
/*
 * Resolve path beneath rootfd as the container would (symlinks followed, an
 * absolute one and ".." kept inside the root), but with every link read and
 * followed here, so that where the path really leads is known: ret_path gets
 * that absolute, normalized, link-free path inside the root (PATH_MAX bytes),
 * ret_fd an O_PATH directory fd opened on exactly it with RESOLVE_NO_SYMLINKS.
 * NS_CREATE makes each missing directory with mode, the missing target of a
 * dangling link too, always inside the root (runc 1.1's behaviour);
 * NS_NO_SYMLINKS refuses any link (-ELOOP). A link on procfs (/proc/self,
 * /proc/PID/root, /proc/self/fd/N) is never followed: -EXDEV. Other errors:
 * -ENOENT (missing, no NS_CREATE), -ENOTDIR, -ELOOP (more than 40 links, or
 * renames racing every one of 16 walks), -ENAMETOOLONG, -EINVAL.
 */
int ns_resolve_real(int rootfd, const char *path, unsigned flags, mode_t mode,
		    char ret_path[static PATH_MAX], int *ret_fd);
/*
 * ns_resolve_real() for a path that exists, holds no symlink and no "..",
 * answered from the kernel's dentry cache alone (RESOLVE_CACHED, 5.12): it
 * never waits on a filesystem, a hung FUSE or NFS one included, so it needs
 * no child to be bounded in time (issue 11: ns_resolve_real_bounded forks
 * none when every path is answered so). ret_path and ret_fd as
 * ns_resolve_real() gives them. -EAGAIN for anything else (a link, a "..",
 * a missing or uncached component, an older kernel): ns_resolve_real()
 * decides those. -EINVAL, -ENAMETOOLONG.
 */
int ns_resolve_real_cached(int rootfd, const char *path, char ret_path[static PATH_MAX],
			   int *ret_fd);
/*
 * On the host: resolve root (NULL: "/"; never created), then path beneath
 * it as ns_resolve_in_root does, e.g. "<rootfs>" + "/data" with NS_CREATE.
 */
int ns_resolve_host(const char *root, const char *path, unsigned flags, mode_t mode, int *ret_fd);

/*
 * The id of the mount dirfd/path is on (never following a final symlink);
 * the kernel's unique 64-bit id when it has one (6.8), else the old id.
 */
int ns_mount_id(int dirfd, const char *path, uint64_t *ret_id);
/*
 * 1 if dirfd/path (final symlink not followed) is the root of a mount, 0 if
 * not; ret_id (may be NULL) gets its mount id in either case.
 */
int ns_is_mounted(int dirfd, const char *path, uint64_t *ret_id);

/* ns_peek flags. */
enum {
	NS_PEEK_TREE = 1 << 0,	/* clone the tree (ns_open_tree with attrs) */
	NS_PEEK_CHOWN = 1 << 1, /* chown the directory to uid:gid first */
	/*
	 * Only whether the path is a mount root: no walk up to the nearest one
	 * (mount_root_up is then 0 or 1), which costs a lookup per component.
	 */
	NS_PEEK_NO_ROOT_WALK = 1 << 2,
};

struct ns_peek {
	/* in */
	const char *path; /* absolute, as the viewing process sees it */
	unsigned flags;	  /* NS_PEEK_* */
	unsigned attrs;	  /* NS_ATTR_* for NS_PEEK_TREE */
	uid_t uid;	  /* for NS_PEEK_CHOWN */
	gid_t gid;
	/* out */
	int result;	     /* 0, -errno of this path, or decide's refusal */
	bool exists;	     /* resolution reached an existing file */
	bool has_symlink;    /* a component is a symlink (none is followed) */
	bool is_directory;   /* ... it is a directory */
	bool is_mount_point; /* ... and the root of a mount */
	/*
	 * Components between path and the nearest mount root at or above it
	 * (0: path is one); the number of path's components if none is.
	 */
	unsigned mount_root_up;
	dev_t dev;	 /* of the file reached: device and inode tell one view's */
	ino_t ino;	 /* directory from another's */
	bool other_view; /* the process's root or mount namespace is not ours */
	/* NS_PEEK_TREE, a judged directory: the detached tree (caller closes); else -EBADF */
	int tree_fd;
};

/*
 * Look at pk[0..n) (n at most NS_MOUNTS_MAX) as the process behind pidfd sees
 * them (-EBADF: as we do): each path resolved beneath its /proc/PID/root with
 * no symlink followed, facts from cached attributes only (AT_STATX_DONT_SYNC),
 * and with NS_PEEK_TREE the tree cloned inside that process's mount namespace,
 * since open_tree refuses another namespace's mounts. Everything that can
 * reach the filesystem at a path runs in ONE child killed after timeout_ms
 * (milliseconds, for the whole batch), so a hung FUSE or NFS volume costs at
 * most that (issue 9). When the view is in our own mount namespace, no path
 * is to be chowned and every lookup is answered from the dentry cache
 * (RESOLVE_CACHED) with cached attributes, nothing can block and no child is
 * forked. A missing path, a symlink or a non-directory is a
 * fact, not an error. With NS_PEEK_CHOWN or NS_PEEK_TREE, a directory's facts
 * are judged by decide(pk, i) (may be NULL) first: a negative return skips
 * the chown and clone of that path and becomes its result.
 * Returns 0 (then see each result); -ETIMEDOUT; -ESRCH when the process is
 * gone, before or right after the look (what was seen can then not be proven
 * to be its); -EINVAL; other -errno. On failure no tree fd is left open.
 */
int ns_peek(int pidfd, struct ns_peek *pk, size_t n, unsigned timeout_ms,
	    int (*decide)(const struct ns_peek *pk, size_t i, void *userdata), void *userdata);

struct ns_resolve {
	/* in */
	const char *path; /* inside the root */
	unsigned flags;	  /* as ns_resolve_real() takes them */
	mode_t mode;
	/* out */
	int result;	     /* ns_resolve_real()'s, -ETIMEDOUT, or -ECANCELED: not reached */
	char real[PATH_MAX]; /* where it leads, inside the root */
	int fd;		     /* O_PATH on it (the caller closes it); -EBADF on failure */
};

/*
 * ns_resolve_real() for rs[0..n) (n at most NS_MOUNTS_MAX) beneath rootfd, in
 * ONE child killed after timeout_ms (milliseconds, the whole batch; the
 * caller's --timeout): the walk and NS_CREATE's mkdirs reach every
 * filesystem on the way, and a target inside a hung FUSE or NFS volume
 * would block them (issue 9). The paths ns_resolve_real_cached() answers
 * are resolved here first, with no child: when it answers all, none is
 * forked. Returns 0 (then see each result); -ETIMEDOUT; -EINVAL; other
 * -errno (a fork refused: -EAGAIN, -EPERM). On any failure but -EINVAL no fd
 * is left open, and every result that was not an error is that failure.
 */
int ns_resolve_real_bounded(int rootfd, struct ns_resolve *rs, size_t n, unsigned timeout_ms);

/*
 * How long a SIGKILLed child of ns/ is waited for (milliseconds): one that
 * has not died by then is stuck in a filesystem that does not answer (a FUSE
 * request its daemon already read waits uninterruptibly: fs/fuse/dev.c) and
 * is left to init, never waited for without bound (issue 9).
 */
#define NS_CHILD_GRACE_MS 200

/*
 * In a child of ns/ before it touches any filesystem: close every fd but
 * keep[0..n) (sorted in place; negative entries ignored), 0-2 included, so
 * that a child that cannot die holds none of the caller's: not the stdout a
 * containerizer reads to EOF, not a lock (flock lives on the open file).
 * Uses close_range (5.9), one by one before. Returns 0 or -errno.
 */
int ns_child_close_all_but(int *keep, size_t n);

/*
 * Reap child, SIGKILLed first if kill_first, waiting at most grace_ms
 * (milliseconds; NS_CHILD_GRACE_MS after a kill). Returns 0 with its wait
 * status in *ret_status (may be NULL); -ETIMEDOUT: it is still there (stuck
 * in a hung filesystem) and is left unreaped, to be reaped by init once it
 * dies; -EINVAL; -ECHILD (SIGCHLD ignored or reaped elsewhere).
 */
int ns_child_reap(pid_t child, bool kill_first, unsigned grace_ms, int *ret_status);

/*
 * The mount id /proc/PID/mountinfo shows (statx STATX_MNT_ID, not the unique
 * 64-bit one) of dirfd + path (path "" for dirfd itself), into *ret_id.
 * Returns 0, -EOPNOTSUPP (no STATX_MNT_ID: before 5.8), -EINVAL, or statx's
 * -errno.
 */
int ns_mount_id_legacy(int dirfd, const char *path, uint64_t *ret_id);

/*
 * The shared library ns_mount_listed() reads mount tables with: libmount's
 * soname in Debian 12 (util-linux 2.38, whose headers the build takes from
 * pkg-config mount). It is loaded by dlopen() on first use, not linked
 * (ns/mountinfo.c says why), so a command that reads no mount table never
 * maps it.
 */
#define NS_LIBMOUNT_SONAME "libmount.so.1"

/*
 * Whether a mount whose legacy id (ns_mount_id_legacy, 1..INT_MAX) is
 * legacy_id is in the mount table of process pid (/proc/PID/mountinfo, read
 * by libmount). Loads libmount first if no call did yet (ns_libmount_load).
 * Returns 1 listed, 0 not; -ESRCH: the process is gone; -EINVAL: legacy_id
 * out of range; -ELIBACC / -ELIBBAD: libmount could not be loaded (as
 * ns_libmount_load); -EIO: the table could not be read; -ENOMEM; access()'s
 * -errno for /proc/PID/mountinfo. Thread-safe.
 */
int ns_mount_listed(pid_t pid, uint64_t legacy_id);

/*
 * Load NS_LIBMOUNT_SONAME (dlopen RTLD_NOW | RTLD_LOCAL, then dlsym of the
 * functions ns_mount_listed calls), once per process: later calls return the
 * first one's result. The library stays loaded for the life of the process.
 * Returns 0; -ELIBACC: it cannot be loaded (not installed, or not a loadable
 * library: dlerror()'s text goes to `--debug ns`); -ELIBBAD: it lacks one of
 * the functions. Thread-safe (pthread_once).
 */
int ns_libmount_load(void);

#endif
