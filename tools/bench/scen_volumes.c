/* SPDX-License-Identifier: MIT */
/*
 * The scenarios of a prepare's N volumes, all on dvmount-testplugin through
 * the real command line (exec'd, as a containerizer runs it):
 *
 *  attach       prepare --pid + cleanup of N volumes the plugin has mounted
 *               already (a holder container, prepared once without --pid and
 *               never cleaned up, keeps them), against the floor program
 *               (dvmount-bench-floor: open_tree, one setns, move_mount) and the
 *               script an operator writes (per volume: curl --unix-socket to
 *               Mount, nsenter -t PID -m mount --bind; and back), and the
 *               contract floor (the floor program with --state: plus one
 *               flock'd lock file and one user entry per volume, the least
 *               that ../shared/DESIGN.md's State section asks for).
 *  first-mount  the same with volumes created but not mounted: each round's
 *               prepare gets the plugin's Mount, its cleanup the Unmount.
 *  concurrency  prepare (no --pid) of N volumes on a plugin whose Mount takes
 *               50 ms, at max-in-flight 1 (the default) and 64, against one
 *               volume: the wall time against the slowest single Mount (ideal
 *               1.0) and against the serial sum.
 *  transport    attach and concurrency on io_uring and with --no-uring.
 *
 * Every round that attaches starts a fresh container (a sleeping child in its
 * own mount namespace); its end, not timed, takes its mounts along. Targets
 * are directories of the run, which each container's namespace copied.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/macro.h"
#include "ns/ns.h"
#include "tools/bench/bench.h"

#define VOLUMES_MAX 256
#define SIZES_MAX 4
#define LATENCY_MS 50
#define STR_(x) #x
#define STR(x) STR_(x)
#define SCRIPT_ID "script"
#define CURL "/usr/bin/curl"
#define NSENTER "/usr/bin/nsenter"

static const unsigned sizes_full[] = { 1, 8, 64, 256 };
static const unsigned sizes_quick[] = { 1, 8 };

/* The operator's script: $1 the container's pid, $2 the plugin's socket, then NAME TARGET pairs. */
static const char attach_sh[] =
    "#!/bin/sh\n"
    "set -e\n"
    "pid=$1 sock=$2\n"
    "shift 2\n"
    "while [ $# -gt 0 ]; do\n"
    "\tmp=$(" CURL " -sSf --unix-socket \"$sock\" -H 'Content-Type: application/json' \\\n"
    "\t\t-d \"{\\\"Name\\\":\\\"$1\\\",\\\"ID\\\":\\\"" SCRIPT_ID "\\\"}\" "
    "http://plugin/VolumeDriver.Mount |\n"
    "\t\tsed -n 's/.*\"Mountpoint\":\"\\([^\"]*\\)\".*/\\1/p')\n"
    "\t" NSENTER " -t \"$pid\" -m mount --bind \"$mp\" \"$2\"\n"
    "\tshift 2\n"
    "done\n";
static const char detach_sh[] =
    "#!/bin/sh\n"
    "set -e\n"
    "pid=$1 sock=$2\n"
    "shift 2\n"
    "while [ $# -gt 0 ]; do\n"
    "\t" NSENTER " -t \"$pid\" -m umount \"$2\"\n"
    "\t" CURL " -sSf --unix-socket \"$sock\" -H 'Content-Type: application/json' \\\n"
    "\t\t-d \"{\\\"Name\\\":\\\"$1\\\",\\\"ID\\\":\\\"" SCRIPT_ID "\\\"}\" "
    "http://plugin/VolumeDriver.Unmount >/dev/null\n"
    "\tshift 2\n"
    "done\n";

