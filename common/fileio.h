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

/*
 * Write all len bytes of buf to fd, retrying short writes and EINTR: 0, or
 * -errno of the write that failed (what came before it is written).
 */
int write_fd_all(int fd, const void *buf, size_t len);

#endif
