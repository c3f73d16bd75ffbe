/* SPDX-License-Identifier: MIT */
/*
 * dvmount recover [--known ID[,ID...]]... [--known-file FILE] [--gc-dead]
 *
 * After a containerizer restart or a crash: every record whose prepare never
 * finished is undone; containers the caller no longer knows (when it says
 * which it knows), or whose attached process is gone (--gc-dead), are cleaned
 * up; volumes left with no user are Unmounted again. Recovery never mounts.
 * A corrupt record is set aside and reported and never stops the others.
 */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fileio.h"
#include "common/jsonutil.h"
#include "helper/caller.h"
#include "helper/caps.h"
#include "helper/lifecycle.h"
#include "ns/ns.h"

#define KNOWN_MAX 65536
#define KNOWN_FILE_MAX (4 << 20)

struct known {
	char **ids;
	size_t n, cap;
	bool given; /* --known or --known-file was passed */
};

static int known_add(struct known *k, const char *id, size_t len)
{
	if (len == 0)
		return 0;
	if (k->n == KNOWN_MAX)
		return -E2BIG;
	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 64;
		char **ids = realloc(k->ids, cap * sizeof(*ids));

		if (!ids)
			return -ENOMEM;
		k->ids = ids;
		k->cap = cap;
	}
	k->ids[k->n] = strndup(id, len);
	return k->ids[k->n++] ? 0 : -ENOMEM;
}

/* IDs separated by commas or white space. */
static int known_add_list(struct known *k, const char *s)
{
	while (*s) {
		size_t n = strcspn(s, ", \t\r\n");
		int r = known_add(k, s, n);

		if (r < 0)
			return r;
		s += n;
		s += strspn(s, ", \t\r\n");
	}
	k->given = true;
	return 0;
}

static bool known_has(const struct known *k, const char *id)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->ids[i], id))
			return true;
	return false;
}

static void known_free(struct known *k)
{
	for (size_t i = 0; i < k->n; i++)
		free(k->ids[i]);
	free(k->ids);
}

static int read_known_file(struct globals *g, const char *path, struct known *k,
			   struct dv_error *err)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	/* As the caller: what it could not read itself stays unread (issue 10). */
	r = caller_openat(g, AT_FDCWD, path, O_RDONLY | O_NONBLOCK, &fd);
	if (r == -ENOENT)
		return dv_fail(err, r, "recover: cannot read '%s': %s", path, CALLER_NOT_FOUND);
	if (r == 0)
		r = read_fd_bounded(fd, KNOWN_FILE_MAX, &buf, &len);
	if (r == -EFBIG)
		return dv_fail(err, r, "recover: '%s' is over %d bytes", path, KNOWN_FILE_MAX);
	if (r < 0)
		return dv_fail(err, r, "recover: cannot read '%s': %s", path, strerror(-r));
	if (known_add_list(k, buf) < 0)
		return dv_fail(err, -E2BIG, "recover: '%s': more than %d ids", path, KNOWN_MAX);
	return 0;
}

struct sweep {
	struct lc *lc;
	const struct known *known;
	bool gc_dead;
	struct todo {
		char cid[STATE_CID_MAX + 1];
		bool set_aside; /* its record was corrupt: quarantined when listed */
	} * todo;
	size_t n_todo, cap;
	size_t current; /* the todo being cleaned up */
	size_t corrupt;
	size_t overflow;  /* left for the next recover */
	size_t reprieved; /* finished its prepare, or gone, while we waited for its lock */
};

/* Should this container go? Judged when listing, and again under its lock. */
static bool judge(json_object *record, const char *cid, const struct sweep *s)
{
	const char *phase = lc_json_str(record, "phase");
	long long pid = lc_json_int(record, "pid");

	if (!phase || strcmp(phase, "prepared"))
		return true;
	if (s->known->given && !known_has(s->known, cid))
		return true;
	return s->gc_dead && pid > 0 &&
	       !ns_process_alive((pid_t)pid, (unsigned long long)lc_json_int(record, "start_time"));
}

static bool still_wanted(json_object *record, void *userdata)
{
	struct sweep *s = userdata;

	/*
	 * Gone: another recover or its cleanup got there first, or its prepare
	 * failed and undid itself. Not ours to count: two recovers at once each
	 * said they cleaned it up. A set-aside record is gone from containers/
	 * by design: its users are still to be found.
	 */
	if (!record && s->todo[s->current].set_aside)
		return true;
	if (record && judge(record, lc_json_str(record, "container_id"), s))
		return true;
	s->reprieved++;
	return false;
}

static int pick(const struct state_entry *e, void *userdata)
{
	struct sweep *s = userdata;
	bool clean;

	/* A setuid dvmount's caller recovers its own containers only. */
	if (!s->lc->g->caller_is_root && (e->error || !lc_caller_owns(s->lc, e->record)))
		return 0;
	if (e->error == -ENODATA) {
		/*
		 * A record written without a sync that a power cut emptied: it
		 * proved nothing (helper/state/state.h), and its container died
		 * with the power. Its volumes are found through their user
		 * entries; no warning, nothing set aside.
		 */
		clean = true;
	} else if (e->error) {
		/* Quarantined: its volumes are still found through their user entries. */
		/*
		 * A warning, not a failure: an empty record after a hard reboot
		 * must not fail the containerizer's recovery (MESOS-9507).
		 */
		log_warn(s->lc->g,
			 "container '%s': record unreadable (%s), set aside as quarantine/%s",
			 e->cid, e->error == -EBADMSG ? "empty or corrupt" : strerror(-e->error),
			 e->qname);
		s->corrupt++;
		clean = true;
	} else {
		clean = judge(e->record, e->cid, s);
	}
	if (!clean)
		return 0;
	if (s->n_todo == s->cap) {
		s->overflow++;
		return 0;
	}
	snprintf(s->todo[s->n_todo].cid, sizeof(s->todo[0].cid), "%s", e->cid);
	s->todo[s->n_todo++].set_aside = e->error != 0;
	return 0;
}

