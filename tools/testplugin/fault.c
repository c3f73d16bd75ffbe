/* SPDX-License-Identifier: MIT */
/*
 * Injected faults: `ENDPOINT KIND [ARG] [volume=NAME] [count=N]`, from the
 * command line (fixed) and from a file that is re-read whenever it changes,
 * so a test can switch faults on and off while the plugin runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "tools/testplugin/testplugin.h"

#define MAX_SPECS 256
#define MAX_FILE_BYTES (64 * 1024)

struct fault_spec {
	char method[32]; /* "Mount", or "*" */
	struct fault_action action;
	char volume[TP_MAX_NAME + 1];
	bool has_volume;
	long count; /* -1: unlimited */
	long fired;
};

struct spec_list {
	struct fault_spec specs[MAX_SPECS];
	size_t n;
};

static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static struct spec_list cmdline, from_file;
static const char *file_path;
static struct stat file_seen; /* st_ino, st_size, st_mtim of the last read */

static const char *const methods[] = {
	"Activate", "Create", "Remove", "Mount", "Unmount", "Path", "Get", "List", "Capabilities",
};

static const struct {
	const char *name;
	enum fault_kind kind;
	bool has_arg;
} kinds[] = {
	{ "latency", FAULT_LATENCY, true },	{ "error", FAULT_ERROR, true },
	{ "err200", FAULT_ERR200, true },	{ "status", FAULT_STATUS, true },
	{ "notfound", FAULT_NOTFOUND, false },	{ "hang", FAULT_HANG, false },
	{ "close", FAULT_CLOSE, false },	{ "garbage", FAULT_GARBAGE, false },
	{ "oversized", FAULT_OVERSIZED, true }, { "chunked", FAULT_CHUNKED, false },
	{ "nobody", FAULT_NOBODY, false },	{ "answer", FAULT_ANSWER, true },
	{ "restart", FAULT_RESTART, false },
};

const char *fault_kind_name(enum fault_kind kind)
{
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (kinds[i].kind == kind)
			return kinds[i].name;
	return "none";
}

