/* SPDX-License-Identifier: MIT */
/*
 * dvmount-testplugin: command line, the listening socket, and the accept loop.
 * SIGTERM and SIGINT arrive through a signalfd, so the exit path runs in the
 * main thread and can wait for a state write in progress before it leaves.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tools/testplugin/testplugin.h"

#define PROG "dvmount-testplugin"

struct tp_config tp_config = { .root_fd = -EBADF, .log_fd = -EBADF };
static char **saved_argv;
static int saved_argc;

static const char usage[] =
    "Usage: " PROG " --socket PATH --root DIR [--log FILE] [--faults FILE]\n"
    "       [--fault SPEC]... [--mode normal|old|rexray] [--bind] [--ready]\n"
    "       [--listen-fd N] [--help]\n"
    "SPEC: ENDPOINT KIND [ARG] [volume=NAME] [count=N]; see " PROG "(1).\n";

static _noreturn_ _printf_(2, 3) void die(int code, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s\n", line);
	exit(code);
}

static int listen_on(const char *path)
{
	_cleanup_close_ int fd = -EBADF;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	/* A stale socket from a killed run would make bind() fail. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return -EEXIST;
		if (unlink(path) < 0)
			return negerrno();
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negerrno();
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return negerrno();
	if (chmod(path, 0660) < 0 || listen(fd, 256) < 0)
		return negerrno();
	return TAKE_FD(fd);
}

static int signal_fd(void)
{
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	/* Blocked before any thread starts, so every thread inherits the mask. */
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return negerrno();
	signal(SIGPIPE, SIG_IGN);
	r = signalfd(-1, &set, SFD_CLOEXEC);
	return r < 0 ? negerrno() : r;
}

/* A listening socket inherited as this fd (--listen-fd), or -1: bind --socket. */
static int listen_fd = -1;

static void parse_args(int argc, char **argv, bool *ret_ready)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "root", required_argument, NULL, 'r' },
		{ "log", required_argument, NULL, 'l' },
		{ "faults", required_argument, NULL, 'F' },
		{ "fault", required_argument, NULL, 'f' },
		{ "mode", required_argument, NULL, 'm' },
		{ "bind", no_argument, NULL, 'b' },
		{ "ready", no_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "listen-fd", required_argument, NULL, 'L' },
		{ "restarted", no_argument, NULL, 'X' },
		{},
	};
	const char *log_path = NULL;
	char errbuf[1024];
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			tp_config.socket_path = optarg;
			break;
		case 'r':
			tp_config.root = optarg;
			break;
		case 'l':
			log_path = optarg;
			break;
		case 'F':
			fault_set_file(optarg);
			break;
		case 'f':
			if (fault_add_spec(optarg, errbuf, sizeof(errbuf)) < 0)
				die(2, "%s", errbuf);
			break;
		case 'm':
			if (!strcmp(optarg, "normal"))
				tp_config.mode = TP_MODE_NORMAL;
			else if (!strcmp(optarg, "old"))
				tp_config.mode = TP_MODE_OLD;
			else if (!strcmp(optarg, "rexray"))
				tp_config.mode = TP_MODE_REXRAY;
			else
				die(2, "unknown --mode '%s' (normal, old or rexray)", optarg);
			break;
		case 'b':
			tp_config.bind = true;
			break;
		case 'R':
			*ret_ready = true;
			break;
		case 'L':
			listen_fd = atoi(optarg);
			if (listen_fd < 3 || fcntl(listen_fd, F_SETFD, FD_CLOEXEC) < 0)
				die(2, "--listen-fd '%s': not an open fd above 2", optarg);
			break;
		case 'X':
			tp_config.restarted = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			die(2, "unknown or incomplete option '%s'; try --help", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(2, "unexpected argument '%s'", argv[optind]);
	if (!tp_config.socket_path || !tp_config.root)
		die(2, "--socket and --root are required");
	if (log_path) {
		tp_config.log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (tp_config.log_fd < 0)
			die(1, "opening log '%s': %m", log_path);
	}
}

void tp_restart(void)
{
	char **argv = calloc((size_t)saved_argc + 2, sizeof(*argv));

	if (!argv)
		die(1, "restart: out of memory");
	memcpy(argv, saved_argv, (size_t)saved_argc * sizeof(*argv));
	argv[saved_argc] = "--restarted";
	/* Never exec in the middle of a state write; the new process loads the state. */
	volume_lock_for_exit();
	execv("/proc/self/exe", argv);
	die(1, "restart: exec: %m");
}

int main(int argc, char **argv)
{
	_cleanup_close_ int lfd = -EBADF, sfd = -EBADF;
	static char root[PATH_MAX];
	bool ready = false;
	int r;

	saved_argc = argc;
	saved_argv = argv;
	parse_args(argc, argv, &ready);
	if (mkdir(tp_config.root, 0755) < 0 && errno != EEXIST)
		die(1, "creating root '%s': %m", tp_config.root);
	if (!realpath(tp_config.root, root))
		die(1, "resolving root '%s': %m", tp_config.root);
	tp_config.root = root;
	tp_config.root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (tp_config.root_fd < 0)
		die(1, "opening root '%s': %m", root);
	r = volume_load();
	if (r < 0)
		die(1, "loading '%s/state.json': %s", root, strerror(-r));

	sfd = signal_fd();
	if (sfd < 0)
		die(1, "signalfd: %s", strerror(-sfd));
	lfd = listen_fd >= 0 ? listen_fd : listen_on(tp_config.socket_path);
	if (lfd < 0)
		die(1, "listening on '%s': %s", tp_config.socket_path, strerror(-lfd));
	if (ready) {
		fputs("ready\n", stdout);
		fflush(stdout);
	}

	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die(1, "poll: %m");
		}
		if (p[1].revents)
			break;
		if (p[0].revents) {
			int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

			if (fd >= 0)
				conn_start(fd);
		}
	}
	/* Threads still serving die with the process; the state stays whole. */
	volume_lock_for_exit();
	unlink(tp_config.socket_path);
	exit(0);
}
