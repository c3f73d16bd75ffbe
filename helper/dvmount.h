/* SPDX-License-Identifier: MIT */
/*
 * The dvmount program: global options shared by every command, and one
 * entry point per command (one file each: cmd_<name>.c). Exit codes are
 * helper/error.h's: commands fill its carrier.
 */
#ifndef DVMOUNT_HELPER_DVMOUNT_H
#define DVMOUNT_HELPER_DVMOUNT_H

#include <stdbool.h>

#include "common/macro.h"

#define DVMOUNT_VERSION "0.1.0"
#define DEFAULT_STATE_DIR "/var/lib/dvmount"
#define DEFAULT_POLICY_FILE "/etc/dvmount/policy.conf"

struct globals {
	const char *state_dir;
	const char *policy_file;
	const char *plugin_path; /* colon-separated directories; NULL: Docker's */
	bool json;
	bool no_uring;		   /* --no-uring: the plain-syscall transport */
	bool caller_is_root;	   /* real uid 0: may change paths and policy */
	unsigned plugin_retry_ms;  /* budget for waiting on an absent plugin */
	unsigned timeout_mount_ms; /* Create and Mount */
	unsigned timeout_other_ms; /* every other call */
	unsigned max_in_flight;	   /* --max-in-flight: every plugin; 0: the policy's, or 1 */
	const char *prog;	   /* "dvmount" or "dvdcli", for messages */
	bool oci_hook;		   /* prepare runs for oci-hook: the user wrote config.json */
};

/*
 * One line on stderr, "PROG: TEXT" (log_warn: "PROG: warning: TEXT"), PROG
 * being g->prog; newlines in TEXT (a plugin's error text) become spaces and
 * TEXT is cut at 1023 bytes (STYLE.md 7). Only the program calls these: the
 * libraries under it return -errno and text (STYLE.md 2). An error goes into
 * the carrier (helper/error.h), which main prints with log_error; besides it
 * only lc_report (the failures before the last) and the waiting notice call
 * log_error (make exit-check). Warnings use log_warn anywhere in the
 * program. helper/log.c.
 */
void log_error(const struct globals *g, const char *fmt, ...) _printf_(2, 3);
void log_warn(const struct globals *g, const char *fmt, ...) _printf_(2, 3);

struct dv_error;
struct plugin_config;
/*
 * The plugin client's configuration from the global options (paths, retry
 * budget and timeouts in ms, transport, max-in-flight); on a terminal or with
 * --debug, a waiting notice through log_error. *ret is overwritten whole and
 * borrows g (which must outlive the client) and its strings. helper/globals.c.
 */
void globals_plugin_config(const struct globals *g, struct plugin_config *ret);

/*
 * Commands: argv[0] is the command name (argv is permuted by getopt). They
 * return 0, or -errno with err filled (helper/error.h: kind and one line);
 * main() prints that line and chooses the exit status from its kind. err must
 * be empty on entry. Output that is not an error (JSON, lint diagnostics,
 * warnings) they print themselves.
 */
int cmd_volume(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_dvdcli(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_policy(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_prepare(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_cleanup(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_recover(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_status(struct globals *g, int argc, char **argv, struct dv_error *err);
int cmd_oci_hook(struct globals *g, int argc, char **argv, struct dv_error *err);

#endif
