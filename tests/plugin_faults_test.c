/* SPDX-License-Identifier: MIT */
/*
 * The plugin fault matrix, black-box against dvmount-testplugin: every
 * endpoint (Activate, Create, Remove, Mount, Unmount, Path, Get, List,
 * Capabilities) against every fault (error, hang past the timeout, close
 * mid-answer, garbage, oversized, slow, restarted between calls, gone).
 * dvmount must answer within its timeout with one line naming the plugin,
 * the endpoint and the volume, and leave the state consistent: what the
 * plugin holds is what dvmount knows, and once the plugin is healthy again a
 * recover leaves every Mount paired with one Unmount.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonutil.h"

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

/* dvmount's timeouts in these tests: a hang costs this much, no more. */
#define TIMEOUT_S "1"
#define TIMEOUT_SECS 1.0
/* Slack for a loaded machine: an answer later than this is a failure. */
#define SLACK_SECS 4.0

LC_FIXTURE(faults);

enum fault {
	F_ERROR,
	F_HANG,
	F_CLOSE,
	F_GARBAGE,
	F_OVERSIZED,
	F_SLOW,
	F_RESTART,
	F_GONE,
};

static const struct {
	const char *spec;   /* the testplugin's KIND [ARG]; NULL: done by the test */
	const char *expect; /* in the error line; NULL: the call succeeds */
} faults[] = {
	[F_ERROR] = { "error injected failure", "injected failure" },
	[F_HANG] = { "hang", "timed out after 1.0 s" },
	[F_CLOSE] = { "close", "connection closed before the answer was complete" },
	[F_GARBAGE] = { "garbage", "answer is not HTTP" },
	[F_OVERSIZED] = { "oversized 2000000", "answer exceeds the size limit" },
	[F_SLOW] = { "latency 300", NULL },
	[F_RESTART] = { "restart", NULL },
	[F_GONE] = { NULL, "connection refused (is the plugin running?)" },
};

static const char *const endpoints[] = {
	"Activate", "Create", "Remove", "Mount", "Unmount", "Path", "Get", "List", "Capabilities",
};

