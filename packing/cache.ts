// The member cache: compressed gzip members keyed by the SHA-256 of the bytes they compress.
//
//   <dir>/members/<key>.gz   key = SHA-256(format version, level, deflate fingerprint, SHA-256(chunk))
//   <dir>/packs/<key>.json   key = SHA-256(format version, level, deflate fingerprint, member keys in order)
//                            → { sha256, bytes, members } of the `.tar.gz` those members make
//
// Nothing is keyed on mtime, size or path: a member is found only by the hash of the exact bytes it
// compresses, so any changed byte of input means a different key and a fresh compression.
//
// Eviction: after each pack, only the members named by the `keepPacks` most recently used pack
// records stay (records are touched when used); the rest, and older records, are deleted. The cache
// is thus bounded by about `keepPacks` artifacts' compressed size, less what they share.
//
// Files are written under a temporary name and renamed, so a reader never sees half a member.
// Packs running at once on one cache may evict each other's members; the packer then rebuilds a
// missing member from its input (and checks it still hashes to the same key), so that costs time,
// never correctness.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

/** Bump when the tar layout, chunking or member format changes: old entries then simply miss. */
export const CACHE_FORMAT = "coreos-containers/pack v1";

export interface PackRecord {
    /** Hex SHA-256 of the `.tar.gz`. */
    readonly sha256: string;
    readonly bytes: number;
    /** Member keys in order. */
    readonly members: readonly string[];
}

const STALE_TEMP_MS = 24 * 3600 * 1000;

export class MemberCache {
    private readonly membersDir: string;
    private readonly packsDir: string;
    private readonly salt: string;

    constructor(
        readonly dir: string,
        level: number,
        deflateFingerprint: string,
    ) {
        this.membersDir = path.join(dir, "members");
        this.packsDir = path.join(dir, "packs");
        this.salt = `${CACHE_FORMAT}\0level=${level}\0deflate=${deflateFingerprint}\0`;
        fs.mkdirSync(this.membersDir, { recursive: true });
        fs.mkdirSync(this.packsDir, { recursive: true });
    }

    /** The key of the member that compresses a chunk whose SHA-256 is `chunkSha256`. */
    memberKey(chunkSha256: string): string {
        return sha256(`${this.salt}chunk=${chunkSha256}`);
    }

    packKey(memberKeys: readonly string[]): string {
        // Stryker disable next-line StringLiteral: member keys are 64 hex digits each, so no separator can make two lists join alike
        return sha256(`${this.salt}members=${memberKeys.join(",")}`);
    }

    async hasMember(key: string): Promise<boolean> {
        try {
            return (await fs.promises.stat(this.memberPath(key))).isFile();
        } catch {
            return false;
        }
    }

    async readMember(key: string): Promise<Buffer | undefined> {
        try {
            return await fs.promises.readFile(this.memberPath(key));
        } catch {
            return undefined;
        }
    }

    async writeMember(key: string, member: Buffer): Promise<void> {
        await writeAtomically(this.memberPath(key), member);
    }

    readPack(key: string): PackRecord | undefined {
        try {
            const r = JSON.parse(fs.readFileSync(this.packPath(key), "utf8")) as PackRecord;
            return typeof r.sha256 === "string" && typeof r.bytes === "number" && Array.isArray(r.members) ? r : undefined;
        } catch {
            return undefined;
        }
    }

    async writePack(key: string, record: PackRecord): Promise<void> {
        await writeAtomically(this.packPath(key), Buffer.from(JSON.stringify(record)));
    }

    /** Mark a pack record as just used. */
    touchPack(key: string): void {
        const now = new Date();
        try {
            fs.utimesSync(this.packPath(key), now, now);
            // Stryker disable next-line BlockStatement: the block holds only this comment; emptying it changes nothing
        } catch {
            // gone already: eviction keeps the current pack's members regardless
        }
    }

    /**
     * Keep the `keepPacks` most recently used records (always `currentPack`) and the members they
     * name; delete the rest. Returns how many members were deleted.
     */
    evict(keepPacks: number, currentPack: string, currentMembers: readonly string[]): number {
        const records = fs
            .readdirSync(this.packsDir)
            .filter((f) => f.endsWith(".json"))
            .map((f) => ({ key: f.slice(0, -".json".length), mtimeMs: statOrUndefined(path.join(this.packsDir, f))?.mtimeMs ?? 0 }))
            .sort((a, b) => b.mtimeMs - a.mtimeMs || (a.key < b.key ? -1 : 1));
        const kept = new Set<string>([currentPack]);
        for (const r of records) if (kept.size < keepPacks) kept.add(r.key);
        const referenced = new Set<string>(currentMembers);
        for (const r of records) {
            if (kept.has(r.key)) {
                // Stryker disable next-line ArrayDeclaration: a key no member file has references nothing
                for (const m of this.readPack(r.key)?.members ?? []) referenced.add(m);
            } else {
                unlinkQuietly(this.packPath(r.key));
            }
        }
        let evicted = 0;
        const now = Date.now();
        for (const dir of [this.membersDir, this.packsDir]) {
            for (const f of fs.readdirSync(dir)) {
                const p = path.join(dir, f);
                if (f.startsWith(".tmp-")) {
                    if (now - (statOrUndefined(p)?.mtimeMs ?? now) > STALE_TEMP_MS) unlinkQuietly(p);
                } else if (dir === this.membersDir && f.endsWith(".gz") && !referenced.has(f.slice(0, -".gz".length))) {
                    unlinkQuietly(p);
                    evicted++;
                }
            }
        }
        return evicted;
    }

    private memberPath(key: string): string {
        return path.join(this.membersDir, `${key}.gz`);
    }

    private packPath(key: string): string {
        return path.join(this.packsDir, `${key}.json`);
    }
}

function sha256(text: string): string {
    return crypto.createHash("sha256").update(text, "utf8").digest("hex");
}

async function writeAtomically(file: string, data: Buffer): Promise<void> {
    const tmp = path.join(path.dirname(file), `.tmp-${process.pid}-${crypto.randomBytes(6).toString("hex")}`);
    try {
        await fs.promises.writeFile(tmp, data);
        await fs.promises.rename(tmp, file);
    } catch (err) {
        unlinkQuietly(tmp);
        throw err;
    }
}

function statOrUndefined(p: string): fs.Stats | undefined {
    try {
        return fs.statSync(p);
    } catch {
        return undefined;
    }
}

function unlinkQuietly(p: string): void {
    try {
        fs.unlinkSync(p);
    } catch {
        // already gone
    }
}
