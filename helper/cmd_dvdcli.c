/* SPDX-License-Identifier: MIT */
/*
 * The dvdcli drop-in: what Mesos' docker/volume isolator execs.
 *
 *   dvdcli mount --volumedriver=D --volumename=N [--volumeopts=K=V]... [--explicitcreate]
 *
 * Same command line and output as dvdcli 0.2: mount and path print only the
 * mountpoint and a newline on stdout; errors are one line on stderr and exit 1.
 * Fixed on purpose: an option value keeps everything after its first '=',
 * commas and quotes included, an unknown flag is an error, every call has a timeout, and plugins
 * without Get (pre-Docker 1.10, which made the seed pin dvdcli 0.1) work.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "common/jsonutil.h"
#include "helper/dvmount.h"
#include "helper/error.h"
#include "helper/lifecycle.h"
#include "ns/mountpoint.h"
#include "helper/plugin/plugin.h"

#define MAX_OPTS 64
#define DVDCLI_COMPAT_VERSION "0.2.0"

static void usage(FILE *f)
{
	fprintf(f, "usage: dvdcli mount|unmount|path|create|remove|get|list|version\n"
		   "         --volumedriver=DRIVER --volumename=NAME [--volumeopts=KEY=VALUE]...\n"
		   "         [--explicitcreate]\n"
		   "dvmount's dvdcli drop-in; see dvmount(8).\n");
}

/*
 * One --volumeopts is one KEY=VALUE, and everything after the first '=' is
 * the value, verbatim: Mesos emits one flag per parameter, and values carry
 * commas and quotes of their own (rclone's ":s3,provider=AWS:bucket",
 * NFS-style "addr=10.0.0.1,rw"). dvdcli 0.2 split a flag at commas and
 * stripped quotes (a pflag string slice): that broke such values, so it is
 * not copied; `prepare` and `volume create --opt` take options the same way.
 */
static int add_opt(char *arg, struct plugin_opt *opts, size_t *n)
{
	if (*n == MAX_OPTS || plugin_opt_parse(arg, &opts[*n]) < 0)
		return -EINVAL;
	(*n)++;
	return 0;
}

/*
 * Mesos no longer uses the volume: its user entry goes, durably, before any
 * Unmount. The pinned user counts without a record, so a removal that a
 * power cut undid would hold the volume for good (Mesos never says unmount
 * again), and with it the Mount of the next container that uses it.
 */
static int forget_mesos(struct lc *lc, const struct plugin_mount *m, const char *key)
{
	int r = state_user_remove(lc->st, key, LC_DVDCLI_USER);

	if (r == 0 || r == -ENOENT)
		r = state_volume_sync(lc->st, key);
	if (r < 0)
		lc_fail(lc, "volume '%s' of driver '%s': cannot forget Mesos' use: %s", m->name,
			m->driver, strerror(-r));
	return r;
}

