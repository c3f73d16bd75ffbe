/* SPDX-License-Identifier: MIT */
/*
 * `dvmount --help` and `dvmount COMMAND --help`: for each command its
 * synopsis, every option in one line, and one example (issue 13). The man
 * page dvmount(8) says the same at length; keep the two in step.
 */
#ifndef DVMOUNT_HELPER_HELP_H
#define DVMOUNT_HELPER_HELP_H

#include <stdbool.h>
#include <stdio.h>

/*
 * Print the help of command (NULL: the program's overview) to f. Returns
 * false, printing nothing, for a name that is not a command.
 */
bool help_print(FILE *f, const char *command);

#endif
