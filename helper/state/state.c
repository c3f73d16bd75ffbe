/* SPDX-License-Identifier: MIT */
/*
 * The state dir itself: opening and checking it, names and keys, atomic
 * durable files, and the quarantine for records that cannot be read.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <uuid/uuid.h>
#include <time.h>

#include "common/debug.h"
#include "common/fileio.h"
#include "helper/state/state-internal.h"

static const char *const subdirs[] = { "containers", "volumes", "quarantine" };

/* Owned by root or us, and nobody else may write into it. */
static int check_owner_mode(int fd)
{
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return negerrno();
	if (!S_ISDIR(sb.st_mode))
		return -ENOTDIR;
	if (sb.st_uid != 0 && sb.st_uid != geteuid())
		return -EPERM;
	if (sb.st_mode & (S_IWGRP | S_IWOTH))
		return -EPERM;
	return 0;
}

/* Create (0700) and open a directory below dirfd; *ret_created tells whether it was new. */
static int open_subdir(int dirfd, const char *name, bool *ret_created, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	bool created = true;
	int r;

	if (mkdirat(dirfd, name, 0700) < 0) {
		if (errno != EEXIST)
			return negerrno();
		created = false;
	}
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : negerrno();
	r = check_owner_mode(fd);
	if (r < 0)
		return r;
	*ret_created = created;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	if (st->vlocks)
		state_release_locks(st->vlocks);
	state_spare_release(st);
	closep(&st->dir_fd);
	closep(&st->containers_fd);
	closep(&st->volumes_fd);
	closep(&st->quarantine_fd);
	free(st);
}

void state_closep(struct state **st)
{
	state_close(*st);
	*st = NULL;
}

int state_open(const char *dir, struct state **ret)
{
	_cleanup_state_ struct state *st = NULL;
	_cleanup_close_ int fd = -EBADF;
	bool created = false, sub_created;
	struct stat sb;
	int *fds[3];
	int r;

	if (!dir || !*dir)
		return -EINVAL;
	if (lstat(dir, &sb) < 0) {
		if (errno != ENOENT)
			return negerrno();
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return negerrno();
		created = true;
	} else if (S_ISLNK(sb.st_mode)) {
		/* A symlink could be swapped to point the store anywhere. */
		return -EPERM;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -EPERM : negerrno();
	r = check_owner_mode(fd);
	if (r < 0)
		return r;

	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->dir_fd = TAKE_FD(fd);
	st->containers_fd = st->volumes_fd = st->quarantine_fd = st->cid_fd = -EBADF;
	st->rec_fd = st->spare_fd = -EBADF;
	fds[0] = &st->containers_fd;
	fds[1] = &st->volumes_fd;
	fds[2] = &st->quarantine_fd;
	for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
		r = open_subdir(st->dir_fd, subdirs[i], &sub_created, fds[i]);
		if (r < 0)
			return r;
		created |= sub_created;
	}
	if (created && fsync(st->dir_fd) < 0)
		return negerrno();
	debug(DEBUG_STATE, "state", "opened '%s'", dir);
	*ret = TAKE_PTR(st);
	return 0;
}

int state_slot_dir(struct state *st, int *ret_fd)
{
	bool created;

	/* Lock files only, never fsync()ed: a lost one is recreated empty. */
	return open_subdir(st->dir_fd, "slots", &created, ret_fd);
}

int state_container_id_valid(const char *cid)
{
	size_t n;

	if (!cid)
		return -EINVAL;
	n = strspn(cid, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-");
	if (n == 0 || n > STATE_CID_MAX || cid[n] || cid[0] == '.')
		return -EINVAL;
	return 0;
}

static bool key_byte_plain(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-';
}

/* Appends the encoding of s at *pos; -ENAMETOOLONG when it does not fit a key. */
static int key_append(char *key, size_t *pos, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		size_t need = key_byte_plain(*p) ? 1 : 3;

		if (*pos + need > STATE_KEY_MAX - 1)
			return -ENAMETOOLONG;
		if (need == 1) {
			key[(*pos)++] = (char)*p;
		} else {
			key[(*pos)++] = '%';
			key[(*pos)++] = hex[*p >> 4];
			key[(*pos)++] = hex[*p & 0xf];
		}
	}
	return 0;
}

