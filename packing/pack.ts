// Reproducible, content-addressed packing of the artifact. No Pulumi.
//
// The artifact is a `.tar.gz` named by its SHA-256. Same inputs, same bytes:
// - tar: entries sorted by UTF-8 name, parent directories as entries of their own, mtime 0,
//   uid/gid 0, no user or group names, modes 0644 / 0755 (files with any exec bit, directories);
// - gzip: the tar stream is cut into chunks (layout.ts), each compressed into its own gzip member
//   (no file name, MTIME 0, OS 3), and the members are concatenated — `tar -xzf` and `gzip -d`
//   read them as one stream. Chunks compress in parallel on libuv's thread pool (`concurrency` at a
//   time), at most 2 × `concurrency` chunks are in memory, and members are written in order; no
//   file is ever read into memory whole.
// - cache (cache.ts): members are kept under the hash of the bytes they compress, so a re-pack
//   only reads and hashes its input (on worker threads, hashPool.ts), and compresses just the
//   chunks that changed. When every chunk hits and a previous pack of the very same members left
//   its output in place, nothing is written at all.
//
// The bytes depend on the deflate implementation: the same inputs give the same artifact with the
// same zlib build (`process.versions.zlib`; Node bundles Chromium's zlib, whose output also depends
// on CPU features). Another Node version may name the same inputs differently.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MemberCache } from "./cache";
import { PackError } from "./errors";
import { compressMember, deflateFingerprint, looksLikeMember } from "./gzipMember";
import { Hasher, hashPool, mainThreadHasher } from "./hashPool";
import { Chunk, PackEntry, TarLayout, planLayout, readChunk } from "./layout";

export { PackEntry } from "./layout";
export { PackError, PackErrorCode, PackProblem } from "./errors";

/**
 * Uncompressed bytes per gzip member. Measured with `npm run bench`'s 564 MB input on 2 cores:
 * cold packs took 12.3 / 10.9 / 10.0 / 9.7 / 9.8 s with 0.5 / 1 / 2 / 4 / 8 MiB chunks, warm
 * re-packs 0.45 / 0.40 / 0.34 / 0.31 / 0.32 s, and sizes stayed within 0.02% of each other.
 * 4 MiB: as fast as any, a cache file per 4 MiB of input, 2 × concurrency × 4 MiB in memory, and
 * a changed byte costs recompressing 4 MiB.
 */
export const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;

/** Packs of fewer chunks hash them on the main thread. */
const WORKER_HASHING_MIN_CHUNKS = 8;

export interface PackOptions {
    /** gzip level 1–9, e.g. 6 (the default, like `gzip -6`). */
    readonly level?: number;
    /** Uncompressed tar bytes per gzip member, e.g. 4 MiB (the default). */
    readonly chunkBytes?: number;
    /** Chunks compressed at once, e.g. 2 (default: the number of cores). */
    readonly concurrency?: number;
    /** Member cache directory, e.g. `.cache/pack-cache`; `null` disables it. Default `<outDir>/.pack-cache`. */
    readonly cacheDir?: string | null;
    /** The cache keeps the members of this many most recently used packs, e.g. 3 (the default). */
    readonly keepPacks?: number;
    /**
     * Re-hash an existing `<sha256>.tar.gz` before keeping it instead of writing a fresh one, e.g.
     * `true` in CI. Default false: the file was written by a pack under a temporary name and renamed
     * to its hash, and the host checks the SHA-256 after download anyway.
     */
    readonly verifyExisting?: boolean;
    /**
     * Old `<sha256>.tar.gz` outputs in `outDir` to keep besides this one, newest first, e.g. 4 (the
     * default). Outputs written in the last hour are always kept: another pack may be using them.
     */
    readonly keepOutputs?: number;
}

export interface PackStats {
    /** Tar entries, directories included. */
    readonly entries: number;
    /** Size of the uncompressed tar stream. */
    readonly tarBytes: number;
    /** gzip members in the output. */
    readonly chunks: number;
    /** Chunks whose member came from the cache. */
    readonly cacheHits: number;
    /** Chunks compressed by this pack. */
    readonly cacheMisses: number;
    /** Cached members found missing or damaged when needed, rebuilt from the input. */
    readonly rebuilt: number;
    /**
     * `written`: a new output file. `kept`: the output was assembled, and an identical one (same
     * name and size) was already there and kept. `reused`: every chunk hit the cache and a previous
     * pack of exactly these members left its output in place; nothing was assembled.
     */
    readonly output: "written" | "kept" | "reused";
    /** Members the cache deleted after this pack. */
    readonly evictedMembers: number;
}

