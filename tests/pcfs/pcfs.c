/* SPDX-License-Identifier: MIT */
/*
 * dvmount-pcfs: a FUSE filesystem for power-cut tests (issue 14). It serves
 * a directory from memory and keeps two images of it:
 *   - the visible one, what every process sees through the mount;
 *   - the durable one, what a disk would hold after a power cut, updated
 *     only as the conservative POSIX model allows:
 *       fsync()/fdatasync() of a file makes its data (and size) durable;
 *       fsync() of a directory makes its entries durable: creates, renames
 *       and unlinks in it, as they are at that moment;
 *       syncfs() of the filesystem makes all of it durable, as it is at that
 *     moment (every file's data, every directory's entries), but only once
 *     the next syncfs() has run: on an ext4 without a journal a syncfs()
 *     issues the disk's cache flush before it writes the inode and bitmap
 *     blocks its own writeback dirtied (fs/sync.c sync_filesystem(), then
 *     ext4_sync_fs() and ext4_write_inode(), Linux 6.1), so those wait in a
 *     volatile write cache for the next flush, which the next syncfs()
 *     always issues (a fsync() only when its file was dirty: not counted).
 *     A syncfs() of another filesystem makes nothing durable here.
 *     Nothing else does: a file whose entry is durable but whose data never
 *     was comes back empty (MESOS-9507's empty record); a rename whose
 *     directory was not fsync()ed comes back as the old file.
 *     An unsynced write or truncate of a file whose data was once durable
 *     may reach the disk in part: it comes back torn (the first half of its
 *     visible data over the rest of its durable data), the worst a disk can
 *     do to a file rewritten in place. A file never synced stays empty.
 *     RENAME_EXCHANGE swaps two entries, durable, as a rename is, only
 *     with its directory's fsync.
 * syncfs() never reaches a FUSE server (the kernel sends FUSE_SYNCFS only to
 * virtiofs): a program's syncfs() reaches the model only when it runs under
 * "dvmount-pcfs --syncfs-of DIR CMD..." (below), which stops each syncfs
 * of CMD and its children (seccomp user notification) and has the server
 * apply it (setxattr "user.pcfs.syncfs" on DIR, the caller's pid as value)
 * before the call goes on. Without it a syncfs makes nothing durable here:
 * a program relying on it fails this model, never passes by accident.
 * sync() is not modelled (dvmount never calls it). Modes and owners
 * are not modelled (chmod/chown are kept in both images at once); flock is
 * left to the kernel (no .flock operation: local locks on the mount).
 *
 * Usage: dvmount-pcfs [--cut-at-sync N | --cut-after-sync N] DIR
 *        dvmount-pcfs --syncfs-of DIR CMD [ARG...]
 * Loads DIR's tree (regular files and directories; all of it durable, as
 * after a sync), mounts itself over DIR, prints "ready" and serves, single
 * threaded. On SIGUSR1 (a power cut) it unmounts and writes the DURABLE
 * image into DIR (through a descriptor taken before mounting), replacing
 * what was there; on SIGTERM or SIGINT (a clean shutdown) the visible one.
 * Exit 0 once DIR holds the image, 1 on any failure.
 *
 * A power cut at a sync barrier: the durable image changes only at a sync,
 * so a cut at any moment leaves the image of just after some sync, and the
 * plugin in whatever state the calls made since left it. With --cut-at-sync
 * N, the Nth sync (fsync, fdatasync, a directory's fsync or a syncfs) counted from a
 * SIGUSR2 (which arms the count) is not applied: the process that asked for
 * it is killed (SIGKILL) there and nothing becomes durable any more, as if
 * the power went just before it. --cut-after-sync N applies the Nth sync
 * first: the power went just after it, before the caller went on.
 */
#define FUSE_USE_VERSION 31

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/macro.h"

#define PCFS_DEPTH_MAX 32	  /* directory levels loaded and written */
#define PCFS_FILE_MAX (16u << 20) /* bytes of one file */
#define PCFS_ENTRIES_MAX 65536	  /* entries of one directory */

struct pcfs_node;

