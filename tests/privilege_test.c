/* SPDX-License-Identifier: MIT */
/*
 * dvmount installed setuid root, run by an ordinary user: the attacks a
 * setuid helper invites, performed. The user must not redirect the state,
 * policy or plugin paths (by flag or environment), must not reach the
 * volume/dvdcli commands, and must be a caller the policy names.
 */
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

#define NOBODY 65534

FIXTURE(suid)
{
	char *dir;
	char bin[PATH_MAX], state[PATH_MAX];
	bool made_etc, mounted;
};

/*
 * The two ways dvmount is given privilege for a caller that is not root
 * (DESIGN.md "Privilege"): setuid root, or file capabilities (then fsuid is
 * the caller's already, and only dropping the effective capabilities keeps
 * CAP_DAC_OVERRIDE from opening what the caller names).
 */
FIXTURE_VARIANT(suid)
{
	bool filecaps;
};

FIXTURE_VARIANT_ADD(suid, setuid){ .filecaps = false };
FIXTURE_VARIANT_ADD(suid, filecaps){ .filecaps = true };

FIXTURE_SETUP(suid)
{
	if (geteuid() != 0)
		SKIP(return, "needs root to install a setuid copy");
	ASSERT_EQ(0, private_mount_ns());
	self->dir = make_tmpdir("suid");
	ASSERT_NE(NULL, self->dir);
	ASSERT_EQ(0, chmod(self->dir, 0755));
	/* A tmpfs without nosuid, private to this test. */
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "mode=0755"));
	snprintf(self->bin, sizeof(self->bin), "%s/dvmount", self->dir);
	snprintf(self->state, sizeof(self->state), "%s/state", self->dir);
	if (variant->filecaps && access("/usr/sbin/setcap", X_OK) != 0)
		SKIP(return, "setcap missing (libcap2-bin; tools/install-deps installs it)");
	ASSERT_EQ(0, install_privileged(build_path("dvmount"), self->bin,
					variant->filecaps ? INSTALL_FILECAPS : INSTALL_SETUID));
}

/*
 * A policy at the fixed path /etc/dvmount/policy.conf and an empty /var/lib,
 * both tmpfs in this test's own mount namespace (the host's are untouched;
 * /etc/dvmount is created only if missing, and removed again).
 */