export interface PackResult {
    /** Hex SHA-256 of the `.tar.gz` bytes: the artifact's name. */
    readonly sha256: string;
    readonly bytes: number;
    /** Where the packed file is, e.g. `.cache/artifacts/<sha256>.tar.gz` (relative to `cwd` when given relative). */
    readonly path: string;
    readonly stats: PackStats;
}

/** Every regular file under `dir`, as sorted `/`-separated relative paths. */
export function listFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) walk(r);
            else if (e.isFile()) out.push(r);
        }
    };
    walk("");
    return out.sort();
}

/**
 * Pack entries into `outDir/<sha256>.tar.gz`: the options checked, the tar stream planned, chunks
 * through the {@link ChunkPipeline}, their members written in order by the {@link OutputAssembly},
 * then {@link finishPack}.
 */
export async function pack(entries: readonly PackEntry[], outDir: string, options: PackOptions = {}): Promise<PackResult> {
    const settings = checkOptions(options, outDir);
    const layout = planLayout(entries, settings.chunkBytes);
    fs.mkdirSync(outDir, { recursive: true });
    const cache =
        settings.cacheDir === null ? undefined : new MemberCache(settings.cacheDir, settings.level, deflateFingerprint(settings.level));
    const output = new OutputFile(outDir);
    const pipeline = new ChunkPipeline(layout, cache, settings, () => output.isOpen);
    const assembly = new OutputAssembly(pipeline, output);
    try {
        await assembly.run();
        return await finishPack({ layout, cache, settings, outDir, output, pipeline, assembly });
    } catch (err) {
        await pipeline.settle();
        await output.abort();
        throw err;
    }
}

/** {@link PackOptions} with their defaults, checked. */
interface PackSettings {
    readonly level: number;
    readonly chunkBytes: number;
    readonly concurrency: number;
    readonly cacheDir: string | null;
    readonly keepPacks: number;
    readonly verifyExisting: boolean;
    readonly keepOutputs: number;
}

function checkOptions(options: PackOptions, outDir: string): PackSettings {
    const level = options.level ?? 6;
    const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES;
    const concurrency = options.concurrency ?? os.availableParallelism();
    const keepPacks = options.keepPacks ?? 3;
    if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`[level] must be an integer 1–9, got ${level}`);
    if (!Number.isInteger(chunkBytes) || chunkBytes < 4096 || chunkBytes > 256 * 1024 * 1024)
        throw new RangeError(`[chunkBytes] must be 4 KiB–256 MiB, got ${chunkBytes}`);
    if (!Number.isInteger(concurrency) || concurrency < 1)
        throw new RangeError(`[concurrency] must be a positive integer, got ${concurrency}`);
    if (!Number.isInteger(keepPacks) || keepPacks < 1) throw new RangeError(`[keepPacks] must be a positive integer, got ${keepPacks}`);
    const cacheDir = options.cacheDir === undefined ? path.join(outDir, ".pack-cache") : options.cacheDir;
    return {
        level,
        chunkBytes,
        concurrency,
        cacheDir,
        keepPacks,
        verifyExisting: options.verifyExisting ?? false,
        keepOutputs: options.keepOutputs ?? 4,
    };
}

type ChunkResult =
    /** `member` is read ahead when the output is already being written. */
    | { readonly hit: true; readonly key: string; readonly member?: Buffer }
    | { readonly hit: false; readonly key: string | undefined; readonly member: Buffer };

/**
 * Chunks read → hashed → looked up in the cache → compressed on a miss, up to `window` of them in
 * flight, their results handed out in order. Also loads (or rebuilds) the member of a cache hit.
 */
