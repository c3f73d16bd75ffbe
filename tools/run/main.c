/* SPDX-License-Identifier: MIT */
/*
 * dvmount-run --name NAME --volumes FILE|- [--rootfs DIR] [--sandbox DIR]
 *             [--user UID[:GID]] [--keep] [dvmount options] -- COMMAND...
 *
 * The order of a containerizer (Mesos' docker/volume isolator, an OCI
 * runtime with its createRuntime hook): create the container's namespaces,
 * attach the volumes while its init waits, start the command, and release the
 * volumes when it ends. See man/dvmount-run.1.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "tools/run/run.h"

/* After SIGTERM to the container, how long before SIGKILL ends it. */
#define RUN_STOP_GRACE_MS 10000
#define RUN_NAME_MAX 64
/* run_dvmount's answer when a signal stopped the child: above any exit status. */
#define RUN_DVMOUNT_STOPPED 1000

static const char usage_text[] =
    "usage: dvmount-run --name NAME --volumes FILE|- [--rootfs DIR] [--sandbox DIR]\n"
    "                   [--user UID[:GID]] [--keep] [--timeout SEC] [--dvmount PATH]\n"
    "                   [--state-dir DIR] [--policy FILE] [--plugin-path DIRS] [--debug]\n"
    "                   -- COMMAND [ARG...]\n"
    "\n"
    "Run COMMAND in new mount, PID and UTS namespaces with the Docker volumes of\n"
    "FILE (Mesos' JSON) attached by `dvmount prepare --pid`; `dvmount cleanup`\n"
    "releases them when it ends. Output goes to the terminal and to the sandbox's\n"
    "stdout and stderr files. Exit status: the command's; 125 when dvmount-run,\n"
    "prepare or cleanup failed; 126/127 when the command cannot run / is missing.\n"
    "--timeout SEC bounds each plugin call of prepare and cleanup (dvmount's\n"
    "--timeout and --timeout-mount); a signal during cleanup stops it at once.\n"
    "\n"
    "example:\n"
    "  dvmount-run --name test --volumes myvolume.json -- touch /tmp/myvolume/myfile\n"
    "See dvmount-run(1).\n";

static void run_err(const struct run_opts *o, const char *fmt, ...) _printf_(2, 3);
static void run_err(const struct run_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "dvmount-run: ");
	if (o->container_id[0])
		fprintf(stderr, "container '%s': ", o->container_id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int parse_user(const char *s, struct run_opts *o)
{
	unsigned long uid, gid;
	char *end;
	struct passwd *pw;

	errno = 0;
	uid = strtoul(s, &end, 10);
	if (errno || end == s || uid > 0xfffffffeUL || *s == '-' || (*end && *end != ':'))
		return -EINVAL;
	if (*end == ':') {
		s = end + 1;
		gid = strtoul(s, &end, 10);
		if (errno || end == s || *end || gid > 0xfffffffeUL || *s == '-')
			return -EINVAL;
	} else {
		/* The user's primary group, as Mesos takes it; its own number without one. */
		pw = getpwuid((uid_t)uid);
		gid = pw ? pw->pw_gid : uid;
	}
	o->uid = (uid_t)uid;
	o->gid = (gid_t)gid;
	o->have_user = true;
	return 0;
}

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	/* It names the dvmount container (state records): their alphabet, shorter. */
	if (n == 0 || n > RUN_NAME_MAX || s[0] == '.')
		return false;
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

/* dvmount next to us (the build tree), then ../sbin/dvmount (an install), then $PATH. */
static void find_dvmount(struct run_opts *o)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	snprintf(o->dvmount, sizeof(o->dvmount), "dvmount");
	if (n <= 0)
		return;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return;
	*slash = '\0';
	snprintf(o->dvmount, sizeof(o->dvmount), "%s/dvmount", exe);
	if (access(o->dvmount, X_OK) == 0)
		return;
	snprintf(o->dvmount, sizeof(o->dvmount), "%s/../sbin/dvmount", exe);
	if (access(o->dvmount, X_OK) == 0)
		return;
	snprintf(o->dvmount, sizeof(o->dvmount), "dvmount");
}

enum {
	OPT_NAME = 256,
	OPT_VOLUMES,
	OPT_ROOTFS,
	OPT_SANDBOX,
	OPT_USER,
	OPT_KEEP,
	OPT_DVMOUNT,
	OPT_STATE_DIR,
	OPT_POLICY,
	OPT_PLUGIN_PATH,
	OPT_DEBUG,
	OPT_TIMEOUT,
	OPT_HELP,
};

