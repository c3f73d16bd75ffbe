/* SPDX-License-Identifier: MIT */
/*
 * oci-hook: `runc run` of a container running `true`, with 0, 1 and 8
 * volumes through dvmount's OCI hook (createRuntime attaches, poststop cleans
 * up; the volumes in the org.dvmount.volumes annotation), against the same
 * container with the same volumes given as plain bind mounts in config.json:
 * what the hook adds to a container's start and stop. The volumes are
 * mounted by the test plugin beforehand (a holder keeps them), so both sides
 * bind the same directories. The rootfs is a busybox-static copy.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "tools/bench/bench.h"

#define DRIVER "b-oci"
#define VOLUMES 8
#define CP "/bin/cp"

static const unsigned sizes_full[] = { 0, 1, 8 };
static const unsigned sizes_quick[] = { 0, 1 };
static const char *const runc_paths[] = { "/usr/sbin/runc", "/usr/bin/runc", "/sbin/runc",
					  "/usr/local/sbin/runc", NULL };
static const char *const busybox_paths[] = { "/bin/busybox", "/usr/bin/busybox", NULL };

struct oci_env {
	struct bench_cli cli;
	const char *runc;
	char state_dir[PATH_MAX];
	char rootfs[PATH_MAX];
	char runtime_root[PATH_MAX];
	char names[VOLUMES][BENCH_NAME_MAX];
	char src[VOLUMES][PATH_MAX];
	unsigned seq;
};

struct oci_case {
	struct oci_env *env;
	char bundle[PATH_MAX];
	char name[BENCH_NAME_MAX];
};

static void oci_env_done(struct oci_env *e)
{
	bench_cli_stop(&e->cli);
}

static const char *first_executable(const char *const *paths)
{
	for (size_t i = 0; paths[i]; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static int round_oci(struct bench_ctx *ctx, void *state, double ms[BENCH_PARTS_MAX])
{
	struct oci_case *c = state;
	char id[48], out[BENCH_OUT_MAX];
	char *argv[] = { (char *)c->env->runc,
			 "--root",
			 c->env->runtime_root,
			 "run",
			 "--bundle",
			 c->bundle,
			 id,
			 NULL };
	int r;

	snprintf(id, sizeof(id), "bench-oci-%u", c->env->seq++);
	r = bench_exec_part(ctx, 0, argv, NULL, out, sizeof(out), &ms[0]);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "%s: runc run exited %d: %.300s",
				  c->name, r, out);
	return 0;
}

static json_object *hook(const struct bench_ctx *ctx, const struct oci_env *e, const char *stage)
{
	json_object *h = json_object_new_object(), *args = json_object_new_array();
	const char *a[] = { "dvmount",
			    "--state-dir",
			    e->state_dir,
			    "--policy",
			    e->cli.policy,
			    "--plugin-path",
			    e->cli.plugin.plugin_dir,
			    "oci-hook",
			    stage };

	for (size_t i = 0; i < ARRAY_SIZE(a); i++)
		json_object_array_add(args, json_object_new_string(a[i]));
	json_object_object_add(h, "path", json_object_new_string(ctx->dvmount));
	json_object_object_add(h, "args", args);
	if (ctx->preload) {
		json_object *env = json_object_new_array();

		json_object_array_add(env, json_object_new_string(bench_cli_env(ctx)[0]));
		json_object_object_add(h, "env", env);
	}
	return h;
}

/* `runc spec`, then: no terminal, `true`, our rootfs, and the volumes either way. */
static int make_bundle(struct bench_ctx *ctx, struct oci_env *e, struct oci_case *c, unsigned n,
		       bool through_hook)
{
	char rel[64], path[PATH_MAX + 16], out[BENCH_OUT_MAX], target[VOLUMES][32];
	char *spec[] = { (char *)e->runc, "spec", "--bundle", c->bundle, NULL };
	char *names[VOLUMES], *targets[VOLUMES];
	_cleanup_json_ json_object *cfg = NULL;
	json_object *proc, *args, *root, *mounts, *hooks, *list, *ann;
	double ms;
	int r;

	snprintf(rel, sizeof(rel), "oci/bundle-%s", c->name);
	r = bench_cli_mkdirs(ctx, rel, c->bundle);
	if (r < 0)
		return r;
	r = bench_exec(spec, out, sizeof(out), &ms);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "runc spec exited %d: %.200s", r, out);
	snprintf(path, sizeof(path), "%s/config.json", c->bundle);
	cfg = json_object_from_file(path);
	if (!cfg)
		return bench_fail(ctx, -EBADMSG, "runc spec wrote no JSON to '%s'", path);
	proc = json_object_object_get(cfg, "process");
	root = json_object_object_get(cfg, "root");
	mounts = json_object_object_get(cfg, "mounts");
	if (!proc || !root || !json_object_is_type(mounts, json_type_array))
		return bench_fail(ctx, -EBADMSG, "'%s': not the config runc spec writes", path);
	json_object_object_add(proc, "terminal", json_object_new_boolean(0));
	args = json_object_new_array();
	json_object_array_add(args, json_object_new_string("true"));
	json_object_object_add(proc, "args", args);
	json_object_object_add(root, "path", json_object_new_string(e->rootfs));
	for (unsigned i = 0; i < n; i++) {
		snprintf(target[i], sizeof(target[i]), "/data%u", i);
		names[i] = e->names[i];
		targets[i] = target[i];
	}
	if (through_hook) {
		_cleanup_free_ char *text = bench_cli_volumes_json(DRIVER, names, targets, n);

		if (!text)
			return bench_fail(ctx, -ENOMEM, "out of memory");
		hooks = json_object_new_object();
		list = json_object_new_array();
		json_object_array_add(list, hook(ctx, e, "createRuntime"));
		json_object_object_add(hooks, "createRuntime", list);
		list = json_object_new_array();
		json_object_array_add(list, hook(ctx, e, "poststop"));
		json_object_object_add(hooks, "poststop", list);
		json_object_object_add(cfg, "hooks", hooks);
		ann = json_object_new_object();
		json_object_object_add(ann, "org.dvmount.volumes", json_object_new_string(text));
		json_object_object_add(cfg, "annotations", ann);
	} else {
		for (unsigned i = 0; i < n; i++) {
			json_object *m = json_object_new_object(), *opts = json_object_new_array();

			json_object_object_add(m, "destination", json_object_new_string(target[i]));
			json_object_object_add(m, "type", json_object_new_string("bind"));
			json_object_object_add(m, "source", json_object_new_string(e->src[i]));
			json_object_array_add(opts, json_object_new_string("rbind"));
			json_object_array_add(opts, json_object_new_string("rw"));
			json_object_object_add(m, "options", opts);
			json_object_array_add(mounts, m);
		}
	}
	unlink(path);
	if (json_object_to_file_ext(path, cfg, JSON_C_TO_STRING_PRETTY) < 0)
		return bench_fail(ctx, -EIO, "cannot write '%s'", path);
	return 0;
}

