/* SPDX-License-Identifier: MIT */
#ifndef DVMOUNT_COMMON_FILEIO_H
#define DVMOUNT_COMMON_FILEIO_H

#include <stddef.h>

/*
 * Read fd to its end into a NUL-terminated buffer of at most max bytes:
 * -EFBIG beyond, -errno on a read error (EINTR retried). *ret_buf is the
 * caller's to free, written only on success.
 */
int read_fd_bounded(int fd, size_t max, char **ret_buf, size_t *ret_len);

#endif
