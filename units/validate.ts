// Checks a host definition before anything is rendered. Every problem is collected, in a stable
// order: names, then each container in declaration order, then what spans containers (dependency
// cycles, host ports), then one-shot units, then files.
import { ContainerUnit, DataSource, HostDefinition, OneShotUnit, VolumeMount, WriteFile } from "./model";
import { VOLUME_ID } from "./dataVolume";
import { containerUnitName, imageUnitName, NETWORK_NAME, NETWORK_UNIT, PROVISION_UNIT, SECRETS_UNIT } from "./layout";
import { needsArtifact } from "./systemd";
import { canonicalCidr, cidrProblem } from "./cidr";
import { SECRET_NAME, usesSecrets } from "./secrets";
import { HEALTH_DEFAULTS } from "./health";
import { isPlainObject } from "./values";
import { SYSTEMD_ENV_NAME } from "./quote";
import { Problem, ProblemCode } from "./problems";

/** The file checks validation needs, passed in so validation stays free of I/O. */
export interface FileChecks {
    /** Does this artifact-relative path exist in the artifact's source folder? */
    artifactFileExists(relativePath: string): boolean;
    /** Does this image tarball exist in the stack's image folder? */
    imageFileExists(file: string): boolean;
}

type Add = (code: ProblemCode, where: string, field: string, message: string, fix: string) => void;

/** Docker's own rule for container names. */
export const DOCKER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
/**
 * This project's rule: a lower-case DNS label. The name is also the container's host name on the
 * Docker network (`http://elastic:9200`): DNS is case-insensitive, so `Elastic` and `elastic`
 * would be one name; `_` and `.` are not valid in a host name (URL parsers such as Java's reject
 * them); and a label is at most 63 characters. Such a name is always safe in `docker-<name>.service`.
 */
export const CONTAINER_NAME = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** Names passed with `docker run -e`: Elasticsearch reads dotted names such as `discovery.type`. */
export const CONTAINER_ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.]*$/;
/** A full systemd unit name: allowed characters, and a known type suffix. */
const UNIT_NAME = /^[A-Za-z0-9:_.\\-]+@?[A-Za-z0-9:_.\\-]*\.(service|socket|device|mount|automount|swap|target|path|timer|slice|scope)$/;
const UNIT_SUFFIXES = ["service", "socket", "device", "mount", "automount", "swap", "target", "path", "timer", "slice", "scope"];
const RESTART_POLICIES = ["always", "on-failure", "no"];
/** `user:group`, each a name or a numeric id. */
const OWNER = /^(?:[a-z_][a-z0-9_-]*\$?|[0-9]+):(?:[a-z_][a-z0-9_-]*|[0-9]+)$/;
/** Host ports something on Flatcar already listens on: `docker run -p` would fail to bind. */
const RESERVED_HOST_PORTS: Readonly<Record<number, string>> = { 22: "sshd (sshd.socket)" };

/** `docker run` flags the renderer sets itself, and why a definition must not pass them. */
const MANAGED_FLAGS: readonly { readonly flags: readonly string[]; readonly why: string }[] = [
    { flags: ["--name"], why: "the unit names the container after its `name` and removes a stale one by that name before it starts" },
    { flags: ["--rm"], why: "the unit always passes --rm, so a stopped container leaves nothing behind" },
    {
        flags: ["-d", "--detach"],
        why: "systemd supervises the foreground `docker run`; detached, the unit's process exits at once and systemd restarts it in a loop",
    },
    {
        flags: ["--network", "--net"],
        why: `every container joins the project's network ${NETWORK_NAME}, where the others reach it by name`,
    },
    {
        flags: [
            "--health-cmd",
            "--health-interval",
            "--health-timeout",
            "--health-retries",
            "--health-start-period",
            "--health-start-interval",
        ],
        why: "set healthCheck instead: the unit then also waits for Docker to report the container healthy before its dependents start",
    },
    {
        flags: ["--restart"],
        why: "systemd restarts the unit (Restart=, RestartSec=); a Docker restart policy would fight it, and Docker refuses it with --rm",
    },
];

/** Where a container's problems are reported: its name, or its index when the name is unusable. */
function containerWhere(c: ContainerUnit, i: number): string {
    return typeof c.name === "string" && c.name !== "" ? c.name : `containers[${i}]`;
}

function isPositiveInteger(n: unknown): boolean {
    return typeof n === "number" && Number.isInteger(n) && n > 0;
}

