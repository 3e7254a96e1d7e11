// Assembles everything the host runs: the containers plus the one-shot units and scripts they rely on.
import { ContainerUnit, HostDefinition, OneShotUnit, WriteFile } from "./model";
import { DATA_STATUS_FILE, DATA_UNIT, DOCKER, NETWORK_NAME, NETWORK_UNIT, READY_CONTAINERS_FILE, READY_SCRIPT } from "./layout";
import { ArtifactLocation, HostScriptSources, hostScripts, provisionUnit } from "./provision";
import { BOOT_STATUS_FILE, READY_UNIT, REPORT_RETRY_SECONDS, REPORT_SCRIPT, REPORT_UNIT, ReportTarget, reportUnit } from "./report";
import { SecretParameters, secretsManifestFile, secretsUnit, usesSecrets } from "./secrets";
import { DATA_MOUNT_UNIT, dataVolumeUnit, usesData } from "./dataVolume";

/** The host script that attaches the data volume: shipped only to a host with one. */
export const DATA_SCRIPT_FILE = "data-volume.sh";

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
export function readyUnit(containers: readonly ContainerUnit[], prerequisites: readonly string[], withData = false): OneShotUnit {
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
            // The data disk: while it waits for the old host, the containers on it are pending, not late.
            ...(withData ? { READY_DATA_MOUNT: DATA_MOUNT_UNIT, READY_DATA_STATUS: DATA_STATUS_FILE, READY_DATA_UNIT: DATA_UNIT } : {}),
        },
        exec: [[READY_SCRIPT]],
        timeoutStartSec: budget + READY_MARGIN_SEC,
    };
}

/** The unit that records and reports the boot again once the data disk has an outcome. */
export const HANDOVER_UNIT = "coreos-containers-handover.service";

/**
 * The second readiness report of a host with a data disk. The first one (the ready and report units)
 * goes out while the disk may still wait for the old host: the cutover's gate takes that as ready, moves
 * the address and retires the old host, whose clean shutdown releases the volume; then its retire step
 * waits for this host's word that the disk is mounted and the containers on it are up
 * (scripts/cutover/contract.ts, judgeHandover). This unit is ordered after the mount (whatever its
 * outcome: `Wants=`, so a failed attach is reported too) and after the first report, runs the ready
 * script again (the disk mounted, the containers on it now count) and uploads the report again, to the
 * same key. The ready script's failure does not stop the report: a failed handover must be reported.
 */
export function handoverUnit(containers: readonly ContainerUnit[], prerequisites: readonly string[], target: ReportTarget): OneShotUnit {
    const ready = readyUnit(containers, prerequisites, true);
    const report = reportUnit(target);
    return {
        kind: "oneshot",
        name: HANDOVER_UNIT,
        description: "Record and report the boot again once the data disk is mounted",
        wants: [DATA_MOUNT_UNIT, REPORT_UNIT],
        environment: { ...ready.environment, ...report.environment },
        exec: [["/bin/sh", "-c", `${READY_SCRIPT}; exec ${REPORT_SCRIPT}`]],
        // The ready script's own budget and margin, then the report's retries.
        timeoutStartSec: (ready.timeoutStartSec ?? 0) + REPORT_RETRY_SECONDS,
        startAfterContainers: true,
    };
}

/** What the ready unit watches: READY_CONTAINERS_FILE, `NAME UP` per container. */
export function readyContainersFile(containers: readonly ContainerUnit[]): WriteFile {
    return {
        path: READY_CONTAINERS_FILE,
        permissions: "0644",
        owner: "root:root",
        // `data`: the container mounts the data disk (a third word, so older ready scripts still read the file).
        content: containers.map((c) => `${c.name} ${c.healthCheck ? "healthy" : "running"}${usesData(c) ? " data" : ""}\n`).join(""),
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
    /**
     * The persistent data disk, an EBS volume (`vol-` and 17 hex digits) in the host's availability
     * zone: present when, and only when, a container has a `data` mount. The host attaches it itself.
     */
    readonly dataVolume?: { readonly volumeId: string };
}

export function buildHost(input: HostInput): HostDefinition {
    const withSecrets = input.containers.some(usesSecrets);
    const withSecretsScripts = withSecrets
        ? input.scripts
        : Object.fromEntries(Object.entries(input.scripts).filter(([name]) => name !== SECRETS_SCRIPT_FILE));
    const dataVolume = input.containers.some(usesData) ? input.dataVolume : undefined;
    const withData = dataVolume !== undefined;
    const scripts = withData
        ? withSecretsScripts
        : Object.fromEntries(Object.entries(withSecretsScripts).filter(([name]) => name !== DATA_SCRIPT_FILE));
    // What the containers need before any can start; the ready unit watches them too (the data unit:
    // a failed attach means the stateful containers can never start).
    const prerequisites = [
        networkUnit(),
        provisionUnit(input.artifact),
        ...(withSecrets ? [secretsUnit()] : []),
        ...(dataVolume ? [dataVolumeUnit(dataVolume.volumeId, input.artifact.region)] : []),
    ];
    return {
        containers: input.containers,
        ...(dataVolume ? { dataVolume: { volumeId: dataVolume.volumeId } } : {}),
        // The report goes to the artifact's bucket: the role already reaches it, the cutover reads it there.
        oneshots: [
            ...prerequisites,
            readyUnit(
                input.containers,
                prerequisites.map((u) => u.name),
                withData,
            ),
            reportUnit(input.artifact),
            ...(withData
                ? [
                      handoverUnit(
                          input.containers,
                          prerequisites.map((u) => u.name),
                          input.artifact,
                      ),
                  ]
                : []),
        ],
        files: [
            ...hostScripts(scripts),
            ...(withSecrets ? [secretsManifestFile(input.containers, input.secrets ?? {}, input.artifact.region)] : []),
            readyContainersFile(input.containers),
        ],
        sshAuthorizedKeys: input.sshAuthorizedKeys,
    };
}
