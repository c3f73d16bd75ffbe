/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/crashscene.h"

int crash_scene_start(struct lcenv *e, struct tu_container ct[static 2],
		      char ret_sandbox[static PATH_MAX], char ret_vols0[static PATH_MAX],
		      char ret_vols1[static PATH_MAX], struct run_result *r)
{
	struct lcvol v0[] = { { .name = "v1", .path = "c0/v1" } };
	struct lcvol v1[] = { { .name = "v1", .path = "c1/v1" },
			      { .name = "v2", .path = "c1/v2" } };
	char pid[16];
	int ret;

	memset(r, 0, sizeof(*r));
	ret = lcenv_setup(e, NULL);
	if (ret < 0)
		return ret;
	tu_path(ret_sandbox, "%s/sb", e->dir);
	ret = tu_mkdirs(ret_sandbox, 0755);
	if (ret == 0)
		ret = lcenv_volumes(e, "c0.json", v0, 1, ret_vols0);
	if (ret == 0)
		ret = lcenv_volumes(e, "c1.json", v1, 2, ret_vols1);
	if (ret == 0)
		ret = tu_container_start(&ct[0], NULL, 0);
	if (ret == 0)
		ret = tu_container_start(&ct[1], NULL, 0);
	if (ret < 0)
		return ret;
	lcenv_run(e, r, "prepare", "--container-id", "c0", "--volumes", ret_vols0, "--pid",
		  lc_pidstr(pid, ct[0].pid), "--sandbox", ret_sandbox, NULL);
	return r->status == 0 ? 0 : -EIO;
}

int crash_points_list(struct crash_points *ret)
{
	struct run_result r;
	char *save = NULL;
	int err = 0;

	memset(ret, 0, sizeof(*ret));
	if (setenv("DVMOUNT_CRASH_AT", "list", 1) < 0)
		return -errno;
	run_dvmount(&r, "version", NULL);
	unsetenv("DVMOUNT_CRASH_AT");
	if (r.status != 0 || !r.out || (r.err && *r.err))
		err = -EIO;
	for (char *l = err ? NULL : strtok_r(r.out, "\n", &save); l && !err;
	     l = strtok_r(NULL, "\n", &save)) {
		if (ret->n == CRASH_POINTS_MAX)
			err = -E2BIG;
		else if (!(ret->name[ret->n++] = strdup(l)))
			err = -ENOMEM;
	}
	run_result_free(&r);
	if (err)
		crash_points_free(ret);
	return err;
}

void crash_points_free(struct crash_points *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->name[i]);
	p->n = 0;
}

int crash_scene_run(const struct crash_scene *s, struct run_result *r, const char *point,
		    const char *op)
{
	char pid[16];

	if (!strcmp(op, "prepare"))
		return lcenv_run_crash(s->e, r, point, "prepare", "--container-id", "c1",
				       "--volumes", s->vols1, "--pid", lc_pidstr(pid, s->c1),
				       "--sandbox", s->sandbox, NULL);
	if (!strcmp(op, "prepare-shared") && s->vols1_shared)
		return lcenv_run_crash(s->e, r, point, "prepare", "--container-id", "c1",
				       "--volumes", s->vols1_shared, "--pid", lc_pidstr(pid, s->c1),
				       "--sandbox", s->sandbox, NULL);
	if (!strcmp(op, "cleanup-holder"))
		return lcenv_run_crash(s->e, r, point, "cleanup", "--container-id", "c0", NULL);
	if (!strcmp(op, "cleanup"))
		return lcenv_run_crash(s->e, r, point, "cleanup", "--container-id", "c1", NULL);
	if (!strcmp(op, "recover"))
		return lcenv_run_crash(s->e, r, point, "recover", "--known", "c0", NULL);
	if (!strcmp(op, "dvdcli-mount"))
		return lcenv_run_crash(s->e, r, point, "dvdcli", "mount", "--volumedriver=tp",
				       "--volumename=v3", NULL);
	if (!strcmp(op, "dvdcli-unmount"))
		return lcenv_run_crash(s->e, r, point, "dvdcli", "unmount", "--volumedriver=tp",
				       "--volumename=v3", NULL);
	return -EINVAL;
}
