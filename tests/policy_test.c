/* SPDX-License-Identifier: MIT */
/*
 * The policy as a specification: the grammar (every error kind, with its
 * line and column), loading (owner, mode, drop-ins), every decision allowed and
 * denied, the attacks of issue 5 performed against the decisions and, for the
 * plugin's Mountpoint, against real files through ns/mountpoint.c.
 */
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

/* The harness' own code trips -Wextra: its callbacks ignore arguments. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#undef ARRAY_SIZE /* common/macro.h has its own */

#include "ns/mountpoint.h"
#include "policy/policy.h"

/* Line numbers matter: denials name them. */
static const char base_conf[] = "[dvmount]\n"					     /* 1 */
				"callers = uid:0 uid:1000 gid:2000\n"		     /* 2 */
				"max-volumes = 4\n"				     /* 3 */
				"max-options = 3\n"				     /* 4 */
				"max-name-length = 32\n"			     /* 5 */
				"deny-container-paths = /proc /sys /dev /etc\n"	     /* 6 */
				"mount-options = nosuid nodev\n"		     /* 7 */
				"\n"						     /* 8 */
				"[driver rexray]   # the block storage one\n"	     /* 9 */
				"host-paths = /var/lib/rexray/volumes /mnt/rexray\n" /* 10 */
				"options = size iops ro\n"			     /* 11 */
				"option.size = [0-9]*\n"			     /* 12 */
				"deny-options = iops=0\n"			     /* 13 */
				"force-options = fs=ext4\n"			     /* 14 */
				"modes = RW RO\n"				     /* 15 */
				"max-option-length = 8\n"			     /* 16 */
				"\n"						     /* 17 */
				"[driver readonly-*]\n"				     /* 18 */
				"host-paths = /srv/ro\n"			     /* 19 */
				"force-readonly = yes\n"			     /* 20 */
				"mount-options = nosuid nodev noexec\n"		     /* 21 */
				"socket-owner = uid:1000\n"			     /* 22 */
				"\n"						     /* 23 */
				"[driver readonly-exact]\n"			     /* 24 */
				"host-paths = /srv/exact\n"			     /* 25 */
				"modes = RO\n"					     /* 26 */
				"require-mount-point = yes\n"			     /* 27 */
				"socket-owner = any\n";				     /* 28 */

static struct policy *parse_ok(struct __test_metadata *_metadata, const char *text)
{
	struct policy_error err = {};
	struct policy *p = NULL;
	int r;

	r = policy_parse_buffer("base.conf", text, strlen(text), &p, &err);
	if (r < 0)
		TH_LOG("parse: %s:%u:%u: %s", err.file, err.line, err.column, err.message);
	ASSERT_EQ(0, r);
	ASSERT_NE(NULL, p);
	return p;
}

static struct policy_volume_req vreq(const char *driver)
{
	return (struct policy_volume_req){
		.driver = driver,
		.name = "vol1",
		.mode = POLICY_MODE_RW,
		.container_path = "data",
		.target = "/data",
		.n_volumes = 1,
	};
}

static struct policy_mountpoint_facts dir_facts(const char *path)
{
	return (struct policy_mountpoint_facts){
		.path = path,
		.exists = true,
		.is_directory = true,
	};
}

/* ---- grammar ---- */

TEST(skeleton_from_design_parses)
{
	static const char skeleton[] =
	    "# /etc/dvmount/policy.conf: '#' comments, one key = value per line\n"
	    "[dvmount]\n"
	    "callers = uid:0 gid:mesos         # who may invoke dvmount\n"
	    "max-volumes = 64                  # volumes per container\n"
	    "deny-container-paths = /proc /sys /dev\n"
	    "\n"
	    "[driver rexray]                   # one section per allowed plugin name\n"
	    "host-paths = /var/lib/rexray/volumes   # plugin Mountpoints must lie under these\n"
	    "options = size iops               # option keys a framework may pass\n"
	    "option.size = [0-9]*              # optional glob each value must match\n"
	    "modes = RW RO                     # allowed modes\n"
	    "force-readonly = no               # yes: every mount is read-only\n"
	    "socket-owner = uid:0              # the plugin socket's owner\n";
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, skeleton);
	struct policy_volume_req req = vreq("rexray");
	struct policy_option o[] = { { "size", "100" } };
	struct policy_denial d;

	req.options = o;
	req.n_options = 1;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	o[0].value = "G100"; /* a shell glob: "[0-9]*" only says "starts with a digit" */
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:10", d.rule);
}

struct bad_case {
	const char *text;
	unsigned line, column;
	const char *says;
};

