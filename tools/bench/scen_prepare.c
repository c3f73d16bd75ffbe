/* SPDX-License-Identifier: MIT */
/*
 * One `dvmount prepare --pid` exec giving a running container 1 or 64
 * volumes that the plugin has mounted already (a first container, prepared
 * once without --pid and never cleaned up, holds them), against what a
 * shell-script containerizer does per volume: exec util-linux
 * `nsenter -t PID -m sh -c 'mkdir -p T && mount --bind S T'`.
 *
 * Targets are absolute paths without a rootfs, so they must exist in the
 * container: directories of the run, which each container's fresh mount
 * namespace copied. Every round prepares a new container id into a fresh
 * container; its cleanup and the container's end are not timed, and both
 * sides are checked: exactly the targets are mounts in the container after,
 * none after the cleanup.
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

#define DRIVER "bench-prep"
#define VOLUMES 64
#define HOLDER "bench-prep-holder"
/* $1 the target, $2 the source: paths never pass through the shell's parser. */
#define MKDIR_BIND "mkdir -p \"$1\" && mount --bind \"$2\" \"$1\""

static const char *const nsenter_paths[] = { "/usr/bin/nsenter", "/bin/nsenter", NULL };

struct prepare_shared {
	struct bench_cli cli;
	char state_dir[PATH_MAX];
	char files[2][PATH_MAX]; /* --volumes files of 1 and of 64 volumes */
	char names[VOLUMES][BENCH_NAME_MAX];
	char src[VOLUMES][PATH_MAX]; /* the plugin's mountpoints */
	char dst[VOLUMES][PATH_MAX];
	const char *nsenter;
	unsigned seq; /* container ids are never reused */
};

struct prepare_case {
	struct prepare_shared *sh;
	unsigned n;
	const char *file;
};

static void prepare_shared_freep(struct prepare_shared **sh)
{
	if (!*sh)
		return;
	bench_cli_stop(&(*sh)->cli);
	free(*sh);
	*sh = NULL;
}

static void container_stopp(struct bench_container *ct)
{
	bench_container_stop(ct);
}

/* How many of the first n targets are mount roots in the container's namespace. */
static unsigned count_attached(const struct prepare_shared *sh, const struct bench_container *ct,
			       unsigned n)
{
	char path[PATH_MAX + 32];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		/* /proc/PID/root: the lookup continues in the container's mounts. */
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)ct->pid, sh->dst[i]);
		k += ns_is_mounted(AT_FDCWD, path, NULL) == 1;
	}
	return k;
}

static int round_prepare(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct prepare_case *c = state;
	struct prepare_shared *sh = c->sh;
	_cleanup_(container_stopp) struct bench_container ct = { .pidfd = -EBADF };
	char cid[32], pid[16], out[BENCH_OUT_MAX];
	char *prepare[] = { "prepare", "--container-id", cid,  "--volumes",
			    (char *)c->file, "--pid", pid, NULL };
	char *cleanup[] = { "cleanup", "--container-id", cid, NULL };
	unsigned k;
	int r;

	r = bench_container_start(&ct);
	if (r < 0)
		return bench_fail(ctx, r, "container: %s", strerror(-r));
	snprintf(cid, sizeof(cid), "bench-prep-%u", sh->seq++);
	snprintf(pid, sizeof(pid), "%d", (int)ct.pid);

	r = bench_cli_run(ctx, &sh->cli, sh->state_dir, prepare, out, ret_ms);
	if (r < 0)
		return r;
	r = bench_cli_check_prepared(ctx, out, cid);
	if (r < 0)
		return r;
	k = count_attached(sh, &ct, c->n);
	if (k != c->n)
		return bench_fail(ctx, -EPROTO, "prepare of '%s' attached %u of %u volumes in pid "
				  "%s", cid, k, c->n, pid);

	r = bench_cli_run(ctx, &sh->cli, sh->state_dir, cleanup, out, NULL);
	if (r < 0)
		return r;
	k = count_attached(sh, &ct, c->n);
	if (k != 0)
		return bench_fail(ctx, -EPROTO, "cleanup of '%s' left %u mounts in pid %s", cid, k,
				  pid);
	return 0;
}

static int round_nsenter(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct prepare_case *c = state;
	struct prepare_shared *sh = c->sh;
	_cleanup_(container_stopp) struct bench_container ct = { .pidfd = -EBADF };
	char pid[16], out[BENCH_OUT_MAX];
	double start, ms;
	unsigned k;
	int r;

	r = bench_container_start(&ct);
	if (r < 0)
		return bench_fail(ctx, r, "container: %s", strerror(-r));
	snprintf(pid, sizeof(pid), "%d", (int)ct.pid);

	start = bench_now_ms();
	for (size_t i = 0; i < c->n; i++) {
		char *argv[] = { (char *)sh->nsenter, "-t", pid, "-m", "sh", "-c", MKDIR_BIND,
				 "sh", sh->dst[i], sh->src[i], NULL };

		r = bench_exec(argv, out, sizeof(out), &ms);
		if (r != 0)
			return bench_fail(ctx, r < 0 ? r : -EPROTO, "nsenter ... mount --bind '%s' "
				"'%s' exited %d: %.200s", sh->src[i], sh->dst[i], r, out);
	}
	*ret_ms = bench_now_ms() - start;
	k = count_attached(sh, &ct, c->n);
	if (k != c->n)
		return bench_fail(ctx, -EPROTO, "nsenter attached %u of %u volumes in pid %s", k,
				  c->n, pid);
	return 0;
}

