/* SPDX-License-Identifier: MIT */
/*
 * The durability promise against a power cut (issues 11 and 14): "after a
 * crash or a power cut at any point, recover knows every plugin mount that
 * might exist, and never releases one in use". The state dir lives on
 * dvmount-pcfs (tests/lib/powercut.h), which keeps only what fsync() made
 * durable. dvmount is killed at every crash point it lists (DVMOUNT_CRASH_AT)
 * in prepare, cleanup, recover and the dvdcli drop-in, or lets the operation
 * finish; then the power goes: the state dir keeps its durable image only,
 * and the host reboots (every container and mount gone, the plugin started
 * again from its backend, a new boot id, CLOCK_BOOTTIME near 0). Then
 * `recover --gc-dead`, as a containerizer runs it at boot, and:
 *   - every record is readable (nothing quarantined, status works), and no
 *     container of the old boot is left;
 *   - the plugin's call log, which outlives the reboot (a cloud disk stays
 *     attached on the remote side), balances against dvmount: every Mount ID
 *     the plugin was asked to Mount and never Unmounted is a volume dvmount
 *     knows with a user, and every volume with a user is held;
 *   - nothing in use was released: the volume a dvdcli (Mesos) user pinned
 *     before the operation still has that user and its Mount;
 *   - after that user's unmount, the plugin holds nothing.
 * Each trial starts from the state the previous one left (taken as durable:
 * as after a sync) and runs its setup on the model too, so that the setup's
 * own unsynced writes are at risk as well.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonutil.h"

#include "kselftest_harness.h"
#include "tests/lib/crashscene.h"
#include "tests/lib/invariants.h"
#include "tests/lib/lcenv.h"
#include "tests/lib/powercut.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define KILLED (128 + SIGKILL)

static char *const plugin_extra[] = { "--bind", NULL };

FIXTURE(powercut)
{
	struct lcenv e;
	struct pc_boot boot;
	struct tu_container ct[2];
	pid_t fs;
	char sandbox[PATH_MAX], vols0[PATH_MAX], vols1[PATH_MAX], vols3[PATH_MAX];
	char vols1s[PATH_MAX]; /* c1's v1 alone: attach-only while c0 holds it */
	struct crash_points points;
};

FIXTURE_SETUP(powercut)
{
	struct lcvol v0[] = { { .name = "v1", .path = "c0/v1" } };
	struct lcvol v1[] = { { .name = "v1", .path = "c1/v1" },
			      { .name = "v2", .path = "c1/v2" } };
	struct lcvol v3[] = { { .name = "v3", .path = "c3/v3" },
			      { .name = "v1", .path = "c3/v1" } };
	struct lcvol v1s[] = { { .name = "v1", .path = "c1/v1" } };

	const char *missing;

	if (pc_supported(&missing) < 0)
		SKIP(return, "power cuts need %s", missing);
	ASSERT_EQ(0, crash_points_list(&self->points));
	ASSERT_LT(0, self->points.n);
	ASSERT_EQ(0, lcenv_setup(&self->e, plugin_extra));
	tu_path(self->sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(self->sandbox, 0755));
	ASSERT_EQ(0, tu_mkdirs(self->e.state, 0700));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c0.json", v0, 1, self->vols0));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c1.json", v1, 2, self->vols1));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c3.json", v3, 2, self->vols3));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c1s.json", v1s, 1, self->vols1s));
}

FIXTURE_TEARDOWN(powercut)
{
	crash_points_free(&self->points);
	tu_container_stop(&self->ct[0]);
	tu_container_stop(&self->ct[1]);
	if (self->fs > 0)
		pc_fs_stop(self->fs);
	pc_boot_end(&self->e, &self->boot);
	lcenv_teardown(&self->e);
}

/*
 * The invariants after the reboot's recover (tests/lib/invariants.h, with no
 * container: all died with the power), and the power cut's own: no record
 * of the old boot is left, and when pinned, the dvdcli user of v3 that the
 * trial made (a dvdcli mount that finished) still has its volume, and the
 * plugin never Unmounted it (unmounts: v3's successful Unmounts before the
 * cut operation; -1: not pinned before it).
 */
