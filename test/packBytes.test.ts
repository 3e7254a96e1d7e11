// The packer's bytes, checked in-process (so mutation testing sees them): tar headers as GNU tar
// reads them, gzip members as RFC 1952 and Node's zlib define them, and how refusals read.
// RFC 1952 §2.3: MTIME 0 = no time stamp; XFL 2 = maximum compression (level 9), 4 = fastest
// (level 1); ISIZE = input size modulo 2^32. POSIX pax (IEEE 1003.1 `pax` ustar/pax formats):
// the name field holds 100 bytes, the prefix 155, joined with a `/`; a record's length counts itself.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import * as zlib from "node:zlib";
import { PackError } from "../packing/errors";
import { compressMember, compressMemberSync, deflateFingerprint, looksLikeMember } from "../packing/gzipMember";
import { BLOCK, END_OF_ARCHIVE_BYTES, TarEntry, encodeHeader, padding, paxRecord } from "../packing/tarHeader";

const GiB = 1024 ** 3;

/** The text of a NUL-terminated (or full) header field. */
function field(block: Buffer, offset: number, width: number): Buffer {
    const f = block.subarray(offset, offset + width);
    const nul = f.indexOf(0);
    return nul === -1 ? f : f.subarray(0, nul);
}

interface Ustar {
    readonly name: string;
    readonly nameBytes: Buffer;
    readonly prefix: string;
    readonly linkname: string;
    readonly size: string;
    readonly typeflag: string;
}

function ustar(block: Buffer): Ustar {
    return {
        name: field(block, 0, 100).toString("utf8"),
        nameBytes: field(block, 0, 100),
        prefix: field(block, 345, 155).toString("utf8"),
        linkname: field(block, 157, 100).toString("utf8"),
        size: field(block, 124, 12).toString("ascii"),
        typeflag: String.fromCharCode(block[156]!),
    };
}

/** An uncompressed tar of the entries (files filled with `a`), as the packer lays one out. */
function tarOf(entries: readonly TarEntry[]): Buffer {
    const parts: Buffer[] = [];
    for (const e of entries) {
        parts.push(encodeHeader(e));
        if (e.type === "file") parts.push(Buffer.alloc(e.size, "a"), Buffer.alloc(padding(e.size)));
    }
    parts.push(Buffer.alloc(END_OF_ARCHIVE_BYTES));
    return Buffer.concat(parts);
}

interface Listed {
    readonly mode: string;
    readonly owner: string;
    readonly size: number;
    readonly time: string;
    readonly name: string;
}

/** `tar -tv` of an archive given on stdin, in UTC. */
function gnuTarList(archive: Buffer): Listed[] {
    const out = execFileSync("tar", ["--quoting-style=literal", "--full-time", "-tvf", "-"], {
        input: archive,
        encoding: "utf8",
        env: { ...process.env, TZ: "UTC", LC_ALL: "C.UTF-8" },
    });
    return out
        .trimEnd()
        .split("\n")
        .map((l) => {
            const m = /^(\S+) (\S+)\s+(\d+) (\S+ \S+) (.+)$/.exec(l);
            assert.ok(m, `unexpected tar -tv line: ${l}`);
            return { mode: m[1]!, owner: m[2]!, size: Number(m[3]), time: m[4]!, name: m[5]! };
        });
}

/** Text whose deflate output differs from level to level. */
function compressible(size: number): Buffer {
    const b = Buffer.alloc(size);
    let x = 7;
    for (let i = 0; i < size; i++) {
        x = (Math.imul(x, 1103515245) + 12345) >>> 0;
        b[i] = x >>> 29 === 0 ? x >>> 24 : "ExecStart=/usr/bin/docker run --name app\n".charCodeAt(i % 41);
    }
    return b;
}