struct vol_env {
	const char *scenario;
	struct bench_cli cli;
	char state_dir[PATH_MAX];
	char contract_dir[PATH_MAX]; /* the contract floor's --state */
	char names[VOLUMES_MAX][BENCH_NAME_MAX];
	char src[VOLUMES_MAX][PATH_MAX]; /* the plugin's mountpoints */
	char dst[VOLUMES_MAX][PATH_MAX];
	char files[SIZES_MAX][PATH_MAX]; /* --volumes files, one per size */
	char attach_sh[PATH_MAX], detach_sh[PATH_MAX];
	unsigned sizes[SIZES_MAX];
	size_t n_sizes;
	unsigned max;
	bool premounted;
	unsigned seq; /* container ids are never reused */
};

enum kind { KIND_DVMOUNT, KIND_FLOOR, KIND_SCRIPT, KIND_CONTRACT };

struct vol_case {
	struct vol_env *env;
	const struct bench_cli *cli; /* env's, or a copy with another policy or --no-uring */
	enum kind kind;
	unsigned n;
	const char *file;
	bool pid; /* attach into a container; else prepare on the host only */
	bool timed_cleanup;
	char name[BENCH_NAME_MAX];
};

static void vol_env_freep(struct vol_env **e)
{
	if (!*e)
		return;
	bench_cli_stop(&(*e)->cli);
	free(*e);
	*e = NULL;
}

static void container_stopp(struct bench_container *ct)
{
	bench_container_stop(ct);
}

/* How many of the first n targets are mount roots in the container's namespace. */
static unsigned count_attached(const struct vol_env *e, const struct bench_container *ct,
			       unsigned n)
{
	char path[PATH_MAX + 32];
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		/* /proc/PID/root: the lookup continues in the container's mounts. */
		snprintf(path, sizeof(path), "/proc/%d/root%s", (int)ct->pid, e->dst[i]);
		k += ns_is_mounted(AT_FDCWD, path, NULL) == 1;
	}
	return k;
}

static int check_attached(struct bench_ctx *ctx, const struct vol_case *c,
			  const struct bench_container *ct, unsigned want, const char *after)
{
	unsigned k = count_attached(c->env, ct, c->n);

	if (k != want)
		return bench_fail(ctx, -EPROTO,
				  "%s: after the %s, %u of %u targets are mounts "
				  "in pid %d (expected %u)",
				  c->name, after, k, c->n, (int)ct->pid, want);
	return 0;
}

static int round_dvmount(struct bench_ctx *ctx, const struct vol_case *c, double ms[])
{
	struct vol_env *e = c->env;
	_cleanup_(container_stopp) struct bench_container ct = { .pidfd = -EBADF };
	char cid[48], pid[16], out[BENCH_OUT_MAX];
	char *prepare[] = { "prepare",	     "--container-id",	      cid, "--volumes",
			    (char *)c->file, c->pid ? "--pid" : NULL, pid, NULL };
	char *cleanup[] = { "cleanup", "--container-id", cid, NULL };
	int r;

	if (c->pid) {
		r = bench_container_start(&ct);
		if (r < 0)
			return bench_fail(ctx, r, "container: %s", strerror(-r));
		snprintf(pid, sizeof(pid), "%d", (int)ct.pid);
	}
	snprintf(cid, sizeof(cid), "bench-%s-%u", e->scenario, e->seq++);
	r = bench_cli_run(ctx, c->cli, e->state_dir, 0, prepare, out, &ms[0]);
	if (r == 0)
		r = bench_cli_check_prepared(ctx, out, cid);
	if (r == 0 && c->pid)
		r = check_attached(ctx, c, &ct, c->n, "prepare");
	if (r < 0)
		return r;
	r = bench_cli_run(ctx, c->cli, e->state_dir, c->timed_cleanup ? 1 : -1, cleanup, out,
			  &ms[1]);
	if (r == 0 && c->pid)
		r = check_attached(ctx, c, &ct, 0, "cleanup");
	return r;
}

