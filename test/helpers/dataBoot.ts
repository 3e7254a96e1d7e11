// One boot of a host with a data volume, under real systemd (systemd-nspawn), for test/bootData.test.ts
// and the handover benchmark (scripts/bench-handover.ts). A loop device stands in for the EBS volume: it
// is bound into the container at the volume's NVMe by-id name, so the data unit finds it where it finds
// it on Nitro. IMDS and EC2 run inside the container (the boot has only `lo`), transpiled from
// fake-aws.ts, SigV4 checks included; EC2 can hold the volume "attached to the old host" until a given
// time. Everything else is the production path: the user-data's units and scripts, systemd's ordering
// (RequiresMountsFor=, the mount unit), blkid, mkfs.ext4, mount, and the fake docker.
import { readFileSync, existsSync } from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { renderHost } from "../../formats/cloudconfig";
import { buildHost } from "../../units/host";
import { DATA_MOUNT_UNIT } from "../../units/dataVolume";
import { ARTIFACT_ROOT, DATA_UNIT, containerUnitName } from "../../units/layout";
import { ContainerUnit } from "../../units/model";
import { BOOT_STATUS_FILE, READY_UNIT, REPORT_UNIT } from "../../units/report";
import type { FakeAwsServerConfig, FakeAwsServerRecord } from "./fake-aws-server";
import { FAST_ENVIRONMENT } from "./hostBoot";
import {
    HostResidue,
    Machine,
    PROBE_DIR,
    ThrowAwayRoot,
    applyCloudConfig,
    installStandIns,
    journal,
    prepareBase,
    seedArtifact,
    tail,
    AWS_STAND_IN_DIR,
    AWS_STAND_IN_UNIT,
    installAwsStandIns,
} from "./boot";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, PROJECT_DIR } from "./fixtures";

export const REGION = "eu-west-1";
export const AZ = "eu-west-1a";
const SHA = "da7a0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f";
const ARTIFACT = { bucket: "coreos-containers-artifacts-databoot", key: `artifacts/${SHA}.tar.gz`, sha256: SHA, region: REGION };
const AWS_DIR = AWS_STAND_IN_DIR;
const AWS_UNIT = AWS_STAND_IN_UNIT;
const PORTS = { imds: 8191, ssm: 8192, ec2: 8193 };

/** A stateless container (starts at once) and a stateful one (waits for the data disk). */
export const web: ContainerUnit = {
    kind: "container",
    name: "web",
    image: { kind: "registry", ref: "nginx:1.27.2-alpine" },
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1/", startPeriodSec: 10 },
};
export const store: ContainerUnit = {
    kind: "container",
    name: "store",
    image: { kind: "registry", ref: "quay.io/prometheus/prometheus:v2.55.1" },
    healthCheck: { command: "wget -q -O /dev/null http://127.0.0.1:9090/-/ready", startPeriodSec: 10 },
    volumes: [{ source: { kind: "data", path: "store", owner: { uid: 65534, gid: 65534 } }, target: "/prometheus" }],
    stopTimeoutSec: 5,
};
export const DATA_CONTAINERS: readonly ContainerUnit[] = [web, store];

export interface DataBootOptions {
    readonly residue: HostResidue;
    readonly machineName: string;
    /** 32 hex digits: tells the hosts' writes apart in the data folder. */
    readonly machineId: string;
    readonly instanceId: string;
    /** The loop device standing in for the volume. */
    readonly device: string;
    readonly volumeId: string;
    /** EC2 says the volume is attached to this (old) instance until `releaseAfterMs` after the stand-in started. */
    readonly heldBy?: { readonly instanceId: string; readonly releaseAfterMs: number };
    /** The data unit's backoff cap while it waits (production: 5 s). */
    readonly pollCapMs?: number;
}

