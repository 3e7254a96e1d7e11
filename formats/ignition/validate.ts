// What `ignition-validate` (coreos/ignition, validate/ and config/v3_3) reports for a config: the
// subset of its rules that a rendered host can break, ported with its messages. The tests run the
// real `ignition-validate` (Debian's 2.14) on the rendered stub and full config and on every case
// below, and check that this port agrees with it on each (test/ignition.test.ts).
//
// Like coreos-cloudinit's `-validate`, a warning is a problem here too: the project renders
// nothing its host's own validator would say a word about.
import type { Problem, ProblemCode } from "../../units/problems";
import { isPlainObject } from "../../units/values";

/** Spec versions both Debian's Ignition 2.14 and Flatcar's accept as stable (config/config.go: 3.0.0 to 3.3.0 in 2.14). */
export const STABLE_VERSIONS = ["3.0.0", "3.1.0", "3.2.0", "3.3.0"] as const;

/**
 * go-systemd's unit lexer (coreos/go-systemd unit/deserialize.go, `SYSTEMD_LINE_MAX = 2048`): when
 * 2048 buffered bytes hold no newline it fails with "line too long (max 2048 bytes)". Ignition
 * parses every unit and drop-in with it (config/shared/validations/unit.go; v2.14 and HEAD, go-systemd
 * v22.7.0). So a line of 2048 bytes or more, its newline not counted, fails. systemd itself reads
 * unit lines up to 1 MiB (LONG_LINE_MAX), and coreos-cloudinit does not parse units: this ceiling is
 * Ignition's alone.
 */
export const UNIT_LINE_MAX = 2048;

/** systemd unit types Ignition accepts (config/shared/validations/unit.go ValidateUnitExtension). */
const UNIT_EXTENSIONS = [
    "service",
    "socket",
    "device",
    "mount",
    "automount",
    "swap",
    "target",
    "path",
    "timer",
    "snapshot",
    "slice",
    "scope",
];

/** URL schemes spec 3.3.0 fetches (config/v3_3/types/url.go validateURL). */
const URL_SCHEMES = ["http", "https", "tftp", "s3", "gs", "data"];

// Keys spec 3.3.0 knows, per object (config/v3_3/types/schema.go); anything else is "Unused key".
const KEYS = {
    root: ["ignition", "kernelArguments", "passwd", "storage", "systemd"],
    ignition: ["config", "proxy", "security", "timeouts", "version"],
    config: ["merge", "replace"],
    resource: ["compression", "httpHeaders", "source", "verification"],
    verification: ["hash"],
    storage: ["directories", "disks", "files", "filesystems", "links", "luks", "raid"],
    file: ["append", "contents", "group", "mode", "overwrite", "path", "user"],
    node: ["id", "name"],
    systemd: ["units"],
    unit: ["contents", "dropins", "enabled", "mask", "name"],
    dropin: ["contents", "name"],
    passwd: ["groups", "users"],
    user: [
        "gecos",
        "groups",
        "homeDir",
        "name",
        "noCreateHome",
        "noLogInit",
        "noUserGroup",
        "passwordHash",
        "primaryGroup",
        "shell",
        "sshAuthorizedKeys",
        "system",
        "uid",
    ],
} as const;

type Level = "error" | "warning";

interface Finding {
    readonly code: ProblemCode;
    readonly level: Level;
    /** `$.systemd.units.3.contents`, as ignition-validate names it. */
    readonly path: string;
    /** What it is in: a unit's name or a file's path, when it is in one. */
    readonly where?: string;
    readonly message: string;
    readonly fix: string;
}

