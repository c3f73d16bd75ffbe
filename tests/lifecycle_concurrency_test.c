/* SPDX-License-Identifier: MIT */
/*
 * Many dvmount processes at once: 16 workers prepare and clean up their own
 * containers over 4 shared volumes (2-4 each), round after round. The
 * per-volume locks and user entries must keep the plugin's Mounts and
 * Unmounts paired, every run must succeed, and nothing may be left.
 * And the same basic prepare/cleanup with a real FUSE plugin: rclone.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

#define WORKERS 16
#define ROUNDS_TOTAL 800 /* 50 per worker: about 2 s here; the brief asked for 200 */
#define VOLUMES 4

LC_FIXTURE(concurrency);

/* One worker: its rounds, each a prepare and a cleanup; returns the failures. */
static int worker(struct lcenv *e, int w)
{
	static const char *const names[VOLUMES] = { "s0", "s1", "s2", "s3" };
	char sandbox[PATH_MAX], vols[PATH_MAX], cid[32], file[32], fail[PATH_MAX];
	unsigned seed = 0x9e3779b9u * (unsigned)(w + 1);
	int failures = 0, successes = 0;

	tu_path(sandbox, "%s/sb%d", e->dir, w);
	if (tu_mkdirs(sandbox, 0755) < 0)
		return 1;
	for (int round = 0; round < ROUNDS_TOTAL / WORKERS; round++) {
		struct lcvol v[VOLUMES];
		char paths[VOLUMES][16];
		struct run_result r;
		int n = 2 + (int)(rand_r(&seed) % 3), first = (int)(rand_r(&seed) % VOLUMES);

		for (int i = 0; i < n; i++) {
			snprintf(paths[i], sizeof(paths[i]), "v%d", i);
			v[i] = (struct lcvol){ .name = names[(first + i) % VOLUMES],
					       .path = paths[i] };
		}
		snprintf(file, sizeof(file), "w%d.json", w);
		snprintf(cid, sizeof(cid), "w%d-r%d", w, round);
		if (lcenv_volumes(e, file, v, (size_t)n, vols) < 0)
			return failures + 1;
		for (int step = 0; step < 2; step++) {
			if (step == 0)
				lcenv_run(e, &r, "prepare", "--container-id", cid, "--volumes",
					  vols, "--sandbox", sandbox, NULL);
			else
				lcenv_run(e, &r, "cleanup", "--container-id", cid, NULL);
			successes += r.status == 0;
			if (r.status != 0) {
				/* Keep the first failure's words for the report. */
				if (failures++ == 0) {
					tu_path(fail, "%s/fail%d.txt", e->dir, w);
					tu_write_file(fail, r.err);
				}
			}
			run_result_free(&r);
		}
	}
	snprintf(file, sizeof(file), "%d", successes);
	tu_write_file(tu_path(fail, "%s/ok%d.txt", e->dir, w), file);
	return failures;
}

/*
 * recover while a prepare is under way (its Mount slowed down): recover must
 * wait for it and then see a prepared container, not tear it down as a crash.
 */
TEST_F(concurrency, recover_does_not_undo_a_prepare_under_way)
{
	char vols[PATH_MAX], sandbox[PATH_MAX];
	struct run_result r;
	pid_t child;
	int status, c, v;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol vol[] = { { .name = "slow", .path = "data" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 1, vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount latency 1500\n"));
	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		lcenv_run(&self->e, &r, "prepare", "--container-id", "busy", "--volumes", vols,
			  "--sandbox", sandbox, NULL);
		_exit(r.status);
	}
	/* Its intent is on disk once it is past its checks: the Mount (1.5 s) follows. */
	char rec[PATH_MAX];
	struct stat st;

	tu_path(rec, "%s/containers/busy.json", self->e.state);
	for (int i = 0; i < 500 && stat(rec, &st) < 0; i++)
		usleep(10000);
	ASSERT_EQ(0, stat(rec, &st));
	usleep(200000);
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "0 container(s) cleaned up")) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(child, waitpid(child, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(1, c);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "slow"));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", NULL));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "busy", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/*
 * Two recovers at once find the same dead container: the one that cleans it
 * up counts it, the other, which finds its record gone once it holds the
 * lock, does not (it said "1 container(s) cleaned up" too: the stress test
 * counted 705 for 96 dead containers).
 */
