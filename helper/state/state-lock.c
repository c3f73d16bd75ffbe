/* SPDX-License-Identifier: MIT */
/*
 * Locks of the state store: one flock per container and per volume, taken
 * in one fixed order so that concurrent processes never deadlock.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/debug.h"
#include "common/fileio.h"
#include "helper/state/state-internal.h"

/* Retries of a lock whose file was removed while we waited: each needs a remover. */
#define LOCK_RETRIES 1000

/*
 * named: the lock is the file's name, not its inode (a container lock, whose
 * file a cleanup renames into the spares: state_unlock_container), so after
 * flock the name must still be the file we hold; unlinked alone is not all.
 */
static int flock_at(int dirfd, const char *name, bool create, bool nonblock, bool named,
		    int *ret_fd, struct stat *ret_sb)
{
	for (unsigned i = 0; i < LOCK_RETRIES; i++) {
		_cleanup_close_ int fd = -EBADF;
		struct stat sb, nb;

		fd = openat(dirfd, name,
			    O_RDWR | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC | (create ? O_CREAT : 0),
			    0600);
		if (fd < 0) {
			/* The volume dir went away with its last user: the caller recreates it. */
			return negerrno();
		}
		if (flock(fd, LOCK_EX | (nonblock ? LOCK_NB : 0)) < 0)
			return negerrno();
		if (fstat(fd, &sb) < 0)
			return negerrno();
		if (!S_ISREG(sb.st_mode))
			return -EBADF;
		if (named) {
			if (fstatat(dirfd, name, &nb, AT_SYMLINK_NOFOLLOW) < 0) {
				if (errno != ENOENT)
					return negerrno();
			} else if (nb.st_dev == sb.st_dev && nb.st_ino == sb.st_ino) {
				if (ret_sb)
					*ret_sb = sb;
				*ret_fd = TAKE_FD(fd);
				return 0;
			}
		} else if (sb.st_nlink > 0) {
			*ret_fd = TAKE_FD(fd);
			return 0;
		}
		/* Unlinked or renamed by whoever held it before us: lock the new file instead. */
	}
	return -EAGAIN;
}

int state_flock_at(int dirfd, const char *name, bool create, bool nonblock, int *ret_fd)
{
	return flock_at(dirfd, name, create, nonblock, false, ret_fd, NULL);
}

int state_flock_container_at(int dirfd, const char *name, bool create, bool nonblock, int *ret_fd,
			     struct stat *ret_sb)
{
	return flock_at(dirfd, name, create, nonblock, true, ret_fd, ret_sb);
}

static int cmp_key(const void *a, const void *b)
{
	return strcmp(((const struct state_lock_entry *)a)->key,
		      ((const struct state_lock_entry *)b)->key);
}

/*
 * Open dirfd/name, a directory of ours, making it (0700) when it is missing:
 * an open first, since a volume's directories exist for every prepare and
 * cleanup but its first (issue 11: per-volume syscalls). -ENOENT when it
 * went away between the mkdir and the open.
 */
static int open_or_make_dir(int dirfd, const char *name, int *ret_fd)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT) {
		if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
			return negerrno();
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0)
		return negerrno();
	*ret_fd = fd;
	return 0;
}

static int lock_one_volume(struct state *st, struct state_lock_entry *e)
{
	int r;

	for (unsigned i = 0; i < LOCK_RETRIES; i++) {
		_cleanup_close_ int dir_fd = -EBADF, lock_fd = -EBADF, users_fd = -EBADF;

		/* New volumes' directories are durable at state_volume_sync. */
		r = open_or_make_dir(st->volumes_fd, e->key, &dir_fd);
		if (r == -ENOENT)
			continue; /* removed between mkdirat and openat */
		if (r < 0)
			return r;
		r = state_flock_at(dir_fd, "lock", true, false, &lock_fd);
		if (r == -ENOENT)
			continue; /* the directory was removed while we opened it */
		if (r < 0)
			return r;
		/* The lock is ours and linked, so its directory can no longer be removed. */
		r = open_or_make_dir(dir_fd, "users", &users_fd);
		if (r < 0)
			return r;
		/*
		 * No listing for temp files a crash mid-write left here: the
		 * lock's first write of the entry removes them (state_tidy_volume),
		 * a prepare or cleanup of a volume in use writes none (issue 11).
		 */
		e->tidied = false;
		e->users_read = false;
		e->dir_fd = TAKE_FD(dir_fd);
		e->lock_fd = TAKE_FD(lock_fd);
		e->users_fd = TAKE_FD(users_fd);
		return 0;
	}
	return -EAGAIN;
}

