/* SPDX-License-Identifier: MIT */
/*
 * Container records: containers/<cid>.json, guarded by containers/<cid>.lock.
 * A record that cannot be read is set aside and reported, and never stops
 * the listing of the others (Mesos aborted the agent's recovery on one).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "common/debug.h"
#include "helper/state/state-internal.h"

#define RECORD_SUFFIX ".json"
#define LOCK_SUFFIX ".lock"

static int file_name(const char *cid, const char *suffix, char name[static STATE_CID_MAX + 8])
{
	int r = state_container_id_valid(cid);

	if (r < 0)
		return r;
	snprintf(name, STATE_CID_MAX + 8, "%s%s", cid, suffix);
	return 0;
}

int state_container_save(struct state *st, const char *cid, json_object *record, unsigned flags)
{
	char name[STATE_CID_MAX + 8];
	int r;

	r = file_name(cid, RECORD_SUFFIX, name);
	if (r < 0)
		return r;
	if (!state_held_container(st, cid))
		return -ENOLCK;
	flags &= STATE_DURABLE | STATE_DATA_SYNC;
	if (flags) {
		/* A synced version: a new file, never a spare (state.h, "Spares"). */
		state_record_forget(st);
		r = state_save_json(st->containers_fd, name, record, flags);
	} else {
		const char *text;
		size_t len;

		r = state_json_text(record, &text, &len);
		if (r == 0)
			r = state_record_write_unsynced(st, name, text, len);
	}
	if (r == 0)
		debug(DEBUG_STATE, "state", "saved container '%s'", cid);
	return r;
}

int state_container_remove(struct state *st, const char *cid)
{
	return state_container_remove_flags(st, cid, STATE_DURABLE);
}

int state_container_remove_flags(struct state *st, const char *cid, unsigned flags)
{
	char name[STATE_CID_MAX + 8];
	int r;

	if (flags & ~STATE_DURABLE)
		return -EINVAL;
	r = file_name(cid, RECORD_SUFFIX, name);
	if (r < 0)
		return r;
	if (!state_held_container(st, cid))
		return -ENOLCK;
	/*
	 * Our own unsynced version, removed unsynced, becomes a spare for the
	 * next container (state.h, "Spares"); anything else goes.
	 */
	if (flags & STATE_DURABLE)
		state_record_forget(st);
	if ((flags & STATE_DURABLE) || state_record_retire(st, name) < 0) {
		if (unlinkat(st->containers_fd, name, 0) < 0 && errno != ENOENT)
			return negerrno();
	}
	if ((flags & STATE_DURABLE) && fsync(st->containers_fd) < 0)
		return negerrno();
	/* Its user entries count no more, even under the volume locks held (user_live). */
	if (!strcmp(st->known_cid, cid))
		st->known_cid[0] = '\0';
	/* The lock file goes at state_unlock_container(), ending the critical section. */
	st->cid_removed = true;
	debug(DEBUG_STATE, "state", "removed container '%s'", cid);
	return 0;
}

/*
 * Does cid have a record, or a quarantined one (whose volumes nobody can
 * tell, so its user entries must keep counting)? Quarantine is empty but
 * for damage from outside: listing it costs nothing in the common case.
 */
