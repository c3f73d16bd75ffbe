/* SPDX-License-Identifier: MIT */
/*
 * dvmount killed (SIGKILL) at the entry of each of its system calls, one
 * run per call (issue 14): where a random kill lands by chance, swept in
 * order. A traced run (ptrace) counts the entries and is killed at number
 * k; the child processes it forks run untraced. Then the containerizer's
 * next step (recover knowing the other container, the operation once more
 * where it retries it), and the invariants of tests/lib/invariants.h; then
 * cleanup, and the invariants again. c0 holds v1 all along; the operation
 * is on c (v1 shared, v2 its own) or on Mesos' use of v2.
 *
 * Every call in make check costs ~4 minutes on 2 shared cores: it takes
 * every DVMOUNT_KILL_STRIDE-th (default 5: ~35 s; make asan 20: ~1 min),
 * starting at a different offset for each operation; DVMOUNT_KILL_STRIDE=1
 * sweeps them all.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/invariants.h"
#include "tests/lib/lcenv.h"

#define CALLS_MAX 100000
/* make asan looks for memory errors: every 20th call there (ASan adds ~40% calls, 4x time). */
#ifdef __SANITIZE_ADDRESS__
#define STRIDE 20
#else
#define STRIDE 5
#endif

enum op { OP_PREPARE, OP_CLEANUP, OP_DVDCLI_MOUNT, OP_DVDCLI_UNMOUNT, OP_RECOVER };

FIXTURE(sweep)
{
	struct lcenv e;
	struct tu_container ct[2];
	char sandbox[PATH_MAX], vols0[PATH_MAX], vols[PATH_MAX], pid0[16], pid[16];
	char prefix0[PATH_MAX], prefix[PATH_MAX];
};

FIXTURE_VARIANT(sweep)
{
	enum op op;
	const char *name;
};

FIXTURE_VARIANT_ADD(sweep, prepare){
	.op = OP_PREPARE,
	.name = "prepare",
};

FIXTURE_VARIANT_ADD(sweep, cleanup){
	.op = OP_CLEANUP,
	.name = "cleanup",
};

FIXTURE_VARIANT_ADD(sweep, dvdcli_mount){
	.op = OP_DVDCLI_MOUNT,
	.name = "dvdcli mount",
};

FIXTURE_VARIANT_ADD(sweep, dvdcli_unmount){
	.op = OP_DVDCLI_UNMOUNT,
	.name = "dvdcli unmount",
};

FIXTURE_VARIANT_ADD(sweep, recover){
	.op = OP_RECOVER,
	.name = "recover",
};

FIXTURE_SETUP(sweep)
{
	struct lcvol v0[] = { { .name = "v1", .path = "c0/v1" } };
	struct lcvol v[] = { { .name = "v1", .path = "c/v1" }, { .name = "v2", .path = "c/v2" } };
	char *const p0[] = { "prepare", "--container-id", "c0",	       "--volumes",   self->vols0,
			     "--pid",	self->pid0,	  "--sandbox", self->sandbox, NULL };
	struct run_result r;

	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->sandbox, "%s/sb", self->e.dir);
	tu_path(self->prefix0, "%s/c0", self->sandbox);
	tu_path(self->prefix, "%s/c", self->sandbox);
	ASSERT_EQ(0, tu_mkdirs(self->sandbox, 0755));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c0.json", v0, 1, self->vols0));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c.json", v, 2, self->vols));
	ASSERT_EQ(0, tu_container_start(&self->ct[0], NULL, 0));
	ASSERT_EQ(0, tu_container_start(&self->ct[1], NULL, 0));
	lc_pidstr(self->pid0, self->ct[0].pid);
	lc_pidstr(self->pid, self->ct[1].pid);
	lcenv_runv(&self->e, &r, NULL, p0);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
}

FIXTURE_TEARDOWN(sweep)
{
	tu_container_stop(&self->ct[0]);
	tu_container_stop(&self->ct[1]);
	lcenv_teardown(&self->e);
}

/*
 * Run dvmount with args, traced, and kill it at the entry of its system
 * call number k (from 0). Returns 1 killed, 0 when it made k calls or
 * fewer and ran to its end, -ECHILD when it cannot be traced.
 */
