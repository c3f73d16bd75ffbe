/* SPDX-License-Identifier: MIT */
/*
 * dvmount killed (SIGKILL) at each of its fork()s, the moment a random kill
 * hits only by chance (issue 14): the new child is held (ptrace) before it
 * runs a single instruction of its own, the parent killed, and the child let
 * go up to its setns() into the container (by then it has closed what it
 * inherited, the locks too), where it is held again while the
 * containerizer's recover runs; then it goes on.
 *
 * The child of a killed parent must do nothing: PR_SET_PDEATHSIG, which it
 * sets first, does not fire for a parent that is already dead. An attach
 * child orphaned that way moved a volume into the container after recover
 * had undone the prepare: an attached mount without a record, which also
 * kept the plugin's mount busy in the container for good.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/invariants.h"
#include "tests/lib/lcenv.h"

#define MAX_FORKS 8

FIXTURE(fork_kill)
{
	struct lcenv e;
	struct tu_container ct;
	char sandbox[PATH_MAX], vols[PATH_MAX], target[PATH_MAX];
};

FIXTURE_SETUP(fork_kill)
{
	struct lcvol v[] = { { .name = "v1", .path = "c/v1" }, { .name = "v2", .path = "c/v2" } };

	/* The orphan becomes ours, to be waited for. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1));
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->sandbox, "%s/sb", self->e.dir);
	tu_path(self->target, "%s/c", self->sandbox);
	ASSERT_EQ(0, tu_mkdirs(self->sandbox, 0755));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "c.json", v, 2, self->vols));
}

FIXTURE_TEARDOWN(fork_kill)
{
	tu_container_stop(&self->ct);
	lcenv_teardown(&self->e);
}

/*
 * Run dvmount with args, traced. At its fork number k (from 0), kill it and
 * give back the new child, still stopped and traced by us; its other
 * children run untraced. 0 when it forked k times or fewer and ran to its
 * end.
 */
static pid_t run_to_fork(struct lcenv *e, char *const args[], int k)
{
	pid_t pid = lcenv_spawn_traced(e, args);
	int st, forks = 0;

	if (pid < 0)
		return pid;
	ptrace(PTRACE_SETOPTIONS, pid, NULL,
	       (void *)(long)(PTRACE_O_TRACEFORK | PTRACE_O_EXITKILL));
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	for (;;) {
		unsigned long msg = 0;
		int sig = 0;
		pid_t child;

		if (waitpid(pid, &st, __WALL) != pid)
			return -ECHILD;
		if (WIFEXITED(st) || WIFSIGNALED(st))
			return 0;
		if (st >> 8 != (SIGTRAP | (PTRACE_EVENT_FORK << 8))) {
			sig = WSTOPSIG(st) == SIGTRAP ? 0 : WSTOPSIG(st);
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			continue;
		}
		ptrace(PTRACE_GETEVENTMSG, pid, NULL, &msg);
		child = (pid_t)msg;
		/* Its first stop, before it ran anything. */
		if (waitpid(child, &st, __WALL) != child)
			return -ECHILD;
		if (forks++ < k) {
			ptrace(PTRACE_DETACH, child, NULL, NULL);
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, __WALL) == pid && !WIFEXITED(st) && !WIFSIGNALED(st))
			;
		return child;
	}
}

/*
 * Let the held child run up to its setns() into the container, where it is
 * held again (it has closed what it inherited, the locks too, by then), or
 * to its end. Returns 1 held, 0 ended, -ETIMEDOUT.
 */