struct pcfs_entry {
	char *name;
	struct pcfs_node *node;
};

/* A directory's entries: one list per image. */
struct pcfs_dir {
	struct pcfs_entry *e;
	size_t n;
};

/* Nodes are never freed: a durable entry may name a node the visible image unlinked. */
struct pcfs_node {
	mode_t mode;
	uid_t uid;
	gid_t gid;
	unsigned long ino;
	struct timespec mtime;
	/* regular files */
	char *data, *ddata;
	size_t len, dlen;
	/* ddata came from a sync (or the load); data changed since in place */
	bool synced, dirty;
	/* directories */
	struct pcfs_dir vis, dur;
	/* what the last syncfs() wrote, durable at the next one (see the top) */
	char *pdata;
	size_t plen;
	struct pcfs_dir pend;
	bool pending;
	/* every node, so that none is ever unreachable (LeakSanitizer in make asan) */
	struct pcfs_node *all_next;
};

static struct pcfs_node *root, *all_nodes;
static unsigned long next_ino = 1;
static volatile sig_atomic_t cut;
static struct fuse *fs;
/* The cut at a sync barrier: 0 none; armed by SIGUSR2; frozen once it happened. */
static unsigned long cut_sync;
static bool cut_applied, frozen;
static volatile sig_atomic_t armed;
static unsigned long syncs;

/*
 * Should this sync become durable? Counts it once armed; at the chosen one,
 * kills the caller, and from then on nothing is durable (the power is off).
 */
static bool sync_allowed_for(pid_t caller)
{
	if (frozen)
		return false;
	if (!armed || !cut_sync || ++syncs != cut_sync)
		return true;
	frozen = true;
	kill(caller, SIGKILL);
	return cut_applied;
}

static bool sync_allowed(void)
{
	return sync_allowed_for(fuse_get_context()->pid);
}

static struct pcfs_node *node_new(mode_t mode, uid_t uid, gid_t gid)
{
	struct pcfs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->mode = mode;
	n->uid = uid;
	n->gid = gid;
	n->ino = next_ino++;
	n->all_next = all_nodes;
	all_nodes = n;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
	return n;
}

static struct pcfs_entry *dir_find(struct pcfs_dir *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->e[i].name, name))
			return &d->e[i];
	return NULL;
}

static int dir_set(struct pcfs_dir *d, const char *name, struct pcfs_node *n)
{
	struct pcfs_entry *e = dir_find(d, name), *grown;
	char *copy;

	if (e) {
		e->node = n;
		return 0;
	}
	if (d->n >= PCFS_ENTRIES_MAX)
		return -ENOSPC;
	copy = strdup(name);
	grown = realloc(d->e, (d->n + 1) * sizeof(*d->e));
	if (!copy || !grown) {
		free(copy);
		if (grown)
			d->e = grown;
		return -ENOMEM;
	}
	d->e = grown;
	d->e[d->n++] = (struct pcfs_entry){ .name = copy, .node = n };
	return 0;
}

static void dir_del(struct pcfs_dir *d, const char *name)
{
	struct pcfs_entry *e = dir_find(d, name);

	if (!e)
		return;
	free(e->name);
	*e = d->e[--d->n];
}

/* dst := a copy of src (the node pointers shared): a directory's fsync. */
static int dir_copy(struct pcfs_dir *dst, const struct pcfs_dir *src)
{
	struct pcfs_entry *e = calloc(src->n + 1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < src->n; i++) {
		e[i].node = src->e[i].node;
		e[i].name = strdup(src->e[i].name);
		if (!e[i].name) {
			while (i--)
				free(e[i].name);
			free(e);
			return -ENOMEM;
		}
	}
	for (size_t i = 0; i < dst->n; i++)
		free(dst->e[i].name);
	free(dst->e);
	dst->e = e;
	dst->n = src->n;
	return 0;
}

/* The durable data := the visible data: a file's fsync or fdatasync. */
static int file_sync(struct pcfs_node *n)
{
	char *copy = malloc(n->len + 1);

	if (!copy)
		return -ENOMEM;
	memcpy(copy, n->data ? n->data : "", n->len);
	free(n->ddata);
	n->ddata = copy;
	n->dlen = n->len;
	n->synced = true;
	n->dirty = false;
	/* Newer than what a syncfs() left pending: that is not written over it. */
	n->pending = false;
	return 0;
}

