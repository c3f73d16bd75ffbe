/* SPDX-License-Identifier: MIT */
/*
 * Every VolumeDriver endpoint against a real plugin: rclone's `serve docker`
 * from Debian, backed by a local directory, with real FUSE mounts. Runs on
 * the io_uring transport and on the plain-syscall one.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

FIXTURE(rclone)
{
	char *dir;
	char plugins[PATH_MAX], base[PATH_MAX], data[PATH_MAX], remote[PATH_MAX + 16];
	char state[PATH_MAX];
	pid_t pid;
};

FIXTURE_VARIANT(rclone)
{
	bool no_uring;
};

FIXTURE_VARIANT_ADD(rclone, uring){
	.no_uring = false,
};

FIXTURE_VARIANT_ADD(rclone, plain_syscalls){
	.no_uring = true,
};

/* rclone serve docker on <dir>/plugins/rclone.sock; 0 once it listens. */
static int start_rclone(FIXTURE_DATA(rclone) * self)
{
	char sock[PATH_MAX + 16], cache[PATH_MAX + 16];

	snprintf(sock, sizeof(sock), "%s/rclone.sock", self->plugins);
	snprintf(cache, sizeof(cache), "%s/cache", self->dir);
	/* Its own cache dir: rclone keeps the plugin's state there between runs. */
	char *argv[] = { "rclone",    "serve",	       "docker", "--base-dir",
			 self->base,  "--socket-addr", sock,	 "--config",
			 "/dev/null", "--cache-dir",   cache,	 NULL };
	self->pid = spawn(argv, NULL);
	if (self->pid <= 0)
		return -1;
	return wait_socket(sock, 15000);
}

FIXTURE_SETUP(rclone)
{
	if (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0)
		SKIP(return, "rclone or /dev/fuse missing (tools/install-deps installs them)");
	ASSERT_EQ(0, private_mount_ns());
	self->dir = make_tmpdir("rclone");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->plugins, sizeof(self->plugins), "%s/plugins", self->dir);
	snprintf(self->base, sizeof(self->base), "%s/base", self->dir);
	snprintf(self->data, sizeof(self->data), "%s/data", self->dir);
	snprintf(self->remote, sizeof(self->remote), "remote=:local:%s", self->data);
	ASSERT_EQ(0, mkdir(self->plugins, 0700));
	ASSERT_EQ(0, mkdir(self->base, 0700));
	ASSERT_EQ(0, mkdir(self->data, 0700));
	snprintf(self->state, sizeof(self->state), "%s/state", self->dir);
	ASSERT_EQ(0, setenv("DVMOUNT_STATE_DIR", self->state, 1));

	ASSERT_EQ(0, start_rclone(self));
}

FIXTURE_TEARDOWN(rclone)
{
	/* SIGTERM makes rclone unmount what it mounted; the namespace ends with us. */
	stop_process(self->pid, 5000);
	remove_tree(self->dir);
	free(self->dir);
}

/* dvmount [--no-uring] --plugin-path DIR volume ARGS... */
static int vol(struct run_result *r, FIXTURE_DATA(rclone) * self, bool no_uring, const char *sub,
	       const char *a1, const char *a2, const char *a3, const char *a4)
{
	return run_dvmount(r, "--plugin-path", self->plugins,
			   no_uring ? "--no-uring" : "--plugin-retry=15", "volume", sub, "--driver",
			   "rclone", a1, a2, a3, a4, NULL);
}

