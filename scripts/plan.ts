// `npm start [-- --stack dev] [--out DIR] [--preview] [--config-json '{"coreos-containers:key": ...}'] [--secret KEY] [--json]`
//
// The offline plan: runs index.ts under the SDK's mock runtime and writes what the program would
// deploy to out/<stack>/: `user-data` (the exact bytes EC2 receives; binary when it is a gzip'd
// cloud-config, with `user-data.decoded` beside it, the document coreos-cloudinit reads),
// `uploads/<key>` (objects the user-data names, e.g. the Ignition config `uploads/ignition/<sha>.json`),
// `plan.json` (every resource with its inputs and options, the data-source calls, and the stack
// outputs) and `units/<name>` (each unit's text, e.g. for `systemd-analyze verify`). Prints a short
// summary with each resource's key settings. Nothing is written on failure. `--json` prints the plan
// to stdout instead (tests use it).
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs as parseArgv } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { USER_DATA_LIMIT, UserDataView } from "../formats";
import { ValidationError } from "../units/problems";
import { isPlainObject } from "../units/values";
import { OfflinePlan, PROJECT_DIR, PlannedResource, planOffline, stable } from "./offline";
import { planUploads, planUserDataBytes, readPlanUserData } from "./planUserData";

const USAGE = "usage: npm start -- [--stack NAME] [--out DIR] [--preview] [--config-json JSON] [--secret KEY]... [--json]";

/** A mistake on the command line: printed with the usage, exit 2. */
export class UsageError extends Error {}

interface Args {
    stack: string;
    out?: string;
    preview: boolean;
    json: boolean;
    config: Record<string, string>;
    secretKeys: string[];
}

