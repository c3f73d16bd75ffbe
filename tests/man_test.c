/* SPDX-License-Identifier: MIT */
/*
 * Every man page renders without a warning from groff or man
 * (`man --warnings -l`), and every program that `make install` puts in bin
 * or sbin has one; the docs name no file the tree does not have.
 */
#include <ctype.h>
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
		EXPECT_LT(200, (int)strlen(r.out))
		TH_LOG("%s renders to almost nothing", de->d_name);
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

/*
 * README and the man pages are the user's contract: every project document
 * they name (upper case, NAME.md, like README.md) is in this tree, not in some
 * other repository. Lower-case .md names are outputs (dvmount-bench's
 * results.md), not documents.
 */
TEST(readme_and_pages_name_only_files_in_the_tree)
{
	static const char *const docs[] = { "README.md", "man/dvmount.8", "man/dvmount-run.1",
					    "man/dvmount-policy.5" };

	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		char path[PATH_MAX];
		char *text, *p;

		snprintf(path, sizeof(path), "%s/%s", DVMOUNT_SRCDIR, docs[i]);
		text = read_file(path);
		ASSERT_NE(NULL, text) TH_LOG("%s", path);
		for (p = strstr(text, ".md"); p; p = strstr(p + 3, ".md")) {
			const char *b = p;
			char name[PATH_MAX];

			while (b > text && (isupper((unsigned char)b[-1]) ||
					    isdigit((unsigned char)b[-1]) || b[-1] == '_'))
				b--;
			if (p == b || !isupper((unsigned char)*b) || isalnum((unsigned char)p[3]) ||
			    (b > text && (islower((unsigned char)b[-1]) || b[-1] == '.')))
				continue;
			snprintf(name, sizeof(name), "%s/%.*s", DVMOUNT_SRCDIR, (int)(p + 3 - b),
				 b);
			EXPECT_EQ(0, access(name, F_OK))
			TH_LOG("%s names '%.*s'", docs[i], (int)(p + 3 - b), b);
		}
		free(text);
	}
}

TEST_HARNESS_MAIN
