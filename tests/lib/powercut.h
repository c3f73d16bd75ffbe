/* SPDX-License-Identifier: MIT */
/*
 * A power cut for tests: a directory served by dvmount-pcfs (tests/pcfs/),
 * which keeps what processes see apart from what a disk would hold (only
 * what fsync() made durable: see the top of tests/pcfs/pcfs.c).
 *
 *	pid_t fs;
 *	ASSERT_EQ(0, pc_fs_start(state_dir, &fs));   everything there is durable
 *	... run dvmount against state_dir ...
 *	ASSERT_EQ(0, pc_fs_cut(fs));                  state_dir: the durable image only
 *
 * The caller must be in a private mount namespace (tu_private_mountns()):
 * the FUSE mount lives there. Functions return 0 or -errno.
 */
#ifndef DVMOUNT_TESTS_POWERCUT_H
#define DVMOUNT_TESTS_POWERCUT_H

#include <limits.h>
#include <stdbool.h>
#include <sys/types.h>

#include "tests/lib/lcenv.h"

/*
 * Can this kernel run the power cuts? 0 yes; -errno of what is missing,
 * with *ret_what naming it: /dev/fuse (FUSE), or a time namespace
 * (CLONE_NEWTIME, Linux 5.6: the reboot's CLOCK_BOOTTIME).
 */
int pc_supported(const char **ret_what);

/* Mount dvmount-pcfs over dir, loaded with dir's tree; *ret_pid serves it. */
int pc_fs_start(const char *dir, pid_t *ret_pid);
/*
 * The same, with the power cut at a sync barrier (n >= 1): the nth sync
 * (fsync, fdatasync, a directory's fsync) after pc_fs_arm() kills its caller
 * (SIGKILL) and nothing becomes durable from then on; applied: that sync
 * itself still made durable (the cut just after it), else not (just before).
 * pc_fs_cut() then leaves the durable image in dir.
 */
int pc_fs_start_sync_cut(const char *dir, unsigned n, bool applied, pid_t *ret_pid);
/* Start counting syncs from here (SIGUSR2): counted before any later request. */
int pc_fs_arm(pid_t pid);

/*
 * The power cut: the FUSE mount goes and dir holds the durable image only.
 * Waits for the server (10 s at most); -EIO when it failed, -ETIMEDOUT.
 */
int pc_fs_cut(pid_t pid);
/* A clean shutdown: dir keeps everything that was visible. Returns as pc_fs_cut(). */
int pc_fs_stop(pid_t pid);

/*
 * A reboot of the lcenv's host, as a power cut brings: the plugin is killed
 * (SIGKILL) and started again, its mounts under tp.root are gone, the boot id
 * changes (a file bind-mounted over /proc/sys/kernel/random/boot_id in this
 * mount namespace), and every later dvmount run (e->wrap) sees CLOCK_BOOTTIME
 * restart near 0 (a time namespace: unshare --time --boottime). What
 * survives is what survives a real reboot: the state dir (as the cut left
 * it), the plugin's backend (tp.root/state.json: the remote side of a cloud
 * disk stays attached) and its call log. The caller stops its containers.
 * plugin_extra as for lcenv_setup(). pc_boot_end() undoes the boot id mount.
 */
struct pc_boot {
	char id_file[PATH_MAX];
	char offset[32];
	const char *wrap[6];
	unsigned n; /* reboots so far */
};
int pc_reboot(struct lcenv *e, struct pc_boot *b, char *const plugin_extra[]);
void pc_boot_end(struct lcenv *e, struct pc_boot *b);

#endif