static void check(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self, bool pinned,
		  int unmounts, const char *what)
{
	char why[INV_WHY_MAX];
	int r = inv_check(&self->e, NULL, 0, why, sizeof(why)), containers, volumes;

	ASSERT_LE(0, r) TH_LOG("%s: %s", what, why);
	EXPECT_EQ(0, r) TH_LOG("%s: %s", what, why);
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &containers, &volumes)) TH_LOG("%s", what);
	EXPECT_EQ(0, containers) TH_LOG("%s: a container of the old boot is left", what);
	if (!pinned)
		return;
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v3"))
	TH_LOG("%s: the pinned dvdcli user of v3 was lost", what);
	if (unmounts >= 0)
		EXPECT_EQ(unmounts, lcenv_log_count(&self->e, "Unmount", "v3"))
	TH_LOG("%s: a volume in use was Unmounted", what);
}

/*
 * The power cut's promise alone, where a pinned user may be left without its
 * plugin mount until its next use (a renewal cut between its Unmount and its
 * Mount: recover never mounts): every record readable, no container of the
 * old boot left, every Mount ID the plugin holds is a volume dvmount knows,
 * and the pinned dvdcli user of v3 is still there.
 */
static void check_known(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
			const char *what)
{
	_cleanup_json_ json_object *st = NULL;
	json_object *vols;
	struct inv_held h;

	ASSERT_EQ(0, lcenv_status(&self->e, &st)) TH_LOG("%s: status failed", what);
	EXPECT_EQ(0, json_object_array_length(json_object_object_get(st, "quarantined")))
	TH_LOG("%s: a record came back unreadable", what);
	EXPECT_EQ(0, json_object_array_length(json_object_object_get(st, "containers")))
	TH_LOG("%s: a container of the old boot is left", what);
	ASSERT_EQ(0, inv_plugin_held(self->e.log, &h));
	vols = json_object_object_get(st, "volumes");
	for (size_t i = 0; i < h.n; i++) {
		bool known = false;

		for (size_t j = 0; h.net[i] > 0 && j < json_object_array_length(vols); j++) {
			json_object *v = json_object_array_get_idx(vols, j);
			const char *id =
			    json_object_get_string(json_object_object_get(v, "mount_id"));

			known |= id && !strcmp(id, h.ids[i]);
		}
		EXPECT_TRUE(h.net[i] <= 0 || known)
		TH_LOG("%s: the plugin holds Mount ID %s, unknown to dvmount", what, h.ids[i]);
	}
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v3"))
	TH_LOG("%s: the pinned dvdcli user of v3 was lost", what);
}

static int run_op(FIXTURE_DATA(powercut) * self, struct run_result *r, const char *point,
		  const char *op)
{
	const struct crash_scene scene = { &self->e, self->vols1, self->sandbox, self->ct[1].pid,
					   self->vols1s };

	return crash_scene_run(&scene, r, point, op);
}

static void run_ok(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self, const char *op,
		   const char *what)
{
	struct run_result r;

	run_op(self, &r, "", op);
	EXPECT_EQ(0, r.status) TH_LOG("%s: %s: %s", what, op, r.err);
	run_result_free(&r);
}

/*
 * recover --gc-dead at boot, as a containerizer runs it, until the in-flight
 * windows of the old boot are over (inv_recover: on the wall clock, once
 * the boot id changed).
 */
static void recover_at_boot(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
			    const char *what)
{
	char *const args[] = { "recover", "--gc-dead", NULL };
	char why[INV_WHY_MAX];
	int r = inv_recover(&self->e, args, why, sizeof(why));

	ASSERT_LE(0, r) TH_LOG("%s: %s", what, why);
	EXPECT_EQ(0, r) TH_LOG("%s: %s", what, why);
}

/*
 * The new boot uses the volumes again: a container with v3 (the pinned one,
 * whose plugin mount the reboot took) and v1, prepared and cleaned up; the
 * invariants hold after it.
 */
