// Runs the real program (index.ts) under the Pulumi SDK's mock runtime: no engine, no cloud.
//
// Used by `npm start` (scripts/plan.ts), by the tests and by `npm run diff`. The mocks echo each
// resource's inputs back as its state, add the few computed attributes the program reads (ids,
// ARNs, the bucket name, the public IP) derived deterministically from the resource's name, answer
// the data sources the program calls (the AMI lookup; the subnet lookup when a subnet is set) and
// throw on any other call.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT } from "../config";
import { PlanUserData, readPlanUserData } from "./planUserData";
import { stackFileConfig } from "./stackFiles";

export const PROJECT_DIR = path.resolve(__dirname, "..");
export { PROJECT };

/**
 * Resource options the engine would act on. The mocks never see options, so the offline plan
 * reads them off the registration request; only those a resource sets are listed.
 */
export interface PlannedOptions {
    readonly ignoreChanges?: string[];
    readonly replaceOnChanges?: string[];
    readonly deleteBeforeReplace?: boolean;
    readonly protect?: boolean;
    readonly retainOnDelete?: boolean;
}

/**
 * What a resource waits for, as the engine would record it; each entry `<type>::<name>`, sorted, e.g.
 * `aws:iam/rolePolicy:RolePolicy::host-read-artifact`.
 */
export interface PlannedDependencies {
    /** Every resource it depends on: its explicit `dependsOn` and those whose outputs feed its inputs. */
    readonly all: string[];
    /** Per input, the resources whose outputs feed it (only inputs that have any). */
    readonly inputs: Record<string, string[]>;
}

/** One resource the program registered. */
export interface PlannedResource {
    readonly type: string;
    readonly name: string;
    readonly inputs: Record<string, unknown>;
    /** What the mocks computed on top of the inputs (id, ARN, name…), so tests can follow references. */
    readonly computed: Record<string, unknown>;
    readonly options: PlannedOptions;
    readonly dependencies: PlannedDependencies;
}

/** One data-source call the program made, e.g. the AMI lookup. */
export interface PlannedCall {
    readonly token: string;
    readonly inputs: Record<string, unknown>;
}

/** A unit as the host receives it, read back from the user-data. */
export interface PlannedUnit {
    readonly name: string;
    readonly content: string;
}

export interface OfflinePlan {
    readonly project: string;
    readonly stack: string;
    readonly preview: boolean;
    /** Resources in a stable order (type, then name). */
    readonly resources: PlannedResource[];
    /** Data-source calls in a stable order. */
    readonly calls: PlannedCall[];
    /** The program's stack outputs, resolved. */
    readonly outputs: Record<string, unknown>;
    /** Exactly the user-data the instance would receive: its text, or base64 of its bytes (see `userDataEncoding`). */
    readonly userData: string;
    /** `text` when the instance gets `userData`, `base64` when it gets `userDataBase64` (a gzip'd cloud-config). */
    readonly userDataEncoding: "text" | "base64";
    /** The units the host gets, in the user-data's order (for Ignition, the full config's). */
    readonly units: PlannedUnit[];
}

/** Fake AMI ids start with this; the rest is a hash of the lookup's filters. */
export const FAKE_AMI_PREFIX = "ami-0f1a7c0a";
/** The public IP every fake Elastic IP gets (TEST-NET-3). */
export const FAKE_PUBLIC_IP = "203.0.113.10";
/** An output the mocks could not resolve (should not happen: the mocks return every value). */
export const UNKNOWN = "<unknown>";
/** What plan.json shows for any input or output the program marked secret: never the value. */
export const SECRET_PLACEHOLDER = "[secret]";
/**
 * What the offline plan hands the program for a `secure:` value of a stack file: it has no key to
 * decrypt it, and the plan must not depend on the value. Valid as an env value and as base64 alike, so
 * the value checks pass for it; the parameter gets it as a secret input, which plan.json shows as [secret].
 */
export const OFFLINE_SECRET_VALUE = "T0ZGTElORS1QTEFDRUhPTERFUg==";
/** The account id the mocks put into ARNs. */
export const FAKE_ACCOUNT = "123456789012";

const short = (text: string, n = 8) => crypto.createHash("sha256").update(text).digest("hex").slice(0, n);

/**
 * The stack's config as Pulumi hands it to the program: `project:key` → string (objects as JSON).
 * A stack without a `Pulumi.<stack>.yaml` runs on the project's defaults, as `pulumi` allows.
 */
export function loadStackConfig(stack: string, projectDir = PROJECT_DIR): Record<string, string> {
    const entries = stackFileEntries(stack, projectDir);
    return Object.fromEntries(
        Object.entries(entries).map(([key, { value }]) => {
            const v = withoutCiphertext(value);
            return [key, typeof v === "string" ? v : JSON.stringify(v)];
        }),
    );
}

