/* SPDX-License-Identifier: MIT */
/*
 * The output formats: text lines on stdout, results.json (the data), results.md
 * (the table README shows) and the gnuplot plots. The only place that knows them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "tools/bench/bench.h"

#define GNUPLOT "/usr/bin/gnuplot"
#define SERIES_MAX 6

static void print_counts(const struct bench_counts *c)
{
	if (!c->valid)
		return;
	printf("; syscalls %lu, fsync %lu, rename %lu, open %lu", bench_counts_sum(c, NULL),
	       bench_counts_sum(c, bench_fsync_calls), bench_counts_sum(c, bench_rename_calls),
	       bench_counts_sum(c, bench_open_calls));
}

void bench_report_print(const struct bench_report *report)
{
	for (size_t i = 0; i < report->n_results; i++) {
		const struct bench_result *res = &report->results[i];

		printf("%s: median %.3f ms, p90 %.3f, p99 %.3f, min %.3f, max %.3f (n=%zu)",
		       res->name, res->median_ms, res->p90_ms, res->p99_ms, res->min_ms,
		       res->max_ms, res->n);
		if (res->volumes)
			printf(", per volume %.1f us", res->median_ms * 1e3 / res->volumes);
		if (res->ops_per_s > 0)
			printf(", %.1f ops/s", res->ops_per_s);
		print_counts(&res->counts);
		printf("\n");
	}
	for (size_t i = 0; i < report->n_ratios; i++) {
		const struct bench_ratio *q = &report->ratios[i];

		if (q->scale == 1)
			printf("ratio %s: %s / %s = %.2fx\n", q->name, q->num, q->den, q->ratio);
		else
			printf("ratio %s: %s / (%s x %g) = %.2fx\n", q->name, q->num, q->den,
			       q->scale, q->ratio);
	}
	for (size_t i = 0; i < report->n_skips; i++)
		printf("skipped %s: %s\n", report->skips[i].name, report->skips[i].why);
	fflush(stdout);
}

static json_object *counts_json(const struct bench_counts *c)
{
	json_object *o = json_object_new_object(), *by = json_object_new_object();

	if (!o || !by) {
		json_object_put(o);
		json_object_put(by);
		return NULL;
	}
	json_object_object_add(o, "total",
			       json_object_new_int64((int64_t)bench_counts_sum(c, NULL)));
	json_object_object_add(
	    o, "fsync_type",
	    json_object_new_int64((int64_t)bench_counts_sum(c, bench_fsync_calls)));
	json_object_object_add(
	    o, "renames", json_object_new_int64((int64_t)bench_counts_sum(c, bench_rename_calls)));
	json_object_object_add(
	    o, "opens", json_object_new_int64((int64_t)bench_counts_sum(c, bench_open_calls)));
	for (size_t i = 0; i < c->n; i++)
		json_object_object_add(by, c->e[i].name,
				       json_object_new_int64((int64_t)c->e[i].calls));
	json_object_object_add(o, "by_name", by);
	return o;
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
	json_object_object_add(o, "scenario", json_object_new_string(res->scenario));
	json_object_object_add(o, "x", json_object_new_int64(res->x));
	json_object_object_add(o, "gated", json_object_new_boolean(res->gated));
	json_object_object_add(o, "n", json_object_new_int64((int64_t)res->n));
	json_object_object_add(o, "median_ms", json_object_new_double(res->median_ms));
	json_object_object_add(o, "p90_ms", json_object_new_double(res->p90_ms));
	json_object_object_add(o, "p99_ms", json_object_new_double(res->p99_ms));
	json_object_object_add(o, "min_ms", json_object_new_double(res->min_ms));
	json_object_object_add(o, "max_ms", json_object_new_double(res->max_ms));
	if (res->volumes) {
		json_object_object_add(o, "volumes", json_object_new_int64(res->volumes));
		json_object_object_add(o, "per_volume_us",
				       json_object_new_double(res->median_ms * 1e3 / res->volumes));
	}
	if (res->ops_per_s > 0)
		json_object_object_add(o, "ops_per_s", json_object_new_double(res->ops_per_s));
	if (res->counts.valid) {
		json_object_object_add(o, "syscalls", counts_json(&res->counts));
		json_object_object_add(o, "counts_foreign", json_object_new_boolean(res->foreign));
	}
	json_object_object_add(o, "samples_ms", s);
	return o;
}

/* The first "model name" of /proc/cpuinfo, or "unknown". */
static void cpu_model(char *buf, size_t size)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];

	snprintf(buf, size, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (strncmp(line, "model name", 10) || !colon)
			continue;
		colon += 1 + strspn(colon + 1, " \t");
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, size, "%s", colon);
		break;
	}
	if (f)
		fclose(f);
}

