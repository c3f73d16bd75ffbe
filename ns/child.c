/* SPDX-License-Identifier: MIT */
/*
 * The children ns/ forks to reach filesystems at paths: what they keep and
 * how long they are waited for. Such a child may be unable to die: a task
 * whose FUSE request the daemon has already read waits uninterruptibly for
 * the answer, SIGKILL or not (fs/fuse/dev.c, request_wait_answer), until the
 * daemon answers or the connection is aborted. rclone SIGSTOPped just after
 * it took a LOOKUP left such a child, and waitpid() on it hung dvmount for
 * good (issue 9).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/pidfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/macro.h"
#include "ns/ns.h"

static void sort_fds(int *fds, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		int v = fds[i];
		size_t j = i;

		for (; j > 0 && fds[j - 1] > v; j--)
			fds[j] = fds[j - 1];
		fds[j] = v;
	}
}

int ns_child_close_all_but(int *keep, size_t n)
{
	unsigned from = 0;

	sort_fds(keep, n);
	for (size_t i = 0; i <= n; i++) {
		unsigned to = i < n ? (unsigned)keep[i] : ~0U;

		if (i < n && keep[i] < 0)
			continue;
		if (to > from && close_range(from, to - 1, 0) < 0) {
			struct rlimit rl;

			if (errno != ENOSYS)
				return negerrno();
			/* Before 5.9: close one by one up to the fd limit. */
			if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
				return negerrno();
			for (unsigned fd = from; fd < to && fd < rl.rlim_cur; fd++)
				close(fd);
		}
		if (i < n)
			from = (unsigned)keep[i] + 1;
	}
	return 0;
}

int ns_child_reap(pid_t child, bool kill_first, unsigned grace_ms, int *ret_status)
{
	struct timespec pause = { .tv_nsec = 5 * 1000 * 1000 };
	int pidfd, status;
	pid_t r;

	if (child <= 0)
		return -EINVAL;
	if (kill_first)
		kill(child, SIGKILL);
	/* A pidfd polls readable when the child exits: no busy wait. */
	pidfd = (int)syscall(SYS_pidfd_open, child, 0);
	if (pidfd >= 0) {
		struct pollfd p = { .fd = pidfd, .events = POLLIN };

		while (poll(&p, 1, (int)grace_ms) < 0 && errno == EINTR)
			;
		close(pidfd);
	}
	for (int waited = 0;; waited += 5) {
		r = waitpid(child, &status, WNOHANG);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return negerrno();
		if (r == child)
			break;
		if (pidfd >= 0 || (unsigned)waited >= grace_ms)
			/* Left to init: it dies once its filesystem answers or is aborted. */
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	if (ret_status)
		*ret_status = status;
	return 0;
}
