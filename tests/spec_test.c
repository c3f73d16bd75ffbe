/* SPDX-License-Identifier: MIT */
/*
 * The volume spec (helper/spec/spec.h): Mesos' rules with their exact messages,
 * the seed document's examples, the wrapper objects, and every bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

/* Linux 6.1's harness passes parameters that its TEST() bodies never use. */
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"

#include "helper/spec/spec.h"

/* One DOCKER_VOLUME volume; each argument is raw JSON text, NULL leaves the member out. */
static char *volume_json(const char *path, const char *mode, const char *driver, const char *name,
			 const char *params)
{
	char *dv = NULL, *out = NULL;
	size_t dvlen = 0, outlen = 0;
	FILE *f;

	f = open_memstream(&dv, &dvlen);
	if (!f)
		return NULL;
	fputc('{', f);
	if (driver)
		fprintf(f, "\"driver\":%s,", driver);
	if (name)
		fprintf(f, "\"name\":%s,", name);
	if (params)
		fprintf(f, "\"driver_options\":{\"parameter\":%s},", params);
	fputs("\"x-unknown\":0}", f);
	fclose(f);

	f = open_memstream(&out, &outlen);
	if (!f) {
		free(dv);
		return NULL;
	}
	fputc('{', f);
	if (path)
		fprintf(f, "\"container_path\":%s,", path);
	if (mode)
		fprintf(f, "\"mode\":%s,", mode);
	fprintf(f, "\"source\":{\"type\":\"DOCKER_VOLUME\",\"docker_volume\":%s}}", dv);
	fclose(f);
	free(dv);
	return out;
}

/* The same volume as the whole spec: a JSON array of it alone. NULL on ENOMEM. */
static char *volume_array(const char *path, const char *mode, const char *driver, const char *name,
			  const char *params)
{
	char *v = volume_json(path, mode, driver, name, params), *json = NULL;

	if (v && asprintf(&json, "[%s]", v) < 0)
		json = NULL;
	free(v);
	return json;
}

/* A JSON string literal of n copies of c. */
static char *long_string(size_t n, char c)
{
	char *s = malloc(n + 3);

	if (!s)
		return NULL;
	s[0] = '"';
	memset(s + 1, c, n);
	s[n + 1] = '"';
	s[n + 2] = '\0';
	return s;
}

static int parse_str(const char *json, struct spec **ret, struct spec_error *err)
{
	memset(err, 0x5a, sizeof(*err));
	return spec_parse(json, strlen(json), ret, err);
}

/* Parse json, expect failure rc with exactly this index, field and message, and no spec. */
#define EXPECT_SPEC_ERROR(json, rc, idx, fld, message)                                             \
	do {                                                                                       \
		struct spec *_s = (struct spec *)0x1;                                              \
		struct spec_error _e;                                                              \
		EXPECT_EQ(rc, parse_str(json, &_s, &_e));                                          \
		EXPECT_EQ((size_t)(idx), _e.index);                                                \
		EXPECT_STREQ(fld, _e.field);                                                       \
		EXPECT_STREQ(message, _e.msg);                                                     \
		EXPECT_EQ((struct spec *)0x1, _s);                                                 \
	} while (0)

#define GOOD_VOLUME(path, driver, name)                                                            \
	"{\"container_path\":\"" path "\",\"mode\":\"RW\","                                        \
	"\"source\":{\"type\":\"DOCKER_VOLUME\","                                                  \
	"\"docker_volume\":{\"driver\":\"" driver "\",\"name\":\"" name "\"}}}"

/*
 * Find tests/data/<name>: from the working directory (make check runs in the
 * tree), else from the binary's place (build/tests/ or build/asan/tests/).
 */
