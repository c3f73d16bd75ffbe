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
#include <sys/socket.h>
#include <sys/un.h>
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
#define ENV_MAX 4 /* extra variables of one exec */
#define TRUE_PATH "/bin/true"

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

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

/*
 * fork and execve(argv, envp) in a child that dies with the bench; the
 * child's fds 0, 1 and 2 become fds[0], fds[1] and fds[2], or stay the
 * bench's where that is -1. Returns a pidfd of the child and its pid in
 * *ret_pid, or -errno with no child left behind (a pidfd_open failure kills
 * and reaps it).
 */
static int spawn(char *const argv[], char *const envp[], const int fds[3], pid_t *ret_pid)
{
	pid_t parent = getpid(), pid;
	int pidfd, r;

	pid = fork();
	if (pid < 0)
		return negerrno();
	if (pid == 0) {
		child_prepare(parent);
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0 && dup2(fds[i], i) < 0)
				_exit(127);
		execve(argv[0], argv, envp);
		_exit(127);
	}
	pidfd = (int)pidfd_open(pid, 0);
	if (pidfd < 0) {
		r = negerrno();
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return r;
	}
	*ret_pid = pid;
	return pidfd;
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

int bench_exec_env(char *const argv[], char *const env[], char *out, size_t out_size,
		   double *ret_ms)
{
	char *envp[ENV_MAX + ARRAY_SIZE(child_env)];
	_cleanup_close_ int null = -EBADF, rd = -EBADF, wr = -EBADF, pidfd = -EBADF;
	pid_t pid;
	int fds[2], status = 0, r;
	double start, end = 0;
	size_t len = 0;
	bool exited = false;

	size_t k = 0;

	if (!out || out_size == 0)
		return -EINVAL;
	out[0] = '\0';
	for (size_t i = 0; child_env[i]; i++)
		envp[k++] = child_env[i];
	for (size_t i = 0; env && env[i]; i++) {
		if (i == ENV_MAX)
			return -E2BIG;
		envp[k++] = env[i];
	}
	envp[k] = NULL;
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || pipe2(fds, O_CLOEXEC) < 0)
		return negerrno();
	rd = fds[0];
	wr = fds[1];
	/* Only our end: the child writes blocking, as it would to a terminal. */
	if (fcntl(rd, F_SETFL, O_NONBLOCK) < 0)
		return negerrno();

	start = bench_now_ms();
	pidfd = spawn(argv, envp, (const int[3]){ null, wr, wr }, &pid);
	if (pidfd < 0)
		return pidfd;
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

int bench_exec(char *const argv[], char *out, size_t out_size, double *ret_ms)
{
	return bench_exec_env(argv, NULL, out, out_size, ret_ms);
}

int bench_round_exec_true(struct bench_ctx *ctx, void *state, double ret_ms[BENCH_PARTS_MAX])
{
	char *argv[] = { TRUE_PATH, NULL };
	char out[BENCH_OUT_MAX];
	int r;

	(void)state;
	r = bench_exec_part(ctx, 0, argv, NULL, out, sizeof(out), &ret_ms[0]);
	if (r != 0)
		return bench_fail(ctx, r < 0 ? r : -EPROTO, "'%s' failed (%d)", TRUE_PATH, r);
	return 0;
}

int bench_round_durable_write(struct bench_ctx *ctx, void *state, double ret_ms[BENCH_PARTS_MAX])
{
	char tmp[64], name[64], data[256];
	_cleanup_close_ int dir = -EBADF, fd = -EBADF;
	double start;

	(void)state;
	/* Per process: the contention scenario runs this in P workers at once. */
	snprintf(tmp, sizeof(tmp), "baseline-%d.tmp", (int)getpid());
	snprintf(name, sizeof(name), "baseline-%d", (int)getpid());
	memset(data, 'x', sizeof(data));
	start = bench_now_ms();
	dir = open(ctx->statedir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir >= 0)
		fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || write(fd, data, sizeof(data)) != (ssize_t)sizeof(data) || fsync(fd) < 0 ||
	    renameat(dir, tmp, dir, name) < 0 || fsync(dir) < 0)
		return bench_fail(ctx, negerrno(), "durable write in '%s': %m", ctx->statedir);
	ret_ms[0] = bench_now_ms() - start;
	unlinkat(dir, name, 0);
	return 0;
}

/* Add the counts of strace's -c -U name,calls table in path to c. */
static int counts_add(const char *path, struct bench_counts *c)
{
	_cleanup_(fclosep) FILE *f = fopen(path, "re");
	char line[256], name[64];
	unsigned long calls;
	int rules = 0;

	if (!f)
		return negerrno();
	/* "syscall calls", a rule, one line per syscall, a rule, "total N". */
	while (fgets(line, sizeof(line), f) && rules < 2) {
		size_t i;

		if (!strncmp(line, "----", 4)) {
			rules++;
			continue;
		}
		if (rules != 1 || sscanf(line, "%63s %lu", name, &calls) != 2)
			continue;
		for (i = 0; i < c->n && strcmp(c->e[i].name, name); i++)
			;
		if (i == c->n) {
			if (c->n == BENCH_SYSCALLS_MAX || strlen(name) >= sizeof(c->e[0].name))
				return -E2BIG;
			snprintf(c->e[c->n++].name, sizeof(c->e[0].name), "%s", name);
			c->e[i].calls = 0;
		}
		c->e[i].calls += calls;
	}
	return rules == 2 ? 0 : -EBADMSG;
}

