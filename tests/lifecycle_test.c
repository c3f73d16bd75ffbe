/* SPDX-License-Identifier: MIT */
/*
 * dvmount prepare / cleanup / recover / status, black-box, against the test
 * plugin: Mesos' docker/volume isolator scenarios without a rootfs
 * (facts/mesos-isolator.md 1-5, 8, 9, 11), attaching into a running process,
 * reference counts shared by several containers, status output, and
 * idempotent cleanup. The plugin's call log is the witness for every
 * Mount and Unmount.
 */
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ns/ns.h"
#include "tests/lib/lcenv.h"
#include "tests/lib/run.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

LC_FIXTURE(mesos);

/* 1. No rootfs: a relative volume with options, an absolute existing host dir. */
TEST_F(mesos, no_rootfs_relative_with_options_and_absolute_host_dir)
{
	char sandbox[PATH_MAX], hostdir[PATH_MAX], vols[PATH_MAX], p[PATH_MAX], pid[16];
	char buf[64];
	struct run_result r;
	char *log;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	struct lcvol v[] = {
		{ .name = "v1", .path = "data/v1", .opt_key = "size", .opt_val = "10G" },
		{ .name = "v2", .path = hostdir },
	};
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));

	lcenv_run(&self->e, &r, "prepare", "--container-id", "task1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	/* Each mounted once, by its name, with its options. */
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "v2"));
	log = read_file(self->e.log);
	ASSERT_NE(NULL, log);
	EXPECT_EQ(1, count_str(log, "\"name\":\"v1\",\"opts\":{\"size\":\"10G\"}"))
	TH_LOG("%s", log);
	free(log);

	/* The task sees both: what it writes reaches the plugin's backend. */
	EXPECT_EQ(0, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/data/v1/a", sandbox), "1"));
	EXPECT_EQ(0, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/b", hostdir), "2"));
	EXPECT_EQ(
	    1, tu_read_file(tu_path(p, "%s/volumes/v1/data/a", self->e.tproot), buf, sizeof(buf)));
	EXPECT_EQ(
	    1, tu_read_file(tu_path(p, "%s/volumes/v2/data/b", self->e.tproot), buf, sizeof(buf)));
	/* ...and the host's own hostdir is untouched (the mount is the task's). */
	EXPECT_NE(0, access(tu_path(p, "%s/b", hostdir), F_OK));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "task1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v2"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, sandbox));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, hostdir));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

/* 1b. Without --pid: the absolute host dir must exist (Mesos' words), all undone. */
TEST_F(mesos, absolute_path_without_rootfs_must_exist)
{
	char vols[PATH_MAX], missing[PATH_MAX];
	struct run_result r;
	int c, v;

	tu_path(missing, "%s/no/such/dir", self->e.dir);
	struct lcvol vol[] = { { .name = "v1", .path = missing } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t", "--volumes", vols, NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "Absolute container path")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_NE(0, access(missing, F_OK));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

/* 2. The same driver and name twice in one container: refused before any Mount. */
TEST_F(mesos, duplicate_volume_fails)
{
	char vols[PATH_MAX];
	struct run_result r;
	int c, v;
	struct lcvol vol[] = { { .name = "dup", .path = "/mnt/a" },
			       { .name = "dup", .path = "/mnt/b" } };

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 2, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t", "--volumes", vols, NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "uplicate")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

/* 3. Agent restart: recovery keeps a known task and never mounts; its kill unmounts. */
TEST_F(mesos, agent_restart_recovers_without_mounting)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], pid[16];
	struct run_result r;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "a" }, { .name = "v2", .path = "b" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "task1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, lcenv_log_reset(&self->e));

	lcenv_run(&self->e, &r, "recover", "--known", "task1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v2"));
	EXPECT_EQ(2, lc_mounts_under(self->ct[0].pid, sandbox));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "task1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v2"));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, sandbox));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

/* 4. An empty checkpoint (MESOS-9507): recovery goes on, and says so. */
TEST_F(mesos, empty_checkpoint_recovery_succeeds)
{
	char vols[PATH_MAX], empty[PATH_MAX];
	struct run_result r;
	json_object *st = NULL;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "v1", vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "good", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* A hard reboot before the data reached the disk. */
	ASSERT_EQ(0, tu_write_file(tu_path(empty, "%s/containers/empty.json", self->e.state), ""));

	lcenv_run(&self->e, &r, "recover", "--known", "good,empty", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "1 corrupt")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "empty")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_NE(0, access(empty, F_OK));
	/* The good one is untouched, the bad one set aside where status shows it. */
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	ASSERT_EQ(0, lcenv_status(&self->e, &st));
	EXPECT_EQ(1, json_object_array_length(json_object_object_get(st, "quarantined")));
	EXPECT_EQ(1, json_object_array_length(json_object_object_get(st, "containers")));
	json_object_put(st);

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "good", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/* 5. Two tasks share one volume: one Mount, one Unmount after the last. */
TEST_F(mesos, two_containers_share_volume_unmount_after_last)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], p[PATH_MAX], pid[16];
	struct run_result r;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "shared", .path = "vol" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	for (int i = 0; i < 2; i++) {
		char cid[8];

		snprintf(cid, sizeof(cid), "t%d", i);
		ASSERT_EQ(0, tu_container_start(&self->ct[i], NULL, 0));
		lcenv_run(&self->e, &r, "prepare", "--container-id", cid, "--volumes", vols,
			  "--pid", lc_pidstr(pid, self->ct[i].pid), "--sandbox", sandbox, NULL);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
	}
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "shared"));
	EXPECT_EQ(2, lcenv_status_refcount(&self->e, "shared"));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t0", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, sandbox));
	/* The second task still has a working volume. */
	EXPECT_EQ(0, lc_ct_write(self->ct[1].pid, 0, 0, tu_path(p, "%s/vol/x", sandbox), "x"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "shared"));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "shared"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "shared"));
}

/* 8. --user: the mountpoint is handed to the task's user, who can write it. */
TEST_F(mesos, user_chowns_mountpoint)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], p[PATH_MAX], pid[16];
	struct run_result r;
	struct stat st;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "vol" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	/* Before: root's, so a write as 4242 would fail with EACCES. */
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, "--user", "4242:4343",
		  NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, lc_ct_stat(self->ct[0].pid, tu_path(p, "%s/vol", sandbox), &st));
	EXPECT_EQ(4242, st.st_uid);
	EXPECT_EQ(4343, st.st_gid);
	EXPECT_EQ(
	    0, lc_ct_write(self->ct[0].pid, 4242, 4343, tu_path(p, "%s/vol/mine", sandbox), "x"));
	/* Nobody else got it: another uid is still refused. */
	EXPECT_EQ(-EACCES, lc_ct_write(self->ct[0].pid, 4444, 4444,
				       tu_path(p, "%s/vol/other", sandbox), "x"));
}

/* 9. RO without a rootfs: writing fails with EROFS inside the task. */
TEST_F(mesos, readonly_without_rootfs_refuses_writes)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], p[PATH_MAX], pid[16];
	struct run_result r;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "ro", .mode = "RO" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "\"readonly\":true")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(-EROFS, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/ro/f", sandbox), "x"));
	/* The plugin's own mountpoint stays writable for the host. */
	EXPECT_EQ(0, tu_write_file(tu_path(p, "%s/mnt/v1/host", self->e.tproot), "x"));
}

/* 11. MESOS-10126: a failed Unmount never pins the count; the next user's end unmounts. */
TEST_F(mesos, failed_unmount_does_not_stick)
{
	char vols[PATH_MAX];
	struct run_result r;
	int c, v;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "ebs", vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount error device busy count=1\n"));

	lcenv_run(&self->e, &r, "prepare", "--container-id", "t1", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t1", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "device busy")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "t1")) OK_OR_LOG(r);
	run_result_free(&r);
	/* The task is forgotten; the volume waits for a retry with no user. */
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "ebs"));

	/* A second task uses the volume and, at its end, it is unmounted. */
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t2", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "ebs"));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t2", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lc_expect_released(_metadata, &self->e);
}

/*
 * recover cleans up a container whose Unmount the plugin refuses: it asks the
 * plugin once and says so once. Its sweep of volumes without users asked
 * again in the same run (Unmount is not idempotent) and printed the same
 * refusal a second time (found by stress_test). The next recover retries.
 */
TEST_F(mesos, recover_asks_a_refused_unmount_once_per_run)
{
	char vols[PATH_MAX];
	struct run_result r;
	const char *nl;
	int c, v;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "ebs", vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t1", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount error device busy\n"));

	lcenv_run(&self->e, &r, "recover", "--known", "other", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	nl = strchr(r.err, '\n');
	EXPECT_TRUE(nl && nl[1] == '\0') OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "container 't1'")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "device busy (kept for retry)")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(1, v);

	/* The next run retries it, once. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, ""));
	lcenv_run(&self->e, &r, "recover", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	EXPECT_EQ(2, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, v);
}

/*
 * The checks every in-flight test ends with. recover: exit 0, nothing left
 * mounted under the plugin's root, every successful Mount paired with an
 * Unmount.
 */
static void expect_recover_releases_all(struct __test_metadata *_metadata, struct lcenv *e)
{
	struct run_result r;

	lcenv_run(e, &r, "recover", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(0, e->tproot));
	EXPECT_EQ(0, lcenv_log_unbalanced(e));
}

