/* SPDX-License-Identifier: MIT */
/*
 * Plugin discovery as the Docker engine does it: sockets, .spec and .json
 * files, both layouts, priority, and waiting for a plugin that is late,
 * stale or absent. Each test has its own plugin directories.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/miniplugin.h"
#include "tests/lib/run.h"

FIXTURE(disc)
{
	char *dir;
	char d1[PATH_MAX], d2[PATH_MAX], path[2 * PATH_MAX + 2];
	struct miniplugin a, b;
};

FIXTURE_SETUP(disc)
{
	self->dir = make_tmpdir("disc");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->d1, sizeof(self->d1), "%s/d1", self->dir);
	snprintf(self->d2, sizeof(self->d2), "%s/d2", self->dir);
	ASSERT_EQ(0, mkdir(self->d1, 0755));
	ASSERT_EQ(0, mkdir(self->d2, 0755));
	snprintf(self->path, sizeof(self->path), "%s:%s", self->d1, self->d2);
}

FIXTURE_TEARDOWN(disc)
{
	miniplugin_stop(&self->a);
	miniplugin_stop(&self->b);
	remove_tree(self->dir);
	free(self->dir);
}

static char *fmt(const char *f, const char *a, const char *b)
{
	static char buf[4][2 * PATH_MAX];
	static int i;
	char *p = buf[i++ % 4];

	snprintf(p, 2 * PATH_MAX, f, a, b);
	return p;
}

/* dvmount volume capabilities --driver NAME, with the fixture's plugin path. */
static void caps(struct run_result *r, FIXTURE_DATA(disc) * self, const char *name,
		 const char *retry)
{
	run_dvmount(r, "--plugin-path", self->path, "--plugin-retry", retry, "volume",
		    "capabilities", "--driver", name, NULL);
}

/*
 * Capabilities of plugin name, found at once (no retry): exit 0 and the
 * answer of the miniplugin that was reached, "scope: <its tag>\n".
 */
static void expect_scope(struct __test_metadata *_metadata, FIXTURE_DATA(disc) * self,
			 const char *name, const char *want)
{
	struct run_result r;

	caps(&r, self, name, "0");
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ(want, r.out);
	run_result_free(&r);
}

TEST_F(disc, socket_flat_layout)
{
	ASSERT_EQ(0, miniplugin_start(&self->a, fmt("%s/p.sock", self->d1, 0), "flat", NULL));
	expect_scope(_metadata, self, "p", "scope: flat\n");
}

TEST_F(disc, socket_nested_layout)
{
	ASSERT_EQ(0, mkdir(fmt("%s/p", self->d2, 0), 0755));
	ASSERT_EQ(0, miniplugin_start(&self->a, fmt("%s/p/p.sock", self->d2, 0), "nested", NULL));
	expect_scope(_metadata, self, "p", "scope: nested\n");
}

TEST_F(disc, spec_unix_url_both_layouts)
{
	ASSERT_EQ(0,
		  miniplugin_start(&self->a, fmt("%s/elsewhere.sock", self->dir, 0), "spec", NULL));
	ASSERT_EQ(0, write_file(fmt("%s/p.spec", self->d1, 0),
				fmt("  unix://%s/elsewhere.sock\n", self->dir, 0)));
	expect_scope(_metadata, self, "p", "scope: spec\n");

	ASSERT_EQ(0, mkdir(fmt("%s/q", self->d2, 0), 0755));
	ASSERT_EQ(0, write_file(fmt("%s/q/q.spec", self->d2, 0),
				fmt("unix://%s/elsewhere.sock", self->dir, 0)));
	expect_scope(_metadata, self, "q", "scope: spec\n");
}

TEST_F(disc, spec_tcp_url)
{
	char url[64];

	ASSERT_EQ(0, miniplugin_start(&self->a, NULL, "tcp", NULL));
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d\n", self->a.port);
	ASSERT_EQ(0, write_file(fmt("%s/p.spec", self->d1, 0), url));
	expect_scope(_metadata, self, "p", "scope: tcp\n");
}

TEST_F(disc, json_spec_http_addr)
{
	char doc[128];

	ASSERT_EQ(0, miniplugin_start(&self->a, NULL, "json", NULL));
	/* The plugin's name is the file's name, not the Name field. */
	snprintf(doc, sizeof(doc), "{\"Name\": \"other\", \"Addr\": \"http://127.0.0.1:%d\"}",
		 self->a.port);
	ASSERT_EQ(0, mkdir(fmt("%s/p", self->d1, 0), 0755));
	ASSERT_EQ(0, write_file(fmt("%s/p/p.json", self->d1, 0), doc));
	expect_scope(_metadata, self, "p", "scope: json\n");
}

TEST_F(disc, json_spec_with_tls_is_refused_clearly)
{
	struct run_result r;

	ASSERT_EQ(0, write_file(fmt("%s/p.json", self->d1, 0),
				"{\"Name\":\"p\",\"Addr\":\"https://127.0.0.1:1\",\"TLSConfig\":"
				"{\"InsecureSkipVerify\":false,\"CAFile\":\"/x\"}}"));
	caps(&r, self, "p", "5");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "TLS plugin addresses are not supported"))
	TH_LOG("%s", r.err);
	EXPECT_EQ(1, count_str(r.err, "\n"));
	/* A broken spec is not worth waiting for. */
	EXPECT_GT(2.0, r.secs);
	run_result_free(&r);
}

