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

/** The one-shot unit that watches the containers come up at boot and writes {@link BOOT_STATUS_FILE}. */
export const READY_UNIT = "coreos-containers-ready.service";
export const READY_SCRIPT = `${BIN_DIR}/ready`;

/**
 * The containers the ready unit watches, one `NAME UP` line each (UP: `healthy`, or `running` without a
 * health check), in declaration order. A file rather than the unit's environment: one line per
 * container keeps every unit line short however many containers there are (Ignition's unit parser
 * refuses a line of 2,048 bytes).
 */
export const READY_CONTAINERS_FILE = "/opt/coreos-containers/containers";

/** How the last boot went, rewritten on every boot by {@link READY_UNIT}: a contract for the reporter and the cutover step. */
export const BOOT_STATUS_FILE = "/var/lib/coreos-containers/status/boot.json";

/**
 * The one-shot unit that fetches a container's image (pull or load) as soon as Docker (and, for a
 * tarball, the artifact) is there, whatever the container waits for. Container names are DNS labels,
 * so `image-<name>` never collides with `docker-<name>`.
 */
export function imageUnitName(containerName: string): string {
    return `image-${containerName}.service`;
}
