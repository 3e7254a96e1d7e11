// Stack config → one typed, validated object. The only place config keys are read.
//
// Pure: it takes the raw key → string map that Pulumi hands the program (objects arrive as JSON
// text) and returns a typed object, or every problem at once. `index.ts` passes it
// `pulumi.runtime.allConfig()`; tests and the offline plan pass the same map.
import { USER_DATA_FORMATS, UserDataFormatName } from "./formats/types";
import { Exposure, ImageSource } from "./units/model";
import { Problem, ProblemCode, ValidationError } from "./units/problems";
import { ContainerOverride } from "./units/stack";
import { CONTAINER_ENV_NAME, unpinnedReason } from "./units/validate";
import { isPlainObject } from "./units/values";
import { CIDR, canonicalCidr, cidrProblem } from "./units/cidr";
import { DEFAULT_SECURITY_GROUP_RULE_LIMIT } from "./units/exposure";
import { SECRET_NAME } from "./units/secrets";

/** The project's name: Pulumi.yaml's `name` and the namespace of its config keys. */
export const PROJECT = "coreos-containers";

/** Flatcar release channels (`Flatcar-<channel>-*` AMIs). */
export const FLATCAR_CHANNELS = ["stable", "beta", "alpha", "lts"] as const;
export type FlatcarChannel = (typeof FLATCAR_CHANNELS)[number];

export interface StackConfig {
    /** AWS region (`aws:region`), e.g. `eu-west-1`. */
    readonly region: string;
    /** Folder of the user's host files, relative to the project, e.g. `hosts`. */
    readonly hostsDir: string;
    /** Per-container overrides, by container name. Unknown names are checked against the host's containers. */
    readonly containers: Readonly<Record<string, ContainerOverride>>;
    /** EC2 instance type, e.g. `t3.large`. Graviton types (`m7g.large`) get an arm64 AMI. */
    readonly instanceType: string;
    /** Root volume size in GiB, e.g. `30`. */
    readonly rootVolumeSizeGiB: number;
    /** Flatcar channel for the AMI lookup. */
    readonly flatcarChannel: FlatcarChannel;
    /** A pinned AMI id (`ami-0123456789abcdef0`) instead of the lookup. */
    readonly ami?: string;
    /** CIDRs allowed to reach SSH (port 22). None by default. */
    readonly sshCidrs: readonly string[];
    /** Public keys for the `core` user. */
    readonly sshAuthorizedKeys: readonly string[];
    /** An EC2 key pair name, e.g. `ops-2026`. */
    readonly keyName?: string;
    /** The subnet to launch into; the default VPC's default subnet otherwise. */
    readonly subnetId?: string;
    /** Folder with the artifact's files, relative to the project, e.g. `artifact`. */
    readonly artifactDir: string;
    /** Folder with `docker save`d image tarballs, relative to the project, e.g. `build/images`. */
    readonly imageDir: string;
    /** Days the bucket keeps artifacts that are no longer current (and readiness reports). */
    readonly artifactRetentionDays: number;
    /** Minutes a cutover waits for the new host's readiness report before `pulumi up` fails, e.g. `20`. */
    readonly readyTimeoutMinutes: number;
    /** Tags on every resource. */
    readonly tags: Readonly<Record<string, string>>;
    /** The user-data format: `cloud-config` (read by coreos-cloudinit on every boot) or `ignition` (a stub; the full config in S3). */
    readonly userDataFormat: UserDataFormatName;
    /** Secret name → value (`coreos-containers:secrets`, always a Pulumi secret); stored in SSM, fetched by the host at boot. */
    readonly secrets: Readonly<Record<string, string>>;
    /** A customer-managed KMS key for the secrets' parameters; the account's `aws/ssm` key otherwise. */
    readonly secretsKmsKeyArn?: string;
    /** Inbound rules the host's security group may hold (the account's quota), e.g. `60`. */
    readonly securityGroupRuleLimit: number;
    /**
     * The persistent data volume: unset follows the host (created when a container has a data mount);
     * `true` keeps it even without one (e.g. while containers move); `false` with a data mount is a problem.
     */
    readonly dataVolume?: boolean;
    /** The data volume's size in GiB, e.g. `20`. */
    readonly dataVolumeSizeGiB: number;
    /** The data volume's provisioned IOPS (gp3: 3000 to 16000, at most 500 per GiB above 3000), e.g. `3000`. */
    readonly dataVolumeIops: number;
    /** The data volume's throughput in MiB/s (gp3: 125 to 1000, at most 0.25 per IOPS), e.g. `125`. */
    readonly dataVolumeThroughputMiBps: number;
    /** A customer-managed KMS key for the data volume; the account's default EBS key otherwise. */
    readonly dataVolumeKmsKeyArn?: string;
    /** Create the data volume from this snapshot (a restore: README, "Restoring the data volume from a snapshot"), e.g. `snap-0123456789abcdef0`. */
    readonly dataVolumeSnapshotId?: string;
    /** The Availability Zone the host (and its data volume) live in, e.g. `eu-west-1a`; with `subnetId`, the subnet's. */
    readonly availabilityZone?: string;
    /** Scheduled snapshots of the data volume (AWS Data Lifecycle Manager). */
    readonly snapshots: boolean;
    /** Hours between snapshots: 1, 2, 3, 4, 6, 8, 12 or 24. */
    readonly snapshotIntervalHours: number;
    /** The first snapshot of the day, UTC `hh:mm`, e.g. `03:00`. */
    readonly snapshotTime: string;
    /** Snapshots kept; the oldest is deleted when a new one is taken, e.g. `14`. */
    readonly snapshotRetainCount: number;
}

