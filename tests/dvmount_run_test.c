/* SPDX-License-Identifier: MIT */
/*
 * dvmount-run end to end, the path a containerizer takes: namespaces, prepare
 * --pid while the init waits, the command, cleanup. The seed's "Test it out"
 * (one task writes a file into a volume, the next sees it), a rootfs with
 * absolute and relative container paths, RO, --user, the exit status, the
 * sandbox's stdout, and cleanup when dvmount-run is stopped with SIGTERM;
 * against the test plugin and against rclone's real plugin.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define RUN_ARGS_MAX 48

/*
 * argv for dvmount-run with the env's dvmount options, then the NULL-terminated
 * list (dvmount-run's own options, "--", the command) from ap.
 */
static void run_argv_build(struct lcenv *e, char *argv[RUN_ARGS_MAX], va_list ap)
{
	int n = lcenv_argv_head(e, "dvmount-run", argv);

	while (n < RUN_ARGS_MAX - 1 && (argv[n] = va_arg(ap, char *)))
		n++;
	argv[n] = NULL;
}

/* dvmount-run [env options] ARGS... to completion. */
static int dvrun(struct lcenv *e, struct run_result *r, ...) __attribute__((sentinel));
static int dvrun(struct lcenv *e, struct run_result *r, ...)
{
	char *argv[RUN_ARGS_MAX];
	va_list ap;

	va_start(ap, r);
	run_argv_build(e, argv, ap);
	va_end(ap);
	return run_argv(r, argv, 60000);
}

/* dvmount-run in the background (its own process group, dies with the test). */
static pid_t dvrun_spawn(struct lcenv *e, ...) __attribute__((sentinel));
static pid_t dvrun_spawn(struct lcenv *e, ...)
{
	char *argv[RUN_ARGS_MAX];
	va_list ap;

	va_start(ap, e);
	run_argv_build(e, argv, ap);
	va_end(ap);
	return spawn(argv, NULL);
}

static int wait_file(const char *path, unsigned timeout_ms)
{
	for (unsigned waited = 0; waited < timeout_ms; waited += 20) {
		if (access(path, F_OK) == 0)
			return 0;
		usleep(20000);
	}
	return -ETIMEDOUT;
}

LC_FIXTURE(run);

