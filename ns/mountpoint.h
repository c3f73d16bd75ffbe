/* SPDX-License-Identifier: MIT */
/*
 * Gather the facts policy_check_mountpoint() decides on, for a plugin's
 * Mountpoint answer, as the plugin sees it (DESIGN.md, "The plugin's view of
 * its mountpoint"; issue 9): resolved beneath the plugin process's root
 * without following any symlink, so a plugin cannot point us at /etc through
 * a link it planted, and in bounded time, so a hung volume cannot hang us.
 */
#ifndef DVMOUNT_NS_MOUNTPOINT_H
#define DVMOUNT_NS_MOUNTPOINT_H

#include "helper/plugin/plugin.h"
#include "ns/ns.h"
#include "policy/policy.h"

/*
 * A pidfd on the process listening on DRIVER's unix socket (SO_PEERCRED,
 * plugin_peer()), its pid and start time (for ns_pidfd_open() later); for a
 * TCP plugin -EBADF, 0 and 0: there our own view is the only one. Returns 0, or
 * -ESRCH when the listener cannot be seen from here (another pid namespace)
 * or has gone: its mounts then cannot be told from what we see, and nothing
 * may be attached; the activation's -errno.
 */
int mountpoint_plugin_view(struct plugin_client *pc, const char *driver, int *ret_pidfd,
			   pid_t *ret_pid, unsigned long long *ret_start);

/*
 * Inspect pk[i].path for i < n (ns_peek(): flags, attrs and uid:gid in pk) in
 * the view of the process behind pidfd (-EBADF: ours), the filesystems given
 * timeout_ms (milliseconds) at most for the whole batch, and fill
 * ret_facts[i] (its path is pk[i].path: keep it alive). With NS_PEEK_CHOWN or
 * NS_PEEK_TREE, decide(facts, i) (may be NULL) judges a directory's facts
 * before its chown or clone; its negative return becomes pk[i].result. With
 * NS_PEEK_TREE, pk[i].tree_fd is the detached tree of exactly what was
 * checked: the caller closes it. A symlink, "..", a missing file or a
 * non-directory is a fact, not an error. Returns 0 (each pk[i].result then
 * says how that path went), or -errno for the whole batch (-ETIMEDOUT: a
 * filesystem did not answer; -ESRCH: the plugin's process went away;
 * -EINVAL: a relative path).
 */
int mountpoint_inspect(int pidfd, struct ns_peek *pk, size_t n, unsigned timeout_ms,
		       int (*decide)(const struct policy_mountpoint_facts *facts, size_t i,
				     void *userdata),
		       void *userdata, struct policy_mountpoint_facts *ret_facts);

#endif
