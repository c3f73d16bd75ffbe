/* SPDX-License-Identifier: MIT */
/*
 * The VolumeDriver API: decode a request the way the Go SDK does
 * (go-plugins-helpers: case-insensitive keys, 400 on a body that does not
 * decode), pick a fault, run the endpoint, and write one call-log line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "tools/testplugin/testplugin.h"

#define CT_PLUGIN "application/vnd.docker.plugins.v1.1+json"
#define CT_TEXT "text/plain; charset=utf-8"
#define NOT_FOUND_BODY "404 page not found\n"

enum endpoint {
	EP_UNKNOWN,
	EP_ACTIVATE,
	EP_CREATE,
	EP_REMOVE,
	EP_MOUNT,
	EP_UNMOUNT,
	EP_PATH,
	EP_GET,
	EP_LIST,
	EP_CAPABILITIES,
};

static const struct {
	const char *path;
	const char *method; /* as fault specs name it */
	enum endpoint ep;
	bool has_body; /* the SDK decodes a body for it */
} endpoints[] = {
	{ "/Plugin.Activate", "Activate", EP_ACTIVATE, false },
	{ "/VolumeDriver.Create", "Create", EP_CREATE, true },
	{ "/VolumeDriver.Remove", "Remove", EP_REMOVE, true },
	{ "/VolumeDriver.Mount", "Mount", EP_MOUNT, true },
	{ "/VolumeDriver.Unmount", "Unmount", EP_UNMOUNT, true },
	{ "/VolumeDriver.Path", "Path", EP_PATH, true },
	{ "/VolumeDriver.Get", "Get", EP_GET, true },
	{ "/VolumeDriver.List", "List", EP_LIST, false },
	{ "/VolumeDriver.Capabilities", "Capabilities", EP_CAPABILITIES, false },
};

struct decoded {
	json_object *root; /* owned */
	const char *name;  /* NULL when the request has none */
	const char *id;
	json_object *opts; /* borrowed from root; NULL when absent or null */
};

static void json_putp(json_object **o)
{
	json_object_put(*o);
}
#define _cleanup_json_ _cleanup_(json_putp)

/* Go's decoder: an exact key first, else one that matches ignoring case. */
static json_object *get_key(json_object *obj, const char *key)
{
	json_object *found = NULL;

	if (json_object_object_get_ex(obj, key, &found))
		return found;
	json_object_object_foreach(obj, k, v)
	{
		if (!strcasecmp(k, key))
			return v;
	}
	return NULL;
}

static int string_field(json_object *obj, const char *key, const char **ret, char *why,
			size_t whylen)
{
	json_object *v = get_key(obj, key);

	if (!v)
		return 0;
	if (!json_object_is_type(v, json_type_string) && !json_object_is_type(v, json_type_null)) {
		snprintf(why, whylen, "json: cannot unmarshal %s into field %s of type string",
			 json_type_to_name(json_object_get_type(v)), key);
		return -EINVAL;
	}
	*ret = json_object_get_string(v);
	if (!*ret)
		*ret = "";
	if (strlen(*ret) != (size_t)json_object_get_string_len(v)) {
		snprintf(why, whylen, "field %s contains a NUL byte", key);
		return -EINVAL;
	}
	return 0;
}

static int decode_body(const char *body, size_t len, struct decoded *ret, char *why, size_t whylen)
{
	struct json_tokener *tok = json_tokener_new_ex(TP_MAX_JSON_DEPTH);
	json_object *root = NULL, *opts;
	enum json_tokener_error jerr;

	if (!tok)
		return -ENOMEM;
	if (len > 0)
		root = json_tokener_parse_ex(tok, body, (int)len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (len == 0 || jerr != json_tokener_success) {
		snprintf(why, whylen, "%s", len == 0 ? "EOF" : json_tokener_error_desc(jerr));
		json_object_put(root);
		return -EINVAL;
	}
	/* null decodes into Go's struct as "nothing set" */
	if (!root)
		root = json_object_new_object();
	ret->root = root;
	if (!json_object_is_type(root, json_type_object)) {
		snprintf(why, whylen, "json: cannot unmarshal %s into a request",
			 json_type_to_name(json_object_get_type(root)));
		return -EINVAL;
	}
	if (string_field(root, "Name", &ret->name, why, whylen) < 0 ||
	    string_field(root, "ID", &ret->id, why, whylen) < 0)
		return -EINVAL;
	opts = get_key(root, "Opts");
	if (opts && json_object_is_type(opts, json_type_null))
		opts = NULL;
	if (opts) {
		if (!json_object_is_type(opts, json_type_object) ||
		    json_object_object_length(opts) > TP_MAX_OPTS) {
			snprintf(why, whylen, "json: Opts must be an object of at most %d strings",
				 TP_MAX_OPTS);
			return -EINVAL;
		}
		json_object_object_foreach(opts, k, v)
		{
			(void)k;
			if (v && !json_object_is_type(v, json_type_string)) {
				snprintf(why, whylen, "json: option values must be strings");
				return -EINVAL;
			}
		}
	}
	ret->opts = opts;
	return 0;
}

static void set_body(struct api_answer *a, int status, const char *ct, const char *text)
{
	a->status = status;
	a->content_type = ct;
	free(a->body);
	a->body = strdup(text);
	a->body_len = a->body ? strlen(a->body) : 0;
}

static void set_json(struct api_answer *a, int status, json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							      JSON_C_TO_STRING_NOSLASHESCAPE);

	a->status = status;
	a->content_type = CT_PLUGIN;
	free(a->body);
	if (asprintf(&a->body, "%s\n", s) < 0)
		a->body = NULL;
	a->body_len = a->body ? strlen(a->body) : 0;
}

