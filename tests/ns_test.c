/* SPDX-License-Identifier: MIT */
/*
 * ns/: attaching detached trees into a container's mount namespace, and
 * detaching them again. Each test runs in its own private mount namespace on
 * a tmpfs scratch directory laid out as:
 *	S/host    the volume (a plugin's mountpoint), holding "hello"
 *	S/rootfs  the container root
 *	S/decoy   outside the root: stands for the host's /etc in attacks
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"

/* kselftest.h has its own, identical ARRAY_SIZE. */
#undef ARRAY_SIZE
#include "common/macro.h"
#include "ns/ns.h"
#include "tests/lib/testutil.h"

/* The attach and detach children's limit here: far above what a healthy one takes. */
#define TEST_NS_TIMEOUT_MS 30000

FIXTURE(ns)
{
	struct tu_scratch scratch;
	struct tu_container ct;
	int pidfd;
	char host[PATH_MAX], rootfs[PATH_MAX], decoy[PATH_MAX];
};

FIXTURE_SETUP(ns)
{
	int fd;

	self->pidfd = -EBADF;
	ASSERT_EQ(0, tu_private_mountns());
	ASSERT_EQ(0, tu_scratch_make(&self->scratch));
	tu_path(self->host, "%s/host", self->scratch.path);
	tu_path(self->rootfs, "%s/rootfs", self->scratch.path);
	tu_path(self->decoy, "%s/decoy", self->scratch.path);
	ASSERT_EQ(0, mkdir(self->host, 0755));
	ASSERT_EQ(0, mkdir(self->rootfs, 0755));
	ASSERT_EQ(0, mkdir(self->decoy, 0755));
	ASSERT_EQ(0, tu_write_file(tu_path((char[PATH_MAX]){}, "%s/hello", self->host), "hello"));

	/* Probe the new mount API once: a missing feature is a SKIP. */
	fd = open_tree(AT_FDCWD, self->host, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	if (fd < 0 && errno == ENOSYS)
		SKIP(return, "open_tree: no new mount API in this kernel");
	ASSERT_LE(0, fd);
	close(fd);
}

FIXTURE_TEARDOWN(ns)
{
	if (self->pidfd >= 0)
		close(self->pidfd);
	tu_container_stop(&self->ct);
	tu_scratch_remove(&self->scratch);
}

/* The harness' fixture struct, under a name the helpers can use. */
typedef FIXTURE_DATA(ns) ns_fixture_t;

/* Start the container and open its pidfd. */
static int start(ns_fixture_t *self, bool pivot)
{
	int r;

	r = tu_container_start(&self->ct, self->rootfs, pivot ? TU_CT_PIVOT : 0);
	if (r < 0)
		return r;
	return ns_pidfd_open(self->ct.pid, 0, &self->pidfd, NULL);
}

/* Attach S/host (with attrs) at target below root; returns ns_attach's answer. */
static int attach_host(ns_fixture_t *self, const char *root, const char *target, unsigned flags,
		       unsigned attrs, uint64_t *ret_id)
{
	_cleanup_close_ int tree = -EBADF;
	struct ns_mount m = { .target = target, .flags = flags, .mode = 0755 };
	int r;

	r = ns_open_tree(AT_FDCWD, self->host, attrs, &tree);
	if (r < 0)
		return r;
	m.tree_fd = tree;
	r = ns_attach(self->pidfd, root, &m, 1, TEST_NS_TIMEOUT_MS);
	if (r != m.result)
		return -EPROTO; /* the call and the record must agree */
	if (ret_id)
		*ret_id = m.mnt_id;
	return r;
}

/* path (as the container sees it) shows the volume's "hello". */
static bool sees_volume(ns_fixture_t *self, const char *path)
{
	char p[PATH_MAX], buf[16];

	tu_path(p, "/proc/%d/root%s/hello", (int)self->ct.pid, path);
	return tu_read_file(p, buf, sizeof(buf)) == 5 && !strcmp(buf, "hello");
}

/* The decoy, seen from the container's namespace, is empty and no mount. */
static void expect_decoy_untouched(struct __test_metadata *_metadata, ns_fixture_t *self)
{
	char p[PATH_MAX];
	int entries = 0;
	DIR *d;

	tu_container_path(p, &self->ct, self->decoy);
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, p, NULL));
	d = opendir(self->decoy);
	ASSERT_NE(NULL, d);
	for (struct dirent *e; (e = readdir(d));)
		entries += e->d_name[0] != '.';
	closedir(d);
	EXPECT_EQ(0, entries);
}

