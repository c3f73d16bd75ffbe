/* SPDX-License-Identifier: MIT */
/*
 * Gather the facts policy_check_mountpoint() decides on, for a plugin's
 * Mountpoint answer: resolved from "/" without following any symlink, so a
 * plugin cannot point us at /etc through a link it planted.
 */
#ifndef DVMOUNT_HELPER_MOUNTPOINT_H
#define DVMOUNT_HELPER_MOUNTPOINT_H

#include "policy/policy.h"

/*
 * Fill ret_facts for PATH (ret_facts->path = PATH: keep it alive). A symlink,
 * "..", a missing file or a non-directory is a fact, not an error. When
 * ret_fd is not NULL and PATH resolved to a directory, *ret_fd is an O_PATH
 * fd on it (else -EBADF), so the caller attaches exactly what was checked
 * (open_tree(fd, "", AT_EMPTY_PATH | OPEN_TREE_CLONE ...)).
 * Returns 0, or -errno when the facts could not be established.
 */
int mountpoint_inspect(const char *path, struct policy_mountpoint_facts *ret_facts, int *ret_fd);

#endif
