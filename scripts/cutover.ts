// `node --import tsx scripts/cutover.ts gate|retire|teardown [--option value]…`
//
// The steps `pulumi up` runs around a new host (components/cutover.ts runs them as
// `command:local:Command`s; they never run in a preview or under the mock runtime):
//   gate      waits, bounded, for the new instance's readiness report in S3 (the one it uploads once
//             its containers are healthy, failed, or out of time) and fails naming the failing units
//             with their journal lines; the address moves only after it passed;
//   retire    once the address is on the new instance (checked with DescribeAddresses), terminates
//             every other instance carrying the host's tag (EC2's default terminate: a graceful OS
//             shutdown, so every unit's ExecStop runs). With a data volume (CUTOVER_DATA_VOLUME_ID) it
//             hands the volume over first: StopInstances (the OS shuts down: containers stop with
//             `docker stop -t`, the data disk is unmounted), waits until stopped, DetachVolume (a volume
//             stays attached to a stopped instance), waits until no old host holds it, terminates, then
//             waits, bounded, for the new host's report that the volume is mounted and the containers on
//             it are healthy, and fails naming them otherwise;
//   teardown  on `pulumi destroy`: terminates every instance carrying the host's tag and waits until
//             they are terminated (the engine never terminates a host itself: retainOnDelete).
// Inputs come from the environment the Command sets (CUTOVER_*, see scripts/cutover/contract.ts); an
// option on the command line wins. The AWS credentials and everything else come from the environment
// of `pulumi up` (the SDK's default chain). AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_EC2 point the SDK
// elsewhere (tests); S3 is then addressed path-style.
// Exit: 0 done, 1 the step failed (a clear message, no stack trace), 2 bad arguments.
import { parseArgs } from "node:util";
// Types only at the top: each step loads the one SDK client it needs (see `sdk` below).
import type * as Ec2Sdk from "@aws-sdk/client-ec2";
import type { EC2Client, Filter, Instance, Volume } from "@aws-sdk/client-ec2";
import type * as S3Sdk from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import {
    CUTOVER_ENV,
    CUTOVER_STEPS,
    CutoverInput,
    CutoverStep,
    HOST_TAG_KEY,
    ReadinessReport,
    describeHandoverFailure,
    describeNotReady,
    judge,
    judgeHandover,
    notReadyHeadline,
    parseReport,
} from "./cutover/contract";

// The SDK warns on stderr, once per process, that its releases after January 2027 need Node 22: noise in
// every `pulumi up` output (the project runs on Node 20; the SDK is loaded below, after this).
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";

/**
 * The SDK clients, loaded when a step needs one: each takes half a second or more to load, and under
 * tsx's loader `require` is about half a second faster than `import()` (measured here).
 */
const sdk = {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: lazy and fast
    s3: (): typeof S3Sdk => require("@aws-sdk/client-s3") as typeof S3Sdk,
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above: lazy and fast
    ec2: (): typeof Ec2Sdk => require("@aws-sdk/client-ec2") as typeof Ec2Sdk,
};

/** A failure the step explains itself: printed as is, exit 1 (2 for usage). */
export class StepError extends Error {
    constructor(
        message: string,
        readonly exitCode = 1,
    ) {
        super(message);
    }
}

const USAGE = `usage: node --import tsx scripts/cutover.ts ${CUTOVER_STEPS.join("|")} [${Object.keys(CUTOVER_ENV)
    .map((k) => `--${kebab(k)} V`)
    .join("] [")}]`;

