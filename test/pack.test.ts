// The artifact packer, checked against real GNU tar and gzip: reproducible bytes, fixed metadata,
// multi-member gzip, a cache that never trusts anything but content hashes, and clear refusals.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as tarStream from "tar-stream";
import { MemberCache } from "../packing/cache";
import { PackEntry, PackError, PackOptions, listFiles, pack, pruneOutputs } from "../packing/pack";
import { planLayout, readChunk } from "../packing/layout";
import { encodeHeader, paxRecord } from "../packing/tarHeader";
import { HashPool } from "../packing/hashPool";
import { tempDirs } from "./helpers/tempDirs";

const KiB = 1024;
const isRoot = process.getuid?.() === 0;

const fresh = tempDirs("pack-test-");

interface FileSpec {
    readonly content: string | Buffer;
    readonly mode?: number;
}

function writeTree(root: string, files: Record<string, FileSpec>): void {
    for (const [rel, spec] of Object.entries(files)) {
        const p = path.join(root, rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, spec.content);
        fs.chmodSync(p, spec.mode ?? 0o644);
    }
}

function entriesOf(root: string): PackEntry[] {
    return listFiles(root).map((rel) => ({ archivePath: rel, sourcePath: path.join(root, rel) }));
}

/** Deterministic bytes that compress about 2×: text runs between random runs. */
function mixedBytes(size: number, seed: number): Buffer {
    const random = crypto.createCipheriv("aes-128-ctr", Buffer.alloc(16, seed), Buffer.alloc(16)).update(Buffer.alloc(size));
    const text = Buffer.from("ExecStart=/usr/bin/docker run --rm --name app image:1.2.3\n".repeat(Math.ceil(size / 58)));
    for (let at = 0; at < size; at += 8 * KiB) if ((at / (8 * KiB)) % 2 === 0) text.copy(random, at, at, Math.min(size, at + 8 * KiB));
    return random;
}

const SMALL_TREE: Record<string, FileSpec> = {
    "nginx/nginx.conf": { content: "server { listen 80; }\n" },
    "log/fluent.conf": { content: "<source>\n  @type forward\n</source>\n" },
    "bin/start.sh": { content: "#!/bin/sh\nexec app\n", mode: 0o755 },
    "prometheus/rules/alerts.yml": { content: "groups: []\n" },
    README: { content: "" },
    "images/app.tar": { content: mixedBytes(300 * KiB, 1) },
};

/** SHA-256 of the uncompressed tar stream of SMALL_TREE: the tar format (not zlib's output) must not drift. */
const GOLDEN_TAR_SHA256 = "4a527e18c3a4a11d0affab2d7ab689b4dc0fb5f6f6f8d5d0e622c499836b5544";

const tar = (...args: string[]) => execFileSync("tar", args, { encoding: "utf8", env: { ...process.env, TZ: "UTC", LC_ALL: "C" } });

function unpack(file: string): string {
    const dest = fresh("unpacked");
    tar("-xzf", file, "-C", dest);
    return dest;
}

/** Walk concatenated gzip members: each one's header, and how many there are. */
function gzipMembers(file: Buffer): Buffer[] {
    const headers: Buffer[] = [];
    let at = 0;
    while (at < file.length) {
        const header = file.subarray(at, at + 10);
        assert.equal(header.readUInt16BE(0), 0x1f8b, `member ${headers.length} starts with the gzip magic`);
        assert.equal(header[3]! & 0x1f, 0, `member ${headers.length} has no FNAME/FEXTRA/FCOMMENT/FHCRC`);
        headers.push(header);
        const { engine } = zlib.inflateRawSync(file.subarray(at + 10), { info: true }) as unknown as { engine: { bytesWritten: number } };
        at += 10 + engine.bytesWritten + 8;
    }
    return headers;
}

async function packTree(root: string, options: PackOptions = {}, outDir = fresh("out")) {
    return pack(entriesOf(root), outDir, { cacheDir: null, ...options });
}

/** Flip a byte inside a file, keeping its name and size. */
function damage(file: string): void {
    const b = fs.readFileSync(file);
    b[b.length >> 1] = b[b.length >> 1]! ^ 0xff;
    fs.writeFileSync(file, b);
}

const sha256Of = (file: string) => crypto.createHash("sha256").update(fs.readFileSync(file)).digest("hex");

