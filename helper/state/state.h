/* SPDX-License-Identifier: MIT */
/*
 * The state store: what prepare, cleanup, recover and status remember across
 * crashes, reboots and concurrent runs. It never loses track of a volume.
 *
 * helper/state/ owns the state dir: its layout, records, locks, durability
 * and quarantine. It must not know the commands, the lifecycle, the plugin
 * protocol or the policy: it includes only its own headers, common/ and
 * system and library headers (make layers-check), and never prints. This
 * header is the directory's only public one; state-internal.h is for its
 * own files.
 *
 * Layout under the state dir (owned by root or the euid, mode 0700, not a
 * symlink, not group/world writable):
 *
 *   containers/<cid>.json        the container record (JSON object, opaque here)
 *   containers/<cid>.lock        flock: prepare/cleanup/recover of one container
 *                                (the file's name is the lock, not its inode)
 *   containers/.lock-spare.<i>   at most 4 lock files of removed containers,
 *                                renamed to the next containers' lock names:
 *                                no inode allocated or freed per container
 *   containers/.rec-spare.<i>    at most 4 files of unsynced records, removed
 *                                or displaced, for the next records (see
 *                                "Spares" below)
 *   volumes/<key>/volume.json    {"driver", "name", "mount_id", "host_path",
 *                                 "state", ...} (state_vol_get)
 *   volumes/<key>/users/<cid>    one empty file per container using the volume,
 *                                so a count costs O(users of that volume); it
 *                                counts only while <cid> has a record (every
 *                                entry is a hard link to volumes/.user: no
 *                                inode allocated or freed per volume or run)
 *   volumes/.user                the empty file 0600 the user entries link
 *   volumes/<key>/lock           flock of the volume
 *   slots/<i>@<driver>           flock: call slot i of a plugin (helper/plugin/plugin-internal.h)
 *   slots/wait@<driver>          flock (shared): processes waiting for a slot
 *   quarantine/<origin>.<sec>.<nsec>
 *                                empty, truncated or invalid records, set aside
 *                                (Mesos aborted recovery on one: never again)
 *
 * <key> is state_volume_key(driver, name). Names starting with '.' are temp
 * files of state_write_atomic() and spares: listings ignore them, recover
 * removes the temp files (".tmp.*").
 *
 * Every write is atomic (temp file, rename). Only the writes that recovery
 * needs are durable (fsync of the file and of its directory): a constant
 * number per operation, whatever its number of volumes (issue 11).
 * Where one operation must make a batch of volume entries durable (each in
 * its own directory), it writes them all, then makes them durable with one
 * syncfs(2) barrier of the filesystem volumes/ is on (not necessarily the
 * state dir's: a mount there), not a fsync per file and directory (2n + 1
 * calls: 130 for 64 volumes). A barrier is two syncfs calls: on an ext4
 * without a journal one syncfs issues the disk's cache flush before it
 * writes the inode blocks its own writeback dirtied, which then wait in a
 * volatile cache for the next flush (state-volume.c sync_state_fs()).
 * Why syncfs, not a bounded hybrid (per-entry fsyncs up to some k) or a
 * hand-off record: the count
 * is the same at every n, so one power-cut test cuts at every sync of
 * every n; the layout gains no file; and a hand-off record would outlive
 * its container. Its cost: one flush of all the filesystem's dirty data,
 * which grows with other writers' on that filesystem (facts/durability.md),
 * so it is used only where the per-entry way grows with n (a holder
 * leaving while others use its volumes, the last user's cleanup after
 * that), never on the common paths (an attach-only prepare or cleanup
 * syncs nothing, a first prepare its one record).
 * A rewrite that replaces a durable version by rename syncs the new file's
 * data first (STATE_DATA_SYNC, one fdatasync, no directory fsync): on ext4
 * with noauto_da_alloc or on XFS the rename of an unsynced file can reach
 * the disk before its data, and a power cut then leaves an empty file where
 * the durable intent was. The rename itself may be lost, which leaves the
 * old durable version: safe. A first, non-durable write and the index
 * writes replace nothing durable and take no sync.
 *
 * Why this is crash-safe. The container records are the one durable intent
 * log; volumes/ is an index of them, written without fsync.
 *  - A killed process (kill -9, OOM, a crash of dvmount) loses nothing that
 *    reached the page cache: every write, durable or not, is seen by the
 *    next run exactly as if it had been fsync()ed.
 *  - A power cut or a kernel crash loses writes that were not fsync()ed.
 *    What survives it: each record that names a mount id the plugin may
 *    hold, made durable (STATE_DURABLE) before the first plugin Mount under
 *    that id; a record's removal, made durable only after its volumes were
 *    released or their still-held entries made durable (state_volume_sync);
 *    and the entries of a pinned user (state_pin_user), synced by their
 *    writer. What may be lost is derivable: a volume entry comes back from
 *    the mount id, driver, name and host path in the records that use it
 *    (the lifecycle re-derives a missing or torn one before it releases a
 *    volume), and a lost user entry can only be that of a container the
 *    reboot killed.
 *  - Only what adds a mount id is durable. A prepare that plans no Mount
 *    (every volume's mount reused: attach-only) writes no durable record
 *    and syncs nothing; its record says "durable": false, and its cleanup,
 *    when it sends no Unmount, removes it without a sync. The invariant
 *    that makes this safe: every mount id the plugin may hold has, on the
 *    disk, a durable proof, either the durable record of the container
 *    that sent its Mount, or its volume entry made durable and marked
 *    "durable" (state_volume_save_durable()); the proof goes only after
 *    the id is released (Unmount answered, or the plugin holds nothing),
 *    or once another proof is durable. Each step keeps it:
 *     . a Mount is sent only after its container's record is durable;
 *     . an attach-only prepare reuses ids already proven, and adds none;
 *     . a cleanup (or undo) of a durable record, or of one that cannot be
 *       told (no "durable" key: older than it; a record set aside as
 *       corrupt), makes every entry that other users still hold durable
 *       before its record's durable removal: those users' records may be
 *       attach-only ones that a power cut takes;
 *     . an entry marked durable is rewritten data-synced only
 *       (state_volume_save_flags(); a power cut leaves one whole version,
 *       and a rewrite that is lost leaves the older id: so a holder's
 *       cleanup makes the entry durable again whether marked or not), and
 *       removed durably, so that a released id never comes back in place
 *       of the unsynced entry of a newer Mount;
 *     . a record that never was durable proves nothing: losing it, or
 *       losing its removal (a record of a container the power cut killed,
 *       which recover --gc-dead undoes), loses no proof. Its removal is
 *       still durable when the run sent an Unmount: a record come back
 *       would have recover derive the released entry again and send that
 *       Unmount a second time.
 *    After the cut, recover --gc-dead finds every proof (the records, and
 *    the volume entries, swept for live users, state_user_prune) and
 *    Unmounts each id once its users are gone; every container died with
 *    the power, so none of them is in use but a pinned user's, whose
 *    entries are synced by their writer.
 *  - A user entry counts only while its container has a record (or a
 *    quarantined one, whose volumes nobody can tell) or it is the pinned
 *    user: an entry torn or orphaned by a crash, a lost record removal or
 *    a bug never keeps a volume mounted (state_user_prune drops it).
 *
 * Spares: an unsynced record version costs no new inode (issue 11: on an
 * ext4 without a journal, allocating and freeing them was a third of an
 * attach-only prepare). It is written into a spare file (one pwritev, with
 * spaces after it where the old content was longer, which every reader
 * skips: state_parse_object; no ftruncate) and exchanged with the record
 * (renameat2 RENAME_EXCHANGE); the displaced
 * version is the next spare; an unsynced removal moves the record into
 * containers/.rec-spare.<i> (at most 4; beyond, unlinked), where the next
 * container's writes take it (a rename to a private temp name: one winner).
 * Synced versions (STATE_DURABLE, STATE_DATA_SYNC) are written as before,
 * into a new file renamed over the record. Why nothing is lost:
 *  - A file is written in place only while no record name points to it
 *    (a spare has a temp name), so a kill -9 at any point leaves the record
 *    whole, old or new: the exchange is atomic.
 *  - The in-place hazard: rewriting a file whose data may be the durable
 *    version of a record, whose detachment (the exchange or removal that
 *    took its name) may not be on the disk: a power cut would bring back
 *    the name with the data half overwritten. Only files created
 *    STATE_UNSYNCED_PERM (0400) are ever spares (checked at every take from
 *    the pool and at every removal into it; the displaced version is one
 *    only when it is the file this handle wrote last, checked by inode),
 *    and such a file is never fsync()ed. A syncfs
 *    (state_volume_save_durable()) or the kernel's writeback may still put
 *    any of its versions on the disk, so what matters is what they are:
 *    only versions of records that prove nothing ("durable": false: see
 *    above). What a power cut can leave in one is what it can leave of any
 *    unsynced record: an old version, a torn one (-ENODATA by its mode), or,
 *    from its time in the pool, another container's record: a 0400 record
 *    naming another "container_id" reads as -ENODATA too.
 *  - Readers take no lock on the container: a reader holds LOCK_SH on the
 *    record file while it reads it, then checks that the name still is that
 *    file; a writer takes LOCK_EX|LOCK_NB on a spare before it writes it
 *    (released before the exchange), and drops a spare a reader still
 *    holds. So what a reader returns was written before the file got the
 *    name (only files without one are written) and not since.
 *  - Left by a crash: a spare's temp name, removed like any temp file
 *    (state_container_list); the pool holds at most 4.
 *
 * Locks, in this order only (so concurrent processes never deadlock):
 *   1. at most one container lock (state_lock_container);
 *   2. then the volume locks of ONE state_lock_volumes() call, which sorts
 *      them; no further volume lock may be taken while those are held
 *      (-EDEADLK).
 * Writes need the matching lock, held through this same struct state:
 * container save/remove need the container lock, volume save/remove and
 * user add/remove the volume lock; otherwise they fail with -ENOLCK. Reads
 * take no lock. A wait for a lock is interrupted (-EINTR) by a signal whose
 * handler was installed without SA_RESTART: callers bound waits with alarm().
 *
 * All functions return 0 (or a count) on success and -errno on failure.
 */