function isPort(n: unknown): n is number {
    return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/** `/a/b`: absolute, no empty, `.` or `..` segments, no trailing slash. `/` itself is fine. */
export function isNormalizedAbsolute(p: string): boolean {
    if (p === "/") return true;
    if (!p.startsWith("/")) return false;
    return p
        .slice(1)
        .split("/")
        .every((s) => s !== "" && s !== "." && s !== "..");
}

/** `a/b`: relative, no empty, `.` or `..` segments. */
export function isNormalizedRelative(p: string): boolean {
    return p !== "" && !p.startsWith("/") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}

const quoted = (s: unknown) => JSON.stringify(s);

// ---------------------------------------------------------------------------------------------
// Image references (the grammar of github.com/distribution/reference).

export interface ImageReference {
    readonly domain?: string;
    readonly path: string;
    readonly tag?: string;
    readonly digest?: string;
}

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const DOMAIN = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9A-Fa-f:]+\\])(?::[0-9]+)?$`);
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

/** Parse `[domain[:port]/]path[:tag][@digest]`; a string explains what is wrong. */
export function parseImageReference(ref: string): ImageReference | string {
    if (typeof ref !== "string" || ref === "") return "it is empty";
    let rest = ref;
    let digest: string | undefined;
    const at = rest.indexOf("@");
    if (at >= 0) {
        digest = rest.slice(at + 1);
        rest = rest.slice(0, at);
        if (!DIGEST.test(digest)) return `${quoted(digest)} is not a digest like sha256:<64 hex digits>`;
    }
    let tag: string | undefined;
    const colon = rest.lastIndexOf(":");
    // A colon before the last slash belongs to the registry's port (`localhost:5000/x`), not a tag.
    if (colon > rest.lastIndexOf("/")) {
        tag = rest.slice(colon + 1);
        rest = rest.slice(0, colon);
        if (!TAG.test(tag)) return `${quoted(tag)} is not a valid tag`;
    }
    const parts = rest.split("/");
    let domain: string | undefined;
    const first = parts[0]!;
    if (parts.length > 1 && (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase())) {
        domain = parts.shift();
        if (!DOMAIN.test(domain!)) return `${quoted(domain)} is not a registry host`;
    }
    if (parts.some((p) => !PATH_COMPONENT.test(p))) {
        return "the repository must be lower-case letters, digits and separators (. _ __ -) between slashes";
    }
    const path = parts.join("/");
    if ((domain ? domain.length + 1 : 0) + path.length > 255) return "the name is longer than 255 characters";
    return { ...(domain ? { domain } : {}), path, ...(tag !== undefined ? { tag } : {}), ...(digest ? { digest } : {}) };
}

/** Why a reference is not pinned to one image, or undefined when it is. */
export function unpinnedReason(ref: string): string | undefined {
    const parsed = parseImageReference(ref);
    if (typeof parsed === "string") return `${quoted(ref)} is not a valid image reference: ${parsed}`;
    if (parsed.digest) return undefined;
    if (parsed.tag === undefined) return `${quoted(ref)} has no tag, so Docker takes :latest, which moves whenever upstream pushes`;
    if (parsed.tag === "latest") return `${quoted(ref)} uses the :latest tag, which moves whenever upstream pushes`;
    return undefined;
}

// ---------------------------------------------------------------------------------------------

function checkNames(host: HostDefinition, add: Add): void {
    const firstContainer = new Map<string, number>();
    host.containers.forEach((c, i) => {
        const where = containerWhere(c, i);
        if (typeof c.name !== "string" || !DOCKER_NAME.test(c.name)) {
            add(
                "CONTAINER_NAME_INVALID",
                where,
                "name",
                `${quoted(c.name)} is not a valid Docker container name (letters, digits, _ . -, starting with a letter or digit)`,
                'use a lower-case name such as "log-shipper"',
            );
        } else if (!CONTAINER_NAME.test(c.name)) {
            add(
                "CONTAINER_NAME_NOT_DNS_LABEL",
                where,
                "name",
                `${quoted(c.name)} is a valid Docker name but not a lower-case DNS label: other containers reach it by this name, DNS ignores case, and host names may not contain _ or .`,
                `use lower-case letters, digits and -, at most 63 characters, e.g. ${quoted(
                    c.name
                        .toLowerCase()
                        .replace(/[^a-z0-9-]+/g, "-")
                        .replace(/^-+|-+$/g, "")
                        .slice(0, 63) || "app",
                )}`,
            );
        }
        const seen = firstContainer.get(c.name);
        if (seen !== undefined) {
            add(
                "CONTAINER_NAME_DUPLICATE",
                where,
                "name",
                `containers[${seen}] and containers[${i}] are both named ${quoted(c.name)}`,
                "give every container its own name",
            );
        } else {
            firstContainer.set(c.name, i);
        }
    });
    const firstOneShot = new Map<string, number>();
    host.oneshots.forEach((u, i) => {
        const seen = firstOneShot.get(u.name);
        if (seen !== undefined) {
            add(
                "UNIT_NAME_DUPLICATE",
                u.name || `oneshots[${i}]`,
                "name",
                `oneshots[${seen}] and oneshots[${i}] are both named ${quoted(u.name)}`,
                "give every one-shot unit its own name",
            );
        } else {
            firstOneShot.set(u.name, i);
        }
    });
    host.containers.forEach((c, i) => {
        for (const unit of [containerUnitName(c.name), imageUnitName(c.name)]) {
            if (firstOneShot.has(unit)) {
                add(
                    "UNIT_NAME_CLASH",
                    containerWhere(c, i),
                    "name",
                    `its unit ${unit} has the same name as one-shot unit oneshots[${firstOneShot.get(unit)}]`,
                    "rename the container or the one-shot unit; one unit file would overwrite the other",
                );
            }
        }
    });
}

function checkImage(c: ContainerUnit, where: string, files: FileChecks, add: Add): void {
    const image = c.image;
    switch (image?.kind) {
        case "registry": {
            const why = unpinnedReason(image.ref);
            if (why)
                add(
                    "IMAGE_REF_UNPINNED",
                    where,
                    "image.ref",
                    why,
                    'pin a version tag or a digest, e.g. "nginx:1.27.2-alpine" or "nginx@sha256:<digest>"',
                );
            return;
        }
        case "tarball": {
            if (typeof image.file !== "string" || !isNormalizedRelative(image.file)) {
                add(
                    "IMAGE_FILE_INVALID",
                    where,
                    "image.file",
                    `${quoted(image.file)} is not a relative path inside the image folder`,
                    'name the tarball relative to the image folder, e.g. "fluentd.tar" (no leading /, no ..)',
                );
            } else if (!files.imageFileExists(image.file)) {
                add(
                    "IMAGE_FILE_MISSING",
                    where,
                    "image.file",
                    `${quoted(image.file)} does not exist in the image folder`,
                    "build it (docker build + docker save) into the stack's imageDir, or fix the file name",
                );
            }
            const why = unpinnedReason(image.ref);
            if (why)
                add(
                    "IMAGE_REF_UNPINNED",
                    where,
                    "image.ref",
                    why,
                    'set ref to the pinned tag the tarball carries (docker save of a tagged image), e.g. "coreos-containers/fluentd:1.17.1"',
                );
            return;
        }
        default:
            add(
                "IMAGE_KIND_UNKNOWN",
                where,
                "image",
                `${quoted(image)} is neither a registry image nor a tarball`,
                'set { kind: "registry", ref } or { kind: "tarball", file, ref }',
            );
    }
}

function checkPorts(c: ContainerUnit, where: string, add: Add): void {
    (c.ports ?? []).forEach((p, j) => {
        for (const side of ["host", "container"] as const) {
            if (!isPort(p[side])) {
                add(
                    "PORT_INVALID",
                    where,
                    `ports[${j}].${side}`,
                    `${quoted(p[side])} is not a port (a whole number from 1 to 65535)`,
                    "use a whole number from 1 to 65535",
                );
            }
        }
        if (p.protocol !== undefined && p.protocol !== "tcp" && p.protocol !== "udp") {
            add(
                "PORT_PROTOCOL_INVALID",
                where,
                `ports[${j}].protocol`,
                `${quoted(p.protocol)} is not a protocol Docker publishes`,
                'use "tcp" or "udp" (or leave it out for tcp)',
            );
        }
        checkExposure(p.expose, `ports[${j}].expose`, where, add);
        const reserved = isPort(p.host) ? RESERVED_HOST_PORTS[p.host] : undefined;
        if (reserved) {
            add(
                "PORT_RESERVED",
                where,
                `ports[${j}].host`,
                `host port ${p.host} is already taken on Flatcar by ${reserved}`,
                "publish the container on another host port",
            );
        }
    });
}

/** `expose`: "internet", "host", or a list of IPv4 CIDRs a security group takes (no 0.0.0.0/0: say "internet"). */
function checkExposure(expose: unknown, field: string, where: string, add: Add): void {
    if (expose === undefined || expose === "internet" || expose === "host") return;
    if (!Array.isArray(expose)) {
        add(
            "EXPOSURE_INVALID",
            where,
            field,
            `${quoted(expose)} is not who may reach the port`,
            'use "internet", "host" (127.0.0.1 only), or a list of CIDRs such as ["10.0.0.0/16"]',
        );
        return;
    }
    expose.forEach((cidr: unknown, k) => {
        const at = `${field}[${k}]`;
        switch (cidrProblem(cidr)) {
            case "invalid":
                add(
                    "EXPOSURE_CIDR_INVALID",
                    where,
                    at,
                    `${quoted(cidr)} is not an IPv4 CIDR`,
                    "use a CIDR such as 10.0.0.0/16 or 203.0.113.7/32",
                );
                break;
            case "world":
                add(
                    "EXPOSURE_CIDR_OPEN_TO_WORLD",
                    where,
                    at,
                    `${quoted(cidr)} in a list of CIDRs opens the port to the whole internet`,
                    'say so with expose: "internet", or list the networks that need it',
                );
                break;
            case "host-bits":
                add(
                    "EXPOSURE_CIDR_HOST_BITS",
                    where,
                    at,
                    `${quoted(cidr)} has host bits set; EC2 refuses it`,
                    `use ${canonicalCidr(cidr as string)}`,
                );
                break;
        }
    });
}

function checkVolume(v: VolumeMount, field: string, where: string, files: FileChecks, add: Add): void {
    const source = v.source;
    if (source?.kind === "host") {
        if (typeof source.path !== "string" || !isNormalizedAbsolute(source.path)) {
            add(
                "VOLUME_PATH_INVALID",
                where,
                `${field}.source.path`,
                `${quoted(source.path)} is not an absolute, normalised host path`,
                'use an absolute path without ., .. or a trailing /, e.g. "/var/lib/coreos-containers/data/app"',
            );
        } else if (source.path.includes(":")) {
            add(
                "VOLUME_PATH_COLON",
                where,
                `${field}.source.path`,
                `${quoted(source.path)} contains ':', which docker's -v SOURCE:TARGET splits on`,
                "use a path without ':'",
            );
        }
    } else if (source?.kind === "artifact") {
        if (typeof source.path !== "string" || !isNormalizedRelative(source.path)) {
            add(
                "VOLUME_PATH_INVALID",
                where,
                `${field}.source.path`,
                `${quoted(source.path)} is not a relative path inside the artifact`,
                'give the path relative to the artifact\'s root, without a leading / or .., e.g. "log/fluent.conf"',
            );
        } else if (source.path.includes(":")) {
            add(
                "VOLUME_PATH_COLON",
                where,
                `${field}.source.path`,
                `${quoted(source.path)} contains ':', which docker's -v SOURCE:TARGET splits on`,
                "rename the file in the artifact",
            );
        } else if (!files.artifactFileExists(source.path)) {
            add(
                "ARTIFACT_FILE_MISSING",
                where,
                `${field}.source.path`,
                `${quoted(source.path)} does not exist in the artifact folder`,
                "add the file to the artifact folder, or fix the path",
            );
        }
    } else if (source?.kind === "data") {
        checkDataSource(source, `${field}.source`, where, add);
    } else {
        add(
            "VOLUME_SOURCE_KIND_UNKNOWN",
            where,
            `${field}.source`,
            `${quoted(source)} is neither a host path, an artifact path nor a data folder`,
            'set { kind: "host", path }, { kind: "artifact", path } or { kind: "data", path }',
        );
    }
    checkMountTarget(v.target, `${field}.target`, where, add);
}

