/* SPDX-License-Identifier: MIT */
/*
 * Shared by the files of helper/state/ only: the state handle and the
 * pieces its files share. Nothing outside the directory includes this
 * (make layers-check).
 */
#ifndef DVMOUNT_HELPER_STATE_STATE_INTERNAL_H
#define DVMOUNT_HELPER_STATE_STATE_INTERNAL_H

#include <stdbool.h>
#include <dirent.h>
#include <limits.h>
#include <sys/types.h>

#include "helper/state/state.h"

/* Temp files of state_write_atomic(): ".tmp.<name>.<16 hex>". */
#define STATE_TMP_PREFIX ".tmp."

struct state {
	int dir_fd; /* O_DIRECTORY, not O_PATH: directories are fsync()ed */
	int containers_fd;
	int volumes_fd;
	int quarantine_fd;
	struct state_locks *vlocks; /* the held volume locks, at most one set */
	/* The held container lock: its fd belongs to the caller. */
	int cid_fd;
	dev_t cid_dev;
	ino_t cid_ino;
	bool cid_removed; /* by state_container_remove(): the lock file goes at unlock */
	char cid[STATE_CID_MAX + 1];
	/* A user entry that counts without a container record (state_pin_user). */
	char pinned[STATE_CID_MAX + 1];
	/*
	 * The user entries' link source, volumes/.user (state-volume.c): 0 not
	 * checked yet in this process, 1 checked, -EOPNOTSUPP when entries are
	 * made by mknodat instead.
	 */
	int user_src;
	/*
	 * A container found to have a record while listing the users of a
	 * volume whose lock we hold ("": none), valid until those locks go: it
	 * cannot lose its record meanwhile, since its cleanup removes its user
	 * entries, ours included, before its record, and a quarantined record
	 * still counts. One look (faccessat) per user, not per user and
	 * volume (issue 11: a cleanup of 64 volumes others use asked 64 times).
	 */
	char known_cid[STATE_CID_MAX + 1];
	/*
	 * Record rewrites without new inodes (state-spare.c), under the held
	 * container lock: rec_fd is the record's file as we last wrote it
	 * unsynced (-EBADF: none, or a version not ours, or one synced since),
	 * spare_fd an unsynced file of ours named spare_tmp, written next.
	 */
	int rec_fd;
	size_t rec_size; /* bytes of its file, trailing spaces included */
	ino_t rec_ino;
	int spare_fd;
	size_t spare_size;
	ino_t spare_ino;
	unsigned pool_next; /* the pool slot a take tries first */
	char spare_tmp[NAME_MAX + 1];
};

struct state_lock_entry {
	char key[STATE_KEY_MAX];
	int lock_fd;
	int dir_fd;	 /* volumes/<key> */
	int users_fd;	 /* volumes/<key>/users */
	bool users_read; /* users_fd was listed: its offset is no longer its start */
	bool removed;	 /* by state_volume_remove(): its lock file goes at unlock */
	bool tidied;	 /* its stray temp files removed (state_tidy_volume) */
	/*
	 * Its volume.json says "durable": true (seen by a load or written by a
	 * save through these locks), or state_volume_sync() synced it: a
	 * durable version is on the disk, so every rewrite is data-synced and
	 * the removal is durable (state.h).
	 */
	bool durable;
	/*
	 * STATE_BATCH (state_volume_commit): the temp file of a save waiting
	 * for its rename ("" none); a removal whose durability waits.
	 */
	char batch_tmp[NAME_MAX + 1];
	bool batch_sync; /* batch_tmp replaces a durable version: its data synced first */
	bool batch_removed;
};

struct state_locks {
	struct state *st;
	size_t n;
	struct state_lock_entry e[];
};

/* Has cid a record, or a quarantined record? (A user entry of it counts.) */
bool state_container_known(struct state *st, const char *cid);

/* Release held volume locks without freeing l (state_close with locks held). */
void state_release_locks(struct state_locks *l);

/* The held lock entry of key, or NULL. */
struct state_lock_entry *state_held_volume(struct state *st, const char *key);
bool state_held_container(struct state *st, const char *cid);

/*
 * Open name (creating it when create) and flock it; retried while the file
 * was unlinked under us (removal happens under the lock, so a waiter could
 * otherwise hold a lock on a dead inode). nonblock: -EWOULDBLOCK when held.
 */
int state_flock_at(int dirfd, const char *name, bool create, bool nonblock, int *ret_fd);
/*
 * state_flock_at() for a container lock: retried too while name was
 * renamed away from the file we locked (a removed container's lock file
 * becomes a spare: state-lock.c). One fstatat more. ret_sb (may be NULL)
 * receives the locked file's fstat. Returns as state_flock_at(): 0,
 * -EWOULDBLOCK, -EBADF not a regular file, -EAGAIN after LOCK_RETRIES
 * (1000) renames or unlinks in a row, -errno.
 */
struct stat;
int state_flock_container_at(int dirfd, const char *name, bool create, bool nonblock, int *ret_fd,
			     struct stat *ret_sb);
/* containers/.lock-spare.<i>: at most this many spare lock files (state-lock.c). */
#define STATE_LOCK_SPARE_PREFIX ".lock-spare."
#define STATE_LOCK_SPARES 4