/* The seed's "Test it out": task 1 creates a file in the volume, task 2 lists it. */
TEST_F(run, seed_second_task_sees_first_tasks_file)
{
	struct lcvol v[] = { { .name = "myvolume", .path = NULL } };
	char vols[PATH_MAX], ctpath[PATH_MAX], file[PATH_MAX], sandbox[PATH_MAX];
	char buf[64];
	struct run_result r;

	/* No rootfs: an absolute container_path is a host path that must exist (Mesos). */
	v[0].path = tu_path(ctpath, "%s/tmp/myvolume", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(ctpath, 0755));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "myvolume.json", v, 1, vols));
	tu_path(file, "%s/myfile", ctpath);

	ASSERT_EQ(
	    0, dvrun(&self->e, &r, "--name", "test", "--volumes", vols, "--", "touch", file, NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* The file went into the plugin's volume, not into the host directory. */
	EXPECT_EQ(-1, access(file, F_OK));
	EXPECT_EQ(
	    0, access(tu_path(sandbox, "%s/volumes/myvolume/data/myfile", self->e.tproot), F_OK));

	tu_path(sandbox, "%s/task2", self->e.dir);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "test", "--volumes", vols, "--sandbox", sandbox,
			   "--", "ls", ctpath, NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("myfile\n", r.out);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	/* "Check the sandbox for the second task": its stdout file has the same. */
	EXPECT_EQ(7, tu_read_file(tu_path(file, "%s/stdout", sandbox), buf, sizeof(buf)));
	EXPECT_STREQ("myfile\n", buf);
	EXPECT_EQ(0, tu_read_file(tu_path(file, "%s/stderr", sandbox), buf, sizeof(buf)));
	EXPECT_EQ(2, lcenv_log_count(&self->e, "Mount", "myvolume"));
	EXPECT_EQ(2, lcenv_log_count(&self->e, "Unmount", "myvolume"));
	lc_expect_released(_metadata, &self->e);
}

/*
 * With a rootfs: pivoted into it with its own /proc and hostname, an absolute
 * container_path created inside the rootfs, a relative one in the sandbox
 * (the cwd, at /mnt/mesos/sandbox), a RO volume that refuses a write.
 */
TEST_F(run, rootfs_absolute_relative_and_readonly)
{
	struct lcvol v[] = { { .name = "abs", .path = "/data/abs" },
			     { .name = "rel", .path = "rel" },
			     { .name = "ro", .path = "/ro", .mode = "RO" } };
	char vols[PATH_MAX], rootfs[PATH_MAX], sandbox[PATH_MAX], p[PATH_MAX], buf[256];
	struct run_result r;

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lc_mkrootfs(tu_path(rootfs, "%s/rootfs", self->e.dir)));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 3, vols));
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "web", "--volumes", vols, "--rootfs", rootfs,
			   "--sandbox", sandbox, "--", "sh", "-c",
			   "echo $$ $(hostname) $(pwd); echo a > /data/abs/f && echo r > rel/f && "
			   "ls /proc/1/ns >/dev/null && touch /ro/f",
			   NULL));
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("2 web /mnt/mesos/sandbox\n", r.out);
	EXPECT_NE(NULL, strstr(r.err, "Read-only file system")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(
	    2, tu_read_file(tu_path(p, "%s/volumes/abs/data/f", self->e.tproot), buf, sizeof(buf)));
	EXPECT_EQ(
	    2, tu_read_file(tu_path(p, "%s/volumes/rel/data/f", self->e.tproot), buf, sizeof(buf)));
	EXPECT_EQ(-1, access(tu_path(p, "%s/volumes/ro/data/f", self->e.tproot), F_OK));
	/* Mount points were made where they belong; nothing is mounted there on the host. */
	EXPECT_EQ(0, access(tu_path(p, "%s/data/abs", rootfs), F_OK));
	EXPECT_EQ(0, access(tu_path(p, "%s/rel", sandbox), F_OK));
	EXPECT_EQ(0, lc_mounts_under(0, rootfs));
	EXPECT_EQ(0, lc_mounts_under(0, sandbox));
	lc_expect_released(_metadata, &self->e);
}

/* --user: the volume's root is chowned, the command runs as that user. */
TEST_F(run, user_owns_volume_and_runs_command)
{
	struct lcvol v[] = { { .name = "v", .path = "/data" } };
	char vols[PATH_MAX], rootfs[PATH_MAX], p[PATH_MAX];
	struct run_result r;
	struct stat st;

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lc_mkrootfs(tu_path(rootfs, "%s/rootfs", self->e.dir)));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "u", "--volumes", vols, "--rootfs", rootfs,
			   "--user", "1234:2345", "--", "sh", "-c",
			   "stat -c %u:%g /data; touch /data/mine; id -u", NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("1234:2345\n1234\n", r.out);
	run_result_free(&r);
	ASSERT_EQ(0, stat(tu_path(p, "%s/volumes/v/data/mine", self->e.tproot), &st));
	EXPECT_EQ(1234, st.st_uid);
	EXPECT_EQ(2345, st.st_gid);
	lc_expect_released(_metadata, &self->e);
}

/* Its exit status is the command's; 127 for a missing command; 128+N for a signal. */
TEST_F(run, exit_status_is_the_commands)
{
	struct lcvol v[] = { { .name = "v", .path = "vol" } };
	char vols[PATH_MAX], sandbox[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "x", "--volumes", vols, "--sandbox", sandbox,
			   "--", "sh", "-c", "exit 7", NULL));
	EXPECT_EQ(7, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "x", "--volumes", vols, "--sandbox", sandbox,
			   "--", "sh", "-c", "kill -9 $$", NULL));
	EXPECT_EQ(128 + SIGKILL, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "x", "--volumes", vols, "--sandbox", sandbox,
			   "--", "/nonexistent", NULL));
	EXPECT_EQ(127, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "command '/nonexistent': No such file or directory"))
	OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(3, lcenv_log_count(&self->e, "Unmount", "v"));
	lc_expect_released(_metadata, &self->e);
}

