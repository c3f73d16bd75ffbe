/* SPDX-License-Identifier: MIT */
/*
 * Randomized kills (issue 14): dvmount killed (SIGKILL) at a random moment
 * of a random operation, trial after trial, on one host where 8 containers
 * (real processes, each in its own mount namespace) share 3 volumes. The
 * operations are what a containerizer runs: prepare --pid of a container
 * with a random subset of the volumes, cleanup, dvdcli mount and unmount
 * (Mesos' one use per volume), recover --known, and recover --gc-dead after
 * a container died. After a kill comes the containerizer's next step:
 * recover (itself killed one time in three, then run again), then the
 * operation once more where the containerizer would retry it. After every
 * trial the invariants of tests/lib/invariants.h hold, the state says
 * exactly what the containerizer believes (its prepared containers, Mesos'
 * dvdcli uses, the reference counts that follow), the plugin has mounted
 * exactly what it holds, and no process is left behind. At the end all is
 * cleaned up: nothing recorded, counted, held or mounted, no process and no
 * fd left.
 *
 * The kill moment is a random delay after dvmount's exec (the test learns of
 * the exec from a close-on-exec pipe: run_argv_killed()), uniform over 1.25
 * times the operation's mean run time so far (5-30 ms here): kills land
 * evenly over its life, from hardening and locks to plugin calls, attach and
 * commit; one in five lands after its end, and the finished operation is
 * checked the same way.
 *
 * Replay: the seed is logged first; DVMOUNT_KILL_SEED=N runs the same
 * operations, killed at the same fractions of their run times (where a kill
 * lands still varies with the machine's load). DVMOUNT_KILL_TRIALS=N changes the number of trials.
 * A failure logs the seed, the trial, the operation and the state.
 *
 * Cost in make check (2 shared cores, other jobs running): ~30-40 s, 40-90
 * ms a trial on the test plugin and 60-160 ms on rclone; make asan runs a
 * fifth of the trials (~35 s).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/jsonutil.h"

#include "kselftest_harness.h"
#include "tests/lib/invariants.h"
#include "tests/lib/lcenv.h"

#define N_CT 8
#define N_VOL 3
#define KILLED (128 + SIGKILL)
#define MAX_ARGS 24
#define LIST_MAX (N_CT * 8)
#define NAME_MAX_ 32
/*
 * make asan looks for memory errors, not for more kill moments: a fifth of
 * the trials there (dvmount under ASan runs 4-5 times slower).
 */
#ifdef __SANITIZE_ADDRESS__
#define ASAN_SHARE 5
#else
#define ASAN_SHARE 1
#endif

enum op {
	OP_PREPARE,
	OP_CLEANUP,
	OP_DVDCLI_MOUNT,
	OP_DVDCLI_UNMOUNT,
	OP_RECOVER,
	OP_GC_DEAD,
	OP_N,
};

static const char *const op_names[OP_N] = {
	"prepare", "cleanup", "dvdcli mount", "dvdcli unmount", "recover", "recover --gc-dead",
};

FIXTURE(kills)
{
	struct lcenv e;
	struct tu_container ct[N_CT];
	char sandbox[PATH_MAX];
	char spec[N_CT][PATH_MAX];
	/* What the containerizer believes. */
	bool prepared[N_CT];
	unsigned vols[N_CT]; /* bit i: volume v<i+1> */
	bool dvdcli[N_VOL];
	/* rclone's plugin, when the variant uses it. */
	pid_t rclone;
	char base[PATH_MAX], remote[PATH_MAX], rclone_state[PATH_MAX];
	uint64_t seed, rng;
	int fds;
	/* The trial under way, for the failure report; and the totals. */
	int trial;
	char op[128];
	int kills, runs;
	/* Per operation: trials, kills, and the seconds of the runs that finished. */
	int op_trials[OP_N], op_kills[OP_N];
	double op_secs[OP_N];
};

