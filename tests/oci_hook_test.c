/* SPDX-License-Identifier: MIT */
/*
 * dvmount oci-hook: the hook fed by hand the state runc and crun write on its
 * stdin (a sleeping "container" in its own mount namespace, not yet pivoted,
 * as createRuntime finds it), then registered in a real bundle and run by
 * runc and crun. The test plugin's call log shows what reached the plugin;
 * every test has its own mount namespace, tmpfs, plugin and state dir.
 */
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "helper/oci.h"

#include "kselftest_harness.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

#define VOLUMES                                                                                    \
	"[{\"container_path\": \"/data\", \"mode\": \"RW\", \"source\": {\"type\": "               \
	"\"DOCKER_VOLUME\", \"docker_volume\": {\"driver\": \"tp\", \"name\": \"v1\"}}}]"

FIXTURE(oci)
{
	struct tu_scratch scratch;
	char dvmount[PATH_MAX];
	char policy[PATH_MAX], state[PATH_MAX], plugins[PATH_MAX], log[PATH_MAX];
	char bundle[PATH_MAX], rootfs[PATH_MAX], runtime_root[PATH_MAX];
	char cid[64];
	pid_t plugin;
	struct tu_container ct;
	const char *runtime; /* set by a test that ran runc or crun: deleted in teardown */
};

static int copy_file(const char *from, const char *to, mode_t mode)
{
	char buf[65536];
	int in = open(from, O_RDONLY | O_CLOEXEC), out, r = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (out < 0) {
		close(in);
		return -errno;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			r = -EIO;
			break;
		}
	if (n < 0)
		r = -errno;
	close(in);
	close(out);
	return r;
}

/* A busybox rootfs: what tools/mkrootfs makes, enough for sh, cat and ls. */
static int make_rootfs(const char *root)
{
	static const char *const dirs[] = { "bin", "proc", "dev", "sys", "tmp", "etc" };
	static const char *const applets[] = { "sh", "cat", "ls", "echo" };
	char p[PATH_MAX];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		r = tu_mkdirs(tu_path(p, "%s/%s", root, dirs[i]), 0755);
		if (r < 0)
			return r;
	}
	r = copy_file(access("/bin/busybox", X_OK) == 0 ? "/bin/busybox" : "/usr/bin/busybox",
		      tu_path(p, "%s/bin/busybox", root), 0755);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(applets); i++)
		if (symlink("busybox", tu_path(p, "%s/bin/%s", root, applets[i])) < 0)
			r = -errno;
	return r;
}

/* The config.json of the hand-fed tests: only what the hook reads. */
static int write_config(const char *bundle, const char *annotations)
{
	char p[PATH_MAX], text[4096];

	snprintf(text, sizeof(text),
		 "{\"ociVersion\": \"1.0.2\", \"root\": {\"path\": \"rootfs\"}%s%s}",
		 annotations ? ", \"annotations\": " : "", annotations ? annotations : "");
	return tu_write_file(tu_path(p, "%s/config.json", bundle), text);
}

FIXTURE_SETUP(oci)
{
	char p[PATH_MAX], text[PATH_MAX + 128];

	ASSERT_EQ(0, tu_private_mountns());
	ASSERT_EQ(0, tu_scratch_make(&self->scratch));
	ASSERT_NE(NULL, realpath(build_path("dvmount"), self->dvmount));
	tu_path(self->policy, "%s/policy.conf", self->scratch.path);
	tu_path(self->state, "%s/state", self->scratch.path);
	tu_path(self->plugins, "%s/plugins", self->scratch.path);
	tu_path(self->log, "%s/tp.log", self->scratch.path);
	tu_path(self->bundle, "%s/bundle", self->scratch.path);
	tu_path(self->rootfs, "%s/bundle/rootfs", self->scratch.path);
	tu_path(self->runtime_root, "%s/runtime", self->scratch.path);
	snprintf(self->cid, sizeof(self->cid), "dvmount-oci-test-%d", (int)getpid());
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n[driver tp]\nhost-paths = %s\nmodes = RW RO\n",
		 self->scratch.path);
	ASSERT_EQ(0, tu_write_file(self->policy, text));
	ASSERT_EQ(0, make_rootfs(self->rootfs));
	/* The volume's content, in the plugin's backing directory beforehand. */
	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/tp.root/volumes/v1/data", self->scratch.path), 0755));
	ASSERT_EQ(0,
		  tu_write_file(tu_path(p, "%s/tp.root/volumes/v1/data/hello", self->scratch.path),
				"hello from the volume\n"));
	self->plugin = testplugin_start(self->scratch.path, "tp", NULL);
	ASSERT_LT(0, self->plugin);
}

