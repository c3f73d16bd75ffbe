/* SPDX-License-Identifier: MIT */
/*
 * contention: P dvmount processes at once (P = 2, 8, 32), each preparing and
 * cleaning up containers one after the other, all containers sharing the same
 * 4 volumes: the volume locks, the reference counts and the plugin's Mount and
 * Unmount of the first and last user are contended. One operation is one
 * container's prepare (no --pid) plus its cleanup, both exec'd; reported are
 * the operations per second of the whole burst and the latency of each
 * operation (median, p99). Before each burst, the same P processes exec
 * /bin/true, then make a durable write, as often: baselines of how busy the
 * machine and its disk are (exec-true.pP, durable-write.pP).
 * Every worker is a child of the bench that dies with it; the state dir is on
 * the filesystem of the user's.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tools/bench/bench.h"

#define DRIVER "b-contention"
#define VOLUMES 4
#define OPS_TOTAL 64 /* per P in a full run, at least OPS_MIN per worker */
#define OPS_MIN 4
#define WORKERS_MAX 32

static const unsigned procs_full[] = { 2, 8, 32 };
static const unsigned procs_quick[] = { 2 };

/* What a burst's workers do: dvmount's operation, or a baseline's. */
enum base { BASE_NONE, BASE_EXEC, BASE_DURABLE };

/* Shared with the workers (MAP_SHARED): their samples and first error. */
struct burst {
	double ms[WORKERS_MAX * OPS_TOTAL];
	char err[WORKERS_MAX][BENCH_ERR_MAX];
};

struct contention_env {
	struct bench_cli cli;
	char state_dir[PATH_MAX];
	char volumes[PATH_MAX];
};

static void contention_env_done(struct contention_env *e)
{
	bench_cli_stop(&e->cli);
}

static _noreturn_ void worker(struct bench_ctx *ctx, struct contention_env *e, struct burst *b,
			      unsigned w, unsigned ops, enum base baseline, pid_t parent)
{
	char cid[48], out[BENCH_OUT_MAX];
	char *prepare[] = { "prepare", "--container-id", cid, "--volumes", e->volumes, NULL };
	char *cleanup[] = { "cleanup", "--container-id", cid, NULL };

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	for (unsigned i = 0; i < ops; i++) {
		double a = 0, c = 0;
		int r;

		if (baseline != BASE_NONE) {
			r = baseline == BASE_EXEC
				? bench_round_exec_true(ctx, NULL, &b->ms[w * ops + i])
				: bench_round_durable_write(ctx, NULL, &b->ms[w * ops + i]);
			if (r < 0)
				_exit(1);
			continue;
		}
		snprintf(cid, sizeof(cid), "bench-contention-%u-%u", w, i);
		r = bench_cli_run(ctx, &e->cli, e->state_dir, -1, prepare, out, &a);
		if (r == 0)
			r = bench_cli_check_prepared(ctx, out, cid);
		if (r == 0)
			r = bench_cli_run(ctx, &e->cli, e->state_dir, -1, cleanup, out, &c);
		if (r < 0) {
			snprintf(b->err[w], sizeof(b->err[w]), "worker %u, operation %u: %s", w,
				 i + 1, ctx->err);
			_exit(1);
		}
		b->ms[w * ops + i] = a + c;
	}
	_exit(0);
}

/*
 * P workers of ops operations each (with a baseline, its rounds instead: how
 * busy the machine is for P processes); the burst's wall time to *ret_ms.
 */