int bench_exec_part(struct bench_ctx *ctx, unsigned part, char *const argv[], char *const env[],
		    char *out, size_t out_size, double *ret_ms)
{
	char table[PATH_MAX], *sargv[BENCH_ARGV_MAX + 16], estr[ENV_MAX][PATH_MAX + 32];
	size_t n = 0, e = 0;
	int r, c;

	if (!ctx->counting || part >= BENCH_PARTS_MAX || !ctx->counts[part])
		return bench_exec_env(argv, env, out, out_size, ret_ms);
	snprintf(table, sizeof(table), "%s/strace.txt", ctx->tmpdir);
	sargv[n++] = ctx->strace;
	/* -f: every process the operation starts (a script's curl, the hook's dvmount). */
	sargv[n++] = "-f";
	sargv[n++] = "-c";
	sargv[n++] = "-U";
	sargv[n++] = "name,calls";
	sargv[n++] = "-o";
	sargv[n++] = table;
	/* -E: for the traced program only, never for strace itself. */
	for (; env && env[e] && e < ENV_MAX; e++) {
		snprintf(estr[e], sizeof(estr[e]), "%s", env[e]);
		sargv[n++] = "-E";
		sargv[n++] = estr[e];
	}
	sargv[n++] = "--";
	for (size_t i = 0; argv[i]; i++) {
		if (n == ARRAY_SIZE(sargv) - 1)
			return -E2BIG;
		sargv[n++] = argv[i];
	}
	sargv[n] = NULL;
	unlink(table);
	r = bench_exec_env(sargv, NULL, out, out_size, ret_ms);
	if (r < 0)
		return r;
	/* The program's status is what the caller judges; a missing table is ours. */
	c = counts_add(table, ctx->counts[part]);
	if (c < 0)
		return bench_fail(ctx, c, "strace's syscall table for '%s' (exit status %d): %s",
				  argv[0], r, strerror(-c));
	unlink(table);
	return r;
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

int bench_state_dir(struct bench_ctx *ctx, const char *name, char ret_path[static PATH_MAX])
{
	if ((size_t)snprintf(ret_path, PATH_MAX, "%s/%s", ctx->statedir, name) >= PATH_MAX)
		return bench_fail(ctx, -ENAMETOOLONG, "state dir path too long");
	if (mkdir(ret_path, 0700) < 0)
		return bench_fail(ctx, negerrno(), "cannot create '%s': %m", ret_path);
	return 0;
}

int bench_write_file(const char *path, const char *text, mode_t mode)
{
	_cleanup_close_ int fd =
	    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	size_t len = strlen(text), done = 0;

	if (fd < 0 || fchmod(fd, mode) < 0)
		return negerrno();
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno != EINTR)
			return negerrno();
		if (n > 0)
			done += (size_t)n;
	}
	return 0;
}

int bench_plugin_start(struct bench_ctx *ctx, const char *name, const char *fault,
		       struct bench_plugin *ret)
{
	_cleanup_close_ int rd = -EBADF, wr = -EBADF, pidfd = -EBADF;
	char sock[PATH_MAX], root[PATH_MAX], rel[PATH_MAX], line[64];
	char *argv[12];
	size_t n = 0;
	pid_t pid;
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
	/* Its stderr stays ours: a plugin that fails says why. */
	pidfd = spawn(argv, child_env, (const int[3]){ -1, wr, -1 }, &pid);
	if (pidfd < 0)
		return bench_fail(ctx, pidfd, "starting '%s': %s", argv[0], strerror(-pidfd));
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
	snprintf(ret->sock, sizeof(ret->sock), "%s", sock);
	return 0;
}

/* 0 once a connect() to the unix socket path succeeds, within timeout_ms. */
static int wait_socket(const char *path, unsigned timeout_ms)
{
	double deadline = bench_now_ms() + timeout_ms;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	while (bench_now_ms() < deadline && !bench_stop) {
		_cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return negerrno();
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return 0;
		usleep(20 * 1000);
	}
	return bench_stop ? -EINTR : -ETIMEDOUT;
}

int bench_plugin_spawn(struct bench_ctx *ctx, char *const argv[], const char *sock,
		       unsigned timeout_ms, struct bench_plugin *ret)
{
	_cleanup_close_ int pidfd = -EBADF, null = -EBADF;
	pid_t pid;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->pidfd = -EBADF;
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0)
		return bench_fail(ctx, negerrno(), "/dev/null: %m");
	/* Its chatter is not ours; a plugin that fails is seen at its socket. */
	pidfd = spawn(argv, child_env, (const int[3]){ null, null, null }, &pid);
	if (pidfd < 0)
		return bench_fail(ctx, pidfd, "starting '%s': %s", argv[0], strerror(-pidfd));
	r = wait_socket(sock, timeout_ms);
	if (r < 0) {
		reap(pid, pidfd, 0, NULL);
		return bench_fail(ctx, r, "'%s' did not listen on '%s': %s", argv[0], sock,
				  strerror(-r));
	}
	ret->pid = pid;
	ret->pidfd = TAKE_FD(pidfd);
	snprintf(ret->sock, sizeof(ret->sock), "%s", sock);
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