/* Move dirfd/name to quarantine/<origin>.<sec>.<nsec>, durably. */
int state_quarantine(struct state *st, int dirfd, const char *name, const char *origin,
		     char ret_qname[static STATE_QNAME_MAX]);

/* Unlink leftover temp files in a small directory (the caller holds its lock). */
int state_remove_temps(int dirfd);
/*
 * Before the first write to a held volume's directory under this lock:
 * unlink the temp files a writer that crashed left there. Only a lock
 * holder may (a temp may be a live writer's otherwise), and only a writer
 * needs to: a stray temp is invisible to readers and listings, and the
 * directory can be removed only after volume.json is written or removed
 * (issue 11: a listing per locked volume cost three syscalls). 0 or -errno.
 */
int state_tidy_volume(struct state_lock_entry *held);

/*
 * Call cb(name) for every entry of the directory open at fd ("." and ".."
 * included), from its first entry: getdents64 on fd itself, whose offset it
 * moves (fd must be used for *at() calls only), with no directory stream,
 * whose set-up costs five syscalls (issue 11: it runs once or twice per
 * volume of a prepare or cleanup). rewind: fd may have been read before, so
 * go back to its start first; false only for an fd never read since it was
 * opened (one lseek less per volume). cb may unlink entries. Returns 0;
 * -E2BIG after max entries; cb's negative return, which stops it; -errno.
 */
int state_dir_scan(int fd, bool rewind, unsigned max, int (*cb)(const char *name, void *userdata),
		   void *userdata);

/*
 * state_read_file() in two steps: open name for reading as every record is
 * (no symlink, no FIFO hang: -EBADMSG for a symlink), then read the regular
 * file at fd, of at most max_size bytes (-EFBIG, -EBADMSG not a regular
 * file), NUL-terminated; ret_sb (may be NULL) gets its fstat. fd or -errno;
 * 0 or -errno.
 */
int state_open_record(int dirfd, const char *name);
struct stat;
int state_read_fd(int fd, size_t max_size, char **ret_buf, size_t *ret_len, struct stat *ret_sb);

/*
 * Record rewrites without new inodes (state-spare.c; the argument: state.h,
 * "Spares"). state_record_write_unsynced(): an unsynced write of
 * containers/name (a record file name), with the container lock held:
 * into this handle's spare (ours, or the pool's, or a new file), then
 * exchanged with our own last version, which becomes the spare. 0 or
 * -errno; the record is the old or the new version either way.
 * state_record_forget(): the record is being replaced or removed some
 * other way (a synced write, a durable removal): its file is ours no more,
 * never to be a spare. state_record_retire(): the unsynced removal of a
 * record never synced (our own last version, or a file made for unsynced
 * versions only): moved into the pool (0), else -ENOENT (not such a file:
 * unlink it), -ENOSPC (pool full: unlink it), -errno. state_spare_release():
 * at the end of the container lock: the spare into the pool, or unlinked.
 */
int state_record_write_unsynced(struct state *st, const char *name, const void *buf, size_t len);
void state_record_forget(struct state *st);
int state_record_retire(struct state *st, const char *name);
void state_spare_release(struct state *st);

/* A directory stream on dirfd's directory, for listings (dirfd stays open). */
int state_opendir(int dirfd, DIR **ret);

/*
 * A flag of state_write_atomic_at(), for records written without a sync:
 * the file is created STATE_UNSYNCED_PERM instead of 0600. The mode is set
 * with the inode, which a journal commits with the file's name, so after a
 * power cut that kept the name and not the data, the file still says that
 * it was never durable (state_container_load(): -ENODATA, not quarantine).
 */
#define STATE_UNSYNCED_MODE 0x100u
#define STATE_UNSYNCED_PERM 0400

/*
 * The text every record and entry is written as (plain, '/' unescaped):
 * *ret_text is obj's, valid while obj is unchanged. 0, -EINVAL not an
 * object, -ENOMEM, -EFBIG over STATE_RECORD_MAX bytes.
 */
int state_json_text(json_object *obj, const char **ret_text, size_t *ret_len);
/* Serialize and write atomically; flags as state_write_atomic_at(). */
int state_save_json(int dirfd, const char *name, json_object *obj, unsigned flags);
/*
 * state_write_atomic(), durable only with STATE_DURABLE in flags (fsync of
 * the file before the rename, of dirfd after it). STATE_DATA_SYNC alone:
 * fdatasync of the file before the rename, no directory fsync, for a
 * rewrite that replaces a durable version: without it ext4
 * (noauto_da_alloc) or XFS may persist the rename before the data, and a
 * power cut leaves an empty file instead of the old durable one (state.h).
 */
int state_write_atomic_at(int dirfd, const char *name, const void *buf, size_t len, unsigned flags);
/*
 * The first half of state_write_atomic_at(): the new content in a temp file
 * of dirfd (synced as flags say), whose name goes to ret_tmp; the caller
 * renames it over name, or unlinks it. For batches whose data one syncfs()
 * makes durable before their renames (state_volume_save_durable()).
 */
int state_write_temp(int dirfd, const char *name, const void *buf, size_t len, unsigned flags,
		     char ret_tmp[static NAME_MAX + 1]);
/* state_save_json()'s text, written unsynced by state_write_temp(). */
int state_save_json_temp(int dirfd, const char *name, json_object *obj,
			 char ret_tmp[static NAME_MAX + 1]);

#endif
