/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the tests: a private mount namespace, tmpfs scratch
 * directories that leave nothing behind, small file helpers, and "container"
 * processes (a child in its own mount namespace, optionally pivoted into a
 * rootfs) to attach mounts into.
 *
 * Every function returns 0 (or a length/count) on success and -errno on
 * failure, like the library, so tests can ASSERT_EQ(0, tu_...()).
 *
 * Typical fixture:
 *	FIXTURE_SETUP(x) {
 *		ASSERT_EQ(0, tu_private_mountns());
 *		ASSERT_EQ(0, tu_scratch_make(&self->scratch));
 *	}
 *	FIXTURE_TEARDOWN(x) {
 *		tu_container_stop(&self->ct);
 *		tu_scratch_remove(&self->scratch);
 *	}
 */
#ifndef DVMOUNT_TESTS_TESTUTIL_H
#define DVMOUNT_TESTS_TESTUTIL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * unshare(CLONE_NEWNS) and make every mount private (MS_REC), so nothing the
 * test mounts reaches the host. Call it first in every test that mounts.
 */
int tu_private_mountns(void);

/*
 * A scratch directory: mkdtemp under $TMPDIR (or /tmp) with a fresh tmpfs on
 * it once this process called tu_private_mountns (never on the host's
 * namespace: the mount would leak).
 * tu_scratch_remove unmounts it (lazily, with everything below) and removes
 * what is left; it accepts a zeroed or already removed scratch.
 */
struct tu_scratch {
	char path[PATH_MAX];
	bool mounted;
};
int tu_scratch_make(struct tu_scratch *s);
void tu_scratch_remove(struct tu_scratch *s);

/* snprintf into a PATH_MAX buffer; aborts the test program on truncation. */
char *tu_path(char buf[static PATH_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* mkdir -p (mode for each created level). */
int tu_mkdirs(const char *path, mode_t mode);
/* rm -rf that never crosses a mount or follows a symlink. */
int tu_rm_rf(const char *path);
/* Write (create/truncate) or read a whole small file; read NUL-terminates. */
int tu_write_file(const char *path, const char *content);
ssize_t tu_read_file(const char *path, char *buf, size_t size);
/* Open fds of this process (counts /proc/self/fd), for leak checks. */
int tu_count_fds(void);
/* Open fds of process pid (counts /proc/<pid>/fd). */
int tu_count_fds_of(pid_t pid);
/*
 * Processes (other than zombies) running the program at exe, an absolute
 * path: /proc/<pid>/exe compared after realpath(). Another build's copy of
 * the program is not counted.
 */
int tu_procs_of(const char *exe);

/*
 * From here on, in this process and its children for good, the syscalls
 * nrs[0..n) (__NR_*) fail with EPERM: a call that still succeeds made none
 * of them (how a test shows that work was not done, e.g. no component walk).
 * For a test's own forked process only (the harness forks each TEST).
 * 0, or -1 on an architecture or kernel where it cannot be set up (SKIP).
 */
int tu_forbid_syscalls(const int *nrs, size_t n);

/*
 * A "container": a child with PR_SET_PDEATHSIG(SIGKILL) that enters a new
 * private mount namespace and then sleeps until stopped. With a rootfs, the
 * rootfs is bind-mounted onto itself and made the cwd (what runc and crun
 * leave behind when the createRuntime hook runs); TU_CT_PIVOT also
 * pivot_roots into it (a running container); TU_CT_PROPAGATION_UNCHANGED
 * keeps the mounts' propagation as it was (`unshare -m --propagation
 * unchanged`), shared mounts stay peers of the parent's. tu_container_start returns
 * once the child is ready. tu_container_stop kills and reaps it (accepts a
 * zeroed or stopped container).
 */
enum {
	TU_CT_PIVOT = 1 << 0,
	TU_CT_PROPAGATION_UNCHANGED = 1 << 1,
};
struct tu_container {
	pid_t pid;
};
int tu_container_start(struct tu_container *ct, const char *rootfs, unsigned flags);
void tu_container_stop(struct tu_container *ct);
/*
 * The same for any set-up: a child with PR_SET_PDEATHSIG(SIGKILL) runs
 * setup(arg) (0 or -errno; it may change its namespaces and credentials,
 * which also clears the death signal) and then sleeps until stopped.
 * Returns 0 once setup succeeded, its -errno otherwise (the child then
 * killed and reaped), -EPIPE if the child died before telling.
 */
int tu_child_start(struct tu_container *ct, int (*setup)(void *arg), void *arg);
/* "/proc/<pid>/root<path>": a path as the container sees it. */
char *tu_container_path(char buf[static PATH_MAX], const struct tu_container *ct, const char *path);

#endif