type Reader<T> = (raw: string, key: string, problems: Problem[]) => T | undefined;

interface KeySpec {
    readonly description: string;
    readonly read: Reader<unknown>;
}

function problem(code: ProblemCode, key: string, message: string, fix: string): Problem {
    return { code, where: "config", field: key, message, fix };
}

function parseJson(raw: string, key: string, problems: Problem[], expected: string): unknown {
    try {
        return JSON.parse(raw);
    } catch {
        problems.push(
            problem(
                "CONFIG_NOT_JSON",
                key,
                `is not ${expected}: ${JSON.stringify(raw.slice(0, 60))}`,
                `set it as ${expected} in Pulumi.<stack>.yaml`,
            ),
        );
        return undefined;
    }
}

const str =
    (pattern?: RegExp, what?: string): Reader<string> =>
    (raw, key, problems) => {
        if (pattern && !pattern.test(raw)) {
            problems.push(problem("CONFIG_INVALID_VALUE", key, `${JSON.stringify(raw)} is not ${what}`, `set ${what}`));
            return undefined;
        }
        return raw;
    };

const int =
    (min: number, max: number): Reader<number> =>
    (raw, key, problems) => {
        const n = Number(raw);
        if (!/^\d+$/.test(raw.trim()) || !Number.isInteger(n) || n < min || n > max) {
            problems.push(
                problem(
                    "CONFIG_INVALID_VALUE",
                    key,
                    `${JSON.stringify(raw)} is not a whole number from ${min} to ${max}`,
                    `set a whole number from ${min} to ${max}`,
                ),
            );
            return undefined;
        }
        return n;
    };

const bool: Reader<boolean> = (raw, key, problems) => {
    if (raw === "true" || raw === "false") return raw === "true";
    problems.push(problem("CONFIG_INVALID_VALUE", key, `${JSON.stringify(raw)} is not true or false`, "set true or false"));
    return undefined;
};

const oneOf =
    (allowed: readonly number[]): Reader<number> =>
    (raw, key, problems) => {
        const n = Number(raw);
        if (/^\d+$/.test(raw.trim()) && allowed.includes(n)) return n;
        problems.push(
            problem(
                "CONFIG_INVALID_VALUE",
                key,
                `${JSON.stringify(raw)} is not one of ${allowed.join(", ")}`,
                `set one of ${allowed.join(", ")}`,
            ),
        );
        return undefined;
    };

const stringList =
    (item: RegExp, what: string): Reader<string[]> =>
    (raw, key, problems) => {
        const v = parseJson(raw, key, problems, "a list of strings");
        if (v === undefined) return undefined;
        if (!Array.isArray(v) || v.some((x) => typeof x !== "string")) {
            problems.push(problem("CONFIG_WRONG_TYPE", key, "is not a list of strings", "set a YAML list of strings"));
            return undefined;
        }
        const bad = v.map((x, i) => [x as string, i] as const).filter(([x]) => !item.test(x));
        for (const [x, i] of bad)
            problems.push(problem("CONFIG_INVALID_VALUE", `${key}[${i}]`, `${JSON.stringify(x)} is not ${what}`, `use ${what}`));
        return bad.length ? undefined : (v as string[]);
    };

const stringMap =
    (keyPattern: RegExp, what: string): Reader<Record<string, string>> =>
    (raw, key, problems) => {
        const v = parseJson(raw, key, problems, "a map of strings");
        return v === undefined ? undefined : readStringMap(v, key, keyPattern, what, problems);
    };