#ifndef DVMOUNT_HELPER_STATE_STATE_H
#define DVMOUNT_HELPER_STATE_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "common/macro.h"

#define STATE_KEY_MAX 256	   /* a volume key with its NUL: at most 255 characters */
#define STATE_CID_MAX 128	   /* container id length, without the NUL */
#define STATE_RECORD_MAX (1 << 20) /* bytes of one record: larger is -EFBIG */
#define STATE_MOUNT_ID_LEN 64	   /* hex digits */
#define STATE_QNAME_MAX 256	   /* a quarantine file name with its NUL */
#define STATE_LOCKS_MAX 4096	   /* volumes in one state_lock_volumes() call */
#define STATE_USERS_MAX 65536	   /* users listed per volume */
#define STATE_LIST_MAX (1 << 20)   /* directory entries looked at per listing */

struct state;
struct state_locks;

/*
 * Open (creating the layout if needed) the state dir. Refuses (-EPERM) a dir
 * that is a symlink, not a directory, owned by someone other than root or the
 * euid, or group/world writable.
 */
int state_open(const char *dir, struct state **ret);
void state_close(struct state *st);
void state_closep(struct state **st);
#define _cleanup_state_ _cleanup_(state_closep)

/*
 * Open (creating it, 0700) slots/, where the plugin client keeps its host-wide
 * call slots. ret_fd is the caller's to close. -EPERM when it is a symlink or
 * not owned by root or the euid.
 */
