/* SPDX-License-Identifier: MIT */
/*
 * dvmount-bench: performance regression runs. Each group of cases runs its
 * rounds interleaved (case A, case B, ... then the next round), so a case and
 * the baseline it is compared with see the same machine state; results are
 * medians and ratios of medians, never absolute pass/fail timings.
 */
#ifndef DVMOUNT_TOOLS_BENCH_H
#define DVMOUNT_TOOLS_BENCH_H

#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BENCH_ROUNDS_MAX 1000
#define BENCH_WARMUP_MAX 100
#define BENCH_CASES_MAX 8    /* cases in one group */
#define BENCH_RESULTS_MAX 32 /* cases in one run */
#define BENCH_RATIOS_MAX 16
#define BENCH_NAME_MAX 32
#define BENCH_EXEC_TIMEOUT_MS 10000 /* one exec'd program */
#define BENCH_OUT_MAX 4096	    /* what we keep of its output */
#define BENCH_ERR_MAX 512

/* Set by SIGINT/SIGTERM: every loop stops at its next check. */
extern volatile sig_atomic_t bench_stop;

struct bench_ctx {
	char tmpdir[PATH_MAX];	/* everything the run makes is below it */
	bool private_ns;	/* in our own mount namespace: we may mount */
	char dvmount[PATH_MAX]; /* the programs under test */
	char testplugin[PATH_MAX];
	unsigned rounds;
	unsigned warmup;
	char err[BENCH_ERR_MAX]; /* why the last group failed */
};

/* printf into ctx->err; returns r so callers can `return bench_fail(...)`. */
int bench_fail(struct bench_ctx *ctx, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --- measuring ---------------------------------------------------------------- */

double bench_now_ms(void);

/*
 * One measured thing. round() does its untimed set-up and clean-up itself
 * and stores only the timed part in *ret_ms; 0 or -errno (with ctx->err).
 */
struct bench_case {
	const char *name;
	unsigned volumes; /* > 0: also report per-volume microseconds */
	int (*round)(struct bench_ctx *ctx, void *state, double *ret_ms);
	void *state;
};

struct bench_result {
	char name[BENCH_NAME_MAX];
	unsigned volumes;
	size_t n;
	double *samples_ms; /* n samples in run order */
	double median_ms;
	double p90_ms;
};

struct bench_ratio {
	char name[BENCH_NAME_MAX];
	char num[BENCH_NAME_MAX]; /* median(num) / median(den) */
	char den[BENCH_NAME_MAX];
	double ratio;
};

struct bench_report {
	struct bench_result results[BENCH_RESULTS_MAX];
	size_t n_results;
	struct bench_ratio ratios[BENCH_RATIOS_MAX];
	size_t n_ratios;
};

/*
 * ctx->warmup unrecorded rounds, then ctx->rounds recorded ones, each round
 * running every case once in order; results go into the report. A failing
 * round stops the group: nothing of it is reported.
 */
int bench_group_run(struct bench_ctx *ctx, const struct bench_case *cases, size_t n,
		    struct bench_report *report);
/* Add "name: num/den" from results already in the report. */
int bench_report_ratio(struct bench_report *report, const char *name, const char *num,
		       const char *den);
void bench_report_free(struct bench_report *report);
void bench_report_print(const struct bench_report *report);
int bench_report_print_json(const struct bench_report *report, const struct bench_ctx *ctx);

/* --- processes ---------------------------------------------------------------- */

/*
 * Run argv (absolute path, fixed minimal environment, stdin /dev/null,
 * stdout+stderr captured) to completion within BENCH_EXEC_TIMEOUT_MS. The
 * wall time from fork to reaping goes to *ret_ms; the first BENCH_OUT_MAX-1
 * bytes of output to out (NUL-terminated). Returns the exit status (0-255,
 * 128+signal) or -errno; on timeout the child is killed: -ETIMEDOUT.
 */
int bench_exec(char *const argv[], char *out, size_t out_size, double *ret_ms);

/* A dvmount-testplugin serving tmpdir/plugins/NAME.sock. */
struct bench_plugin {
	pid_t pid;
	int pidfd;
	char name[BENCH_NAME_MAX];
	char plugin_dir[PATH_MAX]; /* for --plugin-path */
};

/* Start it (fault: one --fault SPEC or NULL) and wait for "ready". */
int bench_plugin_start(struct bench_ctx *ctx, const char *name, const char *fault,
		       struct bench_plugin *ret);
/* SIGTERM, SIGKILL after a grace period; reaps. Accepts a zeroed plugin. */
void bench_plugin_stop(struct bench_plugin *p);

/* A sleeping child in its own private mount namespace: a "container". */
struct bench_container {
	pid_t pid;
	int pidfd;
};

int bench_container_start(struct bench_container *ret);
/* SIGKILL and reap: its namespace and every mount in it go with it. */
void bench_container_stop(struct bench_container *ct);

/* mkdir -p below ctx->tmpdir (rel has no leading '/'). */
int bench_mkdirs(const struct bench_ctx *ctx, const char *rel, char ret_path[static PATH_MAX]);

/* --- dvmount's command line, as a containerizer runs it ------------------------ */

/*
 * A test plugin NAME (also its driver name) and a policy that allows it:
 * callers uid:0, host-paths its root, modes RW RO. Volume V's mountpoint is
 * root/volumes/V/data (dvmount-testplugin(1)).
 */
struct bench_cli {
	struct bench_plugin plugin;
	char root[PATH_MAX];   /* the plugin's --root, resolved */
	char policy[PATH_MAX]; /* root-owned, 0644 */
};

int bench_cli_start(struct bench_ctx *ctx, const char *name, struct bench_cli *ret);
/* Stops the plugin. Accepts a zeroed cli. */
void bench_cli_stop(struct bench_cli *cli);
/* bench_mkdirs, then the path resolved (the policy wants normalized paths). */
int bench_cli_mkdirs(struct bench_ctx *ctx, const char *rel, char ret_path[static PATH_MAX]);
/* A new --volumes file: volume names[i] of the cli's driver at targets[i], RW. */
int bench_cli_volumes_file(struct bench_ctx *ctx, const struct bench_cli *cli, const char *path,
			   char *const *names, char *const *targets, size_t n);
/*
 * Exec `dvmount --state-dir DIR --policy .. --plugin-path .. ARGS...` (args
 * NULL-terminated). 0 only when it exited 0; else -EPROTO or -errno, with its
 * output quoted in ctx->err. The first BENCH_OUT_MAX-1 bytes of its output go
 * to out, the exec's wall time to *ret_ms (may be NULL).
 */
int bench_cli_run(struct bench_ctx *ctx, const struct bench_cli *cli, const char *state_dir,
		  char *const *args, char out[static BENCH_OUT_MAX], double *ret_ms);
/* out is what a successful prepare of cid prints: 0, else -EPROTO (ctx->err). */
int bench_cli_check_prepared(struct bench_ctx *ctx, const char *out, const char *cid);

/* --- the scenario groups ------------------------------------------------------ */

struct bench_group {
	const char *name;
	const char *const *cases; /* NULL-terminated: what positional args may name */
	bool needs_mount_ns;
	int (*run)(struct bench_ctx *ctx, struct bench_report *report);
};

extern const struct bench_group bench_group_dvdcli;
extern const struct bench_group bench_group_mount64;
extern const struct bench_group bench_group_attach;
extern const struct bench_group bench_group_prepare;
extern const struct bench_group bench_group_state;

#endif