FIXTURE_VARIANT(kills)
{
	bool rclone;
	int trials;
	/* How long a call that a killed run left in the plugin may take (inv_recover_settle). */
	unsigned settle_ms;
};

FIXTURE_VARIANT_ADD(kills, testplugin){
	.rclone = false,
	.trials = 500,
	.settle_ms = 0,
};

FIXTURE_VARIANT_ADD(kills, rclone){
	.rclone = true,
	.trials = 40,
	.settle_ms = 1000,
};

/* splitmix64: small, and the same sequence for a seed everywhere. */
static uint64_t rnd(FIXTURE_DATA(kills) * self)
{
	uint64_t z = (self->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned below(FIXTURE_DATA(kills) * self, unsigned n)
{
	return (unsigned)(rnd(self) % n);
}

/*
 * When to kill a run of op: frac (in [0, 1)) of 1.25 times what a run of op
 * took so far when not killed (20 ms until one has finished), so that kills
 * fall evenly over its whole life and one in five lands after its end.
 */
static long kill_delay_us(FIXTURE_DATA(kills) * self, enum op op, double frac)
{
	int done = self->op_trials[op] - self->op_kills[op];
	double mean_us = done > 0 ? self->op_secs[op] * 1e6 / done : 20000;

	return (long)(frac * 1.25 * mean_us);
}

static bool is_rclone(FIXTURE_DATA(kills) * self)
{
	return self->rclone > 0;
}

static int start_rclone(FIXTURE_DATA(kills) * self)
{
	char sock[PATH_MAX], data[PATH_MAX], cache[PATH_MAX], text[2 * PATH_MAX];

	tu_path(self->base, "%s/rclone.base", self->e.dir);
	tu_path(data, "%s/rclone.data", self->e.dir);
	snprintf(self->remote, sizeof(self->remote), ":local:%s", data);
	if (tu_mkdirs(self->base, 0700) < 0 || tu_mkdirs(data, 0700) < 0)
		return -EIO;
	tu_path(sock, "%s/rclone.sock", self->e.plugins);
	tu_path(cache, "%s/rclone.cache", self->e.dir);
	/* Its own cache dir, where rclone keeps the IDs it holds. */
	tu_path(self->rclone_state, "%s/docker-plugin.state", cache);
	char *argv[] = { "rclone",    "serve",	       "docker", "--base-dir",
			 self->base,  "--socket-addr", sock,	 "--config",
			 "/dev/null", "--cache-dir",   cache,	 NULL };
	self->rclone = spawn(argv, NULL);
	if (self->rclone <= 0 || wait_socket(sock, 15000) < 0)
		return -ECHILD;
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver rclone]\nhost-paths = %s\nmodes = RW RO\noptions = remote\n",
		 self->base);
	return lcenv_write_policy(&self->e, text);
}

FIXTURE_SETUP(kills)
{
	const char *s = getenv("DVMOUNT_KILL_SEED");

	if (variant->rclone &&
	    (access("/usr/bin/rclone", X_OK) != 0 || access("/dev/fuse", R_OK) != 0))
		SKIP(return, "rclone or /dev/fuse missing (tools/install-deps installs them)");
	/* Whatever a killed dvmount leaves running becomes ours, to be found. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	if (variant->rclone)
		ASSERT_EQ(0, start_rclone(self));
	tu_path(self->sandbox, "%s/sb", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(self->sandbox, 0755));
	for (int i = 0; i < N_CT; i++)
		ASSERT_EQ(0, tu_container_start(&self->ct[i], NULL, 0));
	self->seed = s ? strtoull(s, NULL, 0) : (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	self->rng = self->seed;
	self->fds = tu_count_fds();
}

FIXTURE_TEARDOWN(kills)
{
	for (int i = 0; i < N_CT; i++)
		tu_container_stop(&self->ct[i]);
	/* SIGTERM makes rclone unmount what it mounted. */
	if (self->rclone > 0)
		stop_process(self->rclone, 5000);
	lcenv_teardown(&self->e);
}

