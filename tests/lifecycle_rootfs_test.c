/* SPDX-License-Identifier: MIT */
/*
 * Containers with their own rootfs (a busybox rootfs from tools/mkrootfs),
 * both as an OCI createRuntime hook sees them (not pivoted yet: --rootfs is
 * the rootfs path, the process's cwd) and running (pivoted: --rootfs /):
 * Mesos' scenarios 6, 7 and 10, and symlinks planted in the rootfs on the way
 * to a container_path, which must never take a mount out of the rootfs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

FIXTURE(rootfs)
{
	struct lcenv e;
	struct tu_container ct;
	char rootfs[PATH_MAX];
	char decoy[PATH_MAX]; /* a host directory outside the rootfs */
	char pid[16];
};

FIXTURE_VARIANT(rootfs)
{
	bool pivoted;
};

FIXTURE_VARIANT_ADD(rootfs, before_pivot){.pivoted = false};
FIXTURE_VARIANT_ADD(rootfs, pivoted){.pivoted = true};

FIXTURE_SETUP(rootfs)
{
	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->rootfs, "%s/rootfs", self->e.dir);
	tu_path(self->decoy, "%s/decoy", self->e.dir);
	ASSERT_EQ(0, lc_mkrootfs(self->rootfs));
	ASSERT_EQ(0, tu_mkdirs(self->decoy, 0755));
}

FIXTURE_TEARDOWN(rootfs)
{
	tu_container_stop(&self->ct);
	lcenv_teardown(&self->e);
}

/* Start the container and prepare it with vols; returns dvmount's exit status. */
static int start_and_prepare(struct __test_metadata *_metadata, FIXTURE_DATA(rootfs) * self,
			     const FIXTURE_VARIANT(rootfs) * variant, const struct lcvol *v,
			     size_t n, struct run_result *r)
{
	char vols[PATH_MAX];

	EXPECT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, n, vols));
	EXPECT_EQ(0,
		  tu_container_start(&self->ct, self->rootfs, variant->pivoted ? TU_CT_PIVOT : 0));
	if (!self->ct.pid)
		return -1;
	lcenv_run(&self->e, r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(self->pid, self->ct.pid), "--rootfs",
		  variant->pivoted ? "/" : self->rootfs, "--sandbox", "/mnt/mesos/sandbox", NULL);
	return r->status;
}

/* A path inside the container as its mount namespace's root sees it. */
static char *ct_ns_path(char buf[static PATH_MAX], FIXTURE_DATA(rootfs) * self,
			const FIXTURE_VARIANT(rootfs) * variant, const char *path)
{
	return variant->pivoted ? tu_path(buf, "%s", path)
				: tu_path(buf, "%s%s", self->rootfs, path);
}

static void cleanup_balanced(struct __test_metadata *_metadata, FIXTURE_DATA(rootfs) * self)
{
	struct run_result r;

	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

/* 6. Rootfs + absolute container_path: created inside the rootfs, mounted there. */
TEST_F(rootfs, absolute_path_created_inside_rootfs)
{
	struct lcvol v[] = {{.name = "v", .path = "/data/vol"}};
	char p[PATH_MAX], q[PATH_MAX], buf[16];
	struct run_result r;

	ASSERT_EQ(0, start_and_prepare(_metadata, self, variant, v, 1, &r)) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lc_ct_write(self->ct.pid, 0, 0,
				 tu_path(q, "%s/f", ct_ns_path(p, self, variant, "/data/vol")),
				 "abs"));
	EXPECT_EQ(
	    3, tu_read_file(tu_path(p, "%s/volumes/v/data/f", self->e.tproot), buf, sizeof(buf)));
	/* The directory was made in the rootfs; the mount is the container's only. */
	EXPECT_EQ(0, access(tu_path(p, "%s/data/vol", self->rootfs), F_OK));
	EXPECT_EQ(0, lc_mounts_under(0, tu_path(p, "%s/data", self->rootfs)));
	EXPECT_EQ(1, lc_mounts_under(self->ct.pid, ct_ns_path(p, self, variant, "/data/vol")));
	cleanup_balanced(_metadata, self);
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, ct_ns_path(p, self, variant, "/data")));
}

