/* SPDX-License-Identifier: MIT */
/*
 * The crash-point tests' shared world (crash_points_test kills dvmount,
 * powercut_points_test cuts the power): the crash points dvmount lists, and
 * the operations they interrupt, on an lcenv where container c0 uses v1, c1
 * uses v1 and v2, and a dvdcli user mounts v3.
 *
 * Functions return 0 (or a count) on success and -errno on failure.
 */
#ifndef DVMOUNT_TESTS_CRASHSCENE_H
#define DVMOUNT_TESTS_CRASHSCENE_H

#include <stddef.h>
#include <sys/types.h>

#include "tests/lib/lcenv.h"
#include "tests/lib/run.h"

#define CRASH_POINTS_MAX 64

/* The crash points, in the order dvmount lists them; names malloc'd. */
struct crash_points {
	char *name[CRASH_POINTS_MAX];
	size_t n;
};

/*
 * DVMOUNT_CRASH_AT=list (build/dvmount version): the points into ret, at
 * most CRASH_POINTS_MAX (-E2BIG beyond). -EIO when dvmount fails or prints
 * on stderr, -ENOMEM. crash_points_free() accepts a zeroed struct.
 */
int crash_points_list(struct crash_points *ret);
void crash_points_free(struct crash_points *p);

/*
 * The scene's start, on e (set up here: lcenv_setup(e, NULL)): <e->dir>/sb
 * made and given in ret_sandbox; c0's spec (v1 at c0/v1) and c1's (v1 at
 * c1/v1, v2 at c1/v2) written and given; the containers ct[0] and ct[1]
 * started; c0 prepared into ct[0] (--pid, --sandbox). r holds that prepare's
 * result (run_result_free() it). Returns 0; -EIO when the prepare failed (r
 * says why); another -errno from the step that failed, r then zeroed.
 */
int crash_scene_start(struct lcenv *e, struct tu_container ct[static 2],
		      char ret_sandbox[static PATH_MAX], char ret_vols0[static PATH_MAX],
		      char ret_vols1[static PATH_MAX], struct run_result *r);

/*
 * Where c1's operations run: its spec (v1 and v2), the sandbox, its process;
 * vols1_shared (may be NULL): a spec of v1 alone, for "prepare-shared".
 */
struct crash_scene {
	struct lcenv *e;
	const char *vols1;
	const char *sandbox;
	pid_t c1;
	const char *vols1_shared;
};

/*
 * Run op with DVMOUNT_CRASH_AT=point ("" none) into r (run_result_free() it):
 *   "prepare"         prepare c1 --pid c1 --sandbox;
 *   "prepare-shared"  the same with vols1_shared (v1 alone: attach-only
 *                     while c0 holds v1's plugin mount);
 *   "cleanup"         cleanup c1;
 *   "cleanup-holder"  cleanup c0;
 *   "recover"         recover --known c0 (so c1 is cleaned up);
 *   "dvdcli-mount"    dvdcli mount v3;
 *   "dvdcli-unmount"  dvdcli unmount v3.
 * Returns what lcenv_run_crash() returns; -EINVAL for another op (or
 * "prepare-shared" without vols1_shared).
 */
int crash_scene_run(const struct crash_scene *s, struct run_result *r, const char *point,
		    const char *op);

#endif
