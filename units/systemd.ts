// Typed units → systemd unit text. Pure: same input, same bytes.
import { ContainerUnit, OneShotUnit, PortMapping, VolumeMount } from "./model";
import { environmentAssignment, execLine, execLines, textValue } from "./quote";
import { healthFlags, healthWaitSec } from "./health";
import {
    ARTIFACT_CURRENT,
    ARTIFACT_IMAGES_DIR,
    DOCKER,
    ENSURE_IMAGE,
    NETWORK_NAME,
    NETWORK_UNIT,
    PROVISION_UNIT,
    SECRETS_UNIT,
    WAIT_DEPENDENCIES,
    WAIT_HEALTHY,
    containerUnitName,
    dataPath,
    DATA_DIR,
    imageUnitName,
    secretEnvFile,
    secretFilePath,
} from "./layout";
import { usesSecrets } from "./secrets";
import { dataSources } from "./dataVolume";

/** Creates a data folder with its owner at each start (the disk may be new, or another host made it). */
export const INSTALL = "/usr/bin/install";

/** A unit ready for the user-data: its file name and its text. Every unit has an `[Install]` section and is enabled. */
export interface RenderedUnit {
    readonly name: string;
    readonly content: string;
}

export const DEFAULT_RESTART_SEC = 5;
export const DEFAULT_STOP_TIMEOUT_SEC = 2;
/** How much longer systemd waits than `docker stop -t`, for Docker to tear the container down. */
export const STOP_TIMEOUT_MARGIN_SEC = 15;
/** Long enough for a first pull of a large image or a `docker load` of a large tarball. */
export const CONTAINER_TIMEOUT_START_SEC = 900;
/**
 * A unit that fails to start 5 times (systemd's DefaultStartLimitBurst) within this window stops
 * being restarted and stays `failed`. A crash loop (RestartSec + seconds per attempt) gives up after
 * about half a minute; a container whose health gate fails takes its wait budget per attempt, so with
 * a budget of a minute or more it keeps retrying at that pace. systemd's own 10 s window never trips
 * with RestartSec=5, which restarts a crash loop forever.
 */
export const START_LIMIT_INTERVAL_SEC = 300;

/** Does this container need the artifact on disk before it starts? */
export function needsArtifact(unit: ContainerUnit): boolean {
    return unit.image.kind === "tarball" || (unit.volumes ?? []).some((v) => v.source.kind === "artifact");
}

/** The host path of an artifact-relative path. */
export function artifactPath(relative: string): string {
    return `${ARTIFACT_CURRENT}/${relative}`;
}

function portFlag(p: PortMapping): string[] {
    // "host": only processes on the host reach it; the security group has no rule for it either.
    const bind = p.expose === "host" ? "127.0.0.1:" : "";
    return ["-p", `${bind}${p.host}:${p.container}/${p.protocol ?? "tcp"}`];
}

/** The secrets, as files the secrets unit wrote on tmpfs: never a value on the command line. */
function secretFlags(unit: ContainerUnit): string[][] {
    const groups: string[][] = [];
    if (Object.keys(unit.secretEnv ?? {}).length > 0) groups.push(["--env-file", secretEnvFile(unit.name)]);
    (unit.secretFiles ?? []).forEach((f, i) => groups.push(["-v", `${secretFilePath(unit.name, i, f.secret)}:${f.target}:ro`]));
    return groups;
}

function volumeFlag(v: VolumeMount): string[] {
    const source =
        v.source.kind === "artifact" ? artifactPath(v.source.path) : v.source.kind === "data" ? dataPath(v.source.path) : v.source.path;
    return ["-v", `${source}:${v.target}${v.readOnly ? ":ro" : ""}`];
}

