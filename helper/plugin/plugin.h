/* SPDX-License-Identifier: MIT */
/*
 * The Docker Volume Plugin client (VolumeDriver API, facts/plugin-protocol.md):
 * discovery as the engine does it, activation once per plugin per process,
 * the engine's error rule, and the mount sequence that works with both plugin
 * generations. Every batch of calls runs at once on the uring/ engine.
 *
 * helper/plugin/ owns talking to plugins: discovery, activation, the calls
 * and their answers, the host-wide call slots, and which process serves a
 * plugin. It must not know the commands, the lifecycle, the state records or
 * the policy's decisions: it includes only its own headers, common/, ns/ and
 * uring/ (make layers-check), and never prints (errors come back as -errno
 * and the request's words). This header is the directory's only public one;
 * plugin-internal.h is for its own files.
 */
#ifndef DVMOUNT_HELPER_PLUGIN_PLUGIN_H
#define DVMOUNT_HELPER_PLUGIN_PLUGIN_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "uring/rpc.h"

/* The most call slots one plugin can have (policy/policy.h POLICY_MAX_IN_FLIGHT). */
#define PLUGIN_SLOT_MAX 256

enum plugin_method {
	PLUGIN_CREATE,
	PLUGIN_REMOVE,
	PLUGIN_MOUNT,
	PLUGIN_UNMOUNT,
	PLUGIN_PATH,
	PLUGIN_GET,
	PLUGIN_LIST,
	PLUGIN_CAPABILITIES,
};

struct plugin_opt {
	const char *key;
	const char *value;
};

/* Split "KEY=VALUE" in place; the value keeps any further '='. */
int plugin_opt_parse(char *kv, struct plugin_opt *ret);

#define PLUGIN_ERR_MAX 512

struct plugin_req {
	/* in */
	const char *driver;
	enum plugin_method method;
	const char *name;
	const char *id; /* Mount/Unmount ID; NULL sends none (as dvdcli) */
	const struct plugin_opt *opts;
	size_t n_opts;

	/*
	 * out: result 0, or -errno: -EREMOTEIO when the plugin answered an error
	 * (its text in err; for Get also a 200 without a volume: "no such volume"),
	 * -ENOENT/-ECONNREFUSED when the plugin is absent, -ETIMEDOUT, -EBADMSG for an answer that
	 * is not the protocol, -EBUSY when no call slot came free in time (the call was never
	 * sent). err always says what happened, naming plugin, endpoint and volume.
	 */
	int result;
	int status;	  /* HTTP status, 0 if none arrived */
	bool unsupported; /* 404: the plugin lacks this endpoint (pre-1.10 plugins) */
	bool sent;	  /* went to the plugin (false: failed before, as a slot wait) */
	char err[PLUGIN_ERR_MAX];
	char *mountpoint;   /* Mount, Path, Get */
	json_object *reply; /* the decoded answer */
};

void plugin_req_clear(struct plugin_req *r);

struct plugin_config {
	const char *plugin_path; /* colon-separated dirs; NULL: the engine's */
	unsigned retry_ms;	 /* total wait for an absent plugin */
	unsigned timeout_mount_ms;
	unsigned timeout_other_ms;
	bool no_uring;
	/*
	 * Called with the uid of the process listening on the plugin's unix
	 * socket (SO_PEERCRED on each connection, before anything is sent), or
	 * for a TCP plugin with the owner of its spec file before connecting;
	 * a negative return refuses the plugin (-EACCES) with the text in why.
	 */
	int (*check_owner)(const char *driver, uid_t owner, char *why, size_t why_len,
			   void *userdata);
	void *check_userdata;
	/*
	 * When not NULL: called once per plugin when it is absent or refusing
	 * (socket missing, ECONNREFUSED) and the client starts waiting for it,
	 * up to retry_ms in total, with the engine's back-off; why is the
	 * activation error (its lifetime: the call). A caller that prints
	 * uses it to say that it waits rather than hangs silently.
	 */
	void (*on_wait)(const char *driver, const char *why, unsigned retry_ms, void *userdata);
	void *wait_userdata;
	/*
	 * Create, Remove, Mount and Unmount calls in flight to one plugin at
	 * once (DESIGN.md "Plugin calls in flight"): max_in_flight for every
	 * plugin when not 0 (the --max-in-flight flag); else what
	 * max_in_flight_for says for the driver (the policy's max-in-flight);
	 * else 1, what the Docker engine does and what rclone's plugin survives.
	 * Capped at PLUGIN_SLOT_MAX. Read-only calls are never limited.
	 */
	unsigned max_in_flight;
	unsigned (*max_in_flight_for)(const char *driver, void *userdata);
	void *limit_userdata;
};

struct plugin_client;

