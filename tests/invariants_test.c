/* SPDX-License-Identifier: MIT */
/*
 * The checks of tests/lib/invariants.h read what a plugin holds right: the
 * kill tests trust them after thousands of Mounts, each under a fresh ID.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "tests/lib/invariants.h"

FIXTURE(held)
{
	char *dir;
	char log[PATH_MAX];
};

FIXTURE_SETUP(held)
{
	self->dir = make_tmpdir("invariants");
	ASSERT_NE(NULL, self->dir);
	snprintf(self->log, sizeof(self->log), "%s/tp.log", self->dir);
}

FIXTURE_TEARDOWN(held)
{
	remove_tree(self->dir);
	free(self->dir);
}

static void call(FILE *f, const char *endpoint, int id, int status)
{
	fprintf(f,
		"{\"endpoint\":\"VolumeDriver.%s\",\"name\":\"v\",\"id\":\"id%d\",\"status\":%d}\n",
		endpoint, id, status);
}

/* 300 IDs one after the other, every 7th never unmounted: 43 held. */
TEST_F(held, many_more_ids_than_held_at_once)
{
	struct inv_held h;
	char id[16];
	FILE *f = fopen(self->log, "w");

	ASSERT_NE(NULL, f);
	for (int i = 0; i < 300; i++) {
		call(f, "Mount", i, 200);
		call(f, "Unmount", i, i % 7 == 3 ? 500 : 200);
	}
	fclose(f);
	ASSERT_EQ(0, inv_plugin_held(self->log, &h));
	EXPECT_EQ(43, inv_held_count(&h));
	for (int i = 0; i < 300; i++) {
		snprintf(id, sizeof(id), "id%d", i);
		EXPECT_EQ(i % 7 == 3, inv_is_held(&h, id)) TH_LOG("%s", id);
	}
}

/* More IDs held at once than it tracks: said, never miscounted. */
TEST_F(held, too_many_held_at_once_is_e2big)
{
	struct inv_held h;
	FILE *f = fopen(self->log, "w");

	ASSERT_NE(NULL, f);
	for (int i = 0; i <= INV_IDS_MAX; i++)
		call(f, "Mount", i, 200);
	fclose(f);
	EXPECT_EQ(-E2BIG, inv_plugin_held(self->log, &h));
}

TEST_F(held, absent_log_holds_nothing)
{
	struct inv_held h;

	ASSERT_EQ(0, inv_plugin_held(self->log, &h));
	EXPECT_EQ(0, inv_held_count(&h));
}

TEST_HARNESS_MAIN
