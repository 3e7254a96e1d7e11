// One chunk of the tar stream → one complete gzip member with a fixed header. A `.tar.gz` is the
// concatenation of such members; gzip, GNU tar and zlib's gunzip read them as one stream.
import * as crypto from "node:crypto";
import * as zlib from "node:zlib";

const GZIP_HEADER_BYTES = 10;
const GZIP_TRAILER_BYTES = 8;
/** RFC 1952 OS byte: 3 = Unix, what `gzip -n` writes on Linux, whatever platform packs. */
const OS_UNIX = 3;

/**
 * Compress one chunk on libuv's thread pool, so several chunks compress at once. The header is the
 * one `gzip -n` writes: no file name, MTIME 0, XFL by level, OS 3.
 */
export function compressMember(chunk: Buffer, level: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
        // One output buffer big enough for the whole member: the default 16 KiB would cost a
        // round trip to the main thread per 16 KiB of output.
        const chunkSize = Math.max(64 * 1024, chunk.length + (chunk.length >> 8) + 1024);
        zlib.gzip(chunk, { level, chunkSize }, (err, member) => {
            if (err) reject(err);
            else resolve(normaliseHeader(member, level));
        });
    });
}

/** Synchronous {@link compressMember}, for small inputs and the compressor fingerprint. */
export function compressMemberSync(chunk: Buffer, level: number): Buffer {
    return normaliseHeader(zlib.gzipSync(chunk, { level }), level);
}

function normaliseHeader(member: Buffer, level: number): Buffer {
    // zlib writes 1f 8b 08, FLG 0, MTIME 0 when given no header; only XFL and OS can vary by build.
    if (member[0] !== 0x1f || member[1] !== 0x8b || member[2] !== 8 || member[3] !== 0 || member.readUInt32LE(4) !== 0) {
        throw new Error(`zlib wrote an unexpected gzip header: ${member.subarray(0, GZIP_HEADER_BYTES).toString("hex")}`);
    }
    member[8] = level === 9 ? 2 : level === 1 ? 4 : 0;
    member[9] = OS_UNIX;
    return member;
}

/**
 * Cheap check that a cached member is whole and is for a chunk of this length: the fixed header
 * and the ISIZE trailer. (The member's name is the hash of the chunk it compresses, and members
 * are written to a temporary name and renamed, so this only guards against a damaged cache.)
 */
export function looksLikeMember(member: Buffer, chunkLength: number, level: number): boolean {
    return (
        member.length >= GZIP_HEADER_BYTES + GZIP_TRAILER_BYTES &&
        member[0] === 0x1f &&
        member[1] === 0x8b &&
        member[2] === 8 &&
        member[3] === 0 &&
        member.readUInt32LE(4) === 0 &&
        member[8] === (level === 9 ? 2 : level === 1 ? 4 : 0) &&
        member[9] === OS_UNIX &&
        member.readUInt32LE(member.length - 4) === chunkLength % 2 ** 32
    );
}

const fingerprints = new Map<number, string>();

/**
 * A fingerprint of what this process's deflate writes at `level`: the hash of a fixed sample's
 * compressed bytes. zlib builds differ in their output (Node bundles Chromium's zlib, whose match
 * hashing depends on the build and on CPU features), so cached members are keyed by it: a member
 * is only reused by a compressor that would have written the very same bytes.
 */
export function deflateFingerprint(level: number): string {
    let fp = fingerprints.get(level);
    if (!fp) {
        fp = crypto.createHash("sha256").update(compressMemberSync(fingerprintSample(), level)).digest("hex").slice(0, 32);
        fingerprints.set(level, fp);
    }
    return fp;
}

/** 256 KiB of text-like and binary-like bytes from a fixed LCG: long enough to exercise lazy matching and hash chains. */
// Stryker disable all: the sample's bytes are an arbitrary choice with no contract; any fixed sample
// keys the cache. What is (fixed per process, differing by level) is tested in test/packBytes.test.ts.
// And deflateFingerprint memoises it per process, so after the dry run no mutant here would run.
function fingerprintSample(): Buffer {
    const b = Buffer.alloc(256 * 1024);
    const words = [
        "unit",
        "docker",
        "run",
        "--name",
        "image",
        "restart",
        "always",
        "ExecStart",
        "=",
        "/usr/bin",
        "\n",
        "0x",
        "volume",
        "port",
    ];
    let x = 0x12345678;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    let i = 0;
    while (i < b.length) {
        if (next() >>> 28 < 10) {
            const w = words[next() % words.length]!;
            i += b.write(w + " ", i, "latin1");
        } else {
            b[i++] = next() >>> 24;
        }
    }
    return b;
}
// Stryker restore all