/* The durable entries := the visible ones: a directory's fsync. */
static int dir_sync(struct pcfs_node *n)
{
	/* Newer than what a syncfs() left pending: that is not written over it. */
	n->pending = false;
	return dir_copy(&n->dur, &n->vis);
}

/* The visible node at path, and its parent and last component when asked. */
static struct pcfs_node *lookup(const char *path, struct pcfs_node **ret_parent,
				const char **ret_last)
{
	struct pcfs_node *n = root, *parent = NULL;
	char comp[NAME_MAX + 1];
	const char *p = path, *last = "";

	while (*p) {
		size_t len;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		len = strcspn(p, "/");
		if (len > NAME_MAX || !n || !S_ISDIR(n->mode))
			return NULL;
		memcpy(comp, p, len);
		comp[len] = '\0';
		parent = n;
		last = p;
		{
			struct pcfs_entry *e = dir_find(&n->vis, comp);

			n = e ? e->node : NULL;
		}
		p += len;
		if (!n && *p && p[strspn(p, "/")])
			return NULL; /* a missing directory in the middle */
	}
	if (ret_parent)
		*ret_parent = parent;
	if (ret_last)
		*ret_last = last;
	return n;
}

/* The parent directory of path and its last component (copied into name). */
static int parent_of(const char *path, struct pcfs_node **ret_parent, char name[NAME_MAX + 1])
{
	struct pcfs_node *parent;
	const char *last;
	size_t len;

	lookup(path, &parent, &last);
	if (!parent || !S_ISDIR(parent->mode))
		return -ENOENT;
	len = strcspn(last, "/");
	if (len == 0 || len > NAME_MAX)
		return -EINVAL;
	memcpy(name, last, len);
	name[len] = '\0';
	*ret_parent = parent;
	return 0;
}

static struct pcfs_node *node_of(const char *path, struct fuse_file_info *fi)
{
	if (fi && fi->fh)
		return (struct pcfs_node *)(uintptr_t)fi->fh;
	return path ? lookup(path, NULL, NULL) : NULL;
}

static int pc_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	if (!n)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	st->st_mode = n->mode;
	st->st_nlink = S_ISDIR(n->mode) ? 2 : 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = S_ISDIR(n->mode) ? 4096 : (off_t)n->len;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = st->st_ctim = st->st_atim = n->mtime;
	return 0;
}

static int pc_access(const char *path, int mask)
{
	(void)mask;
	return lookup(path, NULL, NULL) ? 0 : -ENOENT;
}

static int pc_opendir(const char *path, struct fuse_file_info *fi)
{
	struct pcfs_node *n = lookup(path, NULL, NULL);

	if (!n)
		return -ENOENT;
	if (!S_ISDIR(n->mode))
		return -ENOTDIR;
	fi->fh = (uintptr_t)n;
	return 0;
}

static int pc_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
		      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
	struct pcfs_node *n = node_of(path, fi);

	(void)off;
	(void)flags;
	if (!n || !S_ISDIR(n->mode))
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (size_t i = 0; i < n->vis.n; i++)
		if (fill(buf, n->vis.e[i].name, NULL, 0, 0))
			break;
	return 0;
}

/* A new node named name in parent's visible image; -EEXIST when taken. */
static int add_node(const char *path, mode_t mode, struct pcfs_node **ret)
{
	struct fuse_context *ctx = fuse_get_context();
	struct pcfs_node *parent, *n;
	char name[NAME_MAX + 1];
	int r = parent_of(path, &parent, name);

	if (r < 0)
		return r;
	if (dir_find(&parent->vis, name))
		return -EEXIST;
	n = node_new(mode, ctx->uid, ctx->gid);
	if (!n)
		return -ENOMEM;
	r = dir_set(&parent->vis, name, n);
	if (r < 0)
		return r;
	clock_gettime(CLOCK_REALTIME, &parent->mtime);
	*ret = n;
	return 0;
}

