/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "tests/lib/lcenv.h"

#define LC_ARGS_MAX 64

int lcenv_setup(struct lcenv *e, char *const plugin_extra[])
{
	char *extra[LC_ARGS_MAX] = { "--bind" };
	int n = 1, r;

	memset(e, 0, sizeof(*e));
	r = tu_private_mountns();
	if (r < 0)
		return r;
	r = tu_scratch_make(&e->scratch);
	if (r < 0)
		return r;
	snprintf(e->dir, sizeof(e->dir), "%s", e->scratch.path);
	tu_path(e->plugins, "%s/plugins", e->dir);
	tu_path(e->state, "%s/state", e->dir);
	tu_path(e->policy, "%s/policy.conf", e->dir);
	tu_path(e->tproot, "%s/tp.root", e->dir);
	tu_path(e->log, "%s/tp.log", e->dir);
	tu_path(e->faults, "%s/tp.faults", e->dir);
	for (int i = 0; plugin_extra && plugin_extra[i] && n < LC_ARGS_MAX - 1; i++)
		extra[n++] = plugin_extra[i];
	extra[n] = NULL;
	e->plugin = testplugin_start(e->dir, "tp", extra);
	if (e->plugin <= 0) {
		e->plugin = 0;
		lcenv_teardown(e);
		return -ECHILD;
	}
	r = lcenv_default_policy(e);
	if (r < 0)
		lcenv_teardown(e);
	return r;
}

void lcenv_teardown(struct lcenv *e)
{
	if (e->plugin > 0)
		stop_process(e->plugin, 2000);
	e->plugin = 0;
	tu_scratch_remove(&e->scratch);
}

int lcenv_write_policy(struct lcenv *e, const char *text)
{
	int r = tu_write_file(e->policy, text);

	if (r < 0)
		return r;
	/* dvmount refuses a policy that is not root's or is writable by others. */
	if (chown(e->policy, 0, 0) < 0 || chmod(e->policy, 0644) < 0)
		return negerrno();
	return 0;
}

int lcenv_default_policy(struct lcenv *e)
{
	char text[2 * PATH_MAX];

	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n\n"
		 "[driver tp]\nhost-paths = %s\nmodes = RW RO\noptions = size\n",
		 e->tproot);
	return lcenv_write_policy(e, text);
}

int lcenv_argv_head(struct lcenv *e, const char *program, char *argv[static LCENV_ARGV_HEAD])
{
	argv[0] = (char *)build_path(program);
	argv[1] = "--state-dir";
	argv[2] = e->state;
	argv[3] = "--policy";
	argv[4] = e->policy;
	argv[5] = "--plugin-path";
	argv[6] = e->plugins;
	return LCENV_ARGV_HEAD;
}