class ChunkPipeline {
    /** Cached members found missing or damaged when needed, and rebuilt. */
    rebuilt = 0;
    /** Chunks in flight at most, and members read ahead at most. */
    readonly window: number;
    private readonly hashes: Hasher | undefined;
    /** Chunk buffers, reused: one per chunk in flight, in shared memory so hash workers read them in place. */
    private readonly freeBuffers: Buffer[];
    private readonly compressing: Semaphore;
    private readonly inFlight = new Map<number, Promise<ChunkResult>>();
    private launched = 0;

    /** `wantMember`: whether a hit's member is wanted now (the output is being written), or only its key. */
    constructor(
        private readonly layout: TarLayout,
        private readonly cache: MemberCache | undefined,
        private readonly settings: PackSettings,
        private readonly wantMember: () => boolean,
    ) {
        const { concurrency, chunkBytes } = settings;
        // Starting hash workers costs tens of ms: worth it for an image, not for a few config files.
        this.hashes = !cache ? undefined : layout.chunks.length >= WORKER_HASHING_MIN_CHUNKS ? hashPool(concurrency) : mainThreadHasher;
        this.window = Math.max(2, concurrency * 2);
        this.freeBuffers = Array.from({ length: Math.min(this.window, layout.chunks.length) }, () =>
            Buffer.from(new SharedArrayBuffer(Math.min(chunkBytes, layout.tarBytes))),
        );
        this.compressing = new Semaphore(concurrency);
    }

    /** Every chunk's result, in order. */
    async *results(): AsyncGenerator<{ readonly chunk: Chunk; readonly result: ChunkResult }> {
        for (const chunk of this.layout.chunks) {
            while (this.launched < this.layout.chunks.length && this.launched < chunk.index + this.window) {
                const p = this.process(this.layout.chunks[this.launched]!);
                p.catch(() => undefined); // awaited in order below; this only stops an early "unhandled" report
                this.inFlight.set(this.launched++, p);
            }
            const result = await this.inFlight.get(chunk.index)!;
            this.inFlight.delete(chunk.index);
            yield { chunk, result };
        }
    }

    /** A member that was a cache hit: read it, or rebuild it from the input if it is gone or damaged. */
    async loadMember(chunk: Chunk, key: string): Promise<Buffer> {
        const cached = await this.cache!.readMember(key);
        if (cached && looksLikeMember(cached, chunk.end - chunk.start, this.settings.level)) return cached;
        this.rebuilt++;
        const data = readChunk(this.layout, chunk);
        if (this.cache!.memberKey(await this.hashes!.hash(data)) !== key) {
            throw new PackError(
                sourcesIn(this.layout, chunk).map((archivePath) => ({
                    code: "PACK_CHANGED_WHILE_PACKING",
                    archivePath,
                    message: "an input in this part of the archive changed while it was being packed; pack again",
                })),
            );
        }
        const member = await this.compress(data);
        await this.cache!.writeMember(key, member);
        return member;
    }

    /** Wait for the chunks still in flight (after a failure), whatever their outcome. */
    async settle(): Promise<void> {
        await Promise.allSettled(this.inFlight.values());
    }

    private async process(chunk: Chunk): Promise<ChunkResult> {
        const buffer = this.freeBuffers.pop()!; // at most `window` chunks are in flight, so one is always free
        try {
            const data = readChunk(this.layout, chunk, buffer);
            if (!this.cache) return { hit: false, key: undefined, member: await this.compress(data) };
            const key = this.cache.memberKey(await this.hashes!.hash(data));
            if (await this.cache.hasMember(key))
                return this.wantMember() ? { hit: true, key, member: await this.loadMember(chunk, key) } : { hit: true, key };
            const member = await this.compress(data);
            await this.cache.writeMember(key, member);
            return { hit: false, key, member };
        } finally {
            this.freeBuffers.push(buffer);
        }
    }

    private compress(data: Buffer): Promise<Buffer> {
        return this.compressing.run(() => compressMember(data, this.settings.level));
    }
}

/**
 * The pipeline's members written to the output in order. Hits are held back while every chunk so
 * far hit, in case a previous pack of the same members left its output; the first miss opens the
 * output and writes them.
 */
class OutputAssembly {
    /** Member keys in order (none without a cache). */
    readonly keys: string[] = [];
    cacheHits = 0;
    cacheMisses = 0;
    /** Hits not yet written. */
    private readonly pending: Chunk[] = [];