static void install_policy(struct __test_metadata *_metadata, FIXTURE_DATA(suid) * self,
			   const char *text)
{
	if (mkdir("/etc/dvmount", 0755) == 0)
		self->made_etc = true;
	ASSERT_EQ(0, mount("tmpfs", "/etc/dvmount", "tmpfs", 0, "mode=0755"));
	ASSERT_EQ(0, mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=0755"));
	self->mounted = true;
	ASSERT_EQ(0, write_file("/etc/dvmount/policy.conf", text));
	ASSERT_EQ(0, chmod("/etc/dvmount/policy.conf", 0644));
}

FIXTURE_TEARDOWN(suid)
{
	if (self->mounted) {
		umount2("/var/lib", MNT_DETACH);
		umount2("/etc/dvmount", MNT_DETACH);
	}
	if (self->made_etc)
		rmdir("/etc/dvmount");
	remove_tmpdir(self->dir);
}

/*
 * Run the setuid copy as nobody with the given environment entry (may be
 * NULL) and stdin text (NULL: /dev/null).
 */
static void run_as_nobody_in(struct run_result *r, FIXTURE_DATA(suid) * self, const char *env,
			     const char *input, char *const args[]);

static void run_as_nobody(struct run_result *r, FIXTURE_DATA(suid) * self, const char *env,
			  char *const args[])
{
	run_as_nobody_in(r, self, env, NULL, args);
}

static void run_as_nobody_in(struct run_result *r, FIXTURE_DATA(suid) * self, const char *env,
			     const char *input, char *const args[])
{
	char *argv[32];
	int n = 0;

	argv[n++] = self->bin;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid;
	int out[2], err[2], in[2], status;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, RUN_OUT_MAX);
	r->err = calloc(1, RUN_OUT_MAX);
	if (pipe(out) < 0 || pipe(err) < 0 || pipe(in) < 0)
		return;
	/* Small inputs only: they fit the pipe before the child reads. */
	if (input && write(in[1], input, strlen(input)) < 0)
		return;
	close(in[1]);
	pid = fork();
	if (pid == 0) {
		/*
		 * make asan: LeakSanitizer cannot stop the world in a process that
		 * is not dumpable (setuid), and would turn every exit into 1.
		 */
		char *envp[] = { "ASAN_OPTIONS=detect_leaks=0", (char *)env, NULL };

		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(err[1]);
	waitpid(pid, &status, 0);
	if (read(out[0], r->out, RUN_OUT_MAX - 1) < 0 || read(err[0], r->err, RUN_OUT_MAX - 1) < 0)
		r->status = -1;
	close(out[0]);
	close(err[0]);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* args run as nobody, input on stdin (NULL: none): exit status want, msg in stderr. */
static void expect_refused(struct __test_metadata *_metadata, FIXTURE_DATA(suid) * self,
			   const char *input, char *const args[], int want, const char *msg)
{
	struct run_result r;

	run_as_nobody_in(&r, self, NULL, input, args);
	EXPECT_EQ(want, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, msg)) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/* A directory the caller owns (nobody's, 0755): its rootfs, its sandbox, its bundle. */
static void make_callers_dir(struct __test_metadata *_metadata, const char *path)
{
	ASSERT_EQ(0, mkdir(path, 0755));
	ASSERT_EQ(0, chown(path, NOBODY, NOBODY));
}

/* Lets nobody in and allows driver tp. */
#define CALLER_POLICY "[dvmount]\ncallers = uid:65534\n\n[driver tp]\nhost-paths = /tmp\n"

TEST_F(suid, flags_that_redirect_trust_are_refused)
{
	/* --max-in-flight too: raising it can wedge a plugin for everyone on the host. */
	static const char *const flags[] = { "--state-dir", "--policy", "--plugin-path",
					     "--max-in-flight" };
	struct run_result r;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		char *args[] = { (char *)flags[i], i == 3 ? "64" : self->dir, "status", NULL };

		run_as_nobody(&r, self, NULL, args);
		EXPECT_EQ(2, r.status) TH_LOG("%s: %s", flags[i], r.err);
		EXPECT_NE(NULL, strstr(r.err, "is for root only")) TH_LOG("%s", r.err);
		run_result_free(&r);
	}
}

TEST_F(suid, volume_and_dvdcli_commands_are_root_only)
{
	char *vol[] = { "volume", "remove", "--driver", "x", "--name", "precious", NULL };
	char *dvd[] = { "dvdcli", "unmount", "--volumedriver=x", "--volumename=y", NULL };
	struct run_result r;

	expect_refused(_metadata, self, NULL, vol, 3, "'volume' is for root only");
	run_as_nobody(&r, self, NULL, dvd);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_F(suid, environment_is_not_trusted)
{
	char env[PATH_MAX + 32];
	char *args[] = { "status", NULL };
	struct run_result r;
	struct stat st;

	/* A policy that lets nobody in: what stops it must be the fixed paths, not a denial. */
	install_policy(_metadata, self, "[dvmount]\ncallers = uid:65534\n");
	snprintf(env, sizeof(env), "DVMOUNT_STATE_DIR=%s", self->state);
	run_as_nobody(&r, self, env, args);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	/* A state dir chosen by the caller through the environment: ignored. */
	EXPECT_NE(0, stat(self->state, &st));
	EXPECT_EQ(0, stat("/var/lib/dvmount/containers", &st));
}

TEST_F(suid, a_caller_the_policy_names_works_with_the_fixed_paths)
{
	char env[PATH_MAX + 32];
	char *args[] = { "status", "--json", NULL };
	struct run_result r;
	struct stat st;

	install_policy(_metadata, self, "[dvmount]\ncallers = uid:65534\n");
	snprintf(env, sizeof(env), "DVMOUNT_STATE_DIR=%s", self->state);
	run_as_nobody(&r, self, env, args);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\"containers\":[]")) TH_LOG("%s", r.out);
	run_result_free(&r);
	/* The environment's state dir was ignored; the default one was used. */
	EXPECT_NE(0, stat(self->state, &st));
	EXPECT_EQ(0, stat("/var/lib/dvmount/containers", &st));
}

