/* SPDX-License-Identifier: MIT */
/*
 * Stress (issue 14): WORKERS processes run OPS dvmount commands between them
 * on shared volumes of the test plugin, as containerizers and Mesos' dvdcli
 * calls would: prepare --pid of containers (real processes, each in its own
 * mount namespace, some pivoted into a rootfs) or prepare without --pid (the
 * bind mounts left to the containerizer), with a random subset of the
 * volumes and a random lifetime, then cleanup, or death without cleanup and
 * `recover --gc-dead`;
 * dvdcli mount/unmount; status. Some prepares name a volume whose every
 * Mount the plugin fails ("faulty"), or an option the policy refuses; some
 * use "sticky", whose every Unmount the plugin refuses until the end: those
 * errors are expected and counted, any other is a failure naming the op.
 *
 * While a container lives its volumes are attached inside it, writable
 * through to the plugin's backend, and the plugin holds their Mount IDs. At
 * the end nothing is left: no container or user in status, every plugin
 * Mount paired with its Unmount and no Mount ID held, no mount, no dvmount
 * process, no fd of the plugin's or this process's, nothing in the state dir
 * that an empty state does not hold.
 *
 * DVMOUNT_STRESS_SEED=N replays a run's random choices (the interleaving of
 * the processes is the kernel's). 10-15 s per variant on a loaded 2-core VM.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define WORKERS 32
#define OPS 2000
/*
 * Volumes: HOT ones that many containers use at once (their counts go up and
 * down and rarely reach zero), COLD ones that one container in two adds (each
 * often idle: their Mounts and Unmounts race the next container's), and
 * "sticky", whose every Unmount fails until the end.
 */
#define HOT 4
#define COLD 16
#define STICKY (HOT + COLD)
#define VOLS (STICKY + 1)
#define CT_VOLS 4	/* at most 2 hot, 1 cold and sticky in one container */
#define CT_PER_WORKER 2 /* containers a worker keeps alive at once */
#define LIFETIME_MAX 6	/* a container's life, in its worker's ops */
#define FAIL_MAX 4096	/* the first failure's words, per worker */

/* Mesos' own count of its containers using one volume through dvdcli. */
struct mesos_use {
	pthread_mutex_t lock; /* process-shared */
	int held;	      /* mounted for that many containers */
	int mounting;	      /* dvdcli mounts under way */
	bool unmounting;      /* the dvdcli unmount under way */
};

/* What the processes share: the op counter, Mesos' counts, the tallies. */
struct shared {
	atomic_int ops;
	struct mesos_use mesos[STICKY]; /* Mesos never uses sticky */
	atomic_int prepared, pivoted, unattached, refused, faulted, cleaned, died, recovers,
	    recovered;
	atomic_int dvdcli_mounts, dvdcli_unmounts, dvdcli_faulted, statuses, checks;
	atomic_int sticky_failed; /* runs that failed on sticky's Unmount, as they may */
	atomic_int failures;
	char fail[WORKERS][FAIL_MAX];
};

struct ct {
	struct tu_container proc;
	char cid[32];
	char sandbox[PATH_MAX]; /* where its volumes land, as it sees it */
	bool pivoted;		/* into the shared rootfs: a running container */
	bool unattached;	/* no process: prepare without --pid prints bind mounts */
	bool live;		/* prepared, its end still to come */
	int n;
	int vol[CT_VOLS];
	bool ro[CT_VOLS];
	char mount_id[CT_VOLS][80];
	int life;  /* ops of its worker left */
	bool dies; /* without cleanup: recover --gc-dead's */
};

struct worker {
	struct lcenv *e;
	struct shared *sh;
	const char *rootfs; /* busybox, shared by the pivoted containers */
	int w;
	unsigned seed, rnd;
	int op;		/* this worker's ops so far */
	char what[256]; /* the op under way, for the failure report */
	struct ct ct[CT_PER_WORKER];
	int serial;
};

static const char *const shared_names[VOLS] = {
	"s0", "s1", "s2", "s3",	 "c0",	"c1",  "c2",  "c3",  "c4",  "c5",     "c6",
	"c7", "c8", "c9", "c10", "c11", "c12", "c13", "c14", "c15", "sticky",
};

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_string(v) : NULL;
}

static unsigned rnd(struct worker *k, unsigned n)
{
	return (unsigned)rand_r(&k->rnd) % n;
}

