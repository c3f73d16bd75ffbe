/* SPDX-License-Identifier: MIT */
/*
 * What is left after things go wrong: dvmount killed (SIGKILL) at each crash
 * point of prepare and cleanup and then recovered; a plugin Mount failing
 * for some volumes of a prepare; a container whose process died; requests
 * the policy denies. Afterwards no plugin mount is held for a container
 * that is gone or unknown (the plugin's log pairs every Mount with an
 * Unmount), and no record of a container that was fully prepared and is
 * known is lost.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/crashscene.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define KILLED (128 + SIGKILL)

FIXTURE(crash)
{
	struct lcenv e;
	struct tu_container ct[2];
	char sandbox[PATH_MAX], vols0[PATH_MAX], vols1[PATH_MAX];
};

FIXTURE_VARIANT(crash)
{
	const char *point;
	bool in_cleanup;
	bool committed; /* the prepare got to its commit: a known c1 stays */
};

FIXTURE_VARIANT_ADD(crash, prepare_after_intent){ .point = "after-intent" };
FIXTURE_VARIANT_ADD(crash, prepare_after_users){ .point = "after-users" };
FIXTURE_VARIANT_ADD(crash, prepare_after_durable_intent){ .point = "after-durable-intent" };
FIXTURE_VARIANT_ADD(crash, prepare_before_mount){ .point = "before-mount" };
FIXTURE_VARIANT_ADD(crash, prepare_after_mount){ .point = "after-mount" };
FIXTURE_VARIANT_ADD(crash, prepare_after_attach){ .point = "after-attach" };
FIXTURE_VARIANT_ADD(crash, prepare_after_commit){ .point = "after-commit", .committed = true };
FIXTURE_VARIANT_ADD(crash, cleanup_after_detach){ .point = "cleanup-after-detach",
						  .in_cleanup = true };
FIXTURE_VARIANT_ADD(crash, cleanup_after_users){ .point = "cleanup-after-users",
						 .in_cleanup = true };
FIXTURE_VARIANT_ADD(crash, cleanup_before_unmount){ .point = "before-unmount", .in_cleanup = true };
FIXTURE_VARIANT_ADD(crash, cleanup_after_unmount){ .point = "after-unmount", .in_cleanup = true };

/* c0 survives with v1; c1 (v1 shared, v2 its own) is the one interrupted. */
FIXTURE_SETUP(crash)
{
	struct run_result r;
	int ret =
	    crash_scene_start(&self->e, self->ct, self->sandbox, self->vols0, self->vols1, &r);

	ASSERT_EQ(0, ret) OK_OR_LOG(r);
	run_result_free(&r);
}

FIXTURE_TEARDOWN(crash)
{
	tu_container_stop(&self->ct[0]);
	tu_container_stop(&self->ct[1]);
	lcenv_teardown(&self->e);
}

