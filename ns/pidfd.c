/* SPDX-License-Identifier: MIT */
/*
 * Process handles that survive pid reuse: a pidfd, checked against the start
 * time the caller recorded (field 22 of /proc/PID/stat).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/macro.h"
#include "ns/ns.h"

/* A stat line is about 300 bytes; comm is at most 64 with its parentheses. */
#define STAT_LINE_MAX 1024

/*
 * Read state (field 3) and starttime (field 22). comm (field 2) may hold
 * spaces and ')', so parsing starts after the LAST ')' of the line.
 */
static int read_stat(pid_t pid, char *ret_state, unsigned long long *ret_start)
{
	char path[64], line[STAT_LINE_MAX], *p, *end;
	_cleanup_close_ int fd = -EBADF;
	unsigned long long start;
	ssize_t len;
	char state;

	if (pid <= 0)
		return -ESRCH;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : negerrno();
	len = read(fd, line, sizeof(line) - 1);
	if (len < 0)
		return errno == ESRCH ? -ESRCH : negerrno();
	line[len] = '\0';

	p = strrchr(line, ')');
	if (!p || p[1] != ' ' || !p[2])
		return -EBADMSG;
	p += 2;
	state = *p;
	/* Skip fields 3..21: nineteen space-separated fields. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EBADMSG;
		p++;
	}
	errno = 0;
	start = strtoull(p, &end, 10);
	if (errno || end == p || (*end != ' ' && *end != '\n' && *end != '\0'))
		return -EBADMSG;
	*ret_state = state;
	*ret_start = start;
	return 0;
}

int ns_process_start(pid_t pid, unsigned long long *ret_start)
{
	unsigned long long start;
	char state;
	int r;

	r = read_stat(pid, &state, &start);
	if (r < 0)
		return r;
	*ret_start = start;
	return 0;
}

bool ns_process_alive(pid_t pid, unsigned long long start)
{
	unsigned long long now;
	char state;

	/* A zombie has released its namespaces: nothing of it is left to undo. */
	return read_stat(pid, &state, &now) == 0 && now == start && state != 'Z' && state != 'X' &&
	       state != 'x';
}

int ns_pidfd_open(pid_t pid, unsigned long long expect_start, int *ret_pidfd,
		  unsigned long long *ret_start)
{
	_cleanup_close_ int pidfd = -EBADF;
	unsigned long long start;
	char state;
	int r;

	if (pid <= 0)
		return -ESRCH;
	pidfd = pidfd_open(pid, 0);
	if (pidfd < 0)
		return errno == ENOSYS ? -EOPNOTSUPP : errno == ESRCH ? -ESRCH : negerrno();
	r = read_stat(pid, &state, &start);
	if (r < 0)
		return r;
	/*
	 * The start time read is the pidfd's process's if that process still
	 * exists after the read (a zombie keeps its pid too): pid cannot have
	 * been reused in between. One read of /proc/PID/stat, not one before
	 * and one after pidfd_open (issue 11: fixed cost).
	 */
	r = ns_pidfd_alive(pidfd);
	if (r < 0)
		return r;
	if (expect_start && start != expect_start) {
		debug(DEBUG_NS, "ns", "pid %d started at %llu, not %llu", (int)pid, start,
		      expect_start);
		return -ESRCH;
	}
	*ret_pidfd = TAKE_FD(pidfd);
	if (ret_start)
		*ret_start = start;
	return 0;
}

int ns_pidfd_alive(int pidfd)
{
	if (pidfd_send_signal(pidfd, 0, NULL, 0) == 0)
		return 0;
	/*
	 * EPERM: not ours to signal (a start with file capabilities runs as
	 * the caller, without CAP_KILL, and the plugin is root's), yet alive.
	 */
	if (errno == EPERM)
		return 0;
	return errno == ENOSYS ? -EOPNOTSUPP : negerrno();
}

/* Its fdinfo says "Pid:\t-1" once it has exited. */
int ns_pidfd_pid(int pidfd, pid_t *ret_pid)
{
	char path[64], buf[1024], *p, *end;
	_cleanup_close_ int fd = -EBADF;
	ssize_t len;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -EBADF : negerrno();
	len = read(fd, buf, sizeof(buf) - 1);
	if (len < 0)
		return negerrno();
	buf[len] = '\0';
	p = strstr(buf, "\nPid:");
	if (!p)
		return -EBADF; /* not a pidfd */
	errno = 0;
	pid = strtol(p + 5, &end, 10);
	if (errno || end == p + 5)
		return -EBADMSG;
	if (pid <= 0)
		return -ESRCH;
	*ret_pid = (pid_t)pid;
	return 0;
}

int ns_pidfd_proc_dir(int pidfd, int *ret_dirfd)
{
	_cleanup_close_ int dirfd = -EBADF;
	char path[64];
	pid_t pid;
	int r;

	r = ns_pidfd_pid(pidfd, &pid);
	if (r < 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	dirfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? -ESRCH : negerrno();
	/* Alive after the open: the directory is its own, not a reused pid's. */
	r = ns_pidfd_alive(pidfd);
	if (r < 0)
		return r;
	*ret_dirfd = TAKE_FD(dirfd);
	return 0;
}
