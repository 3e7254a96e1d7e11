// What the cutover Commands (components/cutover.ts) and the script they run (scripts/cutover.ts) agree
// on: the command lines, the environment, the host tag, and the readiness report's shape and verdict.
// Pure (no Pulumi, no SDK): the component reads it at plan time, the script at run time.
import { reportKey } from "../../units/report";

export { reportKey };

/** The tag every host instance of a stack carries; the retire and teardown steps find instances by it. */
export const HOST_TAG_KEY = "coreos-containers:host";

/** `<project>/<stack>/<host component>`, e.g. `coreos-containers/prod/host`: unique per host in an account. */
export function hostTagValue(project: string, stack: string, host: string): string {
    return `${project}/${stack}/${host}`;
}

export const CUTOVER_STEPS = ["gate", "retire", "teardown"] as const;
export type CutoverStep = (typeof CUTOVER_STEPS)[number];

/**
 * The shell command a step's Command runs. Relative and free of per-machine values, so it is the same
 * string in every state file; the engine starts providers in the project folder (see components/cutover.ts).
 */
export function cutoverCommand(step: CutoverStep): string {
    return `node --import tsx scripts/cutover.ts ${step}`;
}

/** Environment variables the steps read (what the Commands set); all values non-secret. */
export const CUTOVER_ENV = {
    region: "CUTOVER_REGION",
    bucket: "CUTOVER_BUCKET",
    reportKey: "CUTOVER_REPORT_KEY",
    instanceId: "CUTOVER_INSTANCE_ID",
    userDataSha256: "CUTOVER_USER_DATA_SHA256",
    timeoutSeconds: "CUTOVER_TIMEOUT_SECONDS",
    pollSeconds: "CUTOVER_POLL_SECONDS",
    hostTag: "CUTOVER_HOST_TAG",
    allocationId: "CUTOVER_ALLOCATION_ID",
    dataVolumeId: "CUTOVER_DATA_VOLUME_ID",
    stopTimeoutSeconds: "CUTOVER_STOP_TIMEOUT_SECONDS",
} as const;
export type CutoverInput = keyof typeof CUTOVER_ENV;

/** The gate's inputs, as values or Pulumi outputs. */
export interface GateInputs<T> {
    readonly region: string;
    readonly bucket: T;
    readonly userDataSha256: T;
    readonly reportKey: T;
    readonly instanceId: T;
    readonly timeoutSeconds: number;
}

export function gateEnvironment<T>(i: GateInputs<T>): Record<string, string | T> {
    return {
        [CUTOVER_ENV.region]: i.region,
        [CUTOVER_ENV.bucket]: i.bucket,
        [CUTOVER_ENV.reportKey]: i.reportKey,
        [CUTOVER_ENV.instanceId]: i.instanceId,
        [CUTOVER_ENV.userDataSha256]: i.userDataSha256,
        [CUTOVER_ENV.timeoutSeconds]: String(i.timeoutSeconds),
    };
}

/**
 * With a data volume, retire hands it over: it stops the old hosts (their units stop, the data disk is
 * unmounted), detaches the volume, terminates them, then waits for the new host's report that the volume
 * is mounted and the containers on it are healthy (the same report key the gate read).
 */
export interface RetireDataVolumeInputs<T> {
    readonly volumeId: T;
    readonly bucket: T;
    readonly reportKey: T;
    readonly userDataSha256: T;
    /** How long to wait for the new host's report that the stateful containers are healthy. */
    readonly timeoutSeconds: number;
}

export function retireEnvironment<T>(i: {
    region: string;
    hostTag: string;
    instanceId: T;
    allocationId: T;
    dataVolume?: RetireDataVolumeInputs<T>;
}): Record<string, string | T> {
    return {
        [CUTOVER_ENV.region]: i.region,
        [CUTOVER_ENV.hostTag]: i.hostTag,
        [CUTOVER_ENV.instanceId]: i.instanceId,
        [CUTOVER_ENV.allocationId]: i.allocationId,
        ...(i.dataVolume
            ? {
                  [CUTOVER_ENV.dataVolumeId]: i.dataVolume.volumeId,
                  [CUTOVER_ENV.bucket]: i.dataVolume.bucket,
                  [CUTOVER_ENV.reportKey]: i.dataVolume.reportKey,
                  [CUTOVER_ENV.userDataSha256]: i.dataVolume.userDataSha256,
                  [CUTOVER_ENV.timeoutSeconds]: String(i.dataVolume.timeoutSeconds),
              }
            : {}),
    };
}

