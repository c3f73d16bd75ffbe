/* SPDX-License-Identifier: MIT */
/*
 * The backend: volumes are directories under ROOT/volumes/NAME/data, mount IDs
 * are counted per volume the way the engine expects (facts/plugin-protocol.md),
 * and everything is kept in ROOT/state.json so that a restart forgets nothing.
 *
 * One mutex guards the state. Saving is a group commit: the fsyncs happen
 * outside the mutex and one write covers every change made before it started,
 * so 64 concurrent Mounts cost a few writes, not 64 serialised ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fileio.h"
#include "tools/testplugin/testplugin.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

#define STATE_FILE "state.json"
#define STATE_TMP "state.json.tmp"
#define STATE_MAX_BYTES (64 * 1024 * 1024)

struct volume {
	char *name;
	json_object *opts; /* owned; always an object */
	long long created; /* seconds since the epoch */
	char **ids;
	size_t n_ids;
	unsigned long anon; /* Mounts without an ID (dvdcli sends none) */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t saved_cond = PTHREAD_COND_INITIALIZER;
static struct volume *volumes;
static size_t n_volumes;
static unsigned long gen, saved_gen;
static bool writing;

static void unlockp(pthread_mutex_t **m)
{
	if (*m)
		pthread_mutex_unlock(*m);
}
#define _cleanup_unlock_ _cleanup_(unlockp)

static pthread_mutex_t *lock_state(void)
{
	pthread_mutex_lock(&lock);
	return &lock;
}

