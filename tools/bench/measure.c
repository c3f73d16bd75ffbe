/* SPDX-License-Identifier: MIT */
/*
 * Rounds and statistics: groups of cases run interleaved, then one counting
 * round under strace; the report that the output formats are made from.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/macro.h"
#include "tools/bench/bench.h"

const char *const bench_fsync_calls[] = { "fsync",	     "fdatasync", "syncfs", "sync",
					  "sync_file_range", "msync",	  NULL };
const char *const bench_rename_calls[] = { "rename", "renameat", "renameat2", NULL };
/* Files opened; open_tree is counted under its own name. */
const char *const bench_open_calls[] = { "open", "openat", "openat2", "creat", NULL };

int bench_fail(struct bench_ctx *ctx, int r, const char *fmt, ...)
{
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(ctx->err, sizeof(ctx->err), fmt, ap);
	va_end(ap);
	/* One line per diagnostic, even when it quotes a program's output. */
	for (char *p = ctx->err; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	len = strlen(ctx->err);
	while (len > 0 && ctx->err[len - 1] == ' ')
		ctx->err[--len] = '\0';
	return r;
}

double bench_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_percentile(const double *sorted, size_t n, double pct)
{
	/* Nearest rank: the smallest sample with at least pct% of them at or below it. */
	size_t rank = (size_t)((pct * (double)n + 99.999999) / 100);

	if (rank < 1)
		rank = 1;
	return sorted[MIN(rank, n) - 1];
}

double bench_median(const double *sorted, size_t n)
{
	return n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

static void summarize(struct bench_result *res)
{
	_cleanup_free_ double *s = malloc(res->n * sizeof(*s));

	if (!s || !res->n)
		return;
	memcpy(s, res->samples_ms, res->n * sizeof(*s));
	qsort(s, res->n, sizeof(*s), cmp_double);
	res->median_ms = bench_median(s, res->n);
	res->p90_ms = bench_percentile(s, res->n, 90);
	res->p99_ms = bench_percentile(s, res->n, 99);
	res->min_ms = s[0];
	res->max_ms = s[res->n - 1];
}

int bench_report_add(struct bench_report *report, const char *scenario, const char *name,
		     unsigned x, bool gated, const double *samples_ms, size_t n,
		     struct bench_result **ret)
{
	struct bench_result *res;

	if (report->n_results == BENCH_RESULTS_MAX || n == 0)
		return -E2BIG;
	res = &report->results[report->n_results];
	memset(res, 0, sizeof(*res));
	res->samples_ms = malloc(n * sizeof(double));
	if (!res->samples_ms)
		return -ENOMEM;
	memcpy(res->samples_ms, samples_ms, n * sizeof(double));
	snprintf(res->name, sizeof(res->name), "%s.%s", scenario, name);
	snprintf(res->scenario, sizeof(res->scenario), "%s", scenario);
	res->x = x;
	res->gated = gated;
	res->n = n;
	summarize(res);
	report->n_results++;
	if (ret)
		*ret = res;
	return 0;
}

static size_t n_parts(const struct bench_case *c)
{
	size_t k = 0;

	while (k < BENCH_PARTS_MAX && c->parts[k])
		k++;
	return k ? k : 1;
}

static int one_round(struct bench_ctx *ctx, const struct bench_case *c, size_t round,
		     double ms[BENCH_PARTS_MAX])
{
	int r;

	if (bench_stop)
		return bench_fail(ctx, -EINTR, "interrupted");
	ctx->err[0] = '\0';
	r = c->round(ctx, c->state, ms);
	if (r < 0) {
		char why[BENCH_ERR_MAX];

		snprintf(why, sizeof(why), "%s", ctx->err[0] ? ctx->err : strerror(-r));
		return bench_fail(ctx, r, "%s, %s round %zu: %s", c->name,
				  ctx->counting ? "counting" : "timed", round + 1, why);
	}
	return 0;
}

int bench_group_run(struct bench_ctx *ctx, const char *scenario, const struct bench_case *cases,
		    size_t n, unsigned rounds, struct bench_report *report)
{
	_cleanup_free_ double *samples = NULL;
	_cleanup_free_ struct bench_counts *counts = NULL;
	size_t total, first = report->n_results, need = 0;
	int r;

	if (!rounds)
		rounds = ctx->rounds;
	total = (size_t)ctx->warmup + rounds;
	for (size_t i = 0; i < n; i++)
		need += n_parts(&cases[i]);
	if (n == 0 || n > BENCH_CASES_MAX || report->n_results + need > BENCH_RESULTS_MAX)
		return bench_fail(ctx, -E2BIG, "too many cases");
	samples = calloc(n * BENCH_PARTS_MAX * rounds, sizeof(*samples));
	counts = calloc(n * BENCH_PARTS_MAX, sizeof(*counts));
	if (!samples || !counts)
		return bench_fail(ctx, -ENOMEM, "out of memory");

	for (size_t round = 0; round < total; round++)
		for (size_t i = 0; i < n; i++) {
			double ms[BENCH_PARTS_MAX] = { 0 };

			r = one_round(ctx, &cases[i], round, ms);
			if (r < 0)
				return r;
			if (round < ctx->warmup)
				continue;
			for (size_t p = 0; p < n_parts(&cases[i]); p++)
				samples[(i * BENCH_PARTS_MAX + p) * rounds + round - ctx->warmup] =
				    ms[p];
		}

	/* Counted apart, so strace's cost never reaches a timing. */
	for (size_t i = 0; i < n && ctx->strace[0]; i++) {
		double ms[BENCH_PARTS_MAX];

		if (!cases[i].counted)
			continue;
		ctx->counting = true;
		for (size_t p = 0; p < BENCH_PARTS_MAX; p++)
			ctx->counts[p] = &counts[i * BENCH_PARTS_MAX + p];
		r = one_round(ctx, &cases[i], 0, ms);
		ctx->counting = false;
		memset(ctx->counts, 0, sizeof(ctx->counts));
		if (r < 0)
			return r;
		for (size_t p = 0; p < n_parts(&cases[i]); p++)
			counts[i * BENCH_PARTS_MAX + p].valid = true;
	}

	for (size_t i = 0; i < n; i++)
		for (size_t p = 0; p < n_parts(&cases[i]); p++) {
			char name[BENCH_NAME_MAX];
			struct bench_result *res;

			if (cases[i].parts[0])
				snprintf(name, sizeof(name), "%s.%s", cases[i].name,
					 cases[i].parts[p]);
			else
				snprintf(name, sizeof(name), "%s", cases[i].name);
			r = bench_report_add(report, scenario, name, cases[i].x, cases[i].gated,
					     &samples[(i * BENCH_PARTS_MAX + p) * rounds], rounds,
					     &res);
			if (r < 0) {
				while (report->n_results > first)
					free(report->results[--report->n_results].samples_ms);
				return bench_fail(ctx, r, "%s", strerror(-r));
			}
			res->volumes = cases[i].volumes;
			res->foreign = cases[i].foreign;
			res->counts = counts[i * BENCH_PARTS_MAX + p];
		}
	return 0;
}

const struct bench_result *bench_report_find(const struct bench_report *report, const char *name)
{
	for (size_t i = 0; i < report->n_results; i++)
		if (!strcmp(report->results[i].name, name))
			return &report->results[i];
	return NULL;
}

int bench_report_ratio(struct bench_report *report, const char *name, const char *num,
		       const char *den, double scale)
{
	const struct bench_result *a = bench_report_find(report, num);
	const struct bench_result *b = bench_report_find(report, den);
	struct bench_ratio *q;

	if (!a || !b || b->median_ms <= 0 || scale <= 0)
		return -ENOENT;
	if (report->n_ratios == BENCH_RATIOS_MAX)
		return -E2BIG;
	q = &report->ratios[report->n_ratios++];
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->num, sizeof(q->num), "%s", num);
	snprintf(q->den, sizeof(q->den), "%s", den);
	q->scale = scale;
	q->ratio = a->median_ms / (b->median_ms * scale);
	return 0;
}

void bench_report_skip(struct bench_report *report, const char *name, const char *why)
{
	if (report->n_skips == BENCH_SKIPS_MAX)
		return;
	snprintf(report->skips[report->n_skips].name, BENCH_NAME_MAX, "%s", name);
	snprintf(report->skips[report->n_skips].why, BENCH_ERR_MAX, "%s", why);
	report->n_skips++;
}

void bench_report_free(struct bench_report *report)
{
	for (size_t i = 0; i < report->n_results; i++) {
		free(report->results[i].samples_ms);
		report->results[i].samples_ms = NULL;
	}
	report->n_results = 0;
	report->n_ratios = 0;
	report->n_skips = 0;
}

unsigned long bench_counts_sum(const struct bench_counts *c, const char *const *names)
{
	unsigned long sum = 0;

	for (size_t i = 0; i < c->n; i++) {
		bool in = !names;

		for (size_t j = 0; names && names[j] && !in; j++)
			in = !strcmp(c->e[i].name, names[j]);
		if (in)
			sum += c->e[i].calls;
	}
	return sum;
}