/*
 * The derived key of a name too long to spell out: "h-" and the 32 hex digits
 * of the name-based (SHA-1, RFC 4122 version 5) UUID of "driver\0name". It
 * never contains '@', so it never equals a spelled-out key.
 */
static int key_hashed(const char *driver, const char *name, char ret_key[static STATE_KEY_MAX])
{
	/* A fixed namespace of dvmount's own: keys stay the same across hosts and versions. */
	static const uuid_t ns = { 0x6b, 0x1e, 0x0c, 0x5d, 0x3a, 0x27, 0x4f, 0x4e,
				   0x9d, 0x41, 0x64, 0x76, 0x6d, 0x6f, 0x75, 0x6e };
	size_t dl = strlen(driver), nl = strlen(name);
	_cleanup_free_ char *both = malloc(dl + nl + 2);
	uuid_t u;

	if (!both)
		return -ENOMEM;
	memcpy(both, driver, dl + 1);
	memcpy(both + dl + 1, name, nl + 1);
	uuid_generate_sha1(u, ns, both, dl + nl + 1);
	snprintf(ret_key, STATE_KEY_MAX, "h-");
	for (size_t i = 0; i < sizeof(u); i++)
		snprintf(ret_key + 2 + 2 * i, STATE_KEY_MAX - 2 - 2 * i, "%02x", u[i]);
	return 0;
}

int state_volume_key(const char *driver, const char *name, char ret_key[static STATE_KEY_MAX])
{
	char key[STATE_KEY_MAX];
	size_t pos = 0;
	int r;

	if (!driver || !name || !*driver || !*name)
		return -EINVAL;
	if (strlen(driver) > STATE_NAME_MAX || strlen(name) > STATE_NAME_MAX)
		return -ENAMETOOLONG;
	/* '@' is never plain, so the one literal '@' splits the key back uniquely. */
	r = key_append(key, &pos, driver);
	if (r == 0 && pos + 1 > STATE_KEY_MAX - 1)
		r = -ENAMETOOLONG;
	if (r == 0) {
		key[pos++] = '@';
		r = key_append(key, &pos, name);
	}
	/* Long names, and short ones that percent-encoding makes long (UTF-8). */
	if (r == -ENAMETOOLONG)
		return key_hashed(driver, name, ret_key);
	if (r < 0)
		return r;
	key[pos] = '\0';
	memcpy(ret_key, key, pos + 1);
	return 0;
}

int state_volume_is(json_object *volume, const char *driver, const char *name)
{
	json_object *d = json_object_object_get(volume, "driver");
	json_object *n = json_object_object_get(volume, "name");

	if (!json_object_is_type(d, json_type_string) || !json_object_is_type(n, json_type_string))
		return -EBADMSG;
	if (strcmp(json_object_get_string(d), driver) || strcmp(json_object_get_string(n), name))
		return -EEXIST;
	return 0;
}

/* A name state_write_atomic() may replace: one plain component, not a temp name. */
static int check_name(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n == 0 || name[0] == '.' || strchr(name, '/'))
		return -EINVAL;
	/* Room for ".tmp.<name>.<16 hex>" within NAME_MAX. */
	if (n > NAME_MAX - strlen(STATE_TMP_PREFIX) - 17)
		return -ENAMETOOLONG;
	return 0;
}

int state_write_atomic(int dirfd, const char *name, const void *buf, size_t len)
{
	return state_write_atomic_at(dirfd, name, buf, len, STATE_DURABLE);
}

int state_write_temp(int dirfd, const char *name, const void *buf, size_t len, unsigned flags,
		     char ret_tmp[static NAME_MAX + 1])
{
	_cleanup_close_ int fd = -EBADF;
	char tmp[NAME_MAX + 1];
	unsigned long long rnd;
	int r;

	r = check_name(name);
	if (r < 0)
		return r;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		return negerrno();
	snprintf(tmp, sizeof(tmp), STATE_TMP_PREFIX "%s.%016llx", name, rnd);

	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    flags & STATE_UNSYNCED_MODE ? STATE_UNSYNCED_PERM : 0600);
	if (fd < 0)
		return negerrno();
	r = write_fd_all(fd, buf, len);
	/*
	 * Without this sync a crash after the rename can leave an empty file
	 * (MESOS-9507; ext4 noauto_da_alloc, XFS). STATE_DATA_SYNC: the data
	 * only, for a rewrite of a durable version (state.h): losing the rename
	 * keeps the old version, so the directory needs no fsync.
	 */
	if (r == 0 && (flags & STATE_DURABLE))
		r = fsync(fd) < 0 ? negerrno() : 0;
	else if (r == 0 && (flags & STATE_DATA_SYNC))
		r = fdatasync(fd) < 0 ? negerrno() : 0;
	if (r < 0) {
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	memcpy(ret_tmp, tmp, sizeof(tmp));
	return 0;
}

