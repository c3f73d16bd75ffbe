/* SPDX-License-Identifier: MIT */
/*
 * What one `dvdcli mount` exec costs (Mesos' isolator execs it per volume per
 * container) against the same plugin calls made in-process, and against the
 * cheapest possible exec. The mountpoint is unmounted after each round, not
 * timed, so every round does the same Get + Mount. dvmount's dvdcli keeps a
 * state (one Mount ID per volume per host, Mesos counted as a user): it lives
 * in the run's directory, and `dvdcli unmount` undoes each mount.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/macro.h"
#include "helper/plugin.h"
#include "tools/bench/bench.h"

#define DRIVER "bench"
#define VOLUME "bench-dvdcli"
#define TRUE_PATH "/bin/true"

struct dvdcli_state {
	struct bench_plugin plugin;
	struct plugin_config cfg;
	struct plugin_client *pc; /* for the untimed Unmounts */
	char state_dir[PATH_MAX];
	char *mount_argv[10];
	char *unmount_argv[10];
};

static void dvdcli_state_done(struct dvdcli_state *st)
{
	plugin_client_free(st->pc);
	st->pc = NULL;
	bench_plugin_stop(&st->plugin);
}

/* dvdcli sends no Mount ID: the plugin counts an anonymous mount; undo it. */
static int unmount_volume(struct bench_ctx *ctx, struct dvdcli_state *st)
{
	struct plugin_req q = { .driver = DRIVER, .method = PLUGIN_UNMOUNT, .name = VOLUME };
	int r = plugin_call_many(st->pc, &q, 1);

	if (r != 0)
		r = bench_fail(ctx, r < 0 ? r : q.result, "Unmount: %s", r < 0 ? strerror(-r) : q.err);
	plugin_req_clear(&q);
	return r;
}

static int round_dvdcli(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct dvdcli_state *st = state;
	char out[BENCH_OUT_MAX];
	double untimed;
	size_t len;
	int r;

	r = bench_exec(st->mount_argv, out, sizeof(out), ret_ms);
	if (r < 0)
		return bench_fail(ctx, r, "'%s': %s", st->mount_argv[0], strerror(-r));
	len = strlen(out);
	/* dvdcli's contract: exit 0 and exactly the mountpoint and a newline. */
	if (r != 0 || out[0] != '/' || len < 2 || strchr(out, '\n') != &out[len - 1])
		return bench_fail(ctx, -EPROTO, "dvdcli mount exited %d: %.200s", r, out);
	/* Mounted under dvmount's own Mount ID: only its unmount can give it back. */
	r = bench_exec(st->unmount_argv, out, sizeof(out), &untimed);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "dvdcli unmount exited %d: %.200s", r,
				  out);
	return 0;
}

/* A fresh client each round: activation and connecting are part of the cost. */
static int round_rpc_raw(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct dvdcli_state *st = state;
	struct plugin_mount m = { .driver = DRIVER, .name = VOLUME };
	struct plugin_client *pc = NULL;
	double start = bench_now_ms();
	int r;

	r = plugin_client_new(&st->cfg, &pc);
	if (r < 0)
		return bench_fail(ctx, r, "plugin client: %s", strerror(-r));
	r = plugin_mount_many(pc, &m, 1);
	/* Freed inside the timed part: a dvdcli process tears down on exit too. */
	plugin_client_free(pc);
	*ret_ms = bench_now_ms() - start;
	if (r != 0) {
		r = bench_fail(ctx, r < 0 ? r : m.result, "Get/Create/Mount: %s",
			       r < 0 ? strerror(-r) : m.err);
		plugin_mount_clear(&m);
		return r;
	}
	plugin_mount_clear(&m);
	return unmount_volume(ctx, st);
}

static int round_true(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	char *argv[] = { TRUE_PATH, NULL };
	char out[BENCH_OUT_MAX];
	int r;

	(void)state;
	r = bench_exec(argv, out, sizeof(out), ret_ms);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "'%s' failed (%d)", TRUE_PATH, r);
	return 0;
}

static int run_dvdcli(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(dvdcli_state_done) struct dvdcli_state st = { .plugin.pidfd = -EBADF };
	const struct bench_case cases[] = {
		{ .name = "dvdcli-mount", .round = round_dvdcli, .state = &st },
		{ .name = "rpc-raw", .round = round_rpc_raw, .state = &st },
		{ .name = "true", .round = round_true, .state = &st },
	};
	int r;

	r = bench_plugin_start(ctx, DRIVER, NULL, &st.plugin);
	if (r < 0)
		return r;
	/* As dvmount's defaults, bounded for a bench: the plugin is up already. */
	st.cfg = (struct plugin_config){ .plugin_path = st.plugin.plugin_dir,
					 .retry_ms = 0,
					 .timeout_mount_ms = BENCH_EXEC_TIMEOUT_MS,
					 .timeout_other_ms = BENCH_EXEC_TIMEOUT_MS };
	r = plugin_client_new(&st.cfg, &st.pc);
	if (r < 0)
		return bench_fail(ctx, r, "plugin client: %s", strerror(-r));
	/* Never the host's default state dir. */
	r = bench_mkdirs(ctx, "dvdcli-state", st.state_dir);
	if (r < 0)
		return bench_fail(ctx, r, "cannot create the state dir below '%s': %s",
				  ctx->tmpdir, strerror(-r));
	for (size_t i = 0; i < 2; i++) {
		char **argv = i ? st.unmount_argv : st.mount_argv;

		argv[0] = ctx->dvmount;
		argv[1] = "--state-dir";
		argv[2] = st.state_dir;
		argv[3] = "--plugin-path";
		argv[4] = st.plugin.plugin_dir;
		argv[5] = "dvdcli";
		argv[6] = i ? "unmount" : "mount";
		argv[7] = "--volumedriver=" DRIVER;
		argv[8] = "--volumename=" VOLUME;
		argv[9] = NULL;
	}

	r = bench_group_run(ctx, cases, ARRAY_SIZE(cases), report);
	if (r < 0)
		return r;
	bench_report_ratio(report, "exec-overhead", "dvdcli-mount", "rpc-raw");
	bench_report_ratio(report, "exec-floor", "dvdcli-mount", "true");
	return 0;
}

static const char *const dvdcli_cases[] = { "dvdcli-mount", "rpc-raw", "true", NULL };

const struct bench_group bench_group_dvdcli = {
	.name = "dvdcli",
	.cases = dvdcli_cases,
	.run = run_dvdcli,
};