/* c1 is gone for good: nothing of it is held, c0 is intact. */
static void expect_c1_gone(struct __test_metadata *_metadata, FIXTURE_DATA(crash) * self)
{
	char p[PATH_MAX];
	json_object *st = NULL;

	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v2"));
	EXPECT_EQ(lcenv_log_count(&self->e, "Mount", "v2"),
		  lcenv_log_count(&self->e, "Unmount", "v2"));
	/* Only c0's v1 is still held at the plugin. */
	EXPECT_EQ(1, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(0, lc_mounts_under(0, tu_path(p, "%s/mnt/v2", self->e.tproot)));
	EXPECT_EQ(0, lc_mounts_under(self->ct[1].pid, tu_path(p, "%s/c1", self->sandbox)));
	EXPECT_EQ(1, lc_mounts_under(self->ct[0].pid, tu_path(p, "%s/c0/v1", self->sandbox)));
	ASSERT_EQ(0, lcenv_status(&self->e, &st));
	EXPECT_EQ(1, json_object_array_length(json_object_object_get(st, "containers")));
	EXPECT_EQ(0, json_object_array_length(json_object_object_get(st, "quarantined")));
	json_object_put(st);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

TEST_F(crash, recover_undoes_what_is_unknown_and_keeps_what_is_known)
{
	struct run_result r;
	char pid[16], p[PATH_MAX];
	int mounts;

	if (variant->in_cleanup) {
		lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", self->vols1,
			  "--pid", lc_pidstr(pid, self->ct[1].pid), "--sandbox", self->sandbox,
			  NULL);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
		lcenv_run_crash(&self->e, &r, variant->point, "cleanup", "--container-id", "c1",
				NULL);
	} else {
		lcenv_run_crash(&self->e, &r, variant->point, "prepare", "--container-id", "c1",
				"--volumes", self->vols1, "--pid", lc_pidstr(pid, self->ct[1].pid),
				"--sandbox", self->sandbox, NULL);
	}
	ASSERT_EQ(KILLED, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	mounts = lcenv_log_all(&self->e, "Mount");

	/* The containerizer restarts and still knows both (c1 if it was started). */
	lcenv_run(&self->e, &r, "recover", "--known", "c0,c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	/* Recovery never mounts. */
	EXPECT_EQ(mounts, lcenv_log_all(&self->e, "Mount"));
	if (variant->committed) {
		/* Fully prepared and known: kept, counts and mounts intact. */
		EXPECT_EQ(2, lcenv_status_refcount(&self->e, "v1"));
		EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v2"));
		EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
		EXPECT_EQ(2, lc_mounts_under(self->ct[1].pid, tu_path(p, "%s/c1", self->sandbox)));
	} else if (variant->in_cleanup) {
		/*
		 * A half-done cleanup of a container still known: its record may
		 * stay for the containerizer to finish, but v2 is either still
		 * held for it or released for good, never leaked.
		 */
		int v2 = lcenv_status_refcount(&self->e, "v2");

		EXPECT_TRUE(v2 == -ENOENT || v2 == 1) TH_LOG("v2 refcount %d", v2);
		if (v2 == -ENOENT)
			EXPECT_EQ(lcenv_log_count(&self->e, "Mount", "v2"),
				  lcenv_log_count(&self->e, "Unmount", "v2"));
		EXPECT_EQ(2, lcenv_status_refcount(&self->e, "v1") + (v2 == -ENOENT));
		EXPECT_EQ(1,
			  lc_mounts_under(self->ct[0].pid, tu_path(p, "%s/c0/v1", self->sandbox)));
	} else {
		/* A prepare that never finished is undone whatever the containerizer says. */
		expect_c1_gone(_metadata, self);
	}

	/* Later the containerizer no longer knows c1. */
	lcenv_run(&self->e, &r, "recover", "--known", "c0", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	expect_c1_gone(_metadata, self);

	EXPECT_EQ(mounts, lcenv_log_all(&self->e, "Mount"));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lc_expect_released(_metadata, &self->e);
	/* Not even an empty directory of a volume is left in the state. */
	EXPECT_EQ(0, count_entries(tu_path(p, "%s/volumes", self->e.state)));
}

LC_FIXTURE(failure);

/*
 * Container "c" started and prepared (--pid, --sandbox <dir>/sb) with
 * volumes v1, v2, v3 while the plugin's faults file holds faults; r holds
 * prepare's result, for the caller to check and free.
 */
static void prepare_three_with_faults(struct __test_metadata *_metadata,
				      FIXTURE_DATA(failure) * self, const char *faults,
				      char ret_sandbox[static PATH_MAX], struct run_result *r)
{
	const struct lcvol v[] = { { .name = "v1", .path = "1" },
				   { .name = "v2", .path = "2" },
				   { .name = "v3", .path = "3" } };
	char vols[PATH_MAX], pid[16];

	tu_path(ret_sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(ret_sandbox, 0755));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 3, vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, faults));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", ret_sandbox, NULL);
}

/* All or nothing: one failed Mount of three undoes the two that worked. */
TEST_F(failure, one_mount_of_three_fails_nothing_remains)
{
	char sandbox[PATH_MAX];
	struct run_result r;

	prepare_three_with_faults(_metadata, self, "Mount error disk on fire volume=v2\n", sandbox,
				  &r);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, count_str(r.err, "disk on fire")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "'c'")) OK_OR_LOG(r);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	EXPECT_EQ(2, lcenv_log_count(&self->e, "Mount", NULL));
	EXPECT_EQ(2, lcenv_log_count(&self->e, "Unmount", NULL));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, sandbox));
	lc_expect_released(_metadata, &self->e);
}

