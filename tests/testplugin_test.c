// SPDX-License-Identifier: MIT
/*
 * dvmount-testplugin, tested from outside: start the binary, talk raw HTTP/1.1
 * over its unix socket, and check the protocol, the mount-ID counting, the
 * state across restarts, every fault kind, the modes, --bind and the log.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>
#include <json-c/json.h>

#include "kselftest_harness.h"

#ifndef STATX_ATTR_MOUNT_ROOT
#define STATX_ATTR_MOUNT_ROOT 0x00002000
#endif

#define IO_TIMEOUT_MS 3000
#define MAX_RESP (4 * 1024 * 1024)

/* --- the plugin process ---------------------------------------------------------------- */

static int plugin_binary(char *buf, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -errno;
	self[n] = '\0';
	snprintf(buf, len, "%s/../dvmount-testplugin", dirname(self));
	return access(buf, X_OK) < 0 ? -errno : 0;
}

/*
 * Runs the plugin with `args` (NULL-terminated) after the binary name and
 * waits for its "ready" line. Returns the pid, or -errno.
 */
static pid_t plugin_start(const char *const *args, int *ret_status_if_exited)
{
	char bin[PATH_MAX], line[64] = "";
	const char *argv[32];
	size_t n = 0, got = 0;
	bool eof = false;
	int pfd[2];
	pid_t pid;

	if (plugin_binary(bin, sizeof(bin)) < 0 || pipe2(pfd, O_CLOEXEC) < 0)
		return -ENOENT;
	argv[n++] = bin;
	while (*args && n < 30)
		argv[n++] = *args++;
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], STDOUT_FILENO);
		execv(bin, (char **)argv);
		_exit(127);
	}
	close(pfd[1]);
	while (got < sizeof(line) - 1) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 5000) <= 0)
			break;
		r = read(pfd[0], line + got, sizeof(line) - 1 - got);
		if (r <= 0) {
			eof = true;
			break;
		}
		got += (size_t)r;
		line[got] = '\0';
		if (strchr(line, '\n'))
			break;
	}
	close(pfd[0]);
	if (strcmp(line, "ready\n")) {
		int status = 0;

		/* EOF without "ready": the plugin is exiting, so wait for it */
		if (waitpid(pid, &status, eof ? 0 : WNOHANG) == pid) {
			if (ret_status_if_exited)
				*ret_status_if_exited = status;
			return -ECHILD;
		}
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -ETIMEDOUT;
	}
	return pid;
}

