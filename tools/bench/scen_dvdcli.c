/* SPDX-License-Identifier: MIT */
/*
 * dvdcli: what one `dvdcli mount` and one `dvdcli unmount` exec cost, the
 * price Mesos' isolator pays per volume per container, on dvmount-testplugin
 * and on real rclone (`rclone serve docker`, FUSE mounts of a local
 * directory), against the same plugin calls made in-process and against the
 * cheapest possible exec. dvmount's dvdcli keeps a state (one Mount ID per
 * volume per host, Mesos counted as a user) in a state dir on the real
 * filesystem. rclone's plugin deadlocks on overlapping mount-changing calls:
 * its calls are made one at a time, as every round here is.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/macro.h"
#include "helper/plugin/plugin.h"
#include "tools/bench/bench.h"

#define DRIVER "bench"
#define VOLUME "bench-dvdcli"
#define RCLONE "/usr/bin/rclone"
#define RCLONE_READY_MS 20000

struct dvdcli_argv {
	char *mount[12];
	char *unmount[12];
	char opts[PATH_MAX + 32];
};

struct dvdcli_state {
	struct bench_plugin plugin;
	struct bench_plugin rclone;
	struct plugin_config cfg;
	struct plugin_client *pc; /* for the untimed Unmounts */
	char state_dir[PATH_MAX];
	struct dvdcli_argv test, rc;
};

static void dvdcli_state_done(struct dvdcli_state *st)
{
	plugin_client_free(st->pc);
	st->pc = NULL;
	bench_plugin_stop(&st->plugin);
	bench_plugin_stop(&st->rclone);
}

/* dvdcli sends no Mount ID: the plugin counts an anonymous mount; undo it. */
static int unmount_volume(struct bench_ctx *ctx, struct dvdcli_state *st)
{
	struct plugin_req q = { .driver = DRIVER, .method = PLUGIN_UNMOUNT, .name = VOLUME };
	int r = plugin_call_many(st->pc, &q, 1);

	if (r != 0)
		r = bench_fail(ctx, r < 0 ? r : q.result, "Unmount: %s",
			       r < 0 ? strerror(-r) : q.err);
	plugin_req_clear(&q);
	return r;
}

static int round_dvdcli(struct bench_ctx *ctx, void *state, double ms[BENCH_PARTS_MAX])
{
	struct dvdcli_argv *a = state;
	char out[BENCH_OUT_MAX];
	size_t len;
	int r;

	r = bench_exec_part(ctx, 0, a->mount, NULL, out, sizeof(out), &ms[0]);
	if (r < 0)
		return bench_fail(ctx, r, "'%s': %s", a->mount[0], strerror(-r));
	len = strlen(out);
	/* dvdcli's contract: exit 0 and exactly the mountpoint and a newline. */
	if (r != 0 || out[0] != '/' || len < 2 || strchr(out, '\n') != &out[len - 1])
		return bench_fail(ctx, -EPROTO, "dvdcli mount exited %d: %.200s", r, out);
	/* Mounted under dvmount's own Mount ID: only its unmount can give it back. */
	r = bench_exec_part(ctx, 1, a->unmount, NULL, out, sizeof(out), &ms[1]);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "dvdcli unmount exited %d: %.200s", r,
				  out);
	return 0;
}

/* A fresh client each round: activation and connecting are part of the cost. */
static int round_rpc_raw(struct bench_ctx *ctx, void *state, double ret_ms[BENCH_PARTS_MAX])
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

static void dvdcli_argv(struct dvdcli_argv *a, struct bench_ctx *ctx, const char *state_dir,
			const char *plugin_dir, const char *driver, const char *opts)
{
	for (size_t i = 0; i < 2; i++) {
		char **argv = i ? a->unmount : a->mount;
		size_t n = 0;

		argv[n++] = ctx->dvmount;
		argv[n++] = "--state-dir";
		argv[n++] = (char *)state_dir;
		argv[n++] = "--plugin-path";
		argv[n++] = (char *)plugin_dir;
		argv[n++] = "dvdcli";
		argv[n++] = i ? "unmount" : "mount";
		argv[n++] = (char *)driver;
		argv[n++] = "--volumename=" VOLUME;
		if (!i && opts) {
			snprintf(a->opts, sizeof(a->opts), "--volumeopts=%s", opts);
			argv[n++] = a->opts;
		}
		argv[n] = NULL;
	}
}