/* "c1,c4": the prepared containers, and also (-1: none). */
static char *known_list(FIXTURE_DATA(kills) * self, char buf[static LIST_MAX], int also)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < N_CT; i++)
		if (self->prepared[i] || i == also)
			n += snprintf(buf + n, LIST_MAX - n, "%sc%d", n ? "," : "", i);
	return buf;
}

/* The buffers that an operation's arguments point into. */
struct argbuf {
	char pid[16], name[NAME_MAX_], opt[PATH_MAX + 32], known[LIST_MAX];
	char *args[MAX_ARGS];
};

/*
 * The arguments of op on target (a container, or a volume for dvdcli; for
 * recover, the container it knows besides the prepared ones, -1: none), on
 * io_uring or (a coin) on plain syscalls.
 */
static char *const *build(FIXTURE_DATA(kills) * self, enum op op, int target, struct argbuf *b)
{
	int n = 0;

	if (is_rclone(self))
		b->args[n++] = "--plugin-retry=15";
	/* Half the runs call the plugin with plain syscalls instead of io_uring. */
	if (below(self, 2))
		b->args[n++] = "--no-uring";
	switch (op) {
	case OP_PREPARE:
	case OP_CLEANUP:
		snprintf(b->name, sizeof(b->name), "c%d", target);
		b->args[n++] = op == OP_PREPARE ? "prepare" : "cleanup";
		b->args[n++] = "--container-id";
		b->args[n++] = b->name;
		if (op == OP_CLEANUP)
			break;
		b->args[n++] = "--volumes";
		b->args[n++] = self->spec[target];
		b->args[n++] = "--pid";
		b->args[n++] = lc_pidstr(b->pid, self->ct[target].pid);
		b->args[n++] = "--sandbox";
		b->args[n++] = self->sandbox;
		break;
	case OP_DVDCLI_MOUNT:
	case OP_DVDCLI_UNMOUNT:
		snprintf(b->name, sizeof(b->name), "--volumename=v%d", target + 1);
		b->args[n++] = "dvdcli";
		b->args[n++] = op == OP_DVDCLI_MOUNT ? "mount" : "unmount";
		b->args[n++] = is_rclone(self) ? "--volumedriver=rclone" : "--volumedriver=tp";
		b->args[n++] = b->name;
		if (op == OP_DVDCLI_MOUNT && is_rclone(self)) {
			snprintf(b->opt, sizeof(b->opt), "--volumeopts=remote=%s", self->remote);
			b->args[n++] = b->opt;
		}
		break;
	case OP_RECOVER:
	case OP_GC_DEAD:
		b->args[n++] = "recover";
		b->args[n++] = "--known";
		b->args[n++] = known_list(self, b->known, target);
		if (op == OP_GC_DEAD)
			b->args[n++] = "--gc-dead";
		break;
	default:
		break;
	}
	b->args[n] = NULL;
	return b->args;
}

/* Write container target's spec: the volumes of mask, at c<target>/v<i>. */
static int write_spec(FIXTURE_DATA(kills) * self, int target, unsigned mask)
{
	char names[N_VOL][8], paths[N_VOL][32], file[32];
	struct lcvol v[N_VOL];
	size_t n = 0;

	for (int i = 0; i < N_VOL; i++) {
		if (!(mask & (1u << i)))
			continue;
		snprintf(names[n], sizeof(names[n]), "v%d", i + 1);
		snprintf(paths[n], sizeof(paths[n]), "c%d/v%d", target, i + 1);
		v[n] = (struct lcvol){ .name = names[n], .path = paths[n] };
		if (is_rclone(self)) {
			v[n].driver = "rclone";
			v[n].opt_key = "remote";
			v[n].opt_val = self->remote;
		}
		n++;
	}
	snprintf(file, sizeof(file), "c%d.json", target);
	return lcenv_volumes(&self->e, file, v, n, self->spec[target]);
}

