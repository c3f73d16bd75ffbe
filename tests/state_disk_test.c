/* SPDX-License-Identifier: MIT */
/*
 * Disk faults under the state dir, black-box against the test plugin: the
 * state dir full (a small tmpfs of its own), read-only, and a record cut
 * short at every byte offset (what a torn write or a hard reboot leaves).
 * Each gives one clear line naming the container, and nothing half-written
 * is ever believed: no record that was not completely written is acted on,
 * reference counts stay those of the users, and the plugin's Mounts and
 * Unmounts pair up once the disk is healthy again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/jsonutil.h"
#include "helper/state/state.h"

#include "kselftest_harness.h"
#include "tests/lib/lcenv.h"

#define OK_OR_LOG(r) TH_LOG("exit %d\nstdout: %s\nstderr: %s", (r).status, (r).out, (r).err)

LC_FIXTURE(disk);

/* The state dir on its own tmpfs of size bytes (in the test's mount namespace). */
static int state_on_small_tmpfs(struct lcenv *e, const char *size)
{
	char opts[64];

	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (tu_mkdirs(e->state, 0700) < 0)
		return -errno;
	return mount("tmpfs", e->state, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0 ? -errno : 0;
}

/*
 * Fill the file system under dir until it refuses (again: the filler grows
 * by what was freed meanwhile): bytes added, or -errno.
 */
static long fill(const char *dir)
{
	static char block[4096];
	char path[PATH_MAX];
	long total = 0;
	int fd;

	fd = open(tu_path(path, "%s/filler", dir), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n = write(fd, block, sizeof(block));

		if (n <= 0) {
			int e = n < 0 ? errno : ENOSPC;

			close(fd);
			return e == ENOSPC ? total : -e;
		}
		total += n;
	}
}

static int unfill(const char *dir)
{
	char path[PATH_MAX];

	return unlink(tu_path(path, "%s/filler", dir)) < 0 ? -errno : 0;
}

static int lines(const char *s)
{
	return count_str(s, "\n");
}

/* Files under state/<sub> whose name starts with prefix. */
static int count_entries(struct lcenv *e, const char *sub, const char *prefix)
{
	char path[PATH_MAX];
	struct dirent *d;
	DIR *dir = opendir(tu_path(path, "%s/%s", e->state, sub));
	int n = 0;

	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		n += !strncmp(d->d_name, prefix, strlen(prefix));
	closedir(dir);
	return n;
}

/* prepare without --pid: mounts on the host, checkpoints, prints the binds. */
static void prepare(struct lcenv *e, struct run_result *r, const char *cid, const char *vols)
{
	char sandbox[PATH_MAX];

	tu_path(sandbox, "%s/sandbox", e->dir);
	tu_mkdirs(sandbox, 0755);
	lcenv_run(e, r, "prepare", "--container-id", cid, "--volumes", vols, "--sandbox", sandbox,
		  NULL);
}

/* The same, as a step that must succeed. */
static void prepare_ok(struct __test_metadata *_metadata, struct lcenv *e, const char *cid,
		       const char *vols)
{
	struct run_result r;

	prepare(e, &r, cid, vols);
	ASSERT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
}

/* The end of every test: the plugin's log pairs up, no container or volume is left. */
static void expect_nothing_left(struct __test_metadata *_metadata, struct lcenv *e)
{
	int nc, nv;

	EXPECT_EQ(0, lcenv_log_unbalanced(e));
	EXPECT_EQ(0, lcenv_status_counts(e, &nc, &nv));
	EXPECT_EQ(0, nc);
	EXPECT_EQ(0, nv);
}

TEST_F(disk, full_state_dir_fails_prepare_with_one_line_and_leaves_nothing)
{
	struct lcvol v[] = { { .name = "v1", .path = "data/v1" },
			     { .name = "v2", .path = "v2" },
			     { .name = "v3", .path = "v3" } };
	char vols[PATH_MAX], vols3[PATH_MAX];
	struct run_result r;
	int nc, nv;

	ASSERT_EQ(0, state_on_small_tmpfs(&self->e, "64k"));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	/* c1 also wants v3, which no one has mounted yet. */
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols3.json", v, 3, vols3));
	/* A first prepare lays the state out; then the disk fills up. */
	prepare_ok(_metadata, &self->e, "c0", vols);
	ASSERT_LT(0, fill(self->e.state));

	prepare(&self->e, &r, "c1", vols3);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, lines(r.err)) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "'c1'")) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "No space left on device")) OK_OR_LOG(r);
	run_result_free(&r);

	/* c1 left no record, no user, no temp file; c0's counts are untouched. */
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &nc, &nv));
	EXPECT_EQ(1, nc);
	EXPECT_EQ(2, nv);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v2"));
	EXPECT_EQ(0, count_entries(&self->e, "containers", ".tmp."));
	EXPECT_EQ(0, count_entries(&self->e, "containers", "c1"));
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e) - 2); /* c0's v1 and v2 */
	EXPECT_EQ(lcenv_log_count(&self->e, "Mount", "v3"),
		  lcenv_log_count(&self->e, "Unmount", "v3"));

	/* With room again, everything works and the plugin's log pairs up. */
	ASSERT_EQ(0, unfill(self->e.state));
	prepare(&self->e, &r, "c1", vols3);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	expect_nothing_left(_metadata, &self->e);
}

