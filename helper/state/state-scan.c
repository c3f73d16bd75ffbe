/* SPDX-License-Identifier: MIT */
/* Listing the volumes the state knows, for recover and status. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include "helper/state/state-internal.h"

int state_volume_list(struct state *st, int (*cb)(const char *key, void *userdata), void *userdata)
{
	struct dirent *de;
	DIR *d;
	int n = 0, r;
	size_t seen = 0;

	r = state_opendir(st->volumes_fd, &d);
	if (r < 0)
		return r;
	while ((de = readdir(d)) && seen++ < STATE_LIST_MAX) {
		/* Temp files and "."/".." start with a dot; keys never do. */
		if (de->d_name[0] == '.' || strlen(de->d_name) >= STATE_KEY_MAX)
			continue;
		n++;
		r = cb(de->d_name, userdata);
		if (r < 0)
			break;
	}
	closedir(d);
	return r < 0 ? r : n;
}