/** A data folder: plain names only, so the path is the same word in the unit, docker's -v and the report. */
const DATA_PATH = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;

/** A uid or gid the kernel takes: 0 to 2^32-2 (2^32-1 is "no id", chown's -1). */
const isId = (v: unknown) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= 0xfffffffe;

function checkDataSource(source: DataSource, field: string, where: string, add: Add): void {
    if (typeof source.path !== "string" || !isNormalizedRelative(source.path) || !DATA_PATH.test(source.path)) {
        add(
            "DATA_PATH_INVALID",
            where,
            `${field}.path`,
            `${quoted(source.path)} is not a folder of the data disk: a relative path of letters, digits, ., _ and -, without .., empty parts or a leading /`,
            'name a folder relative to the data disk, e.g. "elastic" or "metrics/prometheus"',
        );
    }
    const owner = source.owner as unknown;
    if (owner !== undefined && (!isPlainObject(owner) || !isId(owner["uid"]) || !isId(owner["gid"]))) {
        add(
            "DATA_OWNER_INVALID",
            where,
            `${field}.owner`,
            `${quoted(owner)} is not a numeric owner`,
            "give the uid and gid the container's process runs as, e.g. { uid: 1000, gid: 0 } for Elasticsearch",
        );
    }
}

/**
 * The data disk: containers that mount its folders need it on the host, and no two containers share a
 * folder (or one inside the other's): each folder has one owner, set at each start, and one writer
 * (two Prometheus or Elasticsearch processes on one data folder corrupt it).
 */