TEST_F(suid, a_caller_the_policy_does_not_name_is_denied)
{
	char *args[] = { "status", NULL };

	install_policy(_metadata, self, "[dvmount]\ncallers = uid:0 gid:0\n");
	expect_refused(_metadata, self, NULL, args, 3, "denied by /etc/dvmount/policy.conf:2");
}

/* The review's attack: a permitted caller aims dvmount at root's mount namespace. */
TEST_F(suid, a_permitted_caller_cannot_attach_into_someone_elses_process)
{
	char *args[] = {
		"prepare", "--container-id", "evil", "--volumes", "-", "--pid", "1", NULL
	};

	install_policy(_metadata, self, CALLER_POLICY);
	expect_refused(_metadata, self, NULL, args, 3, "--pid 1: not a process of the caller");
}

TEST_F(suid, a_permitted_caller_cannot_pick_host_paths_or_files)
{
	char *rootfs[] = { "prepare", "--container-id", "evil", "--volumes",
			   "-",	      "--rootfs",	"/",	NULL };
	char mine[PATH_MAX + 8];
	char *file[] = { "prepare",	"--container-id", "evil", "--volumes",
			 "/etc/shadow", "--rootfs",	  mine,	  NULL };
	struct run_result r;

	/* A rootfs the caller owns, so that only the file is in question. */
	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	make_callers_dir(_metadata, mine);

	install_policy(_metadata, self, CALLER_POLICY);
	/* "/" belongs to root: mkdir-anywhere-as-root is not on offer. */
	expect_refused(_metadata, self, NULL, rootfs, 3, "'/': not a directory of the caller");
	/* A path is opened as the caller: /etc/shadow reads as missing. */
	run_as_nobody(&r, self, NULL, file);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "cannot open '/etc/shadow': not found, or not readable by "
				      "the caller"))
	TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strstr(r.err, "root:")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/* A permitted caller's own process, but in the host's mount namespace. */
TEST_F(suid, a_permitted_caller_cannot_attach_into_the_host_namespace)
{
	char mine[PATH_MAX + 8], pid[16];
	char *args[] = { "prepare", "--container-id", "evil", "--volumes", "-", "--pid",
			 pid,	    "--rootfs",	      mine,   NULL };
	struct run_result r;
	pid_t sleeper;

	install_policy(_metadata, self, CALLER_POLICY);
	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	make_callers_dir(_metadata, mine);
	sleeper = fork();
	ASSERT_LE(0, sleeper);
	if (sleeper == 0) {
		if (setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(1);
		execl("/bin/sleep", "sleep", "30", (char *)NULL);
		_exit(1);
	}
	usleep(100000);
	snprintf(pid, sizeof(pid), "%d", (int)sleeper);
	run_as_nobody(&r, self, NULL, args);
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "shares dvmount's mount namespace")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/* The second review's attack: a permitted caller cleans up root's container. */
TEST_F(suid, a_permitted_caller_cannot_clean_up_someone_elses_container)
{
	char vols[PATH_MAX + 16], spec[2 * PATH_MAX], text[2 * PATH_MAX];
	char *args[] = { "cleanup", "--container-id", "victim", NULL };
	struct run_result r;
	pid_t plugin;

	plugin = testplugin_start(self->dir, "tp", NULL);
	ASSERT_LT(0, plugin);
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0 uid:65534\n\n[driver tp]\nhost-paths = %s/tp.root\n"
		 "modes = RW RO\n",
		 self->dir);
	install_policy(_metadata, self, text);
	snprintf(vols, sizeof(vols), "%s/vols.json", self->dir);
	snprintf(spec, sizeof(spec),
		 "[{\"container_path\":\"%s\",\"mode\":\"RW\",\"source\":{\"type\":"
		 "\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"tp\",\"name\":\"v\"}}}]",
		 self->dir);
	ASSERT_EQ(0, write_file(vols, spec));
	snprintf(text, sizeof(text), "%s/plugins", self->dir);
	/* Root prepares its container (default state and policy, in this namespace). */
	run_dvmount(&r, "--plugin-path", text, "prepare", "--container-id", "victim", "--volumes",
		    vols, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	expect_refused(_metadata, self, NULL, args, 3, "not a container of the caller");
	/* Root's container is intact. */
	run_dvmount(&r, "status", "--json", NULL);
	EXPECT_NE(NULL, strstr(r.out, "\"container_id\":\"victim\"")) TH_LOG("%s", r.out);
	run_result_free(&r);
	run_dvmount(&r, "--plugin-path", text, "cleanup", "--container-id", "victim", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	stop_process(plugin, 2000);
}

TEST_F(suid, no_policy_means_denied_with_where_it_goes)
{
	char *args[] = { "cleanup", "--container-id", "someone-elses", NULL };

	if (access("/etc/dvmount/policy.conf", F_OK) == 0)
		SKIP(return, "this machine has a policy file: the test needs none");
	expect_refused(_metadata, self, NULL, args, 3, "/etc/dvmount/policy.conf");
}

TEST_F(suid, version_and_help_need_nothing)
{
	char *args[] = { "version", NULL };
	struct run_result r;

	run_as_nobody(&r, self, NULL, args);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "dvmount ", 8));
	run_result_free(&r);
}