/* SIGTERM; returns the wait status. */
static int plugin_stop(pid_t pid)
{
	int status = -1;

	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	return status;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

/* --- raw HTTP ---------------------------------------------------------------------------- */

struct resp {
	int status;
	bool complete;
	bool chunked;
	char content_type[128];
	char *body;
	size_t len;
	/* header parsing */
	char field[64];
	bool in_ct;
};

static void resp_free(struct resp *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int r_header_field(http_parser *p, const char *at, size_t len)
{
	struct resp *r = p->data;

	r->in_ct = len == 12 && !strncasecmp(at, "Content-Type", 12);
	return 0;
}

static int r_header_value(http_parser *p, const char *at, size_t len)
{
	struct resp *r = p->data;

	if (r->in_ct)
		snprintf(r->content_type, sizeof(r->content_type), "%.*s", (int)len, at);
	return 0;
}

static int r_headers_complete(http_parser *p)
{
	struct resp *r = p->data;

	r->status = (int)p->status_code;
	r->chunked = p->flags & F_CHUNKED;
	return 0;
}

static int r_body(http_parser *p, const char *at, size_t len)
{
	struct resp *r = p->data;
	char *grown;

	if (r->len + len > MAX_RESP)
		return 1;
	grown = realloc(r->body, r->len + len + 1);
	if (!grown)
		return 1;
	r->body = grown;
	memcpy(r->body + r->len, at, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static int r_complete(http_parser *p)
{
	struct resp *r = p->data;

	r->complete = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings resp_settings = {
	.on_header_field = r_header_field,
	.on_header_value = r_header_value,
	.on_headers_complete = r_headers_complete,
	.on_body = r_body,
	.on_message_complete = r_complete,
};

static int send_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_str(int fd, const char *s)
{
	return send_all(fd, s, strlen(s));
}

static int send_request(int fd, const char *path, const char *body, const char *extra_headers)
{
	char *req = NULL;
	int n, r;

	n = asprintf(
	    &req,
	    "POST %s HTTP/1.1\r\nHost: plugin.moby.localhost\r\n"
	    "Accept: application/vnd.docker.plugins.v1.2+json\r\n%sContent-Length: %zu\r\n\r\n%s",
	    path, extra_headers ? extra_headers : "", body ? strlen(body) : 0, body ? body : "");
	if (n < 0)
		return -ENOMEM;
	r = send_all(fd, req, (size_t)n);
	free(req);
	return r;
}

/*
 * Reads one response. 0: complete; -ETIMEDOUT: nothing for timeout_ms;
 * -EPROTO: not HTTP or cut short (resp holds what arrived).
 */
static int count_in(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

static int read_response(int fd, struct resp *ret, int timeout_ms)
{
	http_parser p;
	char buf[65536];

	memset(ret, 0, sizeof(*ret));
	http_parser_init(&p, HTTP_RESPONSE);
	p.data = ret;
	for (;;) {
		struct pollfd pf = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, timeout_ms) == 0)
			return -ETIMEDOUT;
		n = read(fd, buf, sizeof(buf));
		if (n < 0)
			return -errno;
		http_parser_execute(&p, &resp_settings, buf, (size_t)n);
		if (ret->complete)
			return 0;
		if (HTTP_PARSER_ERRNO(&p) != HPE_OK || n == 0)
			return -EPROTO;
	}
}

/* One request on its own connection. Returns the status or -errno. */
static int call(const char *sock, const char *method, const char *body, struct resp *ret)
{
	char path[128];
	int fd = connect_to(sock), r;

	if (fd < 0)
		return fd;
	snprintf(path, sizeof(path), "/%s", method);
	r = send_request(fd, path, body, "Connection: close\r\n");
	if (r >= 0)
		r = read_response(fd, ret, IO_TIMEOUT_MS);
	close(fd);
	return r < 0 ? r : ret->status;
}

/* call() when only the status matters: the answer is dropped. */
static int call_status(const char *sock, const char *method, const char *body)
{
	struct resp r = { 0 };
	int ret = call(sock, method, body, &r);

	resp_free(&r);
	return ret;
}

/* The body parsed as JSON (NULL if it is not), for field checks. */
static json_object *resp_json(const struct resp *r)
{
	return r->body ? json_tokener_parse(r->body) : NULL;
}

static const char *jstr(json_object *o, const char *path)
{
	char copy[256], *save = NULL;

	snprintf(copy, sizeof(copy), "%s", path);
	for (char *k = strtok_r(copy, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	return o ? json_object_get_string(o) : NULL;
}

static int64_t jint(json_object *o, const char *path)
{
	const char *s = jstr(o, path);

	return s ? strtoll(s, NULL, 10) : -1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return type == FTW_DP ? rmdir(path) : unlink(path);
}

static int count_lines(const char *path, const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!needle || strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static int write_file(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	FILE *f;

	/* rename: the plugin must see a new file, never a half-written one */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "we");
	if (!f)
		return -errno;
	fputs(text, f);
	fclose(f);
	return rename(tmp, path) < 0 ? -errno : 0;
}

/* --- fixture ------------------------------------------------------------------------------ */

FIXTURE(plugin)
{
	char dir[64];
	char sock[128];
	char root[128];
	char log[128];
	char faults[128];
	pid_t pid;
};

FIXTURE_SETUP(plugin)
{
	snprintf(self->dir, sizeof(self->dir), "/tmp/dvmount-tp.XXXXXX");
	ASSERT_NE(NULL, mkdtemp(self->dir));
	snprintf(self->sock, sizeof(self->sock), "%s/plugin.sock", self->dir);
	snprintf(self->root, sizeof(self->root), "%s/root", self->dir);
	snprintf(self->log, sizeof(self->log), "%s/calls.log", self->dir);
	snprintf(self->faults, sizeof(self->faults), "%s/faults", self->dir);
	self->pid = -1;
}

FIXTURE_TEARDOWN(plugin)
{
	char mnt[256];

	plugin_stop(self->pid);
	snprintf(mnt, sizeof(mnt), "%s/mnt/v", self->root);
	umount2(mnt, MNT_DETACH);
	nftw(self->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* Starts the plugin with the fixture's socket, root and log plus `extra`. */
static pid_t start(FIXTURE_DATA(plugin) * self, const char *const *extra)
{
	const char *args[32] = { "--socket", self->sock, "--root", self->root,
				 "--log",    self->log,	 "--ready" };
	size_t n = 7;

	while (extra && *extra && n < 30)
		args[n++] = *extra++;
	args[n] = NULL;
	self->pid = plugin_start(args, NULL);
	return self->pid;
}

/* --- protocol ------------------------------------------------------------------------------ */

TEST_F(plugin, activate_and_capabilities)
{
	struct resp r;
	json_object *o;

	ASSERT_LT(0, start(self, NULL));
	ASSERT_EQ(200, call(self->sock, "Plugin.Activate", NULL, &r));
	EXPECT_STREQ("application/vnd.docker.plugins.v1.1+json", r.content_type);
	EXPECT_STREQ("{\"Implements\":[\"VolumeDriver\"]}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Capabilities", "{}\n", &r));
	o = resp_json(&r);
	EXPECT_STREQ("local", jstr(o, "Capabilities.Scope"));
	json_object_put(o);
	resp_free(&r);
	ASSERT_EQ(404, call(self->sock, "VolumeDriver.Nope", "{}\n", &r));
	EXPECT_STREQ("404 page not found\n", r.body);
	resp_free(&r);
	/* the socket is group-accessible, not world-accessible */
	struct stat st;
	ASSERT_EQ(0, stat(self->sock, &st));
	EXPECT_EQ(0660, (int)(st.st_mode & 0777));
}

TEST_F(plugin, volume_lifecycle)
{
	char data[256], path[256];
	struct resp r;
	json_object *o;
	struct stat st;

	ASSERT_LT(0, start(self, NULL));
	snprintf(data, sizeof(data), "%s/volumes/v/data", self->root);
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create",
				   "{\"Name\":\"v\",\"Opts\":{\"size\":\"1\"}}\n"));
	EXPECT_EQ(0, stat(data, &st));

	/* keys match case-insensitively, as Go's decoder does */
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"name\":\"v\"}\n", &r));
	o = resp_json(&r);
	EXPECT_STREQ("v", jstr(o, "Volume.Name"));
	EXPECT_STREQ("1", jstr(o, "Volume.Status.options.size"));
	EXPECT_EQ(0, jint(o, "Volume.Status.mounts"));
	EXPECT_NE(NULL, strptime(jstr(o, "Volume.CreatedAt") ?: "", "%Y-%m-%dT%H:%M:%S",
				 &(struct tm){ 0 }));
	json_object_put(o);
	resp_free(&r);

	/* a second Create keeps the first options, like the local driver */
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create",
				   "{\"Name\":\"v\",\"Opts\":{\"size\":\"2\"}}\n"));
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.List", "{}\n", &r));
	o = resp_json(&r);
	ASSERT_NE(NULL, o);
	json_object *vols = NULL;
	ASSERT_TRUE(json_object_object_get_ex(o, "Volumes", &vols));
	EXPECT_EQ(1, (int)json_object_array_length(vols));
	EXPECT_STREQ("1", jstr(json_object_array_get_idx(vols, 0), "Status.options.size"));
	json_object_put(o);
	resp_free(&r);

	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Path", "{\"Name\":\"v\"}\n", &r));
	o = resp_json(&r);
	EXPECT_STREQ("", jstr(o, "Mountpoint"));
	json_object_put(o);
	resp_free(&r);

	ASSERT_EQ(200,
		  call(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"a1\"}\n", &r));
	o = resp_json(&r);
	EXPECT_STREQ(data, jstr(o, "Mountpoint"));
	json_object_put(o);
	resp_free(&r);
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Path", "{\"Name\":\"v\"}\n", &r));
	o = resp_json(&r);
	EXPECT_STREQ(data, jstr(o, "Mountpoint"));
	json_object_put(o);
	resp_free(&r);

	ASSERT_EQ(500, call_status(self->sock, "VolumeDriver.Remove", "{\"Name\":\"v\"}\n"));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Unmount",
				   "{\"Name\":\"v\",\"ID\":\"a1\"}\n"));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Remove", "{\"Name\":\"v\"}\n"));
	snprintf(path, sizeof(path), "%s/volumes/v", self->root);
	EXPECT_EQ(-1, stat(path, &st));
	ASSERT_EQ(500, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}\n", &r));
	EXPECT_STREQ("{\"Err\":\"no such volume\"}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(500,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"x\"}\n"));
}