function checkData(host: HostDefinition, add: Add): void {
    const folders: { path: string; where: string; field: string; container: string }[] = [];
    host.containers.forEach((c, i) =>
        (c.volumes ?? []).forEach((v, j) => {
            const src = v?.source;
            if (src?.kind === "data" && typeof src.path === "string" && DATA_PATH.test(src.path))
                folders.push({ path: src.path, where: containerWhere(c, i), field: `volumes[${j}].source.path`, container: c.name });
        }),
    );
    const users = [...new Set(folders.map((f) => f.where))];
    if (users.length > 0 && host.dataVolume === undefined) {
        add(
            "DATA_VOLUME_MISSING",
            users[0]!,
            "(data volume)",
            `${users.join(", ")} mount${users.length === 1 ? "s" : ""} a folder of the data disk, but the host has no data volume`,
            "give buildHost the data volume (HostInput.dataVolume; the program creates it when a container mounts data)",
        );
    }
    if (host.dataVolume !== undefined && !VOLUME_ID.test(String(host.dataVolume?.volumeId))) {
        add(
            "DATA_VOLUME_ID_INVALID",
            "host",
            "dataVolume.volumeId",
            `${quoted(host.dataVolume?.volumeId)} is not an EBS volume id`,
            'give the id EC2 returned, "vol-" and 17 hex digits, e.g. "vol-0123456789abcdef0"',
        );
    }
    const inside = (a: string, b: string) => a === b || a.startsWith(`${b}/`);
    folders.forEach((f, k) => {
        const other = folders.slice(0, k).find((g) => g.container !== f.container && (inside(f.path, g.path) || inside(g.path, f.path)));
        if (other) {
            add(
                "DATA_PATH_SHARED",
                f.where,
                f.field,
                `data folder ${quoted(f.path)} overlaps ${quoted(other.path)}, which ${other.where} mounts`,
                "give each container a folder of its own on the data disk",
            );
        }
    });
}

function checkVolumes(c: ContainerUnit, where: string, files: FileChecks, add: Add): void {
    const targets = new Map<string, string>();
    const mounts: [string, string][] = [
        ...(c.volumes ?? []).map((v, j): [string, string] => [`volumes[${j}]`, v.target]),
        ...(c.secretFiles ?? []).map((f, j): [string, string] => [`secretFiles[${j}]`, f.target]),
    ];
    (c.volumes ?? []).forEach((v, j) => checkVolume(v, `volumes[${j}]`, where, files, add));
    for (const [field, target] of mounts) {
        const seen = targets.get(target);
        if (seen !== undefined) {
            add(
                "VOLUME_TARGET_DUPLICATE",
                where,
                `${field}.target`,
                `${quoted(target)} is already mounted by ${seen}`,
                "mount each target once; Docker refuses duplicate mount points",
            );
        } else {
            targets.set(target, field);
        }
    }
}