json_object *bench_report_json(const struct bench_report *report, const struct bench_ctx *ctx)
{
	_cleanup_json_ json_object *doc = json_object_new_object();
	json_object *machine = json_object_new_object(), *scenarios = json_object_new_object();
	json_object *ratios = json_object_new_object(), *skipped = json_object_new_object();
	struct utsname u;
	char cpu[128];

	if (!doc || !machine || !scenarios || !ratios || !skipped) {
		json_object_put(machine);
		json_object_put(scenarios);
		json_object_put(ratios);
		json_object_put(skipped);
		return NULL;
	}
	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	json_object_object_add(machine, "cpu", json_object_new_string(cpu));
	json_object_object_add(machine, "cores",
			       json_object_new_int64(sysconf(_SC_NPROCESSORS_ONLN)));
	json_object_object_add(machine, "kernel", json_object_new_string(u.release));
	json_object_object_add(machine, "state_fs", json_object_new_string(ctx->state_fs));
	json_object_object_add(doc, "machine", machine);
	json_object_object_add(doc, "commit", json_object_new_string(ctx->commit));
	json_object_object_add(doc, "rounds", json_object_new_int64(ctx->rounds));
	json_object_object_add(doc, "warmup", json_object_new_int64(ctx->warmup));
	json_object_object_add(doc, "quick", json_object_new_boolean(ctx->quick));
	json_object_object_add(doc, "scenarios", scenarios);
	json_object_object_add(doc, "ratios", ratios);
	json_object_object_add(doc, "skipped", skipped);
	for (size_t i = 0; i < report->n_results; i++) {
		json_object *o = result_json(&report->results[i]);

		if (!o)
			return NULL;
		json_object_object_add(scenarios, report->results[i].name, o);
	}
	for (size_t i = 0; i < report->n_ratios; i++) {
		const struct bench_ratio *q = &report->ratios[i];
		json_object *o = json_object_new_object();

		if (!o)
			return NULL;
		json_object_object_add(o, "numerator", json_object_new_string(q->num));
		json_object_object_add(o, "denominator", json_object_new_string(q->den));
		json_object_object_add(o, "scale", json_object_new_double(q->scale));
		json_object_object_add(o, "ratio", json_object_new_double(q->ratio));
		json_object_object_add(ratios, q->name, o);
	}
	for (size_t i = 0; i < report->n_skips; i++)
		json_object_object_add(skipped, report->skips[i].name,
				       json_object_new_string(report->skips[i].why));
	return TAKE_PTR(doc);
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static int write_md(const struct bench_report *report, const struct bench_ctx *ctx,
		    const char *path)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "we");
	struct utsname u;
	char cpu[128];

	if (!f)
		return negerrno();
	cpu_model(cpu, sizeof(cpu));
	uname(&u);
	fprintf(f,
		"dvmount-bench%s, commit %s, %s (%ld cores), Linux %s, state dir on %s; "
		"%u rounds after %u warm-up.\n\n",
		ctx->quick ? " --quick" : "", ctx->commit, cpu, sysconf(_SC_NPROCESSORS_ONLN),
		u.release, ctx->state_fs, ctx->rounds, ctx->warmup);
	fprintf(f, "| result | median ms | p90 | p99 | min | max | n | per volume us | fsync "
		   "| renames | opens | syscalls |\n");
	fprintf(f, "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
	for (size_t i = 0; i < report->n_results; i++) {
		const struct bench_result *r = &report->results[i];
		const struct bench_counts *c = &r->counts;

		fprintf(f, "| %s%s | %.3f | %.3f | %.3f | %.3f | %.3f | %zu | ", r->name,
			r->gated ? "" : " (baseline)", r->median_ms, r->p90_ms, r->p99_ms,
			r->min_ms, r->max_ms, r->n);
		if (r->volumes)
			fprintf(f, "%.1f", r->median_ms * 1e3 / r->volumes);
		else if (r->ops_per_s > 0)
			fprintf(f, "%.1f ops/s", r->ops_per_s);
		if (c->valid)
			fprintf(f, " | %lu | %lu | %lu | %lu |\n",
				bench_counts_sum(c, bench_fsync_calls),
				bench_counts_sum(c, bench_rename_calls),
				bench_counts_sum(c, bench_open_calls), bench_counts_sum(c, NULL));
		else
			fprintf(f, " | | | | |\n");
	}
	if (report->n_ratios) {
		fprintf(f, "\n| ratio | of | ratio |\n|---|---|--:|\n");
		for (size_t i = 0; i < report->n_ratios; i++) {
			const struct bench_ratio *q = &report->ratios[i];

			if (q->scale == 1)
				fprintf(f, "| %s | %s / %s | %.2fx |\n", q->name, q->num, q->den,
					q->ratio);
			else
				fprintf(f, "| %s | %s / (%s x %g) | %.2fx |\n", q->name, q->num,
					q->den, q->scale, q->ratio);
		}
	}
	for (size_t i = 0; i < report->n_skips; i++)
		fprintf(f, "%s- skipped %s: %s\n", i ? "" : "\n", report->skips[i].name,
			report->skips[i].why);
	return fflush(f) == 0 && !ferror(f) ? 0 : -EIO;
}

