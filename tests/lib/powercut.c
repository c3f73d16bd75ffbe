/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/lib/powercut.h"
#include "tests/lib/run.h"

#define PC_WAIT_MS 10000

int pc_fs_start(const char *dir, pid_t *ret_pid)
{
	char *argv[] = { (char *)build_path("tests/dvmount-pcfs"), (char *)dir, NULL };
	char line[256];
	int out = -1;
	pid_t pid = spawn(argv, &out);

	if (pid < 0)
		return -ECHILD;
	if (read_line(out, line, sizeof(line), PC_WAIT_MS) < 0 || strcmp(line, "ready")) {
		close(out);
		stop_process(pid, 1000);
		return -EIO;
	}
	close(out);
	*ret_pid = pid;
	return 0;
}

static int end(pid_t pid, int sig)
{
	int status;

	if (pid <= 0)
		return -ESRCH;
	if (kill(pid, sig) < 0)
		return negerrno();
	for (unsigned waited = 0; waited < PC_WAIT_MS; waited += 5) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
		if (r < 0)
			return negerrno();
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -ETIMEDOUT;
}

int pc_fs_cut(pid_t pid)
{
	return end(pid, SIGUSR1);
}

int pc_fs_stop(pid_t pid)
{
	return end(pid, SIGTERM);
}
