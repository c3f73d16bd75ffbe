/* SPDX-License-Identifier: MIT */
/*
 * Capabilities dropped by phase (issue 10 item 4; DESIGN.md "Privilege":
 * each one dropped as soon as it is no longer needed). The test build of
 * dvmount (build/tests/dvmount-pausing) stops itself at each phase of a
 * prepare --pid; the test reads CapEff and CapPrm from /proc/PID/status
 * there, for a root start, a setuid-root start and a start with file
 * capabilities, and checks the exact sets and the order of the phases.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
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
#include "helper/caps.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

#define NOBODY 65534

FIXTURE(caps)
{
	char *dir;
	char bin[PATH_MAX], target[PATH_MAX];
	pid_t plugin, ct;
	bool made_etc, made_run, mounted;
};

FIXTURE_VARIANT(caps)
{
	int start; /* 0 root, 1 setuid, 2 file capabilities */
};

FIXTURE_VARIANT_ADD(caps, root){ .start = 0 };
FIXTURE_VARIANT_ADD(caps, setuid){ .start = 1 };
FIXTURE_VARIANT_ADD(caps, filecaps){ .start = 2 };

FIXTURE_SETUP(caps)
{
	char text[2 * PATH_MAX], p[PATH_MAX + 16];

	if (geteuid() != 0)
		SKIP(return, "needs root");
	if (variant->start == 2 && access("/usr/sbin/setcap", X_OK) != 0)
		SKIP(return, "setcap missing (libcap2-bin; tools/install-deps installs it)");
	ASSERT_EQ(0, private_mount_ns());
	self->dir = make_tmpdir("caps");
	ASSERT_NE(NULL, self->dir);
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "mode=0755"));
	snprintf(self->bin, sizeof(self->bin), "%s/dvmount", self->dir);
	ASSERT_EQ(0, install_privileged(build_path("tests/dvmount-pausing"), self->bin,
					(enum install_as[]){ INSTALL_PLAIN, INSTALL_SETUID,
							     INSTALL_FILECAPS }[variant->start]));
	/* Fixed paths, as a caller other than root cannot change them: tmpfs here. */
	if (mkdir("/etc/dvmount", 0755) == 0)
		self->made_etc = true;
	if (mkdir("/run/docker", 0755) == 0)
		self->made_run = true;
	mkdir("/run/docker/plugins", 0755);
	ASSERT_EQ(0, mount("tmpfs", "/etc/dvmount", "tmpfs", 0, "mode=0755"));
	ASSERT_EQ(0, mount("tmpfs", "/var/lib", "tmpfs", 0, "mode=0755"));
	self->plugin = testplugin_start(self->dir, "tp", (char *[]){ "--bind", NULL });
	ASSERT_LT(0, self->plugin);
	snprintf(p, sizeof(p), "%s/plugins", self->dir);
	ASSERT_EQ(0, mount(p, "/run/docker/plugins", NULL, MS_BIND, NULL));
	self->mounted = true;
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0 uid:65534\n\n[driver tp]\nhost-paths = %s/tp.root\n"
		 "modes = RW RO\n",
		 self->dir);
	ASSERT_EQ(0, write_file("/etc/dvmount/policy.conf", text));
	ASSERT_EQ(0, chmod("/etc/dvmount/policy.conf", 0644));
	snprintf(self->target, sizeof(self->target), "%s/target", self->dir);
	ASSERT_EQ(0, mkdir(self->target, 0755));
}

FIXTURE_TEARDOWN(caps)
{
	struct run_result r;

	if (self->ct > 0) {
		kill(self->ct, SIGKILL);
		waitpid(self->ct, NULL, 0);
	}
	if (self->mounted) {
		run_dvmount(&r, "cleanup", "--container-id", "caps", NULL);
		run_result_free(&r);
		umount2("/run/docker/plugins", MNT_DETACH);
		umount2("/var/lib", MNT_DETACH);
		umount2("/etc/dvmount", MNT_DETACH);
	}
	if (self->plugin > 0)
		stop_process(self->plugin, 2000);
	rmdir("/run/docker/plugins");
	if (self->made_run)
		rmdir("/run/docker");
	if (self->made_etc)
		rmdir("/etc/dvmount");
	remove_tmpdir(self->dir);
}

