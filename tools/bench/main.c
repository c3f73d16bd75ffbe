/* SPDX-License-Identifier: MIT */
/*
 * dvmount-bench [--rounds N] [--warmup N] [--json] [--list] [SCENARIO...]
 *
 * Sets up one run (a temporary directory, on its own tmpfs in a private mount
 * namespace when we may mount), runs the selected groups, prints the report,
 * and removes everything it made. See dvmount-bench(1).
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "common/macro.h"
#include "tools/bench/bench.h"

#define DEFAULT_ROUNDS 20
#define DEFAULT_WARMUP 2
#define TMPFS_OPTS "mode=0755,size=64m"

volatile sig_atomic_t bench_stop;

static const struct bench_group *const groups[] = {
	&bench_group_dvdcli,
	&bench_group_mount64,
	&bench_group_attach,
	&bench_group_prepare,
	&bench_group_state,
};

static void usage(FILE *f)
{
	fprintf(f, "usage: dvmount-bench [--rounds N] [--warmup N] [--json] [--list]\n"
		   "                     [--dvmount PATH] [--testplugin PATH] [SCENARIO...]\n"
		   "Runs each selected scenario group (default: all) with its baselines and\n"
		   "prints medians and ratios. See dvmount-bench(1).\n");
}

static void list_groups(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		printf("%s:", groups[i]->name);
		for (const char *const *c = groups[i]->cases; *c; c++)
			printf(" %s", *c);
		printf("\n");
	}
}

/* A group is selected by its own name or by any of its cases' names. */
static bool group_matches(const struct bench_group *g, const char *name)
{
	if (!strcmp(g->name, name))
		return true;
	for (const char *const *c = g->cases; *c; c++)
		if (!strcmp(*c, name))
			return true;
	return false;
}

static int parse_count(const char *s, unsigned min, unsigned max, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	bench_stop = 1;
}

/* name next to our own binary; for dvmount also the sbin of an installed tree. */
static int find_program(const char *name, const char *alt_dir, char ret[static PATH_MAX])
{
	char self[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return negerrno();
	self[n] = '\0';
	dir = dirname(self);
	snprintf(ret, PATH_MAX, "%s/%s", dir, name);
	if (access(ret, X_OK) == 0)
		return 0;
	if (!alt_dir)
		return -ENOENT;
	snprintf(ret, PATH_MAX, "%s/%s/%s", dir, alt_dir, name);
	return access(ret, X_OK) == 0 ? 0 : -ENOENT;
}

static int set_program(const char *arg, char ret[static PATH_MAX])
{
	/* Always absolute: bench_exec runs argv[0] as given, without PATH. */
	if (!realpath(arg, ret) || access(ret, X_OK) < 0)
		return negerrno();
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP ? rmdir(path) : unlink(path))
		return errno == ENOENT ? 0 : -1;
	return 0;
}

/*
 * The run's directory: a fresh tmpfs when we have our own mount namespace
 * (so a test plugin's files never touch the disk and the unmount takes them
 * all), else a plain directory.
 */
static int tmpdir_make(struct bench_ctx *ctx)
{
	const char *tmp = secure_getenv("TMPDIR");
	int n = snprintf(ctx->tmpdir, sizeof(ctx->tmpdir), "%s/dvmount-bench.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");

	if (n < 0 || (size_t)n >= sizeof(ctx->tmpdir) - 128)
		return -ENAMETOOLONG;
	if (!mkdtemp(ctx->tmpdir)) {
		ctx->tmpdir[0] = '\0';
		return negerrno();
	}
	if (ctx->private_ns &&
	    mount("tmpfs", ctx->tmpdir, "tmpfs", MS_NOSUID | MS_NODEV, TMPFS_OPTS) < 0)
		return negerrno();
	return 0;
}

