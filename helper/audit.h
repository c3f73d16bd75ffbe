/* SPDX-License-Identifier: MIT */
#ifndef DVMOUNT_HELPER_AUDIT_H
#define DVMOUNT_HELPER_AUDIT_H

#include "common/macro.h"

/*
 * One AUDIT_TRUSTED_APP record through the kernel's audit netlink socket
 * (libnl-3): what an operator's audit trail shows of each prepare and cleanup.
 * Best effort: without CAP_AUDIT_WRITE, outside the initial user namespace or
 * with audit off, the record is dropped; returns 0 or -errno for debugging.
 */
int audit_log(const char *fmt, ...) _printf_(1, 2);

#endif