    constructor(
        private readonly pipeline: ChunkPipeline,
        private readonly output: OutputFile,
    ) {}

    async run(): Promise<void> {
        for await (const { chunk, result: r } of this.pipeline.results()) {
            if (r.key) this.keys.push(r.key);
            if (r.hit) {
                this.cacheHits++;
                if (this.output.isOpen) await this.output.write(r.member ?? (await this.pipeline.loadMember(chunk, r.key)));
                else this.pending.push(chunk);
            } else {
                this.cacheMisses++;
                if (!this.output.isOpen) await this.openAndFlush();
                await this.output.write(r.member);
            }
        }
    }

    /** Open the output and write the pending hits, reading up to `window` members ahead. */
    async openAndFlush(): Promise<void> {
        await this.output.open();
        const chunks = this.pending.splice(0);
        const reads: (Promise<Buffer> | undefined)[] = [];
        for (let i = 0; i < chunks.length; i++) {
            while (reads.length < chunks.length && reads.length < i + this.pipeline.window) {
                const c = chunks[reads.length]!;
                const p = this.pipeline.loadMember(c, this.keys[c.index]!);
                p.catch(() => undefined); // awaited in order below
                reads.push(p);
            }
            await this.output.write(await reads[i]!);
            reads[i] = undefined;
        }
    }
}

interface PackRun {
    readonly layout: TarLayout;
    readonly cache: MemberCache | undefined;
    readonly settings: PackSettings;
    readonly outDir: string;
    readonly output: OutputFile;
    readonly pipeline: ChunkPipeline;
    readonly assembly: OutputAssembly;
}

/**
 * After the last chunk: reuse a previous pack's output when every chunk hit, else close the output
 * and rename it to its hash (or keep an identical existing one); record the pack, evict, prune.
 */
async function finishPack(run: PackRun): Promise<PackResult> {
    const { cache, settings, outDir, output, assembly } = run;
    const packKey = cache?.packKey(assembly.keys);
    if (!output.isOpen && cache && packKey) {
        const reused = await reuseOutput(run, cache, packKey);
        if (reused) return reused;
        await assembly.openAndFlush();
    }
    const { sha256, bytes } = await output.close();
    const final = path.join(outDir, `${sha256}.tar.gz`);
    let kind: PackStats["output"] = "written";
    if (await existingMatches(final, bytes, sha256, settings.verifyExisting)) {
        output.discard();
        kind = "kept";
    } else {
        output.moveTo(final);
    }
    let evicted = 0;
    if (cache && packKey) {
        await cache.writePack(packKey, { sha256, bytes, members: assembly.keys });
        evicted = cache.evict(settings.keepPacks, packKey, assembly.keys);
    }
    pruneOutputs(outDir, final, settings.keepOutputs);
    return { sha256, bytes, path: final, stats: statsOf(run, kind, evicted) };
}

/** Every chunk hit: if a previous pack of these very members left its output, that is the answer. */
async function reuseOutput(run: PackRun, cache: MemberCache, packKey: string): Promise<PackResult | undefined> {
    const record = cache.readPack(packKey);
    if (!record) return undefined;
    const final = path.join(run.outDir, `${record.sha256}.tar.gz`);
    if (!(await existingMatches(final, record.bytes, record.sha256, run.settings.verifyExisting))) return undefined;
    cache.touchPack(packKey);
    const evicted = cache.evict(run.settings.keepPacks, packKey, run.assembly.keys);
    pruneOutputs(run.outDir, final, run.settings.keepOutputs);
    return { sha256: record.sha256, bytes: record.bytes, path: final, stats: statsOf(run, "reused", evicted) };
}

function statsOf(run: PackRun, output: PackStats["output"], evictedMembers: number): PackStats {
    return {
        entries: run.layout.entryCount,
        tarBytes: run.layout.tarBytes,
        chunks: run.layout.chunks.length,
        cacheHits: run.assembly.cacheHits,
        cacheMisses: run.assembly.cacheMisses,
        rebuilt: run.pipeline.rebuilt,
        output,
        evictedMembers,
    };
}

