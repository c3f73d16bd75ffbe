/* SPDX-License-Identifier: MIT */
/*
 * The plugin client against dvmount-testplugin: every endpoint, every fault
 * the plugin can inject, both plugin generations, many calls in flight, and
 * the dvdcli drop-in as Mesos execs it. Runs on io_uring and on plain
 * syscalls; the call log shows what reached the plugin.
 */
#include <libgen.h>
#include <malloc.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "helper/plugin/plugin.h"
#include "tests/lib/run.h"

FIXTURE(tp)
{
	char *dir;
	char plugins[PATH_MAX], log[PATH_MAX], faults[PATH_MAX], state[PATH_MAX];
	pid_t pid;
	struct plugin_client *pc;
};

FIXTURE_VARIANT(tp)
{
	bool no_uring;
	const char *mode;
};

FIXTURE_VARIANT_ADD(tp, uring){
	.no_uring = false,
	.mode = "normal",
};

FIXTURE_VARIANT_ADD(tp, plain_syscalls){
	.no_uring = true,
	.mode = "normal",
};

static void start(struct __test_metadata *_metadata, FIXTURE_DATA(tp) * self, bool no_uring,
		  const char *mode)
{
	char *extra[] = { "--mode", (char *)mode, NULL };
	struct plugin_config cfg = { .plugin_path = self->plugins,
				     .retry_ms = 0,
				     .timeout_mount_ms = 2000,
				     .timeout_other_ms = 2000,
				     .no_uring = no_uring };

	self->pid = testplugin_start(self->dir, "tp", extra);
	ASSERT_LT(0, self->pid);
	ASSERT_EQ(0, plugin_client_new(&cfg, &self->pc));
}

FIXTURE_SETUP(tp)
{
	self->dir = make_tmpdir("proto");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->plugins, sizeof(self->plugins), "%s/plugins", self->dir);
	snprintf(self->log, sizeof(self->log), "%s/tp.log", self->dir);
	snprintf(self->faults, sizeof(self->faults), "%s/tp.faults", self->dir);
	/* dvmount keeps its state here, not in /var/lib/dvmount. */
	snprintf(self->state, sizeof(self->state), "%s/state", self->dir);
	ASSERT_EQ(0, setenv("DVMOUNT_STATE_DIR", self->state, 1));
	start(_metadata, self, variant->no_uring, variant->mode);
}

FIXTURE_TEARDOWN(tp)
{
	plugin_client_free(self->pc);
	stop_process(self->pid, 2000);
	remove_tree(self->dir);
	free(self->dir);
}

/* Lines of the call log that contain every given fragment. */
static int logged(FIXTURE_DATA(tp) * self, const char *a, const char *b)
{
	char *log = read_file(self->log);
	int n = 0;

	for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n"))
		n += strstr(line, a) && (!b || strstr(line, b));
	free(log);
	return n;
}

static int call1(FIXTURE_DATA(tp) * self, struct plugin_req *q)
{
	return plugin_call_many(self->pc, q, 1);
}

TEST_F(tp, every_endpoint_in_process)
{
	struct plugin_opt opts[] = { { "size", "10G" }, { "expr", "a=b=c" } };
	struct plugin_req q = { .driver = "tp", .name = "v1", .opts = opts, .n_opts = 2 };

	q.method = PLUGIN_CAPABILITIES;
	ASSERT_EQ(0, call1(self, &q));
	EXPECT_STREQ("local", json_object_get_string(json_object_object_get(
				  json_object_object_get(q.reply, "Capabilities"), "Scope")));
	q.method = PLUGIN_CREATE;
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	/* Options travel intact, '=' in values included. */
	EXPECT_EQ(1, logged(self, "VolumeDriver.Create", "\"expr\":\"a=b=c\""));
	q.method = PLUGIN_GET;
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	EXPECT_NE(NULL, strstr(q.mountpoint, "/volumes/v1/data"));
	q.method = PLUGIN_LIST;
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	EXPECT_EQ(1, (int)json_object_array_length(json_object_object_get(q.reply, "Volumes")));
	q.method = PLUGIN_MOUNT;
	q.id = "id-1";
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	EXPECT_NE(NULL, strstr(q.mountpoint, "/volumes/v1/data"));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "\"id\":\"id-1\""));
	q.method = PLUGIN_PATH;
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	EXPECT_NE(NULL, strstr(q.mountpoint, "/volumes/v1/data"));
	q.method = PLUGIN_REMOVE;
	EXPECT_EQ(1, call1(self, &q));
	EXPECT_EQ(-EREMOTEIO, q.result);
	q.method = PLUGIN_UNMOUNT;
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Unmount", "\"id\":\"id-1\""));
	q.method = PLUGIN_REMOVE;
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	plugin_req_clear(&q);
	/* Activated once for the whole process. */
	EXPECT_EQ(1, logged(self, "Plugin.Activate", NULL));
}

/* dvmount volume mount --driver tp --name v --id x, with short timeouts. */
static void cli_mount(struct run_result *r, FIXTURE_DATA(tp) * self, bool no_uring, const char *id)
{
	run_dvmount(r, "--plugin-path", self->plugins, "--timeout-mount", "1", "--timeout", "1",
		    no_uring ? "--no-uring" : "--plugin-retry=0", "volume", "mount", "--driver",
		    "tp", "--name", "v", "--id", id, NULL);
}

struct fault_case {
	const char *spec;
	const char *expect; /* in the error line */
};

