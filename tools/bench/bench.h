/* SPDX-License-Identifier: MIT */
/*
 * dvmount-bench: performance regression runs. Each scenario runs groups of
 * cases with their rounds interleaved (case A, case B, ... then the next
 * round), so a case and the baseline it is compared with see the same machine
 * state. Times and syscall counts are taken in separate runs: one more round
 * of every counted case runs under `strace -f -c`, whose cost never reaches a
 * timing. Results are data (results.json), a table (results.md) and plots.
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
#define BENCH_CASES_MAX 8     /* cases in one group */
#define BENCH_PARTS_MAX 2     /* timed parts of one round: prepare and cleanup */
#define BENCH_RESULTS_MAX 160 /* results in one run */
#define BENCH_RATIOS_MAX 48
#define BENCH_SKIPS_MAX 16
#define BENCH_SYSCALLS_MAX 200 /* distinct syscall names counted for one result */
#define BENCH_NAME_MAX 64
#define BENCH_EXEC_TIMEOUT_MS 60000 /* one exec'd program (a 256-volume prepare on a slow disk) */
#define BENCH_OUT_MAX 4096	    /* what we keep of its output */
#define BENCH_ERR_MAX 512
#define BENCH_ARGV_MAX 1100 /* one exec's arguments: 2 per volume, 256 volumes, and options */

/* Set by SIGINT/SIGTERM: every loop stops at its next check. */
extern volatile sig_atomic_t bench_stop;

/* Syscall counts of one operation, from `strace -f -c` (every process it execs). */
struct bench_counts {
	bool valid;
	size_t n;
	struct {
		char name[24];
		unsigned long calls;
	} e[BENCH_SYSCALLS_MAX];
};

struct bench_ctx {
	char tmpdir[PATH_MAX];	 /* everything the run makes is below it (a tmpfs as root) */
	char statedir[PATH_MAX]; /* the state dirs: on the user's state dir's filesystem */
	char state_fs[32];	 /* that filesystem's type, for the report */
	bool private_ns;	 /* in our own mount namespace: we may mount */
	char dvmount[PATH_MAX];	 /* the programs under test */
	char testplugin[PATH_MAX];
	char floor[PATH_MAX]; /* dvmount-bench-floor: the raw-syscall baseline */
	char strace[PATH_MAX];
	const char *preload; /* LD_PRELOAD for dvmount's execs: a test's deliberate regression */
	unsigned rounds;
	unsigned warmup;
	bool quick;
	char commit[64]; /* what was measured (--commit), for the report */
	/* The counting round: bench_exec_part() runs under strace and adds to counts. */
	bool counting;
	struct bench_counts *counts[BENCH_PARTS_MAX];
	char err[BENCH_ERR_MAX]; /* why the last group failed */
};

