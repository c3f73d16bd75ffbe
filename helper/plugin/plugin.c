/* SPDX-License-Identifier: MIT */
/*
 * The VolumeDriver API over the uring/ engine: request bodies, activation,
 * the engine's error rule, and waiting for a plugin that is not there yet.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "common/debug.h"
#include "common/jsonutil.h"
#include "helper/plugin/plugin.h"
#include "helper/plugin/plugin-internal.h"
#include "ns/ns.h"

/* Go's decoder nests at most this deep in practice; answers deeper are hostile. */
#define JSON_DEPTH 16
#define MAX_PLUGINS 64
#define MAX_CALLS 4096

struct plugin {
	char name[256];
	struct rpc_addr addr;
	struct plugin_location loc;
	bool activated;
	int error; /* activation failed: every call fails with this */
	char err[PLUGIN_ERR_MAX];
	enum { GET_UNKNOWN, GET_YES, GET_NO } has_get;
	struct plugin_client *pc;
	pid_t peer_pid;		   /* the socket's listener at the last call; 0: unknown, TCP */
	int dir_fd;		   /* O_PATH: a long socket path's directory, or -EBADF */
	struct plugin_slots slots; /* held during one wave of run_gated() */
	size_t n_want, n_used;	   /* run_gated()'s counts for the current wave */
	int wait_fd;		   /* our "waiting for a slot" mark, or -EBADF */
	bool held_before;	   /* our last wave had slots: others first next time */
	uint64_t yield_until;	   /* ms (CLOCK_MONOTONIC): letting waiters go until */
	int peer_pidfd_1;	   /* its SO_PEERPIDFD + 1 (0: none), owned */
};

struct plugin_client {
	struct plugin_config cfg;
	struct rpc_engine *engine;
	int slot_dir_fd;
	/*
	 * Each allocated when first named (plugin_lookup): nearly every command
	 * calls one plugin, and an array of MAX_PLUGINS structs was 128 KiB
	 * zeroed at every exec, 33 page faults (issue 11: fixed cost).
	 */
	struct plugin *plugins[MAX_PLUGINS];
	size_t n_plugins;
};

static const char *const method_names[] = {
	[PLUGIN_CREATE] = "VolumeDriver.Create",
	[PLUGIN_REMOVE] = "VolumeDriver.Remove",
	[PLUGIN_MOUNT] = "VolumeDriver.Mount",
	[PLUGIN_UNMOUNT] = "VolumeDriver.Unmount",
	[PLUGIN_PATH] = "VolumeDriver.Path",
	[PLUGIN_GET] = "VolumeDriver.Get",
	[PLUGIN_LIST] = "VolumeDriver.List",
	[PLUGIN_CAPABILITIES] = "VolumeDriver.Capabilities",
};

const char *plugin_method_name(enum plugin_method m)
{
	return method_names[m];
}

int plugin_opt_parse(char *kv, struct plugin_opt *ret)
{
	char *eq = strchr(kv, '=');

	/* The value keeps everything after the first '=' (dvdcli cut it: don't). */
	if (!eq || eq == kv)
		return -EINVAL;
	*eq = '\0';
	ret->key = kv;
	ret->value = eq + 1;
	return 0;
}

void plugin_req_clear(struct plugin_req *r)
{
	free(r->mountpoint);
	r->mountpoint = NULL;
	json_object_put(r->reply);
	r->reply = NULL;
	r->result = 0;
	r->status = 0;
	r->unsupported = false;
	r->sent = false;
	r->err[0] = '\0';
}

int plugin_client_new(const struct plugin_config *cfg, struct plugin_client **ret)
{
	struct plugin_client *pc = calloc(1, sizeof(*pc));
	int r;

	if (!pc)
		return -ENOMEM;
	pc->cfg = *cfg;
	pc->slot_dir_fd = -EBADF;
	r = rpc_engine_new(cfg->no_uring ? RPC_NO_URING : RPC_RING_FOR_BATCHES, NULL, &pc->engine);
	if (r < 0) {
		free(pc);
		return r;
	}
	*ret = pc;
	return 0;
}

void plugin_client_free(struct plugin_client *pc)
{
	if (!pc)
		return;
	for (size_t i = 0; i < pc->n_plugins; i++)
		if (pc->plugins[i]->peer_pidfd_1 > 0)
			close(pc->plugins[i]->peer_pidfd_1 - 1);
	rpc_engine_free(pc->engine);
	if (pc->slot_dir_fd >= 0)
		close(pc->slot_dir_fd);
	for (size_t i = 0; i < pc->n_plugins; i++) {
		if (pc->plugins[i]->dir_fd >= 0)
			close(pc->plugins[i]->dir_fd);
		if (pc->plugins[i]->wait_fd >= 0)
			close(pc->plugins[i]->wait_fd);
		free(pc->plugins[i]);
	}
	free(pc);
}

int plugin_client_set_slot_dir(struct plugin_client *pc, int dirfd)
{
	int fd = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);

	if (fd < 0)
		return negerrno();
	if (pc->slot_dir_fd >= 0)
		close(pc->slot_dir_fd);
	pc->slot_dir_fd = fd;
	return 0;
}

bool plugin_client_uses_uring(const struct plugin_client *pc)
{
	return rpc_engine_uses_uring(pc->engine);
}

