/* SPDX-License-Identifier: MIT */
/*
 * Every process the bench starts: timed execs, the test plugin, and sleeping
 * "containers". Each child dies with the bench (PR_SET_PDEATHSIG) and is
 * waited for through a pidfd with a deadline, so nothing outlives a run.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "ns/ns.h"
#include "tools/bench/bench.h"

#define READY_TIMEOUT_MS 5000 /* plugin "ready" line, container set-up */
#define STOP_GRACE_MS 2000    /* SIGTERM to SIGKILL */

/* The same environment for every exec: nothing of the caller's leaks in. */
static char *const child_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };

/* In a fresh child: die with the bench, undo what the bench set for itself. */
static void child_prepare(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The bench may have died between fork() and prctl(). */
	if (getppid() != parent)
		_exit(127);
	/* SIG_IGN survives exec; the programs under test must see the default. */
	signal(SIGPIPE, SIG_DFL);
}

/* Reap pid, killing it first if it has not exited within timeout_ms. */
static int reap(pid_t pid, int pidfd, unsigned timeout_ms, int *ret_status)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };
	int status, r;

	r = poll(&p, 1, (int)timeout_ms);
	if (r <= 0)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negerrno();
	if (ret_status)
		*ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return r > 0 ? 0 : -ETIMEDOUT;
}

/* Keep what fits in out, drop the rest; 0 at end of file. */
static ssize_t read_some(int fd, char *out, size_t out_size, size_t *len)
{
	char scratch[512];
	ssize_t n;

	if (*len + 1 < out_size)
		n = read(fd, out + *len, out_size - 1 - *len);
	else
		n = read(fd, scratch, sizeof(scratch));
	if (n > 0 && *len + 1 < out_size)
		*len += (size_t)n;
	out[*len] = '\0';
	return n < 0 ? negerrno() : n;
}

int bench_exec(char *const argv[], char *out, size_t out_size, double *ret_ms)
{
	_cleanup_close_ int null = -EBADF, rd = -EBADF, wr = -EBADF, pidfd = -EBADF;
	pid_t parent = getpid(), pid;
	int fds[2], status = 0, r;
	double start, end = 0;
	size_t len = 0;
	bool exited = false;

	if (!out || out_size == 0)
		return -EINVAL;
	out[0] = '\0';
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return negerrno();
	rd = fds[0];
	wr = fds[1];
	/* Only our end: the child writes blocking, as it would to a terminal. */
	if (fcntl(rd, F_SETFL, O_NONBLOCK) < 0)
		return negerrno();

	start = bench_now_ms();
	pid = fork();
	if (pid < 0)
		return negerrno();
	if (pid == 0) {
		child_prepare(parent);
		if (dup2(null, STDIN_FILENO) < 0 || dup2(wr, STDOUT_FILENO) < 0 ||
		    dup2(wr, STDERR_FILENO) < 0)
			_exit(127);
		execve(argv[0], argv, child_env);
		_exit(127);
	}
	pidfd = (int)pidfd_open(pid, 0);
	if (pidfd < 0) {
		r = negerrno();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	close(TAKE_FD(wr));

	while (!exited) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN },
				       { .fd = rd, .events = POLLIN } };
		double left = start + BENCH_EXEC_TIMEOUT_MS - bench_now_ms();

		if (left <= 0 || bench_stop) {
			reap(pid, pidfd, 0, NULL);
			return bench_stop ? -EINTR : -ETIMEDOUT;
		}
		r = poll(p, rd >= 0 ? 2 : 1, (int)left + 1);
		if (r < 0 && errno != EINTR) {
			r = negerrno();
			reap(pid, pidfd, 0, NULL);
			return r;
		}
		if (r > 0 && p[1].revents && rd >= 0 && read_some(rd, out, out_size, &len) == 0) {
			close(rd);
			rd = -EBADF;
		}
		if (r > 0 && p[0].revents) {
			r = reap(pid, pidfd, BENCH_EXEC_TIMEOUT_MS, &status);
			if (r < 0)
				return r;
			end = bench_now_ms();
			exited = true;
		}
	}
	/* What it wrote just before exiting (a grandchild may hold the pipe: no wait). */
	while (rd >= 0 && read_some(rd, out, out_size, &len) > 0)
		;
	*ret_ms = end - start;
	return status;
}

/* Read one line from fd within timeout_ms: 0, -ETIMEDOUT or -EPIPE (EOF). */
static int read_line(int fd, char *buf, size_t size, unsigned timeout_ms)
{
	double deadline = bench_now_ms() + timeout_ms;
	size_t len = 0;

	while (len + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		double left = deadline - bench_now_ms();
		ssize_t n;

		if (left <= 0 || bench_stop)
			return bench_stop ? -EINTR : -ETIMEDOUT;
		if (poll(&p, 1, (int)left + 1) <= 0)
			continue;
		n = read(fd, buf + len, 1);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return negerrno();
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			continue;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return 0;
		}
		len++;
	}
	return -EMSGSIZE;
}

int bench_mkdirs(const struct bench_ctx *ctx, const char *rel, char ret_path[static PATH_MAX])
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", ctx->tmpdir, rel);

	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	/* The tmpdir exists: create each component after it. */
	for (char *p = path + strlen(ctx->tmpdir) + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return negerrno();
		*p = '/';
	}
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		return negerrno();
	memcpy(ret_path, path, (size_t)n + 1);
	return 0;
}