/**
 * The keys the CLI would mark secret: those whose value is, or contains, `{ secure: … }` (the CLI lists a
 * whole key as secret when any part of it is; sdk/go/common/resource/config Map.SecureKeys).
 */
export function stackSecretKeys(stack: string, projectDir = PROJECT_DIR): string[] {
    return Object.entries(stackFileEntries(stack, projectDir))
        .filter(([, { value }]) => withoutCiphertext(value) !== value)
        .map(([key]) => key)
        .sort();
}

function stackFileEntries(stack: string, projectDir: string) {
    const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
    const stackYaml = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined;
    return stackFileConfig(fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"), stackYaml);
}

/** A stack-file value with each `{ secure: <ciphertext> }` replaced by {@link OFFLINE_SECRET_VALUE}; the same object when there is none. */
function withoutCiphertext(v: unknown): unknown {
    if (Array.isArray(v)) {
        const out = v.map(withoutCiphertext);
        return out.some((x, i) => x !== v[i]) ? out : v;
    }
    if (v === null || typeof v !== "object") return v;
    const o = v as Record<string, unknown>;
    if (Object.keys(o).length === 1 && typeof o["secure"] === "string") return OFFLINE_SECRET_VALUE;
    const out = Object.fromEntries(Object.entries(o).map(([k, x]) => [k, withoutCiphertext(x)]));
    return Object.keys(o).some((k) => out[k] !== o[k]) ? out : v;
}

/** Stack names with a `Pulumi.<stack>.yaml` file. */
export function stacks(projectDir = PROJECT_DIR): string[] {
    return fs
        .readdirSync(projectDir)
        .flatMap((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1] ?? [])
        .sort();
}

function computed(type: string, name: string, inputs: Record<string, unknown>, region: string): Record<string, unknown> {
    const id = short(`${type}/${name}`);
    switch (type) {
        case "aws:ssm/parameter:Parameter": {
            // A new parameter's first version is 1; the mocks cannot know later ones.
            const pname = String(inputs["name"]);
            return { id: pname, arn: `arn:aws:ssm:${region}:${FAKE_ACCOUNT}:parameter${pname}`, version: 1 };
        }
        case "aws:s3/bucket:Bucket": {
            const prefix = inputs["bucketPrefix"];
            const bucket = `${typeof prefix === "string" ? prefix : ""}${id}`;
            return { id: bucket, bucket, arn: `arn:aws:s3:::${bucket}` };
        }
        case "aws:iam/role:Role":
            return { id: `${name}-${id}`, name: `${name}-${id}`, arn: `arn:aws:iam::${FAKE_ACCOUNT}:role/${name}-${id}` };
        case "aws:iam/instanceProfile:InstanceProfile":
            return { id: `${name}-${id}`, name: `${name}-${id}`, arn: `arn:aws:iam::${FAKE_ACCOUNT}:instance-profile/${name}-${id}` };
        case "aws:ec2/securityGroup:SecurityGroup":
            return { id: `sg-${short(name, 17)}` };
        case "aws:ec2/instance:Instance":
            return { id: `i-${short(name, 17)}`, privateIp: "10.0.0.10" };
        case "aws:ebs/volume:Volume": {
            const volumeId = `vol-${short(name, 17)}`;
            return { id: volumeId, arn: `arn:aws:ec2:${region}:${FAKE_ACCOUNT}:volume/${volumeId}` };
        }
        case "aws:ec2/eip:Eip":
            return { id: `eipalloc-${short(name, 17)}`, publicIp: FAKE_PUBLIC_IP, allocationId: `eipalloc-${short(name, 17)}` };
        default:
            return { id: `${name}-${id}` };
    }
}

/** The mocks: echo inputs plus computed attributes; answer the known data sources; throw on anything else. */
export function offlineMocks(
    resources: Omit<PlannedResource, "options" | "dependencies">[],
    calls: PlannedCall[],
    region = "eu-west-1",
): pulumi.runtime.Mocks {
    return {
        newResource(args) {
            const inputs = args.inputs as Record<string, unknown>;
            const extra = computed(args.type, args.name, inputs, region);
            resources.push({ type: args.type, name: args.name, inputs, computed: extra });
            return { id: String(extra["id"]), state: { ...inputs, ...extra } };
        },
        call(args) {
            const inputs = args.inputs as Record<string, unknown>;
            calls.push({ token: args.token, inputs });
            switch (args.token) {
                case "aws:ec2/getAmi:getAmi": {
                    const filters = (inputs["filters"] ?? []) as { name: string; values: string[] }[];
                    const key = JSON.stringify(filters.map((f) => [f.name, f.values]));
                    return {
                        id: `${FAKE_AMI_PREFIX}${short(key, 9)}`,
                        architecture: filters.find((f) => f.name === "architecture")?.values[0],
                    };
                }
                case "aws:ec2/getSubnet:getSubnet": {
                    const id = String(inputs["id"]);
                    return { id, vpcId: `vpc-${short(id, 17)}`, availabilityZone: "eu-west-1a" };
                }
                default:
                    throw new Error(`offline plan: unmocked call ${args.token}; add it to scripts/offline.ts if the program needs it`);
            }
        },
    };
}

/** The slice of the gRPC RegisterResourceRequest the plan reads (generated protobuf getters). */
interface RegisterRequest {
    getType(): string;
    getName(): string;
    getIgnorechangesList(): string[];
    getReplaceonchangesList(): string[];
    getDeletebeforereplace(): boolean;
    getProtect(): boolean;
    getRetainondelete(): boolean;
    /** URNs of every direct dependency (the SDK sends explicit dependsOn and input dependencies together). */
    getDependenciesList(): string[];
    getPropertydependenciesMap(): { forEach(callback: (deps: { getUrnsList(): string[] }, input: string) => void): void };
}

/** `urn:pulumi:<stack>::<project>::<parent types$>type::name` → `type::name`. */
export function urnReference(urn: string): string {
    const parts = urn.split("::");
    const qualifiedType = parts[2] ?? "";
    return `${qualifiedType.split("$").pop() ?? qualifiedType}::${parts.slice(3).join("::")}`;
}

const references = (urns: readonly string[]) => [...new Set(urns.map(urnReference))].sort();
type Monitor = { registerResource(req: RegisterRequest, callback: (...args: unknown[]) => void): void };

/** Record each registration's options and dependencies, then let the mock monitor handle it as usual. */
function recordOptions(into: Map<string, PlannedOptions>, dependencies: Map<string, PlannedDependencies>): void {
    const monitor = pulumi.runtime.getMonitor() as unknown as Monitor | undefined;
    if (!monitor || typeof monitor.registerResource !== "function") {
        throw new Error(
            "offline plan: the SDK's mock monitor has no registerResource; update scripts/offline.ts for this @pulumi/pulumi version",
        );
    }
    const register = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, callback) => {
        const options: { -readonly [K in keyof PlannedOptions]: PlannedOptions[K] } = {};
        if (req.getIgnorechangesList().length) options.ignoreChanges = req.getIgnorechangesList();
        if (req.getReplaceonchangesList().length) options.replaceOnChanges = req.getReplaceonchangesList();
        if (req.getDeletebeforereplace()) options.deleteBeforeReplace = true;
        if (req.getProtect()) options.protect = true;
        if (req.getRetainondelete()) options.retainOnDelete = true;
        into.set(`${req.getType()}\0${req.getName()}`, options);
        const inputs: Record<string, string[]> = {};
        req.getPropertydependenciesMap().forEach((deps, input) => {
            if (deps.getUrnsList().length) inputs[input] = references(deps.getUrnsList());
        });
        dependencies.set(`${req.getType()}\0${req.getName()}`, { all: references(req.getDependenciesList()), inputs });
        register(req, callback);
    };
}

