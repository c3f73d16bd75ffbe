/* SPDX-License-Identifier: MIT */
/*
 * What a full state dir costs: one container's whole stay, `dvmount prepare`
 * (1 volume, no --pid) plus `dvmount cleanup`, both exec'd and timed
 * together, in a state dir holding 10 other containers' records and in one
 * holding 10000. The design wants no difference: a reference count costs
 * O(users of that volume), never O(all containers on the host). The timed
 * container's volume is its own, so each round does a real plugin Mount and,
 * at the last user's cleanup, a real Unmount.
 *
 * The others are honest state. 10 of them are real prepares, each mounting
 * one of 10 pool volumes. The other 9990 are written through the state API
 * (helper/state.h), so the layout is exactly dvmount's: records copied from
 * those 10 under new ids, each a user of its record's pool volume, which is
 * what 9990 more prepares of those volumes leave (the plugin is not called
 * for a volume already in use: one Mount per volume per host), minus 9990
 * execs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "helper/state.h"
#include "tools/bench/bench.h"

#define DRIVER "bench-state"
#define POOL 10 /* volumes the others use, each prepared for real */
#define OTHERS_FEW 10
#define OTHERS_MANY 10000

struct state_shared {
	struct bench_cli cli;
	char dst[PATH_MAX]; /* every container's target: exists on the host */
};

struct state_case {
	struct state_shared *sh;
	unsigned others;
	char dir[PATH_MAX];	  /* this case's files */
	char state_dir[PATH_MAX];
	char volumes[PATH_MAX];	  /* the timed container's --volumes file */
	char key[STATE_KEY_MAX];  /* the key of its volume */
	unsigned seq;		  /* container ids are never reused */
};

static void state_shared_done(struct state_shared *sh)
{
	bench_cli_stop(&sh->cli);
}

/* One container's life, prepare + cleanup; the two execs' times go to *ret_ms. */
static int prepare_cleanup(struct bench_ctx *ctx, struct state_case *c, const char *cid,
			   const char *volumes, double *ret_ms)
{
	char *prepare[] = { "prepare", "--container-id", (char *)cid, "--volumes",
			    (char *)volumes, NULL };
	char *cleanup[] = { "cleanup", "--container-id", (char *)cid, NULL };
	char out[BENCH_OUT_MAX];
	double a = 0, b = 0;
	int r;

	r = bench_cli_run(ctx, &c->sh->cli, c->state_dir, prepare, out, &a);
	if (r < 0)
		return r;
	r = bench_cli_check_prepared(ctx, out, cid);
	if (r < 0)
		return r;
	r = bench_cli_run(ctx, &c->sh->cli, c->state_dir, cleanup, out, &b);
	if (r < 0)
		return r;
	if (ret_ms)
		*ret_ms = a + b;
	return 0;
}

static int round_state(struct bench_ctx *ctx, void *state, double *ret_ms)
{
	struct state_case *c = state;
	char cid[32], path[2 * PATH_MAX];
	int r;

	snprintf(cid, sizeof(cid), "bench-state-%u", c->seq++);
	r = prepare_cleanup(ctx, c, cid, c->volumes, ret_ms);
	if (r < 0)
		return r;
	/* The last user left: the volume was Unmounted and its entry removed. */
	snprintf(path, sizeof(path), "%s/volumes/%s", c->state_dir, c->key);
	if (access(path, F_OK) == 0)
		return bench_fail(ctx, -EPROTO, "cleanup of '%s' kept the volume entry '%s'", cid,
				  path);
	return 0;
}

/* A --volumes file in the case's directory: volume name at the shared target. */
static int volumes_file(struct bench_ctx *ctx, struct state_case *c, const char *name,
			char ret_path[static PATH_MAX])
{
	char *names[] = { (char *)name }, *targets[] = { c->sh->dst };

	if ((size_t)snprintf(ret_path, PATH_MAX, "%s/%s.json", c->dir, name) >= PATH_MAX)
		return bench_fail(ctx, -ENAMETOOLONG, "path too long below '%s'", c->dir);
	return bench_cli_volumes_file(ctx, &c->sh->cli, ret_path, names, targets, 1);
}

static void json_put_all(json_object *(*o)[POOL])
{
	for (size_t i = 0; i < POOL; i++)
		json_object_put((*o)[i]);
}