pid_t lcenv_spawn_traced(struct lcenv *e, char *const args[])
{
	char *argv[LCENV_ARGV_HEAD + 25];
	int n = lcenv_argv_head(e, "dvmount", argv), st;
	pid_t pid;

	for (int i = 0; args[i]; i++) {
		if (n == (int)ARRAY_SIZE(argv) - 1)
			return -E2BIG;
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execv(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
		return -ECHILD;
	}
	return pid;
}

static int runv(struct lcenv *e, struct run_result *r, const char *point, long kill_after_us,
		char *const args[])
{
	const char *model = getenv(PC_SYNCFS_ENV);
	char *argv[LC_ARGS_MAX];
	int n = 0, ret;

	/* A power-cut model serves the state dir: dvmount's syncfs() must reach it. */
	if (model && *model) {
		argv[n++] = (char *)build_path("tests/dvmount-pcfs");
		argv[n++] = "--syncfs-of";
		argv[n++] = (char *)model;
	}
	for (size_t i = 0; e->wrap && e->wrap[i] && n < LC_ARGS_MAX / 2; i++)
		argv[n++] = (char *)e->wrap[i];
	n += lcenv_argv_head(e, "dvmount", argv + n);
	for (size_t i = 0; n < LC_ARGS_MAX - 1 && args[i]; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (point)
		setenv("DVMOUNT_CRASH_AT", point, 1);
	ret = run_argv_killed(r, argv, 60000, kill_after_us);
	if (point)
		unsetenv("DVMOUNT_CRASH_AT");
	return ret;
}

int lcenv_runv(struct lcenv *e, struct run_result *r, const char *point, char *const args[])
{
	return runv(e, r, point, -1, args);
}

int lcenv_run_killed(struct lcenv *e, struct run_result *r, long kill_after_us, char *const args[])
{
	return runv(e, r, NULL, kill_after_us, args);
}

static int run_va(struct lcenv *e, struct run_result *r, const char *point, va_list ap)
{
	char *args[LC_ARGS_MAX];
	size_t n = 0;
	char *a;

	while (n < LC_ARGS_MAX - 1 && (a = va_arg(ap, char *)))
		args[n++] = a;
	args[n] = NULL;
	return lcenv_runv(e, r, point, args);
}

int lcenv_run(struct lcenv *e, struct run_result *r, ...)
{
	va_list ap;
	int ret;

	va_start(ap, r);
	ret = run_va(e, r, NULL, ap);
	va_end(ap);
	return ret;
}

int lcenv_run_crash(struct lcenv *e, struct run_result *r, const char *point, ...)
{
	va_list ap;
	int ret;

	va_start(ap, point);
	ret = run_va(e, r, point, ap);
	va_end(ap);
	return ret;
}

int lcenv_volumes(struct lcenv *e, const char *file, const struct lcvol *v, size_t n,
		  char ret_path[static PATH_MAX])
{
	_cleanup_json_ json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object(), *src = json_object_new_object();
		json_object *dv = json_object_new_object();

		json_object_object_add(o, "container_path", json_object_new_string(v[i].path));
		json_object_object_add(o, "mode", json_object_new_string(v[i].mode ?: "RW"));
		json_object_object_add(src, "type", json_object_new_string("DOCKER_VOLUME"));
		json_object_object_add(dv, "driver", json_object_new_string(v[i].driver ?: "tp"));
		json_object_object_add(dv, "name", json_object_new_string(v[i].name));
		if (v[i].opt_key) {
			json_object *opts = json_object_new_object();
			json_object *params = json_object_new_array();
			json_object *kv = json_object_new_object();

			json_object_object_add(kv, "key", json_object_new_string(v[i].opt_key));
			json_object_object_add(kv, "value", json_object_new_string(v[i].opt_val));
			json_object_array_add(params, kv);
			json_object_object_add(opts, "parameter", params);
			json_object_object_add(dv, "driver_options", opts);
		}
		json_object_object_add(src, "docker_volume", dv);
		json_object_object_add(o, "source", src);
		json_object_array_add(arr, o);
	}
	tu_path(ret_path, "%s/%s", e->dir, file);
	return tu_write_file(ret_path, json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN));
}

int lcenv_hostdir_volume(struct lcenv *e, const char *name, char ret_path[static PATH_MAX])
{
	char hostdir[PATH_MAX];
	const struct lcvol v = { .name = name, .path = hostdir };
	int r;

	r = tu_mkdirs(tu_path(hostdir, "%s/hostdir", e->dir), 0755);
	if (r < 0)
		return r;
	return lcenv_volumes(e, "vols.json", &v, 1, ret_path);
}

/* Calls each line of the plugin log to fn; stops early on a nonzero return. */
static int log_each(struct lcenv *e, int (*fn)(json_object *line, void *userdata), void *userdata)
{
	_cleanup_free_ char *text = read_file(e->log);
	char *save = NULL;

	if (!text)
		return errno == ENOENT ? 0 : negerrno();
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		_cleanup_json_ json_object *o = json_tokener_parse(l);
		int r;

		if (!o)
			return -EBADMSG;
		r = fn(o, userdata);
		if (r)
			return r;
	}
	return 0;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v = json_object_object_get(o, key);

	return v ? json_object_get_string(v) : NULL;
}

static bool call_ok(json_object *o)
{
	json_object *st = json_object_object_get(o, "status");

	return json_object_get_int(st) == 200 && !json_object_object_get(o, "err");
}

