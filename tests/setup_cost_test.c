/* SPDX-License-Identifier: MIT */
/*
 * A command sets up only what it needs (issue 11: the fixed cost of one
 * command). The io_uring ring is made by the first batch of plugin calls
 * that can overlap (a lone call goes through poll()), the policy
 * file is read only by a command that decides by it or makes a limited plugin
 * call, the audit socket is opened only to write a record. Witnessed with
 * strace -f on dvmount run black-box: io_uring_setup calls, opens of the
 * policy file, NETLINK_AUDIT sockets, reads of /proc/PID/status (libcap-ng's
 * capability state), opens of libmount (loaded only to read a mount table).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ns/ns.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

struct setup_counts {
	int rings;	    /* io_uring_setup calls */
	int policy_opens;   /* opens of the policy file */
	int audit;	    /* NETLINK_AUDIT sockets */
	int status_reads;   /* opens of /proc/PID/status */
	int cached_lookups; /* openat2(RESOLVE_CACHED) of a relative path: looks at a Mountpoint */
	int libmount_opens; /* opens of libmount.so.1, by ld.so or dlopen() */
	int recvmsgs;	    /* recvmsg calls: the audit record's ack */
	int munmaps;	    /* munmap calls */
	int shared_maps;    /* mmap calls with MAP_SHARED: the attach's report area */
	int stat_reads;	    /* opens of the fixture's stat_of */
};

/*
 * Lines of text with an openat2(RESOLVE_CACHED) of a relative path: ns_peek's
 * looks at a Mountpoint, beneath the plugin's root. A target is looked up by
 * its absolute path inside the container's root.
 */
static int count_mountpoint_lookups(const char *text)
{
	int n = 0;

	for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		const char *end = strchr(l, '\n'), *call = strstr(l, "openat2("), *arg;
		const char *cached = strstr(l, "RESOLVE_CACHED}");

		if (!call || !cached || (end && cached > end) || (end && call > end))
			continue;
		arg = strstr(call, ", \"");
		if (arg && (!end || arg < end) && arg[3] != '/')
			n++;
	}
	return n;
}

/*
 * The trace of one dvmount run: what it set up, or -errno. stat_of: the
 * "/proc/PID/stat\"" whose opens to count, or "".
 */
static int count_setup(const char *trace, const char *policy, const char *stat_of,
		       struct setup_counts *ret)
{
	char *text = read_file(trace);
	char open_policy[PATH_MAX + 16];

	if (!text)
		return -1;
	snprintf(open_policy, sizeof(open_policy), "openat(AT_FDCWD, \"%s\"", policy);
	ret->rings = count_str(text, "io_uring_setup(");
	ret->policy_opens = count_str(text, open_policy);
	ret->audit = count_str(text, "NETLINK_AUDIT");
	ret->status_reads = count_str(text, "/status\", O_RDONLY");
	ret->cached_lookups = count_mountpoint_lookups(text);
	ret->libmount_opens = count_str(text, "/" NS_LIBMOUNT_SONAME "\", O_RDONLY");
	ret->recvmsgs = count_str(text, "recvmsg(");
	ret->munmaps = count_str(text, "munmap(");
	ret->shared_maps = count_str(text, "MAP_SHARED");
	ret->stat_reads = stat_of[0] ? count_str(text, stat_of) : 0;
	free(text);
	unlink(trace);
	return 0;
}

FIXTURE(setup)
{
	struct lcenv e;
	struct tu_container ct;
	char trace[PATH_MAX];
	const char *strace[10];
	char vols[PATH_MAX];
	char stat_of[32]; /* "/proc/PID/stat\"" to count opens of (stat_reads), or "" */
};

FIXTURE_SETUP(setup)
{
	char target[PATH_MAX];

	if (access("/usr/bin/strace", X_OK) < 0)
		SKIP(return, "no /usr/bin/strace (tools/install-deps installs it)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->trace, "%s/trace", self->e.dir);
	/* LeakSanitizer refuses to run under ptrace (make asan): leaks are other tests' job. */
	memcpy(self->strace,
	       (const char *[]){ "/usr/bin/strace", "-f", "-qq", "-E",
				 "ASAN_OPTIONS=detect_leaks=0", "-o", self->trace, "-e",
				 "trace=io_uring_setup,openat,openat2,socket,recvmsg,mmap,munmap",
				 NULL },
	       sizeof(self->strace));
	tu_path(target, "%s/run/vol", self->e.dir);
	ASSERT_EQ(0, tu_mkdirs(target, 0755));
	struct lcvol v[] = { { .name = "data", .path = target } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, self->vols));
}

FIXTURE_TEARDOWN(setup)
{
	tu_container_stop(&self->ct);
	lcenv_teardown(&self->e);
}