/* Mount, or reuse the plugin mount this host already holds, and count Mesos as a user. */
static int tracked_mount(struct lc *lc, struct plugin_mount *m)
{
	_cleanup_(state_unlockp) struct state_locks *locks = NULL;
	_cleanup_json_ json_object *entry = NULL;
	struct lc_acquire a = { .driver = m->driver, .name = m->name };
	char key[STATE_KEY_MAX];
	const char *k = key;
	int r;

	r = state_volume_key(m->driver, m->name, key);
	if (r == 0)
		r = state_lock_volumes(lc->st, &k, 1, &locks);
	if (r < 0) {
		lc_fail(lc, "volume '%s' of driver '%s': state: %s", m->name, m->driver,
			strerror(-r));
		return r;
	}
	a.key = key;
	r = lc_acquire(lc, &a, 1, LC_DVDCLI_USER);
	entry = TAKE_PTR(a.entry);
	if (r < 0) {
		free(a.host_path);
		return r; /* reported */
	}
	/* No record backs dvdcli's use: its entries are made durable themselves. */
	r = state_volume_sync(lc->st, key);
	if (r < 0) {
		free(a.host_path);
		lc_fail(lc, "volume '%s': cannot record its use: %s", m->name, strerror(-r));
		return r;
	}
	lc_crash_point("dvdcli-after-sync");
	if (!a.needs_mount) {
		m->mountpoint = a.host_path;
		return 0;
	}
	m->id = a.mount_id;
	r = plugin_mount_many(lc->pc, m, 1);
	m->id = NULL;
	lc_crash_point("dvdcli-after-mount");
	lc_acquire_mounted(lc, entry, m, r);
	/* The saves below replace the entry synced above: STATE_DATA_SYNC (state.h). */
	if (r < 0 || m->result < 0) {
		lc_fail(lc, "%s", r < 0 ? strerror(-r) : m->err);
		state_volume_save_flags(lc->st, key, entry, STATE_DATA_SYNC);
		if (forget_mesos(lc, m, key) == 0)
			lc_release_unused(lc, &k, 1);
		return -EIO;
	}
	/*
	 * Mesos binds the mountpoint in OUR namespace: it must be the plugin's
	 * mount as the plugin sees it (issue 9), never the directory under it.
	 */
	struct policy_mountpoint_facts f;
	struct ns_peek pk = { .path = m->mountpoint };
	_cleanup_close_ int pidfd = -EBADF;
	pid_t pid;

	r = lc_plugin_view(lc, entry, m->driver, &pidfd, &pid);
	if (r == 0)
		r = ns_mountpoint_inspect(pidfd, &pk, 1, lc->g->timeout_other_ms, NULL, NULL, &f);
	if (r == 0)
		r = pk.result;
	if (r == 0 && pk.other_view)
		r = lc_check_own_view(lc, &pk);
	if (r < 0) {
		char why[LC_VIEW_ERR_MAX];

		lc_fail(lc, "volume '%s' of driver '%s': mountpoint '%s': %s", m->name, m->driver,
			m->mountpoint, lc_view_strerror(lc, r, why));
		state_volume_save_flags(lc->st, key, entry, STATE_DATA_SYNC);
		if (forget_mesos(lc, m, key) == 0)
			lc_release_unused(lc, &k, 1);
		return -EIO;
	}
	/* Remember whether it was a mount of its own, to notice later when it is gone. */
	json_object_object_add(entry, "mount_root", json_object_new_boolean(f.is_mount_point));
	r = state_volume_save_flags(lc->st, key, entry, STATE_DATA_SYNC);
	if (r < 0)
		lc_fail(lc, "volume '%s': cannot save its entry: %s", m->name, strerror(-r));
	return r;
}

/* Mesos is done with the volume: Unmount when no one else on this host uses it. */
static int tracked_unmount(struct lc *lc, struct plugin_mount *m)
{
	_cleanup_(state_unlockp) struct state_locks *locks = NULL;
	_cleanup_json_ json_object *entry = NULL;
	char key[STATE_KEY_MAX];
	const char *k = key;
	int r;

	r = state_volume_key(m->driver, m->name, key);
	if (r == 0)
		r = state_lock_volumes(lc->st, &k, 1, &locks);
	if (r == 0)
		r = state_volume_load(lc->st, key, &entry);
	if (r == 0)
		r = state_volume_is(entry, m->driver, m->name);
	if (r == -ENOENT) {
		/* Not mounted through us (say, by dvdcli itself before): as dvdcli would. */
		struct plugin_req q = { .driver = m->driver,
					.method = PLUGIN_UNMOUNT,
					.name = m->name };

		r = plugin_call_many(lc->pc, &q, 1);
		if (r != 0)
			lc_fail(lc, "%s", r < 0 ? strerror(-r) : q.err);
		plugin_req_clear(&q);
		return r ? -EIO : 0;
	}
	if (r < 0) {
		lc_fail(lc, "volume '%s' of driver '%s': state: %s", m->name, m->driver,
			strerror(-r));
		return r;
	}
	r = forget_mesos(lc, m, key);
	if (r < 0)
		return r;
	lc_crash_point("dvdcli-after-unuse");
	r = lc_release_unused(lc, &k, 1);
	return r ? -EIO : 0;
}

