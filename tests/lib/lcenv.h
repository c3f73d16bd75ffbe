/* SPDX-License-Identifier: MIT */
/*
 * A lifecycle test's world: a private mount namespace, a tmpfs scratch dir,
 * a dvmount-testplugin named "tp" (with --bind, so its volumes are real
 * mounts), a policy file allowing it, and a state dir; dvmount run black-box
 * against all of them; the plugin's call log read back as the truth about
 * Mount and Unmount.
 *
 * Layout under e->dir: plugins/tp.sock, tp.root (the plugin's backend; its
 * mountpoints are tp.root/mnt/NAME, its data tp.root/volumes/NAME/data),
 * tp.log, tp.faults, policy.conf, state/.
 *
 * Functions return 0 (or a count) on success and -errno on failure.
 */
#ifndef DVMOUNT_TESTS_LCENV_H
#define DVMOUNT_TESTS_LCENV_H

#include <json-c/json.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "tests/lib/run.h"
#include "tests/lib/testutil.h"

/*
 * Set (to the state dir) while tests/lib/powercut.h's model serves it:
 * every dvmount run then goes through "dvmount-pcfs --syncfs-of", so that
 * its syncfs() calls reach the model (tests/pcfs/pcfs.c).
 */
#define PC_SYNCFS_ENV "DVMOUNT_TEST_PCFS_DIR"

struct lcenv {
	struct tu_scratch scratch;
	char dir[PATH_MAX];
	char plugins[PATH_MAX];
	char state[PATH_MAX];
	char policy[PATH_MAX];
	char tproot[PATH_MAX];
	char log[PATH_MAX];
	char faults[PATH_MAX];
	pid_t plugin;
	/* A command run with dvmount as its tail (unshare -m ...); NULL: none. */
	const char *const *wrap;
};

/* Everything above; plugin_extra (NULL-terminated, may be NULL) goes to the plugin. */
int lcenv_setup(struct lcenv *e, char *const plugin_extra[]);
/* Stops the plugin, unmounts and removes the scratch dir; accepts a zeroed env. */
void lcenv_teardown(struct lcenv *e);

/* Replace the policy file (root-owned, 0644) with text. */
int lcenv_write_policy(struct lcenv *e, const char *text);
/* The default policy: uid 0, driver tp under tp.root, RW RO, option "size". */
int lcenv_default_policy(struct lcenv *e);

/*
 * The first LCENV_ARGV_HEAD words of a command line against this env:
 * build/<program> --state-dir S --policy P --plugin-path D (dvmount's
 * options, which dvmount-run passes on). Returns LCENV_ARGV_HEAD.
 */
#define LCENV_ARGV_HEAD 7
int lcenv_argv_head(struct lcenv *e, const char *program, char *argv[static LCENV_ARGV_HEAD]);

/*
 * dvmount --state-dir S --policy P --plugin-path D ARGS... (NULL-terminated).
 * lcenv_run_crash sets DVMOUNT_CRASH_AT=point for that one run.
 */
int lcenv_run(struct lcenv *e, struct run_result *r, ...) __attribute__((sentinel));
int lcenv_run_crash(struct lcenv *e, struct run_result *r, const char *point, ...)
    __attribute__((sentinel));
/* The same with the arguments in a NULL-terminated array; point NULL: no crash point. */
int lcenv_runv(struct lcenv *e, struct run_result *r, const char *point, char *const args[]);
/* lcenv_runv() killed (SIGKILL) kill_after_us after its exec: run_argv_killed(). */
int lcenv_run_killed(struct lcenv *e, struct run_result *r, long kill_after_us, char *const args[]);

/*
 * dvmount ARGS... (NULL-terminated, at most 24 words) started under
 * ptrace(PTRACE_TRACEME), its stdio on /dev/null, SIGKILLed if the caller
 * dies: returns its pid, stopped at its exec (set the ptrace options and
 * resume it), or -errno (-ECHILD when it did not stop there). make asan: its
 * LeakSanitizer is off, since LeakSanitizer cannot ptrace a traced process.
 */
pid_t lcenv_spawn_traced(struct lcenv *e, char *const args[]);

/* One volume of a spec; driver NULL means "tp", mode NULL "RW". */
struct lcvol {
	const char *name;
	const char *path; /* container_path */
	const char *mode;
	const char *driver;
	const char *opt_key, *opt_val; /* one driver option, or none */
};
/* Write the Mesos JSON array to <dir>/<file> and give its path. */
int lcenv_volumes(struct lcenv *e, const char *file, const struct lcvol *v, size_t n,
		  char ret_path[static PATH_MAX]);

/*
 * The commonest spec: <dir>/hostdir made (0755) and <dir>/vols.json holding
 * one RW volume NAME of "tp" with that directory as its absolute
 * container_path (Mesos' no-rootfs case). Gives the spec's path.
 */