/* 7. Rootfs + relative container_path: in the sandbox inside the rootfs. */
TEST_F(rootfs, relative_path_lands_in_sandbox)
{
	struct lcvol v[] = {{.name = "v", .path = "work"}};
	char p[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, start_and_prepare(_metadata, self, variant, v, 1, &r)) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lc_mounts_under(self->ct.pid,
				     ct_ns_path(p, self, variant, "/mnt/mesos/sandbox/work")));
	EXPECT_EQ(0, access(tu_path(p, "%s/mnt/mesos/sandbox/work", self->rootfs), F_OK));
	EXPECT_EQ(0, lc_ct_write(self->ct.pid, 0, 0,
				 ct_ns_path(p, self, variant, "/mnt/mesos/sandbox/work/x"), "x"));
	EXPECT_EQ(0, access(tu_path(p, "%s/volumes/v/data/x", self->e.tproot), F_OK));
	cleanup_balanced(_metadata, self);
}

/* 10. RO with a rootfs: writing fails with EROFS. */
TEST_F(rootfs, readonly_refuses_writes)
{
	struct lcvol v[] = {{.name = "v", .path = "/ro", .mode = "RO"}};
	char p[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, start_and_prepare(_metadata, self, variant, v, 1, &r)) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(-EROFS,
		  lc_ct_write(self->ct.pid, 0, 0, ct_ns_path(p, self, variant, "/ro/f"), "x"));
	cleanup_balanced(_metadata, self);
}

/*
 * After a prepare through a planted symlink: whatever happened, nothing
 * reached the host path the symlink named, and any mount is in the rootfs.
 */
static void expect_contained(struct __test_metadata *_metadata, FIXTURE_DATA(rootfs) * self,
			     const FIXTURE_VARIANT(rootfs) * variant, int status,
			     const char *host_path)
{
	struct stat st;

	EXPECT_TRUE(status == 0 || status == 1 || status == 3) TH_LOG("exit %d", status);
	EXPECT_NE(0, lstat(host_path, &st)) TH_LOG("'%s' appeared on the host", host_path);
	EXPECT_EQ(0, lc_mounts_under(0, host_path));
	if (!variant->pivoted)
		EXPECT_EQ(0, lc_mounts_under(self->ct.pid, host_path));
	/* The volume is in the rootfs: the rootfs bind itself and the volume. */
	if (!variant->pivoted && status == 0)
		EXPECT_EQ(2, lc_mounts_under(self->ct.pid, self->rootfs));
	cleanup_balanced(_metadata, self);
	EXPECT_NE(0, lstat(host_path, &st));
}

TEST_F(rootfs, symlink_to_absolute_host_dir_stays_inside)
{
	char link[PATH_MAX], target[PATH_MAX], host[PATH_MAX];
	struct run_result r;
	int status;

	/* /data -> <decoy>, an absolute path that exists on the host. */
	ASSERT_EQ(0, symlink(self->decoy, tu_path(link, "%s/data", self->rootfs)));
	tu_path(target, "/data/vol");
	struct lcvol v[] = {{.name = "v", .path = target}};
	status = start_and_prepare(_metadata, self, variant, v, 1, &r);
	run_result_free(&r);
	expect_contained(_metadata, self, variant, status, tu_path(host, "%s/vol", self->decoy));
	EXPECT_EQ(0, lc_mounts_under(0, self->decoy));
}

