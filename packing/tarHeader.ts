// Tar headers with fixed metadata: ustar, plus a pax extended header when a name or size does not
// fit. Pure: the same entry always encodes to the same bytes.

export const BLOCK = 512;

/** Largest size the 11-digit octal ustar field holds: 8 GiB - 1. */
const USTAR_MAX_SIZE = 0o77777777777;

export type TarEntryType = "file" | "directory";

export interface TarEntry {
    /** Archive path, `/`-separated; a directory ends with `/`, e.g. `images/` or `images/app.tar`. */
    readonly name: string;
    readonly type: TarEntryType;
    /** Permission bits, e.g. 0o644. */
    readonly mode: number;
    readonly size: number;
}

/** Bytes of padding after `size` bytes of data, up to the next block. */
export function padding(size: number): number {
    return (BLOCK - (size % BLOCK)) % BLOCK;
}

/**
 * The header blocks for one entry: a single ustar header, or a pax header, its records and the
 * ustar header when the name is longer than ustar can split or the size is 8 GiB or more.
 * uid/gid 0, empty user and group names, mtime 0.
 */
export function encodeHeader(entry: TarEntry): Buffer {
    const name = Buffer.from(entry.name, "utf8");
    const split = splitUstarName(name);
    const records: [string, string][] = [];
    if (!split) records.push(["path", entry.name]);
    if (entry.size > USTAR_MAX_SIZE) records.push(["size", String(entry.size)]);
    const typeflag = entry.type === "directory" ? "5" : "0";
    const main = ustarBlock({
        name: split?.name ?? truncateUtf8(name, 100),
        prefix: split?.prefix ?? Buffer.alloc(0),
        mode: entry.mode,
        size: entry.size > USTAR_MAX_SIZE ? 0 : entry.size,
        typeflag,
    });
    if (records.length === 0) return main;
    const pax = Buffer.from(records.map(([k, v]) => paxRecord(k, v)).join(""), "utf8");
    const paxHeader = ustarBlock({
        name: Buffer.from("PaxHeader", "ascii"),
        prefix: Buffer.alloc(0),
        mode: 0o644,
        size: pax.length,
        typeflag: "x",
    });
    return Buffer.concat([paxHeader, pax, Buffer.alloc(padding(pax.length)), main]);
}

/** `"<len> key=value\n"`, where `len` counts the whole record including its own digits. */
export function paxRecord(key: string, value: string): string {
    const body = ` ${key}=${value}\n`;
    const bodyBytes = Buffer.byteLength(body, "utf8");
    let len = bodyBytes + String(bodyBytes).length;
    if (String(len).length + bodyBytes !== len) len = bodyBytes + String(len).length;
    return `${len}${body}`;
}

/** The two end-of-archive zero blocks. */
export const END_OF_ARCHIVE_BYTES = 2 * BLOCK;

interface UstarFields {
    readonly name: Buffer;
    readonly prefix: Buffer;
    readonly mode: number;
    readonly size: number;
    readonly typeflag: string;
}

function ustarBlock(f: UstarFields): Buffer {
    const b = Buffer.alloc(BLOCK);
    f.name.copy(b, 0);
    octal(b, 100, 8, f.mode);
    octal(b, 108, 8, 0); // uid
    octal(b, 116, 8, 0); // gid
    octal(b, 124, 12, f.size);
    octal(b, 136, 12, 0); // mtime
    b.write(f.typeflag, 156, "ascii");
    b.write("ustar\u000000", 257, "ascii"); // magic "ustar\0" and version "00"
    // uname (265) and gname (297) stay empty.
    octal(b, 329, 8, 0); // devmajor
    octal(b, 337, 8, 0); // devminor
    f.prefix.copy(b, 345);
    b.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
    let sum = 0;
    for (const byte of b) sum += byte;
    b.write(sum.toString(8).padStart(6, "0") + "\u0000 ", 148, "ascii");
    return b;
}

/** Zero-padded octal in `width - 1` digits and a NUL. */
function octal(b: Buffer, offset: number, width: number, value: number): void {
    b.write(value.toString(8).padStart(width - 1, "0") + "\u0000", offset, "ascii");
}

/** ustar keeps a name of up to 100 bytes, or a prefix of up to 155 bytes, a `/`, and a name of up to 100. */
function splitUstarName(name: Buffer): { name: Buffer; prefix: Buffer } | undefined {
    if (name.length <= 100) return { name, prefix: Buffer.alloc(0) };
    if (name.length > 256) return undefined;
    // Split at the last `/` that leaves a name of at most 100 bytes and a prefix of at most 155.
    for (let i = name.length - 1; i > 0; i--) {
        if (name[i] !== 0x2f) continue;
        const rest = name.length - i - 1;
        if (rest > 100) break;
        if (rest === 0) continue; // a directory's trailing slash cannot be the split
        if (i <= 155) return { prefix: name.subarray(0, i), name: name.subarray(i + 1) };
    }
    return undefined;
}

function truncateUtf8(b: Buffer, max: number): Buffer {
    if (b.length <= max) return b;
    let end = max;
    while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // do not cut a multi-byte character
    return b.subarray(0, end);
}
