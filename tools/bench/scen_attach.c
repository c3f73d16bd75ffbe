/* SPDX-License-Identifier: MIT */
/*
 * Attaching host directories into a running container's mount namespace:
 * ns_open_tree + one ns_attach per batch (1 or 64 volumes), against what a
 * shell-script containerizer does per volume: exec util-linux
 * `nsenter -t PID -m mount --bind SRC DST`. Every round gets a fresh
 * container; killing it afterwards (not timed) takes its mounts along.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "ns/ns.h"
#include "tools/bench/bench.h"

#define VOLUMES 64

static const char *const nsenter_paths[] = { "/usr/bin/nsenter", "/bin/nsenter", NULL };

struct attach_shared {
	char src[VOLUMES][PATH_MAX];
	char dst[VOLUMES][PATH_MAX];
	const char *nsenter;
};

struct attach_case {
	struct attach_shared *sh;
	unsigned n;
};

static void container_stopp(struct bench_container *ct)
{
	bench_container_stop(ct);
}

static void close_trees(struct ns_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].tree_fd >= 0)
			close(TAKE_FD(m[i].tree_fd));
}

static int round_attach(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct attach_case *c = state;
	_cleanup_(container_stopp) struct bench_container ct = { .pidfd = -EBADF };
	struct ns_mount m[VOLUMES];
	double start;
	int r;

	r = bench_container_start(&ct);
	if (r < 0)
		return bench_fail(ctx, r, "container: %s", strerror(-r));
	for (size_t i = 0; i < c->n; i++)
		m[i] = (struct ns_mount){ .tree_fd = -EBADF, .target = c->sh->dst[i] };

	start = bench_now_ms();
	for (size_t i = 0; i < c->n; i++) {
		r = ns_open_tree(AT_FDCWD, c->sh->src[i], 0, &m[i].tree_fd);
		if (r < 0) {
			close_trees(m, i);
			return bench_fail(ctx, r, "ns_open_tree '%s': %s", c->sh->src[i],
					  strerror(-r));
		}
	}
	r = ns_attach(ct.pidfd, "/", m, c->n);
	close_trees(m, c->n);
	*ret_ms = bench_now_ms() - start;
	if (r < 0)
		return bench_fail(ctx, r, "ns_attach: %s", strerror(-r));
	for (size_t i = 0; i < c->n; i++)
		if (m[i].result < 0 || m[i].mnt_id == 0)
			return bench_fail(ctx, -EPROTO, "ns_attach '%s': %s", m[i].target,
					  strerror(m[i].result < 0 ? -m[i].result : EPROTO));
	return 0;
}

static int round_nsenter(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct attach_case *c = state;
	_cleanup_(container_stopp) struct bench_container ct = { .pidfd = -EBADF };
	char pid[16], out[BENCH_OUT_MAX];
	double start, ms;
	int r;

	r = bench_container_start(&ct);
	if (r < 0)
		return bench_fail(ctx, r, "container: %s", strerror(-r));
	snprintf(pid, sizeof(pid), "%d", (int)ct.pid);

	start = bench_now_ms();
	for (size_t i = 0; i < c->n; i++) {
		char *argv[] = { (char *)c->sh->nsenter, "-t", pid, "-m", "mount", "--bind",
				 c->sh->src[i], c->sh->dst[i], NULL };

		r = bench_exec(argv, out, sizeof(out), &ms);
		if (r != 0)
			return bench_fail(ctx, r < 0 ? r : -EPROTO, "nsenter ... mount --bind '%s' "
				"'%s' exited %d: %.200s", c->sh->src[i], c->sh->dst[i], r, out);
	}
	*ret_ms = bench_now_ms() - start;
	return 0;
}

static int run_attach(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_free_ struct attach_shared *sh = calloc(1, sizeof(*sh));
	struct attach_case one = { .sh = sh, .n = 1 }, all = { .sh = sh, .n = VOLUMES };
	struct bench_case cases[3];
	size_t n = 0;
	int r;

	if (!sh)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	/* Sources and targets on the run's own tmpfs, shared with each container. */
	for (size_t i = 0; i < VOLUMES; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "attach/src/%zu", i);
		r = bench_mkdirs(ctx, rel, sh->src[i]);
		if (r >= 0) {
			snprintf(rel, sizeof(rel), "attach/dst/%zu", i);
			r = bench_mkdirs(ctx, rel, sh->dst[i]);
		}
		if (r < 0)
			return bench_fail(ctx, r, "cannot create '%s' below '%s': %s", rel,
					  ctx->tmpdir, strerror(-r));
	}
	for (size_t i = 0; nsenter_paths[i] && !sh->nsenter; i++)
		if (access(nsenter_paths[i], X_OK) == 0)
			sh->nsenter = nsenter_paths[i];

	cases[n++] = (struct bench_case){ "attach1", 1, round_attach, &one };
	cases[n++] = (struct bench_case){ "attach64", VOLUMES, round_attach, &all };
	if (sh->nsenter)
		cases[n++] = (struct bench_case){ "nsenter-bind64", VOLUMES, round_nsenter, &all };
	else
		fprintf(stderr, "dvmount-bench: attach: no nsenter (util-linux): "
				"the nsenter-bind64 baseline is not measured\n");

	r = bench_group_run(ctx, cases, n, report);
	if (r < 0)
		return r;
	bench_report_ratio(report, "attach-speedup", "nsenter-bind64", "attach64");
	return 0;
}

static const char *const attach_cases[] = { "attach1", "attach64", "nsenter-bind64", NULL };

const struct bench_group bench_group_attach = {
	.name = "attach",
	.cases = attach_cases,
	.needs_mount_ns = true,
	.run = run_attach,
};