static void use_after_boot(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
			   bool pinned, const char *what)
{
	struct run_result r;
	char pid[16];

	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0)) TH_LOG("%s", what);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c3", "--volumes", self->vols3,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s: prepare after the reboot: %s", what, r.err);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c3", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s: cleanup after the reboot: %s", what, r.err);
	run_result_free(&r);
	tu_container_stop(&self->ct[0]);
	check(_metadata, self, pinned, -1, what);
}

/*
 * Where the power goes: at a crash point ("" none), or at the op's sync-th
 * sync; and when boot_sync, once more at that sync of the recover after the
 * reboot.
 */
struct cut {
	const char *point;
	unsigned sync;
	bool applied; /* that sync itself made durable */
	unsigned boot_sync;
	bool boot_applied;
	bool boot_killed; /* out: the second cut killed that recover */
};

/* The power goes: every process stops, the disk keeps what was durable; the host boots. */
static void power_cut(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
		      const char *what)
{
	tu_container_stop(&self->ct[0]);
	tu_container_stop(&self->ct[1]);
	ASSERT_EQ(0, pc_fs_cut(self->fs)) TH_LOG("%s", what);
	self->fs = 0;
	ASSERT_EQ(0, pc_reboot(&self->e, &self->boot, plugin_extra)) TH_LOG("%s", what);
}

/*
 * The recover at boot, on the model, cut at its boot_sync-th sync: past its
 * in-flight windows (so that it does all its work, Unmounts included).
 */
static void boot_recover_cut(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
			     struct cut *cut, const char *what)
{
	struct run_result r;

	ASSERT_LE(0, lcenv_expire_in_flight(&self->e)) TH_LOG("%s", what);
	ASSERT_EQ(0,
		  pc_fs_start_sync_cut(self->e.state, cut->boot_sync, cut->boot_applied, &self->fs))
	TH_LOG("%s", what);
	ASSERT_EQ(0, pc_fs_arm(self->fs)) TH_LOG("%s", what);
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_TRUE(r.status == 0 || r.status == KILLED) OK_OR_LOG(r);
	cut->boot_killed = r.status == KILLED;
	run_result_free(&r);
	power_cut(_metadata, self, what);
}

/*
 * One trial: on the model, c0 prepared (v1), v3 pinned by dvdcli unless op is
 * a dvdcli one, then before (when given: ops separated by ','), then op
 * killed where cut says (or
 * let finish); the power cut and the reboot; recover (and an interrupted
 * dvdcli mount again); the checks, v3 pinned but after a dvdcli unmount; the
 * volumes used again in the new boot, and the checks; then the pinned
 * user's unmount, after which the plugin must hold nothing.
 * Returns whether the cut killed op.
 */