TEST_F(plugin, invalid_names_and_bodies)
{
	char body[600], longname[300];

	ASSERT_LT(0, start(self, NULL));
	EXPECT_EQ(500, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"a/b\"}"));
	EXPECT_EQ(500, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"..\"}"));
	EXPECT_EQ(500, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"\"}"));
	memset(longname, 'n', 256);
	longname[256] = '\0';
	snprintf(body, sizeof(body), "{\"Name\":\"%s\"}", longname);
	EXPECT_EQ(500, call_status(self->sock, "VolumeDriver.Create", body));
	longname[255] = '\0';
	snprintf(body, sizeof(body), "{\"Name\":\"%s\"}", longname);
	EXPECT_EQ(200, call_status(self->sock, "VolumeDriver.Create", body));
	/* bodies that do not decode: 400, like the SDK */
	EXPECT_EQ(400, call_status(self->sock, "VolumeDriver.Create", ""));
	EXPECT_EQ(400, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":5}"));
	EXPECT_EQ(400,
		  call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"w\",\"Opts\":[1]}"));
	EXPECT_EQ(400, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"a\\u0000b\"}"));
	EXPECT_EQ(400, call_status(self->sock, "VolumeDriver.Mount", "{not json"));
}

TEST_F(plugin, mount_ids_are_counted)
{
	struct resp r;
	json_object *o;

	ASSERT_LT(0, start(self, NULL));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"c1\"}"));
	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"c2\"}"));
	ASSERT_EQ(500,
		  call(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"c1\"}", &r));
	EXPECT_STREQ("{\"Err\":\"volume already mounted by this id\"}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(
	    200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\",\"ID\":\"c1\"}"));
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	o = resp_json(&r);
	EXPECT_EQ(1, jint(o, "Volume.Status.mounts"));
	json_object_put(o);
	resp_free(&r);
	/* still mounted for c2 */
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Path", "{\"Name\":\"v\"}", &r));
	o = resp_json(&r);
	EXPECT_STRNE("", jstr(o, "Mountpoint") ?: "");
	json_object_put(o);
	resp_free(&r);
	ASSERT_EQ(500,
		  call(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\",\"ID\":\"c1\"}", &r));
	EXPECT_STREQ("{\"Err\":\"volume not mounted by this id\"}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(
	    200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\",\"ID\":\"c2\"}"));

	/* dvdcli sends no ID: anonymous mounts are counted too */
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\"}"));
	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"\"}"));
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	o = resp_json(&r);
	EXPECT_EQ(2, jint(o, "Volume.Status.mounts"));
	json_object_put(o);
	resp_free(&r);
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\"}"));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\"}"));
	ASSERT_EQ(500, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\"}"));
}