static const struct fault_case fault_cases[] = {
	{ "Mount error disk on fire", "disk on fire" },
	{ "Mount err200 refused politely", "refused politely" },
	{ "Mount status 503", "injected" },
	{ "Mount notfound", "404 page not found" },
	{ "Mount hang", "timed out after 1.0 s" },
	{ "Mount close", "connection closed before the answer was complete" },
	{ "Mount garbage", "answer is not HTTP" },
	{ "Mount oversized 2000000", "answer exceeds the size limit" },
	{ "Mount nobody", "invalid answer: empty answer" },
};

TEST_F(tp, every_fault_is_one_clear_line)
{
	struct run_result r;
	char faults[128];

	run_dvmount(&r, "--plugin-path", self->plugins, "volume", "create", "--driver", "tp",
		    "--name", "v", NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	for (size_t i = 0; i < ARRAY_SIZE(fault_cases); i++) {
		snprintf(faults, sizeof(faults), "%s\n", fault_cases[i].spec);
		ASSERT_EQ(0, write_file(self->faults, faults));
		/* Some faults (close, oversized) happen after the Mount was done: new IDs. */
		cli_mount(&r, self, variant->no_uring, fault_cases[i].spec);
		EXPECT_EQ(1, r.status) TH_LOG("%s: %s", fault_cases[i].spec, r.out);
		EXPECT_EQ(0, strncmp(r.err, "dvmount: plugin 'tp' VolumeDriver.Mount 'v': ", 45))
		TH_LOG("%s: %s", fault_cases[i].spec, r.err);
		EXPECT_NE(NULL, strstr(r.err, fault_cases[i].expect))
		TH_LOG("%s: %s", fault_cases[i].spec, r.err);
		EXPECT_EQ(1, count_str(r.err, "\n")) TH_LOG("%s", r.err);
		/* Nothing hangs: the 1 s timeout bounds even the hang. */
		EXPECT_GT(5.0, r.secs) TH_LOG("%s", fault_cases[i].spec);
		EXPECT_STREQ("", r.out);
		run_result_free(&r);
	}
}

TEST_F(tp, chunked_answers_and_latency_are_fine)
{
	struct run_result r;

	ASSERT_EQ(0, write_file(self->faults, "Mount chunked\nMount latency 300\nGet chunked\n"));
	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount", "--volumedriver=tp",
		    "--volumename=v", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "/volumes/v/data\n"));
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "chunked"));
}

TEST_F(tp, faults_leak_no_fd_in_process)
{
	struct plugin_req q = { .driver = "tp", .name = "v", .method = PLUGIN_CREATE };
	char faults[128];
	int before;

	ASSERT_EQ(0, call1(self, &q));
	plugin_client_free(self->pc);
	self->pc = NULL;
	before = count_fds();
	for (size_t i = 0; i < ARRAY_SIZE(fault_cases); i++) {
		struct plugin_config cfg = { .plugin_path = self->plugins,
					     .timeout_mount_ms = 500,
					     .timeout_other_ms = 500,
					     .no_uring = variant->no_uring };
		struct plugin_client *pc;

		snprintf(faults, sizeof(faults), "%s\n", fault_cases[i].spec);
		ASSERT_EQ(0, write_file(self->faults, faults));
		ASSERT_EQ(0, plugin_client_new(&cfg, &pc));
		q.method = PLUGIN_MOUNT;
		q.id = "x";
		EXPECT_EQ(1, plugin_call_many(pc, &q, 1)) TH_LOG("%s", fault_cases[i].spec);
		plugin_req_clear(&q);
		plugin_client_free(pc);
		EXPECT_EQ(before, count_fds()) TH_LOG("after %s", fault_cases[i].spec);
	}
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A client of the fixture's plugin with its own limit, slot dir and timeouts. */
static struct plugin_client *client(FIXTURE_DATA(tp) * self, bool no_uring, unsigned max_in_flight,
				    int slot_dir, unsigned timeout_ms)
{
	struct plugin_config cfg = { .plugin_path = self->plugins,
				     .timeout_mount_ms = timeout_ms,
				     .timeout_other_ms = timeout_ms,
				     .no_uring = no_uring,
				     .max_in_flight = max_in_flight };
	struct plugin_client *pc = NULL;

	if (plugin_client_new(&cfg, &pc) < 0)
		return NULL;
	if (slot_dir >= 0 && plugin_client_set_slot_dir(pc, slot_dir) < 0) {
		plugin_client_free(pc);
		return NULL;
	}
	return pc;
}

/* The most Create/Remove/Mount/Unmount calls the plugin handled at once. */
static int max_busy(FIXTURE_DATA(tp) * self)
{
	char *log = read_file(self->log);
	int most = 0;

	for (char *p = log; p && (p = strstr(p, "\"busy\":")); p++)
		most = atoi(p + 7) > most ? atoi(p + 7) : most;
	free(log);
	return most;
}

static void make_volumes(struct __test_metadata *_metadata, struct plugin_client *pc,
			 struct plugin_req *q, char (*names)[8], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "v%zu", i);
		q[i] = (struct plugin_req){ .driver = "tp",
					    .name = names[i],
					    .method = PLUGIN_CREATE };
	}
	ASSERT_EQ(0, plugin_call_many(pc, q, n));
	for (size_t i = 0; i < n; i++) {
		plugin_req_clear(&q[i]);
		q[i].method = PLUGIN_MOUNT;
		q[i].id = "x";
	}
}

