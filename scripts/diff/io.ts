// The I/O the diff needs, apart from git: run a tree's offline plan in a child process, hash an
// artifact folder, read a tree's stack config. No Pulumi here: the plan runs in the child.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { ConfigView, readConfigView } from "./config";
import { PlanLike } from "./summary";

/**
 * Node arguments that load tsx from this checkout's node_modules (the same tsx for every tree):
 * `node <these> file.ts`. `--import tsx` rather than tsx's CLI, which would start a second process.
 */
export function tsxNodeArgs(): string[] {
    return ["--import", pathToFileURL(require.resolve("tsx")).href];
}

export class PlanError extends Error {}

/**
 * `scripts/plan.ts --json --stack <stack>` of the project in `projectDir`, in a child process (the
 * program can be loaded once per process). `config`: extra `project:key` → value, as `--config-json`.
 */
export function runPlan(projectDir: string, stack: string, config?: Readonly<Record<string, unknown>>): Promise<PlanLike> {
    const args = [
        ...tsxNodeArgs(),
        "scripts/plan.ts",
        "--json",
        "--stack",
        stack,
        ...(config ? ["--config-json", JSON.stringify(config)] : []),
    ];
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: projectDir, stdio: ["ignore", "pipe", "pipe"] });
        const out: Buffer[] = [];
        const err: Buffer[] = [];
        child.stdout.on("data", (c: Buffer) => out.push(c));
        child.stderr.on("data", (c: Buffer) => err.push(c));
        child.on("error", reject);
        child.on("close", (code) => {
            const stderr = Buffer.concat(err).toString("utf8").trim();
            if (code !== 0) {
                reject(
                    new PlanError(
                        `the offline plan of stack ${stack} in ${projectDir} failed (exit ${code}):\n${stderr.split("\n").slice(0, 40).join("\n")}`,
                    ),
                );
                return;
            }
            try {
                resolve(JSON.parse(Buffer.concat(out).toString("utf8")) as PlanLike);
            } catch (e) {
                reject(new PlanError(`the offline plan of stack ${stack} in ${projectDir} printed no JSON: ${(e as Error).message}`));
            }
        });
    });
}

/** Every regular file under `dir` (relative, `/`-separated) → hex SHA-256. A missing folder is empty. */
export function hashTree(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    if (!fs.existsSync(dir)) return out;
    const walk = (rel: string) => {
        for (const e of fs.readdirSync(path.join(dir, rel), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isDirectory()) walk(r);
            else if (e.isFile())
                out[r] = crypto
                    .createHash("sha256")
                    .update(fs.readFileSync(path.join(dir, r)))
                    .digest("hex");
        }
    };
    walk("");
    return out;
}

/** The stack config of the project in `projectDir`, as its files write it. */
export function readProjectConfig(projectDir: string, stack: string): ConfigView {
    const stackFile = path.join(projectDir, `Pulumi.${stack}.yaml`);
    return readConfigView(
        fs.readFileSync(path.join(projectDir, "Pulumi.yaml"), "utf8"),
        fs.existsSync(stackFile) ? fs.readFileSync(stackFile, "utf8") : undefined,
    );
}