export function parseArgs(argv: readonly string[]): Args {
    let values;
    try {
        ({ values } = parseArgv({
            args: [...argv],
            options: {
                stack: { type: "string", default: "dev" },
                out: { type: "string" },
                preview: { type: "boolean", default: false },
                json: { type: "boolean", default: false },
                secret: { type: "string", multiple: true, default: [] },
                "config-json": { type: "string" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (e) {
        throw new UsageError(`${(e as Error).message}\n${USAGE}`);
    }
    if (!/^[\w.-]+$/.test(values.stack)) throw new UsageError(`--stack ${JSON.stringify(values.stack)} is not a stack name\n${USAGE}`);
    const config: Record<string, string> = {};
    if (values["config-json"] !== undefined) {
        let parsed: unknown;
        try {
            parsed = JSON.parse(values["config-json"]);
        } catch (e) {
            throw new UsageError(
                `--config-json is not JSON (${(e as Error).message}); pass an object like '{"coreos-containers:instanceType":"t3.large"}'`,
            );
        }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed))
            throw new UsageError(`--config-json must be a JSON object of "project:key" to value`);
        for (const [k, v] of Object.entries(parsed)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return {
        stack: values.stack,
        ...(values.out !== undefined ? { out: values.out } : {}),
        preview: values.preview,
        json: values.json,
        config,
        secretKeys: values.secret,
    };
}

/** Everything the plan writes, by path relative to the out folder. */
export function planFiles(plan: OfflinePlan): Record<string, string | Buffer> {
    const view = readPlanUserData(plan);
    const files: Record<string, string | Buffer> = {
        "user-data": planUserDataBytes(plan),
        ...(view.delivery.kind === "gzip" ? { "user-data.decoded": view.delivery.document } : {}),
        "plan.json":
            JSON.stringify(
                stable({
                    project: plan.project,
                    stack: plan.stack,
                    preview: plan.preview,
                    resources: plan.resources,
                    calls: plan.calls,
                    outputs: plan.outputs,
                }),
                null,
                2,
            ) + "\n",
    };
    for (const u of plan.units) {
        if (!/^[\w@.:-]+$/.test(u.name)) throw new Error(`unit name ${JSON.stringify(u.name)} is not a plain file name`);
        files[`units/${u.name}`] = u.content;
    }
    for (const [key, content] of planUploads(plan)) {
        if (!/^[\w.-]+(\/[\w.-]+)*$/.test(key) || key.split("/").includes(".."))
            throw new Error(`upload key ${JSON.stringify(key)} is not a plain path`);
        files[`uploads/${key}`] = content;
    }
    return files;
}

/** Write into a fresh sibling folder, then swap it in: readers never see half a plan. */
function writeAtomically(outDir: string, files: Record<string, string | Buffer>): void {
    const parent = path.dirname(outDir);
    fs.mkdirSync(parent, { recursive: true });
    const tmp = fs.mkdtempSync(path.join(parent, `.${path.basename(outDir)}-`));
    try {
        for (const [rel, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(tmp, rel)), { recursive: true });
            fs.writeFileSync(path.join(tmp, rel), content);
        }
    } catch (e) {
        fs.rmSync(tmp, { recursive: true, force: true });
        throw e;
    }
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.renameSync(tmp, outDir);
}

const shortSha = (s: string) => s.replace(/[0-9a-f]{64}/g, (h) => `${h.slice(0, 12)}…`);
const shortType = (type: string) => type.split(":").pop() ?? type;

/** A value inside plain JSON-like data, by path; undefined when the path does not exist. */
function at(value: unknown, ...path: readonly (string | number)[]): unknown {
    let v = value;
    for (const k of path) {
        if (typeof k === "number" ? !Array.isArray(v) : !isPlainObject(v)) return undefined;
        v = (v as Record<string | number, unknown>)[k];
    }
    return v;
}
/** A scalar as text; `fallback` for anything else. */
const text = (v: unknown, fallback = "?") =>
    typeof v === "string" || typeof v === "number" || typeof v === "boolean" ? String(v) : fallback;
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const texts = (v: unknown): string[] => [v].flat().map((x) => text(x));

interface Rule {
    protocol: string;
    fromPort: number;
    toPort: number;
    cidrBlocks?: string[];
}
const portText = (r: Rule) => `${r.fromPort === r.toPort ? r.fromPort : `${r.fromPort}-${r.toPort}`}/${r.protocol}`;

type Describe = (inputs: Record<string, unknown>, r: PlannedResource, plan: OfflinePlan) => string | string[];

function describeInstance(i: Record<string, unknown>, r: PlannedResource, plan: OfflinePlan): string[] {
    const lookup = plan.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
    const filters = items(lookup?.inputs["filters"])
        .map((f) => texts(at(f, "values")).join(","))
        .join(" ");
    const amiNote = lookup ? `lookup ${filters}` : "pinned";
    const ignored = r.options.ignoreChanges?.length ? `; changes to ${r.options.ignoreChanges.join(", ")} ignored` : "";
    const root = (k: string) => at(i, "rootBlockDevice", k);
    const md = (k: string) => at(i, "metadataOptions", k);
    return [
        [
            text(i["instanceType"]),
            `${text(i["ami"])} (${amiNote}${ignored})`,
            ...(i["subnetId"] ? [`subnet ${text(i["subnetId"])}`] : []),
            ...(i["keyName"] ? [`key pair ${text(i["keyName"])}`] : []),
        ].join(", "),
        [
            `root ${text(root("volumeSize"))} GiB ${text(root("volumeType"))}${root("encrypted") ? " encrypted" : " NOT encrypted"}`,
            `IMDS tokens ${text(md("httpTokens"), "optional")}, hop limit ${text(md("httpPutResponseHopLimit"), "1")}`,
            i["userDataReplaceOnChange"] ? "replaced when user-data changes" : "user-data change stops/starts it in place",
            ...(r.options.retainOnDelete ? ["never terminated by Pulumi (retainOnDelete)"] : []),
        ].join("; "),
    ];
}

function describeSecurityGroup(i: Record<string, unknown>): string {
    const ingress = items(i["ingress"]) as Rule[];
    const ssh = ingress.filter((x) => x.fromPort <= 22 && 22 <= x.toPort && x.protocol === "tcp");
    const published = ingress.filter((x) => !ssh.includes(x));
    const from = (x: Rule) => ((x.cidrBlocks ?? []).join(",") === "0.0.0.0/0" ? "anywhere" : (x.cidrBlocks ?? []).join(","));
    const sshText = ssh.length ? `SSH from ${ssh.flatMap((x) => x.cidrBlocks ?? []).join(", ")}` : "no SSH";
    // EC2 counts one rule per CIDR (units/exposure.ts).
    const count = ingress.reduce((n, x) => n + (x.cidrBlocks ?? []).length, 0);
    return `open ${published.map((x) => `${portText(x)} from ${from(x)}`).join(", ") || "no published port"}; ${sshText}; ${count} inbound rule${count === 1 ? "" : "s"}`;
}

function describePolicy(i: Record<string, unknown>, key: string): string {
    const doc = JSON.parse(text(i[key], "{}")) as { Statement?: unknown };
    const via = (s: unknown) => {
        const service = at(s, "Condition", "StringEquals", "kms:ViaService");
        return service === undefined ? "" : ` via ${text(service)} only`;
    };
    // A condition on a resource tag narrows the statement to the resources that carry it: say so.
    const tagged = (s: unknown) => {
        const equals = at(s, "Condition", "StringEquals");
        const tags = equals && typeof equals === "object" ? Object.entries(equals).filter(([k]) => k.startsWith("aws:ResourceTag/")) : [];
        return tags.map(([k, v]) => ` tagged ${k.slice("aws:ResourceTag/".length)}=${text(v)}`).join("");
    };
    return items(doc.Statement)
        .map(
            (s) =>
                `${text(at(s, "Effect"))} ${texts(at(s, "Action")).join(",")} on ${shortSha(texts(at(s, "Resource")).join(","))}${tagged(s)}${via(s)}`,
        )
        .join("; ");
}

/** A cutover step (components/cutover.ts) from its Command's command lines and environment. */
function describeCommand(i: Record<string, unknown>): string {
    const env = (k: string) => text(at(i, "environment", k), "?");
    const step =
        /scripts\/cutover\.ts (\w+)$/.exec(text(i["create"], ""))?.[1] ?? /scripts\/cutover\.ts (\w+)$/.exec(text(i["delete"], ""))?.[1];
    const perInstance = items(i["triggers"]).length ? "; runs once per new instance" : "";
    switch (step) {
        case "gate": {
            const minutes = Number(env("CUTOVER_TIMEOUT_SECONDS")) / 60;
            return `readiness gate: waits up to ${minutes} min for ${env("CUTOVER_INSTANCE_ID")}'s report at s3://${env("CUTOVER_BUCKET")}/${shortSha(env("CUTOVER_REPORT_KEY"))}; fails the up if it is not ready${perInstance}`;
        }
        case "retire":
            return env("CUTOVER_DATA_VOLUME_ID")
                ? `once the address is on ${env("CUTOVER_INSTANCE_ID")}: stops every other host tagged ${env("CUTOVER_HOST_TAG")}, detaches the data volume ${env("CUTOVER_DATA_VOLUME_ID")} from it, terminates it, and waits for the new host to report the volume mounted${perInstance}`
                : `retires every other host tagged ${env("CUTOVER_HOST_TAG")} once the address is on ${env("CUTOVER_INSTANCE_ID")}${perInstance}`;
        case "teardown":
            return `on destroy: terminates every host tagged ${env("CUTOVER_HOST_TAG")} and waits until they are gone`;
        default:
            return `runs ${text(i["create"])}`;
    }
}

/** Key settings of each resource type worth a word in the summary, a line or two each. */
const DESCRIBE: Readonly<Record<string, Describe>> = {
    "aws:ec2/instance:Instance": describeInstance,
    "aws:ec2/securityGroup:SecurityGroup": describeSecurityGroup,
    "aws:ec2/eip:Eip": (i, _r, plan) =>
        `bound to ${plan.outputs["instanceId"] === i["instance"] ? "the host" : text(i["instance"])} through its instance input`,
    "aws:iam/rolePolicy:RolePolicy": (i) => describePolicy(i, "policy"),
    "aws:ssm/parameter:Parameter": (i) =>
        `${text(i["type"])} ${text(i["name"])}, value ${text(i["value"])}, KMS key ${i["keyId"] === undefined ? "aws/ssm (the account's default)" : text(i["keyId"])}`,
    "aws:iam/role:Role": (i) => {
        const doc = JSON.parse(text(i["assumeRolePolicy"], "{}")) as { Statement?: unknown };
        return `assumed by ${items(doc.Statement)
            .map((s) => text(at(s, "Principal", "Service")))
            .join(", ")}`;
    },
    "aws:s3/bucket:Bucket": (i) => `prefix ${text(i["bucketPrefix"])}${i["forceDestroy"] ? ", force destroy" : ""}`,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (i) =>
        `${["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].filter((k) => i[k] === true).length} of 4 public-access blocks on`,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (i) =>
        `SSE ${items(i["rules"])
            .map((x) => text(at(x, "applyServerSideEncryptionByDefault", "sseAlgorithm")))
            .join(",")}`,
    "aws:s3/bucketVersioning:BucketVersioning": (i) => `versioning ${text(at(i, "versioningConfiguration", "status"))}`,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (i) =>
        items(i["rules"])
            .map(
                (x) =>
                    `${text(at(x, "filter", "prefix"), "")}: ${at(x, "expiration", "days") !== undefined ? `expire after ${text(at(x, "expiration", "days"))} days, ` : ""}non-current kept ${text(at(x, "noncurrentVersionExpiration", "noncurrentDays"))} days`,
            )
            .join("; "),
    "command:local:Command": describeCommand,
    "aws:s3/bucketPolicy:BucketPolicy": (i) => {
        const doc = JSON.parse(text(i["policy"], "{}")) as { Statement?: unknown };
        return items(doc.Statement)
            .map((s) => `${text(at(s, "Effect"))} ${text(at(s, "Sid"), "")}`.trim())
            .join("; ");
    },
    "aws:ebs/volume:Volume": (i, r) =>
        `${text(i["type"])} ${text(i["size"])} GiB, ${text(i["iops"])} IOPS, ${text(i["throughput"])} MiB/s in ${text(i["availabilityZone"])}, ` +
        `${i["encrypted"] === true ? `encrypted with ${i["kmsKeyId"] === undefined ? "the account's default EBS key" : text(i["kmsKeyId"])}` : "NOT encrypted"}` +
        `${i["snapshotId"] === undefined ? "" : `, from ${text(i["snapshotId"])}`}` +
        `${r.options.protect ? ", protected" : ""}${r.options.retainOnDelete ? ", kept in AWS when removed" : ""}`,
    "aws:dlm/lifecyclePolicy:LifecyclePolicy": (i) => {
        const tags = Object.entries((at(i, "policyDetails", "targetTags") ?? {}) as Record<string, unknown>).map(
            ([k, v]) => `${k}=${text(v)}`,
        );
        return [
            ...items(at(i, "policyDetails", "schedules")).map(
                (x) =>
                    `every ${text(at(x, "createRule", "interval"))} h from ${text(at(x, "createRule", "times"))} UTC, ${text(at(x, "retainRule", "count"))} kept`,
            ),
        ]
            .concat(`of volumes tagged ${tags.join(", ")}`)
            .join(", ");
    },
    "aws:s3/bucketObjectv2:BucketObjectv2": (i) =>
        typeof i["content"] === "string"
            ? `${shortSha(text(i["key"]))}, ${Buffer.byteLength(i["content"])} bytes of ${text(i["contentType"], "text")}`
            : `${shortSha(text(i["key"]))} from ${shortSha(text(at(i, "source", "path")))}`,
};

/** Key settings of a resource, a line or two; empty when there is nothing worth saying. */
function settings(r: PlannedResource, plan: OfflinePlan): string | string[] {
    const describe = Object.hasOwn(DESCRIBE, r.type) ? DESCRIBE[r.type] : undefined;
    return describe ? describe(r.inputs, r, plan) : "";
}

const share = (bytes: number) => `${bytes} of ${USER_DATA_LIMIT} bytes (${Math.round((bytes / USER_DATA_LIMIT) * 100)}%)`;

/** The user-data line: the format, the bytes EC2 receives against its limit, and the document they carry. */
export function userDataLine(view: UserDataView, received: number, sha256: string): string {
    const sha = `sha256 ${sha256.slice(0, 12)}…`;
    switch (view.delivery.kind) {
        case "inline":
            return `${view.format}, ${share(received)}, ${sha}`;
        case "gzip":
            return `${view.format} gzip, ${share(received)}, ${sha}; ${Buffer.byteLength(view.delivery.document)} bytes decompressed (user-data.decoded)`;
        case "fetched":
            return `${view.format} stub, ${share(received)}, ${sha}; full config ${shortSha(view.delivery.key)} ${view.delivery.documentBytes} bytes (uploads/)`;
    }
}

/** The printed summary: the headline numbers, then one line per resource with its key settings. */
export function summarize(plan: OfflinePlan, outDir?: string): string {
    const bytes = planUserDataBytes(plan).length;
    const width = Math.max(...plan.resources.map((r) => r.name.length));
    // By name, so each component's resources sit together; the type leads the settings.
    const lines = [...plan.resources]
        .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
        .flatMap((r) => {
            const [first = "", ...more] = [settings(r, plan)].flat();
            return [
                `    ${r.name.padEnd(width)}  ${shortType(r.type)}${first ? `: ${first}` : ""}`,
                ...more.map((m) => `    ${" ".repeat(width)}  ${" ".repeat(shortType(r.type).length + 2)}${m}`),
            ];
        });
    return [
        `offline plan of stack ${plan.stack}${plan.preview ? " (preview)" : ""}${outDir ? ` → ${outDir}` : ""}`,
        `  user-data  ${userDataLine(readPlanUserData(plan), bytes, String(plan.outputs["userDataSha256"]))}`,
        `  units      ${plan.units.length}: ${plan.units.map((u) => u.name.replace(/\.service$/, "")).join(", ")}`,
        `  artifact   ${String(plan.outputs["artifactObjectKey"])}`,
        `  resources  ${plan.resources.length}`,
        ...lines,
    ].join("\n");
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const plan = await planOffline({ stack: args.stack, config: args.config, preview: args.preview, secretKeys: args.secretKeys });
    if (args.json) {
        process.stdout.write(JSON.stringify(plan) + "\n");
        return;
    }
    const outDir = path.resolve(args.out ?? path.join(PROJECT_DIR, "out", args.stack));
    writeAtomically(outDir, planFiles(plan));
    const shown = path.relative(process.cwd(), outDir);
    console.log(summarize(plan, shown.startsWith("..") ? outDir : shown || "."));
}

/** The text for a failure: expected ones (bad input, bad arguments) as their message alone; a bug with its stack. */
export function failureText(e: unknown): string {
    if (e instanceof UsageError || e instanceof ValidationError || pulumi.RunError.isInstance(e)) return e.message;
    return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

if (require.main === module) {
    main().catch((e: unknown) => {
        console.error(`npm start: ${failureText(e)}\nNothing was written.`);
        process.exit(e instanceof UsageError ? 2 : 1);
    });
}
