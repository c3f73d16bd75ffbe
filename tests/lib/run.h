/* SPDX-License-Identifier: MIT */
/*
 * Test helpers: run dvmount and the tools as a user would, capture what they
 * print, start plugins, and keep every test in its own mount namespace.
 */
#ifndef DVMOUNT_TESTS_RUN_H
#define DVMOUNT_TESTS_RUN_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define RUN_OUT_MAX (256 << 10)

struct run_result {
	int status;  /* exit status, or 128+signal */
	char *out;   /* stdout, NUL-terminated */
	char *err;   /* stderr, NUL-terminated */
	double secs; /* wall time */
};

/* build/<name>, found next to the running test binary (build/tests/..). */
const char *build_path(const char *name);

/* Run argv (NULL-terminated) to completion with a time limit; stdin is /dev/null. */
int run_argv(struct run_result *r, char *const argv[], unsigned timeout_ms);
/*
 * The same, and SIGKILL it kill_after_us microseconds after its exec
 * succeeded (negative: never), unless it exited before: r->status says
 * which (128 + SIGKILL when the kill landed). Only that process is killed,
 * as by kill -9: what it started is left to itself.
 */
int run_argv_killed(struct run_result *r, char *const argv[], unsigned timeout_ms,
		    long kill_after_us);
/* Run build/dvmount with the given arguments (NULL-terminated list). */
int run_dvmount(struct run_result *r, ...) __attribute__((sentinel));
void run_result_free(struct run_result *r);

/* Start a background process that dies with the test; stdout to *ret_out if asked. */
pid_t spawn(char *const argv[], int *ret_stdout);
/* Read one line (up to 255 bytes) from fd within the time limit; 0 on success. */
int read_line(int fd, char *buf, size_t size, unsigned timeout_ms);
/* SIGTERM, then SIGKILL after the grace period; reaps the process. */
void stop_process(pid_t pid, unsigned grace_ms);

/*
 * Start build/dvmount-testplugin on <dir>/plugins/<name>.sock with its root,
 * log and faults file under <dir>/<name>.{root,log,faults}; extra arguments
 * (NULL-terminated, may be NULL) follow. Returns its pid once it is ready.
 */
pid_t testplugin_start(const char *dir, const char *name, char *const extra[]);

/* Wait until a connect() to the Unix socket succeeds. */
int wait_socket(const char *path, unsigned timeout_ms);

/* unshare(CLONE_NEWNS) and make everything private: mounts stay in the test. */
int private_mount_ns(void);

/*
 * An installed program: the first of /usr/sbin, /usr/bin, /sbin, /bin,
 * /usr/local/sbin, /usr/local/bin holding an executable name, written to
 * found and returned; NULL when there is none (the test SKIPs).
 */
const char *find_program(const char *name, char found[static PATH_MAX]);

/*
 * `RUNTIME --root ROOT [--cgroup-manager=disabled] run --bundle BUNDLE CID`
 * (runc, or crun with crun set: no cgroups in a test's namespaces,
 * facts/oci-runtimes.md), ROOT made first (0700); 60 s at most. Returns
 * run_argv()'s result (the container's exit status and output in r), or
 * the -errno of making ROOT.
 */
int run_oci_bundle(struct run_result *r, const char *runtime, bool crun, const char *root,
		   const char *bundle, const char *cid);

/*
 * A runtime config for a test container: `runc spec` in bundle (a
 * config.json already there is replaced), its process made `sh -c cmd`
 * without a terminal. Returns it, the caller's to put, or NULL when runc
 * or the file failed; nothing is written back.
 */
json_object *runc_spec_config(const char *runc, const char *bundle, const char *cmd);

/* A fresh directory under /tmp, and its recursive removal. */
char *make_tmpdir(const char *tag);
void remove_tree(const char *path);
/*
 * The end of a make_tmpdir() directory that had a tmpfs mounted on it:
 * detached, removed, freed; accepts NULL.
 */
void remove_tmpdir(char *dir);

/*
 * Copy the program src to dst, root-owned, and install it as dvmount is for
 * a caller other than root (DESIGN.md, Privilege): INSTALL_SETUID setuid
 * root, INSTALL_FILECAPS with the six capabilities it keeps as file
 * capabilities, +ep (needs /usr/sbin/setcap); INSTALL_PLAIN neither (for
 * root). 0, or -errno (-EIO when cp or setcap failed).
 */
enum install_as { INSTALL_PLAIN, INSTALL_SETUID, INSTALL_FILECAPS };
int install_privileged(const char *src, const char *dst, enum install_as how);

/* Number of open fds of this process. */
int count_fds(void);

/* Whole file into a malloc'd NUL-terminated buffer (NULL if absent). */
char *read_file(const char *path);
int write_file(const char *path, const char *text);
/* Occurrences of needle in the text. */
int count_str(const char *hay, const char *needle);

#endif
