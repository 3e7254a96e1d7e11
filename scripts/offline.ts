// Runs the real program (index.ts) under the Pulumi SDK's mock runtime: no engine, no cloud.
//
// Used by `npm start` (scripts/plan.ts), by the tests and by `npm run diff`. The mocks echo each
// resource's inputs back as its state, add the few computed attributes the program reads (ids,
// ARNs, the bucket name, the public IP) derived deterministically from the resource's name, answer
// the one data source the program calls (the AMI lookup) and throw on any other call.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";

export const PROJECT_DIR = path.resolve(__dirname, "..");

/** One resource the program registered. */
export interface PlannedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
}

export interface OfflinePlan {
    readonly project: string;
    readonly stack: string;
    readonly preview: boolean;
    /** Resources in a stable order (type, then name). */
    readonly resources: PlannedResource[];
    /** The program's stack outputs, resolved. */
    readonly outputs: Record<string, unknown>;
    /** Exactly the user-data the instance would receive. */
    readonly userData: string;
}

/** A fake AMI per (channel, architecture), stable across runs. */
export const FAKE_AMI_PREFIX = "ami-0f1a7c0a";

const short = (text: string, n = 8) => crypto.createHash("sha256").update(text).digest("hex").slice(0, n);

/** The stack's config as Pulumi hands it to the program: `project:key` → string (objects as JSON). */
export function loadStackConfig(stack: string, projectDir = PROJECT_DIR): Record<string, string> {
    const project = parse(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8")) as {
        name: string;
        config?: Record<string, { default?: unknown }>;
    };
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) throw new Error(`no stack file ${path.basename(file)}: pass --stack with one of ${stacks(projectDir).join(", ")}`);
    const stackDoc = (parse(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const out: Record<string, string> = {};
    const put = (key: string, value: unknown) => {
        out[key.includes(":") ? key : `${project.name}:${key}`] = typeof value === "string" ? value : JSON.stringify(value);
    };
    for (const [key, spec] of Object.entries(project.config ?? {})) {
        if (spec && typeof spec === "object" && "default" in spec) put(key, spec.default);
    }
    for (const [key, value] of Object.entries(stackDoc.config ?? {})) put(key, value);
    return out;
}

/** Stack names with a `Pulumi.<stack>.yaml` file. */
export function stacks(projectDir = PROJECT_DIR): string[] {
    return fs.readdirSync(projectDir).flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? []).sort();
}

function computed(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
    const id = short(`${type}/${name}`);
    switch (type) {
        case "aws:s3/bucket:Bucket": {
            const bucket = `${inputs["bucketPrefix"] ?? ""}${id}`;
            return { id: bucket, bucket, arn: `arn:aws:s3:::${bucket}` };
        }
        case "aws:iam/role:Role":
            return { id: `${name}-${id}`, name: `${name}-${id}`, arn: `arn:aws:iam::123456789012:role/${name}-${id}` };
        case "aws:iam/instanceProfile:InstanceProfile":
            return { id: `${name}-${id}`, name: `${name}-${id}`, arn: `arn:aws:iam::123456789012:instance-profile/${name}-${id}` };
        case "aws:ec2/securityGroup:SecurityGroup":
            return { id: `sg-${short(name, 17)}` };
        case "aws:ec2/instance:Instance":
            return { id: `i-${short(name, 17)}`, privateIp: "10.0.0.10" };
        case "aws:ec2/eip:Eip":
            return { id: `eipalloc-${short(name, 17)}`, publicIp: "203.0.113.10", allocationId: `eipalloc-${short(name, 17)}` };
        default:
            return { id: `${name}-${id}` };
    }
}

function mocks(record: PlannedResource[]): pulumi.runtime.Mocks {
    return {
        newResource(args) {
            record.push({ type: args.type, name: args.name, inputs: args.inputs as Record<string, unknown> });
            const extra = computed(args.type, args.name, args.inputs);
            const id = String(extra["id"]);
            return { id, state: { ...args.inputs, ...extra } };
        },
        call(args) {
            if (args.token === "aws:ec2/getAmi:getAmi") {
                const filters = (args.inputs["filters"] ?? []) as { name: string; values: string[] }[];
                const key = JSON.stringify(filters.map((f) => [f.name, f.values]));
                return { id: `${FAKE_AMI_PREFIX}${short(key, 9)}`, architecture: filters.find((f) => f.name === "architecture")?.values[0] };
            }
            throw new Error(`offline plan: unmocked call ${args.token}; add it to scripts/offline.ts if the program needs it`);
        },
    };
}

/** Sort object keys recursively, so JSON output is byte-stable. */
export function stable(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(stable);
    if (value && typeof value === "object") {
        if (pulumi.asset.Asset.isInstance(value as pulumi.asset.Asset) && "path" in (value as object)) {
            return { asset: "file", path: (value as { path: unknown }).path };
        }
        return Object.fromEntries(Object.keys(value).sort().map((k) => [k, stable((value as Record<string, unknown>)[k])]));
    }
    return value;
}

function unwrap(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) return new Promise((resolve) => (value as pulumi.Output<unknown>).apply(resolve));
    return Promise.resolve(value);
}

export interface OfflineOptions {
    readonly stack: string;
    /** Extra config over the stack file, `project:key` → string. */
    readonly config?: Readonly<Record<string, string>>;
    /** Run the mocks in preview mode (`pulumi preview`), not update mode. */
    readonly preview?: boolean;
    /** Keys to mark secret, as the CLI would. */
    readonly secretKeys?: readonly string[];
}

/**
 * Plan the program offline. The program module can be loaded once per process (Node caches it),
 * so call this once per process; a second stack needs a second process (see scripts/plan.ts --json).
 */
export async function planOffline(opts: OfflineOptions): Promise<OfflinePlan> {
    const config = { ...loadStackConfig(opts.stack), ...(opts.config ?? {}) };
    const project = "coreos-containers";
    const record: PlannedResource[] = [];
    await pulumi.runtime.setMocks(mocks(record), project, opts.stack, opts.preview ?? false);
    pulumi.runtime.setAllConfig(config, [...(opts.secretKeys ?? [])]);
    const program = (await import("../index")) as Record<string, unknown>;
    const outputs: Record<string, unknown> = {};
    for (const key of Object.keys(program).filter((k) => k !== "default").sort()) {
        outputs[key] = stable(await unwrap(program[key]));
    }
    // Registrations still in flight (children created inside applies) finish before we read the record.
    await pulumi.runtime.disconnect();
    const resources = record
        .map((r) => ({ type: r.type, name: r.name, inputs: stable(r.inputs) as Record<string, unknown> }))
        .sort((a, b) => (a.type + "\0" + a.name < b.type + "\0" + b.name ? -1 : 1));
    const instance = resources.find((r) => r.type === "aws:ec2/instance:Instance");
    const userData = instance?.inputs["userData"];
    if (typeof userData !== "string") throw new Error("offline plan: the program registered no instance with a userData string");
    return { project, stack: opts.stack, preview: opts.preview ?? false, resources, outputs, userData };
}