void plugin_client_set_owner_check(struct plugin_client *pc,
				   int (*check)(const char *driver, uid_t owner, char *why,
						size_t why_len, void *userdata),
				   void *userdata)
{
	pc->cfg.check_owner = check;
	pc->cfg.check_userdata = userdata;
}

static struct plugin *plugin_lookup(struct plugin_client *pc, const char *name)
{
	struct plugin *p;

	for (size_t i = 0; i < pc->n_plugins; i++)
		if (!strcmp(pc->plugins[i]->name, name))
			return pc->plugins[i];
	if (pc->n_plugins == MAX_PLUGINS || strlen(name) >= sizeof(p->name))
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	pc->plugins[pc->n_plugins++] = p;
	strcpy(p->name, name);
	p->pc = pc;
	p->dir_fd = -EBADF;
	p->wait_fd = -EBADF;
	return p;
}

static const char *errno_words(int e)
{
	switch (e) {
	case -ETIMEDOUT:
		return "timed out";
	case -ECONNREFUSED:
		return "connection refused (is the plugin running?)";
	case -ECONNRESET:
		return "connection closed before the answer was complete";
	case -EBADMSG:
		return "answer is not HTTP";
	case -EMSGSIZE:
		return "answer exceeds the size limit";
	case -ENOENT:
		return "socket not found";
	default:
		return strerror(-e);
	}
}

/*
 * Copy a plugin's text into err, one line, bounded. Other control bytes
 * become '?': a NUL would cut the message short (to nothing when the body
 * starts with one: found by tests/fuzz/plugin_answer_fuzz.c), and an escape
 * sequence would reach the operator's terminal.
 */
static void set_text(char *err, const char *what, const char *text, size_t len)
{
	size_t off = (size_t)snprintf(err, PLUGIN_ERR_MAX, "%s", what);

	for (size_t i = 0; i < len && off + 1 < PLUGIN_ERR_MAX; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		err[off++] = (char)c;
	}
	err[MIN(off, (size_t)PLUGIN_ERR_MAX - 1)] = '\0';
	while (off > 0 && err[off - 1] == ' ')
		err[--off] = '\0';
}

static json_object *parse_json(const char *buf, size_t len, char *why, size_t why_len)
{
	_cleanup_(json_tokener_freep) json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	json_object *obj;

	if (!tok) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		snprintf(why, why_len, "%s",
			 len == 0 ? "empty answer"
				  : json_tokener_error_desc(json_tokener_get_error(tok)));
		json_object_put(obj);
		return NULL;
	}
	return obj;
}

/*
 * The engine's rule: not 200 -> the JSON "Err" if non-empty, else the raw body;
 * 200 -> decode (an empty body is an error too), then a non-empty "Err".
 */
static int decode_answer(const struct rpc_call *c, struct plugin_req *r)
{
	char why[128];
	json_object *obj, *err;

	r->status = c->status;
	if (c->status != 200) {
		obj = parse_json(c->resp, c->resp_len, why, sizeof(why));
		err = json_get_ci(obj, "Err");
		if (err && json_object_is_type(err, json_type_string) &&
		    *json_object_get_string(err))
			set_text(r->err, "", json_object_get_string(err),
				 strlen(json_object_get_string(err)));
		else
			set_text(r->err, "", c->resp, c->resp_len);
		/* Nothing, or only white space, to show (found by plugin_answer_fuzz). */
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "HTTP status %d", c->status);
		json_object_put(obj);
		r->unsupported = c->status == 404;
		return -EREMOTEIO;
	}
	obj = parse_json(c->resp, c->resp_len, why, sizeof(why));
	if (!obj) {
		snprintf(r->err, sizeof(r->err), "invalid answer: %s", why);
		return -EBADMSG;
	}
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		snprintf(r->err, sizeof(r->err), "invalid answer: not a JSON object");
		return -EBADMSG;
	}
	err = json_get_ci(obj, "Err");
	if (err && !json_object_is_type(err, json_type_null)) {
		const char *e = json_object_get_string(err);

		if (!json_object_is_type(err, json_type_string) || *e) {
			set_text(r->err, "", e, strlen(e));
			if (!r->err[0])
				snprintf(r->err, sizeof(r->err), "a blank \"Err\"");
			json_object_put(obj);
			return -EREMOTEIO;
		}
	}
	r->reply = obj;
	return 0;
}

static json_object *request_body(const struct plugin_req *r)
{
	json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	switch (r->method) {
	case PLUGIN_LIST:
	case PLUGIN_CAPABILITIES:
		return o;
	case PLUGIN_CREATE: {
		json_object *opts = NULL;

		json_object_object_add(o, "Name", json_object_new_string(r->name));
		if (r->n_opts) {
			opts = json_object_new_object();
			for (size_t i = 0; opts && i < r->n_opts; i++)
				json_object_object_add(opts, r->opts[i].key,
						       json_object_new_string(r->opts[i].value));
		}
		json_object_object_add(o, "Opts", opts);
		return o;
	}
	case PLUGIN_MOUNT:
	case PLUGIN_UNMOUNT:
		json_object_object_add(o, "Name", json_object_new_string(r->name));
		if (r->id)
			json_object_object_add(o, "ID", json_object_new_string(r->id));
		return o;
	case PLUGIN_REMOVE:
	case PLUGIN_PATH:
	case PLUGIN_GET:
		json_object_object_add(o, "Name", json_object_new_string(r->name));
		return o;
	}
	return o;
}

