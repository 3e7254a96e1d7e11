// The checks coreos-cloudinit's `-validate` makes, in TypeScript.
//
// Ported from flatcar/coreos-cloudinit `config/validate/` (validate.go, rules.go, node.go,
// report.go; context.go from coreos/coreos-cloudinit) and the `yaml:` / `valid:` / `deprecated:`
// struct tags of `config/config.go` and its siblings (unit.go, file.go, user.go, update.go,
// locksmith.go, etcd.go, etcd2.go, fleet.go, flannel.go, oem.go). The validator:
//   1. rejects user-data that is not `#cloud-config` (scripts and Ignition are not validated);
//   2. parses the YAML (a syntax error stops it; go-yaml also refuses control characters);
//   3. builds a "weak" tree (types as YAML 1.1 infers them) and coerces it against the typed
//      structs, then runs its rules in order: checkDiscoveryUrl, checkEncoding, checkStructure,
//      checkValidity, checkWriteFiles, checkWriteFilesUnderCoreos.
// Each finding is `line N: error|warning|info: message`, and `-validate` fails on any of them, so
// every finding here is a Problem.
//
// Where we differ from the Go code, on purpose:
//   - line numbers come from the parser, not node.go's scan for the next `key:` line;
//   - findings are ordered by line (Go walks maps in random order);
//   - duplicate keys are an error (go-yaml keeps the last one silently);
//   - a value of the wrong shape never panics the validator (Go's isZero panics on a map);
//   - a few rules of our own, marked "(this project's rule)": the user-data must be a
//     cloud-config, the document must be a map, permissions must be quoted, and no raw
//     U+0085/U+2028/U+2029 (YAML 1.1 reads them as line breaks, YAML 1.2 writers emit them raw).
import { LineCounter, Node as YamlNode, Scalar, isAlias, isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Document, YAMLError } from "yaml";
import { Problem, ProblemCode } from "../../units/problems";

export type Level = "error" | "warning" | "info";

/** One finding, as coreos-cloudinit reports it: `line N: level: message`. */
export interface Finding {
    readonly code: ProblemCode;
    readonly line: number;
    readonly level: Level;
    /** Where in the document, e.g. `coreos.units[2].command`; `(document)` when it has no path. */
    readonly path: string;
    readonly message: string;
    readonly fix: string;
}

// ---------------------------------------------------------------------------------------------
// The known structure (config.CloudConfig and the structs it embeds), as data.

type ScalarKind = "string" | "int" | "float64" | "bool";

interface Valid {
    /** The Go `valid:` regexp, for the message. */
    readonly pattern: string;
    /** What a good value looks like, for the fix. */
    readonly hint: string;
    test(value: string): boolean;
}

type Spec =
    | { readonly kind: ScalarKind; readonly valid?: Valid; readonly deprecated?: string }
    | { readonly kind: "struct"; readonly fields: Readonly<Record<string, Spec>>; readonly deprecated?: string }
    | { readonly kind: "slice"; readonly elem: Spec; readonly deprecated?: string };

const str = (valid?: Valid): Spec => (valid ? { kind: "string", valid } : { kind: "string" });
const int: Spec = { kind: "int" };
const float64: Spec = { kind: "float64" };
const bool: Spec = { kind: "bool" };
const struct = (fields: Record<string, Spec>): Spec => ({ kind: "struct", fields });
const slice = (elem: Spec): Spec => ({ kind: "slice", elem });
const deprecated = (spec: Spec, why: string): Spec => ({ ...spec, deprecated: why });

function regexValid(re: RegExp, hint: string): Valid {
    return { pattern: re.source, hint, test: (v) => re.test(v) };
}

// Go's `(?i:sun|mon|…)` has no inline equivalent in JavaScript: the day is compared case-insensitively here.
const WINDOW_START = /^(?:([A-Za-z]{3}) )?0*([0-9]|1[0-9]|2[0-3]):0*([0-9]|[1-5][0-9])$/;
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const windowStartValid: Valid = {
    pattern: "^((?i:sun|mon|tue|wed|thu|fri|sat|sun) )?0*([0-9]|1[0-9]|2[0-3]):0*([0-9]|[1-5][0-9])$",
    hint: 'a time like "Thu 04:00" or "04:00"',
    test: (v) => {
        const m = WINDOW_START.exec(v);
        return m !== null && (m[1] === undefined || DAYS.includes(m[1].toLowerCase()));
    },
};