int state_write_atomic_at(int dirfd, const char *name, const void *buf, size_t len, unsigned flags)
{
	char tmp[NAME_MAX + 1];
	int r;

	r = state_write_temp(dirfd, name, buf, len, flags, tmp);
	if (r < 0)
		return r;
	if (renameat(dirfd, tmp, dirfd, name) < 0) {
		r = negerrno();
		unlinkat(dirfd, tmp, 0);
		return r;
	}
	if ((flags & STATE_DURABLE) && fsync(dirfd) < 0)
		return negerrno();
	return 0;
}

int state_read_file(int dirfd, const char *name, size_t max_size, char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;

	fd = state_open_record(dirfd, name);
	if (fd < 0)
		return fd;
	return state_read_fd(fd, max_size, ret_buf, ret_len, NULL);
}

int state_open_record(int dirfd, const char *name)
{
	/* O_NONBLOCK: a FIFO planted under a record name must not hang recovery. */
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return errno == ELOOP ? -EBADMSG : negerrno();
	return fd;
}

int state_read_fd(int fd, size_t max_size, char **ret_buf, size_t *ret_len, struct stat *ret_sb)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap;
	struct stat sb;

	if (fstat(fd, &sb) < 0)
		return negerrno();
	if (!S_ISREG(sb.st_mode))
		return -EBADMSG;
	if ((unsigned long long)sb.st_size > max_size)
		return -EFBIG;
	/* Read one byte past the limit: the size may have changed since fstat. */
	cap = (size_t)sb.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + len, cap - len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return negerrno();
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > max_size)
			return -EFBIG;
		/*
		 * Files here are replaced by rename, and a record's spare is
		 * rewritten only while no reader holds it (state-spare.c): all
		 * that fstat saw has been read, and a short read of a regular
		 * file is its end. No read to see EOF (issue 11: one syscall
		 * per volume entry and record).
		 */
		if (len == (size_t)sb.st_size && len < cap)
			break;
		if (len == cap) {
			char *nbuf;

			cap = MIN(cap * 2, max_size + 1);
			nbuf = realloc(buf, cap + 1);
			if (!nbuf)
				return -ENOMEM;
			buf = nbuf;
		}
	}
	buf[len] = '\0';
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	if (ret_sb)
		*ret_sb = sb;
	return 0;
}

static void json_putp(json_object **o)
{
	json_object_put(*o);
}

int state_parse_object(const char *buf, size_t len, json_object **ret)
{
	_cleanup_(json_putp) json_object *obj = NULL;
	json_tokener *tok;
	size_t end;

	/* An empty file is what a hard reboot leaves behind (MESOS-9507). */
	if (len == 0 || len > STATE_RECORD_MAX || strlen(buf) != len)
		return -EBADMSG;
	tok = json_tokener_new();
	if (!tok)
		return -ENOMEM;
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		return -EBADMSG;
	}
	json_tokener_free(tok);
	/* Trailing bytes mean two writes were mixed up: not the record we wrote. */
	if (end < len && buf[end + strspn(buf + end, " \t\r\n")])
		return -EBADMSG;
	if (!json_object_is_type(obj, json_type_object))
		return -EBADMSG;
	*ret = TAKE_PTR(obj);
	return 0;
}

