/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <unistd.h>
#include <string.h>

#include "common/macro.h"
#include "ns/mountpoint.h"

static bool path_has_dotdot(const char *path)
{
	for (const char *s = path; *s;) {
		size_t n = strcspn(s, "/");

		if (n == 2 && s[0] == '.' && s[1] == '.')
			return true;
		s += n;
		s += *s == '/';
	}
	return false;
}

struct judge {
	struct policy_mountpoint_facts *f;
	int (*decide)(const struct policy_mountpoint_facts *facts, size_t i, void *userdata);
	void *userdata;
};

static void copy_facts(struct policy_mountpoint_facts *f, const struct ns_peek *pk)
{
	*f = (struct policy_mountpoint_facts){
		.path = pk->path,
		.has_dotdot = path_has_dotdot(pk->path),
		.has_symlink = pk->has_symlink,
		.exists = pk->exists,
		.is_directory = pk->is_directory,
		.is_mount_point = pk->is_mount_point,
		.mount_root_up = pk->mount_root_up,
	};
}

static int judge(const struct ns_peek *pk, size_t i, void *userdata)
{
	struct judge *j = userdata;

	copy_facts(&j->f[i], pk);
	return j->decide ? j->decide(&j->f[i], i, j->userdata) : 0;
}

int ns_mountpoint_inspect(int pidfd, struct ns_peek *pk, size_t n, unsigned timeout_ms,
			  int (*decide)(const struct policy_mountpoint_facts *facts, size_t i,
					void *userdata),
			  void *userdata, struct policy_mountpoint_facts *ret_facts)
{
	struct judge j = { .f = ret_facts, .decide = decide, .userdata = userdata };
	int r;

	for (size_t i = 0; i < n; i++)
		if (!pk[i].path || pk[i].path[0] != '/')
			return -EINVAL;
	r = ns_peek(pidfd, pk, n, timeout_ms, judge, &j);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		copy_facts(&ret_facts[i], &pk[i]);
	return 0;
}
