/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "common/macro.h"
#include "tests/lib/invariants.h"

/*
 * Drop the IDs whose Mounts and Unmounts pair up: dvmount takes a fresh ID
 * for each plugin mount, so a long run sees many more IDs than it ever holds
 * at once. Returns how many are kept.
 */
static size_t forget_balanced(struct inv_held *h)
{
	size_t n = 0;

	for (size_t i = 0; i < h->n; i++) {
		if (h->net[i] == 0)
			continue;
		if (n != i) {
			memcpy(h->ids[n], h->ids[i], sizeof(h->ids[0]));
			h->net[n] = h->net[i];
		}
		n++;
	}
	return n;
}

int inv_plugin_held(const char *log_path, struct inv_held *ret)
{
	_cleanup_free_ char *log = read_file(log_path);
	char *save = NULL;

	memset(ret, 0, sizeof(*ret));
	if (!log)
		return 0;
	for (char *l = strtok_r(log, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		_cleanup_json_ json_object *o = json_tokener_parse(l);
		const char *ep = json_object_get_string(json_object_object_get(o, "endpoint"));
		const char *id = json_object_get_string(json_object_object_get(o, "id"));
		int d;
		size_t i;

		if (!ep || !id || json_object_get_int(json_object_object_get(o, "status")) != 200 ||
		    json_object_object_get(o, "err"))
			continue;
		d = !strcmp(ep, "VolumeDriver.Mount")	  ? 1
		    : !strcmp(ep, "VolumeDriver.Unmount") ? -1
							  : 0;
		for (i = 0; i < ret->n && strcmp(ret->ids[i], id); i++)
			;
		if (i == INV_IDS_MAX)
			i = ret->n = forget_balanced(ret);
		if (i == INV_IDS_MAX)
			return -E2BIG;
		if (i == ret->n) {
			/* A slot forget_balanced() freed still holds the count it had. */
			ret->net[i] = 0;
			snprintf(ret->ids[ret->n++], sizeof(ret->ids[0]), "%s", id);
		}
		ret->net[i] += d;
	}
	return 0;
}

int inv_rclone_held(const char *state_path, struct inv_held *ret)
{
	_cleanup_free_ char *text = read_file(state_path);
	_cleanup_json_ json_object *vols = NULL;

	memset(ret, 0, sizeof(*ret));
	if (!text)
		return 0;
	vols = json_tokener_parse(text);
	if (!json_object_is_type(vols, json_type_array))
		return -EBADMSG;
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		json_object *m =
		    json_object_object_get(json_object_array_get_idx(vols, i), "mounts");

		for (size_t j = 0; j < json_object_array_length(m); j++) {
			if (ret->n == INV_IDS_MAX)
				return -E2BIG;
			snprintf(ret->ids[ret->n], sizeof(ret->ids[0]), "%s",
				 json_object_get_string(json_object_array_get_idx(m, j)));
			ret->net[ret->n++] = 1;
		}
	}
	return 0;
}

bool inv_is_held(const struct inv_held *h, const char *id)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->ids[i], id))
			return h->net[i] > 0;
	return false;
}

int inv_held_count(const struct inv_held *h)
{
	int held = 0;

	for (size_t i = 0; i < h->n; i++)
		held += h->net[i] > 0;
	return held;
}

/* Append one violation to why; returns 1 (one more violation). */
__attribute__((format(printf, 3, 4))) static int why_add(char *why, size_t size, const char *fmt,
							 ...)
{
	size_t len = strnlen(why, size);
	va_list ap;

	if (size == 0 || len + 1 >= size)
		return 1;
	if (len > 0)
		len += snprintf(why + len, size - len, "; ");
	if (len + 1 < size) {
		va_start(ap, fmt);
		vsnprintf(why + len, size - len, fmt, ap);
		va_end(ap);
	}
	return 1;
}

static bool has_record(json_object *containers, const char *cid)
{
	for (size_t i = 0; i < json_object_array_length(containers); i++) {
		json_object *c = json_object_array_get_idx(containers, i);
		const char *id = json_object_get_string(json_object_object_get(c, "container_id"));

		if (id && !strcmp(id, cid))
			return true;
	}
	return false;
}