static int pc_mkdir(const char *path, mode_t mode)
{
	struct pcfs_node *n;

	return add_node(path, S_IFDIR | (mode & 07777), &n);
}

static int pc_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct pcfs_node *n;
	int r;

	r = add_node(path, S_IFREG | (mode & 07777), &n);
	if (r < 0)
		return r;
	fi->fh = (uintptr_t)n;
	return 0;
}

static int pc_open(const char *path, struct fuse_file_info *fi)
{
	struct pcfs_node *n = lookup(path, NULL, NULL);

	if (!n)
		return -ENOENT;
	if (S_ISDIR(n->mode))
		return -EISDIR;
	if (fi->flags & O_TRUNC)
		n->len = 0;
	fi->fh = (uintptr_t)n;
	return 0;
}

static int pc_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	if (!n)
		return -ENOENT;
	if (off < 0 || (size_t)off >= n->len)
		return 0;
	size = MIN(size, n->len - (size_t)off);
	memcpy(buf, n->data + off, size);
	return (int)size;
}

/* Grow or shrink the visible data to len, zero-filling. */
static int resize(struct pcfs_node *n, size_t len)
{
	char *grown;

	if (len > PCFS_FILE_MAX)
		return -EFBIG;
	grown = realloc(n->data, len + 1);
	if (!grown)
		return -ENOMEM;
	if (len > n->len)
		memset(grown + n->len, 0, len - n->len);
	n->data = grown;
	n->len = len;
	n->dirty = n->synced;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
	return 0;
}

static int pc_write(const char *path, const char *buf, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);
	int r;

	if (!n)
		return -ENOENT;
	if (off < 0 || size > PCFS_FILE_MAX || (size_t)off > PCFS_FILE_MAX - size)
		return -EFBIG;
	if ((size_t)off + size > n->len) {
		r = resize(n, (size_t)off + size);
		if (r < 0)
			return r;
	}
	memcpy(n->data + off, buf, size);
	n->dirty = n->synced;
	return (int)size;
}

static int pc_truncate(const char *path, off_t len, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	if (!n)
		return -ENOENT;
	if (S_ISDIR(n->mode))
		return -EISDIR;
	return len < 0 ? -EINVAL : resize(n, (size_t)len);
}

static int pc_unlink(const char *path)
{
	struct pcfs_node *parent, *n = lookup(path, &parent, NULL);
	char name[NAME_MAX + 1];
	int r;

	if (!n)
		return -ENOENT;
	if (S_ISDIR(n->mode))
		return -EISDIR;
	r = parent_of(path, &parent, name);
	if (r < 0)
		return r;
	dir_del(&parent->vis, name);
	return 0;
}

static int pc_rmdir(const char *path)
{
	struct pcfs_node *parent, *n = lookup(path, &parent, NULL);
	char name[NAME_MAX + 1];
	int r;

	if (!n)
		return -ENOENT;
	if (!S_ISDIR(n->mode))
		return -ENOTDIR;
	if (n->vis.n)
		return -ENOTEMPTY;
	r = parent_of(path, &parent, name);
	if (r < 0)
		return r;
	dir_del(&parent->vis, name);
	return 0;
}

static int pc_rename(const char *from, const char *to, unsigned int flags)
{
	struct pcfs_node *fp, *tp, *n = lookup(from, NULL, NULL), *old = lookup(to, NULL, NULL);
	char fname[NAME_MAX + 1], tname[NAME_MAX + 1];
	int r;

	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE) ||
	    (flags & RENAME_NOREPLACE && flags & RENAME_EXCHANGE))
		return -EINVAL;
	if (!n)
		return -ENOENT;
	if (flags & RENAME_EXCHANGE) {
		if (!old)
			return -ENOENT;
		r = parent_of(from, &fp, fname);
		if (r == 0)
			r = parent_of(to, &tp, tname);
		if (r < 0)
			return r;
		/* Both names exist: set them, no entry added or removed. */
		dir_find(&tp->vis, tname)->node = n;
		dir_find(&fp->vis, fname)->node = old;
		return 0;
	}
	if (old && (flags & RENAME_NOREPLACE))
		return -EEXIST;
	if (old && S_ISDIR(old->mode) && (!S_ISDIR(n->mode) || old->vis.n))
		return S_ISDIR(n->mode) ? -ENOTEMPTY : -EISDIR;
	if (old && !S_ISDIR(old->mode) && S_ISDIR(n->mode))
		return -ENOTDIR;
	r = parent_of(from, &fp, fname);
	if (r == 0)
		r = parent_of(to, &tp, tname);
	if (r < 0)
		return r;
	if (n == old)
		return 0;
	r = dir_set(&tp->vis, tname, n);
	if (r < 0)
		return r;
	dir_del(&fp->vis, fname);
	return 0;
}

