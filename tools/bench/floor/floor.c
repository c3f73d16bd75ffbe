/* SPDX-License-Identifier: MIT */
/*
 * dvmount-bench-floor: the least any attach can cost, the baseline of
 * dvmount-bench's attach scenarios. Only libc, no state, no policy, no
 * checks beyond the syscalls' own:
 *
 *   attach PID [--socket SOCK] [--state DIR] SRC DST [SRC DST]...
 *	open_tree(SRC) for each volume, one setns into PID's mount namespace,
 *	move_mount onto each DST. With --socket, SRC is a volume name and its
 *	path comes from the plugin's VolumeDriver.Mount (one connection each).
 *   detach PID [--socket SOCK] [--state DIR] SRC DST [SRC DST]...
 *	one setns, umount2(DST, MNT_DETACH) for each; with --socket then
 *	VolumeDriver.Unmount of each name, on connections made before the setns
 *	(the socket's path may not resolve in the container).
 *
 * --state DIR makes it the contract floor: the least an attach can cost
 * that keeps ../shared/DESIGN.md's State section, which asks per volume for
 * "one lock per volume (flock)" and "one entry per (volume, container)".
 * Before the attach, for volume i: open (creating) DIR/v<i>/lock, flock it,
 * hard-link one unnamed file (O_TMPFILE, made once) as DIR/v<i>/users/c<PID>;
 * the locks are held until exit. detach takes each lock and unlinks the
 * entry. No record, no entry read, no policy: dvmount does more than this.
 * The users/ directories are made the first time they are missing.
 *
 * Exit 0, or 1 with one line on stderr. The Mount ID is "floor".
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define VOLUMES_MAX 1024
#define RESPONSE_MAX 8192
#define ID "floor"

static int die(const char *what, const char *arg)
{
	fprintf(stderr, "dvmount-bench-floor: %s '%s': %s\n", what, arg, strerror(errno));
	return 1;
}

static int plugin_connect(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(sock) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One request on fd (then closed); the response body's Mountpoint to mp if asked. */
static int plugin_call(int fd, const char *endpoint, const char *name, char *mp, size_t mp_size)
{
	char req[1024], body[512], resp[RESPONSE_MAX];
	size_t len = 0;
	ssize_t n;
	char *p;
	int blen = snprintf(body, sizeof(body), "{\"Name\":\"%s\",\"ID\":\"" ID "\"}", name);
	int rlen = snprintf(req, sizeof(req),
			    "POST /VolumeDriver.%s HTTP/1.1\r\nHost: plugin\r\n"
			    "Content-Type: application/json\r\nContent-Length: %d\r\n"
			    "Connection: close\r\n\r\n%s",
			    endpoint, blen, body);

	if (write(fd, req, (size_t)rlen) != rlen)
		goto fail;
	while (len + 1 < sizeof(resp) && (n = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += (size_t)n;
	resp[len] = '\0';
	close(fd);
	if (strncmp(resp, "HTTP/1.1 200", 12)) {
		errno = EPROTO;
		return -1;
	}
	if (!mp)
		return 0;
	p = strstr(resp, "\"Mountpoint\":\"");
	if (!p) {
		errno = EPROTO;
		return -1;
	}
	p += 14;
	len = strcspn(p, "\"");
	if (len >= mp_size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(mp, p, len);
	mp[len] = '\0';
	return 0;
fail:
	close(fd);
	return -1;
}

/* The contract floor's part for volume i (see the top); the lock stays held. */
static int state_entry(int dirfd, int tmpfd, int i, const char *pid, bool attach)
{
	char lock[32], entry[64], src[32];
	int fd;

	snprintf(lock, sizeof(lock), "v%d/lock", i);
	snprintf(entry, sizeof(entry), "v%d/users/c%s", i, pid);
	fd = openat(dirfd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) {
		snprintf(src, sizeof(src), "v%d", i);
		if (mkdirat(dirfd, src, 0700) < 0 && errno != EEXIST)
			return die("mkdir", src);
		fd = openat(dirfd, lock, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0 || flock(fd, LOCK_EX) < 0)
		return die("lock", lock);
	if (!attach)
		return unlinkat(dirfd, entry, 0) < 0 ? die("unlink", entry) : 0;
	snprintf(src, sizeof(src), "/proc/self/fd/%d", tmpfd);
	if (linkat(AT_FDCWD, src, dirfd, entry, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	snprintf(lock, sizeof(lock), "v%d/users", i);
	if (errno != ENOENT || (mkdirat(dirfd, lock, 0700) < 0 && errno != EEXIST) ||
	    linkat(AT_FDCWD, src, dirfd, entry, AT_SYMLINK_FOLLOW) < 0)
		return die("link", entry);
	return 0;
}

int main(int argc, char **argv)
{
	static int fds[VOLUMES_MAX];
	const char *sock = NULL, *state = NULL;
	char mp[4096];
	int pidfd, first = 3, n, dirfd = -1, tmpfd = -1;
	bool attach;

	if (argc < 3 || (strcmp(argv[1], "attach") && strcmp(argv[1], "detach"))) {
		fprintf(stderr, "usage: dvmount-bench-floor attach|detach PID [--socket SOCK] "
				"[--state DIR] SRC DST...\n");
		return 2;
	}
	attach = !strcmp(argv[1], "attach");
	while (argc > first + 1 && !strncmp(argv[first], "--", 2)) {
		if (!strcmp(argv[first], "--socket"))
			sock = argv[first + 1];
		else if (!strcmp(argv[first], "--state"))
			state = argv[first + 1];
		else
			break;
		first += 2;
	}
	n = (argc - first) / 2;
	if (n < 1 || n > VOLUMES_MAX || (argc - first) % 2) {
		fprintf(stderr, "dvmount-bench-floor: expected 1 to %d SRC DST pairs\n",
			VOLUMES_MAX);
		return 2;
	}

	if (state) {
		dirfd = open(state, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dirfd < 0)
			return die("open", state);
		if (attach &&
		    (tmpfd = openat(dirfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600)) < 0)
			return die("O_TMPFILE in", state);
	}
	for (int i = 0; i < n; i++) {
		const char *src = argv[first + 2 * i];

		if (state && state_entry(dirfd, tmpfd, i, argv[2], attach))
			return 1;
		if (sock) {
			int fd = plugin_connect(sock);

			if (fd < 0)
				return die("connect", sock);
			if (!attach) {
				fds[i] = fd;
				continue;
			}
			if (plugin_call(fd, "Mount", src, mp, sizeof(mp)) < 0)
				return die("VolumeDriver.Mount", src);
			src = mp;
		}
		if (attach) {
			fds[i] = open_tree(AT_FDCWD, src,
					   OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
			if (fds[i] < 0)
				return die("open_tree", src);
		}
	}

	pidfd = pidfd_open(atoi(argv[2]), 0);
	if (pidfd < 0 || setns(pidfd, CLONE_NEWNS) < 0)
		return die("setns into the mount namespace of", argv[2]);
	for (int i = 0; i < n; i++) {
		const char *dst = argv[first + 2 * i + 1];

		if (attach ? move_mount(fds[i], "", AT_FDCWD, dst, MOVE_MOUNT_F_EMPTY_PATH) < 0
			   : umount2(dst, MNT_DETACH) < 0)
			return die(attach ? "move_mount" : "umount2", dst);
	}
	for (int i = 0; i < n && sock && !attach; i++)
		if (plugin_call(fds[i], "Unmount", argv[first + 2 * i], NULL, 0) < 0)
			return die("VolumeDriver.Unmount", argv[first + 2 * i]);
	return 0;
}
