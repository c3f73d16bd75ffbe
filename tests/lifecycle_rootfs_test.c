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
#include <json-c/json.h>
#include <sys/mount.h>
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

FIXTURE_VARIANT_ADD(rootfs, before_pivot){ .pivoted = false };
FIXTURE_VARIANT_ADD(rootfs, pivoted){ .pivoted = true };

/*
 * Both fixtures' world: the env, a busybox rootfs at <dir>/rootfs and an
 * empty directory on the host, <dir>/decoy, for links to aim at.
 */
static int rootfs_env_setup(struct lcenv *e, char rootfs[static PATH_MAX],
			    char decoy[static PATH_MAX])
{
	int r = lcenv_setup(e, NULL);

	if (r < 0)
		return r;
	tu_path(rootfs, "%s/rootfs", e->dir);
	tu_path(decoy, "%s/decoy", e->dir);
	r = lc_mkrootfs(rootfs);
	if (r < 0)
		return r;
	return tu_mkdirs(decoy, 0755);
}

FIXTURE_SETUP(rootfs)
{
	if (access("/bin/busybox", X_OK) != 0)
		SKIP(return, "busybox-static missing (tools/install-deps installs it)");
	ASSERT_EQ(0, rootfs_env_setup(&self->e, self->rootfs, self->decoy));
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
	struct lcvol v[] = { { .name = "v", .path = "/data/vol" } };
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
	struct lcvol v[] = { { .name = "v", .path = "work" } };
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
	struct lcvol v[] = { { .name = "v", .path = "/ro", .mode = "RO" } };
	char p[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, start_and_prepare(_metadata, self, variant, v, 1, &r)) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(-EROFS,
		  lc_ct_write(self->ct.pid, 0, 0, ct_ns_path(p, self, variant, "/ro/f"), "x"));
	cleanup_balanced(_metadata, self);
}

/* The "target" dvmount printed for the first volume (where it lands), or "". */
static const char *printed_target(const char *out, char buf[static PATH_MAX])
{
	json_object *doc = json_tokener_parse(out), *vols, *v, *t;

	buf[0] = '\0';
	if (doc && json_object_object_get_ex(doc, "volumes", &vols) &&
	    json_object_array_length(vols) > 0 && (v = json_object_array_get_idx(vols, 0)) &&
	    json_object_object_get_ex(v, "target", &t))
		snprintf(buf, PATH_MAX, "%s", json_object_get_string(t));
	json_object_put(doc);
	return buf;
}

/*
 * After a prepare through a planted symlink: exit 0, the volume mounted at
 * exactly inner (where the link leads when followed inside the rootfs, as the
 * container itself would follow it), that place printed as the target, the
 * volume's data there, and nothing at host_path, the place the link names on
 * the host.
 */
static void expect_mounted_inside(struct __test_metadata *_metadata, FIXTURE_DATA(rootfs) * self,
				  const FIXTURE_VARIANT(rootfs) * variant, struct run_result *r,
				  const char *inner, const char *host_path)
{
	char p[PATH_MAX], q[PATH_MAX], buf[16];
	struct stat st;

	EXPECT_EQ(0, r->status) OK_OR_LOG(*r);
	EXPECT_STREQ(ct_ns_path(p, self, variant, inner), printed_target(r->out, q));
	EXPECT_EQ(1, lc_mounts_under(self->ct.pid, ct_ns_path(p, self, variant, inner)));
	EXPECT_EQ(0, lc_ct_write(self->ct.pid, 0, 0,
				 tu_path(q, "%s/f", ct_ns_path(p, self, variant, inner)), "in"));
	EXPECT_EQ(
	    2, tu_read_file(tu_path(p, "%s/volumes/v/data/f", self->e.tproot), buf, sizeof(buf)));
	/* The directory was made inside the rootfs. */
	EXPECT_EQ(0, stat(tu_path(p, "%s%s", self->rootfs, inner), &st));
	EXPECT_NE(0, lstat(host_path, &st)) TH_LOG("'%s' appeared on the host", host_path);
	EXPECT_EQ(0, lc_mounts_under(0, host_path));
	if (!variant->pivoted)
		EXPECT_EQ(0, lc_mounts_under(self->ct.pid, host_path));
	cleanup_balanced(_metadata, self);
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, ct_ns_path(p, self, variant, inner)));
	EXPECT_NE(0, lstat(host_path, &st));
}

