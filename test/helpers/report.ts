// The host side of the readiness report, for tests: the real report script (host-scripts/report.sh as
// the host gets it) run with bash and curl against the IMDS and S3 stand-ins, and boot.json files in the
// shape of the ready unit's contract (issue 12), written here as that unit would.
import { spawn } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { hostScripts } from "../../units/provision";
import { REPORT_SCRIPT, reportUnit } from "../../units/report";
import { FakeImds, FakeS3 } from "./fake-aws";
import { HOST_SCRIPTS } from "./fixtures";

export interface UnitEntry {
    readonly unit: string;
    readonly container: string;
    readonly state: "healthy" | "running" | "starting" | "failed" | "pending";
    readonly restarts?: number;
    readonly healthyAfterMs?: number;
    /** It mounts a folder of the data disk (ready.sh writes `data` on every unit of a host with one). */
    readonly data?: boolean;
}

/** boot.json as the ready unit writes it. */
export function bootJson(o: {
    state: "ready" | "failed" | "timeout";
    bootId: string;
    units: readonly UnitEntry[];
    failed?: readonly { unit: string; container: string; journal: readonly string[] }[];
    budgetSeconds?: number;
    /** The data disk, as ready.sh records it; a host without one has none (ready.sh writes null). */
    dataVolume?: { volumeId?: string; state: string; formatted: boolean; device?: string };
}): string {
    return JSON.stringify({
        version: 1,
        state: o.state,
        bootId: o.bootId,
        startedAt: "2026-12-01T13:00:00Z",
        finishedAt: "2026-12-01T13:05:12Z",
        budgetSeconds: o.budgetSeconds ?? 900,
        units: o.units.map((u) => ({
            unit: u.unit,
            container: u.container,
            state: u.state,
            activeState: u.state === "failed" ? "failed" : "active",
            subState: u.state === "failed" ? "failed" : "running",
            result: u.state === "failed" ? "exit-code" : "success",
            restarts: u.restarts ?? 0,
            activeSinceMs: 1200,
            ...(u.healthyAfterMs !== undefined ? { healthyAfterMs: u.healthyAfterMs } : {}),
            ...(o.dataVolume ? { data: u.data === true } : {}),
        })),
        failed: o.failed ?? [],
        dataVolume: o.dataVolume ?? null,
    });
}

export const sha256 = (b: Buffer | string) => crypto.createHash("sha256").update(b).digest("hex");

export interface ReportRun {
    readonly code: number | null;
    readonly output: string;
}

/** A host's folder: the shipped scripts under bin/, boot.json and the boot id file. */
export class FakeHostDir {
    readonly bin: string;
    readonly statusFile: string;
    readonly bootIdFile: string;
    constructor(readonly dir: string) {
        this.bin = path.join(dir, "bin");
        this.statusFile = path.join(dir, "boot.json");
        this.bootIdFile = path.join(dir, "boot_id");
        fs.mkdirSync(this.bin, { recursive: true });
        for (const f of hostScripts(HOST_SCRIPTS))
            fs.writeFileSync(path.join(this.bin, path.basename(f.path)), f.content, { mode: parseInt(f.permissions, 8) });
    }

    /** Runs the report script as its unit would, pointed at the stand-ins. */
    runReport(o: {
        imds: FakeImds;
        s3: FakeS3;
        bucket: string;
        region: string;
        maxSeconds?: number;
        env?: Record<string, string>;
    }): Promise<ReportRun> {
        const unit = reportUnit({ bucket: o.bucket, region: o.region });
        const env: Record<string, string> = {
            ...unit.environment,
            PATH: process.env["PATH"] ?? "/usr/bin:/bin",
            HOME: this.dir,
            IMDS_ENDPOINT: o.imds.origin,
            REPORT_S3_ENDPOINT: o.s3.endpoint(o.bucket),
            STATUS_FILE: this.statusFile,
            BOOT_ID_FILE: this.bootIdFile,
            REPORT_MAX_SECONDS: String(o.maxSeconds ?? 5),
            RETRY_BACKOFF_MS: "20",
            ...(o.env ?? {}),
        };
        return new Promise((resolve, reject) => {
            const child = spawn("bash", [path.join(this.bin, path.basename(REPORT_SCRIPT))], { env, stdio: ["ignore", "pipe", "pipe"] });
            let output = "";
            child.stdout.on("data", (d: Buffer) => (output += d.toString()));
            child.stderr.on("data", (d: Buffer) => (output += d.toString()));
            const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
            child.on("error", reject);
            child.on("close", (code) => {
                clearTimeout(timer);
                resolve({ code, output });
            });
        });
    }
}

/** A report in the shape host-scripts/report.sh uploads (test/report.test.ts checks the script's own). */
export function hostReport(o: { instanceId: string; userDataSha256: string; bootId: string; boot: string | null }): Buffer {
    return Buffer.from(
        `{"version":1,"instanceId":"${o.instanceId}","userDataSha256":"${o.userDataSha256}","bootId":"${o.bootId}","boot":${o.boot ?? "null"}}\n`,
    );
}
