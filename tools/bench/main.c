/* SPDX-License-Identifier: MIT */
/*
 * dvmount-bench [--quick] [--rounds N] [--warmup N] [--out DIR] [--json]
 *               [--state-dir DIR] [--compare BASE.json [--against CUR.json]]
 *               [--threshold PCT] [--list] [SCENARIO...]
 *
 * Sets up one run (a temporary directory, on its own tmpfs in a private mount
 * namespace when we may mount, and state dirs on the filesystem of the user's
 * state dir), runs the selected scenarios, reports, compares, and removes
 * everything it made. See dvmount-bench(1).
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <linux/magic.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "tools/bench/bench.h"

#define DEFAULT_ROUNDS 7
#define DEFAULT_WARMUP 1
#define DEFAULT_THRESHOLD 10.0
/* dvmount's default --state-dir (dvmount(8)): its filesystem is where state really lives. */
#define DEFAULT_STATE_DIR "/var/lib/dvmount"
#define STRACE "/usr/bin/strace"
#define TMPFS_OPTS "mode=0755,size=256m"

volatile sig_atomic_t bench_stop;

static const struct bench_scenario *const scenarios[] = {
	&bench_scenario_attach,	   &bench_scenario_first_mount, &bench_scenario_concurrency,
	&bench_scenario_scale,	   &bench_scenario_contention,	&bench_scenario_dvdcli,
	&bench_scenario_transport, &bench_scenario_oci_hook,
};

static void usage(FILE *f)
{
	fprintf(
	    f, "usage: dvmount-bench [--quick] [--rounds N] [--warmup N] [--out DIR] [--json]\n"
	       "                     [--state-dir DIR] [--compare BASE.json [--against CUR.json]]\n"
	       "                     [--threshold PCT] [--commit TEXT] [--no-counts] [--list]\n"
	       "                     [--dvmount PATH] [--testplugin PATH] [--floor PATH]\n"
	       "                     [SCENARIO...]\n"
	       "Runs each selected scenario (default: all) with its baselines; with --compare,\n"
	       "exits 1 when dvmount got worse than BASE.json. See dvmount-bench(1).\n");
}

static const struct bench_scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
		if (!strcmp(scenarios[i]->name, name))
			return scenarios[i];
	return NULL;
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

/*
 * name next to our own binary; for dvmount also the sbin of an installed
 * tree (make install puts the bench in PREFIX/libexec/dvmount).
 */