TEST_F(ns, attach_into_running_container)
{
	char p[PATH_MAX], buf[16];
	uint64_t id = 0, seen = 0;

	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, attach_host(self, "/", "/data", NS_CREATE, 0, &id));
	EXPECT_NE(0ULL, id);

	/* The container sees the volume, and it is the mount we recorded. */
	EXPECT_TRUE(sees_volume(self, "/data"));
	EXPECT_EQ(0, ns_mount_id(AT_FDCWD, tu_container_path(p, &self->ct, "/data"), &seen));
	EXPECT_EQ(id, seen);
	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, p, NULL));

	/* Writes through the target land in the host directory. */
	ASSERT_EQ(0, tu_write_file(tu_container_path(p, &self->ct, "/data/new"), "x"));
	EXPECT_EQ(1, tu_read_file(tu_path(p, "%s/new", self->host), buf, sizeof(buf)));

	/* Our own namespace gained only the directory, not the mount. */
	tu_path(p, "%s/data", self->rootfs);
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, p, NULL));
	EXPECT_EQ(-ENOENT,
		  tu_read_file(tu_path(p, "%s/data/hello", self->rootfs), buf, sizeof(buf)));
}

TEST_F(ns, readonly_is_recursive)
{
	char p[PATH_MAX], sub[PATH_MAX];

	/* A submount inside the volume must be read-only in the container too. */
	ASSERT_EQ(0, mkdir(tu_path(sub, "%s/sub", self->host), 0755));
	ASSERT_EQ(0, mount("tmpfs", sub, "tmpfs", 0, NULL));
	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, attach_host(self, "/", "/ro", NS_CREATE,
				 NS_ATTR_RDONLY | NS_ATTR_NOSUID | NS_ATTR_NODEV, NULL));

	EXPECT_TRUE(sees_volume(self, "/ro"));
	EXPECT_EQ(-EROFS, tu_write_file(tu_container_path(p, &self->ct, "/ro/x"), "x"));
	EXPECT_EQ(-EROFS, tu_write_file(tu_container_path(p, &self->ct, "/ro/sub/x"), "x"));
	/* Only the clone is read-only: the host's view stays writable. */
	EXPECT_EQ(0, tu_write_file(tu_path(p, "%s/x", self->host), "x"));
	EXPECT_EQ(0, tu_write_file(tu_path(p, "%s/x", sub), "x"));
}

TEST_F(ns, attach_into_rootfs_before_pivot)
{
	char p[PATH_MAX], buf[16];

	/* createRuntime: the process root is the host's /, the rootfs a path. */
	ASSERT_EQ(0, start(self, false));
	ASSERT_EQ(0, attach_host(self, self->rootfs, "/data", NS_CREATE, 0, NULL));

	EXPECT_TRUE(sees_volume(self, tu_path(p, "%s/data", self->rootfs)));
	EXPECT_FALSE(sees_volume(self, "/data"));
	/* Not in our namespace. */
	EXPECT_EQ(-ENOENT,
		  tu_read_file(tu_path(p, "%s/data/hello", self->rootfs), buf, sizeof(buf)));
}

TEST_F(ns, relative_target_lands_below_base)
{
	char p[PATH_MAX];
	_cleanup_close_ int tree = -EBADF;
	struct ns_mount m = {
		.target = "vol",
		.base = "/sandbox",
		.flags = NS_CREATE,
		.mode = 0700,
	};
	struct stat st;

	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, ns_open_tree(AT_FDCWD, self->host, 0, &tree));
	m.tree_fd = tree;
	ASSERT_EQ(0, ns_attach(self->pidfd, "/", &m, 1, TEST_NS_TIMEOUT_MS));
	EXPECT_TRUE(sees_volume(self, "/sandbox/vol"));
	ASSERT_EQ(0, stat(tu_path(p, "%s/sandbox", self->rootfs), &st));
	EXPECT_EQ(0700U, st.st_mode & 0777);
}