/* The largest --timeout: a day, far above any plugin call worth waiting for. */
#define RUN_TIMEOUT_MAX_S 86400.0

static bool timeout_valid(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* dvmount parses the same text again; reject here what it would (usage, 2). */
	return !errno && end != s && !*end && v > 0 && v <= RUN_TIMEOUT_MAX_S;
}

/* 0, or the exit status to leave with (2: usage). */
static int parse_args(int argc, char **argv, struct run_opts *o)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "volumes", required_argument, NULL, OPT_VOLUMES },
		{ "rootfs", required_argument, NULL, OPT_ROOTFS },
		{ "sandbox", required_argument, NULL, OPT_SANDBOX },
		{ "user", required_argument, NULL, OPT_USER },
		{ "keep", no_argument, NULL, OPT_KEEP },
		{ "dvmount", required_argument, NULL, OPT_DVMOUNT },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "policy", required_argument, NULL, OPT_POLICY },
		{ "plugin-path", required_argument, NULL, OPT_PLUGIN_PATH },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, OPT_HELP },
		{}
	};
	size_t na = 0;
	int opt;

	find_dvmount(o);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_VOLUMES:
			o->volumes = optarg;
			break;
		case OPT_ROOTFS:
			o->rootfs = optarg;
			break;
		case OPT_SANDBOX:
			if (snprintf(o->sandbox, sizeof(o->sandbox), "%s", optarg) >= PATH_MAX) {
				run_err(o, "--sandbox: path too long");
				return 2;
			}
			break;
		case OPT_USER:
			if (parse_user(optarg, o) < 0) {
				run_err(o, "invalid --user '%s' (expected UID[:GID])", optarg);
				return 2;
			}
			break;
		case OPT_KEEP:
			o->keep = true;
			break;
		case OPT_DVMOUNT:
			snprintf(o->dvmount, sizeof(o->dvmount), "%s", optarg);
			break;
		case OPT_STATE_DIR:
		case OPT_POLICY:
		case OPT_PLUGIN_PATH:
		case OPT_DEBUG:
			/* Passed on to every dvmount call as its global options. */
			if (na + 2 > RUN_DVMOUNT_ARGS_MAX) {
				run_err(o, "too many dvmount options");
				return 2;
			}
			o->dvmount_args[na++] = argv[optind - (opt == OPT_DEBUG ? 1 : 2)];
			if (opt != OPT_DEBUG)
				o->dvmount_args[na++] = optarg;
			break;
		case OPT_TIMEOUT:
			if (!timeout_valid(optarg)) {
				run_err(o,
					"invalid --timeout '%s' (seconds, above 0, at most %.0f)",
					optarg, RUN_TIMEOUT_MAX_S);
				return 2;
			}
			if (na + 4 > RUN_DVMOUNT_ARGS_MAX) {
				run_err(o, "too many dvmount options");
				return 2;
			}
			/* Every plugin call, Mount included, gets the user's bound. */
			o->dvmount_args[na++] = "--timeout";
			o->dvmount_args[na++] = optarg;
			o->dvmount_args[na++] = "--timeout-mount";
			o->dvmount_args[na++] = optarg;
			break;
		case 'h':
		case OPT_HELP:
			fputs(usage_text, stdout);
			return -1;
		default:
			run_err(o, "unknown or incomplete option '%s' (see dvmount-run --help)",
				argv[optind - 1]);
			return 2;
		}
	}
	o->dvmount_args[na] = NULL;
	if (!o->name || !o->volumes || optind >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	if (!name_valid(o->name)) {
		run_err(o,
			"invalid --name '%s' ([A-Za-z0-9._-], at most %d bytes, not starting "
			"with '.')",
			o->name, RUN_NAME_MAX);
		return 2;
	}
	if (o->rootfs && o->rootfs[0] != '/') {
		run_err(o, "--rootfs '%s' must be absolute", o->rootfs);
		return 2;
	}
	if (o->sandbox[0] && o->sandbox[0] != '/') {
		run_err(o, "--sandbox '%s' must be absolute", o->sandbox);
		return 2;
	}
	o->command = argv + optind;
	return 0;
}

/* NAME-<8 hex>: unique per run, readable in `dvmount status`. */
static int make_container_id(struct run_opts *o)
{
	unsigned int rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return negerrno();
	snprintf(o->container_id, sizeof(o->container_id), "%s-%08x", o->name, rnd);
	return 0;
}

