/* SPDX-License-Identifier: MIT */
/*
 * dvmount oci-hook createRuntime|poststop: an OCI runtime hook (runtime-spec
 * "hooks") for runc, crun and what is built on them.
 *
 * The runtime writes the container's state on stdin; the volumes come from
 * the bundle's config.json annotation "org.dvmount.volumes" (a JSON string
 * holding what `prepare --volumes` reads), or from one annotation per volume
 * (helper/oci_annotations.h). createRuntime is prepare --pid
 * into the container's rootfs, poststop is cleanup, both by the OCI id. The
 * stage comes from the command line: runc and crun disagree on "status"
 * (facts/oci-runtimes.md).
 *
 * Both run in this process through cmd_prepare/cmd_cleanup, so the global
 * options, the hardening and the caller check already done apply unchanged.
 */
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/fileio.h"
#include "common/jsonutil.h"
#include "helper/caller.h"
#include "helper/dvmount.h"
#include "helper/error.h"
#include "helper/oci.h"
#include "helper/oci_annotations.h"
#include "helper/state/state.h"

#define OCI_ANNOTATION "org.dvmount.volumes"
/* The state is a few hundred bytes; config.json carries seccomp profiles and more. */
#define OCI_STATE_MAX (1024 * 1024)
#define OCI_CONFIG_MAX (4 * 1024 * 1024)

enum oci_stage {
	OCI_CREATE_RUNTIME,
	OCI_POSTSTOP,
};

struct hook {
	struct globals *g;
	struct dv_error *err; /* the command's carrier */
	enum oci_stage stage;
	json_object *state;  /* owned */
	json_object *config; /* owned; loaded when the state does not say enough */
	char *volumes;	     /* owned; built from per-volume annotations */
	const char *id;
	const char *bundle;
};

static void hook_done(struct hook *h)
{
	json_object_put(h->state);
	json_object_put(h->config);
	free(h->volumes);
}

