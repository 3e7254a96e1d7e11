// The shell scripts written onto the host, read from this folder at build time (the only I/O here).
// They are real files so that shellcheck reads them (test/hostScripts.test.ts); units/provision.ts
// decides where each lands on the host.
import * as fs from "node:fs";
import * as path from "node:path";

/** File name → text, e.g. `provision.sh` → `#!/bin/bash…`, sorted by name. */
export type HostScriptSources = Readonly<Record<string, string>>;

/** Every `.sh` file of `dir` (this folder by default). */
export function readHostScripts(dir: string = __dirname): HostScriptSources {
    const names = fs
        .readdirSync(dir)
        .filter((f) => f.endsWith(".sh"))
        .sort();
    return Object.fromEntries(names.map((name) => [name, fs.readFileSync(path.join(dir, name), "utf8")]));
}