/** Sort object keys recursively, so JSON output is byte-stable. */
export function stable(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(stable);
    if (value && typeof value === "object") {
        return Object.fromEntries(
            Object.keys(value)
                .sort()
                .map((k) => [k, stable((value as Record<string, unknown>)[k])]),
        );
    }
    return value;
}

/**
 * Every secret inside a value replaced by {@link SECRET_PLACEHOLDER}. Under the mocks the SDK hands
 * secret inputs over as `{ [specialSigKey]: specialSecretSig, value }` (runtime/rpc.js: the mock
 * monitor deserializes with secrets kept, since it sets supportsSecrets), so a plain echo would print them.
 */
export function redactSecrets(value: unknown): unknown {
    if (pulumi.runtime.isRpcSecret(value)) return SECRET_PLACEHOLDER;
    if (Array.isArray(value)) return value.map(redactSecrets);
    if (value && typeof value === "object" && !pulumi.asset.Asset.isInstance(value) && !pulumi.asset.Archive.isInstance(value)) {
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactSecrets(v)]));
    }
    return value;
}

/** Replace file assets (whose `path` the SDK keeps as a promise) by `{ asset: "file", path }`. */
async function resolveAssets(value: unknown): Promise<unknown> {
    if (Array.isArray(value)) return Promise.all(value.map(resolveAssets));
    if (value && typeof value === "object") {
        if (pulumi.asset.Asset.isInstance(value)) {
            const file = (value as { path?: Promise<string> | string }).path;
            if (file === undefined)
                throw new Error("offline plan: only file assets are supported; add the asset kind to scripts/offline.ts");
            return { asset: "file", path: await file };
        }
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveAssets(v)] as const));
        return Object.fromEntries(entries);
    }
    return value;
}