static int open_data(const char *name)
{
	char exe[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n;
	char *dir;
	int fd;

	snprintf(path, sizeof(path), "tests/data/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	dir = dirname(exe);
	for (int up = 0; up < 5; up++) {
		snprintf(path, sizeof(path), "%s/tests/data/%s", dir, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			return fd;
		dir = dirname(dir);
	}
	return -1;
}

static int read_data(const char *name, struct spec **ret, struct spec_error *err)
{
	int fd = open_data(name);
	int r;

	if (fd < 0)
		return -ENOENT;
	r = spec_read_fd(fd, ret, err);
	close(fd);
	return r;
}

TEST(seed_myvolume_json)
{
	struct spec *s = NULL;
	struct spec_error e;

	/* The seed's "Test it out" file, escaped slashes and all. */
	ASSERT_EQ(0, read_data("myvolume.json", &s, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ(1U, s->n);
	EXPECT_EQ(0U, s->v[0].index);
	EXPECT_STREQ("convoy", s->v[0].driver);
	EXPECT_STREQ("myvolume", s->v[0].name);
	EXPECT_STREQ("/tmp/myvolume", s->v[0].container_path);
	EXPECT_EQ(SPEC_RW, (int)s->v[0].mode);
	EXPECT_EQ(0U, s->v[0].n_opts);
	EXPECT_NULL(s->v[0].opts);
	spec_free(s);
}

TEST(brief_example_with_size_option)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, read_data("myvolume-options.json", &s, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ(1U, s->n);
	EXPECT_STREQ("convoy", s->v[0].driver);
	EXPECT_STREQ("myvolume", s->v[0].name);
	ASSERT_EQ(1U, s->v[0].n_opts);
	EXPECT_STREQ("size", s->v[0].opts[0].key);
	EXPECT_STREQ("10G", s->v[0].opts[0].value);
	EXPECT_STREQ("10G", spec_volume_opt(&s->v[0], "size"));
	EXPECT_NULL(spec_volume_opt(&s->v[0], "iops"));
	spec_free(s);
}

TEST(seed_task_one_volume)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, read_data("seed-task-one-volume.json", &s, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ(1U, s->n);
	EXPECT_STREQ("rexray", s->v[0].driver);
	EXPECT_STREQ("myvolume", s->v[0].name);
	EXPECT_STREQ("/mnt/volume", s->v[0].container_path);
	EXPECT_TRUE(spec_path_is_absolute(s->v[0].container_path));
	EXPECT_EQ(SPEC_RW, (int)s->v[0].mode);
	spec_free(s);
}

TEST(seed_task_two_volumes_with_options)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, read_data("seed-task-two-volumes.json", &s, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ(2U, s->n);
	EXPECT_EQ(0U, s->v[0].index);
	EXPECT_STREQ("volume1", s->v[0].name);
	EXPECT_STREQ("volume1", s->v[0].container_path);
	EXPECT_FALSE(spec_path_is_absolute(s->v[0].container_path));
	EXPECT_EQ(0U, s->v[0].n_opts);
	EXPECT_EQ(1U, s->v[1].index);
	EXPECT_STREQ("rexray", s->v[1].driver);
	EXPECT_STREQ("volume2", s->v[1].name);
	EXPECT_STREQ("volume2", s->v[1].container_path);
	ASSERT_EQ(2U, s->v[1].n_opts);
	EXPECT_STREQ("size", s->v[1].opts[0].key);
	EXPECT_STREQ("5", s->v[1].opts[0].value);
	EXPECT_STREQ("iops", s->v[1].opts[1].key);
	EXPECT_STREQ("150", s->v[1].opts[1].value);
	spec_free(s);
}

TEST(container_info_skips_other_volume_types)
{
	struct spec *s = NULL;
	struct spec_error e;

	/* A host_path volume (no source) and a SANDBOX_PATH one come first. */
	ASSERT_EQ(0, read_data("container-info-mixed.json", &s, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ(1U, s->n);
	EXPECT_EQ(2U, s->v[0].index);
	EXPECT_STREQ("shared-data", s->v[0].name);
	EXPECT_EQ(SPEC_RO, (int)s->v[0].mode);
	spec_free(s);
}

TEST(wrapper_volumes_and_container_volumes)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, parse_str("{\"volumes\":[" GOOD_VOLUME("/a", "d", "n") "]}", &s, &e));
	ASSERT_EQ(1U, s->n);
	EXPECT_STREQ("n", s->v[0].name);
	spec_free(s);
	s = NULL;

	ASSERT_EQ(0, parse_str("{\"container\":{\"volumes\":[" GOOD_VOLUME("/a", "d", "n2") "]}}",
			       &s, &e));
	ASSERT_EQ(1U, s->n);
	EXPECT_STREQ("n2", s->v[0].name);
	spec_free(s);
	s = NULL;

	/* A ContainerInfo's own "volumes" comes before a nested "container". */
	ASSERT_EQ(0, parse_str("{\"volumes\":[],\"container\":{\"volumes\":[" GOOD_VOLUME(
				   "/a", "d", "n") "]}}",
			       &s, &e));
	EXPECT_EQ(0U, s->n);
	spec_free(s);
}

TEST(wrapper_errors)
{
	EXPECT_SPEC_ERROR("{\"volume\":[]}", -EINVAL, SPEC_NO_INDEX, "",
			  "no \"volumes\" or \"container\".\"volumes\" array in the object");
	EXPECT_SPEC_ERROR("{\"container\":{\"type\":\"MESOS\"}}", -EINVAL, SPEC_NO_INDEX, "",
			  "no \"volumes\" or \"container\".\"volumes\" array in the object");
	EXPECT_SPEC_ERROR("{\"volumes\":{}}", -EINVAL, SPEC_NO_INDEX, "volumes",
			  "expected an array, got an object");
	EXPECT_SPEC_ERROR("{\"container\":{\"volumes\":\"x\"}}", -EINVAL, SPEC_NO_INDEX,
			  "container.volumes", "expected an array, got a string");
	EXPECT_SPEC_ERROR("\"[]\"", -EINVAL, SPEC_NO_INDEX, "",
			  "expected an array of volumes or an object with \"volumes\", "
			  "got a string");
	EXPECT_SPEC_ERROR("true", -EINVAL, SPEC_NO_INDEX, "",
			  "expected an array of volumes or an object with \"volumes\", "
			  "got a boolean");
}

TEST(empty_array_is_valid)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, parse_str(" [ ] \n", &s, &e));
	ASSERT_NE(NULL, s);
	EXPECT_EQ(0U, s->n);
	spec_free(s);
	s = NULL;
	ASSERT_EQ(0, parse_str("{\"container\":{\"volumes\":[]}}", &s, &e));
	EXPECT_EQ(0U, s->n);
	spec_free(s);
}

TEST(non_docker_volumes_are_skipped_unvalidated)
{
	struct spec *s = NULL;
	struct spec_error e;
	const char *json =
	    "["
	    "{\"container_path\":\"/h\",\"host_path\":\"/srv\",\"mode\":\"RW\"},"
	    "{\"container_path\":\"/i\",\"mode\":\"RO\",\"source\":null},"
	    /* Other isolators' business, even without mode or path. */
	    "{\"source\":{\"type\":\"HOST_PATH\",\"host_path\":{\"path\":\"/x\"}}},"
	    "{\"source\":{\"type\":\"CSI_VOLUME\"}},"
	    /* No type: protobuf's UNKNOWN, which Mesos skips too. */
	    "{\"mode\":\"RW\",\"source\":{\"docker_volume\":{\"name\":\"v\"}}},"
	    "{\"source\":{\"type\":\"docker_volume\"}}," GOOD_VOLUME("/kept", "d", "kept") "]";

	ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s: %s", e.field, e.msg);
	ASSERT_EQ(1U, s->n);
	EXPECT_EQ(6U, s->v[0].index);
	EXPECT_STREQ("kept", s->v[0].name);
	spec_free(s);
}

TEST(docker_volume_without_docker_volume)
{
	EXPECT_SPEC_ERROR(
	    "[" GOOD_VOLUME("/a", "d",
			    "a") ",{\"container_path\":\"/b\","
				 "\"mode\":\"RW\",\"source\":{\"type\":\"DOCKER_VOLUME\"}}]",
	    -EINVAL, 1, "source.docker_volume",
	    "'source.docker_volume' is not set for a DOCKER_VOLUME volume");
	EXPECT_SPEC_ERROR("[{\"container_path\":\"/b\",\"mode\":\"RW\",\"source\":"
			  "{\"type\":\"DOCKER_VOLUME\",\"docker_volume\":[]}}]",
			  -EINVAL, 0, "source.docker_volume", "expected an object, got an array");
}

TEST(missing_driver_uses_mesos_message)
{
	char *v0 = volume_json("\"/a\"", "\"RW\"", "\"d\"", "\"a\"", NULL);
	char *v1 = volume_json("\"/b\"", "\"RW\"", "\"d\"", "\"b\"", NULL);
	char *v2 = volume_json("\"/x\"", "\"RW\"", NULL, "\"x\"", NULL);
	char *empty = volume_json("\"/x\"", "\"RW\"", "\"\"", "\"y\"", NULL);
	char *null = volume_json("\"/x\"", "\"RW\"", "null", "\"z\"", NULL);
	char *json = NULL, buf[512];
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_NE(-1, asprintf(&json, "[%s,%s,%s]", v0, v1, v2));
	EXPECT_EQ(-EINVAL, parse_str(json, &s, &e));
	EXPECT_EQ(2U, e.index);
	EXPECT_STREQ("source.docker_volume.driver", e.field);
	EXPECT_STREQ("The volume driver is not specified for volume 'x'", e.msg);
	EXPECT_STREQ("volume 2: source.docker_volume.driver: "
		     "The volume driver is not specified for volume 'x'",
		     spec_error_format(&e, buf, sizeof(buf)));
	free(json);

	ASSERT_NE(-1, asprintf(&json, "[%s]", empty));
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "source.docker_volume.driver",
			  "The volume driver is not specified for volume 'y'");
	free(json);
	ASSERT_NE(-1, asprintf(&json, "[%s]", null));
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "source.docker_volume.driver",
			  "The volume driver is not specified for volume 'z'");
	free(json);
	free(v0);
	free(v1);
	free(v2);
	free(empty);
	free(null);
}

TEST(missing_name)
{
	char *json = volume_array("\"/x\"", "\"RW\"", "\"d\"", NULL, NULL);

	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "source.docker_volume.name",
			  "The volume name is not specified");
	free(json);
	json = volume_array("\"/x\"", "\"RW\"", "\"d\"", "\"\"", NULL);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "source.docker_volume.name",
			  "The volume name is not specified");
	free(json);
}