/* rclone's plugin on a directory of its own, serving a local directory as its remote. */
static int rclone_start(struct bench_ctx *ctx, struct dvdcli_state *st, char *remote, size_t size)
{
	char dir[PATH_MAX], base[PATH_MAX], cache[PATH_MAX], data[PATH_MAX], sock[PATH_MAX + 16];
	char *argv[] = { RCLONE, "serve",    "docker",	  "--base-dir",	 base,	"--socket-addr",
			 sock,	 "--config", "/dev/null", "--cache-dir", cache, NULL };
	int r;

	r = bench_mkdirs(ctx, "rclone/plugins", dir);
	if (r == 0)
		r = bench_mkdirs(ctx, "rclone/base", base);
	if (r == 0)
		r = bench_mkdirs(ctx, "rclone/cache", cache);
	if (r == 0)
		r = bench_mkdirs(ctx, "rclone/data", data);
	if (r < 0)
		return bench_fail(ctx, r, "cannot create rclone's directories below '%s': %s",
				  ctx->tmpdir, strerror(-r));
	snprintf(sock, sizeof(sock), "%s/rclone.sock", dir);
	snprintf(remote, size, "remote=:local:%s", data);
	r = bench_plugin_spawn(ctx, argv, sock, RCLONE_READY_MS, &st->rclone);
	if (r < 0)
		return r;
	snprintf(st->rclone.plugin_dir, sizeof(st->rclone.plugin_dir), "%s", dir);
	return 0;
}

static int run_dvdcli(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(dvdcli_state_done) struct dvdcli_state st = { .plugin.pidfd = -EBADF,
								.rclone.pidfd = -EBADF };
	struct bench_case cases[5] = {
		{ .name = "testplugin",
		  .gated = true,
		  .counted = true,
		  .parts = { "mount", "unmount" },
		  .round = round_dvdcli,
		  .state = &st.test },
		{ .name = "rpc-raw", .round = round_rpc_raw, .state = &st },
		{ .name = "true", .counted = true, .round = bench_round_exec_true },
		BENCH_DURABLE_WRITE("durable-write"),
	};
	char remote[PATH_MAX + 16];
	size_t n = 4;
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
	r = bench_state_dir(ctx, "dvdcli", st.state_dir);
	if (r < 0)
		return r;
	dvdcli_argv(&st.test, ctx, st.state_dir, st.plugin.plugin_dir, "--volumedriver=" DRIVER,
		    NULL);

	if (access(RCLONE, X_OK) == 0 && access("/dev/fuse", R_OK) == 0) {
		r = rclone_start(ctx, &st, remote, sizeof(remote));
		if (r < 0)
			return r;
		dvdcli_argv(&st.rc, ctx, st.state_dir, st.rclone.plugin_dir,
			    "--volumedriver=rclone", remote);
		cases[n++] = (struct bench_case){ .name = "rclone",
						  .gated = true,
						  .counted = true,
						  .parts = { "mount", "unmount" },
						  .round = round_dvdcli,
						  .state = &st.rc };
	} else {
		bench_report_skip(report, "dvdcli.rclone",
				  "no " RCLONE " or /dev/fuse "
				  "(tools/install-deps installs them)");
	}

	r = bench_group_run(ctx, "dvdcli", cases, n, 0, report);
	if (r < 0)
		return r;
	bench_report_ratio(report, "dvdcli.exec-overhead", "dvdcli.testplugin.mount",
			   "dvdcli.rpc-raw", 1);
	bench_report_ratio(report, "dvdcli.exec-floor", "dvdcli.testplugin.mount", "dvdcli.true",
			   1);
	bench_report_ratio(report, "dvdcli.rclone-vs-testplugin", "dvdcli.rclone.mount",
			   "dvdcli.testplugin.mount", 1);
	return 0;
}

const struct bench_scenario bench_scenario_dvdcli = {
	.name = "dvdcli",
	.what = "dvdcli mount + unmount on the test plugin and on real rclone",
	.needs_mount_ns = true,
	.run = run_dvdcli,
};