/* busybox, `true`, and the volumes' targets (the rootfs is read-only in the container). */
static int make_rootfs(struct bench_ctx *ctx, struct oci_env *e, const char *busybox)
{
	static const char *const dirs[] = { "bin", "proc", "dev", "sys", "tmp", "etc" };
	char rel[64], p[PATH_MAX + 32], out[BENCH_OUT_MAX];
	char *cp[] = { CP, (char *)busybox, p, NULL };
	double ms;
	int r;

	r = bench_cli_mkdirs(ctx, "oci/rootfs", e->rootfs);
	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(dirs) + VOLUMES; i++) {
		char made[PATH_MAX];

		if (i < ARRAY_SIZE(dirs))
			snprintf(rel, sizeof(rel), "oci/rootfs/%s", dirs[i]);
		else
			snprintf(rel, sizeof(rel), "oci/rootfs/data%zu", i - ARRAY_SIZE(dirs));
		r = bench_cli_mkdirs(ctx, rel, made);
	}
	if (r < 0)
		return r;
	snprintf(p, sizeof(p), "%s/bin/busybox", e->rootfs);
	r = bench_exec(cp, out, sizeof(out), &ms);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "cp '%s' exited %d: %.200s", busybox, r,
				  out);
	snprintf(p, sizeof(p), "%s/bin/true", e->rootfs);
	if (symlink("busybox", p) < 0)
		return bench_fail(ctx, negerrno(), "symlink '%s': %m", p);
	return 0;
}

