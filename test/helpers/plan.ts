// Offline plans in child processes, for tests that need another stack or another config.
//
// The program (index.ts) can be loaded once per process: Node caches the module and the Pulumi
// runtime's state is global. One test file (test/program.test.ts) plans the dev stack in-process;
// every other plan runs `scripts/plan.ts` in a child process through this helper. Children run at
// most one per core at a time, however many tests ask at once.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as tar from "tar";
import { parseStackConfig } from "../../config";
import type { OfflinePlan, PlannedCall, PlannedResource } from "../../scripts/offline";
import { loadStackConfig, unitsOf } from "../../scripts/offline";
import { applyOverrides } from "../../units";
import { FIXTURE_CONFIG, seedContainers } from "./fixtures";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");
const PLAN_SCRIPT = "scripts/plan.ts";

export interface RunResult {
    /** Exit code; `null` when killed by a signal. */
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly ms: number;
}

const SLOTS = Math.max(1, typeof os.availableParallelism === "function" ? os.availableParallelism() : os.cpus().length);
let running = 0;
const waiting: (() => void)[] = [];

async function withSlot<T>(work: () => Promise<T>): Promise<T> {
    if (running >= SLOTS) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
        return await work();
    } finally {
        running--;
        waiting.shift()?.();
    }
}

/** The environment for a child: ours, minus config the SDK would read instead of the stack's. */
function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
    delete env["PULUMI_CONFIG"];
    delete env["PULUMI_CONFIG_SECRET_KEYS"];
    return env;
}

/** Run a command in the project folder (queued behind other children). */
export function run(
    command: string,
    args: readonly string[],
    opts: { env?: Readonly<Record<string, string>>; timeoutMs?: number } = {},
): Promise<RunResult> {
    return withSlot(
        () =>
            new Promise<RunResult>((resolve, reject) => {
                const started = Date.now();
                const child = spawn(command, [...args], { cwd: PROJECT_DIR, env: childEnv(opts.env), stdio: ["ignore", "pipe", "pipe"] });
                const out: Buffer[] = [];
                const err: Buffer[] = [];
                child.stdout.on("data", (c: Buffer) => out.push(c));
                child.stderr.on("data", (c: Buffer) => err.push(c));
                const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 150_000);
                child.on("error", (e) => {
                    clearTimeout(timer);
                    reject(e);
                });
                child.on("close", (code) => {
                    clearTimeout(timer);
                    resolve({
                        code,
                        stdout: Buffer.concat(out).toString("utf8"),
                        stderr: Buffer.concat(err).toString("utf8"),
                        ms: Date.now() - started,
                    });
                });
            }),
    );
}

/** `scripts/plan.ts ARGS` with node + tsx (what `npm start` runs, without npm's start-up time). */
export function runPlanScript(args: readonly string[]): Promise<RunResult> {
    return run(process.execPath, ["--import", "tsx", PLAN_SCRIPT, ...args]);
}

/** `npm start -- ARGS`, exactly as a person types it. */
export function runNpmStart(args: readonly string[]): Promise<RunResult> {
    return run(process.platform === "win32" ? "npm.cmd" : "npm", ["start", "--silent", "--", ...args]);
}

export interface ChildPlanOptions {
    readonly stack: string;
    /** Config over the stack file and {@link FIXTURE_CONFIG}, `project:key` → value (objects are passed as JSON). */
    readonly config?: Readonly<Record<string, unknown>>;
    /** Plan the user's hosts/ and artifact/ instead of the test fixtures. */
    readonly userHosts?: boolean;
    /** Plan with the mocks in preview mode. */
    readonly preview?: boolean;
    /** Keys to mark secret, e.g. `coreos-containers:containers`. */
    readonly secretKeys?: readonly string[];
}

/** The command-line arguments for a plan with these options (`--json` excluded). */
export function planArgs(opts: ChildPlanOptions): string[] {
    const config = { ...(opts.userHosts ? {} : FIXTURE_CONFIG), ...(opts.config ?? {}) };
    return [
        "--stack",
        opts.stack,
        ...(Object.keys(config).length ? ["--config-json", JSON.stringify(config)] : []),
        ...(opts.preview ? ["--preview"] : []),
        ...(opts.secretKeys ?? []).flatMap((k) => ["--secret", k]),
    ];
}

/** Plan in a child process; rejects with the child's stderr when the plan fails. */
export async function planInChild(opts: ChildPlanOptions): Promise<OfflinePlan> {
    const r = await runPlanScript([...planArgs(opts), "--json"]);
    if (r.code !== 0) throw new Error(`offline plan ${planArgs(opts).join(" ")} exited ${r.code}:\n${r.stderr}`);
    return JSON.parse(r.stdout) as OfflinePlan;
}

