// `npm run diff -- --base <git-ref> [--stack dev] [--out FILE] [--full-out FILE] [--json-out FILE] [--budget N]`
//
// What a change does to a stack, for a pull request's reviewer: renders this working tree and the
// base revision offline (each with its own scripts/plan.ts, in a child process) and prints a Markdown
// summary: whether the host will be replaced or updated in place and why, which units, files,
// artifact files, config keys and other resources changed, and each changed unit's diff.
//
// The base is checked out with `git worktree add --detach` into a temporary folder that is always
// removed; it borrows this checkout's node_modules and image tarballs (neither is in git).
// Exit 0 whenever both sides planned, whatever changed; 1 when a side could not be planned or git
// failed; 2 on a usage error.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseArgs as parseArgv } from "node:util";
import { PROJECT as NS } from "../config";
import { ConfigView, configString } from "./diff/config";
import { PlanError, hashTree, readProjectConfig, runPlan } from "./diff/io";
import { COMMENT_BUDGET, JOB_SUMMARY_BUDGET, code } from "./diff/markdown";
import { SummaryOptions, summarize } from "./diff/summary";

const PROJECT_DIR = path.resolve(__dirname, "..");
const USAGE =
    "usage: npm run diff -- --base <git-ref> [--stack NAME] [--out FILE] [--full-out FILE] [--json-out FILE] [--budget CHARS] [--context LINES]";

class UsageError extends Error {}
class DiffError extends Error {}

interface Args {
    base: string;
    stack: string;
    out?: string;
    fullOut?: string;
    jsonOut?: string;
    budget: number;
    context: number;
}