/*
 * cleanup and recover on a full disk: removing a user needs no room; an
 * Unmount that cannot be recorded first is not made (one line per volume),
 * and the volume stays known until a recover with room makes it, once.
 */
TEST_F(disk, full_state_dir_cleanup_keeps_the_volumes_for_recover)
{
	struct lcvol v[] = { { .name = "v1", .path = "data/v1" }, { .name = "v2", .path = "v2" } };
	char vols[PATH_MAX];
	struct run_result r;
	int nc, nv;

	ASSERT_EQ(0, state_on_small_tmpfs(&self->e, "64k"));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	prepare_ok(_metadata, &self->e, "c0", vols);
	prepare_ok(_metadata, &self->e, "c1", vols);
	ASSERT_LT(0, fill(self->e.state));

	/* Removing a user needs no room. */
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("", r.err);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));

	/*
	 * The last user leaves on a full disk: the Unmount is not tried, as the
	 * mark that it is under way cannot be written; the entries stay, with
	 * no user, for recover.
	 */
	ASSERT_LE(0, fill(self->e.state));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(2, lines(r.err)) OK_OR_LOG(r);
	EXPECT_EQ(2, count_str(r.err, "dvmount: container 'c0': volume entry 'tp@v")) OK_OR_LOG(r);
	EXPECT_EQ(2, count_str(r.err, "not saved: No space left on device\n")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &nc, &nv));
	EXPECT_EQ(0, nc);
	EXPECT_EQ(2, nv);
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "v1"));

	/* recover says the same while the disk stays full, and changes nothing. */
	ASSERT_LE(0, fill(self->e.state));
	lcenv_run(&self->e, &r, "recover", "--known", "none", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(2, count_str(r.err, "not saved: No space left on device\n")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));

	/* With room again, recover Unmounts both, once. */
	ASSERT_EQ(0, unfill(self->e.state));
	lcenv_run(&self->e, &r, "recover", "--known", "none", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(2, lcenv_log_count(&self->e, "Unmount", NULL));
	expect_nothing_left(_metadata, &self->e);
}

static int state_read_only(struct lcenv *e, bool ro)
{
	return mount(NULL, e->state, NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV | (ro ? MS_RDONLY : 0),
		     NULL) < 0
		   ? -errno
		   : 0;
}