function readStringMap(v: unknown, key: string, keyPattern: RegExp, what: string, problems: Problem[]): Record<string, string> | undefined {
    if (!isPlainObject(v)) {
        problems.push(problem("CONFIG_WRONG_TYPE", key, "is not a map", "set a YAML map of strings"));
        return undefined;
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const [k, val] of Object.entries(v)) {
        if (!keyPattern.test(k)) {
            problems.push(problem("CONFIG_INVALID_VALUE", `${key}.${k}`, `${JSON.stringify(k)} is not ${what}`, `rename it to ${what}`));
            ok = false;
        } else if (typeof val !== "string") {
            problems.push(
                problem(
                    "CONFIG_WRONG_TYPE",
                    `${key}.${k}`,
                    `is a ${val === null ? "null" : typeof val}, not a string`,
                    `quote the value in YAML, e.g. "${String(val)}"`,
                ),
            );
            ok = false;
        } else {
            setOwn(out, k, val);
        }
    }
    return ok ? out : undefined;
}

/**
 * `out[k] = value` as an own property. A user's key may be `__proto__`, and assigning to it would set
 * the map's prototype instead: the entry would vanish without a word (the Object.prototype.__proto__ setter, ECMA-262 Annex B.2.2.1).
 */
function setOwn<T>(out: Record<string, T>, k: string, value: T): void {
    // Stryker disable next-line BooleanLiteral: nothing writes or deletes an entry once read; the flags only keep it an ordinary property
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
}

const TARBALL_FILE = /^[A-Za-z0-9._-]+\.tar$/;

function readImage(v: unknown, key: string, problems: Problem[]): ImageSource | undefined {
    if (typeof v === "string") {
        const unpinned = unpinnedReason(v);
        if (unpinned) {
            problems.push(problem("IMAGE_REF_UNPINNED", key, unpinned, 'use e.g. "nginx:1.27.2-alpine" (no :latest, no missing tag)'));
            return undefined;
        }
        return { kind: "registry", ref: v };
    }
    if (isPlainObject(v)) {
        const extra = Object.keys(v).filter((k) => k !== "tarball" && k !== "ref");
        for (const k of extra)
            problems.push(
                problem("CONFIG_UNKNOWN_KEY", `${key}.${k}`, "is not a known key", "an image is a string (registry) or { tarball, ref }"),
            );
        const { tarball, ref } = v;
        let ok = extra.length === 0;
        if (typeof tarball !== "string" || !TARBALL_FILE.test(tarball)) {
            problems.push(
                problem(
                    "CONFIG_INVALID_VALUE",
                    `${key}.tarball`,
                    `${JSON.stringify(tarball)} is not a tarball file name`,
                    'name the file in the image folder, e.g. "fluentd.tar"',
                ),
            );
            ok = false;
        }
        const unpinned = typeof ref === "string" ? unpinnedReason(ref) : `${JSON.stringify(ref)} is not an image reference`;
        if (unpinned) {
            problems.push(
                problem(
                    "IMAGE_REF_UNPINNED",
                    `${key}.ref`,
                    unpinned,
                    'give the tag the tarball carries, e.g. "coreos-containers/fluentd:1.17.1"',
                ),
            );
            ok = false;
        }
        return ok ? { kind: "tarball", file: tarball as string, ref: ref as string } : undefined;
    }
    problems.push(
        problem(
            "CONFIG_WRONG_TYPE",
            key,
            "is neither an image reference nor { tarball, ref }",
            'use e.g. "nginx:1.27.2-alpine" or { tarball: nginx.tar, ref: "coreos-containers/nginx:1.27.2" }',
        ),
    );
    return undefined;
}

const containers: Reader<Record<string, ContainerOverride>> = (raw, key, problems) => {
    const v = parseJson(raw, key, problems, "a map of container names");
    if (v === undefined) return undefined;
    if (!isPlainObject(v)) {
        problems.push(problem("CONFIG_WRONG_TYPE", key, "is not a map of container names", "set a YAML map: <container>: { image, env }"));
        return undefined;
    }
    const out: Record<string, ContainerOverride> = {};
    for (const [name, entry] of Object.entries(v)) {
        const at = `${key}.${name}`;
        if (!isPlainObject(entry)) {
            problems.push(problem("CONFIG_WRONG_TYPE", at, "is not a map", "set { image: ..., env: { ... } }"));
            continue;
        }
        for (const k of Object.keys(entry).filter((k) => k !== "image" && k !== "env" && k !== "expose")) {
            problems.push(
                problem(
                    "CONFIG_UNKNOWN_KEY",
                    `${at}.${k}`,
                    "is not a known key",
                    "a container override has only `image`, `env` and `expose`",
                ),
            );
        }
        const image = entry["image"] === undefined ? undefined : readImage(entry["image"], `${at}.image`, problems);
        const env =
            entry["env"] === undefined
                ? undefined
                : readStringMap(
                      entry["env"],
                      `${at}.env`,
                      CONTAINER_ENV_NAME,
                      "an environment variable name (letters, digits, _ and ., not starting with a digit)",
                      problems,
                  );
        const expose = entry["expose"] === undefined ? undefined : readExposeMap(entry["expose"], `${at}.expose`, problems);
        setOwn(out, name, { ...(image ? { image } : {}), ...(env ? { env } : {}), ...(expose ? { expose } : {}) });
    }
    return out;
};