static void set_err(struct api_answer *a, int status, const char *msg)
{
	_cleanup_json_ json_object *o = json_object_new_object();

	json_object_object_add(o, "Err", json_object_new_string(msg));
	set_json(a, status, o);
}

/* Pads the normal answer with a "Pad" key until the body is `size` bytes long. */
static void set_oversized(struct api_answer *a, json_object *answer, long size)
{
	const char *base;
	size_t blen, fixed, pad;
	char *body;

	if (!get_key(answer, "Err"))
		json_object_object_add(answer, "Err", json_object_new_string(""));
	base = json_object_to_json_string_ext(answer, JSON_C_TO_STRING_PLAIN |
							  JSON_C_TO_STRING_NOSLASHESCAPE);
	blen = strlen(base);
	/* base minus its '}', then ,"Pad":"...."}\n */
	fixed = blen - 1 + strlen(",\"Pad\":\"\"}\n");
	pad = (size_t)size > fixed ? (size_t)size - fixed : 0;
	body = malloc(fixed + pad + 1);
	if (!body)
		return;
	memcpy(body, base, blen - 1);
	memcpy(body + blen - 1, ",\"Pad\":\"", 8);
	memset(body + blen - 1 + 8, 'x', pad);
	memcpy(body + blen - 1 + 8 + pad, "\"}\n", 4);
	free(a->body);
	a->body = body;
	a->body_len = fixed + pad;
	a->status = 200;
	a->content_type = CT_PLUGIN;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Create/Remove/Mount/Unmount calls being handled right now: logged as "busy"
 * (this call included) so that tests see how many a client had in flight.
 */
static long changing_calls;

static void write_log(const char *endpoint, const struct decoded *d, const struct api_answer *a,
		      const char *err, long busy)
{
	_cleanup_json_ json_object *o = NULL;
	_cleanup_free_ char *line = NULL;
	int len;

	if (tp_config.log_fd < 0)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "endpoint", json_object_new_string(endpoint));
	if (d && d->name)
		json_object_object_add(o, "name", json_object_new_string(d->name));
	if (d && d->id)
		json_object_object_add(o, "id", json_object_new_string(d->id));
	if (d && d->opts)
		json_object_object_add(o, "opts", json_object_get(d->opts));
	if (a->fault.kind != FAULT_HANG && a->fault.kind != FAULT_GARBAGE)
		json_object_object_add(o, "status", json_object_new_int(a->status));
	if (err && *err)
		json_object_object_add(o, "err", json_object_new_string(err));
	if (busy)
		json_object_object_add(o, "busy", json_object_new_int64(busy));
	if (a->fault.kind != FAULT_NONE)
		json_object_object_add(o, "fault",
				       json_object_new_string(fault_kind_name(a->fault.kind)));
	len = asprintf(&line, "%s\n",
		       json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							     JSON_C_TO_STRING_NOSLASHESCAPE));
	/* One write on an O_APPEND fd: lines from many threads never interleave. */
	if (len > 0 && write(tp_config.log_fd, line, (size_t)len) < 0)
		return;
}

/* Runs the endpoint itself; errors become 500 {"Err"}. */
static void run_endpoint(enum endpoint ep, const struct decoded *d, struct api_answer *a, char *err,
			 size_t errlen, json_object **ret_answer)
{
	_cleanup_json_ json_object *answer = NULL;
	const char *name = d->name ? d->name : "";
	const char *id = d->id ? d->id : "";
	int r = 0;

	switch (ep) {
	case EP_ACTIVATE:
		answer = json_tokener_parse("{\"Implements\":[\"VolumeDriver\"]}");
		break;
	case EP_CAPABILITIES:
		answer = json_tokener_parse("{\"Capabilities\":{\"Scope\":\"local\"}}");
		break;
	case EP_CREATE:
		r = volume_create(name, d->opts, err, errlen);
		break;
	case EP_REMOVE:
		r = volume_remove(name, err, errlen);
		break;
	case EP_MOUNT:
		r = volume_mount(name, id, &answer, err, errlen);
		break;
	case EP_UNMOUNT:
		r = volume_unmount(name, id, err, errlen);
		break;
	case EP_PATH:
		r = volume_path(name, &answer, err, errlen);
		break;
	case EP_GET:
		r = volume_get(name, &answer, err, errlen);
		break;
	case EP_LIST:
		r = volume_list(&answer, err, errlen);
		break;
	case EP_UNKNOWN:
		break;
	}
	if (r < 0) {
		if (!*err)
			snprintf(err, errlen, "%s", strerror(-r));
		set_err(a, 500, err);
		return;
	}
	if (!answer)
		answer = json_object_new_object(); /* the SDK answers {} for "no error" */
	set_json(a, 200, answer);
	*ret_answer = TAKE_PTR(answer);
}

