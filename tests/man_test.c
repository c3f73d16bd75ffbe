/* SPDX-License-Identifier: MIT */
/*
 * Every man page renders without a warning from groff or man
 * (`man --warnings -l`), and every program that `make install` puts in bin
 * or sbin has one.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

TEST(every_page_renders_without_warnings)
{
	char dir[PATH_MAX];
	struct dirent *de;
	int pages = 0;
	DIR *d;

	if (access("/usr/bin/man", X_OK) != 0)
		SKIP(return, "man-db missing (tools/install-deps installs it)");
	/* A fixed width and a UTF-8 locale: the same rendering on every machine. */
	ASSERT_EQ(0, setenv("MANWIDTH", "80", 1));
	ASSERT_EQ(0, setenv("LC_ALL", "C.UTF-8", 1));
	snprintf(dir, sizeof(dir), "%s/man", DVMOUNT_SRCDIR);
	d = opendir(dir);
	ASSERT_NE(NULL, d);
	while ((de = readdir(d))) {
		char page[PATH_MAX + 256];
		struct run_result r;

		if (de->d_name[0] == '.')
			continue;
		snprintf(page, sizeof(page), "%s/%s", dir, de->d_name);
		char *argv[] = { "/usr/bin/man", "--warnings", "-l", page, NULL };

		ASSERT_EQ(0, run_argv(&r, argv, 30000));
		EXPECT_EQ(0, r.status) TH_LOG("%s: %s", de->d_name, r.err);
		EXPECT_STREQ("", r.err) TH_LOG("%s", de->d_name);
		EXPECT_LT(200, (int)strlen(r.out)) TH_LOG("%s renders to almost nothing", de->d_name);
		run_result_free(&r);
		pages++;
	}
	closedir(d);
	EXPECT_LE(5, pages);
}

TEST(every_installed_program_has_a_page)
{
	static const char *const pages[] = { "dvmount.8", "dvmount-policy.5", "dvmount-run.1",
					     "dvmount-testplugin.1", "dvmount-bench.1" };

	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/man/%s", DVMOUNT_SRCDIR, pages[i]);
		EXPECT_EQ(0, access(path, R_OK)) TH_LOG("missing %s", pages[i]);
	}
}

TEST_HARNESS_MAIN
