/* SPDX-License-Identifier: MIT */
#ifndef DVMOUNT_COMMON_FILEIO_H
#define DVMOUNT_COMMON_FILEIO_H

#include <stddef.h>

/*
 * Read fd (a file, a pipe, a socket) to its end into a NUL-terminated buffer
 * of at most max bytes (the NUL not counted): 0 with the buffer in *ret_buf
 * (the caller's to free) and its length in *ret_len, both written only on
 * success; -EFBIG: more than max bytes; -ENOMEM; -errno of a read (EINTR
 * retried). The buffer is sized by fstat for a regular file and grown as
 * the data comes, so a small input costs a small buffer whatever max is.
 */
int read_fd_bounded(int fd, size_t max, char **ret_buf, size_t *ret_len);

/*
 * Write all len bytes of buf to fd, retrying short writes and EINTR: 0, or
 * -errno of the write that failed (what came before it is written).
 */
int write_fd_all(int fd, const void *buf, size_t len);

#endif
