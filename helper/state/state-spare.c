/* SPDX-License-Identifier: MIT */
/*
 * Container records rewritten without a new inode: an unsynced version is
 * written into a spare inode, which is then exchanged with the record
 * (renameat2 RENAME_EXCHANGE); the displaced version becomes the next
 * spare, and a removed record joins a small pool of spares for the next
 * container. On an ext4 without a journal every inode freed in the last
 * 60-300 s is skipped, one inode table lookup each, by every later
 * allocation in its group (fs/ext4/ialloc.c recently_deleted()): issue 11's
 * profile found a third of an attach-only prepare there and in the evictions
 * of the records its renames replaced. Why this keeps every guarantee:
 * state.h, "Spares".
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "common/debug.h"
#include "helper/state/state-internal.h"

/* containers/.rec-spare.<i>, i < REC_SPARES: the pool. */
#define REC_SPARE_PREFIX ".rec-spare."
#define REC_SPARES 4
#define REC_SPARE_NAME_MAX (sizeof(REC_SPARE_PREFIX) + 8)

/* closep() and forget the fd: these fds live in struct state. */
static void close_reset(int *fd)
{
	closep(fd);
	*fd = -EBADF;
}

static void spare_name(unsigned i, char name[static REC_SPARE_NAME_MAX])
{
	snprintf(name, REC_SPARE_NAME_MAX, REC_SPARE_PREFIX "%u", i);
}

/*
 * Spaces written after a version shorter than the spare's old content, so
 * that no ftruncate is needed (ext4_truncate walks the extent tree even to
 * the same size): a record may end in whitespace (state_parse_object).
 * Beyond this, the spare is truncated instead.
 */
#define PAD_MAX 4096

/* buf and pad spaces at offset 0: one pwritev unless the kernel writes short. */
static int pwrite_padded(int fd, const void *buf, size_t len, size_t pad)
{
	static const char spaces[PAD_MAX] = { [0 ... PAD_MAX - 1] = ' ' };
	struct iovec iov[2] = { { (void *)buf, len }, { (void *)spaces, pad } };
	unsigned i = 0;
	off_t off = 0;

	while (i < 2) {
		ssize_t n = pwritev(fd, iov + i, (int)(2 - i), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negerrno();
		if (n == 0 && iov[i].iov_len + (i == 0 ? iov[1].iov_len : 0) > 0)
			return -EIO;
		off += n;
		while (i < 2 && (size_t)n >= iov[i].iov_len) {
			n -= (ssize_t)iov[i].iov_len;
			i++;
		}
		if (i < 2) {
			iov[i].iov_base = (char *)iov[i].iov_base + n;
			iov[i].iov_len -= (size_t)n;
		}
	}
	return 0;
}

/*
 * A spare may be written only while no reader can be reading it: readers
 * hold LOCK_SH while they read (state_record_read), and a reader that
 * opened this inode while it was the record, before it was displaced, may
 * still do. The LOCK_EX taken here, held through the write, keeps new
 * readers out; a reader there already makes it fail: the spare is dropped.
 */
static bool spare_claim(int fd)
{
	return flock(fd, LOCK_EX | LOCK_NB) == 0;
}

/*
 * Is fd a spare we may write in place: a regular file of ours, mode
 * STATE_UNSYNCED_PERM (made for an unsynced record, so never synced: no
 * durable version of anything is in it), with one name?
 */
static bool spare_clean(int fd, size_t *ret_size, ino_t *ret_ino)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_nlink != 1 ||
	    sb.st_uid != geteuid() || (sb.st_mode & 07777) != STATE_UNSYNCED_PERM)
		return false;
	*ret_size = (size_t)sb.st_size;
	*ret_ino = sb.st_ino;
	return true;
}

static void spare_drop(struct state *st)
{
	if (st->spare_fd < 0)
		return;
	unlinkat(st->containers_fd, st->spare_tmp, 0);
	close_reset(&st->spare_fd);
}

/* The private temp name of this state handle's spare: ".tmp.<cid>.json.<16 hex>". */
static int spare_tmp_name(struct state *st, const char *name)
{
	unsigned long long rnd;

	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return negerrno();
	snprintf(st->spare_tmp, sizeof(st->spare_tmp), STATE_TMP_PREFIX "%s.%016llx", name, rnd);
	return 0;
}

/* Take a spare from the pool: a rename to our private name, one winner. */
/*
 * The pool's slots are probed in an order that makes the first probe hit in
 * the steady state of prepare and cleanup, so that a run makes no failed
 * rename (the bench counts renames, failed ones too): a spare returned at
 * unlock goes to the first free slot from 0, a removed record to the first
 * from 1, and takes go on from the slot after the last one taken.
 */
#define SLOT_SPARE 0
#define SLOT_RECORD 1

static int spare_from_pool(struct state *st)
{
	for (unsigned k = 0; k < REC_SPARES; k++) {
		unsigned i = (st->pool_next + k) % REC_SPARES;
		char pooled[REC_SPARE_NAME_MAX];
		_cleanup_close_ int fd = -EBADF;
		size_t size;
		ino_t ino;

		spare_name(i, pooled);
		if (renameat2(st->containers_fd, pooled, st->containers_fd, st->spare_tmp,
			      RENAME_NOREPLACE) < 0) {
			if (errno == ENOENT)
				continue;
			return -ENOENT; /* no RENAME_NOREPLACE here, or our name taken */
		}
		st->pool_next = (i + 1) % REC_SPARES;
		fd = openat(st->containers_fd, st->spare_tmp,
			    O_WRONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && spare_clean(fd, &size, &ino) && spare_claim(fd)) {
			st->spare_fd = TAKE_FD(fd);
			st->spare_size = size;
			st->spare_ino = ino;
			return 0;
		}
		unlinkat(st->containers_fd, st->spare_tmp, 0);
	}
	return -ENOENT;
}

