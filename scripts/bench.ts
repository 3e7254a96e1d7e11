// `npm run bench [-- --runs N] [--chunk-mib N] [--concurrency N] [--level N] [--keep]`
//
// Packs a generated ~560 MB input (four image-like tarballs of 110–170 MB, partly compressible
// like real images, and 1,200 small config files) three ways and checks issue 4's targets:
//   GNU   `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - … | gzip -n -6`
//   cold  pack() with an empty member cache
//   warm  pack() again, input unchanged
// then unpacks our output with GNU `tar -xzf` and compares the tree with the input, file by file.
// The input is generated once into .cache/bench-input (deterministic, reused by later runs); the
// outputs go to .cache/bench-out and are deleted at the end unless --keep.
import { spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs as parseArgv } from "node:util";
import { DEFAULT_CHUNK_BYTES, PackResult, listFiles, pack } from "../packing/pack";

const PROJECT_DIR = path.resolve(__dirname, "..");
const INPUT_DIR = path.join(PROJECT_DIR, ".cache/bench-input");
const OUT_DIR = path.join(PROJECT_DIR, ".cache/bench-out");
const GENERATOR = "bench-input v2: images 110,130,150,170 MB; 1200 configs";
const IMAGE_MB = [110, 130, 150, 170];
const CONFIG_FILES = 1200;

const TARGET_SPEEDUP = 1.5;
const TARGET_SIZE_RATIO = 1.05;
const TARGET_WARM_RATIO = 0.05;

interface Args {
    runs: number;
    chunkBytes: number;
    concurrency: number | undefined;
    level: number;
    keep: boolean;
}

const USAGE = "usage: npm run bench -- [--runs N] [--chunk-mib N] [--concurrency N] [--level N] [--keep]";

function parseArgs(argv: string[]): Args {
    const { values } = parseArgv({
        args: argv,
        options: {
            runs: { type: "string", default: "1" },
            "chunk-mib": { type: "string" },
            concurrency: { type: "string" },
            level: { type: "string", default: "6" },
            keep: { type: "boolean", default: false },
        },
        strict: true,
    });
    const num = (flag: string, v: string) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n <= 0) throw new Error(`--${flag} needs a positive number; ${USAGE}`);
        return n;
    };
    return {
        runs: Math.round(num("runs", values.runs)),
        chunkBytes:
            values["chunk-mib"] === undefined ? DEFAULT_CHUNK_BYTES : Math.round(num("chunk-mib", values["chunk-mib"]) * 1024 * 1024),
        concurrency: values.concurrency === undefined ? undefined : Math.round(num("concurrency", values.concurrency)),
        level: Math.round(num("level", values.level)),
        keep: values.keep,
    };
}

// ---------------------------------------------------------------------------------------------
// Input: deterministic, from an AES-CTR keystream.

class Random {
    private readonly cipher = crypto.createCipheriv("aes-128-ctr", Buffer.alloc(16, 7), Buffer.alloc(16, 0));
    private pool: Buffer = Buffer.alloc(0);
    private at = 0;
    bytes(n: number): Buffer {
        return this.cipher.update(Buffer.alloc(n));
    }
    /** Uniform integer in [0, n). */
    int(n: number): number {
        if (this.at + 4 > this.pool.length) {
            this.pool = this.bytes(64 * 1024);
            this.at = 0;
        }
        const v = this.pool.readUInt32LE(this.at);
        this.at += 4;
        return v % n;
    }
}

const WORDS = (
    "the container image layer usr lib bin etc share local python3 node_modules package json index js " +
    "config server listen port 8080 443 tcp udp http https proxy upstream location root alias error log " +
    "debug info warn level true false null version license copyright function return const let var if " +
    "else for while import export default class extends static public private protected interface type " +
    "string number boolean object array map set get post put delete head options metrics prometheus " +
    "scrape interval timeout job targets labels instance alert rule expr for severity summary fluentd " +
    "match source filter buffer flush retry grafana datasource dashboard panel query refresh uid"
).split(" ");

function textLines(rng: Random, count: number): Buffer[] {
    const lines: Buffer[] = [];
    for (let i = 0; i < count; i++) {
        const n = 3 + rng.int(12);
        const indent = " ".repeat(rng.int(4) * 2);
        const words = Array.from({ length: n }, () => (rng.int(8) === 0 ? String(rng.int(100000)) : WORDS[rng.int(WORDS.length)]!));
        lines.push(Buffer.from(indent + words.join(rng.int(3) === 0 ? "_" : " ") + "\n"));
    }
    return lines;
}

