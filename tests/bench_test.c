// SPDX-License-Identifier: MIT
/*
 * dvmount-bench, smoke-tested: with tiny counts it runs every group, prints
 * only lines of its three formats (or one JSON document) whose numbers agree
 * with each other, and leaves no process or file behind. Nothing here looks
 * at how fast anything is: timings belong to `make bench`.
 */
#include <errno.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

#define BENCH_TIMEOUT_MS 60000
#define NAME_MAX_LEN 32
#define MAX_LINES 64

struct scenario_line {
	char name[NAME_MAX_LEN];
	double median, p90;
	size_t n;
};

struct per_volume_line {
	char name[NAME_MAX_LEN];
	double us;
	unsigned volumes;
};

struct ratio_line {
	char name[NAME_MAX_LEN], num[NAME_MAX_LEN], den[NAME_MAX_LEN];
	double ratio;
};

struct parsed {
	struct scenario_line s[MAX_LINES];
	struct per_volume_line v[MAX_LINES];
	struct ratio_line q[MAX_LINES];
	size_t n_s, n_v, n_q;
	char bad[256]; /* the first line that matched no format */
};

/* Each line must match one format in full; 0, or -1 with the line in bad. */
static int parse_output(char *out, struct parsed *p)
{
	memset(p, 0, sizeof(*p));
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		int end = -1;

		if (!strncmp(line, "scenario ", 9) && p->n_s < MAX_LINES) {
			struct scenario_line *s = &p->s[p->n_s];

			if (sscanf(line, "scenario %31[^:]: median %lf ms, p90 %lf ms (n=%zu)%n",
				   s->name, &s->median, &s->p90, &s->n, &end) == 4 &&
			    line[end] == '\0') {
				p->n_s++;
				continue;
			}
		} else if (!strncmp(line, "per-volume ", 11) && p->n_v < MAX_LINES) {
			struct per_volume_line *v = &p->v[p->n_v];

			if (sscanf(line, "per-volume %31[^:]: median %lf us (volumes=%u)%n", v->name,
				   &v->us, &v->volumes, &end) == 3 &&
			    line[end] == '\0') {
				p->n_v++;
				continue;
			}
		} else if (!strncmp(line, "ratio ", 6) && p->n_q < MAX_LINES) {
			struct ratio_line *q = &p->q[p->n_q];

			if (sscanf(line, "ratio %31[^:]: %31[^/]/%31[^ ] = %lfx%n", q->name, q->num,
				   q->den, &q->ratio, &end) == 4 &&
			    line[end] == '\0') {
				p->n_q++;
				continue;
			}
		}
		snprintf(p->bad, sizeof(p->bad), "%s", line);
		return -1;
	}
	return 0;
}

static const struct scenario_line *find_scenario(const struct parsed *p, const char *name)
{
	for (size_t i = 0; i < p->n_s; i++)
		if (!strcmp(p->s[i].name, name))
			return &p->s[i];
	return NULL;
}

static double absd(double x)
{
	return x < 0 ? -x : x;
}

/* Equal up to abs_tol (the printed rounding) and 1% of b. */
static bool near(double a, double b, double abs_tol)
{
	return absd(a - b) <= abs_tol + 0.01 * absd(b);
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	return n;
}

/* The scenarios that report per-volume figures, and their volume counts. */
static const struct {
	const char *name;
	unsigned volumes;
} per_volume[] = {
	{ "attach1", 1 },	    { "attach64", 64 },		   { "nsenter-bind64", 64 },
	{ "prepare1", 1 },	    { "prepare64", 64 },	   { "nsenter-mkdir-bind1", 1 },
	{ "nsenter-mkdir-bind64", 64 },
};

/* 0 for a scenario without per-volume figures. */
static unsigned expected_volumes(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(per_volume); i++)
		if (!strcmp(per_volume[i].name, name))
			return per_volume[i].volumes;
	return 0;
}

FIXTURE(bench)
{
	char *tmpdir;
	struct run_result run;
};