function kebab(s: string): string {
    return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

type Inputs = Partial<Record<CutoverInput, string>>;

function readArgs(argv: readonly string[], env: NodeJS.ProcessEnv): { step: CutoverStep; inputs: Inputs } {
    const keys = Object.keys(CUTOVER_ENV) as CutoverInput[];
    let parsed;
    try {
        parsed = parseArgs({
            args: [...argv],
            options: Object.fromEntries(keys.map((k) => [kebab(k), { type: "string" as const }])),
            allowPositionals: true,
            strict: true,
        });
    } catch (e) {
        throw new StepError(`${(e as Error).message}\n${USAGE}`, 2);
    }
    const [step, ...extra] = parsed.positionals;
    if (!CUTOVER_STEPS.includes(step as CutoverStep) || extra.length)
        throw new StepError(`the first argument must be one step: ${CUTOVER_STEPS.join(", ")}\n${USAGE}`, 2);
    const inputs: Inputs = {};
    for (const k of keys) {
        const v = (parsed.values as Record<string, string | undefined>)[kebab(k)] ?? env[CUTOVER_ENV[k]];
        if (v !== undefined && v !== "") inputs[k] = v;
    }
    return { step: step as CutoverStep, inputs };
}

const PATTERNS: Partial<Record<CutoverInput, [RegExp, string]>> = {
    region: [/^[a-z]{2}(-[a-z]+)+-\d$/, "an AWS region like eu-west-1"],
    instanceId: [/^i-[0-9a-f]{8,17}$/, "an instance id like i-0123456789abcdef0"],
    userDataSha256: [/^[0-9a-f]{64}$/, "64 hex digits"],
    timeoutSeconds: [/^\d+(\.\d+)?$/, "a number of seconds"],
    pollSeconds: [/^\d+(\.\d+)?$/, "a number of seconds"],
    allocationId: [/^eipalloc-[0-9a-f]{8,17}$/, "an Elastic IP allocation id like eipalloc-0123456789abcdef0"],
    dataVolumeId: [/^vol-[0-9a-f]{8,17}$/, "a volume id like vol-0123456789abcdef0"],
    stopTimeoutSeconds: [/^\d+(\.\d+)?$/, "a number of seconds"],
};

/** The inputs a step needs, checked: every missing or malformed one named at once. */
function need<K extends CutoverInput>(step: CutoverStep, inputs: Inputs, keys: readonly K[]): Record<K, string> {
    const problems: string[] = [];
    for (const k of keys) {
        const v = inputs[k];
        const pattern = PATTERNS[k];
        if (v === undefined) problems.push(`${CUTOVER_ENV[k]} (or --${kebab(k)}) is not set`);
        else if (pattern && !pattern[0].test(v)) problems.push(`${CUTOVER_ENV[k]}=${JSON.stringify(v)} is not ${pattern[1]}`);
    }
    if (problems.length) throw new StepError(`cutover ${step}: ${problems.join("; ")}\n${USAGE}`, 2);
    return inputs as Record<K, string>;
}

/** An SDK error as one line: its name and message, never a stack. */
function awsError(e: unknown): string {
    if (e instanceof Error) return `${e.name === "Error" ? "" : `${e.name}: `}${e.message}`;
    return String(e);
}

function s3Client(region: string): S3Client {
    const { S3Client } = sdk.s3();
    // A local endpoint (a test's stand-in) has no bucket subdomains: path-style.
    const local = Boolean(process.env["AWS_ENDPOINT_URL_S3"] ?? process.env["AWS_ENDPOINT_URL"]);
    return new S3Client({ region, forcePathStyle: local });
}

function ec2Client(region: string): EC2Client {
    const { EC2Client } = sdk.ec2();
    return new EC2Client({ region });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const log = (line: string) => process.stdout.write(`${line}\n`);

// ---- gate ----

async function readReport(s3: S3Client, bucket: string, key: string, step: CutoverStep = "gate"): Promise<string | undefined> {
    const { GetObjectCommand } = sdk.s3();
    try {
        const out = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        return await out.Body!.transformToString("utf8");
    } catch (e) {
        const name = (e as { name?: string }).name;
        if (name === "NoSuchKey" || name === "NotFound") return undefined;
        if (
            name === "AccessDenied" ||
            name === "InvalidAccessKeyId" ||
            name === "SignatureDoesNotMatch" ||
            name === "CredentialsProviderError"
        )
            throw new StepError(
                `cutover ${step}: cannot read s3://${bucket}/${key} with the credentials of this \`pulumi up\`: ${awsError(e)}`,
            );
        throw e;
    }
}

const AFTER_FAILURE = [
    "The address stays on the serving host; nothing was retired.",
    "Fix the cause and run `pulumi up` again. The failed new instance keeps running until the next successful cutover retires it",
    '(it carries the tag coreos-containers:host; see the README, "When a cutover fails").',
];

async function gate(inputs: Inputs): Promise<void> {
    const i = need("gate", inputs, ["region", "bucket", "reportKey", "instanceId", "userDataSha256", "timeoutSeconds"]);
    const timeoutMs = Number(i.timeoutSeconds) * 1000;
    const pollMs = Number(need("gate", { pollSeconds: inputs.pollSeconds ?? "10" }, ["pollSeconds"]).pollSeconds) * 1000;
    const where = `s3://${i.bucket}/${i.reportKey}`;
    const expected = { instanceId: i.instanceId, userDataSha256: i.userDataSha256 };
    const s3 = s3Client(i.region);
    const started = Date.now();
    const minutes = (ms: number) => (ms >= 60_000 ? `${Math.round(ms / 6000) / 10} min` : `${Math.round(ms / 100) / 10} s`);
    log(
        `cutover gate: waiting up to ${minutes(timeoutMs)} for the readiness report of ${i.instanceId} (user-data ${i.userDataSha256.slice(0, 12)}…) at ${where}`,
    );
    const ignored = new Set<string>();
    let lastError = "";
    for (;;) {
        let text: string | undefined;
        try {
            text = await readReport(s3, i.bucket, i.reportKey);
            lastError = "";
        } catch (e) {
            if (e instanceof StepError) throw e;
            // Throttling, 5xx, the network: the SDK retried already; keep waiting within the budget.
            if (awsError(e) !== lastError) log(`cutover gate: reading ${where} failed, will retry: ${awsError(e)}`);
            lastError = awsError(e);
        }
        if (text !== undefined) {
            const report = parseReport(text);
            const verdict =
                typeof report === "string"
                    ? { kind: "stale" as const, reason: `it is not a readiness report: ${report}` }
                    : judge(report, expected);
            if (verdict.kind === "ready") {
                log(`cutover gate: ${i.instanceId} is ready${readyDetail(verdict.report)}; the address moves to it next`);
                return;
            }
            if (verdict.kind === "not-ready") {
                throw new StepError(
                    [
                        `cutover gate: the new host ${i.instanceId} is not ready (${verdict.report.dataVolume?.state === "failed" ? "its data volume failed" : notReadyHeadline(verdict.report)}):`,
                        ...(verdict.report.dataVolume?.state === "failed"
                            ? describeHandoverFailure(verdict.report)
                            : describeNotReady(verdict.report)),
                        ...AFTER_FAILURE,
                    ].join("\n"),
                );
            }
            if (!ignored.has(verdict.reason)) log(`cutover gate: ignoring the report at ${where}: ${verdict.reason}`);
            ignored.add(verdict.reason);
        }
        const left = started + timeoutMs - Date.now();
        if (left <= 0) break;
        await sleep(Math.min(pollMs, left));
    }
    throw new StepError(
        [
            `cutover gate: no readiness report from the new host ${i.instanceId} within ${minutes(timeoutMs)} (expected at ${where}).`,
            ...[...ignored].map((r) => `  A report there was ignored: ${r}.`),
            ...(lastError ? [`  The last read failed: ${lastError}`] : []),
            "  The host may still be starting (raise coreos-containers:readyTimeoutMinutes), or it cannot report:",
            "  check its console output (EC2 > Instance > Get system log) and `journalctl -u coreos-containers-report.service`.",
            ...AFTER_FAILURE,
        ].join("\n"),
    );
}

function readyDetail(r: ReadinessReport): string {
    const units = r.boot?.units ?? [];
    const slowest = units.reduce<number | undefined>(
        (m, u) => (u.healthyAfterMs !== undefined && (m === undefined || u.healthyAfterMs > m) ? u.healthyAfterMs : m),
        undefined,
    );
    return ` (${units.length} unit${units.length === 1 ? "" : "s"} healthy${slowest !== undefined ? `, the last after ${Math.round(slowest / 1000)} s` : ""})`;
}

// ---- retire and teardown ----

/** Instances with the host tag in the given states, every page. */
async function taggedInstances(ec2: EC2Client, hostTag: string, states: readonly string[]): Promise<Instance[]> {
    const { DescribeInstancesCommand } = sdk.ec2();
    const filters: Filter[] = [
        { Name: `tag:${HOST_TAG_KEY}`, Values: [hostTag] },
        { Name: "instance-state-name", Values: [...states] },
    ];
    const found: Instance[] = [];
    let token: string | undefined;
    do {
        const page = await ec2.send(new DescribeInstancesCommand({ Filters: filters, ...(token ? { NextToken: token } : {}) }));
        for (const r of page.Reservations ?? []) found.push(...(r.Instances ?? []));
        token = page.NextToken;
    } while (token);
    return found.sort((a, b) => ((a.InstanceId ?? "") < (b.InstanceId ?? "") ? -1 : 1));
}

const LIVE_STATES = ["pending", "running", "stopping", "stopped"] as const;

async function terminate(ec2: EC2Client, step: CutoverStep, ids: readonly string[]): Promise<void> {
    const { TerminateInstancesCommand } = sdk.ec2();
    const out = await ec2.send(new TerminateInstancesCommand({ InstanceIds: [...ids] }));
    for (const c of out.TerminatingInstances ?? [])
        log(
            `cutover ${step}: ${c.InstanceId}: ${c.PreviousState?.Name ?? "?"} → ${c.CurrentState?.Name ?? "?"} (graceful OS shutdown: every unit's ExecStop runs)`,
        );
}

async function retire(inputs: Inputs): Promise<void> {
    const i = need("retire", inputs, ["region", "hostTag", "instanceId", "allocationId"]);
    const ec2 = ec2Client(i.region);
    const { DescribeAddressesCommand } = sdk.ec2();
    const addresses = await ec2.send(new DescribeAddressesCommand({ AllocationIds: [i.allocationId] }));
    const address = addresses.Addresses?.[0];
    if (address?.InstanceId !== i.instanceId) {
        throw new StepError(
            `cutover retire: the address ${i.allocationId}${address?.PublicIp ? ` (${address.PublicIp})` : ""} is on ${address?.InstanceId ?? "no instance"}, not on the new host ${i.instanceId}; nothing was retired. Run \`pulumi up\` again once the address is on the new host.`,
        );
    }
    const old = (await taggedInstances(ec2, i.hostTag, LIVE_STATES)).filter((x) => x.InstanceId !== i.instanceId);
    if (inputs.dataVolumeId) {
        const withVolume = need("retire", inputs, [
            "region",
            "hostTag",
            "instanceId",
            "allocationId",
            "dataVolumeId",
            // What the wait for the new host's report needs: checked before any host is stopped.
            "bucket",
            "reportKey",
            "userDataSha256",
            "timeoutSeconds",
        ]);
        log(
            old.length
                ? `cutover retire: the address ${address.PublicIp ?? i.allocationId} is on ${i.instanceId}; handing the data volume ${withVolume.dataVolumeId} over from ${old.map((x) => x.InstanceId).join(", ")}`
                : `cutover retire: the address ${address.PublicIp ?? i.allocationId} is on ${i.instanceId}; no other host holds the data volume ${withVolume.dataVolumeId}`,
        );
        await handOver(
            ec2,
            { ...inputs, ...withVolume },
            old.map((x) => x.InstanceId!),
            inputs,
        );
        return;
    }
    if (old.length === 0) {
        log(`cutover retire: the address ${address.PublicIp ?? i.allocationId} is on ${i.instanceId}; no other host to retire`);
        return;
    }
    log(
        `cutover retire: the address ${address.PublicIp ?? i.allocationId} is on ${i.instanceId}; retiring ${old.map((x) => x.InstanceId).join(", ")}`,
    );
    await terminate(
        ec2,
        "retire",
        old.map((x) => x.InstanceId!),
    );
}

// ---- retire with a data volume: stop → detach → terminate → wait for the new host's data disk ----

/** How long a stop (and the detach after it) may take: EC2 publishes no bound ("a few minutes"), so generous. */
const DEFAULT_STOP_TIMEOUT_SECONDS = "600";

const HANDOVER_AFTER_FAILURE = [
    "The address is on the new host, whose stateless containers serve; the containers on the data volume do not run anywhere.",
    "Fix the cause and run `pulumi up` again: retire runs again (it is not in state) and picks up where it stopped.",
];

async function instanceStates(ec2: EC2Client, ids: readonly string[]): Promise<Map<string, string>> {
    const { DescribeInstancesCommand } = sdk.ec2();
    const out = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [...ids] }));
    const states = new Map<string, string>();
    for (const r of out.Reservations ?? []) for (const x of r.Instances ?? []) states.set(x.InstanceId!, x.State?.Name ?? "?");
    return states;
}