function sortedEntries(map: Readonly<Record<string, string>> | undefined): [string, string][] {
    return Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The command that pulls or loads the container's image when it is missing: its image unit runs it, and the container unit again (a no-op once it is there). */
export function ensureImageArgv(unit: ContainerUnit): string[] {
    const image = unit.image;
    switch (image.kind) {
        case "registry":
            return [ENSURE_IMAGE, "pull", image.ref];
        case "tarball":
            return [ENSURE_IMAGE, "load", artifactPath(`${ARTIFACT_IMAGES_DIR}/${image.file}`), image.ref];
        default: {
            const never: never = image;
            throw new Error(`unknown image kind ${JSON.stringify(never)}`);
        }
    }
}

/** The `docker run` words, one flag group per line. */
function dockerRun(unit: ContainerUnit): string {
    const groups: string[][] = [["--network", NETWORK_NAME]];
    for (const p of unit.ports ?? []) groups.push(portFlag(p));
    for (const v of unit.volumes ?? []) groups.push(volumeFlag(v));
    for (const [k, val] of sortedEntries(unit.env)) groups.push(["-e", `${k}=${val}`]);
    groups.push(...secretFlags(unit));
    if (unit.healthCheck) groups.push(...healthFlags(unit.healthCheck));
    const extra = unit.extraArgs ?? [];
    // Keep a flag and its value together: a word not starting with "-" joins the previous flag.
    for (const word of extra) {
        const last = groups[groups.length - 1];
        if (!word.startsWith("-") && last !== undefined && last.length === 1 && last[0]!.startsWith("-")) last.push(word);
        else groups.push([word]);
    }
    groups.push([unit.image.ref, ...(unit.command ?? [])]);
    return execLines([DOCKER, "run", "--rm", "--name", unit.name], groups);
}

/**
 * systemd text for a container unit.
 *
 * Start: after Docker, the network, its image unit (which fetched the image in parallel with
 * everything else) and, when it reads the artifact, provision. Dependencies are `Wants=` + `After=`,
 * not `Requires=`: a Requires= dependency's restart restarts this unit too (systemd 252
 * service_enter_restart() queues JOB_RESTART, propagated to units that require it), which a crash of
 * Elasticsearch should not cost Kibana. Instead `wait-dependencies` (ExecStartPre=) lets the container
 * start only while each dependency is active and healthy, and fails it when one is down for good.
 *
 * With a health check, `wait-healthy` (ExecStartPost=) holds the unit in "activating" until Docker
 * reports the container healthy: systemd.service(5), "the execution of ExecStartPost= is taken into
 * account for the purpose of Before=/After= ordering constraints", so dependents start only then. It
 * fails the start (and Restart= retries) when the container turns unhealthy or its wait budget passes.
 */
export function renderContainerUnit(unit: ContainerUnit): RenderedUnit {
    const stopTimeout = unit.stopTimeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC;
    const requires = ["docker.service", NETWORK_UNIT];
    if (needsArtifact(unit)) requires.push(PROVISION_UNIT);
    if (usesSecrets(unit)) requires.push(SECRETS_UNIT);
    requires.push(imageUnitName(unit.name));
    const dependencies = (unit.dependsOn ?? []).map((dep) => containerUnitName(dep.name));
    const wait = unit.healthCheck ? healthWaitSec(unit.healthCheck) : 0;

    const lines: string[] = ["[Unit]", `Description=${textValue(unit.description ?? `Container ${unit.name}`)}`];
    lines.push(`Requires=${requires.join(" ")}`);
    if (dependencies.length) lines.push(`Wants=${dependencies.join(" ")}`);
    const data = dataSources(unit);
    // Requires= and After= the data disk's mount unit (systemd.unit(5)): waits for the disk, and at
    // shutdown stops before it is unmounted. Stateless containers have no such line and start at once.
    if (data.length) lines.push(`RequiresMountsFor=${DATA_DIR}`);
    lines.push(
        `After=${[...requires, ...dependencies].join(" ")}`,
        `StartLimitIntervalSec=${START_LIMIT_INTERVAL_SEC}`,
        "",
        "[Service]",
        // The image unit fetched the image already; the budget still covers a pull, should it be gone.
        `TimeoutStartSec=${CONTAINER_TIMEOUT_START_SEC + wait}`,
        `Restart=${unit.restart ?? "always"}`,
        `RestartSec=${unit.restartSec ?? DEFAULT_RESTART_SEC}`,
    );
    if (dependencies.length) lines.push(`ExecStartPre=${execLine([WAIT_DEPENDENCIES, ...dependencies])}`);
    for (const d of data)
        lines.push(
            `ExecStartPre=${execLine([INSTALL, "-d", "-o", String(d.owner?.uid ?? 0), "-g", String(d.owner?.gid ?? 0), dataPath(d.path)])}`,
        );
    lines.push(
        `ExecStartPre=-${execLine([DOCKER, "rm", "-f", unit.name])}`,
        `ExecStartPre=${execLine(ensureImageArgv(unit))}`,
        `ExecStart=${dockerRun(unit)}`,
    );
    if (unit.healthCheck) lines.push(`ExecStartPost=${execLine([WAIT_HEALTHY, unit.name, String(wait)])}`);
    lines.push(
        `ExecStop=${execLine([DOCKER, "stop", "-t", String(stopTimeout), unit.name])}`,
        // systemd's own stop timeout (90 s by default) must outlast docker's, or it kills `docker stop`.
        `TimeoutStopSec=${stopTimeout + STOP_TIMEOUT_MARGIN_SEC}`,
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    );
    return { name: containerUnitName(unit.name), content: lines.join("\n") };
}

/**
 * The one-shot unit that fetches a container's image: after Docker (and provision, for a tarball in
 * the artifact) and nothing else, so every image is fetched at boot in parallel, however long the
 * container then waits for its dependencies. The container unit Requires= and comes After= it.
 * ensure-image retries a failed pull or load with backoff; this timeout bounds the whole.
 */
export function imageUnit(unit: ContainerUnit): OneShotUnit {
    return {
        kind: "oneshot",
        name: imageUnitName(unit.name),
        description: `Image of container ${unit.name}`,
        requires: unit.image.kind === "tarball" ? ["docker.service", PROVISION_UNIT] : ["docker.service"],
        exec: [ensureImageArgv(unit)],
        timeoutStartSec: CONTAINER_TIMEOUT_START_SEC,
    };
}

/** systemd text for a one-shot unit. */
export function renderOneShotUnit(unit: OneShotUnit): RenderedUnit {
    const lines: string[] = ["[Unit]", `Description=${textValue(unit.description)}`];
    const wants = unit.wants ?? [];
    const requires = unit.requires ?? [];
    if (wants.length) lines.push(`Wants=${wants.join(" ")}`);
    if (requires.length) lines.push(`Requires=${requires.join(" ")}`);
    if (wants.length || requires.length) lines.push(`After=${[...wants, ...requires].join(" ")}`);
    lines.push("", "[Service]", "Type=oneshot", "RemainAfterExit=yes");
    if (unit.timeoutStartSec !== undefined) lines.push(`TimeoutStartSec=${unit.timeoutStartSec}`);
    for (const [k, v] of sortedEntries(unit.environment)) lines.push(`Environment=${environmentAssignment(k, v)}`);
    for (const argv of unit.exec) lines.push(`ExecStart=${execLine(argv)}`);
    lines.push("", "[Install]", "WantedBy=multi-user.target", "");
    return { name: unit.name, content: lines.join("\n") };
}