/* Volumes left without users (a crash between two steps, a failed Unmount). */
static int retry_volume(const char *key, void *userdata)
{
	struct lc *lc = userdata;
	_cleanup_(state_unlockp) struct state_locks *locks = NULL;
	const char *k = key;

	/* Live users only: an orphaned or torn entry must not keep it mounted. */
	if (state_user_list_live(lc->st, key, NULL, NULL) != 0)
		return 0;
	if (state_lock_volumes(lc->st, &k, 1, &locks) < 0)
		return 0;
	lc_release_unused(lc, &k, 1);
	return 0;
}

/*
 * lc_report() names lc->cid, which recover moves from container to container:
 * the failures of one cleanup name its container as they are recorded. They
 * are all reported at the end, in order: every line but the last as it is
 * printed, the last in the carrier (helper/error.h).
 */
static void name_failures(struct lc *lc, size_t from, const char *cid)
{
	for (size_t i = from; i < lc->n_failures; i++) {
		char *line;

		if (asprintf(&line, "container '%s': %s", cid, lc->failures[i]) < 0)
			continue;
		free(lc->failures[i]);
		lc->failures[i] = line;
	}
}

int cmd_recover(struct globals *g, int argc, char **argv, struct dv_error *err)
{
	static const struct option options[] = { { "known", required_argument, NULL, 'k' },
						 { "known-file", required_argument, NULL, 'f' },
						 { "gc-dead", no_argument, NULL, 'd' },
						 { "help", no_argument, NULL, 'h' },
						 {} };
	struct known known = { 0 };
	struct sweep s = { 0 };
	struct lc lc;
	bool gc_dead = false;
	int opt, r;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (opt) {
		case 'k':
			if (known_add_list(&known, optarg) < 0) {
				r = dv_usage(err, "recover: too many --known ids");
				goto out;
			}
			break;
		case 'f':
			r = read_known_file(g, optarg, &known, err);
			if (r < 0)
				goto out;
			break;
		case 'd':
			gc_dead = true;
			break;
		case 'h':
			printf("usage: dvmount recover [--known ID[,ID...]]... [--known-file FILE] "
			       "[--gc-dead]\n");
			r = 0;
			goto out;
		default:
			r = dv_usage(err, "recover: unknown or incomplete option '%s'",
				     argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc) {
		r = dv_usage(err, "recover: unexpected argument '%s'", argv[optind]);
		goto out;
	}

	r = lc_open(g, false, &lc);
	/* Taking volumes away never chowns (issue 10 item 4). */
	if (r == 0 && (r = caps_drop("opened", CAPS(CAP_CHOWN))) < 0)
		lc_fail(&lc, "cannot drop capabilities: %s", strerror(-r));
	if (r == 0) {
		s = (struct sweep){
			.lc = &lc, .known = &known, .gc_dead = gc_dead, .cap = KNOWN_MAX
		};
		s.todo = calloc(s.cap, sizeof(*s.todo));
		if (!s.todo)
			lc_fail(&lc, "out of memory");
		else if ((r = state_container_list(lc.st, pick, &s)) < 0)
			lc_fail(&lc, "cannot list the records: %s", strerror(-r));
		lc_crash_point("recover-after-list");
		for (size_t i = 0; i < s.n_todo; i++) {
			size_t before = lc.n_failures;

			s.current = i;
			lc.cid = s.todo[i].cid;
			if (lc_cleanup_container(&lc, s.todo[i].cid, still_wanted, &s) < 0 &&
			    lc.n_failures == before)
				lc_fail(&lc, "cleanup failed");
			name_failures(&lc, before, s.todo[i].cid);
		}
		if (s.overflow)
			lc_fail(&lc,
				"%zu more container(s) to clean up than one run takes (%zu): "
				"run recover again",
				s.overflow, s.cap);
		lc.cid = NULL;
		lc_crash_point("recover-before-retry");
		/* Volumes belong to no caller: their retries are root's business. */
		if (g->caller_is_root)
			state_volume_list(lc.st, retry_volume, &lc);
		free(s.todo);
		/* Cleaned up, retried and audited: nothing privileged is left. */
		if (caps_leave_root() < 0 || caps_drop("done", CAPS_KEPT) < 0)
			lc_fail(&lc, "cannot drop capabilities");
		if (!g->json)
			printf("recovered: %zu container(s) cleaned up, %zu corrupt record(s) set "
			       "aside\n",
			       s.n_todo - s.reprieved, s.corrupt);
		else
			printf("{\"cleaned\": %zu, \"corrupt\": %zu}\n", s.n_todo - s.reprieved,
			       s.corrupt);
	}
	r = lc_report(&lc, err);
	lc_close(&lc);
out:
	known_free(&known);
	return r;
}