void state_release_locks(struct state_locks *l)
{
	struct state *st = l->st;
	/* Closed together at the end (close_many): 3 fds a volume, one by one before. */
	_cleanup_free_ int *fds = malloc((3 * l->n + 1) * sizeof(*fds));
	size_t k = 0;

	/* Batched saves and removals end before the critical section does. */
	if (st && st->vlocks == l)
		state_volume_commit(st);
	for (size_t i = l->n; i-- > 0;) {
		struct state_lock_entry *e = &l->e[i];

		/*
		 * A removed volume loses its lock file only now, at the end of
		 * the critical section: from the unlink on, a newcomer may lock
		 * a fresh file while we still hold the old one.
		 */
		if (e->removed && st) {
			unlinkat(e->dir_fd, "lock", 0);
			/* A waiter that already opened the dir may have recreated "lock". */
			unlinkat(st->volumes_fd, e->key, AT_REMOVEDIR);
		}
		if (fds) {
			fds[k++] = TAKE_FD(e->users_fd);
			fds[k++] = TAKE_FD(e->dir_fd);
			fds[k++] = TAKE_FD(e->lock_fd);
			continue;
		}
		closep(&e->users_fd);
		closep(&e->dir_fd);
		closep(&e->lock_fd);
	}
	if (fds)
		close_many(fds, k);
	l->n = 0;
	if (st && st->vlocks == l)
		st->vlocks = NULL;
	if (st)
		st->known_cid[0] = '\0';
	l->st = NULL;
}

void state_unlock(struct state_locks *l)
{
	if (!l)
		return;
	state_release_locks(l);
	free(l);
}

void state_unlockp(struct state_locks **l)
{
	state_unlock(*l);
	*l = NULL;
}

int state_lock_volumes(struct state *st, const char *const *keys, size_t n,
		       struct state_locks **ret)
{
	_cleanup_state_locks_ struct state_locks *l = NULL;
	size_t m = 0;
	int r;

	if (n == 0)
		return -EINVAL;
	if (n > STATE_LOCKS_MAX)
		return -E2BIG;
	/* Taking more locks while holding some breaks the global order. */
	if (st->vlocks)
		return -EDEADLK;
	l = calloc(1, sizeof(*l) + n * sizeof(l->e[0]));
	if (!l)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t len = keys[i] ? strlen(keys[i]) : 0;

		/* Keys come from state_volume_key(): never '.', '/' or empty. */
		if (len == 0 || len >= STATE_KEY_MAX || keys[i][0] == '.' || strchr(keys[i], '/'))
			return -EINVAL;
		memcpy(l->e[i].key, keys[i], len + 1);
		l->e[i].lock_fd = l->e[i].dir_fd = l->e[i].users_fd = -EBADF;
	}
	qsort(l->e, n, sizeof(l->e[0]), cmp_key);
	for (size_t i = 0; i < n; i++)
		if (m == 0 || strcmp(l->e[m - 1].key, l->e[i].key))
			l->e[m++] = l->e[i];
	l->n = 0;
	for (size_t i = 0; i < m; i++) {
		r = lock_one_volume(st, &l->e[i]);
		if (r < 0)
			return r;
		l->n = i + 1;
		debug(DEBUG_STATE, "state", "locked volume '%s'", l->e[i].key);
	}
	l->st = st;
	st->vlocks = l;
	st->known_cid[0] = '\0';
	*ret = TAKE_PTR(l);
	return 0;
}

struct state_lock_entry *state_held_volume(struct state *st, const char *key)
{
	struct state_locks *l = st->vlocks;
	size_t lo = 0, hi;