TEST_F(plugin, keep_alive_and_chunked_request)
{
	static const char chunked[] =
	    "POST /VolumeDriver.Create HTTP/1.1\r\nHost: \r\nTransfer-Encoding: chunked\r\n\r\n"
	    "5\r\n{\"Nam\r\n9\r\ne\":\"kv\"}\n\r\n0\r\n\r\n";
	struct resp r;
	char buf[16];
	int fd;

	ASSERT_LT(0, start(self, NULL));
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_request(fd, "/Plugin.Activate", NULL, NULL));
	ASSERT_EQ(0, read_response(fd, &r, IO_TIMEOUT_MS));
	EXPECT_EQ(200, r.status);
	resp_free(&r);
	/* the same connection again, with a chunked body this time */
	ASSERT_EQ(0, send_all(fd, chunked, sizeof(chunked) - 1));
	ASSERT_EQ(0, read_response(fd, &r, IO_TIMEOUT_MS));
	EXPECT_EQ(200, r.status);
	resp_free(&r);
	/* two pipelined requests in one write, then Connection: close */
	ASSERT_EQ(0,
		  send_str(fd,
			   "POST /VolumeDriver.Get HTTP/1.1\r\nHost: \r\nContent-Length: 13\r\n\r\n"
			   "{\"Name\":\"kv\"}"
			   "POST /VolumeDriver.List HTTP/1.1\r\nHost: \r\nConnection: close\r\n"
			   "Content-Length: 2\r\n\r\n{}"));
	/*
	 * Both answers may arrive in one read: take everything up to the hang-up
	 * that follows Connection: close, then look at both.
	 */
	char all[65536];
	size_t len = 0;
	ssize_t n;
	struct pollfd pf = { .fd = fd, .events = POLLIN };

	while (len < sizeof(all) - 1 && poll(&pf, 1, IO_TIMEOUT_MS) > 0 &&
	       (n = read(fd, all + len, sizeof(all) - 1 - len)) > 0)
		len += (size_t)n;
	all[len] = '\0';
	EXPECT_EQ(2, count_in(all, "HTTP/1.1 200 "));
	EXPECT_NE(NULL, strstr(all, "\"kv\""));
	EXPECT_NE(NULL, strstr(all, "\"Volumes\""));
	/* after Connection: close the plugin hangs up */
	EXPECT_EQ(0, read(fd, buf, sizeof(buf)));
	close(fd);
}