/* A denied volume: prepare's exit, 125; the command never runs; nothing is held. */
TEST_F(run, failed_prepare_never_starts_command)
{
	struct lcvol v[] = { { .name = "v", .path = "vol", .driver = "notallowed" } };
	char vols[PATH_MAX], sandbox[PATH_MAX], marker[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	tu_path(marker, "%s/ran", self->e.dir);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "x", "--volumes", vols, "--sandbox", sandbox,
			   "--", "touch", marker, NULL));
	EXPECT_EQ(125, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "notallowed")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(-1, access(marker, F_OK));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Mount", NULL));
	lc_expect_released(_metadata, &self->e);
}

/* Without --sandbox one is made under /tmp (the command's cwd) and removed at the end. */
TEST_F(run, default_sandbox_removed)
{
	struct lcvol v[] = { { .name = "v", .path = "vol" } };
	char vols[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "tmpbox", "--volumes", vols, "--", "sh", "-c",
			   "pwd; ls", NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	ASSERT_EQ(0, strncmp(r.out, "/tmp/dvmount-run.tmpbox-", 24)) OK_OR_LOG(r);
	/* pwd, then ls of the sandbox: the two log files and the relative volume. */
	char *nl = strchr(r.out, '\n');

	ASSERT_NE(NULL, nl);
	*nl = '\0';
	EXPECT_STREQ("stderr\nstdout\nvol\n", nl + 1);
	EXPECT_EQ(-1, access(r.out, F_OK));
	EXPECT_EQ(ENOENT, errno);
	run_result_free(&r);
	lc_expect_released(_metadata, &self->e);
}

/* --volumes -: the spec on stdin; the command then reads /dev/null, not the spec. */
TEST_F(run, volumes_from_stdin)
{
	struct lcvol v[] = { { .name = "v", .path = "vol" } };
	char vols[PATH_MAX], sandbox[PATH_MAX], cmd[4 * PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	snprintf(cmd, sizeof(cmd),
		 "exec %s --state-dir %s --policy %s --plugin-path %s --name in --volumes - "
		 "--sandbox %s -- sh -c 'wc -c; ls' <%s",
		 build_path("dvmount-run"), self->e.state, self->e.policy, self->e.plugins, sandbox,
		 vols);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	ASSERT_EQ(0, run_argv(&r, argv, 60000));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("0\nstderr\nstdout\nvol\n", r.out);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v"));
	lc_expect_released(_metadata, &self->e);
}

/* --keep: the sandbox dvmount-run made stays, and it says where. */
TEST_F(run, keep_leaves_the_sandbox)
{
	struct lcvol v[] = { { .name = "v", .path = "vol" } };
	char vols[PATH_MAX], path[PATH_MAX], buf[64];
	struct run_result r;
	const char *at, *end;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "kept", "--volumes", vols, "--keep", "--",
			   "echo", "kept output", NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
	at = strstr(r.err, "sandbox kept at '");
	ASSERT_NE(NULL, at) OK_OR_LOG(r);
	at += strlen("sandbox kept at '");
	end = strchr(at, '\'');
	ASSERT_NE(NULL, end);
	snprintf(path, sizeof(path), "%.*s/stdout", (int)(end - at), at);
	EXPECT_EQ(0, strncmp(at, "/tmp/dvmount-run.kept-", 22));
	EXPECT_EQ(12, tu_read_file(path, buf, sizeof(buf)));
	EXPECT_STREQ("kept output\n", buf);
	path[strlen(path) - strlen("/stdout")] = '\0';
	run_result_free(&r);
	EXPECT_EQ(0, tu_rm_rf(path));
	lc_expect_released(_metadata, &self->e);
}

/* A rootfs without /proc: one line that says so; the plugin never hears of it. */
TEST_F(run, rootfs_without_proc_is_named)
{
	struct lcvol v[] = { { .name = "v", .path = "/data" } };
	char vols[PATH_MAX], rootfs[PATH_MAX], proc[PATH_MAX], want[2 * PATH_MAX];
	struct run_result r;

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lc_mkrootfs(tu_path(rootfs, "%s/rootfs", self->e.dir)));
	ASSERT_EQ(0, rmdir(tu_path(proc, "%s/proc", rootfs)));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "noproc", "--volumes", vols, "--rootfs", rootfs,
			   "--", "true", NULL));
	EXPECT_EQ(125, r.status) OK_OR_LOG(r);
	snprintf(want, sizeof(want),
		 "the rootfs '%s' has no /proc (a directory for the container's /proc; "
		 "tools/mkrootfs makes one)\n",
		 rootfs);
	EXPECT_NE(NULL, strstr(r.err, want)) OK_OR_LOG(r);
	EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	lc_expect_released(_metadata, &self->e);
}

