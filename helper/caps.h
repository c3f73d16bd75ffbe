/* SPDX-License-Identifier: MIT */
#ifndef DVMOUNT_HELPER_CAPS_H
#define DVMOUNT_HELPER_CAPS_H

#include <linux/capability.h>
#include <stdint.h>

/* A set of capabilities as a mask: CAPS(CAP_CHOWN) | CAPS(CAP_SYS_ADMIN). */
#define CAPS(cap) (UINT64_C(1) << (cap))
/* Everything dvmount keeps after harden_process (DESIGN.md "Privilege"). */
#define CAPS_KEPT                                                                                  \
	(CAPS(CAP_SYS_ADMIN) | CAPS(CAP_SYS_CHROOT) | CAPS(CAP_SYS_PTRACE) |                       \
	 CAPS(CAP_DAC_OVERRIDE) | CAPS(CAP_CHOWN) | CAPS(CAP_AUDIT_WRITE))

/*
 * Drop the capabilities in mask (CAPS()) from the effective and permitted
 * sets for good, at the end of the phase that needed them last (DESIGN.md:
 * "drops each as soon as it is no longer needed"; issue 10 item 4). phase
 * names the point, for the test build: built with DVMOUNT_TEST_PAUSE, the
 * process stops itself there (SIGSTOP, its comm set to phase) when the
 * environment it started with had DVMOUNT_PAUSE_AT=phase or =all, so that a
 * test reads CapEff and CapPrm from /proc/PID/status; the attach child stops
 * likewise at "attach-child" (ns_child_pause_hook). A process without
 * capabilities has nothing to drop: 0. Returns 0 or -EPERM (the drop did
 * not take: the caller must stop).
 */
int caps_drop(const char *phase, uint64_t mask);

#endif