TEST_F(concurrency, recover_counts_only_what_it_cleaned_up)
{
	char vols[PATH_MAX], sandbox[PATH_MAX], pid[16];
	struct run_result r;
	pid_t first;
	int status;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	struct lcvol vol[] = { { .name = "slow", .path = "data" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, 1, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "dead", "--volumes", vols, "--pid",
		  lc_pidstr(pid, self->ct[0].pid), "--sandbox", sandbox, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	tu_container_stop(&self->ct[0]);
	/* The first recover holds the container's lock through a 1.5 s Unmount. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount latency 1500\n"));
	first = fork();
	ASSERT_LE(0, first);
	if (first == 0) {
		lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
		_exit(r.status == 0 && strstr(r.out, "recovered: 1 container(s) cleaned up") ? 0
											     : 1);
	}
	usleep(300000);
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("recovered: 0 container(s) cleaned up, 0 corrupt record(s) set aside\n", r.out)
	OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(first, waitpid(first, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", NULL));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

TEST_F_TIMEOUT(concurrency, workers_share_volumes_counts_stay_balanced, 180)
{
	pid_t pids[WORKERS];
	int failures = 0, successes = 0;

	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		ASSERT_LE(0, pids[w]);
		if (pids[w] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(worker(&self->e, w) ? 1 : 0);
		}
	}
	for (int w = 0; w < WORKERS; w++) {
		int status;

		char ok[PATH_MAX], *count;

		ASSERT_EQ(pids[w], waitpid(pids[w], &status, 0));
		count = read_file(tu_path(ok, "%s/ok%d.txt", self->e.dir, w));
		successes += count ? atoi(count) : 0;
		free(count);
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			char p[PATH_MAX],
			    *text = read_file(tu_path(p, "%s/fail%d.txt", self->e.dir, w));

			failures++;
			TH_LOG("worker %d failed: %s", w, text ? text : "(no message)");
			free(text);
		}
	}
	EXPECT_EQ(0, failures);
	EXPECT_LE(VOLUMES, lcenv_log_count(&self->e, "Mount", NULL));
	EXPECT_EQ(lcenv_log_all(&self->e, "Mount"), lcenv_log_count(&self->e, "Mount", NULL));
	EXPECT_EQ(lcenv_log_all(&self->e, "Unmount"), lcenv_log_count(&self->e, "Unmount", NULL));
	lc_expect_released(_metadata, &self->e);
	EXPECT_EQ(2 * (ROUNDS_TOTAL / WORKERS) * WORKERS, successes);
	TH_LOG("%d successful runs, %d plugin Mounts", successes,
	       lcenv_log_count(&self->e, "Mount", NULL));
}

/* The same basic prepare/cleanup with rclone's `serve docker`: a FUSE mount. */
FIXTURE(rclone)
{
	struct lcenv e;
	struct tu_container ct;
	char base[PATH_MAX], data[PATH_MAX], remote[PATH_MAX + 16];
	pid_t pid;
};

FIXTURE_SETUP(rclone)
{
	char sock[PATH_MAX], cache[PATH_MAX], text[2 * PATH_MAX];

	if (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0)
		SKIP(return, "rclone or /dev/fuse missing (tools/install-deps installs them)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->base, "%s/rclone.base", self->e.dir);
	tu_path(self->data, "%s/rclone.data", self->e.dir);
	snprintf(self->remote, sizeof(self->remote), "remote=:local:%s", self->data);
	ASSERT_EQ(0, tu_mkdirs(self->base, 0700));
	ASSERT_EQ(0, tu_mkdirs(self->data, 0700));
	tu_path(sock, "%s/rclone.sock", self->e.plugins);
	tu_path(cache, "%s/rclone.cache", self->e.dir);
	/* Its own cache dir: rclone keeps the plugin's state there between runs. */
	char *argv[] = { "rclone",    "serve",	       "docker", "--base-dir",
			 self->base,  "--socket-addr", sock,	 "--config",
			 "/dev/null", "--cache-dir",   cache,	 NULL };
	self->pid = spawn(argv, NULL);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, wait_socket(sock, 15000));
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver rclone]\nhost-paths = %s\nmodes = RW RO\noptions = remote\n",
		 self->base);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
}

FIXTURE_TEARDOWN(rclone)
{
	tu_container_stop(&self->ct);
	/* SIGTERM makes rclone unmount what it mounted (after a test's SIGSTOP, too). */
	if (self->pid > 0) {
		kill(self->pid, SIGCONT);
		stop_process(self->pid, 5000);
	}
	lcenv_teardown(&self->e);
}

static int fuse_mounts_under(pid_t pid, const char *prefix)
{
	char *text = lc_mountinfo(pid);
	int n = 0;

	for (char *l = text ? strtok(text, "\n") : NULL; l; l = strtok(NULL, "\n"))
		if (strstr(l, prefix) && strstr(l, " - fuse.rclone "))
			n++;
	free(text);
	return n;
}

/* Volume "rvol" of rclone (on self->remote) at container_path path, as <dir>/file. */
static int rvol_spec(FIXTURE_DATA(rclone) * self, const char *file, const char *path,
		     char ret_path[static PATH_MAX])
{
	const struct lcvol v = { .name = "rvol",
				 .path = path,
				 .driver = "rclone",
				 .opt_key = "remote",
				 .opt_val = self->remote + strlen("remote=") };

	return lcenv_volumes(&self->e, file, &v, 1, ret_path);
}

/*
 * self->ct started and the spec vols prepared into it as container cid, with
 * --sandbox <dir>/sb (made here; its path in ret_sandbox) and
 * --plugin-retry=15 (rclone's socket may not answer at once). prepare's
 * result, exit 0 asserted, is left in r for the caller to check and free.
 */
static void prepare_into_ct(struct __test_metadata *_metadata, FIXTURE_DATA(rclone) * self,
			    const char *cid, const char *vols, char ret_sandbox[static PATH_MAX],
			    struct run_result *r)
{
	char pid[16];

	ASSERT_EQ(0, tu_mkdirs(tu_path(ret_sandbox, "%s/sb", self->e.dir), 0755));
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	lcenv_run(&self->e, r, "--plugin-retry=15", "prepare", "--container-id", cid, "--volumes",
		  vols, "--pid", lc_pidstr(pid, self->ct.pid), "--sandbox", ret_sandbox, NULL);
	ASSERT_EQ(0, r->status) OK_OR_LOG(*r);
}

/* The container's write at <sandbox>/data reaches rclone's remote, through the FUSE mount. */
static void expect_write_reaches_remote(struct __test_metadata *_metadata,
					FIXTURE_DATA(rclone) * self, const char *sandbox)
{
	char p[PATH_MAX], buf[64];

	EXPECT_EQ(
	    0, lc_ct_write(self->ct.pid, 0, 0, tu_path(p, "%s/data/hello", sandbox), "via rclone"));
	EXPECT_EQ(10, tu_read_file(tu_path(p, "%s/hello", self->data), buf, sizeof(buf)));
}

/* After cleanup: no FUSE mount in the container or under rclone's base, nothing recorded. */
static void expect_rclone_released(struct __test_metadata *_metadata, FIXTURE_DATA(rclone) * self,
				   const char *sandbox)
{
	int c, v;

	EXPECT_EQ(0, fuse_mounts_under(self->ct.pid, sandbox));
	EXPECT_EQ(0, fuse_mounts_under(0, self->base));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

TEST_F_TIMEOUT(rclone, prepare_attach_cleanup, 90)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], p[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, rvol_spec(self, "vols.json", "data", vols));
	prepare_into_ct(_metadata, self, "rc", vols, sandbox, &r);
	EXPECT_NE(NULL, strstr(r.out, "\"driver\":\"rclone\"")) OK_OR_LOG(r);
	run_result_free(&r);

	/* The container writes through the FUSE mount into rclone's remote. */
	EXPECT_EQ(1, fuse_mounts_under(self->ct.pid, sandbox));
	EXPECT_EQ(1, fuse_mounts_under(0, self->base));
	expect_write_reaches_remote(_metadata, self, sandbox);

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "rc", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	expect_rclone_released(_metadata, self, sandbox);
	/* The data outlives the mount. */
	EXPECT_EQ(0, access(tu_path(p, "%s/hello", self->data), F_OK));
}