/* Every failure is listed, one line each. */
TEST_F(failure, two_mounts_fail_both_reported)
{
	char sandbox[PATH_MAX];
	struct run_result r;

	prepare_three_with_faults(_metadata, self,
				  "Mount error quota volume=v1\nMount error no space volume=v3\n",
				  sandbox, &r);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, count_str(r.err, "quota")) OK_OR_LOG(r);
	EXPECT_EQ(1, count_str(r.err, "no space")) OK_OR_LOG(r);
	EXPECT_EQ(2, count_str(r.err, "\n")) OK_OR_LOG(r);
	run_result_free(&r);
	lc_expect_released(_metadata, &self->e);
}

/* A failed prepare leaves a volume that another container holds as it was. */
TEST_F(failure, failed_prepare_keeps_other_containers_volume)
{
	char vols0[PATH_MAX], vols1[PATH_MAX], hostdir[PATH_MAX];
	struct run_result r;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	struct lcvol v0[] = { { .name = "v1", .path = hostdir } };
	struct lcvol v1[] = { { .name = "v1", .path = hostdir },
			      { .name = "bad", .path = hostdir } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "v0.json", v0, 1, vols0));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "v1.json", v1, 2, vols1));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount error nope volume=bad\n"));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", vols0, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c1", "--volumes", vols1, NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(1, lc_mounts_under(0, self->e.tproot));
}

LC_FIXTURE(gc);

/* The process a container was attached to died: --gc-dead cleans it, keeps the live one. */
TEST_F(gc, dead_process_cleaned_live_one_kept)
{
	char vols0[PATH_MAX], vols1[PATH_MAX], sandbox[PATH_MAX], pid[16];
	struct run_result r;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v0[] = { { .name = "v1", .path = "a" } };
	struct lcvol v1[] = { { .name = "v1", .path = "a" }, { .name = "v2", .path = "b" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "v0.json", v0, 1, vols0));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "v1.json", v1, 2, vols1));
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, tu_container_start(&self->ct[i], NULL, 0));
		lcenv_run(&self->e, &r, "prepare", "--container-id", i ? "dead" : "live",
			  "--volumes", i ? vols1 : vols0, "--pid", lc_pidstr(pid, self->ct[i].pid),
			  "--sandbox", sandbox, NULL);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
	}
	tu_container_stop(&self->ct[1]);

	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "1 container(s) cleaned up")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v2"));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v2"));
	EXPECT_EQ(1, lc_mounts_under(self->ct[0].pid, sandbox));

	/* Running it again changes nothing. */
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
}

/*
 * Issue 11: a user entry beside the container's own in the volume's users
 * directory, with no record behind it. A crash (or a bug) leaves one; it
 * must never keep the volume mounted once its real users are gone.
 */
static void stray_entry_never_holds(struct __test_metadata *_metadata, struct lcenv *e,
				    struct tu_container *ct, const char *stray, const char *content)
{
	char vols[PATH_MAX], sandbox[PATH_MAX], path[PATH_MAX], pid[16];
	struct run_result r;

