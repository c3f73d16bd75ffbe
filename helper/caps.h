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
 * Read the process's capabilities into libcap-ng's state, once per process:
 * later calls return 0 without reading /proc/PID/status again. dvmount
 * changes its capabilities only by capng_apply() of that state (and puts a
 * state back after setresuid/setfsuid, which change them behind it), so the
 * state read once stays the process's. Every use of libcap-ng's state goes
 * through it. Returns 0 or -EPERM (unreadable).
 */
int caps_load(void);

/*
 * The process's effective and permitted sets as the kernel has them now
 * (capget(2): one syscall, no /proc read), as masks of CAPS(). For checking
 * that a capng_apply() took. Returns 0 or -errno of capget.
 */
int caps_get(uint64_t *ret_effective, uint64_t *ret_permitted);

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

/*
 * A setuid-root start gives up uid and gid 0 for good: real, effective,
 * saved and filesystem ids all become the real (caller's) ones, with the
 * capabilities still permitted kept (and effective). Dropping capabilities
 * alone leaves euid and fsuid 0: a process that still owns every root file
 * (/etc/shadow is 0640 root: read and write by owner, no CAP_DAC_OVERRIDE
 * needed) and may signal every root process (kill(2) compares uids). Needs
 * no CAP_SETUID: setresuid(2) lets any process take its real id. Call it once
 * nothing left needs root's identity (prepare: after the state is written).
 * A root caller, or a start with file capabilities (ids are the caller's
 * already), has nothing to give up: 0. Returns 0, or -EPERM when an id or a
 * capability did not come out as asked (the caller must stop).
 */
int caps_leave_root(void);

#endif
