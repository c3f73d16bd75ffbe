/* SPDX-License-Identifier: MIT */
/*
 * Gather the facts policy_check_mountpoint() decides on, for a plugin's
 * Mountpoint answer, as the plugin sees it (DESIGN.md, "The plugin's view of
 * its mountpoint"; issue 9): resolved beneath the plugin process's root
 * without following any symlink, so a plugin cannot point us at /etc through
 * a link it planted, and in bounded time, so a hung volume cannot hang us.
 */
#ifndef DVMOUNT_HELPER_MOUNTPOINT_H
#define DVMOUNT_HELPER_MOUNTPOINT_H

#include "helper/plugin.h"
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
 * Inspect pk->path (ns_peek(): flags, attrs and uid:gid in pk) in the view of
 * the process behind pidfd (-EBADF: ours), the filesystem given timeout_ms
 * (milliseconds) at most, and fill ret_facts (ret_facts->path = pk->path:
 * keep it alive). With NS_PEEK_CHOWN or NS_PEEK_TREE, decide (may be NULL)
 * judges the facts before the chown or the clone, and its negative return
 * is returned. With NS_PEEK_TREE and a directory, pk->tree_fd is the
 * detached tree of exactly what was checked: the caller closes it. A symlink,
 * "..", a missing file or a non-directory is a fact, not an error.
 * Returns 0, or -errno when the facts could not be established (-ETIMEDOUT:
 * the filesystem did not answer; -ESRCH: the plugin's process went away).
 */
int mountpoint_inspect(int pidfd, struct ns_peek *pk, unsigned timeout_ms,
		       int (*decide)(const struct policy_mountpoint_facts *facts, void *userdata),
		       void *userdata, struct policy_mountpoint_facts *ret_facts);

#endif