TEST(mode_required_rw_or_ro)
{
	static const char *const bad[] = { "\"rw\"",  "\"ro\"", "\"RX\"",
					   "\"RW \"", "\"\"",	"\"READ_WRITE\"" };
	struct spec *s = NULL;
	struct spec_error e;
	char *json = NULL;

	json = volume_array("\"/x\"", NULL, "\"d\"", "\"n\"", NULL);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "mode", "mode is required: \"RW\" or \"RO\"");
	free(json);

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		json = volume_array("\"/x\"", bad[i], "\"d\"", "\"n\"", NULL);
		ASSERT_NE(NULL, json);
		EXPECT_SPEC_ERROR(json, -EINVAL, 0, "mode",
				  "invalid mode: expected \"RW\" or \"RO\"");
		free(json);
	}

	/* Enums are strings in Mesos' JSON: the protobuf number is a type error. */
	json = volume_array("\"/x\"", "1", "\"d\"", "\"n\"", NULL);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "mode", "expected a string, got a number");
	free(json);

	json = volume_array("\"/x\"", "\"RO\"", "\"d\"", "\"n\"", NULL);
	ASSERT_NE(NULL, json);
	ASSERT_EQ(0, parse_str(json, &s, &e));
	EXPECT_EQ(SPEC_RO, (int)s->v[0].mode);
	spec_free(s);
	free(json);
}

TEST(container_path_required_non_empty)
{
	char *json = NULL;

	json = volume_array(NULL, "\"RW\"", "\"d\"", "\"n\"", NULL);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "container_path",
			  "container_path is required and must not be empty");
	free(json);
	json = volume_array("\"\"", "\"RW\"", "\"d\"", "\"n\"", NULL);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "container_path",
			  "container_path is required and must not be empty");
	free(json);
	json = volume_array("[\"/x\"]", "\"RW\"", "\"d\"", "\"n\"", NULL);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -EINVAL, 0, "container_path", "expected a string, got an array");
	free(json);
}

TEST(container_path_kept_as_given)
{
	struct spec *s = NULL;
	struct spec_error e;

	/* Normalising is prepare's job: the spec keeps "..", "//" and trailing slashes. */
	ASSERT_EQ(0, parse_str("[" GOOD_VOLUME("a/../b//c/", "d",
					       "n1") "," GOOD_VOLUME("//abs/./x", "d", "n2") "]",
			       &s, &e));
	ASSERT_EQ(2U, s->n);
	EXPECT_STREQ("a/../b//c/", s->v[0].container_path);
	EXPECT_STREQ("//abs/./x", s->v[1].container_path);
	EXPECT_FALSE(spec_path_is_absolute(s->v[0].container_path));
	EXPECT_TRUE(spec_path_is_absolute(s->v[1].container_path));
	spec_free(s);

	EXPECT_TRUE(spec_path_is_absolute("/"));
	EXPECT_FALSE(spec_path_is_absolute("./x"));
	EXPECT_FALSE(spec_path_is_absolute(""));
	EXPECT_FALSE(spec_path_is_absolute(NULL));
}

