/* SPDX-License-Identifier: MIT */
#include <string.h>

#include "common/macro.h"
#include "helper/help.h"

static const struct help {
	const char *command;
	const char *text;
} helps[] = {
	{ NULL, "usage: dvmount [GLOBAL OPTIONS] COMMAND [ARGS...]\n"
		"Docker volume plugins for any containerizer: mounts volumes through a plugin,\n"
		"attaches them into containers, keeps reference counts, obeys a policy file.\n"
		"\n"
		"commands:\n"
		"  prepare    attach a container's volumes (or print the bind mounts to do)\n"
		"  cleanup    release a container's volumes\n"
		"  recover    reconcile the state after a restart or a crash\n"
		"  status     show containers, volumes and users\n"
		"  volume     call a plugin directly (create, remove, mount, list, ...)\n"
		"  policy     check a policy file\n"
		"  oci-hook   OCI runtime hook (runc, crun, podman's hooks.d)\n"
		"  dvdcli     dvdcli's command line, for Mesos' docker/volume isolator\n"
		"  version    print the version\n"
		"\n"
		"global options:\n"
		"  --state-dir DIR      state directory (default /var/lib/dvmount)\n"
		"  --policy FILE        policy file (default /etc/dvmount/policy.conf)\n"
		"  --plugin-path DIRS   colon-separated plugin directories (default Docker's)\n"
		"  --json               print JSON on stdout\n"
		"  --debug              debug lines on stderr (DVMOUNT_DEBUG=rpc,ns,state too)\n"
		"  --no-uring           plain syscalls instead of io_uring for plugin calls\n"
		"  --plugin-retry SEC   how long to wait for a plugin's socket (default 15)\n"
		"  --timeout SEC        timeout of plugin calls other than Mount (default 60)\n"
		"  --timeout-mount SEC  timeout of a plugin's Mount (default 120)\n"
		"  --max-in-flight N    Create/Remove/Mount/Unmount in flight to one plugin\n"
		"                       (default: the policy's max-in-flight, else 1)\n"
		"  -h, --help           this help; `dvmount COMMAND --help` for a command's\n"
		"\n"
		"exit status: 0 success, 1 failure, 2 usage error, 3 denied by policy\n"
		"example:\n"
		"  dvmount prepare --container-id c1 --volumes vols.json --pid 4242\n"
		"See dvmount(8), dvmount-policy(5), dvmount-run(1).\n" },
	{ "prepare",
	  "usage: dvmount prepare --container-id ID --volumes FILE|- [--pid PID]\n"
	  "                       [--rootfs DIR] [--sandbox DIR] [--user UID[:GID]]\n"
	  "Mount a container's Docker volumes through their plugins and attach them into\n"
	  "process PID's mount namespace; without --pid, print the bind mounts to do.\n"
	  "Prints one JSON document.\n"
	  "\n"
	  "  --container-id ID  the container's id (letters, digits, . _ : -)\n"
	  "  --volumes FILE|-   Mesos' JSON array of Volume objects (or a ContainerInfo)\n"
	  "  --pid PID          attach into this process's mount namespace\n"
	  "  --rootfs DIR       the container's root on the host (absolute paths land in it)\n"
	  "  --sandbox DIR      where relative container paths land (default: PID's cwd)\n"
	  "  --user UID[:GID]   chown each volume's root to this user\n"
	  "  --json             accepted; prepare always prints JSON\n"
	  "example:\n"
	  "  dvmount prepare --container-id c1 --volumes vols.json --pid 4242 --rootfs "
	  "/srv/c1/rootfs\n" },
	{ "cleanup",
	  "usage: dvmount cleanup --container-id ID\n"
	  "Detach and release a container's volumes; the plugin's Unmount comes with the\n"
	  "last user of a volume. Idempotent.\n"
	  "\n"
	  "  --container-id ID  the id given to prepare\n"
	  "example:\n"
	  "  dvmount cleanup --container-id c1\n" },
	{ "recover",
	  "usage: dvmount recover [--known ID[,ID...]]... [--known-file FILE] [--gc-dead]\n"
	  "After a containerizer restart or a crash: finish or undo interrupted work, and\n"
	  "release the volumes of containers that are gone.\n"
	  "\n"
	  "  --known ID[,ID...]  containers the containerizer still runs (others are released)\n"
	  "  --known-file FILE   the same, one id per line\n"
	  "  --gc-dead           release containers whose process has exited\n"
	  "example:\n"
	  "  dvmount recover --gc-dead\n" },
	{ "status", "usage: dvmount status [--container-id ID] [--json]\n"
		    "Show the containers, the volumes they use and each volume's users.\n"
		    "\n"
		    "  --container-id ID  only this container\n"
		    "  --json             one JSON document\n"
		    "example:\n"
		    "  dvmount status --json\n" },
	{ "volume",
	  "usage: dvmount volume create|remove|mount|unmount|path|get|list|capabilities\n"
	  "                      --driver D [--name N] [--opt K=V]... [--id ID] [--json]\n"
	  "Call one VolumeDriver endpoint of a plugin (root only).\n"
	  "\n"
	  "  --driver D   the plugin's name (its socket or spec file in the plugin path)\n"
	  "  --name N     the volume (all but list and capabilities)\n"
	  "  --opt K=V    a create option, repeatable\n"
	  "  --id ID      the mount ID for mount and unmount\n"
	  "  --json       the plugin's answer as JSON\n"
	  "example:\n"
	  "  dvmount volume create --driver rclone --name myvolume --opt "
	  "remote=:local:/srv/data\n" },
	{ "policy", "usage: dvmount [--policy FILE] policy check [FILE]\n"
		    "Check a policy file (default: the one in use); errors as file:line:column.\n"
		    "example:\n"
		    "  dvmount policy check /etc/dvmount/policy.conf\n" },
	{ "oci-hook",
	  "usage: dvmount oci-hook createRuntime|poststop\n"
	  "An OCI runtime hook: reads the container's state on stdin; its volumes come from\n"
	  "config.json's annotations: org.dvmount.volumes (the JSON of --volumes), or one\n"
	  "per volume, org.dvmount.volume.NAME=DRIVER:CONTAINER_PATH[:ro|:rw] with options\n"
	  "org.dvmount.volume.NAME.opt.KEY=VALUE. createRuntime prepares, poststop cleans up.\n"
	  "example:\n"
	  "  podman run --annotation org.dvmount.volume.data=rclone:/data IMAGE ls /data\n"
	  "  (with the hooks.d file that dvmount installs; see dvmount(8) for runc, crun)\n" },
	{ "dvdcli",
	  "usage: dvmount dvdcli mount|unmount|path|create|remove|get|list|version\n"
	  "               --volumedriver=DRIVER --volumename=NAME [--volumeopts=KEY=VALUE]...\n"
	  "               [--explicitcreate]\n"
	  "dvdcli's command line and output, for Mesos' docker/volume isolator (also as\n"
	  "a `dvdcli` symlink). Exits 1 on any error, like dvdcli.\n"
	  "example:\n"
	  "  dvdcli mount --volumedriver=rclone --volumename=myvolume\n" },
	{ "version",
	  "usage: dvmount version\nPrint dvmount's version.\nexample:\n  dvmount version\n" },
};

bool help_print(FILE *f, const char *command)
{
	for (size_t i = 0; i < ARRAY_SIZE(helps); i++)
		if (command ? helps[i].command && !strcmp(helps[i].command, command)
			    : !helps[i].command) {
			fputs(helps[i].text, f);
			return true;
		}
	return false;
}
