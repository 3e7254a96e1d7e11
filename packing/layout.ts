// The uncompressed tar stream, planned before a byte is read: every entry's header and where its
// data sits, and the cut of the stream into chunks. Any chunk can then be read on its own, in any
// order, and only the chunks in flight are ever in memory.
import * as fs from "node:fs";
import { PackError, PackProblem } from "./errors";
import { END_OF_ARCHIVE_BYTES, encodeHeader, padding } from "./tarHeader";

/** One file in the artifact: where it comes from, and its path inside the tarball. */
export interface PackEntry {
    /** Path inside the artifact, `/`-separated, relative, e.g. `log/fluent.conf` or `images/fluentd.tar`. */
    readonly archivePath: string;
    /** Path on this machine to read it from. */
    readonly sourcePath: string;
}

/** A source file as it was when the layout was planned; reads check it is still the same. */
interface SourceFile {
    readonly archivePath: string;
    readonly sourcePath: string;
    readonly size: number;
    readonly dev: number;
    readonly ino: number;
    readonly mtimeMs: number;
    readonly ctimeMs: number;
    /** 0o755 when the source has any exec bit, else 0o644. */
    readonly mode: number;
}

type Span =
    | { readonly start: number; readonly length: number; readonly kind: "bytes"; readonly bytes: Buffer }
    | { readonly start: number; readonly length: number; readonly kind: "file"; readonly file: SourceFile }
    | { readonly start: number; readonly length: number; readonly kind: "zeros" };

/** A byte range `[start, end)` of the tar stream, compressed as one gzip member. */
export interface Chunk {
    readonly index: number;
    readonly start: number;
    readonly end: number;
}

export interface TarLayout {
    /** Tar entries, directories included. */
    readonly entryCount: number;
    readonly tarBytes: number;
    readonly chunks: readonly Chunk[];
    readonly spans: readonly Span[];
}

/** Entry names compare as UTF-8 bytes, so the order does not depend on locale or JS string internals. */
const byName = (a: { name: Buffer }, b: { name: Buffer }) => Buffer.compare(a.name, b.name);

/**
 * Check the entries, stat their sources and plan the stream: entries sorted by name, each file's
 * parent directories as entries of their own (0755), files 0644 or 0755 when any exec bit is set.
 *
 * Chunk cuts depend only on the entries' sizes: an entry of at least `chunkBytes` (an image) starts
 * and ends a chunk of its own, so changing one file or one config only changes the chunks that hold
 * it, and the members of every other chunk come from the cache.
 */
export function planLayout(entries: readonly PackEntry[], chunkBytes: number): TarLayout {
    const problems: PackProblem[] = [];
    const seen = new Map<string, PackEntry>();
    for (const e of entries) {
        const bad = checkArchivePath(e.archivePath);
        if (bad) problems.push(bad);
        else if (seen.has(e.archivePath)) {
            problems.push({
                code: "PACK_DUPLICATE_PATH",
                archivePath: e.archivePath,
                message: `appears more than once (from ${seen.get(e.archivePath)!.sourcePath} and ${e.sourcePath})`,
            });
        } else seen.set(e.archivePath, e);
    }
    const dirs = new Set<string>();
    for (const p of seen.keys()) {
        const parts = p.split("/");
        for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
    }
    for (const d of dirs) {
        if (seen.has(d))
            problems.push({
                code: "PACK_PATH_CONFLICT",
                archivePath: d,
                message: `is a file, but other entries need it to be a directory (e.g. ${[...seen.keys()].find((p) => p.startsWith(d + "/"))})`,
            });
    }
    const files: SourceFile[] = [];
    for (const e of seen.values()) {
        if (dirs.has(e.archivePath)) continue;
        let st: fs.Stats | undefined;
        try {
            st = fs.statSync(e.sourcePath, { throwIfNoEntry: false });
        } catch (err) {
            problems.push({
                code: "PACK_MISSING_SOURCE",
                archivePath: e.archivePath,
                message: `cannot stat ${e.sourcePath}: ${(err as Error).message}`,
            });
            continue;
        }
        if (!st)
            problems.push({ code: "PACK_MISSING_SOURCE", archivePath: e.archivePath, message: `source ${e.sourcePath} does not exist` });
        else if (!st.isFile())
            problems.push({
                code: "PACK_NOT_A_FILE",
                archivePath: e.archivePath,
                message: `source ${e.sourcePath} is not a regular file (${kindOf(st)})`,
            });
        else {
            const mode = st.mode & 0o111 ? 0o755 : 0o644;
            files.push({
                archivePath: e.archivePath,
                sourcePath: e.sourcePath,
                size: st.size,
                dev: st.dev,
                ino: st.ino,
                mtimeMs: st.mtimeMs,
                ctimeMs: st.ctimeMs,
                mode,
            });
        }
    }
    if (problems.length > 0) throw new PackError(problems);

    const items = [
        ...[...dirs].map((d) => ({ name: Buffer.from(d + "/", "utf8"), file: undefined as SourceFile | undefined })),
        ...files.map((f) => ({ name: Buffer.from(f.archivePath, "utf8"), file: f })),
    ].sort(byName);

    const spans: Span[] = [];
    const chunks: Chunk[] = [];
    let offset = 0;
    const cut = (from: number, to: number) => {
        for (let s = from; s < to; s += chunkBytes) chunks.push({ index: chunks.length, start: s, end: Math.min(to, s + chunkBytes) });
    };
    let runStart = 0;
    for (const item of items) {
        const entryStart = offset;
        const header = encodeHeader(
            item.file
                ? { name: item.file.archivePath, type: "file", mode: item.file.mode, size: item.file.size }
                : { name: item.name.toString("utf8"), type: "directory", mode: 0o755, size: 0 },
        );
        spans.push({ start: offset, length: header.length, kind: "bytes", bytes: header });
        offset += header.length;
        if (item.file && item.file.size > 0) {
            const file = item.file;
            spans.push({ start: offset, length: file.size, kind: "file", file });
            offset += file.size;
            const pad = padding(file.size);
            if (pad > 0) spans.push({ start: offset, length: pad, kind: "zeros" });
            offset += pad;
        }
        if (offset - entryStart >= chunkBytes) {
            cut(runStart, entryStart);
            cut(entryStart, offset);
            runStart = offset;
        }
    }
    spans.push({ start: offset, length: END_OF_ARCHIVE_BYTES, kind: "zeros" });
    offset += END_OF_ARCHIVE_BYTES;
    cut(runStart, offset);
    return { entryCount: items.length, tarBytes: offset, chunks, spans };
}