/** A container path for a bind mount: absolute, normalised, not `/`, without `:`. */
function checkMountTarget(target: unknown, field: string, where: string, add: Add): void {
    if (typeof target !== "string" || !isNormalizedAbsolute(target) || target === "/") {
        add(
            "VOLUME_PATH_INVALID",
            where,
            field,
            `${quoted(target)} is not an absolute, normalised path inside the container (other than /)`,
            'use an absolute path such as "/etc/app/app.conf"',
        );
    } else if (target.includes(":")) {
        add(
            "VOLUME_PATH_COLON",
            where,
            field,
            `${quoted(target)} contains ':', which docker's -v SOURCE:TARGET splits on`,
            "use a path without ':'",
        );
    }
}

function checkSecretName(secret: unknown, field: string, where: string, add: Add): void {
    if (typeof secret !== "string" || !SECRET_NAME.test(secret))
        add(
            "SECRET_NAME_INVALID",
            where,
            field,
            `${quoted(secret)} is not a secret name (letters, digits, _ and -, starting and ending with a letter or digit, at most 64)`,
            'name the secret as the stack config does, e.g. "grafana-admin" for coreos-containers:secrets.grafana-admin',
        );
}

/** secretEnv and secretFiles: names, mount targets, encodings, owners. Their values are checked against the stack (units/secrets.ts). */
function checkSecrets(c: ContainerUnit, where: string, add: Add): void {
    for (const [name, secret] of Object.entries(c.secretEnv ?? {})) {
        const at = `secretEnv[${quoted(name)}]`;
        if (!CONTAINER_ENV_NAME.test(name))
            add(
                "ENV_NAME_INVALID",
                where,
                at,
                `${quoted(name)} is not a valid environment variable name`,
                "rename it: letters, digits, _ and ., not starting with a digit",
            );
        checkSecretName(secret, at, where, add);
        if (c.env !== undefined && Object.hasOwn(c.env, name))
            add(
                "SECRET_ENV_CLASH",
                where,
                at,
                `${quoted(name)} is set both in env and in secretEnv; Docker would pass one of them`,
                "keep it in secretEnv only (a secret never belongs in env, which is written into the user-data)",
            );
    }
    (c.secretFiles ?? []).forEach((f, j) => {
        const at = `secretFiles[${j}]`;
        checkSecretName(f.secret, `${at}.secret`, where, add);
        checkMountTarget(f.target, `${at}.target`, where, add);
        if (f.encoding !== undefined && f.encoding !== "utf8" && f.encoding !== "base64")
            add(
                "SECRET_FILE_ENCODING_INVALID",
                where,
                `${at}.encoding`,
                `${quoted(f.encoding)} is not an encoding the host can write`,
                'use "utf8" (the text as is, the default) or "base64" (the value is base64; the file gets the decoded bytes)',
            );
        for (const id of ["uid", "gid"] as const) {
            const v = f[id];
            if (v !== undefined && !(typeof v === "number" && Number.isInteger(v) && v >= 0 && v < 2 ** 32 - 1))
                add(
                    "SECRET_FILE_OWNER_INVALID",
                    where,
                    `${at}.${id}`,
                    `${quoted(v)} is not a numeric ${id === "uid" ? "user" : "group"} id`,
                    `give the ${id} the container's process runs as, e.g. 472 for Grafana, or leave it out for 0`,
                );
        }
    });
    if (c.awsAccess === true)
        add(
            "CONTAINER_AWS_ACCESS_UNSUPPORTED",
            where,
            "awsAccess",
            "containers cannot reach the instance metadata service (its hop limit is 1), and lending them the host's role would let them read every secret of the host and its artifact",
            "give the container its own credentials, scoped to what it needs, as secrets (secretEnv AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY of a dedicated IAM user), and remove awsAccess",
        );
}

function checkEnv(
    env: Readonly<Record<string, string>> | undefined,
    field: string,
    namePattern: RegExp,
    nameRule: string,
    where: string,
    add: Add,
): void {
    for (const [name, value] of Object.entries(env ?? {})) {
        const at = `${field}[${quoted(name)}]`;
        if (!namePattern.test(name))
            add("ENV_NAME_INVALID", where, at, `${quoted(name)} is not a valid environment variable name`, `rename it: ${nameRule}`);
        if (typeof value !== "string") {
            add(
                "VALUE_NOT_STRING",
                where,
                at,
                `the value is a ${value === null ? "null" : typeof value}, not a string`,
                "give the value as a string",
            );
        } else if (value.includes("\0")) {
            add(
                "VALUE_HAS_NUL",
                where,
                at,
                "the value contains a NUL character, which systemd cannot pass to a process",
                "remove the NUL character",
            );
        }
    }
}

function checkWords(words: readonly string[] | undefined, field: string, where: string, add: Add): void {
    (words ?? []).forEach((w, k) => {
        if (typeof w !== "string")
            add("VALUE_NOT_STRING", where, `${field}[${k}]`, `${quoted(w)} is not a string`, "give each argument as a string");
        else if (w.includes("\0"))
            add(
                "VALUE_HAS_NUL",
                where,
                `${field}[${k}]`,
                "the argument contains a NUL character, which systemd cannot pass to a process",
                "remove the NUL character",
            );
    });
}

