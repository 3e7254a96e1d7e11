// `npm start [-- --stack dev] [--out DIR] [--preview] [--config-json '{"coreos-containers:key": ...}'] [--secret KEY] [--json]`
//
// The offline plan: runs index.ts under the SDK's mock runtime and writes what the program would
// deploy to out/<stack>/: `user-data` (the exact bytes), `plan.json` (every resource with its
// inputs and options, the data-source calls, and the stack outputs) and `units/<name>` (each
// unit's text, e.g. for `systemd-analyze verify`). Prints a short summary with each resource's key
// settings. Nothing is written on failure. `--json` prints the plan to stdout instead (tests use it).
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs as parseArgv } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import { USER_DATA_LIMIT } from "../units/cloudconfig";
import { ValidationError } from "../units/problems";
import { OfflinePlan, PROJECT_DIR, PlannedResource, planOffline, stable } from "./offline";

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
            throw new UsageError(`--config-json is not JSON (${(e as Error).message}); pass an object like '{"coreos-containers:instanceType":"t3.large"}'`);
        }
        if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`--config-json must be a JSON object of "project:key" to value`);
        for (const [k, v] of Object.entries(parsed)) config[k] = typeof v === "string" ? v : JSON.stringify(v);
    }
    return { stack: values.stack, ...(values.out !== undefined ? { out: values.out } : {}), preview: values.preview, json: values.json, config, secretKeys: values.secret };
}

/** Everything the plan writes, by path relative to the out folder. */
export function planFiles(plan: OfflinePlan): Record<string, string> {
    const files: Record<string, string> = {
        "user-data": plan.userData,
        "plan.json": JSON.stringify(stable({ project: plan.project, stack: plan.stack, preview: plan.preview, resources: plan.resources, calls: plan.calls, outputs: plan.outputs }), null, 2) + "\n",
    };
    for (const u of plan.units) {
        if (!/^[\w@.:-]+$/.test(u.name)) throw new Error(`unit name ${JSON.stringify(u.name)} is not a plain file name`);
        files[`units/${u.name}`] = u.content;
    }
    return files;
}

