// The seam between what the host gets (units/render.ts) and the bytes EC2 hands it: one interface per
// user-data format, in the shape pulumi-eks gives its user-data renderers. Nothing outside formats/
// knows a format's syntax; scripts/ and index.ts see only this interface.
import type { WriteFile } from "../units/model";
import type { Problem } from "../units/problems";
import type { HostContent } from "../units/render";

/** The user-data formats a stack can choose (`coreos-containers:userDataFormat`). */
export const USER_DATA_FORMATS = ["cloud-config", "ignition"] as const;
export type UserDataFormatName = (typeof USER_DATA_FORMATS)[number];

/** EC2 refuses user-data above this many bytes, counted before base64. */
export const USER_DATA_LIMIT = 16384;

/** Where a format may put objects the host fetches at boot (the artifact's bucket). */
export interface UploadTarget {
    /** S3 bucket name, e.g. `coreos-containers-1a2b3c`. */
    readonly bucket: string;
    /** The bucket's region, e.g. `eu-west-1`. */
    readonly region: string;
}

/** An object a format needs next to the artifact, e.g. Ignition's full config. */
export interface UploadObject {
    /**
     * A stable name for the object, e.g. `ignition-config`: the Pulumi resource is named after it, so a
     * new config replaces the object rather than adding one, and the program can create the resource
     * before the bucket's name (and so the key) is known.
     */
    readonly name: string;
    /** Object key, content-addressed, e.g. `ignition/<sha256>.json`. */
    readonly key: string;
    readonly content: string;
}

/** What a format renders: exactly what EC2 receives, and what the host fetches besides. */
export interface RenderedUserData {
    readonly format: UserDataFormatName;
    /** The bytes EC2 receives. */
    readonly bytes: Buffer;
    /**
     * How the instance takes them: `text` through `userData` (UTF-8, readable in the console and in
     * `pulumi preview`), `base64` through `userDataBase64` (binary, e.g. a gzip document).
     */
    readonly encoding: "text" | "base64";
    /** Objects to upload next to the artifact before the host boots; empty for most formats. */
    readonly uploads: readonly UploadObject[];
}

/** A unit as a user-data carries it, read back. */
export interface DocUnit {
    readonly name: string;
    readonly content: string;
    /** Everything else on the entry (`command`, `enable`, …), for "start → stop"-style changes. */
    readonly settings: Readonly<Record<string, unknown>>;
}

/** A file as a user-data carries it, read back. */
export interface DocFile {
    readonly path: string;
    readonly content: string;
    /** `permissions`, `owner`, … */
    readonly settings: Readonly<Record<string, unknown>>;
}

/**
 * How the document reaches the host, for summaries: as the bytes EC2 hands over (`inline`), gzip'd
 * into them (`gzip`, with the readable document), or fetched from an object the bytes name
 * (`fetched`: an Ignition stub that replaces itself with its full config).
 */
export type UserDataDelivery =
    | { readonly kind: "inline" }
    | { readonly kind: "gzip"; readonly document: string }
    | { readonly kind: "fetched"; readonly source: string; readonly key: string; readonly documentBytes: number };

/** A user-data read back, for the plan summary and the PR diff. */
export interface UserDataView {
    readonly format: UserDataFormatName;
    readonly delivery: UserDataDelivery;
    /** Units in document (start) order. */
    readonly units: readonly DocUnit[];
    readonly files: readonly DocFile[];
    /** Everything else the document sets, e.g. `ssh_authorized_keys`. */
    readonly other: Readonly<Record<string, unknown>>;
}

/** One user-data format: render, read back, validate. */
export interface UserDataFormat {
    readonly name: UserDataFormatName;
    /** The user-data for this host content. Throws a ValidationError listing every problem (size included). */
    render(content: HostContent, target: UploadTarget): RenderedUserData;
    /**
     * Read user-data back. `uploads` are the objects the user-data points to (for a format that
     * fetches its real config), object key → content. Throws when the bytes are not this format.
     */
    read(bytes: Buffer, uploads?: ReadonlyMap<string, string>): UserDataView;
    /** What the host's own validator would report for these bytes; empty when clean. */
    validate(bytes: Buffer): Problem[];
}

export type { HostContent, WriteFile };