static void json_putp(json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/*
 * json-c's reference counts are not atomic unless built with threading:
 * an object the state keeps is never shared with a request's tree.
 */
static json_object *copy_json(json_object *src)
{
	json_object *dst = NULL;

	if (!src)
		return json_object_new_object();
	return json_object_deep_copy(src, &dst, NULL) < 0 ? NULL : dst;
}

static void seterr(char *errbuf, size_t errlen, const char *msg)
{
	snprintf(errbuf, errlen, "%s", msg);
}

static bool name_valid(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= TP_MAX_NAME && !strchr(name, '/') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

static struct volume *find(const char *name)
{
	for (size_t i = 0; i < n_volumes; i++)
		if (!strcmp(volumes[i].name, name))
			return &volumes[i];
	return NULL;
}

static unsigned long mounts(const struct volume *v)
{
	return v->n_ids + v->anon;
}

static void data_path(const struct volume *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s/volumes/%s/data", tp_config.root, v->name);
}

/* Where --bind mounts the volume. */
static void mount_dir(const struct volume *v, char *buf, size_t len)
{
	snprintf(buf, len, "%s/mnt/%s", tp_config.root, v->name);
}

/*
 * What Mount answers. REX-Ray mounts the device at <dir>/<name> and answers
 * <dir>/<name>/data, a directory inside its mount that hides lost+found
 * (facts/plugin-protocol.md): --mode rexray --bind does the same.
 */
static void mountpoint(const struct volume *v, char *buf, size_t len)
{
	if (tp_config.bind && tp_config.mode == TP_MODE_REXRAY)
		snprintf(buf, len, "%s/mnt/%s/data", tp_config.root, v->name);
	else if (tp_config.bind)
		mount_dir(v, buf, len);
	else
		data_path(v, buf, len);
}

static bool is_mount_root(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       (stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

static void volume_free(struct volume *v)
{
	free(v->name);
	json_object_put(v->opts);
	for (size_t i = 0; i < v->n_ids; i++)
		free(v->ids[i]);
	free(v->ids);
}

/* --- state.json ------------------------------------------------------------------------ */

static void format_time(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static long long parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *end = s ? strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm) : NULL;

	return end && !*end ? (long long)timegm(&tm) : 0;
}

static json_object *state_to_json(void)
{
	json_object *root = json_object_new_object();
	json_object *arr = json_object_new_array();

	json_object_object_add(root, "volumes", arr);
	for (size_t i = 0; i < n_volumes; i++) {
		const struct volume *v = &volumes[i];
		json_object *o = json_object_new_object();
		json_object *ids = json_object_new_array();
		char created[64];

		format_time(v->created, created, sizeof(created));
		json_object_object_add(o, "name", json_object_new_string(v->name));
		json_object_object_add(o, "created_at", json_object_new_string(created));
		json_object_object_add(o, "options", copy_json(v->opts));
		for (size_t j = 0; j < v->n_ids; j++)
			json_object_array_add(ids, json_object_new_string(v->ids[j]));
		json_object_object_add(o, "ids", ids);
		json_object_object_add(o, "anonymous", json_object_new_int64((int64_t)v->anon));
		json_object_array_add(arr, o);
	}
	return root;
}

static int state_write(const char *text)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	fd = openat(tp_config.root_fd, STATE_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return negerrno();
	r = write_fd_all(fd, text, strlen(text));
	if (r < 0)
		return r;
	if (fsync(fd) < 0)
		return negerrno();
	if (renameat(tp_config.root_fd, STATE_TMP, tp_config.root_fd, STATE_FILE) < 0)
		return negerrno();
	/* The rename is durable only once the directory is. */
	return fsync(tp_config.root_fd) < 0 ? negerrno() : 0;
}

/* Called with the lock held after a change; may drop it while writing. */
static int persist_locked(char *errbuf, size_t errlen)
{
	unsigned long want = ++gen;
	int r = 0;

	while (saved_gen < want) {
		if (writing) {
			pthread_cond_wait(&saved_cond, &lock);
			continue;
		}
		unsigned long snap = gen;
		_cleanup_json_ json_object *o = state_to_json();
		_cleanup_free_ char *text = strdup(json_object_to_json_string_ext(
		    o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

		writing = true;
		pthread_mutex_unlock(&lock);
		r = text ? state_write(text) : -ENOMEM;
		pthread_mutex_lock(&lock);
		writing = false;
		if (r >= 0)
			saved_gen = snap;
		pthread_cond_broadcast(&saved_cond);
		if (r < 0) {
			snprintf(errbuf, errlen, "saving state: %s", strerror(-r));
			return r;
		}
	}
	return 0;
}

static int load_volume(json_object *o)
{
	json_object *name, *opts, *created, *ids, *anon;
	struct volume v = { 0 };
	struct volume *grown;

	if (!json_object_object_get_ex(o, "name", &name) ||
	    !json_object_is_type(name, json_type_string) ||
	    !name_valid(json_object_get_string(name)) || find(json_object_get_string(name)))
		return -EINVAL;
	if (n_volumes >= TP_MAX_VOLUMES)
		return -E2BIG;
	v.name = strdup(json_object_get_string(name));
	if (json_object_object_get_ex(o, "options", &opts) &&
	    json_object_is_type(opts, json_type_object))
		v.opts = copy_json(opts);
	else
		v.opts = json_object_new_object();
	if (json_object_object_get_ex(o, "created_at", &created))
		v.created = parse_time(json_object_get_string(created));
	if (json_object_object_get_ex(o, "anonymous", &anon))
		v.anon = (unsigned long)MAX(json_object_get_int64(anon), 0);
	if (json_object_object_get_ex(o, "ids", &ids) &&
	    json_object_is_type(ids, json_type_array)) {
		size_t n = MIN(json_object_array_length(ids), (size_t)TP_MAX_IDS);

		v.ids = calloc(n + 1, sizeof(*v.ids));
		for (size_t i = 0; v.ids && i < n; i++) {
			const char *id = json_object_get_string(json_object_array_get_idx(ids, i));

			if (id && *id && strlen(id) <= TP_MAX_NAME)
				v.ids[v.n_ids++] = strdup(id);
		}
	}
	grown = realloc(volumes, (n_volumes + 1) * sizeof(*volumes));
	if (!v.name || !v.opts || !grown) {
		volume_free(&v);
		return -ENOMEM;
	}
	volumes = grown;
	volumes[n_volumes++] = v;
	return 0;
}

int volume_load(void)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	_cleanup_json_ json_object *root = NULL;
	json_object *arr;
	struct stat st;
	size_t len;
	int r;

	if (mkdirat(tp_config.root_fd, "volumes", 0755) < 0 && errno != EEXIST)
		return negerrno();
	if (tp_config.bind && mkdirat(tp_config.root_fd, "mnt", 0755) < 0 && errno != EEXIST)
		return negerrno();
	fd = openat(tp_config.root_fd, STATE_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : negerrno();
	if (fstat(fd, &st) < 0)
		return negerrno();
	if (st.st_size > STATE_MAX_BYTES)
		return -EFBIG;
	/* Replaced by rename, never grown in place: its size now is all there is. */
	r = read_fd_bounded(fd, (size_t)st.st_size, &buf, &len);
	if (r < 0)
		return r;
	root = json_tokener_parse(buf);
	if (!root || !json_object_object_get_ex(root, "volumes", &arr) ||
	    !json_object_is_type(arr, json_type_array))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		r = load_volume(json_object_array_get_idx(arr, i));
		if (r < 0)
			return r;
	}
	return 0;
}

void volume_lock_for_exit(void)
{
	pthread_mutex_lock(&lock);
	while (writing)
		pthread_cond_wait(&saved_cond, &lock);
}

/* --- endpoints --------------------------------------------------------------------------- */

static int mkdir_volume(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "volumes/%s", name);
	if (mkdirat(tp_config.root_fd, path, 0755) < 0 && errno != EEXIST)
		return negerrno();
	snprintf(path, sizeof(path), "volumes/%s/data", name);
	if (mkdirat(tp_config.root_fd, path, 0755) < 0 && errno != EEXIST)
		return negerrno();
	return 0;
}

int volume_create(const char *name, json_object *opts, char *errbuf, size_t errlen)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	struct volume v = { 0 }, *grown;
	int r;

	if (!name_valid(name)) {
		seterr(errbuf, errlen, "invalid volume name");
		return -EINVAL;
	}
	if (find(name)) {
		if (tp_config.mode != TP_MODE_REXRAY)
			return 0; /* Docker's local driver keeps the first options */
		seterr(errbuf, errlen, "volume name already exists");
		return -EEXIST;
	}
	if (n_volumes >= TP_MAX_VOLUMES) {
		seterr(errbuf, errlen, "too many volumes");
		return -E2BIG;
	}
	r = mkdir_volume(name);
	if (r < 0) {
		snprintf(errbuf, errlen, "creating volume directory: %s", strerror(-r));
		return r;
	}
	v.name = strdup(name);
	v.opts = copy_json(opts);
	v.created = (long long)time(NULL);
	grown = realloc(volumes, (n_volumes + 1) * sizeof(*volumes));
	if (!v.name || !v.opts || !grown) {
		volume_free(&v);
		seterr(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	volumes = grown;
	volumes[n_volumes++] = v;
	return persist_locked(errbuf, errlen);
}

static int rm_entry(const char *path, const struct stat *st _unused_, int type,
		    struct FTW *ftw _unused_)
{
	return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 ? -1 : 0;
}

int volume_remove(const char *name, char *errbuf, size_t errlen)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	struct volume *v = find(name);
	char path[PATH_MAX];

	if (!v) {
		seterr(errbuf, errlen, "no such volume");
		return -ENOENT;
	}
	if (mounts(v) > 0) {
		seterr(errbuf, errlen, "volume is in use");
		return -EBUSY;
	}
	snprintf(path, sizeof(path), "%s/volumes/%s", tp_config.root, v->name);
	/* FTW_MOUNT|FTW_PHYS: never follow a link or cross into a mount. */
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT) {
		snprintf(errbuf, errlen, "removing volume directory: %s", strerror(errno));
		return negerrno();
	}
	if (tp_config.bind) {
		snprintf(path, sizeof(path), "mnt/%s", v->name);
		unlinkat(tp_config.root_fd, path, AT_REMOVEDIR);
	}
	volume_free(v);
	*v = volumes[--n_volumes];
	return persist_locked(errbuf, errlen);
}

static int bind_mount(const struct volume *v, char *errbuf, size_t errlen)
{
	char src[PATH_MAX], dst[PATH_MAX], rel[PATH_MAX];

	data_path(v, src, sizeof(src));
	/* REX-Ray's shape: the volume's directory is mounted, its data/ answered. */
	if (tp_config.mode == TP_MODE_REXRAY)
		*strrchr(src, '/') = '\0';
	mount_dir(v, dst, sizeof(dst));
	if (is_mount_root(dst))
		return 0;
	snprintf(rel, sizeof(rel), "mnt/%s", v->name);
	if (mkdirat(tp_config.root_fd, rel, 0755) < 0 && errno != EEXIST) {
		snprintf(errbuf, errlen, "creating mountpoint: %s", strerror(errno));
		return negerrno();
	}
	if (mount(src, dst, NULL, MS_BIND, NULL) < 0) {
		snprintf(errbuf, errlen, "bind mount: %s", strerror(errno));
		return negerrno();
	}
	return 0;
}

static json_object *mountpoint_answer(const struct volume *v, bool mounted)
{
	json_object *o = json_object_new_object();
	char mp[PATH_MAX] = "";

	if (mounted)
		mountpoint(v, mp, sizeof(mp));
	json_object_object_add(o, "Mountpoint", json_object_new_string(mp));
	return o;
}

int volume_mount(const char *name, const char *id, json_object **ret_answer, char *errbuf,
		 size_t errlen)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	_cleanup_json_ json_object *answer = NULL;
	struct volume *v = find(name);
	char **grown, *copy;
	int r;

	if (!v) {
		seterr(errbuf, errlen, "no such volume");
		return -ENOENT;
	}
	if (strlen(id) > TP_MAX_NAME) {
		seterr(errbuf, errlen, "invalid mount id");
		return -EINVAL;
	}
	for (size_t i = 0; i < v->n_ids; i++)
		if (!strcmp(v->ids[i], id)) {
			seterr(errbuf, errlen, "volume already mounted by this id");
			return -EEXIST;
		}
	if (v->n_ids >= TP_MAX_IDS) {
		seterr(errbuf, errlen, "too many mount ids");
		return -E2BIG;
	}
	/* Also after a restart or reboot that lost the bind mount. */
	if (tp_config.bind) {
		r = bind_mount(v, errbuf, errlen);
		if (r < 0)
			return r;
	}
	if (*id) {
		copy = strdup(id);
		grown = realloc(v->ids, (v->n_ids + 1) * sizeof(*v->ids));
		if (!copy || !grown) {
			free(copy);
			seterr(errbuf, errlen, "out of memory");
			return -ENOMEM;
		}
		v->ids = grown;
		v->ids[v->n_ids++] = copy;
	} else {
		v->anon++;
	}
	answer = mountpoint_answer(v, true);
	r = persist_locked(errbuf, errlen);
	if (r < 0)
		return r;
	*ret_answer = TAKE_PTR(answer);
	return 0;
}

int volume_unmount(const char *name, const char *id, char *errbuf, size_t errlen)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	struct volume *v = find(name);
	size_t i;

	if (!v) {
		seterr(errbuf, errlen, "no such volume");
		return -ENOENT;
	}
	if (*id) {
		for (i = 0; i < v->n_ids; i++)
			if (!strcmp(v->ids[i], id))
				break;
		if (i == v->n_ids) {
			seterr(errbuf, errlen, "volume not mounted by this id");
			return -ENOENT;
		}
		free(v->ids[i]);
		memmove(&v->ids[i], &v->ids[i + 1], (v->n_ids - i - 1) * sizeof(*v->ids));
		v->n_ids--;
	} else {
		if (v->anon == 0) {
			seterr(errbuf, errlen, "volume not mounted by this id");
			return -ENOENT;
		}
		v->anon--;
	}
	if (tp_config.bind && mounts(v) == 0) {
		char mp[PATH_MAX];

		mount_dir(v, mp, sizeof(mp));
		if (umount2(mp, MNT_DETACH) < 0 && errno != EINVAL && errno != ENOENT) {
			snprintf(errbuf, errlen, "unmount: %s", strerror(errno));
			return negerrno();
		}
	}
	return persist_locked(errbuf, errlen);
}

