/* SPDX-License-Identifier: MIT */
/*
 * Named debug subsystems, like libmount's LIBMOUNT_DEBUG mask: `--debug` turns
 * all of them on, DVMOUNT_DEBUG=rpc,ns,state (read with secure_getenv, so a
 * setuid run ignores it) picks some. Output goes to stderr, one line each.
 */
#ifndef DVMOUNT_COMMON_DEBUG_H
#define DVMOUNT_COMMON_DEBUG_H

#include "common/macro.h"

enum {
	DEBUG_RPC = 1 << 0,    /* plugin HTTP calls */
	DEBUG_URING = 1 << 1,  /* ring setup and completions */
	DEBUG_NS = 1 << 2,     /* namespaces and mounts */
	DEBUG_STATE = 1 << 3,  /* records, locks */
	DEBUG_POLICY = 1 << 4, /* policy decisions */
	DEBUG_ALL = 0xff,
};

extern unsigned debug_mask;

/* Parse "rpc,ns" or "all" into the mask; unknown names are ignored. */
unsigned debug_parse(const char *list);
void debug_log(const char *subsys, const char *fmt, ...) _printf_(2, 3);

#define debug(flag, subsys, ...)                                                                   \
	do {                                                                                       \
		if (debug_mask & (flag))                                                           \
			debug_log(subsys, __VA_ARGS__);                                            \
	} while (0)

#endif