TEST_F(disk, read_only_state_dir)
{
	struct lcvol v[] = { { .name = "v1", .path = "data/v1" },
			     { .name = "v2", .path = "v2" },
			     { .name = "v3", .path = "v3" } };
	char vols[PATH_MAX], vols13[PATH_MAX];
	struct run_result r;
	int nc, nv;

	ASSERT_EQ(0, state_on_small_tmpfs(&self->e, "1m"));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(
	    0, lcenv_volumes(&self->e, "vols13.json", (struct lcvol[]){ v[0], v[2] }, 2, vols13));
	prepare_ok(_metadata, &self->e, "c0", vols);
	ASSERT_EQ(0, state_read_only(&self->e, true));

	/* Nothing that needs a write starts: no Mount, no Unmount. */
	prepare(&self->e, &r, "c1", vols13);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("dvmount: container 'c1': cannot lock the record: Read-only file system\n",
		     r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, lines(r.err)) OK_OR_LOG(r);
	EXPECT_EQ(0, strncmp(r.err, "dvmount: container 'c0': ", 25)) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "Read-only file system")) OK_OR_LOG(r);
	run_result_free(&r);
	/* recover names the container it could not clean up, too. */
	lcenv_run(&self->e, &r, "recover", "--known", "none", NULL);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, lines(r.err)) OK_OR_LOG(r);
	EXPECT_EQ(0, strncmp(r.err, "dvmount: container 'c0': ", 25)) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.err, "Read-only file system")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Mount", "v1"));
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Mount") - 2);
	EXPECT_EQ(0, lcenv_log_all(&self->e, "Unmount"));

	/* status reads a read-only state dir, and sees it unchanged. */
	ASSERT_EQ(0, lcenv_status_counts(&self->e, &nc, &nv));
	EXPECT_EQ(1, nc);
	EXPECT_EQ(2, nv);
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v2"));

	ASSERT_EQ(0, state_read_only(&self->e, false));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c0", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	expect_nothing_left(_metadata, &self->e);
}

/* Write the first len bytes of text to path (a record as a torn write leaves it). */
static int write_prefix(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = len ? write(fd, text, len) : 0;
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int clear_quarantine(struct lcenv *e)
{
	char path[PATH_MAX];

	if (tu_rm_rf(tu_path(path, "%s/quarantine", e->state)) < 0)
		return -errno;
	return mkdir(path, 0700) < 0 ? -errno : 0;
}

/* status --json's container ids, joined by ' ', into buf. */
static int status_ids(struct lcenv *e, char *buf, size_t size, int *ret_quarantined)
{
	_cleanup_json_ json_object *o = NULL;
	json_object *cs;
	size_t off = 0;
	int r = lcenv_status(e, &o);

	if (r < 0)
		return r;
	buf[0] = '\0';
	cs = json_object_object_get(o, "containers");
	for (size_t i = 0; i < json_object_array_length(cs); i++)
		off +=
		    (size_t)snprintf(buf + off, off < size ? size - off : 0, "%s%s", i ? " " : "",
				     json_object_get_string(json_object_object_get(
					 json_object_array_get_idx(cs, i), "container_id")));
	*ret_quarantined = (int)json_object_array_length(json_object_object_get(o, "quarantined"));
	return 0;
}

/*
 * A container record cut short at every byte offset (0 included): never
 * believed (status shows the container nowhere, the record is set aside in
 * quarantine/, its users count for nothing), the other container untouched
 * and nothing Unmounted.
 * Then recover undoes what the cut record's container held, from its user
 * entries, and says so in one line.
 */
TEST_F(disk, record_cut_at_every_offset_is_never_believed)
{
	struct lcvol v[] = { { .name = "v1", .path = "data/v1" }, { .name = "v2", .path = "v2" } };
	char vols[PATH_MAX], vols1[PATH_MAX], rec[PATH_MAX], ids[256], good[8192];
	struct run_result r;
	ssize_t len;
	int q;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 2, vols));
	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols1.json", v, 1, vols1));
	prepare_ok(_metadata, &self->e, "c0", vols);
	prepare_ok(_metadata, &self->e, "c1", vols1);
	tu_path(rec, "%s/containers/c0.json", self->e.state);
	len = tu_read_file(rec, good, sizeof(good));
	ASSERT_LT(100, len);

	for (ssize_t k = 0; k < len; k++) {
		ASSERT_EQ(0, write_prefix(rec, good, (size_t)k));
		ASSERT_EQ(0, status_ids(&self->e, ids, sizeof(ids), &q));
		EXPECT_STREQ("c1", ids) TH_LOG("cut at %zd of %zd", k, len);
		EXPECT_EQ(1, q) TH_LOG("cut at %zd", k);
		EXPECT_EQ(-ENOENT, access(rec, F_OK) < 0 ? -errno : 0) TH_LOG("cut at %zd", k);
		ASSERT_EQ(0, clear_quarantine(&self->e));
		if (!_metadata->passed)
			break;
	}
	/* A user counts only while its container has a record (state.h): c1's alone. */
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(0, lcenv_status_refcount(&self->e, "v2"));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", NULL));

	/* The whole record is believed again; a half one is cleaned up by recover. */
	ASSERT_EQ(0, write_prefix(rec, good, (size_t)len));
	ASSERT_EQ(0, status_ids(&self->e, ids, sizeof(ids), &q));
	EXPECT_STREQ("c0 c1", ids);
	EXPECT_EQ(0, q);
	ASSERT_EQ(0, write_prefix(rec, good, (size_t)len / 2));
	lcenv_run(&self->e, &r, "recover", "--known", "c0,c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_EQ(1, lines(r.err)) OK_OR_LOG(r);
	EXPECT_EQ(0, strncmp(r.err,
			     "dvmount: warning: container 'c0': record unreadable (empty or "
			     "corrupt), set aside as quarantine/c0.json.",
			     104))
	OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_count(&self->e, "Unmount", "v2"));
	EXPECT_EQ(0, lcenv_log_count(&self->e, "Unmount", "v1"));
	EXPECT_EQ(1, lcenv_status_refcount(&self->e, "v1"));
	EXPECT_EQ(-ENOENT, lcenv_status_refcount(&self->e, "v2"));
	lcenv_run(&self->e, &r, "cleanup", "--container-id", "c1", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(0, lcenv_log_unbalanced(&self->e));
}

