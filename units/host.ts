// Assembles everything the host runs: the containers plus the one-shot units and scripts they rely on.
import { ContainerUnit, HostDefinition, OneShotUnit, WriteFile } from "./model";
import { DOCKER, NETWORK_NAME, NETWORK_UNIT, READY_CONTAINERS_FILE, READY_SCRIPT } from "./layout";
import { ArtifactLocation, HostScriptSources, hostScripts, provisionUnit } from "./provision";
import { BOOT_STATUS_FILE, READY_UNIT, reportUnit } from "./report";
import { SecretParameters, secretsManifestFile, secretsUnit, usesSecrets } from "./secrets";

/** The host script that fetches secrets: shipped only to a host whose containers take secrets. */
export const SECRETS_SCRIPT_FILE = "secrets.sh";
import { healthWaitSec } from "./health";
import { CONTAINER_TIMEOUT_START_SEC } from "./systemd";

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

/** The container's wait budget, or 0 without a (well-formed) health check: validation reports the rest. */
function waitOf(c: ContainerUnit): number {
    const h = c.healthCheck;
    const wait = typeof h === "object" && h !== null ? healthWaitSec(h) : 0;
    return typeof wait === "number" && Number.isFinite(wait) && wait > 0 ? wait : 0;
}

/**
 * How long the ready unit watches before it writes `timeout`: a first fetch of the images (they are
 * fetched in parallel) plus the longest chain of health waits along dependsOn, each container
 * starting only once the one before it is healthy.
 */
export function readyBudgetSec(containers: readonly ContainerUnit[]): number {
    const byName = new Map(containers.map((c) => [c.name, c]));
    const chain = new Map<string, number>();
    const longest = (c: ContainerUnit, visiting: ReadonlySet<string>): number => {
        const known = chain.get(c.name);
        if (known !== undefined) return known;
        // A cycle: validation reports it and nothing is rendered; just stop walking.
        const deps = (c.dependsOn ?? []).flatMap((d) => {
            const dep = byName.get(d?.name);
            return dep && !visiting.has(dep.name) ? [dep] : [];
        });
        const inner = new Set([...visiting, c.name]);
        const value = waitOf(c) + Math.max(0, ...deps.map((d) => longest(d, inner)));
        chain.set(c.name, value);
        return value;
    };
    return CONTAINER_TIMEOUT_START_SEC + Math.max(0, ...containers.map((c) => longest(c, new Set())));
}

/** Seconds the ready unit may run beyond its budget: collecting the states and journals, writing the file. */
export const READY_MARGIN_SEC = 60;

/**
 * The unit that knows when the boot is done: started at boot and ordered after nothing of ours, it
 * polls the container and image units until every container is up (healthy, or running when it has
 * no health check), one has failed, or the budget has passed, and writes BOOT_STATUS_FILE. It exits
 * non-zero unless the boot is `ready`, so a failed boot also shows in `systemctl --failed`.
 */
export function readyUnit(containers: readonly ContainerUnit[], prerequisites: readonly string[]): OneShotUnit {
    const budget = readyBudgetSec(containers);
    return {
        kind: "oneshot",
        name: READY_UNIT,
        description: "Wait for the containers to be healthy and record the boot in boot.json",
        environment: {
            READY_BUDGET_SECONDS: String(budget),
            READY_CONTAINERS_FILE,
            // The one-shots the containers need: when one fails, none of those can start, and the boot is failed at once.
            READY_PREREQUISITES: prerequisites.join(" "),
            READY_STATUS_FILE: BOOT_STATUS_FILE,
        },
        exec: [[READY_SCRIPT]],
        timeoutStartSec: budget + READY_MARGIN_SEC,
    };
}

/** What the ready unit watches: READY_CONTAINERS_FILE, `NAME UP` per container. */
export function readyContainersFile(containers: readonly ContainerUnit[]): WriteFile {
    return {
        path: READY_CONTAINERS_FILE,
        permissions: "0644",
        owner: "root:root",
        content: containers.map((c) => `${c.name} ${c.healthCheck ? "healthy" : "running"}\n`).join(""),
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
    /** The stack's persistent data volume, when it has one, e.g. `{ volumeId: "vol-0123456789abcdef0" }`; the host attaches it itself. */
    readonly dataVolume?: { readonly volumeId: string };
}

export function buildHost(input: HostInput): HostDefinition {
    const withSecrets = input.containers.some(usesSecrets);
    const scripts = withSecrets
        ? input.scripts
        : Object.fromEntries(Object.entries(input.scripts).filter(([name]) => name !== SECRETS_SCRIPT_FILE));
    // What the containers need before any can start; the ready unit watches them too.
    const prerequisites = [networkUnit(), provisionUnit(input.artifact), ...(withSecrets ? [secretsUnit()] : [])];
    return {
        containers: input.containers,
        // The report goes to the artifact's bucket: the role already reaches it, the cutover reads it there.
        oneshots: [
            ...prerequisites,
            readyUnit(
                input.containers,
                prerequisites.map((u) => u.name),
            ),
            reportUnit(input.artifact),
        ],
        files: [
            ...hostScripts(scripts),
            ...(withSecrets ? [secretsManifestFile(input.containers, input.secrets ?? {}, input.artifact.region)] : []),
            readyContainersFile(input.containers),
        ],
        sshAuthorizedKeys: input.sshAuthorizedKeys,
    };
}