/**
 * Read back what `npm start` wrote to an out folder, in the shape `--json` prints. Also checks that
 * `units/` holds exactly the units of the user-data, byte for byte.
 */
export function readPlanDir(outDir: string): OfflinePlan {
    const doc = JSON.parse(fs.readFileSync(path.join(outDir, "plan.json"), "utf8")) as {
        project: string;
        stack: string;
        preview: boolean;
        resources: PlannedResource[];
        calls: PlannedCall[];
        outputs: Record<string, unknown>;
    };
    const bytes = fs.readFileSync(path.join(outDir, "user-data"));
    const instance = doc.resources.find((r) => r.type === "aws:ec2/instance:Instance");
    const base64 = instance !== undefined && "userDataBase64" in instance.inputs;
    const encoded = {
        userData: bytes.toString(base64 ? "base64" : "utf8"),
        userDataEncoding: base64 ? ("base64" as const) : ("text" as const),
    };
    const units = unitsOf({ ...encoded, resources: doc.resources });
    const files = fs.readdirSync(path.join(outDir, "units")).sort();
    const expected = units.map((u) => u.name).sort();
    if (JSON.stringify(files) !== JSON.stringify(expected))
        throw new Error(`${outDir}/units holds ${files.join(", ")}; the user-data has ${expected.join(", ")}`);
    for (const u of units) {
        if (fs.readFileSync(path.join(outDir, "units", u.name), "utf8") !== u.content)
            throw new Error(`${outDir}/units/${u.name} differs from the user-data's unit`);
    }
    return { ...doc, ...encoded, units };
}

/** `scripts/plan.ts` writing to `outDir` (not --json), read back with {@link readPlanDir}. */
export async function planToDir(opts: ChildPlanOptions, outDir: string): Promise<{ run: RunResult; plan: OfflinePlan }> {
    const r = await runPlanScript([...planArgs(opts), "--out", outDir]);
    if (r.code !== 0) throw new Error(`offline plan ${planArgs(opts).join(" ")} --out ${outDir} exited ${r.code}:\n${r.stderr}`);
    return { run: r, plan: readPlanDir(outDir) };
}

export interface ScratchDir {
    /** Absolute path. */
    readonly abs: string;
    /** Path relative to the project, `/`-separated: what config keys like `artifactDir` take. */
    readonly rel: string;
    remove(): void;
}

/**
 * A fresh folder under the project's `.cache/test/` (ignored by git). Config folders must be
 * relative to the project (stack files are shared between clones), so test inputs live here
 * rather than in the system's temp folder.
 */
export function scratchDir(label: string): ScratchDir {
    const base = path.join(PROJECT_DIR, ".cache", "test");
    fs.mkdirSync(base, { recursive: true });
    const abs = fs.mkdtempSync(path.join(base, `${label}-`));
    return {
        abs,
        rel: path.relative(PROJECT_DIR, abs).split(path.sep).join("/"),
        remove: () => fs.rmSync(abs, { recursive: true, force: true }),
    };
}

/** A small but real `docker save`-style tarball: a tar holding a manifest.json that names `ref`. */
export function writeImageTarball(dir: string, file: string, ref: string): string {
    const staging = fs.mkdtempSync(path.join(dir, ".image-"));
    fs.writeFileSync(path.join(staging, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: [ref], Layers: [] }]) + "\n");
    fs.writeFileSync(
        path.join(staging, "config.json"),
        JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [] } }) + "\n",
    );
    const target = path.join(dir, file);
    tar.create({ file: target, cwd: staging, sync: true, portable: true, mtime: new Date(0) }, ["manifest.json", "config.json"]);
    fs.rmSync(staging, { recursive: true, force: true });
    return target;
}

/** The tarball images a stack's containers load, `file` → `ref`, from the definitions and the stack's overrides. */
export function tarballImages(stack: string): Record<string, string> {
    const config = parseStackConfig(loadStackConfig(stack));
    const containers = applyOverrides(seedContainers, config.containers);
    return Object.fromEntries(containers.flatMap((c) => (c.image.kind === "tarball" ? [[c.image.file, c.image.ref] as const] : [])));
}

export interface ImageFixtures extends ScratchDir {
    /** Config that points the stack's `imageDir` at the fixtures. */
    readonly config: Record<string, string>;
}

/**
 * Fixture image tarballs for a stack that loads images built by CI (prod): on a fresh clone
 * build/images/ is empty, so tests plan such a stack against these. Only their existence is
 * checked at plan time; they are packed into the artifact like the real ones.
 */
export function imageFixtures(stack: string): ImageFixtures {
    const dir = scratchDir(`images-${stack}`);
    for (const [file, ref] of Object.entries(tarballImages(stack))) writeImageTarball(dir.abs, file, ref);
    return { ...dir, config: { "coreos-containers:imageDir": dir.rel } };
}