/* Run op to its end (no kill): it must succeed. */
static bool run_ok(struct __test_metadata *_metadata, FIXTURE_DATA(kills) * self, enum op op,
		   int target, const char *what)
{
	struct argbuf b;
	struct run_result r;
	bool ok;

	lcenv_runv(&self->e, &r, NULL, build(self, op, target, &b));
	self->runs++;
	ok = r.status == 0;
	EXPECT_EQ(0, r.status)
	TH_LOG("seed %llu trial %d (%s): %s: exit %d: %s", (unsigned long long)self->seed,
	       self->trial, self->op, what, r.status, r.err);
	run_result_free(&r);
	return ok;
}

/*
 * The containerizer's recover after a kill (op: recover or recover
 * --gc-dead, knowing also), until the window of a killed Mount is over
 * (inv_recover_settle). One time in three that recover is killed too first,
 * at a random moment: it ends (0, or 1 with a volume kept for retry) or dies.
 */
static bool settle(struct __test_metadata *_metadata, FIXTURE_DATA(kills) * self,
		   const FIXTURE_VARIANT(kills) * variant, enum op op, int also)
{
	double frac = (double)below(self, 1000000) / 1e6;
	bool twice = below(self, 3) == 0;
	char why[INV_WHY_MAX];
	struct run_result rr;
	struct argbuf b;
	int r;

	if (twice) {
		lcenv_run_killed(&self->e, &rr, kill_delay_us(self, op, frac),
				 build(self, op, also, &b));
		self->runs++;
		self->kills += rr.status == KILLED;
		EXPECT_TRUE(rr.status == 0 || rr.status == KILLED ||
			    (rr.status == 1 && strstr(rr.err, "kept for retry")))
		TH_LOG("seed %llu trial %d (%s): killed recover: exit %d: %s",
		       (unsigned long long)self->seed, self->trial, self->op, rr.status, rr.err);
		run_result_free(&rr);
		if (!_metadata->passed)
			return false;
	}
	r = inv_recover_settle(&self->e, build(self, op, also, &b), variant->settle_ms, why,
			       sizeof(why));
	EXPECT_EQ(0, r)
	TH_LOG("seed %llu trial %d (%s%s): %s", (unsigned long long)self->seed, self->trial,
	       self->op, twice ? ", its recover killed too" : "", why);
	self->runs += 2;
	return r == 0;
}

/* In a parsed `status --json`: whether cid has a record that says it is prepared. */
static bool is_prepared(json_object *st, const char *cid)
{
	json_object *cs = json_object_object_get(st, "containers");

	for (size_t i = 0; i < json_object_array_length(cs); i++) {
		json_object *c = json_object_array_get_idx(cs, i);
		const char *id = json_object_get_string(json_object_object_get(c, "container_id"));
		const char *phase = json_object_get_string(json_object_object_get(c, "phase"));

		if (id && !strcmp(id, cid))
			return phase && !strcmp(phase, "prepared");
	}
	return false;
}

/* In a parsed status: the users of volume v<vol+1>, and whether Mesos (dvdcli) is one. */
static int users_of(json_object *st, int vol, bool *ret_mesos)
{
	json_object *vs = json_object_object_get(st, "volumes");
	char name[8];

	snprintf(name, sizeof(name), "v%d", vol + 1);
	*ret_mesos = false;
	for (size_t i = 0; i < json_object_array_length(vs); i++) {
		json_object *v = json_object_array_get_idx(vs, i);
		json_object *users = json_object_object_get(v, "users");
		const char *n = json_object_get_string(json_object_object_get(v, "name"));

		if (!n || strcmp(n, name))
			continue;
		for (size_t j = 0; j < json_object_array_length(users); j++) {
			const char *u = json_object_get_string(json_object_array_get_idx(users, j));

			*ret_mesos |= u && !strcmp(u, "dvdcli:mesos");
		}
		return (int)json_object_array_length(users);
	}
	return 0;
}