/* A run that found its call possibly in flight: exit 1, the entry kept, not released. */
static void expect_kept_for_retry(struct __test_metadata *_metadata, struct run_result *r)
{
	EXPECT_EQ(1, r->status) OK_OR_LOG(*r);
	EXPECT_NE(NULL, strstr(r->err, "kept for retry")) OK_OR_LOG(*r);
	EXPECT_EQ(NULL, strstr(r->err, "entry released")) OK_OR_LOG(*r);
	run_result_free(r);
}

/*
 * prepare of container t1 with the spec vols, killed (crash point
 * after-mount) 1 s into a Mount of the volume that the plugin finishes 2 s
 * later.
 */
static void killed_during_slow_mount(struct __test_metadata *_metadata, struct lcenv *e,
				     const char *vols)
{
	struct run_result r;

	ASSERT_EQ(0, tu_write_file(e->faults, "Mount latency 3000 count=1\n"));
	lcenv_run_crash(e, &r, "after-mount", "--timeout-mount=1", "prepare", "--container-id",
			"t1", "--volumes", vols, NULL);
	ASSERT_EQ(128 + SIGKILL, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/*
 * The slow Mount of killed_during_slow_mount() (or its dvdcli twin) finishes
 * in the plugin, Get answers plainly again: the volume is mounted under the
 * kept ID, recover releases it and forgets its entry.
 */
static void expect_slow_mount_released(struct __test_metadata *_metadata, struct lcenv *e)
{
	ASSERT_EQ(0, tu_write_file(e->faults, "\n"));
	usleep(2500 * 1000);
	EXPECT_EQ(1, lc_mounts_under(0, e->tproot));
	expect_recover_releases_all(_metadata, e);
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(e, "slow"));
}

/*
 * The plugin's Get names the mountpoint of volume "slow", mounted or not
 * (as rclone's does), from now on.
 */
static int fault_get_names_mountpoint(struct lcenv *e)
{
	char text[2 * PATH_MAX];

	snprintf(text, sizeof(text),
		 "Get answer {\"Volume\":{\"Name\":\"slow\",\"Mountpoint\":\"%s/mnt/slow\"}}\n",
		 e->tproot);
	return tu_write_file(e->faults, text);
}

/*
 * Dropped only on evidence that the plugin holds nothing: a Mount that timed
 * out and completed later is kept until its Unmount succeeds; an Unmount that
 * timed out is kept until one succeeds. Nothing is leaked on the host.
 */
TEST_F(mesos, timeouts_never_drop_an_entry)
{
	char vols[PATH_MAX];
	struct run_result r;
	int c, v;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "slow", vols));

	/* The Mount answers after 3 s; prepare gives up after 1 s and undoes. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount latency 3000 count=1\n"));
	lcenv_run(&self->e, &r, "--timeout-mount=1", "prepare", "--container-id", "t1", "--volumes",
		  vols, NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "timed out after 1.0 s")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "slow"));
	usleep(2500 * 1000);
	/* Mounted by now, under the ID dvmount kept: recover releases it. */
	EXPECT_EQ(1, lc_mounts_under(0, self->e.tproot));
	expect_recover_releases_all(_metadata, &self->e);

	/* An Unmount that times out: no word from the plugin, the entry stays. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount hang count=1\n"));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t2", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "--timeout=1", "cleanup", "--container-id", "t2", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "kept for retry")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "slow"));
	EXPECT_EQ(1, lc_mounts_under(0, self->e.tproot));
	expect_recover_releases_all(_metadata, &self->e);
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

/*
 * The wall clock jumps (NTP steps a host that booted with a wrong RTC): a
 * Mount that timed out is still under way in the plugin even when the wall
 * clock says its window is long over. Here the clock jumped an hour forward.
 */
TEST_F(mesos, clock_jump_does_not_end_the_in_flight_window)
{
	char vols[PATH_MAX], entry[PATH_MAX];
	struct run_result r;
	json_object *o;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "slow", vols));

	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount latency 3000 count=1\n"));
	lcenv_run(&self->e, &r, "--timeout-mount=1", "prepare", "--container-id", "t1", "--volumes",
		  vols, NULL);
	ASSERT_EQ(1, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	tu_path(entry, "%s/volumes/tp@slow/volume.json", self->e.state);
	o = json_object_from_file(entry);
	ASSERT_NE(NULL, o);
	json_object_object_add(
	    o, "in_flight_until",
	    json_object_new_int64(
		json_object_get_int64(json_object_object_get(o, "in_flight_until")) - 3600));
	ASSERT_EQ(0, tu_write_file(entry, json_object_to_json_string(o)));
	json_object_put(o);

	/*
	 * The Mount is still running in the plugin: its refusal is no evidence,
	 * even from a plugin whose Get names the mountpoint whether mounted or
	 * not (rclone's does).
	 */
	ASSERT_EQ(0, fault_get_names_mountpoint(&self->e));
	lcenv_run(&self->e, &r, "recover", NULL);
	expect_kept_for_retry(_metadata, &r);

	/* Mounted by now under the kept ID: released, nothing leaked. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, "\n"));
	usleep(2500 * 1000);
	expect_recover_releases_all(_metadata, &self->e);
}

/*
 * dvmount killed while its Mount was in flight (a containerizer's own
 * timeout, the OOM killer): the plugin goes on with the Mount, so recover
 * takes no refusal for evidence until the Mount can no longer be running.
 */
TEST_F(mesos, killed_during_a_mount_keeps_the_entry_until_it_can_be_released)
{
	char vols[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "slow", vols));

	/* Killed 1 s into a Mount that the plugin finishes 2 s later. */
	killed_during_slow_mount(_metadata, &self->e, vols);

	/* Its Get names the mountpoint, mounted or not (as rclone's does). */
	ASSERT_EQ(0, fault_get_names_mountpoint(&self->e));
	lcenv_run(&self->e, &r, "recover", NULL);
	EXPECT_NE(NULL, strstr(r.err, "volume not mounted by this id")) OK_OR_LOG(r);
	expect_kept_for_retry(_metadata, &r);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "slow"));

	/* The Mount happened under the kept ID: recover releases it. */
	expect_slow_mount_released(_metadata, &self->e);
}

/*
 * The same with a Get that names no Mountpoint while the volume is not
 * mounted (the protocol's way): until the killed run's Mount can no longer
 * be running, an empty Mountpoint is no evidence either, since that Mount
 * may fill it in a moment later. Only once the window is over does it count.
 */
TEST_F(mesos, killed_during_a_mount_an_empty_mountpoint_is_no_evidence_yet)
{
	char vols[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "slow", vols));

	killed_during_slow_mount(_metadata, &self->e, vols);

	ASSERT_EQ(
	    0, tu_write_file(self->e.faults,
			     "Get answer {\"Volume\":{\"Name\":\"slow\",\"Mountpoint\":\"\"}}\n"));
	lcenv_run(&self->e, &r, "recover", NULL);
	expect_kept_for_retry(_metadata, &r);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "slow"));

	/* The Mount happened under the kept ID: recover releases it. */
	expect_slow_mount_released(_metadata, &self->e);
}

/* The same for dvdcli mount, which Mesos kills at its own timeout. */
TEST_F(mesos, killed_during_a_dvdcli_mount_keeps_the_entry_until_it_can_be_released)
{
	struct run_result r;

	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount latency 3000 count=1\n"));
	lcenv_run_crash(&self->e, &r, "dvdcli-after-mount", "--timeout-mount=1", "dvdcli", "mount",
			"--volumedriver=tp", "--volumename=slow", NULL);
	ASSERT_EQ(128 + SIGKILL, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	ASSERT_EQ(0, fault_get_names_mountpoint(&self->e));
	lcenv_run(&self->e, &r, "dvdcli", "unmount", "--volumedriver=tp", "--volumename=slow",
		  NULL);
	expect_kept_for_retry(_metadata, &r);

	expect_slow_mount_released(_metadata, &self->e);
}

/*
 * The next lcenv_run()s traced by strace into trace, with paths: the calls
 * that filter ("trace=...", strace -e) names.
 */
static void trace_runs(struct lcenv *e, const char *wrap[static 11], const char *filter,
		       const char *trace)
{
	static const char *const argv[] = {
		"/usr/bin/strace",
		"-f",
		"-y",
		"-qq",
		"-E",
		"ASAN_OPTIONS=detect_leaks=0" /* LeakSanitizer refuses ptrace */,
		"-e",
		NULL,
		"-o"
	};

	memcpy(wrap, argv, sizeof(argv));
	wrap[7] = filter;
	wrap[9] = trace;
	wrap[10] = NULL;
	e->wrap = wrap;
}

/*
 * A power cut undoes what was not fsync()ed. dvdcli's user entry counts
 * without a record (pinned): had its removal by "dvdcli unmount" been lost,
 * it would hold the volume for good, and the plugin's mount of the container
 * that shared it would never be Unmounted. The run is traced; a removal of
 * the entry not followed by an fsync of its directory is put back (the
 * lost page cache), then the container leaves.
 */
TEST_F(mesos, dvdcli_unmount_forgets_mesos_durably)
{
	const char *wrap[11];
	char vols[PATH_MAX], trace[PATH_MAX], user[PATH_MAX];
	struct run_result r;
	char *text, *unlinked;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "v1", vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "dvdcli", "mount", "--volumedriver=tp", "--volumename=v1", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, lcenv_status_refcount(&self->e, "v1"));

	tu_path(trace, "%s/unmount.trace", self->e.dir);
	trace_runs(&self->e, wrap, "trace=unlinkat,fsync", trace);
	lcenv_run(&self->e, &r, "dvdcli", "unmount", "--volumedriver=tp", "--volumename=v1", NULL);
	self->e.wrap = NULL;
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", "v1"));

	text = read_file(trace);
	ASSERT_NE(NULL, text);
	unlinked = strstr(text, "\"dvdcli:mesos\"");
	ASSERT_NE(NULL, unlinked) TH_LOG("%s", text);
	tu_path(user, "%s/volumes/tp@v1/users/dvdcli:mesos", self->e.state);
	/* The power cut: the removal is lost unless its directory was fsync()ed. */
	if (!strstr(unlinked, "/volumes/tp@v1/users>)"))
		ASSERT_EQ(0, tu_write_file(user, "")) TH_LOG("%s", text);
	free(text);

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v1"));
}