/* argv of the floor program or the script: PREFIX... PID [SOCK] then pairs. */
static int run_pairs(struct bench_ctx *ctx, const struct vol_case *c, unsigned part,
		     const char *what, char *const *prefix, pid_t pid, double *ret_ms)
{
	struct vol_env *e = c->env;
	_cleanup_free_ char **argv = calloc(BENCH_ARGV_MAX, sizeof(*argv));
	char pids[16], out[BENCH_OUT_MAX];
	bool names = c->kind == KIND_SCRIPT || !e->premounted;
	size_t n = 0;
	int r;

	if (!argv)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	snprintf(pids, sizeof(pids), "%d", (int)pid);
	while (*prefix)
		argv[n++] = *prefix++;
	argv[n++] = pids;
	if (names) {
		if (c->kind != KIND_SCRIPT)
			argv[n++] = "--socket";
		argv[n++] = (char *)c->cli->plugin.sock;
	}
	if (c->kind == KIND_CONTRACT) {
		argv[n++] = "--state";
		argv[n++] = e->contract_dir;
	}
	for (unsigned i = 0; i < c->n; i++) {
		argv[n++] = names ? e->names[i] : e->src[i];
		argv[n++] = e->dst[i];
	}
	argv[n] = NULL;
	r = bench_exec_part(ctx, part, argv, NULL, out, sizeof(out), ret_ms);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "%s: %s exited %d: %.200s", c->name,
				  what, r, out);
	return 0;
}

static int round_baseline(struct bench_ctx *ctx, const struct vol_case *c, double ms[])
{
	struct vol_env *e = c->env;
	_cleanup_(container_stopp) struct bench_container ct = { .pidfd = -EBADF };
	char *floor_attach[] = { ctx->floor, "attach", NULL };
	char *floor_detach[] = { ctx->floor, "detach", NULL };
	char *sh_attach[] = { "/bin/sh", e->attach_sh, NULL };
	char *sh_detach[] = { "/bin/sh", e->detach_sh, NULL };
	bool fl = c->kind != KIND_SCRIPT;
	int r;

	r = bench_container_start(&ct);
	if (r < 0)
		return bench_fail(ctx, r, "container: %s", strerror(-r));
	r = run_pairs(ctx, c, 0, fl ? "the floor's attach" : "the operator's script",
		      fl ? floor_attach : sh_attach, ct.pid, &ms[0]);
	if (r == 0)
		r = check_attached(ctx, c, &ct, c->n, "attach");
	if (r == 0)
		r = run_pairs(ctx, c, 1, fl ? "the floor's detach" : "the operator's script",
			      fl ? floor_detach : sh_detach, ct.pid, &ms[1]);
	if (r == 0)
		r = check_attached(ctx, c, &ct, 0, "detach");
	return r;
}

static int round_vol(struct bench_ctx *ctx, void *state, double ms[BENCH_PARTS_MAX])
{
	const struct vol_case *c = state;

	return c->kind == KIND_DVMOUNT ? round_dvmount(ctx, c, ms) : round_baseline(ctx, c, ms);
}

/*
 * The plugin (fault may be NULL), the state dir, names and targets, the
 * --volumes files, the scripts; with premounted, the holder that keeps every
 * volume mounted, else each volume created and left unmounted.
 */