static int held(FIXTURE_DATA(kills) * self, struct inv_held *h)
{
	if (is_rclone(self))
		return inv_rclone_held(self->rclone_state, h);
	return inv_plugin_held(self->e.log, h);
}

/* The plugin's own mounts, as the host (this namespace) sees them. */
static int plugin_mounts(FIXTURE_DATA(kills) * self)
{
	char p[PATH_MAX];

	return lc_mounts_under(0,
			       is_rclone(self) ? self->base : tu_path(p, "%s/mnt", self->e.tproot));
}

/* The state letter of /proc/<pid>/stat and its ppid; 0 when it is gone. */
static char proc_state(pid_t pid, int *ret_ppid, char *buf, size_t size)
{
	char path[64], *p, state = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (tu_read_file(path, buf, size) <= 0)
		return 0;
	/* pid (comm) state ppid: comm may hold spaces, so after the last ')'. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", &state, ret_ppid) != 2)
		return 0;
	return state;
}

/*
 * Processes a killed dvmount left (ours, as the subreaper) that still run
 * 2 s after we find them: -errno or their number, described in why. One
 * that has exited is only reaped: it did not outlive its parent for long.
 */
static int strays(FIXTURE_DATA(kills) * self, char *why, size_t size)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -errno;
	why[0] = '\0';
	while ((de = readdir(d))) {
		pid_t pid = (pid_t)atoi(de->d_name);
		bool known = pid == self->e.plugin || pid == self->rclone;
		char buf[512], state;
		int ppid = 0;

		if (pid <= 0)
			continue;
		for (int i = 0; i < N_CT; i++)
			known |= pid == self->ct[i].pid;
		state = proc_state(pid, &ppid, buf, sizeof(buf));
		if (known || !state || ppid != getpid())
			continue;
		for (int i = 0; i < 200 && state && state != 'Z'; i++) {
			usleep(10000);
			state = proc_state(pid, &ppid, buf, sizeof(buf));
		}
		if (state && state != 'Z') {
			n++;
			snprintf(why + strlen(why), size - strlen(why), "%.60s; ", buf);
			kill(pid, SIGKILL);
		}
		waitpid(pid, NULL, 0);
	}
	closedir(d);
	return n;
}

/*
 * For the failure report: the plugin's calls under each ID it holds (rclone:
 * its state), and its last 20 calls.
 */
static void log_report(struct __test_metadata *_metadata, FIXTURE_DATA(kills) * self,
		       const struct inv_held *h)
{
	_cleanup_free_ char *text = read_file(is_rclone(self) ? self->rclone_state : self->e.log);
	size_t i = text ? strlen(text) : 0;
	int lines = 0;

	if (is_rclone(self) || !text) {
		TH_LOG("plugin state: %s", text ? text : "(none)");
		return;
	}
	for (size_t k = 0; k < h->n; k++) {
		char *save = NULL, *copy;

		if (h->net[k] <= 0)
			continue;
		copy = strdup(text);
		TH_LOG("held: %s", h->ids[k]);
		for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
			if (strstr(l, h->ids[k]))
				TH_LOG("  %s", l);
		free(copy);
	}
	while (i > 0 && lines <= 20)
		lines += text[--i] == '\n';
	TH_LOG("plugin log, last calls:\n%s", text + i);
}

/*
 * Everything after a trial: the invariants, the state as the containerizer
 * believes it, the plugin's mounts as it holds them, no process left.
 */