static const struct bad_case bad_cases[] = {
	{ "callers = uid:0\n", 1, 1, "outside a section" },
	{ "[dvmount]\nfoo = 1\n", 2, 1, "unknown key 'foo'" },
	{ "[driver x]\ncallers = uid:0\n", 2, 1, "unknown key 'callers'" },
	{ "[volumes]\n", 1, 2, "expected [dvmount] or [driver NAME]" },
	{ "[driver]\n", 1, 2, "expected [dvmount] or [driver NAME]" },
	{ "[driver a b]\n", 1, 11, "one driver name" },
	{ "[dvmount\n", 1, 9, "expected ']'" },
	{ "[dvmount]\n[dvmount]\n", 2, 1, "duplicate section [dvmount]" },
	{ "[driver x]\n[driver x]\n", 2, 1, "duplicate section [driver x]" },
	{ "[dvmount]\nmax-volumes = 1\nmax-volumes = 2\n", 3, 1, "duplicate key" },
	{ "[driver x]\noption.a = 1\noption.a = 2\n", 3, 1, "duplicate key" },
	{ "[driver x[]\n", 1, 10, "bad glob" },
	{ "[driver x]\noption.a = [0-9\n", 2, 12, "bad glob" },
	{ "[driver x]\noption.a = ab\\\n", 2, 14, "bad glob" },
	{ "[driver x]\ndeny-options = a=[z\n", 2, 18, "bad glob" },
	{ "[dvmount]\nmax-volumes\n", 2, 12, "expected '='" },
	{ "[dvmount]\nmax-volumes =\n", 2, 14, "expected a value" },
	{ "[dvmount]\nmax-volumes = 12x\n", 2, 15, "expected a number from 0 to 4096" },
	{ "[dvmount]\nmax-volumes = 99999999999999999999999\n", 2, 15, "expected a number" },
	{ "[driver x]\nforce-readonly = maybe\n", 2, 18, "expected yes or no" },
	{ "[driver x]\nhost-paths = /ok var/lib\n", 2, 18, "absolute path" },
	{ "[driver x]\nhost-paths = /var/lib/../../etc\n", 2, 14, "absolute path" },
	{ "[driver x]\nhost-paths = /var//lib\n", 2, 14, "absolute path" },
	{ "[driver x]\nmodes = RW rw XW\n", 2, 15, "expected RW or RO" },
	{ "[dvmount]\ncallers = uid:0 uid:\n", 2, 17, "expected uid:N" },
	{ "[dvmount]\ncallers = uid:4294967295\n", 2, 11, "expected uid:N" },
	{ "[driver x]\nsocket-owner = gid:0\n", 2, 16, "expected uid:N" },
	{ "[driver x]\nsocket-owner = uid:0 uid:1\n", 2, 16, "one owner" },
	{ "[driver x]\nforce-options = ro\n", 2, 17, "KEY=VALUE" },
	{ "[driver x]\noptions = a,b\n", 2, 11, "option key" },
	{ "[dvmount]\nmount-options = nosuid nosetuid\n", 2, 24, "nosuid, nodev, noexec" },
	{ "[dvmount]\n= 1\n", 2, 1, "expected a key" },
	{ "[dvmount]\nmax-volumes = 1\x01\n", 2, 16, "control character 0x01" },
	{ "[dvmount]\nmax-volumes = 1\r\n", 2, 16, "control character 0x0d" },
};

TEST(every_syntax_error_names_line_and_column)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct policy_error err = {};
		struct policy *p = NULL;
		int r;

		r = policy_parse_buffer("t.conf", c->text, strlen(c->text), &p, &err);
		EXPECT_EQ(-EINVAL, r) TH_LOG("case %zu: %s", i, c->text);
		EXPECT_EQ(NULL, p);
		EXPECT_STREQ("t.conf", err.file);
		EXPECT_EQ(c->line, err.line) TH_LOG("case %zu: %s", i, err.message);
		EXPECT_EQ(c->column, err.column) TH_LOG("case %zu: %s", i, err.message);
		EXPECT_NE(NULL, strstr(err.message, c->says))
		TH_LOG("case %zu: '%s' lacks '%s'", i, err.message, c->says);
		policy_free(p);
	}
}

TEST(nul_byte_is_an_error_not_a_truncation)
{
	static const char text[] = "[dvmount]\nmax-volumes = 1\0 # hidden\n";
	struct policy_error err = {};
	struct policy *p = NULL;

	EXPECT_EQ(-EINVAL, policy_parse_buffer("t.conf", text, sizeof(text) - 1, &p, &err));
	EXPECT_EQ(2u, err.line);
	EXPECT_EQ(16u, err.column);
	EXPECT_NE(NULL, strstr(err.message, "NUL byte"));
}

TEST(overlong_line_and_oversize_buffer_are_errors)
{
	_cleanup_free_ char *big = malloc(POLICY_MAX_FILE_SIZE + 2);
	struct policy_error err = {};
	struct policy *p = NULL;
	size_t n;

	ASSERT_NE(NULL, big);
	n = (size_t)sprintf(big, "[dvmount]\n# ");
	memset(big + n, 'x', POLICY_MAX_LINE);
	n += POLICY_MAX_LINE;
	big[n++] = '\n';
	EXPECT_EQ(-EINVAL, policy_parse_buffer("t.conf", big, n, &p, &err));
	EXPECT_EQ(2u, err.line);
	EXPECT_NE(NULL, strstr(err.message, "line longer than"));

	memset(big, '\n', POLICY_MAX_FILE_SIZE + 1);
	EXPECT_EQ(-EINVAL, policy_parse_buffer("t.conf", big, POLICY_MAX_FILE_SIZE + 1, &p, &err));
	EXPECT_NE(NULL, strstr(err.message, "larger than"));
	EXPECT_EQ(0, policy_parse_buffer("t.conf", big, POLICY_MAX_FILE_SIZE, &p, &err));
	policy_free(p);
}

TEST(comments_blanks_and_hash_inside_values)
{
	static const char text[] = "  # indented comment\n"
				   "\t\n"
				   "[driver x]\t# trailing\n"
				   "options = a\n"
				   "option.a = v#1   # '#' not after a blank: part of the value\n"
				   "host-paths = /h\n";
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, text);
	struct policy_volume_req req = vreq("x");
	struct policy_option o[] = { { "a", "v#1" } };
	struct policy_denial d;

	req.options = o;
	req.n_options = 1;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d)) TH_LOG("%s: %s", d.rule, d.reason);
}

/* ---- callers ---- */

TEST(callers_default_is_root_only)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, "[driver x]\n");
	struct policy_denial d;
	gid_t g = 0;

	EXPECT_EQ(0, policy_check_caller(p, 0, NULL, 0, &d));
	EXPECT_EQ(-EACCES, policy_check_caller(p, 1000, &g, 1, &d));
	EXPECT_STREQ("base.conf (built-in default)", d.rule);
}

