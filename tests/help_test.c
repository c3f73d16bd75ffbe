/* SPDX-License-Identifier: MIT */
/*
 * `dvmount --help`, `dvmount COMMAND --help` and `dvmount-run --help`: exit 0
 * on stdout, short (a screen), complete (every option the program accepts),
 * and one example each.
 */
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

#define HELP_LINES_MAX 40
#define HELP_COLUMNS_MAX 100

struct help_case {
	const char *command;	  /* NULL: the overview */
	const char *usage;	  /* how it starts */
	const char *mentions[16]; /* every option (and, for the overview, command) */
};

static const struct help_case cases[] = {
	{ NULL,
	  "usage: dvmount [GLOBAL OPTIONS] COMMAND",
	  { "--state-dir", "--policy", "--plugin-path", "--json", "--debug", "--no-uring",
	    "--plugin-retry", "--timeout ", "--timeout-mount", "--help", "prepare", "cleanup",
	    "recover", "status", "volume", "oci-hook" } },
	{ "prepare",
	  "usage: dvmount prepare ",
	  { "--container-id", "--volumes", "--pid", "--rootfs", "--sandbox", "--user", "--json" } },
	{ "cleanup", "usage: dvmount cleanup ", { "--container-id" } },
	{ "recover", "usage: dvmount recover ", { "--known ", "--known-file", "--gc-dead" } },
	{ "status", "usage: dvmount status ", { "--container-id", "--json" } },
	{ "volume",
	  "usage: dvmount volume ",
	  { "create", "remove", "mount", "unmount", "path", "get", "list", "capabilities",
	    "--driver", "--name", "--opt", "--id", "--json" } },
	{ "policy", "usage: dvmount [--policy FILE] policy check", { "check" } },
	{ "oci-hook",
	  "usage: dvmount oci-hook ",
	  /* The annotation's form as README and dvmount(8) write it. */
	  { "createRuntime", "poststop", "org.dvmount.volumes",
	    "org.dvmount.volume.NAME=DRIVER:CONTAINER_PATH[:ro|:rw]" } },
	{ "dvdcli",
	  "usage: dvmount dvdcli ",
	  { "--volumedriver", "--volumename", "--volumeopts", "--explicitcreate" } },
	{ "version", "usage: dvmount version", { NULL } },
};

static void check_help(struct __test_metadata *_metadata, const char *what, const char *out,
		       const char *usage, const char *const mentions[])
{
	int lines = 0;

	EXPECT_EQ(0, strncmp(out, usage, strlen(usage))) TH_LOG("%s:\n%s", what, out);
	EXPECT_EQ(1, count_str(out, "example:\n")) TH_LOG("%s:\n%s", what, out);
	for (const char *p = out, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		EXPECT_GE(HELP_COLUMNS_MAX, nl - p)
		TH_LOG("%s: long line '%.*s'", what, (int)(nl - p), p);
		lines++;
	}
	EXPECT_GE(HELP_LINES_MAX, lines) TH_LOG("%s: %d lines", what, lines);
	for (int m = 0; m < 16 && mentions[m]; m++) {
		EXPECT_NE(NULL, strstr(out, mentions[m])) TH_LOG("%s: no '%s'", what, mentions[m]);
	}
}

TEST(dvmount_help_per_command)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct help_case *c = &cases[i];
		struct run_result r;

		if (c->command) {
			ASSERT_EQ(0, run_dvmount(&r, c->command, "--help", NULL));
		} else {
			ASSERT_EQ(0, run_dvmount(&r, "--help", NULL));
		}
		EXPECT_EQ(0, r.status);
		EXPECT_STREQ("", r.err);
		check_help(_metadata, c->command ? c->command : "dvmount", r.out, c->usage,
			   c->mentions);
		run_result_free(&r);
	}
}

/* --help anywhere after the command: help, before any option is judged. */
TEST(help_after_subcommand_and_options)
{
	struct run_result r;

	ASSERT_EQ(0, run_dvmount(&r, "volume", "create", "--driver", "x", "--help", NULL));
	EXPECT_EQ(0, r.status);
	EXPECT_EQ(0, strncmp(r.out, "usage: dvmount volume ", 22)) TH_LOG("%s", r.out);
	run_result_free(&r);
}

TEST(dvmount_run_help)
{
	const char *const mentions[] = { "--name",   "--volumes",      "--rootfs",  "--sandbox",
					 "--user",   "--keep",	       "--dvmount", "--state-dir",
					 "--policy", "--plugin-path",  "--debug",   "--timeout",
					 "125",	     "dvmount-run(1)", NULL };
	char *argv[] = { (char *)build_path("dvmount-run"), "--help", NULL };
	struct run_result r;

	ASSERT_EQ(0, run_argv(&r, argv, 10000));
	EXPECT_EQ(0, r.status);
	check_help(_metadata, "dvmount-run", r.out, "usage: dvmount-run --name NAME", mentions);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