/** Archive name → permission bits, read from the tar headers. */
async function tarModes(file: string): Promise<Record<string, number>> {
    const extract = tarStream.extract();
    extract.end(zlib.gunzipSync(fs.readFileSync(file)));
    const modes: Record<string, number> = {};
    for await (const entry of extract) {
        modes[entry.header.name] = entry.header.mode!;
        entry.resume();
    }
    return modes;
}

describe("pack", () => {
    describe("reproducible bytes", () => {
        it("gives the same SHA-256 for the same tree at different paths, times, owners and permission bits", async () => {
            const a = fresh("a");
            const b = fresh("somewhere/else/b");
            writeTree(a, SMALL_TREE);
            writeTree(b, {
                ...SMALL_TREE,
                "nginx/nginx.conf": { content: SMALL_TREE["nginx/nginx.conf"]!.content, mode: 0o600 },
                "bin/start.sh": { content: SMALL_TREE["bin/start.sh"]!.content, mode: 0o700 },
            });
            for (const rel of listFiles(b)) {
                fs.utimesSync(path.join(b, rel), new Date("2021-03-04T05:06:07Z"), new Date("2022-07-08T09:10:11Z"));
                if (isRoot) fs.chownSync(path.join(b, rel), 1234, 5678);
            }
            fs.chmodSync(path.join(b, "nginx"), 0o700);
            const ra = await packTree(a);
            const rb = await packTree(b);
            assert.equal(rb.sha256, ra.sha256);
            assert.equal(rb.bytes, ra.bytes);
            assert.equal(path.basename(ra.path), `${ra.sha256}.tar.gz`);
            assert.equal(
                crypto.createHash("sha256").update(fs.readFileSync(ra.path)).digest("hex"),
                ra.sha256,
                "the file is named by the SHA-256 of its bytes",
            );
        });

        it("changes the SHA-256 when a file's exec bit changes", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const before = await packTree(a);
            fs.chmodSync(path.join(a, "nginx/nginx.conf"), 0o744);
            assert.notEqual((await packTree(a)).sha256, before.sha256);
        });

        it("gives the same bytes with or without the cache, and at any concurrency", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            // 4 KiB chunks: ~80 distinct chunks, so a cache key that ignored part of a chunk's hash
            // would collide and serve one chunk's member for another.
            const plain = await packTree(a, { chunkBytes: 4 * KiB, concurrency: 1 });
            const cached = await packTree(a, { chunkBytes: 4 * KiB, concurrency: 4, cacheDir: fresh("cache") });
            assert.ok(cached.stats.chunks > 50);
            assert.equal(cached.sha256, plain.sha256);
        });

        it("does not depend on the order of the entries given", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const outDir = fresh("out");
            const sorted = await pack(entriesOf(a), outDir, { cacheDir: null });
            const reversed = await pack(entriesOf(a).reverse(), fresh("out"), { cacheDir: null });
            assert.equal(reversed.sha256, sorted.sha256);
        });
    });

    describe("tar stream format", () => {
        it("is pinned: the uncompressed tar of a fixed tree has a known SHA-256 (bump CACHE_FORMAT when it changes)", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const tarBytes = zlib.gunzipSync(fs.readFileSync((await packTree(a, { chunkBytes: 64 * KiB })).path));
            assert.equal(crypto.createHash("sha256").update(tarBytes).digest("hex"), GOLDEN_TAR_SHA256);
        });
    });

    describe("what GNU tar sees", () => {
        it("lists sorted names, parent directories, uid/gid 0, mtime 1970-01-01 and normalised modes", async () => {
            const a = fresh();
            writeTree(a, {
                ...SMALL_TREE,
                "nginx/nginx.conf": { content: "x", mode: 0o600 },
                "bin/start.sh": { content: "y", mode: 0o710 },
            });
            const r = await packTree(a);
            const lines = tar("--full-time", "-tvzf", r.path).trimEnd().split("\n");
            const rows = lines.map((l) => {
                const m = /^(\S+) (\S+)\s+(\d+) (\S+ \S+) (.+)$/.exec(l);
                assert.ok(m, `unexpected tar -tv line: ${l}`);
                return { mode: m[1]!, owner: m[2]!, size: Number(m[3]), time: m[4]!, name: m[5]! };
            });
            const names = rows.map((row) => row.name);
            assert.deepEqual(
                names,
                [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))),
            );
            assert.deepEqual(names, [
                "README",
                "bin/",
                "bin/start.sh",
                "images/",
                "images/app.tar",
                "log/",
                "log/fluent.conf",
                "nginx/",
                "nginx/nginx.conf",
                "prometheus/",
                "prometheus/rules/",
                "prometheus/rules/alerts.yml",
            ]);
            for (const row of rows) {
                assert.equal(row.owner, "0/0", `${row.name} is owned by 0/0 with no user or group name`);
                assert.equal(row.time, "1970-01-01 00:00:00", `${row.name} has mtime 0`);
                const expected = row.name.endsWith("/") ? "drwxr-xr-x" : row.name === "bin/start.sh" ? "-rwxr-xr-x" : "-rw-r--r--";
                assert.equal(row.mode, expected, `${row.name} has a normalised mode`);
            }
        });

        it("packs a file with an exec bit for owner, group or others as 0755, and one with none as 0644", async () => {
            const a = fresh();
            writeTree(a, {
                "group-exec": { content: "g", mode: 0o610 },
                "other-exec": { content: "o", mode: 0o601 },
                "no-exec": { content: "n", mode: 0o640 },
            });
            assert.deepEqual(await tarModes((await packTree(a)).path), { "group-exec": 0o755, "other-exec": 0o755, "no-exec": 0o644 });
        });

        it("unpacks with tar -xzf to exactly the input", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const dest = unpack((await packTree(a)).path);
            assert.deepEqual(listFiles(dest), listFiles(a));
            for (const rel of listFiles(a)) {
                assert.ok(fs.readFileSync(path.join(dest, rel)).equals(fs.readFileSync(path.join(a, rel))), `${rel} has the same content`);
            }
            assert.equal(fs.statSync(path.join(dest, "bin/start.sh")).mode & 0o777, 0o755);
            assert.equal(fs.statSync(path.join(dest, "prometheus/rules")).mode & 0o777, 0o755);
            assert.equal(fs.statSync(path.join(dest, "log/fluent.conf")).mtimeMs, 0);
        });

        it("keeps long and non-ASCII names (ustar prefix and pax path)", async () => {
            const a = fresh();
            const prefixed = `${"d".repeat(90)}/${"e".repeat(40)}/${"f".repeat(90)}.conf`; // 222 bytes: splits into ustar prefix + name
            const paxed = `${"g".repeat(120)}/${"h".repeat(120)}/${"i".repeat(110)}.conf`; // a 110-byte last part: needs pax
            const unicode = "cfg/naïve-日本.yml";
            writeTree(a, { [prefixed]: { content: "1" }, [paxed]: { content: "2" }, [unicode]: { content: "3" } });
            const r = await packTree(a);
            const listed = tar("--quoting-style=literal", "-tzf", r.path).trimEnd().split("\n");
            for (const name of [prefixed, paxed, unicode]) assert.ok(listed.includes(name), `tar lists ${name}`);
            const dest = unpack(r.path);
            assert.equal(fs.readFileSync(path.join(dest, paxed), "utf8"), "2");
            assert.equal(fs.readFileSync(path.join(dest, prefixed), "utf8"), "1");
            assert.equal(fs.readFileSync(path.join(dest, unicode), "utf8"), "3");
        });
    });

    describe("gzip", () => {
        it("writes headers without a file name, with MTIME 0 and OS 3, like gzip -n", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const file = fs.readFileSync((await packTree(a)).path);
            assert.equal(file.subarray(0, 10).toString("hex"), "1f8b0800000000000003");
            for (const level of [1, 9]) {
                const xfl = fs.readFileSync((await packTree(a, { level })).path)[8];
                assert.equal(xfl, level === 9 ? 2 : 4, `XFL at level ${level}`);
            }
        });

        it("writes several members when the tar is larger than a chunk, and they still unpack", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const r = await packTree(a, { chunkBytes: 64 * KiB });
            const headers = gzipMembers(fs.readFileSync(r.path));
            assert.equal(headers.length, r.stats.chunks);
            assert.ok(headers.length >= 5, `expected several members, got ${headers.length}`);
            for (const h of headers) assert.equal(h.toString("hex"), "1f8b0800000000000003");
            execFileSync("gzip", ["-t", r.path]);
            const dest = unpack(r.path);
            assert.ok(fs.readFileSync(path.join(dest, "images/app.tar")).equals(fs.readFileSync(path.join(a, "images/app.tar"))));
        });

        it("starts a large file's data in a member of its own, so a change elsewhere leaves its members alone", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const cacheDir = fresh("cache");
            await packTree(a, { chunkBytes: 64 * KiB, cacheDir });
            fs.writeFileSync(path.join(a, "README"), "now longer than before\n"); // shifts everything after it
            const r = await packTree(a, { chunkBytes: 64 * KiB, cacheDir });
            assert.equal(
                r.stats.cacheMisses,
                1,
                "only the chunk before the image is new; the image's chunks and the tail after it are unchanged",
            );
            assert.equal(r.stats.cacheHits, r.stats.chunks - 1);
        });
    });

    describe("cache", () => {
        it("serves an unchanged re-pack from the cache without assembling the output again", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const options = { chunkBytes: 64 * KiB, cacheDir: fresh("cache") };
            const outDir = fresh("out");
            const cold = await packTree(a, options, outDir);
            assert.equal(cold.stats.cacheHits, 0);
            assert.equal(cold.stats.cacheMisses, cold.stats.chunks);
            assert.equal(cold.stats.output, "written");
            const inode = fs.statSync(cold.path).ino;

            const warm = await packTree(a, options, outDir);
            assert.equal(warm.sha256, cold.sha256);
            assert.equal(warm.stats.cacheHits, warm.stats.chunks);
            assert.equal(warm.stats.cacheMisses, 0);
            assert.equal(warm.stats.output, "reused");
            assert.equal(fs.statSync(warm.path).ino, inode, "the existing output file is not rewritten");

            fs.rmSync(cold.path);
            const reassembled = await packTree(a, options, outDir);
            assert.equal(reassembled.sha256, cold.sha256);
            assert.equal(reassembled.stats.cacheMisses, 0);
            assert.equal(reassembled.stats.output, "written");
        });

        it("changes the SHA-256 when one byte of a large file changes, even with its size and mtime kept", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const image = path.join(a, "images/app.tar");
            const options = { chunkBytes: 64 * KiB, cacheDir: fresh("cache") };
            const outDir = fresh("out");
            const mtime = new Date("2024-01-02T03:04:05Z"); // whole seconds, so it can be set back exactly
            fs.utimesSync(image, mtime, mtime);
            const before = await packTree(a, options, outDir);
            await packTree(a, options, outDir); // warm: every member and the pack record are cached

            const { size } = fs.statSync(image);
            const fd = fs.openSync(image, "r+");
            const old = Buffer.alloc(1);
            fs.readSync(fd, old, 0, 1, 150 * KiB);
            fs.writeSync(fd, Buffer.from([old[0]! ^ 0x01]), 0, 1, 150 * KiB);
            fs.closeSync(fd);
            fs.utimesSync(image, mtime, mtime);
            assert.equal(fs.statSync(image).size, size);
            assert.equal(fs.statSync(image, { bigint: true }).mtimeNs, BigInt(mtime.getTime()) * 1_000_000n);

            const after = await packTree(a, options, outDir);
            assert.notEqual(after.sha256, before.sha256);
            assert.equal(after.stats.cacheMisses, 1, "only the chunk holding the changed byte is compressed again");
            assert.equal(after.stats.cacheHits, after.stats.chunks - 1);
            const dest = unpack(after.path);
            assert.ok(
                fs.readFileSync(path.join(dest, "images/app.tar")).equals(fs.readFileSync(image)),
                "the archive holds the new content",
            );
        });

        it("keeps an existing output of the same name instead of writing it again", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const outDir = fresh("out");
            const first = await packTree(a, {}, outDir);
            const inode = fs.statSync(first.path).ino;
            const again = await packTree(a, { cacheDir: fresh("cache"), verifyExisting: true }, outDir);
            assert.equal(again.stats.output, "kept");
            assert.equal(fs.statSync(again.path).ino, inode);
            assert.deepEqual(
                fs.readdirSync(outDir).filter((f) => f.startsWith(".tmp-")),
                [],
                "no temporary file left behind",
            );
        });

        it("never serves a member compressed at another level: level 5 after level 6 on one cache gives the cold level-5 bytes", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const cacheDir = fresh("cache");
            const six = await packTree(a, { chunkBytes: 64 * KiB, level: 6, cacheDir });
            const five = await packTree(a, { chunkBytes: 64 * KiB, level: 5, cacheDir });
            const coldFive = await packTree(a, { chunkBytes: 64 * KiB, level: 5 });
            assert.notEqual(coldFive.sha256, six.sha256, "levels 5 and 6 compress this tree differently (else this test shows nothing)");
            assert.equal(five.sha256, coldFive.sha256);
        });

        it("never serves a member written by another deflate build (another fingerprint)", async () => {
            const cacheDir = fresh("cache");
            const chunkSha = crypto.createHash("sha256").update("a chunk").digest("hex");
            const written = new MemberCache(cacheDir, 6, "zlib build A");
            await written.writeMember(written.memberKey(chunkSha), Buffer.from("member"));
            assert.equal(await written.hasMember(written.memberKey(chunkSha)), true);
            const other = new MemberCache(cacheDir, 6, "zlib build B");
            assert.equal(await other.hasMember(other.memberKey(chunkSha)), false);
            assert.notEqual(other.packKey([written.memberKey(chunkSha)]), written.packKey([written.memberKey(chunkSha)]));
        });

        it("never serves a member written at another level, even when the two levels' fingerprints agree", async () => {
            // The fingerprint hashes one sample's output: two levels could give that sample the same bytes
            // and still differ on other chunks, so the level itself is part of the key.
            const cacheDir = fresh("cache");
            const chunkSha = crypto.createHash("sha256").update("a chunk").digest("hex");
            const six = new MemberCache(cacheDir, 6, "one zlib build");
            await six.writeMember(six.memberKey(chunkSha), Buffer.from("member"));
            const five = new MemberCache(cacheDir, 5, "one zlib build");
            assert.equal(await five.hasMember(five.memberKey(chunkSha)), false);
            assert.notEqual(five.packKey([six.memberKey(chunkSha)]), six.packKey([six.memberKey(chunkSha)]));
        });

        it("with verifyExisting, replaces an existing output of the right name and size whose bytes are damaged", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            for (const cacheDir of [null, fresh("cache")]) {
                // Without a cache the damaged file would be "kept"; with a warm cache, "reused".
                const outDir = fresh("out");
                const first = await packTree(a, { chunkBytes: 64 * KiB, cacheDir }, outDir);
                damage(first.path);
                const again = await packTree(a, { chunkBytes: 64 * KiB, cacheDir, verifyExisting: true }, outDir);
                assert.equal(again.sha256, first.sha256);
                assert.equal(again.stats.output, "written", `cache ${cacheDir ? "on" : "off"}`);
                assert.equal(
                    sha256Of(again.path),
                    again.sha256,
                    `cache ${cacheDir ? "on" : "off"}: the file is named by the SHA-256 of its bytes again`,
                );
            }
        });

        it("without verifyExisting, trusts an existing output of the right name and size (the trade-off: no re-hash; the host checks the SHA-256 after download)", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const outDir = fresh("out");
            const first = await packTree(a, {}, outDir);
            damage(first.path);
            const again = await packTree(a, {}, outDir);
            assert.equal(again.stats.output, "kept");
            assert.notEqual(sha256Of(again.path), again.sha256, "the damaged file stays");
        });

        it("rebuilds a cached member that vanished or was damaged", async () => {
            const a = fresh();
            writeTree(a, SMALL_TREE);
            const cacheDir = fresh("cache");
            const options = { chunkBytes: 64 * KiB, cacheDir };
            const outDir = fresh("out");
            const cold = await packTree(a, options, outDir);
            fs.rmSync(cold.path);
            const members = fs.readdirSync(path.join(cacheDir, "members")).sort();
            fs.rmSync(path.join(cacheDir, "members", members[0]!));
            fs.truncateSync(path.join(cacheDir, "members", members[1]!), 20);
            const r = await packTree(a, options, outDir);
            assert.equal(r.sha256, cold.sha256);
            assert.equal(r.stats.rebuilt, 1, "the vanished member was hashed as missing, the damaged one was found on reading");
            assert.equal(r.stats.cacheMisses, 1);
        });

        it("keeps only the members of the most recent packs", async () => {
            const a = fresh();
            const b = fresh();
            writeTree(a, SMALL_TREE);
            writeTree(b, { ...SMALL_TREE, "images/app.tar": { content: mixedBytes(300 * KiB, 2) } });
            const cacheDir = fresh("cache");
            const outDir = fresh("out");
            await packTree(a, { chunkBytes: 64 * KiB, cacheDir, keepPacks: 2 }, outDir);
            const rb = await packTree(b, { chunkBytes: 64 * KiB, cacheDir, keepPacks: 2 }, outDir);
            assert.equal(rb.stats.evictedMembers, 0, "two packs fit");
            assert.equal((await packTree(a, { chunkBytes: 64 * KiB, cacheDir, keepPacks: 2 }, outDir)).stats.cacheMisses, 0);

            const rb1 = await packTree(b, { chunkBytes: 64 * KiB, cacheDir, keepPacks: 1 }, outDir);
            assert.ok(rb1.stats.evictedMembers > 0, "a's own members go when only one pack is kept");
            const packs = fs.readdirSync(path.join(cacheDir, "packs")).filter((f) => f.endsWith(".json"));
            assert.equal(packs.length, 1);
            const ra = await packTree(a, { chunkBytes: 64 * KiB, cacheDir, keepPacks: 1 }, fresh("out"));
            assert.ok(ra.stats.cacheMisses > 0, "a is compressed again");
        });
    });

    describe("member cache files (packing/cache.ts)", () => {
        const DAY_MS = 24 * 3600 * 1000;
        const hex = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
        const record = (members: string[]) => ({ sha256: hex(members.join()), bytes: members.length, members });
        /** A cache with one member per pack, each pack record used at the given time (ms ago). */
        async function cacheWith(
            packs: Record<string, number>,
        ): Promise<{ cache: MemberCache; dir: string; members: Record<string, string> }> {
            const dir = fresh("cache");
            const cache = new MemberCache(dir, 6, "fp");
            const members: Record<string, string> = {};
            const now = Date.now();
            for (const [name, ago] of Object.entries(packs)) {
                const m = cache.memberKey(hex(`chunk of ${name}`));
                members[name] = m;
                await cache.writeMember(m, Buffer.from(name));
                await cache.writePack(name, record([m]));
                const at = new Date(now - ago);
                fs.utimesSync(path.join(dir, "packs", `${name}.json`), at, at);
            }
            return { cache, dir, members };
        }
        const listing = (dir: string, sub: string) => fs.readdirSync(path.join(dir, sub)).sort();

        it("keeps the most recently used records and their members, always the current pack's, and deletes the rest", async () => {
            const { cache, dir, members } = await cacheWith({ old: 3000, newer: 2000, newest: 1000, current: 9000 });
            const evicted = cache.evict(2, "current", [members["current"]!]);
            assert.equal(evicted, 2);
            assert.deepEqual(listing(dir, "packs"), ["current.json", "newest.json"]);
            assert.deepEqual(listing(dir, "members"), [`${members["current"]}.gz`, `${members["newest"]}.gz`].sort());
        });

        it("a record it touches counts as just used", async () => {
            const { cache, dir, members } = await cacheWith({ touched: 5000, newer: 1000, current: 2000 });
            cache.touchPack("touched");
            cache.touchPack("gone"); // a record removed meanwhile: no error
            cache.evict(2, "current", [members["current"]!]);
            assert.deepEqual(listing(dir, "packs"), ["current.json", "touched.json"]);
        });

        it("breaks a tie in time by key, so eviction does not depend on the directory's order", async () => {
            for (const names of [
                ["a", "b"],
                ["b", "a"],
            ]) {
                const { cache, dir, members } = await cacheWith({ [names[0]!]: 1000, [names[1]!]: 1000, current: 5000 });
                cache.evict(2, "current", [members["current"]!]);
                assert.deepEqual(listing(dir, "packs"), ["a.json", "current.json"]);
            }
        });

        it("leaves files it did not write alone, and removes only temporary files older than a day", async () => {
            const { cache, dir, members } = await cacheWith({ current: 1000 });
            const foreign = [path.join(dir, "members", "notes.txt"), path.join(dir, "packs", "notes.txt")];
            for (const f of foreign) fs.writeFileSync(f, "mine");
            const temps = { stale: ".tmp-1-stale", fresh: ".tmp-1-fresh" };
            for (const sub of ["members", "packs"]) {
                fs.writeFileSync(path.join(dir, sub, temps.stale), "half");
                fs.writeFileSync(path.join(dir, sub, temps.fresh), "half");
                const old = new Date(Date.now() - DAY_MS - 60_000);
                fs.utimesSync(path.join(dir, sub, temps.stale), old, old);
            }
            assert.equal(cache.evict(1, "current", [members["current"]!]), 0);
            assert.deepEqual(listing(dir, "members"), [temps.fresh, `${members["current"]}.gz`, "notes.txt"].sort());
            assert.deepEqual(listing(dir, "packs"), [temps.fresh, "current.json", "notes.txt"].sort());
        });

        it("a file in the packs folder that is not a record takes no place among the kept packs", async () => {
            const { cache, dir, members } = await cacheWith({ older: 2000, current: 3000 });
            fs.writeFileSync(path.join(dir, "packs", "zz-newest.txt"), "not a record");
            cache.evict(2, "current", [members["current"]!]);
            assert.deepEqual(listing(dir, "packs"), ["current.json", "older.json", "zz-newest.txt"]);
        });

        it("reads back a pack record, and takes anything else under its name as a miss", async () => {
            const dir = fresh("cache");
            const cache = new MemberCache(dir, 6, "fp");
            const good = record([hex("m")]);
            await cache.writePack("good", good);
            assert.deepEqual(cache.readPack("good"), good);
            const bad: Record<string, string> = {
                "no-sha": JSON.stringify({ bytes: 1, members: [] }),
                "no-bytes": JSON.stringify({ sha256: "x", members: [] }),
                "no-members": JSON.stringify({ sha256: "x", bytes: 1 }),
                "members-not-a-list": JSON.stringify({ sha256: "x", bytes: 1, members: "m" }),
                "not-json": "{",
            };
            for (const [name, text] of Object.entries(bad)) {
                fs.writeFileSync(path.join(dir, "packs", `${name}.json`), text);
                assert.equal(cache.readPack(name), undefined, name);
            }
            assert.equal(cache.readPack("absent"), undefined);
        });

        it("a member it cannot write is an error, and leaves no temporary file", async () => {
            const dir = fresh("cache");
            const cache = new MemberCache(dir, 6, "fp");
            fs.mkdirSync(path.join(dir, "members", `${hex("k")}.gz`)); // a folder where the member would go
            await assert.rejects(cache.writeMember(hex("k"), Buffer.from("member")));
            assert.deepEqual(listing(dir, "members"), [`${hex("k")}.gz`]);
        });
    });

    describe("refusals", () => {
        const source = () => {
            const d = fresh();
            writeTree(d, { "f.txt": { content: "x" } });
            return path.join(d, "f.txt");
        };

        async function refusal(entries: PackEntry[]): Promise<PackError> {
            try {
                await pack(entries, fresh("out"), { cacheDir: null });
            } catch (err) {
                assert.ok(err instanceof PackError, `expected a PackError, got ${String(err)}`);
                return err;
            }
            assert.fail("pack did not refuse");
        }

        const cases: [string, (src: string) => PackEntry[], string, string][] = [
            [
                "a duplicate archive path",
                (s) => [
                    { archivePath: "a/x", sourcePath: s },
                    { archivePath: "a/x", sourcePath: s },
                ],
                "PACK_DUPLICATE_PATH",
                "[a/x]",
            ],
            ["an absolute archive path", (s) => [{ archivePath: "/etc/passwd", sourcePath: s }], "PACK_ABSOLUTE_PATH", "[/etc/passwd]"],
            ["a `..` archive path", (s) => [{ archivePath: "a/../../x", sourcePath: s }], "PACK_PARENT_PATH", "[a/../../x]"],
            ["an empty component", (s) => [{ archivePath: "a//x", sourcePath: s }], "PACK_INVALID_PATH", "[a//x]"],
            [
                "a file that other entries need as a directory",
                (s) => [
                    { archivePath: "a", sourcePath: s },
                    { archivePath: "a/x", sourcePath: s },
                ],
                "PACK_PATH_CONFLICT",
                "[a]",
            ],
            ["a directory as source", (s) => [{ archivePath: "d", sourcePath: path.dirname(s) }], "PACK_NOT_A_FILE", "[d]"],
            ["a missing source", (s) => [{ archivePath: "m", sourcePath: `${s}.missing` }], "PACK_MISSING_SOURCE", "[m]"],
        ];
        for (const [what, entries, code, named] of cases) {
            it(`refuses ${what}, naming the entry`, async () => {
                const err = await refusal(entries(source()));
                assert.equal(err.code, code);
                assert.ok(err.message.includes(named), `message names ${named}: ${err.message}`);
            });
        }

        it("refuses a fifo as source", async () => {
            const fifo = path.join(fresh(), "fifo");
            // coreutils' mkfifo (scripts/test-tools.sh): a failure here fails the test, never skips it.
            execFileSync("mkfifo", [fifo]);
            const err = await refusal([{ archivePath: "p", sourcePath: fifo }]);
            assert.equal(err.code, "PACK_NOT_A_FILE");
        });

        it("reports every bad entry at once", async () => {
            const s = source();
            const err = await refusal([
                { archivePath: "/abs", sourcePath: s },
                { archivePath: "../up", sourcePath: s },
                { archivePath: "ok", sourcePath: s },
                { archivePath: "ok", sourcePath: s },
            ]);
            assert.deepEqual(err.problems.map((p) => p.code).sort(), ["PACK_ABSOLUTE_PATH", "PACK_DUPLICATE_PATH", "PACK_PARENT_PATH"]);
        });

        it("stops when a source changes between planning and reading", () => {
            const d = fresh();
            writeTree(d, { "grows.log": { content: "a".repeat(1000) } });
            const layout = planLayout(entriesOf(d), 64 * KiB);
            fs.appendFileSync(path.join(d, "grows.log"), "more");
            assert.throws(
                () => readChunk(layout, layout.chunks[0]!),
                (err: unknown) =>
                    err instanceof PackError && err.code === "PACK_CHANGED_WHILE_PACKING" && err.message.includes("[grows.log]"),
            );
        });
    });

    describe("hash workers", () => {
        it("hash chunks in shared memory on worker threads, as crypto does", async () => {
            const pool = new HashPool();
            try {
                pool.grow(2);
                assert.equal(pool.size, 2);
                const shared = Buffer.from(new SharedArrayBuffer(256 * KiB));
                mixedBytes(256 * KiB, 3).copy(shared);
                const views = [shared.subarray(0, 1000), shared.subarray(7, 200 * KiB), shared.subarray(100 * KiB), shared.subarray(0, 0)];
                const hexes = await Promise.all(views.map((v) => pool.hash(v)));
                assert.deepEqual(
                    hexes,
                    views.map((v) => crypto.createHash("sha256").update(v).digest("hex")),
                );
            } finally {
                await pool.close();
            }
        });
    });

    describe("tar headers", () => {
        it("uses a pax size record for files of 8 GiB and more", () => {
            const size = 9 * 1024 ** 3;
            const h = encodeHeader({ name: "images/huge.tar", type: "file", mode: 0o644, size });
            assert.equal(h.length, 3 * 512, "pax header, one block of records, ustar header");
            assert.equal(String.fromCharCode(h[156]!), "x");
            assert.ok(
                h
                    .subarray(512, 1024)
                    .toString("utf8")
                    .startsWith(paxRecord("size", String(size))),
            );
            assert.equal(h.subarray(1024 + 124, 1024 + 135).toString("ascii"), "00000000000");
            for (const block of [h.subarray(0, 512), h.subarray(1024)]) {
                const stored = parseInt(block.subarray(148, 154).toString("ascii"), 8);
                let sum = 0;
                for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
                assert.equal(stored, sum, "header checksum");
            }
        });

        it("counts a pax record's own length digits", () => {
            for (const value of ["x", "x".repeat(93), "x".repeat(94), "x".repeat(995)]) {
                const rec = paxRecord("path", value);
                assert.equal(Number(rec.split(" ")[0]), Buffer.byteLength(rec));
            }
        });
    });
    describe("old outputs", () => {
        it("keeps the current output, the newest others and anything recent; deletes the rest", () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), "prune-"));
            try {
                const now = Date.parse("2026-11-25T12:00:00Z");
                const name = (i: number) => `${i.toString(16).padStart(64, "0")}.tar.gz`;
                // Outputs 1..6, aged 6..1 days; 7 written a minute ago; 8 is the one just packed.
                for (let i = 1; i <= 8; i++) {
                    fs.writeFileSync(path.join(dir, name(i)), `artifact ${i}`);
                    const age = i <= 6 ? (7 - i) * 86_400_000 : i === 7 ? 60_000 : 30 * 86_400_000;
                    fs.utimesSync(path.join(dir, name(i)), new Date(now - age), new Date(now - age));
                }
                fs.writeFileSync(path.join(dir, "notes.txt"), "not an output");
                const deleted = pruneOutputs(dir, path.join(dir, name(8)), 3, now);
                // Newest others: 7 (recent), 6, 5 → kept; 4, 3, 2, 1 are older than an hour → deleted.
                assert.deepEqual(deleted.sort(), [name(1), name(2), name(3), name(4)]);
                assert.deepEqual(fs.readdirSync(dir).sort(), [name(5), name(6), name(7), name(8), "notes.txt"].sort());
                assert.equal(fs.statSync(path.join(dir, name(8))).mtimeMs, now, "the current output counts as newest");
            } finally {
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