class Findings {
    readonly all: Finding[] = [];
    add(code: ProblemCode, level: Level, path: string, message: string, fix: string, where?: string): void {
        this.all.push({ code, level, path, message, fix, ...(where !== undefined ? { where } : {}) });
    }
    unknownKeys(obj: Record<string, unknown>, known: readonly string[], path: string, where?: string): void {
        for (const k of Object.keys(obj).filter((k) => !known.includes(k))) {
            this.add(
                "IGNITION_CONFIG_INVALID",
                "warning",
                `${path}.${k}`,
                `Unused key ${k}`,
                `remove ${k}: spec 3.3.0 does not know it`,
                where,
            );
        }
    }
}

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Record<string, unknown> => (isPlainObject(v) ? v : {});

/** RFC 3986 characters a data URL may hold unescaped (the dataurl package Ignition uses refuses others). */
const URL_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%#[\]]*$/;

function urlProblem(source: unknown): string | undefined {
    if (typeof source !== "string") return "source is not a string";
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(source)?.[1]?.toLowerCase();
    if (!scheme || !URL_SCHEMES.includes(scheme)) return "invalid url scheme";
    if (!URL_CHARS.test(source)) return source.includes("\n") ? "unable to parse url" : "invalid data character";
    if (/%(?![0-9A-Fa-f]{2})/.test(source)) return "rfc2396: unexpected end of unescape sequence";
    if (scheme === "s3") {
        const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(source);
        if (!m) return "invalid S3 URL: s3://<bucket>/<key>";
        if (/[?&]versionId=(&|$)/.test(source)) return "invalid S3 object VersionId";
    }
    return undefined;
}

function hashProblem(hash: unknown): string | undefined {
    if (hash === undefined || hash === null) return undefined;
    const m = typeof hash === "string" ? /^([a-z0-9]+)-(.*)$/.exec(hash) : null;
    if (!m) return "unrecognized hash function";
    const size = { sha512: 128, sha256: 64 }[m[1]!];
    if (size === undefined) return "unrecognized hash function";
    return m[2]!.length === size && /^[0-9a-f]+$/.test(m[2]!) ? undefined : "incorrect size for hash sum";
}

function checkResource(f: Findings, r: unknown, path: string, code: ProblemCode, where?: string): void {
    const res = obj(r);
    f.unknownKeys(res, KEYS.resource, path, where);
    const bad = res["source"] === undefined ? undefined : urlProblem(res["source"]);
    if (bad) f.add(code, "error", `${path}.source`, bad, "use an s3://, http(s):// or data: URL", where);
    const verification = obj(res["verification"]);
    f.unknownKeys(verification, KEYS.verification, `${path}.verification`, where);
    const badHash = hashProblem(verification["hash"]);
    if (badHash) f.add(code, "error", `${path}.verification.hash`, badHash, "give sha512-<128 hex digits>", where);
    if (res["compression"] !== undefined && res["compression"] !== "" && res["compression"] !== "gzip")
        f.add(code, "error", `${path}.compression`, "invalid compression method", "use gzip or nothing", where);
}

/**
 * go-systemd's lexer on a unit's text: lines too long, section headers not closed. `parsed` is false
 * when the lexer fails: Ignition then has no options to look for [Install] in, and says nothing about it.
 */
function checkUnitText(f: Findings, text: unknown, path: string, where: string): { hasInstall: boolean; parsed: boolean } {
    if (typeof text !== "string") return { hasInstall: false, parsed: false };
    let hasInstall = false;
    let parsed = true;
    text.split("\n").forEach((line, i) => {
        const bytes = Buffer.byteLength(line, "utf8");
        if (bytes >= UNIT_LINE_MAX) {
            parsed = false;
            f.add(
                "IGNITION_UNIT_LINE_TOO_LONG",
                "error",
                path,
                `invalid unit content: line too long (max ${UNIT_LINE_MAX} bytes): line ${i + 1} is ${bytes} bytes`,
                `keep every line of the unit under ${UNIT_LINE_MAX} bytes: move a long value (an env var, a command argument) into a file in the artifact and mount it, or use cloud-config`,
                where,
            );
        }
        const trimmed = line.trim();
        if (trimmed.startsWith("[")) {
            if (!trimmed.endsWith("]")) {
                parsed = false;
                f.add(
                    "IGNITION_UNIT_INVALID",
                    "error",
                    path,
                    "invalid unit content: unable to find end of section",
                    "close the section header with ]",
                    where,
                );
            } else if (trimmed === "[Install]") hasInstall = true;
        }
    });
    return { hasInstall, parsed };
}

