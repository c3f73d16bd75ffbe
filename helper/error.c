/* SPDX-License-Identifier: MIT */
/*
 * The error carrier and the exit status (helper/error.h). The exit values
 * live here and nowhere else: `make exit-check` fails on any other use.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "helper/dvmount.h"
#include "helper/error.h"

/* The exec contract (DESIGN.md): containerizers test these. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,
	EXIT_USAGE = 2,
	EXIT_DENIED = 3,
};

int dv_error_set(struct dv_error *e, enum dv_error_kind kind, int err, const char *fmt, ...)
{
	int r = err < 0			  ? err
		: kind == DV_ERROR_USAGE  ? -EINVAL
		: kind == DV_ERROR_DENIED ? -EACCES
					  : -EIO;
	va_list ap;

	if (e->kind != DV_ERROR_NONE)
		return r;
	e->kind = kind == DV_ERROR_NONE ? DV_ERROR_FAIL : kind;
	e->err = err < 0 ? err : 0;
	e->text[0] = '\0';
	if (!fmt)
		return r;
	va_start(ap, fmt);
	vsnprintf(e->text, sizeof(e->text), fmt, ap);
	va_end(ap);
	/* One line: a plugin's error text may carry newlines. */
	for (char *p = e->text; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return r;
}

void dv_error_clear(struct dv_error *e)
{
	e->kind = DV_ERROR_NONE;
	e->err = 0;
	e->text[0] = '\0';
}

void dv_error_print(const struct globals *g, const struct dv_error *e)
{
	if (e->kind != DV_ERROR_NONE && e->text[0])
		log_error(g, "%s", e->text);
}

int dv_exit_code(const struct dv_error *e)
{
	switch (e->kind) {
	case DV_ERROR_NONE:
		return EXIT_OK;
	case DV_ERROR_USAGE:
		return EXIT_USAGE;
	case DV_ERROR_DENIED:
		return EXIT_DENIED;
	case DV_ERROR_FAIL:
	default:
		return EXIT_FAIL;
	}
}