/* In the container child: a mount namespace of its own, then uid. */
static int container_as(void *arg)
{
	uid_t uid = *(uid_t *)arg;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    setresgid(uid, uid, uid) < 0 || setresuid(uid, uid, uid) < 0)
		return -errno;
	return 0;
}

/* The container: a process of uid that setup (container_as...) put in place; its pid or -1. */
static pid_t start_container(int (*setup)(void *arg), uid_t uid)
{
	struct tu_container ct;

	return tu_child_start(&ct, setup, &uid) < 0 ? -1 : ct.pid;
}

static uint64_t status_hex(pid_t pid, const char *key)
{
	char path[64], line[256];
	uint64_t v = UINT64_MAX;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)))
			v = strtoull(line + strlen(key), NULL, 16);
	fclose(f);
	return v;
}

/*
 * The pausing dvmount, as uid, running argv (argv[0] is replaced) with input
 * on its stdin (NULL: /dev/null); its pid, or -1.
 */
static pid_t spawn_cmd(FIXTURE_DATA(caps) * self, uid_t uid, const char *env, char **argv,
		       const char *input)
{
	int in[2] = { -1, -1 };
	pid_t child;

	if (input && (pipe(in) < 0 || write(in[1], input, strlen(input)) < 0))
		return -1;
	if (input)
		close(in[1]);
	child = fork();
	if (child == 0) {
		/* make asan: LeakSanitizer cannot work in a setuid (not dumpable) process. */
		char *envp[] = { (char *)env, "ASAN_OPTIONS=detect_leaks=0", NULL };
		int null = open("/dev/null", O_RDWR);

		argv[0] = self->bin;
		dup2(input ? in[0] : null, 0);
		dup2(null, 1);
		if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
		    setresuid(uid, uid, uid) < 0)
			_exit(126);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	if (input)
		close(in[0]);
	return child;
}

/*
 * The pausing dvmount, as uid, preparing one volume at self->target into
 * self->ct with env (e.g. "DVMOUNT_PAUSE_AT=all"); its pid, or -1.
 */
static pid_t spawn_prepare(FIXTURE_DATA(caps) * self, uid_t uid, const char *env)
{
	char pid[16], spec[2 * PATH_MAX];
	char *argv[] = { NULL, "prepare", "--container-id", "caps", "--volumes", "-", "--pid",
			 pid,  NULL };

	snprintf(pid, sizeof(pid), "%d", (int)self->ct);
	snprintf(spec, sizeof(spec),
		 "[{\"container_path\":\"%s\",\"mode\":\"RW\",\"source\":{\"type\":"
		 "\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"tp\",\"name\":\"v\"}}}]",
		 self->target);
	return spawn_cmd(self, uid, env, argv, spec);
}

struct phase {
	char name[16];
	uint64_t eff, prm, bnd;
	char uid[64], gid[64];
};

/* The value of key ("Uid:": real, effective, saved, filesystem) in /proc/PID/status. */
static void status_ids(pid_t pid, const char *key, char *buf, size_t size)
{
	char path[64], line[256];
	FILE *f;

	snprintf(buf, size, "?");
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key))) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, size, "%s",
				 line + strlen(key) + strspn(line + strlen(key), "\t "));
		}
	fclose(f);
}

/*
 * What the paused child shows of its phase: its name (the phase, in comm),
 * capabilities and ids, into ret. -errno when its comm could not be opened
 * (the name is then empty).
 */
static int record_phase(pid_t child, struct phase *ret)
{
	char path[64], comm[64] = "";
	int r = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)child);
	f = fopen(path, "re");
	if (!f)
		r = -errno;
	else if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	if (f)
		fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(ret->name, sizeof(ret->name), "%s", comm);
	ret->eff = status_hex(child, "CapEff:");
	ret->prm = status_hex(child, "CapPrm:");
	ret->bnd = status_hex(child, "CapBnd:");
	status_ids(child, "Uid:", ret->uid, sizeof(ret->uid));
	status_ids(child, "Gid:", ret->gid, sizeof(ret->gid));
	return r;
}

