// The parts of a rendered cloud-config document a reader cares about (the offline plan, the PR
// diff), read back from the YAML as the host reads it. Pure: no Pulumi, no I/O.
import { parseUserData } from "./cloudconfig";
import { isPlainObject } from "./values";

export interface DocUnit {
    readonly name: string;
    readonly content: string;
    /** Everything else on the entry (`command`, `enable`, …), for "start → stop"-style changes. */
    readonly settings: Readonly<Record<string, unknown>>;
}

export interface DocFile {
    readonly path: string;
    readonly content: string;
    /** `permissions`, `owner`, … */
    readonly settings: Readonly<Record<string, unknown>>;
}

export interface CloudConfigView {
    /** Units in document (start) order. */
    readonly units: readonly DocUnit[];
    readonly files: readonly DocFile[];
    /** Top-level keys other than `coreos.units` and `write_files`, e.g. `ssh_authorized_keys`. */
    readonly other: Readonly<Record<string, unknown>>;
}

function without(entry: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
    return Object.fromEntries(Object.entries(entry).filter(([k]) => !keys.includes(k)));
}

/** Parse `#cloud-config` user-data. Throws when it is not a YAML map. */
export function readCloudConfig(userData: string): CloudConfigView {
    // Read as the host reads it: coreos-cloudinit types YAML 1.1.
    const doc: unknown = parseUserData(userData);
    if (!isPlainObject(doc)) throw new Error("the user-data is not a cloud-config map");
    const coreos = isPlainObject(doc["coreos"]) ? doc["coreos"] : {};
    const rawUnits = Array.isArray(coreos["units"]) ? coreos["units"] : [];
    const rawFiles = Array.isArray(doc["write_files"]) ? doc["write_files"] : [];
    const units = rawUnits.filter(isPlainObject).map((u) => ({
        name: String(u["name"]),
        content: typeof u["content"] === "string" ? u["content"] : "",
        settings: without(u, "name", "content"),
    }));
    const files = rawFiles.filter(isPlainObject).map((f) => ({
        path: String(f["path"]),
        content: typeof f["content"] === "string" ? f["content"] : "",
        settings: without(f, "path", "content"),
    }));
    const other: Record<string, unknown> = without(doc, "write_files", "coreos");
    const coreosRest = without(coreos, "units");
    if (Object.keys(coreosRest).length > 0) other["coreos"] = coreosRest;
    return { units, files, other };
}
