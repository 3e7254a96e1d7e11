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
