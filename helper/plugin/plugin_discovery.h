/* SPDX-License-Identifier: MIT */
/* Private to the plugin client: plugin discovery (facts/plugin-protocol.md). */
#ifndef DVMOUNT_HELPER_PLUGIN_PLUGIN_DISCOVERY_H
#define DVMOUNT_HELPER_PLUGIN_PLUGIN_DISCOVERY_H

#include <limits.h>
#include <stdbool.h>

#include "common/macro.h"

#define PLUGIN_PATH_MAX 16 /* directories in --plugin-path */

struct plugin_location {
	char url[PATH_MAX + 8]; /* unix:///... or tcp://host:port */
	char file[PATH_MAX];	/* the socket or spec file it came from */
	char error[PATH_MAX + 128];
};

bool plugin_name_valid(const char *name);

/*
 * Find the plugin: 0 and its address, -ENOENT when nothing matches (worth a
 * retry: a plugin may still be starting), other -errno for a broken spec file.
 * loc->error says why in words.
 */
int plugin_discover(const char *plugin_path, const char *name, struct plugin_location *loc);

#endif