TEST_F(disc, spec_without_scheme_is_unknown_protocol)
{
	struct run_result r;

	ASSERT_EQ(0, write_file(fmt("%s/p.spec", self->d1, 0), "/run/p.sock\n"));
	caps(&r, self, "p", "0");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "Unknown protocol")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_F(disc, sockets_before_specs_and_earlier_dirs_first)
{
	struct run_result r;

	/* A spec in the first dir loses to a socket in the second: sockets come first. */
	ASSERT_EQ(0, miniplugin_start(&self->a, fmt("%s/spec.sock", self->dir, 0), "spec", NULL));
	ASSERT_EQ(
	    0, write_file(fmt("%s/p.spec", self->d1, 0), fmt("unix://%s/spec.sock", self->dir, 0)));
	ASSERT_EQ(0, miniplugin_start(&self->b, fmt("%s/p.sock", self->d2, 0), "sock", NULL));
	expect_scope(_metadata, self, "p", "scope: sock\n");

	/* Flat layout before nested, within one directory. */
	miniplugin_stop(&self->a);
	ASSERT_EQ(0, mkdir(fmt("%s/p", self->d2, 0), 0755));
	ASSERT_EQ(0, miniplugin_start(&self->a, fmt("%s/p/p.sock", self->d2, 0), "nested", NULL));
	caps(&r, self, "p", "0");
	EXPECT_STREQ("scope: sock\n", r.out);
	run_result_free(&r);
}

TEST_F(disc, stale_socket_is_refused_after_the_retry_budget)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct run_result r;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	/* A socket file with nobody listening: what a crashed plugin leaves. */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s/p.sock", self->d1);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
	close(fd);
	caps(&r, self, "p", "1.5");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "connection refused")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, "plugin 'p'")) TH_LOG("%s", r.err);
	/* It waited (1 s, then the 0.5 s left), and no longer. */
	EXPECT_LE(1.4, r.secs);
	EXPECT_GT(5.0, r.secs);
	run_result_free(&r);
}

TEST_F(disc, late_plugin_is_found_by_the_retry)
{
	struct run_result r;
	pid_t starter = fork();

	ASSERT_LE(0, starter);
	if (starter == 0) {
		struct miniplugin m;

		sleep(2);
		miniplugin_start(&m, fmt("%s/late.sock", self->d2, 0), "late", NULL);
		pause();
		_exit(0);
	}
	caps(&r, self, "late", "15");
	kill(starter, SIGKILL);
	waitpid(starter, NULL, 0);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	EXPECT_STREQ("scope: late\n", r.out);
	EXPECT_LE(2.0, r.secs);
	run_result_free(&r);
}

TEST_F(disc, missing_plugin_names_where_it_looked)
{
	struct run_result r;

	caps(&r, self, "ghost", "1");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "plugin 'ghost'")) TH_LOG("%s", r.err);
	EXPECT_NE(NULL, strstr(r.err, self->d1)) TH_LOG("%s", r.err);
	/* The one line says how long it waited: "not found" alone reads as instant. */
	EXPECT_NE(NULL, strstr(r.err, " (gave up after 1.0 s)\n")) TH_LOG("%s", r.err);
	EXPECT_EQ(1, count_str(r.err, "\n"));
	EXPECT_LE(0.9, r.secs);
	run_result_free(&r);

	/* No budget, no wait: nothing to say about one. */
	caps(&r, self, "ghost", "0");
	EXPECT_EQ(1, r.status);
	EXPECT_EQ(NULL, strstr(r.err, "gave up")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

/*
 * With --debug (or stderr on a terminal) it says, once and before it waits,
 * that it is waiting for the plugin's socket, as the engine's retry does.
 */
TEST_F(disc, missing_plugin_wait_is_announced_with_debug)
{
	char want[2 * PATH_MAX];
	struct run_result r;

	run_dvmount(&r, "--debug", "--plugin-path", self->path, "--plugin-retry", "1", "volume",
		    "capabilities", "--driver", "ghost", NULL);
	EXPECT_EQ(1, r.status);
	snprintf(want, sizeof(want),
		 "dvmount: plugin 'ghost' is not there yet (not found in %s); waiting up to "
		 "1.0 s for its socket\n",
		 self->path);
	EXPECT_EQ(1, count_str(r.err, want)) TH_LOG("%s", r.err);
	EXPECT_LT(strstr(r.err, want), strstr(r.err, "(gave up after 1.0 s)")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_F(disc, plugin_that_is_no_volume_driver)
{
	struct run_result r;

	ASSERT_EQ(
	    0, miniplugin_start(&self->a, fmt("%s/net.sock", self->d1, 0), "x", "NetworkDriver"));
	caps(&r, self, "net", "0");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "does not implement VolumeDriver")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_F(disc, invalid_plugin_names)
{
	struct run_result r;

	caps(&r, self, "../etc", "0");
	EXPECT_EQ(1, r.status);
	EXPECT_NE(NULL, strstr(r.err, "invalid plugin name")) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