	tu_path(sandbox, "%s/sb", e->dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol v[] = { { .name = "v1", .path = "a" } };
	ASSERT_EQ(0, lcenv_volumes(e, "v.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(ct, NULL, 0));
	lcenv_run(e, &r, "prepare", "--container-id", "dead", "--volumes", vols, "--pid",
		  lc_pidstr(pid, ct->pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	tu_path(path, "%s/volumes/tp@v1/users/dead", e->state);
	ASSERT_EQ(0, access(path, F_OK));
	tu_path(path, "%s/volumes/tp@v1/users/%s", e->state, stray);
	ASSERT_EQ(0, tu_write_file(path, content));
	tu_container_stop(ct);

	lcenv_run(e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "1 container(s) cleaned up")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(e, "Unmount", "v1"));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(e, "v1"));
	EXPECT_EQ(0, lc_mounts_under(0, e->tproot));
	EXPECT_NE(0, access(path, F_OK));
}

TEST_F(gc, torn_user_entry_without_record_does_not_hold_the_volume)
{
	/* 17 bytes, as the issue found it: not an entry dvmount ever writes. */
	stray_entry_never_holds(_metadata, &self->e, &self->ct[0], "torn", "{\"container_id\":");
}

TEST_F(gc, orphan_user_entry_without_record_does_not_hold_the_volume)
{
	/* Empty, as dvmount writes them: only the missing record tells it apart. */
	stray_entry_never_holds(_metadata, &self->e, &self->ct[0], "orphan", "");
}

/* The mount id a container record names for its first volume. */
static int record_mount_id(struct lcenv *e, const char *cid, const char *key, char id[static 65])
{
	char path[PATH_MAX];
	char *text;
	json_object *rec, *vol;
	const char *s;

	tu_path(path, "%s/containers/%s.json", e->state, cid);
	text = read_file(path);
	if (!text)
		return -errno;
	rec = json_tokener_parse(text);
	free(text);
	vol = json_object_array_get_idx(json_object_object_get(rec, "volumes"), 0);
	s = json_object_get_string(json_object_object_get(vol, key));
	snprintf(id, 65, "%s", s ? s : "");
	json_object_put(rec);
	return s ? 0 : -ENOENT;
}

/* Container c1 prepared (no --pid) with volume v1 at <dir>/ct/a; the spec's path. */
static void prepare_c1(struct __test_metadata *_metadata, struct lcenv *e,
		       char ret_vols[static PATH_MAX])
{
	char path[PATH_MAX];
	const struct lcvol v = { .name = "v1", .path = path };
	struct run_result r;

	ASSERT_EQ(0, tu_mkdirs(tu_path(path, "%s/ct/a", e->dir), 0755));
	ASSERT_EQ(0, lcenv_volumes(e, "v.json", &v, 1, ret_vols));
	lcenv_run(e, &r, "prepare", "--container-id", "c1", "--volumes", ret_vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/*
 * A power cut loses what was not fsync()ed: the volume entry, here. The
 * durable record still names the mount id, so cleanup Unmounts it.
 */
TEST_F(gc, lost_volume_entry_is_derived_again_from_the_record)
{
	char vols[PATH_MAX], path[PATH_MAX], id[65] = ""; /* a mount id: 64 hex digits */
	struct run_result r;
	char *text;

	prepare_c1(_metadata, &self->e, vols);
	ASSERT_EQ(0, record_mount_id(&self->e, "c1", "mount_id", id));
	ASSERT_EQ(64u, strlen(id));
	tu_path(path, "%s/volumes/tp@v1/volume.json", self->e.state);
	ASSERT_EQ(0, unlink(path));

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v1"));
	text = read_file(self->e.log);
	ASSERT_NE(NULL, text);
	/* The Unmount is the last call, under the id the record named. */
	EXPECT_NE(NULL, strstr(strstr(text, "VolumeDriver.Unmount") ?: "", id)) TH_LOG("%s", text);
	free(text);
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v1"));
}

/*
 * A power cut can lose the entry's write of a renewal (its mount went away,
 * prepare renewed it under a new id) yet keep the durable record naming the
 * new id: cleanup must Unmount the new id, not only the old one again.
 */
TEST_F(gc, lost_renewal_of_an_entry_is_derived_again_from_the_record)
{
	char vols[PATH_MAX], entry[PATH_MAX], x[65], y[65], from[65];
	struct run_result r;
	char *old, *text;
	json_object *o;

	prepare_c1(_metadata, &self->e, vols);
	ASSERT_EQ(0, record_mount_id(&self->e, "c1", "mount_id", x));
	/* Its mount "went away": the entry's mountpoint no longer exists. */
	tu_path(entry, "%s/volumes/tp@v1/volume.json", self->e.state);
	text = read_file(entry);
	ASSERT_NE(NULL, text);
	o = json_tokener_parse(text);
	free(text);
	json_object_object_add(o, "host_path", json_object_new_string("/nonexistent/gone"));
	old = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	ASSERT_EQ(0, tu_write_file(entry, old));

	lcenv_run(&self->e, &r, "prepare", "--container-id", "c2", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, record_mount_id(&self->e, "c2", "mount_id", y));
	ASSERT_EQ(0, record_mount_id(&self->e, "c2", "renewed_from", from));
	EXPECT_STRNE(x, y);
	EXPECT_STREQ(x, from);
	/* The power cut: the renewal's entry write is lost, the record is not. */
	ASSERT_EQ(0, tu_write_file(entry, old));
	free(old);

	for (int i = 0; i < 2; i++) {
		lcenv_run(&self->e, &r, "cleanup", "--container-id", i ? "c2" : "c1", NULL);
		EXPECT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
	}
	text = read_file(self->e.log);
	ASSERT_NE(NULL, text);
	EXPECT_NE(NULL, strstr(text, y)) TH_LOG("no call under %s: %s", y, text);
	/* y's Mount and its Unmount: the id appears in two calls. */
	EXPECT_EQ(2, count_str(text, y)) TH_LOG("%s", text);
	free(text);
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v1"));
}

LC_FIXTURE(policy);

static int log_lines(struct lcenv *e)
{
	char *text = read_file(e->log);
	int n = count_str(text, "\n");

	free(text);
	return n;
}

TEST_F(policy, no_policy_file_denies_before_any_plugin_call)
{
	char vols[PATH_MAX], hostdir[PATH_MAX];
	struct run_result r;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	struct lcvol v[] = { { .name = "v", .path = hostdir } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, unlink(self->e.policy));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	/* It says where the file goes. */
	EXPECT_NE(NULL, strstr(r.err, self->e.policy)) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, log_lines(&self->e));
}

/*
 * A plugin socket bound by root but listened on by another uid (what
 * SO_PEERCRED reports): every byte sent to it is written to the pipe *ret_rfd.
 */
static pid_t listen_as(const char *path, uid_t uid, int *ret_rfd)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int p[2], fd;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		char buf[512];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0 ||
		    listen(fd, 8) < 0)
			_exit(1);
		for (;;) {
			int c = accept(fd, NULL, NULL);
			ssize_t len;

			while (c >= 0 && (len = read(c, buf, sizeof(buf))) > 0)
				if (write(p[1], buf, (size_t)len) < 0)
					_exit(1);
			close(c);
		}
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	*ret_rfd = p[0];
	return pid;
}

/*
 * The socket's owner is the process listening on it, read on the connected
 * socket (SO_PEERCRED): a root-owned socket file does not make a plugin
 * run by nobody trusted, and nothing at all is sent to it.
 */
TEST_F(policy, plugin_listening_as_another_user_is_not_trusted)
{
	char vols[PATH_MAX], hostdir[PATH_MAX], sock[PATH_MAX], text[3 * PATH_MAX], buf[64];
	struct run_result r;
	struct stat st;
	int rfd = -1;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	pid_t nob = listen_as(tu_path(sock, "%s/nob.sock", self->e.plugins), 65534, &rfd);
	ASSERT_LT(0, nob);
	ASSERT_EQ(0, wait_socket(sock, 5000));
	ASSERT_EQ(0, stat(sock, &st));
	ASSERT_EQ(0, st.st_uid); /* bound by root: a stat would have trusted it */
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver tp]\nhost-paths = %s\nmodes = RW RO\n\n"
		 "[driver nob]\nhost-paths = %s\nmodes = RW RO\n",
		 self->e.tproot, hostdir);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	struct lcvol v[] = { { .name = "v", .path = "/data", .driver = "nob" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "owned by uid 65534, not root")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "'nob'")) OK_OR_LOG(r);
	run_result_free(&r);
	/* Not even Activate reached it. */
	EXPECT_EQ(-1, read(rfd, buf, sizeof(buf)));
	EXPECT_EQ(EAGAIN, errno);
	stop_process(nob, 2000);
	close(rfd);
}

