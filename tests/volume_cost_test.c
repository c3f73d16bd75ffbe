/* SPDX-License-Identifier: MIT */
/*
 * What one more volume costs a prepare --pid and a cleanup, in syscalls
 * (issue 11: the per-volume work, against the floor's open_tree + move_mount
 * per volume). The scenario is the bench's attach one: a holder container
 * keeps every volume mounted, and a second container gets 1, then 8 of them.
 * Counted with strace -f on dvmount run black-box: (count at 8 - count at 1)
 * / 7 is what each volume costs, exactly, by syscall name. Those counts do
 * not depend on timing: nothing per volume is read from a pipe or polled.
 * Before issue 11's per-volume cuts a volume cost a prepare --pid about 42
 * syscalls (not a whole number: the attach child's reports were read as
 * they came) and a cleanup about 29.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)
#define NVOLS 8

/* Syscalls named in the assertions below, and "total" for all of them but a few. */
static const char *const names[] = {
	"total",
	"openat",
	"openat2",
	"close",
	"read",
	"write",
	"poll",
	"fstat",
	"lseek",
	"getdents64",
	"statx",
	"statmount",
	"fchdir",
	"flock",
	"linkat",
	"unlinkat",
	"open_tree",
	"mount_setattr",
	"move_mount",
	"umount2",
	"mmap",
	"munmap",
	"fcntl",
	"faccessat2",
	"close_range",
	/* Not a syscall: the mmap calls with MAP_SHARED (the attach child's reports). */
	"shared_mmap",
	/*
	 * Not a syscall: the calls that close fds in dvmount's own process,
	 * close and close_range (close_many() closes a run of consecutive fds
	 * in one; at 1 volume a run may be one fd, closed by close).
	 */
	"closing",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

struct calls {
	int n[NNAMES];
};

static int name_index(const char *name, size_t len)
{
	/* strace 5.x (Debian 12) does not know statmount (Linux 6.8) by name. */
	if (len == 13 && !memcmp(name, "syscall_0x1c9", 13))
		return name_index("statmount", 9);
	if (len == 10 && !memcmp(name, "newfstatat", 10))
		return name_index("fstat", 5);
	for (size_t i = 1; i < NNAMES; i++)
		if (strlen(names[i]) == len && !memcmp(names[i], name, len))
			return (int)i;
	return -1;
}

/*
 * Calls left out of the total: the child closes the gaps between the fds it
 * keeps, one close_range each, and where those gaps fall is the fd
 * allocator's business; what malloc asks of the kernel is malloc's (and
 * ASan's, under make asan).
 */
static bool not_in_total(const char *name, size_t len)
{
	static const char *const skip[] = { "close_range", "mmap", "munmap",
					    "mprotect",	   "brk",  "madvise" };

	for (size_t i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (strlen(skip[i]) == len && !memcmp(skip[i], name, len))
			return true;
	return false;
}

/*
 * The calls of one strace -f trace, by name: a line "PID name(..." is one
 * call; "<... name resumed>" continues one, "---" and "+++" are no calls.
 */
static int count_calls(const char *trace, struct calls *ret)
{
	char *text = read_file(trace);
	long first_pid = -1;

	if (!text)
		return -1;
	memset(ret, 0, sizeof(*ret));
	for (char *l = text; l && *l;) {
		char *end = strchr(l, '\n'), *p = l, *name;
		int i;

		if (end)
			*end = '\0';
		/* strace -f: the first line is dvmount's own process. */
		long pid = strtol(l, NULL, 10);

		if (first_pid < 0)
			first_pid = pid;
		while (isdigit((unsigned char)*p))
			p++;
		while (*p == ' ')
			p++;
		name = p;
		while (isalnum((unsigned char)*p) || *p == '_')
			p++;
		if (p > name && *p == '(') {
			size_t len = (size_t)(p - name);

			bool own_close_range =
			    pid == first_pid && len == 11 && !memcmp(name, "close_range", 11);

			i = name_index(name, len);
			/* dvmount's own close_range calls close fds it listed (close_many). */
			if (!not_in_total(name, len) || own_close_range)
				ret->n[0]++;
			if (own_close_range || (len == 5 && !memcmp(name, "close", 5)))
				ret->n[name_index("closing", 7)]++;
			if (i > 0)
				ret->n[i]++;
			if (i > 0 && !strcmp(names[i], "mmap") && strstr(p, "MAP_SHARED"))
				ret->n[name_index("shared_mmap", 11)]++;
		}
		l = end ? end + 1 : NULL;
	}
	free(text);
	unlink(trace);
	return 0;
}

static int count_of(const struct calls *c, const char *name)
{
	return name_index(name, strlen(name)) > 0 ? c->n[name_index(name, strlen(name))] : c->n[0];
}

FIXTURE(vcost)
{
	struct lcenv e;
	struct tu_container ct;
	char trace[PATH_MAX];
	const char *strace[8];
	char vols1[PATH_MAX], vols8[PATH_MAX];
	char pid[16];
};

FIXTURE_SETUP(vcost)
{
	struct lcvol v[NVOLS];
	char paths[NVOLS][PATH_MAX], names_[NVOLS][16];
	struct run_result r;

	if (access("/usr/bin/strace", X_OK) < 0)
		SKIP(return, "no /usr/bin/strace (tools/install-deps installs it)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->trace, "%s/trace", self->e.dir);
	/* LeakSanitizer refuses to run under ptrace (make asan): leaks are other tests' job. */
	memcpy(self->strace,
	       (const char *[]){ "/usr/bin/strace", "-f", "-qq", "-E",
				 "ASAN_OPTIONS=detect_leaks=0", "-o", self->trace, NULL },
	       sizeof(self->strace));
	for (int i = 0; i < NVOLS; i++) {
		snprintf(names_[i], sizeof(names_[i]), "v%d", i);
		tu_path(paths[i], "%s/run/v%d", self->e.dir, i);
		ASSERT_EQ(0, tu_mkdirs(paths[i], 0755));
		v[i] = (struct lcvol){ .name = names_[i], .path = paths[i] };
	}
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols1.json", v, 1, self->vols1));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols8.json", v, NVOLS, self->vols8));
	/* The holder keeps every volume mounted: the containers below mount nothing. */
	lcenv_run(&self->e, &r, "prepare", "--container-id", "holder", "--volumes", self->vols8,
		  NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	ASSERT_EQ(NVOLS, lcenv_log_all(&self->e, "Mount"));
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	lc_pidstr(self->pid, self->ct.pid);
}

FIXTURE_TEARDOWN(vcost)
{
	tu_container_stop(&self->ct);
	lcenv_teardown(&self->e);
}

/* Run dvmount ARGS... under strace -f; its exit status must be 0. */
#define TRACED(calls, ...)                                                                         \
	do {                                                                                       \
		struct run_result r_;                                                              \
		self->e.wrap = self->strace;                                                       \
		lcenv_run(&self->e, &r_, __VA_ARGS__, NULL);                                       \
		self->e.wrap = NULL;                                                               \
		ASSERT_EQ(0, r_.status) OK_OR_LOG(r_);                                             \
		run_result_free(&r_);                                                              \
		ASSERT_EQ(0, count_calls(self->trace, (calls)));                                   \
	} while (0)

/* Each volume's share of a call: EXPECTs that the difference divides evenly. */
#define PER_VOLUME(one, eight, name)                                                               \
	({                                                                                         \
		int d_ = count_of(&(eight), name) - count_of(&(one), name);                        \
		EXPECT_EQ(0, d_ % (NVOLS - 1))                                                     \
		TH_LOG("%s: %d at 1, %d at %d", name, count_of(&(one), name),                      \
		       count_of(&(eight), name), NVOLS);                                           \
		d_ / (NVOLS - 1);                                                                  \
	})

/* prepare --pid, then cleanup, of 1 and of 8 volumes the holder keeps mounted. */
static void run_both(struct __test_metadata *_metadata, FIXTURE_DATA(vcost) * self,
		     struct calls ret_prep[2], struct calls ret_clean[2])
{
	struct run_result r;

	/*
	 * The steady state, in which a prepare finds the lock file a cleanup
	 * left as a spare: both runs below then pay the same fixed cost (the
	 * first prepare on a fresh state dir looks for spares in vain).
	 */
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c0", "--volumes", self->vols1,
		  "--pid", self->pid, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	TRACED(&ret_prep[0], "prepare", "--container-id", "c1", "--volumes", self->vols1, "--pid",
	       self->pid);
	TRACED(&ret_clean[0], "cleanup", "--container-id", "c1");
	TRACED(&ret_prep[1], "prepare", "--container-id", "c8", "--volumes", self->vols8, "--pid",
	       self->pid);
	TRACED(&ret_clean[1], "cleanup", "--container-id", "c8");
}

/*
 * Per volume, a prepare --pid of a mounted volume:
 *  - locks it: openat of its directory and of its lock file, flock, fstat
 *    (was the lock file unlinked by a remover while we waited?), openat of
 *    users/; no listing of the directory for temp files (only a writer of
 *    the entry removes those);
 *  - reads volume.json: openat, fstat (its size), one read, close;
 *  - looks at its Mountpoint twice: still mounted? (openat2, statx), then
 *    the look that clones it (openat2, statx, open_tree, mount_setattr),
 *    both through the pidfd of the first volume of its plugin process: no
 *    dup (fcntl) and close of it per volume;
 *    the clone's ids: two statx (unique and mountinfo mount id, with its
 *    inode), not three;
 *  - adds its user entry (linkat);
 *  - in the attach child: the target's mount (statx; statmount once per
 *    mount, and all 8 targets here lie on one), move_mount, and no statx of
 *    the moved tree, whose id is known from before; its report goes to
 *    shared memory, not a write, poll and read per volume;
 *  - closes what it opened: the two looks' fds and volume.json's at once;
 *    its three lock fds, its tree and its target at the end, in runs of
 *    consecutive fds with one close_range each (close_many): 8 closes a
 *    volume before, 3 now (issue 11).
 */
TEST_F(vcost, prepare_pid_costs_per_volume)
{
	struct calls prep[2], clean[2];

	run_both(_metadata, self, prep, clean);
	EXPECT_EQ(4, PER_VOLUME(prep[0], prep[1], "openat"));
	EXPECT_EQ(3, PER_VOLUME(prep[0], prep[1], "openat2"));
	EXPECT_EQ(2, PER_VOLUME(prep[0], prep[1], "fstat"));
	EXPECT_EQ(1, PER_VOLUME(prep[0], prep[1], "flock"));
	EXPECT_EQ(0, PER_VOLUME(prep[0], prep[1], "lseek"));
	EXPECT_EQ(0, PER_VOLUME(prep[0], prep[1], "getdents64"));
	EXPECT_EQ(1, PER_VOLUME(prep[0], prep[1], "read"));
	EXPECT_EQ(0, PER_VOLUME(prep[0], prep[1], "write"));
	EXPECT_EQ(0, PER_VOLUME(prep[0], prep[1], "poll"));
	EXPECT_EQ(5, PER_VOLUME(prep[0], prep[1], "statx"));
	EXPECT_EQ(0, PER_VOLUME(prep[0], prep[1], "statmount"));
	EXPECT_EQ(1, PER_VOLUME(prep[0], prep[1], "linkat"));
	EXPECT_EQ(1, PER_VOLUME(prep[0], prep[1], "open_tree"));
	EXPECT_EQ(1, PER_VOLUME(prep[0], prep[1], "mount_setattr"));
	EXPECT_EQ(1, PER_VOLUME(prep[0], prep[1], "move_mount"));
	EXPECT_EQ(0, PER_VOLUME(prep[0], prep[1], "fcntl"));
	/* Was 8 closes: the lock fds, the tree and the target are closed in runs now. */
	EXPECT_EQ(3, PER_VOLUME(prep[0], prep[1], "closing"));
	/* Was 28: 5 closes fewer (dvmount's own close_range calls are counted in it). */
	EXPECT_EQ(23, PER_VOLUME(prep[0], prep[1], "total"));
	/* The reports' shared memory: one mapping for the batch of 8. */
	EXPECT_EQ(1, count_of(&prep[1], "shared_mmap"));
}

/*
 * Per volume, a cleanup of a volume another container still uses:
 *  - in the detach child: the target's lookup (openat2), its mount (statx),
 *    umount2 through the host's /proc/self/fd (entered once, no fchdir per
 *    volume), close; no report write, poll and read per volume;
 *  - the lock as in prepare, volume.json read as in prepare;
 *  - its user entry unlinked, the users counted: two getdents64 (no lseek
 *    of the users/ directory the lock just opened); the holder's record is
 *    looked at (faccessat2) for the first volume only: while its volumes
 *    are locked, a container found to have a record keeps it;
 *  - closes what it opened: the target's fd in the child and volume.json's;
 *    its three lock fds at the end in runs of consecutive fds, one
 *    close_range each (close_many): 5 closes a volume before, 2 now.
 */
TEST_F(vcost, cleanup_costs_per_volume)
{
	struct calls prep[2], clean[2];

	run_both(_metadata, self, prep, clean);
	EXPECT_EQ(1, PER_VOLUME(clean[0], clean[1], "openat2"));
	EXPECT_EQ(1, PER_VOLUME(clean[0], clean[1], "statx"));
	EXPECT_EQ(0, PER_VOLUME(clean[0], clean[1], "fchdir"));
	EXPECT_EQ(1, PER_VOLUME(clean[0], clean[1], "umount2"));
	EXPECT_EQ(0, PER_VOLUME(clean[0], clean[1], "write"));
	EXPECT_EQ(0, PER_VOLUME(clean[0], clean[1], "poll"));
	EXPECT_EQ(1, PER_VOLUME(clean[0], clean[1], "read"));
	EXPECT_EQ(4, PER_VOLUME(clean[0], clean[1], "openat"));
	EXPECT_EQ(2, PER_VOLUME(clean[0], clean[1], "fstat"));
	EXPECT_EQ(0, PER_VOLUME(clean[0], clean[1], "lseek"));
	EXPECT_EQ(2, PER_VOLUME(clean[0], clean[1], "getdents64"));
	EXPECT_EQ(1, PER_VOLUME(clean[0], clean[1], "unlinkat"));
	EXPECT_EQ(0, PER_VOLUME(clean[0], clean[1], "faccessat2"));
	/* Was 5 closes: the three lock fds are closed in runs now. */
	EXPECT_EQ(2, PER_VOLUME(clean[0], clean[1], "closing"));
	/* Was 19: 3 closes fewer. */
	EXPECT_EQ(16, PER_VOLUME(clean[0], clean[1], "total"));
	EXPECT_EQ(1, count_of(&clean[1], "shared_mmap"));
}

/*
 * A prepare --pid of 64 volumes maps no more memory than one of a single
 * volume: its work area is sized to what it holds (was 8.5 KiB a volume, two
 * PATH_MAX arrays) and what a batch allocates at once stays on the heap,
 * below dvmount's 1 MiB mmap threshold. Before, the 64 volumes' work area
 * (545 KiB) and their resolve results (266 KiB) were each an mmap, faulted
 * in page by page, and an munmap (issue 11). The 8-volume scenario above
 * stays under glibc's 128 KiB default, so this one needs its own 64.
 */
TEST_F(vcost, a_64_volume_prepare_maps_no_more_memory_than_one)
{
	enum { N = 64 };
	struct lcvol v[N];
	char(*paths)[PATH_MAX] = calloc(N, PATH_MAX), names_[N][16], vols[PATH_MAX];
	struct calls one, many, clean_one, clean_many;
	struct run_result r;

#ifdef __SANITIZE_ADDRESS__
	free(paths);
	SKIP(return, "make asan: ASan's allocator maps memory its own way");
#endif
	ASSERT_NE(NULL, paths);
	for (int i = 0; i < N; i++) {
		snprintf(names_[i], sizeof(names_[i]), "v%d", i);
		tu_path(paths[i], "%s/run/v%d", self->e.dir, i);
		ASSERT_EQ(0, tu_mkdirs(paths[i], 0755));
		v[i] = (struct lcvol){ .name = names_[i], .path = paths[i] };
	}
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols64.json", v, N, vols));
	free(paths);
	lcenv_run(&self->e, &r, "prepare", "--container-id", "holder64", "--volumes", vols, NULL);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	TRACED(&one, "prepare", "--container-id", "c1", "--volumes", self->vols1, "--pid",
	       self->pid);
	TRACED(&clean_one, "cleanup", "--container-id", "c1");
	TRACED(&many, "prepare", "--container-id", "c64", "--volumes", vols, "--pid", self->pid);
	TRACED(&clean_many, "cleanup", "--container-id", "c64");
	/* The attach child's reports: one shared mapping for the batch. */
	EXPECT_EQ(1, count_of(&many, "shared_mmap"));
	EXPECT_EQ(count_of(&one, "mmap"), count_of(&many, "mmap"));
	EXPECT_EQ(count_of(&one, "munmap"), count_of(&many, "munmap"));
	EXPECT_EQ(count_of(&clean_one, "mmap"), count_of(&clean_many, "mmap"));
	EXPECT_EQ(count_of(&clean_one, "munmap"), count_of(&clean_many, "munmap"));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "holder64", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