TEST(callers_by_uid_and_gid)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	gid_t in[] = { 5, 2000 }, out[] = { 5, 2001 };
	struct policy_denial d;

	EXPECT_EQ(0, policy_check_caller(p, 0, NULL, 0, &d));
	EXPECT_EQ(0, policy_check_caller(p, 1000, NULL, 0, &d));
	EXPECT_EQ(0, policy_check_caller(p, 4242, in, 2, &d));
	EXPECT_EQ(-EACCES, policy_check_caller(p, 4242, out, 2, &d));
	EXPECT_STREQ("base.conf:2", d.rule);
}

TEST(caller_names_stay_unresolved_without_load)
{
	_cleanup_(policy_freep) struct policy *p =
	    parse_ok(_metadata, "[dvmount]\ncallers = root gid:root\n");
	struct policy_denial d;

	/* policy_parse_buffer does no I/O: a name matches nobody, not even root. */
	EXPECT_EQ(-EACCES, policy_check_caller(p, 0, NULL, 0, &d));
}

/* ---- volumes: driver, options, modes, limits ---- */

TEST(driver_without_section_is_denied)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("evil");
	struct policy_denial d;

	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_NE(NULL, strstr(d.reason, "no [driver evil] section"));
	req.driver = "rexray";
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
}

TEST(driver_glob_and_exact_precedence)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("readonly-nfs");
	struct policy_denial d;

	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	/* The exact section (modes = RO) wins over the glob that allows RW. */
	req.driver = "readonly-exact";
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:26", d.rule);
	req.mode = POLICY_MODE_RO;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
}

TEST(driver_names_that_walk_paths_are_denied)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, "[driver *]\n");
	const char *names[] = { "../../tmp/evil", "/run/evil", "a\nb", "", "x/../y" };
	struct policy_denial d;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct policy_volume_req req = vreq(names[i]);

		EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d)) TH_LOG("%s", names[i]);
	}
}

TEST(disallowed_option_is_denied)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("rexray");
	struct policy_option o[] = { { "size", "10" }, { "mountpoint", "/" } };
	struct policy_denial d;

	req.options = o;
	req.n_options = 1;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	req.n_options = 2;
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:11", d.rule);
	EXPECT_NE(NULL, strstr(d.reason, "'mountpoint' is not allowed"));
	/* The reason quotes the request, but never its escape sequences. */
	o[1].key = "size\033[2J";
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_NE(NULL, strstr(d.reason, "'size?[2J' is not allowed")) TH_LOG("%s", d.reason);
}

TEST(option_value_rules)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("rexray");
	struct policy_option o[1];
	struct policy_denial d;
	const struct {
		const char *key, *value;
		const char *rule; /* NULL: allowed */
	} cases[] = {
		{ "size", "42", NULL },
		{ "size", "x4", "base.conf:12" },	 /* option.size glob */
		{ "size", "123456789", "base.conf:16" }, /* max-option-length = 8 */
		{ "iops", "0", "base.conf:13" },	 /* deny-options iops=0 */
		{ "iops", "100", NULL },
		{ "fs", "ext4", NULL },		 /* forced, same value */
		{ "fs", "xfs", "base.conf:14" }, /* forced to another value */
	};

	req.options = o;
	req.n_options = 1;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int r;

		o[0] = (struct policy_option){ cases[i].key, cases[i].value };
		r = policy_check_volume(p, &req, &d);
		if (!cases[i].rule) {
			EXPECT_EQ(0, r)
			TH_LOG("%s=%s: %s %s", cases[i].key, cases[i].value, d.rule, d.reason);
		} else {
			EXPECT_EQ(-EACCES, r) TH_LOG("%s=%s", cases[i].key, cases[i].value);
			EXPECT_STREQ(cases[i].rule, d.rule);
		}
	}
}

TEST(forced_options_are_listed)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	const struct policy_option *o;

	ASSERT_EQ((size_t)1, policy_forced_options(p, "rexray", &o));
	EXPECT_STREQ("fs", o[0].key);
	EXPECT_STREQ("ext4", o[0].value);
	EXPECT_EQ((size_t)0, policy_forced_options(p, "nope", &o));
}

TEST(option_limits_and_duplicates)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("rexray");
	struct policy_option o[] = {
		{ "size", "1" },
		{ "iops", "2" },
		{ "ro", "1" },
		{ "fs", "ext4" },
	};
	struct policy_denial d;

	req.options = o;
	req.n_options = 3;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	req.n_options = 4;
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:4", d.rule);
	o[1] = o[0];
	req.n_options = 2;
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_NE(NULL, strstr(d.reason, "given twice"));
}

TEST(volume_count_and_name_limits)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("rexray");
	struct policy_denial d;

	req.n_volumes = 4;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	req.n_volumes = 5;
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:3", d.rule);
	req.n_volumes = 1;
	req.name = "0123456789012345678901234567890123";
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:5", d.rule);
	req.name = "..";
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
}

TEST(modes_allowed_and_denied)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("readonly-exact");
	struct policy_denial d;

	req.mode = POLICY_MODE_RO;
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	req.mode = POLICY_MODE_RW;
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	req.mode = POLICY_MODE_RW | POLICY_MODE_RO;
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
}

TEST(forced_readonly_with_rw_request_mounts_readonly)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_volume_req req = vreq("readonly-nfs");
	struct policy_mount_attrs a;
	struct policy_denial d;

	/* The request is accepted (modes = RW RO) but the attach is read-only. */
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	ASSERT_EQ(0, policy_mount_attrs(p, "readonly-nfs", POLICY_MODE_RW, &a));
	EXPECT_TRUE(a.readonly);
	EXPECT_TRUE(a.noexec);
	ASSERT_EQ(0, policy_mount_attrs(p, "rexray", POLICY_MODE_RW, &a));
	EXPECT_FALSE(a.readonly);
	ASSERT_EQ(0, policy_mount_attrs(p, "rexray", POLICY_MODE_RO, &a));
	EXPECT_TRUE(a.readonly);
	EXPECT_EQ(-ENOENT, policy_mount_attrs(p, "evil", POLICY_MODE_RO, &a));
}

