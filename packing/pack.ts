// Reproducible, content-addressed packing of the artifact. No Pulumi.
// PLACEHOLDER implementation: issue 4 replaces it with the streaming, parallel, cached packer.
import * as fs from "node:fs";
import * as path from "node:path";
import * as crypto from "node:crypto";
import * as zlib from "node:zlib";
import * as tar from "tar";

/** One file in the artifact: where it comes from, and its path inside the tarball. */
export interface PackEntry {
    /** Path inside the artifact, `/`-separated, relative, e.g. `log/fluent.conf` or `images/fluentd.tar`. */
    readonly archivePath: string;
    /** Path on this machine to read it from. */
    readonly sourcePath: string;
}

export interface PackResult {
    /** Hex SHA-256 of the `.tar.gz` bytes: the artifact's name. */
    readonly sha256: string;
    readonly bytes: number;
    /** Where the packed file is, e.g. `.cache/artifacts/<sha256>.tar.gz` (relative to `cwd` when given relative). */
    readonly path: string;
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

/** Pack entries into `outDir/<sha256>.tar.gz`. */
export async function pack(entries: readonly PackEntry[], outDir: string): Promise<PackResult> {
    fs.mkdirSync(outDir, { recursive: true });
    const sorted = [...entries].sort((a, b) => (a.archivePath < b.archivePath ? -1 : 1));
    const tmp = path.join(outDir, `.tmp-${process.pid}.tar.gz`);
    const staging = fs.mkdtempSync(path.join(outDir, ".stage-"));
    for (const e of sorted) {
        const dest = path.join(staging, e.archivePath);
        fs.mkdirSync(path.dirname(dest), { recursive: true });
        fs.copyFileSync(e.sourcePath, dest);
    }
    const tarBuf = await new Promise<Buffer>((resolve, reject) => {
        const chunks: Buffer[] = [];
        tar.create({ cwd: staging, portable: true, mtime: new Date(0), noDirRecurse: true }, sorted.map((e) => e.archivePath))
            .on("data", (c: Buffer) => chunks.push(c)).on("end", () => resolve(Buffer.concat(chunks))).on("error", reject);
    });
    fs.rmSync(staging, { recursive: true, force: true });
    const gz = zlib.gzipSync(tarBuf, { level: 6 });
    const sha256 = crypto.createHash("sha256").update(gz).digest("hex");
    fs.writeFileSync(tmp, gz);
    const final = path.join(outDir, `${sha256}.tar.gz`);
    fs.renameSync(tmp, final);
    return { sha256, bytes: gz.length, path: final };
}