static int burst_run(struct bench_ctx *ctx, struct contention_env *e, struct burst *b,
		     unsigned procs, unsigned ops, enum base baseline, double *ret_ms)
{
	pid_t pids[WORKERS_MAX], parent = getpid();
	double start = bench_now_ms();
	unsigned started = 0;
	int failed = 0;

	memset(b, 0, sizeof(*b));
	for (; started < procs; started++) {
		pids[started] = fork();
		if (pids[started] < 0)
			break;
		if (pids[started] == 0)
			worker(ctx, e, b, started, ops, baseline, parent);
	}
	for (unsigned w = 0; w < started; w++) {
		int status;

		while (waitpid(pids[w], &status, 0) < 0)
			if (errno != EINTR)
				return bench_fail(ctx, negerrno(), "waitpid: %m");
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed = failed ?: (int)w + 1;
	}
	*ret_ms = bench_now_ms() - start;
	if (started < procs)
		return bench_fail(ctx, -EAGAIN, "fork: only %u of %u workers started", started,
				  procs);
	if (failed)
		return bench_fail(ctx, -EPROTO, "%s",
				  b->err[failed - 1][0] ? b->err[failed - 1]
							: "a worker was killed");
	return 0;
}

static int run_contention(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(contention_env_done) struct contention_env e = { .cli.plugin.pidfd = -EBADF };
	const unsigned *procs = ctx->quick ? procs_quick : procs_full;
	size_t n = ctx->quick ? ARRAY_SIZE(procs_quick) : ARRAY_SIZE(procs_full);
	char names[VOLUMES][BENCH_NAME_MAX], dst[VOLUMES][PATH_MAX], rel[64], dir[PATH_MAX];
	char *np[VOLUMES], *tp[VOLUMES];
	struct burst *b;
	int r;

	r = bench_cli_start(ctx, DRIVER, NULL, NULL, &e.cli);
	if (r == 0)
		r = bench_state_dir(ctx, "contention", e.state_dir);
	if (r == 0)
		r = bench_cli_mkdirs(ctx, "contention", dir);
	for (size_t i = 0; r == 0 && i < VOLUMES; i++) {
		snprintf(names[i], sizeof(names[i]), "shared%zu", i);
		snprintf(rel, sizeof(rel), "contention/dst/%zu", i);
		r = bench_cli_mkdirs(ctx, rel, dst[i]);
		np[i] = names[i];
		tp[i] = dst[i];
	}
	if (r < 0)
		return r;
	snprintf(e.volumes, sizeof(e.volumes), "%s/volumes.json", dir);
	r = bench_cli_volumes_file(ctx, DRIVER, e.volumes, np, tp, VOLUMES);
	if (r < 0)
		return r;

	b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b == MAP_FAILED)
		return bench_fail(ctx, negerrno(), "mmap: %m");
	for (size_t k = 0; k < n && r == 0; k++) {
		unsigned ops = ctx->quick ? 2 : MAX(OPS_MIN, OPS_TOTAL / procs[k]);
		struct bench_result *res;
		char name[BENCH_NAME_MAX];
		double wall;

		/* A warm-up burst, when asked for, then the baselines' and the measured one. */
		if (ctx->warmup)
			r = burst_run(ctx, &e, b, procs[k], 1, BASE_NONE, &wall);
		for (int base = BASE_DURABLE; base >= BASE_NONE && r == 0; base--) {
			static const char *const prefix[] = { "", "exec-true.", "durable-write." };

			r = burst_run(ctx, &e, b, procs[k], ops, (enum base)base, &wall);
			if (r < 0)
				break;
			snprintf(name, sizeof(name), "%sp%u", prefix[base], procs[k]);
			r = bench_report_add(report, "contention", name, procs[k], !base, b->ms,
					     (size_t)procs[k] * ops, &res);
			if (r < 0) {
				bench_fail(ctx, r, "%s", strerror(-r));
				break;
			}
			res->ops_per_s = procs[k] * ops / (wall / 1e3);
		}
		if (r < 0)
			break;
	}
	munmap(b, sizeof(*b));
	return r;
}

const struct bench_scenario bench_scenario_contention = {
	.name = "contention",
	.what = "P = 2, 8, 32 processes preparing and cleaning containers sharing 4 volumes",
	.needs_mount_ns = true,
	.run = run_contention,
};