/* dvmount volume OP for an endpoint (Activate: the first call of any). */
static const char *volume_op(const char *endpoint)
{
	static const struct {
		const char *endpoint, *op;
	} ops[] = {
		{ "Activate", "get" }, { "Create", "create" },	 { "Remove", "remove" },
		{ "Mount", "mount" },  { "Unmount", "unmount" }, { "Path", "path" },
		{ "Get", "get" },      { "List", "list" },	 { "Capabilities", "capabilities" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
		if (!strcmp(ops[i].endpoint, endpoint))
			return ops[i].op;
	return NULL;
}

static void run_volume(struct lcenv *e, struct run_result *r, const char *op)
{
	lcenv_run(e, r, "--timeout", TIMEOUT_S, "--timeout-mount", TIMEOUT_S, "--plugin-retry", "0",
		  "volume", op, "--driver", "tp", "--name", "v", "--id", "matrix-id", NULL);
}

static int set_fault(struct lcenv *e, const char *endpoint, const char *spec)
{
	char line[256];

	if (!spec)
		return tu_write_file(e->faults, "");
	snprintf(line, sizeof(line), "%s %s count=1\n", endpoint, spec);
	return tu_write_file(e->faults, line);
}

/*
 * The plugin as the endpoint needs it before a call: v exists, mounted under
 * matrix-id only for Unmount (Remove and Mount need it unmounted).
 */
static void plugin_baseline(struct __test_metadata *_metadata, struct lcenv *e, const char *ep)
{
	struct run_result r;

	ASSERT_EQ(0, set_fault(e, NULL, NULL));
	/* Whatever the last case left: mounted or not, present or removed. */
	run_volume(e, &r, "unmount");
	run_result_free(&r);
	run_volume(e, &r, "create");
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	if (strcmp(ep, "Unmount"))
		return;
	run_volume(e, &r, "mount");
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/* Until the restart fault has exec'd the plugin again and it listens. */
static int wait_restarted(struct lcenv *e)
{
	char path[64], cmdline[4096], sock[PATH_MAX];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)e->plugin);
	for (int i = 0; i < 500; i++) {
		ssize_t n = tu_read_file(path, cmdline, sizeof(cmdline));

		for (ssize_t k = 0; k < n; k++)
			if (!cmdline[k])
				cmdline[k] = ' ';
		if (n > 0 && strstr(cmdline, "--restarted"))
			return wait_socket(tu_path(sock, "%s/tp.sock", e->plugins), 5000);
		usleep(10000);
	}
	return -ETIMEDOUT;
}

/* Kill the plugin (its socket stays: nobody listens) and start it again. */
static void plugin_kill(struct lcenv *e)
{
	kill(e->plugin, SIGKILL);
	stop_process(e->plugin, 100);
	e->plugin = 0;
}

static int plugin_restart(struct lcenv *e)
{
	char *extra[] = { "--bind", NULL };

	e->plugin = testplugin_start(e->dir, "tp", extra);
	return e->plugin > 0 ? 0 : -ECHILD;
}

/* Fault f on endpoint ep from the next call on (F_GONE: the plugin killed). */
static int fault_inject(struct lcenv *e, enum fault f, const char *ep)
{
	if (f != F_GONE)
		return set_fault(e, ep, faults[f].spec);
	plugin_kill(e);
	return 0;
}

/* Fault f over: the plugin running again (started, or back from its restart), no fault set. */
static int fault_clear(struct lcenv *e, enum fault f)
{
	int r = 0;

	if (f == F_GONE)
		r = plugin_restart(e);
	if (f == F_RESTART)
		r = wait_restarted(e);
	return r < 0 ? r : set_fault(e, NULL, NULL);
}

/* About 15-25 s alone; under ASan on a loaded machine several times that. */
TEST_F_TIMEOUT(faults, every_endpoint_every_fault_one_clear_line_in_time, 240)
{
	char prefix[160];
	struct run_result r;
	int cases = 0;

	for (size_t i = 0; i < ARRAY_SIZE(endpoints); i++) {
		const char *ep = endpoints[i], *op = volume_op(ep);
		bool activate = !strcmp(ep, "Activate");

		/* Activate fails the call it came before: that call is named, then Activate. */
		snprintf(prefix, sizeof(prefix), "dvmount: plugin 'tp' VolumeDriver.%s 'v': %s",
			 activate ? "Get" : ep, activate ? "Plugin.Activate: " : "");
		for (size_t f = 0; f < ARRAY_SIZE(faults); f++) {
			const char *what = faults[f].spec ? faults[f].spec : "gone";

			plugin_baseline(_metadata, &self->e, ep);
			ASSERT_EQ(0, fault_inject(&self->e, f, ep));
			run_volume(&self->e, &r, op);
			cases++;

			EXPECT_GT(TIMEOUT_SECS + SLACK_SECS, r.secs) TH_LOG("%s %s", ep, what);
			if (f == F_RESTART && activate && r.status) {
				/*
				 * The plugin restarts right after its Activate answer, while
				 * the Get follows at once: the Get may meet the old process
				 * going away, its socket file gone or no listener yet. Each
				 * is one clear line.
				 */
				static const char get[] =
				    "dvmount: plugin 'tp' VolumeDriver.Get 'v': unix://";

				EXPECT_EQ(1, r.status);
				EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
				EXPECT_EQ(0, strncmp(r.err, get, strlen(get))) OK_OR_LOG(r);
				EXPECT_TRUE(strstr(r.err, "connection closed before the answer") ||
					    strstr(r.err, "connection refused") ||
					    strstr(r.err, "socket not found"))
				OK_OR_LOG(r);
			} else if (!faults[f].expect) {
				EXPECT_EQ(0, r.status) TH_LOG("%s %s: %s", ep, what, r.err);
				EXPECT_STREQ("", r.err);
			} else {
				EXPECT_EQ(1, r.status) OK_OR_LOG(r);
				EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
				EXPECT_EQ(0, strncmp(r.err, prefix, strlen(prefix)))
				TH_LOG("%s %s: %s", ep, what, r.err);
				EXPECT_NE(NULL, strstr(r.err, faults[f].expect))
				TH_LOG("%s %s: %s", ep, what, r.err);
				EXPECT_STREQ("", r.out);
			}
			run_result_free(&r);
			/* The next call works: a fault leaves nothing behind in dvmount. */
			ASSERT_EQ(0, fault_clear(&self->e, f));
			run_volume(&self->e, &r, "list");
			EXPECT_EQ(0, r.status) OK_OR_LOG(r);
			run_result_free(&r);
			if (!_metadata->passed)
				return;
		}
	}
	EXPECT_EQ(72, cases);
}

static void run_prepare(struct lcenv *e, struct run_result *r, const char *cid, const char *vols)
{
	char sandbox[PATH_MAX];

	tu_path(sandbox, "%s/sandbox", e->dir);
	tu_mkdirs(sandbox, 0755);
	lcenv_run(e, r, "--timeout", TIMEOUT_S, "--timeout-mount", TIMEOUT_S, "--plugin-retry", "0",
		  "prepare", "--container-id", cid, "--volumes", vols, "--sandbox", sandbox, NULL);
}

/* Every line of err names the container: "dvmount: [warning: ]container 'CID': ". */
static bool every_line_names(const char *err, const char *cid)
{
	char a[128], b[128];

	snprintf(a, sizeof(a), "dvmount: container '%s': ", cid);
	snprintf(b, sizeof(b), "dvmount: warning: container '%s': ", cid);
	for (const char *l = err; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l))
		if (strncmp(l, a, strlen(a)) && strncmp(l, b, strlen(b)))
			return false;
	return *err != '\0';
}

