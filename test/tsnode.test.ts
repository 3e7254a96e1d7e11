// `pulumi up` loads index.ts through ts-node (the nodejs runtime registers it with the project's
// tsconfig and type-checks); `npm start` and the tests load it through tsx. Both must run the same
// program to the same user-data.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as path from "node:path";
import { FIXTURE_CONFIG } from "./helpers/fixtures";

const ROOT = path.resolve(__dirname, "..");

function run(script: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn(process.execPath, ["-e", script, ...args], { cwd: ROOT });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

describe("the program under Pulumi's loader (ts-node)", () => {
    it("loads index.ts with type checking and renders the same user-data as the offline plan", async function () {
        this.timeout(180_000);
        const viaTsNode = run(
            `
            const root = process.argv[1];
            process.chdir(root);
            // Pulumi's loader, its module resolution and require hooks (hosts/ is loaded with require);
            // the type check it would also run is npm test's tsc over the same tsconfig (scripts/check.sh).
            require(root + "/node_modules/ts-node").register({ project: root + "/tsconfig.json", transpileOnly: true });
            const { planOffline } = require(root + "/scripts/offline.ts");
            planOffline({ stack: "dev", config: JSON.parse(process.argv[2]) }).then(
                (p) => { process.stdout.write(JSON.stringify({ sha: p.outputs.userDataSha256, bytes: p.userData.length })); },
                (e) => { console.error(e && e.stack || String(e)); process.exit(1); });
            `,
            [ROOT, JSON.stringify(FIXTURE_CONFIG)],
        );
        const viaTsx = run(
            `
            const root = process.argv[1];
            const { spawnSync } = require("node:child_process");
            const r = spawnSync(process.execPath, ["--import", "tsx", root + "/scripts/plan.ts", "--json", "--stack", "dev", "--config-json", process.argv[2]], { cwd: root, encoding: "utf8", maxBuffer: 64 << 20 });
            if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
            const p = JSON.parse(r.stdout);
            process.stdout.write(JSON.stringify({ sha: p.outputs.userDataSha256, bytes: p.userData.length }));
            `,
            [ROOT, JSON.stringify(FIXTURE_CONFIG)],
        );
        const [a, b] = await Promise.all([viaTsNode, viaTsx]);
        assert.equal(a.code, 0, `ts-node could not load the program:\n${a.stderr}`);
        assert.equal(b.code, 0, `tsx plan failed:\n${b.stderr}`);
        const fromTsNode = JSON.parse(a.stdout) as { sha: string; bytes: number };
        const fromTsx = JSON.parse(b.stdout) as { sha: string; bytes: number };
        assert.match(fromTsNode.sha, /^[0-9a-f]{64}$/);
        assert.deepEqual(fromTsNode, fromTsx);
    });
});
