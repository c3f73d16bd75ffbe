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

/*
 * Close every fd of fds[0..n) that is not negative, with one close_range
 * (Linux 5.9) per run of consecutive fd numbers instead of one close each
 * (issue 11: a 64-volume prepare closed its 320 lock, tree and target fds
 * one by one). Only numbers listed are closed, never the gaps between them:
 * the caller owns every fd it lists, and each at most once. Sorts fds in
 * place and sets every entry to -EBADF. Where close_range fails (a kernel
 * before 5.9: -ENOSYS), the run is closed one by one.
 */
void close_many(int *fds, size_t n);

#endif