TEST_F(rclone, every_endpoint)
{
	struct run_result r;
	char file[PATH_MAX + 8], mp[PATH_MAX];
	char *text;

	vol(&r, self, variant->no_uring, "capabilities", NULL, NULL, NULL, NULL);
	EXPECT_EQ(0, r.status);
	EXPECT_NE(NULL, strstr(r.out, "scope: local")) TH_LOG("%s", r.out);
	run_result_free(&r);

	vol(&r, self, variant->no_uring, "create", "--name", "vol1", "--opt", self->remote);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	vol(&r, self, variant->no_uring, "get", "--name", "vol1", NULL, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "\"Name\":\"vol1\"")) TH_LOG("%s", r.out);
	run_result_free(&r);

	vol(&r, self, variant->no_uring, "list", NULL, NULL, NULL, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, strncmp(r.out, "vol1\t", 5)) TH_LOG("%s", r.out);
	run_result_free(&r);

	vol(&r, self, variant->no_uring, "mount", "--name", "vol1", "--id", "c1");
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(mp, sizeof(mp), "%s", r.out);
	mp[strcspn(mp, "\n")] = '\0';
	EXPECT_EQ(0, strncmp(mp, self->base, strlen(self->base))) TH_LOG("%s", mp);
	run_result_free(&r);

	/* A file written through the FUSE mountpoint lands in the backing dir. */
	snprintf(file, sizeof(file), "%s/hello", mp);
	ASSERT_EQ(0, write_file(file, "through the plugin\n"));
	snprintf(file, sizeof(file), "%s/hello", self->data);
	text = read_file(file);
	ASSERT_NE(NULL, text);
	EXPECT_STREQ("through the plugin\n", text);
	free(text);

	vol(&r, self, variant->no_uring, "path", "--name", "vol1", NULL, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(0, strncmp(r.out, mp, strlen(mp)));
	run_result_free(&r);

	/* rclone counts IDs: a second ID keeps it mounted past the first Unmount. */
	vol(&r, self, variant->no_uring, "mount", "--name", "vol1", "--id", "c2");
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	vol(&r, self, variant->no_uring, "unmount", "--name", "vol1", "--id", "c1");
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	snprintf(file, sizeof(file), "%s/hello", mp);
	EXPECT_EQ(0, access(file, R_OK));
	vol(&r, self, variant->no_uring, "unmount", "--name", "vol1", "--id", "c2");
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	/* Unmounting an ID that holds nothing is the plugin's error, passed on. */
	vol(&r, self, variant->no_uring, "unmount", "--name", "vol1", "--id", "c2");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "plugin 'rclone' VolumeDriver.Unmount 'vol1': "))
	TH_LOG("%s", r.err);
	EXPECT_EQ(1, count_str(r.err, "\n"));
	run_result_free(&r);

	vol(&r, self, variant->no_uring, "remove", "--name", "vol1", NULL, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	vol(&r, self, variant->no_uring, "get", "--name", "vol1", NULL, NULL);
	EXPECT_EQ(1, r.status);
	run_result_free(&r);
}

TEST_F(rclone, dvdcli_mount_as_mesos_calls_it)
{
	struct run_result r;
	char *argv[] = { (char *)build_path("dvmount"),
			 "--plugin-path",
			 self->plugins,
			 variant->no_uring ? "--no-uring" : "--plugin-retry=15",
			 "dvdcli",
			 "mount",
			 "--volumedriver=rclone",
			 "--volumename=mesosvol",
			 self->remote,
			 NULL };
	char opt[PATH_MAX + 32], file[PATH_MAX + 8];

	/* Mesos: dvdcli mount --volumedriver=D --volumename=N --volumeopts=k=v */
	snprintf(opt, sizeof(opt), "--volumeopts=%s", self->remote);
	argv[8] = opt;
	run_argv(&r, argv, 60000);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* stdout is exactly the mountpoint and a newline. */
	EXPECT_EQ(1, count_str(r.out, "\n"));
	EXPECT_EQ(0, strncmp(r.out, self->base, strlen(self->base))) TH_LOG("%s", r.out);
	r.out[strcspn(r.out, "\n")] = '\0';
	snprintf(file, sizeof(file), "%s/f", r.out);
	EXPECT_EQ(0, write_file(file, "x"));
	run_result_free(&r);

	char *un[] = { (char *)build_path("dvmount"),
		       "--plugin-path",
		       self->plugins,
		       "dvdcli",
		       "unmount",
		       "--volumedriver=rclone",
		       "--volumename=mesosvol",
		       NULL };
	run_argv(&r, un, 60000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	snprintf(file, sizeof(file), "%s/f", self->data);
	EXPECT_EQ(0, access(file, R_OK));
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
 * The drop-in run where rclone's new mounts never arrive (an agent in a
 * private mount namespace): Mesos would bind the empty directory under the
 * mount. Refused instead, nothing printed, rclone's mount released again.
 */
TEST_F(rclone, dvdcli_mount_the_caller_cannot_see_is_refused)
{
	struct run_result r;
	char opt[PATH_MAX + 32];
	char *argv[] = { "/usr/bin/unshare",
			 "-m",
			 "--propagation",
			 "private",
			 (char *)build_path("dvmount"),
			 "--plugin-path",
			 self->plugins,
			 variant->no_uring ? "--no-uring" : "--plugin-retry=15",
			 "dvdcli",
			 "mount",
			 "--volumedriver=rclone",
			 "--volumename=hidden",
			 opt,
			 NULL };

	snprintf(opt, sizeof(opt), "--volumeopts=%s", self->remote);
	run_argv(&r, argv, 60000);
	EXPECT_EQ(1, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	EXPECT_NE(NULL, strstr(r.err, "not what dvmount's mount namespace shows"))
	TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "'hidden'")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, fuse_mounts_under(self->base));
}

