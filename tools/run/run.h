/* SPDX-License-Identifier: MIT */
/*
 * dvmount-run: a minimal containerizer, the seed's mesos-execute. It starts a
 * command in new mount, PID and UTS namespaces (optionally pivoted into a
 * rootfs), has `dvmount prepare --pid` attach the volumes while the
 * container's init waits on a pipe, tees the command's output into the
 * sandbox, and runs `dvmount cleanup` when the command ends or dvmount-run is
 * told to stop. It is the code path a real containerizer takes, so the
 * end-to-end tests drive it.
 */
#ifndef DVMOUNT_TOOLS_RUN_H
#define DVMOUNT_TOOLS_RUN_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

/* Exit statuses of dvmount-run itself, as podman and env(1) use them. */
enum {
	RUN_EXIT_FAILED = 125,	    /* dvmount-run, dvmount prepare or cleanup failed */
	RUN_EXIT_CANNOT_EXEC = 126, /* the command exists but cannot run */
	RUN_EXIT_NOT_FOUND = 127,   /* the command does not exist */
};

/* Where a container with a rootfs sees its sandbox (Mesos' mount point). */
#define RUN_SANDBOX_IN_ROOTFS "/mnt/mesos/sandbox"

/* At most this many global options are passed on to dvmount. */
#define RUN_DVMOUNT_ARGS_MAX 16

struct run_opts {
	const char *name;
	const char *volumes;	/* FILE, or "-" for stdin */
	const char *rootfs;	/* absolute host path, or NULL: the host's root */
	char sandbox[PATH_MAX]; /* absolute host path */
	bool sandbox_made;	/* we created it: removed at the end unless keep */
	bool have_user;
	uid_t uid;
	gid_t gid;
	bool keep;
	char *const *command; /* NULL-terminated */
	char dvmount[PATH_MAX];
	char *dvmount_args[RUN_DVMOUNT_ARGS_MAX + 1]; /* global options, NULL-terminated */
	char container_id[96];
};

/*
 * The container while it runs, seen from dvmount-run. Every fd is O_CLOEXEC
 * and owned by this structure; run_container_close() releases them.
 */
struct run_container {
	pid_t pid;  /* its init, in dvmount-run's PID namespace */
	int pidfd;  /* of the init */
	int go_fd;  /* write one byte: start the command; close: give up */
	int out_fd; /* the command's stdout (a pipe), -EBADF once at EOF */
	int err_fd; /* the command's stderr */
};

/*
 * Start the container's init: it enters new mount, PID and UTS namespaces,
 * makes every mount private, bind-mounts the rootfs onto itself with the
 * sandbox under it (o->rootfs) and waits until run_container_go(). This is
 * the state an OCI createRuntime hook sees (facts/oci-runtimes.md), which is
 * what `dvmount prepare --pid --rootfs` expects. The command's stdin is
 * /dev/null when null_stdin, else dvmount-run's. Returns 0 once the init is
 * ready, or -errno (the init's own error is printed by it, on stderr).
 */
int run_container_start(const struct run_opts *o, bool null_stdin, struct run_container *ret);

/*
 * Let the init pivot_root into the rootfs, mount /proc, change to the
 * sandbox, take the user and exec the command. 0 or -errno from write(2).
 */
int run_container_go(struct run_container *c);

/* Close every fd still open; accepts a zeroed or half-started container. */
void run_container_close(struct run_container *c);

#endif
