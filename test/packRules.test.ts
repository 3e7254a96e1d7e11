// The packer's rules that test/pack.test.ts leaves implicit: which files listFiles finds, the
// options it refuses, where the cache lives by default, how old outputs are pruned, what a pack
// that finds its input changed reports and leaves behind, and how many chunk buffers it holds.
// Everything runs in-process (pack() called directly), so a planted bug in packing/pack.ts shows here.
import * as assert from "node:assert/strict";
import * as crypto from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { mainThreadHasher } from "../packing/hashPool";
import { PackEntry, PackError, PackOptions, listFiles, pack, pruneOutputs } from "../packing/pack";
import { tempDirs } from "./helpers/tempDirs";

const KiB = 1024;

const fresh = tempDirs("pack-rules-");

function writeTree(root: string, files: Record<string, string | Buffer>): void {
    for (const [rel, content] of Object.entries(files)) {
        const p = path.join(root, rel);
        fs.mkdirSync(path.dirname(p), { recursive: true });
        fs.writeFileSync(p, content);
    }
}

function entriesOf(root: string): PackEntry[] {
    return listFiles(root).map((rel) => ({ archivePath: rel, sourcePath: path.join(root, rel) }));
}

const tmpFilesIn = (dir: string) => fs.readdirSync(dir).filter((f) => f.startsWith(".tmp-"));

