/* SPDX-License-Identifier: MIT */
/*
 * The exec contract's edges: usage errors exit 2 with one line naming what
 * was wrong, --help and version exit 0, dvdcli mode exits 1 on any error.
 */
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

struct usage_case {
	const char *why;
	const char *args[10];
	const char *expect;
};

static const struct usage_case usage_cases[] = {
	{ "unknown command", { "bogus" }, "unknown command 'bogus'" },
	{ "unknown global option", { "--bogus", "status" }, "'--bogus'" },
	{ "global option without its value", { "--timeout" }, "'--timeout'" },
	{ "bad seconds", { "--timeout", "soon", "status" }, "invalid number of seconds 'soon'" },
	{ "prepare without ids", { "prepare" }, "--container-id and --volumes are required" },
	{ "prepare bad pid",
	  { "prepare", "--container-id", "c", "--volumes", "-", "--pid", "0x1" },
	  "invalid --pid '0x1'" },
	{ "prepare bad user",
	  { "prepare", "--container-id", "c", "--volumes", "-", "--user", "root" },
	  "invalid --user 'root'" },
	{ "prepare bad container id",
	  { "prepare", "--container-id", "../x", "--volumes", "-" },
	  "invalid container id '../x'" },
	{ "prepare relative rootfs",
	  { "prepare", "--container-id", "c", "--volumes", "-", "--rootfs", "rel" },
	  "--rootfs 'rel' must be absolute" },
	{ "prepare reserved id",
	  { "prepare", "--container-id", "dvdcli:mesos", "--volumes", "-" },
	  "reserved" },
	{ "cleanup without id", { "cleanup" }, "--container-id ID" },
	{ "status stray argument", { "status", "extra" }, "unexpected argument 'extra'" },
	{ "volume unknown subcommand",
	  { "volume", "frob", "--driver", "d" },
	  "unknown subcommand 'frob'" },
	{ "volume without driver", { "volume", "get", "--name", "n" }, "--driver is required" },
	{ "volume bad opt",
	  { "volume", "create", "--driver", "d", "--name", "n", "--opt", "=v" },
	  "--opt '=v' is not KEY=VALUE" },
	{ "recover unknown option", { "recover", "--all" }, "'--all'" },
};

TEST(usage_errors_exit_2_with_one_line)
{
	for (size_t i = 0; i < ARRAY_SIZE(usage_cases); i++) {
		const struct usage_case *c = &usage_cases[i];
		char *argv[12] = { (char *)build_path("dvmount") };
		struct run_result r;
		int n = 1;

		for (int j = 0; c->args[j]; j++)
			argv[n++] = (char *)c->args[j];
		argv[n] = NULL;
		ASSERT_EQ(0, run_argv(&r, argv, 10000));
		EXPECT_EQ(2, r.status) TH_LOG("%s: %s", c->why, r.err);
		EXPECT_EQ(1, count_str(r.err, "\n")) TH_LOG("%s: %s", c->why, r.err);
		EXPECT_NE(NULL, strstr(r.err, c->expect)) TH_LOG("%s: %s", c->why, r.err);
		EXPECT_STREQ("", r.out);
		run_result_free(&r);
	}
}

TEST(help_and_version_exit_0)
{
	static const char *const cases[][3] = {
		{ "--help", NULL },	{ "version", NULL },	{ "prepare", "--help" },
		{ "volume", "--help" }, { "status", "--help" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *argv[4] = { (char *)build_path("dvmount"), (char *)cases[i][0],
				  (char *)cases[i][1], NULL };
		struct run_result r;

		ASSERT_EQ(0, run_argv(&r, argv, 10000));
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", cases[i][0], r.err);
		EXPECT_NE(0, strlen(r.out)) TH_LOG("%s", cases[i][0]);
		EXPECT_STREQ("", r.err);
		run_result_free(&r);
	}
}

TEST(dvdcli_mode_exits_1_on_usage_errors_as_dvdcli_did)
{
	static const char *const cases[][4] = {
		{ "mount", "--volumename=n", NULL },
		{ "mount", "--volumedriver=d", NULL },
		{ "frob", "--volumedriver=d", "--volumename=n", NULL },
		{ "mount", "--volumedriver=d", "--volumename=n", "--volumeopts=novalue" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *argv[6] = { (char *)build_path("dvdcli") };
		struct run_result r;

		for (int j = 0; j < 4; j++)
			argv[j + 1] = (char *)cases[i][j];
		argv[5] = NULL;
		ASSERT_EQ(0, run_argv(&r, argv, 10000));
		EXPECT_EQ(1, r.status) TH_LOG("%s: %s", cases[i][0], r.err);
		EXPECT_EQ(0, strncmp(r.err, "dvdcli: ", 8)) TH_LOG("%s", r.err);
		EXPECT_EQ(1, count_str(r.err, "\n")) TH_LOG("%s", r.err);
		EXPECT_STREQ("", r.out);
		run_result_free(&r);
	}
}

TEST_HARNESS_MAIN
