// Stack config as the stack files write it, and what differs between two revisions.
// Pure: takes the files' text, never reads them, never decrypts anything.
import { isPlainObject } from "../../units/values";
import { stackFileConfig } from "../stackFiles";
import { ValueChange, deepEqual, diffValues } from "./values";

export interface ConfigEntry {
    readonly value: unknown;
    /** The stack file marks it `secure:` (anywhere inside it): its value is never shown. */
    readonly secret: boolean;
    /** `stack`: set in Pulumi.<stack>.yaml; `default`: Pulumi.yaml's default. */
    readonly source: "stack" | "default";
}

/** Full key (`project:key`, `aws:region`) → entry. */
export type ConfigView = Readonly<Record<string, ConfigEntry>>;

/** A value that is, or contains, Pulumi's `{ secure: <ciphertext> }`. */
export function containsSecure(v: unknown): boolean {
    if (Array.isArray(v)) return v.some(containsSecure);
    if (!isPlainObject(v)) return false;
    if ("secure" in v && Object.keys(v).length === 1) return true;
    return Object.values(v).some(containsSecure);
}

/** Every ciphertext in a value, so a summary can be checked (and scrubbed) for them. */
export function secureTexts(v: unknown): string[] {
    if (Array.isArray(v)) return v.flatMap(secureTexts);
    if (!isPlainObject(v)) return [];
    if ("secure" in v && Object.keys(v).length === 1) return typeof v["secure"] === "string" ? [v["secure"]] : [];
    return Object.values(v).flatMap(secureTexts);
}

/**
 * The config a stack runs with, as `scripts/offline.ts` assembles it: Pulumi.yaml's defaults, then
 * the stack file over them. `stackYaml` undefined: the stack has no file in this revision.
 */
export function readConfigView(projectYaml: string, stackYaml: string | undefined): ConfigView {
    const out: Record<string, ConfigEntry> = {};
    for (const [key, { value, source }] of Object.entries(stackFileConfig(projectYaml, stackYaml))) {
        out[key] = { value, secret: source === "stack" && containsSecure(value), source };
    }
    return out;
}

export interface ConfigChange {
    readonly key: string;
    readonly kind: "added" | "removed" | "changed";
    readonly secret: boolean;
    /** For a non-secret key: the leaves that differ (`kibana.env.FOO`); empty for a secret one. */
    readonly changes: readonly ValueChange[];
    /**
     * For a secret key: the paths inside it whose ciphertext was added, removed or changed, e.g.
     * `grafana-admin` for `coreos-containers:secrets.grafana-admin` (paths are YAML keys, never values).
     */
    readonly secretPaths?: readonly { readonly path: string; readonly kind: "added" | "removed" | "changed" }[];
}

/** Which entries of a secret map differ, by name only: `{ secure: … }` leaves are compared as opaque text. */
function secretPaths(before: unknown, after: unknown): NonNullable<ConfigChange["secretPaths"]> {
    const entries = (v: unknown): Record<string, unknown> => (isPlainObject(v) && !isSecureLeaf(v) ? v : {});
    const [b, h] = [entries(before), entries(after)];
    return [...new Set([...Object.keys(b), ...Object.keys(h)])]
        .sort()
        .filter((k) => !(k in b && k in h && deepEqual(b[k], h[k])))
        .map((path) => ({ path, kind: !(path in b) ? ("added" as const) : !(path in h) ? ("removed" as const) : ("changed" as const) }));
}

function isSecureLeaf(v: Record<string, unknown>): boolean {
    return "secure" in v && Object.keys(v).length === 1;
}

/** Keys whose effective value differs, sorted. A secret key's values never leave this function. */
export function configChanges(base: ConfigView, head: ConfigView): ConfigChange[] {
    const keys = [...new Set([...Object.keys(base), ...Object.keys(head)])].sort();
    const out: ConfigChange[] = [];
    for (const key of keys) {
        const b = base[key];
        const h = head[key];
        if (b && h && deepEqual(b.value, h.value)) continue;
        const secret = (b?.secret ?? false) || (h?.secret ?? false);
        const kind = !b ? "added" : !h ? "removed" : "changed";
        out.push({
            key,
            kind,
            secret,
            changes: secret ? [] : diffValues(b?.value, h?.value),
            ...(secret ? { secretPaths: secretPaths(b?.value, h?.value) } : {}),
        });
    }
    return out;
}

/** The effective value of a string key, e.g. `coreos-containers:artifactDir`. */
export function configString(view: ConfigView, key: string, fallback: string): string {
    const v = view[key]?.value;
    return typeof v === "string" ? v : fallback;
}
