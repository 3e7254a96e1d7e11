// Host content → an Ignition config (spec 3.3.0, what Butane's `flatcar` 1.0.0 variant emits), as
// plain objects. Spec: coreos/ignition docs/configuration-v3_3.md.
//
// Debian's Ignition 2.14 (the tests' binary) accepts 3.3.0 as stable and 3.4.0 only as
// experimental; Flatcar's current Ignition reads 3.0 to 3.5. Nothing used here is newer than 3.3.0.
import * as crypto from "node:crypto";
import type { WriteFile } from "../../units/model";
import type { HostContent } from "../../units/render";
import type { RenderedUnit } from "../../units/systemd";
import { dataUrl } from "./dataurl";
import { Json, canonicalJson } from "./json";

export const IGNITION_VERSION = "3.3.0";

/** Flatcar's SSH user (uid/gid 500 on Flatcar). */
export const CORE_USER = "core";

/** A user or group: Ignition takes one of `id` and `name`. */
export type IgnitionOwner = { readonly id: number } | { readonly name: string };

export interface IgnitionFile {
    readonly path: string;
    /** Decimal in JSON: 0755 is 493. */
    readonly mode: number;
    /** As cloud-config's write_files does: the file is written whatever is there. */
    readonly overwrite: true;
    readonly user: IgnitionOwner;
    readonly group: IgnitionOwner;
    readonly contents: { readonly source: string };
}

export interface IgnitionUnit {
    readonly name: string;
    /** Ignition writes `enable <name>` into its preset file; systemd enables the unit at first boot. */
    readonly enabled: boolean;
    readonly contents: string;
}

/** The full config: what the host runs. */
export interface IgnitionConfig {
    readonly ignition: { readonly version: string };
    readonly passwd?: { readonly users: readonly { readonly name: string; readonly sshAuthorizedKeys: readonly string[] }[] };
    readonly storage?: { readonly files: readonly IgnitionFile[] };
    readonly systemd: { readonly units: readonly IgnitionUnit[] };
}

/** The user-data: a stub that replaces itself with the full config, fetched and verified by hash. */
export interface IgnitionStub {
    readonly ignition: {
        readonly version: string;
        readonly config: { readonly replace: { readonly source: string; readonly verification: { readonly hash: string } } };
    };
}

/** `root` → `{ id: 0 }`, a number → `{ id }`, else `{ name }`: ids need nothing in the root, names need /etc/passwd and /etc/group. */
export function ignitionOwner(part: string): IgnitionOwner {
    if (part === "root") return { id: 0 };
    return /^\d+$/.test(part) ? { id: Number(part) } : { name: part };
}

export function ignitionFile(f: WriteFile): IgnitionFile {
    const [user = "root", group = "root"] = (f.owner ?? "root:root").split(":");
    return {
        path: f.path,
        mode: parseInt(f.permissions, 8),
        overwrite: true,
        user: ignitionOwner(user),
        group: ignitionOwner(group),
        contents: { source: dataUrl(f.content) },
    };
}

/**
 * The full config for host content: every unit enabled (systemd starts them in their dependency
 * order at boot; Ignition runs no commands), the files with their modes and owners, and the SSH keys
 * of `core`. Unit text is the same as the cloud-config path's, byte for byte.
 */
export function ignitionConfig(host: Pick<HostContent, "files" | "sshAuthorizedKeys">, units: readonly RenderedUnit[]): IgnitionConfig {
    return {
        ignition: { version: IGNITION_VERSION },
        ...(host.sshAuthorizedKeys.length > 0
            ? { passwd: { users: [{ name: CORE_USER, sshAuthorizedKeys: [...host.sshAuthorizedKeys] }] } }
            : {}),
        ...(host.files.length > 0 ? { storage: { files: host.files.map(ignitionFile) } } : {}),
        systemd: { units: units.map((u) => ({ name: u.name, enabled: true, contents: u.content })) },
    };
}

/** `ignition/<sha256>.json`: the key changes exactly when the config's bytes do. */
export function ignitionConfigKey(configBytes: Buffer): string {
    return `ignition/${crypto.createHash("sha256").update(configBytes).digest("hex")}.json`;
}

/** The stub naming `s3://bucket/key`, verified by the SHA-512 of the config's bytes. */
export function ignitionStub(bucket: string, key: string, configBytes: Buffer): IgnitionStub {
    return {
        ignition: {
            version: IGNITION_VERSION,
            config: {
                replace: {
                    source: `s3://${bucket}/${key}`,
                    verification: { hash: `sha512-${crypto.createHash("sha512").update(configBytes).digest("hex")}` },
                },
            },
        },
    };
}

/** A config or stub as canonical JSON bytes. */
export function ignitionBytes(config: IgnitionConfig | IgnitionStub): Buffer {
    return Buffer.from(canonicalJson(config as unknown as Json), "utf8");
}