/** Why an archive path is refused, or undefined when it is fine. */
export function checkArchivePath(p: string): PackProblem | undefined {
    const problem = (code: PackProblem["code"], message: string): PackProblem => ({ code, archivePath: p, message });
    if (typeof p !== "string" || p.length === 0) return problem("PACK_INVALID_PATH", "archive path is empty");
    if (p.includes("\0")) return problem("PACK_INVALID_PATH", "archive path contains a NUL byte");
    if (p.startsWith("/")) return problem("PACK_ABSOLUTE_PATH", "archive path is absolute; it must be relative, e.g. `log/fluent.conf`");
    if (/^[A-Za-z]:/.test(p) || p.includes("\\"))
        return problem("PACK_INVALID_PATH", "archive path must use `/` separators and no drive letter");
    const parts = p.split("/");
    if (parts.includes("..")) return problem("PACK_PARENT_PATH", "archive path contains `..`; it must stay inside the artifact");
    if (parts.some((s) => s === "" || s === "."))
        return problem("PACK_INVALID_PATH", "archive path has an empty or `.` component (or a trailing `/`)");
    return undefined;
}

function kindOf(st: fs.Stats): string {
    if (st.isDirectory()) return "a directory";
    if (st.isFIFO()) return "a fifo";
    if (st.isSocket()) return "a socket";
    if (st.isCharacterDevice() || st.isBlockDevice()) return "a device";
    return "not a regular file";
}

/**
 * The bytes of one chunk, read into `target` when given (reusing buffers matters: a fresh 4 MiB
 * buffer costs more in page faults than reading into it from the page cache). Each source file
 * read is checked against the planned stat first.
 */
export function readChunk(layout: TarLayout, chunk: Chunk, target?: Buffer): Buffer {
    const length = chunk.end - chunk.start;
    if (target && target.length < length) throw new RangeError(`chunk of ${length} bytes does not fit a ${target.length}-byte buffer`);
    const out = target ? target.subarray(0, length) : Buffer.allocUnsafe(length);
    let i = firstSpanAt(layout.spans, chunk.start);
    let pos = chunk.start;
    while (pos < chunk.end) {
        const span = layout.spans[i++]!;
        const from = pos - span.start;
        const n = Math.min(span.length - from, chunk.end - pos);
        const at = pos - chunk.start;
        switch (span.kind) {
            case "bytes":
                span.bytes.copy(out, at, from, from + n);
                break;
            case "zeros":
                out.fill(0, at, at + n);
                break;
            case "file":
                readFileRange(span.file, from, out, at, n);
                break;
            default: {
                const never: never = span;
                throw new Error(`unknown span ${JSON.stringify(never)}`);
            }
        }
        pos += n;
    }
    return out;
}

function firstSpanAt(spans: readonly Span[], offset: number): number {
    let lo = 0;
    let hi = spans.length - 1;
    while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (spans[mid]!.start <= offset) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

function readFileRange(file: SourceFile, position: number, out: Buffer, at: number, length: number): void {
    const changed = (what: string) =>
        new PackError([
            {
                code: "PACK_CHANGED_WHILE_PACKING",
                archivePath: file.archivePath,
                message: `source ${file.sourcePath} ${what} while it was being packed; pack again`,
            },
        ]);
    let fd: number;
    try {
        fd = fs.openSync(file.sourcePath, "r");
    } catch (err) {
        throw changed(`could not be opened (${(err as Error).message})`);
    }
    try {
        const st = fs.fstatSync(fd);
        if (
            st.size !== file.size ||
            st.ino !== file.ino ||
            st.dev !== file.dev ||
            st.mtimeMs !== file.mtimeMs ||
            st.ctimeMs !== file.ctimeMs
        ) {
            throw changed("changed");
        }
        let done = 0;
        while (done < length) {
            const n = fs.readSync(fd, out, at + done, length - done, position + done);
            if (n === 0) throw changed("got shorter");
            done += n;
        }
    } finally {
        fs.closeSync(fd);
    }
}