TEST_F(tp, changing_calls_go_one_at_a_time_by_default)
{
	enum { N = 6 };
	struct plugin_req q[N];
	char names[N][8];
	double t0, secs;

	make_volumes(_metadata, self->pc, q, names, N);
	ASSERT_EQ(0, write_file(self->faults, "Mount latency 100\nGet latency 300\n"));
	t0 = now();
	ASSERT_EQ(0, plugin_call_many(self->pc, q, N));
	secs = now() - t0;
	/* What the Docker engine does, and what rclone's plugin survives. */
	EXPECT_EQ(1, max_busy(self));
	EXPECT_LE(0.1 * N, secs);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, q[i].result) TH_LOG("%s", q[i].err);
		plugin_req_clear(&q[i]);
		q[i].method = PLUGIN_GET;
	}
	/* Reads are never limited: N Gets of 300 ms overlap. */
	t0 = now();
	ASSERT_EQ(0, plugin_call_many(self->pc, q, N));
	secs = now() - t0;
	EXPECT_GT(0.3 * N - 0.1, secs);
	for (int i = 0; i < N; i++)
		plugin_req_clear(&q[i]);
	EXPECT_EQ(N, logged(self, "VolumeDriver.Mount", "\"busy\":1,"));
}

/* Several processes share the limit through the slot dir, as dvmount processes do. */
TEST_F(tp, the_limit_holds_across_processes)
{
	enum { PROCS = 3, N = 4, LIMIT = 2 };
	char slots[PATH_MAX];
	pid_t pids[PROCS];
	int dirfd;

	snprintf(slots, sizeof(slots), "%s/slots", self->dir);
	ASSERT_EQ(0, mkdir(slots, 0700));
	dirfd = open(slots, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dirfd);
	ASSERT_EQ(0, write_file(self->faults, "Mount latency 150\n"));
	for (int p = 0; p < PROCS; p++) {
		pids[p] = fork();
		ASSERT_LE(0, pids[p]);
		if (pids[p] == 0) {
			struct plugin_client *pc =
			    client(self, variant->no_uring, LIMIT, dirfd, 20000);
			struct plugin_req q[N];
			char names[N][8];
			int failed;

			for (int i = 0; i < N; i++) {
				snprintf(names[i], sizeof(names[i]), "p%dv%d", p, i);
				q[i] = (struct plugin_req){ .driver = "tp",
							    .name = names[i],
							    .method = PLUGIN_CREATE };
			}
			failed = pc ? plugin_call_many(pc, q, N) : -1;
			for (int i = 0; i < N; i++) {
				plugin_req_clear(&q[i]);
				q[i].method = PLUGIN_MOUNT;
				q[i].id = "x";
			}
			if (failed == 0)
				failed = plugin_call_many(pc, q, N);
			for (int i = 0; i < N; i++)
				if (q[i].result < 0)
					fprintf(stderr, "%s\n", q[i].err);
			_exit(failed == 0 ? 0 : 1);
		}
	}
	for (int p = 0; p < PROCS; p++) {
		int status;

		ASSERT_EQ(pids[p], waitpid(pids[p], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	close(dirfd);
	/* Never more than the limit; and the limit itself is used. */
	EXPECT_EQ(LIMIT, max_busy(self));
	EXPECT_EQ(PROCS * N, logged(self, "VolumeDriver.Mount", "latency"));
}

TEST_F(tp, waiting_for_a_slot_counts_against_the_timeout)
{
	struct plugin_req q = { .driver = "tp", .name = "v", .method = PLUGIN_CREATE };
	char slots[PATH_MAX], slot0[PATH_MAX + 8];
	struct plugin_client *pc;
	int dirfd, held;
	double t0;

	ASSERT_EQ(0, call1(self, &q));
	plugin_req_clear(&q);
	snprintf(slots, sizeof(slots), "%s/slots", self->dir);
	ASSERT_EQ(0, mkdir(slots, 0700));
	dirfd = open(slots, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, dirfd);
	pc = client(self, variant->no_uring, 0, dirfd, 800);
	ASSERT_NE(NULL, pc);

	/* Another process's Mount holds the plugin's only slot all along. */
	snprintf(slot0, sizeof(slot0), "%s/0@tp", slots);
	held = open(slot0, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, held);
	ASSERT_EQ(0, flock(held, LOCK_EX));
	q.method = PLUGIN_MOUNT;
	q.id = "x";
	t0 = now();
	EXPECT_EQ(1, plugin_call_many(pc, &q, 1));
	/* The client's clock counts whole milliseconds. */
	EXPECT_LE(0.79, now() - t0);
	EXPECT_GT(1.5, now() - t0);
	EXPECT_EQ(-EBUSY, q.result);
	EXPECT_NE(NULL, strstr(q.err, "timed out after 0.8 s waiting for a call slot: "
				      "max-in-flight 1"))
	TH_LOG("%s", q.err);
	plugin_req_clear(&q);
	/* Never sent: nothing to undo at the plugin. */
	EXPECT_EQ(0, logged(self, "VolumeDriver.Mount", NULL));
	/* Reads do not wait. */
	q.method = PLUGIN_GET;
	EXPECT_EQ(0, plugin_call_many(pc, &q, 1)) TH_LOG("%s", q.err);
	plugin_req_clear(&q);

	/* Freed after 0.4 s: the Mount goes, with what is left of its 0.8 s. */
	ASSERT_EQ(0, write_file(self->faults, "Mount latency 600\n"));
	pid_t child = fork();

	ASSERT_LE(0, child);
	if (child == 0) {
		usleep(400 * 1000);
		_exit(0); /* the lock goes with the process */
	}
	close(held);
	q.method = PLUGIN_MOUNT;
	EXPECT_EQ(1, plugin_call_many(pc, &q, 1));
	EXPECT_EQ(-ETIMEDOUT, q.result);
	/* 0.4 s and the poll's step (up to 50 ms), more on a loaded machine. */
	const char *waited = strstr(q.err, "timed out after 0.8 s, 0.");

	ASSERT_NE(NULL, waited) TH_LOG("%s", q.err);
	EXPECT_LE(4, waited[strlen("timed out after 0.8 s, 0.")] - '0') TH_LOG("%s", q.err);
	EXPECT_NE(NULL, strstr(q.err, " s of it waiting for a call slot (max-in-flight 1)"))
	TH_LOG("%s", q.err);
	plugin_req_clear(&q);
	waitpid(child, NULL, 0);
	plugin_client_free(pc);
	close(dirfd);
}

TEST_F(tp, calls_in_flight_overlap)
{
	enum { N = 24 };
	struct plugin_req q[N];
	char names[N][8];
	double t0, secs;

	/* A plugin known to be safe with overlapping calls: max-in-flight = N. */
	plugin_client_free(self->pc);
	self->pc = client(self, variant->no_uring, N, -1, 2000);
	ASSERT_NE(NULL, self->pc);

	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "v%d", i);
		q[i] = (struct plugin_req){ .driver = "tp",
					    .name = names[i],
					    .method = PLUGIN_CREATE };
	}
	ASSERT_EQ(0, plugin_call_many(self->pc, q, N));
	ASSERT_EQ(0, write_file(self->faults, "Mount latency 250\n"));
	for (int i = 0; i < N; i++) {
		plugin_req_clear(&q[i]);
		q[i].method = PLUGIN_MOUNT;
		q[i].id = "x";
	}
	t0 = now();
	ASSERT_EQ(0, plugin_call_many(self->pc, q, N));
	secs = now() - t0;
	/*
	 * Not a speed test: one after another would take N x 250 ms = 6 s; calls
	 * that really overlap finish in about the time of one.
	 */
	EXPECT_LE(0.25, secs);
	EXPECT_GT(2.0, secs);
	for (int i = 0; i < N; i++) {
		EXPECT_EQ(0, q[i].result) TH_LOG("%s", q[i].err);
		plugin_req_clear(&q[i]);
	}
	EXPECT_EQ(N, logged(self, "VolumeDriver.Mount", "latency"));
	EXPECT_EQ(N, max_busy(self));
}

/*
 * Some plugins answer a Get for a volume they do not have with 200 and no
 * volume. The engine's volume store takes any Get failure for "not there" and
 * Creates: every such shape must lead to Get, Create, Mount, and no Unmount.
 */
TEST_F(tp, get_200_without_a_volume_means_no_such_volume)
{
	static const char *const shapes[] = {
		"Get nobody",
		"Get answer {}",
		"Get answer {\"Volume\":null}",
		"Get answer {\"Volume\":null,\"Err\":\"\"}",
		"Get answer {\"Volume\":\"a1\"}",
		"Get answer {\"volume\":[]}",
		"Get answer null",
	};
	struct plugin_req q = { .driver = "tp", .name = "zz", .method = PLUGIN_GET };
	struct run_result r;
	char name[32], faults[128];

	for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
		snprintf(faults, sizeof(faults), "%s\n", shapes[i]);
		ASSERT_EQ(0, write_file(self->faults, faults));
		snprintf(name, sizeof(name), "--volumename=a%zu", i);
		run_dvmount(&r, "--plugin-path", self->plugins,
			    variant->no_uring ? "--no-uring" : "--plugin-retry=0", "dvdcli",
			    "mount", "--volumedriver=tp", name, NULL);
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", shapes[i], r.err);
		snprintf(name, sizeof(name), "/volumes/a%zu/data\n", i);
		EXPECT_NE(NULL, strstr(r.out, name)) TH_LOG("%s: %s", shapes[i], r.out);
		run_result_free(&r);
		snprintf(name, sizeof(name), "\"name\":\"a%zu\"", i);
		EXPECT_EQ(1, logged(self, "VolumeDriver.Get", name)) TH_LOG("%s", shapes[i]);
		EXPECT_EQ(1, logged(self, "VolumeDriver.Create", name)) TH_LOG("%s", shapes[i]);
		EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", name)) TH_LOG("%s", shapes[i]);

		/* In process: a refusal that says what it was. */
		EXPECT_EQ(1, call1(self, &q));
		EXPECT_EQ(-EREMOTEIO, q.result);
		EXPECT_NE(NULL, strstr(q.err, "no such volume (answered 200 without a volume)"))
		TH_LOG("%s: %s", shapes[i], q.err);
		plugin_req_clear(&q);
	}
	EXPECT_EQ(0, logged(self, "VolumeDriver.Unmount", NULL));
}