async function describeVolume(ec2: EC2Client, volumeId: string): Promise<Volume> {
    const { DescribeVolumesCommand } = sdk.ec2();
    const out = await ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] }));
    const v = out.Volumes?.[0];
    if (!v) throw new StepError(`cutover retire: DescribeVolumes did not return the data volume ${volumeId}`);
    return v;
}

/** Which of these instances the volume is attached to (in any attachment state but detached). */
const holders = (v: Volume, among: readonly string[]) =>
    (v.Attachments ?? []).filter((a) => a.State !== "detached" && among.includes(a.InstanceId ?? "")).map((a) => a.InstanceId!);

/** Poll `check` until it returns a value (not undefined), or fail with `onTimeout`'s message. */
async function waitFor<T>(
    check: () => Promise<T | undefined>,
    o: { timeoutMs: number; pollMs: number; onTimeout: () => Promise<string> | string },
): Promise<T> {
    const deadline = Date.now() + o.timeoutMs;
    for (;;) {
        const v = await check();
        if (v !== undefined) return v;
        const left = deadline - Date.now();
        if (left <= 0) throw new StepError(await o.onTimeout());
        await sleep(Math.min(o.pollMs, left));
    }
}

async function handOver(ec2: EC2Client, i: Record<string, string>, old: readonly string[], inputs: Inputs): Promise<void> {
    const { StopInstancesCommand, DetachVolumeCommand } = sdk.ec2();
    const volumeId = i["dataVolumeId"]!;
    // Every second between "stopped" and the detach is downtime of the stateful containers: poll EC2 often
    // (DescribeInstances and DescribeVolumes are cheap reads). The report is polled at the gate's pace.
    const pollMs = Number(need("retire", { pollSeconds: inputs.pollSeconds ?? "2" }, ["pollSeconds"]).pollSeconds) * 1000;
    const reportPollMs = Number(need("retire", { pollSeconds: inputs.pollSeconds ?? "10" }, ["pollSeconds"]).pollSeconds) * 1000;
    const stopMs =
        Number(
            need("retire", { stopTimeoutSeconds: inputs.stopTimeoutSeconds ?? DEFAULT_STOP_TIMEOUT_SECONDS }, ["stopTimeoutSeconds"])
                .stopTimeoutSeconds,
        ) * 1000;
    const seconds = (ms: number) => `${Math.round(ms / 100) / 10} s`;

    if (old.length) {
        // 1. Stop: a graceful OS shutdown (the units' ExecStop: `docker stop -t`, then the data disk's unmount).
        const stopped = await ec2.send(new StopInstancesCommand({ InstanceIds: [...old] }));
        for (const c of stopped.StoppingInstances ?? [])
            log(
                `cutover retire: ${c.InstanceId}: ${c.PreviousState?.Name ?? "?"} → ${c.CurrentState?.Name ?? "?"} (graceful OS shutdown: containers stop, the data disk is unmounted)`,
            );
        const startedStop = Date.now();
        await waitFor(
            async () => {
                const states = await instanceStates(ec2, old);
                return old.every((id) => ["stopped", "terminated"].includes(states.get(id) ?? "")) ? true : undefined;
            },
            {
                timeoutMs: stopMs,
                pollMs,
                onTimeout: async () => {
                    const states = await instanceStates(ec2, old);
                    return [
                        `cutover retire: ${old.map((id) => `${id} (${states.get(id) ?? "?"})`).join(", ")} not stopped after ${seconds(stopMs)}; nothing was detached or terminated.`,
                        "  Its shutdown may hang in a unit's ExecStop; check the instance's console output (EC2 > Instance > Get system log).",
                        ...HANDOVER_AFTER_FAILURE.map((l) => `  ${l}`),
                    ].join("\n");
                },
            },
        );
        log(`cutover retire: ${old.join(", ")} stopped after ${seconds(Date.now() - startedStop)}`);

        // 2. Detach from the stopped host(s): a volume stays attached to a stopped instance.
        const volume = await describeVolume(ec2, volumeId);
        for (const id of holders(volume, old)) {
            await ec2.send(new DetachVolumeCommand({ VolumeId: volumeId, InstanceId: id }));
            log(`cutover retire: detaching ${volumeId} from ${id}`);
        }
        const startedDetach = Date.now();
        const released = await waitFor(
            async () => {
                const v = await describeVolume(ec2, volumeId);
                return holders(v, old).length === 0 ? v : undefined;
            },
            {
                timeoutMs: stopMs,
                pollMs,
                onTimeout: async () =>
                    [
                        `cutover retire: ${volumeId} is still attached to ${holders(await describeVolume(ec2, volumeId), old).join(", ")} after ${seconds(stopMs)}; nothing was terminated.`,
                        ...HANDOVER_AFTER_FAILURE.map((l) => `  ${l}`),
                    ].join("\n"),
            },
        );
        const now = released.Attachments?.find((a) => a.State !== "detached")?.InstanceId;
        log(
            `cutover retire: ${volumeId} released after ${seconds(Date.now() - startedDetach)} (${now ? `now attached to ${now}` : (released.State ?? "?")})`,
        );

        // 3. Terminate: stopped and without the volume, nothing of the old host is needed any more.
        await terminate(ec2, "retire", old);
    }

    // 4. The new host attaches the volume itself; wait for its report that the containers on it are healthy.
    await waitForHandover(i, reportPollMs);
}