static bool trial(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self, const char *op,
		  const char *before, struct cut *cut)
{
	bool dvdcli_op = !strncmp(op, "dvdcli", 6), killed;
	struct run_result r;
	char what[128], pid[16];
	int unmounts;

	if (cut->sync)
		snprintf(what, sizeof(what), "%s cut %s sync %u", op, cut->applied ? "after" : "at",
			 cut->sync);
	else
		snprintf(what, sizeof(what), "%s cut at %s", op,
			 *cut->point ? cut->point : "the end");
	if (cut->boot_sync)
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 ", its recover cut %s sync %u", cut->boot_applied ? "after" : "at",
			 cut->boot_sync);
	/*
	 * The last trial ended with the log balanced: start a fresh one, so
	 * that its Mount IDs stay within what inv_plugin_held() tracks.
	 */
	ASSERT_EQ(0, lcenv_log_unbalanced(&self->e)) TH_LOG("%s", what);
	ASSERT_EQ(0, lcenv_log_reset(&self->e)) TH_LOG("%s", what);
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0)) TH_LOG("%s", what);
	ASSERT_EQ(0, tu_container_start(&self->ct[1], NULL, 0)) TH_LOG("%s", what);
	r.status = cut->sync
		       ? pc_fs_start_sync_cut(self->e.state, cut->sync, cut->applied, &self->fs)
		       : pc_fs_start(self->e.state, &self->fs);
	ASSERT_EQ(0, r.status) TH_LOG("%s: the model did not start", what);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", self->vols0,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	if (!dvdcli_op)
		run_ok(_metadata, self, "dvdcli-mount", what);
	/* before: ops separated by ',', run in order. */
	for (const char *b = before; b && *b; b += strcspn(b, ",") + (b[strcspn(b, ",")] == ',')) {
		char one[32];

		snprintf(one, sizeof(one), "%.*s", (int)strcspn(b, ","), b);
		run_ok(_metadata, self, one, what);
	}
	/* A dvdcli mount cut before it finished pinned nothing in use yet. */
	unmounts = dvdcli_op ? -1 : lcenv_log_count(&self->e, "Unmount", "v3");

	if (cut->sync)
		ASSERT_EQ(0, pc_fs_arm(self->fs)) TH_LOG("%s", what);
	run_op(self, &r, cut->point, op);
	EXPECT_TRUE(r.status == 0 || r.status == KILLED) OK_OR_LOG(r);
	killed = r.status == KILLED;
	run_result_free(&r);

	power_cut(_metadata, self, what);
	if (cut->boot_sync)
		boot_recover_cut(_metadata, self, cut, what);

	recover_at_boot(_metadata, self, what);
	/* A dvdcli mount that did not finish failed for Mesos, which mounts again. */
	if (!strcmp(op, "dvdcli-mount") && killed)
		run_ok(_metadata, self, op, what);
	check(_metadata, self, strcmp(op, "dvdcli-unmount"), unmounts, what);

	use_after_boot(_metadata, self, strcmp(op, "dvdcli-unmount"), what);

	/* Mesos' unmount of its volume: then nothing is left anywhere. */
	if (lcenv_status_refcount(&self->e, "v3") > 0)
		run_ok(_metadata, self, "dvdcli-unmount", what);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e))
	TH_LOG("%s: the plugin still holds a mount", what);
	return killed;
}

static int every_point(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
		       const char *op, const char *before)
{
	struct cut cut = { .point = "" };
	int killed = 0;

	/* The operation finished, then the cut: its unsynced writes are lost too. */
	trial(_metadata, self, op, before, &cut);
	for (size_t i = 0; i < self->points.n && _metadata->passed; i++) {
		cut.point = self->points.name[i];
		killed += trial(_metadata, self, op, before, &cut);
	}
	return killed;
}

#define MAX_SYNCS 64

/*
 * The cut at every sync barrier of op, just before and just after each: a
 * cut at any moment leaves the durable image of just after one of them, and
 * the plugin as the calls made since left it. Returns op's number of syncs.
 */
static unsigned every_sync(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self,
			   const char *op, const char *before)
{
	unsigned syncs[2] = { 0, 0 };

	for (int applied = 0; applied < 2; applied++) {
		struct cut cut = { .point = "", .applied = applied };

		for (cut.sync = 1; cut.sync <= MAX_SYNCS && _metadata->passed; cut.sync++)
			if (!trial(_metadata, self, op, before, &cut))
				break;
		syncs[applied] = cut.sync - 1;
	}
	EXPECT_EQ(syncs[0], syncs[1]) TH_LOG("%s: the syncs differ from run to run", op);
	EXPECT_GT(MAX_SYNCS, syncs[0]) TH_LOG("%s: more syncs than the test follows", op);
	TH_LOG("%s: cut before and after each of its %u syncs", op, syncs[0]);
	return syncs[0];
}

/* The kill counts are crash_points_test's: each point is reached as there. */
TEST_F_TIMEOUT(powercut, prepare_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(8, every_point(_metadata, self, "prepare", NULL));
}

TEST_F_TIMEOUT(powercut, cleanup_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(6, every_point(_metadata, self, "cleanup", "prepare"));
}

TEST_F_TIMEOUT(powercut, recover_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(8, every_point(_metadata, self, "recover", "prepare"));
}

