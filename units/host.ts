// Assembles everything the host runs: the containers plus the one-shot units and scripts they rely on.
import { ContainerUnit, HostDefinition, OneShotUnit } from "./model";
import { DOCKER, NETWORK_NAME, NETWORK_UNIT } from "./layout";
import { ArtifactLocation, HostScriptSources, hostScripts, provisionUnit } from "./provision";
import { reportUnit } from "./report";
import { SecretParameters, secretsManifestFile, secretsUnit, usesSecrets } from "./secrets";

/** The host script that fetches secrets: shipped only to a host whose containers take secrets. */
export const SECRETS_SCRIPT_FILE = "secrets.sh";

/** The unit that creates the user-defined Docker network (idempotent: it may already exist after a reboot). */
export function networkUnit(): OneShotUnit {
    return {
        kind: "oneshot",
        name: NETWORK_UNIT,
        description: `Docker network ${NETWORK_NAME} for the containers`,
        requires: ["docker.service"],
        exec: [["/bin/sh", "-c", `${DOCKER} network inspect ${NETWORK_NAME} >/dev/null 2>&1 || ${DOCKER} network create ${NETWORK_NAME}`]],
    };
}

export interface HostInput {
    readonly containers: readonly ContainerUnit[];
    readonly artifact: ArtifactLocation;
    readonly sshAuthorizedKeys: readonly string[];
    /** The scripts of host-scripts/, file name → text (host-scripts/index.ts reads them). */
    readonly scripts: HostScriptSources;
    /** The SSM parameter (name and version) of each secret the containers take; required when any does. */
    readonly secrets?: SecretParameters;
}

export function buildHost(input: HostInput): HostDefinition {
    const withSecrets = input.containers.some(usesSecrets);
    const scripts = withSecrets
        ? input.scripts
        : Object.fromEntries(Object.entries(input.scripts).filter(([name]) => name !== SECRETS_SCRIPT_FILE));
    return {
        containers: input.containers,
        // The report goes to the artifact's bucket: the role already reaches it, the cutover reads it there.
        oneshots: [networkUnit(), provisionUnit(input.artifact), ...(withSecrets ? [secretsUnit()] : []), reportUnit(input.artifact)],
        files: [
            ...hostScripts(scripts),
            ...(withSecrets ? [secretsManifestFile(input.containers, input.secrets ?? {}, input.artifact.region)] : []),
        ],
        sshAuthorizedKeys: input.sshAuthorizedKeys,
    };
}