static int extract_mountpoint(struct plugin_req *r)
{
	json_object *mp, *vol;

	if (r->method == PLUGIN_GET) {
		vol = json_get_ci(r->reply, "Volume");
		mp = json_get_ci(vol, "Mountpoint");
		if (!vol || !json_object_is_type(vol, json_type_object)) {
			snprintf(r->err, sizeof(r->err), "invalid answer: no \"Volume\" object");
			return -EBADMSG;
		}
	} else if (r->method == PLUGIN_MOUNT || r->method == PLUGIN_PATH) {
		mp = json_get_ci(r->reply, "Mountpoint");
	} else {
		return 0;
	}
	if (mp && !json_object_is_type(mp, json_type_string)) {
		snprintf(r->err, sizeof(r->err), "invalid answer: \"Mountpoint\" is not a string");
		return -EBADMSG;
	}
	if (r->method == PLUGIN_MOUNT && (!mp || !*json_object_get_string(mp))) {
		snprintf(r->err, sizeof(r->err), "the plugin answered no mountpoint");
		return -EBADMSG;
	}
	r->mountpoint = strdup(mp ? json_object_get_string(mp) : "");
	return r->mountpoint ? 0 : -ENOMEM;
}

struct outgoing {
	struct rpc_call call;
	json_object *body;
	char path[32]; /* "/VolumeDriver.Capabilities" is the longest */
	struct plugin *p;
	bool gated;	     /* needs a call slot: Create, Remove, Mount, Unmount */
	bool pending;	     /* not sent yet */
	bool failed;	     /* ended before it was sent; its request says why */
	int error;	     /* the engine failed under it */
	unsigned timeout_ms; /* the whole call, slot wait included */
	unsigned waited_ms;  /* for a slot, before it was sent */
	unsigned limit;	     /* its plugin's max-in-flight */
};

static unsigned timeout_for(const struct plugin_client *pc, enum plugin_method m)
{
	return m == PLUGIN_CREATE || m == PLUGIN_MOUNT ? pc->cfg.timeout_mount_ms
						       : pc->cfg.timeout_other_ms;
}

/*
 * Who owns a TCP plugin: its spec file's owner (a spec planted by another user
 * is not that plugin). A unix-socket plugin is judged on the connected socket
 * instead (peer_check): a stat of the path before connect() could be
 * answered by another file than the one connected to.
 */
static int check_owner(struct plugin_client *pc, struct plugin *p)
{
	struct stat st;

	if (!pc->cfg.check_owner || !strncmp(p->loc.url, "unix://", 7))
		return 0;
	if (stat(p->loc.file, &st) < 0) {
		snprintf(p->err, sizeof(p->err), "cannot stat '%s': %s", p->loc.file,
			 strerror(errno));
		return negerrno();
	}
	if (pc->cfg.check_owner(p->name, st.st_uid, p->err, sizeof(p->err),
				pc->cfg.check_userdata) < 0)
		return -EACCES;
	return 0;
}

/*
 * Before any byte goes to a unix-socket plugin: the uid of the process that
 * listens on it (SO_PEERCRED) must be the policy's socket-owner. Also notes
 * that process for plugin_peer().
 */
static int peer_check(const struct rpc_call *c, void *userdata)
{
	struct plugin *p = userdata;
	struct plugin_client *pc = p->pc;

	if (c->addr->sa.ss_family != AF_UNIX)
		return 0;
	if (c->peer_uid == (uid_t)-1) {
		snprintf(p->err, sizeof(p->err), "%s: cannot tell who listens on it",
			 c->addr->text);
		return -EACCES;
	}
	if (pc->cfg.check_owner && pc->cfg.check_owner(p->name, c->peer_uid, p->err, sizeof(p->err),
						       pc->cfg.check_userdata) < 0)
		return -EACCES;
	/* A listener that is gone has no view to take: its pid may be another's. */
	p->peer_pid = c->peer_pidfd == -ESRCH ? 0 : c->peer_pid;
	if (p->peer_pidfd_1 > 0)
		close(p->peer_pidfd_1 - 1);
	p->peer_pidfd_1 = 0;
	if (c->peer_pidfd >= 0) {
		int fd = fcntl(c->peer_pidfd, F_DUPFD_CLOEXEC, 3);

		if (fd >= 0)
			p->peer_pidfd_1 = fd + 1;
	}
	return 0;
}

/*
 * A socket path of 108 bytes or more does not fit sun_path, yet discovery
 * finds such sockets (Docker itself moved its plugin sockets to a short
 * directory for that reason). Reach it through its directory instead:
 * "/proc/self/fd/N/NAME", N an O_PATH fd of the directory that the client
 * keeps open. A NAME too long even for that is refused, naming the limit.
 */
