/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <linux/close_range.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/macro.h"

/* The first buffer for what fstat cannot size (a pipe, stdin): most specs fit. */
#define READ_FIRST_GUESS 4096

int read_fd_bounded(int fd, size_t max, char **ret_buf, size_t *ret_len)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, size;
	struct stat st;

	/*
	 * Sized for what the file holds (plus the byte that shows its end) and
	 * grown if it grows, never beyond max + 1: a 1 MiB limit was 1 MiB
	 * allocated, mapped and unmapped for every policy or spec read (issue
	 * 11: fixed cost).
	 */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 0 &&
	    (uintmax_t)st.st_size < max)
		size = (size_t)st.st_size + 1;
	else
		size = READ_FIRST_GUESS;
	size = MIN(size, max + 1);
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len == size) {
			/* Full, yet len <= max (checked below): room for one more byte. */
			char *bigger;

			size = size > (max + 1) / 2 ? max + 1 : size * 2;
			bigger = realloc(buf, size + 1);
			if (!bigger)
				return -ENOMEM;
			buf = bigger;
		}
		/* One byte more than allowed: that is how "too large" shows. */
		n = read(fd, buf + len, size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negerrno();
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max)
			return -EFBIG;
	}
	buf[len] = '\0';
	*ret_len = len;
	*ret_buf = TAKE_PTR(buf);
	return 0;
}

int write_fd_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negerrno();
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

void close_many(int *fds, size_t n)
{
	size_t i = 0;

	qsort(fds, n, sizeof(*fds), cmp_int);
	while (i < n && fds[i] < 0)
		fds[i++] = -EBADF;
	while (i < n) {
		size_t j = i;

		while (j + 1 < n && fds[j + 1] == fds[j] + 1)
			j++;
		if (j == i || close_range((unsigned)fds[i], (unsigned)fds[j], 0) < 0)
			for (size_t k = i; k <= j; k++)
				close(fds[k]);
		for (; i <= j; i++)
			fds[i] = -EBADF;
	}
}