function checkUnits(f: Findings, systemd: Record<string, unknown>): void {
    f.unknownKeys(systemd, KEYS.systemd, "$.systemd");
    const seen = new Set<string>();
    list(systemd["units"]).forEach((u, i) => {
        const path = `$.systemd.units.${i}`;
        const unit = obj(u);
        const name = typeof unit["name"] === "string" ? unit["name"] : "";
        const where = name || undefined;
        f.unknownKeys(unit, KEYS.unit, path, where);
        const ext = name.includes(".") ? name.slice(name.lastIndexOf(".") + 1) : "";
        if (!UNIT_EXTENSIONS.includes(ext))
            f.add(
                "IGNITION_UNIT_INVALID",
                "error",
                `${path}.name`,
                "invalid systemd unit extension",
                "name the unit <name>.service (or another unit type)",
                where,
            );
        if (seen.has(name)) f.add("IGNITION_UNIT_INVALID", "error", path, "duplicate entry defined", "give each unit one entry", where);
        seen.add(name);
        const { hasInstall, parsed } = checkUnitText(f, unit["contents"], `${path}.contents`, name);
        // Ignition warns about a missing [Install] only for contents that are not empty and that its
        // lexer read (ignition-validate 2.14, case by case in test/ignitionValidate.test.ts).
        if (unit["enabled"] === true && unit["contents"] !== "" && parsed && !hasInstall)
            f.add(
                "IGNITION_UNIT_INVALID",
                "warning",
                `${path}.contents`,
                `unit ${JSON.stringify(name)} is enabled, but has no install section so enable does nothing`,
                "add an [Install] section with WantedBy=",
                where,
            );
        list(unit["dropins"]).forEach((d, j) => {
            const dropin = obj(d);
            f.unknownKeys(dropin, KEYS.dropin, `${path}.dropins.${j}`, where);
            if (typeof dropin["name"] !== "string" || !dropin["name"].endsWith(".conf"))
                f.add(
                    "IGNITION_UNIT_INVALID",
                    "error",
                    `${path}.dropins.${j}.name`,
                    "invalid systemd drop-in extension",
                    "name the drop-in <name>.conf",
                    where,
                );
            checkUnitText(f, dropin["contents"], `${path}.dropins.${j}.contents`, name);
        });
    });
}

