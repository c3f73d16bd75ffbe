/* SPDX-License-Identifier: MIT */
/*
 * dvmount's entry point: harden the process, read the global options, pick the
 * command. Invoked as "dvdcli" (a symlink) it is the dvdcli drop-in.
 */
#include <getopt.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/debug.h"
#include "helper/caps.h"
#include "helper/dvmount.h"
#include "helper/error.h"
#include "helper/harden.h"
#include "helper/help.h"
#include "helper/lifecycle.h"
#include "helper/plugin/plugin.h"
#include "policy/policy.h"

static const struct command {
	const char *name;
	int (*run)(struct globals *g, int argc, char **argv, struct dv_error *err);
} commands[] = {
	{ "volume", cmd_volume },   { "dvdcli", cmd_dvdcli },	  { "prepare", cmd_prepare },
	{ "cleanup", cmd_cleanup }, { "recover", cmd_recover },	  { "status", cmd_status },
	{ "policy", cmd_policy },   { "oci-hook", cmd_oci_hook },
};

static void usage(FILE *f)
{
	help_print(f, NULL);
}

/* `dvmount COMMAND ... --help` (or -h first): the command's help, before any check. */
static bool wants_help(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "-h"))
		return true;
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help"))
			return true;
	return false;
}

/* 1..PLUGIN_SLOT_MAX calls in flight to one plugin. */
static int parse_max_in_flight(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < 1 || v > PLUGIN_SLOT_MAX)
		return -EINVAL;
	*ret = (unsigned)v;
	return 0;
}

/*
 * Invoked as "dvdcli" there are no global flags: root callers (Mesos' agent)
 * may set them in the environment instead.
 */
static void read_environment(struct globals *g)
{
	const char *v;

	v = secure_getenv("DVMOUNT_DEBUG");
	if (v)
		debug_mask |= debug_parse(v);
	if (secure_getenv("DVMOUNT_NO_URING"))
		g->no_uring = true;
	if (!g->caller_is_root)
		return;
	v = secure_getenv("DVMOUNT_PLUGIN_PATH");
	if (v && *v)
		g->plugin_path = v;
	v = secure_getenv("DVMOUNT_STATE_DIR");
	if (v && *v)
		g->state_dir = v;
	v = secure_getenv("DVMOUNT_MAX_IN_FLIGHT");
	if (v && *v && parse_max_in_flight(v, &g->max_in_flight) < 0)
		log_warn(g, "DVMOUNT_MAX_IN_FLIGHT='%s' ignored: expected 1 to %d", v,
			 PLUGIN_SLOT_MAX);
}

/* Seconds as a decimal with up to millisecond precision ("0.5", "120"). */
static int parse_seconds(const char *s, unsigned *ret_ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 86400)
		return -EINVAL;
	*ret_ms = (unsigned)(v * 1000.0 + 0.5);
	return 0;
}

enum {
	OPT_STATE_DIR = 256,
	OPT_POLICY,
	OPT_PLUGIN_PATH,
	OPT_JSON,
	OPT_DEBUG,
	OPT_NO_URING,
	OPT_PLUGIN_RETRY,
	OPT_TIMEOUT,
	OPT_TIMEOUT_MOUNT,
	OPT_MAX_IN_FLIGHT,
	OPT_HELP,
};

static const struct option global_options[] = {
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "plugin-path", required_argument, NULL, OPT_PLUGIN_PATH },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "no-uring", no_argument, NULL, OPT_NO_URING },
	{ "plugin-retry", required_argument, NULL, OPT_PLUGIN_RETRY },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "timeout-mount", required_argument, NULL, OPT_TIMEOUT_MOUNT },
	{ "max-in-flight", required_argument, NULL, OPT_MAX_IN_FLIGHT },
	{ "help", no_argument, NULL, OPT_HELP },
	{}
};

/*
 * Options that redirect where dvmount reads trust from, or override the
 * policy's max-in-flight (a plugin that deadlocks on overlapping calls would
 * stop for every user on the host): root callers only.
 */
static bool option_needs_root(int opt)
{
	return opt == OPT_STATE_DIR || opt == OPT_POLICY || opt == OPT_PLUGIN_PATH ||
	       opt == OPT_MAX_IN_FLIGHT;
}

/*
 * A caller that is not root (dvmount installed setuid or with file
 * capabilities) must be one the policy names; the volume and dvdcli commands,
 * which act on volumes without any container or policy rule, stay root's.
 */
static int gate_caller(struct globals *g, const char *command, struct dv_error *err)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	struct policy_error perr;
	struct policy_denial d;
	gid_t gids[257];
	int n;

	if (g->caller_is_root)
		return 0;
	if (!strcmp(command, "volume") || !strcmp(command, "dvdcli"))
		return dv_denied(
		    err, "'%s' is for root only; containers get volumes through prepare", command);
	if (policy_load(g->policy_file, NULL, &p, &perr) < 0)
		return dv_denied(err, "%s", perr.message);
	gids[0] = getgid();
	n = getgroups(256, gids + 1);
	if (policy_check_caller(p, getuid(), gids, n < 0 ? 1 : (size_t)n + 1, &d) < 0)
		return dv_denied(err, "denied by %s: %s", d.rule, d.reason);
	return 0;
}