FIXTURE_TEARDOWN(oci)
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

		/* A failed run may leave the container (and its cgroups) behind. */
		if (access(self->runtime_root, F_OK) == 0 && run_argv(&r, argv, 20000) == 0)
			run_result_free(&r);
	}
	tu_container_stop(&self->ct);
	stop_process(self->plugin, 2000);
	tu_scratch_remove(&self->scratch);
}

/*
 * dvmount [global options] oci-hook STAGE with stdin_text on stdin (as the
 * runtime writes the state); extra is one more global option or NULL.
 */
static int run_hook(FIXTURE_DATA(oci) * self, struct run_result *res, const char *stage,
		    const char *stdin_text, const char *extra)
{
	char in[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
	char *argv[16];
	int n = 0, status;
	pid_t pid;

	tu_path(in, "%s/hook.in", self->scratch.path);
	tu_path(out, "%s/hook.out", self->scratch.path);
	tu_path(err, "%s/hook.err", self->scratch.path);
	if (tu_write_file(in, stdin_text) < 0)
		return -1;
	argv[n++] = self->dvmount;
	argv[n++] = "--state-dir";
	argv[n++] = self->state;
	argv[n++] = "--policy";
	argv[n++] = self->policy;
	argv[n++] = "--plugin-path";
	argv[n++] = self->plugins;
	argv[n++] = "--plugin-retry";
	argv[n++] = "0";
	if (extra)
		argv[n++] = (char *)extra;
	argv[n++] = "oci-hook";
	argv[n++] = (char *)stage;
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		alarm(60); /* survives exec: a hung hook dies */
		if (dup2(open(in, O_RDONLY), 0) < 0 ||
		    dup2(open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600), 1) < 0 ||
		    dup2(open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600), 2) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	res->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	res->out = read_file(out);
	res->err = read_file(err);
	return res->out && res->err ? 0 : -1;
}

/*
 * runc's createRuntime (pid) or poststop (pid 0) state: no "root";
 * annotations copied from config.json, or left out when volumes is NULL.
 */
static char *runc_state(FIXTURE_DATA(oci) * self, const char *id, pid_t pid, const char *volumes)
{
	_cleanup_json_ json_object *o = json_object_new_object();
	json_object *ann = json_object_new_object();

	json_object_object_add(o, "ociVersion", json_object_new_string("1.0.2-dev"));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "status", json_object_new_string(pid ? "creating" : "stopped"));
	if (pid)
		json_object_object_add(o, "pid", json_object_new_int(pid));
	json_object_object_add(o, "bundle", json_object_new_string(self->bundle));
	json_object_object_add(ann, "org.dvmount.volumes", json_object_new_string(volumes ?: ""));
	if (volumes)
		json_object_object_add(o, "annotations", ann);
	else
		json_object_put(ann);
	return strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

/* Lines of the plugin's call log holding fragment. */
static int logged(FIXTURE_DATA(oci) * self, const char *fragment)
{
	char *log = read_file(self->log);
	int n = count_str(log, fragment);

	free(log);
	return n;
}

static int lines(const char *text)
{
	return count_str(text, "\n");
}

/* What dvmount status says about the state: no container, no volume left. */
static void expect_state_empty(struct __test_metadata *_metadata, FIXTURE_DATA(oci) * self)
{
	struct run_result r;

	ASSERT_EQ(0, run_dvmount(&r, "--state-dir", self->state, "status", NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "containers: 0")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "volumes: 0")) TH_LOG("%s", r.out);
	run_result_free(&r);
}

static void expect_hello_in(struct __test_metadata *_metadata, FIXTURE_DATA(oci) * self)
{
	char p[PATH_MAX], buf[256], where[PATH_MAX];

	tu_path(where, "%s/data/hello", self->rootfs);
	/* In the container's namespace, below its rootfs ... */
	ASSERT_LT(0, tu_read_file(tu_container_path(p, &self->ct, where), buf, sizeof(buf)));
	EXPECT_STREQ("hello from the volume\n", buf);
	/* ... and not in ours: the mount went into the container only. */
	EXPECT_NE(0, access(where, F_OK));
}

