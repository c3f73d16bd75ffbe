/* SPDX-License-Identifier: MIT */
/*
 * The program's diagnostics (helper/dvmount.h): one line each on stderr,
 * prefixed with the name it was invoked as. Here rather than in main.c so
 * that libdvmount.a, which reports through these, links without main.o.
 */
#include <stdarg.h>
#include <stdio.h>

#include "helper/dvmount.h"

static void vlog(const struct globals *g, const char *level, const char *fmt, va_list ap)
{
	char line[1024];

	vsnprintf(line, sizeof(line), fmt, ap);
	/* One line each: a plugin's error text may carry newlines. */
	for (char *p = line; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	fprintf(stderr, "%s: %s%s\n", g->prog, level, line);
}

void log_error(const struct globals *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(g, "", fmt, ap);
	va_end(ap);
}

void log_warn(const struct globals *g, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(g, "warning: ", fmt, ap);
	va_end(ap);
}