/*
 * The same for a dvdcli mount that failed: Mesos, told so, never says
 * unmount. The removal of its user entry is made durable (an fsync of the
 * users directory after it) before the entry and that directory go.
 */
TEST_F(mesos, failed_dvdcli_mount_forgets_mesos_durably)
{
	char trace[PATH_MAX];
	const char *wrap[11];
	struct run_result r;
	char *text, *unlinked, *synced, *rmdir;

	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount error nope volume=v1\n"));
	tu_path(trace, "%s/mount.trace", self->e.dir);
	trace_runs(&self->e, wrap, "trace=unlinkat,fsync", trace);
	lcenv_run(&self->e, &r, "dvdcli", "mount", "--volumedriver=tp", "--volumename=v1", NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "nope")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v1"));

	text = read_file(trace);
	ASSERT_NE(NULL, text);
	unlinked = strstr(text, "\"dvdcli:mesos\"");
	ASSERT_NE(NULL, unlinked) TH_LOG("%s", text);
	synced = strstr(unlinked, "/volumes/tp@v1/users>)");
	rmdir = strstr(unlinked, "\"users\", AT_REMOVEDIR");
	EXPECT_NE(NULL, synced) TH_LOG("%s", text);
	EXPECT_NE(NULL, rmdir) TH_LOG("%s", text);
	EXPECT_TRUE(synced && rmdir && synced < rmdir) TH_LOG("%s", text);
	free(text);
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/* Has text a line holding a, then b, c and d in that order? */
static bool line_with(const char *text, const char *a, const char *b, const char *c, const char *d)
{
	const char *const want[] = { a, b, c, d };

	for (const char *line = text; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *end = strchr(line, '\n'), *p = line;
		size_t i;

		for (i = 0; i < 4; i++) {
			p = strstr(p, want[i]);
			if (!p || (end && p > end))
				break;
			p += strlen(want[i]);
		}
		if (i == 4)
			return true;
	}
	return false;
}

/*
 * The first place in text where a rename names onto (a quoted ", \"c1.json\"")
 * as its target: the last name of a renameat, or of a renameat2 before its
 * flags (an unsynced record version is exchanged with the record,
 * RENAME_EXCHANGE, or renamed to it, RENAME_NOREPLACE: state.h, "Spares").
 */
static const char *rename_onto(const char *text, const char *onto)
{
	for (const char *o = text; (o = strstr(o, onto)); o++) {
		const char *after = o + strlen(onto);

		if (*after == ')' || !strncmp(after, ", RENAME_", strlen(", RENAME_")))
			return o;
	}
	return NULL;
}

/*
 * The renames in trace onto the file name (rename_onto()) that come after
 * the text from: 0 when each one's temp file had its data synced (fsync or
 * fdatasync of its fd) before it, else the number that had not;
 * *ret_renames their number.
 */
static int unsynced_renames(const char *text, const char *from, const char *onto, int *ret_renames)
{
	int bad = 0, n = 0;

	for (const char *line = from; line && *line; line = strchr(line, '\n'), line += !!line) {
		const char *end = strchr(line, '\n'), *call = strstr(line, "rename");
		const char *tmp, *q, *o = rename_onto(line, onto);
		char synced[PATH_MAX];
		size_t len;

		if (!call || !o || (end && (call > end || o > end)))
			continue;
		tmp = strstr(call, ", \"");
		if (!tmp || (end && tmp > end))
			continue;
		tmp += 3;
		q = strchr(tmp, '"');
		len = q ? (size_t)(q - tmp) : 0;
		n++;
		snprintf(synced, sizeof(synced), "/%.*s>)", (int)len, tmp);
		/* The sync's line names the temp file through its fd. */
		const char *s = text, *hit = NULL;

		while ((s = strstr(s, synced)) && s < line) {
			const char *bol = s;

			while (bol > text && bol[-1] != '\n')
				bol--;
			if (strstr(bol, "fsync(") < s || strstr(bol, "fdatasync(") < s)
				hit = s;
			s++;
		}
		if (!hit)
			bad++;
	}
	*ret_renames = n;
	return bad;
}

/*
 * A rewrite that replaces a durable version by rename syncs the new file's
 * data first: on ext4 (noauto_da_alloc) or XFS the rename can reach the disk
 * before the data, and a power cut would leave an empty record where the
 * durable intent (the mount ids the plugin may hold) was. Traced: every
 * rename onto the record after its first save, i.e. the host paths' rewrite
 * and the commit, is preceded by a sync of its temp file; and the prepare
 * of two volumes makes exactly four sync calls (the durable intent's two,
 * one per rewrite), whatever its number of volumes.
 */
TEST_F(mesos, prepare_rewrites_of_the_durable_record_sync_their_data)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], trace[PATH_MAX], pid[16];
	const char *wrap[11], *first;
	struct run_result r;
	int renames;
	char *text;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "a" }, { .name = "v2", .path = "b" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	/* The state dir's layout made (and synced) once, before the count. */
	lcenv_run(&self->e, &r, "status", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	tu_path(trace, "%s/prepare.trace", self->e.dir);
	trace_runs(&self->e, wrap, "trace=openat,renameat,renameat2,fsync,fdatasync", trace);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	self->e.wrap = NULL;
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	text = read_file(trace);
	ASSERT_NE(NULL, text);
	first = rename_onto(text, ", \"c1.json\"");
	ASSERT_NE(NULL, first) TH_LOG("%s", text);
	first = strchr(first, '\n');
	ASSERT_NE(NULL, first);
	/* The durable intent, the host paths, the commit. */
	EXPECT_EQ(0, unsynced_renames(text, first, ", \"c1.json\"", &renames)) TH_LOG("%s", text);
	EXPECT_EQ(3, renames) TH_LOG("%s", text);
	EXPECT_EQ(4, count_str(text, "fsync(") + count_str(text, "fdatasync(")) TH_LOG("%s", text);
	free(text);

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/* What the next traces follow: creates, renames, unlinks and syncs. */
#define TRACE_WRITES "trace=openat,renameat,renameat2,unlinkat,fsync,fdatasync,syncfs"

/* Sync calls (fsync, fdatasync, syncfs) in a trace. */
static int syncs(const char *text)
{
	return count_str(text, "fsync(") + count_str(text, "fdatasync(") +
	       count_str(text, "syncfs(");
}

/*
 * Issue 11: a prepare whose volumes are all mounted by the plugin already
 * (another container holds them) adds no mount id the plugin may hold: it
 * writes no durable record (no sync at all: the old scheme made four), nor
 * a second intent; its record says "durable": false and is created 0400
 * (helper/state/state.h: what a power cut leaves of it reads as lost, not
 * corrupt). Its cleanup, which leaves the volume to the holder and sends no
 * Unmount, syncs nothing either (the old scheme: one, its record's removal).
 * A first mount keeps its four (prepare_rewrites_of_the_durable_record_...).
 */
TEST_F(mesos, attach_only_prepare_and_its_cleanup_sync_nothing)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], trace[PATH_MAX], rec[PATH_MAX], pid[16];
	const char *wrap[11];
	struct run_result r;
	json_object *o;
	struct stat sb;
	int renames;
	char *text;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "a" }, { .name = "v2", .path = "b" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "holder", "--volumes", vols,
		  "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(2, lcenv_log_all(&self->e, "Mount"));

	tu_path(trace, "%s/prepare.trace", self->e.dir);
	trace_runs(&self->e, wrap, TRACE_WRITES, trace);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	self->e.wrap = NULL;
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, lcenv_log_all(&self->e, "Mount"));
	text = read_file(trace);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, syncs(text)) TH_LOG("%s", text);
	/* The intent, what is attached where, the commit: no second intent. */
	EXPECT_EQ(3, unsynced_renames(text, text, ", \"c1.json\"", &renames)) TH_LOG("%s", text);
	EXPECT_EQ(3, renames) TH_LOG("%s", text);
	free(text);
	tu_path(rec, "%s/containers/c1.json", self->e.state);
	ASSERT_EQ(0, stat(rec, &sb));
	EXPECT_EQ(0400, sb.st_mode & 07777);
	o = json_object_from_file(rec);
	ASSERT_NE(NULL, o);
	EXPECT_TRUE(json_object_is_type(json_object_object_get(o, "durable"), json_type_boolean));
	EXPECT_FALSE(json_object_get_boolean(json_object_object_get(o, "durable")));
	json_object_put(o);

	tu_path(trace, "%s/cleanup.trace", self->e.dir);
	trace_runs(&self->e, wrap, TRACE_WRITES, trace);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	text = read_file(trace);
	ASSERT_NE(NULL, text);
	EXPECT_EQ(0, syncs(text)) TH_LOG("%s", text);
	/* Removed into the spares, a record never synced (state.h, "Spares"). */
	EXPECT_TRUE(line_with(text, "renameat2(", ", \"c1.json\", ", ", \".rec-spare.", ") = 0"))
	TH_LOG("%s", text);
	free(text);
	EXPECT_NE(0, access(rec, F_OK));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "holder", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/*
 * The other half (helper/state/state.h): the holder's durable record is the
 * one durable proof of the mount ids it Mounted. When it cleans up while an
 * attach-only container (whose record is not durable) still uses a volume,
 * that volume's entry is rewritten marked, and made durable with two syncfs
 * of the state dir's filesystem (its data before the rename, then the
 * rename; whatever the number of such entries: was a fsync of each file
 * and directory) before the holder's record's durable
 * removal; from then on each rewrite of the entry has its data synced
 * before its rename (one syncfs for all of an operation's rewrites), and
 * the last user's cleanup, which sends the Unmount, removes it durably (one
 * syncfs after the unlinks) and its own record too.
 */
