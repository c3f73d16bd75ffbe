/* SPDX-License-Identifier: MIT */
/*
 * The children ns/ forks to reach a filesystem at a path are bounded even
 * when they cannot die (issue 9's hang). A FUSE request the daemon has
 * already read leaves the task that made it in an uninterruptible wait until
 * the daemon answers or the connection is aborted, SIGKILL or not
 * (fs/fuse/dev.c, request_wait_answer). rclone SIGSTOPped right after one of
 * its threads had taken a LOOKUP did exactly that; here a daemon of our own
 * takes every LOOKUP and never answers. The call must return at its timeout
 * (plus a short grace), and the child left behind must hold no fd of ours:
 * not the caller's stdout (a containerizer reads it to EOF) nor a lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fuse.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ns/ns.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

#define TIMEOUT_MS 500
/* The timeout, the grace for a killed child, and a loaded machine's slack. */
#define BOUND_MS (TIMEOUT_MS + 1500)

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

FIXTURE(hung)
{
	char *dir;
	char mnt[PATH_MAX];
	int fuse;
	bool mounted;
	pthread_t daemon;
	bool running;
	int taken;  /* LOOKUPs read and never answered */
	int answer; /* LOOKUPs still to answer (a directory, valid 0 s) before those */
};

static void reply(int fuse, uint64_t unique, int error, const void *body, size_t len)
{
	char buf[sizeof(struct fuse_out_header) + 256];
	struct fuse_out_header h = { .len = (uint32_t)(sizeof(h) + len),
				     .error = error,
				     .unique = unique };

	memcpy(buf, &h, sizeof(h));
	if (len)
		memcpy(buf + sizeof(h), body, len);
	if (write(fuse, buf, sizeof(h) + len) < 0)
		return; /* aborted: the test is over */
}

/* INIT answered, the root's attributes told, every LOOKUP taken and kept. */
static void *daemon_main(void *data)
{
	FIXTURE_DATA(hung) *self = data;
	static char buf[FUSE_MIN_READ_BUFFER + 65536];

	for (;;) {
		ssize_t len = read(self->fuse, buf, sizeof(buf));
		struct fuse_in_header *in = (struct fuse_in_header *)buf;

		if (len < 0 && (errno == EINTR || errno == ENOENT))
			continue;
		if (len < (ssize_t)sizeof(*in))
			return NULL; /* ENODEV: aborted or unmounted */
		if (in->opcode == FUSE_INIT) {
			const struct fuse_init_in *ii = (const void *)(in + 1);
			struct fuse_init_out o = { .major = FUSE_KERNEL_VERSION,
						   .minor = ii->minor < FUSE_KERNEL_MINOR_VERSION
								? ii->minor
								: FUSE_KERNEL_MINOR_VERSION,
						   .max_write = 4096,
						   .max_readahead = ii->max_readahead };

			reply(self->fuse, in->unique, 0, &o, sizeof(o));
		} else if (in->opcode == FUSE_GETATTR) {
			struct fuse_attr_out o = {
				.attr = { .ino = 1, .mode = S_IFDIR | 0755, .nlink = 2 }
			};

			reply(self->fuse, in->unique, 0, &o, sizeof(o));
		} else if (in->opcode == FUSE_LOOKUP &&
			   __atomic_load_n(&self->answer, __ATOMIC_SEQ_CST) > 0) {
			/* In the dentry cache from now on, but stale at once. */
			struct fuse_entry_out o = {
				.nodeid = 2,
				.attr = { .ino = 2, .mode = S_IFDIR | 0755, .nlink = 2 }
			};

			__atomic_sub_fetch(&self->answer, 1, __ATOMIC_SEQ_CST);
			reply(self->fuse, in->unique, 0, &o, sizeof(o));
		} else if (in->opcode == FUSE_LOOKUP) {
			__atomic_add_fetch(&self->taken, 1, __ATOMIC_SEQ_CST);
		} else if (in->opcode != FUSE_FORGET && in->opcode != FUSE_BATCH_FORGET) {
			reply(self->fuse, in->unique, -ENOSYS, NULL, 0);
		}
	}
}

FIXTURE_SETUP(hung)
{
	char opts[128];
	struct stat st;

	self->fuse = -1;
	ASSERT_EQ(0, tu_private_mountns());
	self->dir = make_tmpdir("hungfuse");
	ASSERT_NE(NULL, self->dir);
	tu_path(self->mnt, "%s/mnt", self->dir);
	ASSERT_EQ(0, tu_mkdirs(self->mnt, 0755));
	self->fuse = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (self->fuse < 0)
		SKIP(return, "no /dev/fuse: %s", strerror(errno));
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0", self->fuse);
	ASSERT_EQ(0, mount("hungfuse", self->mnt, "fuse.hungfuse", MS_NOSUID | MS_NODEV, opts));
	self->mounted = true;
	ASSERT_EQ(0, pthread_create(&self->daemon, NULL, daemon_main, self));
	self->running = true;
	ASSERT_EQ(0, stat(self->mnt, &st)); /* INIT done, the root answers */
	ASSERT_TRUE(S_ISDIR(st.st_mode));
}