static bool check(struct __test_metadata *_metadata, FIXTURE_DATA(kills) * self)
{
	char prefix[N_CT][PATH_MAX], cids[N_CT][8], why[INV_WHY_MAX], model[512];
	_cleanup_json_ json_object *st = NULL;
	struct inv_container cs[N_CT];
	int bad, count[N_VOL] = { 0 };
	struct run_result r;
	struct inv_held h;
	size_t ml = 0;

	for (int i = 0; i < N_CT; i++) {
		snprintf(cids[i], sizeof(cids[i]), "c%d", i);
		cs[i] = (struct inv_container){
			.cid = cids[i],
			.pid = self->ct[i].pid,
			.prefix = tu_path(prefix[i], "%s/c%d", self->sandbox, i),
			.mounts = __builtin_popcount(self->vols[i]),
		};
		ml += snprintf(model + ml, sizeof(model) - ml, "c%d:%s%u ", i,
			       self->prepared[i] ? "prepared/" : "-/", self->vols[i]);
		for (int v = 0; v < N_VOL; v++)
			count[v] += self->prepared[i] && (self->vols[i] & (1u << v));
	}
	for (int v = 0; v < N_VOL; v++) {
		count[v] += self->dvdcli[v];
		ml += snprintf(model + ml, sizeof(model) - ml, "dvdcli v%d:%d ", v + 1,
			       self->dvdcli[v]);
	}
	bad = held(self, &h);
	EXPECT_EQ(0, bad);
	if (bad == 0) {
		bad = inv_check_held(&self->e, &h, cs, N_CT, why, sizeof(why));
		EXPECT_EQ(0, bad) TH_LOG("%s", why);
	}
	/* The state is what the containerizer believes; status warns of nothing. */
	lcenv_run(&self->e, &r, "status", "--json", NULL);
	EXPECT_EQ(0, r.status);
	EXPECT_STREQ("", r.err);
	bad += r.status != 0 || r.err[0];
	st = json_tokener_parse(r.out);
	run_result_free(&r);
	for (int i = 0; i < N_CT; i++) {
		EXPECT_EQ(self->prepared[i], is_prepared(st, cids[i])) TH_LOG("c%d", i);
		bad += self->prepared[i] != is_prepared(st, cids[i]);
	}
	for (int v = 0; v < N_VOL; v++) {
		bool mesos;
		int users = users_of(st, v, &mesos);

		EXPECT_EQ(count[v], users) TH_LOG("users of v%d", v + 1);
		EXPECT_EQ(self->dvdcli[v], mesos) TH_LOG("Mesos' use of v%d", v + 1);
		bad += count[v] != users || self->dvdcli[v] != mesos;
	}
	/* The plugin has mounted what it holds: one mount per volume, whatever its IDs. */
	EXPECT_EQ(inv_held_count(&h), plugin_mounts(self));
	bad += inv_held_count(&h) != plugin_mounts(self);
	EXPECT_EQ(0, strays(self, why, sizeof(why))) TH_LOG("processes left: %s", why);
	if (bad || !_metadata->passed) {
		TH_LOG("seed %llu trial %d (%s) broke an invariant", (unsigned long long)self->seed,
		       self->trial, self->op);
		TH_LOG("believed: %s", model);
		TH_LOG("status: %s", st ? json_object_to_json_string(st) : "(none)");
		log_report(_metadata, self, &h);
		return false;
	}
	return true;
}

/* A random container whose prepared state is want; -1 when there is none. */
static int pick_container(FIXTURE_DATA(kills) * self, bool want)
{
	int cands[N_CT], n = 0;

	for (int i = 0; i < N_CT; i++)
		if (self->prepared[i] == want)
			cands[n++] = i;
	return n ? cands[below(self, n)] : -1;
}