/* SIGTERM to dvmount-run: the command gets it, the volumes are released. */
TEST_F(run, sigterm_stops_command_and_cleans_up)
{
	struct lcvol v[] = { { .name = "v", .path = "/data" } };
	char vols[PATH_MAX], rootfs[PATH_MAX], started[PATH_MAX];
	int containers = -1, volumes = -1, status;
	pid_t pid;

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lc_mkrootfs(tu_path(rootfs, "%s/rootfs", self->e.dir)));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	pid = dvrun_spawn(&self->e, "--name", "long", "--volumes", vols, "--rootfs", rootfs, "--",
			  "sh", "-c", "touch /data/started; exec sleep 100", NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0,
		  wait_file(tu_path(started, "%s/volumes/v/data/started", self->e.tproot), 20000));
	EXPECT_EQ(0, lcenv_status_counts(&self->e, &containers, &volumes));
	EXPECT_EQ(1, containers);
	EXPECT_EQ(1, volumes);
	ASSERT_EQ(0, kill(pid, SIGTERM));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* sleep died of the SIGTERM the init forwarded. */
	EXPECT_EQ(128 + SIGTERM, WEXITSTATUS(status));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v"));
	lc_expect_released(_metadata, &self->e);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* What a stopped or timed-out cleanup left, released once the plugin answers again. */
static void release_leftover(struct __test_metadata *_metadata, struct lcenv *e)
{
	struct run_result r;

	ASSERT_EQ(0, tu_write_file(e->faults, ""));
	ASSERT_EQ(0, lcenv_run(e, &r, "recover", "--gc-dead", NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lc_expect_released(_metadata, e);
}

/*
 * --timeout SEC bounds every plugin call of prepare and cleanup: a plugin that
 * never answers an Unmount costs 1 s, not dvmount's default 60 s.
 */
TEST_F(run, timeout_bounds_a_hung_cleanup)
{
	struct lcvol v[] = { { .name = "v", .path = "vol" } };
	char vols[PATH_MAX], sandbox[PATH_MAX];
	struct run_result r;
	struct timespec t0;
	long ms;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount hang count=1\n"));
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "t", "--volumes", vols, "--sandbox", sandbox,
			   "--timeout", "1", "--", "true", NULL));
	ms = ms_since(&t0);
	EXPECT_EQ(125, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "VolumeDriver.Unmount 'v'")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "timed out after 1.0 s")) OK_OR_LOG(r);
	EXPECT_LE(1000, ms);
	EXPECT_GT(10000, ms) TH_LOG("took %ld ms", ms);
	run_result_free(&r);

	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "t", "--volumes", vols, "--timeout", "0", "--",
			   "true", NULL));
	EXPECT_EQ(2, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("dvmount-run: invalid --timeout '0' (seconds, above 0, at most 86400)\n",
		     r.err);
	run_result_free(&r);
	release_leftover(_metadata, &self->e);
}

/*
 * SIGTERM while cleanup waits on a plugin (timeout(1) around dvmount-run):
 * dvmount-run stops the cleanup and exits at once, saying how to finish it.
 */
TEST_F(run, sigterm_during_cleanup_stops_waiting)
{
	struct lcvol v[] = { { .name = "v", .path = "vol" } };
	char vols[PATH_MAX], sandbox[PATH_MAX], done[PATH_MAX];
	struct timespec t0;
	int status;
	pid_t pid;
	long ms;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount hang count=1\n"));
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	tu_path(done, "%s/done", self->e.dir);
	pid = dvrun_spawn(&self->e, "--name", "t", "--volumes", vols, "--sandbox", sandbox, "--",
			  "touch", done, NULL);
	ASSERT_LT(0, pid);
	ASSERT_EQ(0, wait_file(done, 20000));
	/* The command is done; cleanup now waits for the Unmount (60 s by default). */
	usleep(500000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, kill(pid, SIGTERM));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ms = ms_since(&t0);
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(125, WEXITSTATUS(status));
	EXPECT_GT(3000, ms) TH_LOG("took %ld ms", ms);
	release_leftover(_metadata, &self->e);
}

