// What every boot test of a host checks, whatever put the host's units and files into the root
// (coreos-cloudinit's way in test/boot.test.ts, Ignition's in test/ignition.test.ts): boot the root
// with systemd-nspawn until the probe reports, power it off, and check that every unit ran, every
// container started after what it depends on with exactly the argv systemd parsed from its unit,
// provision.service took its "already current" path, and the poweroff stopped everything cleanly.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import {
    ARTIFACT_IMAGES_DIR,
    ARTIFACT_ROOT,
    DOCKER,
    ENSURE_IMAGE,
    NETWORK_NAME,
    NETWORK_UNIT,
    PROVISION_UNIT,
    containerUnitName,
} from "../../units/layout";
import { ContainerUnit } from "../../units/model";
import { RenderedUnit, needsArtifact } from "../../units/systemd";
import {
    DockerCall,
    FAKE_DOCKER_LOG,
    FAKE_DOCKER_STATE,
    HostResidue,
    Machine,
    PROBE_DIR,
    ThrowAwayRoot,
    formatCall,
    installStandIns,
    journal,
    parseDockerLog,
    parseShow,
    seedArtifact,
    tail,
} from "./boot";
import { REPORT_UNIT } from "../../units/report";
import { dumpUnits } from "./systemd";

/** Bounds per boot: until the probe reports (it gives up itself after 35 s), and the poweroff. Both take seconds here. */
export const BOOT_TIMEOUT_MS = 60_000;
export const SHUTDOWN_TIMEOUT_MS = 30_000;

/** What one boot left behind, read after its poweroff. */
export interface Boot {
    readonly label: string;
    readonly machine: Machine;
    readonly bootMs: number;
    readonly shutdownMs: number;
    readonly show: Map<string, Map<string, string>>;
    /** Docker calls until the probe reported, and from then on (the poweroff). */
    readonly bootCalls: readonly DockerCall[];
    readonly shutdownCalls: readonly DockerCall[];
    /** Container name → the cgroup its fake `docker run` ran in when the probe looked. */
    readonly running: Map<string, string>;
}

export interface HostBootOptions {
    /** The throw-away root, with the host's units and files already in place and enabled. */
    readonly root: ThrowAwayRoot;
    readonly residue: HostResidue;
    /** The host's units, in start order, as rendered. */
    readonly units: readonly RenderedUnit[];
    readonly containers: readonly ContainerUnit[];
    /** The artifact the provision unit names; it is seeded as already in place. */
    readonly artifactSha256: string;
    /** The artifact's files on this machine. */
    readonly artifactDir: string;
    /** systemd-nspawn's machine name; unique per boot so parallel runs cannot collide. */
    readonly machineName: string;
}

/** The image step of a container's first boot (pull, or load from the artifact) and of later boots (inspect only). */
export type ImageStep = (ensureArgv: readonly string[]) => string[][];

export const FIRST_BOOT_IMAGE_STEP: ImageStep = (ensure) => {
    const ref = ensure[ensure.length - 1]!;
    return ensure[1] === "pull"
        ? [
              ["image", "inspect", ref],
              ["pull", ref],
          ]
        : [
              ["image", "inspect", ref],
              ["load", "-i", ensure[2]!],
              ["image", "inspect", ref],
              ["images", "-q", "--filter", "dangling=true"],
          ];
};
export const LATER_BOOT_IMAGE_STEP: ImageStep = (ensure) => [["image", "inspect", ensure[ensure.length - 1]!]];
export const FIRST_BOOT_NETWORK_CALLS = [
    ["network", "inspect", NETWORK_NAME],
    ["network", "create", NETWORK_NAME],
];
export const LATER_BOOT_NETWORK_CALLS = [["network", "inspect", NETWORK_NAME]];

/** A root ready to boot: the artifact seeded and the stand-ins installed; boots it and checks each boot. */
export class HostBoot {
    readonly machines: Machine[] = [];
    private readonly r: ThrowAwayRoot;
    private readonly unitNames: string[];
    private readonly byUnit: Map<string, ContainerUnit>;
    private readonly argvs: (unit: string, kind: string) => string[][];

