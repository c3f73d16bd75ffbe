/* SPDX-License-Identifier: MIT */
/*
 * The power-cut model itself (tests/pcfs/pcfs.c): after a cut, a directory
 * holds exactly what the conservative POSIX model makes durable, and no
 * more. fsync() of a file makes its data durable, fsync() of a directory
 * its entries; nothing else does. A clean stop keeps everything visible.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/powercut.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

FIXTURE(pcfs)
{
	struct tu_scratch scratch;
	char dir[PATH_MAX];
	pid_t fs;
};

/* The disk before the test: dir/old holds "old", dir/sub/ exists. */
FIXTURE_SETUP(pcfs)
{
	const char *missing;
	char p[PATH_MAX];

	if (pc_supported(&missing) < 0)
		SKIP(return, "power cuts need %s", missing);
	ASSERT_EQ(0, tu_private_mountns());
	ASSERT_EQ(0, tu_scratch_make(&self->scratch));
	tu_path(self->dir, "%s/disk", self->scratch.path);
	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/sub", self->dir), 0700));
	ASSERT_EQ(0, tu_write_file(tu_path(p, "%s/old", self->dir), "old"));
	ASSERT_EQ(0, pc_fs_start(self->dir, &self->fs));
}

FIXTURE_TEARDOWN(pcfs)
{
	if (self->fs > 0)
		pc_fs_stop(self->fs);
	tu_scratch_remove(&self->scratch);
}

/* Write name under the test dir; fsync it when sync; leaves it closed. */
static int put(FIXTURE_DATA(pcfs) * self, const char *name, const char *text, bool sync)
{
	char p[PATH_MAX];
	int fd = open(tu_path(p, "%s/%s", self->dir, name),
		      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || (sync && fsync(fd) < 0))
		r = -errno;
	close(fd);
	return r;
}

static int sync_dir(FIXTURE_DATA(pcfs) * self, const char *name)
{
	char p[PATH_MAX];
	int fd = open(tu_path(p, "%s/%s", self->dir, name), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -errno;
	r = fsync(fd) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int cut(FIXTURE_DATA(pcfs) * self)
{
	int r = pc_fs_cut(self->fs);

	self->fs = 0;
	return r;
}

/* The file's text after the cut, "(absent)" when it is not there. */
static const char *text(FIXTURE_DATA(pcfs) * self, const char *name)
{
	static char buf[256];
	char p[PATH_MAX];

	if (tu_read_file(tu_path(p, "%s/%s", self->dir, name), buf, sizeof(buf)) < 0)
		return "(absent)";
	return buf;
}

TEST_F(pcfs, loaded_tree_is_durable_and_visible)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_STREQ("old", text(self, "old"));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("old", text(self, "old"));
	EXPECT_EQ(0, access(self->dir, F_OK));
	EXPECT_STREQ("(absent)", text(self, "sub/none"));
}

TEST_F(pcfs, file_written_without_any_fsync_is_gone)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, put(self, "new", "new", false));
	EXPECT_STREQ("new", text(self, "new"));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("(absent)", text(self, "new"));
}

/* Its entry durable, its data not: what MESOS-9507 found on disk. */
TEST_F(pcfs, file_whose_data_was_not_fsynced_comes_back_empty)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, put(self, "new", "new", false));
	ASSERT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("", text(self, "new"));
}

TEST_F(pcfs, fsynced_file_without_directory_fsync_is_gone)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, put(self, "new", "new", true));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("(absent)", text(self, "new"));
}

TEST_F(pcfs, renamed_over_without_directory_fsync_comes_back_old)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char a[PATH_MAX], b[PATH_MAX];

	ASSERT_EQ(0, put(self, ".tmp", "new", true));
	ASSERT_EQ(0, rename(tu_path(a, "%s/.tmp", self->dir), tu_path(b, "%s/old", self->dir)));
	EXPECT_STREQ("new", text(self, "old"));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("old", text(self, "old"));
	EXPECT_STREQ("(absent)", text(self, ".tmp"));
}

TEST_F(pcfs, renamed_over_with_file_and_directory_fsync_survives)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char a[PATH_MAX], b[PATH_MAX];

	ASSERT_EQ(0, put(self, ".tmp", "new", true));
	ASSERT_EQ(0, rename(tu_path(a, "%s/.tmp", self->dir), tu_path(b, "%s/old", self->dir)));
	ASSERT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("new", text(self, "old"));
	EXPECT_STREQ("(absent)", text(self, ".tmp"));
}

/* fdatasync counts as a file's sync: the data and size are all a file has here. */
TEST_F(pcfs, fdatasync_makes_data_durable)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char p[PATH_MAX];
	int fd = open(tu_path(p, "%s/old", self->dir), O_WRONLY | O_TRUNC | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(3, write(fd, "abc", 3));
	ASSERT_EQ(0, fdatasync(fd));
	ASSERT_EQ(3, write(fd, "def", 3));
	close(fd);
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("abc", text(self, "old"));
}