/* A mount that failed before its Mount went out has nothing to Unmount. */
TEST_F(tp, no_unmount_for_a_mount_never_sent)
{
	static const char *const faults[] = {
		"Get garbage\n", "Get hang\n", "Get close\n", "Create hang\n", "Create close\n",
	};
	struct run_result r;
	char name[32];

	for (size_t i = 0; i < ARRAY_SIZE(faults); i++) {
		ASSERT_EQ(0, write_file(self->faults, faults[i]));
		snprintf(name, sizeof(name), "--volumename=b%zu", i);
		run_dvmount(&r, "--plugin-path", self->plugins, "--timeout=1", "--timeout-mount=1",
			    variant->no_uring ? "--no-uring" : "--plugin-retry=0", "dvdcli",
			    "mount", "--volumedriver=tp", name, NULL);
		EXPECT_EQ(1, r.status) TH_LOG("%s", faults[i]);
		EXPECT_STREQ("", r.out);
		run_result_free(&r);
	}
	EXPECT_EQ(0, logged(self, "VolumeDriver.Mount", NULL));
	EXPECT_EQ(0, logged(self, "VolumeDriver.Unmount", NULL));
}

/*
 * A Mount that timed out but completed later: the rollback Unmount overtakes
 * it and is refused ("not mounted by this id"). That is no evidence while the
 * Mount may still run: the entry stays, and the retry after it completed
 * releases the plugin's mount. Nothing is leaked, nothing pends forever.
 */
