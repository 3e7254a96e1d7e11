// The parts of a rendered cloud-config document a reader cares about (the offline plan, the PR
// diff), read back from the YAML as the host reads it. Pure: no Pulumi, no I/O.
import { isPlainObject } from "../../units/values";
import type { UserDataView } from "../types";
import { parseUserData } from "./render";

export type { DocFile, DocUnit } from "../types";

/** A cloud-config document read back: the format's view without its name. */
export type CloudConfigView = Omit<UserDataView, "format" | "delivery">;

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