static int find_program(const char *name, bool installed, char ret[static PATH_MAX])
{
	static const char *const alt_dirs[] = { "../../sbin", "../sbin" };
	char self[PATH_MAX], *dir;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return negerrno();
	self[n] = '\0';
	dir = dirname(self);
	snprintf(ret, PATH_MAX, "%s/%s", dir, name);
	if (access(ret, X_OK) == 0)
		return 0;
	for (size_t i = 0; installed && i < ARRAY_SIZE(alt_dirs); i++) {
		snprintf(ret, PATH_MAX, "%s/%s/%s", dir, alt_dirs[i], name);
		if (access(ret, X_OK) == 0)
			return 0;
	}
	return -ENOENT;
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

static void remove_tree(char *path)
{
	if (!path[0])
		return;
	/* FTW_MOUNT: should anything still be mounted below, never cross into it. */
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	path[0] = '\0';
}

/*
 * The run's directory: a fresh tmpfs when we have our own mount namespace
 * (so a test plugin's files never touch the disk and the unmount takes them
 * all), else a plain directory. Never the state: see statedir_make.
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
	remove_tree(ctx->tmpdir);
}

static const char *fs_name(unsigned long type)
{
	switch (type) {
	case TMPFS_MAGIC:
		return "tmpfs";
	case EXT4_SUPER_MAGIC:
		return "ext4";
	case XFS_SUPER_MAGIC:
		return "xfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlay";
	default:
		return NULL;
	}
}

/*
 * The state dirs go where dvmount's state would live: in the state dir the
 * user names, or the default's, or else in its nearest existing parent. A
 * tmpfs there would hide what every durable write costs (issue 11): the
 * run's own tmpfs is never used for state.
 */
static int statedir_make(struct bench_ctx *ctx, const char *user_dir)
{
	char dir[PATH_MAX];
	struct statfs sf;
	const char *name;
	int n;

	snprintf(dir, sizeof(dir), "%s", user_dir);
	while (access(dir, F_OK) < 0) {
		char *slash = strrchr(dir, '/');

		if (!slash || slash == dir) {
			snprintf(dir, sizeof(dir), "/");
			break;
		}
		*slash = '\0';
	}
	n = snprintf(ctx->statedir, sizeof(ctx->statedir), "%s/.dvmount-bench.XXXXXX",
		     strcmp(dir, "/") ? dir : "");
	if (n < 0 || (size_t)n >= sizeof(ctx->statedir) - 128)
		return -ENAMETOOLONG;
	if (!mkdtemp(ctx->statedir)) {
		ctx->statedir[0] = '\0';
		return negerrno();
	}
	if (statfs(ctx->statedir, &sf) < 0)
		return negerrno();
	name = fs_name((unsigned long)sf.f_type);
	if (name)
		snprintf(ctx->state_fs, sizeof(ctx->state_fs), "%s", name);
	else
		snprintf(ctx->state_fs, sizeof(ctx->state_fs), "0x%lx", (unsigned long)sf.f_type);
	return 0;
}

static json_object *load_results(const char *path)
{
	json_object *doc = json_object_from_file(path);

	if (doc &&
	    !json_object_is_type(json_object_object_get(doc, "scenarios"), json_type_object)) {
		json_object_put(doc);
		return NULL;
	}
	return doc;
}

int main(int argc, char **argv)
{
	enum {
		OPT_QUICK = 256,
		OPT_OUT,
		OPT_STATE_DIR,
		OPT_COMPARE,
		OPT_AGAINST,
		OPT_THRESHOLD,
		OPT_COMMIT,
		OPT_FLOOR,
		OPT_NO_COUNTS
	};
	static const struct option options[] = {
		{ "rounds", required_argument, NULL, 'r' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "quick", no_argument, NULL, OPT_QUICK },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "compare", required_argument, NULL, OPT_COMPARE },
		{ "against", required_argument, NULL, OPT_AGAINST },
		{ "threshold", required_argument, NULL, OPT_THRESHOLD },
		{ "commit", required_argument, NULL, OPT_COMMIT },
		{ "no-counts", no_argument, NULL, OPT_NO_COUNTS },
		{ "json", no_argument, NULL, 'j' },
		{ "list", no_argument, NULL, 'l' },
		{ "dvmount", required_argument, NULL, 'd' },
		{ "testplugin", required_argument, NULL, 't' },
		{ "floor", required_argument, NULL, OPT_FLOOR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct bench_ctx ctx = { .rounds = DEFAULT_ROUNDS, .warmup = DEFAULT_WARMUP };
	static struct bench_report report;
	_cleanup_json_ json_object *base = NULL, *cur = NULL;
	struct sigaction sa = { .sa_handler = on_signal };
	bool selected[ARRAY_SIZE(scenarios)] = { false }, json = false, any = false;
	bool rounds_set = false, warmup_set = false, no_counts = false;
	const char *out_dir = NULL, *user_state = DEFAULT_STATE_DIR, *compare = NULL;
	const char *against = NULL, *names[ARRAY_SIZE(scenarios) + 1] = { NULL };
	double threshold = DEFAULT_THRESHOLD;
	size_t n_names = 0;
	int opt, r, status = 0;

	snprintf(ctx.commit, sizeof(ctx.commit), "unknown");
	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		char *end;

		switch (opt) {
		case 'r':
		case 'w':
			if (parse_count(optarg, opt == 'r' ? 1 : 0,
					opt == 'r' ? BENCH_ROUNDS_MAX : BENCH_WARMUP_MAX,
					opt == 'r' ? &ctx.rounds : &ctx.warmup) < 0) {
				fprintf(stderr,
					"dvmount-bench: --%s: expected %s to %u, not '%s'\n",
					opt == 'r' ? "rounds" : "warmup", opt == 'r' ? "1" : "0",
					opt == 'r' ? BENCH_ROUNDS_MAX : BENCH_WARMUP_MAX, optarg);
				return 2;
			}
			*(opt == 'r' ? &rounds_set : &warmup_set) = true;
			break;
		case OPT_QUICK:
			ctx.quick = true;
			break;
		case OPT_OUT:
			out_dir = optarg;
			break;
		case OPT_STATE_DIR:
			if (optarg[0] != '/') {
				fprintf(stderr,
					"dvmount-bench: --state-dir: '%s' is not an "
					"absolute path\n",
					optarg);
				return 2;
			}
			user_state = optarg;
			break;
		case OPT_COMPARE:
			compare = optarg;
			break;
		case OPT_AGAINST:
			against = optarg;
			break;
		case OPT_THRESHOLD:
			errno = 0;
			threshold = strtod(optarg, &end);
			if (errno || end == optarg || *end || threshold < 0 || threshold > 1000) {
				fprintf(stderr,
					"dvmount-bench: --threshold: expected a percentage "
					"from 0 to 1000, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case OPT_COMMIT:
			snprintf(ctx.commit, sizeof(ctx.commit), "%s", optarg);
			break;
		case OPT_NO_COUNTS:
			no_counts = true;
			break;
		case 'j':
			json = true;
			break;
		case 'l':
			for (size_t i = 0; i < ARRAY_SIZE(scenarios); i++)
				printf("%s: %s\n", scenarios[i]->name, scenarios[i]->what);
			return 0;
		case 'd':
		case 't':
		case OPT_FLOOR:
			if (set_program(optarg, opt == 'd'   ? ctx.dvmount
						: opt == 't' ? ctx.testplugin
							     : ctx.floor) < 0) {
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
		const struct bench_scenario *s = find_scenario(argv[i]);

		if (!s) {
			fprintf(stderr, "dvmount-bench: unknown scenario '%s' (see --list)\n",
				argv[i]);
			return 2;
		}
		for (size_t g = 0; g < ARRAY_SIZE(scenarios); g++)
			if (scenarios[g] == s && !selected[g]) {
				selected[g] = true;
				names[n_names++] = s->name;
			}
	}
	if (against && !compare) {
		fprintf(stderr, "dvmount-bench: --against needs --compare BASE.json\n");
		return 2;
	}
	if (compare) {
		base = load_results(compare);
		if (!base) {
			fprintf(stderr, "dvmount-bench: --compare: '%s' is not a results.json\n",
				compare);
			return 2;
		}
	}
	/* Two documents: nothing to run. */
	if (against) {
		cur = load_results(against);
		if (!cur) {
			fprintf(stderr, "dvmount-bench: --against: '%s' is not a results.json\n",
				against);
			return 2;
		}
		r = bench_compare(base, cur, threshold, names);
		if (r == -ENODATA)
			fprintf(stderr,
				"dvmount-bench: --compare: no result of dvmount's is in "
				"both '%s' and '%s'\n",
				compare, against);
		return r == 0 ? 0 : 1;
	}
	if (ctx.quick) {
		if (!rounds_set)
			ctx.rounds = 1;
		if (!warmup_set)
			ctx.warmup = 0;
	}
	/* Compared with a base and nothing named: the base's scenarios. */
	if (optind == argc)
		for (size_t g = 0; g < ARRAY_SIZE(scenarios); g++) {
			json_object *bsc = base ? json_object_object_get(base, "scenarios") : NULL;
			bool in_base = !base;

			if (bsc) {
				json_object_object_foreach(bsc, key, val)
				{
					const char *s = json_object_get_string(
					    json_object_object_get(val, "scenario"));

					(void)key;
					in_base |= s && !strcmp(s, scenarios[g]->name);
				}
			}
			selected[g] = in_base;
		}

	if (!ctx.dvmount[0] && find_program("dvmount", true, ctx.dvmount) < 0) {
		fprintf(stderr, "dvmount-bench: dvmount not found next to this program: "
				"use --dvmount PATH\n");
		return 2;
	}
	if (!ctx.testplugin[0] && find_program("dvmount-testplugin", false, ctx.testplugin) < 0) {
		fprintf(stderr, "dvmount-bench: dvmount-testplugin not found next to this "
				"program: use --testplugin PATH\n");
		return 2;
	}
	if (!ctx.floor[0] && find_program("dvmount-bench-floor", false, ctx.floor) < 0) {
		fprintf(stderr, "dvmount-bench: dvmount-bench-floor not found next to this "
				"program: use --floor PATH\n");
		return 2;
	}
	if (!no_counts && access(STRACE, X_OK) == 0)
		snprintf(ctx.strace, sizeof(ctx.strace), "%s", STRACE);
	else if (!no_counts)
		fprintf(stderr,
			"dvmount-bench: no %s (apt-get install strace): syscalls are not "
			"counted\n",
			STRACE);
	/* Test-only: the deliberate regression --compare must catch (bench_test). */
	ctx.preload = secure_getenv("DVMOUNT_BENCH_PRELOAD");

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
	r = statedir_make(&ctx, user_state);
	if (r < 0) {
		fprintf(stderr, "dvmount-bench: cannot make a state dir beside '%s': %s\n",
			user_state, strerror(-r));
		remove_tree(ctx.statedir);
		tmpdir_remove(&ctx);
		return 1;
	}

	for (size_t g = 0; g < ARRAY_SIZE(scenarios) && !bench_stop; g++) {
		if (!selected[g])
			continue;
		if (scenarios[g]->needs_mount_ns && !ctx.private_ns) {
			fprintf(stderr,
				"dvmount-bench: %s: skipped: needs a private mount "
				"namespace (run as root)\n",
				scenarios[g]->name);
			status = 1;
			continue;
		}
		ctx.err[0] = '\0';
		r = scenarios[g]->run(&ctx, &report);
		if (r < 0) {
			fprintf(stderr, "dvmount-bench: %s: %s\n", scenarios[g]->name,
				ctx.err[0] ? ctx.err : strerror(-r));
			status = 1;
			continue;
		}
		any = true;
	}
	tmpdir_remove(&ctx);
	remove_tree(ctx.statedir);

	cur = bench_report_json(&report, &ctx);
	if (!cur) {
		fprintf(stderr, "dvmount-bench: out of memory\n");
		bench_report_free(&report);
		return 1;
	}
	if (json)
		printf("%s\n", json_object_to_json_string_ext(
				   cur, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
	else if (!compare)
		bench_report_print(&report);
	if (out_dir) {
		r = bench_report_write(&ctx, &report, out_dir);
		if (r < 0) {
			fprintf(stderr, "dvmount-bench: %s\n", ctx.err);
			status = 1;
		}
	}
	bench_report_free(&report);
	if (bench_stop) {
		fprintf(stderr, "dvmount-bench: interrupted\n");
		return 1;
	}
	if (compare) {
		fflush(stdout);
		r = bench_compare(base, cur, threshold, names);
		if (r == -ENODATA)
			fprintf(stderr,
				"dvmount-bench: --compare: no result of dvmount's is in "
				"both '%s' and this run\n",
				compare);
		if (r != 0)
			status = 1;
	}
	return status || !any ? 1 : 0;
}