/* The socket file's owner is not what counts: root's plugin behind a chowned file is. */
TEST_F(policy, plugin_socket_file_owner_does_not_count)
{
	char vols[PATH_MAX], hostdir[PATH_MAX], sock[PATH_MAX];
	struct run_result r;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	struct lcvol v[] = { { .name = "v", .path = hostdir } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, chown(tu_path(sock, "%s/tp.sock", self->e.plugins), 65534, 65534));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "v"));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

TEST_F(policy, driver_not_in_policy_denied_before_any_plugin_call)
{
	char vols[PATH_MAX], hostdir[PATH_MAX];
	struct run_result r;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	/* Another plugin that is there and would answer, but is not allowed. */
	pid_t other = testplugin_start(self->e.dir, "other", NULL);
	ASSERT_LT(0, other);
	struct lcvol v[] = { { .name = "v", .path = hostdir, .driver = "other" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "other")) OK_OR_LOG(r);
	run_result_free(&r);
	stop_process(other, 2000);
	EXPECT_EQ(0, log_lines(&self->e));
	char olog[PATH_MAX];
	char *text = read_file(tu_path(olog, "%s/other.log", self->e.dir));
	EXPECT_EQ(0, count_str(text, "\n")) TH_LOG("%s", text);
	free(text);
}