struct log_query {
	char endpoint[64];
	const char *name;
	bool any_status;
	int count;
};

static int count_one(json_object *o, void *userdata)
{
	struct log_query *q = userdata;
	const char *ep = jstr(o, "endpoint");
	const char *name = jstr(o, "name");

	if (!ep || strcmp(ep, q->endpoint))
		return 0;
	if (q->name && (!name || strcmp(name, q->name)))
		return 0;
	if (q->any_status || call_ok(o))
		q->count++;
	return 0;
}

int lcenv_log_count(struct lcenv *e, const char *endpoint, const char *name)
{
	struct log_query q = { .name = name };
	int r;

	snprintf(q.endpoint, sizeof(q.endpoint), "VolumeDriver.%s", endpoint);
	r = log_each(e, count_one, &q);
	return r < 0 ? r : q.count;
}

int lcenv_log_all(struct lcenv *e, const char *endpoint)
{
	struct log_query q = { .any_status = true };
	int r;

	snprintf(q.endpoint, sizeof(q.endpoint), "VolumeDriver.%s", endpoint);
	r = log_each(e, count_one, &q);
	return r < 0 ? r : q.count;
}

#define LC_IDS_MAX 4096

struct balance {
	char *ids[LC_IDS_MAX];
	int net[LC_IDS_MAX];
	int n;
};

static int balance_one(json_object *o, void *userdata)
{
	struct balance *b = userdata;
	const char *ep = jstr(o, "endpoint"), *name = jstr(o, "name"), *id = jstr(o, "id");
	char key[512];
	int d, i;

	if (!ep || !call_ok(o))
		return 0;
	if (!strcmp(ep, "VolumeDriver.Mount"))
		d = 1;
	else if (!strcmp(ep, "VolumeDriver.Unmount"))
		d = -1;
	else
		return 0;
	/* The plugin counts per (volume, ID): so do we. */
	snprintf(key, sizeof(key), "%s/%s", name ?: "", id ?: "");
	for (i = 0; i < b->n; i++)
		if (!strcmp(b->ids[i], key))
			break;
	if (i == b->n) {
		if (b->n == LC_IDS_MAX)
			return -E2BIG;
		b->ids[b->n] = strdup(key);
		if (!b->ids[b->n])
			return -ENOMEM;
		b->net[b->n++] = 0;
	}
	b->net[i] += d;
	return 0;
}

int lcenv_log_unbalanced(struct lcenv *e)
{
	struct balance *b = calloc(1, sizeof(*b));
	int r, bad = 0;

	if (!b)
		return -ENOMEM;
	r = log_each(e, balance_one, b);
	for (int i = 0; i < b->n; i++) {
		bad += b->net[i] != 0;
		free(b->ids[i]);
	}
	free(b);
	return r < 0 ? r : bad;
}

int lcenv_log_reset(struct lcenv *e)
{
	return truncate(e->log, 0) < 0 && errno != ENOENT ? negerrno() : 0;
}

int lcenv_plugin_holds(struct lcenv *e, const char *name, const char *id)
{
	char path[PATH_MAX];
	_cleanup_json_ json_object *o =
	    json_object_from_file(tu_path(path, "%s/state.json", e->tproot));
	json_object *vols = o ? json_object_object_get(o, "volumes") : NULL;
	int n = 0;

	if (!o)
		return access(path, F_OK) < 0 && errno == ENOENT ? 0 : -EBADMSG;
	if (!json_object_is_type(vols, json_type_array))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		json_object *ids = json_object_object_get(v, "ids");
		const char *vname = jstr(v, "name");

		if (name && (!vname || strcmp(vname, name)))
			continue;
		if (!json_object_is_type(ids, json_type_array))
			return -EBADMSG;
		if (!id) {
			n += (int)json_object_array_length(ids);
			n += json_object_get_int(json_object_object_get(v, "anonymous"));
			continue;
		}
		for (size_t j = 0; j < json_object_array_length(ids); j++)
			if (!strcmp(json_object_get_string(json_object_array_get_idx(ids, j)), id))
				return 1;
	}
	return n;
}