/** `"<port>"` (every protocol the container publishes on that host port) or `"<port>/<protocol>"`. */
export const EXPOSE_PORT_KEY = /^([1-9]\d{0,4})(?:\/(tcp|udp))?$/;

/** Per-port exposure overrides: `{ "24224": ["10.0.0.0/16"], "80/tcp": "internet", "9100": "host" }`. */
function readExposeMap(v: unknown, key: string, problems: Problem[]): Record<string, Exposure> | undefined {
    if (!isPlainObject(v)) {
        problems.push(
            problem("CONFIG_WRONG_TYPE", key, "is not a map of ports", 'set e.g. { "24224": ["10.0.0.0/16"], "80/tcp": internet }'),
        );
        return undefined;
    }
    const out: Record<string, Exposure> = {};
    let ok = true;
    for (const [port, value] of Object.entries(v)) {
        const at = `${key}.${port}`;
        if (!EXPOSE_PORT_KEY.test(port)) {
            problems.push(
                problem(
                    "CONFIG_INVALID_VALUE",
                    at,
                    `${JSON.stringify(port)} is not a host port`,
                    'name a published host port, e.g. "24224" or "24224/udp"',
                ),
            );
            ok = false;
            continue;
        }
        if (value === "internet" || value === "host") {
            out[port] = value;
            continue;
        }
        if (!Array.isArray(value) || value.some((c) => typeof c !== "string")) {
            problems.push(
                problem(
                    "CONFIG_WRONG_TYPE",
                    at,
                    "is neither internet, host nor a list of CIDRs",
                    'use internet, host, or a list such as ["10.0.0.0/16"]',
                ),
            );
            ok = false;
            continue;
        }
        const list = value as string[];
        list.forEach((cidr, i) => {
            const bad = cidrProblem(cidr);
            if (bad === "invalid")
                problems.push(
                    problem(
                        "CONFIG_INVALID_VALUE",
                        `${at}[${i}]`,
                        `${JSON.stringify(cidr)} is not an IPv4 CIDR`,
                        "use a CIDR like 10.0.0.0/16",
                    ),
                );
            else if (bad === "world")
                problems.push(
                    problem(
                        "CONFIG_CIDR_OPEN_TO_WORLD",
                        `${at}[${i}]`,
                        `${cidr} in a list opens the port to the whole internet`,
                        "write internet instead of a list, if that is meant",
                    ),
                );
            else if (bad === "host-bits")
                problems.push(
                    problem(
                        "CONFIG_CIDR_HOST_BITS",
                        `${at}[${i}]`,
                        `${cidr} has host bits set; EC2 refuses it`,
                        `use ${canonicalCidr(cidr)}`,
                    ),
                );
            if (bad) ok = false;
        });
        out[port] = list;
    }
    return ok ? out : undefined;
}

/**
 * Secret name → value. Nothing here ever quotes a value (or the raw text that holds them): a problem
 * names the key and the secret only.
 */
const secrets: Reader<Record<string, string>> = (raw, key, problems) => {
    let v: unknown;
    try {
        v = JSON.parse(raw);
    } catch {
        v = undefined;
    }
    if (!isPlainObject(v)) {
        problems.push(
            problem(
                "CONFIG_WRONG_TYPE",
                key,
                "is not a map of secret names to values",
                `set each with pulumi config set --secret --path '${key}.<name>'`,
            ),
        );
        return undefined;
    }
    const out: Record<string, string> = {};
    let ok = true;
    for (const [name, value] of Object.entries(v)) {
        if (!SECRET_NAME.test(name)) {
            problems.push(
                problem(
                    "CONFIG_INVALID_VALUE",
                    `${key}.${name}`,
                    `${JSON.stringify(name)} is not a secret name (letters, digits, _ and -, starting and ending with a letter or digit, at most 64)`,
                    "rename it, e.g. grafana-admin",
                ),
            );
            ok = false;
        } else if (typeof value !== "string") {
            problems.push(
                problem(
                    "CONFIG_WRONG_TYPE",
                    `${key}.${name}`,
                    `is a ${value === null ? "null" : Array.isArray(value) ? "list" : typeof value}, not a string`,
                    `set it as one value: pulumi config set --secret --path '${key}.${name}'`,
                ),
            );
            ok = false;
        } else {
            out[name] = value;
        }
    }
    return ok ? out : undefined;
};