TEST_F(plugin, state_survives_restart)
{
	char statefile[256];
	struct resp r;
	json_object *o;
	struct stat st;
	int status;

	ASSERT_LT(0, start(self, NULL));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create",
				   "{\"Name\":\"v\",\"Opts\":{\"k\":\"x\"}}"));
	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"i1\"}"));
	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"i2\"}"));
	snprintf(statefile, sizeof(statefile), "%s/state.json", self->root);
	EXPECT_EQ(0, stat(statefile, &st));

	status = plugin_stop(self->pid);
	self->pid = -1;
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(-1, lstat(self->sock, &st)); /* removed on SIGTERM */

	ASSERT_LT(0, start(self, NULL));
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	o = resp_json(&r);
	EXPECT_EQ(2, jint(o, "Volume.Status.mounts"));
	EXPECT_STREQ("x", jstr(o, "Volume.Status.options.k"));
	json_object_put(o);
	resp_free(&r);
	ASSERT_EQ(500,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"i1\"}"));
	ASSERT_EQ(
	    200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\",\"ID\":\"i2\"}"));

	/* a stale socket (a SIGKILLed plugin) does not stop the next start */
	kill(self->pid, SIGKILL);
	waitpid(self->pid, NULL, 0);
	ASSERT_EQ(0, lstat(self->sock, &st));
	ASSERT_LT(0, start(self, NULL));
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	o = resp_json(&r);
	EXPECT_EQ(1, jint(o, "Volume.Status.mounts"));
	json_object_put(o);
	resp_free(&r);
}

/* --- faults ------------------------------------------------------------------------------- */

/* The plugin's log holds one line for each fault kind named (NULL-terminated). */
static void expect_faults_logged_once(struct __test_metadata *_metadata, const char *log,
				      const char *const kinds[])
{
	char want[64];

	for (size_t i = 0; kinds[i]; i++) {
		snprintf(want, sizeof(want), "\"fault\":\"%s\"", kinds[i]);
		EXPECT_EQ(1, count_lines(log, want)) TH_LOG("fault %s", kinds[i]);
	}
}

TEST_F(plugin, fault_error_err200_status_notfound_nobody)
{
	const char *faults[] = {
		"--fault", "Create error disk on fire count=1",
		"--fault", "Mount err200 no luck volume=v count=1",
		"--fault", "Path status 503",
		"--fault", "Get notfound",
		"--fault", "List nobody",
		NULL,
	};
	struct resp r;

	ASSERT_LT(0, start(self, faults));
	ASSERT_EQ(500, call(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}", &r));
	EXPECT_STREQ("{\"Err\":\"disk on fire\"}\n", r.body);
	resp_free(&r);
	/* count=1: the second Create goes through */
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"w\"}"));
	/* volume=v: w is not affected */
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Mount", "{\"Name\":\"w\",\"ID\":\"1\"}", &r));
	EXPECT_EQ(NULL, strstr(r.body ?: "", "Err"));
	resp_free(&r);
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"1\"}", &r));
	EXPECT_STREQ("{\"Err\":\"no luck\"}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(503, call(self->sock, "VolumeDriver.Path", "{\"Name\":\"v\"}", &r));
	EXPECT_STREQ("injected", r.body);
	resp_free(&r);
	ASSERT_EQ(404, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	EXPECT_STREQ("404 page not found\n", r.body);
	resp_free(&r);
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.List", "{}", &r));
	EXPECT_EQ(0, (int)r.len);
	resp_free(&r);
	/* the faulted Mount did not mount: v has no mounts yet */
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"1\"}", &r));
	EXPECT_EQ(NULL, strstr(r.body ?: "", "Err"));
	resp_free(&r);
	expect_faults_logged_once(
	    _metadata, self->log,
	    (const char *const[]){ "error", "err200", "status", "notfound", "nobody", NULL });
}

