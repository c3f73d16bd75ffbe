/* SPDX-License-Identifier: MIT */
/*
 * `dvmount policy check [FILE]`: lint a policy and its drop-ins, every error
 * and warning as "FILE:LINE:COL: error: ..." on stderr; exit 0 without errors.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "helper/caller.h"
#include "helper/dvmount.h"
#include "helper/error.h"
#include "policy/policy.h"

struct lint_counts {
	unsigned warnings;
};

static void report(const struct policy_diag *d, void *userdata)
{
	struct lint_counts *c = userdata;
	const char *level = d->warning ? "warning" : "error";

	if (d->warning)
		c->warnings++;
	if (d->line)
		fprintf(stderr, "%s:%u:%u: %s: %s\n", d->file, d->line, d->column, level,
			d->message);
	else
		fprintf(stderr, "%s: %s: %s\n", d->file, level, d->message);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: dvmount [--policy FILE] policy check [FILE]\n");
}

int cmd_policy(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	struct lint_counts c = {};
	struct caller_fs cfs = {};
	const char *file;
	int r;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return 0;
	}
	if (argc < 2 || argc > 3 || strcmp(argv[1], "check")) {
		usage(stderr);
		return dv_said(err, DV_ERROR_USAGE);
	}
	file = argc == 3 ? argv[2] : g->policy_file;
	/*
	 * As the caller, who names the file: a setuid dvmount must not quote a
	 * root-only file in its errors, nor tell whether one exists (issue 10).
	 */
	if (!g->caller_is_root) {
		_cleanup_close_ int fd = -EBADF;

		r = caller_openat(g, AT_FDCWD, file, O_RDONLY | O_NONBLOCK, &fd);
		if (r < 0)
			return dv_fail(err, r, "cannot check policy '%s': %s", file,
				       r == -ENOENT ? CALLER_NOT_FOUND : strerror(-r));
	}
	r = caller_fs_enter(g, &cfs);
	if (r == 0)
		r = policy_lint(file, NULL, report, &c);
	caller_fs_leave(&cfs);
	if (r < 0)
		return dv_fail(err, r, "cannot check policy '%s': %s", file, strerror(-r));
	if (r > 0) {
		/* The lint's own output, not a dvmount error line: the carrier adds none. */
		fprintf(stderr, "%s: %d error(s), %u warning(s)\n", file, r, c.warnings);
		return dv_said(err, DV_ERROR_FAIL);
	}
	printf("%s: ok, %u warning(s)\n", file, c.warnings);
	return 0;
}
