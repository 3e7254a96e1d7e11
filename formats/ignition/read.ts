// An Ignition user-data read back for the plan summary and the PR diff: the stub names its full
// config, which the caller passes in (the plan holds it as the upload object's content).
import { isPlainObject } from "../../units/values";
import type { DocFile, DocUnit, UserDataView } from "../types";
import { dataUrlText } from "./dataurl";

function without(entry: Record<string, unknown>, ...keys: string[]): Record<string, unknown> {
    return Object.fromEntries(Object.entries(entry).filter(([k]) => !keys.includes(k)));
}

function parseObject(text: string, what: string): Record<string, unknown> {
    let doc: unknown;
    try {
        doc = JSON.parse(text);
    } catch (e) {
        throw new Error(`${what} is not JSON: ${(e as Error).message}`, { cause: e });
    }
    if (!isPlainObject(doc) || !isPlainObject(doc["ignition"]) || typeof doc["ignition"]["version"] !== "string")
        throw new Error(`${what} is not an Ignition config (no ignition.version)`);
    return doc;
}

/** Does this text look like an Ignition config (coreos-cloudinit's test, config.IsIgnitionConfig: an `ignition.version`)? */
export function isIgnitionConfig(text: string): boolean {
    try {
        parseObject(text, "");
        return true;
    } catch {
        return false;
    }
}

/** The `s3://bucket/key` a stub replaces itself with, if it does. */
export function replaceSource(stub: Record<string, unknown>): string | undefined {
    const ignition = stub["ignition"] as Record<string, unknown>;
    const config = isPlainObject(ignition["config"]) ? ignition["config"] : {};
    const replace = isPlainObject(config["replace"]) ? config["replace"] : {};
    return typeof replace["source"] === "string" ? replace["source"] : undefined;
}

/** A full config's units, files and the rest. */
function view(config: Record<string, unknown>): Omit<UserDataView, "format" | "delivery"> {
    const systemd = isPlainObject(config["systemd"]) ? config["systemd"] : {};
    const storage = isPlainObject(config["storage"]) ? config["storage"] : {};
    const units: DocUnit[] = (Array.isArray(systemd["units"]) ? systemd["units"] : []).filter(isPlainObject).map((u) => ({
        name: String(u["name"]),
        content: typeof u["contents"] === "string" ? u["contents"] : "",
        settings: without(u, "name", "contents"),
    }));
    const files: DocFile[] = (Array.isArray(storage["files"]) ? storage["files"] : []).filter(isPlainObject).map((f) => {
        const contents = isPlainObject(f["contents"]) ? f["contents"] : {};
        return {
            path: String(f["path"]),
            content: typeof contents["source"] === "string" ? dataUrlText(contents["source"]) : "",
            settings: without(f, "path", "contents"),
        };
    });
    const other = without(config, "systemd", "storage", "ignition");
    const systemdRest = without(systemd, "units");
    const storageRest = without(storage, "files");
    if (Object.keys(systemdRest).length) other["systemd"] = systemdRest;
    if (Object.keys(storageRest).length) other["storage"] = storageRest;
    return { units, files, other };
}

/**
 * Read an Ignition user-data. A stub that replaces itself is read through the config it names,
 * found in `uploads` (key → text) by the key of its `s3://bucket/key` source. Throws when the bytes
 * are not an Ignition config or the named config is not among the uploads.
 */
export function readIgnition(bytes: Buffer, uploads: ReadonlyMap<string, string> = new Map()): UserDataView {
    const stub = parseObject(bytes.toString("utf8"), "the user-data");
    const source = replaceSource(stub);
    if (source === undefined) return { format: "ignition", delivery: { kind: "inline" }, ...view(stub) };
    const key = /^s3:\/\/[^/]+\/(.+)$/.exec(source)?.[1];
    if (key === undefined) throw new Error(`the Ignition stub replaces itself with ${source}, which is not an s3:// URL of this project`);
    const text = uploads.get(key);
    if (text === undefined) throw new Error(`the Ignition stub names ${source}, but the plan uploads no object with the key ${key}`);
    const full = parseObject(text, `the Ignition config ${key}`);
    return {
        format: "ignition",
        delivery: { kind: "fetched", source, key, documentBytes: Buffer.byteLength(text, "utf8") },
        ...view(full),
    };
}
