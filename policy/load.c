/* SPDX-License-Identifier: MIT */
/*
 * The only I/O of policy/: read the policy file and its drop-ins, refusing
 * what another user could have written (sudo's rule for sudoers), and resolve
 * user and group names.
 */
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fileio.h"
#include "policy/policy-internal.h"

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* Owned by root, not writable by group or others: else anyone could widen the policy. */
static int check_owner(const struct stat *st, const char *shown, struct policy_diags *d)
{
	if (st->st_uid != 0) {
		policy_diag(d, shown, 0, 0, false, "refused: owned by uid %u, not root",
			    (unsigned)st->st_uid);
		return -EPERM;
	}
	if (st->st_mode & (S_IWGRP | S_IWOTH)) {
		policy_diag(d, shown, 0, 0, false, "refused: group or world writable (mode %04o)",
			    (unsigned)(st->st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

static int read_checked(int dirfd, const char *path, const char *shown, struct policy_diags *d,
			char **ret_buf, size_t *ret_len)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int r;

	/* O_NONBLOCK: a FIFO planted in the drop-in directory must not hang us. */
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = negerrno();
		if (r != -ENOENT)
			policy_diag(d, shown, 0, 0, false, "cannot open: %s", strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = negerrno();
		policy_diag(d, shown, 0, 0, false, "cannot stat: %s", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		policy_diag(d, shown, 0, 0, false, "refused: not a regular file");
		return -EPERM;
	}
	r = check_owner(&st, shown, d);
	if (r < 0)
		return r;
	if (st.st_size > POLICY_MAX_FILE_SIZE)
		goto too_big;
	/* To its end, not to st_size: the file may have grown since fstat. */
	r = read_fd_bounded(fd, POLICY_MAX_FILE_SIZE, &buf, &len);
	if (r == -EFBIG)
		goto too_big;
	if (r < 0) {
		policy_diag(d, shown, 0, 0, false, "cannot read: %s", strerror(-r));
		return r;
	}
	*ret_buf = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
too_big:
	policy_diag(d, shown, 0, 0, false, "file larger than %d bytes", POLICY_MAX_FILE_SIZE);
	return -EFBIG;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_dropins(struct policy *p, const char *dir, struct policy_diags *d)
{
	_cleanup_(closedirp) DIR *dp = NULL;
	char *names[POLICY_MAX_DROPINS];
	size_t n = 0;
	struct dirent *de;
	struct stat st;
	int fd, r = 0;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* the drop-in directory is optional */
		r = negerrno();
		policy_diag(d, dir, 0, 0, false, "cannot open the drop-in directory: %s",
			    strerror(-r));
		return r;
	}
	dp = fdopendir(fd);
	if (!dp) {
		r = negerrno();
		close(fd);
		return r;
	}
	if (fstat(fd, &st) < 0)
		return negerrno();
	r = check_owner(&st, dir, d);
	if (r < 0)
		return r;
	while ((de = readdir(dp))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] == '.' || len < 6 || strcmp(de->d_name + len - 5, ".conf"))
			continue;
		if (n >= POLICY_MAX_DROPINS) {
			policy_diag(d, dir, 0, 0, false, "more than %d drop-in files",
				    POLICY_MAX_DROPINS);
			r = -E2BIG;
			goto out;
		}
		names[n] = strdup(de->d_name);
		if (!names[n]) {
			r = -ENOMEM;
			goto out;
		}
		n++;
	}
	qsort(names, n, sizeof(names[0]), cmp_names);
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *buf = NULL;
		char shown[PATH_MAX];
		size_t len = 0;
		int k;

		snprintf(shown, sizeof(shown), "%s/%s", dir, names[i]);
		k = read_checked(dirfd(dp), names[i], shown, d, &buf, &len);
		if (k == -ENOMEM) {
			r = k;
			goto out;
		}
		if (k < 0) {
			/* Vanished between readdir and open: nothing to apply. */
			if (k == -ENOENT)
				continue;
			if (!r)
				r = k;
			continue;
		}
		k = policy_parse_into(p, shown, buf, len, d);
		if (k < 0) {
			r = k;
			goto out;
		}
	}
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	return r;
}

static void resolve_id(struct policy_id *id, struct policy_loc loc, struct policy_diags *d)
{
	if (id->resolved || !id->name)
		return;
	if (id->is_group) {
		const struct group *gr = getgrnam(id->name);

		if (gr) {
			id->id = gr->gr_gid;
			id->resolved = true;
		}
	} else {
		const struct passwd *pw = getpwnam(id->name);

		if (pw) {
			id->id = pw->pw_uid;
			id->resolved = true;
		}
	}
	if (!id->resolved)
		policy_diag(d, loc.file, loc.line, id->column, true,
			    "%s '%s' does not exist: this entry never matches",
			    id->is_group ? "group" : "user", id->name);
}

static int load_all(const char *file, const char *dropin_dir, struct policy_diags *d,
		    struct policy **ret)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	_cleanup_free_ char *buf = NULL, *dir = NULL;
	size_t len = 0;
	int r, k;

	p = policy_new();
	if (!p)
		return -ENOMEM;
	r = read_checked(AT_FDCWD, file, file, d, &buf, &len);
	if (r == -ENOENT) {
		policy_diag(d, file, 0, 0, false,
			    "no policy file: everything is denied; write the policy at '%s' "
			    "(see dvmount-policy(5))",
			    file);
		return r;
	}
	if (r < 0)
		return r;
	r = policy_parse_into(p, file, buf, len, d);
	if (r < 0)
		return r;

	if (!dropin_dir) {
		const char *slash = strrchr(file, '/');

		if (asprintf(&dir, "%.*s%spolicy.d", slash ? (int)(slash - file) : 0, file,
			     slash ? "/" : "") < 0) {
			dir = NULL;
			return -ENOMEM;
		}
		dropin_dir = dir;
	}
	r = read_dropins(p, dropin_dir, d);
	if (r == -ENOMEM)
		return r;

	for (size_t i = 0; i < p->n_callers; i++)
		resolve_id(&p->callers[i], p->callers_loc, d);
	for (size_t i = 0; i < p->n_drivers; i++)
		resolve_id(&p->drivers[i].socket_owner, p->drivers[i].socket_owner_loc, d);

	k = d->errors ? -EINVAL : 0;
	*ret = TAKE_PTR(p);
	return r < 0 ? r : k;
}

