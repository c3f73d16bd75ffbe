/* SPDX-License-Identifier: MIT */
/*
 * dvmount-testplugin: a Docker volume plugin (facts/plugin-protocol.md, the
 * plugin side) backed by local directories, with fault injection, for tests.
 * Private to tools/testplugin: one module per file (volume_, fault_, api_,
 * conn_), all sharing this header.
 */
#ifndef DVMOUNT_TESTPLUGIN_H
#define DVMOUNT_TESTPLUGIN_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "common/macro.h"

#define TP_MAX_BODY (1024 * 1024) /* request bodies, as the brief bounds them */
#define TP_MAX_HEADERS 64	  /* header lines per request */
#define TP_MAX_HEADER_BYTES 16384 /* URL + all header names and values */
#define TP_MAX_JSON_DEPTH 16	  /* requests are two levels deep */
#define TP_MAX_NAME 255		  /* volume names and mount IDs */
#define TP_MAX_VOLUMES 4096
#define TP_MAX_IDS 1024	 /* mount IDs held per volume */
#define TP_MAX_OPTS 256	 /* option keys per volume */
#define TP_MAX_CONNS 512 /* connections served at once */
#define TP_MAX_OVERSIZED (256 * 1024 * 1024)
#define TP_MAX_LATENCY_MS 600000

enum tp_mode {
	TP_MODE_NORMAL,
	TP_MODE_OLD,	/* pre-1.10: no Get, List, Capabilities */
	TP_MODE_REXRAY, /* Create of an existing volume fails; with bind, <mount>/data answered */
};

struct tp_config {
	const char *socket_path;
	const char *root;
	int root_fd;
	int log_fd; /* -1: no call log */
	enum tp_mode mode;
	bool bind;
	bool restarted; /* --restarted: a restart fault already fired, ignore the others */
};

extern struct tp_config tp_config;

/* --- volume.c: the backend and its state file; every function takes the lock. */
int volume_load(void);
/*
 * Each returns 0 (and the 200 body as a JSON object where there is one) or
 * -errno with the plugin's error message for {"Err"} written to errbuf.
 */
int volume_create(const char *name, json_object *opts, char *errbuf, size_t errlen);
int volume_remove(const char *name, char *errbuf, size_t errlen);
int volume_mount(const char *name, const char *id, json_object **ret_answer, char *errbuf,
		 size_t errlen);
int volume_unmount(const char *name, const char *id, char *errbuf, size_t errlen);
int volume_path(const char *name, json_object **ret_answer, char *errbuf, size_t errlen);
int volume_get(const char *name, json_object **ret_answer, char *errbuf, size_t errlen);
int volume_list(json_object **ret_answer, char *errbuf, size_t errlen);
/* Taken by the signal path so that exit never cuts a state write in half. */
void volume_lock_for_exit(void);

/* --- fault.c: injected faults. */
enum fault_kind {
	FAULT_NONE,
	FAULT_LATENCY,
	FAULT_ERROR,
	FAULT_ERR200,
	FAULT_STATUS,
	FAULT_NOTFOUND,
	FAULT_HANG,
	FAULT_CLOSE,
	FAULT_GARBAGE,
	FAULT_OVERSIZED,
	FAULT_CHUNKED,
	FAULT_NOBODY,
	FAULT_ANSWER, /* 200 with the spec's text as the body, verbatim */
	FAULT_RESTART,
};

struct fault_action {
	enum fault_kind kind;
	long arg;	/* latency ms, status code, oversized bytes */
	char msg[1024]; /* error and err200 messages */
};

/* Parse one SPEC (command line): 0 or -EINVAL with a reason in errbuf. */
int fault_add_spec(const char *spec, char *errbuf, size_t errlen);
void fault_set_file(const char *path);
/* The fault for this request, if any; counts it (count=N). */
void fault_match(const char *method, const char *volume, struct fault_action *ret);
const char *fault_kind_name(enum fault_kind kind);

/* --- api.c: one request in, one answer out. */
struct api_request {
	const char *path; /* "/VolumeDriver.Mount" */
	const char *body;
	size_t body_len;
	bool is_post;
};

struct api_answer {
	int status;
	const char *content_type;
	char *body; /* owned */
	size_t body_len;
	struct fault_action fault;
};

void api_handle(const struct api_request *req, struct api_answer *ret);
void api_answer_done(struct api_answer *a);
/* A request that could not be parsed as HTTP: logged, answered 400. */
void api_bad_request(const char *why, struct api_answer *ret);

/* --- main.c: the restart fault. */
/*
 * Exec this program again with the same arguments and --restarted, once
 * the state is whole: a plugin restarted between two calls (its listening
 * socket and every connection close; the new one binds again).
 */
_noreturn_ void tp_restart(void);

/* --- conn.c: one thread per connection. */
int conn_start(int fd);

#endif
