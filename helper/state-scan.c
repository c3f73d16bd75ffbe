/* SPDX-License-Identifier: MIT */
/* Listing the volumes the state knows, for recover and status. */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>

#include "helper/state-internal.h"

int state_volume_list(struct state *st, int (*cb)(const char *key, void *userdata), void *userdata)
{
	struct dirent *de;
	DIR *d;
	int fd, n = 0, r = 0;
	size_t seen = 0;

	fd = openat(st->volumes_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return negerrno();
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
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