TEST_F(tp, mount_that_timed_out_but_completed_is_released_later)
{
	struct plugin_req q = { .driver = "tp", .name = "slow", .method = PLUGIN_GET };
	struct run_result r;
	json_object *mounts;

	ASSERT_EQ(0, write_file(self->faults, "Mount latency 3000 count=1\n"));
	run_dvmount(&r, "--plugin-path", self->plugins, "--timeout-mount", "1",
		    variant->no_uring ? "--no-uring" : "--plugin-retry=0", "dvdcli", "mount",
		    "--volumedriver=tp", "--volumename=slow", NULL);
	EXPECT_EQ(1, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "timed out after 1.0 s")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "kept for retry: a call that timed out may still be under "
				      "way in the plugin"))
	TH_LOG("%s", r.err);
	run_result_free(&r);
	/* The rollback went out and was refused: the Mount had not happened yet. */
	EXPECT_EQ(1, logged(self, "VolumeDriver.Unmount", "\"status\":500"));
	run_dvmount(&r, "status", NULL);
	EXPECT_NE(NULL, strstr(r.out, "slow")) TH_LOG("%s", r.out);
	EXPECT_NE(NULL, strstr(r.out, "PENDING UNMOUNT RETRY")) TH_LOG("%s", r.out);
	run_result_free(&r);

	/* Recover while the Mount may still run: refused again, kept again. */
	run_dvmount(&r, "--plugin-path", self->plugins, "recover", NULL);
	EXPECT_EQ(1, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);

	/* The slow Mount is done by now (3 s): the plugin holds it... */
	usleep(2500 * 1000);
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	mounts = json_object_object_get(
	    json_object_object_get(json_object_object_get(q.reply, "Volume"), "Status"), "mounts");
	EXPECT_EQ(1, json_object_get_int(mounts));
	plugin_req_clear(&q);
	/* ...and recover gives it back. */
	run_dvmount(&r, "--plugin-path", self->plugins, "recover", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Unmount", "\"status\":200"));
	ASSERT_EQ(0, call1(self, &q)) TH_LOG("%s", q.err);
	mounts = json_object_object_get(
	    json_object_object_get(json_object_object_get(q.reply, "Volume"), "Status"), "mounts");
	EXPECT_EQ(0, json_object_get_int(mounts));
	plugin_req_clear(&q);
	run_dvmount(&r, "status", NULL);
	EXPECT_EQ(NULL, strstr(r.out, "slow")) TH_LOG("%s", r.out);
	run_result_free(&r);
}

/* One --volumeopts is one option; its value is everything after the first '='. */
TEST_F(tp, dvdcli_option_values_reach_the_plugin_verbatim)
{
	static const struct {
		const char *flag, *logged;
	} cases[] = {
		{ "--volumeopts=remote=:s3,provider=AWS,env_auth=true:bucket/dir",
		  "\"remote\":\":s3,provider=AWS,env_auth=true:bucket/dir\"" },
		{ "--volumeopts=o=addr=10.0.0.1,rw", "\"o\":\"addr=10.0.0.1,rw\"" },
		{ "--volumeopts=label=\"a,b\"", "\"label\":\"\\\"a,b\\\"\"" },
		{ "--volumeopts=empty=", "\"empty\":\"\"" },
		{ "--volumeopts=k=,", "\"k\":\",\"" },
	};
	struct run_result r;
	char name[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(name, sizeof(name), "--volumename=o%zu", i);
		run_dvmount(&r, "--plugin-path", self->plugins,
			    variant->no_uring ? "--no-uring" : "--plugin-retry=0", "dvdcli",
			    "mount", "--volumedriver=tp", name, cases[i].flag, NULL);
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", cases[i].flag, r.err);
		run_result_free(&r);
		snprintf(name, sizeof(name), "\"name\":\"o%zu\"", i);
		EXPECT_EQ(1, logged(self, "VolumeDriver.Create", cases[i].logged))
		TH_LOG("%s", cases[i].flag);
		/* Exactly one option, nothing split off. */
		EXPECT_EQ(1, logged(self, "VolumeDriver.Create", name));
	}
	char *log = read_file(self->log);

	EXPECT_EQ(0, count_str(log, "\"provider\"")) TH_LOG("%s", log);
	EXPECT_EQ(0, count_str(log, "\"rw\"")) TH_LOG("%s", log);
	free(log);

	/* Still one KEY=VALUE per flag: no '=' or an empty key is a usage error. */
	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount", "--volumedriver=tp",
		    "--volumename=bad", "--volumeopts=novalue", NULL);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "expected KEY=VALUE, one per flag")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, logged(self, "VolumeDriver.Get", "\"name\":\"bad\""));
}