static int run_dvmount(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	int opt;

	/* "+": stop at the command name; the command parses the rest. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", global_options, NULL)) != -1) {
		if (option_needs_root(opt) && !g->caller_is_root) {
			const struct option *o = global_options;

			while (o->name && o->val != opt)
				o++;
			return dv_usage(err, "option '--%s' is for root only", o->name);
		}
		switch (opt) {
		case OPT_STATE_DIR:
			g->state_dir = optarg;
			break;
		case OPT_POLICY:
			g->policy_file = optarg;
			break;
		case OPT_PLUGIN_PATH:
			g->plugin_path = optarg;
			break;
		case OPT_JSON:
			g->json = true;
			break;
		case OPT_DEBUG:
			debug_mask = DEBUG_ALL;
			break;
		case OPT_NO_URING:
			g->no_uring = true;
			break;
		case OPT_PLUGIN_RETRY:
		case OPT_TIMEOUT:
		case OPT_TIMEOUT_MOUNT: {
			unsigned *dst = opt == OPT_PLUGIN_RETRY ? &g->plugin_retry_ms
					: opt == OPT_TIMEOUT	? &g->timeout_other_ms
								: &g->timeout_mount_ms;
			if (parse_seconds(optarg, dst) < 0)
				return dv_usage(err, "invalid number of seconds '%s' for '%s'",
						optarg, argv[optind - 1]);
			break;
		}
		case OPT_MAX_IN_FLIGHT:
			if (parse_max_in_flight(optarg, &g->max_in_flight) < 0)
				return dv_usage(err,
						"invalid --max-in-flight '%s': expected 1 to %d",
						optarg, PLUGIN_SLOT_MAX);
			break;
		case 'h':
		case OPT_HELP:
			usage(stdout);
			return 0;
		default:
			return dv_usage(err,
					"unknown or incomplete option '%s' (see dvmount --help)",
					argv[optind - 1]);
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return dv_said(err, DV_ERROR_USAGE);
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* getopt re-initialises for the command's own options */
	if (wants_help(argc, argv) && help_print(stdout, argv[0]))
		return 0;
	if (!strcmp(argv[0], "version")) {
		printf("dvmount %s\n", DVMOUNT_VERSION);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(argv[0], commands[i].name)) {
			int r;

			g->prog = strcmp(argv[0], "dvdcli") ? "dvmount" : "dvdcli";
			r = gate_caller(g, argv[0], err);
			return r < 0 ? r : commands[i].run(g, argc, argv, err);
		}
	return dv_usage(err, "unknown command '%s' (see dvmount --help)", argv[0]);
}

/*
 * The one way out: what went wrong, said once, and the exit status that
 * its kind stands for (helper/error.h). A command that returned -errno
 * without saying why is a failure, told by its errno.
 */
static int finish(const struct globals *g, struct dv_error *err, int r)
{
	if (r < 0)
		dv_fail(err, r, "%s", strerror(-r));
	dv_error_print(g, err);
	return dv_exit_code(err);
}

int main(int argc, char **argv)
{
	struct globals g = {
		.state_dir = DEFAULT_STATE_DIR,
		.policy_file = DEFAULT_POLICY_FILE,
		.plugin_retry_ms = 15000,
		.timeout_mount_ms = 120000,
		.timeout_other_ms = 60000,
		.prog = "dvmount",
	};
	struct dv_error err = {};
	const char *base = strrchr(argv[0], '/');
	int r;

	/*
	 * A prepare of 64 volumes allocates some hundreds of KiB at once (the
	 * targets' ns_resolve results hold PATH_MAX each). Above glibc's default
	 * threshold (128 KiB) each such block is an mmap faulted in page by
	 * page, then an munmap with its TLB flush, and a trim of the heap after
	 * the next free, all in a process that lives for milliseconds (issue 11).
	 * From the heap, the pages freed serve the allocations that follow.
	 * Bounded: a block of 1 MiB or more still gets its own mapping.
	 */
	mallopt(M_MMAP_THRESHOLD, 1 << 20);
	mallopt(M_TRIM_THRESHOLD, 4 << 20);

	r = harden_process(&g.caller_is_root);
	if (r == 0)
		r = caps_drop("hardened", 0);
	if (r < 0) {
		dv_fail(&err, r, "cannot set up a safe process: %s", strerror(-r));
		return finish(&g, &err, r);
	}

	read_environment(&g);
	/* The recovery tests enumerate the crash points (lc_crash_point). */
	const char *crash = secure_getenv("DVMOUNT_CRASH_AT");

	if (crash && !strcmp(crash, "list")) {
		size_t n;
		const char *const *points = lc_crash_points(&n);

		for (size_t i = 0; i < n; i++)
			printf("%s\n", points[i]);
		return finish(&g, &err, 0);
	}
	base = base ? base + 1 : argv[0];
	if (!strcmp(base, "dvdcli")) {
		g.prog = "dvdcli";
		r = gate_caller(&g, "dvdcli", &err);
		if (r == 0)
			r = cmd_dvdcli(&g, argc, argv, &err);
		/* dvdcli exits 1 on every error, a denial included: Mesos reads only that. */
		if (r < 0)
			dv_fail(&err, r, "%s", strerror(-r));
		if (err.kind != DV_ERROR_NONE)
			err.kind = DV_ERROR_FAIL;
		return finish(&g, &err, r);
	}
	r = run_dvmount(&g, argc, argv, &err);
	return finish(&g, &err, r);
}
