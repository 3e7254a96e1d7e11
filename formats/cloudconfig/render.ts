// Host content → the cloud-config document coreos-cloudinit reads on every boot.
//
// The document is built as plain objects and serialised by the `yaml` package, never by string
// templates. Unit files and scripts go out as literal blocks (`|`) wherever YAML can represent
// them exactly; every rendered document is parsed back and compared before it is used.
import { Document, Scalar, parse, visit } from "yaml";
import type { CreateNodeOptions, DocumentOptions, SchemaOptions, ToStringOptions } from "yaml";
import { HostDefinition } from "../../units/model";
import { Problem, throwIfProblems } from "../../units/problems";
import { HostContent, renderHostContent } from "../../units/render";
import { RenderedUnit } from "../../units/systemd";
import { FileChecks } from "../../units/validate";
import { decompressIfGzip, deterministicGzip } from "../gzip";
import { RenderedUserData, USER_DATA_LIMIT } from "../types";
import { validateCloudConfig } from "./validate";

export const CLOUD_CONFIG_HEADER = "#cloud-config\n";

/** The cloud-config document as a plain object (before YAML). */
export function cloudConfigObject(
    host: Pick<HostContent, "files" | "sshAuthorizedKeys">,
    units: readonly RenderedUnit[],
): Record<string, unknown> {
    const doc: Record<string, unknown> = {};
    if (host.sshAuthorizedKeys.length > 0) doc["ssh_authorized_keys"] = [...host.sshAuthorizedKeys];
    if (host.files.length > 0) {
        doc["write_files"] = host.files.map((f) => ({
            path: f.path,
            permissions: f.permissions,
            owner: f.owner ?? "root:root",
            content: f.content,
        }));
    }
    doc["coreos"] = {
        units: units.map((u) => ({ name: u.name, command: "start", enable: true, content: u.content })),
    };
    return doc;
}

// YAML 1.1, because coreos-cloudinit reads YAML 1.1 (go-yaml v1): strings such as `yes`, `off`,
// `0755` or `1:20` get quoted so they stay strings there. No line folding, literal blocks.
const YAML_OPTIONS: DocumentOptions & SchemaOptions & CreateNodeOptions & ToStringOptions = {
    version: "1.1",
    lineWidth: 0,
    minContentWidth: 0,
    indent: 2,
    indentSeq: false,
    blockQuote: "literal",
    defaultStringType: "PLAIN",
    defaultKeyType: "PLAIN",
};

// Only spaces, tabs and newlines: `yaml` writes these as a literal block whose first line is read
// back as indentation, so the text changes. Double quotes keep them.
const BLANK_WITH_SPACE = /^(?=.*[ \t])[ \t\n]+$/s;

function toYaml(doc: Record<string, unknown>, forceDoubleQuotes: ReadonlySet<string>): string {
    const document = new Document(doc, YAML_OPTIONS);
    visit(document, {
        Scalar(_key, node) {
            if (typeof node.value === "string" && (BLANK_WITH_SPACE.test(node.value) || forceDoubleQuotes.has(node.value))) {
                node.type = Scalar.QUOTE_DOUBLE;
            }
        },
    });
    return document.toString(YAML_OPTIONS);
}

/** Parse user-data as coreos-cloudinit's YAML 1.1 would type it. */
export function parseUserData(userData: string): unknown {
    return parse(userData, { version: "1.1" });
}

interface Difference {
    readonly path: (string | number)[];
    readonly expected: unknown;
    readonly actual: unknown;
}

/** Where `actual` is not exactly `expected`, strings compared byte for byte. */
function differences(expected: unknown, actual: unknown, path: (string | number)[] = []): Difference[] {
    if (Array.isArray(expected)) {
        if (!Array.isArray(actual) || actual.length !== expected.length) return [{ path, expected, actual }];
        return expected.flatMap((e, i) => differences(e, actual[i], [...path, i]));
    }
    if (expected !== null && typeof expected === "object") {
        if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return [{ path, expected, actual }];
        const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])];
        return keys.flatMap((k) =>
            differences((expected as Record<string, unknown>)[k], (actual as Record<string, unknown>)[k], [...path, k]),
        );
    }
    return Object.is(expected, actual) ? [] : [{ path, expected, actual }];
}

/** Serialise as `#cloud-config` YAML. Any string `yaml` would not read back exactly is double-quoted instead. */
export function serializeCloudConfig(doc: Record<string, unknown>): string {
    const first = toYaml(doc, new Set());
    const broken = differences(doc, parseUserData(first)).flatMap((d) => (typeof d.expected === "string" ? [d.expected] : []));
    return CLOUD_CONFIG_HEADER + (broken.length === 0 ? first : toYaml(doc, new Set(broken)));
}

