/* SPDX-License-Identifier: MIT */
/*
 * The OCI hook's one-annotation-per-volume form
 * (org.dvmount.volume.NAME=DRIVER:CONTAINER_PATH[:ro|:rw], options in
 * org.dvmount.volume.NAME.opt.KEY), and the hooks.d files that `make install`
 * ships: their "when" rule applied the way podman applies it (oci-hooks(5))
 * to bundles run by runc and crun, and real podman 4.3 with its own
 * configuration, storage and hooks dir under the test's scratch directory.
 */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "helper/oci_annotations.h"

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

/* The annotations (a JSON object's text) as prepare's volumes JSON; why on failure. */
static int convert(const char *annotations, char **ret, char why[static 512])
{
	json_object *ann = json_tokener_parse(annotations);
	int r;

	why[0] = '\0';
	if (!ann)
		return -EBADMSG;
	r = oci_annotations_volumes(ann, ret, why, 512);
	json_object_put(ann);
	return r;
}

#define VOL(path, mode, driver, name, extra)                                                       \
	"{\"container_path\":\"" path "\",\"mode\":\"" mode "\",\"source\":{\"type\":"             \
	"\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"" driver "\",\"name\":\"" name          \
	"\"" extra "}}}"

TEST(one_annotation_per_volume_is_the_mesos_json)
{
	_cleanup_free_ char *json = NULL;
	char why[512];

	ASSERT_EQ(0, convert("{\"org.dvmount.volume.web\": \"rclone:/srv/www:ro\","
			     " \"org.dvmount.volume.data\": \"tp:/data\","
			     " \"org.dvmount.volume.data.opt.size\": \"10G\","
			     " \"org.dvmount.volume.logs\": \"tp:logs:rw\","
			     " \"io.podman.other\": \"x\"}",
			     &json, why));
	/* Sorted by volume name; RW unless ":ro"; a relative path stays relative. */
	EXPECT_STREQ(
	    "[" VOL("/data", "RW", "tp", "data",
		    ",\"driver_options\":{\"parameter\":[{\"key\":\"size\",\"value\":"
		    "\"10G\"}]}") "," VOL("logs", "RW", "tp", "logs",
					  "") "," VOL("/srv/www", "RO", "rclone", "web", "") "]",
	    json);
}

TEST(no_volume_annotation_is_no_volumes)
{
	char *json = (char *)"unset", why[512];

	ASSERT_EQ(0,
		  convert("{\"org.dvmount.volumes\": \"[]\", \"org.other\": \"a:b\"}", &json, why));
	EXPECT_EQ(NULL, json);
}