TEST(duplicate_driver_and_name_fails)
{
	struct spec *s = NULL;
	struct spec_error e;

	EXPECT_SPEC_ERROR("[" GOOD_VOLUME("/a", "rexray", "vol") "," GOOD_VOLUME(
			      "/b", "rexray", "other") "," GOOD_VOLUME("/c", "rexray", "vol") "]",
			  -EINVAL, 2, "source.docker_volume",
			  "Found duplicate docker volume with driver 'rexray' and name 'vol'");

	/* The same name under two drivers is two volumes. */
	ASSERT_EQ(0, parse_str("[" GOOD_VOLUME("/a", "rexray",
					       "vol") "," GOOD_VOLUME("/b", "convoy", "vol") "]",
			       &s, &e));
	EXPECT_EQ(2U, s->n);
	spec_free(s);
}

TEST(repeated_option_keeps_last_value_first_order)
{
	char *v = volume_json("\"/x\"", "\"RW\"", "\"d\"", "\"n\"",
			      "[{\"key\":\"size\",\"value\":\"1G\"},"
			      "{\"key\":\"iops\",\"value\":\"100\"},"
			      "{\"key\":\"size\",\"value\":\"\"},"
			      "{\"key\":\"type\",\"value\":\"gp2\"},"
			      "{\"key\":\"size\",\"value\":\"10G\",\"x\":1}]");
	struct spec *s = NULL;
	struct spec_error e;
	char *json = NULL;

	ASSERT_NE(-1, asprintf(&json, "[%s]", v));
	ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s: %s", e.field, e.msg);
	ASSERT_EQ(3U, s->v[0].n_opts);
	EXPECT_STREQ("size", s->v[0].opts[0].key);
	EXPECT_STREQ("10G", s->v[0].opts[0].value);
	EXPECT_STREQ("iops", s->v[0].opts[1].key);
	EXPECT_STREQ("100", s->v[0].opts[1].value);
	EXPECT_STREQ("type", s->v[0].opts[2].key);
	EXPECT_STREQ("gp2", s->v[0].opts[2].value);
	spec_free(s);
	free(json);
	free(v);
}

TEST(options_empty_or_null)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, parse_str("[{\"container_path\":\"/x\",\"mode\":\"RW\",\"source\":{"
			       "\"type\":\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"d\","
			       "\"name\":\"a\",\"driver_options\":{}}}},"
			       "{\"container_path\":\"/y\",\"mode\":\"RW\",\"source\":{"
			       "\"type\":\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"d\","
			       "\"name\":\"b\",\"driver_options\":{\"parameter\":[]}}}},"
			       "{\"container_path\":\"/z\",\"mode\":\"RW\",\"source\":{"
			       "\"type\":\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"d\","
			       "\"name\":\"c\",\"driver_options\":null}}}]",
			       &s, &e))
	TH_LOG("%s: %s", e.field, e.msg);
	ASSERT_EQ(3U, s->n);
	for (size_t i = 0; i < 3; i++)
		EXPECT_EQ(0U, s->v[i].n_opts);
	spec_free(s);
}

TEST(unknown_keys_ignored)
{
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_EQ(0, parse_str("{\"x\":{\"y\":[1,2,{}]},\"container\":{\"volumes\":[{"
			       "\"container_path\":\"/x\",\"mode\":\"RW\",\"image\":{},\"z\":null,"
			       "\"source\":{\"type\":\"DOCKER_VOLUME\",\"extra\":[true],"
			       "\"docker_volume\":{\"driver\":\"d\",\"name\":\"n\",\"q\":1.5,"
			       "\"driver_options\":{\"w\":0,\"parameter\":[{\"key\":\"k\","
			       "\"value\":\"v\",\"u\":\"\"}]}}}}]}}",
			       &s, &e))
	TH_LOG("%s: %s", e.field, e.msg);
	ASSERT_EQ(1U, s->n);
	ASSERT_EQ(1U, s->v[0].n_opts);
	EXPECT_STREQ("v", s->v[0].opts[0].value);
	spec_free(s);
}