static int vol_env_setup(struct bench_ctx *ctx, struct vol_env *e, const char *scenario,
			 const char *tag, const char *fault, const char *policy_extra,
			 bool premounted, unsigned limit)
{
	char dir[PATH_MAX], rel[96], out[BENCH_OUT_MAX], driver[BENCH_NAME_MAX];
	char *names[VOLUMES_MAX], *targets[VOLUMES_MAX];
	char holder_id[64],
	    *holder[] = { "prepare", "--container-id", holder_id, "--volumes", NULL, NULL };
	char *unhold[] = { "cleanup", "--container-id", holder_id, NULL };
	int r;

	e->scenario = scenario;
	e->premounted = premounted;
	/* limit: sizes up to it only (a 50 ms Mount makes 256 volumes cost 13 s of set-up). */
	for (size_t k = 0; k < (ctx->quick ? ARRAY_SIZE(sizes_quick) : ARRAY_SIZE(sizes_full));
	     k++) {
		unsigned sz = ctx->quick ? sizes_quick[k] : sizes_full[k];

		if (sz <= limit)
			e->sizes[e->n_sizes++] = sz;
	}
	e->max = e->sizes[e->n_sizes - 1];
	/* tag: the scenario's own driver, state dir and files, apart from any other's. */
	snprintf(driver, sizeof(driver), "b-%s", tag);
	r = bench_cli_start(ctx, driver, fault, policy_extra, &e->cli);
	if (r < 0)
		return r;
	r = bench_state_dir(ctx, tag, e->state_dir);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "%s-contract", tag);
	r = bench_state_dir(ctx, rel, e->contract_dir);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "%s", tag);
	r = bench_cli_mkdirs(ctx, rel, dir);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < e->max; i++) {
		snprintf(e->names[i], sizeof(e->names[i]), "v%u", i);
		snprintf(rel, sizeof(rel), "%s/dst/%u", tag, i);
		r = bench_cli_mkdirs(ctx, rel, e->dst[i]);
		if (r < 0)
			return r;
		/* The test plugin's layout (dvmount-testplugin(1)). */
		if ((size_t)snprintf(e->src[i], sizeof(e->src[i]), "%s/volumes/v%u/data",
				     e->cli.root, i) >= sizeof(e->src[i]))
			return bench_fail(ctx, -ENAMETOOLONG, "plugin root too long");
		names[i] = e->names[i];
		targets[i] = e->dst[i];
	}
	for (size_t k = 0; k < e->n_sizes; k++) {
		snprintf(e->files[k], sizeof(e->files[k]), "%s/volumes%u.json", dir, e->sizes[k]);
		r = bench_cli_volumes_file(ctx, driver, e->files[k], names, targets, e->sizes[k]);
		if (r < 0)
			return r;
	}
	snprintf(e->attach_sh, sizeof(e->attach_sh), "%s/attach.sh", dir);
	snprintf(e->detach_sh, sizeof(e->detach_sh), "%s/detach.sh", dir);
	r = bench_write_file(e->attach_sh, attach_sh, 0755);
	if (r == 0)
		r = bench_write_file(e->detach_sh, detach_sh, 0755);
	if (r < 0)
		return bench_fail(ctx, r, "cannot write the scripts in '%s': %s", dir,
				  strerror(-r));

	/* Not timed: the plugin Creates (and, for a holder, Mounts) every volume. */
	snprintf(holder_id, sizeof(holder_id), "bench-%s-holder", scenario);
	holder[4] = e->files[e->n_sizes - 1];
	r = bench_cli_run(ctx, &e->cli, e->state_dir, -1, holder, out, NULL);
	if (r == 0)
		r = bench_cli_check_prepared(ctx, out, holder_id);
	if (r == 0 && !premounted)
		r = bench_cli_run(ctx, &e->cli, e->state_dir, -1, unhold, out, NULL);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < e->max; i++)
		if (access(e->src[i], F_OK) < 0)
			return bench_fail(ctx, -ENOENT, "the plugin made no '%s'", e->src[i]);
	return 0;
}

static struct vol_case vol_case(struct vol_env *e, const struct bench_cli *cli, enum kind kind,
				size_t size_idx, bool pid, const char *tag)
{
	static const char *const kinds[] = { "dvmount", "floor", "script", "contract" };
	struct vol_case c = { .env = e,
			      .cli = cli,
			      .kind = kind,
			      .n = e->sizes[size_idx],
			      .file = e->files[size_idx],
			      .pid = pid,
			      .timed_cleanup = true };

	snprintf(c.name, sizeof(c.name), "%s%s.n%u", kinds[kind], tag, c.n);
	return c;
}