TEST_F_TIMEOUT(powercut, dvdcli_mount_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(2, every_point(_metadata, self, "dvdcli-mount", NULL));
}

TEST_F_TIMEOUT(powercut, dvdcli_unmount_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(3, every_point(_metadata, self, "dvdcli-unmount", "dvdcli-mount"));
}

/*
 * Issue 11: a prepare that plans no Mount (every volume's plugin mount
 * reused: attach-only) writes no durable record, and its cleanup none while
 * others still use its volumes (helper/state/state.h). c0 (the holder)
 * Mounts v1 with its durable record; c1 attaches v1 alone, non-durably;
 * then c0 cleans up while c1 still uses v1, and c0's record was the one
 * durable proof of v1's Mount ID: its cleanup makes v1's entry durable
 * before its record's removal. The power goes at every crash point and
 * every sync of c1's prepare, of c0's cleanup, and of c1's cleanup (after
 * c0's, or while c0 still holds v1); after the reboot and recover, the
 * plugin's Mount IDs are all known and Unmounted exactly once (the log
 * balances), none in use released. The kill counts are the points each
 * operation reaches.
 */
TEST_F_TIMEOUT(powercut, attach_only_prepare_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(8, every_point(_metadata, self, "prepare-shared", NULL));
}

TEST_F_TIMEOUT(powercut, holder_cleanup_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(6, every_point(_metadata, self, "cleanup-holder", "prepare-shared"));
}

TEST_F_TIMEOUT(powercut, attach_only_cleanup_after_holder_cut_at_every_point, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(6, every_point(_metadata, self, "cleanup", "prepare-shared,cleanup-holder"));
}

/* An attach-only prepare syncs nothing: no cut falls inside it. */
TEST_F_TIMEOUT(powercut, attach_only_prepare_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(0, every_sync(_metadata, self, "prepare-shared", NULL));
}

/* Nor its cleanup while the holder still holds its volume. */
TEST_F_TIMEOUT(powercut, attach_only_cleanup_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(0, every_sync(_metadata, self, "cleanup", "prepare-shared"));
}

/* The holder's cleanup: v1's entry made durable, then its record's removal. */
TEST_F_TIMEOUT(powercut, holder_cleanup_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	/*
	 * A syncfs barrier for the data of the entries it keeps, one for their
	 * renames (any number of them: was a fsync of v1's file, its directory
	 * and volumes/), then containers/ after the unlink. A barrier is two
	 * syncfs calls (the second flushes what the first wrote: lifecycle_test
	 * holder_first_syncfs_barriers_are_flushed_by_a_second_syncfs).
	 */
	EXPECT_EQ(5, every_sync(_metadata, self, "cleanup-holder", "prepare-shared"));
}

/*
 * The last user's cleanup, once the holder left: the Unmount, and durable
 * removals: a syncfs barrier (two calls) for the data of its rewrite of
 * the durable entry before the rename, one for the removal, then
 * containers/.
 */
TEST_F_TIMEOUT(powercut, attach_only_cleanup_after_holder_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_EQ(5, every_sync(_metadata, self, "cleanup", "prepare-shared,cleanup-holder"));
}

/*
 * The same two cleanups with eight volumes, which the holder c0 Mounts and
 * c1 attaches (v1 and v11 to v17): each makes the same syncs as with one
 * (one syncfs barrier for all the entries, not a sync per file and directory), and
 * a cut before or after each of them leaves no leak and nothing in use
 * released.
 */
static void eight_volumes(struct __test_metadata *_metadata, FIXTURE_DATA(powercut) * self)
{
	static const char *const names[8] = {
		"v1", "v11", "v12", "v13", "v14", "v15", "v16", "v17"
	};
	char p0[8][16], p1[8][16];
	struct lcvol v0[8], v1[8];

	for (size_t i = 0; i < 8; i++) {
		snprintf(p0[i], sizeof(p0[i]), "c0/%s", names[i]);
		snprintf(p1[i], sizeof(p1[i]), "c1/%s", names[i]);
		v0[i] = (struct lcvol){ .name = names[i], .path = p0[i] };
		v1[i] = (struct lcvol){ .name = names[i], .path = p1[i] };
	}
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c0-8.json", v0, 8, self->vols0));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c1s-8.json", v1, 8, self->vols1s));
}

