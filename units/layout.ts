// Where things live on the host. One place, so units, scripts and tests agree.

/** Docker's CLI on Flatcar. Every command in a unit uses an absolute path. */
export const DOCKER = "/usr/bin/docker";

/** The user-defined Docker network every container joins; containers reach each other by name on it. */
export const NETWORK_NAME = "coreos-containers";

/** The one-shot unit that creates {@link NETWORK_NAME}. */
export const NETWORK_UNIT = "coreos-containers-network.service";

/** The one-shot unit that fetches, verifies and unpacks the artifact at boot (the seed's name). */
export const PROVISION_UNIT = "provision.service";

/** Scripts written onto the host (host-scripts/). */
export const BIN_DIR = "/opt/coreos-containers/bin";

/** The script that pulls or loads an image only when it is missing (host-scripts/ensure-image.sh). */
export const ENSURE_IMAGE = `${BIN_DIR}/ensure-image`;

/** The artifact's releases (`<sha256>/`) and the `current` symlink the units read from. */
export const ARTIFACT_ROOT = "/var/lib/coreos-containers/artifact";
export const ARTIFACT_CURRENT = `${ARTIFACT_ROOT}/current`;

/** Inside the artifact, saved Docker images sit under this folder. */
export const ARTIFACT_IMAGES_DIR = "images";

/** The systemd unit that runs a container. */
export function containerUnitName(containerName: string): string {
    return `docker-${containerName}.service`;
}

/** The one-shot unit that fetches this host's secrets at boot, before any container that needs them. */
export const SECRETS_UNIT = "coreos-containers-secrets.service";

/** What the secrets unit fetches and where each value goes (no values): written by the user-data. */
export const SECRETS_MANIFEST = "/etc/coreos-containers/secrets.json";

/** Where the secrets unit writes: tmpfs, root-only, fresh at every boot. */
export const SECRETS_DIR = "/run/coreos-containers/secrets";

/** A container's env file of secret values (`docker run --env-file`). */
export function secretEnvFile(containerName: string): string {
    return `${SECRETS_DIR}/${containerName}.env`;
}

/** The host file of a container's secret file (`-v …:ro`), by its index in `secretFiles` and the secret's name. */
export function secretFilePath(containerName: string, index: number, secret: string): string {
    return `${SECRETS_DIR}/${containerName}/${index}-${secret}`;
}

/**
 * A target that wants every unit of the host, first in the user-data's list. coreos-cloudinit starts
 * the listed units one at a time, each `start` waiting for its job to finish (go-systemd's StartUnit
 * waits for JobRemoved); its first `start` of this target puts every unit into one transaction, so
 * systemd starts them all at once in their own order (images fetched in parallel), as a later boot's
 * multi-user.target does, and the later `start`s find them started.
 */
export const HOST_TARGET = "coreos-containers.target";

/** ExecStartPost= of a container with a health check: waits until Docker reports it healthy (host-scripts/wait-healthy.sh). */
export const WAIT_HEALTHY = `${BIN_DIR}/wait-healthy`;

/** ExecStartPre= of a container with dependencies: waits until they are active and healthy (host-scripts/wait-dependencies.sh). */
export const WAIT_DEPENDENCIES = `${BIN_DIR}/wait-dependencies`;

/** The ready unit's script (units/report.ts names the unit, READY_UNIT, and the file it writes, BOOT_STATUS_FILE). */
export const READY_SCRIPT = `${BIN_DIR}/ready`;

/**
 * The containers the ready unit watches, one `NAME UP` line each (UP: `healthy`, or `running` without a
 * health check), in declaration order. A file rather than the unit's environment: one line per
 * container keeps every unit line short however many containers there are (Ignition's unit parser
 * refuses a line of 2,048 bytes).
 */
export const READY_CONTAINERS_FILE = "/opt/coreos-containers/containers";

/**
 * The one-shot unit that fetches a container's image (pull or load) as soon as Docker (and, for a
 * tarball, the artifact) is there, whatever the container waits for. Container names are DNS labels,
 * so `image-<name>` never collides with `docker-<name>`.
 */
export function imageUnitName(containerName: string): string {
    return `image-${containerName}.service`;
}

/**
 * Where the persistent data disk is mounted; a container's `{ kind: "data", path }` is a folder under it.
 * No `-` in the path, so its mount unit's name (systemd-escape --path) is a plain word: `var-lib-containerdata.mount`.
 */
export const DATA_DIR = "/var/lib/containerdata";

/** The one-shot that attaches the data volume (waiting while the old host holds it) and formats it only when blank. */
export const DATA_UNIT = "coreos-containers-data.service";

/** Its script (host-scripts/data-volume.sh). */
export const DATA_SCRIPT = `${BIN_DIR}/data-volume`;

/** What the data unit found (a JSON object: volumeId, state, formatted, device, uuid), rewritten at each step; the ready unit reads it. */
export const DATA_STATUS_FILE = "/run/coreos-containers/data-volume.json";

/** A link the data unit makes to the disk, by UUID where udev made /dev/disk/by-uuid: the mount unit's What=. */
export const DATA_DISK_LINK = "/run/coreos-containers/data-disk";

/** The ext4 label the data unit gives a blank disk (at most 16 bytes: mke2fs truncates longer ones silently). */
export const DATA_LABEL = "containerdata";

/** The host path of a container's data folder. */
export function dataPath(relative: string): string {
    return `${DATA_DIR}/${relative}`;
}