/*
 * Issue 10 item 1: every path a caller names is opened with the caller's
 * filesystem identity. The secret: a 0600 root file, once in a 0700 root
 * directory and once in a directory anyone may list. Each run with the
 * secret's path is compared with the same run on a path that does not
 * exist: the same exit status and the same words, nothing of the secret.
 */
#define SECRET_TEXT                                                                                \
	"callers = uid:0 hunter2-private-key\n[driver leak]\nhost-paths = MIIEvQIBADANBg\n"

static void make_secrets(struct __test_metadata *_metadata, FIXTURE_DATA(suid) * self,
			 char hidden[static PATH_MAX], char listed[static PATH_MAX])
{
	char p[PATH_MAX + 32];

	snprintf(p, sizeof(p), "%s/root-only", self->dir);
	ASSERT_EQ(0, mkdir(p, 0700));
	snprintf(hidden, PATH_MAX, "%s/root-only/secret", self->dir);
	ASSERT_EQ(0, write_file(hidden, SECRET_TEXT));
	ASSERT_EQ(0, chmod(hidden, 0600));
	snprintf(listed, PATH_MAX, "%s/secret", self->dir);
	ASSERT_EQ(0, write_file(listed, SECRET_TEXT));
	ASSERT_EQ(0, chmod(listed, 0600));
}

/* r's stderr with every occurrence of path replaced by "PATH". */
static char *masked(const struct run_result *r, const char *path)
{
	static char buf[2][RUN_OUT_MAX];
	static int which;
	char *out = buf[which ^= 1];
	size_t k = 0, plen = strlen(path);

	for (const char *s = r->err; *s && k < RUN_OUT_MAX - 8;) {
		if (!strncmp(s, path, plen)) {
			k += (size_t)snprintf(out + k, RUN_OUT_MAX - k, "PATH");
			s += plen;
		} else {
			out[k++] = *s++;
		}
	}
	out[k] = '\0';
	return out;
}

/*
 * args holds "SECRET" where the path goes; run it with each secret and with
 * a missing path next to it: exit status want, stderr holding msg (with
 * PATH for the path), identical for all three, nothing of the secret out.
 */