/* Adds dir/name (relative to the state dir) to the list; returns 1. */
static int leftover(char *list, size_t size, const char *dir, const char *name)
{
	size_t len = strlen(list);

	if (len < size)
		snprintf(list + len, size - len, "%s%s%s%s", len ? " " : "", dir, *dir ? "/" : "",
			 name);
	return 1;
}

/*
 * A file an empty state keeps on purpose, bounded (helper/state/state.h):
 * containers/.lock-spare.<0-3> (empty), containers/.rec-spare.<0-3> (0400:
 * never synced), volumes/.user (empty, 0600).
 */
static bool kept_spare(int dirfd, const char *dir, const char *name)
{
	struct stat sb;
	bool lock = !strcmp(dir, "containers") && !strncmp(name, ".lock-spare.", 12);
	bool rec = !strcmp(dir, "containers") && !strncmp(name, ".rec-spare.", 11);
	bool user = !strcmp(dir, "volumes") && !strcmp(name, ".user");
	const char *slot = lock ? name + 12 : rec ? name + 11 : NULL;

	if (slot && (slot[0] < '0' || slot[0] > '3' || slot[1]))
		return false;
	if ((!lock && !rec && !user) || fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !S_ISREG(sb.st_mode))
		return false;
	if (rec)
		return (sb.st_mode & 07777) == 0400;
	return sb.st_size == 0 && (!user || (sb.st_mode & 07777) == 0600);
}

/* Entries of state/dir: every one a leftover unless files (slots/) are allowed, or a kept spare. */
static int leftovers_in(struct lcenv *e, const char *dir, bool files_allowed, char *list,
			size_t size)
{
	char path[PATH_MAX];
	struct dirent *d;
	int n = 0;
	DIR *dd = opendir(tu_path(path, "%s/%s", e->state, dir));

	if (!dd)
		return errno == ENOENT ? 0 : negerrno();
	while ((d = readdir(dd))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (files_allowed && d->d_type == DT_REG)
			continue;
		if (kept_spare(dirfd(dd), dir, d->d_name))
			continue;
		n += leftover(list, size, dir, d->d_name);
	}
	closedir(dd);
	return n;
}

int lcenv_state_leftovers(struct lcenv *e, char *ret_list, size_t size)
{
	static const char *const dirs[] = { "containers", "volumes", "quarantine", "slots" };
	struct dirent *d;
	int n = 0, r;
	DIR *dd;

	if (size)
		ret_list[0] = '\0';
	dd = opendir(e->state);
	if (!dd)
		return negerrno();
	while ((d = readdir(dd))) {
		bool known = false;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
			known |= !strcmp(d->d_name, dirs[i]) && d->d_type == DT_DIR;
		if (!known)
			n += leftover(ret_list, size, "", d->d_name);
	}
	closedir(dd);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		r = leftovers_in(e, dirs[i], !strcmp(dirs[i], "slots"), ret_list, size);
		if (r < 0)
			return r;
		n += r;
	}
	return n;
}

int lcenv_status(struct lcenv *e, json_object **ret)
{
	struct run_result r;
	json_object *o;

	if (lcenv_run(e, &r, "status", "--json", NULL) < 0)
		return -EIO;
	o = r.status == 0 ? json_tokener_parse(r.out) : NULL;
	run_result_free(&r);
	if (!o)
		return -EBADMSG;
	*ret = o;
	return 0;
}

int lcenv_status_counts(struct lcenv *e, int *ret_containers, int *ret_volumes)
{
	_cleanup_json_ json_object *o = NULL;
	int r = lcenv_status(e, &o);

	if (r < 0)
		return r;
	*ret_containers = (int)json_object_array_length(json_object_object_get(o, "containers"));
	*ret_volumes = (int)json_object_array_length(json_object_object_get(o, "volumes"));
	return 0;
}