TEST_F(plugin, fault_wire_breakers)
{
	const char *faults[] = {
		"--fault", "Activate hang", "--fault", "Create close count=1",
		"--fault", "List garbage",  "--fault", "Capabilities oversized 100000",
		"--fault", "Get chunked",   NULL,
	};
	struct resp r;
	json_object *o;
	int fd;

	ASSERT_LT(0, start(self, faults));
	/* hang: no answer; the plugin closes once the client does */
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_request(fd, "/Plugin.Activate", NULL, NULL));
	EXPECT_EQ(-ETIMEDOUT, read_response(fd, &r, 300));
	resp_free(&r);
	close(fd);

	/* close: headers and half the body, then EOF */
	EXPECT_EQ(-EPROTO, call(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}", &r));
	EXPECT_EQ(200, r.status);
	EXPECT_FALSE(r.complete);
	resp_free(&r);

	/* garbage: not HTTP at all */
	EXPECT_EQ(-EPROTO, call(self->sock, "VolumeDriver.List", "{}", &r));
	EXPECT_EQ(0, r.status);
	resp_free(&r);

	/* oversized: exactly that many bytes, still valid JSON */
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Capabilities", "{}", &r));
	EXPECT_EQ(100000, (int)r.len);
	o = resp_json(&r);
	EXPECT_NE(NULL, o);
	EXPECT_STREQ("local", jstr(o, "Capabilities.Scope"));
	json_object_put(o);
	resp_free(&r);

	/* chunked: a normal answer in chunks; and the cut-off Create did create v */
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	EXPECT_TRUE(r.chunked);
	o = resp_json(&r);
	EXPECT_STREQ("v", jstr(o, "Volume.Name"));
	json_object_put(o);
	resp_free(&r);

	expect_faults_logged_once(
	    _metadata, self->log,
	    (const char *const[]){ "hang", "close", "garbage", "oversized", "chunked", NULL });
}

TEST_F(plugin, fault_latency_does_not_serialise)
{
	const char *faults[] = { "--fault", "Mount latency 100", NULL };
	enum { N = 64 };
	int fds[N];
	struct resp r;
	long t0, elapsed;

	ASSERT_LT(0, start(self, faults));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	for (int i = 0; i < N; i++) {
		fds[i] = connect_to(self->sock);
		ASSERT_LE(0, fds[i]);
	}
	t0 = now_ms();
	for (int i = 0; i < N; i++) {
		char body[64];

		snprintf(body, sizeof(body), "{\"Name\":\"v\",\"ID\":\"id%d\"}", i);
		ASSERT_EQ(0, send_request(fds[i], "/VolumeDriver.Mount", body, NULL));
	}
	for (int i = 0; i < N; i++) {
		ASSERT_EQ(0, read_response(fds[i], &r, IO_TIMEOUT_MS));
		EXPECT_EQ(200, r.status);
		resp_free(&r);
		close(fds[i]);
	}
	elapsed = now_ms() - t0;
	TH_LOG("64 Mounts with 100 ms latency took %ld ms", elapsed);
	EXPECT_LE(100, elapsed);
	/* Not a speed test: serialised they would take 6.4 s; overlapped, about 0.1 s. */
	EXPECT_GT(3200, elapsed);
	ASSERT_EQ(200, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	json_object *o = resp_json(&r);
	EXPECT_EQ(N, jint(o, "Volume.Status.mounts"));
	json_object_put(o);
	resp_free(&r);
	EXPECT_EQ(N, count_lines(self->log, "\"fault\":\"latency\""));
}

TEST_F(plugin, faults_file_is_reread)
{
	const char *args[] = { "--faults", self->faults, NULL };
	struct resp r;

	ASSERT_LT(0, start(self, args));
	ASSERT_EQ(200, call_status(self->sock, "Plugin.Activate", NULL));
	ASSERT_EQ(0, write_file(self->faults, "# live\n* error everything broke\n"));
	ASSERT_EQ(500, call(self->sock, "Plugin.Activate", NULL, &r));
	EXPECT_STREQ("{\"Err\":\"everything broke\"}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(0, write_file(self->faults, "Get status 502\n"));
	ASSERT_EQ(200, call_status(self->sock, "Plugin.Activate", NULL));
	ASSERT_EQ(502, call_status(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}"));
	ASSERT_EQ(0, unlink(self->faults));
	ASSERT_EQ(500, call(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}", &r));
	EXPECT_STREQ("{\"Err\":\"no such volume\"}\n", r.body);
	resp_free(&r);
}

TEST_F(plugin, bad_command_lines_exit_2)
{
	static const char *const bad[][8] = {
		{ "--socket", "/nonexistent/s", "--root", "/nonexistent/r", "--frobnicate", NULL },
		{ "--socket", "/nonexistent/s", "--root", "/nonexistent/r", "--fault",
		  "Mount explode", NULL },
		{ "--socket", "/nonexistent/s", "--root", "/nonexistent/r", "--fault",
		  "Nothing error x", NULL },
		{ "--socket", "/nonexistent/s", "--root", "/nonexistent/r", "--fault",
		  "Mount latency soon", NULL },
		{ "--socket", "/nonexistent/s", "--root", "/nonexistent/r", "--mode", "new", NULL },
		{ "--root", "/nonexistent/r", NULL },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int status = 0;

		EXPECT_EQ(-ECHILD, plugin_start(bad[i], &status));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(2, WEXITSTATUS(status));
	}
}

/* --- modes -------------------------------------------------------------------------------- */

TEST_F(plugin, mode_old_has_no_get_list_capabilities)
{
	const char *args[] = { "--mode", "old", NULL };
	static const char *const gone[] = { "VolumeDriver.Get", "VolumeDriver.List",
					    "VolumeDriver.Capabilities" };
	struct resp r;

	ASSERT_LT(0, start(self, args));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	for (size_t i = 0; i < 3; i++) {
		ASSERT_EQ(404, call(self->sock, gone[i], "{\"Name\":\"v\"}", &r));
		EXPECT_STREQ("404 page not found\n", r.body);
		resp_free(&r);
	}
	/* and the implicit Create of dvdcli 0.1 works */
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\"}"));
}

TEST_F(plugin, mode_rexray_refuses_existing_create)
{
	const char *args[] = { "--mode", "rexray", NULL };
	struct resp r;

	ASSERT_LT(0, start(self, args));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	ASSERT_EQ(500, call(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}", &r));
	EXPECT_STREQ("{\"Err\":\"volume name already exists\"}\n", r.body);
	resp_free(&r);
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Get", "{\"Name\":\"v\"}"));
}

static bool is_mount_root(const char *path)
{
	struct statx stx;

	if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &stx) < 0)
		return false;
	return stx.stx_attributes & STATX_ATTR_MOUNT_ROOT;
}

