/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/lib/powercut.h"
#include "tests/lib/run.h"

#define PC_WAIT_MS 10000

static int start(char *const argv[], const char *dir, pid_t *ret_pid)
{
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
	setenv(PC_SYNCFS_ENV, dir, 1);
	*ret_pid = pid;
	return 0;
}

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

int pc_supported(const char **ret_what)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC), status;
	pid_t pid;

	if (fd < 0) {
		*ret_what = "/dev/fuse";
		return negerrno();
	}
	close(fd);
	/* In a child: the namespace is for its children, and must not outlive the probe. */
	pid = fork();
	if (pid < 0)
		return negerrno();
	if (pid == 0)
		_exit(unshare(CLONE_NEWTIME) < 0 ? errno : 0);
	if (waitpid(pid, &status, 0) < 0)
		return negerrno();
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		*ret_what = "a time namespace (CLONE_NEWTIME)";
		return WIFEXITED(status) ? -WEXITSTATUS(status) : -ECHILD;
	}
	return 0;
}

int pc_fs_start(const char *dir, pid_t *ret_pid)
{
	char *argv[] = { (char *)build_path("tests/dvmount-pcfs"), (char *)dir, NULL };

	return start(argv, dir, ret_pid);
}

int pc_fs_start_sync_cut(const char *dir, unsigned n, bool applied, pid_t *ret_pid)
{
	char num[16];
	char *argv[] = { (char *)build_path("tests/dvmount-pcfs"),
			 applied ? "--cut-after-sync" : "--cut-at-sync", num, (char *)dir, NULL };

	snprintf(num, sizeof(num), "%u", n);
	return start(argv, dir, ret_pid);
}

int pc_fs_arm(pid_t pid)
{
	return kill(pid, SIGUSR2) < 0 ? negerrno() : 0;
}

static int end(pid_t pid, int sig)
{
	int status;

	if (pid <= 0)
		return -ESRCH;
	unsetenv(PC_SYNCFS_ENV);
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

#define PC_BOOT_ID "/proc/sys/kernel/random/boot_id"
#define PC_MOUNTS_MAX 256

/* Unmount every mount at or under prefix, deepest (latest) first. */
static int unmount_under(const char *prefix)
{
	_cleanup_free_ char *text = lc_mountinfo(0);
	char *mps[PC_MOUNTS_MAX], *save = NULL;
	size_t plen = strlen(prefix), n = 0;
	int r = 0;

	if (!text)
		return negerrno();
	for (char *l = strtok_r(text, "\n", &save); l && n < PC_MOUNTS_MAX;
	     l = strtok_r(NULL, "\n", &save)) {
		char mp[PATH_MAX];

		if (sscanf(l, "%*s %*s %*s %*s %4095s", mp) == 1 && !strncmp(mp, prefix, plen) &&
		    (mp[plen] == '/' || mp[plen] == '\0'))
			mps[n++] = strdup(mp);
	}
	while (n--) {
		if (mps[n] && umount2(mps[n], MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT)
			r = negerrno();
		free(mps[n]);
	}
	return r;
}

int pc_reboot(struct lcenv *e, struct pc_boot *b, char *const plugin_extra[])
{
	char id[64] = "", uptime[64] = "";
	int status, r;

	if (e->plugin > 0) {
		kill(e->plugin, SIGKILL);
		waitpid(e->plugin, &status, 0);
		e->plugin = 0;
	}
	r = unmount_under(e->tproot);
	if (r < 0)
		return r;
	if (tu_read_file("/proc/sys/kernel/random/uuid", id, sizeof(id)) < 0 ||
	    tu_read_file("/proc/uptime", uptime, sizeof(uptime)) < 0)
		return -EIO;
	tu_path(b->id_file, "%s/boot_id", e->dir);
	r = tu_write_file(b->id_file, id);
	if (r < 0)
		return r;
	if (b->n)
		umount2(PC_BOOT_ID, MNT_DETACH);
	if (mount(b->id_file, PC_BOOT_ID, NULL, MS_BIND, NULL) < 0)
		return negerrno();
	b->n++;
	/* The new boot began a second ago: an offset that brings CLOCK_BOOTTIME there. */
	snprintf(b->offset, sizeof(b->offset), "-%lld", MAX(atoll(uptime) - 1, 0LL));
	b->wrap[0] = "/usr/bin/unshare";
	b->wrap[1] = "--time";
	b->wrap[2] = "--boottime";
	b->wrap[3] = b->offset;
	b->wrap[4] = NULL;
	e->wrap = b->wrap;
	e->plugin = testplugin_start(e->dir, "tp", plugin_extra);
	if (e->plugin <= 0) {
		e->plugin = 0;
		return -ECHILD;
	}
	return 0;
}

void pc_boot_end(struct lcenv *e, struct pc_boot *b)
{
	if (b->n)
		umount2(PC_BOOT_ID, MNT_DETACH);
	b->n = 0;
	e->wrap = NULL;
}