/*
 * The same against rclone's real plugin (FUSE mounts), one task at a time:
 * rclone's plugin deadlocks when mount-changing calls overlap.
 */
FIXTURE(rclone)
{
	struct lcenv e;
	char data[PATH_MAX];
	pid_t pid;
};

FIXTURE_SETUP(rclone)
{
	char base[PATH_MAX], sock[PATH_MAX], cache[PATH_MAX], policy[3 * PATH_MAX];

	memset(&self->e, 0, sizeof(self->e));
	if (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0)
		SKIP(return, "rclone or /dev/fuse missing (tools/install-deps installs them)");
	ASSERT_EQ(0, tu_private_mountns());
	ASSERT_EQ(0, tu_scratch_make(&self->e.scratch));
	snprintf(self->e.dir, sizeof(self->e.dir), "%s", self->e.scratch.path);
	tu_path(self->e.plugins, "%s/plugins", self->e.dir);
	tu_path(self->e.state, "%s/state", self->e.dir);
	tu_path(self->e.policy, "%s/policy.conf", self->e.dir);
	tu_path(base, "%s/base", self->e.dir);
	tu_path(self->data, "%s/data", self->e.dir);
	tu_path(sock, "%s/rclone.sock", self->e.plugins);
	tu_path(cache, "%s/cache", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(self->e.plugins, 0700));
	ASSERT_EQ(0, tu_mkdirs(base, 0700));
	ASSERT_EQ(0, tu_mkdirs(self->data, 0755));
	snprintf(policy, sizeof(policy),
		 "[dvmount]\ncallers = uid:0\n\n[driver rclone]\nhost-paths = %s\n"
		 "options = remote\nmodes = RW RO\n",
		 base);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, policy));
	char *argv[] = { "rclone", "serve",    "docker",    "--base-dir",  base,  "--socket-addr",
			 sock,	   "--config", "/dev/null", "--cache-dir", cache, NULL };
	self->pid = spawn(argv, NULL);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, wait_socket(sock, 15000));
}

FIXTURE_TEARDOWN(rclone)
{
	/* SIGTERM makes rclone unmount what it mounted. */
	if (self->pid > 0)
		stop_process(self->pid, 5000);
	lcenv_teardown(&self->e);
}

/* How rclone's tests end: nothing recorded, and the last Unmount ended rclone's FUSE mount. */
static void expect_rclone_released(struct __test_metadata *_metadata, struct lcenv *e)
{
	int containers = -1, volumes = -1;
	char *mi;

	EXPECT_EQ(0, lcenv_status_counts(e, &containers, &volumes));
	EXPECT_EQ(0, containers);
	EXPECT_EQ(0, volumes);
	mi = lc_mountinfo(0);
	ASSERT_NE(NULL, mi);
	EXPECT_EQ(0, count_str(mi, "fuse.rclone")) TH_LOG("%s", mi);
	free(mi);
}

/*
 * The seed's scenario on rclone: create the volume, task 1 (no rootfs) touches
 * a file in it, task 2 (busybox rootfs, relative container_path) lists it.
 */
