/* SPDX-License-Identifier: MIT */
/*
 * The transport (uring/rpc.h) against a scripted server that sends exactly
 * the bytes a test asks for: Content-Length and chunked bodies in pieces,
 * keep-alive and Connection: close, hostile answers, hangs. Every test runs
 * on io_uring and on plain syscalls and must give the same results.
 */
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/run.h"
#include "uring/rpc.h"

/*
 * The server answers each request with the next script entry. An entry is
 * raw bytes; "|" splits it into writes 50 ms apart, a "!" at the end closes
 * the connection after it, "~" hangs forever.
 */
static void serve(int lfd, const char *const *script)
{
	/* Connections run at once (a process each) and share the script's place. */
	size_t *shared =
	    mmap(NULL, sizeof(size_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	signal(SIGCHLD, SIG_IGN);
	for (;;) {
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			continue;
		if (fork() != 0) {
			close(c);
			continue;
		}
		for (;;) {
			char req[8192];
			size_t len = 0;

			/* Read one request: head, then Content-Length bytes. */
			for (;;) {
				ssize_t n = read(c, req + len, sizeof(req) - 1 - len);
				char *end, *cl;

				if (n <= 0)
					goto next_conn;
				len += (size_t)n;
				req[len] = '\0';
				end = strstr(req, "\r\n\r\n");
				cl = strcasestr(req, "Content-Length:");
				if (end && cl &&
				    len >= (size_t)(end - req) + 4 + strtoul(cl + 15, NULL, 10))
					break;
			}
			size_t next = __atomic_fetch_add(shared, 1, __ATOMIC_SEQ_CST);
			const char *s = script[next] ? script[next] : "~";

			if (!strcmp(s, "~")) {
				while (read(c, req, sizeof(req)) > 0)
					;
				goto next_conn;
			}
			bool close_after = s[strlen(s) - 1] == '!';

			for (const char *p = s; *p;) {
				size_t n = strcspn(p, "|");

				if (close_after && p[n] == '\0')
					n--;
				if (write(c, p, n) < 0)
					goto next_conn;
				p += n;
				if (*p == '!')
					p++;
				if (*p == '|') {
					p++;
					usleep(50000);
				}
			}
			if (close_after)
				break;
		}
	next_conn:
		_exit(0);
	}
}

FIXTURE(rpc)
{
	char *dir;
	char sock[256];
	pid_t server;
	struct rpc_addr addr;
	struct rpc_engine *e;
};

FIXTURE_VARIANT(rpc)
{
	bool no_uring;
};

FIXTURE_VARIANT_ADD(rpc, uring){
	.no_uring = false,
};

FIXTURE_VARIANT_ADD(rpc, plain_syscalls){
	.no_uring = true,
};

FIXTURE_SETUP(rpc)
{
	self->dir = make_tmpdir("rpc");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->sock, sizeof(self->sock), "%s/p.sock", self->dir);
	ASSERT_EQ(0, rpc_addr_unix(self->sock, &self->addr));
	ASSERT_EQ(0, rpc_engine_new(variant->no_uring ? RPC_NO_URING : 0, NULL, &self->e));
	if (!variant->no_uring && !rpc_engine_uses_uring(self->e))
		SKIP(return, "io_uring is not available here");
	ASSERT_EQ(variant->no_uring, !rpc_engine_uses_uring(self->e));
}

FIXTURE_TEARDOWN(rpc)
{
	rpc_engine_free(self->e);
	if (self->server > 0) {
		kill(self->server, SIGKILL);
		waitpid(self->server, NULL, 0);
	}
	remove_tree(self->dir);
	free(self->dir);
}

static void start_server(struct __test_metadata *_metadata, FIXTURE_DATA(rpc) * self,
			 const char *const *script)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", self->sock);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
	ASSERT_EQ(0, listen(fd, 128));
	self->server = fork();
	ASSERT_LE(0, self->server);
	if (self->server == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(fd, script);
		_exit(0);
	}
	close(fd);
}

static struct rpc_call call(FIXTURE_DATA(rpc) * self, unsigned timeout_ms)
{
	return (struct rpc_call){ .addr = &self->addr,
				  .path = "/VolumeDriver.Get",
				  .body = "{\"Name\":\"v\"}\n",
				  .body_len = 13,
				  .timeout_ms = timeout_ms };
}

static int run1(FIXTURE_DATA(rpc) * self, struct rpc_call *c)
{
	struct rpc_call *p = c;

	return rpc_run(self->e, &p, 1);
}

#define OK_HEAD "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"

