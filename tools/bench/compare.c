/* SPDX-License-Identifier: MIT */
/*
 * --compare: the regression gate. Counts come first: they are the same on a
 * quiet and on a busy machine, so any growth of fsync-type calls, renames or
 * opens is a regression. Times gate only beyond the threshold plus the noise
 * that both runs show, after allowing for how much the same run's baselines
 * slowed, so that a rerun against one's own fresh results passes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "common/macro.h"
#include "tools/bench/bench.h"

/*
 * The total, less the waiting calls, may still move by a few calls between
 * identical runs: a read of a pipe that returns short, a signal. A real
 * regression (one more durable write) moves the named counts, which gate exactly.
 */
#define BENCH_TOTAL_SLACK_PCT 3.0
#define BENCH_TOTAL_SLACK_CALLS 16
/* Fewer samples than this in either run: the time is shown, not judged. */
#define BENCH_TIMED_MIN_N 5

/* The first two are durable writes: gated even when another program's calls are mixed in. */
static const char *const gated_counts[] = { "fsync_type", "renames", "opens" };

static double num(json_object *o, const char *key)
{
	return json_object_get_double(json_object_object_get(o, key));
}

static bool selected(const char *scenario, const char *const *scenarios)
{
	if (!scenarios || !scenarios[0])
		return true;
	for (size_t i = 0; scenarios[i]; i++)
		if (!strcmp(scenarios[i], scenario))
			return true;
	return false;
}

/*
 * How far one run's samples spread: p90 - min. On a shared machine a
 * neighbour's burst moves a whole run; a median that moved less than both
 * runs' spread is not evidence of a change in dvmount.
 */
static double noise(json_object *r)
{
	double d = num(r, "p90_ms") - num(r, "min_ms");

	return d > 0 ? d : 0;
}

/*
 * Calls whose number follows timing, not code: waits, sleeps, and receives on
 * a socket that return EAGAIN or part of an answer until the plugin has sent
 * it all (a plugin with 50 ms Mounts makes dozens more or fewer per run).
 */
static const char *const waiting_calls[] = {
	"poll",	       "ppoll",		 "epoll_wait", "epoll_pwait", "epoll_pwait2",
	"select",      "pselect6",	 "futex",      "nanosleep",   "clock_nanosleep",
	"sched_yield", "io_uring_enter", "recvfrom",   "recvmsg",     NULL
};

/* The total less the waiting calls: what the code asks for, whatever the timing. */
static int64_t steady_total(json_object *syscalls)
{
	json_object *by = json_object_object_get(syscalls, "by_name");
	int64_t t = json_object_get_int64(json_object_object_get(syscalls, "total"));

	for (size_t i = 0; waiting_calls[i]; i++)
		t -= json_object_get_int64(json_object_object_get(by, waiting_calls[i]));
	return t;
}

static int compare_counts(const char *name, json_object *b, json_object *c, char *cell, size_t size)
{
	json_object *bs = json_object_object_get(b, "syscalls");
	json_object *cs = json_object_object_get(c, "syscalls");
	int64_t bt, ct;
	bool foreign;
	int bad = 0;

	snprintf(cell, size, "-");
	if (!bs || !cs)
		return 0;
	bt = json_object_get_int64(json_object_object_get(bs, "total"));
	ct = json_object_get_int64(json_object_object_get(cs, "total"));
	snprintf(cell, size, "%lld/%lld -> %lld/%lld",
		 (long long)json_object_get_int64(json_object_object_get(bs, "fsync_type")),
		 (long long)bt,
		 (long long)json_object_get_int64(json_object_object_get(cs, "fsync_type")),
		 (long long)ct);
	/*
	 * Counts that include another program (runc, a Go program: its runtime's
	 * threads open, poll and sleep differently each run) gate only on the
	 * durable writes, which are all the hook's.
	 */
	foreign = json_object_get_boolean(json_object_object_get(c, "counts_foreign"));
	for (size_t i = 0; i < (foreign ? 2 : ARRAY_SIZE(gated_counts)); i++) {
		int64_t x = json_object_get_int64(json_object_object_get(bs, gated_counts[i]));
		int64_t y = json_object_get_int64(json_object_object_get(cs, gated_counts[i]));

		if (y > x) {
			fprintf(stderr,
				"dvmount-bench: regression: %s: %s grew from %lld to %lld "
				"per operation\n",
				name, gated_counts[i], (long long)x, (long long)y);
			bad++;
		}
	}
	bt = steady_total(bs);
	ct = steady_total(cs);
	if (!foreign &&
	    (double)ct > (double)bt * (1 + BENCH_TOTAL_SLACK_PCT / 100) + BENCH_TOTAL_SLACK_CALLS) {
		fprintf(stderr,
			"dvmount-bench: regression: %s: syscalls (less waits) grew from %lld "
			"to %lld per operation\n",
			name, (long long)bt, (long long)ct);
		bad++;
	}
	return bad;
}

