/* SPDX-License-Identifier: MIT */
/*
 * 64 Mounts against a plugin that takes 20 ms for each: all in flight in one
 * plugin_call_many, or one call at a time, on io_uring and on the
 * plain-syscall transport. The ratio serial/inflight is what running the
 * plugin phase of a prepare at once buys; ideal is 64x.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/macro.h"
#include "helper/plugin.h"
#include "tools/bench/bench.h"

#define DRIVER "bench-slow"
#define VOLUMES 64
#define LATENCY_FAULT "Mount latency 20"

struct mount64_shared {
	struct bench_plugin plugin;
	struct plugin_client *uring;
	struct plugin_client *plain;
	char names[VOLUMES][BENCH_NAME_MAX];
	char ids[VOLUMES][BENCH_NAME_MAX];
};

struct mount64_case {
	struct mount64_shared *sh;
	struct plugin_client *pc;
	bool serial;
	struct plugin_req reqs[VOLUMES];
};

static void mount64_shared_done(struct mount64_shared *sh)
{
	plugin_client_free(sh->uring);
	plugin_client_free(sh->plain);
	sh->uring = sh->plain = NULL;
	bench_plugin_stop(&sh->plugin);
}

static void fill(struct mount64_case *c, enum plugin_method method)
{
	for (size_t i = 0; i < VOLUMES; i++)
		c->reqs[i] = (struct plugin_req){ .driver = DRIVER,
						  .method = method,
						  .name = c->sh->names[i],
						  .id = c->sh->ids[i] };
}

/* 0, or the first failure (in ctx->err); clears every request. */
static int check_clear(struct bench_ctx *ctx, struct mount64_case *c, int r)
{
	for (size_t i = 0; i < VOLUMES; i++) {
		if (r >= 0 && c->reqs[i].result < 0)
			r = bench_fail(ctx, c->reqs[i].result, "%s", c->reqs[i].err);
		plugin_req_clear(&c->reqs[i]);
	}
	if (r < 0 && !ctx->err[0])
		bench_fail(ctx, r, "%s", strerror(-r));
	return MIN(r, 0);
}

static int round_mount64(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct mount64_case *c = state;
	double start;
	int r = 0;

	ctx->err[0] = '\0';
	fill(c, PLUGIN_MOUNT);
	start = bench_now_ms();
	if (c->serial)
		for (size_t i = 0; i < VOLUMES && r >= 0; i++)
			r = plugin_call_many(c->pc, &c->reqs[i], 1);
	else
		r = plugin_call_many(c->pc, c->reqs, VOLUMES);
	*ret_ms = bench_now_ms() - start;
	r = check_clear(ctx, c, r);
	if (r < 0)
		return r;

	/* Not timed: give every mount back, so each round starts from zero. */
	fill(c, PLUGIN_UNMOUNT);
	return check_clear(ctx, c, plugin_call_many(c->pc, c->reqs, VOLUMES));
}

static int client_new(struct bench_ctx *ctx, const char *plugin_dir, bool no_uring,
		      struct plugin_client **ret)
{
	/* The testplugin is safe with overlapping calls: max-in-flight = 64. */
	struct plugin_config cfg = { .plugin_path = plugin_dir,
				     .timeout_mount_ms = BENCH_EXEC_TIMEOUT_MS,
				     .timeout_other_ms = BENCH_EXEC_TIMEOUT_MS,
				     .no_uring = no_uring,
				     .max_in_flight = VOLUMES };
	int r = plugin_client_new(&cfg, ret);

	if (r < 0)
		return bench_fail(ctx, r, "plugin client: %s", strerror(-r));
	return 0;
}

static int run_mount64(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(mount64_shared_done) struct mount64_shared sh = { .plugin.pidfd = -EBADF };
	/* Four sets of 64 requests: too big for the stack. */
	_cleanup_free_ struct mount64_case *c = calloc(4, sizeof(*c));
	struct bench_case cases[4];
	char why[BENCH_ERR_MAX];
	size_t n = 0;
	bool uring;
	int r;

	if (!c)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	for (size_t i = 0; i < VOLUMES; i++) {
		snprintf(sh.names[i], sizeof(sh.names[i]), "bench-m64-%zu", i);
		snprintf(sh.ids[i], sizeof(sh.ids[i]), "bench-id-%zu", i);
	}
	r = bench_plugin_start(ctx, DRIVER, LATENCY_FAULT, &sh.plugin);
	if (r < 0)
		return r;
	r = client_new(ctx, sh.plugin.plugin_dir, false, &sh.uring);
	if (r < 0)
		return r;
	r = client_new(ctx, sh.plugin.plugin_dir, true, &sh.plain);
	if (r < 0)
		return r;

	/* Set-up, not measured: the volumes exist before the first round. */
	c[0] = (struct mount64_case){ .sh = &sh, .pc = sh.uring };
	c[1] = (struct mount64_case){ .sh = &sh, .pc = sh.uring, .serial = true };
	c[2] = (struct mount64_case){ .sh = &sh, .pc = sh.plain };
	c[3] = (struct mount64_case){ .sh = &sh, .pc = sh.plain, .serial = true };
	ctx->err[0] = '\0';
	fill(&c[0], PLUGIN_CREATE);
	r = check_clear(ctx, &c[0], plugin_call_many(sh.uring, c[0].reqs, VOLUMES));
	if (r < 0) {
		snprintf(why, sizeof(why), "%s", ctx->err);
		return bench_fail(ctx, r, "Create: %s", why);
	}

	uring = plugin_client_uses_uring(sh.uring);
	if (uring) {
		cases[n++] = (struct bench_case){ "mount64-inflight", 0, round_mount64, &c[0] };
		cases[n++] = (struct bench_case){ "mount64-serial", 0, round_mount64, &c[1] };
	} else {
		fprintf(stderr, "dvmount-bench: mount64: io_uring is not available here: "
				"only the plain-syscall transport is measured\n");
	}
	cases[n++] = (struct bench_case){ "mount64-inflight-nouring", 0, round_mount64, &c[2] };
	cases[n++] = (struct bench_case){ "mount64-serial-nouring", 0, round_mount64, &c[3] };

	r = bench_group_run(ctx, cases, n, report);
	if (r < 0)
		return r;
	bench_report_ratio(report, "inflight-speedup", "mount64-serial", "mount64-inflight");
	bench_report_ratio(report, "inflight-speedup-nouring", "mount64-serial-nouring",
			   "mount64-inflight-nouring");
	bench_report_ratio(report, "nouring-vs-uring", "mount64-inflight-nouring",
			   "mount64-inflight");
	return 0;
}

static const char *const mount64_cases[] = { "mount64-inflight", "mount64-serial",
					     "mount64-inflight-nouring", "mount64-serial-nouring",
					     NULL };

const struct bench_group bench_group_mount64 = {
	.name = "mount64",
	.cases = mount64_cases,
	.run = run_mount64,
};