static struct bench_case bench_case_of(struct vol_case *c, bool two_parts)
{
	return (struct bench_case){ .name = c->name,
				    .x = c->n,
				    .volumes = c->n,
				    .gated = c->kind == KIND_DVMOUNT,
				    .counted = true,
				    .parts = { two_parts ? "prepare" : NULL,
					       two_parts ? "cleanup" : NULL },
				    .round = round_vol,
				    .state = c };
}

/* Rounds for a size: the largest gets fewer, so `make bench` stays under 10 minutes. */
static unsigned rounds_for(const struct bench_ctx *ctx, unsigned n)
{
	return n >= 256 && ctx->rounds > 3 ? (ctx->rounds + 1) / 2 : ctx->rounds;
}

static int run_attach_like(struct bench_ctx *ctx, struct bench_report *report, const char *scenario,
			   bool premounted)
{
	_cleanup_(vol_env_freep) struct vol_env *e = calloc(1, sizeof(*e));
	bool script = access(CURL, X_OK) == 0 && access(NSENTER, X_OK) == 0;
	int r;

	if (!e)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	e->cli.plugin.pidfd = -EBADF;
	r = vol_env_setup(ctx, e, scenario, scenario, NULL, NULL, premounted, VOLUMES_MAX);
	if (r < 0)
		return r;
	if (!script)
		bench_report_skip(report, scenario,
				  "no " CURL " or " NSENTER ": the operator's "
				  "script is not measured");
	for (size_t k = 0; k < e->n_sizes; k++) {
		struct vol_case vc[4];
		struct bench_case cases[5];
		char dw[BENCH_NAME_MAX];
		size_t n = 0;
		char num[BENCH_NAME_MAX], den[BENCH_NAME_MAX], name[BENCH_NAME_MAX];

		vc[n] = vol_case(e, &e->cli, KIND_DVMOUNT, k, true, "");
		cases[n] = bench_case_of(&vc[n], true);
		n++;
		vc[n] = vol_case(e, &e->cli, KIND_FLOOR, k, true, "");
		cases[n] = bench_case_of(&vc[n], true);
		n++;
		if (script) {
			vc[n] = vol_case(e, &e->cli, KIND_SCRIPT, k, true, "");
			cases[n] = bench_case_of(&vc[n], true);
			n++;
		}
		if (premounted) {
			vc[n] = vol_case(e, &e->cli, KIND_CONTRACT, k, true, "");
			cases[n] = bench_case_of(&vc[n], true);
			n++;
		}
		/* The floor and the script make no durable write: this baseline does. */
		snprintf(dw, sizeof(dw), "durable-write.n%u", e->sizes[k]);
		cases[n++] = BENCH_DURABLE_WRITE(dw);
		r = bench_group_run(ctx, scenario, cases, n, rounds_for(ctx, e->sizes[k]), report);
		if (r < 0)
			return r;
		snprintf(num, sizeof(num), "%s.dvmount.n%u.prepare", scenario, e->sizes[k]);
		snprintf(den, sizeof(den), "%s.floor.n%u.prepare", scenario, e->sizes[k]);
		snprintf(name, sizeof(name), "%s.n%u.dvmount-vs-floor", scenario, e->sizes[k]);
		bench_report_ratio(report, name, num, den, 1);
		snprintf(den, sizeof(den), "%s.script.n%u.prepare", scenario, e->sizes[k]);
		snprintf(name, sizeof(name), "%s.n%u.script-vs-dvmount", scenario, e->sizes[k]);
		bench_report_ratio(report, name, den, num, 1);
		if (!premounted)
			continue;
		snprintf(num, sizeof(num), "%s.contract.n%u.prepare", scenario, e->sizes[k]);
		snprintf(den, sizeof(den), "%s.floor.n%u.prepare", scenario, e->sizes[k]);
		snprintf(name, sizeof(name), "%s.n%u.contract-vs-floor", scenario, e->sizes[k]);
		bench_report_ratio(report, name, num, den, 1);
	}
	return 0;
}

