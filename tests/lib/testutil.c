/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/macro.h"
#include "tests/lib/testutil.h"

/* Set once this process has its own private mount namespace. */
static bool private_mountns;

int tu_private_mountns(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		return negerrno();
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return negerrno();
	private_mountns = true;
	return 0;
}

int tu_scratch_make(struct tu_scratch *s)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	memset(s, 0, sizeof(*s));
	n = snprintf(s->path, sizeof(s->path), "%s/dvmount-test.XXXXXX",
		     tmp && *tmp ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(s->path))
		return -ENAMETOOLONG;
	if (!mkdtemp(s->path)) {
		int r = negerrno();

		s->path[0] = '\0';
		return r;
	}
	if (private_mountns) {
		if (mount("tmpfs", s->path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0) {
			int r = negerrno();

			rmdir(s->path);
			s->path[0] = '\0';
			return r;
		}
		s->mounted = true;
	}
	return 0;
}

void tu_scratch_remove(struct tu_scratch *s)
{
	if (!s->path[0])
		return;
	if (s->mounted)
		umount2(s->path, MNT_DETACH);
	tu_rm_rf(s->path);
	s->path[0] = '\0';
	s->mounted = false;
}

char *tu_path(char buf[static PATH_MAX], const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		abort();
	return buf;
}

int tu_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return negerrno();
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return negerrno();
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (type == FTW_DP ? rmdir(path) : unlink(path))
		return errno == ENOENT ? 0 : -1;
	return 0;
}

int tu_rm_rf(const char *path)
{
	if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0)
		return errno == ENOENT ? 0 : negerrno();
	return 0;
}

int tu_write_file(const char *path, const char *content)
{
	_cleanup_close_ int fd = -EBADF;
	size_t len = strlen(content);

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return negerrno();
	if (write(fd, content, len) != (ssize_t)len)
		return negerrno();
	return 0;
}

ssize_t tu_read_file(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = -EBADF;
	ssize_t n;

	if (!size)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negerrno();
	n = read(fd, buf, size - 1);
	if (n < 0)
		return negerrno();
	buf[n] = '\0';
	return n;
}

static int count_dir(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return negerrno();
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int tu_count_fds(void)
{
	int n = count_dir("/proc/self/fd");

	return n < 0 ? n : n - 1; /* the directory stream's own fd */
}

int tu_count_fds_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	return count_dir(path);
}

int tu_procs_of(const char *exe)
{
	char want[PATH_MAX], link[64], got[PATH_MAX];
	DIR *d;
	struct dirent *e;
	int n = 0;

	if (!realpath(exe, want))
		return negerrno();
	d = opendir("/proc");
	if (!d)
		return negerrno();
	while ((e = readdir(d))) {
		ssize_t len;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(link, sizeof(link), "/proc/%s/exe", e->d_name);
		/* Gone, a kernel thread, or a zombie (no exe): not running it. */
		len = readlink(link, got, sizeof(got) - 1);
		if (len < 0)
			continue;
		got[len] = '\0';
		n += !strcmp(got, want);
	}
	closedir(d);
	return n;
}

/* In the container child: build its mount namespace, -errno on failure. */
static int container_setup(const char *rootfs, unsigned flags)
{
	if (unshare(CLONE_NEWNS) < 0)
		return negerrno();
	if (!(flags & TU_CT_PROPAGATION_UNCHANGED) &&
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return negerrno();
	if (!rootfs)
		return 0;
	if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return negerrno();
	if (chdir(rootfs) < 0)
		return negerrno();
	if (!(flags & TU_CT_PIVOT))
		return 0;
	/* pivot_root(".", "."): the old root ends up on top, then goes. */
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return negerrno();
	if (umount2(".", MNT_DETACH) < 0)
		return negerrno();
	if (chdir("/") < 0)
		return negerrno();
	return 0;
}

int tu_child_start(struct tu_container *ct, int (*setup)(void *arg), void *arg)
{
	int p[2], result = 0;
	pid_t pid;
	ssize_t n;

	ct->pid = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return negerrno();
	pid = fork();
	if (pid < 0) {
		result = negerrno();
		close(p[0]);
		close(p[1]);
		return result;
	}
	if (pid == 0) {
		close(p[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		result = setup(arg);
		if (write(p[1], &result, sizeof(result)) != sizeof(result) || result < 0)
			_exit(1);
		close(p[1]);
		for (;;)
			pause();
	}
	close(p[1]);
	n = read(p[0], &result, sizeof(result));
	close(p[0]);
	if (n != sizeof(result) || result < 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return n != sizeof(result) ? -EPIPE : result;
	}
	ct->pid = pid;
	return 0;
}

struct container_args {
	const char *rootfs;
	unsigned flags;
};

static int container_setup_cb(void *arg)
{
	const struct container_args *a = arg;

	return container_setup(a->rootfs, a->flags);
}

int tu_container_start(struct tu_container *ct, const char *rootfs, unsigned flags)
{
	struct container_args a = { .rootfs = rootfs, .flags = flags };

	return tu_child_start(ct, container_setup_cb, &a);
}

void tu_container_stop(struct tu_container *ct)
{
	if (ct->pid <= 0)
		return;
	kill(ct->pid, SIGKILL);
	while (waitpid(ct->pid, NULL, 0) < 0 && errno == EINTR)
		;
	ct->pid = 0;
}

char *tu_container_path(char buf[static PATH_MAX], const struct tu_container *ct, const char *path)
{
	return tu_path(buf, "/proc/%d/root%s", (int)ct->pid, path);
}

#if defined(__x86_64__)
#define TU_AUDIT_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define TU_AUDIT_ARCH AUDIT_ARCH_AARCH64
#endif

#define TU_FORBID_MAX 16

int tu_forbid_syscalls(const int *nrs, size_t n)
{
#ifdef TU_AUDIT_ARCH
	struct sock_filter f[4 + 2 * TU_FORBID_MAX + 2];
	struct sock_fprog prog = { .filter = f };
	size_t k = 0;

	if (n > TU_FORBID_MAX)
		return -1;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, TU_AUDIT_ARCH, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
					      offsetof(struct seccomp_data, nr));
	for (size_t i = 0; i < n; i++) {
		f[k++] =
		    (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], 0, 1);
		f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	}
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	prog.len = (unsigned short)k;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0 ? -1 : 0;
#else
	(void)nrs;
	(void)n;
	return -1;
#endif
}
