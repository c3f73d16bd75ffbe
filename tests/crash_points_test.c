/* SPDX-License-Identifier: MIT */
/*
 * dvmount killed (SIGKILL) at every crash point it lists (DVMOUNT_CRASH_AT=
 * list), in each of prepare, cleanup, recover and the dvdcli drop-in; then
 * recover, and the interrupted operation once more. After each, the
 * invariants of tests/lib/invariants.h hold: every record readable, no user
 * without its plugin mount, no plugin mount without a live user (the call
 * log balanced against dvmount), no attached mount without a record.
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

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define KILLED (128 + SIGKILL)

/* The points as of this test: a point removed or renamed must be noticed. */
static const char *const known_points[] = {
	"after-intent",		"after-users",		"after-durable-intent",
	"before-mount",		"after-mount",		"before-attach",
	"after-attach",		"after-commit",		"cleanup-before-detach",
	"cleanup-after-detach", "cleanup-after-users",	"before-unmount",
	"after-unmount",	"after-pending-sync",	"cleanup-after-release",
	"recover-after-list",	"recover-before-retry", "dvdcli-after-sync",
	"dvdcli-after-mount",	"dvdcli-after-unuse",
};

FIXTURE(points)
{
	struct lcenv e;
	struct tu_container ct[2];
	char sandbox[PATH_MAX], vols0[PATH_MAX], vols1[PATH_MAX];
	struct crash_points points;
};

/* c0 holds v1 all along; c1 (v1 shared, v2 its own) is the one interrupted. */
FIXTURE_SETUP(points)
{
	struct run_result r;
	int ret;

	ASSERT_EQ(0, crash_points_list(&self->points));
	ret = crash_scene_start(&self->e, self->ct, self->sandbox, self->vols0, self->vols1, &r);
	ASSERT_EQ(0, ret) OK_OR_LOG(r);
	run_result_free(&r);
}

FIXTURE_TEARDOWN(points)
{
	crash_points_free(&self->points);
	tu_container_stop(&self->ct[0]);
	tu_container_stop(&self->ct[1]);
	lcenv_teardown(&self->e);
}

/* The invariants; c1's targets are mounts exactly while it has a record, c0's always. */
static void check(struct __test_metadata *_metadata, FIXTURE_DATA(points) * self, const char *what)
{
	char c0[PATH_MAX], c1[PATH_MAX], why[INV_WHY_MAX];
	const struct inv_container cs[] = {
		{ "c1", self->ct[1].pid, tu_path(c1, "%s/c1", self->sandbox), 2 },
		{ "c0", self->ct[0].pid, tu_path(c0, "%s/c0/v1", self->sandbox), 1 },
	};
	int r = inv_check(&self->e, cs, ARRAY_SIZE(cs), why, sizeof(why));

	ASSERT_LE(0, r) TH_LOG("%s: %s", what, why);
	EXPECT_EQ(0, r) TH_LOG("%s: %s", what, why);
}

static int run_op(FIXTURE_DATA(points) * self, struct run_result *r, const char *point,
		  const char *op)
{
	const struct crash_scene scene = { &self->e, self->vols1, self->sandbox, self->ct[1].pid,
					   NULL };

	return crash_scene_run(&scene, r, point, op);
}

static void run_ok(struct __test_metadata *_metadata, FIXTURE_DATA(points) * self, const char *op,
		   const char *what)
{
	struct run_result r;

	run_op(self, &r, "", op);
	EXPECT_EQ(0, r.status) TH_LOG("%s: %s again: %s", what, op, r.err);
	run_result_free(&r);
}

/*
 * recover right after the kill, then once every in-flight window is over
 * (inv_recover): a kill never leaves a volume recover fails on forever.
 * The callers check the invariants.
 */
static void recover(struct __test_metadata *_metadata, FIXTURE_DATA(points) * self,
		    const char *known, const char *what)
{
	char *const args[] = { "recover", "--known", (char *)known, NULL };
	char why[INV_WHY_MAX];
	int r = inv_recover(&self->e, args, why, sizeof(why));

	ASSERT_LE(0, r) TH_LOG("%s: %s", what, why);
	EXPECT_EQ(0, r) TH_LOG("%s: %s", what, why);
}