TEST_F(mesos, holder_cleanup_makes_the_entries_others_hold_durable_first)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], trace[PATH_MAX], entry[PATH_MAX], pid[16];
	const char *wrap[11], *synced, *unlinked, *removed, *renamed;
	struct run_result r;
	json_object *o;
	char *text;

	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "a" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "holder", "--volumes", vols,
		  "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	tu_path(trace, "%s/holder.trace", self->e.dir);
	trace_runs(&self->e, wrap, TRACE_WRITES, trace);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "holder", NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	text = read_file(trace);
	ASSERT_NE(NULL, text);
	/* The entry rewritten, its data synced (one syncfs) before the rename... */
	EXPECT_EQ(1, count_str(text, ", \"volume.json\")")) TH_LOG("%s", text);
	synced = strstr(text, "syncfs(");
	renamed = strstr(text, ", \"volume.json\")");
	unlinked = strstr(text, "\"holder.json\", 0) = 0");
	EXPECT_NE(NULL, unlinked) TH_LOG("%s", text);
	EXPECT_TRUE(synced && renamed && synced < renamed) TH_LOG("%s", text);
	/* ...then one more (its name, its directories), before the record's unlink. */
	synced = renamed ? strstr(renamed, "syncfs(") : NULL;
	EXPECT_TRUE(synced && unlinked && synced < unlinked) TH_LOG("%s", text);
	/*
	 * And the record's removal, durable as ever: five sync calls in all
	 * (each syncfs barrier is two calls on the disk: see
	 * holder_first_syncfs_barriers_are_flushed_by_a_second_syncfs).
	 */
	EXPECT_NE(NULL, unlinked && strstr(unlinked, "/containers>)")) TH_LOG("%s", text);
	EXPECT_EQ(5, syncs(text)) TH_LOG("%s", text);
	free(text);
	o = json_object_from_file(tu_path(entry, "%s/volumes/tp@v1/volume.json", self->e.state));
	ASSERT_NE(NULL, o);
	EXPECT_TRUE(json_object_get_boolean(json_object_object_get(o, "durable")));
	json_object_put(o);

	tu_path(trace, "%s/last.trace", self->e.dir);
	trace_runs(&self->e, wrap, TRACE_WRITES, trace);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	text = read_file(trace);
	ASSERT_NE(NULL, text);
	/*
	 * "unmounting", said before the Unmount: a rewrite of a durable entry,
	 * its data synced (one syncfs) before its rename.
	 */
	synced = strstr(text, "syncfs(");
	renamed = strstr(text, ", \"volume.json\")");
	EXPECT_TRUE(synced && renamed && synced < renamed) TH_LOG("%s", text);
	EXPECT_EQ(1, count_str(text, ", \"volume.json\")")) TH_LOG("%s", text);
	/* Its removal, durable (one more syncfs) before the record's removal. */
	removed = strstr(text, "\"volume.json\", 0) = 0");
	unlinked = strstr(text, "\"c1.json\", 0) = 0");
	EXPECT_NE(NULL, removed) TH_LOG("%s", text);
	synced = removed ? strstr(removed, "syncfs(") : NULL;
	EXPECT_TRUE(synced && unlinked && synced < unlinked) TH_LOG("%s", text);
	EXPECT_NE(NULL, unlinked && strstr(unlinked, "/containers>)")) TH_LOG("%s", text);
	/* Two syncfs barriers of two calls each, and containers/'s fsync. */
	EXPECT_EQ(5, syncs(text)) TH_LOG("%s", text);
	free(text);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v1"));
}

/*
 * The ordering where the holder leaves first: n volumes Mounted by a holder,
 * attached by c1 (attach-only), then the holder's cleanup and c1's, each
 * traced (TRACE_WRITES): *ret_holder and *ret_last, the caller's to free.
 */
static void holder_first_traces(struct __test_metadata *_metadata, FIXTURE_DATA(mesos) * self,
				size_t n, char **ret_holder, char **ret_last)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], trace[PATH_MAX], pid[16], file[32];
	char names[64][8], paths[64][8];
	struct lcvol v[64];
	const char *wrap[11];
	struct run_result r;

	ASSERT_GE(64, n);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "v%zu", i);
		snprintf(paths[i], sizeof(paths[i]), "p%zu", i);
		v[i] = (struct lcvol){ .name = names[i], .path = paths[i] };
	}
	tu_path(sandbox, "%s/sandbox", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	snprintf(file, sizeof(file), "vols%zu.json", n);
	ASSERT_EQ(0, lcenv_volumes(&self->e, file, v, n, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "holder", "--volumes", vols,
		  "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	tu_path(trace, "%s/holder%zu.trace", self->e.dir, n);
	trace_runs(&self->e, wrap, TRACE_WRITES, trace);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "holder", NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	*ret_holder = read_file(trace);
	ASSERT_NE(NULL, *ret_holder);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));

	tu_path(trace, "%s/last%zu.trace", self->e.dir, n);
	trace_runs(&self->e, wrap, TRACE_WRITES, trace);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	*ret_last = read_file(trace);
	ASSERT_NE(NULL, *ret_last);
	EXPECT_EQ((int)n, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_log_reset(&self->e));
}

/*
 * Issue 11, "a constant number of durable writes per operation, independent
 * of N", in the ordering where the holder leaves first: the holder's cleanup
 * (its n entries made durable: two syncfs barriers, then its record's
 * removal) and c1's (n durable rewrites and n durable removals: one barrier
 * each, then its record's removal). The old scheme made 2n + 2 and 2n + 1
 * sync calls. *ret_holder and *ret_last: the sync calls of the two cleanups.
 */
static void holder_first_syncs(struct __test_metadata *_metadata, FIXTURE_DATA(mesos) * self,
			       size_t n, int *ret_holder, int *ret_last)
{
	char *holder = NULL, *last = NULL;

	holder_first_traces(_metadata, self, n, &holder, &last);
	*ret_holder = holder ? syncs(holder) : -1;
	*ret_last = last ? syncs(last) : -1;
	free(holder);
	free(last);
}

TEST_F_TIMEOUT(mesos, holder_leaving_first_syncs_the_same_at_1_8_and_64_volumes, 300)
{
	static const size_t sizes[] = { 1, 8, 64 };
	int holder[3], last[3];

	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	for (size_t i = 0; i < ARRAY_SIZE(sizes); i++) {
		holder_first_syncs(_metadata, self, sizes[i], &holder[i], &last[i]);
		/*
		 * A syncfs barrier before the renames, one after, then
		 * containers/ after the unlink; a barrier is two syncfs calls
		 * (holder_first_syncfs_barriers_are_flushed_by_a_second_syncfs).
		 */
		EXPECT_EQ(5, holder[i]) TH_LOG("holder's cleanup, %zu volumes", sizes[i]);
		/* A barrier before the renames, one after the removals, then containers/. */
		EXPECT_EQ(5, last[i]) TH_LOG("last user's cleanup, %zu volumes", sizes[i]);
	}
}

/*
 * The syncfs calls of each process in an strace -f trace, in order: is every
 * run of them (no other traced call of that process in between) at least two
 * long? *ret_calls: how many there were.
 */
