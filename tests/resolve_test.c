/* SPDX-License-Identifier: MIT */
/*
 * ns_resolve_real: the container's path walk done one component at a time,
 * so that where a target really leads is known as a path (issue 10 item 2,
 * issue 9 item 5). No mounts: a plain directory stands as the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ns/ns.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

FIXTURE(walk)
{
	char *dir;
	char root[PATH_MAX];
	int rootfd;
};

FIXTURE_SETUP(walk)
{
	self->rootfd = -1;
	self->dir = make_tmpdir("resolve");
	ASSERT_NE(NULL, self->dir);
	tu_path(self->root, "%s/root", self->dir);
	ASSERT_EQ(0, tu_mkdirs(self->root, 0755));
	self->rootfd = open(self->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->rootfd);
}

FIXTURE_TEARDOWN(walk)
{
	if (self->rootfd >= 0)
		close(self->rootfd);
	if (self->dir) {
		remove_tree(self->dir);
		free(self->dir);
	}
}

/* path under the root, made from parts */
static char *in_root(char buf[static PATH_MAX], FIXTURE_DATA(walk) * self, const char *path)
{
	return tu_path(buf, "%s%s", self->root, path);
}

TEST_F(walk, links_are_followed_inside_and_the_path_is_told)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat a, b;
	int fd = -1;

	/* /a -> /b/c (absolute: from the root), /b/c/up -> ../.. (stops at the root). */
	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/b/c"), 0755));
	ASSERT_EQ(0, symlink("/b/c", in_root(p, self, "/a")));
	ASSERT_EQ(0, symlink("../../../..", in_root(p, self, "/b/c/up")));
	ASSERT_EQ(0, ns_resolve_real(self->rootfd, "/a/./up/b//c/", 0, 0, real, &fd));
	EXPECT_STREQ("/b/c", real);
	EXPECT_EQ(0, fstat(fd, &a));
	EXPECT_EQ(0, stat(in_root(p, self, "/b/c"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	close(fd);
}

TEST_F(walk, dangling_link_target_is_created_inside)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int fd = -1;

	/* Absolute, naming a place that exists on the host but not in the root. */
	ASSERT_EQ(0, symlink(self->dir, in_root(p, self, "/data")));
	EXPECT_EQ(-ENOENT, ns_resolve_real(self->rootfd, "/data/x", 0, 0, real, &fd));
	ASSERT_EQ(0, ns_resolve_real(self->rootfd, "/data/x", NS_CREATE, 0755, real, &fd));
	close(fd);
	snprintf(p, sizeof(p), "%s/x", self->dir);
	EXPECT_STREQ(p, real);
	EXPECT_EQ(0, stat(in_root(p, self, real), &st));
	EXPECT_TRUE(S_ISDIR(st.st_mode));
	/* Nothing at the host's place the link names. */
	EXPECT_NE(0, access(tu_path(p, "%s/x", self->dir), F_OK));
	EXPECT_EQ(0, lstat(in_root(p, self, "/data"), &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
}

/*
 * A target that exists and holds no link (most do) is found by one lookup
 * of the whole path, not a walk of its components (issue 11: per-volume
 * work); what it returns is what the walk would: the path without "." and
 * "//", and an fd on it.
 */
TEST_F(walk, link_free_target_takes_no_component_walk)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat a, b;
	int fd = -1;

	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/srv/data/v1"), 0755));
	ASSERT_EQ(0, symlink("/srv/data", in_root(p, self, "/ln")));
	/* The walk reads every component with readlinkat: here it cannot. */
	if (tu_forbid_syscalls((const int[]){ __NR_readlinkat }, 1) < 0)
		SKIP(return, "no seccomp filter on this architecture or kernel");
	ASSERT_EQ(0,
		  ns_resolve_real(self->rootfd, "//srv/./data//v1/", NS_CREATE, 0755, real, &fd));
	EXPECT_STREQ("/srv/data/v1", real);
	ASSERT_EQ(0, fstat(fd, &a));
	ASSERT_EQ(0, stat(in_root(p, self, "/srv/data/v1"), &b));
	EXPECT_EQ(a.st_dev, b.st_dev);
	EXPECT_EQ(a.st_ino, b.st_ino);
	close(fd);
	ASSERT_EQ(0, ns_resolve_real(self->rootfd, "/", 0, 0, real, &fd));
	EXPECT_STREQ("/", real);
	close(fd);
	/* A link or a ".." is the walk's: here it cannot read, and says so. */
	EXPECT_EQ(-EPERM, ns_resolve_real(self->rootfd, "/ln/v1", 0, 0, real, &fd));
	EXPECT_EQ(-EPERM, ns_resolve_real(self->rootfd, "/srv/data/../data/v1", 0, 0, real, &fd));
}

/*
 * Targets the dentry cache answers (they exist, hold no link, were looked at
 * lately: a container's own directories) are resolved in the process, with
 * RESOLVE_CACHED, which never waits on a filesystem: no child is forked for
 * them (issue 11: a fork per prepare). The others still go to the child,
 * bounded by the timeout (hung_fuse_test).
 */
TEST_F(walk, cached_targets_are_resolved_without_a_child)
{
	struct ns_resolve rs[2] = {
		{ .path = "/srv/a", .mode = 0755 },
		{ .path = "//srv/./b/", .flags = NS_CREATE, .mode = 0755 },
	};
	char p[PATH_MAX];
	struct stat a, b;

	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/srv/a"), 0755));
	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/srv/b"), 0755));
	ASSERT_EQ(0, symlink("/srv/a", in_root(p, self, "/ln")));
	/* In the cache now. */
	ASSERT_EQ(0, stat(in_root(p, self, "/srv/a"), &a));
	ASSERT_EQ(0, stat(in_root(p, self, "/srv/b"), &b));
	if (tu_forbid_syscalls((const int[]){ __NR_clone, __NR_clone3, __NR_fork, __NR_vfork }, 4) <
	    0)
		SKIP(return, "no seccomp filter on this architecture or kernel");
	ASSERT_EQ(0, ns_resolve_real_bounded(self->rootfd, rs, 2, 5000));
	EXPECT_EQ(0, rs[0].result);
	EXPECT_STREQ("/srv/a", rs[0].real);
	EXPECT_EQ(0, rs[1].result);
	EXPECT_STREQ("/srv/b", rs[1].real);
	ASSERT_LE(0, rs[0].fd);
	ASSERT_LE(0, rs[1].fd);
	EXPECT_EQ(0, fstat(rs[0].fd, &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	close(rs[0].fd);
	close(rs[1].fd);
	/* A link is the child's: here no child can be made, and nothing is left open. */
	rs[0] = (struct ns_resolve){ .path = "/ln" };
	EXPECT_EQ(-EPERM, ns_resolve_real_bounded(self->rootfd, rs, 1, 5000));
	EXPECT_EQ(-EBADF, rs[0].fd);
}

/*
 * r11: when the child for the rest cannot be made, the call fails, and as on
 * its other failures no fd is left open and no target reads as resolved,
 * the ones answered from the cache before the fork included (ns.h: "no fd
 * is left open"; a caller that closes only on success must not leak them).
 */
TEST_F(walk, failed_fork_leaves_no_cached_target_open)
{
	struct ns_resolve rs[2] = {
		{ .path = "/srv/a", .mode = 0755 },
		{ .path = "/ln", .mode = 0755 },
	};
	char p[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/srv/a"), 0755));
	ASSERT_EQ(0, symlink("/srv/a", in_root(p, self, "/ln")));
	ASSERT_EQ(0, stat(in_root(p, self, "/srv/a"), &st));
	if (tu_forbid_syscalls((const int[]){ __NR_clone, __NR_clone3, __NR_fork, __NR_vfork }, 4) <
	    0)
		SKIP(return, "no seccomp filter on this architecture or kernel");
	EXPECT_EQ(-EPERM, ns_resolve_real_bounded(self->rootfd, rs, 2, 5000));
	EXPECT_EQ(-EBADF, rs[0].fd);
	EXPECT_EQ(-EPERM, rs[0].result);
	EXPECT_EQ(-EBADF, rs[1].fd);
	EXPECT_EQ(-EPERM, rs[1].result);
	if (rs[0].fd >= 0)
		close(rs[0].fd);
}

/*
 * ".." after a link climbs from where the link led, inside the root: never
 * the text's own parent (the fast path takes no ".." for that reason).
 */
TEST_F(walk, dotdot_after_a_link_climbs_from_where_it_led)
{
	char p[PATH_MAX], real[PATH_MAX];
	struct stat a, b;
	int fd = -1;

	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/b/c/x"), 0755));
	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/x"), 0755));
	ASSERT_EQ(0, symlink("/b/c", in_root(p, self, "/l")));
	ASSERT_EQ(0, ns_resolve_real(self->rootfd, "/l/../c/x", 0, 0, real, &fd));
	EXPECT_STREQ("/b/c/x", real);
	ASSERT_EQ(0, fstat(fd, &a));
	ASSERT_EQ(0, stat(in_root(p, self, "/b/c/x"), &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	close(fd);
	/* One ".." too many stops at the root. */
	ASSERT_EQ(0, ns_resolve_real(self->rootfd, "/../../x", 0, 0, real, &fd));
	EXPECT_STREQ("/x", real);
	close(fd);
}

/* Make rootfd/name/name/... (depth levels), by fds: the whole is longer than a host path may be. */
static int make_deep(int rootfd, const char *name, int depth)
{
	int fd;

	if (mkdirat(rootfd, name, 0755) < 0)
		return -1;
	if (depth == 1)
		return 0;
	fd = openat(rootfd, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || make_deep(fd, name, depth - 1) < 0)
		return -1;
	close(fd);
	return 0;
}

static void remove_deep(int rootfd, const char *name, int depth)
{
	int fd = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0 && depth > 1)
		remove_deep(fd, name, depth - 1);
	if (fd >= 0)
		close(fd);
	unlinkat(rootfd, name, AT_REMOVEDIR);
}

/*
 * r11: the one-lookup path writes the real path as "/" + the text's
 * components. A relative text of PATH_MAX - 1 characters (ns.h takes one:
 * openat2 reads it beneath the root) makes that PATH_MAX + 1 bytes, one past
 * ret_path and the lookup's own buffer. It must be -ENAMETOOLONG (it does not
 * fit), with nothing written past ret_path.
 */
TEST_F(walk, relative_target_at_the_length_limit_stays_in_its_buffer)
{
	struct {
		char real[PATH_MAX];
		char guard[64];
	} out;
	char name[256], rel[PATH_MAX];
	size_t used = 0;
	int fd = -1;

	/* 16 components of 255 characters and 15 slashes: 4095 characters. */
	memset(name, 'a', 255);
	name[255] = '\0';
	for (int i = 0; i < 16; i++) {
		if (i)
			rel[used++] = '/';
		memcpy(rel + used, name, 255);
		used += 255;
	}
	rel[used] = '\0';
	ASSERT_EQ(PATH_MAX - 1, (int)strlen(rel));
	ASSERT_EQ(0, make_deep(self->rootfd, name, 16));
	memset(out.guard, 'G', sizeof(out.guard));
	EXPECT_EQ(-ENAMETOOLONG, ns_resolve_real(self->rootfd, rel, 0, 0, out.real, &fd));
	EXPECT_EQ('G', out.guard[0]);
	memset(out.guard, 'G', sizeof(out.guard));
	EXPECT_EQ(-EAGAIN, ns_resolve_real_cached(self->rootfd, rel, out.real, &fd));
	EXPECT_EQ('G', out.guard[0]);
	if (fd >= 0)
		close(fd);
	remove_deep(self->rootfd, name, 16);
}

TEST_F(walk, refusals_are_exact)
{
	char p[PATH_MAX], real[PATH_MAX];
	int fd = -1;

	ASSERT_EQ(0, symlink("l2", in_root(p, self, "/l1")));
	ASSERT_EQ(0, symlink("l1", in_root(p, self, "/l2")));
	EXPECT_EQ(-ELOOP, ns_resolve_real(self->rootfd, "/l1/x", NS_CREATE, 0755, real, &fd));
	ASSERT_EQ(0, tu_mkdirs(in_root(p, self, "/d"), 0755));
	ASSERT_EQ(0, symlink("d", in_root(p, self, "/ln")));
	EXPECT_EQ(-ELOOP, ns_resolve_real(self->rootfd, "/ln", NS_NO_SYMLINKS, 0, real, &fd));
	ASSERT_EQ(0, tu_write_file(in_root(p, self, "/file"), "x"));
	EXPECT_EQ(-ENOTDIR, ns_resolve_real(self->rootfd, "/file/x", NS_CREATE, 0755, real, &fd));
	EXPECT_EQ(-EINVAL, ns_resolve_real(self->rootfd, "", 0, 0, real, &fd));
	/* A link on procfs is never followed, whatever it names. */
	int proc = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);

	ASSERT_LE(0, proc);
	EXPECT_EQ(-EXDEV, ns_resolve_real(proc, "/self/root", 0, 0, real, &fd));
	EXPECT_EQ(-EXDEV, ns_resolve_real(proc, "/self/fd/0", 0, 0, real, &fd));
	close(proc);
}

TEST_HARNESS_MAIN