/*
 * dvmount in a mount namespace that rclone's new mounts do not reach (a
 * runtime started from `unshare -m --propagation private`, a service with
 * PrivateMounts): there the Mountpoint is the empty directory under rclone's
 * mount. The volume is taken from rclone's own view, so the container's
 * write reaches rclone's remote, not the host's disk.
 */
TEST_F_TIMEOUT(rclone, plugin_mount_unseen_by_dvmount_is_attached_from_the_plugins_view, 90)
{
	static const char *const private_ns[] = { "/usr/bin/unshare", "-m", "--propagation",
						  "private", NULL };
	char sandbox[PATH_MAX], vols[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, rvol_spec(self, "vols.json", "data", vols));
	self->e.wrap = private_ns;
	prepare_into_ct(_metadata, self, "rc", vols, sandbox, &r);
	run_result_free(&r);
	EXPECT_EQ(1, fuse_mounts_under(self->ct.pid, sandbox));
	expect_write_reaches_remote(_metadata, self, sandbox);

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "rc", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	self->e.wrap = NULL;
	expect_rclone_released(_metadata, self, sandbox);
}

/*
 * Without --pid the containerizer binds host_path in dvmount's namespace,
 * where rclone's mount is not: refused (never the empty directory under it),
 * and rclone's mount released again.
 */
