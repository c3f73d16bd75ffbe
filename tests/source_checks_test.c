/* SPDX-License-Identifier: MIT */
/*
 * The source checks that `make check` runs before the tests (issue 11), run
 * on small trees made here: each rule they enforce is broken once, and each
 * must say where; what they allow must pass.
 *
 *   tools/layers-check: helper/state/, helper/plugin/, helper/spec/, ns/,
 *     uring/, policy/ and common/ include only what is beneath them;
 *   tools/exit-check: the exit status is chosen in helper/error.c only,
 *     log_error() is called from the carrier's few printers, and helper/
 *     never calls exit().
 */
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

#define LAYERS_CHECK DVMOUNT_SRCDIR "/tools/layers-check"
#define EXIT_CHECK DVMOUNT_SRCDIR "/tools/exit-check"

FIXTURE(checks)
{
	struct tu_scratch scratch;
	struct run_result r;
};

FIXTURE_SETUP(checks)
{
	ASSERT_EQ(0, tu_scratch_make(&self->scratch));
}

FIXTURE_TEARDOWN(checks)
{
	run_result_free(&self->r);
	tu_scratch_remove(&self->scratch);
}

/* <scratch>/<rel> (its directories made) holding text. */
static int put(FIXTURE_DATA(checks) * self, const char *rel, const char *text)
{
	char path[PATH_MAX], dir[PATH_MAX];
	int r;

	tu_path(path, "%s/%s", self->scratch.path, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	r = tu_mkdirs(dir, 0755);
	return r < 0 ? r : tu_write_file(path, text);
}

/* tools/layers-check --root <scratch> REL: its exit status, output in self->r. */
static int layers(FIXTURE_DATA(checks) * self, const char *rel)
{
	char *argv[] = { LAYERS_CHECK, "--root", self->scratch.path, (char *)rel, NULL };

	run_result_free(&self->r);
	run_argv(&self->r, argv, 30000);
	return self->r.status;
}

/* tools/exit-check <scratch>/REL (it judges a path by how it ends). */
static int exitcheck(FIXTURE_DATA(checks) * self, const char *rel)
{
	char path[PATH_MAX];
	char *argv[] = { EXIT_CHECK, tu_path(path, "%s/%s", self->scratch.path, rel), NULL };

	run_result_free(&self->r);
	run_argv(&self->r, argv, 30000);
	return self->r.status;
}

TEST_F(checks, layers_allow_own_headers_what_is_beneath_and_system_headers)
{
	ASSERT_EQ(0, put(self, "ns/a.c",
			 "#include <stdio.h>\n#include <json-c/json.h>\n#include \"ns/ns.h\"\n"
			 "#include \"common/macro.h\"\n#include \"policy/policy.h\"\n"));
	EXPECT_EQ(0, layers(self, "ns/a.c")) TH_LOG("%s", self->r.err);
	EXPECT_STREQ("", self->r.err);
	ASSERT_EQ(0, put(self, "helper/state/b.c",
			 "#include \"helper/state/state.h\"\n#include \"uring/rpc.h\"\n"));
	EXPECT_EQ(0, layers(self, "helper/state/b.c")) TH_LOG("%s", self->r.err);
	/* The program is above every layer: it may include anything. */
	ASSERT_EQ(0, put(self, "helper/cmd_x.c",
			 "#include \"helper/lifecycle.h\"\n#include \"helper/state/state.h\"\n"));
	EXPECT_EQ(0, layers(self, "helper/cmd_x.c")) TH_LOG("%s", self->r.err);
}

TEST_F(checks, layers_refuse_an_include_from_above)
{
	ASSERT_EQ(0, put(self, "ns/a.c", "#include <stdio.h>\n#include \"helper/lifecycle.h\"\n"));
	EXPECT_EQ(1, layers(self, "ns/a.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "ns/a.c:2: includes \"helper/lifecycle.h\""))
	TH_LOG("%s", self->r.err);
	/* A sibling is not beneath: uring/ may not use ns/. */
	ASSERT_EQ(0, put(self, "uring/b.c", "#include \"ns/ns.h\"\n"));
	EXPECT_EQ(1, layers(self, "uring/b.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "uring/b.c:1: includes \"ns/ns.h\""))
	TH_LOG("%s", self->r.err);
	/* Nor the state store the plugin client. */
	ASSERT_EQ(0, put(self, "helper/state/c.c", "#include \"helper/plugin/plugin.h\"\n"));
	EXPECT_EQ(1, layers(self, "helper/state/c.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "helper/state/c.c:1:")) TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, put(self, "common/d.h", "  #  include \"policy/policy.h\"\n"));
	EXPECT_EQ(1, layers(self, "common/d.h"));
	EXPECT_NE(NULL, strstr(self->r.err, "common/d.h:1:")) TH_LOG("%s", self->r.err);
}

TEST_F(checks, layers_refuse_the_tree_through_angle_brackets_or_dotdot)
{
	ASSERT_EQ(0, put(self, "policy/a.c", "#include <helper/dvmount.h>\n"));
	EXPECT_EQ(1, layers(self, "policy/a.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "policy/a.c:1: includes <helper/dvmount.h>"))
	TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, put(self, "ns/b.c", "#include \"common/../helper/dvmount.h\"\n"));
	EXPECT_EQ(1, layers(self, "ns/b.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "ns/b.c:1:")) TH_LOG("%s", self->r.err);
}

TEST_F(checks, exit_status_chosen_only_in_error_c)
{
	ASSERT_EQ(0, put(self, "helper/cmd_x.c", "int f(void)\n{\n\treturn EXIT_FAIL;\n}\n"));
	EXPECT_EQ(1, exitcheck(self, "helper/cmd_x.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "helper/cmd_x.c:3: exit status chosen outside"))
	TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, put(self, "ns/y.c", "int g(void) { return EXIT_SUCCESS; }\n"));
	EXPECT_EQ(1, exitcheck(self, "ns/y.c"));
	ASSERT_EQ(0,
		  put(self, "helper/error.c", "int dv_exit_code(void) { return EXIT_DENIED; }\n"));
	EXPECT_EQ(0, exitcheck(self, "helper/error.c")) TH_LOG("%s", self->r.err);
	/* Named in a comment's own line: not code. */
	ASSERT_EQ(0, put(self, "helper/cmd_z.c", " * EXIT_USAGE when the flags are wrong\n"));
	EXPECT_EQ(0, exitcheck(self, "helper/cmd_z.c")) TH_LOG("%s", self->r.err);
}

TEST_F(checks, log_error_only_from_the_carriers_printers)
{
	ASSERT_EQ(0, put(self, "helper/cmd_x.c", "void f(void)\n{\n\tlog_error(g, \"no\");\n}\n"));
	EXPECT_EQ(1, exitcheck(self, "helper/cmd_x.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "helper/cmd_x.c:3: log_error() outside"))
	TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, put(self, "helper/lifecycle.c", "void f(void) { log_error(g, \"x\"); }\n"));
	EXPECT_EQ(0, exitcheck(self, "helper/lifecycle.c")) TH_LOG("%s", self->r.err);
}

TEST_F(checks, no_exit_in_the_program)
{
	ASSERT_EQ(0, put(self, "helper/cmd_x.c", "void f(void)\n{\n\texit(2);\n}\n"));
	EXPECT_EQ(1, exitcheck(self, "helper/cmd_x.c"));
	EXPECT_NE(NULL, strstr(self->r.err, "helper/cmd_x.c:3: exit() in the program"))
	TH_LOG("%s", self->r.err);
	ASSERT_EQ(0, put(self, "helper/cmd_y.c", "void f(void) { _exit(127); }\n"));
	EXPECT_EQ(1, exitcheck(self, "helper/cmd_y.c"));
	/* Outside helper/ (a forked child in ns/ ends with _exit) and in names: allowed. */
	ASSERT_EQ(0, put(self, "ns/z.c", "void f(void) { _exit(1); }\nint my_exit(int);\n"));
	EXPECT_EQ(0, exitcheck(self, "ns/z.c")) TH_LOG("%s", self->r.err);
	ASSERT_EQ(
	    0, put(self, "helper/cmd_w.c", "int w(void) { return at_exit(0) + on_exit_x(); }\n"));
	EXPECT_EQ(0, exitcheck(self, "helper/cmd_w.c")) TH_LOG("%s", self->r.err);
}

TEST_HARNESS_MAIN