enum value { VALUE_MEDIAN, VALUE_P99, VALUE_OPS };

/* A line of a plot: the results named PREFIX<x>SUFFIX, in order of x. */
struct series {
	const char *title;
	const char *prefix; /* up to the number */
	const char *suffix; /* after it */
	enum value value;
	bool y2; /* on the right-hand axis */
};

struct plot {
	const char *file; /* without .png */
	const char *title, *xlabel, *ylabel, *y2label;
	bool logy;
	struct series s[SERIES_MAX];
};

static const struct plot plots[] = {
	{ "latency-vs-n",
	  "attach N volumes into a running container",
	  "volumes (N)",
	  "median ms",
	  NULL,
	  true,
	  { { "dvmount prepare --pid", "attach.dvmount.n", ".prepare", VALUE_MEDIAN, false },
	    { "dvmount cleanup", "attach.dvmount.n", ".cleanup", VALUE_MEDIAN, false },
	    { "floor program (attach)", "attach.floor.n", ".prepare", VALUE_MEDIAN, false },
	    { "operator script (curl + nsenter)", "attach.script.n", ".prepare", VALUE_MEDIAN,
	      false },
	    { "dvmount prepare, first mount", "first-mount.dvmount.n", ".prepare", VALUE_MEDIAN,
	      false } } },
	{ "scale",
	  "one container: prepare and cleanup, against the other containers in the state",
	  "other containers",
	  "median ms",
	  NULL,
	  false,
	  { { "prepare", "scale.others", ".prepare", VALUE_MEDIAN, false },
	    { "cleanup", "scale.others", ".cleanup", VALUE_MEDIAN, false } } },
	{ "contention",
	  "P processes preparing and cleaning containers sharing 4 volumes",
	  "processes (P)",
	  "operations per second",
	  "p99 of one operation, ms",
	  false,
	  { { "operations per second", "contention.p", "", VALUE_OPS, false },
	    { "p99 ms (right)", "contention.p", "", VALUE_P99, true } } },
};

/* "x y" lines of one series, sorted by x; the number of points. */
static size_t write_series(FILE *f, const struct bench_report *report, const struct series *s)
{
	unsigned done = 0;
	size_t n = 0;

	for (;;) {
		const struct bench_result *next = NULL;

		for (size_t i = 0; i < report->n_results; i++) {
			const struct bench_result *r = &report->results[i];
			size_t pl = strlen(s->prefix), sl = strlen(s->suffix), nl = strlen(r->name);
			char *end;
			unsigned long x;

			if (strncmp(r->name, s->prefix, pl) || nl < pl + sl ||
			    strcmp(r->name + nl - sl, s->suffix))
				continue;
			x = strtoul(r->name + pl, &end, 10);
			if (end != r->name + nl - sl || x <= done)
				continue;
			if (!next || x < next->x)
				next = r;
		}
		if (!next)
			return n;
		fprintf(f, "%u %.6f\n", next->x,
			s->value == VALUE_OPS	? next->ops_per_s
			: s->value == VALUE_P99 ? next->p99_ms
						: next->median_ms);
		done = next->x;
		n++;
	}
}

