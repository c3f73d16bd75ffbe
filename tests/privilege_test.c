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

#define NOBODY 65534

FIXTURE(suid)
{
	char *dir;
	char bin[PATH_MAX], state[PATH_MAX];
	bool made_etc, mounted;
};

FIXTURE_SETUP(suid)
{
	char cmd[3 * PATH_MAX];

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
	snprintf(cmd, sizeof(cmd), "cp %s %s", build_path("dvmount"), self->bin);
	ASSERT_EQ(0, system(cmd));
	ASSERT_EQ(0, chown(self->bin, 0, 0));
	ASSERT_EQ(0, chmod(self->bin, 04755));
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
	if (!self->dir)
		return;
	umount2(self->dir, MNT_DETACH);
	remove_tree(self->dir);
	free(self->dir);
}

/* Run the setuid copy as nobody with the given environment entry (may be NULL). */
static void run_as_nobody(struct run_result *r, FIXTURE_DATA(suid) * self, const char *env,
			  char *const args[])
{
	char *argv[32];
	int n = 0;

	argv[n++] = self->bin;
	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid;
	int out[2], err[2], status;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, RUN_OUT_MAX);
	r->err = calloc(1, RUN_OUT_MAX);
	if (pipe(out) < 0 || pipe(err) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char *envp[] = { (char *)env, NULL };

		dup2(out[1], 1);
		dup2(err[1], 2);
		if (setgroups(0, NULL) < 0 || setresgid(NOBODY, NOBODY, NOBODY) < 0 ||
		    setresuid(NOBODY, NOBODY, NOBODY) < 0)
			_exit(126);
		execve(argv[0], argv, env ? envp : (char *[]){ NULL });
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	waitpid(pid, &status, 0);
	if (read(out[0], r->out, RUN_OUT_MAX - 1) < 0 || read(err[0], r->err, RUN_OUT_MAX - 1) < 0)
		r->status = -1;
	close(out[0]);
	close(err[0]);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST_F(suid, flags_that_redirect_trust_are_refused)
{
	static const char *const flags[] = { "--state-dir", "--policy", "--plugin-path" };
	struct run_result r;

	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		char *args[] = { (char *)flags[i], self->dir, "status", NULL };

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

	run_as_nobody(&r, self, NULL, vol);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "'volume' is for root only")) TH_LOG("%s", r.err);
	run_result_free(&r);
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
	struct run_result r;

	install_policy(_metadata, self, "[dvmount]\ncallers = uid:0 gid:0\n");
	run_as_nobody(&r, self, NULL, args);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "denied by /etc/dvmount/policy.conf:2")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/* The review's attack: a permitted caller aims dvmount at root's mount namespace. */
TEST_F(suid, a_permitted_caller_cannot_attach_into_someone_elses_process)
{
	char *args[] = { "prepare", "--container-id", "evil", "--volumes", "-", "--pid", "1",
			 NULL };
	struct run_result r;

	install_policy(_metadata, self,
		       "[dvmount]\ncallers = uid:65534\n\n[driver tp]\nhost-paths = /tmp\n");
	run_as_nobody(&r, self, NULL, args);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "--pid 1: not a process of the caller")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_F(suid, a_permitted_caller_cannot_pick_host_paths_or_files)
{
	char *rootfs[] = { "prepare", "--container-id", "evil", "--volumes", "-", "--rootfs", "/",
			   NULL };
	char mine[PATH_MAX + 8];
	char *file[] = { "prepare", "--container-id", "evil", "--volumes", "/etc/shadow",
			 "--rootfs", mine, NULL };
	struct run_result r;

	/* A rootfs the caller owns, so that only the file is in question. */
	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	ASSERT_EQ(0, mkdir(mine, 0755));
	ASSERT_EQ(0, chown(mine, NOBODY, NOBODY));

	install_policy(_metadata, self,
		       "[dvmount]\ncallers = uid:65534\n\n[driver tp]\nhost-paths = /tmp\n");
	/* "/" belongs to root: mkdir-anywhere-as-root is not on offer. */
	run_as_nobody(&r, self, NULL, rootfs);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "'/': not a directory of the caller")) TH_LOG("%s", r.err);
	run_result_free(&r);
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
	char *args[] = { "prepare", "--container-id", "evil", "--volumes", "-", "--pid", pid,
			 "--rootfs", mine, NULL };
	struct run_result r;
	pid_t sleeper;

	install_policy(_metadata, self,
		       "[dvmount]\ncallers = uid:65534\n\n[driver tp]\nhost-paths = /tmp\n");
	snprintf(mine, sizeof(mine), "%s/mine", self->dir);
	ASSERT_EQ(0, mkdir(mine, 0755));
	ASSERT_EQ(0, chown(mine, NOBODY, NOBODY));
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
	run_dvmount(&r, "--plugin-path", text, "prepare", "--container-id", "victim",
		    "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	run_as_nobody(&r, self, NULL, args);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "not a container of the caller")) TH_LOG("%s", r.err);
	run_result_free(&r);
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
	struct run_result r;

	if (access("/etc/dvmount/policy.conf", F_OK) == 0)
		SKIP(return, "this machine has a policy file: the test needs none");
	run_as_nobody(&r, self, NULL, args);
	EXPECT_EQ(3, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "/etc/dvmount/policy.conf")) TH_LOG("%s", r.err);
	run_result_free(&r);
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

TEST_HARNESS_MAIN