static const char *str_member(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/*
 * <bundle>/config.json, bounded. Only a regular file: a FIFO planted there
 * would block the runtime forever. A caller that is not root (a setuid
 * dvmount) gets only a file it can read itself.
 */
static int load_config(struct hook *h)
{
	_cleanup_(caller_fs_leave) struct caller_fs cfs = {};
	_cleanup_close_ int dfd = -EBADF, fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	const char *why = NULL;
	struct stat st;
	size_t len;
	int r;

	if (h->config)
		return 0;
	/* As the caller: it names the bundle (issue 10). */
	r = caller_fs_enter(h->g, &cfs);
	if (r < 0)
		return dv_fail(h->err, r,
			       "oci-hook: container '%s': cannot take the caller's identity: %s",
			       h->id, strerror(-r));
	/*
	 * For a caller that is not root, nothing on the way may be a symlink it
	 * could swap between a check and the open, and bundle and file must be
	 * its own: root never opens, on its behalf, what it could not.
	 */
	struct open_how how = { .flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
				.resolve = h->g->caller_is_root
					       ? 0
					       : RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };

	dfd = (int)syscall(SYS_openat2, AT_FDCWD, h->bundle, &how, sizeof(how));
	if (dfd < 0 || (!h->g->caller_is_root && (fstat(dfd, &st) < 0 || st.st_uid != getuid()))) {
		r = dfd < 0 ? negerrno() : -EPERM;
		why = r == -EPERM ? "not the caller's" : strerror(-r);
		/* No hint of what exists where the caller cannot look. */
		if (dfd < 0 && !h->g->caller_is_root &&
		    (r == -EACCES || r == -ENOENT || r == -ENOTDIR)) {
			r = -ENOENT;
			why = CALLER_NOT_FOUND;
		}
		if (h->stage == OCI_POSTSTOP)
			log_warn(h->g,
				 "oci-hook: container '%s': bundle '%s': %s; cleaning up anyway",
				 h->id, h->bundle, why);
		else
			dv_fail(h->err, r, "oci-hook: container '%s': bundle '%s': %s", h->id,
				h->bundle, why);
		return r;
	}
	how = (struct open_how){ .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK,
				 .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
					    RESOLVE_NO_MAGICLINKS };
	fd = (int)syscall(SYS_openat2, dfd, "config.json", &how, sizeof(how));
	if (fd < 0) {
		r = negerrno();
		if (!h->g->caller_is_root && (r == -EACCES || r == -ENOENT))
			why = CALLER_NOT_FOUND;
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		r = negerrno();
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		why = "not a regular file";
		goto fail;
	}
	if (!h->g->caller_is_root && st.st_uid != getuid()) {
		r = -EPERM;
		why = "not the caller's file";
		goto fail;
	}
	r = read_fd_bounded(fd, OCI_CONFIG_MAX, &buf, &len);
	if (r == -EFBIG)
		why = "larger than 4 MiB";
	if (r == 0)
		r = oci_parse_object(buf, len, &h->config, &why);
	if (r == 0)
		return 0;
fail:
	if (h->stage == OCI_POSTSTOP)
		/* The bundle may be gone by now: cleanup by the id alone, see cmd_oci_hook. */
		log_warn(h->g, "oci-hook: container '%s': '%s/config.json': %s; cleaning up anyway",
			 h->id, h->bundle, why ? why : strerror(-r));
	else
		dv_fail(h->err, r, "oci-hook: container '%s': '%s/config.json': %s", h->id,
			h->bundle, why ? why : strerror(-r));
	return r;
}

/*
 * The annotation's text in *ret (NULL: the container has no volumes). The
 * state's annotations are config.json's, copied; a runtime that leaves them
 * out sends us to config.json.
 */
static int find_volumes(struct hook *h, const char **ret)
{
	json_object *ann, *v;
	int r;

	if (!json_object_object_get_ex(h->state, "annotations", &ann)) {
		r = load_config(h);
		if (r < 0)
			return r;
		if (!json_object_object_get_ex(h->config, "annotations", &ann)) {
			*ret = NULL;
			return 0;
		}
	}
	if (!json_object_is_type(ann, json_type_object))
		return dv_fail(h->err, -EINVAL,
			       "oci-hook: container '%s': annotations are not an object", h->id);
	char why[512];

	r = oci_annotations_volumes(ann, &h->volumes, why, sizeof(why));
	if (r < 0)
		return dv_fail(h->err, r, "oci-hook: container '%s': %s", h->id,
			       r == -ENOMEM ? strerror(-r) : why);
	if (!json_object_object_get_ex(ann, OCI_ANNOTATION, &v)) {
		*ret = h->volumes;
		return 0;
	}
	if (h->volumes)
		return dv_fail(h->err, -EINVAL,
			       "oci-hook: container '%s': both '" OCI_ANNOTATION
			       "' and '" OCI_VOLUME_PREFIX "NAME' annotations; use one form",
			       h->id);
	if (!json_object_is_type(v, json_type_string))
		return dv_fail(h->err, -EINVAL,
			       "oci-hook: container '%s': annotation '" OCI_ANNOTATION
			       "' must be a string holding the volumes' JSON",
			       h->id);
	*ret = json_object_get_string(v);
	return 0;
}

/*
 * The container's root as an absolute path on the host: crun's state has
 * config.json's root.path ("root"), runc's does not. A relative path is
 * relative to the bundle (runtime-spec "root").
 */
static int rootfs_path(struct hook *h, char ret[static PATH_MAX])
{
	const char *root = str_member(h->state, "root");
	json_object *o;
	int n;

	if (!root) {
		int r = load_config(h);

		if (r < 0)
			return r;
		if (json_object_object_get_ex(h->config, "root", &o))
			root = str_member(o, "path");
	}
	if (!root || !*root)
		return dv_fail(h->err, -EINVAL,
			       "oci-hook: container '%s': config.json has no root.path", h->id);
	if (root[0] == '/')
		n = snprintf(ret, PATH_MAX, "%s", root);
	else
		n = snprintf(ret, PATH_MAX, "%s/%s", h->bundle, root);
	if (n < 0 || n >= PATH_MAX)
		return dv_fail(h->err, -ENAMETOOLONG,
			       "oci-hook: container '%s': root path too long", h->id);
	return 0;
}

static int state_pid(struct hook *h, pid_t *ret)
{
	json_object *v;
	int64_t pid;

	if (!json_object_object_get_ex(h->state, "pid", &v) ||
	    !json_object_is_type(v, json_type_int))
		return dv_fail(h->err, -EINVAL, "oci-hook: container '%s': the state has no pid",
			       h->id);
	pid = json_object_get_int64(v);
	/* crun sends pid 0 outside createRuntime; the kernel's pid_max is 2^22. */
	if (pid <= 0 || pid > 0x3fffffff)
		return dv_fail(h->err, -EINVAL,
			       "oci-hook: container '%s': invalid pid %lld in the state", h->id,
			       (long long)pid);
	*ret = (pid_t)pid;
	return 0;
}

/*
 * fd 0 becomes a memfd holding the volumes, for `prepare --volumes -`; fd 1
 * goes to stderr with --json, else to /dev/null: runtimes do not read a
 * hook's stdout, and some hand it to the container's log.
 */
static int redirect_stdio(struct hook *h, const char *volumes)
{
	_cleanup_close_ int mfd = -EBADF, out = -EBADF;
	size_t len = strlen(volumes), done = 0;

	mfd = memfd_create("dvmount-oci-volumes", MFD_CLOEXEC);
	if (mfd < 0)
		return negerrno();
	while (done < len) {
		ssize_t n = write(mfd, volumes + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return negerrno();
		done += (size_t)n;
	}
	if (lseek(mfd, 0, SEEK_SET) < 0 || dup2(mfd, STDIN_FILENO) < 0)
		return negerrno();
	fflush(stdout);
	if (h->g->json) {
		if (dup2(STDERR_FILENO, STDOUT_FILENO) < 0)
			return negerrno();
		return 0;
	}
	out = open("/dev/null", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (out < 0 || dup2(out, STDOUT_FILENO) < 0)
		return negerrno();
	return 0;
}

static int create_runtime(struct hook *h, const char *volumes)
{
	char root[PATH_MAX], pid_s[16];
	pid_t pid = 0;
	int r;

	r = state_pid(h, &pid);
	if (r == 0)
		r = rootfs_path(h, root);
	if (r < 0)
		return r;
	r = redirect_stdio(h, volumes);
	if (r < 0)
		return dv_fail(h->err, r, "oci-hook: container '%s': passing the volumes on: %s",
			       h->id, strerror(-r));
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);
	char *argv[] = { "prepare", "--container-id", (char *)h->id, "--volumes", "-", "--pid",
			 pid_s,	    "--rootfs",	      root,	     NULL };

	debug(DEBUG_ALL, "oci", "createRuntime '%s': pid %d, rootfs '%s'", h->id, (int)pid, root);
	h->g->oci_hook = true;
	return cmd_prepare(h->g, (int)ARRAY_SIZE(argv) - 1, argv, h->err);
}

static int poststop(struct hook *h)
{
	char *argv[] = { "cleanup", "--container-id", (char *)h->id, NULL };

	debug(DEBUG_ALL, "oci", "poststop '%s'", h->id);
	return cmd_cleanup(h->g, (int)ARRAY_SIZE(argv) - 1, argv, h->err);
}

static int read_state(struct hook *h)
{
	_cleanup_free_ char *buf = NULL;
	const char *why = NULL;
	size_t len;
	int r;

	r = read_fd_bounded(STDIN_FILENO, OCI_STATE_MAX, &buf, &len);
	if (r == -EFBIG)
		why = "larger than 1 MiB";
	else if (r < 0)
		why = strerror(-r);
	if (r == 0)
		r = oci_parse_object(buf, len, &h->state, &why);
	if (r < 0)
		return dv_fail(h->err, r,
			       "oci-hook: the container state on stdin is not usable: %s", why);
	h->id = str_member(h->state, "id");
	h->bundle = str_member(h->state, "bundle");
	if (!h->id || !*h->id)
		return dv_fail(h->err, -EINVAL, "oci-hook: the container state on stdin has no id");
	if (!h->bundle || h->bundle[0] != '/' || strlen(h->bundle) >= PATH_MAX - 32)
		return dv_fail(h->err, -EINVAL,
			       "oci-hook: container '%s': bundle '%s' is not an absolute path",
			       h->id, h->bundle ? h->bundle : "");
	return 0;
}

int cmd_oci_hook(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	_cleanup_(hook_done) struct hook h = { .g = g, .err = err };
	const char *volumes = NULL;
	int r;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: dvmount oci-hook createRuntime|poststop\n");
		return 0;
	}
	if (argc != 2 || (strcmp(argv[1], "createRuntime") && strcmp(argv[1], "poststop")))
		return dv_usage(err, "oci-hook: usage: dvmount oci-hook createRuntime|poststop");
	h.stage = strcmp(argv[1], "poststop") ? OCI_CREATE_RUNTIME : OCI_POSTSTOP;
	r = read_state(&h);
	if (r < 0)
		return r;
	r = find_volumes(&h, &volumes);
	if (r < 0 && h.stage == OCI_POSTSTOP && h.config == NULL) {
		/*
		 * Without the annotation to say no, cleanup (idempotent): never
		 * strand mounts. What was wrong with the annotations is said now,
		 * and the exit status is the cleanup's: the one error that does
		 * not end the command, so the one printed before its end.
		 */
		dv_error_print(g, err);
		dv_error_clear(err);
		volumes = "";
		r = 0;
	}
	if (r < 0)
		return r;
	if (!volumes) {
		debug(DEBUG_ALL, "oci", "container '%s' has no '" OCI_ANNOTATION "'", h.id);
		return 0;
	}
	/* OCI ids allow '_' and '+' (runc) and more; records are named after the id. */
	if (state_container_id_valid(h.id) < 0)
		return dv_fail(err, -EINVAL,
			       "oci-hook: container id '%s' cannot name a dvmount container "
			       "([A-Za-z0-9._:-], at most 128 bytes, not starting with '.')",
			       h.id);
	/* Those are the dvdcli drop-in's users: a poststop must never release Mesos' volumes. */
	if (!strncmp(h.id, "dvdcli:", 7))
		return dv_fail(
		    err, -EINVAL,
		    "oci-hook: container id '%s': ids starting with 'dvdcli:' are reserved", h.id);
	return h.stage == OCI_POSTSTOP ? poststop(&h) : create_runtime(&h, volumes);
}