static int addr_long_unix(struct plugin *p, const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	char proxy[sizeof(((struct sockaddr_un *)0)->sun_path) + 32];
	size_t len = strlen(path);
	int r;

	if (!slash)
		return dir ? -EINVAL : -ENOMEM;
	if (len < sizeof(((struct sockaddr_un *)0)->sun_path))
		return -EINVAL;
	*slash = '\0';
	if (p->dir_fd < 0) {
		p->dir_fd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (p->dir_fd < 0) {
			r = negerrno();
			snprintf(p->err, sizeof(p->err),
				 "cannot open the directory of socket '%s': %s", path,
				 strerror(-r));
			return r;
		}
	}
	snprintf(proxy, sizeof(proxy), "/proc/self/fd/%d/%s", p->dir_fd, slash + 1);
	r = rpc_addr_unix(proxy, &p->addr);
	if (r < 0) {
		snprintf(p->err, sizeof(p->err),
			 "socket path '%s' is %zu bytes: a unix socket address holds at most 107 "
			 "(sun_path is 108 bytes), and its name '%s' is too long to reach "
			 "through its directory either",
			 path, len, slash + 1);
		return -ENAMETOOLONG;
	}
	/* Messages name the socket, not the /proc path: its last part, marked cut. */
	snprintf(p->addr.text, sizeof(p->addr.text), "unix://...%s",
		 path + len - MIN(len, sizeof(p->addr.text) - 11));
	return 0;
}

/* Activate every named plugin not yet active, all at once; one round. */
static int activate_round(struct plugin_client *pc, struct plugin **todo, size_t n)
{
	_cleanup_free_ struct rpc_call *calls = calloc(n, sizeof(*calls));
	_cleanup_free_ struct rpc_call **ptrs = calloc(n, sizeof(*ptrs));
	size_t k = 0;
	int r;

	if (!calls || !ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct plugin *p = todo[i];

		p->error = plugin_discover(pc->cfg.plugin_path, p->name, &p->loc);
		if (p->error < 0) {
			snprintf(p->err, sizeof(p->err), "%s", p->loc.error);
			continue;
		}
		p->error = check_owner(pc, p);
		if (p->error < 0)
			continue;
		p->error = rpc_addr_parse(p->loc.url, &p->addr);
		if (p->error == -EINVAL && !strncmp(p->loc.url, "unix://", 7))
			p->error = addr_long_unix(p, p->loc.url + 7);
		if (p->error == -ENAMETOOLONG)
			continue;
		if (p->error < 0) {
			snprintf(p->err, sizeof(p->err), "bad address '%s' in '%s'", p->loc.url,
				 p->loc.file);
			continue;
		}
		calls[k] = (struct rpc_call){ .addr = &p->addr,
					      .path = "/Plugin.Activate",
					      .timeout_ms = pc->cfg.timeout_other_ms,
					      .idempotent = true,
					      .check_peer = peer_check,
					      .check_userdata = p };
		ptrs[k] = &calls[k];
		k++;
	}
	r = rpc_run(pc->engine, ptrs, k);
	if (r < 0)
		return r;

	k = 0;
	for (size_t i = 0; i < n; i++) {
		struct plugin *p = todo[i];
		struct plugin_req dec = { 0 };
		struct rpc_call *c;
		json_object *impl;
		bool volume_driver = false;

		if (p->error < 0)
			continue;
		c = &calls[k++];
		if (c->result == -EACCES) {
			/* peer_check() said why in p->err. */
			p->error = c->result;
			rpc_call_reset(c);
			continue;
		}
		if (c->result < 0) {
			/* Named: it fails the call it came before, which the line names. */
			p->error = c->result;
			if (c->result == -ETIMEDOUT)
				snprintf(p->err, sizeof(p->err),
					 "Plugin.Activate: %s: timed out after %.1f s",
					 p->addr.text, c->timeout_ms / 1000.0);
			else
				snprintf(p->err, sizeof(p->err), "Plugin.Activate: %s: %s",
					 p->addr.text, errno_words(c->result));
			rpc_call_reset(c);
			continue;
		}
		p->error = decode_answer(c, &dec);
		rpc_call_reset(c);
		if (p->error < 0) {
			snprintf(p->err, sizeof(p->err), "Plugin.Activate: %s", dec.err);
			plugin_req_clear(&dec);
			continue;
		}
		impl = json_get_ci(dec.reply, "Implements");
		for (size_t j = 0; json_object_is_type(impl, json_type_array) &&
				   j < json_object_array_length(impl);
		     j++) {
			json_object *s = json_object_array_get_idx(impl, j);

			if (json_object_is_type(s, json_type_string) &&
			    !strcmp(json_object_get_string(s), "VolumeDriver"))
				volume_driver = true;
		}
		plugin_req_clear(&dec);
		if (!volume_driver) {
			p->error = -EPROTONOSUPPORT;
			snprintf(p->err, sizeof(p->err), "does not implement VolumeDriver");
			continue;
		}
		p->activated = true;
		debug(DEBUG_RPC, "rpc", "plugin '%s' active at %s", p->name, p->addr.text);
	}
	return 0;
}

/* A plugin that is absent or refusing may still be starting: worth waiting. */
static bool activation_retryable(int e)
{
	return e == -ENOENT || e == -ECONNREFUSED;
}