/* printf into ctx->err; returns r so callers can `return bench_fail(...)`. */
int bench_fail(struct bench_ctx *ctx, int r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* --- measuring ---------------------------------------------------------------- */

double bench_now_ms(void);

/*
 * One measured thing. round() does its untimed set-up and clean-up itself and
 * stores the timed parts in ret_ms[0..] (one per entry of parts, or one when
 * parts[0] is NULL); 0 or -errno (with ctx->err). Its timed execs go through
 * bench_exec_part(), so the counting round can count them.
 */
struct bench_case {
	const char *name; /* "dvmount.n64": results are SCENARIO.NAME[.PART] */
	unsigned x;	  /* the x of the plots: volumes, containers, processes */
	unsigned volumes; /* > 0: also report per-volume microseconds */
	bool gated;	  /* dvmount's own: --compare gates on it, not on baselines */
	bool counted;	  /* run the counting round */
	bool foreign;	  /* counts include another program (runc): see compare.c */
	const char *parts[BENCH_PARTS_MAX]; /* names of the timed parts; NULL: one, unnamed */
	int (*round)(struct bench_ctx *ctx, void *state, double ret_ms[BENCH_PARTS_MAX]);
	void *state;
};

struct bench_result {
	char name[BENCH_NAME_MAX];
	char scenario[BENCH_NAME_MAX];
	unsigned x;
	unsigned volumes;
	bool gated;
	bool foreign;
	size_t n;
	double *samples_ms; /* n samples in run order */
	double median_ms, p90_ms, p99_ms, min_ms, max_ms;
	double ops_per_s; /* > 0 for the contention scenario only */
	struct bench_counts counts;
};

/* ratio = median(num) / (median(den) * scale) */
struct bench_ratio {
	char name[BENCH_NAME_MAX];
	char num[BENCH_NAME_MAX];
	char den[BENCH_NAME_MAX];
	double scale;
	double ratio;
};

struct bench_report {
	struct bench_result results[BENCH_RESULTS_MAX];
	size_t n_results;
	struct bench_ratio ratios[BENCH_RATIOS_MAX];
	size_t n_ratios;
	struct {
		char name[BENCH_NAME_MAX];
		char why[BENCH_ERR_MAX];
	} skips[BENCH_SKIPS_MAX];
	size_t n_skips;
};

/*
 * ctx->warmup unrecorded rounds, then `rounds` recorded ones (0: ctx->rounds),
 * each running every case once in order; then one counting round of each
 * counted case. Results go into the report, named after scenario. A failing
 * round stops the group: nothing of it is reported.
 */
int bench_group_run(struct bench_ctx *ctx, const char *scenario, const struct bench_case *cases,
		    size_t n, unsigned rounds, struct bench_report *report);
/* A result made by hand (samples copied); -E2BIG when the report is full. */
int bench_report_add(struct bench_report *report, const char *scenario, const char *name,
		     unsigned x, bool gated, const double *samples_ms, size_t n,
		     struct bench_result **ret);
/* Add "name: num / (den * scale)" from results already in the report; -ENOENT if absent. */
int bench_report_ratio(struct bench_report *report, const char *name, const char *num,
		       const char *den, double scale);
/* Note a case that did not run, and why (reported, not a failure of the run). */
void bench_report_skip(struct bench_report *report, const char *name, const char *why);
const struct bench_result *bench_report_find(const struct bench_report *report, const char *name);
void bench_report_free(struct bench_report *report);
/* Nearest-rank percentile (0 < pct <= 100) and median of n > 0 sorted samples. */
double bench_percentile(const double *sorted, size_t n, double pct);
double bench_median(const double *sorted, size_t n);
/* Sum of the counts whose names are in the NULL-terminated list; all when NULL. */
unsigned long bench_counts_sum(const struct bench_counts *c, const char *const *names);
extern const char *const bench_fsync_calls[]; /* fsync-type: fsync fdatasync syncfs sync ... */
extern const char *const bench_rename_calls[];
extern const char *const bench_open_calls[];

/* --- output (report.c) --------------------------------------------------------- */

/* Text lines on stdout (dvmount-bench(1), OUTPUT). */
void bench_report_print(const struct bench_report *report);
/* The results.json document; NULL on ENOMEM. The caller puts it. */
struct json_object *bench_report_json(const struct bench_report *report,
				      const struct bench_ctx *ctx);
/*
 * results.json, results.md and the plots (when gnuplot is installed; else a
 * note on stderr) in dir, created if missing. 0 or -errno (ctx->err).
 */
int bench_report_write(struct bench_ctx *ctx, const struct bench_report *report, const char *dir);

/* --- comparing (compare.c) ----------------------------------------------------- */

/*
 * Compare the results document cur with base: prints a table of both runs on
 * stdout and one line per regression on stderr. Only gated results in both
 * documents and of the selected scenarios (NULL-terminated names; NULL or
 * empty: all) are judged. A regression is a syscall count that grew (total
 * beyond a small slack, see compare.c) or, when both runs have at least 5
 * samples, a median worse than base's times the baselines' slow-down (the
 * median of their cur/base, at least 1) by more than threshold_pct percent
 * plus the larger spread (p90 - min) of the two runs. Returns the
 * number of regressions; -EBADMSG when a document is not a results document,
 * -ENODATA when no gated result is in both.
 */
int bench_compare(struct json_object *base, struct json_object *cur, double threshold_pct,
		  const char *const *scenarios);

/* --- processes ---------------------------------------------------------------- */

/*
 * Run argv (absolute path, fixed minimal environment plus env, a
 * NULL-terminated list that may be NULL; stdin /dev/null, stdout+stderr
 * captured) to completion within BENCH_EXEC_TIMEOUT_MS. The wall time from
 * fork to reaping goes to *ret_ms; the first out_size-1 bytes of output to
 * out (NUL-terminated). Returns the exit status (0-255, 128+signal) or
 * -errno; on timeout the child is killed: -ETIMEDOUT.
 */
int bench_exec_env(char *const argv[], char *const env[], char *out, size_t out_size,
		   double *ret_ms);
int bench_exec(char *const argv[], char *out, size_t out_size, double *ret_ms);
/*
 * bench_exec_env for timed part `part` of a round: in the counting round it
 * runs under `strace -f -c` and adds the counts to ctx->counts[part] (the
 * time is then meaningless and not recorded).
 */
int bench_exec_part(struct bench_ctx *ctx, unsigned part, char *const argv[], char *const env[],
		    char *out, size_t out_size, double *ret_ms);

/*
 * A round that execs /bin/true (part 0): the cheapest exec, a baseline every
 * group without one of its own carries, so that --compare sees how busy the
 * machine was while that group ran. state is unused.
 */
int bench_round_exec_true(struct bench_ctx *ctx, void *state, double ret_ms[BENCH_PARTS_MAX]);
#define BENCH_EXEC_TRUE(case_name)                                                                 \
	((struct bench_case){ .name = (case_name), .round = bench_round_exec_true })
/*
 * A round of one durable write in ctx->statedir (write, fsync, rename, fsync
 * of the directory: what dvmount's state store does per record), in-process:
 * how fast the state's disk is right now. Every group that runs dvmount has
 * one, for --compare. state is unused.
 */
int bench_round_durable_write(struct bench_ctx *ctx, void *state, double ret_ms[BENCH_PARTS_MAX]);
#define BENCH_DURABLE_WRITE(case_name)                                                             \
	((struct bench_case){ .name = (case_name), .round = bench_round_durable_write })

/* A dvmount-testplugin serving DIR/NAME.sock (DIR = tmpdir/plugins). */
struct bench_plugin {
	pid_t pid;
	int pidfd;
	char name[BENCH_NAME_MAX];
	char plugin_dir[PATH_MAX]; /* for --plugin-path */
	char sock[PATH_MAX];
};

/* Start it (fault: one --fault SPEC or NULL) and wait for "ready". */
int bench_plugin_start(struct bench_ctx *ctx, const char *name, const char *fault,
		       struct bench_plugin *ret);
/* Start argv (a plugin that says nothing) and wait for its socket. */
int bench_plugin_spawn(struct bench_ctx *ctx, char *const argv[], const char *sock,
		       unsigned timeout_ms, struct bench_plugin *ret);
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
/* A fresh state dir for one group: below ctx->statedir, never on the run's tmpfs. */
int bench_state_dir(struct bench_ctx *ctx, const char *name, char ret_path[static PATH_MAX]);
/* Create path (it must not exist) with mode, whatever the umask, and write text. */
int bench_write_file(const char *path, const char *text, mode_t mode);

/* --- dvmount's command line, as a containerizer runs it ------------------------ */

/*
 * A test plugin NAME (also its driver name) and a policy that allows it:
 * callers uid:0, host-paths its root, modes RW RO, and the extra lines of
 * the driver section given to bench_cli_start. Volume V's mountpoint is
 * root/volumes/V/data (dvmount-testplugin(1)).
 */
struct bench_cli {
	struct bench_plugin plugin;
	char root[PATH_MAX];   /* the plugin's --root, resolved */
	char policy[PATH_MAX]; /* root-owned, 0644 */
	const char *global;    /* one more global option (--no-uring) or NULL */
};

int bench_cli_start(struct bench_ctx *ctx, const char *name, const char *fault,
		    const char *driver_extra, struct bench_cli *ret);
/* Stops the plugin. Accepts a zeroed cli. */
void bench_cli_stop(struct bench_cli *cli);
/* bench_mkdirs, then the path resolved (the policy wants normalized paths). */
int bench_cli_mkdirs(struct bench_ctx *ctx, const char *rel, char ret_path[static PATH_MAX]);
/* A new --volumes file: volume names[i] of driver at targets[i], RW. */
int bench_cli_volumes_file(struct bench_ctx *ctx, const char *driver, const char *path,
			   char *const *names, char *const *targets, size_t n);
/* The same array as JSON text (malloc'd), for an OCI annotation. */
char *bench_cli_volumes_json(const char *driver, char *const *names, char *const *targets,
			     size_t n);
/*
 * Exec `dvmount --state-dir DIR --policy .. --plugin-path .. [GLOBAL] ARGS...`
 * (args NULL-terminated) as timed part `part` (bench_exec_part), or untimed
 * when part < 0. 0 only when it exited 0; else -EPROTO or -errno, with its
 * output quoted in ctx->err. The first BENCH_OUT_MAX-1 bytes of its output go
 * to out, the exec's wall time to *ret_ms (may be NULL).
 */
int bench_cli_run(struct bench_ctx *ctx, const struct bench_cli *cli, const char *state_dir,
		  int part, char *const *args, char out[static BENCH_OUT_MAX], double *ret_ms);
/* out is what a successful prepare of cid prints: 0, else -EPROTO (ctx->err). */
int bench_cli_check_prepared(struct bench_ctx *ctx, const char *out, const char *cid);
/* The environment for dvmount's execs (LD_PRELOAD of ctx->preload), NULL-terminated. */
char *const *bench_cli_env(const struct bench_ctx *ctx);

/* --- the scenarios ------------------------------------------------------------ */

struct bench_scenario {
	const char *name;
	const char *what; /* one line for --list */
	bool needs_mount_ns;
	int (*run)(struct bench_ctx *ctx, struct bench_report *report);
};

extern const struct bench_scenario bench_scenario_attach;
extern const struct bench_scenario bench_scenario_first_mount;
extern const struct bench_scenario bench_scenario_concurrency;
extern const struct bench_scenario bench_scenario_scale;
extern const struct bench_scenario bench_scenario_contention;
extern const struct bench_scenario bench_scenario_dvdcli;
extern const struct bench_scenario bench_scenario_transport;
extern const struct bench_scenario bench_scenario_oci_hook;

#endif