TEST_F(rpc, content_length_body_in_pieces)
{
	static const char *const script[] = { OK_HEAD
					      "Content-Len|gth: 11\r\n\r\n{\"Err\"|:\"\"}\n",
					      NULL };
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	ASSERT_EQ(0, c.result);
	EXPECT_EQ(200, c.status);
	EXPECT_STREQ("{\"Err\":\"\"}\n", c.resp);
	EXPECT_EQ(11, (int)c.resp_len);
	rpc_call_reset(&c);
}

TEST_F(rpc, chunked_body_is_decoded)
{
	static const char *const script[] = { OK_HEAD
					      "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"Mou\r\n|"
					      "13\r\nntpoint\":\"/mnt/v\"}\n\r\n0\r\n\r\n",
					      NULL };
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	ASSERT_EQ(0, c.result);
	EXPECT_STREQ("{\"Mountpoint\":\"/mnt/v\"}\n", c.resp);
	rpc_call_reset(&c);
}

TEST_F(rpc, keep_alive_serves_several_requests_on_one_connection)
{
	static const char *const script[] = {
		OK_HEAD "Content-Length: 3\r\n\r\none",
		OK_HEAD "Content-Length: 3\r\n\r\ntwo",
		NULL,
	};
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_STREQ("one", c.resp);
	EXPECT_FALSE(c.reused_conn);
	rpc_call_reset(&c);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(0, c.result);
	EXPECT_STREQ("two", c.resp);
	EXPECT_TRUE(c.reused_conn);
	rpc_call_reset(&c);
}

TEST_F(rpc, connection_close_is_honoured)
{
	static const char *const script[] = {
		OK_HEAD "Connection: close\r\nContent-Length: 3\r\n\r\none!",
		OK_HEAD "Content-Length: 3\r\n\r\ntwo",
		NULL,
	};
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_STREQ("one", c.resp);
	rpc_call_reset(&c);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(0, c.result);
	EXPECT_STREQ("two", c.resp);
	EXPECT_FALSE(c.reused_conn);
	rpc_call_reset(&c);
}

TEST_F(rpc, body_until_close_without_length)
{
	static const char *const script[] = { "HTTP/1.1 200 OK\r\n\r\n{}|\n!", NULL };
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(0, c.result);
	EXPECT_STREQ("{}\n", c.resp);
	rpc_call_reset(&c);
}

TEST_F(rpc, closed_mid_answer_is_connreset)
{
	static const char *const script[] = { OK_HEAD "Content-Length: 100\r\n\r\n{\"Mou!", NULL };
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-ECONNRESET, c.result);
	EXPECT_EQ(NULL, c.resp);
	rpc_call_reset(&c);
}

TEST_F(rpc, garbage_is_not_http)
{
	static const char *const script[] = { "SSH-2.0-OpenSSH_9.2\r\n!", NULL };
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-EBADMSG, c.result);
	rpc_call_reset(&c);
}

TEST_F(rpc, oversized_bodies_are_refused)
{
	static char big[2 << 20];
	static const char *script[3];
	struct rpc_call c = call(self, 10000);
	size_t off =
	    (size_t)snprintf(big, sizeof(big), OK_HEAD "Transfer-Encoding: chunked\r\n\r\n");

	/* Declared too large: refused before the body is read. */
	script[0] = OK_HEAD "Content-Length: 2000000\r\n\r\n{}";
	/* Chunked, over 1 MiB in total. */
	for (int i = 0; i < 1100; i++)
		off += (size_t)snprintf(big + off, sizeof(big) - off, "3e8\r\n%01000d\r\n", 0);
	snprintf(big + off, sizeof(big) - off, "0\r\n\r\n");
	script[1] = big;
	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-EMSGSIZE, c.result);
	rpc_call_reset(&c);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-EMSGSIZE, c.result);
	rpc_call_reset(&c);
}

TEST_F(rpc, too_many_headers_are_refused)
{
	static char head[8192];
	static const char *script[2];
	struct rpc_call c = call(self, 5000);
	size_t off = (size_t)snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\n");

	for (int i = 0; i < 100; i++)
		off += (size_t)snprintf(head + off, sizeof(head) - off, "X-H%d: v\r\n", i);
	snprintf(head + off, sizeof(head) - off, "Content-Length: 2\r\n\r\n{}");
	script[0] = head;
	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-EMSGSIZE, c.result);
	rpc_call_reset(&c);
}