TEST(malformed_annotations_are_refused_by_name)
{
	static const struct {
		const char *ann;
		const char *why;
	} bad[] = {
		{ "{\"org.dvmount.volume.v\": \"/data\"}",
		  "annotation 'org.dvmount.volume.v': '/data' is not "
		  "DRIVER:CONTAINER_PATH[:ro|:rw]" },
		{ "{\"org.dvmount.volume.v\": \":/data\"}", "':/data' is not DRIVER:" },
		{ "{\"org.dvmount.volume.v\": \"tp:\"}", "'tp:' is not DRIVER:" },
		{ "{\"org.dvmount.volume.v\": 5}", "'org.dvmount.volume.v' must name a volume" },
		{ "{\"org.dvmount.volume.\": \"tp:/d\"}",
		  "'org.dvmount.volume.' must name a volume" },
		{ "{\"org.dvmount.volume.v.opt.size\": \"1\"}",
		  "annotation 'org.dvmount.volume.v.opt.size': no volume annotation "
		  "'org.dvmount.volume.v'" },
		{ "{\"org.dvmount.volume.v\": \"tp:/d\", \"org.dvmount.volume.v.opt.\": \"1\"}",
		  "'org.dvmount.volume.v.opt.' is not 'org.dvmount.volume.NAME.opt.KEY'" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *json = NULL, why[512];

		EXPECT_EQ(-EINVAL, convert(bad[i].ann, &json, why)) TH_LOG("%s", bad[i].ann);
		EXPECT_EQ(NULL, json);
		EXPECT_NE(NULL, strstr(why, bad[i].why)) TH_LOG("%s: %s", bad[i].ann, why);
	}
}

/*
 * A world for running containers: lcenv (test plugin "tp" with a volume v1
 * holding "hello", policy, state), a busybox rootfs, and the hooks.d files of
 * dist/hooks.d turned into hooks for this build and this world.
 */
FIXTURE(hooksd)
{
	struct lcenv e;
	char rootfs[PATH_MAX], hooksd[PATH_MAX], dvmount[PATH_MAX];
	const char *runtime;
	char runtime_root[PATH_MAX];
	char cid[64];
};

/* dist/hooks.d/NAME with the hook's path and global options of this test. */
static int write_hooksd_file(FIXTURE_DATA(hooksd) * self, const char *name)
{
	char from[PATH_MAX], to[PATH_MAX];
	json_object *f, *hook, *args, *nargs;
	int r;

	snprintf(from, sizeof(from), "%s/dist/hooks.d/%s", DVMOUNT_SRCDIR, name);
	f = json_object_from_file(from);
	if (!f || !json_object_object_get_ex(f, "hook", &hook) ||
	    !json_object_object_get_ex(hook, "args", &args))
		return -EINVAL;
	json_object_object_add(hook, "path", json_object_new_string(self->dvmount));
	nargs = json_object_new_array();
	const char *globals[] = { "--state-dir",  self->e.state,   "--policy",
				  self->e.policy, "--plugin-path", self->e.plugins };

	json_object_array_add(nargs, json_object_get(json_object_array_get_idx(args, 0)));
	for (size_t i = 0; i < sizeof(globals) / sizeof(globals[0]); i++)
		json_object_array_add(nargs, json_object_new_string(globals[i]));
	for (size_t i = 1; i < json_object_array_length(args); i++)
		json_object_array_add(nargs, json_object_get(json_object_array_get_idx(args, i)));
	json_object_object_add(hook, "args", nargs);
	r = json_object_to_file(tu_path(to, "%s/%s", self->hooksd, name), f) == 0 ? 0 : -EIO;
	json_object_put(f);
	return r;
}

FIXTURE_SETUP(hooksd)
{
	char p[PATH_MAX];

	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	ASSERT_NE(NULL, realpath(build_path("dvmount"), self->dvmount));
	tu_path(self->rootfs, "%s/rootfs", self->e.dir);
	tu_path(self->hooksd, "%s/hooks.d", self->e.dir);
	tu_path(self->runtime_root, "%s/runtime", self->e.dir);
	snprintf(self->cid, sizeof(self->cid), "dvmount-hooksd-test-%d", (int)getpid());
	ASSERT_EQ(0, lc_mkrootfs(self->rootfs));
	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/volumes/v1/data", self->e.tproot), 0755));
	ASSERT_EQ(0, tu_write_file(tu_path(p, "%s/volumes/v1/data/hello", self->e.tproot),
				   "hello from the volume\n"));
	ASSERT_EQ(0, tu_mkdirs(self->hooksd, 0755));
	ASSERT_EQ(0, write_hooksd_file(self, "dvmount-createruntime.json"));
	ASSERT_EQ(0, write_hooksd_file(self, "dvmount-poststop.json"));
}

FIXTURE_TEARDOWN(hooksd)
{
	if (self->runtime) {
		struct run_result r;
		char *argv[] = { (char *)self->runtime,
				 "--root",
				 self->runtime_root,
				 "delete",
				 "--force",
				 self->cid,
				 NULL };

		if (run_argv(&r, argv, 20000) == 0)
			run_result_free(&r);
	}
	lcenv_teardown(&self->e);
}

/* Does hooks.d file f's "when" hold for these annotations (oci-hooks(5), 1.0.0)? */
static bool when_matches(json_object *f, json_object *ann)
{
	json_object *when, *rules;
	bool match = false;

	if (!json_object_object_get_ex(f, "when", &when) ||
	    !json_object_object_get_ex(when, "annotations", &rules))
		return false;
	json_object_object_foreach(rules, kre, vre)
	{
		regex_t kr, vr;

		if (regcomp(&kr, kre, REG_EXTENDED | REG_NOSUB))
			return false;
		if (regcomp(&vr, json_object_get_string(vre), REG_EXTENDED | REG_NOSUB)) {
			regfree(&kr);
			return false;
		}
		json_object_object_foreach(ann, k, v)
		{
			if (!regexec(&kr, k, 0, NULL, 0) &&
			    !regexec(&vr, json_object_get_string(v), 0, NULL, 0))
				match = true;
		}
		regfree(&kr);
		regfree(&vr);
	}
	return match;
}

/*
 * `runc spec` with the command, the annotations, and the hooks that podman
 * would add from our hooks.d directory for them.
 */
static int make_bundle(FIXTURE_DATA(hooksd) * self, const char *runc, const char *command,
		       json_object *ann)
{
	char p[PATH_MAX];
	static const char *const files[] = { "dvmount-createruntime.json",
					     "dvmount-poststop.json" };
	json_object *c, *hooks, *root;
	int ok;

	c = runc_spec_config(runc, self->e.dir, command);
	if (!c)
		return -1;
	json_object_object_get_ex(c, "root", &root);
	json_object_object_add(root, "path", json_object_new_string(self->rootfs));
	hooks = json_object_new_object();
	for (size_t i = 0; i < 2; i++) {
		json_object *f = json_object_from_file(tu_path(p, "%s/%s", self->hooksd, files[i]));
		json_object *hook, *stages;

		if (f && when_matches(f, ann) && json_object_object_get_ex(f, "hook", &hook) &&
		    json_object_object_get_ex(f, "stages", &stages)) {
			for (size_t s = 0; s < json_object_array_length(stages); s++) {
				const char *stage =
				    json_object_get_string(json_object_array_get_idx(stages, s));
				json_object *list;

				if (!json_object_object_get_ex(hooks, stage, &list)) {
					list = json_object_new_array();
					json_object_object_add(hooks, stage, list);
				}
				json_object_array_add(list, json_object_get(hook));
			}
		}
		json_object_put(f);
	}
	json_object_object_add(c, "hooks", hooks);
	json_object_object_add(c, "annotations", json_object_get(ann));
	ok = json_object_to_file_ext(tu_path(p, "%s/config.json", self->e.dir), c,
				     JSON_C_TO_STRING_PRETTY) == 0;
	json_object_put(c);
	return ok ? 0 : -1;
}

/* Run the bundle with runc or crun; the container's stdout. */
static void run_bundle(struct __test_metadata *_metadata, FIXTURE_DATA(hooksd) * self,
		       const char *runtime, bool crun, int expect_status, const char *expect_out)
{
	struct run_result r;

	self->runtime = runtime;
	ASSERT_EQ(0, run_oci_bundle(&r, runtime, crun, self->runtime_root, self->e.dir, self->cid));
	EXPECT_EQ(expect_status, r.status) TH_LOG("%s: %s", runtime, r.err);
	EXPECT_STREQ(expect_out, r.out) TH_LOG("stderr: %s", r.err);
	run_result_free(&r);
}

static json_object *annotations(const char *text)
{
	return json_tokener_parse(text);
}

static void expect_one_use_released(struct __test_metadata *_metadata, struct lcenv *e)
{
	int containers = -1, volumes = -1;

	EXPECT_EQ(1, lcenv_log_count(e, "Mount", "v1"));
	EXPECT_EQ(1, lcenv_log_count(e, "Unmount", "v1"));
	EXPECT_EQ(0, lcenv_status_counts(e, &containers, &volumes));
	EXPECT_EQ(0, containers);
	EXPECT_EQ(0, volumes);
}

/* The per-volume form, RO, through the hooks.d rule, with runc. */
TEST_F(hooksd, runc_per_volume_annotation_readonly)
{
	char buf[PATH_MAX];
	const char *runc = find_program("runc", buf);
	_cleanup_json_ json_object *ann =
	    annotations("{\"org.dvmount.volume.v1\": \"tp:/data:ro\"}");

	if (!runc)
		SKIP(return, "runc is not installed (apt-get install runc)");
	ASSERT_EQ(0,
		  make_bundle(self, runc, "cat /data/hello; touch /data/x || echo refused", ann));
	run_bundle(_metadata, self, runc, false, 0, "hello from the volume\nrefused\n");
	expect_one_use_released(_metadata, &self->e);
}

/* The same with crun, and an option that reaches the plugin's Create. */
TEST_F(hooksd, crun_per_volume_annotation_with_option)
{
	char buf[2][PATH_MAX];
	const char *crun = find_program("crun", buf[0]), *runc = find_program("runc", buf[1]);
	_cleanup_json_ json_object *ann =
	    annotations("{\"org.dvmount.volume.v2\": \"tp:/data\","
			" \"org.dvmount.volume.v2.opt.size\": \"7\"}");

	if (!crun || !runc)
		SKIP(
		    return,
			  "crun and runc (for `runc spec`) are needed (apt-get install crun runc)");
	/* crun 1.8 refuses cgroup hybrid mode (facts/oci-runtimes.md): not in our namespace. */
	if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0)
		ASSERT_TRUE(errno == EINVAL || errno == ENOENT);
	ASSERT_EQ(0, make_bundle(self, runc, "echo written > /data/f && cat /data/f", ann));
	run_bundle(_metadata, self, crun, true, 0, "written\n");
	char *log = read_file(self->e.log);

	ASSERT_NE(NULL, log);
	EXPECT_EQ(1, count_str(log, "\"size\":\"7\"")) TH_LOG("%s", log);
	free(log);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "v2"));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v2"));
}

