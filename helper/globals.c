/* SPDX-License-Identifier: MIT */
/* What the global options mean to the libraries below the commands. */
#include <stdbool.h>
#include <unistd.h>

#include "common/debug.h"
#include "helper/dvmount.h"
#include "helper/plugin/plugin.h"

static void say_waiting(const char *driver, const char *why, unsigned retry_ms, void *userdata)
{
	log_error(userdata,
		  "plugin '%s' is not there yet (%s); waiting up to %.1f s for its socket", driver,
		  why, (double)retry_ms / 1000);
}

void globals_plugin_config(const struct globals *g, struct plugin_config *ret)
{
	/* A person watching (a terminal, or --debug) is told why nothing happens yet. */
	bool tell = debug_mask != 0 || isatty(STDERR_FILENO);

	*ret = (struct plugin_config){
		.on_wait = tell ? say_waiting : NULL,
		.wait_userdata = (void *)g,
		.plugin_path = g->plugin_path,
		.retry_ms = g->plugin_retry_ms,
		.timeout_mount_ms = g->timeout_mount_ms,
		.timeout_other_ms = g->timeout_other_ms,
		.no_uring = g->no_uring,
		.max_in_flight = g->max_in_flight,
	};
}