TEST_F(rootfs, symlink_to_absolute_host_dir_stays_inside)
{
	char link[PATH_MAX], inner[PATH_MAX], host[PATH_MAX];
	struct run_result r;

	/* /data -> <decoy>, an absolute path that exists on the host only. */
	ASSERT_EQ(0, symlink(self->decoy, tu_path(link, "%s/data", self->rootfs)));
	struct lcvol v[] = { { .name = "v", .path = "/data/vol" } };
	start_and_prepare(_metadata, self, variant, v, 1, &r);
	expect_mounted_inside(_metadata, self, variant, &r, tu_path(inner, "%s/vol", self->decoy),
			      tu_path(host, "%s/vol", self->decoy));
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(0, self->decoy));
}

TEST_F(rootfs, symlink_to_etc_stays_inside)
{
	char link[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, symlink("/etc", tu_path(link, "%s/hostetc", self->rootfs)));
	struct lcvol v[] = { { .name = "v", .path = "/hostetc/dvmount-escape" } };
	start_and_prepare(_metadata, self, variant, v, 1, &r);
	expect_mounted_inside(_metadata, self, variant, &r, "/etc/dvmount-escape",
			      "/etc/dvmount-escape");
	run_result_free(&r);
	EXPECT_EQ(0, lc_mounts_under(0, "/etc"));
}

TEST_F(rootfs, symlink_to_dotdot_stays_inside)
{
	char link[PATH_MAX], host[PATH_MAX];
	struct run_result r;

	/* rootfs/up -> ../../.. : from the rootfs, that would be the host's scratch dir. */
	ASSERT_EQ(0, symlink("../../..", tu_path(link, "%s/up", self->rootfs)));
	struct lcvol v[] = { { .name = "v", .path = "/up/escape" } };
	start_and_prepare(_metadata, self, variant, v, 1, &r);
	expect_mounted_inside(_metadata, self, variant, &r, "/escape",
			      tu_path(host, "%s/escape", self->e.dir));
	run_result_free(&r);
	EXPECT_NE(0, access(tu_path(host, "%s/../escape", self->e.dir), F_OK));
}

/*
 * Issue 9 item 5: an image's link whose target does not exist yet (/data ->
 * /opt/appdata). As runc 1.1 did: the target is made where the link points,
 * inside the rootfs, and the volume attached there; the link stays.
 */
TEST_F(rootfs, dangling_symlink_target_is_created_inside)
{
	char link[PATH_MAX];
	struct run_result r;
	struct stat st;

	ASSERT_EQ(0, symlink("/opt/dvmount-appdata", tu_path(link, "%s/data", self->rootfs)));
	ASSERT_NE(0, lstat("/opt/dvmount-appdata", &st));
	struct lcvol v[] = { { .name = "v", .path = "/data" } };
	start_and_prepare(_metadata, self, variant, v, 1, &r);
	expect_mounted_inside(_metadata, self, variant, &r, "/opt/dvmount-appdata",
			      "/opt/dvmount-appdata");
	run_result_free(&r);
	EXPECT_EQ(0, lstat(link, &st));
	EXPECT_TRUE(S_ISLNK(st.st_mode));
}

/* A chain of dangling links, one relative: each is followed inside the rootfs. */
TEST_F(rootfs, dangling_symlink_chain_is_followed_inside)
{
	char link[PATH_MAX], host[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, symlink("srv/../appdata", tu_path(link, "%s/data", self->rootfs)));
	ASSERT_EQ(0, symlink(self->decoy, tu_path(link, "%s/appdata", self->rootfs)));
	struct lcvol v[] = { { .name = "v", .path = "/data/sub" } };
	start_and_prepare(_metadata, self, variant, v, 1, &r);
	expect_mounted_inside(_metadata, self, variant, &r, tu_path(link, "%s/sub", self->decoy),
			      tu_path(host, "%s/sub", self->decoy));
	run_result_free(&r);
}