static void expect_no_secret(struct __test_metadata *_metadata, FIXTURE_DATA(suid) * self,
			     char *const args[], const char *input_fmt, int want, const char *msg)
{
	char hidden[PATH_MAX], listed[PATH_MAX], missing[PATH_MAX + 32], missing2[PATH_MAX + 32];
	const char *paths[4];
	char first[RUN_OUT_MAX];

	make_secrets(_metadata, self, hidden, listed);
	snprintf(missing, sizeof(missing), "%s/root-only/no-such", self->dir);
	snprintf(missing2, sizeof(missing2), "%s/no-such", self->dir);
	paths[0] = hidden;
	paths[1] = missing;
	paths[2] = listed;
	paths[3] = missing2;
	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		char *argv[16], input[2 * PATH_MAX];
		struct run_result r;
		size_t n = 0;

		for (; args[n] && n < 15; n++)
			argv[n] = strcmp(args[n], "SECRET") ? args[n] : (char *)paths[i];
		argv[n] = NULL;
		if (input_fmt)
			snprintf(input, sizeof(input), input_fmt, paths[i]);
		run_as_nobody_in(&r, self, NULL, input_fmt ? input : NULL, argv);
		EXPECT_EQ(want, r.status) TH_LOG("%s: %s", paths[i], r.err);
		EXPECT_NE(NULL, strstr(masked(&r, paths[i]), msg))
		TH_LOG("%s: want '%s' in %s", paths[i], msg, r.err);
		EXPECT_EQ(NULL, strstr(r.err, "hunter2")) TH_LOG("%s", r.err);
		EXPECT_EQ(NULL, strstr(r.err, "MIIEvQIBADANBg")) TH_LOG("%s", r.err);
		EXPECT_EQ(NULL, strstr(r.out, "hunter2")) TH_LOG("%s", r.out);
		EXPECT_EQ(NULL, strstr(r.err, "leak")) TH_LOG("%s", r.err);
		if (i == 0)
			snprintf(first, sizeof(first), "%s", masked(&r, paths[i]));
		else
			EXPECT_STREQ(first, masked(&r, paths[i]));
		run_result_free(&r);
	}
}

TEST_F(suid, policy_check_reads_only_what_the_caller_can)
{
	char *args[] = { "policy", "check", "SECRET", NULL };

	install_policy(_metadata, self, CALLER_POLICY);
	expect_no_secret(_metadata, self, args, NULL, 1,
			 "dvmount: cannot check policy 'PATH': not found, or not readable by the "
			 "caller");
}

TEST_F(suid, volumes_file_is_read_only_if_the_caller_can)
{
	char mine[PATH_MAX + 8];
	char *args[] = { "prepare", "--container-id", "c",  "--volumes",
			 "SECRET",  "--rootfs",	      mine, NULL };

	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	make_callers_dir(_metadata, mine);
	install_policy(_metadata, self, CALLER_POLICY);
	expect_no_secret(
	    _metadata, self, args, NULL, 1,
	    "dvmount: container 'c': cannot open 'PATH': not found, or not readable by "
	    "the caller");
}

TEST_F(suid, known_file_is_read_only_if_the_caller_can)
{
	char *args[] = { "recover", "--known-file", "SECRET", NULL };

	install_policy(_metadata, self, CALLER_POLICY);
	expect_no_secret(_metadata, self, args, NULL, 1,
			 "dvmount: recover: cannot read 'PATH': not found, or not readable by the "
			 "caller");
}

TEST_F(suid, oci_bundle_is_opened_as_the_caller)
{
	char *args[] = { "oci-hook", "createRuntime", NULL };

	install_policy(_metadata, self, CALLER_POLICY);
	/* The secret file stands as the bundle directory: not one the caller can open. */
	expect_no_secret(
	    _metadata, self, args,
	    "{\"ociVersion\":\"1.0.2\",\"id\":\"c\",\"status\":\"created\","
	    "\"pid\":1,\"bundle\":\"%s\"}",
	    1,
	    "dvmount: oci-hook: container 'c': bundle 'PATH': not found, or not readable "
	    "by the caller");
}