int lcenv_hostdir_volume(struct lcenv *e, const char *name, char ret_path[static PATH_MAX]);

/*
 * The plugin's log: successful (status 200, no Err) calls of
 * VolumeDriver.<endpoint> ("Mount", "Unmount", ...), name NULL = any volume;
 * lcenv_log_all counts every call of that endpoint, failed ones too.
 */
int lcenv_log_count(struct lcenv *e, const char *endpoint, const char *name);
int lcenv_log_all(struct lcenv *e, const char *endpoint);
/* Mount IDs whose successful Mounts and Unmounts do not pair up (0 = balanced). */
int lcenv_log_unbalanced(struct lcenv *e);
/* Forget what was logged so far. */
int lcenv_log_reset(struct lcenv *e);

/*
 * The plugin's own view (its tp.root/state.json): with id, 1 if it holds
 * that Mount ID for volume name, else 0; without id, the Mount IDs (and
 * anonymous mounts) it holds for name, or for every volume when name is
 * NULL too. A volume it does not know holds nothing.
 */
int lcenv_plugin_holds(struct lcenv *e, const char *name, const char *id);

/*
 * What the state dir holds beyond what an empty state holds (the
 * containers/, volumes/ and quarantine/ directories, empty but for the
 * spares kept on purpose: at most four .lock-spare.<i> and .rec-spare.<i>
 * in containers/, and volumes/.user; and slots/ with its lock files): their
 * paths relative to the state dir, space-separated
 * in ret_list (truncated to size), and their number.
 */
int lcenv_state_leftovers(struct lcenv *e, char *ret_list, size_t size);

/* status --json, parsed; and the number of containers and volume entries in it. */
int lcenv_status(struct lcenv *e, json_object **ret);
int lcenv_status_counts(struct lcenv *e, int *ret_containers, int *ret_volumes);
/* refcount of volume NAME in status --json: -ENOENT when it has no entry. */
int lcenv_status_refcount(struct lcenv *e, const char *name);

/*
 * As if the in-flight window of every call marked in the volume entries
 * (lc_mark_in_flight(): twice the timeout, at least 30 s, on the boot clock
 * and the wall clock) had passed: both ends set to 0. Returns how many
 * entries had a mark.
 */
int lcenv_expire_in_flight(struct lcenv *e);

/* Mounts at or under prefix in pid's mount namespace (0 = this process). */
int lc_mounts_under(pid_t pid, const char *prefix);
/* Whole /proc/<pid>/mountinfo (0 = self), malloc'd. */
char *lc_mountinfo(pid_t pid);

/*
 * Inside the container: a child that setns()es into pid's mount namespace,
 * takes uid:gid, and creates path (as seen from the container's root) with
 * text. Returns 0 or -errno of the failing step.
 */
int lc_ct_write(pid_t pid, uid_t uid, gid_t gid, const char *path, const char *text);
/* lstat/stat of a path as the container sees it. */
int lc_ct_stat(pid_t pid, const char *path, struct stat *ret);

/* tools/mkrootfs DIR. */
int lc_mkrootfs(const char *dir);

/*
 * A fixture with an lcenv and up to LC_CONTAINERS containers, for test files
 * that include kselftest_harness.h first:  LC_FIXTURE(prepare);
 */
#define LC_CONTAINERS 4
#ifdef TEST_F
#define LC_FIXTURE(name)                                                                           \
	FIXTURE(name)                                                                              \
	{                                                                                          \
		struct lcenv e;                                                                    \
		struct tu_container ct[LC_CONTAINERS];                                             \
	};                                                                                         \
	FIXTURE_SETUP(name)                                                                        \
	{                                                                                          \
		ASSERT_EQ(0, lcenv_setup(&self->e, NULL));                                         \
	}                                                                                          \
	FIXTURE_TEARDOWN(name)                                                                     \
	{                                                                                          \
		for (int i_ = 0; i_ < LC_CONTAINERS; i_++)                                         \
			tu_container_stop(&self->ct[i_]);                                          \
		lcenv_teardown(&self->e);                                                          \
	}
#endif

#ifdef TEST_F
/*
 * Nothing of any container is left: no record, no volume entry, every
 * successful Mount paired with an Unmount, nothing mounted under the
 * plugin's root (in this process' mount namespace).
 */
static inline void lc_expect_released(struct __test_metadata *_metadata, struct lcenv *e)
{
	int containers = -1, volumes = -1;

	EXPECT_EQ(0, lcenv_status_counts(e, &containers, &volumes));
	EXPECT_EQ(0, containers);
	EXPECT_EQ(0, volumes);
	EXPECT_EQ(0, lcenv_log_unbalanced(e));
	EXPECT_EQ(0, lc_mounts_under(0, e->tproot));
}
#endif

/* A pid as a string, for argv: lc_pidstr(buf, pid). */
char *lc_pidstr(char buf[static 16], pid_t pid);

#endif