/* Start, prepare with policy text and one volume at /data; the exit status. */
static int prepare_with_policy(struct __test_metadata *_metadata, FIXTURE_DATA(rootfs) * self,
			       const FIXTURE_VARIANT(rootfs) * variant, const char *rules,
			       const char *path, struct run_result *r)
{
	char text[3 * PATH_MAX];

	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\n%s\n[driver tp]\nhost-paths = %s\nmodes = RW RO\n",
		 rules, self->e.tproot);
	EXPECT_EQ(0, lcenv_write_policy(&self->e, text));
	struct lcvol v[] = { { .name = "v", .path = path } };
	return start_and_prepare(_metadata, self, variant, v, 1, r);
}

/* Issue 10 item 2: "/data -> /proc" carried a volume over the container's /proc. */
TEST_F(rootfs, symlink_onto_a_denied_path_is_denied_where_it_lands)
{
	char link[PATH_MAX], want[2 * PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, tu_mkdirs(tu_path(link, "%s/proc", self->rootfs), 0755));
	ASSERT_EQ(0, symlink("/proc", tu_path(link, "%s/data", self->rootfs)));
	EXPECT_EQ(3, prepare_with_policy(_metadata, self, variant,
					 "deny-container-paths = /proc /sys", "/data", &r))
	OK_OR_LOG(r);
	snprintf(want, sizeof(want),
		 "volume 0 ('v' of driver 'tp'): container path '/data' resolves to '/proc' in "
		 "the container, denied by %s:3: container path '/proc' lies under the denied "
		 "'/proc'",
		 self->e.policy);
	EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("want %s in %s", want, r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	/* Judged before any plugin heard of the volume; nothing mounted anywhere. */
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, tu_path(link, "%s/proc", self->rootfs)));
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, "/proc/dvmount-none"));
}

/* "/data/x -> /etc" escaped allow-container-paths = /data. */
TEST_F(rootfs, symlink_out_of_allowed_paths_is_denied_where_it_lands)
{
	char link[PATH_MAX], want[2 * PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, tu_mkdirs(tu_path(link, "%s/data", self->rootfs), 0755));
	ASSERT_EQ(0, symlink("/etc", tu_path(link, "%s/data/x", self->rootfs)));
	EXPECT_EQ(3, prepare_with_policy(_metadata, self, variant, "allow-container-paths = /data",
					 "/data/x", &r))
	OK_OR_LOG(r);
	snprintf(want, sizeof(want),
		 "container path '/data/x' resolves to '/etc' in the container, denied by %s:3: "
		 "container path '/etc' is not under any allow-container-paths entry",
		 self->e.policy);
	EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("want %s in %s", want, r.err);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, tu_path(link, "%s/etc", self->rootfs)));
}

/* A link that stays inside the allowed paths is followed and allowed. */
TEST_F(rootfs, symlink_within_allowed_paths_is_allowed)
{
	char link[PATH_MAX], host[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, tu_mkdirs(tu_path(link, "%s/data/real", self->rootfs), 0755));
	ASSERT_EQ(0, symlink("real", tu_path(link, "%s/data/x", self->rootfs)));
	prepare_with_policy(_metadata, self, variant, "allow-container-paths = /data", "/data/x",
			    &r);
	expect_mounted_inside(_metadata, self, variant, &r, "/data/real",
			      tu_path(host, "%s/data/real", self->e.dir));
	run_result_free(&r);
}

/*
 * Nested targets: /data/sub is resolved again once the volume at /data
 * covers it, inside that volume, and judged there. A link in the parent
 * volume (sub -> /etc) must not carry the child out of allow-container-paths;
 * the whole prepare is undone.
 */