/* One trial: a random operation, killed at a random moment, and what follows. */
static bool trial(struct __test_metadata *_metadata, FIXTURE_DATA(kills) * self,
		  const FIXTURE_VARIANT(kills) * variant)
{
	enum op op = (enum op)below(self, OP_N);
	double frac = (double)below(self, 1000000) / 1e6;
	unsigned mask = 1 + below(self, (1u << N_VOL) - 1);
	bool coin = below(self, 2), again = below(self, 2), killed, mesos;
	_cleanup_json_ json_object *st = NULL;
	struct run_result r;
	struct argbuf b;
	int target = -1;
	char cid[8];
	long delay;

	/* An operation that cannot run now is swapped for its opposite. */
	switch (op) {
	case OP_PREPARE:
	case OP_CLEANUP:
		target = pick_container(self, op == OP_CLEANUP);
		if (target < 0) {
			op = op == OP_PREPARE ? OP_CLEANUP : OP_PREPARE;
			target = pick_container(self, op == OP_CLEANUP);
		}
		break;
	case OP_DVDCLI_MOUNT:
	case OP_DVDCLI_UNMOUNT:
		target = below(self, N_VOL);
		op = self->dvdcli[target] ? OP_DVDCLI_UNMOUNT : OP_DVDCLI_MOUNT;
		break;
	case OP_GC_DEAD:
		/* A prepared container dies first (if any): --gc-dead collects it. */
		target = pick_container(self, true);
		break;
	default:
		break;
	}
	delay = kill_delay_us(self, op, frac);
	if (op == OP_PREPARE && write_spec(self, target, mask) < 0)
		return false;
	snprintf(self->op, sizeof(self->op), "%s %s%d, kill after %ld us", op_names[op],
		 op == OP_DVDCLI_MOUNT || op == OP_DVDCLI_UNMOUNT ? "v" : "c",
		 op == OP_DVDCLI_MOUNT || op == OP_DVDCLI_UNMOUNT ? target + 1 : target, delay);
	if (op == OP_GC_DEAD && target >= 0)
		tu_container_stop(&self->ct[target]);
	/* recover knows the prepared containers (the dead one too: it is still prepared). */
	lcenv_run_killed(&self->e, &r, delay, build(self, op, op == OP_RECOVER ? -1 : target, &b));
	self->runs++;
	killed = r.status == KILLED;
	self->kills += killed;
	self->op_trials[op]++;
	self->op_kills[op] += killed;
	self->op_secs[op] += killed ? 0 : r.secs;
	if (!killed) {
		EXPECT_EQ(0, r.status)
		TH_LOG("seed %llu trial %d (%s): exit %d: %s", (unsigned long long)self->seed,
		       self->trial, self->op, r.status, r.err);
	}
	run_result_free(&r);
	if (!_metadata->passed)
		return false;

	switch (op) {
	case OP_PREPARE:
		if (!killed) {
			self->prepared[target] = true;
			self->vols[target] = mask;
			break;
		}
		/* The containerizer may still know it (coin): recover undoes or keeps it. */
		if (!settle(_metadata, self, variant, OP_RECOVER, coin ? target : -1))
			return false;
		if (lcenv_status(&self->e, &st) < 0)
			return false;
		snprintf(cid, sizeof(cid), "c%d", target);
		if (!is_prepared(st, cid) && again) {
			/* Launched again, as Mesos retries a task. */
			if (!run_ok(_metadata, self, OP_PREPARE, target, "prepare again"))
				return false;
		} else if (!is_prepared(st, cid)) {
			break;
		}
		self->prepared[target] = true;
		self->vols[target] = mask;
		break;
	case OP_CLEANUP:
		self->prepared[target] = false;
		self->vols[target] = 0;
		if (!killed)
			break;
		/* recover without it (coin) and cleanup again: either finishes the job. */
		if (coin && !settle(_metadata, self, variant, OP_RECOVER, -1))
			return false;
		if (!run_ok(_metadata, self, OP_CLEANUP, target, "cleanup again"))
			return false;
		break;
	case OP_DVDCLI_MOUNT:
		if (killed) {
			if (!settle(_metadata, self, variant, OP_RECOVER, -1))
				return false;
			/* Mesos saw the mount fail: it mounts again for its next container. */
			if (!run_ok(_metadata, self, OP_DVDCLI_MOUNT, target, "dvdcli mount again"))
				return false;
		}
		self->dvdcli[target] = true;
		break;
	case OP_DVDCLI_UNMOUNT:
		if (killed) {
			if (!settle(_metadata, self, variant, OP_RECOVER, -1))
				return false;
			if (lcenv_status(&self->e, &st) < 0)
				return false;
			/*
			 * Once Mesos' use is gone, recover finishes the unmount itself;
			 * before that, Mesos retries it.
			 */
			if (users_of(st, target, &mesos) > 0 && mesos &&
			    !run_ok(_metadata, self, OP_DVDCLI_UNMOUNT, target,
				    "dvdcli unmount again"))
				return false;
		}
		self->dvdcli[target] = false;
		break;
	case OP_RECOVER:
		if (killed && !settle(_metadata, self, variant, OP_RECOVER, -1))
			return false;
		break;
	case OP_GC_DEAD:
		/* The same recover again: the dead container is still known. */
		if (killed && !settle(_metadata, self, variant, OP_GC_DEAD, target))
			return false;
		if (target >= 0) {
			self->prepared[target] = false;
			self->vols[target] = 0;
			ASSERT_EQ(0, tu_container_start(&self->ct[target], NULL, 0));
		}
		break;
	default:
		break;
	}
	return check(_metadata, self);
}