/* No dvmount annotation: the rule does not match, no hook runs, the plugin hears nothing. */
TEST_F(hooksd, other_annotations_run_no_hook)
{
	char buf[PATH_MAX];
	const char *runc = find_program("runc", buf);
	_cleanup_json_ json_object *ann = annotations("{\"org.example.volume.v1\": \"tp:/data\"}");

	if (!runc)
		SKIP(return, "runc is not installed (apt-get install runc)");
	ASSERT_EQ(0, make_bundle(self, runc, "ls /data 2>&1 || true", ann));
	run_bundle(_metadata, self, runc, false, 0, "ls: /data: No such file or directory\n");
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Get"));
}

/* Both forms at once: the hook refuses, naming the container; the runtime fails. */
TEST_F(hooksd, both_forms_are_refused)
{
	char buf[PATH_MAX];
	const char *runc = find_program("runc", buf);
	_cleanup_json_ json_object *ann = annotations(
	    "{\"org.dvmount.volume.v1\": \"tp:/data\", \"org.dvmount.volumes\": \"[]\"}");
	struct run_result r;
	char *argv[] = { (char *)runc, "--root",    self->runtime_root, "run",
			 "--bundle",   self->e.dir, self->cid,		NULL };

	if (!runc)
		SKIP(return, "runc is not installed (apt-get install runc)");
	ASSERT_EQ(0, make_bundle(self, runc, "true", ann));
	ASSERT_EQ(0, tu_mkdirs(self->runtime_root, 0700));
	self->runtime = runc;
	ASSERT_EQ(0, run_argv(&r, argv, 60000));
	EXPECT_NE(0, r.status);
	EXPECT_NE(NULL, strstr(r.err, "both 'org.dvmount.volumes' and 'org.dvmount.volume.NAME' "
				      "annotations; use one form"))
	TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
}