/* Run dvmount ARGS... under strace; its exit status must be want. */
#define TRACED_EXIT(counts, want, ...)                                                             \
	do {                                                                                       \
		struct run_result r_;                                                              \
		self->e.wrap = self->strace;                                                       \
		lcenv_run(&self->e, &r_, __VA_ARGS__, NULL);                                       \
		self->e.wrap = NULL;                                                               \
		ASSERT_EQ(want, r_.status) OK_OR_LOG(r_);                                          \
		run_result_free(&r_);                                                              \
		ASSERT_EQ(0, count_setup(self->trace, self->e.policy, self->stat_of, (counts)));   \
	} while (0)
#define TRACED(counts, ...) TRACED_EXIT(counts, 0, __VA_ARGS__)

/* status reads the state only: no ring, no policy, no audit record. */
TEST_F(setup, status_sets_up_nothing_it_does_not_use)
{
	struct setup_counts c;

	TRACED(&c, "status");
	EXPECT_EQ(0, c.rings);
	EXPECT_EQ(0, c.policy_opens);
	EXPECT_EQ(0, c.audit);
}

/*
 * The first prepare mounts the volume through the plugin, one call at a time
 * (nothing to overlap: no ring); a second container's prepare --pid finds it
 * mounted and calls no plugin. Both decide by the policy (read once) and
 * write an audit record.
 */
TEST_F(setup, prepare_of_a_mounted_volume_makes_no_ring)
{
	struct setup_counts c;
	char pid[16];

	TRACED(&c, "prepare", "--container-id", "holder", "--volumes", self->vols);
	EXPECT_EQ(0, c.rings);
	EXPECT_EQ(1, c.policy_opens);
	EXPECT_EQ(1, c.audit);
	ASSERT_EQ(1, lcenv_log_all(&self->e, "Mount"));

	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, c.rings);
	EXPECT_EQ(1, c.policy_opens);
	EXPECT_EQ(1, c.audit);
}

/*
 * The capability state is read from /proc/PID/status once per process and
 * then only changed (issue 11: it was read again at every drop, 29 opens per
 * prepare). prepare --pid and cleanup drop capabilities at five phases or
 * more; status drops none: all three read it as often (libcap-ng opens the
 * file more than once per read and per bounding-set change: the count is
 * its, the same for every command).
 */
TEST_F(setup, capabilities_are_read_once_whatever_the_drops)
{
	struct setup_counts st, prep, clean;
	char pid[16];

	TRACED(&st, "status");
	ASSERT_LT(0, st.status_reads);
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&prep, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(st.status_reads, prep.status_reads);
	TRACED(&clean, "cleanup", "--container-id", "c");
	EXPECT_EQ(st.status_reads, clean.status_reads);
}

/*
 * A Mountpoint is found by one lookup of its whole path (issue 11: per-volume
 * work): the walk down it, a lookup per component, finds the nearest mount
 * root, which only require-mount-point reads (lifecycle_test's
 * rexray_shape_passes_require_mount_point keeps that walk). A prepare --pid of a volume
 * already mounted looks at it twice: still mounted? and the check before
 * its tree is cloned.
 */
TEST_F(setup, mountpoint_is_looked_up_whole_without_require_mount_point)
{
	struct setup_counts c;
	char pid[16];

	TRACED(&c, "prepare", "--container-id", "holder", "--volumes", self->vols);
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(2, c.cached_lookups);
}

/* Two volumes' calls go out together: that is what the ring is for. */
TEST_F(setup, prepare_of_two_new_volumes_makes_one_ring)
{
	char vols[PATH_MAX], a[PATH_MAX], b[PATH_MAX];
	struct setup_counts c;

	ASSERT_EQ(0, tu_mkdirs(tu_path(a, "%s/run/a", self->e.dir), 0755));
	ASSERT_EQ(0, tu_mkdirs(tu_path(b, "%s/run/b", self->e.dir), 0755));
	struct lcvol v[] = { { .name = "a", .path = a }, { .name = "b", .path = b } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "two.json", v, 2, vols));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", vols);
	EXPECT_EQ(2, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(1, c.rings);
}

/* dvdcli (Mesos' isolator: one volume per exec) makes its calls one by one: no ring. */
TEST_F(setup, dvdcli_makes_no_ring)
{
	struct setup_counts c;

	TRACED(&c, "dvdcli", "mount", "--volumedriver=tp", "--volumename=d");
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, c.rings);
	TRACED(&c, "dvdcli", "unmount", "--volumedriver=tp", "--volumename=d");
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, c.rings);
}

/*
 * A cleanup that leaves the volume to another container calls no plugin:
 * no ring and no policy (read only for a plugin's max-in-flight). The last
 * one's Unmount needs both.
 */