TEST_F_TIMEOUT(kills, random_trials_then_all_cleaned, 900)
{
	const char *t = getenv("DVMOUNT_KILL_TRIALS");
	int trials = t ? atoi(t) : variant->trials / ASAN_SHARE;
	struct timespec a, b;
	struct inv_held h;
	char why[256];

	TH_LOG("seed %llu (DVMOUNT_KILL_SEED=%llu replays it), %d trials on %s",
	       (unsigned long long)self->seed, (unsigned long long)self->seed, trials,
	       is_rclone(self) ? "rclone" : "the test plugin");
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (self->trial = 0; self->trial < trials; self->trial++)
		if (!trial(_metadata, self, variant))
			break;
	clock_gettime(CLOCK_MONOTONIC, &b);
	ASSERT_TRUE(_metadata->passed);
	TH_LOG("%d trials, %d runs, %d killed, %.1f ms per trial", trials, self->runs, self->kills,
	       ((double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6) /
		   trials);
	for (int i = 0; i < OP_N; i++)
		TH_LOG("%s: %d trials, %d killed, %.1f ms when not killed", op_names[i],
		       self->op_trials[i], self->op_kills[i],
		       self->op_trials[i] > self->op_kills[i]
			   ? self->op_secs[i] * 1e3 / (self->op_trials[i] - self->op_kills[i])
			   : 0.0);
	/* Kills must land, or the trials tested nothing. */
	EXPECT_LT(trials / 4, self->kills);

	/* Everything cleaned up: nothing recorded, counted, held, mounted or left running. */
	snprintf(self->op, sizeof(self->op), "the final cleanup");
	for (int i = 0; i < N_CT; i++) {
		if (!self->prepared[i])
			continue;
		ASSERT_TRUE(run_ok(_metadata, self, OP_CLEANUP, i, "cleanup"));
		self->prepared[i] = false;
		self->vols[i] = 0;
	}
	for (int v = 0; v < N_VOL; v++) {
		if (!self->dvdcli[v])
			continue;
		ASSERT_TRUE(run_ok(_metadata, self, OP_DVDCLI_UNMOUNT, v, "dvdcli unmount"));
		self->dvdcli[v] = false;
	}
	ASSERT_TRUE(check(_metadata, self));
	ASSERT_EQ(0, held(self, &h));
	EXPECT_EQ(0, inv_held_count(&h));
	EXPECT_EQ(0, plugin_mounts(self));
	for (int i = 0; i < N_CT; i++) {
		EXPECT_EQ(0, lc_mounts_under(self->ct[i].pid, self->sandbox)) TH_LOG("c%d", i);
	}
	for (int i = 0; i < N_CT; i++)
		tu_container_stop(&self->ct[i]);
	EXPECT_EQ(0, strays(self, why, sizeof(why))) TH_LOG("%s", why);
	EXPECT_EQ(self->fds, tu_count_fds());
}

TEST_HARNESS_MAIN