const OUTPUT_NAME = /^[0-9a-f]{64}\.tar\.gz$/;
const RECENT_MS = 60 * 60 * 1000;

/**
 * Delete old outputs: an artifact with images is hundreds of MB, and every changed pack leaves one.
 * `current` is touched so it counts as newest; the `keep` newest others and anything written in
 * the last hour stay. Returns the names deleted.
 */
export function pruneOutputs(outDir: string, current: string, keep: number, now = Date.now()): string[] {
    const touched = new Date(now);
    fs.utimesSync(current, touched, touched);
    const others = fs
        .readdirSync(outDir)
        .filter((name) => OUTPUT_NAME.test(name) && name !== path.basename(current))
        .map((name) => ({ name, mtimeMs: fs.statSync(path.join(outDir, name), { throwIfNoEntry: false })?.mtimeMs ?? now }))
        .sort((a, b) => b.mtimeMs - a.mtimeMs || (a.name < b.name ? -1 : 1));
    const doomed = others
        .slice(keep)
        .filter((o) => now - o.mtimeMs > RECENT_MS)
        .map((o) => o.name);
    for (const name of doomed) fs.rmSync(path.join(outDir, name), { force: true });
    return doomed;
}

async function existingMatches(file: string, bytes: number, sha256: string, verify: boolean): Promise<boolean> {
    const st = await fs.promises.stat(file).catch(() => undefined);
    if (!st?.isFile() || st.size !== bytes) return false;
    return !verify || (await sha256File(file)) === sha256;
}

async function sha256File(file: string): Promise<string> {
    const hash = crypto.createHash("sha256");
    for await (const b of fs.createReadStream(file, { highWaterMark: 1024 * 1024 })) hash.update(b as Buffer);
    return hash.digest("hex");
}

/** Archive paths of the files whose data lies in a chunk, for error messages. */
function sourcesIn(layout: TarLayout, chunk: Chunk): string[] {
    const names = layout.spans.flatMap((s) =>
        s.kind === "file" && s.start < chunk.end && s.start + s.length > chunk.start ? [s.file.archivePath] : [],
    );
    return names.length > 0 ? names : ["(tar headers)"];
}

/** At most `limit` tasks at once; the rest wait their turn in order. */
class Semaphore {
    private active = 0;
    private readonly waiting: (() => void)[] = [];
    constructor(private readonly limit: number) {}

    async run<T>(task: () => Promise<T>): Promise<T> {
        if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
        else this.active++;
        try {
            return await task();
        } finally {
            const next = this.waiting.shift();
            if (next)
                next(); // hand the slot over
            else this.active--;
        }
    }
}

/** The `.tar.gz` being written: a temporary file in `outDir`, hashed as it is written, renamed to its hash at the end. */
class OutputFile {
    private handle: fs.promises.FileHandle | undefined;
    private tmpPath: string | undefined;
    private readonly hash = crypto.createHash("sha256");
    private bytes = 0;

    constructor(private readonly dir: string) {}

    get isOpen(): boolean {
        return this.tmpPath !== undefined;
    }

    async open(): Promise<void> {
        this.tmpPath = path.join(this.dir, `.tmp-${process.pid}-${crypto.randomBytes(6).toString("hex")}.tar.gz`);
        this.handle = await fs.promises.open(this.tmpPath, "wx");
    }

    async write(b: Buffer): Promise<void> {
        this.hash.update(b);
        let done = 0;
        while (done < b.length) done += (await this.handle!.write(b, done, b.length - done)).bytesWritten;
        this.bytes += b.length;
    }

    async close(): Promise<{ sha256: string; bytes: number }> {
        await this.handle!.close();
        this.handle = undefined;
        return { sha256: this.hash.digest("hex"), bytes: this.bytes };
    }

    moveTo(final: string): void {
        fs.renameSync(this.tmpPath!, final);
        this.tmpPath = undefined;
    }

    discard(): void {
        fs.rmSync(this.tmpPath!, { force: true });
        this.tmpPath = undefined;
    }

    async abort(): Promise<void> {
        await this.handle?.close().catch(() => undefined);
        this.handle = undefined;
        if (this.tmpPath) this.discard();
    }
}