/* Others POOL.. as copies of the real records 0..POOL-1, through the state API. */
static int copy_others(struct bench_ctx *ctx, struct state_case *c)
{
	_cleanup_state_ struct state *st = NULL;
	_cleanup_(json_put_all) json_object *rec[POOL] = { NULL };
	char keys[POOL][STATE_KEY_MAX], cid[32];
	int r;

	r = state_open(c->state_dir, &st);
	if (r < 0)
		return bench_fail(ctx, r, "state_open '%s': %s", c->state_dir, strerror(-r));
	for (size_t k = 0; k < POOL; k++) {
		json_object *vols, *key;

		snprintf(cid, sizeof(cid), "other-%zu", k);
		r = state_container_load(st, cid, &rec[k], NULL);
		if (r < 0)
			return bench_fail(ctx, r, "record of '%s': %s", cid, strerror(-r));
		vols = json_object_object_get(rec[k], "volumes");
		key = json_object_object_get(json_object_array_get_idx(vols, 0), "key");
		if (!json_object_is_type(key, json_type_string) ||
		    json_object_get_string_len(key) >= STATE_KEY_MAX)
			return bench_fail(ctx, -EBADMSG, "record of '%s' names no volume key", cid);
		snprintf(keys[k], sizeof(keys[k]), "%s", json_object_get_string(key));
	}

	/* Container locks and volume locks are never held together: no order to keep. */
	for (unsigned i = POOL; i < c->others; i++) {
		json_object *tmpl = rec[i % POOL];
		int fd;

		snprintf(cid, sizeof(cid), "other-%u", i);
		r = state_lock_container(st, cid, &fd);
		if (r < 0)
			return bench_fail(ctx, r, "lock of '%s': %s", cid, strerror(-r));
		json_object_object_add(tmpl, "container_id", json_object_new_string(cid));
		r = state_container_save(st, cid, tmpl);
		state_unlock_container(st, fd);
		if (r < 0)
			return bench_fail(ctx, r, "record of '%s': %s", cid, strerror(-r));
	}
	for (size_t k = 0; k < POOL; k++) {
		_cleanup_state_locks_ struct state_locks *locks = NULL;
		const char *key = keys[k];

		r = state_lock_volumes(st, &key, 1, &locks);
		if (r < 0)
			return bench_fail(ctx, r, "lock of volume '%s': %s", key, strerror(-r));
		for (unsigned i = POOL + k; i < c->others; i += POOL) {
			snprintf(cid, sizeof(cid), "other-%u", i);
			r = state_user_add(st, key, cid);
			if (r < 0)
				return bench_fail(ctx, r, "user '%s' of '%s': %s", cid, key,
						  strerror(-r));
		}
	}
	return 0;
}

static int populate(struct bench_ctx *ctx, struct state_case *c)
{
	char rel[64], name[BENCH_NAME_MAX], path[PATH_MAX], cid[32], out[BENCH_OUT_MAX];
	char *prepare[] = { "prepare", "--container-id", cid, "--volumes", path, NULL };
	int r;

	snprintf(rel, sizeof(rel), "state/others%u", c->others);
	r = bench_cli_mkdirs(ctx, rel, c->dir);
	if (r == 0) {
		snprintf(rel, sizeof(rel), "state/others%u/state", c->others);
		r = bench_cli_mkdirs(ctx, rel, c->state_dir);
	}
	if (r < 0)
		return r;
	for (unsigned k = 0; k < POOL && k < c->others; k++) {
		snprintf(name, sizeof(name), "o%u-pool%u", c->others, k);
		snprintf(cid, sizeof(cid), "other-%u", k);
		r = volumes_file(ctx, c, name, path);
		if (r == 0)
			r = bench_cli_run(ctx, &c->sh->cli, c->state_dir, prepare, out, NULL);
		if (r == 0)
			r = bench_cli_check_prepared(ctx, out, cid);
		if (r < 0)
			return r;
	}
	if (c->others > POOL) {
		r = copy_others(ctx, c);
		if (r < 0)
			return r;
	}

	snprintf(name, sizeof(name), "o%u-own", c->others);
	r = state_volume_key(DRIVER, name, c->key);
	if (r < 0)
		return bench_fail(ctx, r, "volume key of '%s': %s", name, strerror(-r));
	r = volumes_file(ctx, c, name, c->volumes);
	if (r < 0)
		return r;
	/* Not timed: the plugin Creates the volume now, so every round does Get + Mount. */
	return prepare_cleanup(ctx, c, "bench-state-create", c->volumes, NULL);
}

static int run_state(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(state_shared_done) struct state_shared sh = { .cli.plugin.pidfd = -EBADF };
	/* Two cases of several paths each: too big for the stack. */
	_cleanup_free_ struct state_case *c = calloc(2, sizeof(*c));
	struct bench_case cases[2];
	int r;

	if (!c)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	r = bench_cli_start(ctx, DRIVER, &sh.cli);
	if (r == 0)
		r = bench_cli_mkdirs(ctx, "state/dst", sh.dst);
	if (r < 0)
		return r;
	c[0] = (struct state_case){ .sh = &sh, .others = OTHERS_FEW };
	c[1] = (struct state_case){ .sh = &sh, .others = OTHERS_MANY };
	for (size_t i = 0; i < 2; i++) {
		r = populate(ctx, &c[i]);
		if (r < 0)
			return r;
	}

	cases[0] = (struct bench_case){ "others10", 0, round_state, &c[0] };
	cases[1] = (struct bench_case){ "others10000", 0, round_state, &c[1] };
	r = bench_group_run(ctx, cases, ARRAY_SIZE(cases), report);
	if (r < 0)
		return r;
	bench_report_ratio(report, "state-scaling", "others10000", "others10");
	return 0;
}

static const char *const state_cases[] = { "others10", "others10000", NULL };

/* Mount namespace: the 10000 durable writes go to the run's tmpfs, not to a disk. */
const struct bench_group bench_group_state = {
	.name = "state",
	.cases = state_cases,
	.needs_mount_ns = true,
	.run = run_state,
};
