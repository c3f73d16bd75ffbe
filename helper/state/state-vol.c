/* SPDX-License-Identifier: MIT */
/*
 * The lifecycle of a volume entry: one typed state and the named transitions
 * between its values (issue 11). Everything that mounts or unmounts a volume
 * (prepare, cleanup, recover, dvdcli) changes the entry only through
 * state_vol_apply(), so the rules are in this one table.
 */
#include <string.h>

#include "helper/state/state-internal.h"

#define STATE_KEY "state"

static const char *const names[] = {
	[STATE_VOL_IDLE] = "idle",
	[STATE_VOL_MOUNTING] = "mounting",
	[STATE_VOL_MOUNTED] = "mounted",
	[STATE_VOL_UNMOUNTING] = "unmounting",
	[STATE_VOL_PENDING_UNMOUNT] = "pending_unmount",
};

#define BIT(s) (1u << (s))
#define HELD (BIT(STATE_VOL_MOUNTED) | BIT(STATE_VOL_UNMOUNTING) | BIT(STATE_VOL_PENDING_UNMOUNT))

/* From which states each transition may start, and where it leads. */
static const struct {
	unsigned from;
	enum state_vol to;
} transitions[] = {
	[STATE_VOL_MOUNT_BEGIN] = { BIT(STATE_VOL_IDLE) | BIT(STATE_VOL_MOUNTING),
				    STATE_VOL_MOUNTING },
	[STATE_VOL_MOUNT_DONE] = { BIT(STATE_VOL_MOUNTING), STATE_VOL_MOUNTED },
	[STATE_VOL_MOUNT_REFUSED] = { BIT(STATE_VOL_MOUNTING), STATE_VOL_IDLE },
	[STATE_VOL_REUSE] = { HELD, STATE_VOL_MOUNTED },
	/* From mounting too: a run died around its Mount and its window is over. */
	[STATE_VOL_RENEW] = { HELD | BIT(STATE_VOL_MOUNTING), STATE_VOL_IDLE },
	[STATE_VOL_UNMOUNT_BEGIN] = { BIT(STATE_VOL_MOUNTING) | BIT(STATE_VOL_MOUNTED) |
					  BIT(STATE_VOL_UNMOUNTING),
				      STATE_VOL_UNMOUNTING },
	[STATE_VOL_UNMOUNT_FAILED] = { BIT(STATE_VOL_UNMOUNTING) | BIT(STATE_VOL_PENDING_UNMOUNT),
				       STATE_VOL_PENDING_UNMOUNT },
};

/* The four booleans of entries written before issue 11 (kept readable for upgrades). */
static bool old_flag(json_object *entry, const char *key)
{
	json_object *v = json_object_object_get(entry, key);

	return json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

int state_vol_get(json_object *entry, enum state_vol *ret)
{
	json_object *v;

	if (json_object_object_get_ex(entry, STATE_KEY, &v)) {
		const char *s =
		    json_object_is_type(v, json_type_string) ? json_object_get_string(v) : "";

		for (size_t i = 0; i < ARRAY_SIZE(names); i++)
			if (!strcmp(s, names[i])) {
				*ret = (enum state_vol)i;
				return 0;
			}
		return -EBADMSG;
	}
	/* An old entry always has "mounted": without it, the entry is not ours. */
	if (!json_object_object_get_ex(entry, "mounted", NULL))
		return -EBADMSG;
	/* Old writers left "mounted" true through the unmount states: they go first. */
	if (old_flag(entry, "pending_unmount"))
		*ret = STATE_VOL_PENDING_UNMOUNT;
	else if (old_flag(entry, "unmounting"))
		*ret = STATE_VOL_UNMOUNTING;
	else if (old_flag(entry, "mounting"))
		*ret = STATE_VOL_MOUNTING;
	else if (old_flag(entry, "mounted"))
		*ret = STATE_VOL_MOUNTED;
	else
		*ret = STATE_VOL_IDLE;
	return 0;
}

const char *state_vol_name(enum state_vol s)
{
	return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

bool state_vol_held(enum state_vol s)
{
	return HELD & BIT(s);
}

static int set(json_object *entry, enum state_vol s)
{
	static const char *const old[] = { "mounting", "mounted", "unmounting", "pending_unmount" };

	if (json_object_object_add(entry, STATE_KEY, json_object_new_string(names[s])) < 0)
		return -ENOMEM;
	/* Written in the new form only: an upgraded entry loses the old keys. */
	for (size_t i = 0; i < ARRAY_SIZE(old); i++)
		json_object_object_del(entry, old[i]);
	return 0;
}

int state_vol_init(json_object *entry)
{
	return set(entry, STATE_VOL_IDLE);
}

int state_vol_apply(json_object *entry, enum state_vol_transition t)
{
	enum state_vol from;
	int r;

	if ((size_t)t >= ARRAY_SIZE(transitions))
		return -EINVAL;
	r = state_vol_get(entry, &from);
	if (r < 0)
		return r;
	/* A failed Unmount retried by recover stays pending, not unmounting. */
	if (t == STATE_VOL_UNMOUNT_BEGIN && from == STATE_VOL_PENDING_UNMOUNT)
		return 0;
	if (!(transitions[t].from & BIT(from)))
		return -EINVAL;
	if (t == STATE_VOL_RENEW) {
		char id[STATE_MOUNT_ID_LEN + 1];

		/* The old id's mount is gone: a new id holds nothing yet. */
		r = state_mount_id_new(id);
		if (r < 0)
			return r;
		if (json_object_object_add(entry, "mount_id", json_object_new_string(id)) < 0)
			return -ENOMEM;
		json_object_object_del(entry, "host_path");
	}
	if (from == transitions[t].to && t != STATE_VOL_RENEW &&
	    json_object_object_get_ex(entry, STATE_KEY, NULL))
		return 0;
	r = set(entry, transitions[t].to);
	return r < 0 ? r : 1;
}
