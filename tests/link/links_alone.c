/* SPDX-License-Identifier: MIT */
/*
 * Nothing but a main(): the Makefile links it with the whole of libdvmount.a
 * and -z defs, so that the library is proven to need nothing from a program
 * (issue 11: log_error lived in main.c). Never run.
 */
int main(void)
{
	return 0;
}