describe("pack rules", () => {
    describe("listFiles", () => {
        it("lists regular files only: no symlinks, fifos or directories", () => {
            const d = fresh();
            writeTree(d, { "conf/app.conf": "x", "data.txt": "y" });
            fs.symlinkSync("data.txt", path.join(d, "link-to-file"));
            fs.symlinkSync("conf", path.join(d, "link-to-dir"));
            // coreutils' mkfifo (scripts/test-tools.sh): a failure here fails the test.
            execFileSync("mkfifo", [path.join(d, "pipe")]);
            assert.deepEqual(listFiles(d), ["conf/app.conf", "data.txt"]);
        });

        it("sorts the whole list by name, not directory by directory", () => {
            // The walk meets directory "a" (and its "a/x") before file "a.txt"; by name, "." < "/".
            const d = fresh();
            writeTree(d, { "a/x": "1", "a.txt": "2", "b/c/d": "3", b0: "4" });
            assert.deepEqual(listFiles(d), ["a.txt", "a/x", "b/c/d", "b0"]);
        });
    });

    describe("options", () => {
        const refused: [string, PackOptions, RegExp][] = [
            ["level 0", { level: 0 }, /^\[level\] must be an integer 1–9, got 0$/],
            ["level 10", { level: 10 }, /^\[level\] must be an integer 1–9, got 10$/],
            ["level 5.5", { level: 5.5 }, /^\[level\] must be an integer 1–9, got 5.5$/],
            ["chunkBytes 4095", { chunkBytes: 4095 }, /^\[chunkBytes\] must be 4 KiB–256 MiB, got 4095$/],
            ["chunkBytes 256 MiB + 1", { chunkBytes: 256 * KiB * KiB + 1 }, /^\[chunkBytes\] must be 4 KiB–256 MiB, got 268435457$/],
            ["chunkBytes 8192.5", { chunkBytes: 8192.5 }, /^\[chunkBytes\] must be 4 KiB–256 MiB, got 8192.5$/],
            ["concurrency 0", { concurrency: 0 }, /^\[concurrency\] must be a positive integer, got 0$/],
            ["concurrency 1.5", { concurrency: 1.5 }, /^\[concurrency\] must be a positive integer, got 1.5$/],
            ["keepPacks 0", { keepPacks: 0 }, /^\[keepPacks\] must be a positive integer, got 0$/],
            ["keepPacks 2.5", { keepPacks: 2.5 }, /^\[keepPacks\] must be a positive integer, got 2.5$/],
        ];
        for (const [what, options, message] of refused) {
            it(`refuses ${what} with a RangeError naming the option, before creating anything`, async () => {
                const d = fresh();
                writeTree(d, { "a.conf": "x" });
                const outDir = path.join(fresh(), "out");
                await assert.rejects(
                    pack(entriesOf(d), outDir, options),
                    (err: unknown) => err instanceof RangeError && message.test(err.message),
                );
                assert.equal(fs.existsSync(outDir), false, "no output directory");
            });
        }

        it("accepts the bounds: level 1 and 9, chunkBytes 4 KiB and 256 MiB, concurrency 1, keepPacks 1", async () => {
            const d = fresh();
            writeTree(d, { "a.conf": "x" });
            const accepted: PackOptions[] = [
                { level: 1 },
                { level: 9 },
                { chunkBytes: 4 * KiB },
                { chunkBytes: 256 * KiB * KiB },
                { concurrency: 1, keepPacks: 1 },
            ];
            for (const options of accepted) {
                const r = await pack(entriesOf(d), fresh("out"), { cacheDir: null, ...options });
                assert.equal(fs.existsSync(r.path), true, JSON.stringify(options));
            }
        });

        it("keeps the member cache in <outDir>/.pack-cache unless told otherwise", async () => {
            const d = fresh();
            writeTree(d, { "a.conf": "x" });
            const outDir = fresh("out");
            await pack(entriesOf(d), outDir);
            assert.equal(fs.readdirSync(path.join(outDir, ".pack-cache", "members")).length, 1, "one chunk, one cached member");
        });
    });

    describe("old outputs", () => {
        const now = Date.parse("2026-11-25T12:00:00Z");
        const name = (i: number) => `${i.toString(16).padStart(64, "0")}.tar.gz`;
        /** Outputs named by number, each with an age in ms; the last one is the current output. */
        function outputs(ages: readonly number[]): string {
            const dir = fresh();
            ages.forEach((age, i) => {
                fs.writeFileSync(path.join(dir, name(i + 1)), `artifact ${i + 1}`);
                fs.utimesSync(path.join(dir, name(i + 1)), new Date(now - age), new Date(now - age));
            });
            return dir;
        }
        const DAY = 86_400_000;
        const HOUR = 3_600_000;

        it("breaks a tie in age by name, so which output goes does not depend on the directory's order", () => {
            // 1..4 the same age, 5 is current: keep 2 → the first two names stay.
            const dir = outputs([DAY, DAY, DAY, DAY, 0]);
            assert.deepEqual(pruneOutputs(dir, path.join(dir, name(5)), 2, now).sort(), [name(3), name(4)]);
            assert.deepEqual(fs.readdirSync(dir).sort(), [name(1), name(2), name(5)]);
        });

        it("keeps an output beyond the newest ones while it is an hour old or less", () => {
            // keep 1: 1 is the newest other; 2 is exactly an hour old (kept), 3 an hour and a ms (deleted).
            const dir = outputs([10 * 60_000, HOUR, HOUR + 1, 0]);
            assert.deepEqual(pruneOutputs(dir, path.join(dir, name(4)), 1, now), [name(3)]);
            assert.deepEqual(fs.readdirSync(dir).sort(), [name(1), name(2), name(4)]);
        });
    });

    describe("an input that changes while it is packed", () => {
        let saved: PropertyDescriptor;
        let original: typeof mainThreadHasher.hash;
        before(() => {
            saved = Object.getOwnPropertyDescriptor(mainThreadHasher, "hash")!;
            original = mainThreadHasher.hash.bind(mainThreadHasher);
        });
        afterEach(() => {
            Object.defineProperty(mainThreadHasher, "hash", saved);
        });

        /**
         * Chunks of 4 KiB: [a.conf (longer than its header) b.conf c.conf] [image.tar × 3] [z.conf + end of archive]. The
         * image (8 KiB, at least a chunk) starts its own run of chunks, and z.conf's chunk starts
         * where the image's data ends.
         */
        function tree(): string {
            const d = fresh();
            writeTree(d, {
                "a.conf": "A".repeat(600),
                "b.conf": "MARKER-B".repeat(12),
                "c.conf": "C".repeat(100),
                "image.tar": crypto.createHash("sha512").update("image").digest().toString("hex").repeat(64),
                "z.conf": "MARKER-Z".repeat(12),
            });
            return d;
        }

        /**
         * A warm cache whose members are all damaged and no output: the re-pack hashes every chunk,
         * then re-reads each to rebuild its member. A change the stat check cannot see (a write within
         * the file system's timestamp granularity) is stood in for by the hasher: the second time it
         * sees the chunk holding `marker`, the bytes hash differently.
         */
        async function repackWithChange(marker: string): Promise<{ err: unknown; outDir: string }> {
            const d = tree();
            const cacheDir = fresh("cache");
            const outDir = fresh("out");
            const options = { chunkBytes: 4 * KiB, cacheDir, concurrency: 1 };
            const cold = await pack(entriesOf(d), outDir, options);
            assert.equal(cold.stats.chunks, 5, "the layout this test relies on");
            fs.rmSync(cold.path);
            for (const m of fs.readdirSync(path.join(cacheDir, "members"))) fs.truncateSync(path.join(cacheDir, "members", m), 20);
            const seen = new Set<string>();
            mainThreadHasher.hash = async (data) => {
                const hex = await original(data);
                if (!data.includes(marker)) return hex;
                if (!seen.has(hex)) {
                    seen.add(hex);
                    return hex;
                }
                return original(Buffer.concat([data, Buffer.from("changed")]));
            };
            const err = await pack(entriesOf(d), outDir, options).then(
                () => undefined,
                (e: unknown) => e,
            );
            return { err, outDir };
        }

        it("is refused with PACK_CHANGED_WHILE_PACKING, naming every file whose data is in that part of the archive", async () => {
            const { err } = await repackWithChange("MARKER-B");
            assert.ok(err instanceof PackError, String(err));
            assert.deepEqual(
                err.problems.map((p) => [p.code, p.archivePath]),
                [
                    ["PACK_CHANGED_WHILE_PACKING", "a.conf"],
                    ["PACK_CHANGED_WHILE_PACKING", "b.conf"],
                    ["PACK_CHANGED_WHILE_PACKING", "c.conf"],
                ],
            );
            assert.match(err.problems[0]!.message, /changed while it was being packed; pack again/);
        });

        it("names only the files in that part: not the image whose data ends where it starts", async () => {
            const { err } = await repackWithChange("MARKER-Z");
            assert.ok(err instanceof PackError, String(err));
            assert.deepEqual(
                err.problems.map((p) => p.archivePath),
                ["z.conf"],
            );
        });

        it("is refused naming the source when it changes before the output is opened, and nothing is written", async () => {
            // Every chunk hits a warm cache, so the output is not open yet when z.conf's chunk is read.
            const d = tree();
            const cacheDir = fresh("cache");
            const outDir = fresh("out");
            const options = { chunkBytes: 4 * KiB, cacheDir, concurrency: 1 };
            fs.rmSync((await pack(entriesOf(d), outDir, options)).path);
            let touched = false;
            mainThreadHasher.hash = (data) => {
                if (!touched && data.includes("MARKER-B")) {
                    fs.appendFileSync(path.join(d, "z.conf"), "!");
                    touched = true;
                }
                return original(data);
            };
            const err = await pack(entriesOf(d), outDir, options).then(
                () => undefined,
                (e: unknown) => e,
            );
            assert.ok(touched);
            assert.ok(err instanceof PackError, String(err));
            assert.deepEqual(
                err.problems.map((p) => [p.code, p.archivePath]),
                [["PACK_CHANGED_WHILE_PACKING", "z.conf"]],
            );
            assert.deepEqual(
                fs.readdirSync(outDir).filter((f) => f !== ".pack-cache"),
                [],
            );
        });

        it("leaves no temporary output behind", async () => {
            const { err, outDir } = await repackWithChange("MARKER-B");
            assert.ok(err instanceof PackError, String(err));
            assert.deepEqual(tmpFilesIn(outDir), []);
            assert.deepEqual(
                fs.readdirSync(outDir).filter((f) => f.endsWith(".tar.gz")),
                [],
                "and no output",
            );
        });
    });

    describe("memory", () => {
        let RealSab: SharedArrayBufferConstructor;
        let allocated: number[];
        before(() => {
            RealSab = globalThis.SharedArrayBuffer;
        });
        beforeEach(() => {
            allocated = [];
            const record = allocated;
            globalThis.SharedArrayBuffer = new Proxy(RealSab, {
                construct(target, args: [number]) {
                    record.push(args[0]);
                    return new target(...args);
                },
            });
        });
        afterEach(() => {
            globalThis.SharedArrayBuffer = RealSab;
        });

        it("holds one chunk buffer per chunk in flight: 2 × concurrency of them, or one per chunk when there are fewer", async () => {
            const d = fresh();
            writeTree(d, { "data.bin": crypto.createHash("sha512").update("x").digest().toString("hex").repeat(400) });
            const many = await pack(entriesOf(d), fresh("out"), { cacheDir: null, chunkBytes: 4 * KiB, concurrency: 4 });
            assert.ok(many.stats.chunks > 8);
            assert.deepEqual(allocated, Array(8).fill(4 * KiB));
            // Unpacks to the input: the buffers are reused, never shared between chunks in flight.
            assert.equal(
                zlib
                    .gunzipSync(fs.readFileSync(many.path))
                    .subarray(512, 512 + 51200)
                    .toString(),
                fs.readFileSync(path.join(d, "data.bin"), "utf8"),
            );

            allocated.length = 0;
            await pack(entriesOf(d), fresh("out"), { cacheDir: null, chunkBytes: 4 * KiB, concurrency: 1 });
            assert.deepEqual(allocated, [4 * KiB, 4 * KiB], "a window of at least two chunks, so reading overlaps compressing");
        });

        it("sizes chunk buffers to the tar stream when it is smaller than a chunk", async () => {
            const d = fresh();
            writeTree(d, { "a.conf": "x" });
            const r = await pack(entriesOf(d), fresh("out"), { cacheDir: null, chunkBytes: 256 * KiB * KiB, concurrency: 2 });
            assert.equal(r.stats.chunks, 1);
            assert.deepEqual(allocated, [r.stats.tarBytes], "one chunk: one buffer, of the tar's size");
        });
    });
});