int state_slot_dir(struct state *st, int *ret_fd);

/* [A-Za-z0-9._:-]{1,128}, not starting with '.': 0 or -EINVAL. */
int state_container_id_valid(const char *cid);

/*
 * A filename-safe key for (driver, name): every byte outside [A-Za-z0-9._-]
 * percent-encoded, then "driver@name" (injective, and readable). When that
 * would exceed 255 characters (a long name, or a shorter non-ASCII one that
 * encoding triples) the key is derived instead: "h-" and 32 hex digits of
 * the name-based SHA-1 UUID of (driver, name). The real names stay in the
 * entry: check them with state_volume_is() after loading it. Returns 0,
 * -EINVAL for an empty part, -ENAMETOOLONG for a part over STATE_NAME_MAX
 * bytes, -ENOMEM.
 */
#define STATE_NAME_MAX 4096 /* bytes of a driver or volume name */
int state_volume_key(const char *driver, const char *name, char ret_key[static STATE_KEY_MAX]);

/*
 * Is this loaded entry the one of (driver, name)? 0 yes; -EEXIST another
 * volume's (two names whose derived keys collide: refuse, never share);
 * -EBADMSG an entry without its names.
 */
int state_volume_is(json_object *volume, const char *driver, const char *name);

/* Locks. state_lock_volumes() sorts and dedupes keys; flock(LOCK_EX) in that order. */
int state_lock_volumes(struct state *st, const char *const *keys, size_t n,
		       struct state_locks **ret);