TEST_F(ns, create_makes_nested_directories)
{
	char p[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, start(self, true));
	EXPECT_EQ(-ENOENT, attach_host(self, "/", "/x/y", 0, 0, NULL));
	EXPECT_EQ(-1, stat(tu_path(p, "%s/x", self->rootfs), &st));
	EXPECT_EQ(ENOENT, errno);

	ASSERT_EQ(0, attach_host(self, "/", "/a/b/c", NS_CREATE, 0, NULL));
	EXPECT_EQ(0, stat(tu_path(p, "%s/a/b", self->rootfs), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	EXPECT_TRUE(sees_volume(self, "/a/b/c"));
}

/*
 * Symlink attacks, in the createRuntime shape (root = the rootfs path, the
 * process root = the host's /), where a host path like S/decoy is reachable
 * if resolution ever leaves the rootfs.
 */
/*
 * Make S/decoy exist again inside the rootfs, so that a link to it, read
 * inside the root as it must be, leads somewhere.
 */
static int mirror_decoy(ns_fixture_t *self)
{
	char p[PATH_MAX];

	return tu_mkdirs(tu_path(p, "%s%s", self->rootfs, self->decoy), 0755);
}

TEST_F(ns, absolute_symlink_stays_in_root)
{
	char p[PATH_MAX];

	ASSERT_EQ(0, symlink(self->decoy, tu_path(p, "%s/etc", self->rootfs)));
	ASSERT_EQ(0, start(self, false));
	/* Inside the root the link dangles: no directory is made through it. */
	EXPECT_EQ(-ENOENT, attach_host(self, self->rootfs, "/etc/data", NS_CREATE, 0, NULL));
	expect_decoy_untouched(_metadata, self);

	ASSERT_EQ(0, mirror_decoy(self));
	EXPECT_EQ(0, attach_host(self, self->rootfs, "/etc/data", NS_CREATE, 0, NULL));
	EXPECT_TRUE(sees_volume(self, tu_path(p, "%s%s/data", self->rootfs, self->decoy)));
	expect_decoy_untouched(_metadata, self);
}

TEST_F(ns, relative_symlink_stays_in_root)
{
	char p[PATH_MAX], target[PATH_MAX];

	ASSERT_EQ(0, symlink("../../../../../../../..", tu_path(p, "%s/up", self->rootfs)));
	ASSERT_EQ(0, start(self, false));
	/* Outside any root this would be S/decoy/data; ".." stops at the root. */
	tu_path(target, "/up%s/data", self->decoy);
	EXPECT_EQ(0, attach_host(self, self->rootfs, target, NS_CREATE, 0, NULL));
	EXPECT_TRUE(sees_volume(self, tu_path(p, "%s%s/data", self->rootfs, self->decoy)));
	expect_decoy_untouched(_metadata, self);
}

TEST_F(ns, final_symlink_stays_in_root)
{
	char p[PATH_MAX];

	ASSERT_EQ(0, symlink(self->decoy, tu_path(p, "%s/final", self->rootfs)));
	ASSERT_EQ(0, start(self, false));
	EXPECT_EQ(-ENOENT, attach_host(self, self->rootfs, "/final", NS_CREATE, 0, NULL));
	expect_decoy_untouched(_metadata, self);

	/* Refusing symlinks altogether. */
	ASSERT_EQ(0, mirror_decoy(self));
	EXPECT_EQ(-ELOOP, attach_host(self, self->rootfs, "/final", NS_NO_SYMLINKS, 0, NULL));
	EXPECT_FALSE(sees_volume(self, tu_path(p, "%s%s", self->rootfs, self->decoy)));

	EXPECT_EQ(0, attach_host(self, self->rootfs, "/final", 0, 0, NULL));
	EXPECT_TRUE(sees_volume(self, tu_path(p, "%s%s", self->rootfs, self->decoy)));
	expect_decoy_untouched(_metadata, self);
}

TEST_F(ns, all_or_nothing_undoes_the_batch)
{
	int trees[3] = { -EBADF, -EBADF, -EBADF };
	struct ns_mount m[3] = {
		{ .target = "/m1", .flags = NS_CREATE | NS_ALL_OR_NOTHING },
		{ .target = "/m2", .flags = NS_CREATE | NS_ALL_OR_NOTHING },
		{ .target = "/missing/m3", .flags = NS_ALL_OR_NOTHING },
	};
	char p[PATH_MAX];

	ASSERT_EQ(0, start(self, true));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, ns_open_tree(AT_FDCWD, self->host, 0, &trees[i]));
		m[i].tree_fd = trees[i];
	}
	EXPECT_EQ(-ENOENT, ns_attach(self->pidfd, "/", m, 3, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(-ECANCELED, m[0].result);
	EXPECT_EQ(-ECANCELED, m[1].result);
	EXPECT_EQ(-ENOENT, m[2].result);
	EXPECT_FALSE(sees_volume(self, "/m1"));
	EXPECT_FALSE(sees_volume(self, "/m2"));
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, tu_container_path(p, &self->ct, "/m1"), NULL));
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, tu_container_path(p, &self->ct, "/m2"), NULL));
	for (int i = 0; i < 3; i++)
		close(trees[i]);
}