static void tmpdir_remove(struct bench_ctx *ctx)
{
	if (!ctx->tmpdir[0])
		return;
	if (ctx->private_ns)
		umount2(ctx->tmpdir, MNT_DETACH);
	/* FTW_MOUNT: should anything still be mounted below, never cross into it. */
	nftw(ctx->tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	ctx->tmpdir[0] = '\0';
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "json", no_argument, NULL, 'j' },
		{ "list", no_argument, NULL, 'l' },
		{ "dvmount", required_argument, NULL, 'd' },
		{ "testplugin", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct bench_ctx ctx = { .rounds = DEFAULT_ROUNDS, .warmup = DEFAULT_WARMUP };
	static struct bench_report report;
	struct sigaction sa = { .sa_handler = on_signal };
	bool selected[ARRAY_SIZE(groups)] = { false }, json = false, any = false;
	int opt, r, status = 0;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'r':
		case 'w':
			if (parse_count(optarg, opt == 'r' ? 1 : 0,
					opt == 'r' ? BENCH_ROUNDS_MAX : BENCH_WARMUP_MAX,
					opt == 'r' ? &ctx.rounds : &ctx.warmup) < 0) {
				fprintf(stderr, "dvmount-bench: --%s: expected %s to %u, not '%s'\n",
					opt == 'r' ? "rounds" : "warmup", opt == 'r' ? "1" : "0",
					opt == 'r' ? BENCH_ROUNDS_MAX : BENCH_WARMUP_MAX, optarg);
				return 2;
			}
			break;
		case 'j':
			json = true;
			break;
		case 'l':
			list_groups();
			return 0;
		case 'd':
		case 't':
			if (set_program(optarg, opt == 'd' ? ctx.dvmount : ctx.testplugin) < 0) {
				fprintf(stderr, "dvmount-bench: '%s' is not an executable: %m\n",
					optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (int i = optind; i < argc; i++) {
		bool found = false;

		for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
			if (group_matches(groups[g], argv[i]))
				selected[g] = found = true;
		if (!found) {
			fprintf(stderr, "dvmount-bench: unknown scenario '%s' (see --list)\n",
				argv[i]);
			return 2;
		}
	}
	if (optind == argc)
		for (size_t g = 0; g < ARRAY_SIZE(groups); g++)
			selected[g] = true;

	if (!ctx.dvmount[0] && find_program("dvmount", "../sbin", ctx.dvmount) < 0) {
		fprintf(stderr, "dvmount-bench: dvmount not found next to this program: "
				"use --dvmount PATH\n");
		return 2;
	}
	if (!ctx.testplugin[0] && find_program("dvmount-testplugin", NULL, ctx.testplugin) < 0) {
		fprintf(stderr, "dvmount-bench: dvmount-testplugin not found next to this "
				"program: use --testplugin PATH\n");
		return 2;
	}

	/* No SA_RESTART: a blocked poll() returns and the loop sees bench_stop. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed stdout must not kill us before the clean-up. */
	signal(SIGPIPE, SIG_IGN);

	/* Everything that mounts stays in here and goes away with us. */
	if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		ctx.private_ns = true;
	r = tmpdir_make(&ctx);
	if (r < 0) {
		fprintf(stderr, "dvmount-bench: cannot make the run's directory '%s': %s\n",
			ctx.tmpdir, strerror(-r));
		tmpdir_remove(&ctx);
		return 1;
	}

	for (size_t g = 0; g < ARRAY_SIZE(groups) && !bench_stop; g++) {
		if (!selected[g])
			continue;
		if (groups[g]->needs_mount_ns && !ctx.private_ns) {
			fprintf(stderr, "dvmount-bench: %s: skipped: needs a private mount "
					"namespace (run as root)\n",
				groups[g]->name);
			status = 1;
			continue;
		}
		ctx.err[0] = '\0';
		r = groups[g]->run(&ctx, &report);
		if (r < 0) {
			fprintf(stderr, "dvmount-bench: %s: %s\n", groups[g]->name,
				ctx.err[0] ? ctx.err : strerror(-r));
			status = 1;
			continue;
		}
		any = true;
	}
	tmpdir_remove(&ctx);

	if (json)
		r = bench_report_print_json(&report, &ctx);
	else
		bench_report_print(&report);
	bench_report_free(&report);
	if (json && r < 0) {
		fprintf(stderr, "dvmount-bench: cannot build the JSON report: %s\n", strerror(-r));
		return 1;
	}
	if (bench_stop) {
		fprintf(stderr, "dvmount-bench: interrupted\n");
		return 1;
	}
	return status || !any ? 1 : 0;
}