    constructor(private readonly o: HostBootOptions) {
        this.r = o.root;
        this.unitNames = o.units.map((u) => u.name);
        this.byUnit = new Map(o.containers.map((c) => [containerUnitName(c.name), c]));
        // What systemd parses from the very same unit text (systemd --test): the argv each command gets.
        const parsed = dumpUnits(o.units).units;
        this.argvs = (unit, kind) => (parsed.get(unit)?.commands.get(kind) ?? []).map((x) => [...x.argv]);
        const tarballs = o.containers.flatMap((c) => (c.image.kind === "tarball" ? [{ file: c.image.file, ref: c.image.ref }] : []));
        seedArtifact(this.r, {
            artifactRoot: ARTIFACT_ROOT,
            sha256: o.artifactSha256,
            sourceDir: o.artifactDir,
            images: tarballs,
            imagesDir: ARTIFACT_IMAGES_DIR,
        });
        installStandIns(this.r, {
            units: [...this.unitNames, "docker.service", "network-online.target", "multi-user.target"],
            containers: o.containers.map((c) => c.name),
        });
        // The readiness report needs IMDS and S3, which these boots have not (no network): masked, as
        // `systemctl mask` does. test/report.test.ts runs its script against the IMDS and S3 stand-ins.
        if (this.unitNames.includes(REPORT_UNIT)) this.r.symlink("/dev/null", `/etc/systemd/system/${REPORT_UNIT}`);
    }

    private dockerLog(): string {
        try {
            return parseDockerLog(readFileSync(this.r.at(FAKE_DOCKER_LOG)))
                .map(formatCall)
                .join("\n");
        } catch (e) {
            return `(${(e as Error).message})`;
        }
    }

    diagnostics(m: Machine): string {
        const r = this.r;
        return [
            `\n--- journal of the last boot, warnings and worse ---\n${tail(journal(r, ["-b", "0", "-p", "warning"]), 60)}`,
            `\n--- journal of the last boot, our units ---\n${tail(journal(r, ["-b", "0", ...this.unitNames.flatMap((u) => ["-u", u])]), 120)}`,
            `\n--- fake docker calls (all boots) ---\n${tail(this.dockerLog(), 80)}`,
            `\n--- probe: system state, failed units, jobs ---\n${["system-state", "failed", "jobs"].map((f) => r.readOrEmpty(`${PROBE_DIR}/${f}`)).join("")}`,
            `\n--- console (systemd-nspawn and the container) ---\n${tail(m.console, 50)}`,
        ].join("\n");
    }

    /** Runs `check`; a failure gets the machine's journal, docker calls and console appended. */
    explained(m: Machine, check: () => void): void {
        try {
            check();
        } catch (e) {
            // A new error: mocha prints an AssertionError's message from its stack, made before we could add to it.
            throw new Error(`${e instanceof Error ? e.message : String(e)}${this.diagnostics(m)}`, { cause: e });
        }
    }

    /** Boots the root until the probe reports, waits for its poweroff, and reads what it left. */
    async boot(label: string): Promise<Boot> {
        const r = this.r;
        for (const f of ["done", "show", "failed", "jobs", "running", "system-state", "log-offset", "analyze", "critical-chain"])
            rmSync(r.at(`${PROBE_DIR}/${f}`), { force: true });
        const logStart = existsSync(r.at(FAKE_DOCKER_LOG)) ? statSync(r.at(FAKE_DOCKER_LOG)).size : 0;
        const m = new Machine(r, this.o.machineName);
        this.machines.push(m);
        const reported = await m.waitForFile(`${PROBE_DIR}/done`, BOOT_TIMEOUT_MS);
        const bootMs = Date.now() - m.startedAt;
        if (!reported) {
            throw new Error(
                (m.running
                    ? `${label}: the probe did not report within ${BOOT_TIMEOUT_MS / 1000} s`
                    : `${label}: the machine exited (${JSON.stringify(m.exit)}) before the probe reported`) + this.diagnostics(m),
            );
        }
        const stoppedInTime = await m.waitForExit(SHUTDOWN_TIMEOUT_MS);
        const shutdownMs = Date.now() - m.startedAt - bootMs;
        if (!stoppedInTime)
            throw new Error(`${label}: the machine did not power off within ${SHUTDOWN_TIMEOUT_MS / 1000} s${this.diagnostics(m)}`);
        let result: Boot | undefined;
        this.explained(m, () => {
            assert.deepEqual(m.exit, { code: 0, signal: null }, `${label}: systemd-nspawn exits 0 after a clean poweroff`);
            const log = readFileSync(r.at(FAKE_DOCKER_LOG));
            const offset = Number(r.read(`${PROBE_DIR}/log-offset`).trim());
            assert.ok(offset >= logStart && offset <= log.length, `${label}: the probe's log offset ${offset} is within this boot's calls`);
            const running = new Map(
                r
                    .read(`${PROBE_DIR}/running`)
                    .split("\n")
                    .filter(Boolean)
                    .map((l): [string, string] => {
                        const [name, , cgroup] = l.split(" ");
                        return [name!, cgroup ?? ""];
                    }),
            );
            result = {
                label,
                machine: m,
                bootMs,
                shutdownMs,
                show: parseShow(r.read(`${PROBE_DIR}/show`)),
                bootCalls: parseDockerLog(log.subarray(logStart, offset)),
                shutdownCalls: parseDockerLog(log.subarray(offset)),
                running,
            };
        });
        return result!;
    }

