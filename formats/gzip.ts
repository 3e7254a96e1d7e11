// Deterministic gzip for user-data, and the reader's side of it: coreos-cloudinit gunzips a whole
// user-data that starts with gzip's magic bytes before it reads it (flatcar/coreos-cloudinit
// coreos-cloudinit.go `decompressIfGzip`, called on every datasource's user-data, EC2's included).
//
// The same document must give the same bytes on every machine, or a plan would show a change that
// isn't one. gzip's header (RFC 1952 §2.3) carries a file name, a modification time, the level's
// XFL flag and the compressing OS; Node's zlib (deflateInit2 with a gzip wrapper, no gz_header set)
// writes no name and MTIME 0, XFL 2 for level 9, and zlib's build-time OS_CODE, which is 3 (Unix) on
// Linux and macOS but 10 on Windows builds (zlib zutil.h). The OS byte is set to 3 here, and the
// header is checked, so any build writes the same header. The deflate stream itself is zlib's: a
// Node.js upgrade that changed zlib's output would change the bytes, which test/gzip.test.ts pins.
import { gunzipSync, gzipSync } from "node:zlib";

/** gzip's first two bytes (RFC 1952 ID1, ID2); what coreos-cloudinit looks for. */
export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

/** The compression level: the smallest output, since what counts is the size EC2 receives. */
export const GZIP_LEVEL = 9;

/** RFC 1952 OS value for Unix. */
const OS_UNIX = 3;

/**
 * The header every user-data gzip starts with: ID1 ID2, CM 8 (deflate), FLG 0 (no name, comment,
 * extra field or header CRC), MTIME 0, XFL 2 (level 9), OS 3.
 */
export const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, OS_UNIX]);

/** gzip `data` with fixed settings and a fixed header: the same input gives the same bytes. */
export function deterministicGzip(data: Buffer): Buffer {
    const out = gzipSync(data, { level: GZIP_LEVEL });
    // Only the OS byte may differ between zlib builds; no header CRC covers it (FLG.FHCRC is 0).
    out[9] = OS_UNIX;
    // Stryker disable ConditionalExpression,BlockStatement,StringLiteral: a guard against another zlib build; the zlib a test runs with writes this header, so no test reaches it (test/userdata.test.ts pins the bytes instead)
    if (!out.subarray(0, GZIP_HEADER.length).equals(GZIP_HEADER)) {
        throw new Error(
            `this Node.js zlib writes the gzip header ${out.subarray(0, 10).toString("hex")}, not ${GZIP_HEADER.toString("hex")}`,
        );
    }
    // Stryker restore ConditionalExpression,BlockStatement,StringLiteral
    return out;
}

/** Does `bytes` start with gzip's magic bytes (coreos-cloudinit's test)? */
export function isGzip(bytes: Buffer): boolean {
    return bytes.subarray(0, 2).equals(GZIP_MAGIC);
}

/** The bytes coreos-cloudinit reads: gunzipped when they start with gzip's magic bytes, else as they are. */
export function decompressIfGzip(bytes: Buffer): Buffer {
    return isGzip(bytes) ? gunzipSync(bytes) : bytes;
}