/** An output's value; {@link UNKNOWN} when it has none (an `apply` would then never run). */
async function unwrap(value: unknown): Promise<unknown> {
    if (!pulumi.Output.isInstance(value)) return value;
    const output = value;
    const known = await (output as unknown as { isKnown?: Promise<boolean> }).isKnown;
    if (known === false) return UNKNOWN;
    if ((await (output as unknown as { isSecret?: Promise<boolean> }).isSecret) === true) return SECRET_PLACEHOLDER;
    return new Promise((resolve) => output.apply(resolve));
}

/** The units a plan's user-data gives the host, whatever its format. */
export function unitsOf(plan: PlanUserData): PlannedUnit[] {
    return readPlanUserData(plan).units.map((u) => ({ name: u.name, content: u.content }));
}

export interface OfflineOptions {
    readonly stack: string;
    /** Extra config over the stack file, `project:key` → string. */
    readonly config?: Readonly<Record<string, string>>;
    /** Run the mocks in preview mode (`pulumi preview`), not update mode. */
    readonly preview?: boolean;
    /** Keys to mark secret, as the CLI would, e.g. `coreos-containers:containers`. */
    readonly secretKeys?: readonly string[];
}

const byTypeAndName = <T extends { type: string; name: string }>(a: T, b: T) => (a.type + "\0" + a.name < b.type + "\0" + b.name ? -1 : 1);

/**
 * Plan the program offline. The program module can be loaded once per process (Node caches it),
 * so call this once per process; a second stack needs a second process (see scripts/plan.ts --json
 * and test/helpers/plan.ts).
 */
export async function planOffline(opts: OfflineOptions): Promise<OfflinePlan> {
    const config = { ...loadStackConfig(opts.stack), ...(opts.config ?? {}) };
    const secretKeys = [...new Set([...stackSecretKeys(opts.stack), ...(opts.secretKeys ?? [])])].sort();
    const preview = opts.preview ?? false;
    const recorded: Omit<PlannedResource, "options" | "dependencies">[] = [];
    const recordedCalls: PlannedCall[] = [];
    const options = new Map<string, PlannedOptions>();
    const dependencies = new Map<string, PlannedDependencies>();
    await pulumi.runtime.setMocks(offlineMocks(recorded, recordedCalls, config["aws:region"]), PROJECT, opts.stack, preview);
    recordOptions(options, dependencies);
    pulumi.runtime.setAllConfig(config, secretKeys);
    const program = (await import("../index")) as Record<string, unknown>;
    const outputs: Record<string, unknown> = {};
    for (const key of Object.keys(program)
        .filter((k) => k !== "default")
        .sort()) {
        // An export that is undefined (an optional resource the stack does not have) is no stack output, as with the engine.
        if (program[key] === undefined) continue;
        outputs[key] = stable(await resolveAssets(await unwrap(program[key])));
    }
    // Registrations still in flight (children created inside applies) finish before we read the record.
    await pulumi.runtime.disconnect();
    const resources = (
        await Promise.all(
            recorded.map(async (r) => ({
                type: r.type,
                name: r.name,
                inputs: stable(await resolveAssets(redactSecrets(r.inputs))) as Record<string, unknown>,
                computed: stable(r.computed) as Record<string, unknown>,
                options: options.get(`${r.type}\0${r.name}`) ?? {},
                dependencies: dependencies.get(`${r.type}\0${r.name}`) ?? { all: [], inputs: {} },
            })),
        )
    ).sort(byTypeAndName);
    const calls = recordedCalls
        .map((c) => ({ token: c.token, inputs: stable(redactSecrets(c.inputs)) as Record<string, unknown> }))
        .sort((a, b) => (a.token + JSON.stringify(a.inputs) < b.token + JSON.stringify(b.inputs) ? -1 : 1));
    const instance = resources.find((r) => r.type === "aws:ec2/instance:Instance");
    const text = instance?.inputs["userData"];
    const base64 = instance?.inputs["userDataBase64"];
    if ((typeof text === "string") === (typeof base64 === "string"))
        throw new Error("offline plan: the program registered no instance with exactly one of userData and userDataBase64");
    const userData =
        typeof text === "string"
            ? { userData: text, userDataEncoding: "text" as const }
            : { userData: String(base64), userDataEncoding: "base64" as const };
    return {
        project: PROJECT,
        stack: opts.stack,
        preview,
        resources,
        calls,
        outputs,
        ...userData,
        units: unitsOf({ ...userData, resources }),
    };
}