	if (!l || !key)
		return NULL;
	hi = l->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, l->e[mid].key);

		if (c == 0)
			return &l->e[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

static int lock_name(const char *cid, char name[static STATE_CID_MAX + 6])
{
	int r = state_container_id_valid(cid);

	if (r < 0)
		return r;
	strcpy(name, cid);
	strcat(name, ".lock");
	return 0;
}

/*
 * containers/.lock-spare.<i>, i < STATE_LOCK_SPARES: lock files of removed
 * containers, kept for the next ones. A lock file made per container and
 * unlinked at its cleanup costs an ext4 inode allocation and eviction per
 * prepare and cleanup; without a journal, every inode freed in the last
 * 60-300 s is then skipped, one inode table lookup each, by every later
 * allocation in its group (fs/ext4/ialloc.c recently_deleted(); issue 11's
 * profile). A lock file holds no data and is never synced: which inode it
 * is does not matter, only that its name is the lock, which
 * state_flock_container_at() checks after flock. A rename takes a spare:
 * one winner. Bounded: a lock file finding every spare taken is unlinked.
 */
static void lock_spare_name(unsigned i, char name[static sizeof(STATE_LOCK_SPARE_PREFIX) + 8])
{
	snprintf(name, sizeof(STATE_LOCK_SPARE_PREFIX) + 8, STATE_LOCK_SPARE_PREFIX "%u", i);
}

/* The held lock file of a removed container: into a free spare, else unlinked. */
static void retire_lock_file(struct state *st, const char *name)
{
	for (unsigned i = 0; i < STATE_LOCK_SPARES; i++) {
		char spare[sizeof(STATE_LOCK_SPARE_PREFIX) + 8];

		lock_spare_name(i, spare);
		if (renameat2(st->containers_fd, name, st->containers_fd, spare,
			      RENAME_NOREPLACE) == 0)
			return;
		if (errno != EEXIST)
			break;
	}
	unlinkat(st->containers_fd, name, 0);
}

int state_lock_container(struct state *st, const char *cid, int *ret_fd)
{
	char name[STATE_CID_MAX + 6];
	struct stat sb;
	int fd, r;

	r = lock_name(cid, name);
	if (r < 0)
		return r;
	/* The container lock comes first: after volume locks it could deadlock. */
	if (st->vlocks || state_held_container(st, NULL))
		return -EDEADLK;
	/* The lock file of a container that has one (cleanup, recover), first. */
	r = state_flock_container_at(st->containers_fd, name, false, false, &fd, &sb);
	if (r == -ENOENT) {
		/*
		 * A spare lock file left by a cleanup, renamed to ours, rather
		 * than a new one: no inode allocated per container (see
		 * lock_spare_name). Made meanwhile by another: that one will do.
		 */
		for (unsigned i = 0; i < STATE_LOCK_SPARES; i++) {
			char spare[sizeof(STATE_LOCK_SPARE_PREFIX) + 8];

			lock_spare_name(i, spare);
			if (renameat2(st->containers_fd, spare, st->containers_fd, name,
				      RENAME_NOREPLACE) == 0 ||
			    errno != ENOENT)
				break;
		}
		r = state_flock_container_at(st->containers_fd, name, true, false, &fd, &sb);
	}
	if (r < 0)
		return r;
	st->cid_fd = fd;
	st->cid_dev = sb.st_dev;
	st->cid_ino = sb.st_ino;
	st->cid_removed = false;
	strcpy(st->cid, cid);
	debug(DEBUG_STATE, "state", "locked container '%s'", cid);
	*ret_fd = fd;
	return 0;
}

void state_unlock_container(struct state *st, int fd)
{
	if (fd < 0)
		return;
	if (st && st->cid_fd == fd) {
		char name[STATE_CID_MAX + 6];

		/* The spare is ours only under the lock: back to the pool first. */
		state_spare_release(st);

		/* As for volumes: the lock file of a removed container goes last. */
		if (st->cid_removed && lock_name(st->cid, name) == 0)
			retire_lock_file(st, name);
		st->cid_fd = -EBADF;
		st->cid[0] = '\0';
	}
	close(fd);
}

/*
 * Is the container lock (of cid, or any when cid is NULL) held through st?
 * The caller owns the fd and may have closed it: check it is still our
 * linked lock file.
 */
bool state_held_container(struct state *st, const char *cid)
{
	struct stat sb;

	if (st->cid_fd < 0 || !st->cid[0] || st->cid_removed)
		return false;
	if (cid && strcmp(cid, st->cid))
		return false;
	if (fstat(st->cid_fd, &sb) < 0 || sb.st_dev != st->cid_dev || sb.st_ino != st->cid_ino ||
	    sb.st_nlink == 0) {
		st->cid_fd = -EBADF;
		st->cid[0] = '\0';
		return false;
	}
	return true;
}