TEST_F(pcfs, unlink_needs_the_directory_fsync)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char p[PATH_MAX];

	ASSERT_EQ(0, unlink(tu_path(p, "%s/old", self->dir)));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("old", text(self, "old"));
}

TEST_F(pcfs, unlink_with_the_directory_fsync_is_durable)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char p[PATH_MAX];

	ASSERT_EQ(0, unlink(tu_path(p, "%s/old", self->dir)));
	ASSERT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("(absent)", text(self, "old"));
}

/* "old" rewritten in place: "old" becomes text, written at offset 0, then truncated. */
static int rewrite_old(FIXTURE_DATA(pcfs) * self, const char *text, bool sync)
{
	char p[PATH_MAX];
	int fd = open(tu_path(p, "%s/old", self->dir), O_WRONLY | O_CLOEXEC);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, text, strlen(text), 0) != (ssize_t)strlen(text) ||
	    ftruncate(fd, (off_t)strlen(text)) < 0 || (sync && fsync(fd) < 0))
		r = -errno;
	close(fd);
	return r;
}

/*
 * A durable file rewritten in place without a sync may reach the disk in
 * part: the model keeps neither version whole (the first half of the new
 * text over the old one), so that a program that rewrites a durable
 * version in place fails here, as it could on a disk.
 */
TEST_F(pcfs, unsynced_rewrite_in_place_of_a_durable_file_comes_back_torn)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, rewrite_old(self, "NEW", false));
	EXPECT_STREQ("NEW", text(self, "old"));
	ASSERT_EQ(0, cut(self));
	/* "NEW" has 3 bytes: its first one over "old". */
	EXPECT_STREQ("Nld", text(self, "old"));
}

TEST_F(pcfs, synced_rewrite_in_place_is_durable)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, rewrite_old(self, "NEWER", true));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("NEWER", text(self, "old"));
}

/* RENAME_EXCHANGE swaps two names; durable, as any rename, with the directory's fsync. */
TEST_F(pcfs, exchange_needs_the_directory_fsync)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char a[PATH_MAX], b[PATH_MAX];

	ASSERT_EQ(0, put(self, "b", "b", true));
	ASSERT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, renameat2(AT_FDCWD, tu_path(a, "%s/old", self->dir), AT_FDCWD,
			       tu_path(b, "%s/b", self->dir), RENAME_EXCHANGE));
	EXPECT_STREQ("b", text(self, "old"));
	EXPECT_STREQ("old", text(self, "b"));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("old", text(self, "old"));
	EXPECT_STREQ("b", text(self, "b"));
}

TEST_F(pcfs, exchange_with_the_directory_fsync_is_durable)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char a[PATH_MAX], b[PATH_MAX];

	ASSERT_EQ(0, put(self, "b", "b", true));
	ASSERT_EQ(-1, renameat2(AT_FDCWD, tu_path(a, "%s/old", self->dir), AT_FDCWD,
				tu_path(b, "%s/none", self->dir), RENAME_EXCHANGE));
	EXPECT_EQ(ENOENT, errno);
	ASSERT_EQ(0, renameat2(AT_FDCWD, tu_path(a, "%s/old", self->dir), AT_FDCWD,
			       tu_path(b, "%s/b", self->dir), RENAME_EXCHANGE));
	ASSERT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("b", text(self, "old"));
	EXPECT_STREQ("old", text(self, "b"));
}

/* Each directory's fsync covers its own entries only, not its parent's. */
TEST_F(pcfs, new_directory_needs_its_parent_fsync)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char p[PATH_MAX];
	struct stat st;

	ASSERT_EQ(0, mkdir(tu_path(p, "%s/d", self->dir), 0700));
	ASSERT_EQ(0, put(self, "d/f", "f", true));
	ASSERT_EQ(0, sync_dir(self, "d"));
	ASSERT_EQ(0, put(self, "sub/g", "g", true));
	ASSERT_EQ(0, sync_dir(self, "sub"));
	ASSERT_EQ(0, cut(self));
	EXPECT_EQ(-1, stat(tu_path(p, "%s/d", self->dir), &st));
	EXPECT_STREQ("g", text(self, "sub/g"));
}

TEST_F(pcfs, clean_stop_keeps_everything_visible)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char a[PATH_MAX], b[PATH_MAX];

	ASSERT_EQ(0, put(self, "new", "new", false));
	ASSERT_EQ(0,
		  rename(tu_path(a, "%s/new", self->dir), tu_path(b, "%s/sub/moved", self->dir)));
	ASSERT_EQ(0, pc_fs_stop(self->fs));
	self->fs = 0;
	EXPECT_STREQ("new", text(self, "sub/moved"));
	EXPECT_STREQ("(absent)", text(self, "new"));
	EXPECT_STREQ("old", text(self, "old"));
}