static int activate(struct plugin_client *pc, struct plugin **todo, size_t n)
{
	uint64_t waited_ms = 0;
	unsigned backoff_ms = 1000;
	int r;

	for (;;) {
		size_t again = 0;

		r = activate_round(pc, todo, n);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++)
			if (!todo[i]->activated && activation_retryable(todo[i]->error))
				todo[again++] = todo[i];
		if (!again)
			return 0;
		if (waited_ms >= pc->cfg.retry_ms) {
			/* The error says how long was waited: "not found" alone reads as instant.
			 */
			for (size_t i = 0; waited_ms > 0 && i < again; i++) {
				size_t len = strlen(todo[i]->err);

				snprintf(todo[i]->err + len, sizeof(todo[i]->err) - len,
					 " (gave up after %.1f s)", (double)waited_ms / 1000);
			}
			return 0;
		}
		for (size_t i = 0; waited_ms == 0 && pc->cfg.on_wait && i < again; i++)
			pc->cfg.on_wait(todo[i]->name, todo[i]->err, pc->cfg.retry_ms,
					pc->cfg.wait_userdata);

		/* The engine's back-off: 1, 2, 4, 8 s, within the budget. */
		unsigned wait = (unsigned)MIN((uint64_t)backoff_ms, pc->cfg.retry_ms - waited_ms);
		struct timespec ts = { .tv_sec = wait / 1000, .tv_nsec = (wait % 1000) * 1000000L };

		debug(DEBUG_RPC, "rpc", "plugin '%s' not ready (%s): retry in %u ms", todo[0]->name,
		      todo[0]->err, wait);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
		waited_ms += wait;
		backoff_ms = MIN(backoff_ms * 2, 8000U);
		n = again;
	}
}

/* DRIVER's plugin, discovered and activated (once). */
static int plugin_active(struct plugin_client *pc, const char *driver, struct plugin **ret)
{
	struct plugin *p = plugin_lookup(pc, driver);
	int r;

	if (!p)
		return -ENOMEM;
	if (!p->activated) {
		r = activate(pc, &p, 1);
		if (r < 0)
			return r;
		if (!p->activated && p->error < 0)
			return p->error;
	}
	*ret = p;
	return 0;
}

int plugin_address(struct plugin_client *pc, const char *driver, const char **ret_addr)
{
	struct plugin *p;
	int r;

	r = plugin_active(pc, driver, &p);
	if (r < 0)
		return r;
	*ret_addr = p->addr.text;
	return 0;
}

static void fail_req(struct plugin_req *r, int error, const char *fmt_text)
{
	char text[PLUGIN_ERR_MAX];

	snprintf(text, sizeof(text), "%s", fmt_text);
	r->result = error;
	if (r->name)
		snprintf(r->err, sizeof(r->err), "plugin '%s' %s '%s': %s", r->driver,
			 method_names[r->method], r->name, text);
	else
		snprintf(r->err, sizeof(r->err), "plugin '%s' %s: %s", r->driver,
			 method_names[r->method], text);
}

int plugin_peer(struct plugin_client *pc, const char *driver, pid_t *ret_pid, int *ret_pidfd)
{
	struct plugin *p;
	int r;

	r = plugin_active(pc, driver, &p);
	if (r < 0)
		return r;
	if (p->addr.sa.ss_family != AF_UNIX)
		return -EAFNOSUPPORT;
	if (p->peer_pidfd_1 > 0) {
		int fd = fcntl(p->peer_pidfd_1 - 1, F_DUPFD_CLOEXEC, 3);

		if (fd < 0)
			return negerrno();
		*ret_pidfd = fd;
	} else {
		*ret_pidfd = -EBADF;
	}
	*ret_pid = p->peer_pid;
	return 0;
}

int plugin_peer_view(struct plugin_client *pc, const char *driver, int *ret_pidfd, pid_t *ret_pid,
		     unsigned long long *ret_start)
{
	_cleanup_close_ int peer = -EBADF;
	pid_t pid = 0;
	int r;

	r = plugin_peer(pc, driver, &pid, &peer);
	if (r == -EAFNOSUPPORT) {
		*ret_pidfd = -EBADF;
		*ret_pid = 0;
		*ret_start = 0;
		return 0;
	}
	if (r < 0)
		return r;
	if (pid <= 0)
		return -ESRCH;
	r = ns_pidfd_open(pid, 0, ret_pidfd, ret_start);
	if (r < 0)
		return r;
	/*
	 * The listener may have exited since it was connected to, and its pid
	 * gone to another process: the socket's own pidfd being alive now
	 * proves the number still names it, so *ret_pidfd is that process.
	 */
	if (peer >= 0 && (r = ns_pidfd_alive(peer)) < 0) {
		close(*ret_pidfd);
		*ret_pidfd = -EBADF;
		return r;
	}
	*ret_pid = pid;
	return 0;
}