/*
 * The attach child asks about each mount a target lies on once (issue 11:
 * a statmount per distinct mount, not per target), and answers each target
 * by its own mount: in one batch, targets on a private mount are attached
 * and those on a shared one refused, in whatever order they come.
 */
TEST_F(ns, shared_mount_check_is_per_target_mount_in_a_batch)
{
	char sh[PATH_MAX], t[4][PATH_MAX];
	int trees[4] = { -EBADF, -EBADF, -EBADF, -EBADF }, pidfd;
	struct ns_mount m[4];

	tu_path(sh, "%s/sh", self->scratch.path);
	ASSERT_EQ(0, mkdir(sh, 0755));
	ASSERT_EQ(0, mount(sh, sh, NULL, MS_BIND, NULL));
	ASSERT_EQ(0, mount(NULL, sh, NULL, MS_SHARED, NULL));
	tu_path(t[0], "%s/p1", self->scratch.path);
	tu_path(t[1], "%s/t1", sh);
	tu_path(t[2], "%s/p2", self->scratch.path);
	tu_path(t[3], "%s/t2", sh);
	pidfd = (int)syscall(SYS_pidfd_open, getpid(), 0);
	ASSERT_LE(0, pidfd);
	for (int i = 0; i < 4; i++) {
		ASSERT_EQ(0, ns_open_tree(AT_FDCWD, self->host, 0, &trees[i]));
		m[i] = (struct ns_mount){ .tree_fd = trees[i], .target = t[i], .flags = NS_CREATE };
	}
	EXPECT_EQ(-EXDEV, ns_attach(pidfd, "/", m, 4, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(0, m[0].result);
	EXPECT_EQ(-EXDEV, m[1].result);
	EXPECT_EQ(0, m[2].result);
	EXPECT_EQ(-EXDEV, m[3].result);
	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, t[0], NULL));
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, t[1], NULL));
	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, t[2], NULL));
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, t[3], NULL));
	umount2(t[0], MNT_DETACH);
	umount2(t[2], MNT_DETACH);
	umount2(sh, MNT_DETACH);
	for (int i = 0; i < 4; i++)
		close(trees[i]);
	close(pidfd);
}