static int write_plot(struct bench_ctx *ctx, const struct bench_report *report, const char *dir,
		      const struct plot *p, bool *ret_made)
{
	char data[PATH_MAX], script[PATH_MAX], png[PATH_MAX], out[BENCH_OUT_MAX];
	char *argv[] = { GNUPLOT, script, NULL };
	_cleanup_(fclosep) FILE *d = NULL;
	_cleanup_(fclosep) FILE *g = NULL;
	size_t blocks = 0;
	bool idx[SERIES_MAX] = { false };
	double ms;
	int r;

	*ret_made = false;
	snprintf(data, sizeof(data), "%s/%s.dat", dir, p->file);
	snprintf(script, sizeof(script), "%s/%s.gp", dir, p->file);
	snprintf(png, sizeof(png), "%s/%s.png", dir, p->file);
	d = fopen(data, "we");
	g = fopen(script, "we");
	if (!d || !g)
		return bench_fail(ctx, negerrno(), "cannot write '%s': %m", data);
	for (size_t i = 0; i < SERIES_MAX && p->s[i].title; i++) {
		if (blocks)
			fprintf(d, "\n\n");
		idx[i] = write_series(d, report, &p->s[i]) > 0;
		if (!idx[i] && blocks)
			/* gnuplot counts blocks: an empty one would shift the rest. */
			fprintf(d, "0 0\n");
		blocks++;
	}
	fclose(TAKE_PTR(d));
	fprintf(g,
		"set terminal pngcairo size 900,560\nset output '%s'\n"
		"set title '%s'\nset xlabel '%s'\nset ylabel '%s'\nset key top left\n"
		"set grid\nset logscale x 2\n%s",
		png, p->title, p->xlabel, p->ylabel,
		p->logy ? "set logscale y 10\n" : "set yrange [0:*]\n");
	if (p->y2label)
		fprintf(g, "set y2label '%s'\nset y2tics\nset ytics nomirror\nset y2range [0:*]\n",
			p->y2label);
	fprintf(g, "plot ");
	for (size_t i = 0, k = 0; i < blocks; i++) {
		if (!idx[i])
			continue;
		fprintf(g, "%s'%s' index %zu using 1:2 axes x1y%d with linespoints title '%s'",
			k++ ? ", " : "", data, i, p->s[i].y2 ? 2 : 1, p->s[i].title);
	}
	fprintf(g, "\n");
	fclose(TAKE_PTR(g));
	for (size_t i = 0; i < blocks; i++)
		if (idx[i])
			goto draw;
	unlink(data);
	unlink(script);
	return 0; /* no point: its scenario did not run */
draw:
	r = bench_exec(argv, out, sizeof(out), &ms);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "gnuplot '%s' exited %d: %.200s",
				  script, r, out);
	*ret_made = true;
	return 0;
}

int bench_report_write(struct bench_ctx *ctx, const struct bench_report *report, const char *dir)
{
	_cleanup_json_ json_object *doc = bench_report_json(report, ctx);
	char path[PATH_MAX];
	bool made;
	int r;

	if (!doc)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return bench_fail(ctx, negerrno(), "cannot create '%s': %m", dir);
	snprintf(path, sizeof(path), "%s/results.json", dir);
	if (json_object_to_file_ext(path, doc,
				    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE) < 0)
		return bench_fail(ctx, -EIO, "cannot write '%s'", path);
	snprintf(path, sizeof(path), "%s/results.md", dir);
	r = write_md(report, ctx, path);
	if (r < 0)
		return bench_fail(ctx, r, "cannot write '%s': %s", path, strerror(-r));
	if (access(GNUPLOT, X_OK) < 0) {
		fprintf(stderr, "dvmount-bench: no %s (apt-get install gnuplot-nox): no plots\n",
			GNUPLOT);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(plots); i++) {
		r = write_plot(ctx, report, dir, &plots[i], &made);
		if (r < 0)
			return r;
	}
	return 0;
}
