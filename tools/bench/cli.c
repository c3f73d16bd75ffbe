/* SPDX-License-Identifier: MIT */
/*
 * dvmount run as a containerizer runs it: the real binary, exec'd, with a
 * test plugin, a policy that allows that plugin and a volumes file in the
 * Mesos format. Shared by the groups that time whole commands.
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

#define CLI_ARGS_MAX 16		/* command arguments after the global options */
#define PREPARED_PREFIX_MAX 192 /* {"container_id":"ID", with an id of at most 128 */

int bench_cli_mkdirs(struct bench_ctx *ctx, const char *rel, char ret_path[static PATH_MAX])
{
	char made[PATH_MAX];
	int r = bench_mkdirs(ctx, rel, made);

	if (r < 0)
		return bench_fail(ctx, r, "cannot create '%s' below '%s': %s", rel, ctx->tmpdir,
				  strerror(-r));
	/* The policy takes only normalized paths: no symlink, "//" or "..". */
	if (!realpath(made, ret_path))
		return bench_fail(ctx, negerrno(), "cannot resolve '%s': %m", made);
	return 0;
}

int bench_cli_start(struct bench_ctx *ctx, const char *driver, const char *fault,
		    const char *driver_extra, struct bench_cli *ret)
{
	char rel[PATH_MAX], dir[PATH_MAX], text[3 * PATH_MAX];
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->plugin.pidfd = -EBADF;
	r = bench_plugin_start(ctx, driver, fault, &ret->plugin);
	if (r < 0)
		return r;
	/* The directory bench_plugin_start gave it as --root. */
	snprintf(rel, sizeof(rel), "%s-root", driver);
	r = bench_cli_mkdirs(ctx, rel, ret->root);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "%s-policy", driver);
	r = bench_cli_mkdirs(ctx, rel, dir);
	if (r < 0)
		return r;
	if ((size_t)snprintf(ret->policy, sizeof(ret->policy), "%s/policy.conf", dir) >=
	    sizeof(ret->policy))
		return bench_fail(ctx, -ENAMETOOLONG, "policy path too long");
	/*
	 * dvmount refuses a policy that is not root's or that others may write.
	 * The testplugin is safe with overlapping calls: all of them at once,
	 * unless the scenario says otherwise (driver_extra).
	 */
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\nmax-volumes = 1024\n\n[driver %s]\nhost-paths = %s\n"
		 "modes = RW RO\n%s",
		 driver, ret->root, driver_extra ? driver_extra : "max-in-flight = 64\n");
	r = bench_write_file(ret->policy, text, 0644);
	if (r < 0)
		return bench_fail(ctx, r, "cannot write '%s': %s", ret->policy, strerror(-r));
	return 0;
}

void bench_cli_stop(struct bench_cli *cli)
{
	bench_plugin_stop(&cli->plugin);
}

static json_object *volumes_array(const char *driver, char *const *names, char *const *targets,
				  size_t n)
{
	_cleanup_json_ json_object *arr = json_object_new_array();

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_new_object(), *src = json_object_new_object();
		json_object *dv = json_object_new_object();

		if (!v || !src || !dv || json_object_array_add(arr, v) < 0) {
			json_object_put(v);
			json_object_put(src);
			json_object_put(dv);
			return NULL;
		}
		json_object_object_add(dv, "driver", json_object_new_string(driver));
		json_object_object_add(dv, "name", json_object_new_string(names[i]));
		json_object_object_add(src, "type", json_object_new_string("DOCKER_VOLUME"));
		json_object_object_add(src, "docker_volume", dv);
		json_object_object_add(v, "container_path", json_object_new_string(targets[i]));
		json_object_object_add(v, "mode", json_object_new_string("RW"));
		json_object_object_add(v, "source", src);
	}
	return TAKE_PTR(arr);
}

char *bench_cli_volumes_json(const char *driver, char *const *names, char *const *targets, size_t n)
{
	_cleanup_json_ json_object *arr = volumes_array(driver, names, targets, n);
	const char *text;

	if (!arr)
		return NULL;
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	return text ? strdup(text) : NULL;
}

int bench_cli_volumes_file(struct bench_ctx *ctx, const char *driver, const char *path,
			   char *const *names, char *const *targets, size_t n)
{
	_cleanup_free_ char *text = bench_cli_volumes_json(driver, names, targets, n);
	int r;

	if (!text)
		return bench_fail(ctx, -ENOMEM, "out of memory");
	r = bench_write_file(path, text, 0600);
	if (r < 0)
		return bench_fail(ctx, r, "cannot write '%s': %s", path, strerror(-r));
	return 0;
}

char *const *bench_cli_env(const struct bench_ctx *ctx)
{
	static char preload[PATH_MAX + 16];
	static char *env[2];

	if (!ctx->preload)
		return NULL;
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", ctx->preload);
	env[0] = preload;
	env[1] = NULL;
	return env;
}

int bench_cli_run(struct bench_ctx *ctx, const struct bench_cli *cli, const char *state_dir,
		  int part, char *const *args, char out[static BENCH_OUT_MAX], double *ret_ms)
{
	char *argv[9 + CLI_ARGS_MAX];
	size_t n = 0;
	double ms = 0;
	int r;

	argv[n++] = ctx->dvmount;
	argv[n++] = "--state-dir";
	argv[n++] = (char *)state_dir;
	argv[n++] = "--policy";
	argv[n++] = (char *)cli->policy;
	argv[n++] = "--plugin-path";
	argv[n++] = (char *)cli->plugin.plugin_dir;
	if (cli->global)
		argv[n++] = (char *)cli->global;
	for (size_t i = 0; args[i]; i++) {
		if (i == CLI_ARGS_MAX)
			return bench_fail(ctx, -E2BIG, "too many dvmount arguments");
		argv[n++] = args[i];
	}
	argv[n] = NULL;

	if (part >= 0)
		r = bench_exec_part(ctx, (unsigned)part, argv, bench_cli_env(ctx), out,
				    BENCH_OUT_MAX, &ms);
	else
		r = bench_exec_env(argv, bench_cli_env(ctx), out, BENCH_OUT_MAX, &ms);
	if (r < 0)
		return bench_fail(ctx, r, "dvmount %s: %s", args[0], strerror(-r));
	if (r != 0)
		return bench_fail(ctx, -EPROTO, "dvmount %s exited %d: %.300s", args[0], r, out);
	if (ret_ms)
		*ret_ms = ms;
	return 0;
}

int bench_cli_check_prepared(struct bench_ctx *ctx, const char *out, const char *cid)
{
	char prefix[PREPARED_PREFIX_MAX];

	/* Its contract: one JSON document on stdout, nothing on stderr. */
	snprintf(prefix, sizeof(prefix), "{\"container_id\":\"%s\",", cid);
	if (strncmp(out, prefix, strlen(prefix)))
		return bench_fail(ctx, -EPROTO, "dvmount prepare of '%s' printed: %.300s", cid,
				  out);
	return 0;
}