int plugin_client_new(const struct plugin_config *cfg, struct plugin_client **ret);
void plugin_client_free(struct plugin_client *pc);
static inline void plugin_client_freep(struct plugin_client **pc)
{
	plugin_client_free(*pc);
}
bool plugin_client_uses_uring(const struct plugin_client *pc);
void plugin_client_set_owner_check(struct plugin_client *pc,
				   int (*check)(const char *driver, uid_t owner, char *why,
						size_t why_len, void *userdata),
				   void *userdata);

/*
 * Count the call slots host-wide: DIRFD (borrowed; the client keeps a dup of
 * it) holds one lock file per slot (helper/plugin/plugin-internal.h), shared by every
 * dvmount process using the same state dir. Without it the limit holds within
 * this client only. Returns 0 or -errno from fcntl(F_DUPFD_CLOEXEC).
 */
int plugin_client_set_slot_dir(struct plugin_client *pc, int dirfd);

/* Where a plugin's socket or spec was found (for messages and tests). */
int plugin_address(struct plugin_client *pc, const char *driver, const char **ret_addr);

/*
 * The pid of the process listening on DRIVER's unix socket, as SO_PEERCRED
 * told at the last connection (activating the plugin first if needed), for
 * opening its Mountpoints in its own mount namespace (DESIGN.md, "The
 * plugin's view of its mountpoint"). *ret_pid is 0 when the listener is in a
 * pid namespace we cannot see, or (SO_PEERPIDFD tells) has exited and been
 * reaped. *ret_pidfd is a new pidfd (O_CLOEXEC; the
 * caller closes it) on that very process from SO_PEERPIDFD (Linux 6.5), or
 * -EBADF on an older kernel: while it is alive, *ret_pid is still that
 * process's and not a reused number's. Returns 0; -EAFNOSUPPORT for a TCP
 * plugin (there is no peer process to ask); the activation's -errno
 * otherwise.
 */
int plugin_peer(struct plugin_client *pc, const char *driver, pid_t *ret_pid, int *ret_pidfd);

/*
 * A pidfd on the process listening on DRIVER's unix socket (SO_PEERCRED,
 * plugin_peer()), its pid and start time (for ns_pidfd_open() later); for a
 * TCP plugin -EBADF, 0 and 0: there our own view is the only one. Returns 0, or
 * -ESRCH when the listener cannot be seen from here (another pid namespace)
 * or has gone: its mounts then cannot be told from what we see, and nothing
 * may be attached; the activation's -errno. *ret_pidfd is O_CLOEXEC and the
 * caller's to close.
 */
int plugin_peer_view(struct plugin_client *pc, const char *driver, int *ret_pidfd, pid_t *ret_pid,
		     unsigned long long *ret_start);

/*
 * Run all requests at once (discovering and activating each plugin first) and
 * return the number that failed; each request carries its own result.
 * Create/Remove/Mount/Unmount calls wait for a call slot of their plugin
 * first, and that wait counts against the call's timeout: a call that got no
 * slot in time fails with -EBUSY and was never sent; one that timed out after
 * waiting says how long it waited.
 */
int plugin_call_many(struct plugin_client *pc, struct plugin_req *reqs, size_t n);

/*
 * Mount volumes with the sequence that works for both plugin generations:
 * Get when the plugin has it (Create only if Get fails and create is allowed),
 * else Create and Mount even if Create said the volume exists. All volumes go
 * through each step together. Returns the number that failed.
 */
struct plugin_mount {
	const char *driver;
	const char *name;
	const char *id;
	const struct plugin_opt *opts;
	size_t n_opts;
	bool explicit_create; /* never Create (dvdcli --explicitcreate) */

	int result;
	char err[PLUGIN_ERR_MAX];
	char *mountpoint;
	bool created; /* this call created the volume */
	/*
	 * The Mount itself went out: only then can a failed one have happened
	 * (no Unmount ever follows a Mount that was never sent).
	 */
	bool mount_sent;
};

int plugin_mount_many(struct plugin_client *pc, struct plugin_mount *m, size_t n);
void plugin_mount_clear(struct plugin_mount *m);

const char *plugin_method_name(enum plugin_method m);

/*
 * Decode one answer to r->method as plugin_call_many() does (the engine's
 * error rule, then the Mountpoint of Mount, Path and Get): body[0..len) is
 * the HTTP body (NUL-terminated at len; may hold NUL bytes), status the HTTP
 * status. Clears r's out fields first, then sets r->result and returns it:
 * 0 (r->reply and, for Mount/Path/Get, r->mountpoint set and owned by r),
 * -EREMOTEIO (the plugin's error in r->err; r->unsupported for a 404),
 * -EBADMSG (not the protocol), -ENOMEM. Exposed for the fuzz target
 * (tests/fuzz/plugin_answer_fuzz.c) and unit tests.
 */
int plugin_decode_answer(int status, const char *body, size_t len, struct plugin_req *r);

#endif
