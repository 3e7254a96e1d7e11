// Assembles everything the host runs: the containers plus the one-shot units and scripts they rely on.
import { ContainerUnit, HostDefinition, OneShotUnit } from "./model";
import { DOCKER, NETWORK_NAME, NETWORK_UNIT } from "./layout";
import { ArtifactLocation, HostScriptSources, hostScripts, provisionUnit } from "./provision";
import { reportUnit } from "./report";

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
}

export function buildHost(input: HostInput): HostDefinition {
    return {
        containers: input.containers,
        // The report goes to the artifact's bucket: the role already reaches it, the cutover reads it there.
        oneshots: [networkUnit(), provisionUnit(input.artifact), reportUnit(input.artifact)],
        files: hostScripts(input.scripts),
        sshAuthorizedKeys: input.sshAuthorizedKeys,
    };
}
