/* SPDX-License-Identifier: MIT */
/*
 * dvmount killed (SIGKILL) at every crash point it lists (DVMOUNT_CRASH_AT=
 * list), in each of prepare, cleanup, recover and the dvdcli drop-in; then
 * recover, and the interrupted operation once more. After each, the
 * invariants hold:
 *   - every record is readable (nothing quarantined, status works);
 *   - no user without its plugin mount: a volume with users has its Mount
 *     ID held by the plugin;
 *   - no plugin mount without a live user, and the plugin's call log
 *     balanced against dvmount: the Mount IDs the plugin holds are exactly
 *     those of the volumes with users;
 *   - no attached mount without a record: the container's targets are
 *     mounts exactly while its record says it is prepared.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonutil.h"

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define KILLED (128 + SIGKILL)
#define MAX_POINTS 64
#define MAX_IDS 64

/* The points as of this test: a point removed or renamed must be noticed. */
static const char *const known_points[] = {
	"after-intent",		 "after-users",		  "after-durable-intent",
	"before-mount",		 "after-mount",		  "before-attach",
	"after-attach",		 "after-commit",	  "cleanup-before-detach",
	"cleanup-after-detach",	 "cleanup-after-users",	  "before-unmount",
	"after-unmount",	 "after-pending-sync",	  "cleanup-after-release",
	"recover-after-list",	 "recover-before-retry",  "dvdcli-after-sync",
	"dvdcli-after-mount",	 "dvdcli-after-unuse",
};

FIXTURE(points)
{
	struct lcenv e;
	struct tu_container ct[2];
	char sandbox[PATH_MAX], vols0[PATH_MAX], vols1[PATH_MAX];
	char *points[MAX_POINTS];
	size_t n_points;
};

static size_t list_points(struct __test_metadata *_metadata, char *ret[MAX_POINTS])
{
	struct run_result r;
	size_t n = 0;
	char *save = NULL;

	ASSERT_EQ(0, setenv("DVMOUNT_CRASH_AT", "list", 1));
	run_dvmount(&r, "version", NULL);
	unsetenv("DVMOUNT_CRASH_AT");
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("", r.err);
	for (char *l = strtok_r(r.out, "\n", &save); l && n < MAX_POINTS;
	     l = strtok_r(NULL, "\n", &save))
		ret[n++] = strdup(l);
	run_result_free(&r);
	return n;
}

/* c0 holds v1 all along; c1 (v1 shared, v2 its own) is the one interrupted. */
FIXTURE_SETUP(points)
{
	struct lcvol v0[] = { { .name = "v1", .path = "c0/v1" } };
	struct lcvol v1[] = { { .name = "v1", .path = "c1/v1" },
			      { .name = "v2", .path = "c1/v2" } };
	struct run_result r;
	char pid[16];

	self->n_points = list_points(_metadata, self->points);
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(self->sandbox, 0755));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c0.json", v0, 1, self->vols0));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c1.json", v1, 2, self->vols1));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, tu_container_start(&self->ct[1], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", self->vols0,
		  "--pid", lc_pidstr(pid, self->ct[0].pid), "--sandbox", self->sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

FIXTURE_TEARDOWN(points)
{
	for (size_t i = 0; i < self->n_points; i++)
		free(self->points[i]);
	tu_container_stop(&self->ct[0]);
	tu_container_stop(&self->ct[1]);
	lcenv_teardown(&self->e);
}

struct held {
	char ids[MAX_IDS][80];
	int net[MAX_IDS];
	size_t n;
};

/* Mount IDs the plugin holds: its successful Mounts minus its successful Unmounts. */
static int plugin_held(struct lcenv *e, struct held *h)
{
	char *log = read_file(e->log), *save = NULL;

	memset(h, 0, sizeof(*h));
	if (!log)
		return 0;
	for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		_cleanup_json_ json_object *o = json_tokener_parse(l);
		const char *ep = json_object_get_string(json_object_object_get(o, "endpoint"));
		const char *id = json_object_get_string(json_object_object_get(o, "id"));
		int d;
		size_t i;

		if (!ep || !id || json_object_get_int(json_object_object_get(o, "status")) != 200 ||
		    json_object_object_get(o, "err"))
			continue;
		d = !strcmp(ep, "VolumeDriver.Mount")	  ? 1
		    : !strcmp(ep, "VolumeDriver.Unmount") ? -1
							  : 0;
		for (i = 0; i < h->n && strcmp(h->ids[i], id); i++)
			;
		if (i == h->n && h->n < MAX_IDS)
			snprintf(h->ids[h->n++], sizeof(h->ids[0]), "%s", id);
		if (i < h->n)
			h->net[i] += d;
	}
	free(log);
	return 0;
}

static bool is_held(const struct held *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->ids[i], id))
			return h->net[i] > 0;
	return false;
}