TEST_F(rpc, hang_times_out_on_time)
{
	static const char *const script[] = { "~", NULL };
	struct rpc_call c = call(self, 300);
	struct timespec t0, t1;
	double secs;

	start_server(_metadata, self, script);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(0, run1(self, &c));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	EXPECT_EQ(-ETIMEDOUT, c.result);
	EXPECT_LE(0.29, secs);
	EXPECT_GT(3.0, secs);
	rpc_call_reset(&c);
}

TEST_F(rpc, nobody_listening)
{
	struct rpc_call c = call(self, 5000);

	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-ENOENT, c.result);
	rpc_call_reset(&c);
}

TEST_F(rpc, stale_kept_alive_connection_is_replaced)
{
	/* The server closes after answering without saying so: the idle connection is dead. */
	static const char *const script[] = {
		OK_HEAD "Content-Length: 3\r\n\r\none!",
		OK_HEAD "Content-Length: 3\r\n\r\ntwo",
		NULL,
	};
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	rpc_call_reset(&c);
	usleep(100000);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(0, c.result);
	EXPECT_STREQ("two", c.resp);
	rpc_call_reset(&c);
}

/* A plugin that took a Mount and hung up may have done it: never send it twice. */
TEST_F(rpc, a_non_idempotent_call_is_not_replayed)
{
	static const char *const script[] = {
		OK_HEAD "Content-Length: 3\r\n\r\none",
		"!", /* takes the second request, answers nothing, hangs up */
		OK_HEAD "Content-Length: 5\r\n\r\nthree",
		NULL,
	};
	struct rpc_call c = call(self, 5000);

	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	rpc_call_reset(&c);
	ASSERT_EQ(0, run1(self, &c));
	EXPECT_EQ(-ECONNRESET, c.result);
	EXPECT_TRUE(c.reused_conn);
	rpc_call_reset(&c);
	/* Had the second been replayed, it would have taken "three". */
	ASSERT_EQ(0, run1(self, &c));
	ASSERT_EQ(0, c.result);
	EXPECT_STREQ("three", c.resp);
	rpc_call_reset(&c);
}

TEST_F(rpc, an_idempotent_call_is_replayed_on_a_fresh_connection)
{
	static const char *const script[] = {
		OK_HEAD "Content-Length: 3\r\n\r\none",
		"!",
		OK_HEAD "Content-Length: 5\r\n\r\nthree",
		NULL,
	};
	struct rpc_call c = call(self, 5000);

	c.idempotent = true;
	start_server(_metadata, self, script);
	ASSERT_EQ(0, run1(self, &c));
	rpc_call_reset(&c);
	ASSERT_EQ(0, run1(self, &c));
	ASSERT_EQ(0, c.result);
	EXPECT_STREQ("three", c.resp);
	EXPECT_FALSE(c.reused_conn);
	rpc_call_reset(&c);
}

TEST_F(rpc, many_calls_in_flight_and_no_fd_leaked)
{
	static const char *script[65];
	struct rpc_call calls[64];
	struct rpc_call *p[64];
	int before;

	for (int i = 0; i < 64; i++)
		script[i] = OK_HEAD "Content-Length: 2\r\n\r\n{}";
	start_server(_metadata, self, script);
	before = count_fds();
	for (int i = 0; i < 64; i++) {
		calls[i] = call(self, 10000);
		p[i] = &calls[i];
	}
	ASSERT_EQ(0, rpc_run(self->e, p, 64));
	for (int i = 0; i < 64; i++) {
		ASSERT_EQ(0, calls[i].result);
		EXPECT_STREQ("{}", calls[i].resp);
		rpc_call_reset(&calls[i]);
	}
	/* Kept-alive connections stay open until dropped; then nothing is left. */
	rpc_engine_drop_idle(self->e);
	EXPECT_EQ(before, count_fds());
}

TEST(address_parsing)
{
	struct rpc_addr a;

	EXPECT_EQ(0, rpc_addr_parse("unix:///run/docker/plugins/x.sock", &a));
	EXPECT_STREQ("unix:///run/docker/plugins/x.sock", a.text);
	EXPECT_EQ(0, rpc_addr_parse("tcp://127.0.0.1:8080", &a));
	EXPECT_EQ(0, rpc_addr_parse("tcp://[::1]:8080", &a));
	EXPECT_EQ(-EINVAL, rpc_addr_parse("tcp://127.0.0.1", &a));
	EXPECT_EQ(-EINVAL, rpc_addr_parse("unix://relative.sock", &a));
	EXPECT_EQ(-EPROTONOSUPPORT, rpc_addr_parse("/run/x.sock", &a));
	EXPECT_EQ(-EPROTONOSUPPORT, rpc_addr_parse("https://127.0.0.1:1", &a));
}

TEST_HARNESS_MAIN
