/* SPDX-License-Identifier: MIT */
#ifndef DVMOUNT_HELPER_HARDEN_H
#define DVMOUNT_HELPER_HARDEN_H

#include <stdbool.h>

/*
 * The setuid habits (util-linux mount, fusermount3, bubblewrap): make sure fds
 * 0-2 are open, a fixed umask, an empty environment for a caller that is not
 * root, no_new_privs, not dumpable, and only the capabilities dvmount uses
 * (DESIGN.md "Privilege"), in the bounding set too. Returns 0 or -errno.
 */
int harden_process(bool *ret_caller_is_root);

#endif