/* What the plugin holds that dvmount does not know about: none, ever. */
static void expect_plugin_mounts_known(struct __test_metadata *_metadata, struct lcenv *e,
				       const char *what)
{
	int nc, nv, held = lcenv_log_unbalanced(e);

	ASSERT_EQ(0, lcenv_status_counts(e, &nc, &nv));
	EXPECT_LE(held, nv)
	TH_LOG("%s: the plugin holds %d mount(s), dvmount knows %d", what, held, nv);
}

/*
 * With the plugin healthy and the in-flight windows over, recover leaves
 * nothing: every Mount paired, no state.
 */
static void expect_recovered(struct __test_metadata *_metadata, struct lcenv *e, const char *what)
{
	struct run_result r;
	int nc, nv;

	ASSERT_LE(0, lcenv_expire_in_flight(e));
	lcenv_run(e, &r, "recover", "--known", "", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s: %s", what, r.err);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(e)) TH_LOG("%s", what);
	ASSERT_EQ(0, lcenv_status_counts(e, &nc, &nv));
	EXPECT_EQ(0, nc) TH_LOG("%s", what);
	EXPECT_EQ(0, nv) TH_LOG("%s", what);
}

/*
 * prepare against every fault at every endpoint it calls (Activate, Get,
 * Create, Mount; Unmount when it undoes): one line per failure naming the
 * container, within the timeouts; whatever the plugin holds afterwards,
 * dvmount knows; after a recover with a healthy plugin, nothing is left.
 */
/* About 15-25 s alone; under ASan on a loaded machine several times that. */
TEST_F_TIMEOUT(faults, prepare_under_every_fault_keeps_the_state_consistent, 240)
{
	/*
	 * A Get that the plugin answers with an error (or an answer too large to
	 * read) is followed by Create and Mount, as the engine does; a Get with
	 * no answer at all fails the prepare.
	 */
	static const int get_outcome[] = {
		[F_ERROR] = 0,	   [F_HANG] = 1, [F_CLOSE] = 1,	   [F_GARBAGE] = 1,
		[F_OVERSIZED] = 0, [F_SLOW] = 0, [F_RESTART] = -1, [F_GONE] = 1,
	};
	static const char *const eps[] = { "Activate", "Get", "Create", "Mount" };
	char vols[PATH_MAX], cid[64], name[64], what[128];
	struct run_result r;
	int cases = 0;

	for (size_t i = 0; i < ARRAY_SIZE(eps); i++) {
		for (size_t f = 0; f < ARRAY_SIZE(faults); f++) {
			/* A new volume each time: Get fails, Create and Mount follow. */
			snprintf(name, sizeof(name), "p%zu-%zu", i, f);
			snprintf(cid, sizeof(cid), "c%zu-%zu", i, f);
			snprintf(what, sizeof(what), "%s %s", eps[i],
				 faults[f].spec ? faults[f].spec : "gone");
			struct lcvol v = { .name = name, .path = name };

			ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", &v, 1, vols));
			ASSERT_EQ(0, fault_inject(&self->e, f, eps[i]));
			run_prepare(&self->e, &r, cid, vols);
			cases++;
			/* Each call has its timeout; an undo adds one Unmount. */
			EXPECT_GT(2 * TIMEOUT_SECS + SLACK_SECS, r.secs) TH_LOG("%s", what);
			if (r.status) {
				EXPECT_EQ(1, r.status) OK_OR_LOG(r);
				EXPECT_TRUE(every_line_names(r.err, cid)) OK_OR_LOG(r);
				EXPECT_TRUE(strstr(r.err, "plugin 'tp' ") ||
					    strstr(r.err, "of driver 'tp'"))
				OK_OR_LOG(r);
			}
			/*
			 * -1: a restart races what follows it (the next call, or the
			 * look at the Mountpoint through the plugin's process, which
			 * fails while it restarts); either outcome is checked above.
			 */
			int want = get_outcome[f];

			if (strcmp(eps[i], "Get"))
				want = f == F_RESTART ? -1 : faults[f].expect != NULL;
			if (want >= 0)
				EXPECT_EQ(want, r.status) TH_LOG("%s: %s", what, r.err);
			run_result_free(&r);

			ASSERT_EQ(0, fault_clear(&self->e, f));
			expect_plugin_mounts_known(_metadata, &self->e, what);
			lcenv_run(&self->e, &r, "cleanup", "--container-id", cid, NULL);
			EXPECT_EQ(0, r.status) TH_LOG("%s: cleanup: %s", what, r.err);
			run_result_free(&r);
			expect_recovered(_metadata, &self->e, what);
			if (!_metadata->passed)
				return;
		}
	}
	EXPECT_EQ(32, cases);
}

/*
 * The plugin mounted but its answer was cut, and the undo's Unmount then gets
 * no answer either: the volume is kept (the plugin may hold it), and recover
 * Unmounts it once the plugin answers. A timeout once released it.
 */
TEST_F(faults, mount_cut_then_unmount_timeout_keeps_the_volume)
{
	struct lcvol v = { .name = "cut", .path = "cut" };
	char vols[PATH_MAX];
	struct run_result r;
	int nc, nv;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", &v, 1, vols));
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Mount close count=1\nUnmount hang count=1\n"));
	run_prepare(&self->e, &r, "c1", vols);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_TRUE(every_line_names(r.err, "c1")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "VolumeDriver.Mount 'cut': unix://")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "VolumeDriver.Unmount 'cut': unix://")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "timed out after 1.0 s (kept for retry)\n")) OK_OR_LOG(r);
	run_result_free(&r);

	/* The plugin holds the mount, and dvmount knows it: no user, an entry. */
	EXPECT_EQ(1, lcenv_log_unbalanced(&self->e));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &nc, &nv));
	EXPECT_EQ(0, nc);
	EXPECT_EQ(1, nv);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "cut"));
	expect_recovered(_metadata, &self->e, "after the hang");
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "cut"));
}