static int pc_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	if (!n)
		return -ENOENT;
	n->mode = (n->mode & S_IFMT) | (mode & 07777);
	return 0;
}

static int pc_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	if (!n)
		return -ENOENT;
	if (uid != (uid_t)-1)
		n->uid = uid;
	if (gid != (gid_t)-1)
		n->gid = gid;
	return 0;
}

static int pc_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	(void)tv;
	if (!n)
		return -ENOENT;
	clock_gettime(CLOCK_REALTIME, &n->mtime);
	return 0;
}

/* fsync and fdatasync alike: the data and size are all a file has here. */
static int pc_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	(void)datasync;
	if (!n)
		return -ENOENT;
	if (!sync_allowed())
		return 0;
	return S_ISDIR(n->mode) ? dir_sync(n) : file_sync(n);
}

static int pc_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct pcfs_node *n = node_of(path, fi);

	(void)datasync;
	if (!n || !S_ISDIR(n->mode))
		return -ENOTDIR;
	if (!sync_allowed())
		return 0;
	return dir_sync(n);
}

/*
 * syncfs(), first half: every visible file's data and directory's entries
 * become pending, durable at the next syncfs() (see the top).
 */
static int sync_tree(struct pcfs_node *n, int depth)
{
	int r;

	if (depth > PCFS_DEPTH_MAX)
		return -ELOOP;
	n->pending = true;
	if (S_ISREG(n->mode)) {
		char *copy = malloc(n->len + 1);

		if (!copy)
			return -ENOMEM;
		memcpy(copy, n->data ? n->data : "", n->len);
		free(n->pdata);
		n->pdata = copy;
		n->plen = n->len;
		return 0;
	}
	if (!S_ISDIR(n->mode))
		return 0;
	r = dir_copy(&n->pend, &n->vis);
	for (size_t i = 0; r == 0 && i < n->vis.n; i++)
		r = sync_tree(n->vis.e[i].node, depth + 1);
	return r;
}

/* syncfs(), second half: what the one before made pending is durable now. */
static int sync_pending(void)
{
	for (struct pcfs_node *n = all_nodes; n; n = n->all_next) {
		if (!n->pending)
			continue;
		n->pending = false;
		if (S_ISDIR(n->mode)) {
			int r = dir_copy(&n->dur, &n->pend);

			if (r < 0)
				return r;
		} else if (S_ISREG(n->mode)) {
			/* Written in place since the syncfs: torn at a cut, as after any sync. */
			n->dirty = n->len != n->plen ||
				   memcmp(n->data ? n->data : "", n->pdata, n->plen) != 0;
			n->synced = true;
			free(n->ddata);
			n->ddata = n->pdata;
			n->dlen = n->plen;
			n->pdata = NULL;
		}
	}
	return 0;
}

#define SYNCFS_XATTR "user.pcfs.syncfs"

/*
 * The syncfs() of the process whose pid is value (decimal), sent by
 * --syncfs-of: counted as a sync barrier like the others, and the process
 * killed there when the cut falls on it.
 */