function checkExtraArgs(c: ContainerUnit, where: string, add: Add): void {
    const args = c.extraArgs ?? [];
    checkWords(args, "extraArgs", where, add);
    args.forEach((word, k) => {
        if (typeof word !== "string") return;
        const flag = word.split("=", 1)[0]!;
        // A cluster of short flags such as -dit detaches too.
        const shortCluster = /^-[A-Za-z]+$/.test(word)
            ? word
                  .slice(1)
                  .split("")
                  .map((ch) => `-${ch}`)
            : [];
        for (const managed of MANAGED_FLAGS) {
            const hit = managed.flags.find((f) => f === flag || shortCluster.includes(f));
            if (hit) {
                add(
                    "EXTRA_ARG_MANAGED",
                    where,
                    `extraArgs[${k}]`,
                    `${quoted(word)} sets ${hit}, which the renderer manages: ${managed.why}`,
                    `remove ${quoted(word)} from extraArgs`,
                );
            }
        }
    });
}

const HEALTH_FIELDS = ["command", "intervalSec", "timeoutSec", "retries", "startPeriodSec", "startIntervalSec", "waitSec"];

function checkHealthCheck(c: ContainerUnit, where: string, add: Add): void {
    const h: unknown = c.healthCheck;
    if (h === undefined) return;
    if (!isPlainObject(h)) {
        add(
            "HEALTH_CHECK_INVALID",
            where,
            "healthCheck",
            `${quoted(h)} is not a health check`,
            'give { command: "…" } and, optionally, intervalSec, timeoutSec, retries, startPeriodSec, startIntervalSec, waitSec',
        );
        return;
    }
    for (const key of Object.keys(h).filter((k) => !HEALTH_FIELDS.includes(k))) {
        add(
            "HEALTH_CHECK_INVALID",
            where,
            `healthCheck.${key}`,
            `${quoted(key)} is not a field of a health check, so it would be ignored`,
            `use one of: ${HEALTH_FIELDS.join(", ")}`,
        );
    }
    const command = h["command"];
    if (typeof command !== "string" || command.trim() === "") {
        add(
            "HEALTH_COMMAND_INVALID",
            where,
            "healthCheck.command",
            `${quoted(command)} is not a shell command`,
            'give one shell command line that exits 0 when the container works, e.g. "wget -q -O /dev/null http://127.0.0.1:8080/healthz"',
        );
    } else if (command.trimStart().startsWith("[")) {
        add(
            "HEALTH_COMMAND_INVALID",
            where,
            "healthCheck.command",
            `${quoted(command)} looks like Docker's exec form (a JSON array), but docker run --health-cmd always runs its value with /bin/sh -c, where it fails`,
            'write it as one shell command line, e.g. "curl -fsS http://127.0.0.1:3000/api/health"',
        );
    } else if (command.includes("\0")) {
        add(
            "VALUE_HAS_NUL",
            where,
            "healthCheck.command",
            "the command contains a NUL character, which systemd cannot pass to a process",
            "remove the NUL character",
        );
    }
    const secondsField = (field: string, min: number): number | undefined => {
        const v = h[field];
        if (v === undefined) return undefined;
        if (typeof v === "number" && Number.isInteger(v) && v >= min) return v;
        add(
            "SECONDS_INVALID",
            where,
            `healthCheck.${field}`,
            `${quoted(v)} is not a whole number of seconds, ${min} or more`,
            `use a whole number of seconds, ${min} or more`,
        );
        return undefined;
    };
    for (const field of ["intervalSec", "timeoutSec", "startIntervalSec"]) secondsField(field, 1);
    const startPeriod = secondsField("startPeriodSec", 0);
    const wait = secondsField("waitSec", 1);
    const retries = h["retries"];
    if (retries !== undefined && !isPositiveInteger(retries)) {
        add(
            "HEALTH_RETRIES_INVALID",
            where,
            "healthCheck.retries",
            `${quoted(retries)} is not a positive whole number of failed checks`,
            "use a whole number, 1 or more (Docker takes 0 as its default, 3)",
        );
    }
    const period = startPeriod ?? (h["startPeriodSec"] === undefined ? HEALTH_DEFAULTS.startPeriodSec : undefined);
    if (wait !== undefined && period !== undefined && wait <= period) {
        add(
            "HEALTH_WAIT_TOO_SHORT",
            where,
            "healthCheck.waitSec",
            `the unit would give up after ${wait} s, within the start period of ${period} s in which Docker still expects failed checks, so a slow start would restart the container over and over`,
            `raise waitSec above ${period}, or leave it out: it then follows from the start period, retries, interval and timeout`,
        );
    }
}

function checkContainer(c: ContainerUnit, i: number, files: FileChecks, add: Add): void {
    const where = containerWhere(c, i);
    checkImage(c, where, files, add);
    checkPorts(c, where, add);
    checkVolumes(c, where, files, add);
    checkEnv(c.env, "env", CONTAINER_ENV_NAME, "letters, digits, _ and ., not starting with a digit", where, add);
    if (c.restart !== undefined && !RESTART_POLICIES.includes(c.restart)) {
        add(
            "RESTART_POLICY_INVALID",
            where,
            "restart",
            `${quoted(c.restart)} is not a restart policy`,
            `use one of: ${RESTART_POLICIES.join(", ")}`,
        );
    }
    for (const field of ["restartSec", "stopTimeoutSec"] as const) {
        const v = c[field];
        if (v !== undefined && !isPositiveInteger(v))
            add(
                "SECONDS_INVALID",
                where,
                field,
                `${quoted(v)} is not a positive whole number of seconds`,
                "use a whole number of seconds, 1 or more",
            );
    }
    checkExtraArgs(c, where, add);
    checkWords(c.command, "command", where, add);
    checkSecrets(c, where, add);
    checkHealthCheck(c, where, add);
}