static bool changes_mounts(enum plugin_method m)
{
	return m == PLUGIN_CREATE || m == PLUGIN_REMOVE || m == PLUGIN_MOUNT || m == PLUGIN_UNMOUNT;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned limit_of(const struct plugin_client *pc, const struct plugin *p)
{
	unsigned n = pc->cfg.max_in_flight;

	if (!n && pc->cfg.max_in_flight_for)
		n = pc->cfg.max_in_flight_for(p->name, pc->cfg.limit_userdata);
	return MIN(MAX(n, 1U), (unsigned)PLUGIN_SLOT_MAX);
}

static struct outgoing *container_of_call(struct rpc_call *c)
{
	return (struct outgoing *)((char *)c - offsetof(struct outgoing, call));
}

/* A gated call that got no slot before its deadline: never sent. */
static void fail_no_slot(struct plugin_req *q, const struct outgoing *o)
{
	char text[PLUGIN_ERR_MAX];

	snprintf(text, sizeof(text),
		 "%s: timed out after %.1f s waiting for a call slot: max-in-flight %u "
		 "Create/Remove/Mount/Unmount calls to this plugin were in flight all along; "
		 "not sent",
		 o->p->addr.text, o->timeout_ms / 1000.0, o->limit);
	fail_req(q, -EBUSY, text);
}

/*
 * rclone's plugin (Debian's 1.60, unchanged upstream) sends on a one-slot
 * channel after every mount change while it holds its driver mutex, and the
 * goroutine that drains the channel must take that mutex first: a next
 * Mount/Unmount that gets the mutex before that goroutine does deadlocks the
 * plugin, even when the calls come strictly one after another (3 runs of 4
 * hung in the 8-volume test). So under the default max-in-flight of 1, a slot
 * is held this much longer after its call ended, which gives the plugin's own
 * threads their turn. Plugins allowed more calls are taken at their word.
 */
#define PLUGIN_SETTLE_MS 20

static void settle(struct rpc_call *const *ptrs, size_t w)
{
	struct timespec ts = { .tv_nsec = PLUGIN_SETTLE_MS * 1000000L };

	for (size_t i = 0; i < w; i++) {
		const struct outgoing *o = container_of_call(ptrs[i]);

		if (o->gated && o->limit == 1) {
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			return;
		}
	}
}

/*
 * Let the processes that wait for a slot of P go first when our last wave had
 * one (plugin_slots_others_wait()): without it a process with many calls
 * takes the slot back within microseconds of giving it up, and the others,
 * polling every few ms, time out behind it (a 64-volume prepare at
 * max-in-flight 1 held a plugin for its whole run). At most PLUGIN_YIELD_MS,
 * twice the longest poll interval below, so that two processes that each
 * wait for the other never stall.
 */
#define PLUGIN_YIELD_MS 100

static bool yield_turn(struct plugin_client *pc, struct plugin *p, uint64_t now)
{
	if (p->held_before) {
		p->held_before = false;
		p->yield_until = now + PLUGIN_YIELD_MS;
	}
	if (now >= p->yield_until)
		return false;
	if (plugin_slots_others_wait(pc->slot_dir_fd, p->name) > 0)
		return true;
	p->yield_until = 0;
	return false;
}

static void drop_wait_mark(struct plugin *p)
{
	if (p->wait_fd >= 0)
		close(p->wait_fd);
	p->wait_fd = -EBADF;
}

/*
 * Send the calls in waves: read-only calls all in the first one, and of each
 * plugin's Create/Remove/Mount/Unmount calls as many as it got call slots for.
 * Slots are taken without waiting and given back after every wave, so that
 * other dvmount processes get their turn; when no call can go, wait a little
 * (at most until the nearest deadline) and try again. A process never waits
 * while it holds a slot, so slot waits cannot deadlock. Each call keeps its
 * deadline from the start: what it waited is taken from its timeout.
 */
static void run_gated(struct plugin_client *pc, struct plugin_req *reqs, const size_t *index,
		      struct outgoing *out, size_t k, struct rpc_call **ptrs)
{
	const uint64_t start = now_ms();
	unsigned backoff_ms = 2;
	size_t left = k;

	for (size_t j = 0; j < k; j++) {
		out[j].pending = true;
		if (out[j].gated)
			out[j].limit = limit_of(pc, out[j].p);
	}
	while (left) {
		uint64_t now, wake = UINT64_MAX;
		size_t w = 0;
		int r;

		for (size_t j = 0; j < k; j++)
			out[j].p->n_want = out[j].p->n_used = 0;
		for (size_t j = 0; j < k; j++)
			out[j].p->n_want += out[j].pending && out[j].gated;
		for (size_t j = 0; j < k; j++) {
			struct plugin *p = out[j].p;

			if (!out[j].pending || !out[j].gated || p->slots.n >= p->n_want)
				continue;
			if (yield_turn(pc, p, now_ms()))
				continue;
			r = plugin_slots_take(pc->slot_dir_fd, p->name, out[j].limit, p->n_want,
					      &p->slots);
			if (r == 0)
				plugin_slots_wait_mark(pc->slot_dir_fd, p->name, &p->wait_fd);
			else if (r > 0)
				drop_wait_mark(p);
			if (r < 0) {
				char text[PLUGIN_ERR_MAX];

				snprintf(text, sizeof(text), "cannot take a call slot: %s",
					 strerror(-r));
				for (size_t i = j; i < k; i++)
					if (out[i].pending && out[i].gated && out[i].p == p) {
						fail_req(&reqs[index[i]], r, text);
						out[i].failed = true;
						out[i].pending = false;
						left--;
					}
			}
		}

		now = now_ms();
		for (size_t j = 0; j < k; j++) {
			struct outgoing *o = &out[j];
			uint64_t deadline = start + o->timeout_ms;

			if (!o->pending)
				continue;
			if (!o->gated || (now < deadline && o->p->n_used < o->p->slots.n)) {
				/* Read-only calls all go in the first wave, with their whole time.
				 */
				if (o->gated) {
					o->p->n_used++;
					o->waited_ms = (unsigned)(now - start);
					o->call.timeout_ms = (unsigned)(deadline - now);
				}
				reqs[index[j]].sent = true;
				ptrs[w++] = &o->call;
			} else if (now >= deadline) {
				fail_no_slot(&reqs[index[j]], o);
				o->failed = true;
			} else {
				wake = MIN(wake, deadline);
				continue;
			}
			o->pending = false;
			left--;
		}
		if (w) {
			r = rpc_run(pc->engine, ptrs, w);
			for (size_t i = 0; r < 0 && i < w; i++)
				container_of_call(ptrs[i])->error = r;
			backoff_ms = 2;
		} else if (left) {
			unsigned ms = (unsigned)MIN((uint64_t)backoff_ms, wake - now);
			struct timespec ts = { .tv_sec = ms / 1000,
					       .tv_nsec = (long)(ms % 1000) * 1000000L };

			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			backoff_ms = MIN(backoff_ms * 2, 50U);
		}
		if (w)
			settle(ptrs, w);
		for (size_t j = 0; j < k; j++) {
			if (out[j].p->slots.n)
				out[j].p->held_before = true;
			plugin_slots_release(&out[j].p->slots);
		}
	}
	for (size_t j = 0; j < k; j++)
		drop_wait_mark(out[j].p);
}

int plugin_call_many(struct plugin_client *pc, struct plugin_req *reqs, size_t n)
{
	_cleanup_free_ struct plugin **todo = NULL;
	_cleanup_free_ struct outgoing *out = NULL;
	_cleanup_free_ struct rpc_call **ptrs = NULL;
	_cleanup_free_ size_t *index = NULL;
	size_t n_todo = 0, k = 0;
	int failed = 0, r;

	if (n > MAX_CALLS)
		return -E2BIG;
	todo = calloc(n + 1, sizeof(*todo));
	out = calloc(n + 1, sizeof(*out));
	ptrs = calloc(n + 1, sizeof(*ptrs));
	index = calloc(n + 1, sizeof(*index));
	if (!todo || !out || !ptrs || !index)
		return -ENOMEM;

	for (size_t i = 0; i < n; i++) {
		struct plugin *p = plugin_lookup(pc, reqs[i].driver);
		bool listed = false;

		plugin_req_clear(&reqs[i]);
		if (!p || p->activated || p->error)
			continue;
		for (size_t j = 0; j < n_todo; j++)
			listed |= todo[j] == p;
		if (!listed)
			todo[n_todo++] = p;
	}
	if (n_todo) {
		r = activate(pc, todo, n_todo);
		if (r < 0)
			return r;
	}

	for (size_t i = 0; i < n; i++) {
		struct plugin_req *q = &reqs[i];
		struct plugin *p = plugin_lookup(pc, q->driver);
		const char *body;

		if (!p) {
			fail_req(q, -ENOMEM, "too many plugins");
			continue;
		}
		if (!p->activated) {
			fail_req(q, p->error, p->err);
			continue;
		}
		out[k].body = request_body(q);
		if (!out[k].body) {
			fail_req(q, -ENOMEM, "out of memory");
			continue;
		}
		body = json_object_to_json_string_ext(out[k].body, JSON_C_TO_STRING_PLAIN);
		snprintf(out[k].path, sizeof(out[k].path), "/%s", method_names[q->method]);
		out[k].call = (struct rpc_call){
			.addr = &p->addr,
			.path = out[k].path,
			.body = body,
			.body_len = strlen(body),
			.timeout_ms = timeout_for(pc, q->method),
			/* Reads: safe to send again on a fresh connection. */
			.idempotent = q->method == PLUGIN_GET || q->method == PLUGIN_PATH ||
				      q->method == PLUGIN_LIST || q->method == PLUGIN_CAPABILITIES,
			.check_peer = peer_check,
			.check_userdata = p,
		};
		out[k].p = p;
		out[k].gated = changes_mounts(q->method);
		out[k].timeout_ms = out[k].call.timeout_ms;
		index[k++] = i;
	}

	run_gated(pc, reqs, index, out, k, ptrs);

	for (size_t j = 0; j < k; j++) {
		struct plugin_req *q = &reqs[index[j]];
		struct rpc_call *c = &out[j].call;
		struct plugin *p = out[j].p;

		if (out[j].failed) {
			/* Never sent: fail_req() said why. */
		} else if (out[j].error < 0 || c->result < 0) {
			char text[PLUGIN_ERR_MAX];
			int e = out[j].error < 0 ? out[j].error : c->result;

			/* A wait shorter than this is the wave before, not worth a word. */
			if (e == -ETIMEDOUT && out[j].waited_ms >= 100)
				snprintf(text, sizeof(text),
					 "%s: timed out after %.1f s, %.1f s of it waiting for a "
					 "call slot (max-in-flight %u)",
					 p->addr.text, out[j].timeout_ms / 1000.0,
					 out[j].waited_ms / 1000.0, out[j].limit);
			else if (e == -ETIMEDOUT)
				snprintf(text, sizeof(text), "%s: timed out after %.1f s",
					 p->addr.text, out[j].timeout_ms / 1000.0);
			else if (e == -EACCES && out[j].error == 0)
				snprintf(text, sizeof(text), "%s", p->err);
			else
				snprintf(text, sizeof(text), "%s: %s", p->addr.text,
					 errno_words(e));
			fail_req(q, e, text);
		} else {
			q->result = decode_answer(c, q);
			if (q->result == 0)
				q->result = extract_mountpoint(q);
			/*
			 * A Get answered 200 with no volume in it (no body, "{}",
			 * "Volume": null): the engine's volume store takes any Get
			 * failure for "no such volume" and Creates; so do we.
			 */
			if (q->method == PLUGIN_GET && c->status == 200 && q->result == -EBADMSG &&
			    !json_object_is_type(json_get_ci(q->reply, "Volume"),
						 json_type_object)) {
				q->result = -EREMOTEIO;
				snprintf(q->err, sizeof(q->err),
					 "no such volume (answered 200 without a volume)");
			}
			if (q->result < 0) {
				char text[PLUGIN_ERR_MAX];

				snprintf(text, sizeof(text), "%s", q->err);
				fail_req(q, q->result, text);
			}
			if (q->method == PLUGIN_GET && p)
				p->has_get = q->unsupported ? GET_NO : GET_YES;
		}
		rpc_call_reset(c);
		json_object_put(out[j].body);
	}
	for (size_t i = 0; i < n; i++)
		failed += reqs[i].result < 0;
	return failed;
}

void plugin_mount_clear(struct plugin_mount *m)
{
	free(m->mountpoint);
	m->mountpoint = NULL;
	m->result = 0;
	m->err[0] = '\0';
	m->created = false;
	m->mount_sent = false;
}

static bool plugin_lacks_get(struct plugin_client *pc, const char *driver)
{
	struct plugin *p = plugin_lookup(pc, driver);

	return p && p->has_get == GET_NO;
}

int plugin_mount_many(struct plugin_client *pc, struct plugin_mount *m, size_t n)
{
	_cleanup_free_ struct plugin_req *q = calloc(n + 1, sizeof(*q));
	_cleanup_free_ int *create_result = calloc(n + 1, sizeof(*create_result));
	_cleanup_free_ char(*create_err)[PLUGIN_ERR_MAX] = calloc(n + 1, PLUGIN_ERR_MAX);
	int r, failed = 0;

	if (!q || !create_result || !create_err)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		plugin_mount_clear(&m[i]);

	/* Step 1: Get, which tells whether the volume exists (and whether Get exists). */
	for (size_t i = 0; i < n; i++)
		q[i] = (struct plugin_req){ .driver = m[i].driver,
					    .method = PLUGIN_GET,
					    .name = m[i].name };
	r = plugin_call_many(pc, q, n);
	if (r < 0)
		return r;

	/*
	 * Step 2: Create where Get failed. A pre-1.10 plugin has no Get: Create as
	 * dvdcli 0.1 did, and go on to Mount even if Create says the volume exists
	 * (REX-Ray 0.8 refuses such a Create).
	 */
	size_t k = 0;
	_cleanup_free_ size_t *idx = calloc(n + 1, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		bool no_get = q[i].result == -EREMOTEIO && q[i].unsupported;
		bool missing = q[i].result == -EREMOTEIO && !q[i].unsupported;

		if (q[i].result < 0 && !no_get && !missing) {
			m[i].result = q[i].result;
			snprintf(m[i].err, sizeof(m[i].err), "%s", q[i].err);
		} else if (missing && m[i].explicit_create) {
			m[i].result = -ENOENT;
			snprintf(m[i].err, sizeof(m[i].err), "%s (and --explicitcreate is set)",
				 q[i].err);
		} else if ((missing || no_get) && !m[i].explicit_create) {
			idx[k++] = i;
		}
		plugin_req_clear(&q[i]);
	}
	for (size_t j = 0; j < k; j++)
		q[j] = (struct plugin_req){ .driver = m[idx[j]].driver,
					    .method = PLUGIN_CREATE,
					    .name = m[idx[j]].name,
					    .opts = m[idx[j]].opts,
					    .n_opts = m[idx[j]].n_opts };
	r = plugin_call_many(pc, q, k);
	if (r < 0)
		return r;
	for (size_t j = 0; j < k; j++) {
		size_t i = idx[j];

		create_result[i] = q[j].result;
		snprintf(create_err[i], PLUGIN_ERR_MAX, "%s", q[j].err);
		if (q[j].result == 0)
			m[i].created = true;
		else if (!plugin_lacks_get(pc, m[i].driver)) {
			/* With Get, a failed Create means the volume is not there. */
			m[i].result = q[j].result;
			snprintf(m[i].err, sizeof(m[i].err), "%s", q[j].err);
		}
		plugin_req_clear(&q[j]);
	}

	/* Step 3: Mount every volume still standing. */
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (m[i].result == 0) {
			idx[k] = i;
			q[k++] = (struct plugin_req){ .driver = m[i].driver,
						      .method = PLUGIN_MOUNT,
						      .name = m[i].name,
						      .id = m[i].id };
		}
	r = plugin_call_many(pc, q, k);
	if (r < 0)
		return r;
	for (size_t j = 0; j < k; j++) {
		size_t i = idx[j];

		m[i].mount_sent = q[j].sent;
		if (q[j].result == 0) {
			m[i].mountpoint = TAKE_PTR(q[j].mountpoint);
		} else {
			m[i].result = q[j].result;
			if (create_result[i] < 0)
				snprintf(m[i].err, sizeof(m[i].err), "%.250s (after %.250s)",
					 q[j].err, create_err[i]);
			else
				snprintf(m[i].err, sizeof(m[i].err), "%s", q[j].err);
		}
		plugin_req_clear(&q[j]);
	}
	for (size_t i = 0; i < n; i++)
		failed += m[i].result < 0;
	return failed;
}

int plugin_decode_answer(int status, const char *body, size_t len, struct plugin_req *r)
{
	const struct rpc_call c = { .status = status, .resp = (char *)body, .resp_len = len };

	plugin_req_clear(r);
	r->result = decode_answer(&c, r);
	if (r->result == 0)
		r->result = extract_mountpoint(r);
	return r->result;
}
