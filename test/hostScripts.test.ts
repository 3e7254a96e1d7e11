// The shell scripts written onto the host are real files (host-scripts/), read at build time into
// the user-data byte for byte, and clean under shellcheck (Debian's) at warning level and above.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { readHostScripts } from "../host-scripts";
import { BIN_DIR, DOCKER, ENSURE_IMAGE } from "../units/layout";
import { PROVISION_SCRIPT, hostScripts, shippedScript } from "../units/provision";
import { PROJECT_DIR } from "./helpers/fixtures";

const SCRIPTS_DIR = path.join(PROJECT_DIR, "host-scripts");

function shellcheck(files: readonly string[]): { status: number | null; output: string } {
    const r = spawnSync("shellcheck", ["--external-sources", "--severity=warning", "--format=gcc", ...files], {
        cwd: PROJECT_DIR,
        encoding: "utf8",
    });
    if (r.error) throw new Error(`shellcheck could not run (${r.error.message}); bash scripts/test-tools.sh installs it`);
    return { status: r.status, output: r.stdout + r.stderr };
}

describe("host scripts (host-scripts/)", () => {
    const sources = readHostScripts();

    it("are every .sh file of the folder, read byte for byte", () => {
        const names = fs
            .readdirSync(SCRIPTS_DIR)
            .filter((f) => f.endsWith(".sh"))
            .sort();
        assert.deepEqual(Object.keys(sources), names);
        for (const n of names) assert.equal(sources[n], fs.readFileSync(path.join(SCRIPTS_DIR, n), "utf8"), n);
    });

    it("land on the host as executables without .sh (0755), and libraries as themselves (0644)", () => {
        const files = hostScripts(sources);
        assert.deepEqual(
            files.map((f) => [f.path, f.permissions]),
            Object.keys(sources)
                .map((n) => (sources[n]!.startsWith("#!") ? [`${BIN_DIR}/${n.replace(/\.sh$/, "")}`, "0755"] : [`${BIN_DIR}/${n}`, "0644"]))
                .sort(([a], [b]) => (a! < b! ? -1 : 1)),
        );
        for (const f of files)
            assert.equal(f.content, shippedScript(sources[path.basename(f.path) + (f.permissions === "0755" ? ".sh" : "")]!), f.path);
        const paths = files.map((f) => f.path);
        for (const p of [PROVISION_SCRIPT, ENSURE_IMAGE, `${BIN_DIR}/image-cleanup`, `${BIN_DIR}/aws.sh`]) assert.ok(paths.includes(p), p);
    });

    it("ship without their comment lines, and nothing else changes", () => {
        assert.equal(
            shippedScript("#!/bin/bash\n# about\n  # indented\nx=1 # kept: not a whole line\n\n#end"),
            "#!/bin/bash\nx=1 # kept: not a whole line\n",
        );
        for (const [name, text] of Object.entries(sources)) {
            // A here-document's lines could start with #: none may exist (here-strings, <<<, are fine).
            assert.doesNotMatch(text, /<<-?\s*['"]?[A-Za-z_]/, `${name} has a here-document`);
            const code = (t: string) => t.split("\n").filter((l) => !/^\s*#/.test(l));
            assert.deepEqual(code(shippedScript(text)), code(text), name);
            const syntax = spawnSync("bash", ["-n"], { input: shippedScript(text), encoding: "utf8" });
            assert.equal(syntax.status, 0, `${name}: ${syntax.stderr}`);
        }
    });

    it("use the same Docker CLI path as the units", () => {
        for (const [name, text] of Object.entries(sources)) {
            for (const m of text.matchAll(/\$\{DOCKER:-([^}]+)\}/g)) assert.equal(m[1], DOCKER, name);
        }
    });

    it("have no shellcheck finding at warning level or above (intended exceptions carry their reason inline)", () => {
        const files = Object.keys(sources).map((n) => path.join("host-scripts", n));
        const r = shellcheck(files);
        assert.equal(r.output, "");
        assert.equal(r.status, 0);
    });

    it("the project's own shell scripts (CI, the tool check) are clean too", () => {
        const r = shellcheck([".ci/run", "scripts/test-tools.sh", "scripts/check.sh", "scripts/mutation.sh"]);
        assert.equal(r.output, "");
        assert.equal(r.status, 0);
    });

    it("shellcheck does report what it can see (self-check)", () => {
        const dir = fs.mkdtempSync(path.join(PROJECT_DIR, ".cache-shellcheck-"));
        try {
            fs.writeFileSync(path.join(dir, "bad.sh"), "#!/bin/bash\nrm -rf $1/*\ncd /tmp\n");
            const r = shellcheck([path.join(dir, "bad.sh")]);
            assert.notEqual(r.status, 0);
            assert.match(r.output, /SC2086|SC2115/);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