TEST_F(plugin, bind_mode_mounts_until_last_unmount)
{
	const char *args[] = { "--bind", NULL };
	char mnt[256], through[512], data_file[512];
	struct resp r;
	json_object *o;
	struct stat st;
	struct statx stx;

	ASSERT_EQ(0, unshare(CLONE_NEWNS));
	ASSERT_EQ(0, mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	if (statx(AT_FDCWD, "/", 0, STATX_BASIC_STATS, &stx) < 0 ||
	    !(stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT))
		SKIP(return, "statx does not report STATX_ATTR_MOUNT_ROOT (kernel < 5.8)");

	ASSERT_LT(0, start(self, args));
	snprintf(mnt, sizeof(mnt), "%s/mnt/v", self->root);
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create", "{\"Name\":\"v\"}"));
	ASSERT_EQ(200,
		  call(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"b1\"}", &r));
	o = resp_json(&r);
	EXPECT_STREQ(mnt, jstr(o, "Mountpoint"));
	json_object_put(o);
	resp_free(&r);
	EXPECT_TRUE(is_mount_root(mnt));

	/* what is written through the mountpoint lands in the volume's data */
	snprintf(through, sizeof(through), "%s/hello", mnt);
	snprintf(data_file, sizeof(data_file), "%s/volumes/v/data/hello", self->root);
	ASSERT_EQ(0, write_file(through, "hi\n"));
	EXPECT_EQ(0, stat(data_file, &st));

	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"b2\"}"));
	ASSERT_EQ(
	    200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\",\"ID\":\"b1\"}"));
	EXPECT_TRUE(is_mount_root(mnt));
	ASSERT_EQ(
	    200, call_status(self->sock, "VolumeDriver.Unmount", "{\"Name\":\"v\",\"ID\":\"b2\"}"));
	EXPECT_FALSE(is_mount_root(mnt));
	snprintf(through, sizeof(through), "%s/hello", mnt);
	EXPECT_EQ(-1, stat(through, &st));
}

/* --- log and hostile input ---------------------------------------------------------------- */