export interface DataBoot {
    readonly console: string;
    /** boot.json as the ready unit first wrote it. */
    readonly firstStatus: Record<string, unknown>;
    /** boot.json as the handover unit rewrote it once the disk was mounted (its second report). */
    readonly secondStatus: Record<string, unknown>;
    /** The journal of the whole boot, `-o short-unix` (epoch seconds with µs), our units and the kernel's mount messages. */
    readonly journal: string;
    readonly aws: FakeAwsServerRecord;
    /** ms since the epoch when the stateful container's `docker run` began, per the fake docker's note in its data folder; null when it never ran. */
    readonly storeRunAtMs: number | null;
    /** ms since the epoch of the `docker stop` of the stateful container at poweroff, and of the data disk's unmount. */
    readonly storeStopAtMs: number | null;
    readonly unmountedAtMs: number | null;
    /** systemctl show of the data units once the stateful container was up (or gave up waiting). */
    readonly late: string;
    readonly exit: Machine["exit"];
}

/** The script the probe runs after boot.json appeared: keep that first verdict, wait for the stateful container, record. */
const HOOK = `#!/bin/bash
cp ${BOOT_STATUS_FILE} ${PROBE_DIR}/boot-first.json
for ((i = 0; i < 400; i++)); do systemctl is-active -q ${containerUnitName(store.name)} && break; sleep 0.1; done
systemctl show -p Id,ActiveState,SubState,Result ${DATA_UNIT} ${DATA_MOUNT_UNIT} ${containerUnitName(store.name)} ${containerUnitName(web.name)} ${READY_UNIT} >${PROBE_DIR}/late
# The handover unit's second verdict: boot.json rewritten once the disk is mounted and the containers on it count.
for ((i = 0; i < 200; i++)); do jq -e '.dataVolume.state == "mounted" and all(.units[]; .state != "pending" and .state != "starting")' ${BOOT_STATUS_FILE} >/dev/null 2>&1 && break; sleep 0.1; done
cp ${BOOT_STATUS_FILE} ${PROBE_DIR}/boot-second.json
`;

