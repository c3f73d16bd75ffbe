/* SPDX-License-Identifier: MIT */
/*
 * dvmount needs no shared library but libc (issue 11: the dynamic loader
 * was 22% of a prepare's CPU). The six libraries Debian ships as .a are
 * linked in; libmount, which has none, is dlopen()ed only to read a mount
 * table (setup_cost_test's libmount_is_loaded_only_to_read_a_mount_table
 * shows when). Witnessed with readelf -d -l on the built program: its
 * NEEDED entries, and its program interpreter.
 */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

/* Libraries (soname prefixes) that dvmount may need, for the way it was built. */
static const char *const allowed[] = {
	"libc.so.",
#ifdef DVMOUNT_DYNAMIC_DEPS
	/* `make DYNAMIC_DEPS=1`: the six shared, still not libmount. */
	"libuuid.so.",
	"liburing.so.",
	"libcap-ng.so.",
	"libnl-3.so.",
	"libjson-c.so.",
	"libhttp_parser.so.",
#endif
#ifdef __SANITIZE_ADDRESS__
	/* `make asan`: the sanitizers' run-time libraries. */
	"libasan.so.",
	"libubsan.so.",
#endif
};

/* The interpreter's file name (ld-linux-x86-64.so.2) out of readelf -l's text. */
static int interpreter(const char *text, char *ret, size_t size)
{
	const char *p = strstr(text, "[Requesting program interpreter: "), *end, *base;

	if (!p)
		return -1;
	p += strlen("[Requesting program interpreter: ");
	end = strchr(p, ']');
	if (!end)
		return -1;
	for (base = end; base > p && base[-1] != '/'; base--)
		;
	snprintf(ret, size, "%.*s", (int)(end - base), base);
	return 0;
}

/*
 * The interpreter (ld.so) is listed NEEDED too when the program uses one of
 * its symbols (__tls_get_addr, for json-c's thread-local error text): it is
 * mapped at every exec anyway, as the interpreter.
 */
TEST(dvmount_needs_only_libc_and_the_interpreter)
{
	char *argv[] = {
		"/usr/bin/readelf", "-d", "-l", "-W", (char *)build_path("dvmount"), NULL
	};
	char interp[NAME_MAX + 1];
	struct run_result r;
	int needed = 0, libc = 0;

	if (access(argv[0], X_OK) < 0)
		SKIP(return, "no /usr/bin/readelf (binutils: tools/install-deps installs it)");
	ASSERT_EQ(0, run_argv(&r, argv, 10000));
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	ASSERT_EQ(0, interpreter(r.out, interp, sizeof(interp))) OK_OR_LOG(r);
	for (const char *l = strstr(r.out, "(NEEDED)"); l; l = strstr(l + 1, "(NEEDED)")) {
		const char *lib = strstr(l, "Shared library: [");
		char name[NAME_MAX + 1];
		bool ok;

		ASSERT_NE(NULL, lib) OK_OR_LOG(r);
		ASSERT_EQ(1, sscanf(lib, "Shared library: [%255[^]]]", name)) OK_OR_LOG(r);
		ok = !strcmp(name, interp);
		for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
			ok = ok || !strncmp(name, allowed[i], strlen(allowed[i]));
		EXPECT_TRUE(ok) TH_LOG("dvmount needs %s", name);
		libc += !strncmp(name, "libc.so.", strlen("libc.so."));
		needed++;
	}
	EXPECT_EQ(1, libc) OK_OR_LOG(r);
	EXPECT_LE(1, needed);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
