/* SPDX-License-Identifier: MIT */
/*
 * Gather the facts policy_check_mountpoint() decides on, for a plugin's
 * Mountpoint answer, as the plugin sees it (DESIGN.md, "The plugin's view of
 * its mountpoint"; issue 9): resolved beneath the plugin process's root
 * without following any symlink, so a plugin cannot point us at /etc through
 * a link it planted, and in bounded time, so a hung volume cannot hang us.
 * Which process the plugin is (its pidfd) is helper/plugin/'s to say
 * (plugin_peer_view()); this file knows of the policy only the facts struct
 * it fills, and decides nothing itself.
 */
#ifndef DVMOUNT_NS_MOUNTPOINT_H
#define DVMOUNT_NS_MOUNTPOINT_H

#include "ns/ns.h"
#include "policy/policy.h"

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
int ns_mountpoint_inspect(int pidfd, struct ns_peek *pk, size_t n, unsigned timeout_ms,
			  int (*decide)(const struct policy_mountpoint_facts *facts, size_t i,
					void *userdata),
			  void *userdata, struct policy_mountpoint_facts *ret_facts);

#endif