TEST(wrong_types_name_the_field)
{
	EXPECT_SPEC_ERROR("[" GOOD_VOLUME("/a", "d", "a") ",42]", -EINVAL, 1, "",
			  "expected an object, got a number");
	EXPECT_SPEC_ERROR("[{\"container_path\":\"/a\",\"mode\":\"RW\","
			  "\"source\":\"DOCKER_VOLUME\"}]",
			  -EINVAL, 0, "source", "expected an object, got a string");
	EXPECT_SPEC_ERROR("[{\"source\":{\"type\":1}}]", -EINVAL, 0, "source.type",
			  "expected a string, got a number");

#define WITH_PARAMS(params) volume_json("\"/x\"", "\"RW\"", "\"d\"", "\"n\"", params)
#define PARAM_FIELD "source.docker_volume.driver_options.parameter"
	char *cases[][3] = {
		{ volume_json("\"/x\"", "\"RW\"", "\"d\"", "7", NULL), "source.docker_volume.name",
		  "expected a string, got a number" },
		{ volume_json("\"/x\"", "\"RW\"", "{}", "\"n\"", NULL),
		  "source.docker_volume.driver", "expected a string, got an object" },
		{ WITH_PARAMS("{}"), PARAM_FIELD, "expected an array, got an object" },
		{ WITH_PARAMS("[{\"key\":\"a\",\"value\":\"b\"},3]"), PARAM_FIELD "[1]",
		  "expected an object, got a number" },
		{ WITH_PARAMS("[{\"key\":5,\"value\":\"b\"}]"), PARAM_FIELD "[0].key",
		  "expected a string, got a number" },
		{ WITH_PARAMS("[{\"key\":\"a\",\"value\":true}]"), PARAM_FIELD "[0].value",
		  "expected a string, got a boolean" },
		{ WITH_PARAMS("[{\"value\":\"b\"}]"), PARAM_FIELD "[0].key",
		  "the option key is not specified" },
		{ WITH_PARAMS("[{\"key\":\"\",\"value\":\"b\"}]"), PARAM_FIELD "[0].key",
		  "the option key is not specified" },
		{ WITH_PARAMS("[{\"key\":\"a\"}]"), PARAM_FIELD "[0].value",
		  "the value of option 'a' is not specified" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *json = NULL;

		ASSERT_NE(NULL, cases[i][0]);
		ASSERT_NE(-1, asprintf(&json, "[%s]", cases[i][0]));
		EXPECT_SPEC_ERROR(json, -EINVAL, 0, cases[i][1], cases[i][2]);
		free(json);
		free(cases[i][0]);
	}

	EXPECT_SPEC_ERROR("[{\"container_path\":\"/a\",\"mode\":\"RW\",\"source\":{\"type\":"
			  "\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"d\",\"name\":\"n\","
			  "\"driver_options\":[]}}}]",
			  -EINVAL, 0, "source.docker_volume.driver_options",
			  "expected an object, got an array");
}

TEST(driver_cannot_climb_out_of_plugin_dirs)
{
	static const char *const bad[] = {
		"\"../../run/evil\"", "\"/run/evil\"", "\"a/../b\"", "\"./x\"",
		"\"a//b\"",	      "\"a/\"",	       "\"..\"",     "\".\""
	};
	static const char *const good[] = { "\"vieux/sshfs:latest\"", "\"rexray/ebs\"", "\"a..b\"",
					    "\".hidden\"" };
	struct spec *s = NULL;
	struct spec_error e;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char *json = volume_array("\"/x\"", "\"RW\"", bad[i], "\"n\"", NULL);

		ASSERT_NE(NULL, json);
		EXPECT_EQ(-EINVAL, parse_str(json, &s, &e)) TH_LOG("driver %s", bad[i]);
		EXPECT_STREQ("source.docker_volume.driver", e.field);
		EXPECT_EQ(0, strncmp(e.msg, "invalid driver name", 19)) TH_LOG("%s", e.msg);
		free(json);
	}
	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		char *json = volume_array("\"/x\"", "\"RW\"", good[i], "\"n\"", NULL);

		ASSERT_NE(NULL, json);
		EXPECT_EQ(0, parse_str(json, &s, &e)) TH_LOG("driver %s: %s", good[i], e.msg);
		spec_free(s);
		s = NULL;
		free(json);
	}
}

TEST(nul_inside_strings_rejected)
{
	static const struct {
		const char *path, *driver, *name, *params, *field;
	} cases[] = {
		{ "\"/a\\u0000b\"", "\"d\"", "\"n\"", NULL, "container_path" },
		{ "\"/a\"", "\"d\\u0000\"", "\"n\"", NULL, "source.docker_volume.driver" },
		{ "\"/a\"", "\"d\"", "\"n\\u0000../x\"", NULL, "source.docker_volume.name" },
		{ "\"/a\"", "\"d\"", "\"n\"", "[{\"key\":\"k\\u0000\",\"value\":\"v\"}]",
		  "source.docker_volume.driver_options.parameter[0].key" },
		{ "\"/a\"", "\"d\"", "\"n\"", "[{\"key\":\"k\",\"value\":\"v\\u0000\"}]",
		  "source.docker_volume.driver_options.parameter[0].value" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *json = volume_array(cases[i].path, "\"RW\"", cases[i].driver, cases[i].name,
					  cases[i].params);

		ASSERT_NE(NULL, json);
		EXPECT_SPEC_ERROR(json, -EINVAL, 0, cases[i].field, "contains a NUL character");
		free(json);
	}

	/* A raw NUL byte in the text itself. */
	{
		static const char raw[] = "[\"a\0b\"]";
		struct spec *s = (struct spec *)0x1;
		struct spec_error e;

		EXPECT_EQ(-EINVAL, spec_parse(raw, sizeof(raw) - 1, &s, &e));
		EXPECT_STREQ("NUL byte at offset 3", e.msg);
		EXPECT_EQ(SPEC_NO_INDEX, e.index);
		EXPECT_EQ((struct spec *)0x1, s);
	}
}

TEST(control_characters_rejected_in_names_and_paths)
{
	static const struct {
		const char *path, *driver, *name, *params, *field;
	} cases[] = {
		{ "\"/a\\nb\"", "\"d\"", "\"n\"", NULL, "container_path" },
		{ "\"/a\"", "\"d\\u001b[31m\"", "\"n\"", NULL, "source.docker_volume.driver" },
		{ "\"/a\"", "\"d\"", "\"n\\r\"", NULL, "source.docker_volume.name" },
		{ "\"/a\"", "\"d\"", "\"n\\u007f\"", NULL, "source.docker_volume.name" },
		{ "\"/a\"", "\"d\"", "\"n\"", "[{\"key\":\"a\\tb\",\"value\":\"v\"}]",
		  "source.docker_volume.driver_options.parameter[0].key" },
	};
	struct spec *s = NULL;
	struct spec_error e;
	char *json = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		json = volume_array(cases[i].path, "\"RW\"", cases[i].driver, cases[i].name,
				    cases[i].params);
		ASSERT_NE(NULL, json);
		EXPECT_SPEC_ERROR(json, -EINVAL, 0, cases[i].field, "contains a control character");
		free(json);
	}

	/* Values are the plugin's business: only NUL is refused there. */
	json = volume_array("\"/a\"", "\"RW\"", "\"d\"", "\"n\"",
			    "[{\"key\":\"script\",\"value\":\"a\\nb\\tc\"}]");
	ASSERT_NE(NULL, json);
	ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s", e.msg);
	EXPECT_STREQ("a\nb\tc", s->v[0].opts[0].value);
	spec_free(s);
	free(json);
}