static int run_killed_at_call(struct lcenv *e, char *const args[], int k)
{
	pid_t pid = lcenv_spawn_traced(e, args);
	int st, sig = 0, calls = 0;

	if (pid < 0)
		return -ECHILD;
	ptrace(PTRACE_SETOPTIONS, pid, NULL,
	       (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL));
	for (;;) {
		struct __ptrace_syscall_info info = { 0 };

		ptrace(PTRACE_SYSCALL, pid, NULL, (void *)(long)sig);
		if (waitpid(pid, &st, __WALL) != pid)
			return -ECHILD;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return 0;
		/* A signal stop: the signal goes with the next resume. */
		sig = WSTOPSIG(st) == (SIGTRAP | 0x80) ? 0 : WSTOPSIG(st);
		if (sig)
			continue;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, (void *)sizeof(info), &info) <= 0 ||
		    info.op != PTRACE_SYSCALL_INFO_ENTRY || calls++ < k)
			continue;
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, __WALL) == pid && !WIFEXITED(st) && !WIFSIGNALED(st))
			;
		return 1;
	}
}

/* Run args to their end: it must succeed. */
static void run_ok(struct __test_metadata *_metadata, struct lcenv *e, char *const args[],
		   const char *what, int k)
{
	struct run_result r;

	lcenv_runv(e, &r, NULL, args);
	EXPECT_EQ(0, r.status) TH_LOG("killed at call %d: %s: %s", k, what, r.err);
	run_result_free(&r);
}

TEST_F_TIMEOUT(sweep, killed_at_each_system_call, 900)
{
	const char *s = getenv("DVMOUNT_KILL_STRIDE");
	int stride = s && atoi(s) > 0 ? atoi(s) : STRIDE, k, kills = 0;
	char *const prepare[] = { "prepare",   "--container-id", "c",
				  "--volumes", self->vols,	 "--pid",
				  self->pid,   "--sandbox",	 self->sandbox,
				  NULL };
	char *const cleanup[] = { "cleanup", "--container-id", "c", NULL };
	char *const mount[] = { "dvdcli", "mount", "--volumedriver=tp", "--volumename=v2", NULL };
	char *const unmount[] = { "dvdcli", "unmount", "--volumedriver=tp", "--volumename=v2",
				  NULL };
	/* Where prepare was killed, the containerizer still knows c: recover finishes it or undoes
	 * it. */
	char *const recover[] = { "recover", "--known", variant->op == OP_PREPARE ? "c0,c" : "c0",
				  NULL };
	char *const *const ops[] = { prepare, cleanup, mount, unmount, recover };
	const struct inv_container cs[] = {
		{ "c0", self->ct[0].pid, self->prefix0, 1 },
		{ "c", self->ct[1].pid, self->prefix, 2 },
	};
	char why[INV_WHY_MAX];

	for (k = (int)variant->op % stride; k < CALLS_MAX && _metadata->passed; k += stride) {
		int killed;

		/* What the operation works on. */
		if (variant->op == OP_CLEANUP || variant->op == OP_RECOVER)
			run_ok(_metadata, &self->e, prepare, "prepare first", k);
		if (variant->op == OP_DVDCLI_UNMOUNT)
			run_ok(_metadata, &self->e, mount, "dvdcli mount first", k);
		killed = run_killed_at_call(&self->e, ops[variant->op], k);
		ASSERT_LE(0, killed);
		kills += killed;
		EXPECT_EQ(0, inv_recover(&self->e, recover, why, sizeof(why)))
		TH_LOG("%s killed at call %d: %s", variant->name, k, why);
		/* Mesos mounts again after a failed mount; unmounts while it still uses it. */
		if (variant->op == OP_DVDCLI_MOUNT)
			run_ok(_metadata, &self->e, mount, "dvdcli mount again", k);
		if ((variant->op == OP_DVDCLI_MOUNT || variant->op == OP_DVDCLI_UNMOUNT) &&
		    lcenv_status_refcount(&self->e, "v2") > 0)
			run_ok(_metadata, &self->e, unmount, "dvdcli unmount again", k);
		EXPECT_EQ(0, inv_check(&self->e, cs, 2, why, sizeof(why)))
		TH_LOG("%s killed at call %d: %s", variant->name, k, why);
		/* Back to c0 alone. */
		run_ok(_metadata, &self->e, cleanup, "cleanup", k);
		EXPECT_EQ(0, inv_check(&self->e, cs, 2, why, sizeof(why)))
		TH_LOG("%s killed at call %d, then cleaned up: %s", variant->name, k, why);
		EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v2"))
		TH_LOG("%s killed at call %d", variant->name, k);
		if (!killed)
			break;
	}
	TH_LOG("%s: killed at %d of its ~%d system calls", variant->name, kills, k);
	/* It ran to its end: every call was reached. */
	EXPECT_GT(CALLS_MAX, k);
	EXPECT_LT(20, kills);
}

TEST_HARNESS_MAIN