// ---------------------------------------------------------------------------------------------
// Dependencies, compared by name: config overrides copy containers, so references are not the same objects.

function checkDependencies(host: HostDefinition, add: Add): void {
    const known = new Set(host.containers.map((c) => c.name));
    const edges = new Map<string, string[]>();
    host.containers.forEach((c, i) => {
        const where = containerWhere(c, i);
        const listed = new Set<string>();
        const deps: string[] = [];
        (c.dependsOn ?? []).forEach((dep, j) => {
            const name = dep?.name;
            const field = `dependsOn[${j}]`;
            if (name === c.name) {
                add("DEPENDENCY_SELF", where, field, "the container depends on itself", "remove it from its own dependsOn");
            } else if (!known.has(name)) {
                add(
                    "DEPENDENCY_UNKNOWN",
                    where,
                    field,
                    `depends on ${quoted(name)}, which is not a container of this host`,
                    `add ${quoted(name)} to the host's containers, or remove the dependency`,
                );
            } else if (listed.has(name)) {
                add("DEPENDENCY_DUPLICATE", where, field, `lists ${quoted(name)} more than once`, "list each dependency once");
            } else {
                deps.push(name);
            }
            listed.add(name);
        });
        if (!edges.has(c.name)) edges.set(c.name, deps);
    });
    const names = [...edges.keys()];
    const { cycles, truncated } = findCycles(names, edges);
    for (const cycle of cycles) {
        const i = host.containers.findIndex((c) => c.name === cycle[0]);
        add(
            "DEPENDENCY_CYCLE",
            containerWhere(host.containers[i]!, i),
            "dependsOn",
            `dependency cycle: ${cycle.join(" → ")}`,
            "remove one dependency of the cycle; systemd cannot start units that each wait for the other",
        );
    }
    if (truncated) {
        add(
            "DEPENDENCY_CYCLES_TRUNCATED",
            "containers",
            "dependsOn",
            `more than ${MAX_CYCLES} dependency cycles; only the first ${MAX_CYCLES} are listed`,
            "untangle the dependencies listed above first",
        );
    }
}

const MAX_CYCLES = 50;

/**
 * Every elementary cycle once, starting at its earliest-declared container and following
 * dependsOn, e.g. `["elastic", "fluentd", "elastic"]`. Exhaustive search: fine for a host's few
 * containers, capped so a pathological definition still returns.
 */
export function findCycles(
    names: readonly string[],
    edges: ReadonlyMap<string, readonly string[]>,
): { cycles: string[][]; truncated: boolean } {
    const index = new Map(names.map((n, i) => [n, i] as const));
    const cycles: string[][] = [];
    let truncated = false;
    names.forEach((start, s) => {
        const path = [start];
        const onPath = new Set([start]);
        const visit = (node: string): void => {
            for (const next of edges.get(node) ?? []) {
                const ni = index.get(next);
                if (ni === undefined || ni < s) continue;
                if (next === start) {
                    if (path.length > 1) {
                        if (cycles.length >= MAX_CYCLES) truncated = true;
                        else cycles.push([...path, start]);
                    }
                } else if (!onPath.has(next) && !truncated) {
                    path.push(next);
                    onPath.add(next);
                    visit(next);
                    path.pop();
                    onPath.delete(next);
                }
            }
        };
        visit(start);
    });
    return { cycles, truncated };
}

function checkHostPorts(host: HostDefinition, add: Add): void {
    const published = new Map<string, string>();
    host.containers.forEach((c, i) => {
        const where = containerWhere(c, i);
        (c.ports ?? []).forEach((p, j) => {
            if (!isPort(p.host)) return;
            const key = `${p.host}/${p.protocol ?? "tcp"}`;
            const first = published.get(key);
            if (first !== undefined) {
                add(
                    "PORT_CLASH",
                    where,
                    `ports[${j}].host`,
                    `host port ${key} is already published by ${first}`,
                    "publish each host port and protocol once; change one of the host ports",
                );
            } else {
                published.set(key, `${where} (ports[${j}])`);
            }
        });
    });
}

/** Container units require the network unit, and the provision unit when they read the artifact. */
function checkRequiredUnits(host: HostDefinition, add: Add): void {
    const defined = new Set(host.oneshots.map((u) => u.name));
    host.containers.forEach((c, i) => {
        // needsArtifact is the renderer's own rule; only ask it about a well-formed container.
        const wellFormed = c.image !== undefined && (c.volumes ?? []).every((v) => v?.source !== undefined);
        const required = [
            NETWORK_UNIT,
            ...(wellFormed && needsArtifact(c) ? [PROVISION_UNIT] : []),
            ...(usesSecrets(c) ? [SECRETS_UNIT] : []),
        ];
        for (const unit of required.filter((u) => !defined.has(u))) {
            add(
                "UNIT_REQUIRES_UNDEFINED",
                containerWhere(c, i),
                "(unit requires)",
                `its unit requires ${unit}, which this host does not define, so systemd would refuse to start it`,
                `add the ${unit} one-shot unit (buildHost adds it)`,
            );
        }
    });
}

// ---------------------------------------------------------------------------------------------