/* dvdcli's contract: every error, a usage error too, exits 1 (DV_ERROR_FAIL). */
int cmd_dvdcli(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	static const struct option options[] = { { "volumedriver", required_argument, NULL, 'd' },
						 { "volumename", required_argument, NULL, 'n' },
						 { "volumeopts", required_argument, NULL, 'o' },
						 { "explicitcreate", no_argument, NULL, 'e' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	/* Freed after the client that borrows it. */
	_cleanup_(policy_freep) struct policy *limits = NULL;
	_cleanup_(plugin_client_freep) struct plugin_client *pc = NULL;
	struct plugin_opt opts[MAX_OPTS];
	const char *driver = NULL, *name = NULL, *sub;
	bool explicit_create = false;
	size_t n_opts = 0;
	int opt, r;

	g->prog = "dvdcli";
	if (argc < 2) {
		usage(stderr);
		return dv_said(err, DV_ERROR_FAIL);
	}
	sub = argv[1];
	if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(sub, "version")) {
		printf("dvdcli %s (dvmount %s)\n", DVDCLI_COMPAT_VERSION, DVMOUNT_VERSION);
		return 0;
	}

	argc--;
	argv++;
	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'd':
			driver = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'o':
			if (add_opt(optarg, opts, &n_opts) < 0)
				return dv_fail(
				    err, -EINVAL,
				    "--volumeopts '%s': expected KEY=VALUE, one per flag "
				    "(at most %d)",
				    optarg, MAX_OPTS);
			break;
		case 'e':
			explicit_create = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			return dv_fail(err, -EINVAL, "%s: unknown or incomplete flag '%s'", sub,
				       argv[optind - 1]);
		}
	}
	if (optind < argc)
		return dv_fail(err, -EINVAL, "%s: unexpected argument '%s'", sub, argv[optind]);
	if (!driver || !*driver)
		return dv_fail(err, -EINVAL, "%s: --volumedriver is required", sub);
	if (strcmp(sub, "list") && (!name || !*name))
		return dv_fail(err, -EINVAL, "%s: --volumename is required", sub);

	limits = lc_limits_policy(g);
	r = lc_plugin_client(g, NULL, limits, &pc);
	if (r < 0)
		return dv_fail(err, r, "cannot start the plugin client: %s", strerror(-r));

	if (!strcmp(sub, "mount") || !strcmp(sub, "unmount")) {
		struct plugin_mount m = { .driver = driver,
					  .name = name,
					  .opts = opts,
					  .n_opts = n_opts,
					  .explicit_create = explicit_create };
		struct lc lc;

		/*
		 * With the state dir: one plugin Mount per volume per host under a
		 * host-stable ID, however often Mesos calls mount (it does so for
		 * every container). Without it: dvdcli's own stateless calls.
		 */
		if (lc_open(g, false, &lc) == 0) {
			r = sub[0] == 'm' ? tracked_mount(&lc, &m) : tracked_unmount(&lc, &m);
			if (r == 0 && sub[0] == 'm')
				printf("%s\n", m.mountpoint);
			plugin_mount_clear(&m);
			r = lc_report(&lc, err);
			lc_close(&lc);
			/* A mountpoint Mesos did not get is a failure with no more to say. */
			if (r == 0 && fflush(stdout) != 0)
				r = dv_said(err, DV_ERROR_FAIL);
			return r;
		}
		log_warn(g, "%s: without Mount IDs, as dvdcli",
			 lc.n_failures ? lc.failures[0] : "state dir unusable");
		lc_close(&lc);
		if (sub[0] == 'm') {
			/* dvdcli sends no Mount ID: it predates them. */
			r = plugin_mount_many(pc, &m, 1);
			if (r < 0 || m.result < 0) {
				r = dv_fail(err, r < 0 ? r : m.result, "%s",
					    r < 0 ? strerror(-r) : m.err);
				plugin_mount_clear(&m);
				return r;
			}
			printf("%s\n", m.mountpoint);
			plugin_mount_clear(&m);
			return fflush(stdout) == 0 ? 0 : dv_said(err, DV_ERROR_FAIL);
		}
	}

	static const struct {
		const char *name;
		enum plugin_method method;
	} simple[] = {
		{ "unmount", PLUGIN_UNMOUNT }, { "path", PLUGIN_PATH }, { "create", PLUGIN_CREATE },
		{ "remove", PLUGIN_REMOVE },   { "get", PLUGIN_GET },	{ "list", PLUGIN_LIST },
	};
	struct plugin_req q = { .driver = driver, .name = name, .opts = opts, .n_opts = n_opts };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(simple); i++)
		if (!strcmp(sub, simple[i].name))
			break;
	if (i == ARRAY_SIZE(simple))
		return dv_fail(err, -EINVAL, "unknown command '%s' (see dvdcli --help)", sub);
	/* Unmount and Path go straight to the plugin: no Get, so old plugins work. */
	q.method = simple[i].method;
	r = plugin_call_many(pc, &q, 1);
	if (r < 0 || q.result < 0) {
		r = dv_fail(err, r < 0 ? r : q.result, "%s", r < 0 ? strerror(-r) : q.err);
		plugin_req_clear(&q);
		return r;
	}
	if (q.method == PLUGIN_PATH)
		printf("%s\n", q.mountpoint);
	else if (q.method == PLUGIN_GET)
		printf("%s\n", json_object_to_json_string_ext(json_get_ci(q.reply, "Volume"),
							      JSON_C_TO_STRING_PLAIN));
	else if (q.method == PLUGIN_LIST)
		printf("%s\n", json_object_to_json_string_ext(json_get_ci(q.reply, "Volumes"),
							      JSON_C_TO_STRING_PLAIN));
	plugin_req_clear(&q);
	return fflush(stdout) == 0 ? 0 : dv_said(err, DV_ERROR_FAIL);
}