export { canonicalCidr };

const sshCidrs: Reader<string[]> = (raw, key, problems) => {
    const list = stringList(CIDR, "an IPv4 CIDR like 203.0.113.0/24")(raw, key, problems);
    if (list === undefined) return undefined;
    let ok = true;
    list.forEach((cidr, i) => {
        const canonical = canonicalCidr(cidr);
        if (cidr.endsWith("/0")) {
            problems.push(
                problem(
                    "CONFIG_CIDR_OPEN_TO_WORLD",
                    `${key}[${i}]`,
                    `${cidr} opens SSH to the whole internet`,
                    "list your office or VPN range, e.g. 203.0.113.0/24",
                ),
            );
            ok = false;
        } else if (canonical !== cidr) {
            problems.push(
                problem("CONFIG_CIDR_HOST_BITS", `${key}[${i}]`, `${cidr} has host bits set; EC2 refuses it`, `use ${canonical}`),
            );
            ok = false;
        }
    });
    return ok ? list : undefined;
};

const tags: Reader<Record<string, string>> = (raw, key, problems) => {
    const map = stringMap(/^(?!aws:)[\w .:/=+\-@]{1,128}$/, "a valid AWS tag key (1-128 characters, not starting with aws:)")(
        raw,
        key,
        problems,
    );
    if (map === undefined) return undefined;
    const long = Object.entries(map).filter(([, v]) => v.length > 256);
    for (const [k, v] of long)
        problems.push(problem("CONFIG_INVALID_VALUE", `${key}.${k}`, `is ${v.length} characters; AWS allows 256`, "shorten the value"));
    return long.length ? undefined : map;
};

// Folders are relative to the project so that stack files work on every clone (a laptop's absolute
// path means nothing in CI). Inputs a test or a script makes up belong under `.cache/` (ignored by git).
const RELATIVE_DIR = /^(?!\/)(?!.*(?:^|\/)\.\.(?:\/|$))[A-Za-z0-9._\-/]+$/;