void state_unlock(struct state_locks *l);
void state_unlockp(struct state_locks **l);
#define _cleanup_state_locks_ _cleanup_(state_unlockp)
/*
 * ret_fd owns the lock: release it with state_unlock_container() (a plain
 * close() also releases it, but leaves a removed container's lock file to the
 * next state_container_list()).
 */
int state_lock_container(struct state *st, const char *cid, int *ret_fd);
void state_unlock_container(struct state *st, int fd);

/*
 * Flags of writes. STATE_DURABLE: durable when the call returns 0 (fsync of
 * the file and its directory); without it the write is atomic only.
 * STATE_DATA_SYNC: the new file's data is synced (fdatasync) before the
 * rename, the directory is not: for a rewrite that replaces a durable
 * version, which either survives a power cut whole or not at all (see the
 * top); one sync call.
 */
#define STATE_DURABLE 1u
#define STATE_DATA_SYNC 2u
/*
 * STATE_BATCH, for a volume entry's save or removal through the held locks:
 * its sync (if any) is left to one state_volume_commit() for all of them
 * (issue 11: one syncfs, not one sync per entry).
 */
#define STATE_BATCH 4u

/*
 * Volumes. volume_save/remove need the volume lock. Their writes are atomic,
 * not durable: the records are the durable log (see the top).
 */
int state_volume_load(struct state *st, const char *key, json_object **ret);
int state_volume_save(struct state *st, const char *key, json_object *volume);
/*
 * state_volume_save() with flags: STATE_DATA_SYNC for a rewrite of an entry
 * made durable by state_volume_sync() (a pinned user's), which an empty file
 * must never replace (see the top). STATE_DURABLE is -EINVAL: that is
 * state_volume_save_durable() or state_volume_sync(). Both add
 * STATE_DATA_SYNC themselves for an entry marked durable (the one being
 * saved, or the one on the disk as a load or save through these locks saw
 * it): once durable, every rewrite keeps a whole version on the disk.
 * An entry counts as marked too when a load through these locks found it
 * "pending_unmount" (every version synced that state, those older than the
 * mark without marking it) or state_volume_sync() synced it; such a rewrite
 * adds the mark ("durable": true, to volume), so that the next runs replace
 * and remove it durably as well. Returns as state_volume_save(), or -ENOMEM.
 */
