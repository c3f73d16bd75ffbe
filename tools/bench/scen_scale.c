/* SPDX-License-Identifier: MIT */
/*
 * scale: what a full state dir costs. One container's whole stay, `dvmount
 * prepare` (1 volume, no --pid) and `dvmount cleanup`, both exec'd and timed
 * apart, in a state dir holding 10, 1000 and 10000 other containers' records. The design wants no
 * difference: a reference count costs O(users of that volume), never O(all containers on the host).
 * The timed container's volume is its own, so each round does a real plugin Mount and, at the last
 * user's cleanup, a real Unmount.
 *
 * The others are honest state. 10 of them are real prepares, each mounting
 * one of 10 pool volumes. The other 9990 are written through the state API
 * (helper/state/state.h), so the layout is exactly dvmount's: records copied from
 * those 10 under new ids, each a user of its record's pool volume, which is
 * what 9990 more prepares of those volumes leave (the plugin is not called
 * for a volume already in use: one Mount per volume per host), minus 9990
 * execs. They are made on the run's tmpfs and then copied, with one syncfs,
 * into a state dir on the filesystem of the user's: the timed commands see
 * the real filesystem, and 20000 durable writes of set-up cost nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "helper/state/state.h"
#include "tools/bench/bench.h"

#define DRIVER "bench-state"
#define POOL 10 /* volumes the others use, each prepared for real */
#define CP "/bin/cp"

static const unsigned others_full[] = { 10, 1000, 10000 };
static const unsigned others_quick[] = { 10, 100 };

struct state_shared {
	struct bench_cli cli;
	char dst[PATH_MAX]; /* every container's target: exists on the host */
};

struct state_case {
	struct state_shared *sh;
	unsigned others;
	char dir[PATH_MAX];	  /* this case's files */
	char state_dir[PATH_MAX]; /* on the tmpfs while populating, then the real one */
	char name[BENCH_NAME_MAX];
	char volumes[PATH_MAX];	 /* the timed container's --volumes file */
	char key[STATE_KEY_MAX]; /* the key of its volume */
	unsigned seq;		 /* container ids are never reused */
};

static void state_shared_done(struct state_shared *sh)
{
	bench_cli_stop(&sh->cli);
}

/* One container's life, prepare + cleanup; the two execs' times go to ms (timed: parts 0, 1). */
static int prepare_cleanup(struct bench_ctx *ctx, struct state_case *c, const char *cid,
			   const char *volumes, bool timed, double ms[BENCH_PARTS_MAX])
{
	char *prepare[] = { "prepare",	 "--container-id", (char *)cid,
			    "--volumes", (char *)volumes,  NULL };
	char *cleanup[] = { "cleanup", "--container-id", (char *)cid, NULL };
	char out[BENCH_OUT_MAX];
	double unused[BENCH_PARTS_MAX];
	int r;

	if (!ms)
		ms = unused;
	r = bench_cli_run(ctx, &c->sh->cli, c->state_dir, timed ? 0 : -1, prepare, out, &ms[0]);
	if (r < 0)
		return r;
	r = bench_cli_check_prepared(ctx, out, cid);
	if (r < 0)
		return r;
	return bench_cli_run(ctx, &c->sh->cli, c->state_dir, timed ? 1 : -1, cleanup, out, &ms[1]);
}