TEST_F(rootfs, symlink_to_etc_stays_inside)
{
	char link[PATH_MAX];
	struct run_result r;
	int status;

	ASSERT_EQ(0, symlink("/etc", tu_path(link, "%s/hostetc", self->rootfs)));
	struct lcvol v[] = {{.name = "v", .path = "/hostetc/dvmount-escape"}};
	status = start_and_prepare(_metadata, self, variant, v, 1, &r);
	run_result_free(&r);
	expect_contained(_metadata, self, variant, status, "/etc/dvmount-escape");
	EXPECT_EQ(0, lc_mounts_under(0, "/etc"));
}

TEST_F(rootfs, symlink_to_dotdot_stays_inside)
{
	char link[PATH_MAX], host[PATH_MAX];
	struct run_result r;
	int status;

	/* rootfs/up -> ../../.. : from the rootfs, that would be the host's scratch dir. */
	ASSERT_EQ(0, symlink("../../..", tu_path(link, "%s/up", self->rootfs)));
	struct lcvol v[] = {{.name = "v", .path = "/up/escape"}};
	status = start_and_prepare(_metadata, self, variant, v, 1, &r);
	run_result_free(&r);
	expect_contained(_metadata, self, variant, status, tu_path(host, "%s/escape", self->e.dir));
	EXPECT_NE(0, access(tu_path(host, "%s/../escape", self->e.dir), F_OK));
}

/*
 * Without --pid the containerizer binds onto the printed target itself: that
 * path must be where the target resolved inside the rootfs, not the lexical
 * rootfs + container_path that a planted symlink would redirect to the host.
 */
/* No process involved: a fixture of its own, without the pivot variants. */
FIXTURE(nopid)
{
	struct lcenv e;
	char rootfs[PATH_MAX];
	char decoy[PATH_MAX];
};

FIXTURE_SETUP(nopid)
{
	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, lcenv_setup(&self->e, NULL));
	tu_path(self->rootfs, "%s/rootfs", self->e.dir);
	tu_path(self->decoy, "%s/decoy", self->e.dir);
	ASSERT_EQ(0, lc_mkrootfs(self->rootfs));
	ASSERT_EQ(0, tu_mkdirs(self->decoy, 0755));
}

FIXTURE_TEARDOWN(nopid)
{
	lcenv_teardown(&self->e);
}

TEST_F(nopid, the_printed_target_is_the_resolved_one)
{
	char link[PATH_MAX], vols[PATH_MAX], want[PATH_MAX + 32];
	struct run_result r;

	/*
	 * /data -> <decoy>: absolute, so inside the rootfs it means
	 * <rootfs><decoy>, while a containerizer following the lexical
	 * <rootfs>/data/vol on the host would land in the host's <decoy>.
	 */
	ASSERT_EQ(0, symlink(self->decoy, tu_path(link, "%s/data", self->rootfs)));
	ASSERT_EQ(0, tu_mkdirs(tu_path(link, "%s%s", self->rootfs, self->decoy), 0755));
	struct lcvol v[] = {{.name = "v", .path = "/data/vol"}};
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "nopid", "--volumes", vols,
		  "--rootfs", self->rootfs, NULL);
	ASSERT_EQ(0, r.status) TH_LOG("%s", r.err);
	snprintf(want, sizeof(want), "\"target\":\"%s%s\\/vol\"", self->rootfs, self->decoy);
	/* json-c escapes every '/' */
	char esc[2 * sizeof(want)];
	size_t k = 0;

	for (const char *p = want; *p && k < sizeof(esc) - 2; p++) {
		if (*p == '/' && (p == want || p[-1] != '\\'))
			esc[k++] = '\\';
		esc[k++] = *p;
	}
	esc[k] = '\0';
	EXPECT_NE(NULL, strstr(r.out, esc)) TH_LOG("want %s in %s", esc, r.out);
	run_result_free(&r);
	/* Nothing was created at the decoy on the host. */
	EXPECT_NE(0, access(tu_path(link, "%s/vol", self->decoy), F_OK));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "nopid", NULL);
	EXPECT_EQ(0, r.status) TH_LOG("%s", r.err);
	run_result_free(&r);
}

TEST_HARNESS_MAIN