TEST_F(caps, prepare_drops_each_capability_after_its_last_use)
{
	const uint64_t all = CAPS_KEPT;
	const struct {
		const char *name;
		uint64_t held;
		bool caller_ids; /* uid and gid 0 given up (setuid start) */
	} want[] = {
		{ "hardened", all, false },
		/* No --user: CAP_CHOWN has nothing to do. */
		{ "resolved", all & ~CAPS(CAP_CHOWN), false },
		{ "mounted", all & ~CAPS(CAP_CHOWN), false },
		/* Attached and committed: no mount, namespace or /proc/PID any more. */
		{ "attached", CAPS(CAP_DAC_OVERRIDE) | CAPS(CAP_AUDIT_WRITE), false },
		/*
		 * The state is written: only the audit record is left, and no
		 * root identity (a root file's owner bits, kill(2) of root's
		 * processes) for a setuid start.
		 */
		{ "committed", CAPS(CAP_AUDIT_WRITE), true },
		{ "done", 0, true },
	};
	/* Real, effective, saved, filesystem: a setuid start is 0 but for the real id. */
	const char *root_ids = variant->start == 0   ? "0\t0\t0\t0"
			       : variant->start == 1 ? "65534\t0\t0\t0"
						     : "65534\t65534\t65534\t65534";
	const char *caller_ids = variant->start ? "65534\t65534\t65534\t65534" : "0\t0\t0\t0";
	struct phase seen[16];
	size_t n = 0;
	int status;
	uid_t uid = variant->start ? NOBODY : 0;
	pid_t child;

	self->ct = start_container(container_as, uid);
	ASSERT_LT(0, self->ct);
	child = spawn_prepare(self, uid, "DVMOUNT_PAUSE_AT=all");
	ASSERT_LT(0, child);
	for (;;) {
		ASSERT_EQ(child, waitpid(child, &status, WUNTRACED));
		if (!WIFSTOPPED(status))
			break;
		ASSERT_GT(ARRAY_SIZE(seen), n);
		ASSERT_EQ(0, record_phase(child, &seen[n]));
		n++;
		kill(child, SIGCONT);
	}
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	ASSERT_EQ(ARRAY_SIZE(want), n);
	for (size_t i = 0; i < n; i++) {
		EXPECT_STREQ(want[i].name, seen[i].name);
		EXPECT_EQ(want[i].held, seen[i].eff)
		TH_LOG("%s: CapEff %#" PRIx64 ", want %#" PRIx64, seen[i].name, seen[i].eff,
		       want[i].held);
		EXPECT_EQ(want[i].held, seen[i].prm)
		TH_LOG("%s: CapPrm %#" PRIx64 ", want %#" PRIx64, seen[i].name, seen[i].prm,
		       want[i].held);
		/*
		 * A root or setuid start (CAP_SETPCAP) keeps only the six in its
		 * bounding set from the start: nothing it execs gets more. File
		 * capabilities give no CAP_SETPCAP: the bounding set stays the
		 * caller's.
		 */
		if (variant->start != 2)
			EXPECT_EQ(all, seen[i].bnd)
		TH_LOG("%s: CapBnd %#" PRIx64 ", want %#" PRIx64, seen[i].name, seen[i].bnd, all);
		EXPECT_STREQ(want[i].caller_ids ? caller_ids : root_ids, seen[i].uid)
		TH_LOG("%s: Uid %s", seen[i].name, seen[i].uid);
		/* The copy is setuid, not setgid: the gids are the caller's throughout. */
		EXPECT_STREQ(caller_ids, seen[i].gid)
		TH_LOG("%s: Gid %s", seen[i].name, seen[i].gid);
	}
}

/*
 * Run argv paused at every phase: the phases seen, with their capabilities
 * and ids, into seen[0..*ret_n); the exit status.
 */