static int round_state(struct bench_ctx *ctx, void *state, double ms[BENCH_PARTS_MAX])
{
	struct state_case *c = state;
	char cid[32], path[2 * PATH_MAX];
	int r;

	snprintf(cid, sizeof(cid), "bench-state-%u", c->seq++);
	r = prepare_cleanup(ctx, c, cid, c->volumes, true, ms);
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
	return bench_cli_volumes_file(ctx, DRIVER, ret_path, names, targets, 1);
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
		r = state_container_save(st, cid, tmpl, STATE_DURABLE);
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

	char tmpstate[PATH_MAX + 8];
	char *cp[] = { CP, "-a", tmpstate, c->state_dir, NULL };
	_cleanup_close_ int fd = -EBADF;
	double ms;

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
			r = bench_cli_run(ctx, &c->sh->cli, c->state_dir, -1, prepare, out, NULL);
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

	/* Onto the real filesystem: one copy, one syncfs, the layout unchanged. */
	snprintf(tmpstate, sizeof(tmpstate), "%s/.", c->state_dir);
	snprintf(rel, sizeof(rel), "scale-others%u", c->others);
	r = bench_state_dir(ctx, rel, c->state_dir);
	if (r < 0)
		return r;
	r = bench_exec(cp, out, sizeof(out), &ms);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "cp -a '%s' '%s' exited %d: %.200s",
				  tmpstate, c->state_dir, r, out);
	fd = open(c->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || syncfs(fd) < 0)
		return bench_fail(ctx, negerrno(), "syncfs '%s': %m", c->state_dir);

	snprintf(name, sizeof(name), "o%u-own", c->others);
	r = state_volume_key(DRIVER, name, c->key);
	if (r < 0)
		return bench_fail(ctx, r, "volume key of '%s': %s", name, strerror(-r));
	r = volumes_file(ctx, c, name, c->volumes);
	if (r < 0)
		return r;
	/* Not timed: the plugin Creates the volume now, so every round does Get + Mount. */
	return prepare_cleanup(ctx, c, "bench-state-create", c->volumes, false, NULL);
}

static int run_scale(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(state_shared_done) struct state_shared sh = { .cli.plugin.pidfd = -EBADF };
	const unsigned *others = ctx->quick ? others_quick : others_full;
	size_t n = ctx->quick ? ARRAY_SIZE(others_quick) : ARRAY_SIZE(others_full);
	/* Cases of several paths each: too big for the stack. */
	_cleanup_free_ struct state_case *c = calloc(n, sizeof(*c));
	struct bench_case cases[ARRAY_SIZE(others_full) + 2];
	char num[BENCH_NAME_MAX], den[BENCH_NAME_MAX], name[BENCH_NAME_MAX];
	int r;

	if (!c)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	r = bench_cli_start(ctx, DRIVER, NULL, NULL, &sh.cli);
	if (r == 0)
		r = bench_cli_mkdirs(ctx, "state/dst", sh.dst);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		c[i] = (struct state_case){ .sh = &sh, .others = others[i] };
		snprintf(c[i].name, sizeof(c[i].name), "others%u", others[i]);
		r = populate(ctx, &c[i]);
		if (r < 0)
			return r;
		cases[i] = (struct bench_case){ .name = c[i].name,
						.x = others[i],
						.gated = true,
						.counted = true,
						.parts = { "prepare", "cleanup" },
						.round = round_state,
						.state = &c[i] };
	}
	cases[n] = BENCH_EXEC_TRUE("exec-true");
	cases[n + 1] = BENCH_DURABLE_WRITE("durable-write");
	r = bench_group_run(ctx, "scale", cases, n + 2, 0, report);
	if (r < 0)
		return r;
	for (size_t p = 0; p < 2; p++) {
		const char *part = p ? "cleanup" : "prepare";

		snprintf(num, sizeof(num), "scale.others%u.%s", others[n - 1], part);
		snprintf(den, sizeof(den), "scale.others%u.%s", others[0], part);
		snprintf(name, sizeof(name), "scale.%s.others%u-vs-%u", part, others[n - 1],
			 others[0]);
		bench_report_ratio(report, name, num, den, 1);
	}
	return 0;
}

/* Mount namespace: the test plugin's files live on the run's tmpfs. */
const struct bench_scenario bench_scenario_scale = {
	.name = "scale",
	.what = "prepare + cleanup of one container with 10, 1000, 10000 others in the state",
	.needs_mount_ns = true,
	.run = run_scale,
};