TEST_F_TIMEOUT(powercut, holder_cleanup_of_eight_volumes_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	eight_volumes(_metadata, self);
	EXPECT_EQ(5, every_sync(_metadata, self, "cleanup-holder", "prepare-shared"));
}

TEST_F_TIMEOUT(powercut, last_cleanup_of_eight_volumes_after_holder_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	eight_volumes(_metadata, self);
	EXPECT_EQ(5, every_sync(_metadata, self, "cleanup", "prepare-shared,cleanup-holder"));
}

/*
 * A power cut during the recover after a power cut: the first cut at every
 * crash point of prepare (or after it), the second at every sync of the
 * recover at boot, just before and just after each.
 */
TEST_F_TIMEOUT(powercut, boot_recover_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	unsigned trials = 0, most = 0;

	/* First the cut after prepare finished (point ""), then at each point. */
	for (size_t i = 0; i <= self->points.n && _metadata->passed; i++) {
		struct cut cut = { .point = i ? self->points.name[i - 1] : "" };

		for (int applied = 0; applied < 2; applied++) {
			cut.boot_applied = applied;
			for (cut.boot_sync = 1; cut.boot_sync <= MAX_SYNCS && _metadata->passed;
			     cut.boot_sync++) {
				bool killed = trial(_metadata, self, "prepare", NULL, &cut);

				trials++;
				/* A point prepare does not reach: the same as the first. */
				if (i && !killed)
					goto next_point;
				if (!cut.boot_killed)
					break;
			}
			most = MAX(most, cut.boot_sync - 1);
		}
	next_point:;
	}
	EXPECT_GT(MAX_SYNCS, most) TH_LOG("more syncs than the test follows");
	TH_LOG("%u trials; the recover at boot made up to %u syncs", trials, most);
}

/*
 * A prepare in the boot after a power cut, of a volume a dvdcli user pinned
 * in the boot before: its plugin mount went with the reboot, so the prepare
 * Unmounts the old Mount ID and Mounts under a new one (STATE_VOL_RENEW).
 * The power goes again at every sync of that prepare, just before and just
 * after each; after the second reboot and recover, the pinned user still
 * has its volume and the plugin holds nothing dvmount does not know; once
 * the volume is used again, every invariant holds.
 */
TEST_F_TIMEOUT(powercut, renewing_prepare_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	unsigned syncs[2] = { 0, 0 };

	for (int applied = 0; applied < 2; applied++) {
		for (unsigned n = 1; n <= MAX_SYNCS && _metadata->passed; n++) {
			struct run_result r;
			char what[128], pid[16];
			bool killed;

			snprintf(what, sizeof(what), "renewing prepare cut %s sync %u",
				 applied ? "after" : "at", n);
			ASSERT_EQ(0, lcenv_log_unbalanced(&self->e)) TH_LOG("%s", what);
			ASSERT_EQ(0, lcenv_log_reset(&self->e)) TH_LOG("%s", what);
			run_ok(_metadata, self, "dvdcli-mount", what);
			ASSERT_EQ(0, pc_reboot(&self->e, &self->boot, plugin_extra))
			TH_LOG("%s", what);
			recover_at_boot(_metadata, self, what);

			ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0)) TH_LOG("%s", what);
			ASSERT_EQ(0, pc_fs_start_sync_cut(self->e.state, n, applied, &self->fs))
			TH_LOG("%s", what);
			ASSERT_EQ(0, pc_fs_arm(self->fs)) TH_LOG("%s", what);
			lcenv_run(&self->e, &r, "prepare", "--container-id", "c3", "--volumes",
				  self->vols3, "--pid", lc_pidstr(pid, self->ct[0].pid),
				  "--sandbox", self->sandbox, NULL);
			EXPECT_TRUE(r.status == 0 || r.status == KILLED) OK_OR_LOG(r);
			killed = r.status == KILLED;
			run_result_free(&r);
			power_cut(_metadata, self, what);

			recover_at_boot(_metadata, self, what);
			check_known(_metadata, self, what);
			/* Its next use mounts it again: then every invariant holds. */
			use_after_boot(_metadata, self, true, what);
			run_ok(_metadata, self, "dvdcli-unmount", what);
			EXPECT_EQ(0, lcenv_log_unbalanced(&self->e))
			TH_LOG("%s: the plugin still holds a mount", what);
			if (!killed)
				break;
			syncs[applied] = n;
		}
	}
	EXPECT_EQ(syncs[0], syncs[1]) TH_LOG("the syncs differ from run to run");
	EXPECT_LE(1, syncs[0]);
	TH_LOG("the renewing prepare: cut before and after each of its %u syncs", syncs[0]);
}