TEST_F(ns, without_all_or_nothing_the_others_stay)
{
	int trees[3] = { -EBADF, -EBADF, -EBADF };
	struct ns_mount m[3] = {
		{ .target = "/m1", .flags = NS_CREATE },
		{ .target = "/missing/m2" },
		{ .target = "/m3", .flags = NS_CREATE },
	};

	ASSERT_EQ(0, start(self, true));
	for (int i = 0; i < 3; i++) {
		ASSERT_EQ(0, ns_open_tree(AT_FDCWD, self->host, 0, &trees[i]));
		m[i].tree_fd = trees[i];
	}
	EXPECT_EQ(-ENOENT, ns_attach(self->pidfd, "/", m, 3, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(0, m[0].result);
	EXPECT_EQ(-ENOENT, m[1].result);
	EXPECT_EQ(0ULL, m[1].mnt_id);
	EXPECT_EQ(0, m[2].result);
	EXPECT_TRUE(sees_volume(self, "/m1"));
	EXPECT_TRUE(sees_volume(self, "/m3"));
	for (int i = 0; i < 3; i++)
		close(trees[i]);
}

TEST_F(ns, missing_root_fails_every_mount)
{
	_cleanup_close_ int tree = -EBADF;
	struct ns_mount m = { .target = "/data", .flags = NS_CREATE };

	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, ns_open_tree(AT_FDCWD, self->host, 0, &tree));
	m.tree_fd = tree;
	/* The answer comes over the pipe, not from an exit status we may lose. */
	ASSERT_NE(SIG_ERR, signal(SIGCHLD, SIG_IGN));
	EXPECT_EQ(-ENOENT, ns_attach(self->pidfd, "/no/such/rootfs", &m, 1, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(-ENOENT, m.result);
	EXPECT_FALSE(sees_volume(self, "/data"));
	signal(SIGCHLD, SIG_DFL);
	EXPECT_EQ(0, ns_attach(self->pidfd, "/", &m, 1, TEST_NS_TIMEOUT_MS));
}

TEST_F(ns, detach_removes_exactly_that_mount)
{
	struct ns_unmount u = { .target = "/data" };
	char p[PATH_MAX];

	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, attach_host(self, "/", "/data", NS_CREATE, 0, &u.mnt_id));
	ASSERT_TRUE(sees_volume(self, "/data"));
	EXPECT_EQ(0, ns_detach(self->pidfd, "/", &u, 1, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(0, u.result);
	EXPECT_FALSE(sees_volume(self, "/data"));
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, tu_container_path(p, &self->ct, "/data"), NULL));
	/* Again: nothing is mounted there any more. */
	EXPECT_EQ(-ENOENT, ns_detach(self->pidfd, "/", &u, 1, TEST_NS_TIMEOUT_MS));
}

TEST_F(ns, detach_leaves_another_mount_alone)
{
	struct ns_unmount u = { .target = "/data" };
	uint64_t other = 0;

	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, attach_host(self, "/", "/data", NS_CREATE, 0, &u.mnt_id));
	ASSERT_EQ(0, ns_detach(self->pidfd, "/", &u, 1, TEST_NS_TIMEOUT_MS));
	/* Somebody else's mount now sits at the same path. */
	ASSERT_EQ(0, attach_host(self, "/", "/data", 0, 0, &other));
	ASSERT_NE(u.mnt_id, other);
	EXPECT_EQ(-ESTALE, ns_detach(self->pidfd, "/", &u, 1, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(-ESTALE, u.result);
	EXPECT_TRUE(sees_volume(self, "/data"));
}

TEST_F(ns, gone_process_is_esrch)
{
	struct ns_unmount u = { .target = "/data" };

	ASSERT_EQ(0, start(self, true));
	ASSERT_EQ(0, attach_host(self, "/", "/data", NS_CREATE, 0, &u.mnt_id));
	tu_container_stop(&self->ct);
	EXPECT_EQ(-ESRCH, ns_detach(self->pidfd, "/", &u, 1, TEST_NS_TIMEOUT_MS));
	EXPECT_EQ(-ESRCH, u.result);
	EXPECT_EQ(-ESRCH, attach_host(self, "/", "/data", 0, 0, NULL));
}

TEST_F(ns, pid_reuse_is_detected_by_start_time)
{
	unsigned long long start_time = 0;
	int fd = -EBADF;
	pid_t pid;

	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	pid = self->ct.pid;
	ASSERT_EQ(0, ns_pidfd_open(pid, 0, &self->pidfd, &start_time));
	EXPECT_NE(0ULL, start_time);
	EXPECT_EQ(-ESRCH, ns_pidfd_open(pid, start_time + 1, &fd, NULL));
	EXPECT_EQ(-EBADF, fd);
	EXPECT_EQ(0, ns_pidfd_open(pid, start_time, &fd, NULL));
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	EXPECT_TRUE(ns_process_alive(pid, start_time));
	EXPECT_FALSE(ns_process_alive(pid, start_time + 1));
	tu_container_stop(&self->ct);
	EXPECT_FALSE(ns_process_alive(pid, start_time));
	EXPECT_EQ(-ESRCH, ns_pidfd_open(pid, start_time, &fd, NULL));
}

TEST_F(ns, start_time_survives_hostile_comm)
{
	unsigned long long own = 0, child = 0, now;
	struct timespec ts;
	int p[2];
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Spaces and ')' shift every field for a naive parser. */
		prctl(PR_SET_NAME, "a) b c d e f (");
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ASSERT_EQ(1, read(p[0], &c, 1));
	EXPECT_EQ(0, ns_process_start(getpid(), &own));
	EXPECT_EQ(0, ns_process_start(pid, &child));
	ASSERT_EQ(0, clock_gettime(CLOCK_BOOTTIME, &ts));
	now = ((unsigned long long)ts.tv_sec * 1000000000ULL + ts.tv_nsec) * sysconf(_SC_CLK_TCK) /
		  1000000000ULL +
	      1;
	EXPECT_LE(own, child);
	EXPECT_GE(now, child);
	EXPECT_TRUE(ns_process_alive(pid, child));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
}

TEST_F(ns, many_mounts_in_one_call_leak_no_fd)
{
	enum { N = 64 };
	struct ns_mount m[N];
	struct ns_unmount u[N];
	char targets[N][32], p[PATH_MAX];
	struct timespec t0, t1;
	int before, r;

	ASSERT_EQ(0, start(self, true));
	before = tu_count_fds();
	ASSERT_LT(0, before);
	for (int i = 0; i < N; i++) {
		snprintf(targets[i], sizeof(targets[i]), "/v/%d", i);
		m[i] = (struct ns_mount){ .target = targets[i], .flags = NS_CREATE };
		ASSERT_EQ(0, ns_open_tree(AT_FDCWD, self->host, NS_ATTR_RDONLY, &m[i].tree_fd));
	}
	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &t0));
	r = ns_attach(self->pidfd, "/", m, N, TEST_NS_TIMEOUT_MS);
	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &t1));
	TH_LOG("ns_attach of %d mounts: %ld us", N,
	       (long)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	for (int i = 0; i < N; i++)
		close(m[i].tree_fd);
	ASSERT_EQ(0, r);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, m[i].result);
		EXPECT_NE(0ULL, m[i].mnt_id);
		if (i)
			EXPECT_NE(m[i - 1].mnt_id, m[i].mnt_id);
		u[i] = (struct ns_unmount){ .target = targets[i], .mnt_id = m[i].mnt_id };
	}
	EXPECT_TRUE(sees_volume(self, "/v/0"));
	EXPECT_TRUE(sees_volume(self, "/v/63"));
	EXPECT_EQ(before, tu_count_fds());

	EXPECT_EQ(0, ns_detach(self->pidfd, "/", u, N, TEST_NS_TIMEOUT_MS));
	for (int i = 0; i < N; i++)
		EXPECT_EQ(0, u[i].result);
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, tu_container_path(p, &self->ct, "/v/63"), NULL));
	EXPECT_EQ(before, tu_count_fds());
}

