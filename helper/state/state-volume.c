/* SPDX-License-Identifier: MIT */
/*
 * Volume entries and their users: volumes/<key>/volume.json and one empty
 * file per container in volumes/<key>/users/, so a reference count costs
 * O(users of that volume).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/debug.h"
#include "helper/state/state-internal.h"

#define VOLUME_FILE "volume.json"

static bool key_valid(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	return n > 0 && n < STATE_KEY_MAX && key[0] != '.' && !strchr(key, '/');
}

static void json_putp(json_object **o)
{
	json_object_put(*o);
}

int state_mount_id_new(char ret_id[static STATE_MOUNT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[STATE_MOUNT_ID_LEN / 2];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		return negerrno();
	for (size_t i = 0; i < sizeof(rnd); i++) {
		ret_id[2 * i] = hex[rnd[i] >> 4];
		ret_id[2 * i + 1] = hex[rnd[i] & 0xf];
	}
	ret_id[STATE_MOUNT_ID_LEN] = '\0';
	return 0;
}

int state_volume_mount_id(json_object *volume, char ret_id[static STATE_MOUNT_ID_LEN + 1])
{
	json_object *v;
	const char *s;

	if (!json_object_object_get_ex(volume, "mount_id", &v))
		return -ENOENT;
	if (!json_object_is_type(v, json_type_string))
		return -EBADMSG;
	s = json_object_get_string(v);
	if (strlen(s) != STATE_MOUNT_ID_LEN || strspn(s, "0123456789abcdef") != STATE_MOUNT_ID_LEN)
		return -EBADMSG;
	memcpy(ret_id, s, STATE_MOUNT_ID_LEN + 1);
	return 0;
}

int state_volume_new(const char *driver, const char *name, json_object **ret)
{
	_cleanup_(json_putp) json_object *obj = NULL;
	char id[STATE_MOUNT_ID_LEN + 1];
	int r;

	if (!driver || !name || !*driver || !*name)
		return -EINVAL;
	r = state_mount_id_new(id);
	if (r < 0)
		return r;
	obj = json_object_new_object();
	if (!obj || json_object_object_add(obj, "driver", json_object_new_string(driver)) < 0 ||
	    json_object_object_add(obj, "name", json_object_new_string(name)) < 0 ||
	    json_object_object_add(obj, "mount_id", json_object_new_string(id)) < 0 ||
	    state_vol_init(obj) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(obj);
	return 0;
}

/*
 * Kept pending an Unmount: every version that wrote this state synced it (no
 * record names its mount id any more), those older than the "durable" mark
 * too, which did not mark it. Durable on the disk, so it counts as marked.
 */
static bool entry_synced(json_object *volume)
{
	enum state_vol s;

	return state_vol_get(volume, &s) == 0 && s == STATE_VOL_PENDING_UNMOUNT;
}

int state_volume_load(struct state *st, const char *key, json_object **ret)
{
	struct state_lock_entry *held = state_held_volume(st, key);
	_cleanup_close_ int dir_fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	char qname[STATE_QNAME_MAX], origin[STATE_KEY_MAX + 16];
	size_t len;
	int r;

	if (!key_valid(key))
		return -EINVAL;
	if (!held) {
		dir_fd =
		    openat(st->volumes_fd, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir_fd < 0)
			return negerrno();
	}
	r = state_read_file(held ? held->dir_fd : dir_fd, VOLUME_FILE, STATE_RECORD_MAX, &buf,
			    &len);
	if (r == 0)
		r = state_parse_object(buf, len, ret);
	if (r == 0 && held)
		held->durable |= state_volume_durable(*ret) || entry_synced(*ret);
	/*
	 * Only a lock holder sets a corrupt entry aside: anyone else could move
	 * a good file that a writer renamed over the bad one meanwhile.
	 */
	if ((r == -EBADMSG || r == -EFBIG) && held) {
		snprintf(origin, sizeof(origin), "volume.%s", key);
		state_quarantine(st, held->dir_fd, VOLUME_FILE, origin, qname);
	}
	return r;
}

/*
 * A barrier for what was written under volumes/: two syncfs(2) of the
 * filesystem volumes/ is on (which may not be the state dir's: a mount
 * there). Two, because on an ext4 without a journal one leaves its last
 * writes in the disk's volatile cache: sync_filesystem() (fs/sync.c) calls
 * ->sync_fs(sb, 1), where ext4_sync_fs() issues the cache flush, before
 * sync_blockdev() writes the inode and bitmap blocks its own writeback
 * dirtied (ext4_write_inode() leaves them to it when wbc->for_sync). The
 * second call's flush covers them: they completed. Checked in Debian's
 * linux-source-6.1. 0 or -errno.
 */