const UNIT_COMMANDS = ["start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "reload-or-try-restart"];
const ENCODINGS = ["base64", "b64", "gz", "gzip", "gz+base64", "gzip+base64", "gz+b64", "gzip+b64"];

const ETCD2_GONE = "etcd2 options no longer work for etcd";
const REMOTE_KEYS = "trying to fetch from a remote endpoint introduces too many intermittent errors";

const ETCD = struct({
    addr: str(),
    advertise_client_urls: deprecated(str(), ETCD2_GONE),
    bind_addr: str(),
    ca_file: str(),
    cert_file: str(),
    cluster_active_size: int,
    cluster_remove_delay: float64,
    cluster_sync_interval: float64,
    cors: str(),
    data_dir: str(),
    discovery: str(),
    discovery_fallback: deprecated(str(), ETCD2_GONE),
    discovery_srv: deprecated(str(), ETCD2_GONE),
    discovery_proxy: deprecated(str(), ETCD2_GONE),
    election_timeout: deprecated(int, ETCD2_GONE),
    force_new_cluster: deprecated(bool, ETCD2_GONE),
    graphite_host: str(),
    heartbeat_interval: deprecated(int, ETCD2_GONE),
    http_read_timeout: float64,
    http_write_timeout: float64,
    initial_advertise_peer_urls: deprecated(str(), ETCD2_GONE),
    initial_cluster: deprecated(str(), ETCD2_GONE),
    initial_cluster_state: deprecated(str(), ETCD2_GONE),
    initial_cluster_token: deprecated(str(), ETCD2_GONE),
    key_file: str(),
    listen_client_urls: deprecated(str(), ETCD2_GONE),
    listen_peer_urls: deprecated(str(), ETCD2_GONE),
    max_result_buffer: int,
    max_retry_attempts: int,
    max_snapshots: deprecated(int, ETCD2_GONE),
    max_wals: deprecated(int, ETCD2_GONE),
    name: str(),
    peer_addr: str(),
    peer_bind_addr: str(),
    peer_ca_file: str(),
    peer_cert_file: str(),
    peer_election_timeout: int,
    peer_heartbeat_interval: int,
    peer_key_file: str(),
    peers: str(),
    peers_file: str(),
    proxy: deprecated(str(), ETCD2_GONE),
    retry_interval: float64,
    snapshot: bool,
    snapshot_count: int,
    trace: str(),
    verbose: bool,
    very_verbose: bool,
    very_very_verbose: bool,
});

const ETCD2 = struct({
    advertise_client_urls: str(),
    ca_file: deprecated(str(), "ca_file obsoleted by trusted_ca_file and client_cert_auth"),
    cert_file: str(),
    client_cert_auth: bool,
    cors: str(),
    data_dir: str(),
    debug: bool,
    discovery: str(),
    discovery_fallback: str(),
    discovery_srv: str(),
    discovery_proxy: str(),
    election_timeout: int,
    force_new_cluster: bool,
    heartbeat_interval: int,
    initial_advertise_peer_urls: str(),
    initial_cluster: str(),
    initial_cluster_state: str(),
    initial_cluster_token: str(),
    key_file: str(),
    listen_client_urls: str(),
    listen_peer_urls: str(),
    log_package_levels: str(),
    max_snapshots: int,
    max_wals: int,
    name: str(),
    peer_ca_file: deprecated(str(), "peer_ca_file obsoleted peer_trusted_ca_file and peer_client_cert_auth"),
    peer_cert_file: str(),
    peer_key_file: str(),
    peer_client_cert_auth: bool,
    peer_trusted_ca_file: str(),
    proxy: str(regexValid(/^(on|off|readonly)$/, "one of: on, off, readonly")),
    proxy_dial_timeout: int,
    proxy_failure_wait: int,
    proxy_read_timeout: int,
    proxy_refresh_interval: int,
    proxy_write_timeout: int,
    snapshot_count: int,
    trusted_ca_file: str(),
    wal_dir: str(),
});

const FLEET = struct({
    agent_ttl: str(),
    authorized_keys_file: str(),
    disable_engine: bool,
    engine_reconcile_interval: float64,
    etcd_cafile: str(),
    etcd_certfile: str(),
    etcd_keyfile: str(),
    etcd_key_prefix: str(),
    etcd_request_timeout: float64,
    etcd_servers: str(),
    etcd_username: str(),
    etcd_password: str(),
    metadata: str(),
    public_ip: str(),
    token_limit: int,
    verbosity: int,
    verify_units: bool,
});

const UNIT = struct({
    name: str(),
    mask: bool,
    enable: bool,
    runtime: bool,
    content: str(),
    command: str(regexValid(new RegExp(`^(${UNIT_COMMANDS.join("|")})$`), `one of: ${UNIT_COMMANDS.join(", ")}`)),
    drop_ins: slice(struct({ name: str(), content: str() })),
});

const FILE = struct({
    encoding: str(regexValid(/^(base64|b64|gz|gzip|gz\+base64|gzip\+base64|gz\+b64|gzip\+b64)$/, `one of: ${ENCODINGS.join(", ")}`)),
    content: str(),
    owner: str(),
    path: str(),
    permissions: str(regexValid(/^0?[0-7]{3,4}$/, 'an octal mode string such as "0644"')),
});

const USER = struct({
    name: str(),
    passwd: str(),
    ssh_authorized_keys: slice(str()),
    coreos_ssh_import_github: deprecated(str(), REMOTE_KEYS),
    coreos_ssh_import_github_users: deprecated(slice(str()), REMOTE_KEYS),
    coreos_ssh_import_url: deprecated(str(), REMOTE_KEYS),
    gecos: str(),
    homedir: str(),
    no_create_home: bool,
    primary_group: str(),
    groups: slice(str()),
    no_user_group: bool,
    system: bool,
    no_log_init: bool,
    shell: str(),
});

/** config.CloudConfig: every key coreos-cloudinit knows, with its type, valid values and deprecations. */
export const CLOUD_CONFIG_SCHEMA: Spec = struct({
    ssh_authorized_keys: slice(str()),
    coreos: struct({
        etcd: deprecated(ETCD, "etcd is no longer shipped in Container Linux"),
        etcd2: deprecated(ETCD2, "etcd2 is no longer shipped in Container Linux"),
        flannel: struct({
            etcd_endpoints: str(),
            etcd_cafile: str(),
            etcd_certfile: str(),
            etcd_keyfile: str(),
            etcd_prefix: str(),
            ip_masq: str(),
            subnet_file: str(),
            interface: str(),
            public_ip: str(),
        }),
        fleet: deprecated(FLEET, "fleet is no longer shipped in Container Linux"),
        locksmith: struct({
            endpoint: str(),
            etcd_cafile: str(),
            etcd_certfile: str(),
            etcd_keyfile: str(),
            group: str(),
            window_start: str(windowStartValid),
            window_length: str(regexValid(/^[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+$/, 'a duration such as "1h30m"')),
        }),
        oem: struct({ id: str(), name: str(), version_id: str(), home_url: str(), bug_report_url: str() }),
        update: struct({
            reboot_strategy: str(regexValid(/^(best-effort|etcd-lock|reboot|off)$/, "one of: best-effort, etcd-lock, reboot, off")),
            group: str(),
            server: str(),
        }),
        units: slice(UNIT),
    }),
    write_files: slice(FILE),
    hostname: str(),
    users: slice(USER),
    manage_etc_hosts: str(),
});

function humanType(spec: Spec): string {
    return spec.kind === "slice" ? `[]${humanType(spec.elem)}` : spec.kind;
}

// ---------------------------------------------------------------------------------------------
// The weak tree: the document as go-yaml (YAML 1.1) types it, with key names normalised `-` → `_`.

type WeakKind = ScalarKind | "null" | "map" | "slice";

interface WeakNode {
    /** The normalised name Go uses in messages: a key, or `units[0]` for a list element. */
    readonly name: string;
    /** The path as written, e.g. `coreos.units[0].command`. */
    readonly path: string;
    readonly line: number;
    readonly kind: WeakKind;
    /** A scalar's text as go-yaml hands it to a string field (the source of a plain scalar). */
    readonly text: string;
    /** True for quoted and block scalars. */
    readonly quoted: boolean;
    readonly children: readonly WeakNode[];
}

const YAML_TAG = "tag:yaml.org,2002:";
const BOOL_WORDS = new Set([
    "y",
    "Y",
    "yes",
    "Yes",
    "YES",
    "true",
    "True",
    "TRUE",
    "on",
    "On",
    "ON",
    "n",
    "N",
    "no",
    "No",
    "NO",
    "false",
    "False",
    "FALSE",
    "off",
    "Off",
    "OFF",
]);
const NULL_WORDS = new Set(["", "~", "null", "Null", "NULL"]);
const FLOAT_WORDS = new Set([".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF"]);
// strconv.ParseInt(s, 0, 64) and strconv.ParseFloat(s, 64), by shape (overflow aside).
const GO_INT = /^[+-]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/;
const GO_FLOAT =
    /^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+|inf|infinity)$/i;

/** go-yaml v1's resolve() for a plain scalar: the type an untyped unmarshal gives it. */
export function resolvePlainScalar(text: string): ScalarKind | "null" {
    if (BOOL_WORDS.has(text)) return "bool";
    if (NULL_WORDS.has(text)) return "null";
    if (FLOAT_WORDS.has(text)) return "float64";
    const first = text[0] ?? "";
    if ("+-0123456789".includes(first)) {
        const plain = text.replace(/_/g, "");
        if (GO_INT.test(plain)) return "int";
        if (GO_FLOAT.test(plain) || /^nan$/i.test(plain)) return "float64";
        if (/^-?0b[01]+$/.test(plain)) return "int";
    } else if (first === "." && (GO_FLOAT.test(text) || /^nan$/i.test(text))) {
        return "float64";
    }
    return "string";
}

function scalarText(node: Scalar): string {
    const v = node.value;
    if (v instanceof Uint8Array) return Buffer.from(v).toString("latin1");
    if (typeof v === "string") return node.type === Scalar.PLAIN ? (node.source ?? v) : v;
    return node.source ?? String(v);
}

function scalarKind(node: Scalar): ScalarKind | "null" {
    const tag = node.tag;
    if (tag?.startsWith(YAML_TAG)) {
        switch (tag.slice(YAML_TAG.length)) {
            case "str":
            case "binary":
                return "string";
            case "int":
                return "int";
            case "float":
                return "float64";
            case "bool":
                return "bool";
            case "null":
                return "null";
        }
    }
    if (node.type !== undefined && node.type !== Scalar.PLAIN) return "string";
    return resolvePlainScalar(scalarText(node));
}

class WeakBuilder {
    constructor(
        private readonly doc: Document,
        private readonly lines: LineCounter,
    ) {}

    lineOf(node: { range?: readonly number[] | null } | null | undefined): number {
        const offset = node?.range?.[0];
        return offset === undefined ? 0 : this.lines.linePos(offset).line;
    }

    /** Follow aliases to their anchored node; give up (null) on absurd nesting. */
    private deref(node: unknown, depth: number): unknown {
        if (depth > 64) return null;
        let n = node;
        for (let i = 0; isAlias(n) && i < 32; i++) n = n.resolve(this.doc);
        return n;
    }

    build(raw: unknown, name: string, path: string, line: number, depth = 0): WeakNode {
        const node = this.deref(raw, depth);
        if (isMap(node)) {
            const explicit: WeakNode[] = [];
            const merged: WeakNode[] = [];
            for (const pair of node.items) {
                const keyNode = pair.key;
                const keyText = isScalar(keyNode) ? scalarText(keyNode) : "[complex key]";
                const keyLine = this.lineOf(keyNode as YamlNode) || line;
                if (keyText === "<<" && isScalar(keyNode) && keyNode.type === Scalar.PLAIN) {
                    // A merge key: the referenced maps' entries, overridden by the explicit ones.
                    const sources = this.deref(pair.value, depth);
                    const list = isSeq(sources) ? sources.items : [pair.value];
                    for (const src of list) {
                        const m = this.build(src, name, path, keyLine, depth + 1);
                        if (m.kind === "map") merged.push(...m.children);
                    }
                    continue;
                }
                const childName = keyText.replace(/-/g, "_");
                const childPath = path ? `${path}.${keyText}` : keyText;
                explicit.push(this.build(pair.value, childName, childPath, keyLine, depth + 1));
            }
            const children = [...merged.filter((m) => !explicit.some((e) => e.name === m.name)), ...explicit];
            return { name, path, line, kind: "map", text: "", quoted: false, children };
        }
        if (isSeq(node)) {
            const children = node.items.map((item, i) => {
                const itemNode = this.deref(item, depth) as YamlNode | null;
                const itemLine = this.lineOf(item as YamlNode) || this.lineOf(itemNode) || line;
                return this.build(item, `${name}[${i}]`, `${path}[${i}]`, itemLine, depth + 1);
            });
            return { name, path, line, kind: "slice", text: "", quoted: false, children };
        }
        if (isScalar(node)) {
            const quoted = node.type !== undefined && node.type !== Scalar.PLAIN;
            return { name, path, line, kind: scalarKind(node), text: scalarText(node), quoted, children: [] };
        }
        return { name, path, line, kind: "null", text: "", quoted: false, children: [] };
    }
}

function child(node: WeakNode | undefined, name: string): WeakNode | undefined {
    return node?.children.find((c) => c.name === name);
}

// ---------------------------------------------------------------------------------------------
// The rules.

/** rules.go isCompatible: can a value of weak kind `n` fill a field of kind `g`? */
function isCompatible(n: WeakKind, g: Spec["kind"]): boolean {
    switch (g) {
        case "string":
            return n === "string" || n === "int" || n === "float64" || n === "bool";
        case "struct":
            return n === "map";
        case "float64":
            return n === "float64" || n === "int";
        case "slice":
            return n === "slice";
        case "bool":
        case "int":
            return n === g;
    }
}

type Report = (code: ProblemCode, line: number, level: Level, path: string, message: string, fix: string) => void;

function fieldPath(n: WeakNode): string {
    return n.path || "(document)";
}

/** rules.go checkDiscoveryUrl: `coreos.etcd.discovery` must parse as a request URI. */
function checkDiscoveryUrl(root: WeakNode, report: Report): void {
    const c = child(child(child(root, "coreos"), "etcd"), "discovery");
    if (!c || c.kind === "null") return;
    if (!isRequestUri(c.text)) {
        report(
            "CLOUDINIT_DISCOVERY_URL",
            c.line,
            "warning",
            c.path,
            "discovery URL is not valid",
            "use an absolute URL such as https://discovery.etcd.io/<token>",
        );
    }
}

/** Go's url.ParseRequestURI, approximately: an absolute URI or an absolute path, no control bytes or spaces. */
function isRequestUri(text: string): boolean {
    // eslint-disable-next-line no-control-regex -- Go refuses control bytes in a request URI
    if (text === "" || /[\x00-\x20\x7f]/.test(text)) return false;
    if (text.startsWith("/")) return true;
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/.exec(text);
    if (!m) return false;
    const rest = m[2]!;
    // Without `//` it is an opaque URI or a path, both accepted.
    if (!rest.startsWith("//")) return true;
    const authority = rest.slice(2).split(/[/?#]/)[0] ?? "";
    const host = authority.slice(authority.lastIndexOf("@") + 1);
    return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]*)(:[0-9]*)?$/.test(host);
}

/** config.DecodeContent: does `content` decode with `encoding`? */
export function decodesAs(content: string, encoding: string): boolean {
    switch (encoding) {
        case "":
            return true;
        case "b64":
        case "base64":
            return decodeBase64(content) !== undefined;
        case "gz":
        case "gzip":
            return isGzipHeader(Buffer.from(content, "latin1"));
        case "gz+base64":
        case "gzip+base64":
        case "gz+b64":
        case "gzip+b64": {
            const bytes = decodeBase64(content);
            return bytes !== undefined && isGzipHeader(bytes);
        }
        default:
            return false;
    }
}

/** base64.StdEncoding.DecodeString: padded standard alphabet; it skips `\r` and `\n`. */
function decodeBase64(text: string): Buffer | undefined {
    const s = text.replace(/[\r\n]/g, "");
    if (!/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/.test(s)) return undefined;
    return Buffer.from(s, "base64");
}

/** gzip.NewReader only fails on the header (coreos-cloudinit ignores errors while reading the body). */
function isGzipHeader(bytes: Buffer): boolean {
    return bytes.length >= 10 && bytes[0] === 0x1f && bytes[1] === 0x8b && bytes[2] === 8;
}

/** rules.go checkEncoding: each write_files content must decode with its encoding. */
function checkEncoding(root: WeakNode, report: Report): void {
    for (const f of child(root, "write_files")?.children ?? []) {
        const e = child(f, "encoding");
        if (!e || e.kind === "null" || e.children.length > 0) continue;
        const c = child(f, "content");
        if (!decodesAs(c?.text ?? "", e.text)) {
            report(
                "CLOUDINIT_ENCODING",
                c?.line ?? f.line,
                "error",
                c?.path ?? `${f.path}.content`,
                `content cannot be decoded as ${JSON.stringify(e.text)}`,
                `encode the content as ${e.text} says, or set encoding to one of: ${ENCODINGS.join(", ")}`,
            );
        }
    }
}

/** rules.go checkStructure: every key known, every value of a compatible type, deprecated keys flagged. */
function checkStructure(n: WeakNode, g: Spec, report: Report): void {
    if (!isCompatible(n.kind, g.kind)) {
        report(
            "CLOUDINIT_WRONG_TYPE",
            n.line,
            "warning",
            fieldPath(n),
            `incorrect type for ${JSON.stringify(n.name)} (want ${humanType(g)})`,
            `give ${n.name} a ${humanType(g)} value`,
        );
        return;
    }
    if (g.kind === "struct") {
        for (const c of n.children) {
            const cg = Object.hasOwn(g.fields, c.name) ? g.fields[c.name] : undefined;
            if (!cg) {
                const known = Object.keys(g.fields).join(", ");
                report(
                    "CLOUDINIT_UNKNOWN_KEY",
                    c.line,
                    "warning",
                    c.path,
                    `unrecognized key ${JSON.stringify(c.name)}`,
                    `remove ${c.name} or correct its spelling; coreos-cloudinit knows: ${known}`,
                );
                continue;
            }
            if (cg.deprecated) {
                report(
                    "CLOUDINIT_DEPRECATED_KEY",
                    c.line,
                    "warning",
                    c.path,
                    `deprecated key ${JSON.stringify(c.name)} (${cg.deprecated})`,
                    `remove ${c.name}`,
                );
            }
            checkStructure(c, cg, report);
        }
    } else if (g.kind === "slice") {
        for (const c of n.children) checkStructure(c, g.elem, report);
    }
}

/** rules.go checkValidity: values of fields with a `valid:` tag must match it (empty values pass). */
function checkValidity(n: WeakNode, g: Spec, report: Report): void {
    if ("valid" in g && g.valid && n.children.length === 0 && n.kind !== "null" && n.kind !== "map" && n.kind !== "slice") {
        if (n.text !== "" && !g.valid.test(n.text)) {
            report(
                "CLOUDINIT_INVALID_VALUE",
                n.line,
                "error",
                n.path,
                `invalid value ${n.text}`,
                `set ${n.name} to ${g.valid.hint} (coreos-cloudinit checks ${g.valid.pattern})`,
            );
        }
    }
    if (g.kind === "struct") {
        for (const c of n.children) {
            const cg = Object.hasOwn(g.fields, c.name) ? g.fields[c.name] : undefined;
            if (cg) checkValidity(c, cg, report);
        }
    } else if (g.kind === "slice") {
        // Elements of a list carry no `valid:` tag of their own.
        const elem: Spec = g.elem.kind === "struct" || g.elem.kind === "slice" ? g.elem : { kind: g.elem.kind };
        for (const c of n.children) checkValidity(c, elem, report);
    }
}

/** Go's path.Dir: everything before the last slash, cleaned. */
function goDir(p: string): string {
    const i = p.lastIndexOf("/");
    return goClean(i < 0 ? "" : p.slice(0, i + 1));
}

/** Go's path.Clean. */
function goClean(p: string): string {
    if (p === "") return ".";
    const rooted = p.startsWith("/");
    const out: string[] = [];
    for (const part of p.split("/")) {
        if (part === "" || part === ".") continue;
        if (part === "..") {
            if (out.length > 0 && out[out.length - 1] !== "..") out.pop();
            else if (!rooted) out.push("..");
        } else {
            out.push(part);
        }
    }
    const joined = out.join("/");
    return rooted ? "/" + joined : joined || ".";
}

/** rules.go checkWriteFiles: nothing can be written under /usr (read-only on Container Linux). */
function checkWriteFiles(root: WeakNode, report: Report): void {
    for (const f of child(root, "write_files")?.children ?? []) {
        const c = child(f, "path");
        if (!c || c.kind === "null" || c.children.length > 0) continue;
        if (goDir(c.text).startsWith("/usr")) {
            report(
                "CLOUDINIT_READ_ONLY_PATH",
                c.line,
                "error",
                c.path,
                "file cannot be written to a read-only filesystem",
                "write the file outside /usr (read-only on Flatcar), e.g. under /opt or /etc",
            );
        }
    }
}

/** rules.go checkWriteFilesUnderCoreos: write_files belongs at the top level. */
function checkWriteFilesUnderCoreos(root: WeakNode, report: Report): void {
    const c = child(child(root, "coreos"), "write_files");
    if (c && c.kind !== "null") {
        report(
            "CLOUDINIT_WRITE_FILES_UNDER_COREOS",
            c.line,
            "info",
            c.path,
            "write_files doesn't belong under coreos",
            "move write_files to the top level of the document",
        );
    }
}

/** This project's rule: a mode must be a quoted string, so every YAML reader sees the same octal text. */
function checkPermissionsQuoted(root: WeakNode, report: Report): void {
    for (const f of child(root, "write_files")?.children ?? []) {
        const p = child(f, "permissions");
        // A map or list (even an empty one) is not a scalar to quote: the type rule reports it.
        if (!p || p.kind === "null" || p.kind === "map" || p.kind === "slice" || p.quoted) continue;
        report(
            "CLOUDINIT_PERMISSIONS_UNQUOTED",
            p.line,
            "warning",
            p.path,
            `permissions ${p.text} is not a quoted string (this project's rule): YAML 1.2 readers take ${p.text} as a number, not octal text`,
            `quote it, e.g. permissions: "${/^[0-7]+$/.test(p.text) ? p.text.padStart(4, "0") : "0644"}"`,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Before the rules: the header and what go-yaml's reader refuses.

/** config.IsCloudConfig: the first line, without trailing whitespace, is exactly `#cloud-config`. */
export function isCloudConfig(userData: string): boolean {
    const first = userData.split("\n", 1)[0] ?? "";
    return first.replace(/\s+$/, "") === "#cloud-config";
}

/** libyaml's reader: which code points may appear in a YAML stream at all. */
function isPrintable(cp: number): boolean {
    return (
        cp === 0x09 ||
        cp === 0x0a ||
        cp === 0x0d ||
        (cp >= 0x20 && cp <= 0x7e) ||
        cp === 0x85 ||
        (cp >= 0xa0 && cp <= 0xd7ff) ||
        (cp >= 0xe000 && cp <= 0xfffd) ||
        (cp >= 0x10000 && cp <= 0x10ffff)
    );
}

function characterFindings(userData: string): Finding[] {
    const findings: Finding[] = [];
    const lines = userData.split("\n");
    lines.forEach((text, i) => {
        for (const ch of text) {
            const cp = ch.codePointAt(0)!;
            const code = `U+${cp.toString(16).toUpperCase().padStart(4, "0")}`;
            if (!isPrintable(cp) || (cp >= 0xd800 && cp <= 0xdfff)) {
                findings.push({
                    code: "CLOUDINIT_CONTROL_CHARACTER",
                    line: i + 1,
                    level: "error",
                    path: "(document)",
                    message: `control characters are not allowed (${code})`,
                    fix: "remove the control character, or write it as an escape in a double-quoted string",
                });
                return;
            }
            if (cp === 0x85 || cp === 0x2028 || cp === 0x2029) {
                findings.push({
                    code: "CLOUDINIT_LINE_BREAK_CHARACTER",
                    line: i + 1,
                    level: "error",
                    path: "(document)",
                    message: `${code} is a line break to coreos-cloudinit's YAML 1.1 parser but text to YAML 1.2 (this project's rule)`,
                    fix: "remove the character from the unit or file content",
                });
                return;
            }
        }
    });
    return findings;
}

// ---------------------------------------------------------------------------------------------

/** Everything coreos-cloudinit `-validate` would report for this user-data, ordered by line. */
export function cloudConfigFindings(userData: string): Finding[] {
    if (!isCloudConfig(userData)) {
        const what = userData === "" ? "it is empty" : userData.startsWith("#!") ? "it is a script" : "its first line is not the header";
        return [
            {
                code: "CLOUDINIT_HEADER",
                line: 1,
                level: "error",
                path: "(document)",
                message: `must be "#cloud-config", multipart mime or begin with "#!" — this project always renders a cloud-config and ${what}`,
                fix: "start the user-data with the line #cloud-config",
            },
        ];
    }
    const charFindings = characterFindings(userData);
    if (charFindings.some((f) => f.message.startsWith("control characters"))) return charFindings;

    const lines = new LineCounter();
    const doc = parseDocument(userData, { lineCounter: lines, version: "1.1", prettyErrors: true, keepSourceTokens: false });
    // An error found at the end of the input points one line past the last; keep it on a real line.
    const lastLine = userData.split("\n").length - (userData.endsWith("\n") ? 1 : 0);
    const syntaxFinding =
        (level: Level) =>
        (e: YAMLError): Finding => ({
            code: "CLOUDINIT_YAML_SYNTAX",
            line: Math.min(e.linePos?.[0].line ?? lines.linePos(e.pos[0]).line, lastLine),
            level,
            path: "(syntax)",
            message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, ""),
            fix: "fix the YAML on this line",
        });
    const syntax = [...doc.errors.map(syntaxFinding("error")), ...doc.warnings.map(syntaxFinding("warning"))];
    if (doc.errors.length > 0) return [...charFindings, ...syntax].sort(byLine);

    const builder = new WeakBuilder(doc, lines);
    const root = builder.build(doc.contents, "", "", builder.lineOf(doc.contents) || 1);
    const findings: Finding[] = [...charFindings, ...syntax];
    const report: Report = (code, line, level, path, message, fix) => findings.push({ code, line, level, path, message, fix });
    // An empty document is an empty map to go-yaml: nothing to check.
    if (root.kind === "null") return findings.sort(byLine);
    if (root.kind !== "map") {
        report(
            "CLOUDINIT_NOT_A_MAP",
            root.line,
            "error",
            "(document)",
            `the document is a ${root.kind === "slice" ? "list" : "scalar"}, not a map of keys (this project's rule)`,
            "write the cloud-config as a map: ssh_authorized_keys, write_files, coreos, …",
        );
        return findings.sort(byLine);
    }
    checkDiscoveryUrl(root, report);
    checkEncoding(root, report);
    checkStructure(root, CLOUD_CONFIG_SCHEMA, report);
    checkValidity(root, CLOUD_CONFIG_SCHEMA, report);
    checkWriteFiles(root, report);
    checkWriteFilesUnderCoreos(root, report);
    checkPermissionsQuoted(root, report);
    return findings.sort(byLine);
}

function byLine(a: Finding, b: Finding): number {
    return a.line - b.line;
}

/** coreos-cloudinit `-validate` as Problems: any finding (error, warning or info) fails the user-data. */
export function validateCloudConfig(userData: string): Problem[] {
    return cloudConfigFindings(userData).map((f) => ({
        code: f.code,
        where: "user-data",
        field: `line ${f.line}: ${f.path}`,
        message: `${f.level}: ${f.message}`,
        fix: f.fix,
    }));
}