/*
 * cleanup against every fault of its Unmount: one line naming the container,
 * the plugin, Unmount and the volume when it fails; the record goes (the
 * container is gone, MESOS-10126), the volume entry stays while the plugin
 * may hold the mount, and recover Unmounts it once the plugin answers.
 */
/* About 15-25 s alone; under ASan on a loaded machine several times that. */
TEST_F_TIMEOUT(faults, cleanup_under_every_unmount_fault_keeps_the_volume_until_recover, 240)
{
	char vols[PATH_MAX], cid[64], name[64], prefix[160];
	struct run_result r;
	int nc, nv;

	for (size_t f = 0; f < ARRAY_SIZE(faults); f++) {
		const char *what = faults[f].spec ? faults[f].spec : "gone";

		snprintf(name, sizeof(name), "u%zu", f);
		snprintf(cid, sizeof(cid), "cu%zu", f);
		struct lcvol v = { .name = name, .path = name };

		ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", &v, 1, vols));
		run_prepare(&self->e, &r, cid, vols);
		ASSERT_EQ(0, r.status) OK_OR_LOG(r);
		run_result_free(&r);
		ASSERT_EQ(0, fault_inject(&self->e, f, "Unmount"));
		lcenv_run(&self->e, &r, "--timeout", TIMEOUT_S, "--plugin-retry", "0", "cleanup",
			  "--container-id", cid, NULL);
		EXPECT_GT(TIMEOUT_SECS + SLACK_SECS, r.secs) TH_LOG("%s", what);
		ASSERT_EQ(0, lcenv_status_counts(&self->e, &nc, &nv));
		EXPECT_EQ(0, nc) TH_LOG("%s", what);
		if (faults[f].expect) {
			snprintf(prefix, sizeof(prefix),
				 "dvmount: container '%s': plugin 'tp' VolumeDriver.Unmount '%s': ",
				 cid, name);
			EXPECT_EQ(1, r.status) OK_OR_LOG(r);
			EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
			EXPECT_EQ(0, strncmp(r.err, prefix, strlen(prefix))) OK_OR_LOG(r);
			EXPECT_NE(NULL, strstr(r.err, faults[f].expect)) OK_OR_LOG(r);
			EXPECT_NE(NULL, strstr(r.err, " (kept for retry)\n")) OK_OR_LOG(r);
			EXPECT_EQ(1, nv) TH_LOG("%s", what);
		} else {
			EXPECT_EQ(0, r.status) OK_OR_LOG(r);
			EXPECT_STREQ("", r.err);
			EXPECT_EQ(0, nv) TH_LOG("%s", what);
		}
		run_result_free(&r);
		ASSERT_EQ(0, fault_clear(&self->e, f));
		expect_plugin_mounts_known(_metadata, &self->e, what);
		expect_recovered(_metadata, &self->e, what);
		if (!_metadata->passed)
			return;
	}
}

/*
 * The plugin restarted between prepare and cleanup (and between two
 * prepares): the mount and its ID survive in the plugin, the second
 * container shares the mount, the last cleanup Unmounts it once.
 */
TEST_F(faults, plugin_restarted_between_calls)
{
	struct lcvol v = { .name = "rs", .path = "rs" };
	char vols[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", &v, 1, vols));
	run_prepare(&self->e, &r, "c1", vols);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	stop_process(self->e.plugin, 2000);
	ASSERT_EQ(0, plugin_restart(&self->e));
	run_prepare(&self->e, &r, "c2", vols);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "rs"));
	EXPECT_EQ(2, lcenv_status_refcount(&self->e, "rs"));

	stop_process(self->e.plugin, 2000);
	ASSERT_EQ(0, plugin_restart(&self->e));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	/* The restart fault: the plugin restarts right after the last cleanup's Unmount. */
	ASSERT_EQ(0, set_fault(&self->e, "Unmount", "restart"));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c2", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(0, wait_restarted(&self->e));
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "rs"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "rs"));
}

TEST_HARNESS_MAIN