static bool syncfs_in_runs_of_two(const char *text, int *ret_calls)
{
	enum { PIDS = 64 };
	long pid[PIDS] = { 0 };
	int run[PIDS] = { 0 }, calls = 0;
	bool ok = true;

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');
		size_t len = end ? (size_t)(end - l) : strlen(l);
		long p = strtol(l, NULL, 10);
		bool is_syncfs = memmem(l, len, "syncfs(", 7) != NULL;
		unsigned i = 0;

		/* A call resumed after another process's line is the same call. */
		if (!memmem(l, len, "resumed>", 8)) {
			while (i < PIDS && pid[i] && pid[i] != p)
				i++;
			if (i == PIDS)
				return false;
			pid[i] = p;
			if (is_syncfs) {
				run[i]++;
				calls++;
			} else {
				ok &= run[i] != 1;
				run[i] = 0;
			}
		}
		l = end ? end + 1 : NULL;
	}
	for (unsigned i = 0; i < PIDS; i++)
		ok &= run[i] != 1;
	*ret_calls = calls;
	return ok;
}

/*
 * On an ext4 without a journal (this project's own benchmark disk, and a
 * common root filesystem) one syncfs(2) does not leave its writes on stable
 * storage when the disk has a volatile write cache: sync_filesystem()
 * (fs/sync.c) calls ->sync_fs(sb, 1), where ext4_sync_fs() issues the cache
 * flush, and only then sync_blockdev(), which writes the inode and bitmap
 * blocks its own writeback dirtied (ext4_write_inode() leaves them to it
 * when wbc->for_sync; unwritten extents, dioread_nolock, are converted at
 * I/O end). A rename made after it can reach the disk before the new file's
 * block map does (an entry of zeros where the durable version was), and the
 * holder's record's removal before the entries' renames (the mount ids'
 * proof gone). A second syncfs flushes what the first wrote (it completed):
 * so each syncfs barrier of a holder-first cleanup is two calls, before any
 * rename, removal or sync that counts on it.
 */
TEST_F(mesos, holder_first_syncfs_barriers_are_flushed_by_a_second_syncfs)
{
	char *holder = NULL, *last = NULL;
	int calls = -1;

	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	holder_first_traces(_metadata, self, 2, &holder, &last);
	ASSERT_NE(NULL, holder);
	ASSERT_NE(NULL, last);
	EXPECT_TRUE(syncfs_in_runs_of_two(holder, &calls)) TH_LOG("%s", holder);
	EXPECT_EQ(4, calls) TH_LOG("%s", holder);
	EXPECT_TRUE(syncfs_in_runs_of_two(last, &calls)) TH_LOG("%s", last);
	EXPECT_EQ(4, calls) TH_LOG("%s", last);
	free(holder);
	free(last);
}

/*
 * A syncfs(2) syncs the filesystem of the fd it is given, and nothing else:
 * when the state dir's volumes/ is another filesystem (a mount or a bind
 * mount there), a syncfs of the state dir would leave the entries it was
 * meant to make durable unsynced. Every syncfs of the holder-first cleanups
 * reaches the filesystem the entries are on.
 */
TEST_F(mesos, holder_first_syncfs_reaches_the_filesystem_of_the_entries)
{
	char vdir[PATH_MAX], *holder = NULL, *last = NULL;
	struct stat vsb;
	int checked = 0;

	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, tu_mkdirs(tu_path(vdir, "%s/volumes", self->e.state), 0700));
	ASSERT_EQ(0, chmod(self->e.state, 0700));
	ASSERT_EQ(0, mount("r18", vdir, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700"));
	ASSERT_EQ(0, stat(vdir, &vsb));
	holder_first_traces(_metadata, self, 2, &holder, &last);
	ASSERT_NE(NULL, holder);
	ASSERT_NE(NULL, last);
	for (char *t = holder; t; t = t == holder ? last : NULL) {
		for (const char *s = strstr(t, "syncfs("); s; s = strstr(s + 1, "syncfs(")) {
			const char *open = strchr(s, '<'), *close = open ? strchr(open, '>') : NULL;
			char path[PATH_MAX];
			struct stat sb;

			ASSERT_TRUE(close && (size_t)(close - open) < sizeof(path)) TH_LOG("%s", t);
			snprintf(path, sizeof(path), "%.*s", (int)(close - open - 1), open + 1);
			ASSERT_EQ(0, stat(path, &sb)) TH_LOG("%s", path);
			EXPECT_EQ(vsb.st_dev, sb.st_dev)
			TH_LOG("syncfs of '%s', entries in '%s'", path, vdir);
			checked++;
		}
	}
	EXPECT_LT(0, checked);
	free(holder);
	free(last);
	EXPECT_EQ(0, umount2(vdir, MNT_DETACH));
}

/*
 * The same for dvdcli's entry: made durable before the Mount (no record
 * backs it), it is rewritten after the Mount, and that rewrite's temp file
 * is synced before the rename (an empty entry would lose Mesos' mount).
 */
TEST_F(mesos, dvdcli_rewrite_of_the_durable_entry_syncs_its_data)
{
	char trace[PATH_MAX];
	const char *wrap[11], *synced;
	struct run_result r;
	int renames;
	char *text;

	tu_path(trace, "%s/mount.trace", self->e.dir);
	trace_runs(&self->e, wrap, "trace=openat,renameat,renameat2,fsync,fdatasync", trace);
	lcenv_run(&self->e, &r, "dvdcli", "mount", "--volumedriver=tp", "--volumename=v1", NULL);
	self->e.wrap = NULL;
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "v1"));

	text = read_file(trace);
	ASSERT_NE(NULL, text);
	/* state_volume_sync(), before the Mount: the entry is durable from here. */
	synced = strstr(text, "/volumes/tp@v1/volume.json>)");
	ASSERT_NE(NULL, synced) TH_LOG("%s", text);
	EXPECT_EQ(0, unsynced_renames(text, synced, ", \"volume.json\"", &renames))
	TH_LOG("%s", text);
	EXPECT_EQ(1, renames) TH_LOG("%s", text);
	free(text);

	lcenv_run(&self->e, &r, "dvdcli", "unmount", "--volumedriver=tp", "--volumename=v1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/* The most Create/Remove/Mount/Unmount calls the plugin handled at once. */
static int max_busy(struct lcenv *e)
{
	char *log = read_file(e->log);
	int most = 0;

	for (char *p = log; p && (p = strstr(p, "\"busy\":")); p++)
		most = atoi(p + 7) > most ? atoi(p + 7) : most;
	free(log);
	return most;
}

/*
 * A container's Mounts go to the plugin one at a time unless the policy's
 * max-in-flight (or --max-in-flight) says the plugin takes them at once.
 */
TEST_F(mesos, max_in_flight_from_the_policy_or_the_flag)
{
	char vols[PATH_MAX], text[2 * PATH_MAX], dirs[4][PATH_MAX], names[4][8];
	struct lcvol vol[4];
	struct run_result r;

	for (int i = 0; i < 4; i++) {
		tu_path(dirs[i], "%s/hostdir%d", self->e.dir, i);
		ASSERT_EQ(0, tu_mkdirs(dirs[i], 0755));
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		vol[i] = (struct lcvol){ .name = names[i], .path = dirs[i] };
	}
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 4, vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount latency 300\nUnmount latency 300\n"));

	/* The default: one after another. */
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t1", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_LE(1.2, r.secs);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t1", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, max_busy(&self->e));

	/* The policy says this plugin takes 4: the container's Mounts go together. */
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver tp]\nhost-paths = %s\nmodes = RW RO\noptions = size\nmax-in-flight = 4\n",
		 self->e.tproot);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "t2", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* cleanup reads the policy for its limit too: the Unmounts go together. */
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t2", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_GT(1.0, r.secs);
	run_result_free(&r);
	EXPECT_EQ(4, max_busy(&self->e));

	/* The flag overrides the policy, for every plugin. */
	ASSERT_EQ(0, lcenv_log_reset(&self->e));
	lcenv_run(&self->e, &r, "--max-in-flight=2", "prepare", "--container-id", "t3", "--volumes",
		  vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, max_busy(&self->e));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t3", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));

	/* Out of range or not a number: a usage error. */
	const char *bad[] = { "--max-in-flight=0", "--max-in-flight=257", "--max-in-flight=x",
			      "--max-in-flight=-1" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		lcenv_run(&self->e, &r, bad[i], "status", NULL);
		EXPECT_EQ(2, r.status) TH_LOG("%s", bad[i]);
		EXPECT_NE(NULL, strstr(r.err, "expected 1 to 256")) OK_OR_LOG(r);
		run_result_free(&r);
	}
}

/*
 * Slots take turns between processes: a container with many volumes does not
 * keep the plugin to itself while another container's one volume waits (with
 * flock() alone the long prepare took the slot back within microseconds of
 * each call, and the other finished only after it).
 */