TEST_F_TIMEOUT(rclone, plugin_mount_unseen_without_pid_is_refused, 90)
{
	static const char *const private_ns[] = { "/usr/bin/unshare", "-m", "--propagation",
						  "private", NULL };
	char vols[PATH_MAX];
	struct run_result r;
	int c, v;

	ASSERT_EQ(0, rvol_spec(self, "vols.json", "/data", vols));
	self->e.wrap = private_ns;
	lcenv_run(&self->e, &r, "--plugin-retry=15", "prepare", "--container-id", "rc", "--volumes",
		  vols, NULL);
	self->e.wrap = NULL;
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "not what dvmount's mount namespace shows")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "'rvol'")) OK_OR_LOG(r);
	EXPECT_EQ(NULL, strstr(r.out, "bind_mounts")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, fuse_mounts_under(0, self->base));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * rclone stops answering (SIGSTOP) while a container uses its volume: the
 * next prepare of that volume never waits on the FUSE mount past --timeout
 * (mount facts come from cached attributes, and what must touch the
 * filesystem, a chown for --user, runs in a child killed at the deadline),
 * fails naming the volume, and holds no lock afterwards: a cleanup of
 * another container of that volume goes through at once.
 */
TEST_F_TIMEOUT(rclone, hung_fuse_volume_fails_prepare_within_timeout, 90)
{
	char sandbox[PATH_MAX], sb2[PATH_MAX], vols[PATH_MAX], pid2[16];
	struct tu_container ct2 = { 0 };
	struct run_result r;
	long long t0, took;

	tu_path(sb2, "%s/sb2", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sb2, 0755));
	ASSERT_EQ(0, rvol_spec(self, "vols.json", "data", vols));
	ASSERT_EQ(0, tu_container_start(&ct2, NULL, 0));
	prepare_into_ct(_metadata, self, "a", vols, sandbox, &r);
	run_result_free(&r);

	ASSERT_EQ(0, kill(self->pid, SIGSTOP));
	t0 = mono_ms();
	lcenv_run(&self->e, &r, "--timeout=2", "prepare", "--container-id", "b", "--volumes", vols,
		  "--pid", lc_pidstr(pid2, ct2.pid), "--sandbox", sb2, "--user", "1000:1000", NULL);
	took = mono_ms() - t0;
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "'rvol'")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "did not answer within 2.0 s")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_GE(took, 2000);
	EXPECT_LT(took, 6000) TH_LOG("prepare took %lld ms", took);
	EXPECT_EQ(0, fuse_mounts_under(ct2.pid, sb2));

	/* And without --user nothing has to touch the hung filesystem at all. */
	t0 = mono_ms();
	lcenv_run(&self->e, &r, "--timeout=2", "prepare", "--container-id", "b", "--volumes", vols,
		  "--pid", lc_pidstr(pid2, ct2.pid), "--sandbox", sb2, NULL);
	took = mono_ms() - t0;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_LT(took, 2000) TH_LOG("prepare took %lld ms", took);
	EXPECT_EQ(1, fuse_mounts_under(ct2.pid, sb2));
	/* No lock left behind: b's cleanup is not queued behind anything. */
	t0 = mono_ms();
	lcenv_run(&self->e, &r, "--timeout=2", "cleanup", "--container-id", "b", NULL);
	took = mono_ms() - t0;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_LT(took, 2000) TH_LOG("cleanup took %lld ms", took);
	EXPECT_EQ(0, fuse_mounts_under(ct2.pid, sb2));

	ASSERT_EQ(0, kill(self->pid, SIGCONT));
	tu_container_stop(&ct2);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "a", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, fuse_mounts_under(0, self->base));
}

/*
 * rclone's plugin deadlocks when Mount/Unmount calls overlap (it holds its
 * driver mutex while sending on a one-slot channel): with 2-3 volumes a
 * prepare or cleanup hung every time before calls were limited. With the
 * default max-in-flight (1) 8 volumes go through 5 rounds, each run well
 * inside its timeouts, and every write reaches rclone's remote.
 */
