/* SPDX-License-Identifier: MIT */
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* CapBnd of /proc/self/status as a mask of CAPS(): 0, or -errno. */
static int read_bounding_set(uint64_t *ret)
{
	_cleanup_close_ int fd = -EBADF;
	char buf[4096], *p, *end;
	unsigned long long v;
	ssize_t n;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return negerrno();
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return negerrno();
	buf[n] = '\0';
	p = strstr(buf, "\nCapBnd:\t");
	if (!p)
		return -EBADMSG;
	errno = 0;
	v = strtoull(p + strlen("\nCapBnd:\t"), &end, 16);
	if (errno || *end != '\n')
		return -EBADMSG;
	*ret = v;
	return 0;
}

/*
 * Drop every capability but CAPS_KEPT from the bounding set, then check it
 * with one read of CapBnd. libcap-ng's capng_apply(CAPNG_SELECT_BOUNDS)
 * made the same prctl()s but read /proc/PID/status three times around them
 * (0.8.3: its whole state before, the bounding set after), at every exec
 * (issue 11: fixed cost). Needs CAP_SETPCAP.
 */
static int drop_bounding_set(void)
{
	uint64_t bset;

	for (unsigned cap = 0; cap < 64; cap++) {
		if (CAPS_KEPT & CAPS(cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == 0)
			continue;
		if (errno == EINVAL)
			break; /* past the kernel's last capability */
		return -EPERM;
	}
	if (read_bounding_set(&bset) < 0 || (bset & ~CAPS_KEPT))
		return -EPERM;
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

	/* The bounding set first: that takes CAP_SETPCAP, which the capset drops. */
	if (capng_have_capability(CAPNG_EFFECTIVE, CAP_SETPCAP) && drop_bounding_set() < 0)
		return -EPERM;
	capng_clear(CAPNG_SELECT_CAPS);
	r = capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SYS_ADMIN,
			  CAP_SYS_CHROOT, CAP_SYS_PTRACE, CAP_DAC_OVERRIDE, CAP_CHOWN,
			  CAP_AUDIT_WRITE, -1);
	if (r < 0)
		return -EINVAL;
	r = capng_apply(CAPNG_SELECT_CAPS);
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
