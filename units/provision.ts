// The provisioning unit and the scripts written onto the host: fetch the artifact at boot, verify it,
// unpack it atomically; pull or load images only when missing; clean dangling images. The scripts'
// text comes from host-scripts/ (read by the program, passed in here as data).
import { OneShotUnit, WriteFile } from "./model";
import { ARTIFACT_ROOT, BIN_DIR, PROVISION_UNIT } from "./layout";

/** Where the artifact is and what it must hash to. Becomes part of the user-data. */
export interface ArtifactLocation {
    /** S3 bucket name, e.g. `coreos-containers-artifacts-1a2b3c`. */
    readonly bucket: string;
    /** Object key, `artifacts/<sha256>.tar.gz`. */
    readonly key: string;
    /** Hex SHA-256 of the object's bytes. */
    readonly sha256: string;
    /** The bucket's region, e.g. `eu-west-1`. */
    readonly region: string;
}

/** Script file name (in host-scripts/) → text. */
export type HostScriptSources = Readonly<Record<string, string>>;

/**
 * Where a script of host-scripts/ lands: an executable (it starts with `#!`) as `BIN_DIR/<name
 * without .sh>`, mode 0755; a library the others source (`aws.sh`) under its own name, mode 0644.
 */
export function hostScriptPath(fileName: string, content: string): { path: string; permissions: string } {
    return content.startsWith("#!")
        ? { path: `${BIN_DIR}/${fileName.replace(/\.sh$/, "")}`, permissions: "0755" }
        : { path: `${BIN_DIR}/${fileName}`, permissions: "0644" };
}

export const PROVISION_SCRIPT = `${BIN_DIR}/provision`;

/** How long the provision script keeps retrying before it fails the unit. */
export const PROVISION_RETRY_SECONDS = 600;

/**
 * A script as the host gets it: without its comment lines (they document the repository's copy and
 * cost user-data bytes), the `#!` line kept. Only whole-line comments go, so no code changes; the
 * scripts have no here-documents whose text could start with `#` (test/hostScripts.test.ts checks).
 */
export function shippedScript(text: string): string {
    return text
        .split("\n")
        .filter((line, i) => !/^\s*#/.test(line) || (i === 0 && line.startsWith("#!")))
        .join("\n");
}

/** The scripts every host gets, sorted by path. Static text: per-stack values travel in the units' environment. */
export function hostScripts(sources: HostScriptSources): WriteFile[] {
    return Object.keys(sources)
        .sort()
        .map((name) => ({ ...hostScriptPath(name, sources[name]!), owner: "root:root", content: shippedScript(sources[name]!) }))
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The unit that runs the provision script at every boot. */
export function provisionUnit(artifact: ArtifactLocation): OneShotUnit {
    return {
        kind: "oneshot",
        name: PROVISION_UNIT,
        description: "Fetch, verify and unpack the coreos-containers artifact",
        wants: ["network-online.target"],
        environment: {
            ARTIFACT_BUCKET: artifact.bucket,
            ARTIFACT_KEY: artifact.key,
            ARTIFACT_SHA256: artifact.sha256,
            ARTIFACT_REGION: artifact.region,
            ARTIFACT_ROOT,
            PROVISION_MAX_SECONDS: String(PROVISION_RETRY_SECONDS),
        },
        exec: [[PROVISION_SCRIPT]],
        // The retry budget plus room for the last attempt's download; then systemd marks the unit failed.
        timeoutStartSec: PROVISION_RETRY_SECONDS + 600,
    };
}
