/* SPDX-License-Identifier: MIT */
/*
 * Rounds, statistics and the report: the only place that knows the output
 * formats (one line per scenario, per volume and ratio; or one JSON document).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "tools/bench/bench.h"

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

/* Median (mean of the middle two for even n) and nearest-rank p90. */
static void summarize(struct bench_result *res)
{
	_cleanup_free_ double *s = malloc(res->n * sizeof(*s));
	size_t rank;

	if (!s || !res->n)
		return;
	memcpy(s, res->samples_ms, res->n * sizeof(*s));
	qsort(s, res->n, sizeof(*s), cmp_double);
	res->median_ms = res->n % 2 ? s[res->n / 2] : (s[res->n / 2 - 1] + s[res->n / 2]) / 2;
	rank = (9 * res->n + 9) / 10; /* ceil(0.9 n), n >= 1 */
	res->p90_ms = s[rank - 1];
}

int bench_group_run(struct bench_ctx *ctx, const struct bench_case *cases, size_t n,
		    struct bench_report *report)
{
	_cleanup_free_ double *samples = NULL;
	size_t total = (size_t)ctx->warmup + ctx->rounds;

	if (n == 0 || n > BENCH_CASES_MAX || report->n_results + n > BENCH_RESULTS_MAX)
		return bench_fail(ctx, -E2BIG, "too many cases");
	samples = calloc(n * ctx->rounds, sizeof(*samples));
	if (!samples)
		return bench_fail(ctx, -ENOMEM, "out of memory");

	for (size_t round = 0; round < total; round++)
		for (size_t i = 0; i < n; i++) {
			double ms = 0;
			int r;

			if (bench_stop)
				return bench_fail(ctx, -EINTR, "interrupted");
			r = cases[i].round(ctx, cases[i].state, &ms);
			if (r < 0) {
				char why[BENCH_ERR_MAX];

				snprintf(why, sizeof(why), "%s", ctx->err);
				return bench_fail(ctx, r, "%s, round %zu: %s", cases[i].name,
						  round + 1, why);
			}
			if (round >= ctx->warmup)
				samples[i * ctx->rounds + round - ctx->warmup] = ms;
		}

	for (size_t i = 0; i < n; i++) {
		struct bench_result *res = &report->results[report->n_results];

		memset(res, 0, sizeof(*res));
		snprintf(res->name, sizeof(res->name), "%s", cases[i].name);
		res->volumes = cases[i].volumes;
		res->samples_ms = malloc(ctx->rounds * sizeof(double));
		if (!res->samples_ms)
			return bench_fail(ctx, -ENOMEM, "out of memory");
		memcpy(res->samples_ms, &samples[i * ctx->rounds], ctx->rounds * sizeof(double));
		res->n = ctx->rounds;
		summarize(res);
		report->n_results++;
	}
	return 0;
}

static const struct bench_result *find_result(const struct bench_report *report, const char *name)
{
	for (size_t i = 0; i < report->n_results; i++)
		if (!strcmp(report->results[i].name, name))
			return &report->results[i];
	return NULL;
}

int bench_report_ratio(struct bench_report *report, const char *name, const char *num,
		       const char *den)
{
	const struct bench_result *a = find_result(report, num), *b = find_result(report, den);
	struct bench_ratio *q;

	if (!a || !b || b->median_ms <= 0)
		return -ENOENT;
	if (report->n_ratios == BENCH_RATIOS_MAX)
		return -E2BIG;
	q = &report->ratios[report->n_ratios++];
	snprintf(q->name, sizeof(q->name), "%s", name);
	snprintf(q->num, sizeof(q->num), "%s", num);
	snprintf(q->den, sizeof(q->den), "%s", den);
	q->ratio = a->median_ms / b->median_ms;
	return 0;
}

void bench_report_free(struct bench_report *report)
{
	for (size_t i = 0; i < report->n_results; i++) {
		free(report->results[i].samples_ms);
		report->results[i].samples_ms = NULL;
	}
	report->n_results = 0;
	report->n_ratios = 0;
}

void bench_report_print(const struct bench_report *report)
{
	for (size_t i = 0; i < report->n_results; i++) {
		const struct bench_result *res = &report->results[i];

		printf("scenario %s: median %.3f ms, p90 %.3f ms (n=%zu)\n", res->name,
		       res->median_ms, res->p90_ms, res->n);
		if (res->volumes)
			printf("per-volume %s: median %.3f us (volumes=%u)\n", res->name,
			       res->median_ms * 1e3 / res->volumes, res->volumes);
	}
	for (size_t i = 0; i < report->n_ratios; i++) {
		const struct bench_ratio *q = &report->ratios[i];

		printf("ratio %s: %s/%s = %.2fx\n", q->name, q->num, q->den, q->ratio);
	}
	fflush(stdout);
}

static json_object *result_json(const struct bench_result *res)
{
	json_object *o = json_object_new_object(), *s = json_object_new_array();

	if (!o || !s) {
		json_object_put(o);
		json_object_put(s);
		return NULL;
	}
	for (size_t i = 0; i < res->n; i++)
		json_object_array_add(s, json_object_new_double(res->samples_ms[i]));
	json_object_object_add(o, "name", json_object_new_string(res->name));
	json_object_object_add(o, "n", json_object_new_int64((int64_t)res->n));
	json_object_object_add(o, "median_ms", json_object_new_double(res->median_ms));
	json_object_object_add(o, "p90_ms", json_object_new_double(res->p90_ms));
	if (res->volumes) {
		json_object_object_add(o, "volumes", json_object_new_int64(res->volumes));
		json_object_object_add(o, "per_volume_us",
				       json_object_new_double(res->median_ms * 1e3 / res->volumes));
	}
	json_object_object_add(o, "samples_ms", s);
	return o;
}

int bench_report_print_json(const struct bench_report *report, const struct bench_ctx *ctx)
{
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object *scenarios = json_object_new_array(), *ratios = json_object_new_array();
	const char *text;

	if (!doc || !scenarios || !ratios) {
		json_object_put(scenarios);
		json_object_put(ratios);
		return -ENOMEM;
	}
	json_object_object_add(doc, "rounds", json_object_new_int64(ctx->rounds));
	json_object_object_add(doc, "warmup", json_object_new_int64(ctx->warmup));
	json_object_object_add(doc, "scenarios", scenarios);
	json_object_object_add(doc, "ratios", ratios);
	for (size_t i = 0; i < report->n_results; i++) {
		json_object *o = result_json(&report->results[i]);

		if (!o || json_object_array_add(scenarios, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < report->n_ratios; i++) {
		const struct bench_ratio *q = &report->ratios[i];
		json_object *o = json_object_new_object();

		if (!o || json_object_array_add(ratios, o) < 0) {
			json_object_put(o);
			return -ENOMEM;
		}
		json_object_object_add(o, "name", json_object_new_string(q->name));
		json_object_object_add(o, "numerator", json_object_new_string(q->num));
		json_object_object_add(o, "denominator", json_object_new_string(q->den));
		json_object_object_add(o, "ratio", json_object_new_double(q->ratio));
	}
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY |
							   JSON_C_TO_STRING_NOSLASHESCAPE);
	if (!text)
		return -ENOMEM;
	printf("%s\n", text);
	fflush(stdout);
	return 0;
}