/* Claims one op of the OPS; false once they are all taken. */
static bool take_op(struct worker *k)
{
	return atomic_fetch_add(&k->sh->ops, 1) < OPS;
}

/*
 * The first failure of this worker: the seed, the op, what it printed, and
 * the state as status saw it then. Later ones are only counted.
 */
static _printf_(3, 4) void fail(struct worker *k, const struct run_result *r, const char *fmt, ...)
{
	char *status = NULL, msg[512];
	struct run_result s = { 0 };
	va_list ap;

	atomic_fetch_add(&k->sh->failures, 1);
	if (k->sh->fail[k->w][0])
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (lcenv_run(k->e, &s, "status", NULL) == 0)
		status = s.out;
	snprintf(k->sh->fail[k->w], FAIL_MAX,
		 "seed %u worker %d op %d (%s): %s\n  exit %d\n  stdout: %s\n  stderr: %s\n"
		 "  status then:\n%s",
		 k->seed, k->w, k->op, k->what, msg, r ? r->status : -1, r && r->out ? r->out : "",
		 r && r->err ? r->err : "", status ?: "(none)");
	run_result_free(&s);
}

#define CHECK(k, r, cond, fmt, ...)                                                                \
	({                                                                                         \
		bool ok_ = (cond);                                                                 \
		if (!ok_)                                                                          \
			fail(k, r, "expected %s: " fmt, #cond, ##__VA_ARGS__);                     \
		ok_;                                                                               \
	})

/* A successful run: exit 0 and nothing on stderr. */
static bool ran_ok(struct worker *k, struct run_result *r)
{
	return CHECK(k, r, r->status == 0 && r->err[0] == '\0', "success");
}

/* A run that failed as its input implies: that exit, one stderr line naming each word. */
static bool ran_failing(struct worker *k, struct run_result *r, int status,
			const char *const *words, size_t n)
{
	const char *nl = strchr(r->err, '\n');

	if (!CHECK(k, r, r->status == status, "exit %d", status))
		return false;
	if (!CHECK(k, r, nl && nl[1] == '\0', "one line on stderr"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!CHECK(k, r, strstr(r->err, words[i]), "'%s' named", words[i]))
			return false;
	return true;
}

/*
 * A run that releases "sticky" may be the one that Unmounts it, which fails
 * (or not, when another container still uses it): it succeeds, or fails
 * with one line naming sticky and the plugin's refusal.
 */
static bool ran_ok_or_sticky(struct worker *k, struct run_result *r, bool sticky, const char *cid)
{
	const char *words[] = { "sticky", "injected", cid ?: "sticky" };

	if (r->status == 0 || !sticky)
		return ran_ok(k, r);
	if (!ran_failing(k, r, 1, words, ARRAY_SIZE(words)))
		return false;
	atomic_fetch_add(&k->sh->sticky_failed, 1);
	return true;
}

/*
 * Mounts where its volumes land, in its mount namespace; an unattached
 * one's targets are the containerizer's to bind, in this namespace.
 */
static int ct_mounts(const struct ct *c)
{
	return lc_mounts_under(c->unattached ? 0 : c->proc.pid, c->sandbox);
}

/* While it lives: attached inside it, writable through, held by the plugin. */
static void check_alive(struct worker *k, struct ct *c)
{
	char p[PATH_MAX], q[PATH_MAX], buf[64];

	CHECK(k, NULL, ct_mounts(c) == (c->unattached ? 0 : c->n), "%s: %d attached", c->cid,
	      c->unattached ? 0 : c->n);
	for (int i = 0; i < c->n; i++) {
		const char *name = shared_names[c->vol[i]];
		int r;

		CHECK(k, NULL, lcenv_plugin_holds(k->e, name, c->mount_id[i]) == 1,
		      "%s: the plugin holds %s under %s", c->cid, name, c->mount_id[i]);
		/* --bind: the plugin's mountpoint is a mount in its namespace. */
		tu_path(p, "%s/mnt/%s", k->e->tproot, name);
		CHECK(k, NULL, lc_mounts_under(k->e->plugin, p) == 1, "%s: %s mounted", c->cid, p);
		if (c->unattached)
			continue;
		tu_path(p, "%s/v%d/%s", c->sandbox, i, c->cid);
		r = lc_ct_write(c->proc.pid, 0, 0, p, c->cid);
		if (c->ro[i]) {
			CHECK(k, NULL, r == -EROFS, "%s: %s read-only, got %d", c->cid, name, r);
			continue;
		}
		tu_path(q, "%s/volumes/%s/data/%s", k->e->tproot, name, c->cid);
		if (CHECK(k, NULL, r == 0, "%s: write to %s: %d", c->cid, name, r))
			CHECK(k, NULL, tu_read_file(q, buf, sizeof(buf)) == (ssize_t)strlen(c->cid),
			      "%s: %s reaches the backend", c->cid, name);
		unlink(q);
	}
}

/* status --container-id: its record, prepared, and exactly its volumes with it as a user. */
static void op_status_one(struct worker *k, struct ct *c)
{
	_cleanup_json_ json_object *o = NULL;
	struct run_result r;
	json_object *cs, *vs;

	snprintf(k->what, sizeof(k->what), "status --container-id %s", c->cid);
	lcenv_run(k->e, &r, "status", "--container-id", c->cid, "--json", NULL);
	atomic_fetch_add(&k->sh->statuses, 1);
	if (ran_ok(k, &r) && CHECK(k, &r, (o = json_tokener_parse(r.out)), "JSON")) {
		cs = json_object_object_get(o, "containers");
		vs = json_object_object_get(o, "volumes");
		CHECK(k, &r, json_object_array_length(cs) == 1, "one container");
		CHECK(k, &r, (int)json_object_array_length(vs) == c->n, "%d volumes", c->n);
		for (size_t i = 0; i < json_object_array_length(vs); i++) {
			json_object *v = json_object_array_get_idx(vs, i);
			const char *name =
			    json_object_get_string(json_object_object_get(v, "name"));
			const char *id =
			    json_object_get_string(json_object_object_get(v, "mount_id"));
			int j;

			for (j = 0; j < c->n; j++)
				if (name && !strcmp(name, shared_names[c->vol[j]]))
					break;
			if (CHECK(k, &r, j < c->n, "%s is one of its volumes", name))
				CHECK(k, &r, id && !strcmp(id, c->mount_id[j]),
				      "%s under the Mount ID prepare gave", name);
			CHECK(k, &r,
			      json_object_get_int(json_object_object_get(v, "refcount")) >= 1,
			      "%s counted", name);
		}
	}
	run_result_free(&r);
	check_alive(k, c);
	atomic_fetch_add(&k->sh->checks, 1);
}

/* status --json: parses, and each of this worker's containers is there, prepared. */
static void op_status_all(struct worker *k)
{
	_cleanup_json_ json_object *o = NULL;
	struct run_result r;

	snprintf(k->what, sizeof(k->what), "status");
	lcenv_run(k->e, &r, "status", "--json", NULL);
	atomic_fetch_add(&k->sh->statuses, 1);
	if (ran_ok(k, &r) && CHECK(k, &r, (o = json_tokener_parse(r.out)), "JSON")) {
		json_object *cs = json_object_object_get(o, "containers");

		for (int i = 0; i < CT_PER_WORKER; i++) {
			bool found = false;

			if (!k->ct[i].live)
				continue;
			for (size_t j = 0; j < json_object_array_length(cs); j++) {
				json_object *x = json_object_array_get_idx(cs, j);
				const char *id = jstr(x, "container_id");

				found |= id && !strcmp(id, k->ct[i].cid);
			}
			CHECK(k, &r, found, "%s listed", k->ct[i].cid);
		}
	}
	run_result_free(&r);
}

static bool record_exists(struct worker *k, const char *cid)
{
	char p[PATH_MAX];

	return access(tu_path(p, "%s/containers/%s.json", k->e->state, cid), F_OK) == 0;
}

/*
 * A new container with 0-2 hot volumes, a cold one or not, at least one of
 * them, and in one prepare in 12 sticky (some RO); one prepare in
 * ten also names "faulty" (every Mount of it fails: exit 1, all undone),
 * one in twenty passes an option the policy refuses (exit 3, nothing done).
 * One in four is pivoted into the shared rootfs (prepare --rootfs /, its
 * volumes at absolute paths under /vol/<cid>); the others get a sandbox.
 */
static void op_prepare(struct worker *k, struct ct *c)
{
	struct lcvol v[CT_VOLS + 1];
	char paths[CT_VOLS + 1][PATH_MAX], vols[PATH_MAX], file[32], pid[16];
	bool faulty = rnd(k, 10) == 0, refused = rnd(k, 20) == 0;
	/* Not with faulty: its undo would Unmount sticky too, a second error. */
	bool sticky = !faulty && rnd(k, 12) == 0;
	int hot = (int)rnd(k, 3), first = (int)rnd(k, HOT), cold = (int)rnd(k, 2 * COLD), n = 0, m;
	struct run_result r;

	if (cold >= COLD && hot == 0)
		hot = 1;

	memset(c, 0, sizeof(*c));
	snprintf(c->cid, sizeof(c->cid), "w%d-%d", k->w, k->serial++);
	c->pivoted = rnd(k, 4) == 0;
	c->unattached = !c->pivoted && rnd(k, 6) == 0;
	if (c->pivoted)
		tu_path(c->sandbox, "/vol/%s", c->cid);
	else
		tu_path(c->sandbox, "%s/sb/%s", k->e->dir, c->cid);
	for (int i = 0; i < hot; i++)
		c->vol[n++] = (first + i) % HOT;
	if (cold < COLD)
		c->vol[n++] = HOT + cold;
	if (sticky)
		c->vol[n++] = STICKY;
	c->n = n;
	for (int i = 0; i < n; i++) {
		c->ro[i] = c->vol[i] != STICKY && rnd(k, 4) == 0;
		/* Relative: in the sandbox; absolute: in the rootfs. */
		tu_path(paths[i], "%s%sv%d", c->pivoted ? c->sandbox : "", c->pivoted ? "/" : "",
			i);
		v[i] = (struct lcvol){ .name = shared_names[c->vol[i]],
				       .path = paths[i],
				       .mode = c->ro[i] ? "RO" : "RW" };
	}
	m = n;
	if (faulty)
		v[m++] = (struct lcvol){ .name = "faulty",
					 .path = tu_path(paths[CT_VOLS], "%s%svf",
							 c->pivoted ? c->sandbox : "",
							 c->pivoted ? "/" : "") };
	if (refused) {
		v[0].opt_key = "evil";
		v[0].opt_val = "1";
	}
	snprintf(k->what, sizeof(k->what), "prepare %s:", c->cid);
	for (int i = 0; i < m; i++) {
		size_t len = strlen(k->what);

		snprintf(k->what + len, sizeof(k->what) - len, " %s%s", v[i].name,
			 i < n && c->ro[i] ? " RO" : "");
	}
	if (refused)
		strncat(k->what, ", option evil", sizeof(k->what) - strlen(k->what) - 1);
	if (c->pivoted || c->unattached)
		strncat(k->what, c->pivoted ? ", pivoted" : ", without --pid",
			sizeof(k->what) - strlen(k->what) - 1);
	snprintf(file, sizeof(file), "%s.json", c->cid);
	if (!CHECK(k, NULL, c->pivoted || tu_mkdirs(c->sandbox, 0755) == 0, "sandbox") ||
	    !CHECK(k, NULL, lcenv_volumes(k->e, file, v, (size_t)m, vols) == 0, "spec") ||
	    !CHECK(k, NULL,
		   c->unattached || tu_container_start(&c->proc, c->pivoted ? k->rootfs : NULL,
						       c->pivoted ? TU_CT_PIVOT : 0) == 0,
		   "container"))
		return;
	lc_pidstr(pid, c->proc.pid);
	if (c->unattached)
		lcenv_run(k->e, &r, "prepare", "--container-id", c->cid, "--volumes", vols,
			  "--sandbox", c->sandbox, NULL);
	else if (c->pivoted)
		lcenv_run(k->e, &r, "prepare", "--container-id", c->cid, "--volumes", vols, "--pid",
			  pid, "--rootfs", "/", NULL);
	else
		lcenv_run(k->e, &r, "prepare", "--container-id", c->cid, "--volumes", vols, "--pid",
			  pid, "--sandbox", c->sandbox, NULL);
	unlink(vols);
	if (refused || faulty) {
		/* Refused before any plugin call; faulted: undone. Nothing of it is left. */
		const char *words[] = { c->cid, refused ? shared_names[c->vol[0]] : "faulty",
					refused ? "evil" : "injected" };

		if (ran_failing(k, &r, refused ? 3 : 1, words, ARRAY_SIZE(words)))
			atomic_fetch_add(refused ? &k->sh->refused : &k->sh->faulted, 1);
		CHECK(k, &r, ct_mounts(c) == 0, "nothing attached");
		CHECK(k, &r, !record_exists(k, c->cid), "no record");
		run_result_free(&r);
		tu_container_stop(&c->proc);
		return;
	}
	if (ran_ok(k, &r)) {
		_cleanup_json_ json_object *o = json_tokener_parse(r.out);
		json_object *vs = o ? json_object_object_get(o, "volumes") : NULL;

		/* Without --pid, the containerizer's bind mounts: one per volume. */
		json_object *bm = o ? json_object_object_get(o, "bind_mounts") : NULL;
		int n_bm = json_object_is_type(bm, json_type_array)
			       ? (int)json_object_array_length(bm)
			       : 0;

		CHECK(k, &r, n_bm == (c->unattached ? n : 0), "%d bind mounts",
		      c->unattached ? n : 0);
		if (CHECK(k, &r, vs && (int)json_object_array_length(vs) == n, "%d volumes", n))
			for (int i = 0; i < n; i++) {
				json_object *x = json_object_array_get_idx(vs, (size_t)i);
				const char *name = jstr(x, "name");
				const char *id = jstr(x, "mount_id");
				const char *target = jstr(x, "target");
				const char *host = jstr(x, "host_path");
				char want[PATH_MAX];

				CHECK(k, &r, name && !strcmp(name, shared_names[c->vol[i]]),
				      "volume %d is %s", i, shared_names[c->vol[i]]);
				tu_path(want, "%s/mnt/%s", k->e->tproot, shared_names[c->vol[i]]);
				CHECK(k, &r, host && !strcmp(host, want), "from %s", want);
				tu_path(want, "%s/v%d", c->sandbox, i);
				CHECK(k, &r, target && !strcmp(target, want), "at %s", want);
				CHECK(k, &r,
				      json_object_get_boolean(
					  json_object_object_get(x, "attached")) == !c->unattached,
				      "%s attached or not", want);
				snprintf(c->mount_id[i], sizeof(c->mount_id[i]), "%s", id ?: "");
			}
		atomic_fetch_add(&k->sh->prepared, 1);
		atomic_fetch_add(&k->sh->pivoted, c->pivoted);
		atomic_fetch_add(&k->sh->unattached, c->unattached);
		c->life = 1 + (int)rnd(k, LIFETIME_MAX);
		/* Without a process, it has no death for recover --gc-dead to see. */
		c->dies = !c->unattached && rnd(k, 5) == 0;
		c->live = true;
		run_result_free(&r);
		check_alive(k, c);
		return;
	}
	run_result_free(&r);
	tu_container_stop(&c->proc);
}

/* Its life is over: cleanup while it runs, or death without one. */
static void op_end(struct worker *k, struct ct *c)
{
	struct run_result r;

	c->live = false;
	if (c->dies) {
		/* recover --gc-dead (some worker's, or the last one) cleans up after it. */
		tu_container_stop(&c->proc);
		atomic_fetch_add(&k->sh->died, 1);
		return;
	}
	snprintf(k->what, sizeof(k->what), "cleanup %s", c->cid);
	lcenv_run(k->e, &r, "cleanup", "--container-id", c->cid, NULL);
	if (ran_ok_or_sticky(k, &r, c->vol[c->n - 1] == STICKY, c->cid))
		atomic_fetch_add(&k->sh->cleaned, 1);
	CHECK(k, &r, ct_mounts(c) == 0, "%s: all detached", c->cid);
	CHECK(k, &r, !record_exists(k, c->cid), "%s: no record", c->cid);
	run_result_free(&r);
	tu_container_stop(&c->proc);
}

static void op_recover(struct worker *k)
{
	struct run_result r;
	unsigned n, corrupt;

	snprintf(k->what, sizeof(k->what), "recover --gc-dead");
	lcenv_run(k->e, &r, "recover", "--gc-dead", NULL);
	atomic_fetch_add(&k->sh->recovers, 1);
	/* Any recover may be the one that retries sticky's Unmount. */
	if (ran_ok_or_sticky(k, &r, true, NULL) &&
	    CHECK(k, &r,
		  sscanf(r.out,
			 "recovered: %u container(s) cleaned up, %u corrupt record(s) set aside",
			 &n, &corrupt) == 2 &&
		      corrupt == 0,
		  "its count, nothing corrupt"))
		atomic_fetch_add(&k->sh->recovered, (int)n);
	run_result_free(&r);
}

/* Runs dvdcli mount|unmount of volume v and checks what it printed. */
static bool dvdcli(struct worker *k, const char *cmd, int v)
{
	char name[64], expect[PATH_MAX + 1];
	struct run_result r;
	bool ok;

	snprintf(name, sizeof(name), "--volumename=%s", shared_names[v]);
	snprintf(k->what, sizeof(k->what), "dvdcli %s %s", cmd, shared_names[v]);
	lcenv_run(k->e, &r, "dvdcli", cmd, "--volumedriver=tp", name, NULL);
	/* mount prints the mountpoint and a newline, unmount nothing (dvdcli 0.2). */
	if (!strcmp(cmd, "mount"))
		snprintf(expect, sizeof(expect), "%s/mnt/%s\n", k->e->tproot, shared_names[v]);
	else
		expect[0] = '\0';
	ok = ran_ok(k, &r) && CHECK(k, &r, !strcmp(r.out, expect), "'%s' on stdout", expect);
	run_result_free(&r);
	return ok;
}

/*
 * Mesos' dvdcli (facts/mesos-isolator.md): mount for every container that
 * uses a volume, even while others use it and while other mounts of it are
 * under way; unmount only when its own count of users drops to zero, with
 * no mount of the volume under way. Mesos' count is the shared struct mesos.
 */
static void op_dvdcli(struct worker *k)
{
	struct mesos_use *m;
	int v = (int)rnd(k, STICKY + 1);
	bool release = rnd(k, 3) != 0, unmount = false, ok;

	if (v == STICKY) {
		const char *words[] = { "faulty", "injected" };
		struct run_result r;

		snprintf(k->what, sizeof(k->what), "dvdcli mount faulty");
		lcenv_run(k->e, &r, "dvdcli", "mount", "--volumedriver=tp", "--volumename=faulty",
			  NULL);
		if (ran_failing(k, &r, 1, words, ARRAY_SIZE(words)))
			atomic_fetch_add(&k->sh->dvdcli_faulted, 1);
		run_result_free(&r);
		return;
	}
	m = &k->sh->mesos[v];
	pthread_mutex_lock(&m->lock);
	if (m->unmounting) {
		pthread_mutex_unlock(&m->lock);
		op_status_all(k);
		return;
	}
	if (release && m->held > 0) {
		/* One container of Mesos' is gone: the last one, with no mount under way, unmounts.
		 */
		m->held--;
		unmount = m->held == 0 && m->mounting == 0;
		m->unmounting = unmount;
		pthread_mutex_unlock(&m->lock);
		if (!unmount) {
			op_status_all(k);
			return;
		}
		ok = dvdcli(k, "unmount", v);
		atomic_fetch_add(&k->sh->dvdcli_unmounts, ok);
		pthread_mutex_lock(&m->lock);
		m->unmounting = false;
		m->held += !ok;
		pthread_mutex_unlock(&m->lock);
		return;
	}
	m->mounting++;
	pthread_mutex_unlock(&m->lock);
	ok = dvdcli(k, "mount", v);
	atomic_fetch_add(&k->sh->dvdcli_mounts, ok);
	pthread_mutex_lock(&m->lock);
	m->mounting--;
	m->held += ok;
	pthread_mutex_unlock(&m->lock);
}

static void worker_step(struct worker *k)
{
	struct ct *live[CT_PER_WORKER], *free_slot = NULL;
	int n_live = 0;
	unsigned x;

	k->op++;
	for (int i = 0; i < CT_PER_WORKER; i++) {
		struct ct *c = &k->ct[i];

		if (!c->live) {
			free_slot = free_slot ?: c;
			continue;
		}
		if (--c->life <= 0) {
			op_end(k, c);
			return;
		}
		live[n_live++] = c;
	}
	x = rnd(k, 100);
	if (x < 40 && free_slot)
		op_prepare(k, free_slot);
	else if (x < 60 && n_live)
		op_status_one(k, live[rnd(k, (unsigned)n_live)]);
	else if (x < 80)
		op_dvdcli(k);
	else if (x < 85)
		op_recover(k);
	else
		op_status_all(k);
}

static int worker_run(struct lcenv *e, struct shared *sh, const char *rootfs, int w, unsigned seed)
{
	struct worker *k = calloc(1, sizeof(*k));
	int fds = tu_count_fds();

	if (!k)
		return 1;
	*k = (struct worker){ .e = e, .sh = sh, .rootfs = rootfs, .w = w, .seed = seed };
	k->rnd = seed * 2654435761u + (unsigned)w;
	while (take_op(k))
		worker_step(k);
	/* The run is over: this worker's containers end as they would have. */
	for (int i = 0; i < CT_PER_WORKER; i++)
		if (k->ct[i].live)
			op_end(k, &k->ct[i]);
	snprintf(k->what, sizeof(k->what), "the end");
	CHECK(k, NULL, tu_count_fds() == fds, "this worker's %d fds", fds);
	free(k);
	return 0;
}

FIXTURE(stress)
{
	struct lcenv e;
	struct shared *sh;
	char rootfs[PATH_MAX];
	int plugin_fds, fds, mounts;
};

FIXTURE_VARIANT(stress)
{
	int max_in_flight; /* 0: the default (1) */
};

FIXTURE_VARIANT_ADD(stress, in_flight_default){
	.max_in_flight = 0,
};

FIXTURE_VARIANT_ADD(stress, in_flight_4){
	.max_in_flight = 4,
};

FIXTURE_SETUP(stress)
{
	char *extra[] = { "--fault", "Mount error injected volume=faulty", NULL };
	char text[2 * PATH_MAX], sb[PATH_MAX];

	self->fds = tu_count_fds();
	ASSERT_EQ(0, lcenv_setup(&self->e, extra));
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver tp]\nhost-paths = %s\nmodes = RW RO\noptions = size\n%s%.0d\n",
		 self->e.tproot, variant->max_in_flight ? "max-in-flight = " : "",
		 variant->max_in_flight);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	ASSERT_EQ(0, tu_mkdirs(tu_path(sb, "%s/sb", self->e.dir), 0755));
	ASSERT_EQ(0, lc_mkrootfs(tu_path(self->rootfs, "%s/rootfs", self->e.dir)));
	/*
	 * The first match counts: sticky's Unmount fails; every other Mount
	 * and Unmount takes 40 ms, so that runs meet inside them.
	 */
	ASSERT_EQ(0, tu_write_file(self->e.faults, "Unmount error injected volume=sticky\n"
						   "Mount latency 40\nUnmount latency 40\n"
						   "Get latency 5\n"));
	self->plugin_fds = tu_count_fds_of(self->e.plugin);
	ASSERT_LT(0, self->plugin_fds);
	self->mounts = lc_mounts_under(0, "/");
	self->sh = mmap(NULL, sizeof(*self->sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			-1, 0);
	ASSERT_NE(MAP_FAILED, self->sh);
	pthread_mutexattr_t attr;

	ASSERT_EQ(0, pthread_mutexattr_init(&attr));
	ASSERT_EQ(0, pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED));
	for (int i = 0; i < STICKY; i++)
		ASSERT_EQ(0, pthread_mutex_init(&self->sh->mesos[i].lock, &attr));
	pthread_mutexattr_destroy(&attr);
}

