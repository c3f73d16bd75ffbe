/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>
#include <errno.h>

#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

static double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

const char *build_path(const char *name)
{
	static char paths[8][PATH_MAX];
	static int next;
	char exe[PATH_MAX];
	char *slash;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return name;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash)
		*slash = '\0';
	/* Tests live in build/tests (or build/asan/tests): programs one level up. */
	char *p = paths[next++ % 8];

	snprintf(p, PATH_MAX, "%s/../%s", exe, name);
	return p;
}

static void drain(int fd, char *buf, size_t *len)
{
	for (;;) {
		ssize_t n = read(fd, buf + *len, RUN_OUT_MAX - 1 - *len);

		if (n <= 0)
			break;
		*len += (size_t)n;
		if (*len == RUN_OUT_MAX - 1)
			break;
	}
	buf[*len] = '\0';
}

int run_argv(struct run_result *r, char *const argv[], unsigned timeout_ms)
{
	return run_argv_killed(r, argv, timeout_ms, -1);
}

int run_argv_killed(struct run_result *r, char *const argv[], unsigned timeout_ms,
		    long kill_after_us)
{
	int out[2], err[2], ex[2], status;
	size_t olen = 0, elen = 0;
	double start = now_secs(), kill_at = -1;
	char buf[1];
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->out = calloc(1, RUN_OUT_MAX);
	r->err = calloc(1, RUN_OUT_MAX);
	if (!r->out || !r->err || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0 ||
	    pipe2(ex, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);
	close(ex[1]);
	/* The exec closes ex[1]: the kill delay counts from there. */
	while (read(ex[0], buf, sizeof(buf)) < 0 && errno == EINTR)
		;
	close(ex[0]);
	if (kill_after_us >= 0)
		kill_at = now_secs() + (double)kill_after_us / 1e6;
	fcntl(out[0], F_SETFL, O_NONBLOCK);
	fcntl(err[0], F_SETFL, O_NONBLOCK);
	for (int open_fds = 2; open_fds > 0;) {
		struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
		double now = now_secs(), left = timeout_ms / 1e3 - (now - start);
		struct timespec ts;

		if (left <= 0) {
			kill(pid, SIGKILL);
			break;
		}
		if (kill_at >= 0 && kill_at - now <= 0) {
			kill(pid, SIGKILL);
			kill_at = -1;
			continue;
		}
		if (kill_at >= 0 && kill_at - now < left)
			left = kill_at - now;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		if (ppoll(p, 2, &ts, NULL) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			if (!p[i].revents || p[i].fd < 0)
				continue;
			size_t before = i ? elen : olen;

			drain(p[i].fd, i ? r->err : r->out, i ? &elen : &olen);
			if ((p[i].revents & (POLLHUP | POLLERR)) && (i ? elen : olen) == before) {
				close(i ? err[0] : out[0]);
				if (i)
					err[0] = -1;
				else
					out[0] = -1;
				open_fds--;
			}
		}
		if (out[0] < 0 && err[0] < 0)
			break;
	}
	if (out[0] >= 0)
		close(out[0]);
	if (err[0] >= 0)
		close(err[0]);
	waitpid(pid, &status, 0);
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	r->secs = now_secs() - start;
	return 0;
}

int run_dvmount(struct run_result *r, ...)
{
	char *argv[64];
	int n = 0;
	va_list ap;

	argv[n++] = (char *)build_path("dvmount");
	va_start(ap, r);
	while (n < 63 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return run_argv(r, argv, 60000);
}

void run_result_free(struct run_result *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

pid_t spawn(char *const argv[], int *ret_stdout)
{
	int p[2] = { -1, -1 };
	pid_t pid;

	if (ret_stdout && pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (ret_stdout)
			dup2(p[1], 1);
		setpgid(0, 0);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (ret_stdout) {
		close(p[1]);
		*ret_stdout = p[0];
	}
	return pid;
}

int read_line(int fd, char *buf, size_t size, unsigned timeout_ms)
{
	size_t len = 0;
	double start = now_secs();

	while (len + 1 < size) {
		struct pollfd p = { fd, POLLIN, 0 };
		int left = (int)(timeout_ms - (now_secs() - start) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			return -1;
		if (read(fd, buf + len, 1) != 1)
			return -1;
		if (buf[len] == '\n') {
			buf[len] = '\0';
			return 0;
		}
		len++;
	}
	return -1;
}

void stop_process(pid_t pid, unsigned grace_ms)
{
	int status;

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (unsigned waited = 0; waited < grace_ms; waited += 10) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
}

int wait_socket(const char *path, unsigned timeout_ms)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	for (unsigned waited = 0; waited <= timeout_ms; waited += 20) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int r = connect(fd, (struct sockaddr *)&a, sizeof(a));

		close(fd);
		if (r == 0)
			return 0;
		usleep(20000);
	}
	return -1;
}

int private_mount_ns(void)
{
	return tu_private_mountns();
}

char *make_tmpdir(const char *tag)
{
	char *p;

	if (asprintf(&p, "/tmp/dvmount-test-%s-XXXXXX", tag) < 0)
		return NULL;
	if (!mkdtemp(p)) {
		free(p);
		return NULL;
	}
	return p;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void remove_tree(const char *path)
{
	if (path && *path)
		nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

int count_fds(void)
{
	return tu_count_fds();
}

char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0, n;

	if (!f)
		return NULL;
	do {
		if (len + 4096 + 1 > cap) {
			cap = (len + 4096 + 1) * 2;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, 4096, f);
		len += n;
	} while (n > 0);
	fclose(f);
	buf[len] = '\0';
	return buf;
}

const char *find_program(const char *name, char found[static PATH_MAX])
{
	static const char *const dirs[] = { "/usr/sbin", "/usr/bin",	    "/sbin",
					    "/bin",	 "/usr/local/sbin", "/usr/local/bin" };

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(found, PATH_MAX, "%s/%s", dirs[i], name);
		if (access(found, X_OK) == 0)
			return found;
	}
	return NULL;
}

int run_oci_bundle(struct run_result *r, const char *runtime, bool crun, const char *root,
		   const char *bundle, const char *cid)
{
	char *argv[12];
	int n = 0, ret;

	ret = tu_mkdirs(root, 0700);
	if (ret < 0)
		return ret;
	argv[n++] = (char *)runtime;
	argv[n++] = "--root";
	argv[n++] = (char *)root;
	if (crun)
		argv[n++] = "--cgroup-manager=disabled";
	argv[n++] = "run";
	argv[n++] = "--bundle";
	argv[n++] = (char *)bundle;
	argv[n++] = (char *)cid;
	argv[n] = NULL;
	return run_argv(r, argv, 60000);
}

json_object *runc_spec_config(const char *runc, const char *bundle, const char *cmd)
{
	char p[PATH_MAX];
	char *argv[] = { (char *)runc, "spec", "--bundle", (char *)bundle, NULL };
	json_object *c, *proc, *args;
	struct run_result r;
	int ok;

	/* runc spec refuses to overwrite a config.json. */
	unlink(tu_path(p, "%s/config.json", bundle));
	if (run_argv(&r, argv, 20000) < 0)
		return NULL;
	ok = r.status == 0;
	run_result_free(&r);
	c = ok ? json_object_from_file(p) : NULL;
	if (!c || !json_object_object_get_ex(c, "process", &proc)) {
		json_object_put(c);
		return NULL;
	}
	json_object_object_add(proc, "terminal", json_object_new_boolean(0));
	args = json_object_new_array();
	json_object_array_add(args, json_object_new_string("sh"));
	json_object_array_add(args, json_object_new_string("-c"));
	json_object_array_add(args, json_object_new_string(cmd));
	json_object_object_add(proc, "args", args);
	return c;
}

void remove_tmpdir(char *dir)
{
	if (!dir)
		return;
	umount2(dir, MNT_DETACH);
	remove_tree(dir);
	free(dir);
}

int install_privileged(const char *src, const char *dst, enum install_as how)
{
	char cmd[3 * PATH_MAX];

	snprintf(cmd, sizeof(cmd), "cp %s %s", src, dst);
	if (system(cmd) != 0)
		return -EIO;
	if (chown(dst, 0, 0) < 0)
		return -errno;
	if (how == INSTALL_PLAIN)
		return 0;
	if (how == INSTALL_SETUID)
		return chmod(dst, 04755) < 0 ? -errno : 0;
	snprintf(cmd, sizeof(cmd),
		 "/usr/sbin/setcap cap_sys_admin,cap_sys_chroot,cap_sys_ptrace,cap_dac_override,"
		 "cap_chown,cap_audit_write+ep %s",
		 dst);
	return system(cmd) == 0 ? 0 : -EIO;
}

int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");

	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

int count_str(const char *hay, const char *needle)
{
	int n = 0;
	size_t len = strlen(needle);

	if (!hay || !len)
		return 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + len, needle))
		n++;
	return n;
}

pid_t testplugin_start(const char *dir, const char *name, char *const extra[])
{
	char sock[PATH_MAX], root[PATH_MAX], log[PATH_MAX], faults[PATH_MAX], plugins[PATH_MAX];
	char line[256];
	char *argv[48];
	int n = 0, out = -1;
	pid_t pid;

	snprintf(plugins, sizeof(plugins), "%s/plugins", dir);
	mkdir(plugins, 0755);
	snprintf(sock, sizeof(sock), "%s/%s.sock", plugins, name);
	snprintf(root, sizeof(root), "%s/%s.root", dir, name);
	snprintf(log, sizeof(log), "%s/%s.log", dir, name);
	snprintf(faults, sizeof(faults), "%s/%s.faults", dir, name);
	mkdir(root, 0755);
	argv[n++] = (char *)build_path("dvmount-testplugin");
	argv[n++] = "--socket";
	argv[n++] = sock;
	argv[n++] = "--root";
	argv[n++] = root;
	argv[n++] = "--log";
	argv[n++] = log;
	argv[n++] = "--faults";
	argv[n++] = faults;
	argv[n++] = "--ready";
	for (int i = 0; extra && extra[i] && n < 46; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid = spawn(argv, &out);
	if (pid < 0)
		return -1;
	if (read_line(out, line, sizeof(line), 10000) < 0 || strcmp(line, "ready")) {
		close(out);
		stop_process(pid, 100);
		return -1;
	}
	close(out);
	return pid;
}