static int run_attach(struct bench_ctx *ctx, struct bench_report *report)
{
	return run_attach_like(ctx, report, "attach", true);
}

static int run_first_mount(struct bench_ctx *ctx, struct bench_report *report)
{
	return run_attach_like(ctx, report, "first-mount", false);
}

/*
 * A copy of the env's cli with one more line in its driver section, in its
 * own policy file; -EPROTO when dvmount's `policy check` refuses it (a key
 * this dvmount does not know), with the reason in ctx->err.
 */
static int cli_with_policy(struct bench_ctx *ctx, struct vol_env *e, const char *tag,
			   const char *line, struct bench_cli *ret)
{
	char text[3 * PATH_MAX], out[BENCH_OUT_MAX], *check[] = { "policy", "check", NULL, NULL };
	int r;

	*ret = e->cli;
	snprintf(ret->policy, sizeof(ret->policy), "%s-%s", e->cli.policy, tag);
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\nmax-volumes = 1024\n\n[driver %s]\nhost-paths = %s\n"
		 "modes = RW RO\n%s\n",
		 e->cli.plugin.name, e->cli.root, line);
	unlink(ret->policy);
	r = bench_write_file(ret->policy, text, 0644);
	if (r < 0)
		return bench_fail(ctx, r, "cannot write '%s': %s", ret->policy, strerror(-r));
	check[2] = ret->policy;
	return bench_cli_run(ctx, ret, e->state_dir, -1, check, out, NULL);
}

static int run_concurrency_like(struct bench_ctx *ctx, struct bench_report *report,
				const char *scenario, bool transport)
{
	_cleanup_(vol_env_freep) struct vol_env *e = calloc(1, sizeof(*e));
	struct bench_cli mif64, nouring, nouring64;
	struct vol_case vc[6];
	struct bench_case cases[8];
	bool have_mif;
	size_t n = 0;
	int r;

	if (!e)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	e->cli.plugin.pidfd = -EBADF;
	r = vol_env_setup(ctx, e, scenario, transport ? "transport-concurrency" : scenario,
			  "Mount latency " STR(LATENCY_MS), "max-in-flight = 1\n", false, 64);
	if (r < 0)
		return r;
	/* Scenario 3 of issue 12 needs the policy's max-in-flight (issue 8). */
	have_mif = cli_with_policy(ctx, e, "mif64", "max-in-flight = 64", &mif64) == 0;
	if (!have_mif)
		bench_report_skip(report, scenario,
				  "max-in-flight = 64: this dvmount's policy "
				  "refuses the key: only the default is measured");
	nouring = e->cli;
	nouring.global = "--no-uring";
	nouring64 = mif64;
	nouring64.global = "--no-uring";

	for (size_t k = 0; k < e->n_sizes; k++) {
		unsigned sz = e->sizes[k];

		if (transport ? sz < 8 : (sz != 1 && sz != 8 && sz != 64))
			continue;
		if (transport) {
			vc[n++] = vol_case(e, have_mif ? &mif64 : &e->cli, KIND_DVMOUNT, k, false,
					   have_mif ? ".mif64.uring" : ".mif1.uring");
			vc[n++] = vol_case(e, have_mif ? &nouring64 : &nouring, KIND_DVMOUNT, k,
					   false, have_mif ? ".mif64.nouring" : ".mif1.nouring");
			continue;
		}
		if (sz == 1) {
			vc[n++] = vol_case(e, &e->cli, KIND_DVMOUNT, k, false, "");
			continue;
		}
		vc[n++] = vol_case(e, &e->cli, KIND_DVMOUNT, k, false, ".mif1");
		if (have_mif)
			vc[n++] = vol_case(e, &mif64, KIND_DVMOUNT, k, false, ".mif64");
	}
	for (size_t i = 0; i < n; i++) {
		/* The plugin phase is what this measures: the cleanup is not timed. */
		vc[i].timed_cleanup = false;
		cases[i] = bench_case_of(&vc[i], false);
		cases[i].volumes = 0;
	}
	cases[n] = BENCH_EXEC_TRUE(transport ? "exec-true.concurrency" : "exec-true");
	cases[n + 1] =
	    BENCH_DURABLE_WRITE(transport ? "durable-write.concurrency" : "durable-write");
	r = bench_group_run(ctx, scenario, cases, n + 2, ctx->quick ? 1 : MIN(ctx->rounds, 5),
			    report);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n && !transport; i++) {
		char num[BENCH_NAME_MAX], den[BENCH_NAME_MAX], name[BENCH_NAME_MAX];

		if (vc[i].n == 1)
			continue;
		snprintf(num, sizeof(num), "%s.%s", scenario, vc[i].name);
		snprintf(den, sizeof(den), "%s.dvmount.n1", scenario);
		snprintf(name, sizeof(name), "%s.%s.vs-slowest", scenario,
			 vc[i].name + strlen("dvmount."));
		bench_report_ratio(report, name, num, den, 1);
		snprintf(name, sizeof(name), "%s.%s.vs-serial", scenario,
			 vc[i].name + strlen("dvmount."));
		bench_report_ratio(report, name, num, den, vc[i].n);
	}
	return 0;
}