static int pc_setxattr(const char *path, const char *name, const char *value, size_t size,
		       int flags)
{
	char num[16];
	long pid;
	int r;

	(void)path;
	(void)flags;
	if (strcmp(name, SYNCFS_XATTR))
		return -ENOTSUP;
	if (size == 0 || size >= sizeof(num))
		return -EINVAL;
	memcpy(num, value, size);
	num[size] = '\0';
	pid = strtol(num, NULL, 10);
	if (pid <= 0)
		return -EINVAL;
	if (!sync_allowed_for((pid_t)pid))
		return 0;
	r = sync_pending();
	return r < 0 ? r : sync_tree(root, 0);
}

static int pc_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = sv->f_frsize = 4096;
	sv->f_blocks = sv->f_bfree = sv->f_bavail = 1 << 16;
	sv->f_files = sv->f_ffree = sv->f_favail = 1 << 16;
	sv->f_namemax = NAME_MAX;
	return 0;
}

static void *pc_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	/* Every answer comes from here: nothing cached, unlinked files stay reachable by fd. */
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	cfg->hard_remove = 1;
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1;
	return NULL;
}

static const struct fuse_operations ops = {
	.init = pc_init,
	.getattr = pc_getattr,
	.access = pc_access,
	.opendir = pc_opendir,
	.readdir = pc_readdir,
	.mkdir = pc_mkdir,
	.create = pc_create,
	.open = pc_open,
	.read = pc_read,
	.write = pc_write,
	.truncate = pc_truncate,
	.unlink = pc_unlink,
	.rmdir = pc_rmdir,
	.rename = pc_rename,
	.chmod = pc_chmod,
	.chown = pc_chown,
	.utimens = pc_utimens,
	.fsync = pc_fsync,
	.fsyncdir = pc_fsyncdir,
	.setxattr = pc_setxattr,
	.statfs = pc_statfs,
};

/* --- loading and writing images ------------------------------------------------------- */

static int load_file(int dirfd, const char *name, struct pcfs_node *n)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;
	ssize_t got;

	if (fd < 0 || fstat(fd, &st) < 0)
		return negerrno();
	if ((size_t)st.st_size > PCFS_FILE_MAX)
		return -EFBIG;
	n->data = malloc((size_t)st.st_size + 1);
	if (!n->data)
		return -ENOMEM;
	got = read(fd, n->data, (size_t)st.st_size);
	if (got != st.st_size)
		return got < 0 ? negerrno() : -EIO;
	n->len = (size_t)got;
	return file_sync(n);
}

/* Read the tree under dirfd into n (a directory node); all of it durable. */
static int load_dir(int dirfd, struct pcfs_node *n, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > PCFS_DEPTH_MAX)
		return -ELOOP;
	/* The dup shares the offset with dirfd, which an earlier listing left at the end. */
	d = fdopendir(dup(dirfd));
	if (!d)
		return negerrno();
	rewinddir(d);
	while (r == 0 && (de = readdir(d))) {
		struct pcfs_node *c;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = negerrno();
			break;
		}
		if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
			continue;
		c = node_new(st.st_mode, st.st_uid, st.st_gid);
		if (!c) {
			r = -ENOMEM;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			r = sub < 0 ? negerrno() : load_dir(sub, c, depth + 1);
			if (sub >= 0)
				close(sub);
		} else {
			r = load_file(dirfd, de->d_name, c);
		}
		if (r == 0)
			r = dir_set(&n->vis, de->d_name, c);
	}
	closedir(d);
	return r < 0 ? r : dir_copy(&n->dur, &n->vis);
}

/* Remove everything under dirfd. */
static int wipe(int dirfd, int depth)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (depth > PCFS_DEPTH_MAX)
		return -ELOOP;
	/* The dup shares the offset with dirfd, which an earlier listing left at the end. */
	d = fdopendir(dup(dirfd));
	if (!d)
		return negerrno();
	rewinddir(d);
	while (r == 0 && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (de->d_type == DT_DIR) {
			int sub = openat(dirfd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			r = sub < 0 ? negerrno() : wipe(sub, depth + 1);
			if (sub >= 0)
				close(sub);
			if (r == 0 && unlinkat(dirfd, de->d_name, AT_REMOVEDIR) < 0)
				r = negerrno();
		} else if (unlinkat(dirfd, de->d_name, 0) < 0) {
			r = negerrno();
		}
	}
	closedir(d);
	return r;
}