/*
 * Real podman 4.3 (Debian 12) with runc: its own containers.conf, storage,
 * runroot and hooks dir under the scratch directory, and a tmpfs over
 * /var/lib/containers (its blob cache) in this test's mount namespace, so
 * the host's configuration and state are never touched.
 */
static int podman(FIXTURE_DATA(hooksd) * self, struct run_result *r, const char *args)
{
	char cmd[4 * PATH_MAX];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd),
		 "exec podman --root %s/podman/root --runroot %s/podman/runroot "
		 "--storage-driver vfs %s",
		 self->e.dir, self->e.dir, args);
	return run_argv(r, argv, 60000);
}

static int podman_setup(struct __test_metadata *_metadata, FIXTURE_DATA(hooksd) * self)
{
	char conf[PATH_MAX], text[4 * PATH_MAX], p[PATH_MAX], cmd[2 * PATH_MAX];
	struct run_result r;
	const char *d = self->e.dir;

	/* Only this namespace sees what podman writes outside its --root. */
	if (access("/var/lib/containers", F_OK) == 0) {
		ASSERT_EQ(0, mount("tmpfs", "/var/lib/containers", "tmpfs", 0, "mode=0700"));
	} else {
		ASSERT_EQ(0, mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=0755"));
	}
	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/podman/tmp", d), 0700));
	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/podman/net", d), 0700));
	/* default_ulimits: podman cannot start a container here without them. */
	snprintf(text, sizeof(text),
		 "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
		 "netns = \"none\"\n\n[engine]\nruntime = \"runc\"\nhooks_dir = [\"%s\"]\n"
		 "cgroup_manager = \"cgroupfs\"\nevents_logger = \"none\"\n"
		 "tmp_dir = \"%s/podman/tmp\"\nvolume_path = \"%s/podman/volumes\"\n"
		 "static_dir = \"%s/podman/static\"\n\n[network]\n"
		 "network_config_dir = \"%s/podman/net\"\n",
		 self->hooksd, d, d, d, d);
	ASSERT_EQ(0, tu_write_file(tu_path(conf, "%s/podman/containers.conf", d), text));
	ASSERT_EQ(0, setenv("CONTAINERS_CONF", conf, 1));
	snprintf(text, sizeof(text),
		 "[storage]\ndriver = \"vfs\"\ngraphroot = \"%s/podman/root\"\n"
		 "runroot = \"%s/podman/runroot\"\n",
		 d, d);
	ASSERT_EQ(0, tu_write_file(tu_path(conf, "%s/podman/storage.conf", d), text));
	ASSERT_EQ(0, setenv("CONTAINERS_STORAGE_CONF", conf, 1));
	ASSERT_EQ(0, tu_write_file(tu_path(conf, "%s/podman/registries.conf", d), ""));
	ASSERT_EQ(0, setenv("CONTAINERS_REGISTRIES_CONF", conf, 1));
	snprintf(cmd, sizeof(cmd),
		 "tar -C %s -c . | podman --root %s/podman/root --runroot "
		 "%s/podman/runroot --storage-driver vfs import - localhost/dvmount-test",
		 self->rootfs, d, d);
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	ASSERT_EQ(0, run_argv(&r, argv, 60000));
	EXPECT_EQ(0, r.status) TH_LOG("podman import: %s", r.err);
	run_result_free(&r);
	return 0;
}

TEST_F(hooksd, podman_runs_a_container_with_a_per_volume_annotation)
{
	struct run_result r;
	int containers = -1, volumes = -1;

	if (access("/usr/bin/podman", X_OK) != 0 || access("/usr/sbin/runc", X_OK) != 0)
		SKIP(return, "podman or runc missing (apt-get install podman runc)");
	podman_setup(_metadata, self);
	ASSERT_EQ(0, podman(self, &r,
			    "run --rm --annotation org.dvmount.volume.v1=tp:/data "
			    "localhost/dvmount-test cat /data/hello"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("hello from the volume\n", r.out) TH_LOG("%s", r.err);
	run_result_free(&r);
	expect_one_use_released(_metadata, &self->e);

	/*
	 * A container that fails after createRuntime: podman never runs
	 * poststop (facts/oci-runtimes.md), so the volume stays held until
	 * `recover --gc-dead`, which dvmount-recover.timer runs.
	 */
	ASSERT_EQ(0, podman(self, &r,
			    "run --rm --annotation org.dvmount.volume.v1=tp:/data "
			    "localhost/dvmount-test /nonexistent"));
	EXPECT_NE(0, r.status);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_status_counts(&self->e, &containers, &volumes));
	EXPECT_EQ(1, containers);
	EXPECT_EQ(1, volumes);
	ASSERT_EQ(0, lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_status_counts(&self->e, &containers, &volumes));
	EXPECT_EQ(0, containers);
	EXPECT_EQ(0, volumes);
	EXPECT_EQ(2, lcenv_log_count(&self->e, "Unmount", "v1"));
}

TEST_HARNESS_MAIN