bool state_container_known(struct state *st, const char *cid)
{
	char name[STATE_CID_MAX + 8];
	struct dirent *de;
	size_t len;
	bool found = false;
	DIR *d;

	if (file_name(cid, RECORD_SUFFIX, name) < 0)
		return false;
	if (faccessat(st->containers_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return true;
	if (state_opendir(st->quarantine_fd, &d) < 0)
		return true; /* cannot tell: keep counting it */
	len = strlen(name);
	for (unsigned seen = 0; !found && (de = readdir(d)) && seen < STATE_LIST_MAX; seen++)
		found = !strncmp(de->d_name, name, len) && de->d_name[len] == '.';
	closedir(d);
	return found;
}

/* A regular file created by a write without a sync (STATE_UNSYNCED_MODE)? */
static bool unsynced_file(int dirfd, const char *name)
{
	struct stat sb;

	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
	       (sb.st_mode & 07777) == STATE_UNSYNCED_PERM;
}

/* Reads of a record that met a rewrite, retried: each one means a writer made progress. */
#define READ_RETRIES 1000

/*
 * Read the record file name whole. A spare is rewritten in place
 * (state-spare.c) only under LOCK_EX, taken after it stopped being the
 * record: a reader that opened it as the record holds LOCK_SH while it
 * reads, then checks that the name still is that file. So what it read
 * was written before the file got the name (writers write only files no
 * record name points to) and nothing wrote it since.
 */
static int read_record_file(struct state *st, const char *name, char **ret_buf, size_t *ret_len,
			    struct stat *ret_sb)
{
	for (unsigned i = 0; i < READ_RETRIES; i++) {
		_cleanup_close_ int fd = -EBADF;
		_cleanup_free_ char *buf = NULL;
		struct stat sb, nb;
		size_t len;
		int r;

		fd = state_open_record(st->containers_fd, name);
		if (fd < 0)
			return fd;
		if (flock(fd, LOCK_SH | LOCK_NB) < 0) {
			if (errno != EWOULDBLOCK)
				return negerrno();
			continue; /* displaced and being rewritten: the name has another file */
		}
		r = state_read_fd(fd, STATE_RECORD_MAX, &buf, &len, &sb);
		if (r < 0)
			return r;
		if (fstatat(st->containers_fd, name, &nb, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				return negerrno();
			continue; /* removed or displaced since: look again */
		}
		if (nb.st_dev != sb.st_dev || nb.st_ino != sb.st_ino)
			continue;
		*ret_buf = TAKE_PTR(buf);
		*ret_len = len;
		*ret_sb = sb;
		return 0;
	}
	return -EAGAIN;
}

/*
 * A record in a file made for an unsynced version (STATE_UNSYNCED_PERM)
 * that names another container ("container_id", when the record has one):
 * what a power cut can leave of a spare that held another container's
 * record (state.h, "Spares"), whose rewrite did not reach the disk.
 */
static bool foreign_record(json_object *record, const struct stat *sb, const char *name)
{
	json_object *id = json_object_object_get(record, "container_id");
	size_t n = strlen(name) - strlen(RECORD_SUFFIX);
	const char *s;

	if ((sb->st_mode & 07777) != STATE_UNSYNCED_PERM ||
	    !json_object_is_type(id, json_type_string))
		return false;
	s = json_object_get_string(id);
	return strlen(s) != n || strncmp(s, name, n);
}

static int read_record(struct state *st, const char *name, json_object **ret)
{
	_cleanup_free_ char *buf = NULL;
	json_object *record = NULL;
	struct stat sb;
	size_t len;
	int r;

	r = read_record_file(st, name, &buf, &len, &sb);
	if (r == 0)
		r = state_parse_object(buf, len, &record);
	if (r == 0 && foreign_record(record, &sb, name)) {
		json_object_put(record);
		return -ENODATA;
	}
	if (r == -EBADMSG && unsynced_file(st->containers_fd, name))
		return -ENODATA;
	if (r == 0)
		*ret = record;
	return r;
}

int state_container_load(struct state *st, const char *cid, json_object **ret,
			 char ret_qname[STATE_QNAME_MAX])
{
	char name[STATE_CID_MAX + 8], lock[STATE_CID_MAX + 8], qname[STATE_QNAME_MAX] = "";
	_cleanup_close_ int lock_fd = -EBADF;
	bool held;
	int r;

	r = file_name(cid, RECORD_SUFFIX, name);
	if (r < 0)
		return r;
	r = read_record(st, name, ret);
	if (r != -EBADMSG && r != -EFBIG)
		return r;

	/*
	 * Set it aside only under its lock, after reading it again: a writer
	 * may have renamed a good record over the bad one since.
	 */
	held = state_held_container(st, cid);
	if (!held) {
		file_name(cid, LOCK_SUFFIX, lock);
		if (state_flock_container_at(st->containers_fd, lock, true, true, &lock_fd, NULL) <
		    0)
			goto report; /* busy: its owner will see it, or the next recover */
		r = read_record(st, name, ret);
		if (r != -EBADMSG && r != -EFBIG)
			goto unlock;
	}
	if (state_quarantine(st, st->containers_fd, name, name, qname) < 0)
		qname[0] = '\0';
unlock:
	/* Nobody else holds this lock and its record is gone: the lock file goes too. */
	if (lock_fd >= 0 && qname[0])
		unlinkat(st->containers_fd, lock, 0);
report:
	if (ret_qname && r < 0)
		memcpy(ret_qname, qname, strlen(qname) + 1);
	return r;
}

/* ".tmp.<cid>.json.<16 hex>": remove it if no one holds <cid>'s lock. */
static void remove_temp(struct state *st, const char *tmp)
{
	const char *start = tmp + strlen(STATE_TMP_PREFIX);
	const char *dot = strrchr(start, '.');
	char cid[STATE_CID_MAX + 1], lock[STATE_CID_MAX + 8];
	_cleanup_close_ int fd = -EBADF;
	size_t n;
	int r;

	if (!dot || (size_t)(dot - start) < strlen(RECORD_SUFFIX))
		return;
	n = (size_t)(dot - start) - strlen(RECORD_SUFFIX);
	if (n > STATE_CID_MAX || strncmp(start + n, RECORD_SUFFIX, strlen(RECORD_SUFFIX)))
		return;
	memcpy(cid, start, n);
	cid[n] = '\0';
	if (file_name(cid, LOCK_SUFFIX, lock) < 0 || state_held_container(st, cid))
		return;
	/* No lock file means no writer: writers create it before their temp file. */
	r = state_flock_container_at(st->containers_fd, lock, false, true, &fd, NULL);
	if (r < 0 && r != -ENOENT)
		return;
	unlinkat(st->containers_fd, tmp, 0);
}

static bool has_suffix(const char *s, const char *suffix, size_t *ret_stem)
{
	size_t n = strlen(s), m = strlen(suffix);

	if (n <= m || strcmp(s + n - m, suffix))
		return false;
	*ret_stem = n - m;
	return true;
}

/* "<cid>.lock" without a record and without a holder: left by a plain close(). */
static void remove_lock(struct state *st, const char *lock, size_t stem)
{
	char cid[STATE_CID_MAX + 1], name[STATE_CID_MAX + 8];
	_cleanup_close_ int fd = -EBADF;

	if (stem > STATE_CID_MAX)
		return;
	memcpy(cid, lock, stem);
	cid[stem] = '\0';
	if (file_name(cid, RECORD_SUFFIX, name) < 0 || state_held_container(st, cid))
		return;
	if (faccessat(st->containers_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return;
	/* Unlinked while held: a waiter sees that and locks a fresh file. */
	if (state_flock_container_at(st->containers_fd, lock, false, true, &fd, NULL) < 0)
		return;
	if (faccessat(st->containers_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT)
		unlinkat(st->containers_fd, lock, 0);
}

int state_container_list(struct state *st, int (*cb)(const struct state_entry *e, void *userdata),
			 void *userdata)
{
	struct dirent *de;
	unsigned seen = 0;
	int count = 0, r;
	DIR *d;

	r = state_opendir(st->containers_fd, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		char cid[STATE_CID_MAX + 1], qname[STATE_QNAME_MAX] = "";
		json_object *record = NULL;
		struct state_entry e;
		size_t stem;

		if (++seen > STATE_LIST_MAX) {
			r = -E2BIG;
			break;
		}
		if (!strncmp(de->d_name, STATE_TMP_PREFIX, strlen(STATE_TMP_PREFIX))) {
			remove_temp(st, de->d_name);
			continue;
		}
		if (has_suffix(de->d_name, LOCK_SUFFIX, &stem)) {
			remove_lock(st, de->d_name, stem);
			continue;
		}
		if (!has_suffix(de->d_name, RECORD_SUFFIX, &stem) || stem > STATE_CID_MAX)
			continue;
		memcpy(cid, de->d_name, stem);
		cid[stem] = '\0';
		if (state_container_id_valid(cid) < 0)
			continue;

		e.cid = cid;
		e.error = state_container_load(st, cid, &record, qname);
		if (e.error == -ENOENT)
			continue; /* removed since readdir */
		e.record = e.error ? NULL : record;
		e.qname = qname;
		count++;
		r = cb ? cb(&e, userdata) : 0;
		json_object_put(e.record);
		if (r < 0)
			break;
	}
	closedir(d);
	return r < 0 ? r : count;
}