int state_volume_save_flags(struct state *st, const char *key, json_object *volume, unsigned flags);
/*
 * With STATE_BATCH in flags (alone or with STATE_DATA_SYNC): the new
 * version is written to a temp file now and renamed into place only at
 * state_volume_commit(), which syncs the data of all those that need it
 * (STATE_DATA_SYNC, given or added as above) with one syncfs barrier
 * first. Until then a load still reads the old version. A second batched save of the
 * same entry replaces the first's temp file.
 */
/*
 * Finish the batched saves and removals of the held volumes: one syncfs(2)
 * barrier (two calls) of volumes/' filesystem if any batched save needs
 * its data synced, the renames, then one more if any batched removal must be durable; each
 * only when needed, whatever their number. Returns 0, or the first -errno
 * (the renames are tried all the same; a failed syncfs before them leaves
 * the old versions and removes the temp files). state_unlock() commits
 * what is left, ignoring errors: call this to know.
 */
int state_volume_commit(struct state *st);
/*
 * Save n held volumes' entries durably, each marked "durable": true (added
 * to volumes[i]): for entries that must outlive a power cut when no durable
 * record names their mount ids any more (the releasing container's record
 * was the proof; the users left may have none that is durable, see the
 * top). From then on their rewrites are data-synced and their removal is
 * durable. Two syncfs(2) barriers (two calls each) of volumes/'
 * filesystem, whatever n
 * (issue 11): the new versions are written to temp files and synced at
 * once, so that no rename puts an empty file where a durable version was
 * (as STATE_DURABLE's fsync before the rename does for one file); then
 * renamed, and the renames synced at once. Every entry is tried; returns 0 or
 * the first -errno: -ENOLCK without the volume lock, -ESTALE after
 * state_volume_remove(), -EINVAL a bad key, -E2BIG over STATE_LOCKS_MAX,
 * -ENOMEM, -errno of the writes and of syncfs.
 */
int state_volume_save_durable(struct state *st, const char *const *keys,
			      json_object *const *volumes, size_t n);
/* Is the entry marked durable ("durable": true, by state_volume_save_durable())? */
bool state_volume_durable(json_object *volume);
/*
 * Removes the volume's entry: -EBUSY while it has users; absent is 0. Its lock
 * file and directory go at state_unlock(), so the critical section lasts until
 * then; writes to the volume through the same locks then fail with -ESTALE.
 * The removal of an entry marked durable (as a load or save through these
 * locks saw it) is durable: one directory fsync; a durable entry that came
 * back after a power cut would stand for a mount id released already where
 * the next entry, written without a sync, names a newer one.
 */
int state_volume_remove(struct state *st, const char *key);
/* state_volume_remove(); STATE_BATCH: a durable removal waits for state_volume_commit(). */
int state_volume_remove_flags(struct state *st, const char *key, unsigned flags);
/*
 * Make the held volume's entry, its users and its directory durable: four
 * fsyncs. For an entry that must outlive a power cut with no record naming
 * it (a pinned user's, one kept pending an Unmount). From then on, through
 * these locks, the entry counts as durable, as one marked so: its rewrites
 * are data-synced and its removal is durable (an entry synced here, then
 * released, that a power cut brought back would name the released mount id
 * in place of the newer one of the next, unsynced entry: its durable record
 * then Unmounts the old id again and the new one never). -ENOLCK without
 * the volume lock, -ESTALE after state_volume_remove().
 */
int state_volume_sync(struct state *st, const char *key);
/* A fresh {"driver", "name", "mount_id", "state": "idle"}. */
int state_volume_new(const char *driver, const char *name, json_object **ret);
/*
 * A volume entry's lifecycle: one typed state, stored as "state" (issue 11).
 * Entries written before it carry four booleans (mounting, mounted,
 * unmounting, pending_unmount): they still read, and are rewritten in the
 * new form by their next transition.
 */