TEST(mount_attrs_defaults_and_overrides)
{
	_cleanup_(policy_freep) struct policy *p =
	    parse_ok(_metadata, "[driver a]\n[driver b]\nmount-options = none\n"
				"[driver c]\nmount-options = noexec\n");
	struct policy_mount_attrs a;

	ASSERT_EQ(0, policy_mount_attrs(p, "a", POLICY_MODE_RW, &a));
	EXPECT_TRUE(a.nosuid && a.nodev);
	EXPECT_FALSE(a.noexec || a.readonly);
	ASSERT_EQ(0, policy_mount_attrs(p, "b", POLICY_MODE_RW, &a));
	EXPECT_FALSE(a.nosuid || a.nodev || a.noexec);
	ASSERT_EQ(0, policy_mount_attrs(p, "c", POLICY_MODE_RW, &a));
	EXPECT_TRUE(a.noexec);
	EXPECT_FALSE(a.nosuid || a.nodev);
}

TEST(max_in_flight_is_one_unless_the_driver_raises_it)
{
	_cleanup_(policy_freep) struct policy *p =
	    parse_ok(_metadata, "[driver rclone]\n"
				"[driver fast]\nmax-in-flight = 64\n"
				"[driver fast-*]\nmax-in-flight = 256\n");
	struct policy_error err = {};
	struct policy *bad = NULL;
	const char *bad_values[] = { "0", "257", "-1", "x", "" };

	/* Default 1: what the Docker engine does, and what rclone's plugin survives. */
	EXPECT_EQ(1, policy_max_in_flight(p, "rclone"));
	EXPECT_EQ(1, policy_max_in_flight(p, "no-section"));
	EXPECT_EQ(1, policy_max_in_flight(NULL, "rclone"));
	EXPECT_EQ(64, policy_max_in_flight(p, "fast"));
	EXPECT_EQ(256, policy_max_in_flight(p, "fast-nfs"));
	for (size_t i = 0; i < ARRAY_SIZE(bad_values); i++) {
		char text[128];

		snprintf(text, sizeof(text), "[driver a]\nmax-in-flight = %s\n", bad_values[i]);
		EXPECT_EQ(-EINVAL, policy_parse_buffer("t.conf", text, strlen(text), &bad, &err))
		TH_LOG("value '%s' was accepted", bad_values[i]);
		EXPECT_EQ(2, err.line);
		policy_free(bad);
		bad = NULL;
	}
	/* A [dvmount] key it is not: host-wide per plugin, never global. */
	const char *global = "[dvmount]\nmax-in-flight = 2\n";

	EXPECT_EQ(-EINVAL, policy_parse_buffer("t.conf", global, strlen(global), &bad, &err));
	policy_free(bad);
}

/* ---- container paths ---- */

TEST(container_paths)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_denial d;
	const struct {
		const char *given, *target;
		const char *rule; /* NULL: allowed */
	} cases[] = {
		{ "data", "/data", NULL },
		{ "/proc/sys", "/proc/sys", "base.conf:6" },
		{ "/proc", "/proc", "base.conf:6" },
		{ "/procfs", "/procfs", NULL }, /* prefixes are whole components */
		{ "/etc/ssh", "/etc/ssh", "base.conf:6" },
		{ "/", "/", "base.conf (built-in default)" },
		{ "../../etc", "/etc", "base.conf (built-in default)" },
		{ "a/../../b", "/b", "base.conf (built-in default)" },
		{ "x", "/mnt//x", "base.conf (built-in default)" }, /* not normalized */
		{ "x", "relative", "base.conf (built-in default)" },
		{ "", "/data", "base.conf (built-in default)" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct policy_volume_req req = vreq("rexray");
		int r;

		req.container_path = cases[i].given;
		req.target = cases[i].target;
		r = policy_check_volume(p, &req, &d);
		if (!cases[i].rule) {
			EXPECT_EQ(0, r) TH_LOG("%s: %s", cases[i].given, d.reason);
		} else {
			EXPECT_EQ(-EACCES, r) TH_LOG("%s -> %s", cases[i].given, cases[i].target);
			EXPECT_STREQ(cases[i].rule, d.rule) TH_LOG("%s", cases[i].given);
		}
	}
}

TEST(container_paths_default_deny_set_and_allow_list)
{
	_cleanup_(policy_freep) struct policy *p =
	    parse_ok(_metadata, "[dvmount]\nallow-container-paths = /mnt /data\n[driver x]\n");
	_cleanup_(policy_freep) struct policy *q = parse_ok(_metadata, "[driver x]\n");
	struct policy_volume_req req = vreq("x");
	struct policy_denial d;

	req.target = "/mnt/a";
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	req.target = "/opt/a";
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_STREQ("base.conf:2", d.rule);
	/* No deny-container-paths key: /proc, /sys and /dev are still denied. */
	req.target = "/sys/fs/cgroup";
	EXPECT_EQ(-EACCES, policy_check_volume(q, &req, &d));
	EXPECT_STREQ("base.conf (built-in default)", d.rule);
	req.target = "/dev/shm";
	EXPECT_EQ(-EACCES, policy_check_volume(q, &req, &d));
}

/* ---- the plugin's Mountpoint, as facts ---- */

