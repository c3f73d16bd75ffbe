/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/lib/miniplugin.h"
#include "tests/lib/run.h"

static void serve(int lfd, const char *tag, const char *implements)
{
	for (;;) {
		char req[8192], body[512], resp[1024];
		size_t len = 0;
		int c = accept(lfd, NULL, NULL);

		if (c < 0)
			continue;
		/* Read the head and a small body: enough for these requests. */
		while (len < sizeof(req) - 1) {
			ssize_t n = read(c, req + len, sizeof(req) - 1 - len);

			if (n <= 0)
				break;
			len += (size_t)n;
			req[len] = '\0';
			char *end = strstr(req, "\r\n\r\n");
			char *cl = strcasestr(req, "Content-Length:");

			if (end &&
			    (!cl || len >= (size_t)(end - req) + 4 + strtoul(cl + 15, NULL, 10)))
				break;
		}
		if (!strncmp(req, "POST /Plugin.Activate ", 22))
			snprintf(body, sizeof(body), "{\"Implements\":[\"%s\"]}\n", implements);
		else if (!strncmp(req, "POST /VolumeDriver.Capabilities ", 32))
			snprintf(body, sizeof(body), "{\"Capabilities\":{\"Scope\":\"%s\"}}\n",
				 tag);
		else
			snprintf(body, sizeof(body), "{\"Err\":\"miniplugin: not here\"}\n");
		snprintf(resp, sizeof(resp),
			 "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			 strstr(body, "Err") ? "500 Internal Server Error" : "200 OK", strlen(body),
			 body);
		if (write(c, resp, strlen(resp)) < 0)
			_exit(1);
		close(c);
	}
}

int miniplugin_start(struct miniplugin *m, const char *path, const char *tag,
		     const char *implements)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd;

	memset(m, 0, sizeof(*m));
	if (path) {
		struct sockaddr_un *un = (struct sockaddr_un *)&ss;

		un->sun_family = AF_UNIX;
		snprintf(un->sun_path, sizeof(un->sun_path), "%s", path);
		len = sizeof(*un);
		unlink(path);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0)
		return -1;
	if (!path) {
		len = sizeof(ss);
		getsockname(fd, (struct sockaddr *)&ss, &len);
		m->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	m->pid = fork();
	if (m->pid < 0)
		return -1;
	if (m->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		serve(fd, tag, implements ? implements : "VolumeDriver");
		_exit(0);
	}
	close(fd);
	return 0;
}

void miniplugin_stop(struct miniplugin *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
	}
	m->pid = 0;
}
