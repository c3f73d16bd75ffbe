/* SPDX-License-Identifier: MIT */
/*
 * dvmount volume create|remove|mount|unmount|path|get|list|capabilities:
 * one VolumeDriver endpoint per subcommand, for operators and scripts.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonutil.h"
#include "helper/dvmount.h"
#include "helper/error.h"
#include "helper/lifecycle.h"
#include "helper/plugin/plugin.h"

#define MAX_OPTS 64

static const struct {
	const char *name;
	enum plugin_method method;
	bool needs_name;
} subcommands[] = {
	{ "create", PLUGIN_CREATE, true }, { "remove", PLUGIN_REMOVE, true },
	{ "mount", PLUGIN_MOUNT, true },   { "unmount", PLUGIN_UNMOUNT, true },
	{ "path", PLUGIN_PATH, true },	   { "get", PLUGIN_GET, true },
	{ "list", PLUGIN_LIST, false },	   { "capabilities", PLUGIN_CAPABILITIES, false },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: dvmount volume create|remove|mount|unmount|path|get|list|capabilities\n"
		   "         --driver D [--name N] [--opt K=V]... [--id ID] [--json]\n");
}

static void print_result(const struct globals *g, const struct plugin_req *q)
{
	json_object *v;

	if (g->json) {
		_cleanup_json_ json_object *out = json_object_new_object();

		json_object_object_add(out, "driver", json_object_new_string(q->driver));
		if (q->name)
			json_object_object_add(out, "name", json_object_new_string(q->name));
		if (q->mountpoint)
			json_object_object_add(out, "mountpoint",
					       json_object_new_string(q->mountpoint));
		if (q->reply)
			json_object_object_add(out, "reply", json_object_get(q->reply));
		printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		return;
	}
	switch (q->method) {
	case PLUGIN_MOUNT:
	case PLUGIN_PATH:
		printf("%s\n", q->mountpoint);
		break;
	case PLUGIN_GET:
		v = json_get_ci(q->reply, "Volume");
		printf("%s\n", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PRETTY));
		break;
	case PLUGIN_LIST:
		v = json_get_ci(q->reply, "Volumes");
		for (size_t i = 0;
		     json_object_is_type(v, json_type_array) && i < json_object_array_length(v);
		     i++) {
			json_object *vol = json_object_array_get_idx(v, i);
			json_object *mp = json_get_ci(vol, "Mountpoint");

			printf("%s\t%s\n", json_object_get_string(json_get_ci(vol, "Name")),
			       mp ? json_object_get_string(mp) : "");
		}
		break;
	case PLUGIN_CAPABILITIES:
		v = json_get_ci(json_get_ci(q->reply, "Capabilities"), "Scope");
		/* Capabilities is optional: the engine assumes "local". */
		printf("scope: %s\n", v ? json_object_get_string(v) : "local");
		break;
	default:
		break;
	}
}

int cmd_volume(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	static const struct option options[] = { { "driver", required_argument, NULL, 'd' },
						 { "name", required_argument, NULL, 'n' },
						 { "opt", required_argument, NULL, 'o' },
						 { "id", required_argument, NULL, 'i' },
						 { "json", no_argument, NULL, 'j' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	/* Freed after the client that borrows it. */
	_cleanup_(policy_freep) struct policy *limits = NULL;
	_cleanup_(plugin_client_freep) struct plugin_client *pc = NULL;
	struct plugin_opt opts[MAX_OPTS];
	struct plugin_req q = { 0 };
	const char *sub;
	size_t s;
	int opt, r;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? dv_said(err, DV_ERROR_USAGE) : 0;
	}
	sub = argv[1];
	for (s = 0; s < ARRAY_SIZE(subcommands); s++)
		if (!strcmp(sub, subcommands[s].name))
			break;
	if (s == ARRAY_SIZE(subcommands))
		return dv_usage(err, "volume: unknown subcommand '%s' (see dvmount volume --help)",
				sub);
	q.method = subcommands[s].method;

	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			q.driver = optarg;
			break;
		case 'n':
			q.name = optarg;
			break;
		case 'o':
			if (q.n_opts == MAX_OPTS)
				return dv_usage(err, "volume %s: more than %d --opt", sub,
						MAX_OPTS);
			if (plugin_opt_parse(optarg, &opts[q.n_opts]) < 0)
				return dv_usage(err, "volume %s: --opt '%s' is not KEY=VALUE", sub,
						optarg);
			q.n_opts++;
			break;
		case 'i':
			q.id = optarg;
			break;
		case 'j':
			g->json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return dv_usage(err, "volume %s: unknown or incomplete option '%s'", sub,
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return dv_usage(err, "volume %s: unexpected argument '%s'", sub, argv[optind]);
	if (!q.driver)
		return dv_usage(err, "volume %s: --driver is required", sub);
	if (subcommands[s].needs_name && (!q.name || !*q.name))
		return dv_usage(err, "volume %s: --name is required", sub);
	q.opts = opts;

	limits = lc_limits_policy(g);
	r = lc_plugin_client(g, NULL, limits, &pc);
	if (r < 0)
		return dv_fail(err, r, "cannot start the plugin client: %s", strerror(-r));
	r = plugin_call_many(pc, &q, 1);
	if (r < 0)
		return dv_fail(err, r, "plugin '%s': %s", q.driver, strerror(-r));
	if (q.result < 0) {
		r = dv_fail(err, q.result, "%s", q.err);
		plugin_req_clear(&q);
		return r;
	}
	print_result(g, &q);
	plugin_req_clear(&q);
	return 0;
}