function checkOneShot(u: OneShotUnit, i: number, add: Add): void {
    const where = u.name || `oneshots[${i}]`;
    if (typeof u.name !== "string" || !UNIT_NAME.test(u.name) || u.name.length > 255) {
        add(
            "ONESHOT_NAME_INVALID",
            where,
            "name",
            `${quoted(u.name)} is not a systemd unit name ending in a unit type (.${UNIT_SUFFIXES.join(", .")})`,
            'name it like "setup-disks.service"',
        );
    } else if (!u.name.endsWith(".service")) {
        add(
            "ONESHOT_NOT_SERVICE",
            where,
            "name",
            `${quoted(u.name)} is a .${u.name.split(".").pop()} unit, but a one-shot is rendered with a [Service] section`,
            `name it ${quoted(u.name.replace(/\.[a-z]+$/, ".service"))}`,
        );
    } else if (u.name.includes("@.")) {
        add(
            "ONESHOT_TEMPLATE",
            where,
            "name",
            `${quoted(u.name)} is a template unit, which cannot be started without an instance`,
            "name an instance (setup@disk1.service) or drop the @",
        );
    }
    if (!Array.isArray(u.exec) || u.exec.length === 0) {
        add("ONESHOT_NO_EXEC", where, "exec", "has no command to run", 'give at least one command, e.g. [["/usr/bin/true"]]');
    }
    (u.exec ?? []).forEach((argv, k) => {
        const exe = argv?.[0];
        if (typeof exe !== "string" || !exe.startsWith("/")) {
            add(
                "EXEC_NOT_ABSOLUTE",
                where,
                `exec[${k}][0]`,
                `${quoted(exe)} is not an absolute path to an executable`,
                'start the command with an absolute path, e.g. "/usr/bin/docker" or "/bin/sh"',
            );
        }
        checkWords(argv, `exec[${k}]`, where, add);
    });
    for (const field of ["requires", "wants"] as const) {
        (u[field] ?? []).forEach((name, k) => {
            if (typeof name !== "string" || !UNIT_NAME.test(name)) {
                add(
                    "UNIT_REFERENCE_INVALID",
                    where,
                    `${field}[${k}]`,
                    `${quoted(name)} is not a systemd unit name`,
                    'name a unit with its type, e.g. "docker.service" or "network-online.target"',
                );
            }
        });
    }
    checkEnv(
        u.environment,
        "environment",
        SYSTEMD_ENV_NAME,
        "letters, digits and _, not starting with a digit (systemd's rule)",
        where,
        add,
    );
    if (u.timeoutStartSec !== undefined && !isPositiveInteger(u.timeoutStartSec)) {
        add(
            "SECONDS_INVALID",
            where,
            "timeoutStartSec",
            `${quoted(u.timeoutStartSec)} is not a positive whole number of seconds`,
            "use a whole number of seconds, 1 or more",
        );
    }
}

function checkFile(f: WriteFile, i: number, add: Add): void {
    const where = f.path || `files[${i}]`;
    if (typeof f.path !== "string" || !isNormalizedAbsolute(f.path) || f.path === "/") {
        add(
            "FILE_PATH_INVALID",
            where,
            "path",
            `${quoted(f.path)} is not an absolute, normalised file path`,
            'use an absolute path without ., .. or a trailing /, e.g. "/opt/coreos-containers/bin/tool"',
        );
    } else if (f.path === "/usr" || f.path.startsWith("/usr/")) {
        add(
            "FILE_UNDER_USR",
            where,
            "path",
            `${quoted(f.path)} is under /usr, which is read-only on Flatcar`,
            "write it under /opt or /etc instead",
        );
    }
    if (typeof f.permissions !== "string" || !/^[0-7]{4}$/.test(f.permissions)) {
        add(
            "FILE_PERMISSIONS_INVALID",
            where,
            "permissions",
            `${quoted(f.permissions)} is not a 4-digit octal mode string`,
            'give the mode as a string such as "0644" or "0755"',
        );
    }
    if (f.owner !== undefined && (typeof f.owner !== "string" || !OWNER.test(f.owner))) {
        add(
            "FILE_OWNER_INVALID",
            where,
            "owner",
            `${quoted(f.owner)} is not of the form user:group`,
            'use e.g. "root:root" or "core:core"',
        );
    }
    if (typeof f.content !== "string") {
        add(
            "VALUE_NOT_STRING",
            where,
            "content",
            `the content is a ${f.content === null ? "null" : typeof f.content}, not a string`,
            "give the file's text as a string",
        );
    }
}

function checkFiles(host: HostDefinition, add: Add): void {
    const seen = new Map<string, number>();
    host.files.forEach((f, i) => {
        checkFile(f, i, add);
        const first = seen.get(f.path);
        if (first !== undefined)
            add(
                "FILE_PATH_DUPLICATE",
                f.path || `files[${i}]`,
                "path",
                `files[${first}] and files[${i}] both write ${quoted(f.path)}`,
                "write each path once",
            );
        else seen.set(f.path, i);
    });
}

/** Every problem with the host definition; empty when it can be rendered. */
export function validateHost(host: HostDefinition, files: FileChecks): Problem[] {
    const problems: Problem[] = [];
    const add: Add = (code, where, field, message, fix) => problems.push({ code, where, field, message, fix });
    checkNames(host, add);
    host.containers.forEach((c, i) => checkContainer(c, i, files, add));
    checkDependencies(host, add);
    checkHostPorts(host, add);
    checkRequiredUnits(host, add);
    checkData(host, add);
    host.oneshots.forEach((u, i) => checkOneShot(u, i, add));
    checkFiles(host, add);
    return problems;
}
