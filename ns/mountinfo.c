/* SPDX-License-Identifier: MIT */
/*
 * Another process's mount table, read through libmount loaded on first use.
 *
 * libmount is dlopen()ed here rather than linked (issue 11: the fixed cost
 * of one command). Linked, it is mapped and relocated at every exec along
 * with libblkid, libselinux (whose constructor reads /proc/filesystems and
 * statfs()s selinuxfs) and pcre2, while only a cleanup that finds its mount
 * moved away from its target ever reads a mount table. Debian 12 ships no
 * libmount.a, so it cannot be linked statically like the other libraries.
 * The headers still come from libmount-dev (pkg-config mount): the function
 * pointers below take their types from them, so a prototype that changed
 * fails the build rather than the call.
 */
#include <dlfcn.h>
#include <errno.h>
#include <libmount.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "common/debug.h"
#include "common/macro.h"
#include "ns/ns.h"

/* The few libmount functions ns_mount_listed() calls, typed by <libmount.h>. */
static struct {
	__typeof__(&mnt_new_table_from_file) new_table_from_file;
	__typeof__(&mnt_unref_table) unref_table;
	__typeof__(&mnt_new_iter) new_iter;
	__typeof__(&mnt_free_iter) free_iter;
	__typeof__(&mnt_table_next_fs) table_next_fs;
	__typeof__(&mnt_fs_get_id) fs_get_id;
} lm;
static int lm_loaded; /* 0 loaded, -errno: why not (set once by lm_load) */
static pthread_once_t lm_once = PTHREAD_ONCE_INIT;

static void *lm_sym(void *handle, const char *name)
{
	void *p = dlsym(handle, name);

	if (!p)
		debug(DEBUG_NS, "ns", "%s: no %s: %s", NS_LIBMOUNT_SONAME, name, dlerror());
	return p;
}

static void lm_load(void)
{
	/*
	 * Never dlclose()d: loaded once per process, and a table's memory is
	 * the library's. RTLD_LOCAL: its symbols resolve nothing of ours.
	 */
	void *h = dlopen(NS_LIBMOUNT_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		debug(DEBUG_NS, "ns", "cannot load %s: %s", NS_LIBMOUNT_SONAME, dlerror());
		lm_loaded = -ELIBACC;
		return;
	}
	lm.new_table_from_file = lm_sym(h, "mnt_new_table_from_file");
	lm.unref_table = lm_sym(h, "mnt_unref_table");
	lm.new_iter = lm_sym(h, "mnt_new_iter");
	lm.free_iter = lm_sym(h, "mnt_free_iter");
	lm.table_next_fs = lm_sym(h, "mnt_table_next_fs");
	lm.fs_get_id = lm_sym(h, "mnt_fs_get_id");
	if (!lm.new_table_from_file || !lm.unref_table || !lm.new_iter || !lm.free_iter ||
	    !lm.table_next_fs || !lm.fs_get_id)
		lm_loaded = -ELIBBAD;
}

int ns_libmount_load(void)
{
	int r = pthread_once(&lm_once, lm_load);

	return r ? -r : lm_loaded;
}

static void unref_tablep(struct libmnt_table **tb)
{
	if (*tb)
		lm.unref_table(*tb);
}

int ns_mount_listed(pid_t pid, uint64_t legacy_id)
{
	_cleanup_(unref_tablep) struct libmnt_table *tb = NULL;
	struct libmnt_iter *it;
	struct libmnt_fs *fs;
	char path[64];
	int found = 0, r;

	if (legacy_id == 0 || legacy_id > INT_MAX)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", (int)pid);
	if (access(path, R_OK) < 0)
		return errno == ENOENT ? -ESRCH : negerrno();
	r = ns_libmount_load();
	if (r < 0)
		return r;
	tb = lm.new_table_from_file(path);
	if (!tb)
		return -EIO;
	/* libmount 2.38 (Debian 12) has no mnt_table_find_id(): walk the table. */
	it = lm.new_iter(MNT_ITER_FORWARD);
	if (!it)
		return -ENOMEM;
	while (!found && lm.table_next_fs(tb, it, &fs) == 0)
		found = lm.fs_get_id(fs) == (int)legacy_id;
	lm.free_iter(it);
	return found;
}