TEST_F(oci, create_runtime_attaches_below_the_rootfs_and_poststop_cleans_up)
{
	_cleanup_free_ char *create = NULL, *stop = NULL;
	struct run_result r;
	char p[PATH_MAX], where[PATH_MAX];

	ASSERT_EQ(0, write_config(self->bundle, "{\"org.dvmount.volumes\": \"unused\"}"));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	create = runc_state(self, self->cid, self->ct.pid, VOLUMES);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", create, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* Runtimes ignore a hook's stdout: prepare's JSON never lands there. */
	EXPECT_STREQ("", r.out);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	expect_hello_in(_metadata, self);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Mount\""));

	stop = runc_state(self, self->cid, 0, VOLUMES);
	ASSERT_EQ(0, run_hook(self, &r, "poststop", stop, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
	/* Detached from the container, which still runs. */
	tu_path(where, "%s/data/hello", self->rootfs);
	EXPECT_NE(0, access(tu_container_path(p, &self->ct, where), F_OK));
	expect_state_empty(_metadata, self);

	/* poststop again (a runtime retrying): nothing more reaches the plugin. */
	ASSERT_EQ(0, run_hook(self, &r, "poststop", stop, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
}

/* runc may leave annotations out of the state: config.json is read instead. */
TEST_F(oci, volumes_and_root_come_from_config_json)
{
	_cleanup_free_ char *create = NULL, *stop = NULL;
	char ann[1024], p[PATH_MAX];
	json_object *s = json_object_new_string(VOLUMES);
	struct run_result r;

	snprintf(ann, sizeof(ann), "{\"org.dvmount.volumes\": %s}",
		 json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
	json_object_put(s);
	ASSERT_EQ(0, write_config(self->bundle, ann));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	create = runc_state(self, self->cid, self->ct.pid, NULL);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", create, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	expect_hello_in(_metadata, self);

	/* By poststop the bundle may be gone: the hook cleans up by the id anyway. */
	ASSERT_EQ(0, unlink(tu_path(p, "%s/config.json", self->bundle)));
	stop = runc_state(self, self->cid, 0, NULL);
	ASSERT_EQ(0, run_hook(self, &r, "poststop", stop, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(1, lines(r.err)) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "warning")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
	expect_state_empty(_metadata, self);
}

/*
 * A config.json that is a FIFO (would block the runtime), a symlink (could be
 * swapped for a file the caller may not read), or over 4 MiB: refused, at
 * once, in one line, before any plugin call.
 */
TEST_F(oci, hostile_config_json_is_refused)
{
	_cleanup_free_ char *create = NULL;
	char p[PATH_MAX], secret[PATH_MAX];
	struct run_result r;
	FILE *f;

	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	create = runc_state(self, self->cid, self->ct.pid, NULL);
	tu_path(p, "%s/config.json", self->bundle);

	unlink(p);
	ASSERT_EQ(0, mkfifo(p, 0644));
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", create, NULL));
	EXPECT_NE(0, r.status);
	EXPECT_NE(NULL, strstr(r.err, "not a regular file")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, lines(r.err)) TH_LOG("%s", r.err);
	run_result_free(&r);

	ASSERT_EQ(0, unlink(p));
	tu_path(secret, "%s/secret.json", self->scratch.path);
	ASSERT_EQ(0, tu_write_file(secret, "{\"annotations\": {}}"));
	ASSERT_EQ(0, symlink(secret, p));
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", create, NULL));
	EXPECT_NE(0, r.status);
	EXPECT_NE(NULL, strstr(r.err, "config.json")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, lines(r.err)) TH_LOG("%s", r.err);
	run_result_free(&r);

	ASSERT_EQ(0, unlink(p));
	f = fopen(p, "we");
	ASSERT_NE(NULL, f);
	fputs("{\"annotations\": {\"pad\": \"", f);
	for (int i = 0; i < 5 * 1024; i++)
		fprintf(f, "%01024d", 0);
	fputs("\"}}", f);
	fclose(f);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", create, NULL));
	EXPECT_NE(0, r.status);
	EXPECT_NE(NULL, strstr(r.err, "larger than 4 MiB")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, logged(self, "VolumeDriver."));
}

/* crun's state: "root" relative to the bundle, "created"; --json: the result on stderr. */
TEST_F(oci, crun_state_with_root_and_json_result_on_stderr)
{
	char state[2048], p[PATH_MAX];
	json_object *s = json_object_new_string(VOLUMES);
	json_object *res = NULL, *vols;
	struct run_result r;

	/* config.json says nothing useful: the state's root and annotations are used. */
	ASSERT_EQ(0, tu_write_file(tu_path(p, "%s/config.json", self->bundle), "{}"));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	snprintf(state, sizeof(state),
		 "{\"ociVersion\":\"1.0\",\"id\":\"%s\",\"pid\":%d,\"root\":\"rootfs\","
		 "\"bundle\":\"%s\",\"status\":\"created\",\"annotations\":"
		 "{\"org.dvmount.volumes\":%s}}",
		 self->cid, (int)self->ct.pid, self->bundle,
		 json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN));
	json_object_put(s);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", state, "--json"));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	res = json_tokener_parse(r.err);
	ASSERT_NE(NULL, res) TH_LOG("stderr: %s", r.err);
	run_result_free(&r);
	EXPECT_STREQ(self->cid,
		     json_object_get_string(json_object_object_get(res, "container_id")));
	vols = json_object_object_get(res, "volumes");
	ASSERT_EQ(1, (int)json_object_array_length(vols));
	EXPECT_STREQ(tu_path(p, "%s/data", self->rootfs),
		     json_object_get_string(
			 json_object_object_get(json_object_array_get_idx(vols, 0), "target")));
	json_object_put(res);
	expect_hello_in(_metadata, self);

	snprintf(state, sizeof(state),
		 "{\"ociVersion\":\"1.0\",\"id\":\"%s\",\"pid\":0,\"root\":\"rootfs\","
		 "\"bundle\":\"%s\",\"status\":\"stopped\",\"annotations\":"
		 "{\"org.dvmount.volumes\":\"[]\"}}",
		 self->cid, self->bundle);
	ASSERT_EQ(0, run_hook(self, &r, "poststop", state, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
	expect_state_empty(_metadata, self);
}

TEST_F(oci, no_annotation_does_nothing)
{
	char state[1024];
	struct run_result r;
	struct stat st;

	ASSERT_EQ(0, write_config(self->bundle, "{\"other\": \"x\"}"));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	/* Neither in the state's annotations nor, without them, in config.json. */
	snprintf(state, sizeof(state),
		 "{\"id\":\"%s\",\"pid\":%d,\"bundle\":\"%s\",\"annotations\":{\"a\":\"b\"}}",
		 self->cid, (int)self->ct.pid, self->bundle);
	for (int i = 0; i < 2; i++) {
		ASSERT_EQ(0, run_hook(self, &r, "createRuntime", state, NULL));
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.out);
		EXPECT_STREQ("", r.err);
		run_result_free(&r);
		ASSERT_EQ(0, run_hook(self, &r, "poststop", state, NULL));
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.err);
		run_result_free(&r);
		snprintf(state, sizeof(state), "{\"id\":\"%s\",\"pid\":%d,\"bundle\":\"%s\"}",
			 self->cid, (int)self->ct.pid, self->bundle);
	}
	/* No plugin call, no state written. */
	EXPECT_EQ(0, logged(self, "endpoint"));
	EXPECT_NE(0, stat(self->state, &st));
}

TEST_F(oci, bad_stdin_is_one_line_and_non_zero)
{
	char big[8192], rel[512], noid[512];
	const char *inputs[] = {
		"",
		"not json",
		"[1, 2]",
		"{\"id\": \"x\", \"bundle\": \"/tmp\"} trailing",
		"{\"id\": \"x\", \"bundle\": \"/tmp\"",
		noid,
		rel,
		"{\"id\": \"x\"}",
		big,
	};
	struct run_result r;

	snprintf(noid, sizeof(noid), "{\"pid\": 1, \"bundle\": \"%s\"}", self->bundle);
	snprintf(rel, sizeof(rel), "{\"id\": \"x\", \"pid\": 1, \"bundle\": \"bundle\"}");
	/* Nesting far deeper than any state. */
	memset(big, '[', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(inputs); i++) {
		for (int stage = 0; stage < 2; stage++) {
			ASSERT_EQ(0, run_hook(self, &r, stage ? "poststop" : "createRuntime",
					      inputs[i], NULL));
			EXPECT_NE(0, r.status) TH_LOG("input %zu", i);
			EXPECT_EQ(1, lines(r.err)) TH_LOG("input %zu: %s", i, r.err);
			EXPECT_NE(NULL, strstr(r.err, "oci-hook")) TH_LOG("%s", r.err);
			EXPECT_STREQ("", r.out);
			run_result_free(&r);
		}
	}
	EXPECT_EQ(0, logged(self, "endpoint"));
}

/* Why a state or config.json is refused, in words: "null" once read "success". */
TEST(parse_object_names_what_is_wrong)
{
	static const struct {
		const char *text;
		const char *why;
	} cases[] = {
		{ "null\n", "not a JSON object" },
		{ "  null ", "not a JSON object" },
		{ "[]", "not a JSON object" },
		{ "{\"id\": \"x\"", "it ends too early" },
		{ "{} {}", "trailing data after the object" },
	};
	json_object *o = NULL;
	const char *why;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		why = NULL;
		EXPECT_EQ(-EBADMSG,
			  oci_parse_object(cases[i].text, strlen(cases[i].text), &o, &why));
		EXPECT_STREQ(cases[i].why, why) TH_LOG("%s", cases[i].text);
		EXPECT_EQ(NULL, o);
	}
	EXPECT_EQ(-EBADMSG, oci_parse_object("{}\0", 3, &o, &why));
	EXPECT_STREQ("it holds a NUL byte", why);
	ASSERT_EQ(0, oci_parse_object("{\"id\": \"x\"}\n", 12, &o, &why));
	EXPECT_STREQ("x", json_object_get_string(json_object_object_get(o, "id")));
	json_object_put(o);
}

/* A state larger than the 1 MiB bound is refused before it is parsed. */
TEST_F(oci, oversized_state_is_refused)
{
	size_t n = 2 * 1024 * 1024;
	_cleanup_free_ char *huge = malloc(n + 64);
	struct run_result r;

	ASSERT_NE(NULL, huge);
	strcpy(huge, "{\"id\": \"");
	memset(huge + 8, 'a', n);
	strcpy(huge + 8 + n, "\"}");
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", huge, NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "larger than 1 MiB")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, lines(r.err));
	run_result_free(&r);
}

/* runc allows '+' and long ids; dvmount names records after ids and refuses them. */
TEST_F(oci, container_id_dvmount_cannot_use_is_refused)
{
	char long_id[130];
	const char *const ids[] = { "a+b", ".hidden", long_id, "dvdcli:mesos" };
	_cleanup_free_ char *state = NULL;
	struct run_result r;

	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';

	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	for (size_t i = 0; i < ARRAY_SIZE(ids); i++) {
		for (int stage = 0; stage < 2; stage++) {
			free(state);
			state = runc_state(self, ids[i], stage ? 0 : self->ct.pid, VOLUMES);
			ASSERT_EQ(0, run_hook(self, &r, stage ? "poststop" : "createRuntime", state,
					      NULL));
			EXPECT_NE(0, r.status) TH_LOG("%s", ids[i]);
			EXPECT_EQ(1, lines(r.err)) TH_LOG("%s", r.err);
			EXPECT_NE(NULL, strstr(r.err, ids[i])) TH_LOG("%s", r.err);
			run_result_free(&r);
		}
	}
	EXPECT_EQ(0, logged(self, "endpoint"));
}

/* The dvdcli drop-in's user entry survives a poststop for a container named like it. */
TEST_F(oci, poststop_never_releases_the_dvdcli_users)
{
	_cleanup_free_ char *state = NULL;
	struct run_result r;

	ASSERT_EQ(0, run_dvmount(&r, "--state-dir", self->state, "--plugin-path", self->plugins,
				 "dvdcli", "mount", "--volumedriver=tp", "--volumename=v1", NULL));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	ASSERT_EQ(1, logged(self, "\"VolumeDriver.Mount\""));
	state = runc_state(self, "dvdcli:mesos", 0, VOLUMES);
	ASSERT_EQ(0, run_hook(self, &r, "poststop", state, NULL));
	EXPECT_NE(0, r.status);
	run_result_free(&r);
	EXPECT_EQ(0, logged(self, "\"VolumeDriver.Unmount\""));
	ASSERT_EQ(0,
		  run_dvmount(&r, "--state-dir", self->state, "--plugin-path", self->plugins,
			      "dvdcli", "unmount", "--volumedriver=tp", "--volumename=v1", NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
}

TEST_F(oci, failed_prepare_fails_the_hook)
{
	_cleanup_free_ char *state = NULL;
	struct run_result r;
	char p[PATH_MAX], text[PATH_MAX + 64];

	ASSERT_EQ(0, write_config(self->bundle, NULL));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	/* The process is gone: prepare cannot attach. */
	state = runc_state(self, self->cid, 1 << 29, VOLUMES);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", state, NULL));
	EXPECT_EQ(1, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "no such process")) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);

	/* The policy does not know driver tp: denied (3), the plugin never hears of it. */
	snprintf(text, sizeof(text), "[dvmount]\ncallers = uid:0\n");
	ASSERT_EQ(0, tu_write_file(self->policy, text));
	free(state);
	state = runc_state(self, self->cid, self->ct.pid, VOLUMES);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", state, NULL));
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, logged(self, "endpoint"));
	tu_path(p, "%s/data", self->rootfs);
	EXPECT_NE(0, access(tu_container_path(text, &self->ct, p), F_OK));

	/*
	 * A relative container_path: there is no sandbox in an OCI container, and
	 * --sandbox is no flag a hook user can pass: the message says what to write.
	 */
	snprintf(text, sizeof(text), "[dvmount]\ncallers = uid:0\n\n[driver tp]\nhost-paths = %s\n",
		 self->scratch.path);
	ASSERT_EQ(0, tu_write_file(self->policy, text));
	free(state);
	state = runc_state(self, self->cid, self->ct.pid,
			   "[{\"container_path\": \"data\", \"mode\": \"RW\", \"source\": "
			   "{\"type\": \"DOCKER_VOLUME\", \"docker_volume\": "
			   "{\"driver\": \"tp\", \"name\": \"v1\"}}}]");
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", state, NULL));
	EXPECT_NE(0, r.status);
	EXPECT_NE(NULL, strstr(r.err, "relative container_path 'data' is refused in an OCI hook "
				      "(no sandbox there); write it absolute, e.g. '/data'"))
	TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strstr(r.err, "--sandbox")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, logged(self, "endpoint"));

	/* An annotation that is not a string. */
	snprintf(text, sizeof(text),
		 "{\"id\":\"%s\",\"pid\":%d,\"bundle\":\"%s\",\"annotations\":"
		 "{\"org.dvmount.volumes\":[1]}}",
		 self->cid, (int)self->ct.pid, self->bundle);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", text, NULL));
	EXPECT_EQ(1, r.status);
	EXPECT_EQ(1, lines(r.err)) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "must be a string")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/*
 * A poststop whose state carries unusable annotations still cleans up (never
 * strand mounts): the error is one line on stderr, the exit status the
 * cleanup's.
 */
TEST_F(oci, poststop_with_unusable_annotations_says_so_and_cleans_up)
{
	_cleanup_free_ char *create = NULL;
	struct run_result r;
	char stop[1024];

	ASSERT_EQ(0, write_config(self->bundle, NULL));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	create = runc_state(self, self->cid, self->ct.pid, VOLUMES);
	ASSERT_EQ(0, run_hook(self, &r, "createRuntime", create, NULL));
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	snprintf(stop, sizeof(stop), "{\"id\":\"%s\",\"bundle\":\"%s\",\"annotations\":5}",
		 self->cid, self->bundle);
	ASSERT_EQ(0, run_hook(self, &r, "poststop", stop, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(stop, sizeof(stop),
		 "dvmount: oci-hook: container '%s': annotations are not an object\n", self->cid);
	EXPECT_STREQ(stop, r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
	expect_state_empty(_metadata, self);
}

TEST_F(oci, unknown_stage_is_a_usage_error)
{
	struct run_result r;

	ASSERT_EQ(0, run_hook(self, &r, "prestart", "{}", NULL));
	EXPECT_EQ(2, r.status);
	EXPECT_EQ(1, lines(r.err)) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/* ---- real runtimes ---------------------------------------------------- */

static json_object *hook_entry(FIXTURE_DATA(oci) * self, const char *stage)
{
	json_object *h = json_object_new_object(), *args = json_object_new_array();
	const char *a[] = { "dvmount",	  "--state-dir",   self->state,	  "--policy",
			    self->policy, "--plugin-path", self->plugins, "--plugin-retry",
			    "0",	  "oci-hook",	   stage };

	for (size_t i = 0; i < ARRAY_SIZE(a); i++)
		json_object_array_add(args, json_object_new_string(a[i]));
	json_object_object_add(h, "path", json_object_new_string(self->dvmount));
	json_object_object_add(h, "args", args);
	return h;
}

/*
 * `runc spec`, then: no terminal, the shell command cmd, the two hooks, and
 * volumes as the annotation.
 */
static int make_bundle_with(FIXTURE_DATA(oci) * self, const char *runc, const char *volumes,
			    const char *cmd)
{
	char p[PATH_MAX];
	json_object *c, *hooks, *list, *ann;
	int ok;

	c = runc_spec_config(runc, self->bundle, cmd);
	if (!c)
		return -1;
	hooks = json_object_new_object();
	list = json_object_new_array();
	json_object_array_add(list, hook_entry(self, "createRuntime"));
	json_object_object_add(hooks, "createRuntime", list);
	list = json_object_new_array();
	json_object_array_add(list, hook_entry(self, "poststop"));
	json_object_object_add(hooks, "poststop", list);
	json_object_object_add(c, "hooks", hooks);
	ann = json_object_new_object();
	json_object_object_add(ann, "org.dvmount.volumes", json_object_new_string(volumes));
	json_object_object_add(c, "annotations", ann);
	ok = json_object_to_file_ext(tu_path(p, "%s/config.json", self->bundle), c,
				     JSON_C_TO_STRING_PRETTY) == 0;
	json_object_put(c);
	return ok ? 0 : -1;
}

/* The bundle of the runtime tests: the container prints the file from the volume. */
static int make_bundle(FIXTURE_DATA(oci) * self, const char *runc)
{
	return make_bundle_with(self, runc, VOLUMES, "cat /data/hello");
}

static void run_container(struct __test_metadata *_metadata, FIXTURE_DATA(oci) * self,
			  const char *runtime, bool crun)
{
	struct run_result r;

	self->runtime = runtime;
	/* crun has no cgroups here (see the crun test). */
	ASSERT_EQ(0,
		  run_oci_bundle(&r, runtime, crun, self->runtime_root, self->bundle, self->cid));
	EXPECT_EQ(0, r.status) TH_LOG("%s: %s", runtime, r.err);
	/* The container read its volume. */
	EXPECT_STREQ("hello from the volume\n", r.out) TH_LOG("stderr: %s", r.err);
	run_result_free(&r);
	/* The container has exited: poststop ran and released the volume. */
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Mount\""));
	EXPECT_EQ(1, logged(self, "\"VolumeDriver.Unmount\""));
	expect_state_empty(_metadata, self);
}

TEST_F(oci, runc_runs_a_container_with_a_volume)
{
	char buf[PATH_MAX];
	const char *runc = find_program("runc", buf);

	if (!runc)
		SKIP(return, "runc is not installed (apt-get install runc)");
	ASSERT_EQ(0, make_bundle(self, runc));
	run_container(_metadata, self, runc, false);
}

TEST_F(oci, crun_runs_a_container_with_a_volume)
{
	char buf[2][PATH_MAX];
	const char *crun = find_program("crun", buf[0]), *runc = find_program("runc", buf[1]);
	if (!crun)
		SKIP(return, "crun is not installed (apt-get install crun)");
	/* `crun spec` writes a rootless-leaning config; runc's is the tested one. */
	if (!runc)
		SKIP(return, "runc is needed for `runc spec` (apt-get install runc)");
	/*
	 * crun 1.8 refuses cgroup hybrid mode (facts/oci-runtimes.md); in this
	 * test's private mount namespace the unified mount can go.
	 */
	if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0)
		ASSERT_TRUE(errno == EINVAL || errno == ENOENT) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, make_bundle(self, runc));
	run_container(_metadata, self, crun, true);
}

static int fuse_mounts_under(const char *prefix)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		n += strstr(line, prefix) && strstr(line, " - fuse.rclone ");
	if (f)
		fclose(f);
	return n;
}

