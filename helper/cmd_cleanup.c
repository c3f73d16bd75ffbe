/* SPDX-License-Identifier: MIT */
/*
 * dvmount cleanup --container-id ID: idempotent. Detaches the container's
 * mounts if its namespace still exists, Unmounts each volume whose last user
 * it was, forgets the container even when an Unmount fails (that volume's
 * entry stays, marked for retry, and never pins the count of others).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "helper/caps.h"
#include "helper/lifecycle.h"

int cmd_cleanup(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	static const struct option options[] = { { "container-id", required_argument, NULL, 'c' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	const char *cid = NULL;
	struct lc lc;
	int opt, r;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cid = optarg;
			break;
		case 'h':
			printf("usage: dvmount cleanup --container-id ID\n");
			return 0;
		default:
			return dv_usage(err, "cleanup: unknown or incomplete option '%s'",
					argv[optind - 1]);
		}
	}
	if (optind < argc || !cid)
		return dv_usage(err, "cleanup: usage: dvmount cleanup --container-id ID");
	if (state_container_id_valid(cid) < 0)
		return dv_usage(err, "cleanup: invalid container id '%s'", cid);
	/* The dvdcli drop-in's user entries are not a container to clean up. */
	if (!strncmp(cid, "dvdcli:", 7))
		return dv_usage(err, "cleanup: container ids starting with 'dvdcli:' are reserved");
	/*
	 * No policy here: taking volumes away is always allowed, and a policy
	 * edited since prepare must not strand mounts.
	 */
	r = lc_open(g, false, &lc);
	lc.cid = cid;
	/* Taking volumes away never chowns (issue 10 item 4). */
	if (r == 0 && (r = caps_drop("opened", CAPS(CAP_CHOWN))) < 0)
		lc_fail(&lc, "cannot drop capabilities: %s", strerror(-r));
	if (r == 0)
		lc_cleanup_container(&lc, cid, NULL, NULL);
	/* Detached, Unmounted, forgotten and audited: nothing privileged is left. */
	if (caps_leave_root() < 0 || caps_drop("done", CAPS_KEPT) < 0)
		lc_fail(&lc, "cannot drop capabilities");
	r = lc_report(&lc, err);
	lc_close(&lc);
	return r;
}
