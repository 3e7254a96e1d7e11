// The user's hosts: every `*.ts` file of the hosts folder, each exporting a HostSpec as its default.
// This is the one place that loads them; the library (units/, packing/, components/) never does.
import * as fs from "node:fs";
import * as path from "node:path";
import type { HostSpec } from "../units/model";
import type { Problem, ProblemCode } from "../units/problems";
import { CONTAINER_NAME } from "../units/validate";
import { isPlainObject } from "../units/values";

export interface LoadedHost {
    readonly spec: HostSpec;
    /** The file it came from, relative to the project, e.g. `hosts/main.ts`. */
    readonly file: string;
}

export interface LoadedHosts {
    readonly hosts: readonly LoadedHost[];
    readonly problems: readonly Problem[];
}

const HOST_FILE = /^[^.].*(?<!\.d|\.test)\.ts$/;

function problem(code: ProblemCode, where: string, field: string, message: string, fix: string): Problem {
    return { code, where, field, message, fix };
}

/** Host files in `dir`, sorted: `*.ts`, but not declarations, tests or hidden files. */
export function hostFiles(dir: string): string[] {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isFile() && HOST_FILE.test(e.name))
        .map((e) => e.name)
        .sort();
}

/** What is wrong with a module's default export as a HostSpec (the containers themselves are validated later). */
function exportProblems(value: unknown, where: string): Problem[] {
    if (!isPlainObject(value)) {
        return [
            problem(
                "HOST_EXPORT_INVALID",
                where,
                "default export",
                "does not export a host as its default",
                "end the file with `export default host;` where host is a HostSpec { name, containers }",
            ),
        ];
    }
    const problems: Problem[] = [];
    if (typeof value["name"] !== "string" || !CONTAINER_NAME.test(value["name"])) {
        problems.push(
            problem(
                "HOST_NAME_INVALID",
                where,
                "name",
                `${JSON.stringify(value["name"])} is not a host name`,
                'name the host with a lower-case DNS label, e.g. "main"',
            ),
        );
    }
    if (!Array.isArray(value["containers"])) {
        problems.push(
            problem("HOST_EXPORT_INVALID", where, "containers", "is not a list of containers", "give the host a `containers: [...]` list"),
        );
    }
    return problems;
}

/**
 * Load every host file of `dir` (absolute). `projectDir` only shapes the file names in messages.
 * This version deploys one host per stack, so anything but exactly one host is a problem.
 */
export function loadHosts(dir: string, projectDir: string): LoadedHosts {
    const shown = (p: string) => path.relative(projectDir, p).split(path.sep).join("/") || ".";
    if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) {
        return {
            hosts: [],
            problems: [
                problem(
                    "HOSTS_DIR_MISSING",
                    "config",
                    "coreos-containers:hostsDir",
                    `${shown(dir)} is not a folder`,
                    "create it with one file per host (see hosts/main.ts), or point hostsDir at yours",
                ),
            ],
        };
    }
    const problems: Problem[] = [];
    const hosts: LoadedHost[] = [];
    for (const name of hostFiles(dir)) {
        const file = shown(path.join(dir, name));
        let exported: unknown;
        try {
            // eslint-disable-next-line @typescript-eslint/no-require-imports -- host files are found at run time; require works under ts-node (pulumi) and tsx alike
            exported = (require(path.join(dir, name)) as { default?: unknown }).default;
        } catch (e) {
            problems.push(
                problem(
                    "HOST_FILE_FAILED",
                    file,
                    "(file)",
                    `could not be loaded: ${(e as Error).message.split("\n")[0]}`,
                    "fix the TypeScript error in the file",
                ),
            );
            continue;
        }
        const found = exportProblems(exported, file);
        problems.push(...found);
        if (found.length === 0) hosts.push({ spec: exported as HostSpec, file });
    }
    const byName = new Map<string, string>();
    for (const h of hosts) {
        const first = byName.get(h.spec.name);
        if (first)
            problems.push(
                problem(
                    "HOST_NAME_DUPLICATE",
                    h.file,
                    "name",
                    `${JSON.stringify(h.spec.name)} is also the name of ${first}`,
                    "give every host its own name",
                ),
            );
        else byName.set(h.spec.name, h.file);
    }
    if (hosts.length === 0 && problems.length === 0) {
        problems.push(
            problem(
                "HOSTS_NONE",
                shown(dir),
                "(folder)",
                "holds no host file",
                "add one, e.g. hosts/main.ts exporting a HostSpec as its default",
            ),
        );
    } else if (hosts.length > 1) {
        problems.push(
            problem(
                "HOSTS_MORE_THAN_ONE",
                shown(dir),
                "(folder)",
                `holds ${hosts.length} hosts (${hosts.map((h) => h.spec.name).join(", ")}); this version deploys one host per stack`,
                "keep one host file in the folder, or give each stack its own folder with coreos-containers:hostsDir",
            ),
        );
    }
    return { hosts, problems };
}