static int parse_long(const char *s, long min, long max, long *ret)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_method(const char *tok, char *method, size_t len)
{
	if (!strncasecmp(tok, "VolumeDriver.", 13))
		tok += 13;
	else if (!strncasecmp(tok, "Plugin.", 7))
		tok += 7;
	if (!strcmp(tok, "*")) {
		snprintf(method, len, "*");
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
		if (!strcasecmp(tok, methods[i])) {
			snprintf(method, len, "%s", methods[i]);
			return 0;
		}
	return -EINVAL;
}

/*
 * Words are split on blanks; the message of `error`, `err200` and `answer` is
 * every word between KIND and the volume=/count= options, joined by one space.
 */
static int parse_spec(const char *text, struct fault_spec *ret, char *errbuf, size_t errlen)
{
	_cleanup_free_ char *copy = strdup(text);
	char *words[64], *save = NULL;
	size_t n = 0, nargs = 0, i;
	struct fault_spec s = { .count = -1 };
	bool found = false;

	if (!copy)
		return -ENOMEM;
	for (char *w = strtok_r(copy, " \t\r\n", &save); w; w = strtok_r(NULL, " \t\r\n", &save)) {
		if (n == ARRAY_SIZE(words)) {
			snprintf(errbuf, errlen, "too many words in fault spec '%s'", text);
			return -EINVAL;
		}
		words[n++] = w;
	}
	if (n < 2) {
		snprintf(errbuf, errlen, "fault spec '%s': need ENDPOINT KIND", text);
		return -EINVAL;
	}
	if (parse_method(words[0], s.method, sizeof(s.method)) < 0) {
		snprintf(errbuf, errlen, "fault spec '%s': unknown endpoint '%s'", text, words[0]);
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(kinds); i++)
		if (!strcmp(words[1], kinds[i].name)) {
			s.action.kind = kinds[i].kind;
			found = true;
			break;
		}
	if (!found) {
		snprintf(errbuf, errlen, "fault spec '%s': unknown kind '%s'", text, words[1]);
		return -EINVAL;
	}
	/* Options come last. */
	while (n > 2) {
		const char *w = words[n - 1];

		if (!strncmp(w, "volume=", 7)) {
			if (strlen(w + 7) == 0 || strlen(w + 7) > TP_MAX_NAME) {
				snprintf(errbuf, errlen, "fault spec '%s': bad volume=", text);
				return -EINVAL;
			}
			snprintf(s.volume, sizeof(s.volume), "%s", w + 7);
			s.has_volume = true;
		} else if (!strncmp(w, "count=", 6)) {
			if (parse_long(w + 6, 0, 1000000000, &s.count) < 0) {
				snprintf(errbuf, errlen, "fault spec '%s': bad count=", text);
				return -EINVAL;
			}
		} else {
			break;
		}
		n--;
	}
	nargs = n - 2;
	if (!kinds[i].has_arg && nargs > 0) {
		snprintf(errbuf, errlen, "fault spec '%s': %s takes no argument", text, words[1]);
		return -EINVAL;
	}
	if (kinds[i].has_arg && nargs == 0) {
		snprintf(errbuf, errlen, "fault spec '%s': %s needs an argument", text, words[1]);
		return -EINVAL;
	}
	switch (s.action.kind) {
	case FAULT_ERROR:
	case FAULT_ERR200:
	case FAULT_ANSWER: {
		size_t off = 0;

		for (size_t k = 2; k < n; k++)
			off += (size_t)snprintf(
			    s.action.msg + off,
			    off < sizeof(s.action.msg) ? sizeof(s.action.msg) - off : 0, "%s%s",
			    k > 2 ? " " : "", words[k]);
		break;
	}
	case FAULT_LATENCY:
	case FAULT_STATUS:
	case FAULT_OVERSIZED: {
		long min = s.action.kind == FAULT_STATUS ? 200 : 0;
		long max = s.action.kind == FAULT_LATENCY  ? TP_MAX_LATENCY_MS
			   : s.action.kind == FAULT_STATUS ? 599
							   : TP_MAX_OVERSIZED;

		if (nargs != 1 || parse_long(words[2], min, max, &s.action.arg) < 0) {
			snprintf(errbuf, errlen, "fault spec '%s': %s needs a number in %ld..%ld",
				 text, words[1], min, max);
			return -EINVAL;
		}
		break;
	}
	default:
		break;
	}
	*ret = s;
	return 0;
}

int fault_add_spec(const char *spec, char *errbuf, size_t errlen)
{
	int r;

	if (cmdline.n == MAX_SPECS) {
		snprintf(errbuf, errlen, "too many --fault options");
		return -E2BIG;
	}
	r = parse_spec(spec, &cmdline.specs[cmdline.n], errbuf, errlen);
	if (r < 0)
		return r;
	cmdline.n++;
	return 0;
}

void fault_set_file(const char *path)
{
	file_path = path;
}

/* With fault_lock held. A line that does not parse is reported and skipped. */
static void reload_file(void)
{
	_cleanup_close_ int fd = -EBADF;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	char *save = NULL;
	ssize_t got;

	if (!file_path)
		return;
	fd = open(file_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		from_file.n = 0;
		memset(&file_seen, 0, sizeof(file_seen));
		return;
	}
	if (st.st_ino == file_seen.st_ino && st.st_size == file_seen.st_size &&
	    st.st_mtim.tv_sec == file_seen.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == file_seen.st_mtim.tv_nsec)
		return;
	file_seen = st;
	from_file.n = 0;
	buf = malloc(MAX_FILE_BYTES + 1);
	if (!buf)
		return;
	got = read(fd, buf, MAX_FILE_BYTES);
	if (got < 0)
		return;
	buf[got] = '\0';
	for (char *line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char errbuf[512];
		char *hash = strchr(line, '#');

		if (hash)
			*hash = '\0';
		if (strspn(line, " \t\r") == strlen(line) || from_file.n == MAX_SPECS)
			continue;
		if (parse_spec(line, &from_file.specs[from_file.n], errbuf, sizeof(errbuf)) < 0)
			fprintf(stderr, "dvmount-testplugin: %s: %s\n", file_path, errbuf);
		else
			from_file.n++;
	}
}

static bool take(struct spec_list *l, const char *method, const char *volume,
		 struct fault_action *ret)
{
	for (size_t i = 0; i < l->n; i++) {
		struct fault_spec *s = &l->specs[i];

		if (strcmp(s->method, "*") && (!method || strcmp(s->method, method)))
			continue;
		if (s->has_volume && (!volume || strcmp(s->volume, volume)))
			continue;
		if (s->count >= 0 && s->fired >= s->count)
			continue;
		s->fired++;
		*ret = s->action;
		return true;
	}
	return false;
}

void fault_match(const char *method, const char *volume, struct fault_action *ret)
{
	pthread_mutex_lock(&fault_lock);
	reload_file();
	if (!take(&cmdline, method, volume, ret) && !take(&from_file, method, volume, ret))
		ret->kind = FAULT_NONE;
	/* The restarted plugin reads the same faults: restarting again would never end. */
	if (ret->kind == FAULT_RESTART && tp_config.restarted)
		ret->kind = FAULT_NONE;
	pthread_mutex_unlock(&fault_lock);
}
