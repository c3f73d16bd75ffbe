/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common/debug.h"

unsigned debug_mask;

static const struct {
	const char *name;
	unsigned flag;
} subsystems[] = {
	{ "rpc", DEBUG_RPC },	  { "uring", DEBUG_URING },   { "ns", DEBUG_NS },
	{ "state", DEBUG_STATE }, { "policy", DEBUG_POLICY }, { "all", DEBUG_ALL },
};

unsigned debug_parse(const char *list)
{
	unsigned mask = 0;

	while (list && *list) {
		size_t n = strcspn(list, ",");

		for (size_t i = 0; i < ARRAY_SIZE(subsystems); i++)
			if (strlen(subsystems[i].name) == n &&
			    !strncmp(list, subsystems[i].name, n))
				mask |= subsystems[i].flag;
		list += n + (list[n] == ',');
	}
	return mask;
}

void debug_log(const char *subsys, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "dvmount[%d] %s: %s\n", (int)getpid(), subsys, line);
}