TEST_F(mesos, a_long_prepare_lets_another_process_take_turns)
{
	char vols_a[PATH_MAX], vols_b[PATH_MAX], dirs[11][PATH_MAX], names[11][8];
	struct lcvol vol[11];
	struct run_result r;
	int status, out = -1;
	pid_t a, done;

	for (int i = 0; i < 11; i++) {
		tu_path(dirs[i], "%s/hostdir%d", self->e.dir, i);
		ASSERT_EQ(0, tu_mkdirs(dirs[i], 0755));
		snprintf(names[i], sizeof(names[i]), "%c%d", i < 10 ? 'a' : 'b', i);
		vol[i] = (struct lcvol){ .name = names[i], .path = dirs[i] };
	}
	ASSERT_EQ(0, lcenv_volumes(&self->e, "a.json", vol, 10, vols_a));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "b.json", vol + 10, 1, vols_b));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount latency 300\n"));

	/* Ten Mounts one after another: over 3 s. */
	char *argv[] = { (char *)build_path("dvmount"),
			 "--state-dir",
			 self->e.state,
			 "--policy",
			 self->e.policy,
			 "--plugin-path",
			 self->e.plugins,
			 "prepare",
			 "--container-id",
			 "t1",
			 "--volumes",
			 vols_a,
			 NULL };
	a = spawn(argv, &out);
	ASSERT_LT(0, a);
	usleep(500 * 1000);

	lcenv_run(&self->e, &r, "prepare", "--container-id", "t2", "--volumes", vols_b, NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* Done between two of the other's Mounts, not after all of them. */
	done = waitpid(a, &status, WNOHANG);
	EXPECT_EQ(0, done);

	if (!done)
		done = waitpid(a, &status, 0);
	close(out);
	ASSERT_EQ(a, done);
	EXPECT_EQ(0, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	EXPECT_EQ(1, max_busy(&self->e));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "t2", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

LC_FIXTURE(attach);

/* prepare --pid into a running process: writes go through to the plugin's backend. */
TEST_F(attach, writes_reach_backing_dir)
{
	char vols[PATH_MAX], p[PATH_MAX], buf[64], pid[16], target[PATH_MAX];
	struct run_result r;

	tu_path(target, "%s/run/vol", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	struct lcvol v[] = { { .name = "data", .path = target } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "\"attached\":true")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/hello", target), "through"));
	EXPECT_EQ(7, tu_read_file(tu_path(p, "%s/volumes/data/data/hello", self->e.tproot), buf,
				  sizeof(buf)));
	EXPECT_STREQ("through", buf);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, target));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/*
 * A hostile container moves the directory that holds its volume's mount.
 * Cleanup cannot reach the mount by its path any more, sees it is still in
 * the container's mount table, and keeps the volume (no Unmount under a live
 * container); once the container is gone, recover releases it.
 */
TEST_F(attach, a_mount_moved_by_the_container_keeps_its_volume)
{
	char vols[PATH_MAX], pid[16], target[PATH_MAX], parent[PATH_MAX], moved[PATH_MAX];
	struct run_result r;

	tu_path(parent, "%s/run", self->e.dir);
	tu_path(target, "%s/vol", parent);
	tu_path(moved, "%s/elsewhere", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	struct lcvol v[] = { { .name = "data", .path = target } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* The rename (on the shared filesystem) carries the container's mount along. */
	ASSERT_EQ(0, rename(parent, moved));
	ASSERT_EQ(1, lc_mounts_under(self->ct[0].pid, moved));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "no longer at that path")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", NULL));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "data"));

	tu_container_stop(&self->ct[0]);
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", NULL));
}

/*
 * The same move, with libmount not loadable (it is dlopen()ed only to read
 * a mount table, issue 11: ns/mountinfo.c): cleanup cannot tell whether the
 * mount is still there, says so in one line naming the target and the
 * library, and keeps the volume, as for a mount it sees moved; once the
 * container is gone, recover releases it.
 */
TEST_F(attach, a_moved_mount_without_libmount_keeps_its_volume)
{
	char vols[PATH_MAX], pid[16], target[PATH_MAX], parent[PATH_MAX], moved[PATH_MAX];
	char libmount[PATH_MAX];
	struct link_map *lm = NULL;
	struct run_result r;
	void *h;

	/* Where the dynamic loader finds it; a /dev/null bind-mounted there hides it. */
	h = dlopen(NS_LIBMOUNT_SONAME, RTLD_NOW | RTLD_LOCAL);
	ASSERT_NE(NULL, h) TH_LOG("%s", dlerror());
	ASSERT_EQ(0, dlinfo(h, RTLD_DI_LINKMAP, &lm));
	ASSERT_NE(NULL, realpath(lm->l_name, libmount));
	dlclose(h);

	tu_path(parent, "%s/run", self->e.dir);
	tu_path(target, "%s/vol", parent);
	tu_path(moved, "%s/elsewhere", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	struct lcvol v[] = { { .name = "data", .path = target } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, rename(parent, moved));
	ASSERT_EQ(1, lc_mounts_under(self->ct[0].pid, moved));

	/* The test's own mount namespace (lcenv_setup): nothing else sees it. */
	ASSERT_EQ(0, mount("/dev/null", libmount, NULL, MS_BIND, NULL));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	ASSERT_EQ(0, umount2(libmount, MNT_DETACH));
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "cannot tell whether the mount attached at")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, target)) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "with " NS_LIBMOUNT_SONAME ": ")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", NULL));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "data"));

	tu_container_stop(&self->ct[0]);
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", NULL));
}

/*
 * A child path listed before its parent (issue 9): attached parents first, so
 * /data/sub shows the child's volume and not the parent's directory; one
 * cleanup detaches children first and leaves nothing.
 */
TEST_F(attach, nested_paths_parents_first_children_detached_first)
{
	char vols[PATH_MAX], p[PATH_MAX], buf[64], pid[16], sandbox[PATH_MAX];
	struct run_result r;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "child", .path = "data/sub" },
			     { .name = "parent", .path = "data" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, lc_mounts_under(self->ct[0].pid, sandbox));
	EXPECT_EQ(0,
		  lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/data/sub/c", sandbox), "kid"));
	EXPECT_EQ(0, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/data/p", sandbox), "pa"));
	EXPECT_EQ(3, tu_read_file(tu_path(p, "%s/volumes/child/data/c", self->e.tproot), buf,
				  sizeof(buf)));
	EXPECT_EQ(2, tu_read_file(tu_path(p, "%s/volumes/parent/data/p", self->e.tproot), buf,
				  sizeof(buf)));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, sandbox));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "child"));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "parent"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/*
 * REX-Ray mounts at <dir>/<name> and answers <dir>/<name>/data (issue 9):
 * with require-mount-point = yes that is accepted, because its nearest mount
 * root lies under host-paths; a plain directory under host-paths is not.
 */
TEST_F(attach, rexray_shape_passes_require_mount_point)
{
	char vols[PATH_MAX], p[PATH_MAX], buf[64], pid[16], sandbox[PATH_MAX], text[3 * PATH_MAX];
	char *rexray[] = { "--mode", "rexray", "--bind", NULL };
	char rxroot[PATH_MAX], plainroot[PATH_MAX];
	struct run_result r;

	pid_t rx = testplugin_start(self->e.dir, "rx", rexray);
	ASSERT_LT(0, rx);
	pid_t plain = testplugin_start(self->e.dir, "plain", NULL);
	ASSERT_LT(0, plain);
	tu_path(rxroot, "%s/rx.root", self->e.dir);
	tu_path(plainroot, "%s/plain.root", self->e.dir);
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver rx]\nhost-paths = %s\nrequire-mount-point = yes\nmodes = RW RO\n\n"
		 "[driver plain]\nhost-paths = %s\nrequire-mount-point = yes\nmodes = RW RO\n",
		 rxroot, plainroot);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));

	struct lcvol v[] = { { .name = "v", .path = "data", .driver = "rx" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/data/f", sandbox), "rx"));
	EXPECT_EQ(2, tu_read_file(tu_path(p, "%s/volumes/v/data/f", rxroot), buf, sizeof(buf)));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	/* A plain directory: its nearest mount root is the scratch tmpfs, above host-paths. */
	struct lcvol w[] = { { .name = "w", .path = "data", .driver = "plain" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols2.json", w, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "d", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "not a mount point nor inside one under its host-paths"))
	OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, sandbox));
	stop_process(rx, 2000);
	stop_process(plain, 2000);
}

/*
 * The container's rootfs is a shared mount, a peer of the host's (issue 9:
 * `mount --bind R R; mount --make-shared R`, a container made with
 * `unshare -m --propagation unchanged`): attaching there would copy the
 * volume into the host's namespace. Refused, nothing appears on either
 * side, and the plugin mount is released again.
 */
TEST_F(attach, target_on_shared_mount_is_refused_nothing_propagates)
{
	char vols[PATH_MAX], pid[16], root[PATH_MAX], data[PATH_MAX];
	struct run_result r;

	tu_path(root, "%s/rootfs", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(tu_path(data, "%s/rootfs/data", self->e.dir), 0755));
	ASSERT_EQ(0, mount(root, root, NULL, MS_BIND, NULL));
	ASSERT_EQ(0, mount(NULL, root, NULL, MS_SHARED, NULL));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, TU_CT_PROPAGATION_UNCHANGED));
	struct lcvol v[] = { { .name = "v", .path = "/data" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--rootfs", root, NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "lies on a shared mount")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "volume 'v'")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(0, data));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, data));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	tu_container_stop(&self->ct[0]);
	EXPECT_EQ(0, umount2(root, MNT_DETACH));
}

/*
 * Container ct started (in a mount namespace of its own, no rootfs), and
 * volume "v" prepared into it as container "c" with --rootfs <dir>/rootfs
 * at /data; gives that target as the host sees it, <dir>/rootfs/data.
 */
static void prepare_v_at_rootfs_data(struct __test_metadata *_metadata, struct lcenv *e,
				     struct tu_container *ct, char ret_data[static PATH_MAX])
{
	char vols[PATH_MAX], pid[16], root[PATH_MAX];
	const struct lcvol v = { .name = "v", .path = "/data" };
	struct run_result r;

	tu_path(root, "%s/rootfs", e->dir);
	ASSERT_EQ(0, tu_mkdirs(tu_path(ret_data, "%s/rootfs/data", e->dir), 0755));
	ASSERT_EQ(0, tu_container_start(ct, NULL, 0));
	ASSERT_EQ(0, lcenv_volumes(e, "vols.json", &v, 1, vols));
	lcenv_run(e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, ct->pid), "--rootfs", root, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/*
 * A copy of an attached volume that did propagate to the host (left by a
 * dvmount that attached onto shared mounts; here made by hand, as the
 * propagation would) is found and detached by cleanup once the container is
 * gone, before the plugin's Unmount: nothing of the volume stays on the host.
 */
TEST_F(attach, cleanup_detaches_a_copy_that_propagated_to_the_host)
{
	char data[PATH_MAX], hostpath[PATH_MAX];
	struct run_result r;

	prepare_v_at_rootfs_data(_metadata, &self->e, &self->ct[0], data);
	/* What propagation through a shared rootfs would have left on the host. */
	ASSERT_EQ(0,
		  mount(tu_path(hostpath, "%s/mnt/v", self->e.tproot), data, NULL, MS_BIND, NULL));
	ASSERT_EQ(1, lc_mounts_under(0, data));
	tu_container_stop(&self->ct[0]);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(0, data));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/* Another mount at a volume's target on the host is not a copy of it: left alone. */
TEST_F(attach, cleanup_leaves_other_mounts_at_the_target_alone)
{
	char data[PATH_MAX];
	struct run_result r;

	prepare_v_at_rootfs_data(_metadata, &self->e, &self->ct[0], data);
	ASSERT_EQ(0, mount("tmpfs", data, "tmpfs", 0, NULL));
	tu_container_stop(&self->ct[0]);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lc_mounts_under(0, data));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, umount2(data, MNT_DETACH));
}