int policy_load(const char *file, const char *dropin_dir, struct policy **ret,
		struct policy_error *ret_err)
{
	struct policy_error err = {};
	struct policy_diags d = { .first = &err };
	struct policy *p = NULL;
	int r;

	r = load_all(file, dropin_dir, &d, &p);
	if (r < 0) {
		policy_free(p);
		if (!d.errors)
			snprintf(err.message, sizeof(err.message), "%s", strerror(-r));
		*ret_err = err;
		return r;
	}
	*ret = p;
	return 0;
}

int policy_parse_buffer(const char *name, const char *buf, size_t len, struct policy **ret,
			struct policy_error *ret_err)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	struct policy_error err = {};
	struct policy_diags d = { .first = &err };
	int r;

	p = policy_new();
	if (!p)
		return -ENOMEM;
	r = policy_parse_into(p, name, buf, len, &d);
	if (r < 0)
		return r;
	if (d.errors) {
		*ret_err = err;
		return -EINVAL;
	}
	*ret = TAKE_PTR(p);
	return 0;
}

int policy_lint(const char *file, const char *dropin_dir, policy_report_fn report, void *userdata)
{
	struct policy_diags d = { .report = report, .userdata = userdata };
	_cleanup_(policy_freep) struct policy *p = NULL;
	int r;

	r = load_all(file, dropin_dir, &d, &p);
	if (r == -ENOMEM)
		return r;
	if (p)
		policy_lint_rules(p, &d);
	return (int)d.errors;
}
