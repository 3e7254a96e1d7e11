// The packer's inner rules, checked in-process: how the tar stream is planned and cut into chunks,
// how a chunk is read back, which archive paths and sources are refused (with which message), how
// the hash pool dispatches to its workers and survives one dying, and how the member cache evicts.
import * as assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { MemberCache } from "../packing/cache";
import { PackError, PackProblem } from "../packing/errors";
import { HashPool } from "../packing/hashPool";
import { Chunk, PackEntry, TarLayout, checkArchivePath, planLayout, readChunk } from "../packing/layout";
import { tempDirs } from "./helpers/tempDirs";

const BLOCK = 512;

const fresh = tempDirs("pack-layout-test-");

/** Files written under a fresh directory; entries named by their relative paths, in the order given. */
function tree(files: Record<string, string | Buffer>): { root: string; entries: PackEntry[] } {
    const root = fresh();
    const entries: PackEntry[] = [];
    for (const [rel, content] of Object.entries(files)) {
        const p = path.join(root, rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, content);
        entries.push({ archivePath: rel, sourcePath: p });
    }
    return { root, entries };
}

function problemsOf(fn: () => unknown): readonly PackProblem[] {
    try {
        fn();
    } catch (err) {
        assert.ok(err instanceof PackError, `expected a PackError, got ${String(err)}`);
        return err.problems;
    }
    return assert.fail("expected a refusal");
}

const readAll = (layout: TarLayout) => Buffer.concat(layout.chunks.map((c) => readChunk(layout, c)));
const bytes = (n: number, seed: number) => crypto.createHash("sha512").update(String(seed)).digest().toString("hex").repeat(n).slice(0, n);
const openFds = () => fs.readdirSync("/proc/self/fd").length;