/* Write n's entries of one image (durable or visible) under dirfd. */
static int store_dir(int dirfd, const struct pcfs_node *n, bool durable, int depth)
{
	const struct pcfs_dir *entries = durable ? &n->dur : &n->vis;
	int r = 0;

	if (depth > PCFS_DEPTH_MAX)
		return -ELOOP;
	for (size_t i = 0; r == 0 && i < entries->n; i++) {
		const struct pcfs_node *c = entries->e[i].node;
		const char *name = entries->e[i].name;
		_cleanup_close_ int fd = -EBADF;

		if (S_ISDIR(c->mode)) {
			if (mkdirat(dirfd, name, c->mode & 07777) < 0)
				return negerrno();
			fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			r = fd < 0 ? negerrno() : store_dir(fd, c, durable, depth + 1);
		} else {
			const char *data = durable ? c->ddata : c->data;
			size_t len = durable ? c->dlen : c->len;
			_cleanup_free_ char *torn = NULL;

			/* Rewritten in place since its last sync: the disk got part of it. */
			if (durable && c->dirty) {
				size_t half = c->len / 2;

				len = MAX(half, c->dlen);
				torn = calloc(1, len + 1);
				if (!torn)
					return -ENOMEM;
				memcpy(torn, c->ddata, c->dlen);
				memcpy(torn, c->data, half);
				data = torn;
			}

			fd = openat(dirfd, name,
				    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				    c->mode & 07777);
			if (fd < 0)
				return negerrno();
			if (len && write(fd, data, len) != (ssize_t)len)
				r = -EIO;
		}
		if (r == 0 && (fchown(fd, c->uid, c->gid) < 0 || fchmod(fd, c->mode & 07777) < 0))
			r = negerrno();
	}
	return r;
}

/*
 * make asan: libfuse3 frees a directory handle only when the kernel's
 * RELEASEDIR arrives, which a server that exits may never see, so
 * LeakSanitizer would fail every run. Our own nodes stay reachable
 * (all_nodes); the other checks of ASan and UBSan stay on.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

static void on_arm(int sig)
{
	(void)sig;
	armed = 1;
}

static void on_cut(int sig)
{
	cut = sig == SIGUSR1;
	if (fs)
		fuse_exit(fs);
}

/* --- syncfs of a command, through seccomp user notification ------------------------- */

/* In the child: syncfs stops for the listener, whose fd goes to sock. */
static int syncfs_filter(int sock)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_syncfs, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(insns), .filter = insns };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 0;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	int fd = (int)syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER,
			      SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);

	if (fd < 0)
		return negerrno();
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(sock, &msg, 0) != 1) {
		close(fd);
		return negerrno();
	}
	close(fd);
	return 0;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov,
			      .msg_iovlen = 1,
			      .msg_control = cbuf,
			      .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -EIO;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EIO;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/*
 * Does the stopped syncfs(fd) reach DIR's filesystem, the model? A syncfs
 * syncs the filesystem of its fd and no other: one of another filesystem (a
 * state dir whose volumes/ is a mount of its own) makes nothing durable
 * here, and a model that applied it anyway would hide that. The fd is looked
 * at through /proc/PID/fd while the caller is still stopped in the call.
 */
static bool syncfs_reaches(int listener, struct seccomp_notif *req, const char *dir)
{
	char fdpath[64];
	struct stat fsb, dsb;
	__u64 id = req->id;

	snprintf(fdpath, sizeof(fdpath), "/proc/%d/fd/%d", (int)req->pid, (int)req->data.args[0]);
	if (stat(fdpath, &fsb) < 0 || stat(dir, &dsb) < 0)
		return false;
	/* Still the same call of the same process: its pid was not reused meanwhile. */
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0)
		return false;
	return fsb.st_dev == dsb.st_dev;
}

/*
 * dvmount-pcfs --syncfs-of DIR CMD...: runs CMD; each syncfs of it or its
 * children is first applied by the server of DIR (the model), then goes on.
 * Exits as CMD did (killed by the same signal, or its exit status).
 */