/*
 * Any name the plugin takes works: 253 bytes (too long for "driver@name"),
 * and a non-ASCII one far shorter that percent-encoding makes too long. The
 * state key is derived; the entry keeps the real names.
 */
TEST_F(tp, long_and_non_ascii_names_work)
{
	char longname[254], utf8[200] = "", flag[300], *state;
	const char *names[] = { longname, utf8 };
	struct run_result r;

	memset(longname, 'l', 253);
	longname[253] = '\0';
	/* 66 x "é" (2 bytes) = 132 bytes, 396 characters once percent-encoded. */
	for (int i = 0; i < 66; i++)
		strcat(utf8, "\xc3\xa9");
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(flag, sizeof(flag), "--volumename=%s", names[i]);
		run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount",
			    "--volumedriver=tp", flag, NULL);
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		EXPECT_NE(NULL, strstr(r.out, names[i]));
		run_result_free(&r);
		/* Tracked under the real name: status shows it, unmount finds it. */
		run_dvmount(&r, "--json", "status", NULL);
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		EXPECT_NE(NULL, strstr(r.out, names[i])) TH_LOG("%s", r.out);
		run_result_free(&r);
		run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount",
			    "--volumedriver=tp", flag, NULL);
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		run_result_free(&r);
		EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", names[i]));
		run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "unmount",
			    "--volumedriver=tp", flag, NULL);
		EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.err);
		run_result_free(&r);
		EXPECT_EQ(1, logged(self, "VolumeDriver.Unmount", names[i]));
	}
	/* Nothing left behind under the derived keys. */
	run_dvmount(&r, "--json", "status", NULL);
	state = r.out;
	EXPECT_EQ(NULL, strstr(state, "lll")) TH_LOG("%s", state);
	run_result_free(&r);
}

/*
 * Discovery finds a socket whose path is 108 bytes or more (sun_path's size):
 * it is reached through its directory. One whose name alone is too long for
 * that gets an error that names the limit.
 */
TEST_F(tp, sockets_at_long_paths_are_reached)
{
	char deep[PATH_MAX], sock[PATH_MAX], moved[PATH_MAX + 300], drv[120], drvsock[300];
	struct plugin_config cfg = { .plugin_path = deep,
				     .timeout_mount_ms = 2000,
				     .timeout_other_ms = 2000,
				     .no_uring = variant->no_uring };
	struct plugin_req q = { .driver = "tp", .name = "v", .method = PLUGIN_CREATE };
	struct plugin_client *pc;
	struct run_result r;

	/* A socket keeps working when renamed: bind short, then move it deep. */
	snprintf(deep, sizeof(deep), "%s/%s/%s", self->dir,
		 "a-directory-with-a-long-name-for-plugins-0123456789",
		 "and-another-one-below-it-0123456789-0123456789");
	snprintf(sock, sizeof(sock), "%s", deep);
	ASSERT_EQ(0, mkdir(dirname(sock), 0700));
	ASSERT_EQ(0, mkdir(deep, 0700));
	snprintf(sock, sizeof(sock), "%s/tp.sock", self->plugins);
	snprintf(moved, sizeof(moved), "%s/tp.sock", deep);
	ASSERT_LE(108, strlen(moved));
	ASSERT_EQ(0, rename(sock, moved));

	ASSERT_EQ(0, plugin_client_new(&cfg, &pc));
	EXPECT_EQ(0, plugin_call_many(pc, &q, 1)) TH_LOG("%s", q.err);
	q.method = PLUGIN_MOUNT;
	q.id = "x";
	EXPECT_EQ(0, plugin_call_many(pc, &q, 1)) TH_LOG("%s", q.err);
	EXPECT_NE(NULL, strstr(q.mountpoint, "/volumes/v/data"));
	plugin_req_clear(&q);
	plugin_client_free(pc);
	/* And from the command line. */
	run_dvmount(&r, "--plugin-path", deep,
		    variant->no_uring ? "--no-uring" : "--plugin-retry=0", "volume", "path",
		    "--driver", "tp", "--name", "v", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "/volumes/v/data")) TH_LOG("%s", r.out);
	run_result_free(&r);

	/* A name that cannot fit even after /proc/self/fd/N/: one clear line. */
	memset(drv, 'd', 100);
	drv[100] = '\0';
	snprintf(drvsock, sizeof(drvsock), "%s/%s.sock", deep, drv);
	ASSERT_EQ(0, rename(moved, drvsock));
	snprintf(drvsock, sizeof(drvsock), "--driver=%s", drv);
	run_dvmount(&r, "--plugin-path", deep, "--plugin-retry=0", "volume", "path", drvsock,
		    "--name", "v", NULL);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "a unix socket address holds at most 107 (sun_path is "
				      "108 bytes)"))
	TH_LOG("%s", r.err);
	EXPECT_EQ(1, count_str(r.err, "\n")) TH_LOG("%s", r.err);
	run_result_free(&r);
	/* Back where the fixture's teardown expects it. */
	snprintf(drvsock, sizeof(drvsock), "%s/%s.sock", deep, drv);
	ASSERT_EQ(0, rename(drvsock, sock));
}

