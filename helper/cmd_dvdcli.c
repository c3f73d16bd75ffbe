/* SPDX-License-Identifier: MIT */
#include "helper/dvmount.h"

/* Placeholder in the skeleton commit; the plugin client replaces it. */
int cmd_dvdcli(struct globals *g, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error(g, "'dvdcli' is not built yet");
	return EXIT_FAIL;
}