/*
 * A prepare and a dvdcli mount make their intent durable before the Mount
 * (helper/state/state.h), a dvdcli unmount its pinned user's removal: at
 * least one sync each. A cleanup and a recover need none by the promise: a
 * record whose removal the cut took belongs to a container the reboot
 * killed, and is cleaned up again.
 */
TEST_F_TIMEOUT(powercut, prepare_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_LE(1, every_sync(_metadata, self, "prepare", NULL));
}

TEST_F_TIMEOUT(powercut, cleanup_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	every_sync(_metadata, self, "cleanup", "prepare");
}

TEST_F_TIMEOUT(powercut, recover_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	every_sync(_metadata, self, "recover", "prepare");
}

TEST_F_TIMEOUT(powercut, dvdcli_mount_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_LE(1, every_sync(_metadata, self, "dvdcli-mount", NULL));
}

TEST_F_TIMEOUT(powercut, dvdcli_unmount_cut_at_every_sync, 300)
{
	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	EXPECT_LE(1, every_sync(_metadata, self, "dvdcli-unmount", "dvdcli-mount"));
}

/*
 * A volume whose entry dvdcli made durable for Mesos (state_volume_sync():
 * no record backs the pinned user), released by Mesos' unmount, then
 * Mounted afresh by a container under a new Mount ID, in the same boot.
 * The Unmount released the old id, and the new entry is written without a
 * sync: the old entry's removal must be durable, or after a power cut it
 * comes back in place of the new one, recover Unmounts the old id a second
 * time and the new one, which the container's durable record names, is
 * never Unmounted (the plugin keeps it for good).
 */
TEST_F_TIMEOUT(powercut, remount_after_dvdcli_unmount_then_cut, 120)
{
	const char *what = "prepare after a dvdcli mount and unmount, cut at the end";
	struct run_result r;
	char pid[16];

	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, pc_fs_start(self->e.state, &self->fs));
	run_ok(_metadata, self, "dvdcli-mount", what);
	run_ok(_metadata, self, "dvdcli-unmount", what);
	ASSERT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v3"));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c3", "--volumes", self->vols3,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	power_cut(_metadata, self, what);
	recover_at_boot(_metadata, self, what);
	check(_metadata, self, false, -1, what);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e))
	TH_LOG("%s: the plugin still holds a mount", what);
}

/*
 * An Unmount that could not be sent at all (plugin_call_many() failing
 * before any call: here the plugin's activation, its poll(2) failing with
 * ENOMEM, injected by strace; the plugin answers Activate only after 300 ms,
 * so that the client polls for it: a fast answer is read without a poll,
 * and the Unmount went out) keeps the holder's entry, which no record
 * names once the holder's record goes: it is synced. A later recover
 * Unmounts it, and a container Mounts the volume afresh under a new Mount
 * ID, in the same boot; then the power goes. The synced entry must not come
 * back in place of the new one (written without a sync): it is marked, so
 * that its removal is durable, or recover Unmounts the released id again
 * and never the new one (r17's suspicion, issue 11).
 */