function checkFiles(f: Findings, storage: Record<string, unknown>): void {
    f.unknownKeys(storage, KEYS.storage, "$.storage");
    const seen = new Set<string>();
    list(storage["files"]).forEach((x, i) => {
        const path = `$.storage.files.${i}`;
        const file = obj(x);
        const p = typeof file["path"] === "string" ? file["path"] : "";
        const where = p || undefined;
        f.unknownKeys(file, KEYS.file, path, where);
        if (!p.startsWith("/"))
            f.add("IGNITION_FILE_INVALID", "error", `${path}.path`, "path not absolute", "give an absolute path", where);
        if (seen.has(p)) f.add("IGNITION_FILE_INVALID", "error", path, "duplicate entry defined", "write each path once", where);
        seen.add(p);
        const mode = file["mode"];
        if (mode !== undefined && mode !== null) {
            if (typeof mode !== "number" || !Number.isInteger(mode))
                f.add(
                    "IGNITION_FILE_INVALID",
                    "error",
                    `${path}.mode`,
                    "json: cannot unmarshal into Go struct field File.storage.files.mode of type int",
                    "give the mode as a decimal number, e.g. 420 for 0644",
                    where,
                );
            else {
                if (mode & 0o7000)
                    f.add(
                        "IGNITION_FILE_INVALID",
                        "warning",
                        `${path}.mode`,
                        "setuid/setgid/sticky bits are not supported in spec versions older than 3.4.0",
                        "write the mode in decimal: 0644 is 420, 0755 is 493",
                        where,
                    );
                if (mode < 0 || mode > 0o7777)
                    f.add(
                        "IGNITION_FILE_INVALID",
                        "error",
                        `${path}.mode`,
                        "illegal file mode",
                        "give a mode from 0 to 4095 (07777)",
                        where,
                    );
            }
        }
        for (const side of ["user", "group"] as const) {
            const node = obj(file[side]);
            f.unknownKeys(node, KEYS.node, `${path}.${side}`, where);
            if (node["id"] !== undefined && node["id"] !== null && node["name"] !== undefined && node["name"] !== null)
                f.add("IGNITION_FILE_INVALID", "error", `${path}.${side}`, "cannot set both id and name", "give the id or the name", where);
        }
        const contents = obj(file["contents"]);
        checkResource(f, contents, `${path}.contents`, "IGNITION_FILE_INVALID", where);
        if (file["overwrite"] === true && contents["source"] === undefined)
            f.add(
                "IGNITION_FILE_INVALID",
                "error",
                `${path}.overwrite`,
                "overwrite must be false if source is unspecified",
                "give contents.source",
                where,
            );
    });
}

/** ignition-validate's findings for a config or stub, in document order. */
export function ignitionFindings(bytes: Buffer): Finding[] {
    const f = new Findings();
    let doc: unknown;
    try {
        doc = JSON.parse(bytes.toString("utf8"));
    } catch (e) {
        f.add("IGNITION_CONFIG_INVALID", "error", "$", `couldn't parse config: ${(e as Error).message}`, "render the config as JSON");
        return f.all;
    }
    const root = obj(doc);
    const version = obj(root["ignition"])["version"];
    if (typeof version !== "string" || !/^\d+\.\d+\.\d+(-experimental)?$/.test(version)) {
        f.add(
            "IGNITION_CONFIG_INVALID",
            "error",
            "$.ignition.version",
            "couldn't parse config: invalid config version (couldn't parse)",
            `set ignition.version to "3.3.0"`,
        );
        return f.all;
    }
    if (!(STABLE_VERSIONS as readonly string[]).includes(version)) {
        f.add(
            "IGNITION_CONFIG_INVALID",
            "error",
            "$.ignition.version",
            "couldn't parse config: unsupported config version",
            `set ignition.version to "3.3.0"`,
        );
        return f.all;
    }
    f.unknownKeys(root, KEYS.root, "$");
    const ignition = obj(root["ignition"]);
    f.unknownKeys(ignition, KEYS.ignition, "$.ignition");
    const config = obj(ignition["config"]);
    f.unknownKeys(config, KEYS.config, "$.ignition.config");
    if (config["replace"] !== undefined) checkResource(f, config["replace"], "$.ignition.config.replace", "IGNITION_REFERENCE_INVALID");
    list(config["merge"]).forEach((m, i) => checkResource(f, m, `$.ignition.config.merge.${i}`, "IGNITION_REFERENCE_INVALID"));
    const passwd = obj(root["passwd"]);
    f.unknownKeys(passwd, KEYS.passwd, "$.passwd");
    list(passwd["users"]).forEach((u, i) => f.unknownKeys(obj(u), KEYS.user, `$.passwd.users.${i}`));
    checkFiles(f, obj(root["storage"]));
    checkUnits(f, obj(root["systemd"]));
    return f.all;
}

/** ignition-validate's findings as Problems; `what` names the document, e.g. `user-data` or the config's key. */
export function validateIgnition(bytes: Buffer, what = "user-data"): Problem[] {
    return ignitionFindings(bytes).map((x) => ({
        code: x.code,
        where: x.where ?? what,
        field: x.path,
        message: `${x.level}: ${x.message}`,
        fix: x.fix,
    }));
}