TEST_F(rootfs, nested_target_is_judged_inside_its_parent_volume)
{
	char p[PATH_MAX], vols[PATH_MAX], text[3 * PATH_MAX], want[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/volumes/parent/data", self->e.tproot), 0755));
	ASSERT_EQ(0, symlink("/etc", tu_path(p, "%s/volumes/parent/data/sub", self->e.tproot)));
	snprintf(text, sizeof(text),
		 "[dvmount]\ncallers = uid:0\nallow-container-paths = /data\n"
		 "[driver tp]\nhost-paths = %s\nmodes = RW RO\n",
		 self->e.tproot);
	ASSERT_EQ(0, lcenv_write_policy(&self->e, text));
	struct lcvol v[] = { { .name = "child", .path = "/data/sub" },
			     { .name = "parent", .path = "/data" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0,
		  tu_container_start(&self->ct, self->rootfs, variant->pivoted ? TU_CT_PIVOT : 0));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "c", "--volumes", vols, "--pid",
		  lc_pidstr(self->pid, self->ct.pid), "--rootfs",
		  variant->pivoted ? "/" : self->rootfs, NULL);
	EXPECT_EQ(3, r.status) OK_OR_LOG(r);
	snprintf(want, sizeof(want),
		 "volume 0 ('child' of driver 'tp'): container path '/data/sub' resolves to '/etc' "
		 "in the container, denied by %s:3: container path '/etc' is not under any "
		 "allow-container-paths entry",
		 self->e.policy);
	EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("want %s in %s", want, r.err);
	run_result_free(&r);
	/* All or nothing: the parent was detached again, both Mounts undone. */
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, ct_ns_path(p, self, variant, "/data")));
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, ct_ns_path(p, self, variant, "/etc")));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
	EXPECT_EQ(0, lc_mounts_under(0, self->e.tproot));
}

/*
 * Magic links: /proc/self/root and /proc/self/fd/N name what they point at
 * as the reader sees it. A target through them is refused, whatever the
 * policy says of /proc, and nothing is mounted.
 */
static void expect_proc_link_refused(struct __test_metadata *_metadata, FIXTURE_DATA(rootfs) * self,
				     const FIXTURE_VARIANT(rootfs) * variant, const char *link_to)
{
	char p[PATH_MAX], want[PATH_MAX];
	struct run_result r;

	ASSERT_EQ(0, mount("proc", tu_path(p, "%s/proc", self->rootfs), "proc", 0, NULL));
	ASSERT_EQ(0, symlink(link_to, tu_path(p, "%s/data", self->rootfs)));
	struct lcvol v[] = { { .name = "v", .path = "/data/vol" } };
	EXPECT_EQ(1, start_and_prepare(_metadata, self, variant, v, 1, &r)) OK_OR_LOG(r);
	snprintf(want, sizeof(want),
		 "volume 'v': container path '/data/vol' leads through a link in /proc, which "
		 "is never followed");
	EXPECT_NE(NULL, strstr(r.err, want)) TH_LOG("want %s in %s", want, r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	/* Refused before any plugin heard of it: there is nothing to attach. */
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount"));
	EXPECT_EQ(0, lc_mounts_under(self->ct.pid, self->e.tproot));
	tu_container_stop(&self->ct);
	umount2(tu_path(p, "%s/proc", self->rootfs), MNT_DETACH);
}

TEST_F(rootfs, proc_self_root_target_is_refused)
{
	char p[PATH_MAX];

	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/proc", self->rootfs), 0755));
	expect_proc_link_refused(_metadata, self, variant, "/proc/self/root");
}

TEST_F(rootfs, proc_self_fd_target_is_refused)
{
	char p[PATH_MAX];

	ASSERT_EQ(0, tu_mkdirs(tu_path(p, "%s/proc", self->rootfs), 0755));
	expect_proc_link_refused(_metadata, self, variant, "/proc/self/fd/3");
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
	ASSERT_EQ(0, rootfs_env_setup(&self->e, self->rootfs, self->decoy));
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
	struct lcvol v[] = { { .name = "v", .path = "/data/vol" } };
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	lcenv_run(&self->e, &r, "prepare", "--container-id", "nopid", "--volumes", vols, "--rootfs",
		  self->rootfs, NULL);
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