static int sync_state_fs(struct state *st)
{
	for (unsigned i = 0; i < 2; i++)
		if (syncfs(st->volumes_fd) < 0)
			return negerrno();
	return 0;
}

int state_volume_save(struct state *st, const char *key, json_object *volume)
{
	return state_volume_save_flags(st, key, volume, 0);
}

int state_volume_save_flags(struct state *st, const char *key, json_object *volume, unsigned flags)
{
	struct state_lock_entry *held;
	int r;

	if (!key_valid(key) || (flags & ~(STATE_DATA_SYNC | STATE_BATCH)))
		return -EINVAL;
	held = state_held_volume(st, key);
	if (!held)
		return -ENOLCK;
	if (held->removed)
		return -ESTALE;
	r = state_tidy_volume(held);
	if (r < 0)
		return r;
	/*
	 * Not durable by itself: state_volume_save_durable(), or the records
	 * (state.h). Replacing a durable version: never by an empty file.
	 */
	if (held->durable || state_volume_durable(volume))
		flags |= STATE_DATA_SYNC;
	/*
	 * Marked from then on: the next runs must know too that a durable
	 * version may be on the disk (one synced, then not marked: state.h).
	 */
	if (held->durable &&
	    json_object_object_add(volume, "durable", json_object_new_boolean(true)) < 0)
		return -ENOMEM;
	if (!(flags & STATE_BATCH))
		return state_save_json(held->dir_fd, VOLUME_FILE, volume, flags);
	if (held->batch_tmp[0]) {
		unlinkat(held->dir_fd, held->batch_tmp, 0);
		held->batch_tmp[0] = '\0';
	}
	r = state_save_json_temp(held->dir_fd, VOLUME_FILE, volume, held->batch_tmp);
	if (r < 0)
		return r;
	held->batch_sync = flags & STATE_DATA_SYNC;
	return 0;
}

int state_volume_commit(struct state *st)
{
	struct state_locks *l = st->vlocks;
	bool data = false, removals = false;
	int r, first = 0;

	if (!l)
		return 0;
	for (size_t i = 0; i < l->n; i++) {
		data |= l->e[i].batch_tmp[0] && l->e[i].batch_sync;
		removals |= l->e[i].batch_removed;
	}
	/* The data of every rewrite of a durable version, at once, before any rename. */
	r = data ? sync_state_fs(st) : 0;
	for (size_t i = 0; i < l->n; i++) {
		struct state_lock_entry *e = &l->e[i];

		if (!e->batch_tmp[0])
			continue;
		if (r < 0 || renameat(e->dir_fd, e->batch_tmp, e->dir_fd, VOLUME_FILE) < 0) {
			if (first == 0)
				first = r < 0 ? r : negerrno();
			unlinkat(e->dir_fd, e->batch_tmp, 0);
		}
		e->batch_tmp[0] = '\0';
		e->batch_sync = false;
	}
	/* The removals of durable entries: once for all (state_volume_remove()). */
	if (removals) {
		r = sync_state_fs(st);
		if (r < 0 && first == 0)
			first = r;
		for (size_t i = 0; i < l->n; i++)
			l->e[i].batch_removed = false;
	}
	return first;
}

int state_tidy_volume(struct state_lock_entry *held)
{
	int r;

	if (held->tidied)
		return 0;
	r = state_remove_temps(held->dir_fd);
	if (r < 0)
		return r;
	held->tidied = true;
	return 0;
}

bool state_volume_durable(json_object *volume)
{
	json_object *d;

	return json_object_object_get_ex(volume, "durable", &d) &&
	       json_object_is_type(d, json_type_boolean) && json_object_get_boolean(d);
}

/*
 * One entry of state_volume_save_durable(): marked, its new version in a
 * temp file (ret_tmp), unsynced.
 */
static int write_one_durable(struct state *st, const char *key, json_object *volume,
			     struct state_lock_entry **ret_held, char ret_tmp[static NAME_MAX + 1])
{
	struct state_lock_entry *held;
	int r;

	if (!key_valid(key))
		return -EINVAL;
	held = state_held_volume(st, key);
	if (!held)
		return -ENOLCK;
	if (held->removed)
		return -ESTALE;
	r = state_tidy_volume(held);
	if (r < 0)
		return r;
	if (json_object_object_add(volume, "durable", json_object_new_boolean(true)) < 0)
		return -ENOMEM;
	r = state_save_json_temp(held->dir_fd, VOLUME_FILE, volume, ret_tmp);
	if (r < 0)
		return r;
	*ret_held = held;
	return 0;
}