static int run_concurrency(struct bench_ctx *ctx, struct bench_report *report)
{
	return run_concurrency_like(ctx, report, "concurrency", false);
}

/* io_uring against the plain-syscalls: the attach (scenario 1) and the concurrency (3). */
static int run_transport(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(vol_env_freep) struct vol_env *e = calloc(1, sizeof(*e));
	struct bench_cli nouring;
	struct vol_case vc[6];
	struct bench_case cases[8];
	size_t n = 0;
	int r;

	if (!e)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	e->cli.plugin.pidfd = -EBADF;
	r = vol_env_setup(ctx, e, "transport", "transport", NULL, NULL, true, 64);
	if (r < 0)
		return r;
	nouring = e->cli;
	nouring.global = "--no-uring";
	for (size_t k = 0; k < e->n_sizes; k++) {
		if (e->sizes[k] < 8 || e->sizes[k] > 64)
			continue;
		vc[n++] = vol_case(e, &e->cli, KIND_DVMOUNT, k, true, ".attach.uring");
		vc[n++] = vol_case(e, &nouring, KIND_DVMOUNT, k, true, ".attach.nouring");
	}
	for (size_t i = 0; i < n; i++)
		cases[i] = bench_case_of(&vc[i], true);
	cases[n] = BENCH_EXEC_TRUE("exec-true.attach");
	cases[n + 1] = BENCH_DURABLE_WRITE("durable-write.attach");
	r = bench_group_run(ctx, "transport", cases, n + 2, 0, report);
	if (r < 0)
		return r;
	vol_env_freep(&e);
	return run_concurrency_like(ctx, report, "transport", true);
}

const struct bench_scenario bench_scenario_attach = {
	.name = "attach",
	.what = "prepare --pid + cleanup of N premounted volumes; floor program; operator script",
	.needs_mount_ns = true,
	.run = run_attach,
};

const struct bench_scenario bench_scenario_first_mount = {
	.name = "first-mount",
	.what = "the same with the plugin's Mount and Unmount in every round",
	.needs_mount_ns = true,
	.run = run_first_mount,
};

const struct bench_scenario bench_scenario_concurrency = {
	.name = "concurrency",
	.what = "prepare of 8 and 64 volumes, 50 ms Mounts, max-in-flight 1 and 64",
	.needs_mount_ns = true,
	.run = run_concurrency,
};

const struct bench_scenario bench_scenario_transport = {
	.name = "transport",
	.what = "attach and concurrency on io_uring and with --no-uring",
	.needs_mount_ns = true,
	.run = run_transport,
};