/** Byte values common in machine code and binary formats; 16 of them, so such blocks carry ~4 bits a byte. */
const BINARY_ALPHABET = [0x00, 0x00, 0x00, 0xff, 0x48, 0x89, 0x8b, 0xe8, 0x0f, 0x85, 0x84, 0x24, 0x01, 0x10, 0x20, 0x40];

/** One image: 64 KiB blocks of random bytes (10%), binary-like bytes (35%), text (50%) or zeros (5%); gzip -6 makes it ~2.3× smaller. */
function writeImage(file: string, bytes: number, rng: Random, lines: readonly Buffer[]): void {
    const fd = fs.openSync(file, "w");
    const BLOCK = 64 * 1024;
    const block = Buffer.alloc(BLOCK);
    try {
        for (let written = 0; written < bytes; written += BLOCK) {
            const kind = rng.int(100);
            if (kind < 10) {
                rng.bytes(BLOCK).copy(block);
            } else if (kind < 45) {
                const r = rng.bytes(BLOCK);
                for (let i = 0; i < BLOCK; i++) block[i] = BINARY_ALPHABET[r[i]! & 15]!;
            } else if (kind < 95) {
                let at = 0;
                while (at < BLOCK) at += lines[rng.int(lines.length)]!.copy(block, at);
            } else {
                block.fill(0);
            }
            fs.writeSync(fd, block, 0, Math.min(BLOCK, bytes - written));
        }
    } finally {
        fs.closeSync(fd);
    }
}

function ensureInput(): void {
    const marker = path.join(INPUT_DIR, ".generated");
    if (fs.existsSync(marker) && fs.readFileSync(marker, "utf8") === GENERATOR) return;
    const t0 = performance.now();
    console.log(`generating the input into ${path.relative(PROJECT_DIR, INPUT_DIR)} (once)…`);
    fs.rmSync(INPUT_DIR, { recursive: true, force: true });
    const rng = new Random();
    const lines = textLines(rng, 20000);
    fs.mkdirSync(path.join(INPUT_DIR, "images"), { recursive: true });
    IMAGE_MB.forEach((mb, i) => writeImage(path.join(INPUT_DIR, "images", `service-${i}.tar`), mb * 1000 * 1000, rng, lines));
    for (let i = 0; i < CONFIG_FILES; i++) {
        const dir = path.join(INPUT_DIR, "config", `svc-${String(i % 40).padStart(2, "0")}`, i % 3 === 0 ? "conf.d" : "");
        fs.mkdirSync(dir, { recursive: true });
        const file = path.join(dir, `file-${String(i).padStart(4, "0")}.${["conf", "yml", "json", "sh"][i % 4]}`);
        const parts: Buffer[] = [];
        const n = 4 + rng.int(120);
        for (let j = 0; j < n; j++) parts.push(lines[rng.int(lines.length)]!);
        fs.writeFileSync(file, Buffer.concat(parts));
        fs.chmodSync(file, i % 4 === 3 ? 0o755 : 0o644);
    }
    fs.writeFileSync(marker, GENERATOR);
    console.log(`  generated in ${secs(performance.now() - t0)}`);
}

// ---------------------------------------------------------------------------------------------

/** SHA-256 over every regular file's path, mode class and content, sorted: equal trees, equal digests. Also warms the page cache. */
function treeDigest(dir: string): { digest: string; bytes: number; files: number } {
    const files = listFiles(dir).filter((f) => f !== ".generated");
    const tree = crypto.createHash("sha256");
    let bytes = 0;
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (const rel of files) {
        const p = path.join(dir, rel);
        const h = crypto.createHash("sha256");
        const fd = fs.openSync(p, "r");
        try {
            for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) {
                h.update(buf.subarray(0, n));
                bytes += n;
            }
        } finally {
            fs.closeSync(fd);
        }
        const exec = fs.statSync(p).mode & 0o111 ? "x" : "-";
        tree.update(`${rel}\0${exec}\0${h.digest("hex")}\n`);
    }
    return { digest: tree.digest("hex"), bytes, files: files.length };
}

function sh(command: string): void {
    const r = spawnSync("bash", ["-o", "pipefail", "-c", command], { stdio: ["ignore", "inherit", "inherit"] });
    if (r.status !== 0) throw new Error(`failed (${r.status}): ${command}`);
}

/** Run a command; returns the user + system CPU milliseconds of everything it ran (bash's `time`). */
function shCpu(command: string): number {
    const r = spawnSync("bash", ["-o", "pipefail", "-c", `TIMEFORMAT='%U %S'; time ( ${command} )`], {
        stdio: ["ignore", "inherit", "pipe"],
        encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`failed (${r.status}): ${command}\n${r.stderr}`);
    const [user, sys] = r.stderr.trim().split("\n").pop()!.split(" ").map(Number);
    return ((user ?? NaN) + (sys ?? NaN)) * 1000;
}

function sha256File(file: string): string {
    const h = crypto.createHash("sha256");
    const fd = fs.openSync(file, "r");
    const buf = Buffer.allocUnsafe(4 * 1024 * 1024);
    try {
        for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0;) h.update(buf.subarray(0, n));
    } finally {
        fs.closeSync(fd);
    }
    return h.digest("hex");
}