void api_handle(const struct api_request *req, struct api_answer *ret)
{
	_cleanup_json_ json_object *answer = NULL;
	struct decoded d = { 0 };
	enum endpoint ep = EP_UNKNOWN;
	const char *method = NULL;
	bool has_body = false;
	char err[1024] = "";
	long busy = 0;

	*ret = (struct api_answer){ 0 };
	for (size_t i = 0; i < ARRAY_SIZE(endpoints); i++)
		if (!strcmp(req->path, endpoints[i].path)) {
			ep = endpoints[i].ep;
			method = endpoints[i].method;
			has_body = endpoints[i].has_body;
		}
	if (ep == EP_CREATE || ep == EP_REMOVE || ep == EP_MOUNT || ep == EP_UNMOUNT)
		busy = __atomic_add_fetch(&changing_calls, 1, __ATOMIC_SEQ_CST);
	if (ep != EP_UNKNOWN && !req->is_post) {
		set_body(ret, 405, CT_TEXT, "Method Not Allowed\n");
		goto out;
	}
	if (has_body && decode_body(req->body, req->body_len, &d, err, sizeof(err)) < 0) {
		char text[sizeof(err) + 1];

		snprintf(text, sizeof(text), "%s\n", err); /* as Go's http.Error */
		set_body(ret, 400, CT_TEXT, text);
		goto out;
	}

	fault_match(method, d.name, &ret->fault);
	switch (ret->fault.kind) {
	case FAULT_ERROR:
	case FAULT_ERR200:
		snprintf(err, sizeof(err), "%s", ret->fault.msg);
		set_err(ret, ret->fault.kind == FAULT_ERROR ? 500 : 200, err);
		goto out;
	case FAULT_STATUS:
		set_body(ret, (int)ret->fault.arg, CT_TEXT, "injected");
		goto out;
	case FAULT_NOTFOUND:
		set_body(ret, 404, CT_TEXT, NOT_FOUND_BODY);
		goto out;
	case FAULT_NOBODY:
		set_body(ret, 200, CT_PLUGIN, "");
		goto out;
	case FAULT_ANSWER: {
		char text[sizeof(ret->fault.msg) + 1];

		/* Bodies end with a newline, as Go's encoder writes them. */
		snprintf(text, sizeof(text), "%s\n", ret->fault.msg);
		set_body(ret, 200, CT_PLUGIN, text);
		goto out;
	}
	case FAULT_HANG:
	case FAULT_GARBAGE:
		/* nothing is done: the client never learns an answer */
		goto out;
	case FAULT_LATENCY:
		/* no lock is held here: concurrent calls wait in parallel */
		sleep_ms(ret->fault.arg);
		break;
	default:
		break;
	}

	if (ep == EP_UNKNOWN || (tp_config.mode == TP_MODE_OLD &&
				 (ep == EP_GET || ep == EP_LIST || ep == EP_CAPABILITIES))) {
		/* what Go's ServeMux answers, as pre-1.10 plugins did */
		set_body(ret, 404, CT_TEXT, NOT_FOUND_BODY);
		goto out;
	}
	run_endpoint(ep, &d, ret, err, sizeof(err), &answer);
	if (ret->fault.kind == FAULT_OVERSIZED && answer)
		set_oversized(ret, answer, ret->fault.arg);
out:
	if (!ret->body && ret->fault.kind != FAULT_HANG && ret->fault.kind != FAULT_GARBAGE &&
	    ret->fault.kind != FAULT_NOBODY)
		set_body(ret, 500, CT_TEXT, "out of memory\n");
	if (busy)
		__atomic_sub_fetch(&changing_calls, 1, __ATOMIC_SEQ_CST);
	write_log(req->path + (req->path[0] == '/'), &d, ret, err, busy);
	json_object_put(d.root);
}

void api_bad_request(const char *why, struct api_answer *ret)
{
	*ret = (struct api_answer){ 0 };
	set_body(ret, 400, CT_TEXT, "400 Bad Request\n");
	write_log("", NULL, ret, why, 0);
}

void api_answer_done(struct api_answer *a)
{
	free(a->body);
	a->body = NULL;
}