FIXTURE_SETUP(bench)
{
	if (geteuid() != 0)
		SKIP(return, "needs root: dvmount takes --plugin-path from root only");
	self->tmpdir = make_tmpdir("bench");
	ASSERT_NE(NULL, self->tmpdir);
	/* The bench makes its run directory here: the test can see it is gone after. */
	ASSERT_EQ(0, setenv("TMPDIR", self->tmpdir, 1));
	/* Orphans of the bench become our children: the test can see there are none. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
}

FIXTURE_TEARDOWN(bench)
{
	run_result_free(&self->run);
	if (self->tmpdir) {
		remove_tree(self->tmpdir);
		free(self->tmpdir);
	}
}

/* Run the bench; then nothing of it may be left: no descendant, no file. */
static void run_bench(struct __test_metadata *_metadata, FIXTURE_DATA(bench) *self,
		      char *const *args)
{
	char *argv[16];
	size_t n = 0;

	argv[n++] = (char *)build_path("dvmount-bench");
	while (*args && n < 15)
		argv[n++] = *args++;
	argv[n] = NULL;
	ASSERT_EQ(0, run_argv(&self->run, argv, BENCH_TIMEOUT_MS));
	if (self->run.err[0])
		TH_LOG("stderr: %s", self->run.err);
	pid_t left = waitpid(-1, NULL, WNOHANG);
	int e = errno;

	EXPECT_EQ(-1, left) TH_LOG("process %d outlived the bench", (int)left);
	EXPECT_EQ(ECHILD, e);
	EXPECT_EQ(0, count_entries(self->tmpdir));
}

TEST_F(bench, every_group_prints_consistent_lines)
{
	static const char *const expected[] = {
		"dvdcli-mount",		  "rpc-raw",	       "true",
		"mount64-inflight",	  "mount64-serial",    "mount64-inflight-nouring",
		"mount64-serial-nouring", "attach1",	       "attach64",
		"nsenter-bind64",	  "prepare1",	       "prepare64",
		"nsenter-mkdir-bind1",	  "nsenter-mkdir-bind64", "others10",
		"others10000",
	};
	static const char *const ratios[] = { "exec-overhead",	  "exec-floor",
					      "inflight-speedup", "inflight-speedup-nouring",
					      "nouring-vs-uring", "attach-speedup",
					      "prepare-speedup1", "prepare-speedup64",
					      "state-scaling" };
	char *args[] = { "--rounds", "1", "--warmup", "0", NULL };
	static struct parsed p;

	run_bench(_metadata, self, args);
	ASSERT_EQ(0, self->run.status);
	ASSERT_EQ(0, parse_output(self->run.out, &p))
		TH_LOG("unparsable line: '%s'", p.bad);

	EXPECT_EQ(ARRAY_SIZE(expected), p.n_s);
	for (size_t i = 0; i < ARRAY_SIZE(expected); i++) {
		const struct scenario_line *s = find_scenario(&p, expected[i]);

		EXPECT_NE(NULL, s) TH_LOG("no line for scenario %s", expected[i]);
		if (!s)
			continue;
		EXPECT_EQ(1, s->n);
		EXPECT_LT(0, s->median);
		/* One sample: it is both the median and the p90. */
		EXPECT_TRUE(near(s->p90, s->median, 0.0015)) TH_LOG("%s", s->name);
	}

	/* Exactly the attach and prepare scenarios have per-volume figures, median / volumes. */
	EXPECT_EQ(ARRAY_SIZE(per_volume), p.n_v);
	for (size_t i = 0; i < p.n_v; i++) {
		const struct scenario_line *s = find_scenario(&p, p.v[i].name);

		ASSERT_NE(NULL, s) TH_LOG("per-volume line for unknown %s", p.v[i].name);
		EXPECT_EQ(expected_volumes(s->name), p.v[i].volumes) TH_LOG("%s", s->name);
		EXPECT_TRUE(near(p.v[i].us, s->median * 1000 / p.v[i].volumes, 1.5 / p.v[i].volumes))
			TH_LOG("%s: %f us vs %f ms", s->name, p.v[i].us, s->median);
	}

	EXPECT_EQ(ARRAY_SIZE(ratios), p.n_q);
	for (size_t i = 0; i < p.n_q; i++) {
		const struct scenario_line *a = find_scenario(&p, p.q[i].num);
		const struct scenario_line *b = find_scenario(&p, p.q[i].den);
		bool known = false;

		for (size_t j = 0; j < ARRAY_SIZE(ratios); j++)
			known |= !strcmp(ratios[j], p.q[i].name);
		EXPECT_TRUE(known) TH_LOG("unexpected ratio %s", p.q[i].name);
		ASSERT_NE(NULL, a) TH_LOG("ratio %s names %s", p.q[i].name, p.q[i].num);
		ASSERT_NE(NULL, b) TH_LOG("ratio %s names %s", p.q[i].name, p.q[i].den);
		/* Printed medians are rounded to 1 us: allow for that, nothing more. */
		EXPECT_TRUE(near(p.q[i].ratio, a->median / b->median,
				 0.006 + 0.001 * (1 / b->median + a->median / (b->median * b->median))))
			TH_LOG("%s: %f vs %f/%f", p.q[i].name, p.q[i].ratio, a->median, b->median);
	}
}

TEST_F(bench, json_report_parses_and_agrees_with_its_samples)
{
	static const char *const names[] = { "dvdcli-mount", "rpc-raw", "true" };
	char *args[] = { "--json", "--rounds", "3", "--warmup", "0", "rpc-raw", NULL };
	json_object *doc, *scenarios, *ratios;
	double medians[3];

	run_bench(_metadata, self, args);
	ASSERT_EQ(0, self->run.status);
	doc = json_tokener_parse(self->run.out);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON: %s", self->run.out);
	EXPECT_EQ(3, json_object_get_int(json_object_object_get(doc, "rounds")));
	EXPECT_EQ(0, json_object_get_int(json_object_object_get(doc, "warmup")));
	scenarios = json_object_object_get(doc, "scenarios");
	ratios = json_object_object_get(doc, "ratios");
	ASSERT_TRUE(json_object_is_type(scenarios, json_type_array));
	ASSERT_TRUE(json_object_is_type(ratios, json_type_array));

	/* Naming one scenario runs its whole group: the baselines come along. */
	ASSERT_EQ(3, json_object_array_length(scenarios));
	for (size_t i = 0; i < 3; i++) {
		json_object *s = json_object_array_get_idx(scenarios, i);
		json_object *samples = json_object_object_get(s, "samples_ms");
		double median = json_object_get_double(json_object_object_get(s, "median_ms"));
		double p90 = json_object_get_double(json_object_object_get(s, "p90_ms"));
		double v[3], lo, mid, hi;

		EXPECT_STREQ(names[i], json_object_get_string(json_object_object_get(s, "name")));
		EXPECT_EQ(3, json_object_get_int(json_object_object_get(s, "n")));
		ASSERT_EQ(3, json_object_array_length(samples));
		for (size_t j = 0; j < 3; j++)
			v[j] = json_object_get_double(json_object_array_get_idx(samples, j));
		lo = v[0] < v[1] ? v[0] : v[1];
		lo = lo < v[2] ? lo : v[2];
		hi = v[0] > v[1] ? v[0] : v[1];
		hi = hi > v[2] ? hi : v[2];
		mid = v[0] + v[1] + v[2] - lo - hi;
		EXPECT_LT(0, lo);
		/* Three samples: the median is the middle one, the p90 the largest. */
		EXPECT_TRUE(near(median, mid, 1e-9));
		medians[i] = median;
		EXPECT_TRUE(near(p90, hi, 1e-9));
		EXPECT_EQ(NULL, json_object_object_get(s, "per_volume_us"));
	}

	ASSERT_EQ(2, json_object_array_length(ratios));
	for (size_t i = 0; i < 2; i++) {
		json_object *q = json_object_array_get_idx(ratios, i);
		double ratio = json_object_get_double(json_object_object_get(q, "ratio"));

		EXPECT_STREQ(i ? "exec-floor" : "exec-overhead",
			     json_object_get_string(json_object_object_get(q, "name")));
		EXPECT_STREQ("dvdcli-mount",
			     json_object_get_string(json_object_object_get(q, "numerator")));
		EXPECT_STREQ(i ? "true" : "rpc-raw",
			     json_object_get_string(json_object_object_get(q, "denominator")));
		/* Unrounded in JSON: exactly median(numerator) / median(denominator). */
		EXPECT_TRUE(near(ratio, medians[0] / medians[i ? 2 : 1], 1e-9))
			TH_LOG("%f vs %f/%f", ratio, medians[0], medians[i ? 2 : 1]);
	}
	json_object_put(doc);
}

TEST_F(bench, selecting_a_group_runs_only_that_group)
{
	char *args[] = { "--rounds", "1", "--warmup", "0", "attach", NULL };
	static struct parsed p;

	run_bench(_metadata, self, args);
	ASSERT_EQ(0, self->run.status);
	ASSERT_EQ(0, parse_output(self->run.out, &p)) TH_LOG("unparsable line: '%s'", p.bad);
	EXPECT_EQ(3, p.n_s);
	EXPECT_NE(NULL, find_scenario(&p, "attach1"));
	EXPECT_NE(NULL, find_scenario(&p, "attach64"));
	EXPECT_NE(NULL, find_scenario(&p, "nsenter-bind64"));
	EXPECT_EQ(1, p.n_q);
}

/* Selecting by a scenario's name runs its group, baselines and ratios included. */
TEST_F(bench, selecting_a_scenario_of_the_state_group)
{
	char *args[] = { "--rounds", "2", "--warmup", "0", "others10000", NULL };
	static struct parsed p;

	run_bench(_metadata, self, args);
	ASSERT_EQ(0, self->run.status);
	ASSERT_EQ(0, parse_output(self->run.out, &p)) TH_LOG("unparsable line: '%s'", p.bad);
	ASSERT_EQ(2, p.n_s);
	EXPECT_STREQ("others10", p.s[0].name);
	EXPECT_STREQ("others10000", p.s[1].name);
	for (size_t i = 0; i < 2; i++) {
		EXPECT_EQ(2, p.s[i].n);
		EXPECT_LT(0, p.s[i].median);
		/* Two samples: the median is their mean, the p90 the larger one. */
		EXPECT_LE(p.s[i].median, p.s[i].p90 + 0.0015);
	}
	EXPECT_EQ(0, p.n_v);
	ASSERT_EQ(1, p.n_q);
	EXPECT_STREQ("state-scaling", p.q[0].name);
	EXPECT_STREQ("others10000", p.q[0].num);
	EXPECT_STREQ("others10", p.q[0].den);
}

TEST_F(bench, json_per_volume_figures_of_the_prepare_group)
{
	static const char *const names[] = { "prepare1", "prepare64", "nsenter-mkdir-bind1",
					     "nsenter-mkdir-bind64" };
	char *args[] = { "--json", "--rounds", "1", "--warmup", "0", "prepare", NULL };
	json_object *doc, *scenarios, *ratios;
	double medians[4];

	run_bench(_metadata, self, args);
	ASSERT_EQ(0, self->run.status);
	doc = json_tokener_parse(self->run.out);
	ASSERT_NE(NULL, doc) TH_LOG("not JSON: %s", self->run.out);
	scenarios = json_object_object_get(doc, "scenarios");
	ratios = json_object_object_get(doc, "ratios");
	ASSERT_EQ(4, json_object_array_length(scenarios));
	for (size_t i = 0; i < 4; i++) {
		json_object *s = json_object_array_get_idx(scenarios, i);
		double median = json_object_get_double(json_object_object_get(s, "median_ms"));
		double us = json_object_get_double(json_object_object_get(s, "per_volume_us"));
		json_object *name = json_object_object_get(s, "name");
		unsigned volumes =
			(unsigned)json_object_get_int(json_object_object_get(s, "volumes"));

		EXPECT_STREQ(names[i], json_object_get_string(name));
		EXPECT_EQ(expected_volumes(names[i]), volumes);
		EXPECT_LT(0, median);
		ASSERT_LT(0, volumes);
		/* Unrounded in JSON: exactly median / volumes, in microseconds. */
		EXPECT_TRUE(near(us, median * 1000 / volumes, 1e-9)) TH_LOG("%s", names[i]);
		medians[i] = median;
	}
	ASSERT_EQ(2, json_object_array_length(ratios));
	for (size_t i = 0; i < 2; i++) {
		json_object *q = json_object_array_get_idx(ratios, i);
		double ratio = json_object_get_double(json_object_object_get(q, "ratio"));

		EXPECT_STREQ(i ? "prepare-speedup64" : "prepare-speedup1",
			     json_object_get_string(json_object_object_get(q, "name")));
		EXPECT_STREQ(names[i + 2],
			     json_object_get_string(json_object_object_get(q, "numerator")));
		EXPECT_STREQ(names[i],
			     json_object_get_string(json_object_object_get(q, "denominator")));
		EXPECT_TRUE(near(ratio, medians[i + 2] / medians[i], 1e-9));
	}
	json_object_put(doc);
}

static int run_usage(struct run_result *r, char *a1, char *a2)
{
	char *argv[] = { (char *)build_path("dvmount-bench"), a1, a2, NULL };

	return run_argv(r, argv, BENCH_TIMEOUT_MS);
}

TEST(usage_errors_exit_2_and_run_nothing)
{
	struct run_result r;

	ASSERT_EQ(0, run_usage(&r, "no-such-scenario", NULL));
	EXPECT_EQ(2, r.status);
	EXPECT_NE(NULL, strstr(r.err, "unknown scenario 'no-such-scenario'"));
	EXPECT_STREQ("", r.out);
	run_result_free(&r);

	ASSERT_EQ(0, run_usage(&r, "--rounds", "0"));
	EXPECT_EQ(2, r.status);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);

	ASSERT_EQ(0, run_usage(&r, "--rounds", "1001"));
	EXPECT_EQ(2, r.status);
	run_result_free(&r);

	ASSERT_EQ(0, run_usage(&r, "--bogus", NULL));
	EXPECT_EQ(2, r.status);
	run_result_free(&r);
}

TEST(help_and_list)
{
	struct run_result r;

	ASSERT_EQ(0, run_usage(&r, "--help", NULL));
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0, strncmp(r.out, "usage: dvmount-bench", 20));
	run_result_free(&r);

	ASSERT_EQ(0, run_usage(&r, "--list", NULL));
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("dvdcli: dvdcli-mount rpc-raw true\n"
		     "mount64: mount64-inflight mount64-serial mount64-inflight-nouring "
		     "mount64-serial-nouring\n"
		     "attach: attach1 attach64 nsenter-bind64\n"
		     "prepare: prepare1 prepare64 nsenter-mkdir-bind1 nsenter-mkdir-bind64\n"
		     "state: others10 others10000\n",
		     r.out);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