/* A string member at exactly its limit passes; one byte more fails with E2BIG. */
static void check_string_bound(struct __test_metadata *_metadata, int which, size_t max,
			       const char *field)
{
	for (size_t len = max; len <= max + 1; len++) {
		char *str = long_string(len, 'a'), *params = NULL, *v, *json = NULL, msg[64];
		struct spec *s = NULL;
		struct spec_error e;
		int r;

		ASSERT_NE(NULL, str);
		if (which == 0)
			v = volume_json(str, "\"RW\"", "\"d\"", "\"n\"", NULL);
		else if (which == 1)
			v = volume_json("\"/x\"", "\"RW\"", str, "\"n\"", NULL);
		else if (which == 2)
			v = volume_json("\"/x\"", "\"RW\"", "\"d\"", str, NULL);
		else {
			const char *fmt = which == 3 ? "[{\"key\":%s,\"value\":\"v\"}]"
						     : "[{\"key\":\"k\",\"value\":%s}]";

			ASSERT_NE(-1, asprintf(&params, fmt, str));
			v = volume_json("\"/x\"", "\"RW\"", "\"d\"", "\"n\"", params);
		}
		ASSERT_NE(-1, asprintf(&json, "[%s]", v));
		r = parse_str(json, &s, &e);
		if (len == max) {
			EXPECT_EQ(0, r) TH_LOG("%s at %zu: %s", field, len, e.msg);
			spec_free(s);
		} else {
			snprintf(msg, sizeof(msg), "longer than %zu bytes", max);
			EXPECT_EQ(-E2BIG, r);
			EXPECT_EQ(0U, e.index);
			EXPECT_STREQ(field, e.field);
			EXPECT_STREQ(msg, e.msg);
		}
		free(json);
		free(v);
		free(params);
		free(str);
	}
}

TEST(string_bounds)
{
	check_string_bound(_metadata, 0, SPEC_MAX_PATH, "container_path");
	check_string_bound(_metadata, 1, SPEC_MAX_DRIVER, "source.docker_volume.driver");
	check_string_bound(_metadata, 2, SPEC_MAX_NAME, "source.docker_volume.name");
	check_string_bound(_metadata, 3, SPEC_MAX_KEY,
			   "source.docker_volume.driver_options.parameter[0].key");
	check_string_bound(_metadata, 4, SPEC_MAX_VALUE,
			   "source.docker_volume.driver_options.parameter[0].value");
	EXPECT_EQ(255, SPEC_MAX_NAME);
	EXPECT_EQ(4095, SPEC_MAX_PATH);
	EXPECT_EQ(4096, SPEC_MAX_VALUE);
}

/* count volumes with distinct names (skipped ones count too: the array is bounded). */
static char *many_volumes(size_t count, bool skipped)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	fputc('[', f);
	for (size_t i = 0; i < count; i++) {
		if (skipped)
			fprintf(f, "%s{\"container_path\":\"/h\",\"mode\":\"RW\"}", i ? "," : "");
		else
			fprintf(f, "%s" GOOD_VOLUME("/v%zu", "d", "n%zu"), i ? "," : "", i, i);
	}
	fputc(']', f);
	fclose(f);
	return out;
}

TEST(volume_count_bound)
{
	struct spec *s = NULL;
	struct spec_error e;
	char *json = many_volumes(SPEC_MAX_VOLUMES, false);

	ASSERT_NE(NULL, json);
	ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s", e.msg);
	EXPECT_EQ((size_t)(SPEC_MAX_VOLUMES), s->n);
	EXPECT_EQ((size_t)(SPEC_MAX_VOLUMES - 1), s->v[SPEC_MAX_VOLUMES - 1].index);
	spec_free(s);
	free(json);

	json = many_volumes(SPEC_MAX_VOLUMES + 1, false);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -E2BIG, SPEC_NO_INDEX, "", "more than 256 volumes");
	free(json);

	json = many_volumes(SPEC_MAX_VOLUMES + 1, true);
	ASSERT_NE(NULL, json);
	EXPECT_SPEC_ERROR(json, -E2BIG, SPEC_NO_INDEX, "", "more than 256 volumes");
	free(json);
}

TEST(option_count_bound)
{
	for (size_t count = SPEC_MAX_OPTS; count <= SPEC_MAX_OPTS + 1; count++) {
		char *params = NULL, *json = NULL;
		size_t len = 0;
		struct spec *s = NULL;
		struct spec_error e;
		FILE *f = open_memstream(&params, &len);

		ASSERT_NE(NULL, f);
		fputc('[', f);
		for (size_t i = 0; i < count; i++)
			fprintf(f, "%s{\"key\":\"k%zu\",\"value\":\"v\"}", i ? "," : "", i);
		fputc(']', f);
		fclose(f);
		json = volume_array("\"/x\"", "\"RW\"", "\"d\"", "\"n\"", params);
		ASSERT_NE(NULL, json);
		if (count == SPEC_MAX_OPTS) {
			ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s", e.msg);
			EXPECT_EQ((size_t)(SPEC_MAX_OPTS), s->v[0].n_opts);
			EXPECT_STREQ("k63", s->v[0].opts[63].key);
			spec_free(s);
		} else {
			EXPECT_SPEC_ERROR(json, -E2BIG, 0,
					  "source.docker_volume.driver_options.parameter",
					  "more than 64 driver options");
		}
		free(json);
		free(params);
	}
}

TEST(nesting_depth_bound)
{
	char json[256] = "{\"volumes\":[],\"x\":";
	size_t len = strlen(json), depth;

	/* The object itself is level 1: the unknown member adds the rest. */
	for (depth = 1; depth < SPEC_MAX_DEPTH; depth++)
		json[len++] = '[';
	for (size_t i = 1; i < SPEC_MAX_DEPTH; i++)
		json[len++] = ']';
	json[len++] = '}';
	json[len] = '\0';
	{
		struct spec *s = NULL;
		struct spec_error e;

		ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s", e.msg);
		spec_free(s);
	}

	strcpy(json, "{\"volumes\":[],\"x\":");
	len = strlen(json);
	for (depth = 1; depth <= SPEC_MAX_DEPTH; depth++)
		json[len++] = '[';
	for (size_t i = 1; i <= SPEC_MAX_DEPTH; i++)
		json[len++] = ']';
	json[len++] = '}';
	json[len] = '\0';
	EXPECT_SPEC_ERROR(json, -E2BIG, SPEC_NO_INDEX, "", "JSON nested deeper than 16 levels");
}

