// SHA-256 of chunks on worker threads, reading them straight from shared memory.
//
// Hashing every chunk is the whole cost of a warm re-pack, and one core does ~1.5 GB/s (SHA-NI).
// WebCrypto's async digest looked like the answer but measured slower than hashing on the main
// thread (it copies its input, and ran no faster two at a time), so workers it is: chunk buffers
// live in SharedArrayBuffers, a worker hashes one in place and posts back the hex.
import * as crypto from "node:crypto";
import { Worker } from "node:worker_threads";

// Plain JavaScript, evaluated in the worker: no TypeScript loader needed there, and none is loaded.
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { createHash } = require("node:crypto");
parentPort.on("message", ({ id, buffer, offset, length }) => {
    const hex = createHash("sha256").update(new Uint8Array(buffer, offset, length)).digest("hex");
    parentPort.postMessage({ id, hex });
});
`;

export interface Hasher {
    /** SHA-256 of `data`, in hex. */
    hash(data: Buffer): Promise<string>;
}

/** Hashing on the calling thread: for packs too small to be worth starting workers. */
export const mainThreadHasher: Hasher = {
    hash: (data) => Promise.resolve(crypto.createHash("sha256").update(data).digest("hex")),
};

interface HashWorker {
    readonly worker: Worker;
    readonly pending: Map<number, { resolve: (hex: string) => void; reject: (err: Error) => void }>;
}

/**
 * Workers that hash chunks. They are unref'd while idle, so an idle pool never keeps the process
 * alive, and are kept for the next pack in this process (starting one takes tens of ms).
 */
export class HashPool implements Hasher {
    private readonly workers: HashWorker[] = [];
    private nextId = 0;

    /** Make sure at least `size` workers exist. */
    grow(size: number): void {
        while (this.workers.length < size) this.workers.push(this.spawn());
    }

    /** SHA-256 of `data`, in hex. Hashed on a worker when `data` is in shared memory, else here. */
    hash(data: Buffer): Promise<string> {
        if (!(data.buffer instanceof SharedArrayBuffer) || this.workers.length === 0) return mainThreadHasher.hash(data);
        const w = this.workers.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
        const id = this.nextId++;
        return new Promise((resolve, reject) => {
            if (w.pending.size === 0) w.worker.ref();
            w.pending.set(id, { resolve, reject });
            w.worker.postMessage({ id, buffer: data.buffer, offset: data.byteOffset, length: data.length });
        });
    }

    get size(): number {
        return this.workers.length;
    }

    /** Stop every worker (pending hashes fail). */
    async close(): Promise<void> {
        const workers = this.workers.splice(0);
        await Promise.all(workers.map((w) => w.worker.terminate()));
    }

    private spawn(): HashWorker {
        const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
        const w: HashWorker = { worker, pending: new Map() };
        worker.unref();
        worker.on("message", ({ id, hex }: { id: number; hex: string }) => {
            const job = w.pending.get(id);
            w.pending.delete(id);
            if (w.pending.size === 0) worker.unref();
            job?.resolve(hex);
        });
        const fail = (err: Error) => {
            const i = this.workers.indexOf(w);
            if (i >= 0) this.workers.splice(i, 1); // the next grow() replaces it
            for (const job of w.pending.values()) job.reject(err);
            w.pending.clear();
        };
        worker.on("error", fail);
        worker.on("exit", (code) => fail(new Error(`hash worker exited with code ${code}`)));
        return w;
    }
}

let shared: HashPool | undefined;

/** The process's hash pool, with at least `size` workers. */
export function hashPool(size: number): HashPool {
    shared ??= new HashPool();
    shared.grow(size);
    return shared;
}