/** The project's keys: `coreos-containers:<key>`. Anything else under the namespace is an error. */
export const CONFIG_KEYS: Readonly<Record<string, KeySpec>> = {
    hostsDir: {
        description: "folder of the user's host files, relative to the project",
        read: str(RELATIVE_DIR, "a folder path relative to the project, inside it (e.g. hosts)"),
    },
    containers: { description: "per-container image and env overrides: <name>: { image, env }", read: containers },
    instanceType: {
        description: "EC2 instance type, e.g. t3.large",
        read: str(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, "an instance type like t3.large"),
    },
    rootVolumeSizeGiB: { description: "root volume size in GiB, e.g. 30", read: int(8, 16384) },
    flatcarChannel: {
        description: "Flatcar channel: stable, beta, alpha or lts",
        read: str(new RegExp(`^(${FLATCAR_CHANNELS.join("|")})$`), `one of ${FLATCAR_CHANNELS.join(", ")}`),
    },
    ami: {
        description: "pin an AMI id instead of the lookup, e.g. ami-0123456789abcdef0",
        read: str(/^ami-[0-9a-f]{8,17}$/, "an AMI id like ami-0123456789abcdef0"),
    },
    sshCidrs: { description: "CIDRs allowed to SSH in, e.g. [203.0.113.0/24]; none by default", read: sshCidrs },
    sshAuthorizedKeys: {
        description: "public keys for the core user",
        read: stringList(/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp\d+|sk-\S+) [A-Za-z0-9+/=]+( .*)?$/, "an OpenSSH public key line"),
    },
    keyName: { description: "EC2 key pair name", read: str(/^.{1,255}$/, "a key pair name") },
    subnetId: {
        description: "subnet id, e.g. subnet-0123456789abcdef0",
        read: str(/^subnet-[0-9a-f]{8,17}$/, "a subnet id like subnet-0123456789abcdef0"),
    },
    artifactDir: {
        description: "folder of artifact files, relative to the project",
        read: str(RELATIVE_DIR, "a folder path relative to the project, inside it (e.g. artifact)"),
    },
    imageDir: {
        description: "folder of docker-saved image tarballs, relative to the project",
        read: str(RELATIVE_DIR, "a folder path relative to the project, inside it (e.g. build/images)"),
    },
    artifactRetentionDays: { description: "days the bucket keeps non-current artifacts", read: int(1, 3650) },
    readyTimeoutMinutes: { description: "minutes a cutover waits for the new host's readiness report", read: int(1, 720) },
    tags: { description: "tags on every resource", read: tags },
    userDataFormat: {
        description: "user-data format: cloud-config (default) or ignition (a stub; the full config is fetched from the artifact bucket)",
        read: str(new RegExp(`^(${USER_DATA_FORMATS.join("|")})$`), `one of ${USER_DATA_FORMATS.join(", ")}`),
    },
    secrets: {
        description: "secret values by name, each set with pulumi config set --secret --path 'coreos-containers:secrets.<name>'",
        read: secrets,
    },
    secretsKmsKeyArn: {
        description: "a customer-managed KMS key ARN for the secrets' parameters; default: the account's aws/ssm key",
        read: str(
            /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
            "a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<id>",
        ),
    },
    securityGroupRuleLimit: {
        description: "inbound rules the security group may hold: the account's quota (60 unless raised)",
        read: int(1, 1000),
    },
    dataVolume: {
        description:
            "the persistent data volume: unset follows the host (made when a container has a data mount); true keeps it regardless",
        read: bool,
    },
    // gp3's ranges (EC2 API Reference, CreateVolume: Iops "gp3: 3,000 - 16,000 IOPS", Throughput 125 to 1000 MiB/s;
    // size 1 to 16,384 GiB); the ratios between them are checked in dataVolumeRatioProblems.
    dataVolumeSizeGiB: { description: "data volume size in GiB, e.g. 20", read: int(1, 16384) },
    dataVolumeIops: { description: "data volume IOPS, gp3: 3000 to 16000, at most 500 per GiB above 3000", read: int(3000, 16000) },
    dataVolumeThroughputMiBps: {
        description: "data volume throughput in MiB/s, gp3: 125 to 1000, at most 0.25 per IOPS",
        read: int(125, 1000),
    },
    dataVolumeKmsKeyArn: {
        description: "a customer-managed KMS key ARN for the data volume; default: the account's default EBS key",
        read: str(
            /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/,
            "a KMS key ARN like arn:aws:kms:eu-west-1:123456789012:key/<id>",
        ),
    },
    dataVolumeSnapshotId: {
        description: "create the data volume from this snapshot (a restore), e.g. snap-0123456789abcdef0",
        read: str(/^snap-[0-9a-f]{8,17}$/, "a snapshot id like snap-0123456789abcdef0"),
    },
    availabilityZone: {
        description: "the Availability Zone of the host and its data volume, e.g. eu-west-1a (with subnetId: the subnet's)",
        read: str(/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/, "an Availability Zone like eu-west-1a"),
    },
    snapshots: { description: "scheduled snapshots of the data volume (Data Lifecycle Manager)", read: bool },
    // DLM's CreateRule: Interval is one of 1, 2, 3, 4, 6, 8, 12 or 24 hours; Times one "hh:mm" in UTC (DLM API Reference, CreateRule).
    snapshotIntervalHours: { description: "hours between snapshots: 1, 2, 3, 4, 6, 8, 12 or 24", read: oneOf([1, 2, 3, 4, 6, 8, 12, 24]) },
    snapshotTime: {
        description: "the first snapshot of the day, UTC hh:mm, e.g. 03:00",
        read: str(/^([01]\d|2[0-3]):[0-5]\d$/, "a UTC time hh:mm like 03:00"),
    },
    // DLM's RetainRule: Count 1 to 1000.
    snapshotRetainCount: { description: "snapshots kept, 1 to 1000; the oldest goes when a new one is taken", read: int(1, 1000) },
};

export const DEFAULTS = {
    hostsDir: "hosts",
    containers: {},
    instanceType: "t3.large",
    rootVolumeSizeGiB: 30,
    flatcarChannel: "stable",
    sshCidrs: [],
    sshAuthorizedKeys: [],
    artifactDir: "artifact",
    imageDir: "build/images",
    artifactRetentionDays: 30,
    // A first pull of every image plus the health checks' start periods, with room to spare.
    readyTimeoutMinutes: 20,
    tags: {},
    userDataFormat: "cloud-config",
    secrets: {},
    securityGroupRuleLimit: DEFAULT_SECURITY_GROUP_RULE_LIMIT,
    dataVolumeSizeGiB: 20,
    // gp3's baseline, included in its price: more costs extra.
    dataVolumeIops: 3000,
    dataVolumeThroughputMiBps: 125,
    // Off by default (dev); Pulumi.prod.yaml turns them on.
    snapshots: false,
    snapshotIntervalHours: 24,
    snapshotTime: "03:00",
    snapshotRetainCount: 14,
} as const;

/** Keys whose values must never reach the user-data; a secret there would be written in plaintext. */
const NO_SECRETS = ["containers", "sshAuthorizedKeys"];

export interface CheckedConfig {
    /** The typed config; a key with a problem keeps its default, so later checks can still run. */
    readonly config: StackConfig;
    readonly problems: readonly Problem[];
}