TEST_F(tp, dvdcli_as_mesos_execs_it)
{
	struct run_result r;
	char *argv[] = { (char *)build_path("dvdcli"),
			 "mount",
			 "--volumedriver=tp",
			 "--volumename=mesos1",
			 "--volumeopts=size=5G",
			 "--volumeopts=label=a=b",
			 NULL };
	char env[PATH_MAX + 32];

	/* As Mesos runs it: the dvdcli name, flags in its form, no global flags. */
	snprintf(env, sizeof(env), "DVMOUNT_PLUGIN_PATH=%s", self->plugins);
	putenv(env);
	run_argv(&r, argv, 30000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	/* stdout is exactly the mountpoint and one newline; stderr stays empty. */
	EXPECT_EQ(1, count_str(r.out, "\n"));
	EXPECT_NE(NULL, strstr(r.out, "/volumes/mesos1/data\n"));
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	/*
	 * dvdcli 0.2's sequence: Get (missing), Create with the options, Mount;
	 * with a host-stable 64-hex ID, which plugins that count IDs need.
	 */
	EXPECT_EQ(1, logged(self, "VolumeDriver.Get", "\"status\":500"));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Create", "\"label\":\"a=b\""));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Create", "\"size\":\"5G\""));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "mesos1"));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "\"id\":\""));

	/* Mesos mounts again for a second container: same answer, no second plugin Mount. */
	run_argv(&r, argv, 30000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "/volumes/mesos1/data\n"));
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "mesos1"));

	/* Mesos unmounts once, after its last container: Unmount with the same ID. */
	char *un[] = { (char *)build_path("dvdcli"), "unmount", "--volumedriver=tp",
		       "--volumename=mesos1", NULL };
	run_argv(&r, un, 30000);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	/* Unmount goes straight to the plugin: no second Get. */
	EXPECT_EQ(1, logged(self, "VolumeDriver.Get", NULL));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Unmount", "mesos1"));
	char *log = read_file(self->log);
	char *mid = strstr(log, "\"id\":\"");

	ASSERT_NE(NULL, mid);
	char id[80];

	/* "id":"<64 hex>" appears in the Mount and the Unmount line alike. */
	snprintf(id, sizeof(id), "%.71s", mid);
	EXPECT_EQ(71, (int)strlen(id));
	EXPECT_EQ(2, count_str(log, id));
	free(log);

	char *bad[] = { (char *)build_path("dvdcli"), "mount",
			"--volumedriver=tp",	      "--volumename=x",
			"--volumeotps=a=b",	      NULL };
	run_argv(&r, bad, 30000);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unknown or incomplete flag '--volumeotps=a=b'"))
	TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);

	char *noname[] = { (char *)build_path("dvdcli"), "path", "--volumedriver=tp", NULL };
	run_argv(&r, noname, 30000);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "--volumename is required")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_F(tp, dvdcli_explicitcreate_never_creates)
{
	struct run_result r;

	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount", "--volumedriver=tp",
		    "--volumename=absent", "--explicitcreate", NULL);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "no such volume")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(0, logged(self, "VolumeDriver.Create", NULL));
	EXPECT_EQ(0, logged(self, "VolumeDriver.Mount", NULL));
}

TEST_F(tp, old_plugin_without_get)
{
	struct run_result r;

	stop_process(self->pid, 2000);
	unlink(self->log);
	start(_metadata, self, variant->no_uring, "old");
	/* The volume exists: the Create without Get meets it, as dvdcli 0.1's did. */
	run_dvmount(&r, "--plugin-path", self->plugins, "volume", "create", "--driver", "tp",
		    "--name", "old", NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount", "--volumedriver=tp",
		    "--volumename=old", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "/volumes/old/data\n"));
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Get", "\"status\":404"));
	EXPECT_EQ(2, logged(self, "VolumeDriver.Create", "\"status\":200"));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "\"status\":200"));
	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "unmount", "--volumedriver=tp",
		    "--volumename=old", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	/* dvdcli 0.2 failed here (it called Get first): rexray/dvdcli issue 23. */
	EXPECT_EQ(1, logged(self, "VolumeDriver.Get", NULL));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Unmount", "\"status\":200"));
}

TEST_F(tp, dvdcli_without_a_usable_state_dir_is_plain_dvdcli)
{
	char bad[PATH_MAX + 8];
	struct run_result r;

	/* A group/world-writable state dir is refused: mount as dvdcli did, no ID. */
	snprintf(bad, sizeof(bad), "%s/loose", self->dir);
	ASSERT_EQ(0, mkdir(bad, 0777));
	ASSERT_EQ(0, chmod(bad, 0777));
	run_dvmount(&r, "--plugin-path", self->plugins, "--state-dir", bad, "dvdcli", "mount",
		    "--volumedriver=tp", "--volumename=plain", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "/volumes/plain/data\n"));
	EXPECT_NE(NULL, strstr(r.err, "warning: ")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "without Mount IDs")) TH_LOG("%s", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "plain"));
	EXPECT_EQ(0, logged(self, "VolumeDriver.Mount", "\"id\""));
}