int state_volume_save_durable(struct state *st, const char *const *keys,
			      json_object *const *volumes, size_t n)
{
	_cleanup_free_ struct state_lock_entry **held = NULL;
	_cleanup_free_ char(*tmp)[NAME_MAX + 1] = NULL;
	int r, first = 0;

	if (n == 0)
		return 0;
	if (n > STATE_LOCKS_MAX)
		return -E2BIG;
	held = calloc(n, sizeof(*held));
	tmp = calloc(n, sizeof(*tmp));
	if (!held || !tmp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = write_one_durable(st, keys[i], volumes[i], &held[i], tmp[i]);
		if (r < 0 && first == 0)
			first = r;
	}
	/*
	 * One syncfs for the batch's data, not a fsync per file (issue 11,
	 * state.h), before any rename: whatever the version on the disk is (a
	 * durable one may be there unmarked: dvdcli's, synced by
	 * state_volume_sync() in an earlier run), a rename never puts an empty
	 * file in its place (what STATE_DURABLE's fsync before the rename did).
	 */
	r = sync_state_fs(st);
	if (r < 0) {
		for (size_t i = 0; i < n; i++)
			if (held[i])
				unlinkat(held[i]->dir_fd, tmp[i], 0);
		return first ? first : r;
	}
	for (size_t i = 0; i < n; i++) {
		if (!held[i])
			continue;
		if (renameat(held[i]->dir_fd, tmp[i], held[i]->dir_fd, VOLUME_FILE) < 0) {
			if (first == 0)
				first = negerrno();
			unlinkat(held[i]->dir_fd, tmp[i], 0);
			held[i] = NULL;
		}
	}
	/* The renames and new directories' names in volumes/: one more, for all of them. */
	r = sync_state_fs(st);
	if (r < 0)
		return first ? first : r;
	for (size_t i = 0; i < n; i++)
		if (held[i])
			held[i]->durable = true;
	return first;
}