enum state_vol {
	STATE_VOL_IDLE,		   /* no plugin mount under its id: fresh, or refused */
	STATE_VOL_MOUNTING,	   /* a Mount is sent, or may still be under way */
	STATE_VOL_MOUNTED,	   /* the plugin answered: "host_path" is its mountpoint */
	STATE_VOL_UNMOUNTING,	   /* an Unmount is being sent */
	STATE_VOL_PENDING_UNMOUNT, /* an Unmount failed: recover retries it */
};
enum state_vol_transition {
	STATE_VOL_MOUNT_BEGIN,	 /* idle|mounting -> mounting: said before the Mount */
	STATE_VOL_MOUNT_DONE,	 /* mounting -> mounted (the caller sets "host_path") */
	STATE_VOL_MOUNT_REFUSED, /* mounting -> idle: the plugin refused, nothing to undo */
	STATE_VOL_REUSE,	 /* mounted|unmounting|pending -> mounted: still there */
	STATE_VOL_RENEW, /* mounted|unmounting|pending|mounting -> idle, under a new mount id
			    and without "host_path": its mount went away */
	STATE_VOL_UNMOUNT_BEGIN,  /* mounting|mounted|unmounting -> unmounting, said
				     before the Unmount; pending stays pending */
	STATE_VOL_UNMOUNT_FAILED, /* unmounting|pending -> pending */
};
/*
 * The entry's state. -EBADMSG when it has none we can read: no "state" and
 * no old "mounted", or a "state" that names no value (a misspelt key or
 * value never reads as idle).
 */
int state_vol_get(json_object *entry, enum state_vol *ret);
/* Its name as stored ("idle", "mounting", ...); "?" out of range. */
const char *state_vol_name(enum state_vol s);
/* May the plugin hold a mount at "host_path" (mounted, unmounting, pending)? */
bool state_vol_held(enum state_vol s);
/* Give a fresh entry its first state, idle: 0 or -ENOMEM. */
int state_vol_init(json_object *entry);
/*
 * Apply transition t to the entry (not saved). Returns 1 when the entry
 * changed, 0 when it already was there; -EINVAL when t may not start from
 * the entry's state (a bug in the caller); -EBADMSG as state_vol_get();
 * -ENOMEM; for RENEW the -errno of getrandom().
 */
int state_vol_apply(json_object *entry, enum state_vol_transition t);

/* A new host-stable mount id: 64 lowercase hex digits from getrandom(). */
int state_mount_id_new(char ret_id[static STATE_MOUNT_ID_LEN + 1]);
/* The "mount_id" of a volume entry: -ENOENT absent, -EBADMSG not 64 hex digits. */
int state_volume_mount_id(json_object *volume, char ret_id[static STATE_MOUNT_ID_LEN + 1]);

/*
 * Users of a volume: the raw index. add and remove are idempotent and atomic
 * (not durable: see the top), and need the volume lock.
 */
int state_user_add(struct state *st, const char *key, const char *cid);
int state_user_remove(struct state *st, const char *key, const char *cid);
/* Number of users (0 for an unknown volume). */
int state_user_count(struct state *st, const char *key);
/* Calls cb for each user; a negative return from cb stops and is returned. */
int state_user_list(struct state *st, const char *key, int (*cb)(const char *cid, void *userdata),
		    void *userdata);

/*
 * The users that hold a volume: entries whose container has a record (or a
 * quarantined one), and the pinned user. Calls cb for each (a negative return
 * stops and is returned); returns their number (0 for an unknown volume).
 */
int state_user_list_live(struct state *st, const char *key,
			 int (*cb)(const char *cid, void *userdata), void *userdata);
/*
 * Remove every entry of the held volume that is not a live user (an orphan
 * left by a crash or a bug, a torn or foreign file), then return the number
 * of live users. Needs the volume lock (-ENOLCK); 0 after state_volume_remove().
 */
int state_user_prune(struct state *st, const char *key);
/*
 * The one user name (at most STATE_CID_MAX bytes) that counts without a
 * container record, e.g. dvdcli's: its writer makes its entries, their
 * adding and their removal alike, durable with state_volume_sync() (a lost
 * removal would hold the volume with nobody to release it). NULL or ""
 * pins none.
 */