int inv_check(struct lcenv *e, const struct inv_container *c, size_t n, char *why, size_t size)
{
	struct inv_held h;
	int r = inv_plugin_held(e->log, &h);

	if (r < 0) {
		if (size > 0)
			snprintf(why, size, "the plugin's log: %s", strerror(-r));
		return r;
	}
	return inv_check_held(e, &h, c, n, why, size);
}

int inv_check_held(struct lcenv *e, const struct inv_held *h, const struct inv_container *c,
		   size_t n, char *why, size_t size)
{
	_cleanup_json_ json_object *st = NULL;
	json_object *vols, *cs;
	int users_ids = 0, held, bad = 0, r;

	if (size > 0)
		why[0] = '\0';
	r = lcenv_status(e, &st);
	if (r < 0) {
		why_add(why, size, "status failed (%s)", strerror(-r));
		return r;
	}
	if (json_object_array_length(json_object_object_get(st, "quarantined")) != 0)
		bad +=
		    why_add(why, size, "records quarantined: %s",
			    json_object_to_json_string(json_object_object_get(st, "quarantined")));
	vols = json_object_object_get(st, "volumes");
	for (size_t i = 0; i < json_object_array_length(vols); i++) {
		json_object *v = json_object_array_get_idx(vols, i);
		const char *id = json_object_get_string(json_object_object_get(v, "mount_id"));

		if (json_object_get_int(json_object_object_get(v, "refcount")) <= 0)
			continue;
		users_ids++;
		if (!id || !inv_is_held(h, id))
			bad += why_add(
			    why, size,
			    "volume %s has users but the plugin holds no mount under its ID",
			    json_object_get_string(json_object_object_get(v, "name")));
	}
	held = inv_held_count(h);
	if (held != users_ids)
		bad +=
		    why_add(why, size, "the plugin holds %d mount(s), %d in use", held, users_ids);
	cs = json_object_object_get(st, "containers");
	for (size_t i = 0; i < n; i++) {
		bool recorded = has_record(cs, c[i].cid);
		int want = recorded ? c[i].mounts : 0;
		int got = lc_mounts_under(c[i].pid, c[i].prefix);

		if (got != want)
			bad += why_add(why, size, "%s %s: %d mount(s) under \"%s\", expected %d",
				       c[i].cid, recorded ? "recorded" : "not recorded", got,
				       c[i].prefix, want);
	}
	return bad;
}

int inv_recover(struct lcenv *e, char *const args[], char *why, size_t size)
{
	return inv_recover_settle(e, args, 0, why, size);
}

int inv_recover_settle(struct lcenv *e, char *const args[], unsigned settle_ms, char *why,
		       size_t size)
{
	bool kept;
	struct run_result r;
	int bad = 0, ret;

	if (size > 0)
		why[0] = '\0';
	ret = lcenv_runv(e, &r, NULL, args);
	if (ret < 0) {
		run_result_free(&r);
		why_add(why, size, "recover could not run");
		return -EIO;
	}
	kept = r.status == 1 && strstr(r.err, "kept for retry");
	if (r.status != 0 && !kept)
		bad += why_add(why, size, "recover: exit %d: %s", r.status, r.err);
	run_result_free(&r);
	if (kept && settle_ms > 0)
		usleep(settle_ms * 1000u);
	ret = lcenv_expire_in_flight(e);
	if (ret < 0) {
		why_add(why, size, "cannot end the in-flight windows (%s)", strerror(-ret));
		return ret;
	}
	ret = lcenv_runv(e, &r, NULL, args);
	if (ret < 0) {
		run_result_free(&r);
		why_add(why, size, "recover could not run");
		return -EIO;
	}
	if (r.status != 0)
		bad += why_add(why, size, "recover once the window is over: exit %d: %s", r.status,
			       r.err);
	run_result_free(&r);
	return bad;
}