TEST_F(ns, resolve_host_creates_inside_rootfs)
{
	_cleanup_close_ int fd = -EBADF;
	char p[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, symlink(self->decoy, tu_path(p, "%s/etc", self->rootfs)));
	ASSERT_EQ(0, mirror_decoy(self));
	ASSERT_EQ(0, ns_resolve_host(self->rootfs, "/a/b", NS_CREATE, 0755, &fd));
	EXPECT_EQ(0, stat(tu_path(p, "%s/a/b", self->rootfs), &st));
	close(TAKE_FD(fd));

	/* The absolute link is read inside the rootfs, not on the host. */
	ASSERT_EQ(0, ns_resolve_host(self->rootfs, "/etc/x", NS_CREATE, 0755, &fd));
	EXPECT_EQ(0, stat(tu_path(p, "%s%s/x", self->rootfs, self->decoy), &st));
	EXPECT_EQ(-1, stat(tu_path(p, "%s/x", self->decoy), &st));
	close(TAKE_FD(fd));
	EXPECT_EQ(-ELOOP,
		  ns_resolve_host(self->rootfs, "/etc/y", NS_CREATE | NS_NO_SYMLINKS, 0755, &fd));
	EXPECT_EQ(-EBADF, fd);

	/* Without a root: a plain host path, never created unless asked. */
	EXPECT_EQ(-ENOENT,
		  ns_resolve_host(NULL, tu_path(p, "%s/nope", self->scratch.path), 0, 0, &fd));
	EXPECT_EQ(0, ns_resolve_host(NULL, self->host, 0, 0, &fd));
}

TEST_F(ns, is_mounted_tells_mount_roots)
{
	char p[PATH_MAX];

	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, self->scratch.path, NULL));
	EXPECT_EQ(0, ns_is_mounted(AT_FDCWD, self->host, NULL));
	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, "/", NULL));
	ASSERT_EQ(0, mount(self->host, self->host, NULL, MS_BIND, NULL));
	EXPECT_EQ(1, ns_is_mounted(AT_FDCWD, self->host, NULL));
	EXPECT_EQ(-ENOENT, ns_is_mounted(AT_FDCWD, tu_path(p, "%s/nope", self->host), NULL));
}