TEST_F(tp, rexray_refuses_create_of_existing_volume)
{
	struct run_result r;

	stop_process(self->pid, 2000);
	unlink(self->log);
	start(_metadata, self, variant->no_uring, "rexray");
	/* Without Get (as an old REX-Ray), Create fails for an existing volume... */
	ASSERT_EQ(0, write_file(self->faults, "Get notfound\n"));
	run_dvmount(&r, "--plugin-path", self->plugins, "volume", "create", "--driver", "tp",
		    "--name", "rr", NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount", "--volumedriver=tp",
		    "--volumename=rr", NULL);
	/* ...and the mount still succeeds, because Mount does. */
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.out, "/volumes/rr/data\n"));
	run_result_free(&r);
	EXPECT_EQ(1, logged(self, "VolumeDriver.Create", "already exists"));
	EXPECT_EQ(1, logged(self, "VolumeDriver.Mount", "\"status\":200"));

	/* When Mount fails too, both errors are reported. */
	run_dvmount(&r, "--plugin-path", self->plugins, "volume", "create", "--driver", "tp",
		    "--name", "rr2", NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
	ASSERT_EQ(0, write_file(self->faults, "Get notfound\nMount error backend down\n"));
	run_dvmount(&r, "--plugin-path", self->plugins, "dvdcli", "mount", "--volumedriver=tp",
		    "--volumename=rr2", NULL);
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "backend down")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "already exists")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/*
 * A plugin's error text becomes part of one line on stderr: a NUL byte in it
 * once emptied the message (found by tests/fuzz/plugin_answer_fuzz.c), and
 * control bytes would reach the terminal.
 */
/*
 * A client holds only the plugins it names, each allocated when first
 * called (issue 11: every command makes one, and an array of all 64 was
 * 128 KiB zeroed per exec, a fifth of a prepare's page faults). With no
 * plugin named yet it is the client and its engine: well under 32 KiB.
 */
TEST(a_new_client_holds_no_plugin)
{
	struct plugin_config cfg = { .plugin_path = "/nonexistent", .no_uring = true };
	struct plugin_client *pc;
	struct mallinfo2 before, after;

#ifdef __SANITIZE_ADDRESS__
	SKIP(return, "make asan: ASan's allocator is not the one mallinfo2() reports");
#endif
	before = mallinfo2();
	ASSERT_EQ(0, plugin_client_new(&cfg, &pc));
	after = mallinfo2();
	EXPECT_GT(32u << 10, (after.uordblks + after.hblkhd) - (before.uordblks + before.hblkhd));
	plugin_client_free(pc);
}

TEST(error_text_with_control_bytes_stays_one_readable_line)
{
	static const char body[] = "\0disk\x1b[31m on\nfire\x7f";
	static const char bell[] = "{\"Err\":\"a\\u0007b\"}";
	struct plugin_req q = { .driver = "tp", .method = PLUGIN_MOUNT, .name = "v" };

	EXPECT_EQ(-EREMOTEIO, plugin_decode_answer(500, body, sizeof(body) - 1, &q));
	EXPECT_STREQ("?disk?[31m on fire?", q.err);
	EXPECT_EQ(NULL, q.mountpoint);
	plugin_req_clear(&q);

	/* The JSON "Err" goes through the same filter. */
	EXPECT_EQ(-EREMOTEIO, plugin_decode_answer(200, bell, sizeof(bell) - 1, &q));
	EXPECT_STREQ("a?b", q.err);
	plugin_req_clear(&q);
}

/* An error that is only white space still says something (plugin_answer_fuzz). */
TEST(blank_error_text_still_names_the_status)
{
	struct plugin_req q = { .driver = "tp", .method = PLUGIN_CAPABILITIES };

	EXPECT_EQ(-EREMOTEIO, plugin_decode_answer(204, "\n\n", 2, &q));
	EXPECT_STREQ("HTTP status 204", q.err);
	EXPECT_EQ(-EREMOTEIO, plugin_decode_answer(500, "{\"Err\":\" \\t\"}", 13, &q));
	EXPECT_STREQ("HTTP status 500", q.err);
	EXPECT_EQ(-EREMOTEIO, plugin_decode_answer(200, "{\"Err\":\" \"}", 11, &q));
	EXPECT_STREQ("a blank \"Err\"", q.err);
	plugin_req_clear(&q);
}

TEST(answers_decode_as_the_engine_does)
{
	struct plugin_req q = { .driver = "tp", .method = PLUGIN_GET, .name = "v" };
	static const char get[] = "{\"volume\":{\"Name\":\"v\",\"Mountpoint\":\"/m/v\"}}";

	/* Go's decoder matches keys without regard to case. */
	ASSERT_EQ(0, plugin_decode_answer(200, get, sizeof(get) - 1, &q));
	EXPECT_STREQ("/m/v", q.mountpoint);
	q.method = PLUGIN_MOUNT;
	EXPECT_EQ(-EBADMSG, plugin_decode_answer(200, "{\"Err\":\"\"}", 10, &q));
	EXPECT_STREQ("the plugin answered no mountpoint", q.err);
	EXPECT_EQ(-EBADMSG, plugin_decode_answer(200, "", 0, &q));
	EXPECT_STREQ("invalid answer: empty answer", q.err);
	EXPECT_EQ(-EREMOTEIO, plugin_decode_answer(404, "404 page not found\n", 19, &q));
	EXPECT_TRUE(q.unsupported);
	EXPECT_STREQ("404 page not found", q.err);
	plugin_req_clear(&q);
}

TEST_HARNESS_MAIN