/*
 * A volume entry cut short at every byte offset: status says it cannot read
 * it (and shows no made-up entry); prepare refuses the volume in one line,
 * sets the entry aside, and never Mounts it again under a new ID.
 */
TEST_F(disk, volume_entry_cut_at_every_offset_is_never_believed)
{
	struct lcvol v[] = { { .name = "v1", .path = "data/v1" } };
	char vols[PATH_MAX], ent[PATH_MAX], good[8192];
	struct run_result r;
	ssize_t len;

	ASSERT_EQ(0, lcenv_volumes(&self->e, "vols.json", v, 1, vols));
	prepare_ok(_metadata, &self->e, "c0", vols);
	tu_path(ent, "%s/volumes/tp@v1/volume.json", self->e.state);
	len = tu_read_file(ent, good, sizeof(good));
	ASSERT_LT(50, len);

	for (ssize_t k = 0; k < len; k++) {
		ASSERT_EQ(0, write_prefix(ent, good, (size_t)k));
		lcenv_run(&self->e, &r, "status", "--json", NULL);
		EXPECT_EQ(0, r.status) OK_OR_LOG(r);
		EXPECT_STREQ(
		    "dvmount: warning: volume entry 'tp@v1' unreadable (empty or corrupt): "
		    "not shown\n",
		    r.err)
		TH_LOG("cut at %zd of %zd", k, len);
		EXPECT_NE(NULL, strstr(r.out, "\"volumes\":[],")) TH_LOG("cut at %zd", k);
		EXPECT_NE(NULL, strstr(r.out, "\"container_id\":\"c0\"")) TH_LOG("cut at %zd", k);
		run_result_free(&r);
		if (!_metadata->passed)
			break;
	}

	ASSERT_EQ(0, write_prefix(ent, good, (size_t)len / 2));
	prepare(&self->e, &r, "c1", vols);
	EXPECT_EQ(1, r.status) OK_OR_LOG(r);
	EXPECT_STREQ("dvmount: container 'c1': volume 'v1' of driver 'tp': state entry 'tp@v1': "
		     "unreadable (empty or corrupt), set aside in quarantine/\n",
		     r.err);
	EXPECT_STREQ("", r.out);
	run_result_free(&r);
	EXPECT_EQ(-ENOENT, access(ent, F_OK) < 0 ? -errno : 0);
	lcenv_run(&self->e, &r, "status", "--json", NULL);
	EXPECT_EQ(0, r.status) OK_OR_LOG(r);
	EXPECT_NE(NULL, strstr(r.out, "\"quarantined\":[\"volume.tp@v1.")) OK_OR_LOG(r);
	run_result_free(&r);
	EXPECT_EQ(1, lcenv_log_all(&self->e, "Mount"));
}

TEST_HARNESS_MAIN