/*
 * crun started from a private mount namespace (as it must be on these hosts:
 * facts/oci-runtimes.md), with a real rclone volume: the hook runs where
 * rclone's new mount never arrives, and still attaches rclone's mount, as
 * rclone sees it. The container's write reaches rclone's remote.
 */
TEST_F_TIMEOUT(oci, crun_in_private_namespace_writes_reach_rclone_remote, 120)
{
	char buf[2][PATH_MAX], sock[PATH_MAX], base[PATH_MAX], data[PATH_MAX], cache[PATH_MAX];
	char text[4 * PATH_MAX], vols[2 * PATH_MAX], p[PATH_MAX], got[64];
	const char *crun = find_program("crun", buf[0]), *runc = find_program("runc", buf[1]);
	struct run_result r;
	pid_t rclone;

	if (!crun || !runc)
		SKIP(return, "crun and runc are needed (apt-get install crun runc)");
	if (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0)
		SKIP(return, "rclone or /dev/fuse missing (tools/install-deps installs them)");
	tu_path(base, "%s/rclone.base", self->scratch.path);
	tu_path(data, "%s/rclone.data", self->scratch.path);
	tu_path(cache, "%s/rclone.cache", self->scratch.path);
	tu_path(sock, "%s/rclone.sock", self->plugins);
	ASSERT_EQ(0, tu_mkdirs(base, 0700));
	ASSERT_EQ(0, tu_mkdirs(data, 0700));
	ASSERT_EQ(0, tu_mkdirs(self->plugins, 0755));
	char *argv[] = { "rclone", "serve",    "docker",    "--base-dir",  base,  "--socket-addr",
			 sock,	   "--config", "/dev/null", "--cache-dir", cache, NULL };
	rclone = spawn(argv, NULL);
	ASSERT_LT(0, rclone);
	ASSERT_EQ(0, wait_socket(sock, 15000));
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver rclone]\nhost-paths = %s\nmodes = RW RO\noptions = remote\n",
		 base);
	ASSERT_EQ(0, tu_write_file(self->policy, text));
	snprintf(vols, sizeof(vols),
		 "[{\"container_path\": \"/data\", \"mode\": \"RW\", \"source\": {\"type\": "
		 "\"DOCKER_VOLUME\", \"docker_volume\": {\"driver\": \"rclone\", \"name\": "
		 "\"rv\", \"driver_options\": {\"parameter\": [{\"key\": \"remote\", "
		 "\"value\": \":local:%s\"}]}}}}]",
		 data);
	ASSERT_EQ(0, make_bundle_with(self, runc, vols, "echo via-crun > /data/hello"));
	if (umount2("/sys/fs/cgroup/unified", MNT_DETACH) < 0)
		ASSERT_TRUE(errno == EINVAL || errno == ENOENT) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, tu_mkdirs(self->runtime_root, 0700));
	self->runtime = crun;
	char *run[] = { "/usr/bin/unshare",
			"-m",
			"--propagation",
			"private",
			(char *)crun,
			"--root",
			self->runtime_root,
			"--cgroup-manager=disabled",
			"run",
			"--bundle",
			self->bundle,
			self->cid,
			NULL };
	ASSERT_EQ(0, run_argv(&r, run, 90000));
	EXPECT_EQ(0, r.status) TH_LOG("crun: %s", r.err);
	run_result_free(&r);
	EXPECT_EQ(9, tu_read_file(tu_path(p, "%s/hello", data), got, sizeof(got)));
	EXPECT_STREQ("via-crun\n", got);
	/* Nothing stayed on the host's disk under the mount, nor mounted. */
	EXPECT_NE(0, access(tu_path(p, "%s/rv/hello", base), F_OK));
	EXPECT_EQ(0, fuse_mounts_under(base));
	expect_state_empty(_metadata, self);
	stop_process(rclone, 5000);
}

TEST_HARNESS_MAIN