int volume_path(const char *name, json_object **ret_answer, char *errbuf, size_t errlen)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	struct volume *v = find(name);

	if (!v) {
		seterr(errbuf, errlen, "no such volume");
		return -ENOENT;
	}
	*ret_answer = mountpoint_answer(v, mounts(v) > 0);
	return 0;
}

static json_object *volume_json(const struct volume *v)
{
	json_object *o = json_object_new_object();
	json_object *status = json_object_new_object();
	json_object *ids = json_object_new_array();
	char mp[PATH_MAX] = "", created[64];

	/* Like the local driver: the data directory is the mountpoint at all times. */
	if (!tp_config.bind || mounts(v) > 0)
		mountpoint(v, mp, sizeof(mp));
	format_time(v->created, created, sizeof(created));
	json_object_object_add(o, "Name", json_object_new_string(v->name));
	json_object_object_add(o, "Mountpoint", json_object_new_string(mp));
	json_object_object_add(o, "CreatedAt", json_object_new_string(created));
	for (size_t i = 0; i < v->n_ids; i++)
		json_object_array_add(ids, json_object_new_string(v->ids[i]));
	json_object_object_add(status, "mounts", json_object_new_int64((int64_t)mounts(v)));
	json_object_object_add(status, "ids", ids);
	json_object_object_add(status, "options", copy_json(v->opts));
	json_object_object_add(o, "Status", status);
	return o;
}

int volume_get(const char *name, json_object **ret_answer, char *errbuf, size_t errlen)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	struct volume *v = find(name);
	json_object *o;

	if (!v) {
		seterr(errbuf, errlen, "no such volume");
		return -ENOENT;
	}
	o = json_object_new_object();
	json_object_object_add(o, "Volume", volume_json(v));
	*ret_answer = o;
	return 0;
}

int volume_list(json_object **ret_answer, char *errbuf _unused_, size_t errlen _unused_)
{
	_cleanup_unlock_ pthread_mutex_t *l = lock_state();
	json_object *o = json_object_new_object();
	json_object *arr = json_object_new_array();

	for (size_t i = 0; i < n_volumes; i++)
		json_object_array_add(arr, volume_json(&volumes[i]));
	json_object_object_add(o, "Volumes", arr);
	*ret_answer = o;
	return 0;
}
