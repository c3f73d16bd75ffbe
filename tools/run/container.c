/* SPDX-License-Identifier: MIT */
/*
 * The container side of dvmount-run: clone3 into new mount, PID and UTS
 * namespaces, set up the mounts a runtime sets up before its createRuntime
 * hook, wait for the volumes, then become a tiny init for the command.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tools/run/run.h"

static int write_byte(int fd, char c)
{
	ssize_t n;

	do
		n = write(fd, &c, 1);
	while (n < 0 && errno == EINTR);
	return n == 1 ? 0 : negerrno();
}

static int read_byte(int fd, char *ret)
{
	ssize_t n;

	do
		n = read(fd, ret, 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return negerrno();
	return n == 1 ? 0 : -EPIPE;
}

/* The child's errors: one line naming the container and the path, then exit. */
#define die(o, fmt, ...)                                                                           \
	do {                                                                                       \
		fprintf(stderr, "dvmount-run: container '%s': " fmt "\n", (o)->container_id,       \
			##__VA_ARGS__);                                                            \
		_exit(RUN_EXIT_FAILED);                                                            \
	} while (0)

/*
 * Before the volumes: private mounts (nothing we or dvmount do reaches the
 * host), and with a rootfs, the rootfs bound onto itself with the sandbox at
 * RUN_SANDBOX_IN_ROOTFS under it, as runc and crun leave it for createRuntime.
 */
static void setup_mounts(const struct run_opts *o)
{
	char where[PATH_MAX + sizeof(RUN_SANDBOX_IN_ROOTFS)];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die(o, "making mounts private: %m");
	if (!o->rootfs) {
		if (chdir(o->sandbox) < 0)
			die(o, "sandbox '%s': %m", o->sandbox);
		return;
	}
	if (mount(o->rootfs, o->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(o, "binding rootfs '%s': %m", o->rootfs);
	snprintf(where, sizeof(where), "%s%s", o->rootfs, RUN_SANDBOX_IN_ROOTFS);
	if (mount(o->sandbox, where, NULL, MS_BIND | MS_REC, NULL) < 0)
		die(o, "binding sandbox '%s' at '%s': %m", o->sandbox, where);
	if (chdir(o->rootfs) < 0)
		die(o, "rootfs '%s': %m", o->rootfs);
}

/* After the volumes: enter the rootfs for good, with a /proc of our PID namespace. */
static void enter_rootfs(const struct run_opts *o)
{
	if (!o->rootfs)
		return;
	/* pivot_root(".", "."): the old root ends up on top and is detached at once. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die(o, "pivot_root into '%s': %m", o->rootfs);
	if (umount2(".", MNT_DETACH) < 0)
		die(o, "detaching the old root: %m");
	if (chdir("/") < 0)
		die(o, "chdir '/': %m");
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		die(o, "mounting proc on '%s/proc': %m", o->rootfs);
	if (chdir(RUN_SANDBOX_IN_ROOTFS) < 0)
		die(o, "sandbox '%s': %m", RUN_SANDBOX_IN_ROOTFS);
}

static _noreturn_ void exec_command(const struct run_opts *o)
{
	sigset_t none;
	int e;

	if (o->have_user) {
		if (setgroups(0, NULL) < 0 || setresgid(o->gid, o->gid, o->gid) < 0 ||
		    setresuid(o->uid, o->uid, o->uid) < 0)
			die(o, "switching to uid %u gid %u: %m", (unsigned)o->uid,
			    (unsigned)o->gid);
	}
	/* dvmount-run blocks and ignores signals for itself: none of that is the command's. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(o->command[0], o->command);
	e = errno;
	fprintf(stderr, "dvmount-run: container '%s': command '%s': %s\n", o->container_id,
		o->command[0], strerror(e));
	_exit(e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_EXEC);
}

static volatile sig_atomic_t forward_to;

static void forward(int sig)
{
	if (forward_to > 0)
		kill(forward_to, sig);
}

/*
 * PID 1 of the container: the kernel delivers it only the signals it handles,
 * so it forwards SIGINT/SIGTERM/SIGHUP to the command, reaps whatever gets
 * orphaned, and exits with the command's status (128+N for a signal N). Its
 * exit ends every other process in the namespace.
 */
static _noreturn_ void be_init(const struct run_opts *o)
{
	struct sigaction sa = { .sa_handler = forward };
	sigset_t unblock;
	pid_t cmd, p;
	int status;

	cmd = fork();
	if (cmd < 0)
		die(o, "fork: %m");
	if (cmd == 0)
		exec_command(o);
	forward_to = cmd;
	close(STDOUT_FILENO);
	close(STDERR_FILENO);
	close(STDIN_FILENO);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&unblock);
	sigaddset(&unblock, SIGINT);
	sigaddset(&unblock, SIGTERM);
	sigaddset(&unblock, SIGHUP);
	sigprocmask(SIG_UNBLOCK, &unblock, NULL);
	for (;;) {
		p = waitpid(-1, &status, 0);
		if (p < 0 && errno == EINTR)
			continue;
		if (p < 0)
			_exit(RUN_EXIT_FAILED);
		if (p != cmd)
			continue;
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

static _noreturn_ void child(const struct run_opts *o, bool null_stdin, int ready_w, int go_r,
			     int out_w, int err_w)
{
	char go;
	int nul;

	/* dvmount-run gone: so is the container (its init's death ends the namespace). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (sethostname(o->name, strnlen(o->name, 64)) < 0)
		die(o, "sethostname: %m");
	setup_mounts(o);
	if (write_byte(ready_w, 'r') < 0)
		_exit(RUN_EXIT_FAILED);
	close(ready_w);
	/* EOF instead of the byte: dvmount-run gave up (prepare failed, or a signal). */
	if (read_byte(go_r, &go) < 0 || go != 'g')
		_exit(RUN_EXIT_FAILED);
	close(go_r);
	enter_rootfs(o);
	if (null_stdin) {
		nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (nul < 0 || dup2(nul, STDIN_FILENO) < 0)
			die(o, "stdin from /dev/null: %m");
	}
	if (dup2(out_w, STDOUT_FILENO) < 0 || dup2(err_w, STDERR_FILENO) < 0)
		die(o, "redirecting output: %m");
	close(out_w);
	close(err_w);
	be_init(o);
}

int run_container_start(const struct run_opts *o, bool null_stdin, struct run_container *ret)
{
	_cleanup_close_ int ready_r = -EBADF, ready_w = -EBADF, go_r = -EBADF, go_w = -EBADF;
	_cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF;
	int p[2], pidfd = -EBADF;
	sigset_t all, orig;
	char ready;
	pid_t pid;
	int r;

#define PIPE(rd, wr)                                                                               \
	do {                                                                                       \
		if (pipe2(p, O_CLOEXEC) < 0)                                                       \
			return negerrno();                                                         \
		rd = p[0];                                                                         \
		wr = p[1];                                                                         \
	} while (0)
	PIPE(ready_r, ready_w);
	PIPE(go_r, go_w);
	PIPE(out_r, out_w);
	PIPE(err_r, err_w);
#undef PIPE

	/*
	 * Nothing is delivered to the child before it has its own handlers (the
	 * init unblocks what it forwards, the command starts with none blocked).
	 */
	sigfillset(&all);
	struct clone_args args = {
		.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_PIDFD,
		.pidfd = (uint64_t)(uintptr_t)&pidfd,
		.exit_signal = SIGCHLD,
	};

	sigprocmask(SIG_BLOCK, &all, &orig);
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid == 0) {
		/* Only the ends this side uses stay open (O_CLOEXEC closes the rest at exec). */
		close(ready_r);
		close(go_w);
		close(out_r);
		close(err_r);
		child(o, null_stdin, ready_w, go_r, out_w, err_w);
	}
	r = pid < 0 ? negerrno() : 0;
	sigprocmask(SIG_SETMASK, &orig, NULL);
	if (r < 0)
		return r;
	close(TAKE_FD(ready_w));
	close(TAKE_FD(go_r));
	close(TAKE_FD(out_w));
	close(TAKE_FD(err_w));
	r = read_byte(ready_r, &ready);
	if (r < 0) {
		int status;

		/* It printed why; reap it. */
		close(pidfd);
		waitpid(pid, &status, 0);
		return -ECHILD;
	}
	*ret = (struct run_container){
		.pid = pid,
		.pidfd = pidfd,
		.go_fd = TAKE_FD(go_w),
		.out_fd = TAKE_FD(out_r),
		.err_fd = TAKE_FD(err_r),
	};
	return 0;
}

int run_container_go(struct run_container *c)
{
	int r = write_byte(c->go_fd, 'g');

	close(TAKE_FD(c->go_fd));
	return r;
}

void run_container_close(struct run_container *c)
{
	closep(&c->pidfd);
	closep(&c->go_fd);
	closep(&c->out_fd);
	closep(&c->err_fd);
	c->pidfd = c->go_fd = c->out_fd = c->err_fd = -EBADF;
}