TEST_F_TIMEOUT(powercut, entry_of_an_unsent_unmount_is_durable, 120)
{
	static const char *const inject[] = { "/usr/bin/strace",
					      "-f",
					      "-qq",
					      "-o",
					      "/dev/null",
					      "-e",
					      "trace=poll,ppoll",
					      "-e",
					      "inject=poll,ppoll:error=ENOMEM",
					      NULL };
	const char *what = "prepare after an unsent Unmount and its recover, cut at the end";
	struct run_result r;
	int unmounts, mounts;
	char pid[16];

	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, pc_fs_start(self->e.state, &self->fs));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", self->vols0,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	tu_container_stop(&self->ct[0]);
	/* Counted from here: a slow machine may have had the prepare retry. */
	unmounts = lcenv_log_count(&self->e, "Unmount", "v1");
	mounts = lcenv_log_count(&self->e, "Mount", "v1");
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Activate latency 300\n"));
	self->e.wrap = inject;
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	self->e.wrap = NULL;
	ASSERT_EQ(0, tu_write_file(self->e.faults, ""));
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "releasing volumes")) OK_OR_LOG(r);
	EXPECT_EQ(unmounts, lcenv_log_count(&self->e, "Unmount", "v1")) OK_OR_LOG(r);
	run_result_free(&r);
	if (!_metadata->passed)
		return;
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(unmounts + 1, lcenv_log_count(&self->e, "Unmount", "v1"));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c3", "--volumes", self->vols3,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(mounts + 1, lcenv_log_count(&self->e, "Mount", "v1"));
	power_cut(_metadata, self, what);
	recover_at_boot(_metadata, self, what);
	check(_metadata, self, false, -1, what);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e))
	TH_LOG("%s: the plugin still holds a mount", what);
}

/*
 * Upgrades: an entry kept "pending_unmount" by a dvmount older than the
 * "durable" mark was made durable by its writer (a record no longer named
 * it) but is not marked. The next runs reuse it (an attach-only container,
 * whose record is not durable), Unmount it when that container leaves, and
 * a container Mounts the volume afresh under a new Mount ID; then the power
 * goes. The old entry, synced, must not come back in place of the new one
 * (whose entry is written without a sync): its rewrites and removal are
 * durable, as a marked entry's, or recover Unmounts the released id again
 * and never the new one.
 */
TEST_F_TIMEOUT(powercut, unmarked_pending_entry_of_an_older_version_is_durable, 120)
{
	const char *what = "an older version's pending entry reused, released, mounted again, cut";
	char entry[PATH_MAX], pid[16];
	struct run_result r;
	json_object *o;

	if (_metadata->skip) /* setup found no FUSE or time namespace */
		return;
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, tu_container_start(&self->ct[1], NULL, 0));
	/* On the disk as it is (all durable): v1 Mounted, its Unmount refused once. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount error device busy count=1\n"));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", self->vols0,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	ASSERT_NE(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* The plugin started again reads its faults afresh: none from here on. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, ""));
	/* As the older version left it: no mark. */
	tu_path(entry, "%s/volumes/tp@v1/volume.json", self->e.state);
	o = json_object_from_file(entry);
	ASSERT_NE(NULL, o);
	ASSERT_STREQ("pending_unmount", json_object_get_string(json_object_object_get(o, "state")));
	json_object_object_del(o, "durable");
	ASSERT_EQ(0, json_object_to_file(entry, o));
	json_object_put(o);

	ASSERT_EQ(0, pc_fs_start(self->e.state, &self->fs));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", self->vols1s,
		  "--pid", lc_pidstr(pid, self->ct[1].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(1, lcenv_log_count(&self->e, "Mount", "v1"));
	run_ok(_metadata, self, "cleanup", what);
	/* The refused one is not counted: this is c1's, which released A. */
	ASSERT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v1"));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c3", "--volumes", self->vols3,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(2, lcenv_log_count(&self->e, "Mount", "v1"));
	power_cut(_metadata, self, what);
	recover_at_boot(_metadata, self, what);
	check(_metadata, self, false, -1, what);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e))
	TH_LOG("%s: the plugin still holds a mount", what);
}

TEST_HARNESS_MAIN