TEST_F(attach, readonly_refuses_writes)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], p[PATH_MAX], pid[16];
	struct run_result r;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "data", .path = "ro", .mode = "RO" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(-EROFS, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/ro/x", sandbox), "x"));
	EXPECT_EQ(-EROFS,
		  lc_ct_write(self->ct[0].pid, 4242, 4242, tu_path(p, "%s/ro/y", sandbox), "x"));
}

/* Mounts of the caller's namespace, not counting the plugin's own ones. */
static int mounts_outside(const char *tproot)
{
	int all = lc_mounts_under(0, "/");

	return all < 0 ? all : all - lc_mounts_under(0, tproot);
}

TEST_F(attach, callers_namespace_gains_no_mount)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], pid[16];
	struct run_result r;
	int before;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "a", .path = "a" }, { .name = "b", .path = "b" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	before = mounts_outside(self->e.tproot);
	ASSERT_LT(0, before);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, lc_mounts_under(self->ct[0].pid, sandbox));
	EXPECT_EQ(0, lc_mounts_under(0, sandbox));
	EXPECT_EQ(before, mounts_outside(self->e.tproot));
}

LC_FIXTURE(refcount);

/* One volume, three containers: exactly one Mount, one Unmount, after the last. */
TEST_F(refcount, three_containers_one_mount_one_unmount)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], pid[16], cid[8];
	struct run_result r;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "one", .path = "one" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	for (int i = 0; i < 3; i++) {
		snprintf(cid, sizeof(cid), "c%d", i);
		ASSERT_EQ(0, tu_container_start(&self->ct[i], NULL, 0));
		lcenv_run(&self->e, &r, "prepare", "--container-id", cid, "--volumes", vols,
			  "--pid", lc_pidstr(pid, self->ct[i].pid), "--sandbox", sandbox, NULL);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
		EXPECT_EQ(i + 1, lcenv_status_refcount(&self->e, "one"));
	}
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
	for (int i = 0; i < 3; i++) {
		snprintf(cid, sizeof(cid), "c%d", i);
		EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
		lcenv_run(&self->e, &r, "cleanup", "--container-id", cid, NULL);
		EXPECT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
		EXPECT_EQ(0, lc_mounts_under(self->ct[i].pid, sandbox));
	}
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

/*
 * Issue 11: a second user of a volume the plugin still holds changes
 * nothing in its entry, so the entry is not written again (same inode: a
 * rewrite is a rename of a new file over it).
 */
TEST_F(refcount, reusing_a_mounted_volume_rewrites_no_entry)
{
	char dir[PATH_MAX], vols[PATH_MAX], entry[PATH_MAX];
	struct run_result r;
	struct stat before, after;

	tu_path(dir, "%s/ct/one", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(dir, 0755));
	struct lcvol v[] = { { .name = "one", .path = dir } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	tu_path(entry, "%s/volumes/tp@one/volume.json", self->e.state);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, stat(entry, &before));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, stat(entry, &after));
	EXPECT_EQ(before.st_ino, after.st_ino);
	EXPECT_EQ(2, lcenv_status_refcount(&self->e, "one"));
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
	for (int i = 0; i < 2; i++) {
		lcenv_run(&self->e, &r, "cleanup", "--container-id", i ? "c1" : "c0", NULL);
		EXPECT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
	}
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

LC_FIXTURE(prepare);

TEST_F(prepare, same_container_twice_fails)
{
	char vols[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "v", vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "already prepared")) OK_OR_LOG(r);
	run_result_free(&r);
	/* The failed second prepare took nothing from the first. */
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v"));
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
}

/* Without --pid: the bind mounts for the containerizer, on stdout. */
/* Without --pid, bind_mounts come in the order they must be performed: parents first. */
TEST_F(prepare, without_pid_bind_mounts_parents_first)
{
	char vols[PATH_MAX], root[PATH_MAX], want[PATH_MAX];
	struct run_result r;
	json_object *o, *binds;

	tu_path(root, "%s/rootfs", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(root, 0755));
	struct lcvol v[] = { { .name = "deep", .path = "/data/sub/x" },
			     { .name = "child", .path = "/data/sub" },
			     { .name = "parent", .path = "/data" },
			     { .name = "other", .path = "/other" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 4, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--rootfs",
		  root, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	o = json_tokener_parse(r.out);
	ASSERT_NE(NULL, o) OK_OR_LOG(r);
	run_result_free(&r);
	binds = json_object_object_get(o, "bind_mounts");
	ASSERT_EQ(4, json_object_array_length(binds));
	static const char *const order[] = { "parent", "other", "child", "deep" };
	static const char *const where[] = { "/data", "/other", "/data/sub", "/data/sub/x" };

	for (size_t i = 0; i < 4; i++) {
		json_object *b = json_object_array_get_idx(binds, i);

		snprintf(want, sizeof(want), "%s/mnt/%s", self->e.tproot, order[i]);
		EXPECT_STREQ(want, json_object_get_string(json_object_object_get(b, "source")));
		snprintf(want, sizeof(want), "%s%s", root, where[i]);
		EXPECT_STREQ(want, json_object_get_string(json_object_object_get(b, "target")));
	}
	json_object_put(o);
}

/*
 * dvmount in a pid namespace where the plugin's process is not visible
 * (SO_PEERCRED gives pid 0): what it sees at the Mountpoint cannot be proven
 * to be the plugin's mount, so nothing is handed out, and the Mount is undone.
 */
TEST_F(prepare, plugin_process_out_of_sight_is_refused)
{
	static const char *const other_pidns[] = { "/usr/bin/unshare", "-p", "-f", NULL };
	char vols[PATH_MAX];
	struct run_result r;
	int c, v;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "v", vols));
	self->e.wrap = other_pidns;
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "cannot be proven to be the plugin's mount")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "volume 'v' of driver 'tp'")) OK_OR_LOG(r);
	EXPECT_EQ(NULL, strstr(r.out, "bind_mounts")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

TEST_F(prepare, without_pid_prints_bind_mounts)
{
	char vols[PATH_MAX], hostdir[PATH_MAX], want[2 * PATH_MAX];
	struct run_result r;
	json_object *o, *b;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	struct lcvol v[] = { { .name = "v", .path = hostdir, .mode = "RO" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	o = json_tokener_parse(r.out);
	ASSERT_NE(NULL, o) OK_OR_LOG(r);
	run_result_free(&r);
	b = json_object_array_get_idx(json_object_object_get(o, "bind_mounts"), 0);
	ASSERT_NE(NULL, b);
	snprintf(want, sizeof(want), "%s/mnt/v", self->e.tproot);
	EXPECT_STREQ(want, json_object_get_string(json_object_object_get(b, "source")));
	EXPECT_STREQ(hostdir, json_object_get_string(json_object_object_get(b, "target")));
	EXPECT_TRUE(json_object_get_boolean(json_object_object_get(b, "readonly")));
	json_object_put(o);
	/* Nothing mounted at the target by dvmount itself. */
	EXPECT_EQ(0, lc_mounts_under(0, hostdir));
}

LC_FIXTURE(status);

TEST_F(status, text_and_json_after_prepare)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], pid[16], target[PATH_MAX];
	struct run_result r;
	json_object *st = NULL, *c, *v;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol vol[] = { { .name = "v1", .path = "one" },
			       { .name = "v2", .path = "two", .mode = "RO" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 2, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "web-1", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);

	lcenv_run(&self->e, &r, "status", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "containers: 1\n")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "web-1  prepared  pid ")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, tu_path(target, "tp/v2 RO -> %s/two\n", sandbox)))
	OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "volumes: 2\n")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "tp/v1  users 1  ")) OK_OR_LOG(r);
	run_result_free(&r);

	ASSERT_EQ(0, lcenv_status(&self->e, &st));
	c = json_object_array_get_idx(json_object_object_get(st, "containers"), 0);
	ASSERT_NE(NULL, c);
	EXPECT_STREQ("web-1", json_object_get_string(json_object_object_get(c, "container_id")));
	EXPECT_STREQ("prepared", json_object_get_string(json_object_object_get(c, "phase")));
	EXPECT_EQ(self->ct[0].pid, json_object_get_int(json_object_object_get(c, "pid")));
	EXPECT_EQ(2, json_object_array_length(json_object_object_get(c, "volumes")));
	v = json_object_array_get_idx(json_object_object_get(st, "volumes"), 0);
	ASSERT_NE(NULL, v);
	EXPECT_EQ(1, json_object_get_int(json_object_object_get(v, "refcount")));
	EXPECT_EQ(64, strlen(json_object_get_string(json_object_object_get(v, "mount_id"))));
	EXPECT_EQ(0, strncmp(self->e.tproot,
			     json_object_get_string(json_object_object_get(v, "host_path")),
			     strlen(self->e.tproot)));
	json_object_put(st);

	/* --container-id narrows it down. */
	lcenv_run(&self->e, &r, "--json", "status", "--container-id", "other", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "\"containers\":[]")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "\"volumes\":[]")) OK_OR_LOG(r);
	run_result_free(&r);
}

