/* SPDX-License-Identifier: MIT */
/*
 * The program's one error carrier, and the one place its exit status is
 * decided (issue 11).
 *
 * Every command (helper/cmd_*.c) takes a struct dv_error, returns 0 or
 * -errno, and on failure has filled the carrier: its kind (failure, usage
 * error, denial by policy) and ONE line naming the container, driver, volume
 * and path concerned. main() prints that line once ("PROG: TEXT", through
 * log_error) and turns the kind into the exit status with dv_exit_code(),
 * the only function that knows the values of DESIGN.md's exec contract:
 * 0 success, 1 failure, 2 usage error, 3 denied by policy.
 *
 * The first error set wins: what follows it is its consequence, or the undo
 * of what led to it, and a later dv_error_set() leaves the carrier as it is.
 * A command that reports several failures (lc_report(): prepare, cleanup,
 * recover naming each container) prints all but the last as they are
 * reported, in order, and puts the last one in the carrier, so that stderr
 * reads as it did line for line.
 *
 * An empty text is a failure that has nothing (more) to say in this form:
 * a usage text already printed, `policy check`'s diagnostics, a dvdcli
 * stdout that could not be flushed. Warnings (log_warn) and outputs that are
 * not errors never go through the carrier.
 *
 * The carrier is a fixed-size value on the caller's stack: no allocation,
 * the text cut at DV_ERROR_TEXT_MAX - 1 bytes (log_error's own bound).
 */
#ifndef DVMOUNT_HELPER_ERROR_H
#define DVMOUNT_HELPER_ERROR_H

#include <errno.h>

#include "common/macro.h"

struct globals;

enum dv_error_kind {
	DV_ERROR_NONE = 0, /* success: exit 0 */
	DV_ERROR_FAIL,	   /* exit 1 */
	DV_ERROR_USAGE,	   /* exit 2: the command line is wrong */
	DV_ERROR_DENIED,   /* exit 3: the policy (or the caller check) said no */
};

#define DV_ERROR_TEXT_MAX 1024

struct dv_error {
	enum dv_error_kind kind;
	int err;		      /* the -errno behind it; 0 for none */
	char text[DV_ERROR_TEXT_MAX]; /* one line, no prefix; "" for nothing to add */
};

/*
 * Set e to kind (DV_ERROR_NONE is taken as a failure) with the text of fmt,
 * newlines and carriage returns made spaces (a plugin's error text may carry
 * them), cut at DV_ERROR_TEXT_MAX - 1 bytes; fmt NULL: no text (already said
 * on stderr).
 * err is the -errno behind it, or 0. Nothing happens when e already holds an
 * error (the first wins). Returns err when it is negative, else the -errno
 * that kind stands for: -EIO (failure), -EINVAL (usage), -EACCES (denied); so
 * that `return dv_usage(err, "...");` is the whole error path of a command.
 */
int dv_error_set(struct dv_error *e, enum dv_error_kind kind, int err, const char *fmt, ...)
    _printf_(4, 5);

#define dv_fail(e, err, ...) dv_error_set(e, DV_ERROR_FAIL, err, __VA_ARGS__)
#define dv_usage(e, ...) dv_error_set(e, DV_ERROR_USAGE, -EINVAL, __VA_ARGS__)
#define dv_denied(e, ...) dv_error_set(e, DV_ERROR_DENIED, -EACCES, __VA_ARGS__)
/* A failure of that kind whose words are already on stderr (a usage text). */
#define dv_said(e, kind) dv_error_set(e, kind, 0, NULL)

/* An empty carrier: no error, no text. */
void dv_error_clear(struct dv_error *e);

/*
 * Print e's text, if any, as one line on stderr ("PROG: TEXT", log_error),
 * PROG being g->prog. Prints nothing for DV_ERROR_NONE or an empty text.
 */
void dv_error_print(const struct globals *g, const struct dv_error *e);

/*
 * The exit status for e's kind (DESIGN.md, "Exit status"): 0, 1, 2 or 3; an
 * unknown kind is a failure (1). The only place those values are chosen
 * (make exit-check).
 */
int dv_exit_code(const struct dv_error *e);

#endif