FIXTURE_TEARDOWN(stress)
{
	lcenv_teardown(&self->e);
	if (self->sh && self->sh != MAP_FAILED)
		munmap(self->sh, sizeof(*self->sh));
}

static unsigned stress_seed(void)
{
	const char *s = getenv("DVMOUNT_STRESS_SEED");
	struct timespec ts;

	if (s && *s)
		return (unsigned)strtoul(s, NULL, 0);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (unsigned)(ts.tv_nsec ^ ts.tv_sec ^ getpid()) % 1000000u;
}

TEST_F_TIMEOUT(stress, shared_volumes_random_lifetimes_nothing_left, 300)
{
	struct shared *sh = self->sh;
	unsigned seed = stress_seed();
	pid_t pids[WORKERS];
	struct timespec t0, t1;
	struct run_result r;
	char p[PATH_MAX];
	int c = -1, v = -1, n, fds = -1;

	TH_LOG("seed %u (DVMOUNT_STRESS_SEED=%u replays it), %d workers, %d ops, max-in-flight %d",
	       seed, seed, WORKERS, OPS, variant->max_in_flight ?: 1);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int w = 0; w < WORKERS; w++) {
		pids[w] = fork();
		ASSERT_LE(0, pids[w]);
		if (pids[w] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			_exit(worker_run(&self->e, sh, self->rootfs, w, seed));
		}
	}
	for (int w = 0; w < WORKERS; w++) {
		int status;

		ASSERT_EQ(pids[w], waitpid(pids[w], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) TH_LOG("worker %d", w);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int w = 0; w < WORKERS; w++)
		if (sh->fail[w][0])
			TH_LOG("%s", sh->fail[w]);
	EXPECT_EQ(0, sh->failures);

	/* What Mesos still holds (it unmounts once), and the dead nobody recovered yet. */
	for (int i = 0; i < STICKY; i++) {
		char name[64];

		EXPECT_EQ(0, sh->mesos[i].mounting);
		if (!sh->mesos[i].held)
			continue;
		snprintf(name, sizeof(name), "--volumename=%s", shared_names[i]);
		lcenv_run(&self->e, &r, "dvdcli", "unmount", "--volumedriver=tp", name, NULL);
		EXPECT_EQ(0, r.status) TH_LOG("dvdcli unmount %s: %s", shared_names[i], r.err);
		sh->dvdcli_unmounts += r.status == 0;
		run_result_free(&r);
	}
	/* The plugin Unmounts sticky again, at once: recover retries what it refused. */
	ASSERT_EQ(0, tu_write_file(self->e.faults, ""));
	lcenv_run(&self->e, &r, "recover", "--gc-dead", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("last recover: %s", r.err);
	ASSERT_EQ(1, sscanf(r.out, "recovered: %d container(s) cleaned up", &n))
	TH_LOG("%s", r.out);
	sh->recovered += n;
	sh->recovers++;
	run_result_free(&r);

	TH_LOG("%.1f s: %d prepared (%d pivoted, %d without --pid; %d cleaned up, %d died: %d "
	       "recovered by %d "
	       "recover runs), "
	       "%d refused, %d faulted, %d failed on sticky; dvdcli %d mounts %d unmounts %d "
	       "faulted; %d status, %d checks inside containers",
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
	       sh->prepared, sh->pivoted, sh->unattached, sh->cleaned, sh->died, sh->recovered,
	       sh->recovers, sh->refused, sh->faulted, sh->sticky_failed, sh->dvdcli_mounts,
	       sh->dvdcli_unmounts, sh->dvdcli_faulted, sh->statuses, sh->checks);
	EXPECT_EQ(sh->prepared, sh->cleaned + sh->died);
	/* Each dead container cleaned up exactly once, by one recover. */
	EXPECT_EQ(sh->died, sh->recovered);
	EXPECT_LT(0, sh->dvdcli_unmounts);
	EXPECT_LT(0, sh->faulted);
	EXPECT_LT(0, sh->refused);
	EXPECT_LT(0, sh->died);
	EXPECT_LT(0, sh->pivoted);
	EXPECT_LT(0, sh->unattached);
	/* sticky_failed is not asserted: its users may overlap from its first Mount to the end. */

	/* No container, no user. */
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &c, &v));
	EXPECT_EQ(0, c);
	EXPECT_EQ(0, v);
	/* Every Mount paired with its Unmount, and the plugin holds no Mount ID. */
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	TH_LOG("the plugin saw %d Mounts (%d failed) and %d Unmounts (%d refused)",
	       lcenv_log_count(&self->e, "Mount", NULL),
	       lcenv_log_all(&self->e, "Mount") - lcenv_log_count(&self->e, "Mount", NULL),
	       lcenv_log_count(&self->e, "Unmount", NULL),
	       lcenv_log_all(&self->e, "Unmount") - lcenv_log_count(&self->e, "Unmount", NULL));
	EXPECT_LT(0, lcenv_log_count(&self->e, "Mount", NULL));
	EXPECT_EQ(lcenv_log_count(&self->e, "Mount", NULL),
		  lcenv_log_count(&self->e, "Unmount", NULL));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Mount", "faulty"));
	EXPECT_EQ(0, lcenv_plugin_holds(&self->e, NULL, NULL));
	/* No mount left in this namespace (the plugin's too), no dvmount process. */
	EXPECT_EQ(self->mounts, lc_mounts_under(0, "/"));
	EXPECT_EQ(0, lc_mounts_under(self->e.plugin, self->e.tproot));
	EXPECT_EQ(0, lc_mounts_under(0, tu_path(p, "%s/sb", self->e.dir)));
	EXPECT_EQ(0, tu_procs_of(build_path("dvmount")));
	/* No fd leaked: the plugin closes each connection as its client goes. */
	for (int i = 0; i < 100 && (fds = tu_count_fds_of(self->e.plugin)) != self->plugin_fds; i++)
		usleep(20000);
	EXPECT_EQ(self->plugin_fds, fds);
	EXPECT_EQ(self->fds, tu_count_fds());
	/* The state dir: what an empty state holds, and nothing else. */
	EXPECT_EQ(0, lcenv_state_leftovers(&self->e, p, sizeof(p))) TH_LOG("left: %s", p);
}

TEST_HARNESS_MAIN