static int syncfs_of(const char *dir, char *argv[])
{
	struct seccomp_notif_sizes sizes;
	_cleanup_free_ struct seccomp_notif *req = NULL;
	_cleanup_free_ struct seccomp_notif_resp *resp = NULL;
	int sv[2], status, listener;
	pid_t pid;

	if (syscall(__NR_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return 125;
	req = calloc(1, sizes.seccomp_notif > sizeof(*req) ? sizes.seccomp_notif : sizeof(*req));
	resp = calloc(1, sizes.seccomp_notif_resp > sizeof(*resp) ? sizes.seccomp_notif_resp
								  : sizeof(*resp));
	if (!req || !resp)
		return 125;
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		close(sv[0]);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (syncfs_filter(sv[1]) < 0)
			_exit(125);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	listener = recv_fd(sv[0]);
	close(sv[0]);
	for (;;) {
		struct pollfd p = { .fd = listener, .events = POLLIN };
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (listener < 0 || poll(&p, 1, 20) <= 0 || !(p.revents & POLLIN))
			continue;
		memset(req, 0, sizes.seccomp_notif);
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
			continue;
		if (req->data.nr == __NR_syncfs && syncfs_reaches(listener, req, dir)) {
			char num[16];

			snprintf(num, sizeof(num), "%d", (int)req->pid);
			/* Applied (or the caller killed at the cut) before the call goes on. */
			setxattr(dir, SYNCFS_XATTR, num, strlen(num), 0);
		}
		memset(resp, 0, sizes.seccomp_notif_resp);
		resp->id = req->id;
		resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp);
	}
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		kill(getpid(), WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 125;
}

int main(int argc, char *argv[])
{
	char *fargv[] = { argv[0], "-o", "fsname=dvmount-pcfs,default_permissions", NULL };
	struct fuse_args args = FUSE_ARGS_INIT(3, fargv);
	struct sigaction sa = { .sa_handler = on_cut }, arm = { .sa_handler = on_arm };
	_cleanup_close_ int dirfd = -EBADF;
	const char *dir;
	struct stat st;
	int r;

	if (argc >= 4 && !strcmp(argv[1], "--syncfs-of"))
		return syncfs_of(argv[2], argv + 3);
	if (argc == 4 &&
	    (!strcmp(argv[1], "--cut-at-sync") || !strcmp(argv[1], "--cut-after-sync"))) {
		cut_applied = !strcmp(argv[1], "--cut-after-sync");
		cut_sync = strtoul(argv[2], NULL, 10);
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: dvmount-pcfs [--cut-at-sync N | --cut-after-sync N] DIR\n");
		return 1;
	}
	dir = argv[1];
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dirfd < 0 || fstat(dirfd, &st) < 0) {
		perror(dir);
		return 1;
	}
	root = node_new(st.st_mode, st.st_uid, st.st_gid);
	r = root ? load_dir(dirfd, root, 0) : -ENOMEM;
	if (r < 0) {
		fprintf(stderr, "dvmount-pcfs: loading '%s': %s\n", dir, strerror(-r));
		return 1;
	}
	/* No SA_RESTART: the read of /dev/fuse must return for the loop to see fuse_exit. */
	sigemptyset(&sa.sa_mask);
	sigemptyset(&arm.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGUSR2, &arm, NULL) < 0)
		return 1;
	fs = fuse_new(&args, &ops, sizeof(ops), NULL);
	if (!fs || fuse_mount(fs, dir) < 0) {
		fprintf(stderr, "dvmount-pcfs: cannot mount on '%s'\n", dir);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	r = fuse_loop(fs);
	fuse_unmount(fs);
	if (r < 0 && r != -EINTR)
		fprintf(stderr, "dvmount-pcfs: %s\n", strerror(-r));
	r = wipe(dirfd, 0);
	if (r == 0)
		r = store_dir(dirfd, root, cut, 0);
	if (r < 0) {
		fprintf(stderr, "dvmount-pcfs: writing the %s image: %s\n",
			cut ? "durable" : "visible", strerror(-r));
		return 1;
	}
	fuse_destroy(fs);
	fuse_opt_free_args(&args);
	return 0;
}