export function teardownEnvironment(i: { region: string; hostTag: string }): Record<string, string> {
    return { [CUTOVER_ENV.region]: i.region, [CUTOVER_ENV.hostTag]: i.hostTag };
}

// ---- the readiness report ----

/** A unit's state in boot.json (issue 12's contract). */
export interface UnitStatus {
    readonly unit: string;
    readonly container?: string;
    /** `healthy`, `running`, `starting`, `failed`, or `pending`: it mounts the data disk, which still waits for the old host. */
    readonly state: string;
    /** It mounts a folder of the data disk. */
    readonly data?: boolean;
    readonly restarts?: number;
    readonly activeSinceMs?: number;
    readonly healthyAfterMs?: number;
}

export interface FailedUnit {
    readonly unit: string;
    readonly container?: string;
    readonly journal: readonly string[];
}

/** boot.json: what the ready unit decided at this boot. */
export interface BootStatus {
    readonly state: "ready" | "failed" | "timeout";
    readonly bootId?: string;
    readonly startedAt?: string;
    readonly finishedAt?: string;
    readonly budgetSeconds?: number;
    readonly units: readonly UnitStatus[];
    readonly failed: readonly FailedUnit[];
    /** The data disk, when the host has one (null otherwise): host-scripts/data-volume.sh and ready.sh. */
    readonly dataVolume?: DataVolumeStatus | null;
}

/** States of the data disk in boot.json; `waiting-for-release` with `ready` means the cutover's retire step is what it waits for. */
export const DATA_VOLUME_STATES = ["starting", "waiting-for-release", "attaching", "attached", "mounted", "failed"] as const;

export interface DataVolumeStatus {
    /** Missing when the data unit wrote nothing yet (the ready unit then knows only the state). */
    readonly volumeId?: string;
    readonly state: (typeof DATA_VOLUME_STATES)[number];
    /** This boot formatted it (it was blank): true on the volume's first boot only. */
    readonly formatted: boolean;
    readonly device?: string;
    readonly uuid?: string;
}

export type DataVolumeState = (typeof DATA_VOLUME_STATES)[number];

/**
 * The data disk as the cutover reads it, derived by {@link parseReport} from boot.json's `dataVolume`
 * and the units that mount it. `waiting-for-release` (or any state before `mounted`): the old host
 * still holds the volume or it is being attached; the stateless containers run, which counts as ready
 * for the gate. `mounted`: attached, formatted if it was blank, mounted; the containers on it have an
 * outcome in `boot`. `failed`: it cannot be used.
 */
export interface DataDisk {
    readonly state: DataVolumeState;
    /** e.g. `vol-0123456789abcdef0`. */
    readonly volumeId?: string;
    /** The containers with data mounts (boot.json's units with `data: true`), which start only once it is mounted. */
    readonly containers: readonly string[];
    /** What the state means, in one line, for the step's output. */
    readonly detail?: string;
}

/** The report host-scripts/report.sh uploads: boot.json plus who sent it. */
export interface ReadinessReport {
    readonly version: 1;
    readonly instanceId: string;
    readonly userDataSha256: string;
    readonly bootId: string;
    readonly reportedAt?: string;
    /** boot.json as the host found it; null when there was none. */
    readonly boot: BootStatus | null;
    /** Why there is no status of this boot, set by {@link judge}. */
    readonly problem?: string;
    /** The data disk, from boot.json (set by {@link parseReport}); absent on a host without a data volume. */
    readonly dataVolume?: DataDisk;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): v is string => typeof v === "string";

const DATA_DETAIL: Readonly<Record<DataVolumeState, string>> = {
    starting: "the data unit has not started yet",
    "waiting-for-release": "another host still holds it",
    attaching: "being attached",
    attached: "attached, not mounted yet",
    mounted: "mounted",
    failed: "its data unit or mount unit failed",
};

