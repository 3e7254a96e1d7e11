// Debian's Ignition (package `ignition`, 2.14) run for real: `ignition-validate`, and the binary's
// fetch and files stages with `-platform file` into a directory root, as /work/notes/ignition.md §1
// describes. Flatcar runs the same stages in its initramfs on first boot (against /sysroot).
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

export const IGNITION_VALIDATE = "/usr/bin/ignition-validate";
/** Debian ships the binary for its dracut module only. */
export const IGNITION = "/usr/lib/dracut/modules.d/30ignition/ignition";

const ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", HOME: "/" };

/** `ignition-validate FILE`: its report (stdout and stderr) and exit status. Silent and 0 means clean. */
export function ignitionValidate(bytes: Buffer | string): { output: string; status: number | null } {
    const r = spawnSync(IGNITION_VALIDATE, ["-"], { input: bytes, env: ENV, encoding: "utf8" });
    if (r.error) throw new Error(`${IGNITION_VALIDATE} could not run: ${r.error.message}`);
    return { output: (r.stdout + r.stderr).trim(), status: r.status };
}

export interface IgnitionRun {
    readonly status: number | null;
    readonly log: string;
}

/**
 * Ignition's stages, each run of the binary with its own config cache and state (instead of
 * /run/ignition.json and /run/ignition/state). Asynchronous: a config served by this process over
 * HTTP must be answered while Ignition waits for it.
 */
export class IgnitionStages {
    readonly dir: string;
    private readonly bin: string;

    constructor() {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-containers-ignition-"));
        // Debian builds Ignition with SELinux relabelling on: the files stage ends by reading
        // <root>/etc/selinux/config and running `setfiles`. A no-op stand-in (Flatcar's build relabels
        // nothing either); the root gets SELINUXTYPE=none (see prepareRoot).
        this.bin = path.join(this.dir, "bin");
        fs.mkdirSync(this.bin);
        fs.writeFileSync(path.join(this.bin, "setfiles"), "#!/bin/sh\ncat >/dev/null\nexit 0\n", { mode: 0o755 });
    }

    private run(args: readonly string[], env: Readonly<Record<string, string>> = {}): Promise<IgnitionRun> {
        return new Promise((resolve, reject) => {
            const child = spawn(IGNITION, [...args], {
                env: { ...ENV, PATH: `${this.bin}:${ENV.PATH}`, ...env },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let log = "";
            child.stdout.on("data", (c: Buffer) => (log += c.toString("utf8")));
            child.stderr.on("data", (c: Buffer) => (log += c.toString("utf8")));
            const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
            child.on("error", (e) => {
                clearTimeout(timer);
                reject(e);
            });
            child.on("close", (status) => {
                clearTimeout(timer);
                resolve({ status, log });
            });
        });
    }

    private common(cache: string): string[] {
        return ["-platform", "file", "-config-cache", cache, "-state-file", `${cache}.state`, "-log-to-stdout", "-fetch-timeout", "10s"];
    }

    /** The fetch stage on this user-data (the `file` platform reads it from IGNITION_CONFIG_FILE); `cache` receives the rendered config. */
    async fetch(userData: Buffer, cacheName: string): Promise<IgnitionRun & { readonly cache: string }> {
        const config = path.join(this.dir, `${cacheName}.user-data`);
        fs.writeFileSync(config, userData);
        const cache = path.join(this.dir, `${cacheName}.json`);
        const r = await this.run([...this.common(cache), "-stage", "fetch"], { IGNITION_CONFIG_FILE: config });
        return { ...r, cache };
    }

    /** The files stage from a fetched cache into `root` (never `/`). */
    files(cache: string, root: string): Promise<IgnitionRun> {
        if (path.resolve(root) === "/") throw new Error("refusing to run Ignition's files stage on /");
        return this.run([...this.common(cache), "-stage", "files", "-root", root]);
    }

    dispose(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