int state_json_text(json_object *obj, const char **ret_text, size_t *ret_len)
{
	const char *text;
	size_t len;

	if (!json_object_is_type(obj, json_type_object))
		return -EINVAL;
	/*
	 * '/' unescaped: records and entries are mostly paths, and escaping each
	 * '/' as "\/" was a fifth of json-c's time in a 64-volume prepare
	 * (issue 11). A JSON parser reads both forms: records and entries
	 * written escaped by older versions load the same.
	 */
	text = json_object_to_json_string_length(
	    obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
	if (!text)
		return -ENOMEM;
	if (len > STATE_RECORD_MAX)
		return -EFBIG;
	*ret_text = text;
	*ret_len = len;
	return 0;
}

int state_save_json(int dirfd, const char *name, json_object *obj, unsigned flags)
{
	const char *text;
	size_t len;
	int r = state_json_text(obj, &text, &len);

	return r < 0 ? r : state_write_atomic_at(dirfd, name, text, len, flags);
}

int state_save_json_temp(int dirfd, const char *name, json_object *obj,
			 char ret_tmp[static NAME_MAX + 1])
{
	const char *text;
	size_t len;
	int r = state_json_text(obj, &text, &len);

	return r < 0 ? r : state_write_temp(dirfd, name, text, len, 0, ret_tmp);
}

int state_quarantine(struct state *st, int dirfd, const char *name, const char *origin,
		     char ret_qname[static STATE_QNAME_MAX])
{
	char qname[STATE_QNAME_MAX];
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	for (unsigned i = 0; i < 100; i++) {
		/* The origin is cut to keep the name within NAME_MAX; the time keeps it unique. */
		snprintf(qname, sizeof(qname), "%.200s.%lld.%09ld%s%.0u", origin,
			 (long long)ts.tv_sec, ts.tv_nsec, i ? "-" : "", i);
		if (renameat2(dirfd, name, st->quarantine_fd, qname, RENAME_NOREPLACE) == 0) {
			if (fsync(st->quarantine_fd) < 0 || fsync(dirfd) < 0)
				return negerrno();
			debug(DEBUG_STATE, "state", "quarantined '%s' as '%s'", origin, qname);
			memcpy(ret_qname, qname, strlen(qname) + 1);
			return 0;
		}
		if (errno != EEXIST)
			return negerrno();
	}
	return -EEXIST;
}

int state_dir_scan(int fd, bool rewind, unsigned max, int (*cb)(const char *name, void *userdata),
		   void *userdata)
{
	/* Aligned for struct dirent64, which getdents64 fills. */
	char buf[16384] __attribute__((aligned(8)));
	unsigned seen = 0;
	ssize_t len;
	int r;

	if (rewind && lseek(fd, 0, SEEK_SET) < 0)
		return negerrno();
	while ((len = getdents64(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t off = 0; off < len;) {
			struct dirent64 *de = (struct dirent64 *)(buf + off);

			off += de->d_reclen;
			if (++seen > max)
				return -E2BIG;
			r = cb(de->d_name, userdata);
			if (r < 0)
				return r;
		}
	}
	return len < 0 ? negerrno() : 0;
}

static int remove_temp(const char *name, void *userdata)
{
	int dirfd = *(int *)userdata;

	if (!strncmp(name, STATE_TMP_PREFIX, strlen(STATE_TMP_PREFIX)))
		unlinkat(dirfd, name, 0);
	return 0;
}

int state_remove_temps(int dirfd)
{
	/* On dirfd itself: it runs for every locked volume (state_dir_scan). */
	int r = state_dir_scan(dirfd, true, STATE_LIST_MAX, remove_temp, &dirfd);

	/* Past the bound the rest stays for the next lock holder, as before. */
	return r == -E2BIG ? 0 : r;
}

int state_opendir(int dirfd, DIR **ret)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return negerrno();
	d = fdopendir(fd);
	if (!d) {
		int r = negerrno();

		close(fd);
		return r;
	}
	*ret = d;
	return 0;
}

int state_quarantine_list(struct state *st, int (*cb)(const char *name, void *userdata),
			  void *userdata)
{
	struct dirent *de;
	unsigned seen = 0;
	int count = 0, r;
	DIR *d;

	r = state_opendir(st->quarantine_fd, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d))) {
		if (++seen > STATE_LIST_MAX) {
			r = -E2BIG;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		count++;
		if (cb) {
			r = cb(de->d_name, userdata);
			if (r < 0)
				break;
		}
	}
	closedir(d);
	return r < 0 ? r : count;
}