int state_volume_sync(struct state *st, const char *key)
{
	struct state_lock_entry *held = state_held_volume(st, key);
	_cleanup_close_ int fd = -EBADF;

	if (!held)
		return -ENOLCK;
	if (held->removed)
		return -ESTALE;
	fd = openat(held->dir_fd, VOLUME_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return negerrno();
	/* File, then the directories up to volumes/: each one's entry is in its parent. */
	if ((fd >= 0 && fsync(fd) < 0) || fsync(held->users_fd) < 0 || fsync(held->dir_fd) < 0 ||
	    fsync(st->volumes_fd) < 0)
		return negerrno();
	/* Durable now, marked or not: never replaced unsynced, never removed unsynced (state.h). */
	held->durable = true;
	return 0;
}

int state_volume_remove(struct state *st, const char *key)
{
	return state_volume_remove_flags(st, key, 0);
}

int state_volume_remove_flags(struct state *st, const char *key, unsigned flags)
{
	struct state_lock_entry *held;
	int r;

	if (!key_valid(key) || (flags & ~STATE_BATCH))
		return -EINVAL;
	held = state_held_volume(st, key);
	if (!held)
		return -ENOLCK;
	if (held->removed)
		return 0;
	r = state_user_count(st, key);
	if (r < 0)
		return r;
	if (r > 0)
		return -EBUSY;
	/* The directory goes at unlock: only if nothing is left in it. */
	r = state_tidy_volume(held);
	if (r < 0)
		return r;
	if (unlinkat(held->dir_fd, VOLUME_FILE, 0) < 0 && errno != ENOENT)
		return negerrno();
	if (unlinkat(held->dir_fd, "users", AT_REMOVEDIR) < 0 && errno != ENOENT)
		return negerrno();
	/*
	 * A durable entry that a power cut brought back would name a mount id
	 * released already, in place of the newer one of the next entry, which
	 * is written without a sync: its removal is durable too.
	 */
	if (held->batch_tmp[0]) {
		unlinkat(held->dir_fd, held->batch_tmp, 0);
		held->batch_tmp[0] = '\0';
	}
	if (held->durable && (flags & STATE_BATCH))
		held->batch_removed = true;
	else if (held->durable && fsync(held->dir_fd) < 0)
		return negerrno();
	/* The lock file and the directory go at unlock (state_release_locks). */
	held->removed = true;
	debug(DEBUG_STATE, "state", "removed volume '%s'", key);
	return 0;
}

/*
 * The file every user entry is a hard link to: volumes/USER_SRC, made once
 * per state dir and kept (a name starting with '.': state_volume_list skips
 * it). Not a new inode per entry: on ext4 an inode allocation searches the
 * inode bitmap and tables (recently_deleted() reads them from the disk),
 * 0.03 to 0.5 ms per entry measured here, the largest per-volume cost of a
 * prepare (issue 11). Not one per process either (an O_TMPFILE, as before):
 * it was freed when the process's last entry went, and on an ext4 without a
 * journal every inode freed in the last 60-300 s is skipped, one inode table
 * lookup each, by every later allocation in its group (fs/ext4/ialloc.c
 * find_inode_bit; issue 11's profile: 14% of an attach-only prepare).
 */
#define USER_SRC ".user"

/*
 * Is volumes/USER_SRC what every entry must be: an empty regular file 0600
 * of ours? Made when missing; a file that is not that (damage from outside)
 * is replaced once. 0 usable, -EOPNOTSUPP not (mknodat per entry then).
 */
static int user_src_check(struct state *st)
{
	for (unsigned i = 0; i < 2; i++) {
		struct stat sb;

		if (fstatat(st->volumes_fd, USER_SRC, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return -EOPNOTSUPP;
		} else if (S_ISREG(sb.st_mode) && sb.st_size == 0 && sb.st_uid == geteuid() &&
			   (sb.st_mode & 07777) == 0600) {
			return 0;
		} else if (unlinkat(st->volumes_fd, USER_SRC, 0) < 0 && errno != ENOENT) {
			return -EOPNOTSUPP;
		}
		if (mknodat(st->volumes_fd, USER_SRC, S_IFREG | 0600, 0) < 0 && errno != EEXIST)
			return -EOPNOTSUPP;
	}
	return -EOPNOTSUPP;
}

/*
 * Make the empty file users/<cid>: a hard link to volumes/USER_SRC, a
 * directory entry only. The entry is what it always was to every reader:
 * an empty regular file named by the container, 0600; that it shares its
 * inode with other entries is never looked at. At ext4's link limit
 * (EXT4_LINK_MAX, 65000 entries in use) USER_SRC is replaced by a fresh
 * file, whose links start from one again: the old inode lives on as long
 * as its entries. Where linking cannot be done (a filesystem without hard
 * links) it is one mknodat per entry, as before. 0, -EEXIST, or -errno.
 */
static int add_entry(struct state *st, int users_fd, const char *cid)
{
	if (st->user_src == 0)
		st->user_src = user_src_check(st) == 0 ? 1 : -EOPNOTSUPP;
	for (unsigned i = 0; st->user_src > 0 && i < 2; i++) {
		if (linkat(st->volumes_fd, USER_SRC, users_fd, cid, 0) == 0)
			return 0;
		if (errno == EEXIST)
			return -EEXIST;
		if (errno == EMLINK) {
			/* A concurrent run may replace it too: either new file will do. */
			unlinkat(st->volumes_fd, USER_SRC, 0);
		} else if (errno != ENOENT) {
			/* It will not do better for the next entries: mknodat from here on. */
			break;
		}
		if (mknodat(st->volumes_fd, USER_SRC, S_IFREG | 0600, 0) < 0 && errno != EEXIST)
			break;
	}
	st->user_src = -EOPNOTSUPP;
	/* An empty file, made without opening it: one syscall. */
	if (mknodat(users_fd, cid, S_IFREG | 0600, 0) == 0)
		return 0;
	return negerrno();
}

int state_user_add(struct state *st, const char *key, const char *cid)
{
	struct state_lock_entry *held;
	struct stat sb;
	int r;

	r = state_container_id_valid(cid);
	if (r < 0)
		return r;
	held = state_held_volume(st, key);
	if (!held)
		return -ENOLCK;
	if (held->removed)
		return -ESTALE;
	r = add_entry(st, held->users_fd, cid);
	if (r == 0)
		return 0;
	if (r != -EEXIST)
		return r;
	/* Already there (idempotent), but only as a plain file: never a symlink. */
	if (fstatat(held->users_fd, cid, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return negerrno();
	return S_ISREG(sb.st_mode) ? 0 : -ELOOP;
}

int state_user_remove(struct state *st, const char *key, const char *cid)
{
	struct state_lock_entry *held;
	int r;

	r = state_container_id_valid(cid);
	if (r < 0)
		return r;
	held = state_held_volume(st, key);
	if (!held)
		return -ENOLCK;
	if (unlinkat(held->users_fd, cid, 0) < 0 && errno != ENOENT)
		return negerrno();
	return 0;
}

static int user_scan(struct state *st, const char *key, bool any,
		     int (*cb)(const char *cid, void *userdata), void *userdata);

void state_pin_user(struct state *st, const char *name)
{
	snprintf(st->pinned, sizeof(st->pinned), "%s", name ? name : "");
}

/*
 * A user entry that holds its volume: its container is known, or it is
 * pinned. held: the volume's lock is ours, so a known container stays known
 * (st->known_cid).
 */
static bool user_live(struct state *st, const char *cid, bool held)
{
	if (st->pinned[0] && !strcmp(cid, st->pinned))
		return true;
	if (held && st->known_cid[0] && !strcmp(cid, st->known_cid))
		return true;
	if (!state_container_known(st, cid))
		return false;
	if (held)
		snprintf(st->known_cid, sizeof(st->known_cid), "%s", cid);
	return true;
}

struct live_scan {
	struct state *st;
	bool held; /* the volume's lock is ours */
	int (*cb)(const char *cid, void *userdata);
	void *userdata;
	int users_fd; /* prune: remove the dead entries here; else -EBADF */
	int live;
};

static int live_one(const char *cid, void *userdata)
{
	struct live_scan *s = userdata;

	if (!user_live(s->st, cid, s->held)) {
		if (s->users_fd >= 0 && unlinkat(s->users_fd, cid, 0) == 0)
			debug(DEBUG_STATE, "state", "removed user entry '%s' without a record",
			      cid);
		return 0;
	}
	s->live++;
	return s->cb ? s->cb(cid, s->userdata) : 0;
}

int state_user_list_live(struct state *st, const char *key,
			 int (*cb)(const char *cid, void *userdata), void *userdata)
{
	struct live_scan s = { .st = st,
			       .held = state_held_volume(st, key) != NULL,
			       .cb = cb,
			       .userdata = userdata,
			       .users_fd = -EBADF };
	int r = state_user_list(st, key, live_one, &s);

	return r < 0 ? r : s.live;
}

int state_user_prune(struct state *st, const char *key)
{
	struct state_lock_entry *held = state_held_volume(st, key);
	struct live_scan s = { .st = st, .held = true };
	int r;

	if (!held)
		return -ENOLCK;
	if (held->removed)
		return 0;
	s.users_fd = held->users_fd;
	r = user_scan(st, key, true, live_one, &s);
	return r < 0 ? r : s.live;
}

/*
 * Entries of volumes/<key>/users: empty files named by container ids; with
 * any, also every other name but "." and ".." (a torn or foreign file).
 */
struct user_scan {
	bool any;
	int (*cb)(const char *cid, void *userdata);
	void *userdata;
	int count;
};

static int user_one(const char *name, void *userdata)
{
	struct user_scan *u = userdata;

	/* Not ours: a name no user entry can have. */
	if (u->any ? !strcmp(name, ".") || !strcmp(name, "..") : state_container_id_valid(name) < 0)
		return 0;
	u->count++;
	return u->cb ? u->cb(name, u->userdata) : 0;
}

static int user_scan(struct state *st, const char *key, bool any,
		     int (*cb)(const char *cid, void *userdata), void *userdata)
{
	_cleanup_close_ int dir_fd = -EBADF, fd = -EBADF;
	struct user_scan u = { .any = any, .cb = cb, .userdata = userdata };
	struct state_lock_entry *held;
	int r;

	if (!key_valid(key))
		return -EINVAL;
	held = state_held_volume(st, key);
	if (held && held->removed)
		return 0;
	if (!held) {
		dir_fd =
		    openat(st->volumes_fd, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dir_fd < 0)
			return errno == ENOENT ? 0 : negerrno();
		fd = openat(dir_fd, "users", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return errno == ENOENT ? 0 : negerrno();
	}
	/*
	 * The lock holder's users dir is kept open: listed on that fd, not a
	 * reopen, and rewound only when it was listed before.
	 */
	r = state_dir_scan(held ? held->users_fd : fd, held && held->users_read,
			   STATE_USERS_MAX + 2, user_one, &u);
	if (held)
		held->users_read = true;
	return r < 0 ? r : u.count;
}

int state_user_list(struct state *st, const char *key, int (*cb)(const char *cid, void *userdata),
		    void *userdata)
{
	return user_scan(st, key, false, cb, userdata);
}

int state_user_count(struct state *st, const char *key)
{
	return state_user_list(st, key, NULL, NULL);
}