describe("pack bytes", () => {
    describe("tar headers, as GNU tar reads them", () => {
        const d60 = "d".repeat(60);
        // Names that fit ustar: name field alone, or prefix + `/` + name. Each: [archive path, expected prefix, expected name].
        const splits: [string, string, string][] = [
            [`a/${"b".repeat(98)}`, "", `a/${"b".repeat(98)}`], // exactly 100 bytes: the name field alone
            [`${"d".repeat(50)}/${"n".repeat(100)}`, "d".repeat(50), "n".repeat(100)], // a name part of exactly 100
            [`${"p".repeat(100)}/${"q".repeat(54)}/${"n".repeat(50)}`, `${"p".repeat(100)}/${"q".repeat(54)}`, "n".repeat(50)], // prefix of exactly 155
            [`${"p".repeat(155)}/${"n".repeat(100)}`, "p".repeat(155), "n".repeat(100)], // 256 bytes, the most ustar holds
            [`${"p".repeat(100)}/${"q".repeat(60)}/x`, "p".repeat(100), `${"q".repeat(60)}/x`], // the last slash leaves a 161-byte prefix: the one before it
            [`${d60}/${"e".repeat(60)}/`, d60, `${"e".repeat(60)}/`], // a directory: its trailing slash is not the split
        ];
        // Names ustar cannot hold: a pax path record, and the ustar name cut to 100 bytes.
        const paxNames = [
            `a/${"b".repeat(150)}`, // the only slash leaves a 150-byte name
            `${"p".repeat(160)}/${"n".repeat(50)}`, // the only slash leaves a 160-byte prefix
            `${"p".repeat(155)}/${"n".repeat(101)}`, // 257 bytes
            `x${"é".repeat(60)}`, // 121 bytes; byte 100 is inside an é
        ];
        let entries: TarEntry[];
        let listed: Listed[];
        before(() => {
            entries = [
                ...splits.map(([name]): TarEntry => ({ name, type: name.endsWith("/") ? "directory" : "file", mode: 0o644, size: 3 })),
                ...paxNames.map((name): TarEntry => ({ name, type: "file", mode: 0o755, size: 700 })),
            ].map((e) => (e.type === "directory" ? { ...e, mode: 0o755, size: 0 } : e));
            listed = gnuTarList(tarOf(entries));
        });

        it("GNU tar lists every name whole, owned by 0/0, with mtime 0, its mode and size", () => {
            assert.deepEqual(
                listed,
                entries.map((e) => ({
                    mode: e.type === "directory" ? "drwxr-xr-x" : e.mode === 0o755 ? "-rwxr-xr-x" : "-rw-r--r--",
                    owner: "0/0",
                    size: e.size,
                    time: "1970-01-01 00:00:00",
                    name: e.name,
                })),
            );
        });

        it("keeps a name of up to 256 bytes in ustar: whole when it fits 100 bytes, else split at the last `/` leaving ≤ 155 + ≤ 100 bytes", () => {
            for (const [name, prefix, rest] of splits) {
                const h = encodeHeader({ name, type: name.endsWith("/") ? "directory" : "file", mode: 0o644, size: 3 });
                assert.equal(h.length, BLOCK, `${name}: one ustar block, no pax header`);
                const u = ustar(h);
                assert.deepEqual({ prefix: u.prefix, name: u.name, linkname: u.linkname }, { prefix, name: rest, linkname: "" }, name);
            }
        });

        it("gives a name ustar cannot hold a pax path record, and the ustar name its longest whole-character start of ≤ 100 bytes", () => {
            for (const name of paxNames) {
                const h = encodeHeader({ name, type: "file", mode: 0o755, size: 700 });
                const record = paxRecord("path", name);
                assert.equal(h.length, BLOCK + BLOCK * Math.ceil(Buffer.byteLength(record) / BLOCK) + BLOCK, name);
                assert.equal(ustar(h).typeflag, "x", `${name}: pax extended header first`);
                assert.equal(h.subarray(BLOCK, BLOCK + Buffer.byteLength(record)).toString("utf8"), record, name);
                const main = ustar(h.subarray(h.length - BLOCK));
                const bytes = Buffer.from(name, "utf8");
                let cut = 100;
                while (!Buffer.from(bytes.subarray(0, cut).toString("utf8"), "utf8").equals(bytes.subarray(0, cut))) cut--;
                assert.deepEqual(main.nameBytes, bytes.subarray(0, cut), `${name}: ustar name is a valid UTF-8 start`);
                assert.equal(main.prefix, "", name);
                assert.equal(main.linkname, "", `${name}: nothing of the name spills past the name field`);
            }
        });

        it("names the pax extended header block PaxHeader: fixed, not GNU tar's PaxHeaders.<pid>, so the bytes never vary", () => {
            const h = encodeHeader({ name: paxNames[0]!, type: "file", mode: 0o644, size: 1 });
            assert.equal(field(h, 0, 100).toString("ascii"), "PaxHeader");
        });

        it("keeps a size of 8 GiB - 1 in the ustar size field, and gives 8 GiB a pax size record", () => {
            const max = 8 * GiB - 1;
            const fits = encodeHeader({ name: "images/big.tar", type: "file", mode: 0o644, size: max });
            assert.equal(fits.length, BLOCK, "no pax header");
            assert.equal(ustar(fits).size, "77777777777");
            const over = encodeHeader({ name: "images/big.tar", type: "file", mode: 0o644, size: 8 * GiB });
            assert.equal(over.length, 3 * BLOCK);
            assert.equal(
                over
                    .subarray(BLOCK, BLOCK + 32)
                    .toString("utf8")
                    .split("\n")[0],
                paxRecord("size", String(8 * GiB)).trimEnd(),
            );
            assert.equal(ustar(over.subarray(2 * BLOCK)).size, "00000000000");
        });

        it("puts a long name's path and a huge size in one pax header, record after record", () => {
            const name = `${"n".repeat(300)}.tar`;
            const size = 9 * GiB;
            const h = encodeHeader({ name, type: "file", mode: 0o644, size });
            const body = paxRecord("path", name) + paxRecord("size", String(size));
            assert.equal(ustar(h).size, Buffer.byteLength(body).toString(8).padStart(11, "0"));
            assert.equal(h.subarray(BLOCK, BLOCK + Buffer.byteLength(body)).toString("utf8"), body);
            assert.ok(h.subarray(BLOCK + Buffer.byteLength(body), h.length - BLOCK).equals(Buffer.alloc(padding(Buffer.byteLength(body)))));
        });

        it("counts a pax record's own length digits, for every record length across 10 and 100 and 1000", () => {
            for (let n = 0; n < 1100; n++) {
                for (const value of ["x".repeat(n), "é".repeat(n >> 1)]) {
                    const rec = paxRecord("path", value);
                    assert.equal(
                        Number(rec.slice(0, rec.indexOf(" "))),
                        Buffer.byteLength(rec),
                        `value of ${Buffer.byteLength(value)} bytes`,
                    );
                    assert.ok(rec.endsWith(` path=${value}\n`));
                }
            }
        });
    });

    describe("gzip members (packing/gzipMember.ts)", () => {
        let data: Buffer;
        before(() => {
            data = compressible(200 * 1024);
        });

        const xfl = (level: number) => (level === 9 ? 2 : level === 1 ? 4 : 0);

        it("the deflate fingerprint that keys the member cache is 32 hex digits, the same on every call, and differs between levels 1 and 9", () => {
            const fast = deflateFingerprint(1);
            const best = deflateFingerprint(9);
            assert.match(fast, /^[0-9a-f]{32}$/);
            assert.match(best, /^[0-9a-f]{32}$/);
            assert.equal(deflateFingerprint(1), fast);
            assert.notEqual(fast, best);
        });

        for (const level of [1, 6, 9]) {
            it(`at level ${level}: gzip -n's header (no name, MTIME 0, XFL ${xfl(level)}, OS 3) over exactly zlib's level-${level} deflate stream`, async () => {
                const zlibMember = zlib.gzipSync(data, { level });
                for (const member of [await compressMember(data, level), compressMemberSync(data, level)]) {
                    assert.deepEqual([...member.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl(level), 3]);
                    assert.ok(member.subarray(10).equals(zlibMember.subarray(10)), "deflate stream and trailer are zlib's at this level");
                    assert.ok(zlib.gunzipSync(member).equals(data));
                }
            });
        }

        it("levels give different deflate streams (so the level checks above can fail)", () => {
            assert.ok(!zlib.gzipSync(data, { level: 1 }).equals(zlib.gzipSync(data, { level: 6 })));
        });

        it("takes a whole member for its chunk length at its level, and nothing else", () => {
            for (const level of [1, 6, 9]) {
                const member = compressMemberSync(data, level);
                assert.equal(looksLikeMember(member, data.length, level), true, `level ${level}`);
                assert.equal(looksLikeMember(member, data.length + 1, level), false, `level ${level}, another length`);
                for (const other of [1, 6, 9].filter((l) => xfl(l) !== xfl(level))) {
                    assert.equal(looksLikeMember(member, data.length, other), false, `level ${level} member read as level ${other}`);
                }
                for (let at = 0; at < 10; at++) {
                    const damaged = Buffer.from(member);
                    damaged[at] = damaged[at]! ^ 0x10;
                    assert.equal(looksLikeMember(damaged, data.length, level), false, `level ${level}, header byte ${at} changed`);
                }
            }
        });

        it("refuses, without throwing, a buffer too short for a header and a trailer, even when its last 4 bytes read as the chunk length", () => {
            const member = compressMemberSync(data, 6);
            for (let n = 0; n < 18; n++) {
                const cut = member.subarray(0, n);
                const claimed = n >= 4 ? cut.readUInt32LE(n - 4) : 0;
                assert.equal(looksLikeMember(cut, claimed, 6), false, `first ${n} bytes`);
            }
        });

        describe("with a zlib that misbehaves", () => {
            // Fault injection: the module reads node:zlib's exports at call time, so replacing them
            // here reaches it. Restored after each test.
            const zlibExports = createRequire(__filename)("node:zlib") as typeof zlib;
            const realGzip = zlibExports.gzip;
            const realGzipSync = zlibExports.gzipSync;
            afterEach(() => {
                zlibExports.gzip = realGzip;
                zlibExports.gzipSync = realGzipSync;
            });

            it("refuses a member whose header gzip -n would not write (magic, method, flags or MTIME), naming the header", () => {
                const good = realGzipSync(Buffer.from("x"));
                const headers: [string, number, number][] = [
                    ["magic 1", 0, 0x1e],
                    ["magic 2", 1, 0x8c],
                    ["method", 2, 7],
                    ["FNAME flag", 3, 8],
                    ["MTIME", 4, 1],
                    ["MTIME high byte", 7, 0x60],
                ];
                for (const [what, at, value] of headers) {
                    const bad = Buffer.from(good);
                    bad[at] = value;
                    zlibExports.gzipSync = () => Buffer.from(bad);
                    assert.throws(
                        () => compressMemberSync(Buffer.from("x"), 6),
                        { message: `zlib wrote an unexpected gzip header: ${bad.subarray(0, 10).toString("hex")}` },
                        what,
                    );
                }
            });

            it("rejects with zlib's error when compression fails", async () => {
                const failure = new Error("deflate failed");
                zlibExports.gzip = ((_buf: unknown, _opts: unknown, cb: (err: Error | null, out?: Buffer) => void) => {
                    setImmediate(() => cb(failure));
                }) as unknown as typeof zlib.gzip;
                await assert.rejects(compressMember(Buffer.from("x"), 6), (err) => err === failure);
            });
        });
    });

    describe("refusals (packing/errors.ts)", () => {
        it("one problem reads `cannot pack [path]: message [CODE]`, with the code on the error", () => {
            const e = new PackError([{ code: "PACK_PARENT_PATH", archivePath: "../etc/passwd", message: "has a .. component" }]);
            assert.equal(e.message, "cannot pack [../etc/passwd]: has a .. component [PACK_PARENT_PATH]");
            assert.equal(e.name, "PackError");
            assert.equal(e.code, "PACK_PARENT_PATH");
        });

        it("several problems read as a count and one line per entry, in the order given; the code is the first one's", () => {
            const e = new PackError([
                { code: "PACK_DUPLICATE_PATH", archivePath: "a.conf", message: "is given twice" },
                { code: "PACK_ABSOLUTE_PATH", archivePath: "/b", message: "is absolute" },
            ]);
            assert.equal(
                e.message,
                "cannot pack 2 entries:\n  - [a.conf]: is given twice [PACK_DUPLICATE_PATH]\n  - [/b]: is absolute [PACK_ABSOLUTE_PATH]",
            );
            assert.equal(e.name, "PackError");
            assert.equal(e.code, "PACK_DUPLICATE_PATH");
        });
    });
});
