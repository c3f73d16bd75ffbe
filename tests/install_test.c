/* SPDX-License-Identifier: MIT */
/*
 * `make install` lays dvmount out per FHS into a DESTDIR, with the hooks.d
 * files and systemd units pointing at the installed program, and
 * `make uninstall` takes exactly that away: the DESTDIR is empty again.
 * The hooks.d files' annotation rule (oci-hooks(5) "when") matches both
 * annotation forms and nothing else.
 */
#include <dirent.h>
#include <json-c/json.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"

/* Every file and symlink below root (relative, sorted, one per line) appended to out. */
static void list_tree(const char *root, const char *rel, char *out, size_t size)
{
	char path[PATH_MAX];
	struct dirent **ents;
	int n;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	n = scandir(path, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char sub[PATH_MAX];
		struct stat st;

		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
			snprintf(sub, sizeof(sub), "%s/%s", rel, ents[i]->d_name);
			snprintf(path, sizeof(path), "%s%s", root, sub);
			if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
				list_tree(root, sub, out, size);
			} else {
				strncat(out, sub, size - strlen(out) - 1);
				strncat(out, "\n", size - strlen(out) - 1);
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static int make_target(const char *target, const char *destdir, struct run_result *r)
{
	char build[PATH_MAX], o[PATH_MAX + 8], d[PATH_MAX + 16];
	char *argv[] = { "/usr/bin/make", "-s", "-C", DVMOUNT_SRCDIR, o, d, (char *)target, NULL };

	if (!realpath(build_path(""), build))
		return -1;
	snprintf(o, sizeof(o), "O=%s", build);
	snprintf(d, sizeof(d), "DESTDIR=%s", destdir);
	/* Not a sub-make of `make check`: no jobserver to inherit. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	return run_argv(r, argv, 120000);
}

TEST(install_then_uninstall_leaves_destdir_empty)
{
	static const char expected[] =
	    "/usr/local/bin/dvmount-run\n"
	    "/usr/local/lib/systemd/system/dvmount-recover.service\n"
	    "/usr/local/lib/systemd/system/dvmount-recover.timer\n"
	    "/usr/local/libexec/dvmount/dvmount-bench\n"
	    "/usr/local/libexec/dvmount/dvmount-bench-floor\n"
	    "/usr/local/libexec/dvmount/dvmount-testplugin\n"
	    "/usr/local/sbin/dvdcli\n"
	    "/usr/local/sbin/dvmount\n"
	    "/usr/local/share/containers/oci/hooks.d/dvmount-createruntime.json\n"
	    "/usr/local/share/containers/oci/hooks.d/dvmount-poststop.json\n"
	    "/usr/local/share/doc/dvmount/README.md\n"
	    "/usr/local/share/doc/dvmount/examples/policy.conf\n"
	    "/usr/local/share/man/man1/dvmount-bench.1\n"
	    "/usr/local/share/man/man1/dvmount-run.1\n"
	    "/usr/local/share/man/man1/dvmount-testplugin.1\n"
	    "/usr/local/share/man/man5/dvmount-policy.5\n"
	    "/usr/local/share/man/man8/dvmount.8\n";
	char *dest = make_tmpdir("install");
	char files[8192] = "", p[PATH_MAX], link[64] = "";
	struct run_result r;
	struct stat st;

	ASSERT_NE(NULL, dest);
	ASSERT_EQ(0, make_target("install", dest, &r));
	EXPECT_EQ(0, r.status) TH_LOG("%s\n%s", r.out, r.err);
	run_result_free(&r);
	list_tree(dest, "", files, sizeof(files));
	EXPECT_STREQ(expected, files);

	snprintf(p, sizeof(p), "%s/usr/local/sbin/dvdcli", dest);
	EXPECT_EQ(7, readlink(p, link, sizeof(link) - 1));
	EXPECT_STREQ("dvmount", link);
	snprintf(p, sizeof(p), "%s/usr/local/sbin/dvmount", dest);
	ASSERT_EQ(0, stat(p, &st));
	EXPECT_EQ(0755, st.st_mode & 07777);
	/* The hooks and the units run the installed program. */
	snprintf(p, sizeof(p), "%s/usr/local/share/containers/oci/hooks.d/dvmount-poststop.json",
		 dest);
	json_object *hook = json_object_from_file(p), *h, *v;

	ASSERT_NE(NULL, hook);
	ASSERT_TRUE(json_object_object_get_ex(hook, "hook", &h));
	ASSERT_TRUE(json_object_object_get_ex(h, "path", &v));
	EXPECT_STREQ("/usr/local/sbin/dvmount", json_object_get_string(v));
	ASSERT_TRUE(json_object_object_get_ex(h, "args", &v));
	EXPECT_STREQ("[ \"dvmount\", \"oci-hook\", \"poststop\" ]", json_object_to_json_string(v));
	ASSERT_TRUE(json_object_object_get_ex(hook, "stages", &v));
	EXPECT_STREQ("[ \"poststop\" ]", json_object_to_json_string(v));
	json_object_put(hook);
	snprintf(p, sizeof(p), "%s/usr/local/lib/systemd/system/dvmount-recover.service", dest);
	char *unit = read_file(p);

	ASSERT_NE(NULL, unit);
	EXPECT_EQ(1, count_str(unit, "\nExecStart=/usr/local/sbin/dvmount recover --gc-dead\n"));
	free(unit);

	ASSERT_EQ(0, make_target("uninstall", dest, &r));
	EXPECT_EQ(0, r.status) TH_LOG("%s\n%s", r.out, r.err);
	run_result_free(&r);
	files[0] = '\0';
	list_tree(dest, "", files, sizeof(files));
	EXPECT_STREQ("", files);
	/* Not even an empty directory. */
	EXPECT_EQ(0, rmdir(dest));
	free(dest);
}

/* podman runs the hook when an annotation key matches the regex (oci-hooks(5)). */
TEST(hooks_d_matches_dvmount_annotations)
{
	static const struct {
		const char *key;
		bool match;
	} keys[] = {
		{ "org.dvmount.volumes", true },
		{ "org.dvmount.volume.data", true },
		{ "org.dvmount.volume.my-vol_1", true },
		{ "org.dvmount.volume.data.opt.size", true },
		{ "org.dvmount.volumesx", false },
		{ "xorg.dvmount.volumes", false },
		{ "org.dvmount.volume.", false },
		{ "io.podman.annotations.label", false },
	};
	static const char *const files[] = { "dvmount-createruntime.json",
					     "dvmount-poststop.json" };

	for (size_t f = 0; f < 2; f++) {
		char p[PATH_MAX];
		json_object *hook, *when, *ann;

		snprintf(p, sizeof(p), "%s/dist/hooks.d/%s", DVMOUNT_SRCDIR, files[f]);
		hook = json_object_from_file(p);
		ASSERT_NE(NULL, hook);
		ASSERT_TRUE(json_object_object_get_ex(hook, "when", &when));
		ASSERT_TRUE(json_object_object_get_ex(when, "annotations", &ann));
		EXPECT_EQ(1, json_object_object_length(ann));
		json_object_object_foreach(ann, kre, vre_obj)
		{
			regex_t kr, vr;

			/* Go's RE2 and POSIX ERE agree on this subset (anchors, classes, |). */
			ASSERT_EQ(0, regcomp(&kr, kre, REG_EXTENDED | REG_NOSUB));
			ASSERT_EQ(0, regcomp(&vr, json_object_get_string(vre_obj),
					     REG_EXTENDED | REG_NOSUB));
			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
				EXPECT_EQ(keys[i].match, regexec(&kr, keys[i].key, 0, NULL, 0) == 0)
				TH_LOG("%s: key '%s'", files[f], keys[i].key);
			}
			EXPECT_EQ(0, regexec(&vr, "rclone:/data", 0, NULL, 0));
			regfree(&kr);
			regfree(&vr);
		}
		json_object_put(hook);
	}
}

TEST_HARNESS_MAIN
