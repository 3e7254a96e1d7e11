import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

describe("typecheck", () => {
    it("the whole program type-checks under tsconfig.json (what pulumi's ts-node loads)", function () {
        this.timeout(120_000);
        const r = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc"), "--noEmit", "-p", ROOT], { encoding: "utf8", cwd: ROOT });
        assert.equal(r.status, 0, `tsc reported:\n${r.stdout}${r.stderr}`);
    });
});