/*
 * Kill op at every point (after before, when given); then recover (knowing
 * known), op once more, and check; then after (when given), and check.
 * Returns how many points killed it.
 */
static int every_point(struct __test_metadata *_metadata, FIXTURE_DATA(points) * self,
		       const char *op, const char *before, const char *known, const char *after)
{
	struct run_result r;
	char what[128];
	int killed = 0;

	for (size_t i = 0; i < self->points.n && _metadata->passed; i++) {
		snprintf(what, sizeof(what), "%s killed at %s", op, self->points.name[i]);
		if (before)
			run_ok(_metadata, self, before, what);
		run_op(self, &r, self->points.name[i], op);
		EXPECT_TRUE(r.status == 0 || r.status == KILLED) OK_OR_LOG(r);
		killed += r.status == KILLED;
		run_result_free(&r);
		recover(_metadata, self, known, what);
		/*
		 * Once its user is gone, recover finishes a dvdcli unmount itself;
		 * a second one would reach the plugin for a volume dvmount no
		 * longer knows (dvdcli's own way, the plugin's answer).
		 */
		if (strcmp(op, "dvdcli-unmount") || lcenv_status_refcount(&self->e, "v3") > 0)
			run_ok(_metadata, self, op, what);
		EXPECT_EQ(-ENOENT, strcmp(op, "dvdcli-unmount")
				       ? -ENOENT
				       : lcenv_status_refcount(&self->e, "v3"))
		TH_LOG("%s", what);
		check(_metadata, self, what);
		if (after)
			run_ok(_metadata, self, after, what);
		check(_metadata, self, what);
	}
	return killed;
}

TEST_F(points, list_names_every_point_once)
{
	ASSERT_EQ(ARRAY_SIZE(known_points), self->points.n);
	for (size_t i = 0; i < self->points.n; i++)
		EXPECT_STREQ(known_points[i], self->points.name[i]);
}

/* prepare of c1, killed; recover knowing c1; prepare again if undone; cleanup. */
TEST_F(points, prepare_killed_at_every_point)
{
	struct run_result r;
	char what[128];
	int killed = 0;

	for (size_t i = 0; i < self->points.n && _metadata->passed; i++) {
		snprintf(what, sizeof(what), "prepare killed at %s", self->points.name[i]);
		run_op(self, &r, self->points.name[i], "prepare");
		EXPECT_TRUE(r.status == 0 || r.status == KILLED) OK_OR_LOG(r);
		killed += r.status == KILLED;
		run_result_free(&r);
		recover(_metadata, self, "c0,c1", what);
		check(_metadata, self, what);
		/* Undone unless it committed: then prepare again, as the containerizer would. */
		lcenv_run(&self->e, &r, "status", "--container-id", "c1", NULL);
		if (!strstr(r.out, "c1  prepared"))
			run_ok(_metadata, self, "prepare", what);
		run_result_free(&r);
		check(_metadata, self, what);
		run_ok(_metadata, self, "cleanup", what);
		check(_metadata, self, what);
	}
	/* after-intent .. after-commit */
	EXPECT_EQ(8, killed);
}

TEST_F(points, cleanup_killed_at_every_point)
{
	/* Killed: recover knows only c0, so it finishes the cleanup itself. */
	EXPECT_EQ(6, every_point(_metadata, self, "cleanup", "prepare", "c0", "cleanup"));
}

TEST_F(points, recover_killed_at_every_point)
{
	/* c1 unknown: recover cleans it up (the cleanup points) and retries volumes. */
	EXPECT_EQ(8, every_point(_metadata, self, "recover", "prepare", "c0", NULL));
}

TEST_F(points, dvdcli_killed_at_every_point)
{
	/* mount: after its user, after the Mount; unmount: after unuse, around Unmount. */
	EXPECT_EQ(2, every_point(_metadata, self, "dvdcli-mount", NULL, "c0", "dvdcli-unmount"));
	EXPECT_EQ(3, every_point(_metadata, self, "dvdcli-unmount", "dvdcli-mount", "c0", NULL));
}

TEST_HARNESS_MAIN