function dataDisk(boot: BootStatus): DataDisk {
    const d = boot.dataVolume!;
    return {
        state: d.state,
        ...(d.volumeId ? { volumeId: d.volumeId } : {}),
        containers: boot.units.filter((u) => u.data === true && u.container).map((u) => u.container!),
        detail: DATA_DETAIL[d.state],
    };
}

/** Parse a report; a string saying what is wrong when it is not one. */
export function parseReport(text: string): ReadinessReport | string {
    let v: unknown;
    try {
        v = JSON.parse(text);
    } catch (e) {
        return `not JSON (${(e as Error).message})`;
    }
    if (!isObject(v)) return "not a JSON object";
    if (v["version"] !== 1) return `version ${JSON.stringify(v["version"])} is not 1`;
    for (const k of ["instanceId", "userDataSha256", "bootId"]) if (!str(v[k])) return `${k} is missing`;
    const boot = v["boot"];
    if (boot !== null) {
        if (!isObject(boot)) return "boot is neither null nor an object";
        if (!["ready", "failed", "timeout"].includes(String(boot["state"])))
            return `boot.state ${JSON.stringify(boot["state"])} is unknown`;
        const units = boot["units"] ?? [];
        const failed = boot["failed"] ?? [];
        if (!Array.isArray(units) || !units.every((u) => isObject(u) && str(u["unit"]) && str(u["state"])))
            return "boot.units is malformed";
        if (!Array.isArray(failed) || !failed.every((f) => isObject(f) && str(f["unit"]) && Array.isArray(f["journal"] ?? [])))
            return "boot.failed is malformed";
        const data = boot["dataVolume"] ?? null;
        if (
            data !== null &&
            !(
                isObject(data) &&
                (data["volumeId"] === undefined || str(data["volumeId"])) &&
                (DATA_VOLUME_STATES as readonly unknown[]).includes(data["state"]) &&
                typeof data["formatted"] === "boolean"
            )
        )
            return isObject(data) && !(DATA_VOLUME_STATES as readonly unknown[]).includes(data["state"])
                ? `boot.dataVolume.state ${JSON.stringify(data["state"])} is unknown`
                : "boot.dataVolume is malformed";
        const parsed = { ...(v as unknown as ReadinessReport), boot: { ...(boot as unknown as BootStatus), units, failed } };
        return data === null ? parsed : { ...parsed, dataVolume: dataDisk(parsed.boot) };
    }
    return v as unknown as ReadinessReport;
}

/** What the gate expects: the new instance, booted with the planned user-data. */
export interface Expected {
    readonly instanceId: string;
    readonly userDataSha256: string;
}

export type Verdict =
    | { readonly kind: "ready"; readonly report: ReadinessReport }
    | { readonly kind: "not-ready"; readonly report: ReadinessReport }
    /** Another instance's report, or one for another user-data: not this host's answer. */
    | { readonly kind: "stale"; readonly reason: string };

export function judge(report: ReadinessReport, expected: Expected): Verdict {
    if (report.instanceId !== expected.instanceId) return { kind: "stale", reason: `it is from instance ${report.instanceId}` };
    if (report.userDataSha256 !== expected.userDataSha256)
        return {
            kind: "stale",
            reason: `it is for user-data ${report.userDataSha256.slice(0, 12)}…, not ${expected.userDataSha256.slice(0, 12)}…`,
        };
    // The ready unit rewrites boot.json at every boot: one from another boot means it wrote none at this one.
    if (!report.boot) return { kind: "not-ready", report: { ...report, problem: "there is no boot.json: the ready unit wrote none" } };
    if (report.boot.bootId !== report.bootId)
        return {
            kind: "not-ready",
            report: {
                ...report,
                boot: null,
                problem: `boot.json is from boot ${report.boot.bootId ?? "(none)"}, not from this boot ${report.bootId}: the ready unit wrote none at this boot`,
            },
        };
    // A data disk that cannot be used fails the gate: the address and the old host (which still holds the data) stay.
    if (report.dataVolume?.state === "failed") return { kind: "not-ready", report };
    return report.boot.state === "ready" ? { kind: "ready", report } : { kind: "not-ready", report };
}

