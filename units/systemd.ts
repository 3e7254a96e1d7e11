// Typed units → systemd unit text. Pure: same input, same bytes.
import { ContainerUnit, OneShotUnit, PortMapping, VolumeMount } from "./model";
import { environmentAssignment, execLine, execLines, textValue } from "./quote";
import {
    ARTIFACT_CURRENT,
    ARTIFACT_IMAGES_DIR,
    DOCKER,
    ENSURE_IMAGE,
    NETWORK_NAME,
    NETWORK_UNIT,
    PROVISION_UNIT,
    SECRETS_UNIT,
    containerUnitName,
    secretEnvFile,
    secretFilePath,
} from "./layout";
import { usesSecrets } from "./secrets";

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
    const source = v.source.kind === "artifact" ? artifactPath(v.source.path) : v.source.path;
    return ["-v", `${source}:${v.target}${v.readOnly ? ":ro" : ""}`];
}

function sortedEntries(map: Readonly<Record<string, string>> | undefined): [string, string][] {
    return Object.entries(map ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function imagePreparation(unit: ContainerUnit): string[] {
    const image = unit.image;
    switch (image.kind) {
        case "registry":
            return [execLine([ENSURE_IMAGE, "pull", image.ref])];
        case "tarball":
            return [execLine([ENSURE_IMAGE, "load", artifactPath(`${ARTIFACT_IMAGES_DIR}/${image.file}`), image.ref])];
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

/** systemd text for a container unit. */
export function renderContainerUnit(unit: ContainerUnit): RenderedUnit {
    const stopTimeout = unit.stopTimeoutSec ?? DEFAULT_STOP_TIMEOUT_SEC;
    const requires = ["docker.service", NETWORK_UNIT];
    if (needsArtifact(unit)) requires.push(PROVISION_UNIT);
    if (usesSecrets(unit)) requires.push(SECRETS_UNIT);
    for (const dep of unit.dependsOn ?? []) requires.push(containerUnitName(dep.name));

    const lines: string[] = ["[Unit]", `Description=${textValue(unit.description ?? `Container ${unit.name}`)}`];
    lines.push(
        `Requires=${requires.join(" ")}`,
        `After=${requires.join(" ")}`,
        "",
        "[Service]",
        `TimeoutStartSec=${CONTAINER_TIMEOUT_START_SEC}`,
        `Restart=${unit.restart ?? "always"}`,
        `RestartSec=${unit.restartSec ?? DEFAULT_RESTART_SEC}`,
        `ExecStartPre=-${execLine([DOCKER, "rm", "-f", unit.name])}`,
        ...imagePreparation(unit).map((l) => `ExecStartPre=${l}`),
        `ExecStart=${dockerRun(unit)}`,
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
