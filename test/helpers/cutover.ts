// Running the cutover's steps as their Commands do, against the AWS stand-ins.
import { spawn } from "node:child_process";
import * as path from "node:path";
import { cutoverCommand } from "../../scripts/cutover/contract";
import type { CredentialStore } from "./fake-aws";
import { PROJECT_DIR } from "./fixtures";

export interface StepRun {
    readonly code: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly ms: number;
}

/** `pulumi up`'s credentials: temporary ones the stand-ins know; no profile, no IMDS; endpoints at the stand-ins. */
export function cutoverAwsEnv(o: { store: CredentialStore; home: string; s3: string; ec2: string }): Record<string, string> {
    const c = o.store.issue();
    return {
        PATH: process.env["PATH"] ?? "/usr/bin:/bin",
        HOME: o.home,
        AWS_ACCESS_KEY_ID: c.accessKeyId,
        AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
        AWS_SESSION_TOKEN: c.token,
        AWS_CONFIG_FILE: path.join(o.home, "no-config"),
        AWS_SHARED_CREDENTIALS_FILE: path.join(o.home, "no-credentials"),
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_ENDPOINT_URL_S3: o.s3,
        AWS_ENDPOINT_URL_EC2: o.ec2,
    };
}

/** One step, as its Command runs it: `/bin/sh -c` its command line, in the project folder, killed after 25 s. */
export function runCutoverStep(name: "gate" | "retire" | "teardown", env: Record<string, string>): Promise<StepRun> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("/bin/sh", ["-c", cutoverCommand(name)], { cwd: PROJECT_DIR, env, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), 25_000);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, stdout, stderr, ms: Date.now() - started });
        });
    });
}