/* One valid document of exactly size bytes, padded with whitespace. */
static char *padded_doc(size_t size)
{
	static const char doc[] = "[" GOOD_VOLUME("/p", "d", "n") "]";
	char *buf;

	if (size < sizeof(doc))
		return NULL;
	buf = malloc(size);
	if (!buf)
		return NULL;
	memcpy(buf, doc, sizeof(doc) - 1);
	memset(buf + sizeof(doc) - 1, ' ', size - (sizeof(doc) - 1));
	return buf;
}

TEST(file_size_bound_in_memory)
{
	char *buf = padded_doc(SPEC_MAX_FILE + 1);
	struct spec *s = NULL;
	struct spec_error e;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(0, spec_parse(buf, SPEC_MAX_FILE, &s, &e)) TH_LOG("%s", e.msg);
	EXPECT_EQ(1U, s->n);
	spec_free(s);
	s = (struct spec *)0x1;
	EXPECT_EQ(-EFBIG, spec_parse(buf, SPEC_MAX_FILE + 1, &s, &e));
	EXPECT_STREQ("volume spec larger than 1048576 bytes", e.msg);
	EXPECT_EQ((struct spec *)0x1, s);
	free(buf);
}

static int write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ssize_t k;

	if (fd < 0)
		return -errno;
	k = write(fd, buf, len);
	close(fd);
	return k == (ssize_t)len ? 0 : -EIO;
}

TEST(file_size_bound_from_file)
{
	char dir[] = "/tmp/spec_test.XXXXXX", path[64];
	char *buf = padded_doc(SPEC_MAX_FILE + 1);
	struct spec *s = NULL;
	struct spec_error e;
	int fd;

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/spec.json", dir);

	ASSERT_EQ(0, write_file(path, buf, SPEC_MAX_FILE));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, spec_read_fd(fd, &s, &e)) TH_LOG("%s", e.msg);
	spec_free(s);
	s = (struct spec *)0x1;
	close(fd);

	ASSERT_EQ(0, write_file(path, buf, SPEC_MAX_FILE + 1));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EFBIG, spec_read_fd(fd, &s, &e));
	EXPECT_STREQ("volume spec larger than 1048576 bytes", e.msg);
	EXPECT_EQ((struct spec *)0x1, s);
	close(fd);

	unlink(path);
	rmdir(dir);
	free(buf);
}

/* stdin is a pipe for `--volumes -`: a writer that never stops must not make us read forever. */
TEST(endless_pipe_stops_at_bound)
{
	struct spec *s = (struct spec *)0x1;
	struct spec_error e;
	int p[2], status;
	pid_t pid;

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char chunk[4096];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(p[0]);
		memset(chunk, ' ', sizeof(chunk));
		chunk[0] = '[';
		for (;;)
			if (write(p[1], chunk, sizeof(chunk)) < 0)
				_exit(0);
	}
	close(p[1]);
	EXPECT_EQ(-EFBIG, spec_read_fd(p[0], &s, &e));
	EXPECT_EQ((struct spec *)0x1, s);
	close(p[0]);
	/* The writer dies of SIGPIPE or exits on EPIPE once the read end is gone. */
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
}

TEST(small_pipe_reads_to_eof)
{
	static const char doc[] = "[" GOOD_VOLUME("/p", "d", "piped") "]";
	struct spec *s = NULL;
	struct spec_error e;
	int p[2];

	ASSERT_EQ(0, pipe2(p, O_CLOEXEC));
	/* Two writes: the reader must not stop at the first short read. */
	ASSERT_EQ(10, write(p[1], doc, 10));
	ASSERT_EQ((ssize_t)sizeof(doc) - 11, write(p[1], doc + 10, sizeof(doc) - 11));
	close(p[1]);
	ASSERT_EQ(0, spec_read_fd(p[0], &s, &e)) TH_LOG("%s", e.msg);
	close(p[0]);
	ASSERT_EQ(1U, s->n);
	EXPECT_STREQ("piped", s->v[0].name);
	spec_free(s);
}

TEST(read_errors)
{
	struct spec *s = (struct spec *)0x1;
	struct spec_error e;
	int fd;

	EXPECT_EQ(-EBADF, spec_read_fd(-1, &s, &e));
	EXPECT_STREQ("reading the volume spec: Bad file descriptor", e.msg);
	fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EISDIR, spec_read_fd(fd, &s, &e));
	close(fd);
	EXPECT_EQ((struct spec *)0x1, s);
}

TEST(garbage_and_truncated_json)
{
	EXPECT_SPEC_ERROR("", -EINVAL, SPEC_NO_INDEX, "", "empty volume spec");
	EXPECT_SPEC_ERROR(" \n\t ", -EINVAL, SPEC_NO_INDEX, "", "empty volume spec");
	EXPECT_SPEC_ERROR("[1,", -EINVAL, SPEC_NO_INDEX, "", "truncated JSON: 3 bytes");
	EXPECT_SPEC_ERROR("hello", -EINVAL, SPEC_NO_INDEX, "",
			  "invalid JSON at offset 0: unexpected character");
	EXPECT_SPEC_ERROR("[] x", -EINVAL, SPEC_NO_INDEX, "",
			  "invalid JSON at offset 3: unexpected character");
	EXPECT_SPEC_ERROR("[][]", -EINVAL, SPEC_NO_INDEX, "",
			  "invalid JSON at offset 2: unexpected character");
	/* Strict JSON: no trailing commas, no single quotes. */
	EXPECT_SPEC_ERROR("[1,]", -EINVAL, SPEC_NO_INDEX, "",
			  "invalid JSON at offset 3: unexpected character");
	EXPECT_SPEC_ERROR("['a']", -EINVAL, SPEC_NO_INDEX, "",
			  "invalid JSON at offset 1: unexpected character");
	EXPECT_SPEC_ERROR("[\"\xff\"]", -EINVAL, SPEC_NO_INDEX, "",
			  "invalid JSON at offset 2: invalid utf-8 string");
}