TEST_F(suid, oci_config_json_is_opened_as_the_caller)
{
	char bundle[PATH_MAX + 16], cfg[PATH_MAX + 32], input[2 * PATH_MAX];
	char *args[] = { "oci-hook", "createRuntime", NULL };
	struct run_result r[2];

	install_policy(_metadata, self, CALLER_POLICY);
	/* The caller's own bundle, holding root's 0600 config.json; then none. */
	snprintf(bundle, sizeof(bundle), "%s/bundle", self->dir);
	make_callers_dir(_metadata, bundle);
	snprintf(cfg, sizeof(cfg), "%s/config.json", bundle);
	snprintf(input, sizeof(input),
		 "{\"ociVersion\":\"1.0.2\",\"id\":\"c\",\"status\":\"created\",\"pid\":1,"
		 "\"bundle\":\"%s\"}",
		 bundle);
	for (int i = 0; i < 2; i++) {
		if (i == 0) {
			ASSERT_EQ(0, write_file(cfg, "{\"hunter2\": \"" SECRET_TEXT "\"}"));
			ASSERT_EQ(0, chmod(cfg, 0600));
		} else {
			ASSERT_EQ(0, unlink(cfg));
		}
		run_as_nobody_in(&r[i], self, NULL, input, args);
		EXPECT_EQ(1, r[i].status) TH_LOG("%s", r[i].err);
		EXPECT_EQ(NULL, strstr(r[i].err, "hunter2")) TH_LOG("%s", r[i].err);
	}
	EXPECT_STREQ(r[0].err, r[1].err);
	EXPECT_NE(NULL, strstr(r[0].err, "config.json': not found, or not readable by the caller"))
	TH_LOG("%s", r[0].err);
	run_result_free(&r[0]);
	run_result_free(&r[1]);
}

/*
 * A directory of the caller's own, but where the caller cannot reach it
 * (inside a 0700 root directory): as a rootfs or a sandbox, refused like a
 * missing one, because the caller could not use it itself.
 */
TEST_F(suid, rootfs_and_sandbox_the_caller_cannot_reach_are_refused)
{
	char hidden[PATH_MAX + 16], mine[PATH_MAX + 16], msg[3 * PATH_MAX];
	char *rootfs[] = { "prepare", "--container-id", "c",	"--volumes",
			   "-",	      "--rootfs",	hidden, NULL };
	char *sandbox[] = { "prepare", "--container-id", "c",	 "--volumes", "-", "--rootfs",
			    mine,      "--sandbox",	 hidden, NULL };

	install_policy(_metadata, self, CALLER_POLICY);
	snprintf(hidden, sizeof(hidden), "%s/root-only", self->dir);
	ASSERT_EQ(0, mkdir(hidden, 0700));
	snprintf(hidden, sizeof(hidden), "%s/root-only/mine", self->dir);
	make_callers_dir(_metadata, hidden);
	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	make_callers_dir(_metadata, mine);
	snprintf(msg, sizeof(msg),
		 "dvmount: container 'c': '%s': not a directory of the caller "
		 "(uid 65534)",
		 hidden);
	expect_refused(_metadata, self, "[]", rootfs, 3, msg);
	expect_refused(_metadata, self, "[]", sandbox, 3, msg);
}

struct callers_container {
	const char *roots, *mine;
};

/* In the caller's container: its own mount namespace, root's directory at "mine", nobody. */
static int callers_container_setup(void *arg)
{
	const struct callers_container *c = arg;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(c->roots, c->mine, NULL, MS_BIND, NULL) < 0 || setgroups(0, NULL) < 0 ||
	    setresgid(NOBODY, NOBODY, NOBODY) < 0 || setresuid(NOBODY, NOBODY, NOBODY) < 0)
		return -errno;
	return 0;
}

/*
 * Issue 10 item 3: --rootfs is checked as an fd and used as that fd. The
 * caller's process sees another directory at the rootfs path (a bind of a
 * root-owned directory over it in its own namespace): what was checked on
 * the host is not what the targets would resolve under. Refused, before any
 * plugin is asked.
 */