TEST_F_TIMEOUT(rclone, eight_volumes_five_rounds_never_hang, 300)
{
	enum { N = 8, ROUNDS = 5 };
	char sandbox[PATH_MAX], vols[PATH_MAX], p[PATH_MAX], pid[16], buf[64];
	char names[N][16], paths[N][16], text[32];
	struct lcvol vol[N];
	struct run_result r;
	int c, v;

	tu_path(sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(sandbox, 0755));
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "rvol%d", i);
		snprintf(paths[i], sizeof(paths[i]), "d%d", i);
		vol[i] = (struct lcvol){ .name = names[i],
					 .path = paths[i],
					 .driver = "rclone",
					 .opt_key = "remote",
					 .opt_val = self->remote + strlen("remote=") };
	}
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", vol, N, vols));
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	for (int round = 0; round < ROUNDS; round++) {
		/* A hung plugin would take the 20 s timeouts; a good run takes about 1 s. */
		lcenv_run(&self->e, &r, "--plugin-retry=15", "--timeout=20", "--timeout-mount=20",
			  "prepare", "--container-id", "rc", "--volumes", vols, "--pid",
			  lc_pidstr(pid, self->ct.pid), "--sandbox", sandbox, NULL);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		EXPECT_GT(15.0, r.secs) TH_LOG("round %d: prepare took %.1f s", round, r.secs);
		run_result_free(&r);
		EXPECT_EQ(N, fuse_mounts_under(self->ct.pid, sandbox)) TH_LOG("round %d", round);
		for (int i = 0; i < N; i++) {
			snprintf(text, sizeof(text), "r%dv%d", round, i);
			EXPECT_EQ(0, lc_ct_write(self->ct.pid, 0, 0,
						 tu_path(p, "%s/d%d/%s", sandbox, i, text), text));
		}

		lcenv_run(&self->e, &r, "--timeout=20", "cleanup", "--container-id", "rc", NULL);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		EXPECT_GT(15.0, r.secs) TH_LOG("round %d: cleanup took %.1f s", round, r.secs);
		run_result_free(&r);
		EXPECT_EQ(0, fuse_mounts_under(self->ct.pid, sandbox));
		EXPECT_EQ(0, fuse_mounts_under(0, self->base));
		for (int i = 0; i < N; i++) {
			snprintf(text, sizeof(text), "r%dv%d", round, i);
			EXPECT_EQ(
			    (ssize_t)strlen(text),
			    tu_read_file(tu_path(p, "%s/%s", self->data, text), buf, sizeof(buf)))
			TH_LOG("%s did not reach the remote", text);
		}
	}
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
}

/*
 * Reaching the target is bounded by --timeout too: a target that lies inside
 * a volume whose daemon stopped answering (rclone SIGSTOPped) blocks every
 * lookup in that FUSE mount, the target's resolution and the attach child's.
 * The prepare fails after --timeout (not never, nor after a fixed 30 s),
 * naming the volume and the hung filesystem, attaches nothing, and holds no
 * lock afterwards.
 */
TEST_F_TIMEOUT(rclone, target_inside_hung_volume_fails_attach_within_timeout, 150)
{
	char sandbox[PATH_MAX], vols[PATH_MAX], vols2[PATH_MAX], pid[16];
	struct run_result r;
	long long t0, took;

	ASSERT_EQ(0, rvol_spec(self, "vols.json", "data", vols));
	ASSERT_EQ(0, rvol_spec(self, "inner.json", "data/sub", vols2));
	prepare_into_ct(_metadata, self, "a", vols, sandbox, &r);
	run_result_free(&r);
	ASSERT_EQ(1, fuse_mounts_under(self->ct.pid, sandbox));

	ASSERT_EQ(0, kill(self->pid, SIGSTOP));
	t0 = mono_ms();
	lcenv_run(&self->e, &r, "--timeout=2", "prepare", "--container-id", "b", "--volumes", vols2,
		  "--pid", lc_pidstr(pid, self->ct.pid), "--sandbox", sandbox, NULL);
	took = mono_ms() - t0;
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "volume 'rvol'")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "/data/sub")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "did not answer within 2.0 s")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_GE(took, 2000);
	EXPECT_LT(took, 6000) TH_LOG("prepare took %lld ms", took);
	/* No lock left behind: a's cleanup is not queued behind anything. */
	ASSERT_EQ(0, kill(self->pid, SIGCONT));
	t0 = mono_ms();
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "a", NULL);
	took = mono_ms() - t0;
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_LT(took, 4000) TH_LOG("cleanup took %lld ms", took);
	EXPECT_EQ(0, fuse_mounts_under(self->ct.pid, sandbox));
	EXPECT_EQ(0, fuse_mounts_under(0, self->base));
}

TEST_HARNESS_MAIN
