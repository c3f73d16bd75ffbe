/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the policy grammar (`make fuzz`): any bytes must parse
 * or fail with an error, never crash, leak or read out of bounds; a policy
 * that parses then goes through every decision.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void decide(const struct policy *p)
{
	static const struct policy_option opts[] = {
		{ "size", "10" },
		{ "ro", "true" },
		{ "o", "../x" },
	};
	static const char *const drivers[] = { "rexray", "a", "vendor/x", "../x", "" };
	struct policy_mountpoint_facts facts = {
		.path = "/var/lib/rexray/volumes/v/data",
		.exists = true,
		.is_directory = true,
	};
	const struct policy_option *forced;
	struct policy_mount_attrs attrs;
	struct policy_denial d;
	gid_t gids[] = { 0, 100 };

	policy_check_caller(p, 1000, gids, 2, &d);
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++) {
		struct policy_volume_req req = {
			.driver = drivers[i],
			.name = "v",
			.options = opts,
			.n_options = i % 4,
			.mode = i % 2 ? POLICY_MODE_RO : POLICY_MODE_RW,
			.container_path = "data/x",
			.target = "/data/x",
			.n_volumes = 1,
		};

		policy_check_volume(p, &req, &d);
		policy_check_mountpoint(p, drivers[i], &facts, &d);
		policy_check_socket(p, drivers[i], 0, &d);
		policy_forced_options(p, drivers[i], &forced);
		policy_mount_attrs(p, drivers[i], req.mode, &attrs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_(policy_freep) struct policy *p = NULL;
	struct policy_error err;

	if (policy_parse_buffer("fuzz", (const char *)data, size, &p, &err) == 0)
		decide(p);
	return 0;
}