/* Run `dvmount dvdcli SUB --volumedriver=rclone --volumename=NAME [opt]` in N processes at once. */
static void dvdcli_at_once(struct __test_metadata *_metadata, FIXTURE_DATA(rclone) * self,
			   bool no_uring, const char *sub, int n, char (*out)[PATH_MAX])
{
	int fds[8][2];
	pid_t pids[8];

	ASSERT_GE(8, n);
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(0, pipe(fds[i]));
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			char name[64], opt[PATH_MAX + 32];
			char *argv[] = { (char *)build_path("dvmount"),
					 "--plugin-path",
					 self->plugins,
					 no_uring ? "--no-uring" : "--plugin-retry=15",
					 "--timeout-mount=20",
					 "--timeout=20",
					 "dvdcli",
					 (char *)sub,
					 "--volumedriver=rclone",
					 name,
					 opt,
					 NULL };
			struct run_result r;

			close(fds[i][0]);
			snprintf(name, sizeof(name), "--volumename=mesos%d", i);
			snprintf(opt, sizeof(opt), "--volumeopts=%s", self->remote);
			if (strcmp(sub, "mount"))
				argv[10] = NULL;
			run_argv(&r, argv, 60000);
			if (r.status != 0)
				fprintf(stderr, "dvdcli %s mesos%d: %s", sub, i, r.err);
			if (write(fds[i][1], r.out, strlen(r.out)) < 0)
				_exit(2);
			_exit(r.status == 0 && r.secs < 15 ? 0 : 1);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < n; i++) {
		int status;
		ssize_t len;

		ASSERT_EQ(pids[i], waitpid(pids[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
		TH_LOG("dvdcli %s mesos%d failed or took 15 s or more", sub, i);
		len = read(fds[i][0], out[i], PATH_MAX - 1);
		out[i][len > 0 ? len : 0] = '\0';
		close(fds[i][0]);
	}
}

/*
 * Mesos runs one dvdcli per volume at the same time. rclone's plugin
 * deadlocks on overlapping Mount/Unmount calls: separate dvmount processes
 * share its one call slot, so all finish (a hang would take the 20 s timeout).
 */
TEST_F_TIMEOUT(rclone, dvdcli_mounts_and_unmounts_at_once, 180)
{
	enum { N = 4 };
	char out[N][PATH_MAX], file[PATH_MAX + 16], name[32];

	dvdcli_at_once(_metadata, self, variant->no_uring, "mount", N, out);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, strncmp(out[i], self->base, strlen(self->base))) TH_LOG("%s", out[i]);
		EXPECT_EQ(1, count_str(out[i], "\n"));
		out[i][strcspn(out[i], "\n")] = '\0';
		snprintf(file, sizeof(file), "%s/f%d", out[i], i);
		EXPECT_EQ(0, write_file(file, "x"));
	}
	dvdcli_at_once(_metadata, self, variant->no_uring, "unmount", N, out);
	for (int i = 0; i < N; i++) {
		EXPECT_STREQ("", out[i]);
		/* Written through the mount, kept by rclone's remote. */
		snprintf(name, sizeof(name), "/f%d", i);
		snprintf(file, sizeof(file), "%s%s", self->data, name);
		EXPECT_EQ(0, access(file, R_OK)) TH_LOG("%s", file);
	}
}

/*
 * rclone forgets every Mount ID when it stops (it unmounts all at exit), so
 * after a restart it refuses the Unmount ("volume is not mounted"). Refused,
 * and its mountpoint not mounted: the plugin holds nothing. The entry goes,
 * said once as a warning, and nothing is left for recover to fail on.
 */
TEST_F_TIMEOUT(rclone, unmount_after_a_plugin_restart_releases_on_evidence, 120)
{
	char *mount[] = { (char *)build_path("dvmount"),
			  "--plugin-path",
			  self->plugins,
			  variant->no_uring ? "--no-uring" : "--plugin-retry=15",
			  "dvdcli",
			  "mount",
			  "--volumedriver=rclone",
			  "--volumename=restarted",
			  NULL,
			  NULL };
	char *unmount[] = { (char *)build_path("dvmount"),
			    "--plugin-path",
			    self->plugins,
			    "--plugin-retry=15",
			    "dvdcli",
			    "unmount",
			    "--volumedriver=rclone",
			    "--volumename=restarted",
			    NULL };
	char opt[PATH_MAX + 32];
	struct run_result r;

	snprintf(opt, sizeof(opt), "--volumeopts=%s", self->remote);
	mount[8] = opt;
	run_argv(&r, mount, 60000);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	stop_process(self->pid, 5000);
	ASSERT_EQ(0, start_rclone(self));

	run_argv(&r, unmount, 60000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(1, count_str(r.err, "\n")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "volume is not mounted")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "not mounted: it holds nothing; entry released"))
	TH_LOG("%s", r.err);
	run_result_free(&r);

	/* Nothing pending: recover and status have nothing to say. */
	run_dvmount(&r, "--plugin-path", self->plugins, "recover", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	run_dvmount(&r, "status", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_EQ(NULL, strstr(r.out, "restarted")) TH_LOG("%s", r.out);
	run_result_free(&r);

	/* And mounting it again works: a fresh ID. */
	run_argv(&r, mount, 60000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	run_argv(&r, unmount, 60000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