static int run_phases(FIXTURE_DATA(caps) * self, uid_t uid, char **argv, struct phase *seen,
		      size_t max, size_t *ret_n)
{
	pid_t child = spawn_cmd(self, uid, "DVMOUNT_PAUSE_AT=all", argv, NULL);
	size_t n = 0;
	int status = -1;

	while (child > 0 && waitpid(child, &status, WUNTRACED) == child && WIFSTOPPED(status)) {
		if (n < max)
			record_phase(child, &seen[n++]);
		kill(child, SIGCONT);
	}
	*ret_n = n;
	return status;
}

/*
 * cleanup and recover drop by phase too (issue 10 item 4): CAP_CHOWN at
 * once (taking volumes away never chowns), everything, uid 0 included, once
 * the volumes are detached, Unmounted, forgotten and audited.
 */
TEST_F(caps, cleanup_and_recover_drop_what_they_no_longer_need)
{
	const uint64_t all = CAPS_KEPT;
	const char *caller_ids = variant->start ? "65534\t65534\t65534\t65534" : "0\t0\t0\t0";
	const char *root_ids = variant->start == 1 ? "65534\t0\t0\t0" : caller_ids;
	const struct {
		const char *name;
		uint64_t held;
		bool caller_ids;
	} want[] = {
		{ "hardened", all, false },
		{ "opened", all & ~CAPS(CAP_CHOWN), false },
		{ "done", 0, true },
	};
	char *cleanup[] = { NULL, "cleanup", "--container-id", "caps", NULL };
	char *recover[] = { NULL, "recover", NULL };
	char **cmds[] = { cleanup, recover };
	uid_t uid = variant->start ? NOBODY : 0;

	self->ct = start_container(container_as, uid);
	ASSERT_LT(0, self->ct);
	for (size_t c = 0; c < ARRAY_SIZE(cmds); c++) {
		struct phase seen[16];
		pid_t child;
		size_t n;
		int status;

		/* Something to take away: a prepared container, its process gone for recover. */
		child = spawn_prepare(self, uid, "DVMOUNT_PAUSE_AT=none");
		ASSERT_LT(0, child);
		ASSERT_EQ(child, waitpid(child, &status, 0));
		ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		if (cmds[c] == recover) {
			kill(self->ct, SIGKILL);
			waitpid(self->ct, NULL, 0);
			self->ct = 0;
		}
		status = run_phases(self, uid, cmds[c], seen, ARRAY_SIZE(seen), &n);
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("%s: status %#x", cmds[c][1], status);
		ASSERT_EQ(ARRAY_SIZE(want), n) TH_LOG("%s: %zu phases", cmds[c][1], n);
		for (size_t i = 0; i < n; i++) {
			EXPECT_STREQ(want[i].name, seen[i].name);
			EXPECT_EQ(want[i].held, seen[i].eff)
			TH_LOG("%s %s: CapEff %#" PRIx64, cmds[c][1], seen[i].name, seen[i].eff);
			EXPECT_EQ(want[i].held, seen[i].prm)
			TH_LOG("%s %s: CapPrm %#" PRIx64, cmds[c][1], seen[i].name, seen[i].prm);
			EXPECT_STREQ(want[i].caller_ids ? caller_ids : root_ids, seen[i].uid)
			TH_LOG("%s %s: Uid %s", cmds[c][1], seen[i].name, seen[i].uid);
		}
	}
}

/*
 * In the container child: uid, then a user namespace and a mount namespace
 * of its own, as an unprivileged containerizer makes them: root in there,
 * it may mount_setattr() every mount of that namespace.
 */
static int userns_container_as(void *arg)
{
	uid_t uid = *(uid_t *)arg;

	if (setgroups(0, NULL) < 0 || setresgid(uid, uid, uid) < 0 ||
	    setresuid(uid, uid, uid) < 0 || unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	return 0;
}

/* Does /proc/PID/mountinfo list a mount at path? */
static bool mounted_at(pid_t pid, const char *path)
{
	char file[64], line[4096], want[PATH_MAX + 4];
	bool found = false;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/mountinfo", (int)pid);
	snprintf(want, sizeof(want), " %s ", path);
	f = fopen(file, "re");
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, want) != NULL;
	if (f)
		fclose(f);
	return found;
}