/* The plugin, the state dir, the targets, and the holder that keeps every volume mounted. */
static int setup(struct bench_ctx *ctx, struct prepare_shared *sh)
{
	char dir[PATH_MAX], rel[64], out[BENCH_OUT_MAX];
	char *names[VOLUMES], *targets[VOLUMES];
	char *holder[] = { "prepare", "--container-id", HOLDER, "--volumes", sh->files[1], NULL };
	int r;

	r = bench_cli_start(ctx, DRIVER, &sh->cli);
	if (r < 0)
		return r;
	r = bench_cli_mkdirs(ctx, "prepare/state", sh->state_dir);
	if (r < 0)
		return r;
	r = bench_cli_mkdirs(ctx, "prepare", dir);
	if (r < 0)
		return r;
	for (size_t i = 0; i < VOLUMES; i++) {
		snprintf(sh->names[i], sizeof(sh->names[i]), "prep-%zu", i);
		snprintf(rel, sizeof(rel), "prepare/dst/%zu", i);
		r = bench_cli_mkdirs(ctx, rel, sh->dst[i]);
		if (r < 0)
			return r;
		/* The test plugin's layout (dvmount-testplugin(1)). */
		if ((size_t)snprintf(sh->src[i], sizeof(sh->src[i]), "%s/volumes/%s/data",
				     sh->cli.root, sh->names[i]) >= sizeof(sh->src[i]))
			return bench_fail(ctx, -ENAMETOOLONG, "plugin root too long");
		names[i] = sh->names[i];
		targets[i] = sh->dst[i];
	}
	snprintf(sh->files[0], sizeof(sh->files[0]), "%s/volumes1.json", dir);
	snprintf(sh->files[1], sizeof(sh->files[1]), "%s/volumes%d.json", dir, VOLUMES);
	r = bench_cli_volumes_file(ctx, &sh->cli, sh->files[0], names, targets, 1);
	if (r < 0)
		return r;
	r = bench_cli_volumes_file(ctx, &sh->cli, sh->files[1], names, targets, VOLUMES);
	if (r < 0)
		return r;

	r = bench_cli_run(ctx, &sh->cli, sh->state_dir, holder, out, NULL);
	if (r < 0)
		return r;
	r = bench_cli_check_prepared(ctx, out, HOLDER);
	if (r < 0)
		return r;
	for (size_t i = 0; i < VOLUMES; i++)
		if (access(sh->src[i], F_OK) < 0)
			return bench_fail(ctx, -ENOENT, "the plugin mounted no '%s'", sh->src[i]);
	for (size_t i = 0; nsenter_paths[i] && !sh->nsenter; i++)
		if (access(nsenter_paths[i], X_OK) == 0)
			sh->nsenter = nsenter_paths[i];
	return 0;
}

static int run_prepare(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(prepare_shared_freep) struct prepare_shared *sh = calloc(1, sizeof(*sh));
	struct prepare_case one, all;
	struct bench_case cases[4];
	size_t n = 0;
	int r;

	if (!sh)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	sh->cli.plugin.pidfd = -EBADF;
	r = setup(ctx, sh);
	if (r < 0)
		return r;
	one = (struct prepare_case){ .sh = sh, .n = 1, .file = sh->files[0] };
	all = (struct prepare_case){ .sh = sh, .n = VOLUMES, .file = sh->files[1] };

	cases[n++] = (struct bench_case){ "prepare1", 1, round_prepare, &one };
	cases[n++] = (struct bench_case){ "prepare64", VOLUMES, round_prepare, &all };
	if (sh->nsenter) {
		cases[n++] = (struct bench_case){ "nsenter-mkdir-bind1", 1, round_nsenter, &one };
		cases[n++] = (struct bench_case){ "nsenter-mkdir-bind64", VOLUMES, round_nsenter,
						  &all };
	} else {
		fprintf(stderr, "dvmount-bench: prepare: no nsenter (util-linux): "
				"the nsenter-mkdir-bind baselines are not measured\n");
	}

	r = bench_group_run(ctx, cases, n, report);
	if (r < 0)
		return r;
	bench_report_ratio(report, "prepare-speedup1", "nsenter-mkdir-bind1", "prepare1");
	bench_report_ratio(report, "prepare-speedup64", "nsenter-mkdir-bind64", "prepare64");
	return 0;
}

static const char *const prepare_cases[] = { "prepare1", "prepare64", "nsenter-mkdir-bind1",
					     "nsenter-mkdir-bind64", NULL };

const struct bench_group bench_group_prepare = {
	.name = "prepare",
	.cases = prepare_cases,
	.needs_mount_ns = true,
	.run = run_prepare,
};