/* In the namespace of pid: a tmpfs at path holding "only-there" (the plugin's mount). */
static int mount_in_ns_of(pid_t pid, const char *path)
{
	pid_t child = fork();
	int status, pidfd;

	if (child < 0)
		return -errno;
	if (child == 0) {
		char f[PATH_MAX];

		pidfd = pidfd_open(pid, 0);
		if (pidfd < 0 || setns(pidfd, CLONE_NEWNS) < 0 ||
		    mount("tmpfs", path, "tmpfs", 0, NULL) < 0)
			_exit(1);
		snprintf(f, sizeof(f), "%s/only-there", path);
		_exit(tu_write_file(f, "x") < 0 ? 1 : 0);
	}
	if (waitpid(child, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

/*
 * A mount that only the plugin's namespace has (issue 9): through its pidfd
 * the path is a mount point and its tree is cloned there; in our own view
 * it is the empty directory under it.
 */
TEST_F(ns, peek_sees_the_mount_only_the_process_namespace_has)
{
	char vol[PATH_MAX];
	struct ns_peek pk = { .flags = NS_PEEK_TREE };
	int fd;

	ASSERT_EQ(0, mkdir(tu_path(vol, "%s/vol", self->host), 0755));
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	ASSERT_EQ(0, mount_in_ns_of(self->ct.pid, vol));
	ASSERT_EQ(0, ns_pidfd_open(self->ct.pid, 0, &self->pidfd, NULL));
	pk.path = vol;
	ASSERT_EQ(0, ns_peek(self->pidfd, &pk, 1, 5000, NULL, NULL));
	EXPECT_EQ(0, pk.result);
	EXPECT_TRUE(pk.other_view);
	EXPECT_TRUE(pk.is_directory && pk.is_mount_point);
	EXPECT_EQ(0u, pk.mount_root_up);
	ASSERT_LE(0, pk.tree_fd);
	fd = openat(pk.tree_fd, "only-there", O_RDONLY | O_CLOEXEC);
	EXPECT_LE(0, fd);
	if (fd >= 0)
		close(fd);
	close(pk.tree_fd);

	pk = (struct ns_peek){ .path = vol };
	ASSERT_EQ(0, ns_peek(-EBADF, &pk, 1, 5000, NULL, NULL));
	EXPECT_FALSE(pk.other_view);
	EXPECT_TRUE(pk.is_directory);
	EXPECT_FALSE(pk.is_mount_point);
	/* The nearest mount root is the scratch tmpfs, two components up. */
	EXPECT_EQ(2u, pk.mount_root_up);
	EXPECT_EQ(-EBADF, pk.tree_fd);
}

static int refuse_second(const struct ns_peek *pk, size_t i, void *userdata)
{
	(void)pk;
	(void)userdata;
	return i == 1 ? -EACCES : 0;
}

/* The caller judges the facts before anything is cloned; symlinks and absences are facts. */
TEST_F(ns, peek_batch_judged_before_the_clone)
{
	char a[PATH_MAX], b[PATH_MAX], link[PATH_MAX], gone[PATH_MAX];
	struct ns_peek pk[4] = {
		{ .path = a, .flags = NS_PEEK_TREE },
		{ .path = b, .flags = NS_PEEK_TREE },
		{ .path = link, .flags = NS_PEEK_TREE },
		{ .path = gone, .flags = NS_PEEK_TREE },
	};

	ASSERT_EQ(0, mkdir(tu_path(a, "%s/a", self->host), 0755));
	ASSERT_EQ(0, mkdir(tu_path(b, "%s/b", self->host), 0755));
	ASSERT_EQ(0, symlink(self->decoy, tu_path(link, "%s/link", self->host)));
	tu_path(gone, "%s/gone", self->host);
	ASSERT_EQ(0, ns_peek(-EBADF, pk, 4, 5000, refuse_second, NULL));
	EXPECT_EQ(0, pk[0].result);
	EXPECT_LE(0, pk[0].tree_fd);
	EXPECT_EQ(-EACCES, pk[1].result);
	EXPECT_EQ(-EBADF, pk[1].tree_fd);
	EXPECT_EQ(0, pk[2].result);
	EXPECT_TRUE(pk[2].has_symlink);
	EXPECT_EQ(-EBADF, pk[2].tree_fd);
	EXPECT_EQ(0, pk[3].result);
	EXPECT_FALSE(pk[3].exists);
	EXPECT_EQ(-EBADF, pk[3].tree_fd);
	if (pk[0].tree_fd >= 0)
		close(pk[0].tree_fd);
}

/* Was a child reaped since the last call (SIGCHLD blocked, so it stays pending)? */
static bool child_was_forked(void)
{
	struct timespec zero = { 0 };
	sigset_t chld;
	bool seen = false;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (sigtimedwait(&chld, NULL, &zero) == SIGCHLD)
		seen = true;
	return seen;
}

/*
 * A view in our own mount namespace whose every step is in the kernel's
 * caches costs no child (a prepare of 64 mounted volumes forked two), and
 * tells exactly the facts the child tells: a mount root, a directory two
 * components inside a mount, the clone. A chown still goes to a child: it
 * reaches the filesystem, which may hang.
 */
TEST_F(ns, peek_in_our_namespace_needs_no_child_and_tells_the_same)
{
	char m[PATH_MAX], deep[PATH_MAX], plain[PATH_MAX];
	struct ns_peek pk[3] = {
		{.path = m, .flags = NS_PEEK_TREE},
		{.path = deep},
		{.path = plain},
	}, slow[3];
	sigset_t chld, old;
	int ours;

	ASSERT_EQ(0, mkdir(tu_path(m, "%s/m", self->host), 0755));
	ASSERT_EQ(0, mount("tmpfs", m, "tmpfs", 0, NULL));
	ASSERT_EQ(0, tu_mkdirs(tu_path(deep, "%s/in/deep", m), 0755));
	ASSERT_EQ(0, mkdir(tu_path(plain, "%s/plain", self->host), 0755));
	ASSERT_EQ(0, ns_pidfd_open(getpid(), 0, &ours, NULL));
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	ASSERT_EQ(0, sigprocmask(SIG_BLOCK, &chld, &old));
	child_was_forked();

	ASSERT_EQ(0, ns_peek(ours, pk, 3, 5000, NULL, NULL));
	EXPECT_FALSE(child_was_forked());
	EXPECT_EQ(0, pk[0].result);
	EXPECT_TRUE(pk[0].is_directory && pk[0].is_mount_point);
	EXPECT_EQ(0u, pk[0].mount_root_up);
	EXPECT_LE(0, pk[0].tree_fd);
	EXPECT_EQ(0, pk[1].result);
	EXPECT_FALSE(pk[1].is_mount_point);
	EXPECT_EQ(2u, pk[1].mount_root_up);
	EXPECT_EQ(0, pk[2].result);
	/* scratch/host/plain: the scratch tmpfs is the mount. */
	EXPECT_EQ(2u, pk[2].mount_root_up);
	for (size_t i = 0; i < 3; i++)
		EXPECT_FALSE(pk[i].other_view);
	if (pk[0].tree_fd >= 0)
		close(pk[0].tree_fd);

	/* The child's answers for the same paths (a chown to the owner they have). */
	for (size_t i = 0; i < 3; i++)
		slow[i] = (struct ns_peek){ .path = pk[i].path, .flags = NS_PEEK_CHOWN };
	ASSERT_EQ(0, ns_peek(ours, slow, 3, 5000, NULL, NULL));
	EXPECT_TRUE(child_was_forked());
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(0, slow[i].result);
		EXPECT_EQ(pk[i].is_mount_point, slow[i].is_mount_point);
		EXPECT_EQ(pk[i].mount_root_up, slow[i].mount_root_up);
		EXPECT_EQ(pk[i].dev, slow[i].dev);
		EXPECT_EQ(pk[i].ino, slow[i].ino);
	}

	/* Asked only whether each is a mount root: one lookup each, still no child. */
	for (size_t i = 0; i < 3; i++)
		slow[i] = (struct ns_peek){ .path = pk[i].path, .flags = NS_PEEK_NO_ROOT_WALK };
	ASSERT_EQ(0, ns_peek(ours, slow, 3, 5000, NULL, NULL));
	EXPECT_FALSE(child_was_forked());
	for (size_t i = 0; i < 3; i++) {
		EXPECT_EQ(0, slow[i].result);
		EXPECT_EQ(pk[i].is_mount_point, slow[i].is_mount_point);
		EXPECT_EQ(pk[i].is_mount_point ? 0u : 1u, slow[i].mount_root_up);
		EXPECT_EQ(pk[i].ino, slow[i].ino);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(ours);
}

TEST_HARNESS_MAIN