export type HandoverVerdict =
    /** The volume is mounted on the new host and the containers on it are healthy. */
    | { readonly kind: "done"; readonly report: ReadinessReport }
    | { readonly kind: "failed"; readonly report: ReadinessReport }
    /** Not this host's answer yet (another instance's report, or the disk is still waiting); the reason, for the log. */
    | { readonly kind: "waiting"; readonly reason: string };

const UP_STATES = ["healthy", "running"];

/**
 * After retire released the volume: has the new host mounted it and started the containers on it? The
 * same report key as the gate's; the host uploads it again once the data disk has an outcome.
 */
export function judgeHandover(report: ReadinessReport, expected: Expected): HandoverVerdict {
    const first = judge(report, expected);
    if (first.kind === "stale") return { kind: "waiting", reason: first.reason };
    const dv = report.dataVolume;
    if (!dv) return { kind: "waiting", reason: "the report has no data volume state yet" };
    if (dv.state === "failed") return { kind: "failed", report };
    if (dv.state !== "mounted") return { kind: "waiting", reason: `the new host's data volume: ${dv.state} (${dv.detail ?? ""})` };
    if (first.kind === "not-ready") return { kind: "failed", report: first.report };
    const units = report.boot?.units ?? [];
    const notYet = dv.containers.filter((c) => !units.some((u) => u.container === c && UP_STATES.includes(u.state)));
    return notYet.length
        ? { kind: "waiting", reason: `the containers on the data volume are not up yet: ${notYet.join(", ")}` }
        : { kind: "done", report };
}

/** Why the data disk or its containers failed: the disk's line, then the units as {@link describeNotReady} gives them. */
export function describeHandoverFailure(report: ReadinessReport): string[] {
    const dv = report.dataVolume;
    const disk = dv ? [`  data volume${dv.volumeId ? ` ${dv.volumeId}` : ""}: ${dv.state}${dv.detail ? ` (${dv.detail})` : ""}`] : [];
    const boot = report.boot;
    const units = boot && (boot.state !== "ready" || boot.failed.length) ? describeNotReady(report) : [];
    return [...disk, ...units];
}

const unitLabel = (u: { unit: string; container?: string }) => (u.container ? `${u.unit} (${u.container})` : u.unit);

const seconds = (from?: string, to?: string) => {
    const ms = from && to ? Date.parse(to) - Date.parse(from) : NaN;
    return Number.isFinite(ms) ? ` after ${Math.round(ms / 1000)} s` : "";
};

/** Why a host is not ready, one line per unit that is not healthy, each failed unit with its journal lines. */
export function describeNotReady(report: ReadinessReport): string[] {
    const boot = report.boot;
    if (!boot) return [`  the host sent no status of this boot: ${report.problem ?? "there is no boot.json"}`];
    const failed = new Map(boot.failed.map((f) => [f.unit, f]));
    const lines: string[] = [];
    const listed = new Set<string>();
    for (const u of boot.units.filter((x) => x.state !== "healthy" || failed.has(x.unit))) {
        listed.add(u.unit);
        lines.push(`  ${unitLabel(u)}: ${u.state}${u.restarts ? `, ${u.restarts} restarts` : ""}`);
        for (const l of failed.get(u.unit)?.journal ?? []) lines.push(`    | ${l}`);
    }
    for (const f of boot.failed.filter((x) => !listed.has(x.unit))) {
        lines.push(`  ${unitLabel(f)}: failed`);
        for (const l of f.journal) lines.push(`    | ${l}`);
    }
    return lines.length ? lines : [`  (the host named no unit)`];
}

/** The headline of a host that is not ready, e.g. `state failed after 312 s`. */
export function notReadyHeadline(report: ReadinessReport): string {
    const boot = report.boot;
    if (!boot) return "no readiness status";
    const what =
        boot.state === "timeout" ? `timeout: not every container was healthy within ${boot.budgetSeconds ?? "?"} s` : `state ${boot.state}`;
    return `${what}${boot.state === "timeout" ? "" : seconds(boot.startedAt, boot.finishedAt)}`;
}