function parseArgs(argv: string[]): Args {
    let values;
    try {
        ({ values } = parseArgv({
            args: argv,
            options: {
                base: { type: "string" },
                stack: { type: "string", default: "dev" },
                out: { type: "string" },
                "full-out": { type: "string" },
                "json-out": { type: "string" },
                budget: { type: "string", default: String(COMMENT_BUDGET) },
                context: { type: "string", default: "3" },
                help: { type: "boolean", short: "h", default: false },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (e) {
        throw new UsageError(`${(e as Error).message}\n${USAGE}`);
    }
    if (values.help) throw new UsageError(USAGE);
    const count = (flag: string, v: string) => {
        if (!/^\d+$/.test(v)) throw new UsageError(`--${flag} must be a whole number, not ${JSON.stringify(v)}`);
        return Number(v);
    };
    if (!values.base) throw new UsageError(`--base is required\n${USAGE}`);
    if (!/^[A-Za-z0-9._-]+$/.test(values.stack)) throw new UsageError(`--stack ${JSON.stringify(values.stack)} is not a stack name`);
    return {
        base: values.base,
        stack: values.stack,
        ...(values.out !== undefined ? { out: values.out } : {}),
        ...(values["full-out"] !== undefined ? { fullOut: values["full-out"] } : {}),
        ...(values["json-out"] !== undefined ? { jsonOut: values["json-out"] } : {}),
        budget: count("budget", values.budget),
        context: count("context", values.context),
    };
}

function git(args: string[], cwd = PROJECT_DIR): string {
    try {
        return execFileSync("git", args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    } catch (e) {
        const stderr = (e as { stderr?: string }).stderr?.trim();
        throw new DiffError(`git ${args.join(" ")} failed${stderr ? `: ${stderr}` : ""}`);
    }
}

/** A temporary worktree of `sha` that is removed however the process ends. */
class BaseTree {
    readonly root: string;
    private readonly tmp: string;
    private readonly links: string[] = [];
    private removed = false;

    constructor(sha: string) {
        // git accepts an empty folder; its unique name is the worktree's name, so runs in parallel get
        // their own. They can still meet in .git/worktrees/: `worktree add` reads every registered
        // worktree, and one that another run removes at that moment fails it ("failed to read
        // .git/worktrees/<other>/commondir"). That is retried, a few times, a moment apart.
        this.tmp = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-containers-diff-"));
        this.root = this.tmp;
        const onSignal = (signal: NodeJS.Signals) => {
            this.remove();
            process.exit(signal === "SIGINT" ? 130 : 143);
        };
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        process.once("exit", () => this.remove());
        for (let attempt = 1; ; attempt++) {
            try {
                git(["worktree", "add", "--detach", "--quiet", this.root, sha]);
                break;
            } catch (e) {
                const anotherRun = e instanceof DiffError && /failed to read \.git\/worktrees\//.test(e.message);
                if (anotherRun && attempt < 5) {
                    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200 * attempt);
                    continue;
                }
                this.remove();
                throw e;
            }
        }
    }

    /** `at` inside the worktree points at `target` (a folder of this checkout); removed before the tree. */
    link(at: string, target: string): void {
        if (fs.existsSync(at) || !fs.existsSync(target)) return;
        fs.mkdirSync(path.dirname(at), { recursive: true });
        fs.symlinkSync(target, at, "dir");
        this.links.push(at);
    }

    remove(): void {
        if (this.removed) return;
        this.removed = true;
        // Links first, so nothing below can follow them into this checkout.
        for (const l of this.links) fs.rmSync(l, { force: true });
        try {
            git(["worktree", "remove", "--force", this.root]);
        } catch {
            // Fall through: the folder goes below and prune forgets the registration.
        }
        fs.rmSync(this.tmp, { recursive: true, force: true });
        try {
            git(["worktree", "prune"]);
        } catch {
            // Nothing left to do.
        }
    }
}

async function main(): Promise<void> {
    const args = parseArgs(process.argv.slice(2));
    const prefix = git(["rev-parse", "--show-prefix"]);
    const baseSha = (() => {
        try {
            return git(["rev-parse", "--verify", "--quiet", `${args.base}^{commit}`]);
        } catch {
            throw new DiffError(
                `--base ${JSON.stringify(args.base)} is not a commit here (fetch it first, e.g. git fetch origin main; checkout with fetch-depth: 0)`,
            );
        }
    })();
    const headSha = git(["rev-parse", "HEAD"]);
    const dirty = git(["status", "--porcelain", "--", "."]) !== "";
    if (!fs.existsSync(path.join(PROJECT_DIR, `Pulumi.${args.stack}.yaml`))) {
        throw new UsageError(`no Pulumi.${args.stack}.yaml in this tree: --stack names a stack file`);
    }

    const tree = new BaseTree(baseSha);
    try {
        const baseProject = path.join(tree.root, prefix);
        if (!fs.existsSync(path.join(baseProject, "Pulumi.yaml")))
            throw new DiffError(`the base revision ${args.base} has no Pulumi.yaml at ${prefix || "the top"}`);
        const baseHasStack = fs.existsSync(path.join(baseProject, `Pulumi.${args.stack}.yaml`));
        const headConfig = readProjectConfig(PROJECT_DIR, args.stack);
        const baseConfig: ConfigView = baseHasStack ? readProjectConfig(baseProject, args.stack) : {};

        // Neither node_modules nor the image tarballs are in git: the base borrows this checkout's.
        tree.link(path.join(baseProject, "node_modules"), path.join(PROJECT_DIR, "node_modules"));
        const headImages = configString(headConfig, `${NS}:imageDir`, "build/images");
        const baseImages = configString(baseConfig, `${NS}:imageDir`, "build/images");
        const imagesPresent = fs.existsSync(path.join(PROJECT_DIR, headImages));
        tree.link(path.join(baseProject, baseImages), path.join(PROJECT_DIR, headImages));

        const [basePlan, headPlan] = await Promise.all([
            baseHasStack ? runPlan(baseProject, args.stack) : Promise.resolve(null),
            runPlan(PROJECT_DIR, args.stack),
        ]);

        const baseArtifact = configString(baseConfig, `${NS}:artifactDir`, "artifact");
        const headArtifact = configString(headConfig, `${NS}:artifactDir`, "artifact");
        const short = (sha: string) => code(sha.slice(0, 7));
        const options: SummaryOptions = {
            stack: args.stack,
            baseLabel: `${code(args.base)} (${short(baseSha)})`,
            headLabel: dirty ? `the working tree (${short(headSha)} with uncommitted changes)` : `${code("HEAD")} (${short(headSha)})`,
            context: args.context,
            seeAlso: `see the job summary / run \`npm run diff -- --base ${args.base} --stack ${args.stack}\` locally`,
            artifactFiles: {
                base: baseHasStack ? hashTree(path.join(baseProject, baseArtifact)) : {},
                head: hashTree(path.join(PROJECT_DIR, headArtifact)),
                baseDir: baseArtifact,
                headDir: headArtifact,
                ...(imagesPresent
                    ? {
                          note: `Image tarballs are not in git: both sides were packed with this checkout's ${code(headImages)}, so a change inside an image does not show here.`,
                      }
                    : {}),
            },
            config: { base: baseConfig, head: headConfig },
        };
        const summary = summarize(basePlan, headPlan, { ...options, budget: args.budget });
        process.stdout.write(summary.markdown);
        if (args.out) fs.writeFileSync(args.out, summary.markdown);
        if (args.fullOut)
            fs.writeFileSync(args.fullOut, summarize(basePlan, headPlan, { ...options, budget: JOB_SUMMARY_BUDGET }).markdown);
        if (args.jsonOut) fs.writeFileSync(args.jsonOut, JSON.stringify(summary, null, 2) + "\n");
    } finally {
        tree.remove();
    }
}

main().catch((e: unknown) => {
    if (e instanceof UsageError) {
        console.error(`npm run diff: ${e.message}`);
        process.exit(2);
    }
    const message = e instanceof PlanError || e instanceof DiffError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e);
    console.error(`npm run diff: ${message}`);
    process.exit(1);
});