/**
 * Read the raw config map (`project:key` → string, as Pulumi hands it to the program). Every bad
 * key is a problem; none is thrown, so the caller can add the host's problems and report them all.
 */
// Stryker disable next-line ArrayDeclaration: a default list naming a key no stack has changes nothing
export function checkStackConfig(raw: Readonly<Record<string, string>>, secretKeys: readonly string[] = []): CheckedConfig {
    const problems: Problem[] = [];
    const values: Record<string, unknown> = {};
    for (const [fullKey, value] of Object.entries(raw).sort(([a], [b]) => (a < b ? -1 : 1))) {
        const [ns, key] = splitKey(fullKey);
        if (ns !== PROJECT) continue;
        // An own property only: a key named like an Object.prototype member (toString, __proto__) is unknown too.
        const spec = Object.hasOwn(CONFIG_KEYS, key) ? CONFIG_KEYS[key] : undefined;
        if (!spec) {
            problems.push(
                problem(
                    "CONFIG_UNKNOWN_KEY",
                    fullKey,
                    "is not a key of this project",
                    `remove it, or use one of: ${Object.keys(CONFIG_KEYS).join(", ")}`,
                ),
            );
            continue;
        }
        if (NO_SECRETS.includes(key) && secretKeys.includes(fullKey)) {
            problems.push(
                problem(
                    "CONFIG_SECRET_NOT_ALLOWED",
                    fullKey,
                    "is a secret, but its values are written into the instance's user-data in plaintext",
                    `set it without --secret; a secret value goes in ${PROJECT}:secrets and reaches the container through secretEnv or secretFiles`,
                ),
            );
            continue;
        }
        if (key === "secrets" && !secretKeys.includes(fullKey)) {
            problems.push(
                problem(
                    "CONFIG_SECRETS_NOT_SECRET",
                    fullKey,
                    "is not a secret: its values sit in plaintext in the stack file (and in git)",
                    `set each value with pulumi config set --secret --path '${fullKey}.<name>', then remove the plaintext from the file and from git history`,
                ),
            );
            continue;
        }
        const parsed = spec.read(value, fullKey, problems);
        if (parsed !== undefined) values[key] = parsed;
    }
    const region = raw["aws:region"];
    if (!region || !/^[a-z]{2}(-[a-z]+)+-\d$/.test(region)) {
        problems.push({
            code: region ? "CONFIG_INVALID_VALUE" : "CONFIG_REGION_MISSING",
            where: "config",
            field: "aws:region",
            message: region ? `${JSON.stringify(region)} is not an AWS region` : "is not set",
            fix: "pulumi config set aws:region eu-west-1",
        });
    }
    const config = { ...DEFAULTS, ...values, region: region ?? "" } as StackConfig;
    problems.push(...dataVolumeRatioProblems(config));
    if (config.availabilityZone && config.region && !config.availabilityZone.startsWith(config.region))
        problems.push(
            problem(
                "CONFIG_AVAILABILITY_ZONE_NOT_IN_REGION",
                `${PROJECT}:availabilityZone`,
                `${config.availabilityZone} is not an Availability Zone of ${config.region}`,
                `name one of ${config.region}, e.g. ${config.region}a, or change aws:region`,
            ),
        );
    return { config, problems };
}

/**
 * gp3's ratios (EBS User Guide, "General Purpose SSD volumes", gp3: "The maximum ratio of provisioned IOPS to
 * provisioned volume size is 500 IOPS per GiB. The maximum ratio of provisioned throughput to provisioned IOPS
 * is .25 MiB/s per IOPS"); the 3000 IOPS baseline comes with any size. EC2 would refuse the volume at `up`.
 */
function dataVolumeRatioProblems(c: StackConfig): Problem[] {
    const problems: Problem[] = [];
    const maxIops = Math.max(3000, Math.min(16000, c.dataVolumeSizeGiB * 500));
    if (c.dataVolumeIops > maxIops)
        problems.push(
            problem(
                "CONFIG_DATA_VOLUME_IOPS_TOO_HIGH",
                `${PROJECT}:dataVolumeIops`,
                `${c.dataVolumeIops} IOPS is more than gp3 allows for ${c.dataVolumeSizeGiB} GiB (500 per GiB: at most ${maxIops})`,
                `set dataVolumeIops to at most ${maxIops}, or dataVolumeSizeGiB to at least ${Math.ceil(c.dataVolumeIops / 500)}`,
            ),
        );
    const maxThroughput = Math.floor(c.dataVolumeIops / 4);
    if (c.dataVolumeThroughputMiBps > maxThroughput)
        problems.push(
            problem(
                "CONFIG_DATA_VOLUME_THROUGHPUT_TOO_HIGH",
                `${PROJECT}:dataVolumeThroughputMiBps`,
                `${c.dataVolumeThroughputMiBps} MiB/s is more than gp3 allows for ${c.dataVolumeIops} IOPS (0.25 MiB/s per IOPS: at most ${maxThroughput})`,
                `set dataVolumeThroughputMiBps to at most ${maxThroughput}, or dataVolumeIops to at least ${c.dataVolumeThroughputMiBps * 4}`,
            ),
        );
    return problems;
}

