/* SPDX-License-Identifier: MIT */
/*
 * Capabilities dropped by phase (helper/caps.h). Permitted goes with
 * effective: nothing can raise them again, whatever a later bug does.
 */
#include <cap-ng.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/macro.h"
#include "helper/caps.h"
#include "ns/ns.h"

#ifdef DVMOUNT_TEST_PAUSE
/*
 * The test build only. Read before main(): a setuid or non-root start
 * clears the environment in harden_process.
 */
static char pause_at[64];

static void test_pause(const char *phase);

__attribute__((constructor)) static void read_pause_at(void)
{
	const char *v = getenv("DVMOUNT_PAUSE_AT");

	if (v && strlen(v) < sizeof(pause_at))
		strcpy(pause_at, v);
	/* The attach child's point too (ns/ns.h). */
	ns_child_pause_hook = test_pause;
}

static void test_pause(const char *phase)
{
	/* "all": every phase of the process itself; its child only by name. */
	if (strcmp(pause_at, phase) && (strcmp(pause_at, "all") || !strcmp(phase, "attach-child")))
		return;
	prctl(PR_SET_NAME, phase);
	raise(SIGSTOP);
	prctl(PR_SET_NAME, "dvmount");
}
#else
static void test_pause(const char *phase)
{
	(void)phase;
}
#endif

/* Whether libcap-ng's state has been read from the process (caps_load). */
static bool caps_loaded;

int caps_load(void)
{
	/*
	 * capng_get_caps_process() reads /proc/PID/status (twice in 0.8.3:
	 * bounding set, ambient set), about 30 times per prepare when every
	 * step read it again (issue 11: fixed cost). Once is enough: from
	 * here on every change goes through capng_apply() of this state.
	 */
	if (caps_loaded)
		return 0;
	if (capng_get_caps_process() < 0)
		return -EPERM;
	caps_loaded = true;
	return 0;
}

int caps_get(uint64_t *ret_effective, uint64_t *ret_permitted)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = { 0 };

	if (syscall(SYS_capget, &hdr, data) < 0)
		return negerrno();
	*ret_effective = (uint64_t)data[1].effective << 32 | data[0].effective;
	*ret_permitted = (uint64_t)data[1].permitted << 32 | data[0].permitted;
	return 0;
}

int caps_drop(const char *phase, uint64_t mask)
{
	uint64_t eff, prm;

	if (caps_load() < 0)
		return -EPERM;
	if (mask && capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
		for (unsigned cap = 0; cap <= CAP_LAST_CAP; cap++)
			if (mask & CAPS(cap))
				capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, cap);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0)
			return -EPERM;
		/* Check that it took: the kernel's sets, not libcap-ng's copy. */
		if (caps_get(&eff, &prm) < 0 || (eff & mask) || (prm & mask))
			return -EPERM;
	}
	test_pause(phase);
	return 0;
}

int caps_leave_root(void)
{
	uid_t uid = getuid(), ru, eu, su;
	gid_t gid = getgid(), rg, eg, sg;
	int r = 0;

	if (uid == 0 || getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return uid == 0 ? 0 : -EPERM;
	if (eu == uid && su == uid && eg == gid && sg == gid)
		return 0;
	if (caps_load() < 0)
		return -EPERM;
	/*
	 * Leaving uid 0 clears the permitted set unless KEEPCAPS, and the
	 * effective set always (capabilities(7)): keep the first, put the
	 * second back from the state read above.
	 */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return -EPERM;
	/* gid first: once euid is not 0 it could not change any more. */
	if (setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)
		r = -EPERM;
	prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (r == 0 && capng_apply(CAPNG_SELECT_CAPS) < 0)
		r = -EPERM;
	if (r < 0)
		return r;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != uid ||
	    eu != uid || su != uid || rg != gid || eg != gid || sg != gid ||
	    (uid_t)setfsuid((uid_t)-1) != uid || (gid_t)setfsgid((gid_t)-1) != gid)
		return -EPERM;
	return 0;
}
