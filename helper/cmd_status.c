/* SPDX-License-Identifier: MIT */
/*
 * dvmount status [--container-id ID] [--json]: containers, their volumes,
 * reference counts, host mountpoints, Mount IDs, and anything quarantined or
 * waiting for an Unmount retry. Reads only; takes no lock.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonutil.h"
#include "helper/lifecycle.h"

struct status {
	struct lc *lc;
	const char *only;
	json_object *containers, *volumes, *quarantine;
};

static int add_container(const struct state_entry *e, void *userdata)
{
	struct status *s = userdata;

	if (s->only && strcmp(s->only, e->cid))
		return 0;
	if (e->error)
		return 0; /* listed under quarantine */
	if (!lc_caller_owns(s->lc, e->record))
		return 0;
	json_object_array_add(s->containers, json_object_get(e->record));
	return 0;
}

static int add_user(const char *cid, void *userdata)
{
	json_object_array_add(userdata, json_object_new_string(cid));
	return 0;
}

static int add_volume(const char *key, void *userdata)
{
	struct status *s = userdata;
	json_object *v, *users = json_object_new_array();
	int r;

	r = state_volume_load(s->lc->st, key, &v);
	if (r < 0) {
		/* Absent: a crash before the entry was written, recover tidies it. */
		if (r != -ENOENT)
			log_warn(s->lc->g, "volume entry '%s' unreadable (%s): not shown", key,
				 r == -EBADMSG ? "empty or corrupt" : strerror(-r));
		json_object_put(users);
		return 0;
	}
	state_user_list_live(s->lc->st, key, add_user, users);
	if (s->only) {
		bool mine = false;

		for (size_t i = 0; i < json_object_array_length(users); i++)
			mine |= !strcmp(json_object_get_string(json_object_array_get_idx(users, i)),
					s->only);
		if (!mine) {
			json_object_put(users);
			json_object_put(v);
			return 0;
		}
	}
	json_object_object_add(v, "key", json_object_new_string(key));
	json_object_object_add(v, "users", users);
	json_object_object_add(v, "refcount",
			       json_object_new_int((int)json_object_array_length(users)));
	json_object_array_add(s->volumes, v);
	return 0;
}

static int add_quarantined(const char *name, void *userdata)
{
	json_object_array_add(userdata, json_object_new_string(name));
	return 0;
}

static void print_text(struct status *s)
{
	size_t nc = json_object_array_length(s->containers);
	size_t nv = json_object_array_length(s->volumes);
	size_t nq = json_object_array_length(s->quarantine);

	printf("containers: %zu\n", nc);
	for (size_t i = 0; i < nc; i++) {
		json_object *c = json_object_array_get_idx(s->containers, i);
		json_object *vols = json_object_object_get(c, "volumes");

		printf("  %s  %s", lc_json_str(c, "container_id"), lc_json_str(c, "phase"));
		if (lc_json_int(c, "pid") > 0)
			printf("  pid %lld", lc_json_int(c, "pid"));
		printf("\n");
		for (size_t j = 0; j < json_object_array_length(vols); j++) {
			json_object *v = json_object_array_get_idx(vols, j);

			printf("    %s/%s %s -> %s\n", lc_json_str(v, "driver"),
			       lc_json_str(v, "name"), lc_json_str(v, "mode"),
			       lc_json_str(v, "target"));
		}
	}
	printf("volumes: %zu\n", nv);
	for (size_t i = 0; i < nv; i++) {
		json_object *v = json_object_array_get_idx(s->volumes, i);
		const char *hp = lc_json_str(v, "host_path");
		enum state_vol st = STATE_VOL_IDLE;

		printf("  %s/%s  users %lld  %s  mount id %.12s...%s\n", lc_json_str(v, "driver"),
		       lc_json_str(v, "name"), lc_json_int(v, "refcount"),
		       hp ? hp : "(not mounted)", lc_json_str(v, "mount_id"),
		       state_vol_get(v, &st) == 0 && st == STATE_VOL_PENDING_UNMOUNT
			   ? "  PENDING UNMOUNT RETRY"
			   : "");
	}
	if (nq) {
		printf("quarantined: %zu\n", nq);
		for (size_t i = 0; i < nq; i++)
			printf("  %s\n",
			       json_object_get_string(json_object_array_get_idx(s->quarantine, i)));
	}
}

int cmd_status(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	static const struct option options[] = { { "container-id", required_argument, NULL, 'c' },
						 { "json", no_argument, NULL, 'j' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	struct status s = { 0 };
	struct lc lc;
	int opt, r;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			s.only = optarg;
			break;
		case 'j':
			g->json = true;
			break;
		case 'h':
			printf("usage: dvmount status [--container-id ID] [--json]\n");
			return 0;
		default:
			return dv_usage(err, "status: unknown or incomplete option '%s'",
					argv[optind - 1]);
		}
	}
	if (optind < argc)
		return dv_usage(err, "status: unexpected argument '%s'", argv[optind]);
	r = lc_open(g, false, &lc);
	if (r == 0) {
		_cleanup_json_ json_object *out = json_object_new_object();

		s.lc = &lc;
		s.containers = json_object_new_array();
		s.volumes = json_object_new_array();
		s.quarantine = json_object_new_array();
		json_object_object_add(out, "containers", s.containers);
		json_object_object_add(out, "volumes", s.volumes);
		json_object_object_add(out, "quarantined", s.quarantine);
		state_container_list(lc.st, add_container, &s);
		/* Volumes and quarantine concern every container: root's view only. */
		if (g->caller_is_root) {
			state_volume_list(lc.st, add_volume, &s);
			state_quarantine_list(lc.st, add_quarantined, s.quarantine);
		}
		if (g->json)
			printf("%s\n", json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN));
		else
			print_text(&s);
	}
	r = lc_report(&lc, err);
	lc_close(&lc);
	return r;
}