FIXTURE_TEARDOWN(hung)
{
	/* MNT_FORCE aborts the connection: every waiter, a stuck child too, goes. */
	if (self->mounted) {
		umount2(self->mnt, MNT_FORCE);
		umount2(self->mnt, MNT_DETACH);
	}
	if (self->running)
		pthread_join(self->daemon, NULL);
	if (self->fuse >= 0)
		close(self->fuse);
	/* Reap what a child left behind may have become, now that it can die. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	if (self->dir) {
		remove_tree(self->dir);
		free(self->dir);
	}
}

/* An fd of ours no child may keep: the write end of a pipe, its read end. */
static void our_pipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		p[0] = p[1] = -1;
}

/* After closing our write end: EOF at once, or a child still holds a copy. */
static bool pipe_closed_everywhere(int p[2])
{
	struct pollfd pfd = { .fd = p[0], .events = POLLIN };

	close(p[1]);
	return poll(&pfd, 1, 200) == 1 && (pfd.revents & POLLHUP);
}

TEST_F_TIMEOUT(hung, resolve_returns_at_its_timeout_and_leaves_no_fd_behind, 60)
{
	struct ns_resolve rs = { .path = "mnt/sub", .flags = NS_CREATE, .mode = 0755 };
	int rootfd, p[2];
	long long t0, took;

	our_pipe(p);
	ASSERT_LE(0, p[0]);
	rootfd = open(self->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, rootfd);
	t0 = mono_ms();
	EXPECT_EQ(-ETIMEDOUT, ns_resolve_real_bounded(rootfd, &rs, 1, TIMEOUT_MS));
	took = mono_ms() - t0;
	EXPECT_EQ(-ETIMEDOUT, rs.result);
	EXPECT_EQ(-EBADF, rs.fd);
	EXPECT_GE(took, TIMEOUT_MS);
	EXPECT_LT(took, BOUND_MS) TH_LOG("took %lld ms", took);
	/* The LOOKUP was taken: the child is in the uninterruptible wait. */
	EXPECT_LE(1, __atomic_load_n(&self->taken, __ATOMIC_SEQ_CST));
	EXPECT_TRUE(pipe_closed_everywhere(p));
	close(p[0]);
	close(rootfd);
}

struct watchdog {
	const char *mnt;
	int done; /* set by the test: the watchdog need not abort */
};

/* A lookup that is not bounded hangs for good: abort the connection after a while. */
static void *watchdog_main(void *data)
{
	struct watchdog *w = data;

	for (int i = 0; i < 4 * BOUND_MS / 50; i++) {
		if (__atomic_load_n(&w->done, __ATOMIC_SEQ_CST))
			return NULL;
		usleep(50 * 1000);
	}
	umount2(w->mnt, MNT_FORCE);
	return NULL;
}

/*
 * r11 review of issue 11: a target whose dentry is in the cache but stale (a
 * FUSE entry past its timeout) is not the in-process path's (RESOLVE_CACHED:
 * a revalidation would send a LOOKUP to a hung daemon, in the caller, with
 * no timeout); it goes to the child, which is killed at the timeout. The
 * watchdog aborts the connection if the call hangs, so that the test fails
 * instead of sticking.
 */
TEST_F_TIMEOUT(hung, stale_cached_target_is_not_resolved_in_process, 60)
{
	struct ns_resolve rs = { .path = "/mnt/sub", .mode = 0755 };
	struct watchdog w = { .mnt = self->mnt };
	char path[PATH_MAX];
	struct stat st;
	pthread_t dog;
	long long t0, took;
	int rootfd;

	__atomic_store_n(&self->answer, 1, __ATOMIC_SEQ_CST);
	ASSERT_EQ(0, stat(tu_path(path, "%s/sub", self->mnt), &st));
	ASSERT_TRUE(S_ISDIR(st.st_mode));
	ASSERT_EQ(0, __atomic_load_n(&self->answer, __ATOMIC_SEQ_CST));
	rootfd = open(self->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, rootfd);
	ASSERT_EQ(0, pthread_create(&dog, NULL, watchdog_main, &w));
	t0 = mono_ms();
	EXPECT_EQ(-ETIMEDOUT, ns_resolve_real_bounded(rootfd, &rs, 1, TIMEOUT_MS));
	took = mono_ms() - t0;
	__atomic_store_n(&w.done, 1, __ATOMIC_SEQ_CST);
	pthread_join(dog, NULL);
	EXPECT_EQ(-ETIMEDOUT, rs.result);
	EXPECT_EQ(-EBADF, rs.fd);
	EXPECT_LT(took, BOUND_MS) TH_LOG("took %lld ms", took);
	EXPECT_LE(1, __atomic_load_n(&self->taken, __ATOMIC_SEQ_CST));
	if (rs.fd >= 0)
		close(rs.fd);
	close(rootfd);
}