TEST(mountpoint_decisions)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_mountpoint_facts f;
	struct policy_denial d;

	f = dir_facts("/var/lib/rexray/volumes/v1/data");
	EXPECT_EQ(0, policy_check_mountpoint(p, "rexray", &f, &d));
	f = dir_facts("/var/lib/rexray/volumes//v1/./data/");
	EXPECT_EQ(0, policy_check_mountpoint(p, "rexray", &f, &d));

	f = dir_facts("/etc");
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	EXPECT_STREQ("base.conf:10", d.rule);
	f = dir_facts("/");
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	f = dir_facts("/var/lib/rexray/volumes"); /* the parent of every volume */
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	f = dir_facts("/var/lib/rexray/volumesX/v");
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	f = dir_facts("/var/lib/rexray/volumes/../../../etc");
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	EXPECT_NE(NULL, strstr(d.reason, "'..'"));
	f = dir_facts("var/lib/rexray/volumes/v");
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	f = dir_facts("/var/lib/rexray/volumes/link");
	f.has_symlink = true;
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	EXPECT_NE(NULL, strstr(d.reason, "symlink"));
	f = dir_facts("/var/run/docker.sock");
	f.is_directory = false;
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));
	f = dir_facts("/var/lib/rexray/volumes/gone");
	f.exists = f.is_directory = false;
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "rexray", &f, &d));

	f = dir_facts("/srv/exact/v");
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "readonly-exact", &f, &d));
	EXPECT_STREQ("base.conf:27", d.rule);
	f.is_mount_point = true;
	EXPECT_EQ(0, policy_check_mountpoint(p, "readonly-exact", &f, &d));
	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "evil", &f, &d));
}

TEST(driver_without_host_paths_gets_no_mountpoint)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, "[dvmount]\n[driver x]\n");
	struct policy_mountpoint_facts f = dir_facts("/var/lib/x/v");
	struct policy_denial d;

	EXPECT_EQ(-EACCES, policy_check_mountpoint(p, "x", &f, &d));
	EXPECT_STREQ("base.conf:2", d.rule);
	EXPECT_NE(NULL, strstr(d.reason, "no host-paths"));
}

/* ---- the plugin socket ---- */

TEST(socket_owner)
{
	_cleanup_(policy_freep) struct policy *p = parse_ok(_metadata, base_conf);
	struct policy_denial d;

	EXPECT_EQ(0, policy_check_socket(p, "rexray", 0, &d));
	EXPECT_EQ(-EACCES, policy_check_socket(p, "rexray", 1000, &d));
	EXPECT_STREQ("base.conf (built-in default)", d.rule);
	EXPECT_EQ(0, policy_check_socket(p, "readonly-nfs", 1000, &d));
	EXPECT_EQ(-EACCES, policy_check_socket(p, "readonly-nfs", 0, &d));
	EXPECT_STREQ("base.conf:22", d.rule);
	EXPECT_EQ(0, policy_check_socket(p, "readonly-exact", 4242, &d));
	EXPECT_EQ(-EACCES, policy_check_socket(p, "evil", 0, &d));
}

/* ---- loading files ---- */

FIXTURE(files)
{
	char dir[64];
	char conf[128];
	char dropins[128];
};

static void write_file(struct __test_metadata *_metadata, const char *path, const char *text,
		       mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)strlen(text), write(fd, text, strlen(text)));
	ASSERT_EQ(0, fchmod(fd, mode));
	close(fd);
}

FIXTURE_SETUP(files)
{
	strcpy(self->dir, "/tmp/policy_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	ASSERT_EQ(0, chmod(self->dir, 0755));
	snprintf(self->conf, sizeof(self->conf), "%s/policy.conf", self->dir);
	snprintf(self->dropins, sizeof(self->dropins), "%s/policy.d", self->dir);
	ASSERT_EQ(0u, geteuid()) TH_LOG("these tests need root: policy files must be root's");
}

FIXTURE_TEARDOWN(files)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", self->dir);
	EXPECT_EQ(0, system(cmd));
}

static void dropin(struct __test_metadata *_metadata, const char *dir, const char *name,
		   const char *text)
{
	char path[256];

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	write_file(_metadata, path, text, 0644);
}

TEST_F(files, missing_policy_denies_everything_and_says_where)
{
	struct policy_error err = {};
	struct policy *p = NULL;

	EXPECT_EQ(-ENOENT, policy_load(self->conf, NULL, &p, &err));
	EXPECT_EQ(NULL, p);
	EXPECT_NE(NULL, strstr(err.message, self->conf));
	EXPECT_NE(NULL, strstr(err.message, "everything is denied"));
}

TEST_F(files, file_not_owned_by_root_is_refused)
{
	struct policy_error err = {};
	struct policy *p = NULL;

	write_file(_metadata, self->conf, "[driver x]\n", 0644);
	ASSERT_EQ(0, chown(self->conf, 65534, 65534));
	EXPECT_EQ(-EPERM, policy_load(self->conf, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.message, "not root"));
	EXPECT_EQ(NULL, p);
}

TEST_F(files, group_or_world_writable_is_refused)
{
	struct policy_error err = {};
	struct policy *p = NULL;

	write_file(_metadata, self->conf, "[driver x]\n", 0664);
	EXPECT_EQ(-EPERM, policy_load(self->conf, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.message, "writable"));
	write_file(_metadata, self->conf, "[driver x]\n", 0646);
	EXPECT_EQ(-EPERM, policy_load(self->conf, NULL, &p, &err));
	write_file(_metadata, self->conf, "[driver x]\n", 0600);
	EXPECT_EQ(0, policy_load(self->conf, NULL, &p, &err));
	p = policy_free(p);
}