TEST_F(plugin, log_has_one_line_per_request)
{
	char line[4096];
	json_object *o;
	FILE *f;

	ASSERT_LT(0, start(self, NULL));
	ASSERT_EQ(200, call_status(self->sock, "Plugin.Activate", NULL));
	ASSERT_EQ(200, call_status(self->sock, "VolumeDriver.Create",
				   "{\"Name\":\"v\",\"Opts\":{\"a\":\"b\"}}"));
	ASSERT_EQ(200,
		  call_status(self->sock, "VolumeDriver.Mount", "{\"Name\":\"v\",\"ID\":\"m\"}"));
	ASSERT_EQ(500, call_status(self->sock, "VolumeDriver.Remove", "{\"Name\":\"v\"}"));
	EXPECT_EQ(4, count_lines(self->log, NULL));

	f = fopen(self->log, "re");
	ASSERT_NE(NULL, f);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	o = json_tokener_parse(line);
	EXPECT_STREQ("Plugin.Activate", jstr(o, "endpoint"));
	EXPECT_EQ(200, jint(o, "status"));
	EXPECT_EQ(NULL, jstr(o, "name"));
	json_object_put(o);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	o = json_tokener_parse(line);
	EXPECT_STREQ("VolumeDriver.Create", jstr(o, "endpoint"));
	EXPECT_STREQ("b", jstr(o, "opts.a"));
	json_object_put(o);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	o = json_tokener_parse(line);
	EXPECT_STREQ("m", jstr(o, "id"));
	json_object_put(o);
	ASSERT_NE(NULL, fgets(line, sizeof(line), f));
	o = json_tokener_parse(line);
	EXPECT_EQ(500, jint(o, "status"));
	EXPECT_STREQ("volume is in use", jstr(o, "err"));
	EXPECT_EQ(NULL, jstr(o, "fault"));
	json_object_put(o);
	fclose(f);
}

/* The plugin's answer on fd (which is closed then): 400 Bad Request. */
static void expect_bad_request(struct __test_metadata *_metadata, int fd)
{
	struct resp r;

	ASSERT_EQ(0, read_response(fd, &r, IO_TIMEOUT_MS));
	EXPECT_EQ(400, r.status);
	resp_free(&r);
	close(fd);
}

TEST_F(plugin, hostile_requests_get_400_and_plugin_survives)
{
	static const char chunk_head[] = "POST /VolumeDriver.Create HTTP/1.1\r\nHost: \r\n"
					 "Transfer-Encoding: chunked\r\n\r\n100000\r\n";
	char *big;
	int fd;

	ASSERT_LT(0, start(self, NULL));

	/* a body over 1 MiB, announced */
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_str(fd, "POST /VolumeDriver.Create HTTP/1.1\r\nHost: \r\n"
				  "Content-Length: 2000000\r\n\r\n"));
	expect_bad_request(_metadata, fd);

	/* a body over 1 MiB, chunked */
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	big = malloc(1100001);
	ASSERT_NE(NULL, big);
	snprintf(big, 1100001, "%s", chunk_head);
	memset(big + strlen(chunk_head), 'a', 1100000 - strlen(chunk_head));
	send_all(fd, big, 1100000); /* the plugin may hang up early */
	free(big);
	expect_bad_request(_metadata, fd);

	/* too many headers */
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_str(fd, "POST /Plugin.Activate HTTP/1.1\r\n"));
	for (int i = 0; i < 100; i++)
		send_str(fd, "X-A: b\r\n");
	send_str(fd, "\r\n");
	expect_bad_request(_metadata, fd);

	/* not HTTP */
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_str(fd, "\x01\x02\x03 hello\r\n\r\n"));
	expect_bad_request(_metadata, fd);

	/* JSON nested deeper than the limit */
	big = malloc(20001);
	ASSERT_NE(NULL, big);
	memset(big, '[', 10000);
	memset(big + 10000, ']', 10000);
	big[20000] = '\0';
	EXPECT_EQ(400, call_status(self->sock, "VolumeDriver.Create", big));
	free(big);

	/* a client that vanishes mid-request */
	fd = connect_to(self->sock);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, send_str(fd, "POST /VolumeDriver.Create HTTP/1.1\r\nContent-Le"));
	close(fd);

	/* still serving */
	ASSERT_EQ(200, call_status(self->sock, "Plugin.Activate", NULL));
	EXPECT_EQ(0, kill(self->pid, 0));
}

TEST_HARNESS_MAIN