TEST_F(suid, rootfs_is_the_directory_that_was_checked)
{
	char mine[PATH_MAX + 8], roots[PATH_MAX + 8], pid[16], msg[2 * PATH_MAX];
	char *args[] = { "prepare", "--container-id", "c",  "--volumes", "-", "--pid",
			 pid,	    "--rootfs",	      mine, NULL };
	struct tu_container ct = { 0 };
	struct run_result r;

	install_policy(_metadata, self, CALLER_POLICY);
	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	make_callers_dir(_metadata, mine);
	snprintf(roots, sizeof(roots), "%s/roots", self->dir);
	ASSERT_EQ(0, mkdir(roots, 0755));
	ASSERT_EQ(0, tu_child_start(&ct, callers_container_setup,
				    &(struct callers_container){ .roots = roots, .mine = mine }));
	snprintf(pid, sizeof(pid), "%d", (int)ct.pid);
	run_as_nobody_in(
	    &r, self, NULL,
	    "[{\"container_path\":\"/data\",\"mode\":\"RW\",\"source\":{\"type\":"
	    "\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"tp\",\"name\":\"v\"}}}]",
	    args);
	tu_container_stop(&ct);
	snprintf(msg, sizeof(msg),
		 "dvmount: container 'c': --rootfs '%s': in process %s's root, not the directory "
		 "that was checked",
		 mine, pid);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, msg)) TH_LOG("%s", r.err);
	run_result_free(&r);
	/* Nothing was made in root's directory. */
	snprintf(msg, sizeof(msg), "%s/data", roots);
	EXPECT_NE(0, access(msg, F_OK));
}

/*
 * A caller's container is a mount namespace the caller may own (a user
 * namespace of its own gives it mount rights there): it can bind any
 * directory it can see, root's included, under the path of a target. The
 * target's missing directories are made as the caller would make them
 * itself, never with root's rights in root's directory (issue 10: nothing
 * the caller could not reach itself).
 */
TEST_F(suid, targets_are_made_only_where_the_caller_could_make_them)
{
	char mine[PATH_MAX + 8], roots[PATH_MAX + 8], target[PATH_MAX + 16], pid[16];
	char spec[3 * PATH_MAX], made[PATH_MAX + 16];
	char rootfs[PATH_MAX + 8];
	char *args[] = { "prepare", "--container-id", "c",    "--volumes", "-", "--pid",
			 pid,	    "--rootfs",	      rootfs, NULL };
	struct tu_container ct = { 0 };
	struct run_result r;

	install_policy(_metadata, self, CALLER_POLICY);
	/* The caller's rootfs, with a directory of its own in it: "mine". */
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", self->dir);
	make_callers_dir(_metadata, rootfs);
	snprintf(mine, sizeof(mine), "%s/mine", rootfs);
	make_callers_dir(_metadata, mine);
	snprintf(roots, sizeof(roots), "%s/roots", self->dir);
	ASSERT_EQ(0, mkdir(roots, 0755));
	ASSERT_EQ(0, tu_child_start(&ct, callers_container_setup,
				    &(struct callers_container){ .roots = roots, .mine = mine }));
	snprintf(pid, sizeof(pid), "%d", (int)ct.pid);
	snprintf(target, sizeof(target), "/mine/data");
	snprintf(spec, sizeof(spec),
		 "[{\"container_path\":\"%s\",\"mode\":\"RW\",\"source\":{\"type\":"
		 "\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"tp\",\"name\":\"v\"}}}]",
		 target);
	run_as_nobody_in(&r, self, NULL, spec, args);
	tu_container_stop(&ct);
	EXPECT_EQ(1, r.status) TH_LOG("%s", r.err);
	snprintf(spec, sizeof(spec), "dvmount: container 'c': volume 'v': target '%s%s': %s\n",
		 rootfs, target, strerror(EACCES));
	EXPECT_STREQ(spec, r.err);
	run_result_free(&r);
	/* Nothing was made in root's directory. */
	snprintf(made, sizeof(made), "%s/data", roots);
	EXPECT_NE(0, access(made, F_OK));
}

TEST_HARNESS_MAIN