async function waitForHandover(i: Record<string, string>, pollMs: number): Promise<void> {
    const need_ = need("retire", i, ["bucket", "reportKey", "userDataSha256", "timeoutSeconds"]);
    const where = `s3://${need_.bucket}/${need_.reportKey}`;
    const timeoutMs = Number(need_.timeoutSeconds) * 1000;
    const s3 = s3Client(i["region"]!);
    const expected = { instanceId: i["instanceId"]!, userDataSha256: need_.userDataSha256 };
    const started = Date.now();
    log(
        `cutover retire: waiting up to ${Math.round(timeoutMs / 1000)} s for ${expected.instanceId} to mount the data volume and start the containers on it`,
    );
    let reason = "no report yet";
    for (;;) {
        let text: string | undefined;
        try {
            text = await readReport(s3, need_.bucket, need_.reportKey, "retire");
        } catch (e) {
            if (e instanceof StepError) throw e;
            reason = `reading ${where} failed: ${awsError(e)}`;
        }
        if (text !== undefined) {
            const report = parseReport(text);
            const verdict =
                typeof report === "string"
                    ? { kind: "waiting" as const, reason: `not a readiness report: ${report}` }
                    : judgeHandover(report, expected);
            if (verdict.kind === "done") {
                log(
                    `cutover retire: ${expected.instanceId} mounted ${verdict.report.dataVolume?.volumeId ?? "the data volume"}; ${(verdict.report.dataVolume?.containers ?? []).join(", ") || "its containers"} healthy after ${Math.round((Date.now() - started) / 100) / 10} s`,
                );
                return;
            }
            if (verdict.kind === "failed")
                throw new StepError(
                    [
                        `cutover retire: the new host ${expected.instanceId} could not take over the data volume:`,
                        ...describeHandoverFailure(verdict.report),
                        ...HANDOVER_AFTER_FAILURE,
                    ].join("\n"),
                );
            if (verdict.reason !== reason) log(`cutover retire: waiting: ${verdict.reason}`);
            reason = verdict.reason;
        }
        const left = started + timeoutMs - Date.now();
        if (left <= 0) break;
        await sleep(Math.min(pollMs, left));
    }
    throw new StepError(
        [
            `cutover retire: the new host ${expected.instanceId} did not report the data volume mounted and its containers healthy within ${Math.round(timeoutMs / 1000)} s (last: ${reason}; report at ${where}).`,
            "  Check `journalctl -u coreos-containers-report.service` and the data disk's unit on the new host.",
            ...HANDOVER_AFTER_FAILURE.map((l) => `  ${l}`),
        ].join("\n"),
    );
}