function formatPath(path: readonly (string | number)[]): string {
    return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** The first place two strings differ, for a message a person can act on. */
function describeMismatch(expected: unknown, actual: unknown): string {
    if (typeof expected !== "string" || typeof actual !== "string") {
        return `expected ${JSON.stringify(expected)?.slice(0, 60)}, read back ${JSON.stringify(actual)?.slice(0, 60)}`;
    }
    let i = 0;
    while (i < expected.length && expected[i] === actual[i]) i++;
    return `differs from character ${i}: expected ${JSON.stringify(expected.slice(i, i + 20))}, read back ${JSON.stringify(actual.slice(i, i + 20))}`;
}

/** Does the document read back exactly as built? Each difference names the unit or file it is in. */
export function roundTripProblems(doc: Record<string, unknown>, userData: string): Problem[] {
    let parsed: unknown;
    try {
        parsed = parseUserData(userData);
    } catch (e) {
        return [
            {
                code: "USER_DATA_ROUND_TRIP",
                where: "user-data",
                field: "(document)",
                message: `does not parse back: ${(e as Error).message}`,
                fix: "report this as a renderer bug",
            },
        ];
    }
    return differences(doc, parsed).map((d) => {
        const [section, index, ...rest] = d.path;
        let where = "user-data";
        let field = formatPath(d.path);
        if (section === "coreos" && index === "units" && typeof rest[0] === "number") {
            const unit = (doc["coreos"] as { units: { name: string }[] }).units[rest[0]];
            where = unit?.name ?? where;
            field = formatPath(rest.slice(1)) || field;
        } else if (section === "write_files" && typeof index === "number") {
            where = (doc["write_files"] as { path: string }[])[index]?.path ?? where;
            field = formatPath(rest) || field;
        }
        return {
            code: "USER_DATA_ROUND_TRIP",
            where,
            field,
            message: `does not survive the YAML round trip: ${describeMismatch(d.expected, d.actual)}`,
            fix: "remove control or line-separator characters from the text, or report this as a renderer bug",
        };
    });
}

export interface RenderedHost {
    /** Units in start order. */
    readonly units: readonly RenderedUnit[];
    /** The cloud-config document, as coreos-cloudinit reads it (after any gunzip). */
    readonly userData: string;
    /** What EC2 receives: the document itself, or its gzip when the document does not fit. */
    readonly received: RenderedUserData;
}

/** The cloud-config document for host content, checked: round trip and coreos-cloudinit's rules. Its size is checked by {@link cloudConfigUserData}. */
export function renderCloudConfig(content: HostContent): string {
    const doc = cloudConfigObject(content, content.units);
    const userData = serializeCloudConfig(doc);
    throwIfProblems([...roundTripProblems(doc, userData), ...validateCloudConfig(userData)], "the rendered user-data");
    return userData;
}

/** A gzip'd document that still does not fit: say how far off it is, and what fits any host. */
export function compressedSizeProblems(document: Buffer, compressed: Buffer): Problem[] {
    if (compressed.length <= USER_DATA_LIMIT) return [];
    return [
        {
            code: "USER_DATA_TOO_LARGE_COMPRESSED",
            where: "user-data",
            field: "size",
            message:
                `the cloud-config is ${document.length} bytes, and ${compressed.length} bytes gzip'd, still over EC2's limit of ` +
                `${USER_DATA_LIMIT} bytes (by ${compressed.length - USER_DATA_LIMIT})`,
            fix:
                "set coreos-containers:userDataFormat to ignition: the user-data becomes a small stub and the host fetches its " +
                "full config from the artifact bucket, whatever its size (or move large files into the artifact, or run fewer containers here)",
        },
    ];
}

/**
 * What EC2 receives for host content in cloud-config: the document as text when it fits EC2's
 * limit, else its deterministic gzip through `userDataBase64`. Only when needed, because a plain
 * document stays readable in the EC2 console and in `pulumi preview`, and because compressing
 * every document would change the user-data of every existing stack, replacing hosts for nothing.
 * The gzip is validated as coreos-cloudinit sees it (gunzipped first). Throws a ValidationError.
 */
export function cloudConfigUserData(content: HostContent): RenderedUserData {
    const document = Buffer.from(renderCloudConfig(content), "utf8");
    if (document.length <= USER_DATA_LIMIT) return { format: "cloud-config", bytes: document, encoding: "text", uploads: [] };
    const compressed = deterministicGzip(document);
    throwIfProblems(
        [...validateCloudConfig(decompressIfGzip(compressed).toString("utf8")), ...compressedSizeProblems(document, compressed)],
        "the rendered user-data",
    );
    return { format: "cloud-config", bytes: compressed, encoding: "base64", uploads: [] };
}

/** Validate a host definition, render it and check the document. Throws a ValidationError listing every problem. */
export function renderHost(host: HostDefinition, files: FileChecks): RenderedHost {
    const content = renderHostContent(host, files);
    const received = cloudConfigUserData(content);
    return { units: content.units, userData: decompressIfGzip(received.bytes).toString("utf8"), received };
}
