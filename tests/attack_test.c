/* SPDX-License-Identifier: MIT */
/*
 * Attacks performed, not imagined (issue 10 item 5).
 *
 * The symlink-exchange race: while dvmount prepares a container again and
 * again, a process swaps the target directory with a symlink to "/" with
 * renameat2(RENAME_EXCHANGE) in a tight loop (CVE-2021-30465's shape). Every
 * prepare must either attach the volume inside the rootfs, at one of the two
 * places the path can lead inside it, or refuse with exit 1; no mount may
 * ever land outside the rootfs, and nothing may be created outside it.
 * Bounded in time to fit `make check`: DVMOUNT_RACE_SECONDS (default 20) and
 * DVMOUNT_RACE_ROUNDS (default 10000), whichever ends first.
 */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

FIXTURE(attack)
{
	struct lcenv e;
	struct tu_container ct;
	char rootfs[PATH_MAX];
	pid_t swapper;
};

FIXTURE_SETUP(attack)
{
	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->rootfs, "%s/rootfs", self->e.dir);
	ASSERT_EQ(0, lc_mkrootfs(self->rootfs));
}

FIXTURE_TEARDOWN(attack)
{
	if (self->swapper > 0) {
		kill(self->swapper, SIGKILL);
		waitpid(self->swapper, NULL, 0);
	}
	tu_container_stop(&self->ct);
	lcenv_teardown(&self->e);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long env_long(const char *name, long def, long max)
{
	const char *v = getenv(name);
	long n = v ? strtol(v, NULL, 10) : def;

	return n > 0 && n <= max ? n : def;
}

/* The first volume's "target" in prepare's output, or "". */
static const char *printed_target(const char *out, char buf[static PATH_MAX])
{
	json_object *doc = json_tokener_parse(out), *vols, *v, *t;

	buf[0] = '\0';
	if (doc && json_object_object_get_ex(doc, "volumes", &vols) &&
	    json_object_array_length(vols) > 0 && (v = json_object_array_get_idx(vols, 0)) &&
	    json_object_object_get_ex(v, "target", &t))
		snprintf(buf, PATH_MAX, "%s", json_object_get_string(t));
	json_object_put(doc);
	return buf;
}

TEST_F(attack, symlink_exchange_race_never_leaves_the_rootfs)
{
	long seconds = env_long("DVMOUNT_RACE_SECONDS", 20, 3600);
	long max_rounds = env_long("DVMOUNT_RACE_ROUNDS", 10000, 10000000);
	char data[PATH_MAX], swap[PATH_MAX], vols[PATH_MAX], pid[16], buf[PATH_MAX];
	char at_data[PATH_MAX], at_root[PATH_MAX];
	long rounds = 0, inside_data = 0, inside_root = 0, refused = 0;
	int host_mounts, ct_outside;
	struct stat st;
	double end;

	/* rootfs/data a directory, rootfs/swap -> "/": the two get exchanged. */
	ASSERT_EQ(0, tu_mkdirs(tu_path(data, "%s/data", self->rootfs), 0755));
	ASSERT_EQ(0, symlink("/", tu_path(swap, "%s/swap", self->rootfs)));
	ASSERT_NE(0, lstat("/vol", &st)) TH_LOG("the host has a /vol: the check needs none");
	struct lcvol v[] = { { .name = "v", .path = "/data/vol" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct, self->rootfs, 0));
	lc_pidstr(pid, self->ct.pid);
	/* Before pivot_root, the container sees the rootfs at its host path. */
	tu_path(at_data, "%s/data/vol", self->rootfs);
	tu_path(at_root, "%s/vol", self->rootfs);
	/* The plugin's own mounts (under tp.root) come and go: not counted. */
	host_mounts = lc_mounts_under(0, "/") - lc_mounts_under(0, self->e.tproot);
	/* Mounts in the container outside the rootfs: what the host had, copied. */
	ct_outside =
	    lc_mounts_under(self->ct.pid, "/") - lc_mounts_under(self->ct.pid, self->rootfs);

	self->swapper = fork();
	ASSERT_LE(0, self->swapper);
	if (self->swapper == 0) {
		for (;;)
			renameat2(AT_FDCWD, data, AT_FDCWD, swap, RENAME_EXCHANGE);
	}

	end = now() + (double)seconds;
	while (rounds < max_rounds && now() < end) {
		struct run_result r;
		const char *t;

		lcenv_run(&self->e, &r, "prepare", "--container-id", "race", "--volumes", vols,
			  "--pid", pid, "--rootfs", self->rootfs, NULL);
		rounds++;
		if (r.status == 0) {
			t = printed_target(r.out, buf);
			/* Where it went, exactly: one of the two places inside. */
			if (!strcmp(t, at_data)) {
				inside_data++;
			} else if (!strcmp(t, at_root)) {
				inside_root++;
			} else {
				EXPECT_STREQ(at_data, t) OK_OR_LOG(r);
				run_result_free(&r);
				break;
			}
		} else {
			/* A walk that renames defeated every time: refused, exit 1. */
			EXPECT_EQ(1, r.status) OK_OR_LOG(r);
			EXPECT_NE(NULL, strstr(r.err, "Too many levels of symbolic links"))
			OK_OR_LOG(r);
			refused++;
		}
		run_result_free(&r);
		/* Never outside the rootfs, in the container or on the host. */
		EXPECT_EQ(ct_outside, lc_mounts_under(self->ct.pid, "/") -
					  lc_mounts_under(self->ct.pid, self->rootfs));
		EXPECT_EQ(host_mounts,
			  lc_mounts_under(0, "/") - lc_mounts_under(0, self->e.tproot));
		EXPECT_NE(0, lstat("/vol", &st));
		if (r.status == 0) {
			/*
			 * The exchange moves rootfs/data, and a mount below it,
			 * to rootfs/swap: cleanup then rightly keeps what it cannot
			 * find at its path. Hold the swapper, put data back.
			 */
			kill(self->swapper, SIGSTOP);
			waitpid(self->swapper, NULL, WUNTRACED);
			if (lstat(data, &st) == 0 && S_ISLNK(st.st_mode))
				renameat2(AT_FDCWD, data, AT_FDCWD, swap, RENAME_EXCHANGE);
			lcenv_run(&self->e, &r, "cleanup", "--container-id", "race", NULL);
			EXPECT_EQ(0, r.status) OK_OR_LOG(r);
			run_result_free(&r);
			kill(self->swapper, SIGCONT);
		}
		if (_metadata->passed == 0)
			break;
	}
	kill(self->swapper, SIGKILL);
	waitpid(self->swapper, NULL, 0);
	self->swapper = 0;
	TH_LOG("%ld prepares in %ld s: %ld at /data/vol, %ld at /vol (through the link), "
	       "%ld refused",
	       rounds, seconds, inside_data, inside_root, refused);
	/* The race was run (ASan builds on a loaded machine manage about 80 in 20 s). */
	EXPECT_LT(20, rounds);
	EXPECT_LT(0, inside_data + inside_root);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, self->rootfs) - 1);
}

TEST_HARNESS_MAIN