/* What dvmount's state dir needs of a filesystem: flock and O_EXCL work on it. */
TEST_F(pcfs, flock_and_exclusive_create_work)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	char p[PATH_MAX];
	int a, b;

	tu_path(p, "%s/lock", self->dir);
	a = open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ASSERT_LE(0, a);
	EXPECT_EQ(-1, open(p, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
	EXPECT_EQ(EEXIST, errno);
	b = open(p, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, b);
	EXPECT_EQ(0, flock(a, LOCK_EX | LOCK_NB));
	EXPECT_EQ(-1, flock(b, LOCK_EX | LOCK_NB));
	EXPECT_EQ(EWOULDBLOCK, errno);
	close(a);
	close(b);
}

/*
 * A child that makes x durable (two syncs: its data, the directory), then y
 * (two more); the model started with cut (--cut-at-sync / --cut-after-sync
 * n). Returns the child's wait status.
 */
static int syncing_child(struct __test_metadata *_metadata, FIXTURE_DATA(pcfs) * self, unsigned n,
			 bool applied)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, pc_fs_stop(self->fs));
	self->fs = 0;
	ASSERT_EQ(0, pc_fs_start_sync_cut(self->dir, n, applied, &self->fs));
	ASSERT_EQ(0, put(self, "before", "before", false));
	ASSERT_EQ(0, pc_fs_arm(self->fs));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(put(self, "x", "x", true) || sync_dir(self, ".") ||
		      put(self, "y", "y", true) || sync_dir(self, "."));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	return status;
}

TEST_F(pcfs, cut_at_sync_kills_the_caller_and_drops_that_sync)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	int status = syncing_child(_metadata, self, 3, false);

	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* Syncs after the cut, from anyone, make nothing durable. */
	EXPECT_EQ(0, put(self, "z", "z", true));
	EXPECT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("x", text(self, "x"));
	EXPECT_STREQ("(absent)", text(self, "y"));
	EXPECT_STREQ("(absent)", text(self, "z"));
	/* Counted from pc_fs_arm(): the directory sync that made x durable was the 2nd. */
	EXPECT_STREQ("", text(self, "before"));
}

TEST_F(pcfs, cut_after_sync_applies_that_sync)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	int status = syncing_child(_metadata, self, 4, true);

	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("x", text(self, "x"));
	EXPECT_STREQ("y", text(self, "y"));
}

TEST_F(pcfs, cut_at_sync_past_the_last_kills_nothing)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	int status = syncing_child(_metadata, self, 5, false);

	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("y", text(self, "y"));
}

/*
 * "dvmount-pcfs --syncfs-of DIR sync -f PATH": one syncfs(2) of PATH's
 * filesystem, stopped and shown to the model first. The command's exit
 * status, or -1.
 */
static int syncfs_of(FIXTURE_DATA(pcfs) * self, const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl(build_path("tests/dvmount-pcfs"), "dvmount-pcfs", "--syncfs-of", self->dir,
		      "sync", "-f", path, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * A syncfs writes everything but leaves the last of it in the disk's cache
 * (an ext4 without a journal: tests/pcfs/pcfs.c): durable once the next
 * syncfs has flushed it.
 */
TEST_F(pcfs, syncfs_makes_everything_durable_once_the_next_syncfs_ran)
{
	char p[PATH_MAX];

	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, put(self, "sub/new", "new", false));
	ASSERT_EQ(0, syncfs_of(self, tu_path(p, "%s/old", self->dir)));
	ASSERT_EQ(0, put(self, "later", "later", false));
	ASSERT_EQ(0, syncfs_of(self, p));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("new", text(self, "sub/new"));
	/* Written between the two: the second's own writes wait for a third. */
	EXPECT_STREQ("(absent)", text(self, "later"));
}

TEST_F(pcfs, one_syncfs_alone_leaves_its_writes_in_the_cache)
{
	char p[PATH_MAX];

	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, put(self, "sub/new", "new", false));
	ASSERT_EQ(0, syncfs_of(self, tu_path(p, "%s/old", self->dir)));
	/* A fsync of another file flushes nothing of it (it may find nothing dirty). */
	ASSERT_EQ(0, put(self, "other", "other", true));
	ASSERT_EQ(0, sync_dir(self, "."));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("(absent)", text(self, "sub/new"));
	EXPECT_STREQ("other", text(self, "other"));
}

/*
 * A syncfs syncs the filesystem of its fd, no other: those of a file
 * outside the model (here the directory the model is mounted in) make
 * nothing durable in it, as on a disk.
 */
TEST_F(pcfs, syncfs_of_another_filesystem_makes_nothing_durable_here)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, put(self, "sub/new", "new", false));
	ASSERT_EQ(0, syncfs_of(self, self->scratch.path));
	ASSERT_EQ(0, syncfs_of(self, self->scratch.path));
	ASSERT_EQ(0, cut(self));
	EXPECT_STREQ("(absent)", text(self, "sub/new"));
}

TEST_HARNESS_MAIN