/*
 * A volume moved into a mount namespace owned by a user namespace of the
 * caller's is not locked there (the kernel locks the attributes only of
 * mounts copied into it): the caller, root in there, would remount it
 * read-write, dev and suid (issue 10, reproduced with mode RO). Refused to
 * a caller that is not root, with exit 3 and nothing attached; a root
 * caller is trusted with it.
 */
TEST_F(caps, a_caller_cannot_attach_into_a_user_namespace_of_its_own)
{
	uid_t uid = variant->start ? NOBODY : 0;
	pid_t child;
	int status;

	self->ct = start_container(userns_container_as, uid);
	ASSERT_LT(0, self->ct);
	child = spawn_prepare(self, uid, "DVMOUNT_PAUSE_AT=none");
	ASSERT_LT(0, child);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(variant->start ? 3 : 0, WEXITSTATUS(status));
	EXPECT_EQ(variant->start ? false : true, mounted_at(self->ct, self->target));
}

/* The stopped child of parent (state T in /proc/PID/stat), waiting up to 10 s; 0 if none. */
static pid_t stopped_child(pid_t parent)
{
	for (int tries = 0; tries < 1000; tries++) {
		DIR *d = opendir("/proc");
		struct dirent *de;
		pid_t found = 0;

		while (d && (de = readdir(d))) {
			char path[300], buf[512], *p;
			int ppid;
			FILE *f;

			if (de->d_name[0] < '1' || de->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
			fclose(f);
			if (p && sscanf(p, ") T %d", &ppid) == 1 && ppid == parent)
				found = atoi(de->d_name);
		}
		if (d)
			closedir(d);
		if (found)
			return found;
		usleep(10000);
	}
	return 0;
}

/*
 * fd hygiene (issue 10 item 5; CVE-2024-21626): the child that enters the
 * container's mount namespace holds only what it uses there: the pidfd, the
 * process's root and the resolved root, the pipe back, its own /proc/self/fd,
 * the volume's tree and its target. No state file, lock, policy, plugin
 * socket, ring or standard stream of dvmount's.
 */
TEST_F(caps, attach_child_holds_only_its_own_fds)
{
	uid_t uid = variant->start ? NOBODY : 0;
	int status, n = 0, pidfds = 0, pipes = 0;
	char dir[64], out[4096] = "";
	pid_t child, grandchild;
	struct dirent *de;
	DIR *d;

	self->ct = start_container(container_as, uid);
	ASSERT_LT(0, self->ct);
	child = spawn_prepare(self, uid, "DVMOUNT_PAUSE_AT=attach-child");
	ASSERT_LT(0, child);
	grandchild = stopped_child(child);
	ASSERT_LT(0, grandchild);
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)grandchild);
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		char path[128], target[PATH_MAX];
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len < 0 ? 0 : len] = '\0';
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s -> %s\n", de->d_name,
			 target);
		n++;
		pidfds += !strcmp(target, "anon_inode:[pidfd]");
		pipes += !strncmp(target, "pipe:", 5);
		EXPECT_EQ(NULL, strstr(target, "socket:")) TH_LOG("%s", target);
		EXPECT_EQ(NULL, strstr(target, "io_uring")) TH_LOG("%s", target);
		EXPECT_EQ(NULL, strstr(target, "/var/lib/dvmount")) TH_LOG("%s", target);
		EXPECT_EQ(NULL, strstr(target, "/etc/dvmount")) TH_LOG("%s", target);
		EXPECT_EQ(NULL, strstr(target, "/dev/null")) TH_LOG("%s", target);
	}
	closedir(d);
	kill(grandchild, SIGCONT);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("status %#x", status);
	/* pidfd, proc root, pipe, tree, target, /proc/self/fd, resolved root. */
	EXPECT_EQ(7, n) TH_LOG("%s", out);
	EXPECT_EQ(1, pidfds) TH_LOG("%s", out);
	EXPECT_EQ(1, pipes) TH_LOG("%s", out);
}

TEST_HARNESS_MAIN