    /** Everything that holds on every boot. `imageStep`/`networkCalls` say what differs between the first and later boots. */
    check(b: Boot, imageStep: ImageStep, networkCalls: readonly (readonly string[])[]): void {
        const r = this.r;
        const { argvs, unitNames } = this;
        const containers = this.byUnit;
        const SHA = this.o.artifactSha256;
        this.explained(b.machine, () => {
            const L = b.label;
            const prop = (unit: string, key: string): string => {
                const v = b.show.get(unit)?.get(key);
                assert.ok(v !== undefined, `${L}: systemctl show has no ${key} for ${unit}`);
                return v;
            };
            const mono = (unit: string, key: string): number => {
                const v = Number(prop(unit, key));
                assert.ok(v > 0, `${L}: ${unit} ${key} is ${prop(unit, key)}: it never got there`);
                return v;
            };
            const callsOf = (calls: readonly DockerCall[], unit: string) => calls.filter((c) => c.unit === unit).map((c) => [...c.args]);
            const indexOf = (calls: readonly DockerCall[], unit: string, which: "first" | "last" | "last before run") => {
                const mine = calls.flatMap((c, i) => (c.unit === unit && (which !== "last before run" || c.args[0] !== "run") ? [i] : []));
                assert.ok(mine.length > 0, `${L}: no docker call from ${unit}`);
                return which === "first" ? mine[0]! : mine[mine.length - 1]!;
            };

            // Nothing failed: the boot finished cleanly (not "degraded") and no unit is in failed state.
            assert.equal(r.read(`${PROBE_DIR}/system-state`).trim(), "running", `${L}: systemctl is-system-running`);
            assert.equal(r.read(`${PROBE_DIR}/failed`).trim(), "", `${L}: failed units`);

            for (const u of ["docker.service", "network-online.target", "multi-user.target"])
                assert.equal(prop(u, "ActiveState"), "active", `${L}: ${u} is active`);
            for (const u of [NETWORK_UNIT, PROVISION_UNIT]) {
                assert.deepEqual(
                    ["LoadState", "ActiveState", "SubState", "Result", "ExecMainStatus"].map((k) => `${k}=${prop(u, k)}`),
                    ["LoadState=loaded", "ActiveState=active", "SubState=exited", "Result=success", "ExecMainStatus=0"],
                    `${L}: ${u} ran to success`,
                );
            }
            assert.ok(
                mono("network-online.target", "ActiveEnterTimestampMonotonic") <= mono(PROVISION_UNIT, "InactiveExitTimestampMonotonic"),
                `${L}: provision.service starts after network-online.target`,
            );

            // provision: the real script found the seeded release current and touched no network.
            const provisionLog = journal(r, ["-b", "0", "-u", PROVISION_UNIT, "-o", "cat"]);
            assert.match(
                provisionLog,
                new RegExp(`^artifact ${SHA} already current$`, "m"),
                `${L}: provision.service took its already-current path`,
            );
            assert.doesNotMatch(provisionLog, /fetching|retrying|giving up/, `${L}: provision.service did not try the network`);
            assert.equal(readlinkSync(r.at(`${ARTIFACT_ROOT}/current`)), `releases/${SHA}`, `${L}: current still points at the release`);
            assert.deepEqual(readdirSync(r.at(`${ARTIFACT_ROOT}/releases`)), [SHA], `${L}: the release was left alone`);

            // Every docker call came from one of our units (by the caller's cgroup), as /usr/bin/docker.
            for (const c of [...b.bootCalls, ...b.shutdownCalls]) {
                assert.ok(
                    unitNames.includes(c.unit),
                    `${L}: docker was called from ${c.unit}, not from one of our units: ${formatCall(c)}`,
                );
                assert.equal(c.argv0, DOCKER, `${L}: called as ${c.argv0}`);
            }
            assert.deepEqual(callsOf(b.bootCalls, NETWORK_UNIT), networkCalls, `${L}: the network unit's docker calls`);
            assert.deepEqual(callsOf(b.shutdownCalls, NETWORK_UNIT), [], `${L}: the network unit has no stop command`);

            const missingMounts = r.readOrEmpty(`${FAKE_DOCKER_STATE}/missing-mounts`).split("\n").filter(Boolean);
            const journalOfBoot = journal(r, ["-b", "0", "-o", "cat", ...[...containers.keys()].flatMap((u) => ["-u", u])]);
            for (const [unit, c] of containers) {
                assert.deepEqual(
                    ["ActiveState", "SubState", "Result", "NRestarts"].map((k) => `${k}=${prop(unit, k)}`),
                    ["ActiveState=active", "SubState=running", "Result=success", "NRestarts=0"],
                    `${L}: ${unit} is running its container, first try`,
                );
                const cgroup = b.running.get(c.name);
                assert.ok(cgroup !== undefined, `${L}: no fake container process for ${c.name}`);
                assert.ok(cgroup.endsWith(`/${unit}`), `${L}: ${c.name}'s docker run runs in ${cgroup}, not in ${unit}`);

                // rm -f, the image step, run: exactly the argv systemd parsed, in that order; at poweroff, stop.
                const [pre, start, stop] = [argvs(unit, "ExecStartPre"), argvs(unit, "ExecStart"), argvs(unit, "ExecStop")];
                assert.equal(pre.length, 2, `${unit}: ExecStartPre= rm -f and the image step`);
                assert.equal(start.length, 1, `${unit}: one ExecStart=`);
                assert.equal(stop.length, 1, `${unit}: one ExecStop=`);
                for (const argv of [pre[0]!, start[0]!, stop[0]!]) assert.equal(argv[0], DOCKER, `${unit}: ${argv.join(" ")}`);
                assert.equal(pre[1]![0], ENSURE_IMAGE);
                assert.deepEqual(
                    callsOf(b.bootCalls, unit),
                    [pre[0]!.slice(1), ...imageStep(pre[1]!), start[0]!.slice(1)],
                    `${L}: ${unit}'s docker calls at boot`,
                );
                assert.deepEqual(callsOf(b.shutdownCalls, unit), [stop[0]!.slice(1)], `${L}: ${unit}'s docker calls at poweroff`);
                assert.deepEqual(
                    missingMounts.filter((l) => l.startsWith(`${c.name} `) && l.includes(ARTIFACT_ROOT)),
                    [],
                    `${L}: the artifact files ${c.name} mounts exist when it runs`,
                );

                // After docker.service, the network and (when it mounts or loads from it) the artifact.
                const began = mono(unit, "InactiveExitTimestampMonotonic");
                assert.ok(mono("docker.service", "ActiveEnterTimestampMonotonic") <= began, `${L}: ${unit} starts after docker.service`);
                assert.ok(mono(NETWORK_UNIT, "ActiveEnterTimestampMonotonic") <= began, `${L}: ${unit} starts after ${NETWORK_UNIT}`);
                assert.ok(
                    indexOf(b.bootCalls, NETWORK_UNIT, "last") < indexOf(b.bootCalls, unit, "first"),
                    `${L}: ${unit} calls docker after the network unit is done`,
                );
                if (needsArtifact(c))
                    assert.ok(
                        mono(PROVISION_UNIT, "ActiveEnterTimestampMonotonic") <= began,
                        `${L}: ${unit} starts after ${PROVISION_UNIT}`,
                    );
            }
            // Clean stops: ExecStop ended each container; systemd did not time out or kill anything.
            const deactivated = journalOfBoot
                .split("\n")
                .filter((l) => /^docker-.*\.service: Deactivated successfully\.$/.test(l))
                .sort();
            assert.deepEqual(
                deactivated,
                [...containers.keys()].map((u) => `${u}: Deactivated successfully.`).sort(),
                `${L}: every container unit stopped cleanly`,
            );
            assert.doesNotMatch(journalOfBoot, /timed out|Killing process|Failed with result/, `${L}: container units stopped cleanly`);

            // Dependencies: each container starts once what it depends on is up, and stops before it.
            const edges = this.o.containers.flatMap((c) => (c.dependsOn ?? []).map((d): [ContainerUnit, ContainerUnit] => [c, d]));
            for (const [c, d] of edges) {
                const [cu, du] = [containerUnitName(c.name), containerUnitName(d.name)];
                // systemd starts C only once D is active. Type=simple: "active" means D's `docker run` has
                // been forked, not that it has run yet, so only D's ExecStartPre calls are surely earlier.
                assert.ok(
                    mono(du, "ActiveEnterTimestampMonotonic") <= mono(cu, "InactiveExitTimestampMonotonic"),
                    `${L}: ${c.name} starts after ${d.name} is up`,
                );
                assert.ok(
                    indexOf(b.bootCalls, du, "last before run") < indexOf(b.bootCalls, cu, "first"),
                    `${L}: ${d.name}'s image step is done before ${c.name}'s rm -f`,
                );
                // The poweroff runs in reverse: C is stopped before D.
                assert.ok(
                    indexOf(b.shutdownCalls, cu, "first") < indexOf(b.shutdownCalls, du, "first"),
                    `${L}: ${c.name} is stopped before ${d.name}`,
                );
            }
        });
    }

    /** `systemd-analyze time` of the last boot, on one line. */
    analyze(): string {
        return this.r.read(`${PROBE_DIR}/analyze`).trim().replace(/\n/g, " | ");
    }

    /** Makes sure every machine is gone; returns what it had to do. */
    async stopAll(): Promise<string[]> {
        const did: string[] = [];
        for (const m of this.machines) did.push(...(await m.ensureStopped(this.o.residue)));
        return did;
    }
}
