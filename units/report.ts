// The readiness report: once the host is done starting (issue 12's ready unit wrote boot.json), it
// uploads boot.json plus its identity to the artifact bucket, where the cutover step (scripts/cutover.ts)
// waits for it before the address moves. Pure: names, keys and the unit.
import { OneShotUnit } from "./model";
import { BIN_DIR } from "./layout";

/**
 * The one-shot that decides whether the host is ready (issue 12): it finishes when every container is
 * healthy, one failed, or its budget passed, and writes {@link BOOT_STATUS_FILE}.
 */
export const READY_UNIT = "coreos-containers-ready.service";

/** What the ready unit writes at every boot (temp file + rename): `{ version, state, bootId, units, failed, … }`. */
export const BOOT_STATUS_FILE = "/var/lib/coreos-containers/status/boot.json";

/** The one-shot that uploads the readiness report, after the ready unit, at every boot. */
export const REPORT_UNIT = "coreos-containers-report.service";
export const REPORT_SCRIPT = `${BIN_DIR}/report`;

/** Reports live under this prefix of the artifact bucket (host-scripts/report.sh writes the same). */
export const REPORT_PREFIX = "status/";

/** How long the report script retries (credentials not there yet, 5xx) before it fails the unit: its `REPORT_MAX_SECONDS` default. */
export const REPORT_RETRY_SECONDS = 600;

/**
 * The report's key: `status/<SHA-256 of the user-data>.json`. The host computes the hash from the bytes
 * IMDS hands it; the plan from the bytes it gives EC2. The role may write exactly this key.
 */
export function reportKey(userDataSha256: string): string {
    return `${REPORT_PREFIX}${userDataSha256}.json`;
}

/** Where the report goes: the artifact's bucket and region. */
export interface ReportTarget {
    /** e.g. `coreos-containers-1a2b3c`. */
    readonly bucket: string;
    /** e.g. `eu-west-1`. */
    readonly region: string;
}

/**
 * The unit that runs the report script at every boot, after the ready unit has finished (whatever its
 * result: `Wants=`, not `Requires=`, so a failed boot is reported too). The ready unit finishes once
 * every container is up, one failed, or its budget passed (it watches them; it is not ordered after
 * them). Listed after the containers; the host target (units/render.ts) starts it with everything else
 * in one transaction on a first boot, as multi-user.target does later.
 */
export function reportUnit(target: ReportTarget): OneShotUnit {
    return {
        kind: "oneshot",
        name: REPORT_UNIT,
        description: "Readiness report",
        // Not network-online.target: the ready unit comes after the containers, which come after it.
        wants: [READY_UNIT],
        // The retry budget is the script's default (REPORT_RETRY_SECONDS): every byte here is user-data.
        environment: { REPORT_BUCKET: target.bucket, REPORT_REGION: target.region },
        exec: [[REPORT_SCRIPT]],
        // No TimeoutStartSec (none for a oneshot by default): the script bounds itself, each request too.
        startAfterContainers: true,
    };
}