describe("pack layout (packing/layout.ts)", () => {
    describe("archive paths", () => {
        const refusals: [string, string, PackProblem["code"], string][] = [
            ["an empty path", "", "PACK_INVALID_PATH", "archive path is empty"],
            ["a NUL byte", "a\0b", "PACK_INVALID_PATH", "archive path contains a NUL byte"],
            ["a drive letter", "C:x", "PACK_INVALID_PATH", "archive path must use `/` separators and no drive letter"],
            ["a backslash", "a\\b", "PACK_INVALID_PATH", "archive path must use `/` separators and no drive letter"],
            ["a `.` component", "a/./b", "PACK_INVALID_PATH", "archive path has an empty or `.` component (or a trailing `/`)"],
            ["a trailing `/`", "a/b/", "PACK_INVALID_PATH", "archive path has an empty or `.` component (or a trailing `/`)"],
            ["an absolute path", "/a", "PACK_ABSOLUTE_PATH", "archive path is absolute; it must be relative, e.g. `log/fluent.conf`"],
        ];
        for (const [what, p, code, message] of refusals) {
            it(`refuses ${what} with its own message`, () => {
                assert.deepEqual(checkArchivePath(p), { code, archivePath: p, message });
            });
        }

        it("refuses a path that is not a string at all (a JavaScript caller's mistake) as empty", () => {
            assert.equal(checkArchivePath(undefined as unknown as string)?.message, "archive path is empty");
        });

        it("accepts a colon after the first component, and dots inside names", () => {
            for (const p of ["log/a:b", "v1:2/x", "x.conf", "a/..b/.c", "1:x"]) assert.equal(checkArchivePath(p), undefined, p);
        });
    });

    describe("sources", () => {
        it("names what a source that is not a regular file is: a directory, a fifo, a socket, a device", async () => {
            const d = fresh();
            const fifo = path.join(d, "fifo");
            // coreutils' mkfifo (scripts/test-tools.sh): a failure here fails the test, never skips it.
            execFileSync("mkfifo", [fifo]);
            const sock = path.join(d, "sock");
            const server = net.createServer();
            await new Promise<void>((resolve) => server.listen(sock, resolve));
            try {
                const sources: Record<string, string> = { dir: d, fifo, sock, dev: "/dev/null" };
                const problems = problemsOf(() =>
                    planLayout(
                        Object.entries(sources).map(([archivePath, sourcePath]) => ({ archivePath, sourcePath })),
                        1 << 20,
                    ),
                );
                const kinds = { dir: "a directory", fifo: "a fifo", sock: "a socket", dev: "a device" };
                assert.deepEqual(
                    problems,
                    Object.entries(kinds).map(([name, kind]) => ({
                        code: "PACK_NOT_A_FILE",
                        archivePath: name,
                        message: `source ${sources[name]} is not a regular file (${kind})`,
                    })),
                );
            } finally {
                server.close();
            }
        });

        it("says a missing source does not exist, and shows why one that cannot be looked at at all is refused", () => {
            const { root } = tree({ "f.txt": "x" });
            const missing = path.join(root, "gone.txt");
            const underFile = path.join(root, "f.txt", "x");
            const problems = problemsOf(() =>
                planLayout(
                    [
                        { archivePath: "gone", sourcePath: missing },
                        { archivePath: "under", sourcePath: underFile },
                    ],
                    1 << 20,
                ),
            );
            assert.deepEqual(problems[0], {
                code: "PACK_MISSING_SOURCE",
                archivePath: "gone",
                message: `source ${missing} does not exist`,
            });
            assert.equal(problems[1]?.code, "PACK_MISSING_SOURCE");
            assert.match(problems[1].message, new RegExp(`^cannot stat ${underFile.replace(/[/.]/g, "\\$&")}: ENOTDIR`));
            assert.equal(problems.length, 2);
        });

        it("names an entry below a file that other entries need as a directory, and reports the conflict only once", () => {
            const { root } = tree({ "ab/y": "y", "a/x": "x" });
            const problems = problemsOf(() =>
                planLayout(
                    [
                        // the conflicting file's source is missing too: that is not reported, the path is already refused
                        { archivePath: "a", sourcePath: path.join(root, "missing") },
                        { archivePath: "ab/y", sourcePath: path.join(root, "ab/y") },
                        { archivePath: "a/x", sourcePath: path.join(root, "a/x") },
                    ],
                    1 << 20,
                ),
            );
            assert.deepEqual(problems, [
                {
                    code: "PACK_PATH_CONFLICT",
                    archivePath: "a",
                    message: "is a file, but other entries need it to be a directory (e.g. a/x)",
                },
            ]);
        });
    });

    describe("chunks", () => {
        it("gives an entry at least a chunk long chunks of its own, and keeps smaller entries together", () => {
            const chunkBytes = 8 * BLOCK;
            // header + data = exactly one chunk, no padding
            const { entries } = tree({ "a.txt": "a", "big.bin": bytes(chunkBytes - BLOCK, 1), "c.txt": "c" });
            const layout = planLayout(entries, chunkBytes);
            const small = 2 * BLOCK; // header + one padded data block
            const big = chunkBytes;
            const end = small + big + small + 2 * BLOCK;
            assert.equal(layout.tarBytes, end);
            assert.deepEqual(layout.chunks, [
                { index: 0, start: 0, end: small },
                { index: 1, start: small, end: small + big },
                { index: 2, start: small + big, end },
            ]);
        });

        it("cuts the stream into chunks that follow each other, none empty, and spans that tile it, none empty", () => {
            const chunkBytes = 4 * BLOCK;
            const { entries } = tree({
                "big.bin": bytes(3 * chunkBytes, 2), // first, and a whole number of chunks
                "empty.txt": "",
                "exact.txt": bytes(BLOCK, 3), // no padding
                "odd.txt": bytes(700, 4),
                "dir/inner.txt": bytes(5000, 5),
            });
            for (const layout of [planLayout(entries, chunkBytes), planLayout(entries, BLOCK)]) {
                let at = 0;
                layout.chunks.forEach((c: Chunk, i) => {
                    assert.deepEqual([c.index, c.start], [i, at]);
                    assert.ok(c.end > c.start, `chunk ${i} is not empty`);
                    at = c.end;
                });
                assert.equal(at, layout.tarBytes);
                at = 0;
                for (const s of layout.spans) {
                    assert.equal(s.start, at);
                    assert.ok(s.length > 0, `span at ${s.start} (${s.kind}) is not empty`);
                    at += s.length;
                }
                assert.equal(at, layout.tarBytes);
            }
        });

        it("reads the same stream chunk by chunk, in any order and at any chunk size, as in one piece", () => {
            const { entries } = tree({
                "a.txt": bytes(100, 6),
                "big.bin": bytes(9000, 7),
                "c/d.txt": bytes(BLOCK * 3, 8),
                "e.txt": "",
            });
            const whole = readAll(planLayout(entries, 1 << 30));
            assert.equal(planLayout(entries, 1 << 30).chunks.length, 1);
            for (const chunkBytes of [BLOCK, 3 * BLOCK, 4096]) {
                const layout = planLayout(entries, chunkBytes);
                assert.ok(layout.chunks.length > 3);
                assert.ok(readAll(layout).equals(whole), `chunks of ${chunkBytes}`);
                const reversed = [...layout.chunks].reverse().map((c) => readChunk(layout, c));
                assert.ok(Buffer.concat(reversed.reverse()).equals(whole), `chunks of ${chunkBytes} read backwards`);
            }
        });

        it("reads into a given buffer when it is large enough, and refuses one too small", () => {
            const { entries } = tree({ "a.txt": bytes(3000, 9) });
            const layout = planLayout(entries, 1 << 20);
            const chunk = layout.chunks[0]!;
            const length = chunk.end - chunk.start;
            const target = Buffer.alloc(length + 100, 0xee);
            const out = readChunk(layout, chunk, target);
            assert.equal(out.buffer, target.buffer);
            assert.ok(out.equals(readChunk(layout, chunk)));
            assert.throws(
                () => readChunk(layout, chunk, Buffer.alloc(length - 1)),
                (err: unknown) =>
                    err instanceof RangeError && err.message === `chunk of ${length} bytes does not fit a ${length - 1}-byte buffer`,
            );
        });
    });

    describe("reading sources", () => {
        const chunkBytes = 8 * BLOCK;
        function planned() {
            const t = tree({ "a.txt": "a", "big.bin": bytes(chunkBytes - BLOCK, 10), "c.txt": "c", "d/empty": "" });
            return { ...t, layout: planLayout(t.entries, chunkBytes), file: (rel: string) => path.join(t.root, rel) };
        }
        const changed = (archivePath: string, message: RegExp) => (err: unknown) =>
            err instanceof PackError &&
            err.problems.length === 1 &&
            err.problems[0]!.code === "PACK_CHANGED_WHILE_PACKING" &&
            err.problems[0]!.archivePath === archivePath &&
            message.test(err.problems[0]!.message);

        it("a chunk reads only the files it holds: a change to a file in another chunk does not stop it", () => {
            const { layout, file } = planned();
            fs.appendFileSync(file("big.bin"), "more");
            fs.rmSync(file("d/empty"));
            assert.throws(() => readChunk(layout, layout.chunks[1]!), changed("big.bin", /changed while it was being packed; pack again$/));
            assert.doesNotThrow(() => readChunk(layout, layout.chunks[2]!)); // c.txt, d/ and d/empty (no data)
            assert.doesNotThrow(() => readChunk(layout, layout.chunks[0]!));
        });

        it("says exactly what happened to a source that changed or vanished", () => {
            const { layout, file } = planned();
            fs.writeFileSync(file("a.txt"), "b"); // same size
            assert.throws(
                () => readChunk(layout, layout.chunks[0]!),
                changed(
                    "a.txt",
                    new RegExp(`^source ${file("a.txt").replace(/[/.]/g, "\\$&")} changed while it was being packed; pack again$`),
                ),
            );
            fs.rmSync(file("c.txt"));
            assert.throws(() => readChunk(layout, layout.chunks[2]!), changed("c.txt", / could not be opened \(ENOENT/));
        });

        it("notices a source whose status changed although its contents, size and mtime did not (its ctime moved)", async () => {
            const { entries } = tree({ "a.txt": "abc" });
            const p = entries[0]!.sourcePath;
            const when = new Date("2020-01-01T00:00:00Z");
            fs.utimesSync(p, when, when);
            const layout = planLayout(entries, 1 << 20);
            await new Promise((r) => setTimeout(r, 30)); // past the kernel's coarse clock tick
            fs.utimesSync(p, when, when); // same times, contents and size; only ctime moves
            assert.throws(() => readChunk(layout, layout.chunks[0]!), changed("a.txt", /changed while/));
        });

        it("leaves no file open, after a read or a refusal", () => {
            const { layout, file } = planned();
            const before = openFds();
            for (let i = 0; i < 20; i++) readAll(layout);
            fs.appendFileSync(file("big.bin"), "more");
            for (let i = 0; i < 20; i++) assert.throws(() => readChunk(layout, layout.chunks[1]!));
            assert.equal(openFds(), before);
        });
    });
});

describe("hash pool (packing/hashPool.ts)", () => {
    const sha256 = (b: Buffer) => crypto.createHash("sha256").update(b).digest("hex");
    /** What a hash promise holds right now, without waiting: its hex, or "pending". */
    const now = (p: Promise<string>) => Promise.race([p, Promise.resolve("pending")]);
    const sharedBytes = (n: number) => {
        const b = Buffer.from(new SharedArrayBuffer(n));
        crypto.randomFillSync(b);
        return b;
    };
    /** A job no worker can do: it throws in the worker, and the worker dies of it. */
    const poison = () => ({ buffer: new SharedArrayBuffer(8), byteOffset: 0, length: 1e12 }) as unknown as Buffer;
    let pool: HashPool;
    beforeEach(() => {
        pool = new HashPool();
    });
    afterEach(async () => {
        await pool.close();
    });

    it("hashes a buffer that is not in shared memory at once on the calling thread, even with workers", async () => {
        pool.grow(2);
        const plain = Buffer.from(bytes(5000, 11));
        assert.equal(await now(pool.hash(plain)), sha256(plain));
    });

    it("hashes shared memory on a worker, in place: it sees the bytes as they are when the worker reads them", async () => {
        pool.grow(1);
        const b = sharedBytes(4096);
        const before = sha256(b);
        const p = pool.hash(b);
        assert.equal(await now(p), "pending");
        b.fill(7);
        assert.notEqual(sha256(b), before);
        assert.equal(await p, sha256(b));
    });

    it("hashes shared memory on the calling thread when it has no workers", async () => {
        const b = sharedBytes(1000);
        assert.equal(await now(pool.hash(b)), sha256(b));
    });

    it("a worker that dies fails only its own pending hashes, with its error; the next grow() replaces it", async () => {
        pool.grow(2);
        const doomed = pool.hash(poison()); // the least busy worker: the first
        const b = sharedBytes(64 * 1024);
        const fine = pool.hash(b); // now the least busy is the other one
        await assert.rejects(doomed, (err: Error) => err.name === "RangeError" && /typed array length/.test(err.message));
        assert.equal(await fine, sha256(b));
        await new Promise((r) => setTimeout(r, 200)); // the dead worker's exit event too
        assert.equal(pool.size, 1);
        pool.grow(2);
        assert.equal(pool.size, 2);
        const again = sharedBytes(100);
        assert.deepEqual(await Promise.all([pool.hash(again), pool.hash(again)]), [sha256(again), sha256(again)]);
    });

    it("close() stops every worker: pending hashes fail, and later hashes run on the calling thread", async () => {
        pool.grow(2);
        const big = sharedBytes(64 << 20);
        const pending = [pool.hash(big), pool.hash(big)].map((p) =>
            p.then(
                () => "resolved",
                (err: Error) => String(err),
            ),
        );
        await pool.close();
        assert.deepEqual(await Promise.all(pending), ["Error: hash worker exited with code 1", "Error: hash worker exited with code 1"]);
        assert.equal(pool.size, 0);
        const b = sharedBytes(10);
        assert.equal(await now(pool.hash(b)), sha256(b));
    });
});

describe("member cache eviction (packing/cache.ts)", () => {
    const DAY_MS = 24 * 3600 * 1000;
    const hex = (s: string) => crypto.createHash("sha256").update(s).digest("hex");
    async function cacheWith(packs: Record<string, number>, nowMs: number) {
        const dir = fresh();
        const cache = new MemberCache(dir, 6, "fp");
        const members: Record<string, string> = {};
        for (const [name, ago] of Object.entries(packs)) {
            const m = cache.memberKey(hex(`chunk of ${name}`));
            members[name] = m;
            await cache.writeMember(m, Buffer.from(name));
            await cache.writePack(name, { sha256: hex(name), bytes: 1, members: [m] });
            const at = new Date(nowMs - ago);
            fs.utimesSync(path.join(dir, "packs", `${name}.json`), at, at);
        }
        return { cache, dir, members };
    }
    const listing = (dir: string, sub: string) => fs.readdirSync(path.join(dir, sub)).sort();

    it("among records used at the same moment, keeps the one with the smallest key, whatever order they were written in", async () => {
        const names = ["k5", "k2", "k7", "k0", "k3", "k6", "k1", "k4"];
        const t = Date.now();
        const { cache, dir, members } = await cacheWith({ ...Object.fromEntries(names.map((n) => [n, 1000])), current: 5000 }, t);
        cache.evict(2, "current", [members["current"]!]);
        assert.deepEqual(listing(dir, "packs"), ["current.json", "k0.json"]);
    });

    it("removes a temporary file only once it is older than a day, not when exactly a day old", async () => {
        const t = Math.floor(Date.now() / 1000) * 1000;
        const { cache, dir, members } = await cacheWith({ current: 0 }, t);
        const at = (name: string, ago: number) => {
            const p = path.join(dir, "members", name);
            fs.writeFileSync(p, "half");
            fs.utimesSync(p, new Date(t - ago), new Date(t - ago));
        };
        at(".tmp-day", DAY_MS);
        at(".tmp-older", DAY_MS + 1000);
        const realNow = Date.now;
        Date.now = () => t;
        try {
            cache.evict(1, "current", [members["current"]!]);
        } finally {
            Date.now = realNow;
        }
        assert.deepEqual(listing(dir, "members"), [".tmp-day", `${members["current"]}.gz`].sort());
    });

    it("deletes unreferenced members only in its members folder: a .gz file among the records is left alone", async () => {
        const { cache, dir, members } = await cacheWith({ current: 0 }, Date.now());
        fs.writeFileSync(path.join(dir, "packs", "backup.gz"), "not a member");
        fs.writeFileSync(path.join(dir, "members", `${hex("orphan")}.gz`), "orphan");
        assert.equal(cache.evict(1, "current", [members["current"]!]), 1);
        assert.deepEqual(listing(dir, "packs"), ["backup.gz", "current.json"]);
    });
});