TEST(every_prefix_of_a_valid_spec_fails)
{
	struct spec *s = NULL;
	struct spec_error e;
	char *doc = NULL;
	size_t len;
	int fd = open_data("seed-task-two-volumes.json");
	ssize_t k;

	ASSERT_LE(0, fd);
	doc = malloc(8192);
	ASSERT_NE(NULL, doc);
	k = read(fd, doc, 8192);
	close(fd);
	ASSERT_LT(0, k);
	len = (size_t)k;
	/* Drop the trailing newline, then the closing brace: the rest must never parse. */
	while (len && (doc[len - 1] == '\n' || doc[len - 1] == ' '))
		len--;
	ASSERT_EQ('}', doc[len - 1]);
	for (size_t n = 0; n < len; n++) {
		s = (struct spec *)0x1;
		EXPECT_GT(0, spec_parse(doc, n, &s, &e)) TH_LOG("prefix %zu parsed", n);
		EXPECT_EQ((struct spec *)0x1, s);
	}
	ASSERT_EQ(0, spec_parse(doc, len, &s, &e));
	EXPECT_EQ(2U, s->n);
	spec_free(s);
	free(doc);
}

TEST(null_error_pointer_is_allowed)
{
	struct spec *s = NULL;

	EXPECT_EQ(-EINVAL, spec_parse("[1", 2, &s, NULL));
	static const char no_dv[] = "[{\"source\":{\"type\":\"DOCKER_VOLUME\"}}]";

	EXPECT_EQ(-EINVAL, spec_parse(no_dv, sizeof(no_dv) - 1, &s, NULL));
	EXPECT_NULL(s);
	spec_free(NULL);
}

TEST(error_format)
{
	struct spec_error e = { .index = SPEC_NO_INDEX, .field = "", .msg = "empty volume spec" };
	char buf[512], small[12];

	EXPECT_STREQ("empty volume spec", spec_error_format(&e, buf, sizeof(buf)));
	snprintf(e.field, sizeof(e.field), "volumes");
	snprintf(e.msg, sizeof(e.msg), "expected an array, got an object");
	EXPECT_STREQ("volumes: expected an array, got an object",
		     spec_error_format(&e, buf, sizeof(buf)));
	e.index = 0;
	e.field[0] = '\0';
	EXPECT_STREQ("volume 0: expected an array, got an object",
		     spec_error_format(&e, buf, sizeof(buf)));
	EXPECT_STREQ("volume 0: e", spec_error_format(&e, small, sizeof(small)));
}

TEST(canonical_json_round_trip)
{
	static const char *const expected =
	    "{\"container_path\":\"rel/dir\",\"mode\":\"RO\",\"source\":{\"type\":"
	    "\"DOCKER_VOLUME\",\"docker_volume\":{\"driver\":\"rexray\",\"name\":\"v2\","
	    "\"driver_options\":{\"parameter\":[{\"key\":\"size\",\"value\":\"2\"},"
	    "{\"key\":\"iops\",\"value\":\"1\"}]}}}}";
	struct spec *s = NULL, *again = NULL;
	struct json_object *arr = NULL, *one = NULL;
	struct spec_error e;
	const char *text;
	char *v;

	v = volume_json("\"rel/dir\"", "\"RO\"", "\"rexray\"", "\"v2\"",
			"[{\"key\":\"size\",\"value\":\"1\"},{\"key\":\"iops\",\"value\":\"1\"},"
			"{\"key\":\"size\",\"value\":\"2\"}]");
	{
		char *json = NULL;

		ASSERT_NE(-1, asprintf(&json,
				       "[{\"container_path\":\"/h\",\"mode\":\"RW\"}," GOOD_VOLUME(
					   "/abs", "convoy", "v1") ",%s]",
				       v));
		ASSERT_EQ(0, parse_str(json, &s, &e)) TH_LOG("%s", e.msg);
		free(json);
	}
	ASSERT_EQ(2U, s->n);

	ASSERT_EQ(0, spec_volume_to_json(&s->v[1], &one));
	text = json_object_to_json_string_ext(one, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE);
	EXPECT_STREQ(expected, text);
	json_object_put(one);

	ASSERT_EQ(0, spec_to_json(s, &arr));
	text = json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PLAIN);
	ASSERT_EQ(0, parse_str(text, &again, &e)) TH_LOG("%s", e.msg);
	ASSERT_EQ((size_t)(s->n), again->n);
	for (size_t i = 0; i < s->n; i++) {
		EXPECT_STREQ(s->v[i].driver, again->v[i].driver);
		EXPECT_STREQ(s->v[i].name, again->v[i].name);
		EXPECT_STREQ(s->v[i].container_path, again->v[i].container_path);
		EXPECT_EQ(s->v[i].mode, again->v[i].mode);
		ASSERT_EQ((size_t)(s->v[i].n_opts), again->v[i].n_opts);
		for (size_t j = 0; j < s->v[i].n_opts; j++) {
			EXPECT_STREQ(s->v[i].opts[j].key, again->v[i].opts[j].key);
			EXPECT_STREQ(s->v[i].opts[j].value, again->v[i].opts[j].value);
		}
	}
	/* The record keeps DOCKER_VOLUME entries only, so indexes restart at 0. */
	EXPECT_EQ(1U, s->v[0].index);
	EXPECT_EQ(0U, again->v[0].index);
	EXPECT_STREQ("RO", spec_mode_to_string(SPEC_RO));
	EXPECT_STREQ("RW", spec_mode_to_string(SPEC_RW));
	json_object_put(arr);
	spec_free(again);
	spec_free(s);
	free(v);
}

TEST_HARNESS_MAIN
