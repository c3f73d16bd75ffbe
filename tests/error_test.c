/* SPDX-License-Identifier: MIT */
/*
 * The error carrier (helper/error.h): one line, the first error wins, and
 * the exit status of DESIGN.md's contract decided from its kind alone.
 */
#include <stdio.h>
#include <string.h>
#include <limits.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helper/dvmount.h"
#include "helper/error.h"
#include "helper/lifecycle.h"
#include "kselftest_harness.h"
#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

TEST(exit_status_follows_the_kind_as_the_contract_says)
{
	struct dv_error e = {};

	EXPECT_EQ(0, dv_exit_code(&e));
	e.kind = DV_ERROR_FAIL;
	EXPECT_EQ(1, dv_exit_code(&e));
	e.kind = DV_ERROR_USAGE;
	EXPECT_EQ(2, dv_exit_code(&e));
	e.kind = DV_ERROR_DENIED;
	EXPECT_EQ(3, dv_exit_code(&e));
	/* A kind nobody knows is never mistaken for success. */
	e.kind = (enum dv_error_kind)42;
	EXPECT_EQ(1, dv_exit_code(&e));
}

TEST(set_returns_the_errno_behind_it_or_the_kinds)
{
	struct dv_error e = {};

	EXPECT_EQ(-ENOENT, dv_fail(&e, -ENOENT, "no such thing"));
	EXPECT_EQ(-ENOENT, e.err);
	dv_error_clear(&e);
	EXPECT_EQ(-EIO, dv_fail(&e, 0, "failed"));
	EXPECT_EQ(0, e.err);
	dv_error_clear(&e);
	EXPECT_EQ(-EINVAL, dv_usage(&e, "bad flag"));
	EXPECT_EQ(DV_ERROR_USAGE, e.kind);
	dv_error_clear(&e);
	EXPECT_EQ(-EACCES, dv_denied(&e, "denied by %s", "policy.conf:3"));
	EXPECT_EQ(DV_ERROR_DENIED, e.kind);
	EXPECT_STREQ("denied by policy.conf:3", e.text);
	dv_error_clear(&e);
	EXPECT_EQ(DV_ERROR_NONE, e.kind);
	EXPECT_STREQ("", e.text);
}

TEST(the_first_error_wins)
{
	struct dv_error e = {};

	dv_denied(&e, "denied by %s: %s", "p:1:1", "driver 'x' not allowed");
	/* The undo that follows fails too: that must not hide the denial. */
	EXPECT_EQ(-EBUSY, dv_fail(&e, -EBUSY, "cannot unmount"));
	EXPECT_EQ(DV_ERROR_DENIED, e.kind);
	EXPECT_EQ(-EACCES, e.err);
	EXPECT_STREQ("denied by p:1:1: driver 'x' not allowed", e.text);
	EXPECT_EQ(3, dv_exit_code(&e));
}