/*
 * How much slower the machine was in cur than in base: the largest cur/base
 * of medians over the baselines (never dvmount's) of the scenario, or of
 * every scenario when it has none; never below 1. Each baseline stands for
 * one resource dvmount uses (an exec, a durable write on the state's disk);
 * a neighbour's load slows it as much as dvmount, a change to dvmount slows
 * only dvmount (and one that adds work shows in the counts).
 */
static double machine_factor(json_object *bsc, json_object *csc, const char *scenario)
{
	double worst = 1;
	size_t n = 0;

	for (int pass = 0; pass < 2 && n == 0; pass++) {
		json_object_object_foreach(csc, name, c)
		{
			json_object *b = json_object_object_get(bsc, name);
			const char *s =
			    json_object_get_string(json_object_object_get(c, "scenario"));

			if (!b || !s ||
			    json_object_get_boolean(json_object_object_get(c, "gated")) ||
			    (pass == 0 && strcmp(s, scenario)) || num(b, "median_ms") <= 0)
				continue;
			worst = MAX(worst, num(c, "median_ms") / num(b, "median_ms"));
			n++;
		}
	}
	return worst;
}

int bench_compare(json_object *base, json_object *cur, double threshold_pct,
		  const char *const *scenarios)
{
	json_object *bsc = json_object_object_get(base, "scenarios");
	json_object *csc = json_object_object_get(cur, "scenarios");
	int bad = 0, compared = 0;

	if (!json_object_is_type(bsc, json_type_object) ||
	    !json_object_is_type(csc, json_type_object))
		return -EBADMSG;
	printf("%-44s %10s %10s %8s %9s  %-28s %s\n", "result", "base ms", "now ms", "change",
	       "noise ms", "fsync/syscalls base -> now", "verdict");
	json_object_object_foreach(csc, name, c)
	{
		json_object *b = json_object_object_get(bsc, name);
		const char *scenario =
		    json_object_get_string(json_object_object_get(c, "scenario"));
		bool gated = json_object_get_boolean(json_object_object_get(c, "gated"));
		double bm, cm, nz, f;
		char cell[96];
		int worse = 0;

		if (!b || !scenario || !selected(scenario, scenarios))
			continue;
		bm = num(b, "median_ms");
		cm = num(c, "median_ms");
		nz = MAX(noise(b), noise(c));
		if (gated) {
			bool timed = json_object_get_int(json_object_object_get(b, "n")) >=
					 BENCH_TIMED_MIN_N &&
				     json_object_get_int(json_object_object_get(c, "n")) >=
					 BENCH_TIMED_MIN_N;

			worse = compare_counts(name, b, c, cell, sizeof(cell));
			f = machine_factor(bsc, csc, scenario);
			/* One sample (--quick) shows no noise: only the counts are judged. */
			if (timed && cm > bm * f * (1 + threshold_pct / 100) + nz) {
				fprintf(stderr,
					"dvmount-bench: regression: %s: median %.3f ms -> "
					"%.3f ms (+%.1f%%; threshold %g%%, noise %.3f ms, "
					"baselines x%.2f)\n",
					name, bm, cm, bm > 0 ? (cm / bm - 1) * 100 : 0,
					threshold_pct, nz, f);
				worse++;
			}
			compared++;
		} else {
			snprintf(cell, sizeof(cell), "-");
		}
		printf("%-44s %10.3f %10.3f %+7.1f%% %9.3f  %-28s %s\n", name, bm, cm,
		       bm > 0 ? (cm / bm - 1) * 100 : 0, nz, cell,
		       !gated  ? "baseline"
		       : worse ? "REGRESSION"
			       : "ok");
		bad += worse;
	}
	fflush(stdout);
	/* A gate that compared nothing must not pass. */
	return compared ? bad : -ENODATA;
}