/** Boots a fresh root as one host with the data volume, until its stateful container is up, then powers it off. */
export async function bootDataHost(o: DataBootOptions): Promise<DataBoot> {
    const host = buildHost({
        containers: DATA_CONTAINERS,
        artifact: ARTIFACT,
        sshAuthorizedKeys: [],
        scripts: HOST_SCRIPTS,
        dataVolume: { volumeId: o.volumeId },
    });
    const rendered = renderHost(host, {
        artifactFileExists: (p) => existsSync(path.join(PROJECT_DIR, FIXTURE_ARTIFACT_DIR, p)),
        imageFileExists: () => true,
    });
    const root = ThrowAwayRoot.create();
    let machine: Machine | undefined;
    try {
        const r = root;
        prepareBase(r, o.machineId);
        applyCloudConfig(r, rendered.userData);
        seedArtifact(r, {
            artifactRoot: ARTIFACT_ROOT,
            sha256: SHA,
            sourceDir: path.join(PROJECT_DIR, FIXTURE_ARTIFACT_DIR),
            images: [],
            imagesDir: "images",
        });
        installStandIns(r, {
            units: [...rendered.units.map((u) => u.name), AWS_UNIT],
            containers: [web.name],
            environment: FAST_ENVIRONMENT,
        });
        r.symlink("/dev/null", `/etc/systemd/system/${REPORT_UNIT}`);
        r.write(`${PROBE_DIR}/wait-for`, BOOT_STATUS_FILE);
        r.write(`${PROBE_DIR}/timeout-seconds`, "40");
        r.write(`${PROBE_DIR}/hook`, HOOK, 0o755);
        const config: FakeAwsServerConfig = {
            region: REGION,
            imdsPort: PORTS.imds,
            ssmPort: PORTS.ssm,
            parameters: [],
            record: `${AWS_DIR}/record.json`,
            instanceId: o.instanceId,
            availabilityZone: AZ,
            ec2: {
                port: PORTS.ec2,
                instances: [o.instanceId, ...(o.heldBy ? [o.heldBy.instanceId] : [])],
                volumes: [
                    o.heldBy
                        ? { id: o.volumeId, attachedTo: o.heldBy.instanceId, releaseAfterMs: o.heldBy.releaseAfterMs }
                        : { id: o.volumeId },
                ],
            },
        };
        installAwsStandIns(r, config, "IMDS and EC2 stand-ins");
        r.write(
            `/etc/systemd/system/${DATA_UNIT}.d/boot-test.conf`,
            `[Unit]\nWants=${AWS_UNIT}\nAfter=${AWS_UNIT}\n\n[Service]\nEnvironment=IMDS_ENDPOINT=http://127.0.0.1:${PORTS.imds} EC2_ENDPOINT=http://127.0.0.1:${PORTS.ec2} DATA_POLL_CAP_MS=${o.pollCapMs ?? 200}\n`,
        );

        const byId = `/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_${o.volumeId.replace("-", "")}`;
        machine = new Machine(r, o.machineName, [`--bind=${o.device}:${byId}`]);
        const reported = await machine.waitForFile(`${PROBE_DIR}/done`, 90_000);
        const stopped = reported && (await machine.waitForExit(30_000));
        const j = journal(r, ["-b", "0", "-o", "short-unix"]);
        if (!reported || !stopped) {
            throw new Error(
                `${o.machineName}: ${reported ? "did not power off" : "the probe did not report"}\n--- journal ---\n${tail(j, 120)}\n--- console ---\n${tail(machine.console, 40)}`,
            );
        }
        const aws = JSON.parse(r.read(`${AWS_DIR}/record.json`)) as FakeAwsServerRecord;
        const at = (re: RegExp): number | null => {
            const line = j.split("\n").find((l) => re.test(l));
            return line ? Math.round(Number(line.split(" ")[0]) * 1000) : null;
        };
        return {
            console: machine.console,
            firstStatus: JSON.parse(r.readOrEmpty(`${PROBE_DIR}/boot-first.json`) || "{}") as Record<string, unknown>,
            secondStatus: JSON.parse(r.readOrEmpty(`${PROBE_DIR}/boot-second.json`) || "{}") as Record<string, unknown>,
            journal: j,
            aws,
            storeRunAtMs: null,
            storeStopAtMs: at(new RegExp(`${containerUnitName(store.name)}: Stopping|Stopping .*${store.name}`)),
            unmountedAtMs: at(/Unmounted .*containerdata|var-lib-containerdata\.mount: Deactivated/),
            late: r.readOrEmpty(`${PROBE_DIR}/late`),
            exit: machine.exit,
        };
    } finally {
        if (machine) await machine.ensureStopped(o.residue);
        const problems = root.dispose();
        if (problems.length) console.error(`cleanup of ${o.machineName}: ${problems.join("; ")}`);
    }
}

/** What the fake docker noted in the data folder: `NAME MACHINE-ID µs` per run, read from the disk itself. */
export function writtenBy(device: string, scratch: string): { name: string; machineId: string; atMs: number }[] {
    const at = path.join(scratch, `mnt-${process.pid}`);
    spawnSync("mkdir", ["-p", at]);
    const m = spawnSync("mount", ["-o", "ro", device, at], { encoding: "utf8" });
    if (m.status !== 0) throw new Error(`mount ${device}: ${m.stderr}`);
    try {
        const file = path.join(at, store.name, "written-by-fake-docker");
        return (existsSync(file) ? readFileSync(file, "utf8") : "")
            .split("\n")
            .filter(Boolean)
            .map((l) => {
                const [name, machineId, us] = l.split(" ");
                return { name: name!, machineId: machineId!, atMs: Number(us) / 1000 };
            });
    } finally {
        spawnSync("umount", [at]);
        spawnSync("rmdir", [at]);
    }
}