TEST(text_is_one_line_and_bounded)
{
	struct dv_error e = {};
	char big[3 * DV_ERROR_TEXT_MAX];

	dv_fail(&e, 0, "plugin said: %s", "line one\nline two\r\n");
	EXPECT_STREQ("plugin said: line one line two  ", e.text);
	dv_error_clear(&e);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	dv_fail(&e, 0, "%s", big);
	EXPECT_EQ(DV_ERROR_TEXT_MAX - 1, strlen(e.text));
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Capture fd 2 from capture_start() to capture_end(), which returns it in buf. */
struct capture {
	int mfd, saved;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->mfd = memfd_create("stderr", MFD_CLOEXEC);
	c->saved = dup(STDERR_FILENO);
	dup2(c->mfd, STDERR_FILENO);
}

static void capture_end(struct capture *c, char *buf, size_t size)
{
	ssize_t n;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	n = pread(c->mfd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(c->mfd);
}

/* What dv_error_print() writes on fd 2. */
static void printed(const struct dv_error *e, char *buf, size_t size)
{
	const struct globals g = { .prog = "dvmount" };
	struct capture c;

	capture_start(&c);
	dv_error_print(&g, e);
	capture_end(&c, buf, size);
}

TEST(printed_once_as_one_prefixed_line)
{
	struct dv_error e = {};
	char out[2 * DV_ERROR_TEXT_MAX];

	printed(&e, out, sizeof(out));
	EXPECT_STREQ("", out);
	dv_fail(&e, -EIO, "container 'c1': volume 'v' of driver 'd': %s", "gone");
	printed(&e, out, sizeof(out));
	EXPECT_STREQ("dvmount: container 'c1': volume 'v' of driver 'd': gone\n", out);
	/* Already said (a usage text): the exit status, and nothing printed. */
	dv_error_clear(&e);
	EXPECT_EQ(-EINVAL, dv_said(&e, DV_ERROR_USAGE));
	printed(&e, out, sizeof(out));
	EXPECT_STREQ("", out);
	EXPECT_EQ(2, dv_exit_code(&e));
}

/* ---- several failures: lc_report() ------------------------------------ */

/*
 * lc_report() on a command's failures, then main's print: what stderr reads,
 * the carrier's kind and lc_report()'s return in *ret_r.
 */
static void report(struct lc *lc, struct dv_error *e, char *buf, size_t size, int *ret_r)
{
	struct capture c;

	capture_start(&c);
	*ret_r = lc_report(lc, e);
	dv_error_print(lc->g, e);
	capture_end(&c, buf, size);
}

TEST(several_failures_read_in_order_the_last_from_the_carrier)
{
	struct globals g = { .prog = "dvmount" };
	struct dv_error e = {};
	struct lc lc = { .g = &g, .cid = "c1" };
	char out[4096];
	int r;

	lc_fail(&lc, "volume '%s' of driver '%s': %s", "a", "tp", "first");
	lc_fail(&lc, "volume '%s' of driver '%s': %s", "b", "tp", "second");
	lc_fail(&lc, "volume '%s' of driver '%s': %s", "c", "tp", "third");
	report(&lc, &e, out, sizeof(out), &r);
	EXPECT_EQ(-EIO, r);
	EXPECT_STREQ("dvmount: container 'c1': volume 'a' of driver 'tp': first\n"
		     "dvmount: container 'c1': volume 'b' of driver 'tp': second\n"
		     "dvmount: container 'c1': volume 'c' of driver 'tp': third\n",
		     out);
	EXPECT_STREQ("container 'c1': volume 'c' of driver 'tp': third", e.text);
	EXPECT_EQ(1, dv_exit_code(&e));
	lc_close(&lc);
}

TEST(a_denial_among_failures_exits_3)
{
	struct globals g = { .prog = "dvmount" };
	struct dv_error e = {};
	struct lc lc = { .g = &g };
	char out[4096];
	int r;

	lc_fail(&lc, "denied by %s: %s", "policy.conf:4:1", "driver 'x' is not allowed");
	lc.denied = true;
	report(&lc, &e, out, sizeof(out), &r);
	EXPECT_EQ(-EACCES, r);
	EXPECT_STREQ("dvmount: denied by policy.conf:4:1: driver 'x' is not allowed\n", out);
	EXPECT_EQ(3, dv_exit_code(&e));
	lc_close(&lc);

	/* Denied with nothing (more) to say: the status alone. */
	dv_error_clear(&e);
	lc = (struct lc){ .g = &g, .denied = true };
	report(&lc, &e, out, sizeof(out), &r);
	EXPECT_EQ(-EACCES, r);
	EXPECT_STREQ("", out);
	EXPECT_EQ(3, dv_exit_code(&e));
}

TEST(no_failure_is_success)
{
	struct globals g = { .prog = "dvmount" };
	struct dv_error e = {};
	struct lc lc = { .g = &g, .cid = "c1" };
	char out[256];
	int r;

	report(&lc, &e, out, sizeof(out), &r);
	EXPECT_EQ(0, r);
	EXPECT_STREQ("", out);
	EXPECT_EQ(0, dv_exit_code(&e));
}

TEST(a_carrier_already_holding_an_error_keeps_it_and_nothing_is_lost)
{
	struct globals g = { .prog = "dvmount" };
	struct dv_error e = {};
	struct lc lc = { .g = &g };
	char out[4096];
	int r;

	dv_usage(&e, "first");
	lc_fail(&lc, "second");
	lc_fail(&lc, "third");
	report(&lc, &e, out, sizeof(out), &r);
	EXPECT_EQ(-EIO, r);
	EXPECT_STREQ("dvmount: second\ndvmount: third\ndvmount: first\n", out);
	EXPECT_EQ(2, dv_exit_code(&e));
	lc_close(&lc);
}

TEST(past_the_bound_the_carrier_says_more_were_not_shown)
{
	struct globals g = { .prog = "dvmount" };
	struct dv_error e = {};
	struct lc lc = { .g = &g };
	static char out[LC_FAILURES_MAX * 64];
	int r;

	for (int i = 0; i < LC_FAILURES_MAX + 5; i++)
		lc_fail(&lc, "failure %d", i);
	report(&lc, &e, out, sizeof(out), &r);
	EXPECT_EQ(-EIO, r);
	EXPECT_EQ(LC_FAILURES_MAX + 1, count_lines(out));
	EXPECT_NE(NULL, strstr(out, "dvmount: failure 63\ndvmount: (more failures not shown)\n"));
	EXPECT_STREQ("(more failures not shown)", e.text);
	lc_close(&lc);
}

/* ---- make exit-check: the rule that keeps it so ------------------------ */

static int exit_check(struct run_result *r, const char *file)
{
	char tool[PATH_MAX];
	char *argv[] = { tool, (char *)file, NULL };

	snprintf(tool, sizeof(tool), "%s/tools/exit-check", DVMOUNT_SRCDIR);
	return run_argv(r, file ? argv : (char *[]){ tool, NULL }, 10000);
}

TEST(exit_check_passes_on_the_tree)
{
	struct run_result r;

	ASSERT_EQ(0, exit_check(&r, NULL));
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
}

TEST(exit_check_rejects_what_bypasses_the_carrier)
{
	static const struct {
		const char *file, *code, *says; /* says NULL: accepted */
	} cases[] = {
		{ "helper/cmd_x.c", "\treturn EXIT_DENIED;\n", "exit status chosen outside" },
		{ "helper/cmd_x.c", "\treturn EXIT_FAILURE;\n", "exit status chosen outside" },
		{ "ns/x.c", "\tr = EXIT_USAGE;\n", "exit status chosen outside" },
		{ "helper/cmd_x.c", "\tlog_error(g, \"oops\");\n", "log_error() outside" },
		{ "helper/cmd_x.c", "\texit(3);\n", "exit() in the program" },
		{ "helper/cmd_x.c", "\t_exit(1);\n", "exit() in the program" },
		/* Their places, comments, and names that only look alike. */
		{ "helper/error.c", "\treturn EXIT_DENIED;\n", NULL },
		{ "helper/lifecycle.c", "\tlog_error(lc->g, \"%s\", x);\n", NULL },
		{ "helper/cmd_x.c", " * exits with EXIT_FAIL, see log_error() and exit()\n", NULL },
		{ "helper/cmd_x.c", "\treturn RUN_EXIT_FAILED + dv_exit_code(e);\n", NULL },
		{ "ns/x.c", "\t_exit(r);\n", NULL },
	};
	char dir[] = "/tmp/dvmount-exit-check-XXXXXX";
	char path[PATH_MAX];

	ASSERT_NE(NULL, mkdtemp(dir));
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run_result r;

		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].file);
		*strrchr(path, '/') = '\0';
		mkdir(path, 0700);
		snprintf(path, sizeof(path), "%s/%s", dir, cases[i].file);
		ASSERT_EQ(0, tu_write_file(path, cases[i].code));
		ASSERT_EQ(0, exit_check(&r, path));
		if (cases[i].says) {
			EXPECT_EQ(1, r.status) TH_LOG("%s: %s", cases[i].file, cases[i].code);
			EXPECT_NE(NULL, strstr(r.err, cases[i].says)) TH_LOG("%s", r.err);
			EXPECT_EQ(0, strncmp(r.err, path, strlen(path))) TH_LOG("%s", r.err);
		} else {
			EXPECT_EQ(0, r.status)
			TH_LOG("%s: %s: %s", cases[i].file, cases[i].code, r.err);
		}
		run_result_free(&r);
		unlink(path);
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
	EXPECT_EQ(0, rmdir(dir));
}

TEST_HARNESS_MAIN