static int mkdirs(char *path, mode_t mode)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, mode) < 0 && errno != EEXIST) {
			*p = '/';
			return negerrno();
		}
		*p = '/';
	}
	return mkdir(path, mode) < 0 && errno != EEXIST ? negerrno() : 0;
}

/*
 * The sandbox: the given directory (created if missing, never removed), or a
 * new one under /tmp named after the container. With --user it becomes the
 * user's, as Mesos chowns a task's sandbox. With a rootfs, the directory it
 * is bound onto inside the rootfs is created too.
 */
static int setup_sandbox(struct run_opts *o)
{
	char where[PATH_MAX + sizeof(RUN_SANDBOX_IN_ROOTFS)];
	int r;

	if (o->sandbox[0]) {
		r = mkdirs(o->sandbox, 0755);
		if (r < 0) {
			run_err(o, "sandbox '%s': %s", o->sandbox, strerror(-r));
			return r;
		}
	} else {
		snprintf(o->sandbox, sizeof(o->sandbox), "/tmp/dvmount-run.%s", o->container_id);
		if (mkdir(o->sandbox, 0755) < 0) {
			r = negerrno();
			run_err(o, "sandbox '%s': %s", o->sandbox, strerror(-r));
			return r;
		}
		o->sandbox_made = true;
	}
	if (o->have_user && chown(o->sandbox, o->uid, o->gid) < 0) {
		r = negerrno();
		run_err(o, "sandbox '%s': chown to %u:%u: %s", o->sandbox, (unsigned)o->uid,
			(unsigned)o->gid, strerror(-r));
		return r;
	}
	if (!o->rootfs)
		return 0;
	snprintf(where, sizeof(where), "%s%s", o->rootfs, RUN_SANDBOX_IN_ROOTFS);
	r = mkdirs(where, 0755);
	if (r < 0)
		run_err(o, "sandbox mount point '%s': %s", where, strerror(-r));
	return r;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

/*
 * The exit status of dvmount child pid, or RUN_DVMOUNT_STOPPED when a
 * SIGINT/SIGTERM/SIGHUP came first: the child is then SIGKILLed (it inherited
 * our blocked signals, so nothing else would stop it) and reaped. Killing it
 * is safe: dvmount writes its intent before each plugin call and drops an
 * entry only on evidence, so the record stays for `dvmount cleanup` or
 * `dvmount recover`. -errno when waiting fails.
 */
static int wait_dvmount_or_signal(pid_t pid, int sigfd)
{
	_cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	bool stopped = false;
	int status;

	while (pidfd >= 0) {
		struct pollfd p[2] = { { sigfd, POLLIN, 0 }, { pidfd, POLLIN, 0 } };
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if ((p[0].revents & POLLIN) && read(sigfd, &si, sizeof(si)) == sizeof(si)) {
			kill(pid, SIGKILL);
			stopped = true;
			break;
		}
	}
	/* Without a pidfd (a kernel before 5.3) this waits as before. */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negerrno();
	if (stopped)
		return RUN_DVMOUNT_STOPPED;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * dvmount [global options] ARGS... with stdout to /dev/null (prepare's JSON is
 * for programs), stderr ours, stdin ours only when the volumes come from it.
 * With sigfd >= 0 a signal read from it stops the child
 * (wait_dvmount_or_signal). Its exit status, RUN_DVMOUNT_STOPPED, or -errno
 * when it could not be started.
 */
static int run_dvmount(const struct run_opts *o, char *const args[], bool pass_stdin, int sigfd)
{
	char *argv[RUN_DVMOUNT_ARGS_MAX + 16];
	size_t n = 0;
	int status;
	pid_t pid;

	argv[n++] = (char *)o->dvmount;
	for (size_t i = 0; o->dvmount_args[i]; i++)
		argv[n++] = o->dvmount_args[i];
	for (size_t i = 0; args[i] && n + 1 < ARRAY_SIZE(argv); i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return negerrno();
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);

		signal(SIGPIPE, SIG_DFL);
		if (nul < 0 || dup2(nul, STDOUT_FILENO) < 0 ||
		    (!pass_stdin && dup2(nul, STDIN_FILENO) < 0))
			_exit(RUN_EXIT_FAILED);
		execvp(argv[0], argv);
		fprintf(stderr, "dvmount-run: container '%s': cannot run '%s': %m\n",
			o->container_id, argv[0]);
		_exit(RUN_EXIT_NOT_FOUND);
	}
	if (sigfd >= 0)
		return wait_dvmount_or_signal(pid, sigfd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return negerrno();
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negerrno();
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* One output stream of the command: the pipe, the terminal, the sandbox file. */
struct tee {
	int *from;
	int to;
	int file;
	bool to_broken; /* the terminal went away: the sandbox file still gets it all */
};

static void tee_pump(struct tee *t)
{
	char buf[65536];
	ssize_t n = read(*t->from, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		closep(t->from);
		*t->from = -EBADF;
		return;
	}
	if (!t->to_broken && write_all(t->to, buf, (size_t)n) < 0)
		t->to_broken = true;
	if (t->file >= 0)
		(void)write_all(t->file, buf, (size_t)n);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Until the init has exited and both pipes are at EOF: tee the output, turn
 * the first SIGINT/SIGTERM/SIGHUP into a SIGTERM to the container (SIGKILL
 * after the grace period or at a second one). The init's status, as the
 * command's (the init passes it through).
 */
static int supervise(struct run_container *c, int sigfd, int out_file, int err_file)
{
	struct tee tees[2] = { { &c->out_fd, STDOUT_FILENO, out_file, false },
			       { &c->err_fd, STDERR_FILENO, err_file, false } };
	long long kill_at = -1;
	bool exited = false;
	int status = 0;

	while (!exited || c->out_fd >= 0 || c->err_fd >= 0) {
		struct pollfd p[4] = {
			{ sigfd, POLLIN, 0 },
			{ exited ? -1 : c->pidfd, POLLIN, 0 },
			{ c->out_fd, POLLIN, 0 },
			{ c->err_fd, POLLIN, 0 },
		};
		int timeout = kill_at < 0 ? -1 : (int)MAX(0, kill_at - now_ms());

		if (poll(p, 4, timeout) < 0 && errno != EINTR)
			return -errno;
		if (kill_at >= 0 && !exited && now_ms() >= kill_at) {
			kill(c->pid, SIGKILL);
			kill_at = -1;
		}
		if (p[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si) && !exited) {
				/* A second signal: no more grace. */
				kill(c->pid, kill_at < 0 ? SIGTERM : SIGKILL);
				kill_at = now_ms() + RUN_STOP_GRACE_MS;
			}
		}
		for (int i = 0; i < 2; i++)
			if (p[2 + i].revents)
				tee_pump(&tees[i]);
		if (!exited && p[1].revents) {
			while (waitpid(c->pid, &status, 0) < 0)
				if (errno != EINTR)
					return -errno;
			exited = true;
			kill_at = -1;
		}
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int open_log(const struct run_opts *o, const char *name)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", o->sandbox, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		int r = negerrno();

		run_err(o, "sandbox file '%s': %s", path, strerror(-r));
		return r;
	}
	if (o->have_user && fchown(fd, o->uid, o->gid) < 0) {
		int r = negerrno();

		close(fd);
		run_err(o, "sandbox file '%s': chown: %s", path, strerror(-r));
		return r;
	}
	return fd;
}

/*
 * The init mounts a new /proc in the rootfs after pivot_root; without the
 * directory that would fail after prepare with a bare ENOENT, so say it first.
 */
static bool rootfs_has_proc(const char *rootfs)
{
	char path[PATH_MAX + 8];
	struct stat st;

	snprintf(path, sizeof(path), "%s/proc", rootfs);
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The signal already waiting (the user stopped us before the command started), or 0. */
static int signal_pending(int sigfd)
{
	struct signalfd_siginfo si;

	return read(sigfd, &si, sizeof(si)) == sizeof(si) ? (int)si.ssi_signo : 0;
}

int main(int argc, char **argv)
{
	struct run_opts o = { 0 };
	struct run_container c = {
		.pidfd = -EBADF, .go_fd = -EBADF, .out_fd = -EBADF, .err_fd = -EBADF
	};
	_cleanup_close_ int sigfd = -EBADF, out_file = -EBADF, err_file = -EBADF;
	char *prepare[16], *cleanup[] = { "cleanup", "--container-id", o.container_id, NULL };
	size_t np = 0;
	sigset_t stop;
	int r, status;

	r = parse_args(argc, argv, &o);
	if (r)
		return r < 0 ? 0 : r;
	if (make_container_id(&o) < 0) {
		run_err(&o, "getrandom: %m");
		return RUN_EXIT_FAILED;
	}
	/* From here, SIGINT/SIGTERM/SIGHUP are events: the volumes are always released. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGHUP);
	sigprocmask(SIG_BLOCK, &stop, NULL);
	sigfd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		run_err(&o, "signalfd: %m");
		return RUN_EXIT_FAILED;
	}
	signal(SIGPIPE, SIG_IGN);
	if (o.rootfs && !rootfs_has_proc(o.rootfs)) {
		run_err(&o,
			"the rootfs '%s' has no /proc (a directory for the container's /proc; "
			"tools/mkrootfs makes one)",
			o.rootfs);
		return RUN_EXIT_FAILED;
	}
	if (setup_sandbox(&o) < 0)
		return RUN_EXIT_FAILED;
	out_file = open_log(&o, "stdout");
	err_file = out_file < 0 ? -EBADF : open_log(&o, "stderr");
	if (out_file < 0 || err_file < 0) {
		status = RUN_EXIT_FAILED;
		goto out;
	}

	r = run_container_start(&o, !strcmp(o.volumes, "-"), &c);
	if (r < 0) {
		if (r != -ECHILD)
			run_err(&o, "starting the container: %s", strerror(-r));
		status = RUN_EXIT_FAILED;
		goto out;
	}
	char pid_s[16];

	snprintf(pid_s, sizeof(pid_s), "%d", (int)c.pid);
	prepare[np++] = "prepare";
	prepare[np++] = "--container-id";
	prepare[np++] = o.container_id;
	prepare[np++] = "--volumes";
	prepare[np++] = (char *)o.volumes;
	prepare[np++] = "--pid";
	prepare[np++] = pid_s;
	prepare[np++] = "--sandbox";
	prepare[np++] = o.rootfs ? RUN_SANDBOX_IN_ROOTFS : o.sandbox;
	if (o.rootfs) {
		prepare[np++] = "--rootfs";
		prepare[np++] = (char *)o.rootfs;
	}
	char user_s[32];

	if (o.have_user) {
		snprintf(user_s, sizeof(user_s), "%u:%u", (unsigned)o.uid, (unsigned)o.gid);
		prepare[np++] = "--user";
		prepare[np++] = user_s;
	}
	prepare[np] = NULL;
	r = run_dvmount(&o, prepare, !strcmp(o.volumes, "-"), -EBADF);
	int sig = r == 0 ? signal_pending(sigfd) : 0;

	if (r != 0 || sig) {
		/* prepare said why (or could not start, and we did); the init exits on EOF. */
		if (r < 0)
			run_err(&o, "running '%s prepare': %s", o.dvmount, strerror(-r));
		closep(&c.go_fd);
		c.go_fd = -EBADF;
		kill(c.pid, SIGKILL);
		while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR)
			;
		status = r == 0 ? 128 + sig : RUN_EXIT_FAILED;
		/* prepare undoes itself on failure; a signal after it succeeded needs cleanup. */
		if (r == 0 && run_dvmount(&o, cleanup, false, -EBADF) != 0)
			status = RUN_EXIT_FAILED;
		goto out;
	}
	if (run_container_go(&c) < 0) {
		run_err(&o, "starting the command: the container's init is gone");
		kill(c.pid, SIGKILL);
	}
	status = supervise(&c, sigfd, out_file, err_file);
	if (status < 0) {
		run_err(&o, "waiting for the container: %s", strerror(-status));
		kill(c.pid, SIGKILL);
		waitpid(c.pid, NULL, 0);
		status = RUN_EXIT_FAILED;
	}
	r = run_dvmount(&o, cleanup, false, sigfd);
	if (r != 0) {
		if (r == RUN_DVMOUNT_STOPPED)
			run_err(&o,
				"cleanup stopped by a signal; the volumes stay recorded until "
				"'dvmount cleanup --container-id %s' or 'dvmount recover'",
				o.container_id);
		else if (r < 0)
			run_err(&o, "running '%s cleanup': %s", o.dvmount, strerror(-r));
		status = RUN_EXIT_FAILED;
	}
out:
	run_container_close(&c);
	if (o.keep && o.sandbox_made)
		run_err(&o, "sandbox kept at '%s'", o.sandbox);
	if (o.keep || !o.sandbox_made)
		return status;
	closep(&out_file);
	closep(&err_file);
	out_file = err_file = -EBADF;
	/* Only what the run left there: no mount is crossed, no link followed. */
	nftw(o.sandbox, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	return status;
}