static int release(pid_t child)
{
	long long deadline = (long long)time(NULL) + 5;
	int st, sig = 0;

	ptrace(PTRACE_SETOPTIONS, child, NULL, (void *)(long)PTRACE_O_TRACESYSGOOD);
	while ((long long)time(NULL) < deadline) {
		struct __ptrace_syscall_info info = { 0 };

		ptrace(PTRACE_SYSCALL, child, NULL, (void *)(long)sig);
		if (waitpid(child, &st, __WALL) != child || WIFEXITED(st) || WIFSIGNALED(st))
			return 0;
		/* A signal stop: the signal goes with the next resume. */
		sig = WSTOPSIG(st) == (SIGTRAP | 0x80) ? 0 : WSTOPSIG(st);
		if (sig)
			continue;
		if (ptrace(PTRACE_GET_SYSCALL_INFO, child, (void *)sizeof(info), &info) <= 0)
			return 0;
		if (info.op == PTRACE_SYSCALL_INFO_ENTRY && info.entry.nr == SYS_setns)
			return 1;
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, __WALL);
	return -ETIMEDOUT;
}

/* A held child goes on to its end (5 s at most): 0 or -ETIMEDOUT. */
static int finish(pid_t child)
{
	ptrace(PTRACE_DETACH, child, NULL, NULL);
	for (int i = 0; i < 500; i++) {
		if (waitpid(child, NULL, WNOHANG | __WALL) == child)
			return 0;
		usleep(10000);
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, __WALL);
	return -ETIMEDOUT;
}

/*
 * Prepare (or cleanup after a prepare) killed at each fork; recover, which
 * knows no container, while the child is held; then the child goes on.
 * Nothing may be attached, held or left running after it.
 */
static void every_fork(struct __test_metadata *_metadata, FIXTURE_DATA(fork_kill) * self,
		       bool cleanup)
{
	char *const recover[] = { "recover", "--known", "", NULL };
	char pid[16], why[INV_WHY_MAX];
	int k, held = 0;

	for (k = 0; k < MAX_FORKS && _metadata->passed; k++) {
		char *const prepare[] = { "prepare",
					  "--container-id",
					  "c",
					  "--volumes",
					  self->vols,
					  "--pid",
					  lc_pidstr(pid, self->ct.pid),
					  "--sandbox",
					  self->sandbox,
					  NULL };
		char *const clean[] = { "cleanup", "--container-id", "c", NULL };
		struct inv_container c;
		struct run_result r;
		int stopped;
		pid_t child;

		tu_container_stop(&self->ct);
		ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
		lc_pidstr(pid, self->ct.pid);
		if (cleanup) {
			lcenv_runv(&self->e, &r, NULL, prepare);
			ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
			run_result_free(&r);
		}
		child = run_to_fork(&self->e, cleanup ? clean : prepare, k);
		ASSERT_LE(0, child);
		if (child == 0)
			break;
		/*
		 * The orphan closes what it inherited (the locks too) first:
		 * recover runs once it has, or once it is gone.
		 */
		stopped = release(child);
		held += stopped == 1;
		EXPECT_LE(0, stopped) TH_LOG("fork %d: the orphan lives on", k);
		EXPECT_EQ(0, inv_recover(&self->e, recover, why, sizeof(why)))
		TH_LOG("fork %d: %s", k, why);
		if (stopped == 1)
			EXPECT_EQ(0, finish(child)) TH_LOG("fork %d: the orphan lives on", k);
		c = (struct inv_container){ "c", self->ct.pid, self->target, 2 };
		EXPECT_EQ(0, inv_check(&self->e, &c, 1, why, sizeof(why)))
		TH_LOG("%s killed at fork %d: %s", cleanup ? "cleanup" : "prepare", k, why);
		EXPECT_EQ(0, lc_mounts_under(self->ct.pid, self->target));
	}
	/* The attach (or detach) child at least; and no orphan entered the container. */
	EXPECT_LE(1, k);
	EXPECT_EQ(0, held) TH_LOG("%d fork(s), %d orphan(s) reached setns", k, held);
}

TEST_F(fork_kill, prepare_killed_at_each_fork_attaches_nothing_later)
{
	every_fork(_metadata, self, false);
}

TEST_F(fork_kill, cleanup_killed_at_each_fork_detaches_nothing_later)
{
	every_fork(_metadata, self, true);
}

TEST_HARNESS_MAIN
