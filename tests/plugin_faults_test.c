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

TEST_F(faults, every_endpoint_every_fault_one_clear_line_in_time)
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
			if (f == F_GONE)
				plugin_kill(&self->e);
			else
				ASSERT_EQ(0, set_fault(&self->e, ep, faults[f].spec));
			run_volume(&self->e, &r, op);
			cases++;

			EXPECT_GT(TIMEOUT_SECS + SLACK_SECS, r.secs) TH_LOG("%s %s", ep, what);
			if (f == F_RESTART && activate && r.status) {
				/*
				 * The plugin restarts right after its Activate answer, while
				 * the Get follows at once: the Get may meet the old process
				 * going away or no listener yet. Either is one clear line.
				 */
				static const char get[] =
				    "dvmount: plugin 'tp' VolumeDriver.Get 'v': unix://";

				EXPECT_EQ(1, r.status);
				EXPECT_EQ(1, count_str(r.err, "\n")) OK_OR_LOG(r);
				EXPECT_EQ(0, strncmp(r.err, get, strlen(get))) OK_OR_LOG(r);
				EXPECT_TRUE(strstr(r.err, "connection closed before the answer") ||
					    strstr(r.err, "connection refused"))
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
			if (f == F_GONE)
				ASSERT_EQ(0, plugin_restart(&self->e));
			if (f == F_RESTART)
				ASSERT_EQ(0, wait_restarted(&self->e));
			/* The next call works: a fault leaves nothing behind in dvmount. */
			ASSERT_EQ(0, set_fault(&self->e, NULL, NULL));
			run_volume(&self->e, &r, "list");
			EXPECT_EQ(0, r.status) OK_OR_LOG(r);
			run_result_free(&r);
			if (!_metadata->passed)
				return;
		}
	}
	EXPECT_EQ(72, cases);
}

TEST_HARNESS_MAIN
