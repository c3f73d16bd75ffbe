/* SPDX-License-Identifier: MIT */
/*
 * Host-wide call slots on flock()s (helper/plugin/plugin-internal.h).
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "common/macro.h"
#include "helper/plugin/plugin-internal.h"

/*
 * "<prefix>@<driver>", bytes outside [A-Za-z0-9._-] as %XX: injective, one
 * path component. The prefix is a slot number or "wait".
 */
static int file_name(const char *prefix, const char *driver, char ret[static 256])
{
	static const char hex[] = "0123456789ABCDEF";
	size_t off = (size_t)snprintf(ret, 256, "%s@", prefix);

	for (const unsigned char *p = (const unsigned char *)driver; *p; p++) {
		bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-';

		if (off + (plain ? 1 : 3) >= 256)
			return -ENAMETOOLONG;
		if (plain) {
			ret[off++] = (char)*p;
		} else {
			ret[off++] = '%';
			ret[off++] = hex[*p >> 4];
			ret[off++] = hex[*p & 15];
		}
	}
	ret[off] = '\0';
	return 0;
}

int plugin_slots_take(int dirfd, const char *driver, unsigned limit, size_t want,
		      struct plugin_slots *s)
{
	limit = MIN(limit, (unsigned)PLUGIN_SLOT_MAX);
	want = MIN(want, (size_t)limit);
	if (dirfd < 0) {
		/* No shared directory: the limit holds within this process only. */
		while (s->n < want)
			s->fds[s->n++] = -EBADF;
		return (int)s->n;
	}
	/* Try every slot once, from 0: a free one is found in one pass. */
	for (unsigned i = 0; i < limit && s->n < want; i++) {
		_cleanup_close_ int fd = -EBADF;
		char name[256];
		int r;

		char num[16];

		snprintf(num, sizeof(num), "%u", i);
		r = file_name(num, driver, name);
		if (r < 0)
			return r;
		fd =
		    openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
		if (fd < 0)
			return negerrno();
		/*
		 * flock() belongs to the open file description: a slot this
		 * process holds already (through another fd) refuses this one too.
		 */
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			if (errno == EWOULDBLOCK || errno == EINTR)
				continue;
			return negerrno();
		}
		s->fds[s->n++] = TAKE_FD(fd);
	}
	return (int)s->n;
}

void plugin_slots_release(struct plugin_slots *s)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->fds[i] >= 0)
			close(s->fds[i]);
	s->n = 0;
}

static int open_wait_file(int dirfd, const char *driver)
{
	char name[256];
	int r = file_name("wait", driver, name);

	if (r < 0)
		return r;
	r = openat(dirfd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	return r < 0 ? negerrno() : r;
}

int plugin_slots_wait_mark(int dirfd, const char *driver, int *fd)
{
	_cleanup_close_ int f = -EBADF;

	if (dirfd < 0 || *fd >= 0)
		return 0;
	f = open_wait_file(dirfd, driver);
	if (f < 0)
		return f;
	if (flock(f, LOCK_SH | LOCK_NB) < 0)
		return errno == EWOULDBLOCK || errno == EINTR ? 0 : negerrno();
	*fd = TAKE_FD(f);
	return 0;
}

int plugin_slots_others_wait(int dirfd, const char *driver)
{
	_cleanup_close_ int f = -EBADF;

	if (dirfd < 0)
		return 0;
	f = open_wait_file(dirfd, driver);
	if (f < 0)
		return f;
	/* Exclusive is refused while any waiter holds its shared mark; dropped on close. */
	if (flock(f, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? 1 : errno == EINTR ? 0 : negerrno();
	return 0;
}