TEST_F(files, symlinked_or_special_policy_is_refused)
{
	char link[160];
	struct policy_error err = {};
	struct policy *p = NULL;

	write_file(_metadata, self->conf, "[driver x]\n", 0644);
	snprintf(link, sizeof(link), "%s/link.conf", self->dir);
	ASSERT_EQ(0, symlink(self->conf, link));
	EXPECT_EQ(-ELOOP, policy_load(link, NULL, &p, &err));
	EXPECT_EQ(NULL, p);
	snprintf(link, sizeof(link), "%s/fifo.conf", self->dir);
	ASSERT_EQ(0, mkfifo(link, 0644));
	EXPECT_EQ(-EPERM, policy_load(link, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.message, "not a regular file"));
}

TEST_F(files, oversize_file_is_refused)
{
	struct policy_error err = {};
	struct policy *p = NULL;
	int fd;

	write_file(_metadata, self->conf, "[driver x]\n", 0644);
	fd = open(self->conf, O_WRONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, POLICY_MAX_FILE_SIZE + 1));
	close(fd);
	EXPECT_EQ(-EFBIG, policy_load(self->conf, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.message, "larger than"));
}

TEST_F(files, dropins_add_drivers_in_name_order)
{
	struct policy_error err = {};
	struct policy_volume_req req = vreq("late");
	struct policy *p = NULL;
	struct policy_denial d;

	write_file(_metadata, self->conf, "[dvmount]\ncallers = root\n", 0644);
	dropin(_metadata, self->dropins, "20-late.conf", "\n[driver late]\nmodes = RO\n");
	dropin(_metadata, self->dropins, "10-early.conf", "[driver early]\n");
	dropin(_metadata, self->dropins, "notes.txt", "this is not a policy\n");
	dropin(_metadata, self->dropins, ".hidden.conf", "garbage\n");
	ASSERT_EQ(0, policy_load(self->conf, NULL, &p, &err))
	TH_LOG("%s:%u: %s", err.file, err.line, err.message);
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	EXPECT_NE(NULL, strstr(d.rule, "/policy.d/20-late.conf:3"));
	req.driver = "early";
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	/* "root" was resolved by policy_load (I/O), unlike policy_parse_buffer. */
	EXPECT_EQ(0, policy_check_caller(p, 0, NULL, 0, &d));
	policy_free(p);
}

TEST_F(files, duplicate_section_across_dropins_is_an_error)
{
	struct policy_error err = {};
	struct policy *p = NULL;

	write_file(_metadata, self->conf, "[driver x]\n", 0644);
	dropin(_metadata, self->dropins, "a.conf", "# again\n[driver x]\n");
	EXPECT_EQ(-EINVAL, policy_load(self->conf, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.file, "policy.d/a.conf"));
	EXPECT_EQ(2u, err.line);
	EXPECT_NE(NULL, strstr(err.message, "duplicate section"));
	EXPECT_EQ(NULL, p);
}

TEST_F(files, writable_dropin_dir_or_file_is_refused)
{
	char path[160];
	struct policy_error err = {};
	struct policy *p = NULL;

	write_file(_metadata, self->conf, "[driver x]\n", 0644);
	dropin(_metadata, self->dropins, "a.conf", "[driver y]\n");
	ASSERT_EQ(0, chmod(self->dropins, 0777));
	EXPECT_EQ(-EPERM, policy_load(self->conf, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.file, "policy.d"));
	ASSERT_EQ(0, chmod(self->dropins, 0755));
	snprintf(path, sizeof(path), "%s/a.conf", self->dropins);
	ASSERT_EQ(0, chown(path, 1000, 1000));
	EXPECT_EQ(-EPERM, policy_load(self->conf, NULL, &p, &err));
	EXPECT_NE(NULL, strstr(err.file, "a.conf"));
	EXPECT_EQ(NULL, p);
}

TEST_F(files, explicit_dropin_dir)
{
	char other[160];
	struct policy_error err = {};
	struct policy_volume_req req = vreq("y");
	struct policy *p = NULL;
	struct policy_denial d;

	snprintf(other, sizeof(other), "%s/elsewhere", self->dir);
	write_file(_metadata, self->conf, "[driver x]\n", 0644);
	dropin(_metadata, self->dropins, "a.conf", "[driver ignored]\n");
	dropin(_metadata, other, "a.conf", "[driver y]\n");
	ASSERT_EQ(0, policy_load(self->conf, other, &p, &err));
	EXPECT_EQ(0, policy_check_volume(p, &req, &d));
	req.driver = "ignored";
	EXPECT_EQ(-EACCES, policy_check_volume(p, &req, &d));
	policy_free(p);
}

struct lint_log {
	unsigned errors, warnings;
	char text[4096];
};

static void lint_collect(const struct policy_diag *d, void *userdata)
{
	struct lint_log *l = userdata;
	size_t n = strlen(l->text);

	if (d->warning)
		l->warnings++;
	else
		l->errors++;
	snprintf(l->text + n, sizeof(l->text) - n, "%s:%u:%u:%s:%s\n", d->file, d->line, d->column,
		 d->warning ? "warning" : "error", d->message);
}

TEST_F(files, lint_reports_every_error_and_never_matching_rules)
{
	struct lint_log l = {};
	int r;

	write_file(_metadata, self->conf,
		   "[dvmount]\n"
		   "callers = uid:0 gid:no-such-group-here\n"
		   "max-volumes = lots\n"
		   "allow-container-paths = /proc/x /data\n"
		   "[driver x]\n"
		   "options = a\n"
		   "option.b = [0-9]*\n"
		   "modes = RO RX\n",
		   0644);
	r = policy_lint(self->conf, NULL, lint_collect, &l);
	TH_LOG("%s", l.text);
	EXPECT_EQ(2, r);
	EXPECT_EQ(2u, l.errors);
	EXPECT_NE(NULL, strstr(l.text, "policy.conf:3:15:error:"));
	EXPECT_NE(NULL, strstr(l.text, "policy.conf:8:12:error:"));
	EXPECT_NE(NULL, strstr(l.text, "policy.conf:2:17:warning:group 'no-such-group-here'"));
	EXPECT_NE(NULL, strstr(l.text, "policy.conf:5:1:warning:driver 'x' has no host-paths"));
	EXPECT_NE(NULL, strstr(l.text, "policy.conf:7:1:warning:option.b never applies"));
	EXPECT_NE(NULL, strstr(l.text, "'/proc/x' lies under the denied '/proc'"));
	EXPECT_EQ(4u, l.warnings);
}