/* A new file for the spare, as state_write_atomic_at() makes its temp files. */
static int spare_new(struct state *st)
{
	int fd = openat(st->containers_fd, st->spare_tmp,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, STATE_UNSYNCED_PERM);
	struct stat sb;

	if (fd < 0)
		return negerrno();
	if (fstat(fd, &sb) < 0) {
		int r = negerrno();

		close(fd);
		unlinkat(st->containers_fd, st->spare_tmp, 0);
		return r;
	}
	/* Nobody else can have it open: no claim needed, but one keeps the rule simple. */
	if (!spare_claim(fd)) {
		close(fd);
		unlinkat(st->containers_fd, st->spare_tmp, 0);
		return -EAGAIN;
	}
	st->spare_fd = fd;
	st->spare_size = 0;
	st->spare_ino = sb.st_ino;
	return 0;
}

int state_record_write_unsynced(struct state *st, const char *name, const void *buf, size_t len)
{
	size_t size;
	int r, fd;

	if (st->spare_fd >= 0 && !spare_claim(st->spare_fd))
		spare_drop(st); /* a reader that opened it as the record still reads it */
	if (st->spare_fd < 0) {
		r = spare_tmp_name(st, name);
		if (r < 0)
			return r;
		if (spare_from_pool(st) < 0) {
			r = spare_new(st);
			if (r < 0)
				return r;
		}
	}
	fd = st->spare_fd;
	if (st->spare_size <= len || st->spare_size - len <= PAD_MAX) {
		size_t pad = st->spare_size > len ? st->spare_size - len : 0;

		r = pwrite_padded(fd, buf, len, pad);
		size = len + pad;
	} else {
		r = pwrite_padded(fd, buf, len, 0);
		if (r == 0 && ftruncate(fd, (off_t)len) < 0)
			r = negerrno();
		size = len;
	}
	/* Whole now: readers may come (they check it is the record before they read). */
	flock(fd, LOCK_UN);
	if (r < 0) {
		spare_drop(st);
		return r;
	}
	/*
	 * Our own record (st->rec_fd): exchange, and the displaced version,
	 * unsynced as every version we wrote here, is the next spare. Any other
	 * record (a version made elsewhere, perhaps synced): never written in
	 * place, its name goes as a rename over it would have dropped it.
	 */
	if (st->rec_fd >= 0) {
		r = renameat2(st->containers_fd, st->spare_tmp, st->containers_fd, name,
			      RENAME_EXCHANGE);
		if (r == 0) {
			struct stat sb;
			ino_t ino = st->spare_ino;

			/*
			 * What the exchange displaced is the file we wrote last,
			 * never synced: then it is the next spare. Anything else
			 * (a version written some other way, which a bug forgot to
			 * tell us about) is never written in place: its name goes.
			 */
			st->spare_fd = st->rec_fd;
			st->spare_size = st->rec_size;
			st->spare_ino = st->rec_ino;
			st->rec_fd = fd;
			st->rec_size = size;
			st->rec_ino = ino;
			if (fstatat(st->containers_fd, st->spare_tmp, &sb, AT_SYMLINK_NOFOLLOW) <
				0 ||
			    sb.st_ino != st->spare_ino)
				spare_drop(st);
			return 0;
		}
		/* Not ours any more (removed from outside), or no RENAME_EXCHANGE: rename. */
		close_reset(&st->rec_fd);
	}
	r = renameat2(st->containers_fd, st->spare_tmp, st->containers_fd, name, RENAME_NOREPLACE);
	if (r < 0 && (errno == EEXIST || errno == EINVAL))
		r = renameat(st->containers_fd, st->spare_tmp, st->containers_fd, name);
	if (r < 0) {
		r = negerrno();
		spare_drop(st);
		return r;
	}
	st->rec_fd = fd;
	st->rec_size = size;
	st->rec_ino = st->spare_ino;
	st->spare_fd = -EBADF;
	return 0;
}

void state_record_forget(struct state *st)
{
	close_reset(&st->rec_fd);
}

/* A file we hold, named name: into a free pool slot (a rename), 0; or -ENOSPC, -errno. */
static int pool_put(struct state *st, const char *name, unsigned first)
{
	for (unsigned k = 0; k < REC_SPARES; k++) {
		unsigned i = (first + k) % REC_SPARES;
		char pooled[REC_SPARE_NAME_MAX];

		spare_name(i, pooled);
		if (renameat2(st->containers_fd, name, st->containers_fd, pooled,
			      RENAME_NOREPLACE) == 0)
			return 0;
		if (errno != EEXIST)
			return negerrno();
	}
	return -ENOSPC;
}

int state_record_retire(struct state *st, const char *name)
{
	struct stat sb;
	int r;

	/*
	 * Our own unsynced version, or a file made for unsynced versions only
	 * (STATE_UNSYNCED_PERM: written by a run before this one, a prepare's
	 * for its cleanup): never synced, so no durable version is in it.
	 */
	if (st->rec_fd < 0 && (fstatat(st->containers_fd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			       !S_ISREG(sb.st_mode) || sb.st_nlink != 1 || sb.st_uid != geteuid() ||
			       (sb.st_mode & 07777) != STATE_UNSYNCED_PERM))
		return -ENOENT;
	r = pool_put(st, name, SLOT_RECORD);
	close_reset(&st->rec_fd);
	return r;
}

void state_spare_release(struct state *st)
{
	close_reset(&st->rec_fd);
	if (st->spare_fd < 0)
		return;
	if (pool_put(st, st->spare_tmp, SLOT_SPARE) < 0)
		unlinkat(st->containers_fd, st->spare_tmp, 0);
	close_reset(&st->spare_fd);
}