/**
 * Whether the stack gets a data volume, and the problems of that choice: `usesData` says whether a
 * container of the host has a data mount (units/dataVolume.ts usesDataVolume). The volume lives in one
 * Availability Zone and only attaches to instances there, so the host's zone must be fixed.
 */
export function dataVolumeDecision(config: StackConfig, usesData: boolean): { readonly wanted: boolean; readonly problems: Problem[] } {
    const problems: Problem[] = [];
    if (config.dataVolume === false && usesData)
        problems.push(
            problem(
                "CONFIG_DATA_VOLUME_DISABLED",
                `${PROJECT}:dataVolume`,
                "is false, but a container of the host has a data mount, which lives on the data volume",
                `remove the setting (the volume then follows the host), or set it to true; or remove the data mounts`,
            ),
        );
    const wanted = config.dataVolume ?? usesData;
    if (wanted && !config.subnetId && !config.availabilityZone)
        problems.push(
            problem(
                "CONFIG_AVAILABILITY_ZONE_MISSING",
                `${PROJECT}:availabilityZone`,
                "is not set, nor is subnetId: the data volume lives in one Availability Zone, and a new host must be launched there to attach it",
                `pulumi config set ${PROJECT}:availabilityZone ${config.region || "eu-west-1"}a (or set ${PROJECT}:subnetId)`,
            ),
        );
    return { wanted, problems };
}

/** Overrides under `containers` that name no container of the host. */
export function unknownContainerProblems(
    overrides: Readonly<Record<string, ContainerOverride>>,
    containerNames: readonly string[],
): Problem[] {
    return Object.keys(overrides)
        .filter((n) => !containerNames.includes(n))
        .map((name) =>
            problem(
                "CONFIG_UNKNOWN_CONTAINER",
                `${PROJECT}:containers.${name}`,
                `there is no container named ${JSON.stringify(name)}`,
                `use one of: ${containerNames.join(", ")}`,
            ),
        );
}

/** Exposure overrides that name a host port the container does not publish. */
export function unknownPortProblems(
    overrides: Readonly<Record<string, ContainerOverride>>,
    containers: readonly { readonly name: string; readonly ports?: readonly { readonly host: number; readonly protocol?: string }[] }[],
): Problem[] {
    const problems: Problem[] = [];
    for (const [name, o] of Object.entries(overrides)) {
        const c = containers.find((x) => x.name === name);
        if (!c || !o.expose) continue;
        const published = (c.ports ?? []).map((p) => `${p.host}/${p.protocol ?? "tcp"}`);
        for (const port of Object.keys(o.expose)) {
            const m = EXPOSE_PORT_KEY.exec(port);
            const matches = published.filter((p) => (m?.[2] ? p === port : p.startsWith(`${m?.[1]}/`)));
            if (matches.length === 0)
                problems.push(
                    problem(
                        "CONFIG_UNKNOWN_PORT",
                        `${PROJECT}:containers.${name}.expose.${port}`,
                        `${name} publishes no host port ${port}`,
                        `name one it publishes: ${published.join(", ") || "(it publishes none)"}`,
                    ),
                );
        }
    }
    return problems;
}

/**
 * Parse the raw config map. Returns the typed config, or throws a ValidationError naming every bad
 * key. `containerNames`, when given, are the containers that `containers` overrides may name.
 */
export function parseStackConfig(
    raw: Readonly<Record<string, string>>,
    secretKeys: readonly string[] = [],
    containerNames?: readonly string[],
): StackConfig {
    const { config, problems } = checkStackConfig(raw, secretKeys);
    const all = [...problems, ...(containerNames ? unknownContainerProblems(config.containers, containerNames) : [])];
    if (all.length) throw new ValidationError(all, "the stack config");
    return config;
}

function splitKey(fullKey: string): [string, string] {
    const i = fullKey.indexOf(":");
    // Stryker disable next-line ConditionalExpression,EqualityOperator,StringLiteral: a key without a namespace (or an empty one) is not the project's either way, and is skipped
    return i < 0 ? ["", fullKey] : [fullKey.slice(0, i), fullKey.slice(i + 1)];
}
