// The persistent data disk: an EBS volume that outlives the host. At boot the data unit attaches it with
// the instance role (waiting while the old host still holds it), formats it only when it carries no
// filesystem at all, and links it for the mount unit; only containers with `data` mounts wait for the
// mount (RequiresMountsFor=), the others start at once. Pure: names, units, checks.
import { ContainerUnit, DataSource, OneShotUnit } from "./model";
import { DATA_DIR, DATA_DISK_LINK, DATA_LABEL, DATA_SCRIPT, DATA_STATUS_FILE, DATA_UNIT } from "./layout";
import { textValue } from "./quote";

/** An EBS volume id: `vol-` and 17 hex digits (the 8-digit ids of before 2016 no longer exist). */
export const VOLUME_ID = /^vol-[0-9a-f]{17}$/;

/**
 * How long the data unit waits for the old host to release the volume before it fails. The cutover
 * retires the old host only once this host reported ready, then detaches; an hour covers a slow
 * cutover, and a cutover that never retires the old host leaves this host's stateful containers down:
 * a failed data unit, in boot.json's dataVolume, says why.
 */
export const DATA_WAIT_SECONDS = 3600;

/** The data mounts of a container, in order. */
export function dataSources(c: ContainerUnit): DataSource[] {
    return (c.volumes ?? []).flatMap((v) => (v?.source?.kind === "data" ? [v.source] : []));
}

/** Does the container mount a folder of the data disk (so it waits for it)? */
export function usesData(c: ContainerUnit): boolean {
    return dataSources(c).length > 0;
}

/**
 * systemd's name for the mount unit of an absolute path (systemd-escape --path --suffix=mount,
 * systemd.unit(5) "String Escaping for Inclusion in Unit Names"): slashes trimmed and turned into
 * `-`, every byte outside [A-Za-z0-9:_.] (and a leading `.`) as `\xNN`. test/dataVolume.test.ts checks it
 * against systemd-escape itself.
 */
export function mountUnitName(absolutePath: string): string {
    const trimmed = absolutePath.replace(/\/+/g, "/").replace(/^\/|\/$/g, "");
    if (trimmed === "") return "-.mount";
    const escaped = Array.from(Buffer.from(trimmed, "utf8"))
        .map((b, i) => {
            const ch = String.fromCharCode(b);
            if (ch === "/") return "-";
            if (/[A-Za-z0-9:_]/.test(ch) || (ch === "." && i > 0)) return ch;
            return `\\x${b.toString(16).padStart(2, "0")}`;
        })
        .join("");
    return `${escaped}.mount`;
}

/** The mount unit of {@link DATA_DIR}. */
export const DATA_MOUNT_UNIT = mountUnitName(DATA_DIR);

/** The unit that attaches, checks and (only when blank) formats the data volume. */
export function dataVolumeUnit(volumeId: string, region: string): OneShotUnit {
    return {
        kind: "oneshot",
        name: DATA_UNIT,
        description: `Attach the data volume ${volumeId}`,
        wants: ["network-online.target"],
        environment: {
            DATA_VOLUME_ID: volumeId,
            DATA_REGION: region,
            DATA_LABEL,
            DATA_LINK: DATA_DISK_LINK,
            DATA_STATUS: DATA_STATUS_FILE,
            DATA_MAX_SECONDS: String(DATA_WAIT_SECONDS),
        },
        exec: [[DATA_SCRIPT]],
        // The wait for the old host, then room for the attach, the device and a first mkfs.
        timeoutStartSec: DATA_WAIT_SECONDS + 600,
        // Last in the user-data: coreos-cloudinit waits for each start it issues, and this one may wait
        // for the old host; the host target has started everything else by then (units/render.ts).
        startAfterContainers: true,
    };
}

/**
 * The mount unit of the data disk: mounts what the data unit linked (the disk by UUID) at DATA_DIR.
 * DefaultDependencies=no: a mount unit's defaults order it before local-fs.target (systemd.mount(5)
 * "Default Dependencies"), while this one comes after the network (the data unit talks to EC2), which
 * would be an ordering cycle; it keeps the shutdown half, Conflicts= and Before=umount.target. Units with
 * RequiresMountsFor=DATA_DIR get Requires= and After= on it (systemd.unit(5)), so at shutdown they stop
 * first and the disk is unmounted cleanly; the next host's attach waits for that.
 */
export function dataMountUnit(volumeId: string): { name: string; content: string } {
    return {
        name: DATA_MOUNT_UNIT,
        content: [
            "[Unit]",
            `Description=${textValue(`The data volume ${volumeId} at ${DATA_DIR}`)}`,
            "DefaultDependencies=no",
            `Requires=${DATA_UNIT}`,
            `After=${DATA_UNIT}`,
            "Conflicts=umount.target",
            "Before=umount.target",
            "",
            "[Mount]",
            `What=${DATA_DISK_LINK}`,
            `Where=${DATA_DIR}`,
            // No Type=: mount(8) detects it, so a disk formatted elsewhere (another filesystem) mounts too.
            "Options=noatime",
            "",
            "[Install]",
            "WantedBy=multi-user.target",
            "",
        ].join("\n"),
    };
}

/** Does any container mount a folder of the data disk (so the stack needs its data volume)? */
export function usesDataVolume(containers: readonly ContainerUnit[]): boolean {
    return containers.some(usesData);
}