void state_pin_user(struct state *st, const char *name);

/*
 * Container records; save and remove need the container lock. save is
 * durable with STATE_DURABLE in flags, atomic only without; a rewrite that
 * replaces a durable record passes at least STATE_DATA_SYNC (see the top).
 * remove is always durable (a lost removal would bring back a released
 * container).
 */
int state_container_save(struct state *st, const char *cid, json_object *record, unsigned flags);
/* (A record saved with flags 0 is created 0400, not 0600: state_container_load's -ENODATA.) */
/*
 * -ENOENT absent; -EBADMSG empty, truncated or not a JSON object; -EFBIG too
 * large. A record that is -EBADMSG or -EFBIG is moved to quarantine/ when no
 * one else holds its container lock, and ret_qname (may be NULL) receives
 * its new name ("" when it could not be moved): the one out param written on
 * failure. -ENODATA: a record saved without a sync (flags 0) that cannot be
 * read, what a power cut leaves of one whose name reached the disk and
 * whose data did not (the file's mode tells: it is set with the inode); it
 * proves no mount id (see the top) and is not set aside: its container's
 * volumes are found from their user entries, and its removal removes it.
 */
int state_container_load(struct state *st, const char *cid, json_object **ret,
			 char ret_qname[STATE_QNAME_MAX]);
/*
 * Removes the record, durably (fsync of containers/); its lock file goes at
 * state_unlock_container(), which ends the critical section. Later writes
 * need a new lock (-ENOLCK).
 */
int state_container_remove(struct state *st, const char *cid);
/*
 * state_container_remove(), durable only with STATE_DURABLE in flags: a
 * record that was never durable, whose removal sent no Unmount, may come
 * back after a power cut, as a record of a container the power cut killed,
 * which recover undoes (see the top). Other flags: -EINVAL.
 */
int state_container_remove_flags(struct state *st, const char *cid, unsigned flags);

struct state_entry {
	const char *cid;
	json_object *record; /* borrowed for the call; NULL when error != 0 */
	int error;	     /* 0, or what state_container_load() returned (-ENODATA too) */
	const char *qname;   /* quarantine name when error != 0 ("" if not moved) */
};
/*
 * Calls cb for every container record, corrupt ones included (quarantined and
 * reported with error set), and removes temp files left by a crash and lock
 * files of containers that have no record and no lock holder. A negative
 * return from cb stops and is returned; otherwise the number of entries.
 */
int state_container_list(struct state *st, int (*cb)(const struct state_entry *e, void *userdata),
			 void *userdata);

/* Calls cb for each quarantined file name; returns their number. */
int state_quarantine_list(struct state *st, int (*cb)(const char *name, void *userdata),
			  void *userdata);

/* Calls cb with the key of every volume entry; returns their number. */
int state_volume_list(struct state *st, int (*cb)(const char *key, void *userdata), void *userdata);

/*
 * A record's text, buf[0..len) NUL-terminated at len, as every reader of
 * containers/<cid>.json and volume.json takes it: 0 and *ret (the caller's
 * reference) for exactly one JSON object with nothing but whitespace after
 * it; -EBADMSG for anything else (empty, truncated, a NUL byte inside, not
 * an object, trailing bytes: what a torn or mixed-up write leaves, which must
 * never be believed), or len over STATE_RECORD_MAX; -ENOMEM.
 */
int state_parse_object(const char *buf, size_t len, json_object **ret);

/* Generic pieces, fd-first. */
int state_write_atomic(int dirfd, const char *name, const void *buf, size_t len);
/* Reads a regular file of at most max_size bytes (NUL-terminated buffer): else -EFBIG. */
int state_read_file(int dirfd, const char *name, size_t max_size, char **ret_buf, size_t *ret_len);

#endif