LC_FIXTURE(cleanup);

TEST_F(cleanup, is_idempotent)
{
	char vols[PATH_MAX];
	struct run_result r;
	int c, v;

	ASSERT_EQ(0, lcenv_hostdir_volume(&self->e, "v", vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	for (int i = 0; i < 2; i++) {
		lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
		EXPECT_EQ(0, r.status) OK_OR_LOG(r);
		EXPECT_STREQ("", r.err);
		run_result_free(&r);
	}
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
	/* A container never prepared is no error either. */
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "never", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/*
 * The plugin "tp" again, served by a process that did not listen(): a short
 * lived listener binds the socket, hands it to the plugin (--listen-fd) and
 * exits, as a socket-activating service manager might. Its pid, which
 * SO_PEERCRED reports, goes in *ret_listener; the plugin's (our child: we
 * are a subreaper) in e->plugin.
 */
static int restart_plugin_behind_dead_listener(struct lcenv *e, pid_t *ret_listener)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int p[2], status;
	pid_t l, s = 0;

	stop_process(e->plugin, 2000);
	e->plugin = 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/tp.sock", e->plugins);
	unlink(sa.sun_path);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	l = fork();
	if (l < 0)
		return -errno;
	if (l == 0) {
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
		    listen(fd, 64) < 0 || dup2(fd, 3) < 0)
			_exit(1);
		s = fork();
		if (s == 0) {
			execl(build_path("dvmount-testplugin"), "dvmount-testplugin", "--socket",
			      sa.sun_path, "--root", e->tproot, "--log", e->log, "--faults",
			      e->faults, "--bind", "--listen-fd", "3", (char *)NULL);
			_exit(127);
		}
		_exit(write(p[1], &s, sizeof(s)) == sizeof(s) && s > 0 ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &s, sizeof(s)) != sizeof(s))
		s = 0;
	close(p[0]);
	if (waitpid(l, &status, 0) != l || !WIFEXITED(status) || WEXITSTATUS(status) || s <= 0)
		return -ECHILD;
	e->plugin = s;
	*ret_listener = l;
	return wait_socket(sa.sun_path, 5000);
}

/*
 * A process that takes the pid number `want` (ns_last_pid, as CRIU does; a
 * few tries, since the host's other processes take numbers too), in a mount
 * namespace of its own where `dir` is a tmpfs holding sub/impostor. 0 and
 * its pid in *ret; -EAGAIN when the number could not be had.
 */
static int impostor_at(pid_t want, const char *dir, pid_t *ret)
{
	char num[16];

	snprintf(num, sizeof(num), "%d", (int)want - 1);
	for (int tries = 0; tries < 200; tries++) {
		int p[2], fd, status;
		char ok = 0;
		pid_t i;

		fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return -errno;
		if (pipe2(p, O_CLOEXEC) < 0 || write(fd, num, strlen(num)) < 0) {
			close(fd);
			return -errno;
		}
		close(fd);
		i = fork();
		if (i == 0) {
			char f[PATH_MAX];

			close(p[0]);
			if (getpid() != want)
				_exit(0);
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			snprintf(f, sizeof(f), "%s/sub/impostor", dir);
			if (unshare(CLONE_NEWNS) < 0 ||
			    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
			    mount("tmpfs", dir, "tmpfs", 0, NULL) < 0 ||
			    tu_mkdirs(tu_path((char[PATH_MAX]){}, "%s/sub", dir), 0755) < 0 ||
			    tu_write_file(f, "x") < 0 || write(p[1], "y", 1) != 1)
				_exit(1);
			pause();
			_exit(0);
		}
		close(p[1]);
		if (i == want && read(p[0], &ok, 1) == 1 && ok == 'y') {
			close(p[0]);
			*ret = i;
			return 0;
		}
		close(p[0]);
		if (i > 0) {
			kill(i, SIGKILL);
			waitpid(i, &status, 0);
		}
	}
	return -EAGAIN;
}

/*
 * SO_PEERCRED names the process that listened, which may be gone and its
 * pid number reused: here by a process whose own mount namespace has a
 * tmpfs at the plugin's mountpoints. Taking the view by that number would
 * attach the impostor's directory into the container with exit 0. The
 * socket's SO_PEERPIDFD (6.5) tells the listener is gone: refused, nothing
 * attached, the Mount undone.
 */
TEST_F(attach, listener_pid_reused_by_another_process_is_not_the_plugins_view)
{
	char vols[PATH_MAX], pid[16], target[PATH_MAX], mnt[PATH_MAX], seen[PATH_MAX];
	struct run_result r;
	pid_t listener = 0, impostor = 0;
	int c, v, status;

	ASSERT_EQ(0, restart_plugin_behind_dead_listener(&self->e, &listener));
	tu_path(mnt, "%s/mnt", self->e.tproot);
	ASSERT_EQ(0, tu_mkdirs(mnt, 0755));
	r.status = impostor_at(listener, mnt, &impostor);
	if (r.status == -EAGAIN)
		SKIP(return, "pid %d was taken by another process before the test could", listener);
	ASSERT_EQ(0, r.status);
	tu_path(target, "%s/run/vol", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	/* The plugin answers tp.root/mnt/sub for volume "sub". */
	struct lcvol vol[] = { { .name = "sub", .path = target } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "cannot be proven to be the plugin's mount")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "volume 'sub' of driver 'tp'")) OK_OR_LOG(r);
	run_result_free(&r);
	snprintf(seen, sizeof(seen), "/proc/%d/root%s/impostor", (int)self->ct[0].pid, target);
	EXPECT_EQ(-1, access(seen, F_OK));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, target));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "sub"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
	kill(impostor, SIGKILL);
	waitpid(impostor, &status, 0);
}

/*
 * A container whose rootfs path plus container path is, in our namespace,
 * the plugin's own Mountpoint (--rootfs DIR, container path /tp.root/mnt/v):
 * its cleanup's sweep for propagated copies finds a mount with the attached
 * tree's root there. It is the plugin's mount, not a copy: it stays, and the
 * other container's volume keeps working; the Unmount comes with the last user.
 */
TEST_F(attach, cleanup_never_takes_the_plugins_own_mount_for_a_copy)
{
	char vols1[PATH_MAX], vols2[PATH_MAX], pid1[16], pid2[16], target[PATH_MAX];
	char mp[PATH_MAX], p[PATH_MAX], buf[64];
	struct run_result r;

	tu_path(target, "%s/run/vol", self->e.dir);
	tu_path(mp, "%s/mnt/v", self->e.tproot);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	struct lcvol v1[] = { { .name = "v", .path = target } };
	struct lcvol v2[] = { { .name = "v", .path = mp + strlen(self->e.dir) } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols1.json", v1, 1, vols1));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols2.json", v2, 1, vols2));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, tu_container_start(&self->ct[1], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols1, "--pid",
		  lc_pidstr(pid1, self->ct[0].pid), NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c2", "--volumes", vols2, "--pid",
		  lc_pidstr(pid2, self->ct[1].pid), "--rootfs", self->e.dir, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(1, lc_mounts_under(0, mp));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c2", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(self->ct[1].pid, mp));
	/* The plugin's mount is still there, and c1 still writes through it. */
	EXPECT_EQ(1, lc_mounts_under(0, mp));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", "v"));
	EXPECT_EQ(0, lc_ct_write(self->ct[0].pid, 0, 0, tu_path(p, "%s/hello", target), "still"));
	EXPECT_EQ(5, tu_read_file(tu_path(p, "%s/hello", mp), buf, sizeof(buf)));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(0, mp));
}

TEST_HARNESS_MAIN