TEST_F(setup, cleanup_reads_the_policy_only_for_a_plugin_call)
{
	struct setup_counts c;

	TRACED(&c, "prepare", "--container-id", "a", "--volumes", self->vols);
	TRACED(&c, "prepare", "--container-id", "b", "--volumes", self->vols);
	EXPECT_EQ(0, c.rings);

	TRACED(&c, "cleanup", "--container-id", "a");
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, c.rings);
	EXPECT_EQ(0, c.policy_opens);
	EXPECT_EQ(1, c.audit);

	TRACED(&c, "cleanup", "--container-id", "b");
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Unmount"));
	EXPECT_EQ(0, c.rings); /* one call */
	EXPECT_EQ(1, c.policy_opens);
	EXPECT_EQ(1, c.audit);
}

/*
 * libmount (with libblkid, libselinux and pcre2) is mapped only by a command
 * that reads a mount table (issue 11: it was linked, and loaded at every
 * exec). A prepare --pid and its cleanup read none; a cleanup that finds its
 * mount moved away from the target reads the container's, loading libmount
 * once (lifecycle_test's a_mount_moved_by_the_container_keeps_its_volume
 * checks what it finds there).
 */
TEST_F(setup, libmount_is_loaded_only_to_read_a_mount_table)
{
	char pid[16], parent[PATH_MAX], moved[PATH_MAX];
	struct setup_counts c;

	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(0, c.libmount_opens);
	TRACED(&c, "cleanup", "--container-id", "c");
	EXPECT_EQ(0, c.libmount_opens);
	TRACED(&c, "status");
	EXPECT_EQ(0, c.libmount_opens);

	TRACED(&c, "prepare", "--container-id", "m", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	ASSERT_EQ(0, rename(tu_path(parent, "%s/run", self->e.dir),
			    tu_path(moved, "%s/moved", self->e.dir)));
	TRACED_EXIT(&c, 1, "cleanup", "--container-id", "m");
	EXPECT_EQ(1, c.libmount_opens);
}

/*
 * The container's pidfd is checked against pid reuse with one read of its
 * /proc/PID/stat, after pidfd_open (issue 11: one before and one after).
 */
TEST_F(setup, the_container_start_time_is_read_once)
{
	struct setup_counts c;
	char pid[16];

	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	snprintf(self->stat_of, sizeof(self->stat_of), "/proc/%d/stat\"", (int)self->ct.pid);
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(1, c.stat_reads);
}

/*
 * The audit record's ack is read once, not peeked at first (issue 11: libnl's
 * default, two recvmsg per record); audit_test checks that the record is sent.
 */
TEST_F(setup, the_audit_ack_is_read_with_one_recvmsg)
{
	struct setup_counts c;
	char pid[16];

	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(1, c.audit);
	EXPECT_EQ(1, c.recvmsgs);
	TRACED(&c, "cleanup", "--container-id", "c");
	EXPECT_EQ(1, c.audit);
	EXPECT_EQ(1, c.recvmsgs);
}

/*
 * The policy and the volume spec are read into buffers of their size, not of
 * their 1 MiB limits (issue 11: the policy's was mapped and unmapped, the
 * spec's grew and shrank the heap). What a prepare --pid unmaps, besides
 * the attach's shared report area (one per batch: volume_cost_test), is the
 * dynamic loader's copy of /etc/ld.so.cache, once.
 */
TEST_F(setup, reading_the_policy_and_the_spec_maps_nothing)
{
	struct setup_counts c;
	char pid[16];

#ifdef __SANITIZE_ADDRESS__
	SKIP(return, "make asan: ASan maps and unmaps its own shadow memory");
#endif
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(1, c.policy_opens);
	EXPECT_EQ(1, c.munmaps - c.shared_maps);
}

/*
 * The bounding set is dropped by dvmount's own prctl()s and checked with one
 * read of CapBnd (issue 11: libcap-ng's capng_apply() of the bounding set
 * read /proc/PID/status three times more). What is left: libcap-ng's one
 * read of the process's state (two opens: bounding and ambient sets) and
 * that check, for every command.
 */
TEST_F(setup, the_bounding_set_is_checked_with_one_read)
{
	struct setup_counts c;
	char pid[16];

	TRACED(&c, "status");
	EXPECT_EQ(3, c.status_reads);
	ASSERT_EQ(0, tu_container_start(&self->ct, NULL, 0));
	TRACED(&c, "prepare", "--container-id", "c", "--volumes", self->vols, "--pid",
	       lc_pidstr(pid, self->ct.pid));
	EXPECT_EQ(3, c.status_reads);
}

TEST_HARNESS_MAIN