async function teardown(inputs: Inputs): Promise<void> {
    const i = need("teardown", inputs, ["region", "hostTag"]);
    const timeoutMs =
        Number(need("teardown", { timeoutSeconds: inputs.timeoutSeconds ?? "900" }, ["timeoutSeconds"]).timeoutSeconds) * 1000;
    const pollMs = Number(need("teardown", { pollSeconds: inputs.pollSeconds ?? "10" }, ["pollSeconds"]).pollSeconds) * 1000;
    const ec2 = ec2Client(i.region);
    const live = await taggedInstances(ec2, i.hostTag, LIVE_STATES);
    if (live.length)
        await terminate(
            ec2,
            "teardown",
            live.map((x) => x.InstanceId!),
        );
    // The security group and the instance profile are deleted after this step: wait until no host uses them.
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const left = await taggedInstances(ec2, i.hostTag, [...LIVE_STATES, "shutting-down"]);
        if (left.length === 0) {
            log(`cutover teardown: no instance tagged ${HOST_TAG_KEY}=${i.hostTag} is left`);
            return;
        }
        if (Date.now() >= deadline)
            throw new StepError(
                `cutover teardown: ${left.map((x) => `${x.InstanceId} (${x.State?.Name ?? "?"})`).join(", ")} not terminated after ${timeoutMs / 1000} s; run \`pulumi destroy\` again`,
            );
        await sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())));
    }
}

export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
    const { step, inputs } = readArgs(argv, env);
    try {
        if (step === "gate") await gate(inputs);
        else if (step === "retire") await retire(inputs);
        else await teardown(inputs);
    } catch (e) {
        if (e instanceof StepError) throw e;
        throw new StepError(`cutover ${step}: ${awsError(e)}`);
    }
}

if (require.main === module) {
    main(process.argv.slice(2), process.env).catch((e: unknown) => {
        process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
        process.exit(e instanceof StepError ? e.exitCode : 1);
    });
}