TEST_F_TIMEOUT(hung, peek_returns_at_its_timeout_and_leaves_no_fd_behind, 60)
{
	char path[PATH_MAX];
	struct ns_peek pk = { .path = tu_path(path, "%s/sub", self->mnt), .flags = NS_PEEK_CHOWN };
	long long t0, took;
	int p[2];

	our_pipe(p);
	ASSERT_LE(0, p[0]);
	t0 = mono_ms();
	EXPECT_EQ(-ETIMEDOUT, ns_peek(-EBADF, &pk, 1, TIMEOUT_MS, NULL, NULL));
	took = mono_ms() - t0;
	EXPECT_EQ(-ETIMEDOUT, pk.result);
	EXPECT_GE(took, TIMEOUT_MS);
	EXPECT_LT(took, BOUND_MS) TH_LOG("took %lld ms", took);
	EXPECT_LE(1, __atomic_load_n(&self->taken, __ATOMIC_SEQ_CST));
	EXPECT_TRUE(pipe_closed_everywhere(p));
	close(p[0]);
}

TEST_F_TIMEOUT(hung, attach_returns_at_its_timeout, 60)
{
	char src[PATH_MAX], target[PATH_MAX];
	struct ns_mount m = { .flags = NS_CREATE };
	long long t0, took;
	int pidfd, tree;

	tu_path(src, "%s/src", self->dir);
	ASSERT_EQ(0, tu_mkdirs(src, 0755));
	ASSERT_EQ(0, ns_open_tree(AT_FDCWD, src, 0, &tree));
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, pidfd);
	m.tree_fd = tree;
	m.target = tu_path(target, "%s/sub", self->mnt);
	t0 = mono_ms();
	EXPECT_EQ(-ETIMEDOUT, ns_attach(pidfd, "/", &m, 1, TIMEOUT_MS));
	took = mono_ms() - t0;
	EXPECT_GE(took, TIMEOUT_MS);
	EXPECT_LT(took, BOUND_MS) TH_LOG("took %lld ms", took);
	EXPECT_LE(1, __atomic_load_n(&self->taken, __ATOMIC_SEQ_CST));
	close(tree);
	close(pidfd);
}

/*
 * The child killed at the timeout midway through a batch: the parent still
 * knows what it moved before (its reports are stored as each mount is done,
 * in memory shared with the parent), so that the caller can record and undo
 * it; the mount it was stuck on has the timeout for its result.
 */
TEST_F_TIMEOUT(hung, attach_killed_midway_reports_what_it_moved, 60)
{
	char src[PATH_MAX], ok[PATH_MAX], target[PATH_MAX];
	struct ns_mount m[2] = { { .flags = NS_CREATE }, { .flags = NS_CREATE } };
	uint64_t id = 0;
	int pidfd, trees[2] = { -EBADF, -EBADF };

	tu_path(src, "%s/src", self->dir);
	ASSERT_EQ(0, tu_mkdirs(src, 0755));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, ns_open_tree(AT_FDCWD, src, 0, &trees[i]));
		m[i].tree_fd = trees[i];
	}
	ASSERT_EQ(0, ns_mount_id(trees[0], "", &id));
	ASSERT_NE(0ULL, id);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, pidfd);
	m[0].target = tu_path(ok, "%s/ok", self->dir);
	m[1].target = tu_path(target, "%s/sub", self->mnt);
	EXPECT_EQ(-ETIMEDOUT, ns_attach(pidfd, "/", m, 2, TIMEOUT_MS));
	EXPECT_EQ(0, m[0].result);
	EXPECT_EQ(id, m[0].mnt_id);
	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, ok, NULL));
	EXPECT_EQ(-ETIMEDOUT, m[1].result);
	EXPECT_EQ(0ULL, m[1].mnt_id);
	umount2(ok, MNT_DETACH);
	for (int i = 0; i < 2; i++)
		close(trees[i]);
	close(pidfd);
}

TEST_HARNESS_MAIN
