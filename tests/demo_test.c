/* SPDX-License-Identifier: MIT */
/*
 * `make demo`, README's first command, run as a user runs it, twice in a row:
 * it shows the seed's scenario (task 2 lists the file task 1 wrote) and
 * leaves no file, mount or process behind.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

/* Entries in a directory, or -1. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Processes whose command line mentions needle (the demo's directory). */
static int processes_mentioning(const char *needle)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		char path[64], buf[4096];
		FILE *f;
		size_t len;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/cmdline", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		for (size_t i = 0; i < len; i++)
			if (!buf[i])
				buf[i] = ' ';
		buf[len] = '\0';
		if (strstr(buf, needle))
			n++;
	}
	closedir(d);
	return n;
}

TEST(make_demo_twice_leaves_nothing_behind)
{
	char build[PATH_MAX], odir[PATH_MAX + 8];
	char *tmp, *mi;
	bool had_vol = access("/tmp/myvolume", F_OK) == 0;
	struct run_result r;

	if (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0 ||
	    access("/bin/busybox", X_OK) != 0)
		SKIP(return, "rclone, fuse or busybox missing (tools/install-deps installs them)");
	ASSERT_NE(NULL, realpath(build_path(""), build));
	snprintf(odir, sizeof(odir), "O=%s", build);
	tmp = make_tmpdir("demo");
	ASSERT_NE(NULL, tmp);
	/* The demo's temporary directory goes here, where we can see what is left. */
	ASSERT_EQ(0, setenv("TMPDIR", tmp, 1));
	/* Not a sub-make of `make check`: no jobserver to inherit. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");

	for (int round = 0; round < 2; round++) {
		char *argv[] = { "/usr/bin/make", "-s", "-C", DVMOUNT_SRCDIR, odir, "demo", NULL };

		ASSERT_EQ(0, run_argv(&r, argv, 120000));
		EXPECT_EQ(0, r.status) TH_LOG("round %d\n%s\n%s", round, r.out, r.err);
		/* Task 2, on the terminal and in its sandbox's stdout; then in the rootfs. */
		EXPECT_EQ(3, count_str(r.out, "\nmyfile\n")) TH_LOG("%s", r.out);
		/* Step 7's command is printed quoted, so that pasting it runs the same. */
		EXPECT_EQ(1, count_str(r.out, " -- sh -c 'echo \"in $(pwd), as pid $$ on host "
					      "$(hostname):\"; ls myvolume; sleep 2'\n"))
		TH_LOG("%s", r.out);
		EXPECT_EQ(1, count_str(r.out, "Read-only file system") +
				 count_str(r.err, "Read-only file system"));
		EXPECT_EQ(1, count_str(r.out, "rclone mounts left: 0; dvmount records left: 0"))
		TH_LOG("%s", r.out);
		run_result_free(&r);
		EXPECT_EQ(0, count_entries(tmp));
		EXPECT_EQ(0, processes_mentioning(tmp));
		EXPECT_EQ(had_vol, access("/tmp/myvolume", F_OK) == 0);
	}
	/* The demo mounts only in its own namespace: the host never sees its directory. */
	mi = read_file("/proc/self/mountinfo");
	ASSERT_NE(NULL, mi);
	EXPECT_EQ(0, count_str(mi, tmp));
	free(mi);
	remove_tree(tmp);
	free(tmp);
}

/*
 * README's "Try it: dvmount-run" block, as written, run in order in a private
 * mount namespace: every directory it writes (/etc/dvmount, /run, /srv,
 * /var/lib, /tmp) is a tmpfs there, so the host keeps none of it.
 */
static const char readme_runner[] =
    "set -eu\n"
    "readme=$1 build=$2\n"
    "for d in /etc/dvmount /run /srv /var/lib; do mount -t tmpfs tmpfs \"$d\"; done\n"
    /* The tree may live under /tmp (CI's clone may): keep README's block and
     * the build reachable before /tmp is covered. */
    "awk '/^## Try it: dvmount-run/ { s = 1 } s && b && /^```$/ { exit } b { print }\n"
    "     s && /^```sh$/ { b = 1 }' \"$readme\" >/run/block.sh\n"
    "mkdir /run/dvmount-build && mount --bind \"$build\" /run/dvmount-build\n"
    "mount -t tmpfs tmpfs /tmp && mv /run/block.sh /tmp/block.sh\n"
    "cd /tmp\n"
    "PATH=/run/dvmount-build:$PATH bash -e /tmp/block.sh\n"
    "echo \"backing: $(ls /srv/rclone/data); host dir entries: $(ls -A /tmp/myvolume | wc -l)\"\n"
    "echo \"rclone mounts left: $(grep -c fuse.rclone /proc/self/mountinfo || true)\"\n";

TEST(readme_try_it_block_runs)
{
	char build[PATH_MAX], readme[PATH_MAX];
	bool made_etc = false;
	struct run_result r;
	char *mi;

	if (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0)
		SKIP(return, "rclone or fuse missing (tools/install-deps installs them)");
	ASSERT_NE(NULL, realpath(build_path(""), build));
	snprintf(readme, sizeof(readme), "%s/README.md", DVMOUNT_SRCDIR);
	/* The one mount point the host may lack; removed again below. */
	if (access("/etc/dvmount", F_OK) != 0) {
		ASSERT_EQ(0, mkdir("/etc/dvmount", 0755));
		made_etc = true;
	}
	char *argv[] = {
		"/usr/bin/unshare",    "--mount", "--propagation", "private", "/bin/bash", "-c",
		(char *)readme_runner, "readme",  readme,	   build,     NULL
	};

	EXPECT_EQ(0, run_argv(&r, argv, 120000));
	if (made_etc)
		EXPECT_EQ(0, rmdir("/etc/dvmount"));
	EXPECT_EQ(0, r.status) TH_LOG("%s\n%s", r.out, r.err);
	/* Task 2's ls, then its sandbox's stdout; the file is in the backing only. */
	EXPECT_STREQ("myfile\nmyfile\nbacking: myfile; host dir entries: 0\n"
		     "rclone mounts left: 0\n",
		     r.out);
	run_result_free(&r);
	mi = read_file("/proc/self/mountinfo");
	ASSERT_NE(NULL, mi);
	EXPECT_EQ(0, count_str(mi, "/srv/rclone"));
	free(mi);
}

TEST_HARNESS_MAIN