/** Write into a fresh sibling folder, then swap it in: readers never see half a plan. */
function writeAtomically(outDir: string, files: Record<string, string>): void {
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

interface Rule { protocol: string; fromPort: number; toPort: number; cidrBlocks?: string[] }
const portText = (r: Rule) => `${r.fromPort === r.toPort ? r.fromPort : `${r.fromPort}-${r.toPort}`}/${r.protocol}`;

/** Key settings of a resource, a line or two; empty when there is nothing worth saying. */
function settings(r: PlannedResource, plan: OfflinePlan): string | string[] {
    const i = r.inputs as Record<string, any>;
    switch (r.type) {
        case "aws:ec2/instance:Instance": {
            const lookup = plan.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
            const filters = ((lookup?.inputs["filters"] ?? []) as { name: string; values: string[] }[]).map((f) => f.values.join(",")).join(" ");
            const amiNote = lookup ? `lookup ${filters}` : "pinned";
            const ignored = r.options.ignoreChanges?.length ? `; changes to ${r.options.ignoreChanges.join(", ")} ignored` : "";
            const root = i["rootBlockDevice"] ?? {};
            const md = i["metadataOptions"] ?? {};
            return [
                [`${i["instanceType"]}`, `${i["ami"]} (${amiNote}${ignored})`, ...(i["subnetId"] ? [`subnet ${i["subnetId"]}`] : []), ...(i["keyName"] ? [`key pair ${i["keyName"]}`] : [])].join(", "),
                [
                    `root ${root.volumeSize} GiB ${root.volumeType}${root.encrypted ? " encrypted" : " NOT encrypted"}`,
                    `IMDS tokens ${md.httpTokens ?? "optional"}, hop limit ${md.httpPutResponseHopLimit ?? 1}`,
                    i["userDataReplaceOnChange"] ? "replaced when user-data changes" : "user-data change stops/starts it in place",
                ].join("; "),
            ];
        }
        case "aws:ec2/securityGroup:SecurityGroup": {
            const ingress = (i["ingress"] ?? []) as Rule[];
            const ssh = ingress.filter((x) => x.fromPort <= 22 && 22 <= x.toPort && x.protocol === "tcp");
            const published = ingress.filter((x) => !ssh.includes(x));
            const from = (x: Rule) => ((x.cidrBlocks ?? []).join(",") === "0.0.0.0/0" ? "" : ` from ${(x.cidrBlocks ?? []).join(",")}`);
            return `open ${published.map((x) => portText(x) + from(x)).join(", ") || "nothing"}; ${ssh.length ? `SSH from ${ssh.flatMap((x) => x.cidrBlocks ?? []).join(", ")}` : "no SSH"}`;
        }
        case "aws:ec2/eip:Eip": {
            const target = plan.outputs["instanceId"] === i["instance"] ? "the host" : String(i["instance"]);
            return `bound to ${target} through its instance input`;
        }
        case "aws:iam/rolePolicy:RolePolicy": {
            const doc = JSON.parse(String(i["policy"])) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] };
            return doc.Statement.map((s) => `${s.Effect} ${[s.Action].flat().join(",")} on ${shortSha([s.Resource].flat().join(","))}`).join("; ");
        }
        case "aws:iam/role:Role": {
            const doc = JSON.parse(String(i["assumeRolePolicy"])) as { Statement: { Principal: { Service?: string } }[] };
            return `assumed by ${doc.Statement.map((s) => s.Principal.Service).join(", ")}`;
        }
        case "aws:s3/bucket:Bucket":
            return `prefix ${i["bucketPrefix"]}${i["forceDestroy"] ? ", force destroy" : ""}`;
        case "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": {
            const on = ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"].filter((k) => i[k] === true);
            return `${on.length} of 4 public-access blocks on`;
        }
        case "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            return `SSE ${((i["rules"] ?? []) as any[]).map((x) => x.applyServerSideEncryptionByDefault?.sseAlgorithm).join(",")}`;
        case "aws:s3/bucketVersioning:BucketVersioning":
            return `versioning ${i["versioningConfiguration"]?.status}`;
        case "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            return ((i["rules"] ?? []) as any[]).map((x) => `${x.filter?.prefix ?? ""}: non-current kept ${x.noncurrentVersionExpiration?.noncurrentDays} days`).join("; ");
        case "aws:s3/bucketPolicy:BucketPolicy": {
            const doc = JSON.parse(String(i["policy"])) as { Statement: { Sid?: string; Effect: string }[] };
            return doc.Statement.map((s) => `${s.Effect} ${s.Sid ?? ""}`.trim()).join("; ");
        }
        case "aws:s3/bucketObjectv2:BucketObjectv2":
            return `${shortSha(String(i["key"]))} from ${shortSha(String(i["source"]?.path ?? "?"))}`;
        default:
            return "";
    }
}

/** The printed summary: the headline numbers, then one line per resource with its key settings. */
export function summarize(plan: OfflinePlan, outDir?: string): string {
    const bytes = Buffer.byteLength(plan.userData);
    const width = Math.max(...plan.resources.map((r) => r.name.length));
    // By name, so each component's resources sit together; the type leads the settings.
    const lines = [...plan.resources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).flatMap((r) => {
        const [first = "", ...more] = [settings(r, plan)].flat();
        return [
            `    ${r.name.padEnd(width)}  ${shortType(r.type)}${first ? `: ${first}` : ""}`,
            ...more.map((m) => `    ${" ".repeat(width)}  ${" ".repeat(shortType(r.type).length + 2)}${m}`),
        ];
    });
    return [
        `offline plan of stack ${plan.stack}${plan.preview ? " (preview)" : ""}${outDir ? ` → ${outDir}` : ""}`,
        `  user-data  ${bytes} of ${USER_DATA_LIMIT} bytes (${Math.round((bytes / USER_DATA_LIMIT) * 100)}%), sha256 ${String(plan.outputs["userDataSha256"]).slice(0, 12)}…`,
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
    if (e instanceof UsageError || e instanceof ValidationError || pulumi.RunError.isInstance(e)) return (e as Error).message;
    return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

if (require.main === module) {
    main().catch((e: unknown) => {
        console.error(`npm start: ${failureText(e)}\nNothing was written.`);
        process.exit(e instanceof UsageError ? 2 : 1);
    });
}