TEST_F(files, lint_good_file_has_no_errors)
{
	struct lint_log l = {};

	write_file(_metadata, self->conf, base_conf, 0644);
	EXPECT_EQ(0, policy_lint(self->conf, NULL, lint_collect, &l)) TH_LOG("%s", l.text);
	EXPECT_EQ(0u, l.warnings) TH_LOG("%s", l.text);
}

/* ---- `dvmount policy check` ---- */

static int run_dvmount(struct __test_metadata *_metadata, char *const argv[], char *out,
		       size_t size)
{
	char exe[PATH_MAX], bin[PATH_MAX + 16];
	int pfd[2], status;
	ssize_t n, len = 0;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/../dvmount", exe);
	if (access(bin, X_OK))
		return -2;
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execv(bin, argv);
		_exit(127);
	}
	close(pfd[1]);
	while (len < (ssize_t)size - 1 && (n = read(pfd[0], out + len, size - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(files, policy_check_command_on_good_and_bad_files)
{
	char out[4096];
	int r;

	write_file(_metadata, self->conf, base_conf, 0644);
	r = run_dvmount(_metadata,
			(char *const[]){ "dvmount", "policy", "check", self->conf, NULL }, out,
			sizeof(out));
	if (r == -2)
		SKIP(return, "build/dvmount not built");
	EXPECT_EQ(0, r) TH_LOG("%s", out);

	write_file(_metadata, self->conf, "[dvmount]\nmax-volumes = x\n[driver y]\n", 0644);
	r = run_dvmount(
	    _metadata,
	    (char *const[]){ "dvmount", "--policy", self->conf, "policy", "check", NULL }, out,
	    sizeof(out));
	EXPECT_EQ(1, r);
	EXPECT_NE(NULL, strstr(out, "policy.conf:2:15: error: expected a number"))
	TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "policy.conf:3:1: warning: driver 'y' has no host-paths"))
	TH_LOG("%s", out);

	r = run_dvmount(_metadata, (char *const[]){ "dvmount", "policy", "lint", NULL }, out,
			sizeof(out));
	EXPECT_EQ(2, r);
}

/* ---- ns/mountpoint.c against real files: the plugin attacks ---- */

FIXTURE(mnt)
{
	char dir[64];
	char vols[128];
	struct policy *p;
};

FIXTURE_SETUP(mnt)
{
	char text[512], path[256];

	self->p = NULL;
	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	strcpy(self->dir, "/tmp/policy_test.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	/* Everything below lives on a tmpfs private to this test's namespace. */
	ASSERT_EQ(0, mount("tmpfs", self->dir, "tmpfs", 0, "mode=0755"));
	snprintf(self->vols, sizeof(self->vols), "%s/volumes", self->dir);
	ASSERT_EQ(0, mkdir(self->vols, 0755));
	snprintf(path, sizeof(path), "%s/v1", self->vols);
	ASSERT_EQ(0, mkdir(path, 0755));
	snprintf(path, sizeof(path), "%s/to-etc", self->vols);
	ASSERT_EQ(0, symlink("/etc", path));
	snprintf(path, sizeof(path), "%s/to-root", self->vols);
	ASSERT_EQ(0, symlink("/", path));
	snprintf(path, sizeof(path), "%s/file", self->vols);
	write_file(_metadata, path, "x", 0644);
	snprintf(text, sizeof(text),
		 "[driver evil]\nhost-paths = %s\n[driver strict]\n"
		 "host-paths = %s\nrequire-mount-point = yes\n",
		 self->vols, self->vols);
	self->p = parse_ok(_metadata, text);
}

FIXTURE_TEARDOWN(mnt)
{
	policy_free(self->p);
	EXPECT_EQ(0, umount2(self->dir, MNT_DETACH));
	EXPECT_EQ(0, rmdir(self->dir));
}

/* What prepare does with a Mountpoint answer: gather facts, then decide. */
static int answer(struct __test_metadata *_metadata, const struct policy *p, const char *driver,
		  const char *path, struct policy_mountpoint_facts *ret_facts)
{
	struct ns_peek pk = { .path = path };
	struct policy_denial d;
	int r;

	r = ns_mountpoint_inspect(-EBADF, &pk, 1, 5000, NULL, NULL, ret_facts);
	if (r == 0)
		r = pk.result;
	ASSERT_EQ(0, r) TH_LOG("%s: %s", path, strerror(-r));
	r = policy_check_mountpoint(p, driver, ret_facts, &d);
	if (r < 0)
		TH_LOG("%s: denied by %s: %s", path, d.rule, d.reason);
	return r;
}

TEST_F(mnt, plugin_answering_its_own_directory_is_allowed)
{
	struct policy_mountpoint_facts f;
	char path[256];
	struct stat a, b;
	struct ns_peek pk = { .flags = NS_PEEK_TREE };

	snprintf(path, sizeof(path), "%s/v1", self->vols);
	EXPECT_EQ(0, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_TRUE(f.exists && f.is_directory);
	EXPECT_FALSE(f.has_symlink || f.has_dotdot || f.is_mount_point);
	/* The tree is of the directory that was checked: prepare attaches that one. */
	pk.path = path;
	ASSERT_EQ(0, ns_mountpoint_inspect(-EBADF, &pk, 1, 5000, NULL, NULL, &f));
	ASSERT_EQ(0, pk.result);
	ASSERT_LE(0, pk.tree_fd);
	ASSERT_EQ(0, fstat(pk.tree_fd, &a));
	ASSERT_EQ(0, stat(path, &b));
	EXPECT_EQ(a.st_ino, b.st_ino);
	close(pk.tree_fd);
}

TEST_F(mnt, plugin_answering_etc_is_denied)
{
	struct policy_mountpoint_facts f;

	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", "/etc", &f));
	EXPECT_TRUE(f.is_directory);
}

TEST_F(mnt, plugin_answering_root_is_denied)
{
	struct policy_mountpoint_facts f;

	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", "/", &f));
	EXPECT_TRUE(f.is_mount_point);
}

TEST_F(mnt, plugin_answering_a_symlink_to_etc_is_denied)
{
	struct policy_mountpoint_facts f;
	char path[256];

	snprintf(path, sizeof(path), "%s/to-etc", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_TRUE(f.has_symlink);
	/* A symlink in the middle of the path, not only at its end. */
	snprintf(path, sizeof(path), "%s/to-root/etc", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_TRUE(f.has_symlink);
}

TEST_F(mnt, plugin_answering_dotdot_is_denied)
{
	struct policy_mountpoint_facts f;
	char path[256];

	snprintf(path, sizeof(path), "%s/v1/../../../../etc", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_TRUE(f.has_dotdot);
	/* Even a ".." that stays inside the host directory. */
	snprintf(path, sizeof(path), "%s/v1/../v1", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_TRUE(f.has_dotdot);
}

TEST_F(mnt, plugin_answering_outside_its_host_dirs_is_denied)
{
	struct policy_mountpoint_facts f;
	char path[256];

	snprintf(path, sizeof(path), "%s", self->dir);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", self->vols, &f));
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", "/tmp", &f));
}

TEST_F(mnt, plugin_answering_a_file_or_nothing_is_denied)
{
	struct policy_mountpoint_facts f;
	char path[256];

	snprintf(path, sizeof(path), "%s/file", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_TRUE(f.exists);
	EXPECT_FALSE(f.is_directory);
	snprintf(path, sizeof(path), "%s/missing", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_FALSE(f.exists);
	snprintf(path, sizeof(path), "%s/file/sub", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", path, &f));
	EXPECT_FALSE(f.exists);
	if (access("/var/run/docker.sock", F_OK) == 0) {
		EXPECT_EQ(-EACCES, answer(_metadata, self->p, "evil", "/var/run/docker.sock", &f));
	}
}

TEST_F(mnt, mount_point_detection)
{
	struct policy_mountpoint_facts f;
	char path[256];

	snprintf(path, sizeof(path), "%s/v1", self->vols);
	EXPECT_EQ(-EACCES, answer(_metadata, self->p, "strict", path, &f));
	EXPECT_FALSE(f.is_mount_point);
	ASSERT_EQ(0, mount("tmpfs", path, "tmpfs", 0, "mode=0755"));
	EXPECT_EQ(0, answer(_metadata, self->p, "strict", path, &f));
	EXPECT_TRUE(f.is_mount_point);
	ASSERT_EQ(0, umount2(path, 0));
	/* A bind mount of a directory onto itself: same device, still a mount point. */
	ASSERT_EQ(0, mount(path, path, NULL, MS_BIND, NULL));
	EXPECT_EQ(0, answer(_metadata, self->p, "strict", path, &f));
	EXPECT_TRUE(f.is_mount_point);
	ASSERT_EQ(0, umount2(path, 0));
}

TEST(mountpoint_inspect_refuses_relative_paths)
{
	struct policy_mountpoint_facts f;
	struct ns_peek pk = { .path = "etc" };

	EXPECT_EQ(-EINVAL, ns_mountpoint_inspect(-EBADF, &pk, 1, 5000, NULL, NULL, &f));
	pk.path = "";
	EXPECT_EQ(-EINVAL, ns_mountpoint_inspect(-EBADF, &pk, 1, 5000, NULL, NULL, &f));
}

/* ---- the parser fuzzer, when `make fuzz` built it ---- */

TEST(fuzz_parser_short_run)
{
	char exe[PATH_MAX], bin[PATH_MAX + 32], tmp[] = "/tmp/policy_fuzz.XXXXXX";
	char prefix[64], logpath[64], cmd[128];
	int status, logfd;
	ssize_t n;
	pid_t pid;

	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	ASSERT_LT(0, n);
	exe[n] = '\0';
	*strrchr(exe, '/') = '\0';
	snprintf(bin, sizeof(bin), "%s/../fuzz/policy_fuzz", exe);
	if (access(bin, X_OK))
		SKIP(return, "make fuzz not built (no build/fuzz/policy_fuzz)");
	ASSERT_NE(NULL, mkdtemp(tmp));
	snprintf(prefix, sizeof(prefix), "-artifact_prefix=%s/", tmp);
	snprintf(logpath, sizeof(logpath), "%s/log", tmp);
	logfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ASSERT_LE(0, logfd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(logfd, 1);
		dup2(logfd, 2);
		execl(bin, bin, "-runs=20000", "-max_len=8192", "-seed=1", prefix, (char *)NULL);
		_exit(127);
	}
	close(logfd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
	{
		snprintf(cmd, sizeof(cmd), "tail -n 30 %s/log >&2", tmp);
		TH_LOG("fuzzer failed (status 0x%x); reproducer kept in %s", status, tmp);
		if (system(cmd))
			TH_LOG("cannot show the log");
		return;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", tmp);
	EXPECT_EQ(0, system(cmd));
}

TEST_HARNESS_MAIN
