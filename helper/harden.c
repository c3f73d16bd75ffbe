/* SPDX-License-Identifier: MIT */
#include <cap-ng.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>

#include "helper/caps.h"
#include "helper/harden.h"
#include "common/macro.h"

static int open_std_fds(void)
{
	/* A caller that closed 0-2 would have our next open() become stdout. */
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			continue;
		int n = open("/dev/null", O_RDWR);

		if (n < 0)
			return negerrno();
		if (n != fd)
			return -EBADF;
	}
	return 0;
}

static int keep_capabilities(void)
{
	uint64_t eff, prm;
	int r;

	/* Nothing to drop when unprivileged (tests of usage errors, --help). */
	if (caps_load() < 0)
		return -EPERM;
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE)
		return 0;

	bool can_bound = capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP);

	capng_clear(can_bound ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
	r = capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_ADMIN,
			  CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_CHOWN,
			  CAP_AUDIT_WRITE, -1);
	if (r < 0)
		return -EINVAL;
	if (can_bound)
		r = capng_updatev(CAPNG_ADD, CAPNG_BOUNDING_SET, CAP_SYS_ADMIN, CAP_SYS_CHROOT,
				  CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_CHOWN, CAP_AUDIT_WRITE, -1);
	if (r < 0)
		return -EINVAL;
	r = capng_apply(can_bound ? CAPNG_SELECT_BOTH : CAPNG_SELECT_CAPS);
	if (r < 0)
		return -EPERM;

	/* Check the drop took: CAP_SETUID must be gone. */
	if (caps_get(&eff, &prm) < 0 || (eff & CAPS(CAP_SETUID)) || (prm & CAPS(CAP_SETUID)))
		return -EPERM;
	return 0;
}

int harden_process(bool *ret_caller_is_root)
{
	bool root = getuid() == 0;
	int r;

	r = open_std_fds();
	if (r < 0)
		return r;
	umask(022);
	if (!root) {
		/* Keep nothing from an unprivileged caller's environment. */
		if (clearenv() != 0)
			return -ENOMEM;
		setenv("PATH", "/usr/sbin:/usr/bin:/sbin:/bin", 1);
		if (prctl(PR_SET_DUMPABLE, 0) < 0)
			return negerrno();
	}
	r = keep_capabilities();
	if (r < 0)
		return r;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return negerrno();
	*ret_caller_is_root = root;
	return 0;
}