TEST_F(policy, mountpoint_outside_host_paths_denied_and_unmounted)
{
	char vols[PATH_MAX], hostdir[PATH_MAX], elsewhere[PATH_MAX], text[2 * PATH_MAX];
	struct run_result r;
	int c, v;

	tu_path(hostdir, "%s/hostdir", self->e.dir);
	tu_path(elsewhere, "%s/elsewhere", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(hostdir, 0755));
	ASSERT_EQ(0, tu_mkdirs(elsewhere, 0755));
	snprintf(text, sizeof(text), "[dvmount]\ncallers = uid:0\n\n[driver tp]\nhost-paths = %s\n",
		 elsewhere);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	struct lcvol vol[] = { { .name = "v", .path = hostdir } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "host-paths")) OK_OR_LOG(r);
	run_result_free(&r);
	/* The Mount that did happen is undone. */
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "v"));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
	EXPECT_EQ(0, lc_mounts_under(0, hostdir));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

TEST_F(policy, container_path_proc_sys_denied_before_any_plugin_call)
{
	char vols[PATH_MAX], pid[16];
	struct run_result r;

	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	struct lcvol v[] = { { .name = "v", .path = "/proc/sys" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "/proc")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, log_lines(&self->e));
	EXPECT_EQ(0, lc_mounts_under(self->ct[0].pid, "/proc/sys"));
}

/*
 * The attach flags the policy asks for are on the real mount in the
 * container: nosuid and nodev by default, read-only when forced, even for a
 * volume asked for RW.
 */
TEST_F(policy, attached_mounts_carry_the_policy_flags)
{
	char vols[PATH_MAX], target[PATH_MAX], text[2 * PATH_MAX], in[PATH_MAX + 32], pid[16];
	struct tu_container ct = { 0 };
	struct run_result r;
	struct statvfs sv;

	tu_path(target, "%s/ctr/data", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	/*
	 * The scratch tmpfs is nosuid,nodev and binds inherit that: clear it, so
	 * that only dvmount can have put the flags on the attached mount.
	 */
	ASSERT_EQ(0, mount(NULL, self->e.scratch.path, NULL, MS_REMOUNT, "mode=0755"));
	ASSERT_EQ(0, statvfs(self->e.tproot, &sv));
	ASSERT_FALSE(sv.f_flag & (ST_NOSUID | ST_NODEV | ST_RDONLY));
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver tp]\nhost-paths = %s\nmodes = RW RO\nforce-readonly = yes\n",
		 self->e.tproot);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	struct lcvol v[] = { { .name = "v", .path = target, .mode = "RW" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&ct, NULL, 0));
	snprintf(pid, sizeof(pid), "%d", (int)ct.pid);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "flags", "--volumes", vols, "--pid",
		  pid, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "\"readonly\":true")) OK_OR_LOG(r);
	run_result_free(&r);
	snprintf(in, sizeof(in), "/proc/%d/root%s", (int)ct.pid, target);
	ASSERT_EQ(0, statvfs(in, &sv));
	EXPECT_TRUE(sv.f_flag & ST_RDONLY);
	EXPECT_TRUE(sv.f_flag & ST_NOSUID);
	EXPECT_TRUE(sv.f_flag & ST_NODEV);
	EXPECT_EQ(-EROFS, lc_ct_write(ct.pid, 0, 0, tu_path(text, "%s/f", target), "x"));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "flags", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	tu_container_stop(&ct);
}

TEST_HARNESS_MAIN