TEST_F(rclone, seed_tasks_without_and_with_rootfs)
{
	char remote[PATH_MAX + 16], ctpath[PATH_MAX], file[PATH_MAX], vols[PATH_MAX];
	char rootfs[PATH_MAX], rvols[PATH_MAX];
	struct lcvol v[] = { { .name = "myvolume", .driver = "rclone" } };
	struct run_result r;

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lc_mkrootfs(tu_path(rootfs, "%s/rootfs", self->e.dir)));
	snprintf(remote, sizeof(remote), "remote=:local:%s", self->data);
	ASSERT_EQ(0, lcenv_run(&self->e, &r, "volume", "create", "--driver", "rclone", "--name",
			       "myvolume", "--opt", remote, NULL));
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	v[0].path = tu_path(ctpath, "%s/tmp/myvolume", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(ctpath, 0755));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "myvolume.json", v, 1, vols));
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "test", "--volumes", vols, "--", "touch",
			   tu_path(file, "%s/myfile", ctpath), NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, access(tu_path(file, "%s/myfile", self->data), F_OK));

	v[0].path = "tmp/myvolume";
	ASSERT_EQ(0, lcenv_volumes(&self->e, "relative.json", v, 1, rvols));
	ASSERT_EQ(0, dvrun(&self->e, &r, "--name", "test", "--volumes", rvols, "--rootfs", rootfs,
			   "--", "ls", "tmp/myvolume", NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("myfile\n", r.out);
	run_result_free(&r);

	expect_rclone_released(_metadata, &self->e);
	ASSERT_EQ(0, lcenv_run(&self->e, &r, "volume", "remove", "--driver", "rclone", "--name",
			       "myvolume", NULL));
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/*
 * Two rclone volumes in one container, at sibling paths and at nested paths,
 * ten runs each: every run's cleanup Unmounts both and returns at once. On
 * 5417d5d the second Unmount of the first run hung until the 60 s timeout and
 * left rclone's plugin stuck for every later call (even its SIGTERM); since
 * issue 8's per-plugin call slot (one mount-changing call at a time, with a
 * hold after each) it no longer does.
 */
TEST_F_TIMEOUT(rclone, two_volumes_sibling_and_nested, 240)
{
	static const char *const layouts[][2] = { { "/a", "/b" }, { "/data", "/data/sub" } };
	char rootfs[PATH_MAX], vols[PATH_MAX], remote[PATH_MAX + 16], dir[PATH_MAX];
	char name[32], check[64];
	struct run_result r;

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lc_mkrootfs(tu_path(rootfs, "%s/rootfs", self->e.dir)));
	for (int i = 0; i < 2; i++) {
		const char *vname = i ? "vb" : "va";

		ASSERT_EQ(0, tu_mkdirs(tu_path(dir, "%s/%s", self->data, vname), 0755));
		snprintf(remote, sizeof(remote), "remote=:local:%s", dir);
		ASSERT_EQ(0, lcenv_run(&self->e, &r, "volume", "create", "--driver", "rclone",
				       "--name", vname, "--opt", remote, NULL));
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
	}
	ASSERT_EQ(0, tu_write_file(tu_path(dir, "%s/vb/mark", self->data), ""));
	for (size_t l = 0; l < 2; l++) {
		struct lcvol v[] = {
			{ .name = "va", .driver = "rclone", .path = layouts[l][0] },
			{ .name = "vb", .driver = "rclone", .path = layouts[l][1] },
		};

		ASSERT_EQ(0, lcenv_volumes(&self->e, "two.json", v, 2, vols));
		/* Each volume shows its own backing directory: the mark file is vb's. */
		snprintf(check, sizeof(check), "test -e %s/mark && ! test -e %s/mark",
			 layouts[l][1], layouts[l][0]);
		for (int run = 0; run < 10; run++) {
			struct timespec t0;
			long ms;

			snprintf(name, sizeof(name), "two%zu-%d", l, run);
			clock_gettime(CLOCK_MONOTONIC, &t0);
			ASSERT_EQ(0, dvrun(&self->e, &r, "--name", name, "--volumes", vols,
					   "--rootfs", rootfs, "--", "sh", "-c", check, NULL));
			ms = ms_since(&t0);
			ASSERT_EQ(0, r.status)
			TH_LOG("%s run %d: exit %d\nstderr: %s", layouts[l][1], run, r.status,
			       r.err);
			/* About 0.15 s here; a hung Unmount took 60 s. */
			EXPECT_GT(10000, ms)
			TH_LOG("%s run %d took %ld ms", layouts[l][1], run, ms);
			run_result_free(&r);
		}
	}
	expect_rclone_released(_metadata, &self->e);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, lcenv_run(&self->e, &r, "volume", "remove", "--driver", "rclone",
				       "--name", i ? "vb" : "va", NULL));
		EXPECT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
	}
}

TEST_HARNESS_MAIN
