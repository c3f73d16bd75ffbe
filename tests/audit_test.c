/* SPDX-License-Identifier: MIT */
/*
 * Audit records: the kernel takes (acknowledges) dvmount's AUDIT_TRUSTED_APP
 * message, and a process without CAP_AUDIT_WRITE is refused, not crashed.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/netlink.h>
#include <unistd.h>

#include "kselftest_harness.h"
#undef ARRAY_SIZE /* the harness and common/macro.h define the same */
#include "helper/audit.h"

static bool audit_available(void)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

TEST(record_is_acknowledged_by_the_kernel)
{
	if (geteuid() != 0 || !audit_available())
		SKIP(return, "no audit netlink socket here (kernel without CONFIG_AUDIT?)");
	EXPECT_EQ(0, audit_log("op=dvmount-test container=%s res=%s", "audit-test", "success"));
}

TEST(without_cap_audit_write_it_is_refused_quietly)
{
	pid_t pid;
	int status;

	if (!audit_available())
		SKIP(return, "no audit netlink socket here");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Drop CAP_AUDIT_WRITE from the bounding and effective sets. */
		if (prctl(PR_CAPBSET_DROP, CAP_AUDIT_WRITE, 0, 0, 0) < 0)
			_exit(2);
		if (setuid(65534) < 0)
			_exit(3);
		_exit(audit_log("op=dvmount-test res=%s", "refused") < 0 ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