int bench_plugin_start(struct bench_ctx *ctx, const char *name, const char *fault,
		       struct bench_plugin *ret)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF, pidfd = -EBADF;
	char sock[PATH_MAX], root[PATH_MAX], rel[PATH_MAX], line[64];
	char *argv[12];
	size_t n = 0;
	pid_t parent = getpid(), pid;
	int fds[2], r;

	memset(ret, 0, sizeof(*ret));
	ret->pidfd = -EBADF;
	r = bench_mkdirs(ctx, "plugins", ret->plugin_dir);
	if (r < 0)
		return bench_fail(ctx, r, "cannot create the plugin directory: %s", strerror(-r));
	snprintf(rel, sizeof(rel), "%s-root", name);
	r = bench_mkdirs(ctx, rel, root);
	if (r < 0)
		return bench_fail(ctx, r, "cannot create '%s' below '%s': %s", rel, ctx->tmpdir,
				  strerror(-r));
	if ((size_t)snprintf(sock, sizeof(sock), "%s/%s.sock", ret->plugin_dir, name) >=
	    sizeof(sock))
		return bench_fail(ctx, -ENAMETOOLONG, "plugin socket path too long");

	argv[n++] = ctx->testplugin;
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--root";
	argv[n++] = root;
	argv[n++] = "--ready";
	if (fault) {
		argv[n++] = "--fault";
		argv[n++] = (char *)fault;
	}
	argv[n] = NULL;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return bench_fail(ctx, negerrno(), "pipe: %m");
	rd = fds[0];
	wr = fds[1];
	pid = fork();
	if (pid < 0)
		return bench_fail(ctx, negerrno(), "fork: %m");
	if (pid == 0) {
		child_prepare(parent);
		/* Its stderr stays ours: a plugin that fails says why. */
		if (dup2(wr, STDOUT_FILENO) < 0)
			_exit(127);
		execve(argv[0], argv, child_env);
		_exit(127);
	}
	pidfd = (int)pidfd_open(pid, 0);
	if (pidfd < 0) {
		r = negerrno();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return bench_fail(ctx, r, "pidfd_open: %s", strerror(-r));
	}
	close(TAKE_FD(wr));
	r = read_line(rd, line, sizeof(line), READY_TIMEOUT_MS);
	if (r < 0 || strcmp(line, "ready")) {
		int status = 0;

		reap(pid, pidfd, 0, &status);
		return bench_fail(ctx, r < 0 ? r : -EBADMSG,
				  "'%s' did not get ready (exit status %d): %s", ctx->testplugin,
				  status, r < 0 ? strerror(-r) : "unexpected output");
	}
	ret->pid = pid;
	ret->pidfd = TAKE_FD(pidfd);
	snprintf(ret->name, sizeof(ret->name), "%s", name);
	return 0;
}

void bench_plugin_stop(struct bench_plugin *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGTERM);
	reap(p->pid, p->pidfd, STOP_GRACE_MS, NULL);
	close(TAKE_FD(p->pidfd));
	p->pid = 0;
}

/* The container child: its own private mount namespace, then sleep. */
static _noreturn_ void container_main(pid_t parent, int report_fd)
{
	int result = 0;

	child_prepare(parent);
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		result = negerrno();
	if (write(report_fd, &result, sizeof(result)) != sizeof(result) || result < 0)
		_exit(1);
	/* Hold nothing of the bench's: plugin sockets, rings, pipes. */
	close_range(0, ~0U, 0);
	for (;;)
		pause();
}

int bench_container_start(struct bench_container *ret)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF, pidfd = -EBADF;
	struct pollfd p;
	pid_t parent = getpid(), pid;
	int fds[2], result = -EPIPE, r;

	ret->pid = 0;
	ret->pidfd = -EBADF;
	if (pipe2(fds, O_CLOEXEC) < 0)
		return negerrno();
	rd = fds[0];
	wr = fds[1];
	pid = fork();
	if (pid < 0)
		return negerrno();
	if (pid == 0)
		container_main(parent, wr);
	close(TAKE_FD(wr));

	p = (struct pollfd){ .fd = rd, .events = POLLIN };
	r = poll(&p, 1, READY_TIMEOUT_MS);
	if (r > 0 && read(rd, &result, sizeof(result)) != sizeof(result))
		result = -EPIPE;
	else if (r <= 0)
		result = r < 0 ? negerrno() : -ETIMEDOUT;
	if (result == 0)
		/* ns_pidfd_open also pins the start time: the pid cannot be reused. */
		result = ns_pidfd_open(pid, 0, &pidfd, NULL);
	if (result < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return result;
	}
	ret->pid = pid;
	ret->pidfd = TAKE_FD(pidfd);
	return 0;
}

void bench_container_stop(struct bench_container *ct)
{
	if (ct->pid <= 0)
		return;
	kill(ct->pid, SIGKILL);
	while (waitpid(ct->pid, NULL, 0) < 0 && errno == EINTR)
		;
	close(TAKE_FD(ct->pidfd));
	ct->pid = 0;
}