const MB = 1e6;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const loadavg = () =>
    os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ");

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    console.log(`node ${process.version}, zlib ${process.versions.zlib}, ${os.availableParallelism()} cores, load average ${loadavg()}`);
    ensureInput();
    const input = treeDigest(INPUT_DIR); // also pulls the input into the page cache, so every run below reads from memory
    console.log(`input: ${mb(input.bytes)} in ${input.files} files (${IMAGE_MB.length} images, ${CONFIG_FILES} configs)`);

    fs.rmSync(OUT_DIR, { recursive: true, force: true });
    fs.mkdirSync(OUT_DIR, { recursive: true });
    const gnuOut = path.join(OUT_DIR, "gnu.tar.gz");
    const ourOut = path.join(OUT_DIR, "ours");
    const cacheDir = path.join(OUT_DIR, "cache");
    const entries = listFiles(INPUT_DIR)
        .filter((f) => f !== ".generated")
        .map((rel) => ({ archivePath: rel, sourcePath: path.join(INPUT_DIR, rel) }));
    const options = { level: args.level, chunkBytes: args.chunkBytes, concurrency: args.concurrency, cacheDir };

    const gnuTimes: number[] = [];
    const gnuCpu: number[] = [];
    const coldTimes: number[] = [];
    const coldCpu: number[] = [];
    let cold: PackResult | undefined;
    for (let run = 0; run < args.runs; run++) {
        let t0 = performance.now();
        gnuCpu.push(
            shCpu(
                `tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C '${INPUT_DIR}' -cf - config images | gzip -n -${args.level} > '${gnuOut}'`,
            ),
        );
        gnuTimes.push(performance.now() - t0);

        fs.rmSync(ourOut, { recursive: true, force: true });
        fs.rmSync(cacheDir, { recursive: true, force: true });
        const cpu0 = process.cpuUsage();
        t0 = performance.now();
        cold = await pack(entries, ourOut, options);
        coldTimes.push(performance.now() - t0);
        const cpu = process.cpuUsage(cpu0);
        coldCpu.push((cpu.user + cpu.system) / 1000);
        console.log(`  run ${run + 1}: GNU ${secs(gnuTimes[run]!)}, ours cold ${secs(coldTimes[run]!)} (load average ${loadavg()})`);
    }
    if (!cold) throw new Error("no run");
    if (cold.stats.cacheHits !== 0) throw new Error(`a cold pack hit the cache ${cold.stats.cacheHits} times`);

    const warmTimes: number[] = [];
    let warm: PackResult | undefined;
    for (let i = 0; i < 3; i++) {
        const t0 = performance.now();
        warm = await pack(entries, ourOut, options);
        warmTimes.push(performance.now() - t0);
    }
    // One byte of one image changed (size and mtime kept): one chunk is compressed again, the rest
    // of the output is assembled from cached members. The byte is put back afterwards.
    const image = path.join(INPUT_DIR, "images", "service-1.tar");
    const { atime, mtime } = fs.statSync(image);
    const flipByte = () => {
        const fd = fs.openSync(image, "r+");
        try {
            const b = Buffer.alloc(1);
            fs.readSync(fd, b, 0, 1, 50_000_000);
            b[0] = b[0]! ^ 0xff;
            fs.writeSync(fd, b, 0, 1, 50_000_000);
        } finally {
            fs.closeSync(fd);
        }
        fs.utimesSync(image, atime, mtime);
    };
    flipByte();
    let t0 = performance.now();
    let changed: PackResult;
    try {
        changed = await pack(entries, ourOut, options);
    } finally {
        flipByte();
    }
    const changedTime = performance.now() - t0;

    // Members all cached, but the output file gone: the members are read back and re-assembled.
    fs.rmSync(cold.path);
    t0 = performance.now();
    const reassembled = await pack(entries, ourOut, options);
    const reassembleTime = performance.now() - t0;

    // Check: our file is named by its hash, is valid gzip, and unpacks to the input tree.
    const problems: string[] = [];
    if (sha256File(cold.path) !== cold.sha256) problems.push("our output's SHA-256 does not match its name");
    if (warm!.sha256 !== cold.sha256 || reassembled.sha256 !== cold.sha256)
        problems.push("warm or re-assembled pack gave a different SHA-256 than the cold pack");
    if (warm!.stats.cacheMisses !== 0 || warm!.stats.output !== "reused")
        problems.push(`warm pack was not served from the cache: ${JSON.stringify(warm!.stats)}`);
    if (changed.sha256 === cold.sha256 || changed.stats.cacheMisses !== 1)
        problems.push(`a changed byte did not give a new artifact with one chunk compressed again: ${JSON.stringify(changed.stats)}`);
    const extract = path.join(OUT_DIR, "extract");
    fs.mkdirSync(extract);
    t0 = performance.now();
    sh(`gzip -t '${cold.path}' && tar -xzf '${cold.path}' -C '${extract}'`);
    const extractTime = performance.now() - t0;
    const unpacked = treeDigest(extract);
    if (unpacked.digest !== input.digest)
        problems.push(`tar -xzf of our output differs from the input (tree digest ${unpacked.digest} vs ${input.digest})`);

    const gnuBytes = fs.statSync(gnuOut).size;
    const gnuTime = median(gnuTimes);
    const coldTime = median(coldTimes);
    const warmTime = median(warmTimes);
    const speedup = gnuTime / coldTime;
    const sizeRatio = cold.bytes / gnuBytes;
    const warmRatio = warmTime / coldTime;
    const rate = (ms: number) => `${(input.bytes / MB / (ms / 1000)).toFixed(1)} MB/s`;
    const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

    console.log("");
    console.log(
        `input                 ${mb(input.bytes)}, ${input.files} files; chunk ${(args.chunkBytes / 1024 / 1024).toFixed(2)} MiB, level ${args.level}, concurrency ${args.concurrency ?? os.availableParallelism()}`,
    );
    console.log(
        `GNU tar | gzip -${args.level}     ${secs(gnuTime).padStart(9)}  ${rate(gnuTime).padStart(11)}  output ${mb(gnuBytes)} (${(input.bytes / gnuBytes).toFixed(2)}× smaller); CPU ${secs(median(gnuCpu))}   runs: ${gnuTimes.map(secs).join(", ")}`,
    );
    console.log(
        `ours, cold            ${secs(coldTime).padStart(9)}  ${rate(coldTime).padStart(11)}  output ${mb(cold.bytes)} (${(input.bytes / cold.bytes).toFixed(2)}× smaller), ${cold.stats.chunks} members; CPU ${secs(median(coldCpu))}   runs: ${coldTimes.map(secs).join(", ")}`,
    );
    console.log(
        `ours, warm            ${secs(warmTime).padStart(9)}  ${rate(warmTime).padStart(11)}  ${warm!.stats.cacheHits}/${warm!.stats.chunks} hits, output ${warm!.stats.output}   runs: ${warmTimes.map(secs).join(", ")}`,
    );
    console.log(
        `ours, 1 byte changed  ${secs(changedTime).padStart(9)}  ${rate(changedTime).padStart(11)}  (one image, size and mtime kept: ${changed.stats.cacheMisses} chunk compressed, ${changed.stats.cacheHits} from the cache, new SHA-256)`,
    );
    console.log(
        `ours, re-assembled    ${secs(reassembleTime).padStart(9)}  ${rate(reassembleTime).padStart(11)}  (all members cached, output file deleted first: ${reassembled.stats.output})`,
    );
    console.log(
        `unpack (gzip -t, tar -xzf) ${secs(extractTime)}; tree digest ${unpacked.digest === input.digest ? "matches the input" : "DIFFERS"}`,
    );
    console.log("");
    console.log(`speed   ours/GNU ${speedup.toFixed(2)}× (target ≥ ${TARGET_SPEEDUP}×)        ${verdict(speedup >= TARGET_SPEEDUP)}`);
    console.log(
        `size    ours/GNU ${sizeRatio.toFixed(4)} (target ≤ ${TARGET_SIZE_RATIO})          ${verdict(sizeRatio <= TARGET_SIZE_RATIO)}`,
    );
    console.log(
        `re-pack warm/cold ${(warmRatio * 100).toFixed(2)}% (target < ${TARGET_WARM_RATIO * 100}%)         ${verdict(warmRatio < TARGET_WARM_RATIO)}`,
    );
    console.log(`unpacks to the input                            ${verdict(problems.length === 0)}`);
    for (const p of problems) console.log(`  - ${p}`);
    console.log(`load average at the end: ${loadavg()}`);

    if (!args.keep) fs.rmSync(OUT_DIR, { recursive: true, force: true });
    if (problems.length > 0 || speedup < TARGET_SPEEDUP || sizeRatio > TARGET_SIZE_RATIO || warmRatio >= TARGET_WARM_RATIO)
        process.exitCode = 1;
}

main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
});