static int run_oci(struct bench_ctx *ctx, struct bench_report *report)
{
	_cleanup_(oci_env_done) struct oci_env e = { .cli.plugin.pidfd = -EBADF };
	const unsigned *sizes = ctx->quick ? sizes_quick : sizes_full;
	size_t n_sizes = ctx->quick ? ARRAY_SIZE(sizes_quick) : ARRAY_SIZE(sizes_full);
	_cleanup_free_ struct oci_case *c = calloc(2 * n_sizes, sizeof(*c));
	static char tgt[VOLUMES][PATH_MAX];
	struct bench_case cases[2 * ARRAY_SIZE(sizes_full) + 1];
	const char *busybox = first_executable(busybox_paths);
	char file[PATH_MAX], dir[PATH_MAX], out[BENCH_OUT_MAX], *names[VOLUMES];
	char *targets[VOLUMES];
	char *holder[] = {
		"prepare", "--container-id", "bench-oci-holder", "--volumes", file, NULL
	};
	size_t n = 0;
	int r;

	if (!c)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	e.runc = first_executable(runc_paths);
	if (!e.runc || !busybox) {
		bench_report_skip(report, "oci-hook",
				  "no runc or busybox (tools/install-deps "
				  "installs runc and busybox-static)");
		return 0;
	}
	r = bench_cli_start(ctx, DRIVER, NULL, NULL, &e.cli);
	if (r == 0)
		r = bench_state_dir(ctx, "oci-hook", e.state_dir);
	if (r == 0)
		r = bench_cli_mkdirs(ctx, "oci/runc", e.runtime_root);
	if (r == 0)
		r = bench_cli_mkdirs(ctx, "oci", dir);
	if (r == 0)
		r = make_rootfs(ctx, &e, busybox);
	if (r < 0)
		return r;
	/* Not timed: the plugin Creates and Mounts every volume; the holder keeps them. */
	for (size_t i = 0; i < VOLUMES; i++) {
		snprintf(e.names[i], sizeof(e.names[i]), "oci%zu", i);
		snprintf(e.src[i], sizeof(e.src[i]), "%s/volumes/%s/data", e.cli.root, e.names[i]);
		snprintf(tgt[i], sizeof(tgt[i]), "%s/data%zu", e.rootfs, i);
		names[i] = e.names[i];
		targets[i] = tgt[i];
	}
	snprintf(file, sizeof(file), "%s/holder.json", dir);
	r = bench_cli_volumes_file(ctx, DRIVER, file, names, targets, VOLUMES);
	if (r == 0)
		r = bench_cli_run(ctx, &e.cli, e.state_dir, -1, holder, out, NULL);
	if (r == 0)
		r = bench_cli_check_prepared(ctx, out, "bench-oci-holder");
	if (r < 0)
		return r;

	for (size_t k = 0; k < n_sizes; k++)
		for (size_t h = 0; h < 2; h++) {
			struct oci_case *oc = &c[n];

			oc->env = &e;
			snprintf(oc->name, sizeof(oc->name), "%s.n%u", h ? "bind" : "hook",
				 sizes[k]);
			r = make_bundle(ctx, &e, oc, sizes[k], !h);
			if (r < 0)
				return r;
			cases[n++] = (struct bench_case){ .name = oc->name,
							  .x = sizes[k],
							  .gated = !h,
							  .counted = true,
							  .foreign = true,
							  .round = round_oci,
							  .state = oc };
		}
	cases[n++] = BENCH_DURABLE_WRITE("durable-write");
	r = bench_group_run(ctx, "oci-hook", cases, n, 0, report);
	if (r < 0)
		return r;
	for (size_t k = 0; k < n_sizes; k++) {
		char num[BENCH_NAME_MAX], den[BENCH_NAME_MAX], name[BENCH_NAME_MAX];

		snprintf(num, sizeof(num), "oci-hook.hook.n%u", sizes[k]);
		snprintf(den, sizeof(den), "oci-hook.bind.n%u", sizes[k]);
		snprintf(name, sizeof(name), "oci-hook.n%u.hook-vs-bind", sizes[k]);
		bench_report_ratio(report, name, num, den, 1);
	}
	return 0;
}

const struct bench_scenario bench_scenario_oci_hook = {
	.name = "oci-hook",
	.what = "runc run of true with 0, 1, 8 volumes through the hook, and as bind mounts",
	.needs_mount_ns = true,
	.run = run_oci,
};
