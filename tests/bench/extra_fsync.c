/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for bench_test: a deliberate regression. Every rename is
 * followed by one more fsync of the renamed file, as a careless change to the
 * state store's durable write would add: one extra fsync per durable write,
 * so per volume. `dvmount-bench --compare` must catch it.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static void fsync_path(int dirfd, const char *path)
{
	int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

int rename(const char *old, const char *new)
{
	int (*real)(const char *, const char *) = dlsym(RTLD_NEXT, "rename");
	int r = real(old, new);

	if (r == 0)
		fsync_path(AT_FDCWD, new);
	return r;
}

int renameat(int olddir, const char *old, int newdir, const char *new)
{
	int (*real)(int, const char *, int, const char *) = dlsym(RTLD_NEXT, "renameat");
	int r = real(olddir, old, newdir, new);

	if (r == 0)
		fsync_path(newdir, new);
	return r;
}

int renameat2(int olddir, const char *old, int newdir, const char *new, unsigned flags)
{
	int (*real)(int, const char *, int, const char *, unsigned) = dlsym(RTLD_NEXT, "renameat2");
	int r = real(olddir, old, newdir, new, flags);

	if (r == 0)
		fsync_path(newdir, new);
	return r;
}
