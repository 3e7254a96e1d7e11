// `npm run --silent images [-- --stack prod]`: the image tarballs a stack loads, one per line, for CI
// to build and `docker save`:  <file in imageDir> <ref the units load> <build context (images/<name>)>
//
// From the code, not a hand-kept list: the stack's host (hosts/, or its hostsDir) with the stack's
// config overrides applied, exactly as the program sees them. Prints nothing for a stack that loads none.
import * as path from "node:path";
import { parseArgs } from "node:util";
import { checkStackConfig } from "../config";
import { loadHosts } from "../program/hosts";
import { applyOverrides } from "../units/stack";
import { ContainerUnit } from "../units/model";
import { PROJECT_DIR, loadStackConfig, stackSecretKeys } from "./offline";

/** The build context of a tarball image: `images/<file without .tar>`, which holds its Dockerfile. */
export function buildContext(file: string): string {
    return `images/${file.replace(/\.tar$/, "")}`;
}

/** `file ref context` lines, sorted by file, one per distinct tarball. */
export function imageLines(containers: readonly ContainerUnit[]): string[] {
    const byFile = new Map<string, string>();
    for (const c of containers) if (c.image.kind === "tarball") byFile.set(c.image.file, c.image.ref);
    return [...byFile.keys()].sort().map((file) => `${file} ${byFile.get(file)} ${buildContext(file)}`);
}

function main(): void {
    const { values } = parseArgs({ options: { stack: { type: "string", default: "prod" } }, strict: true });
    const { config, problems } = checkStackConfig(loadStackConfig(values.stack), stackSecretKeys(values.stack));
    const loaded = loadHosts(path.resolve(PROJECT_DIR, config.hostsDir), PROJECT_DIR);
    const all = [...problems, ...loaded.problems];
    if (all.length) throw new Error(all.map((p) => `[${p.code}] ${p.where}: ${p.field}: ${p.message}`).join("\n"));
    const containers = loaded.hosts.flatMap((h) => applyOverrides(h.spec.containers, config.containers));
    for (const line of imageLines(containers)) console.log(line);
}

if (require.main === module) {
    try {
        main();
    } catch (e) {
        console.error(`npm run images: ${(e as Error).message}`);
        process.exit(1);
    }
}