/* The invariants; c1_prepared says whether c1 should be there, fully attached. */
static void check(struct __test_metadata *_metadata, FIXTURE_DATA(points) * self, const char *what)
{
	_cleanup_json_ json_object *st = NULL;
	json_object *vols, *cs;
	struct held h;
	char p[PATH_MAX];
	int users_ids = 0, held = 0;
	bool c1 = false;

	ASSERT_EQ(0, lcenv_status(&self->e, &st)) TH_LOG("%s: status failed", what);
	EXPECT_EQ(0, json_object_array_length(json_object_object_get(st, "quarantined")))
	TH_LOG("%s", what);
	ASSERT_EQ(0, plugin_held(&self->e, &h));
	vols = json_object_object_get(st, "volumes");
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		const char *id = json_object_get_string(json_object_object_get(v, "mount_id"));

		if (json_object_get_int(json_object_object_get(v, "refcount")) <= 0)
			continue;
		users_ids++;
		EXPECT_TRUE(id && is_held(&h, id))
		TH_LOG("%s: volume %s has users but the plugin holds no mount under its ID", what,
		       json_object_get_string(json_object_object_get(v, "name")));
	}
	for (size_t i = 0; i < h.n; i++)
		held += h.net[i] > 0;
	EXPECT_EQ(users_ids, held)
	TH_LOG("%s: the plugin holds %d mount(s), %d in use", what, held, users_ids);
	cs = json_object_object_get(st, "containers");
	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);

		c1 |= !strcmp(json_object_get_string(json_object_object_get(c, "container_id")),
			      "c1");
	}
	EXPECT_EQ(c1 ? 2 : 0, lc_mounts_under(self->ct[1].pid, tu_path(p, "%s/c1", self->sandbox)))
	TH_LOG("%s: c1 %s", what, c1 ? "recorded" : "not recorded");
	EXPECT_EQ(1, lc_mounts_under(self->ct[0].pid, tu_path(p, "%s/c0/v1", self->sandbox)))
	TH_LOG("%s", what);
}

static int run_op(FIXTURE_DATA(points) * self, struct run_result *r, const char *point,
		  const char *op)
{
	char pid[16];

	if (!strcmp(op, "prepare"))
		return lcenv_run_crash(
		    &self->e, r, point, "prepare", "--container-id", "c1", "--volumes", self->vols1,
		    "--pid", lc_pidstr(pid, self->ct[1].pid), "--sandbox", self->sandbox, NULL);
	if (!strcmp(op, "cleanup"))
		return lcenv_run_crash(&self->e, r, point, "cleanup", "--container-id", "c1", NULL);
	if (!strcmp(op, "recover"))
		return lcenv_run_crash(&self->e, r, point, "recover", "--known", "c0", NULL);
	if (!strcmp(op, "dvdcli-mount"))
		return lcenv_run_crash(&self->e, r, point, "dvdcli", "mount", "--volumedriver=tp",
				       "--volumename=v3", NULL);
	return lcenv_run_crash(&self->e, r, point, "dvdcli", "unmount", "--volumedriver=tp",
			       "--volumename=v3", NULL);
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
 * recover right after the kill: it finishes, or, where a Mount of the killed
 * run may still be under way (its in-flight window, marked before the Mount
 * goes out), keeps that volume for a retry and says so. Once every window
 * is over, recover finishes: a kill never leaves a volume recover fails on
 * forever. The callers check the invariants.
 */
static void recover(struct __test_metadata *_metadata, FIXTURE_DATA(points) * self,
		    const char *known, const char *what)
{
	struct run_result r;
	int marked;

	lcenv_run(&self->e, &r, "recover", "--known", known, NULL);
	if (r.status) {
		EXPECT_EQ(1, r.status) TH_LOG("%s: recover: %s", what, r.err);
		EXPECT_NE(NULL, strstr(r.err, "kept for retry"))
		TH_LOG("%s: recover: %s", what, r.err);
	}
	run_result_free(&r);
	marked = lcenv_expire_in_flight(&self->e);
	ASSERT_LE(0, marked) TH_LOG("%s", what);
	lcenv_run(&self->e, &r, "recover", "--known", known, NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s: recover once the window is over: %s", what, r.err);
	run_result_free(&r);
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

	for (size_t i = 0; i < self->n_points && _metadata->passed; i++) {
		snprintf(what, sizeof(what), "%s killed at %s", op, self->points[i]);
		if (before)
			run_ok(_metadata, self, before, what);
		run_op(self, &r, self->points[i], op);
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
	ASSERT_EQ(ARRAY_SIZE(known_points), self->n_points);
	for (size_t i = 0; i < self->n_points; i++)
		EXPECT_STREQ(known_points[i], self->points[i]);
}

/* prepare of c1, killed; recover knowing c1; prepare again if undone; cleanup. */
TEST_F(points, prepare_killed_at_every_point)
{
	struct run_result r;
	char what[128];
	int killed = 0;

	for (size_t i = 0; i < self->n_points && _metadata->passed; i++) {
		snprintf(what, sizeof(what), "prepare killed at %s", self->points[i]);
		run_op(self, &r, self->points[i], "prepare");
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
