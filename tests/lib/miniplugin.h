/* SPDX-License-Identifier: MIT */
/*
 * A tiny plugin for discovery tests: answers Activate and Capabilities with
 * a tag of its own as the scope, so a test can tell which plugin was found.
 * One request per connection, answered with "Connection: close".
 */
#ifndef DVMOUNT_TESTS_MINIPLUGIN_H
#define DVMOUNT_TESTS_MINIPLUGIN_H

#include <sys/types.h>

struct miniplugin {
	pid_t pid;
	int port; /* TCP: the port it listens on */
};

/* Listen on a Unix socket path, or on 127.0.0.1 (any port) when path is NULL. */
int miniplugin_start(struct miniplugin *m, const char *path, const char *tag,
		     const char *implements);
void miniplugin_stop(struct miniplugin *m);

#endif