int lcenv_status_refcount(struct lcenv *e, const char *name)
{
	_cleanup_json_ json_object *o = NULL;
	json_object *vols;
	int r = lcenv_status(e, &o);

	if (r < 0)
		return r;
	vols = json_object_object_get(o, "volumes");
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		const char *n = jstr(v, "name");

		if (n && !strcmp(n, name))
			return json_object_get_int(json_object_object_get(v, "refcount"));
	}
	return -ENOENT;
}

int lcenv_expire_in_flight(struct lcenv *e)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *d;
	DIR *vd;
	int n = 0, r = 0;

	snprintf(dir, sizeof(dir), "%s/volumes", e->state);
	vd = opendir(dir);
	if (!vd)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(vd))) {
		_cleanup_json_ json_object *o = NULL;

		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/volume.json", dir, d->d_name);
		o = json_object_from_file(path);
		if (!o || !json_object_object_get(o, "in_flight_until"))
			continue;
		json_object_object_add(o, "in_flight_until", json_object_new_int64(0));
		json_object_object_add(o, "in_flight_until_boottime", json_object_new_int64(0));
		if (json_object_to_file(path, o) < 0)
			r = -EIO;
		n++;
	}
	closedir(vd);
	return r < 0 ? r : n;
}

char *lc_mountinfo(pid_t pid)
{
	char path[64];

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/mountinfo");
	return read_file(path);
}

int lc_mounts_under(pid_t pid, const char *prefix)
{
	_cleanup_free_ char *text = lc_mountinfo(pid);
	size_t plen = strlen(prefix);
	char *save = NULL;

	/* "/" and "/a/" mean everything at or under them. */
	while (plen > 0 && prefix[plen - 1] == '/')
		plen--;
	int n = 0;

	if (!text)
		return negerrno();
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char mp[PATH_MAX];

		/* id parent major:minor root mountpoint ... */
		if (sscanf(l, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		if (!strncmp(mp, prefix, plen) &&
		    (mp[plen] == '\0' || mp[plen] == '/' || (plen == 0 && mp[0] == '/')))
			n++;
	}
	return n;
}

int lc_ct_write(pid_t pid, uid_t uid, gid_t gid, const char *path, const char *text)
{
	char ns[64];
	int status, nsfd;
	pid_t child;

	snprintf(ns, sizeof(ns), "/proc/%d/ns/mnt", (int)pid);
	nsfd = open(ns, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0)
		return negerrno();
	child = fork();
	if (child < 0) {
		close(nsfd);
		return negerrno();
	}
	if (child == 0) {
		int fd;
		size_t len = strlen(text);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* The exit code carries the errno of the step that failed. */
		if (setns(nsfd, CLONE_NEWNS) < 0)
			_exit(errno);
		if (chdir("/") < 0)
			_exit(errno);
		if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
			_exit(errno);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd < 0)
			_exit(errno);
		if (write(fd, text, len) != (ssize_t)len)
			_exit(errno ?: EIO);
		_exit(close(fd) < 0 ? errno : 0);
	}
	close(nsfd);
	while (waitpid(child, &status, 0) < 0)
		if (errno != EINTR)
			return negerrno();
	if (!WIFEXITED(status))
		return -ECHILD;
	return -WEXITSTATUS(status);
}

int lc_ct_stat(pid_t pid, const char *path, struct stat *ret)
{
	char p[PATH_MAX];

	tu_path(p, "/proc/%d/root%s", (int)pid, path);
	return stat(p, ret) < 0 ? negerrno() : 0;
}

int lc_mkrootfs(const char *dir)
{
	/* The source tree's script: build dirs may sit at any depth (make asan). */
	char *argv[] = { DVMOUNT_SRCDIR "/tools/mkrootfs", (char *)dir, NULL };
	struct run_result r;
	int status;

	if (run_argv(&r, argv, 30000) < 0)
		return -EIO;
	status = r.status;
	if (status)
		fprintf(stderr, "mkrootfs: %s", r.err);
	run_result_free(&r);
	return status ? -EIO : 0;
}

char *lc_pidstr(char buf[static 16], pid_t pid)
{
	snprintf(buf, 16, "%d", (int)pid);
	return buf;
}
