// What every boot test of a host checks, whatever put the host's units and files into the root
// (coreos-cloudinit's way in test/boot.test.ts, Ignition's in test/ignition.test.ts): boot the root
// with systemd-nspawn until the probe reports, power it off, and check that every unit ran, every
// image was fetched by its own unit, every container started once what it depends on was healthy,
// with exactly the argv systemd parsed from its unit, and counted as started only once the fake Docker
// called it healthy; that provision.service took its "already current" path; that the ready unit wrote
// boot.json, state ready; and that the poweroff stopped everything cleanly.
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
    WAIT_DEPENDENCIES,
    containerUnitName,
    imageUnitName,
} from "../../units/layout";
import { ContainerUnit } from "../../units/model";
import { RenderedUnit, needsArtifact } from "../../units/systemd";
import {
    DockerCall,
    FAKE_DOCKER_LOG,
    FAKE_DOCKER_STATE,
    FakeDockerBehaviour,
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
import { BOOT_STATUS_FILE, READY_UNIT, REPORT_UNIT } from "../../units/report";
import { dumpUnits } from "./systemd";

/** Bounds per boot: until the probe reports (it gives up itself after 35 s), and the poweroff. Both take seconds here. */
export const BOOT_TIMEOUT_MS = 60_000;
export const SHUTDOWN_TIMEOUT_MS = 30_000;

/** For every unit of a booted root: poll and back off in tenths of a second, so a boot takes seconds. */
export const FAST_ENVIRONMENT: Readonly<Record<string, string>> = {
    HEALTH_POLL_SECONDS: "0.1",
    READY_POLL_SECONDS: "0.1",
    RETRY_BACKOFF_MS: "100",
};

/** The three `docker inspect --format` templates the host scripts use. */
export const IF_HEALTH = "{{if .State.Health}}{{.State.Health.Status}}{{end}}";
export const HEALTH_STATUS = "{{.State.Health.Status}}";

/** What one boot left behind, read after its poweroff. */
export interface Boot {
    readonly label: string;
    readonly machine: Machine;
    readonly bootMs: number;
    readonly shutdownMs: number;
    readonly show: Map<string, Map<string, string>>;
    /** Docker calls until the probe reported, and from then on (the probe's hook, the poweroff). */
    readonly bootCalls: readonly DockerCall[];
    readonly shutdownCalls: readonly DockerCall[];
    /** Container name → the cgroup its fake `docker run` ran in when the probe looked. */
    readonly running: Map<string, string>;
}

/** What the ready unit writes (host-scripts/ready.sh). */
export interface BootStatus {
    readonly version: number;
    readonly state: string;
    readonly bootId: string;
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly budgetSeconds: number;
    readonly units: readonly Readonly<Record<string, string | number | boolean | null>>[];
    readonly failed: readonly { readonly unit: string; readonly container: string; readonly journal: readonly string[] }[];
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
    /** How the fake Docker behaves over time (pull times, health delays); by default all at once. */
    readonly behaviour?: FakeDockerBehaviour;
    /** systemd's DefaultEnvironment= in the root; FAST_ENVIRONMENT by default. */
    readonly environment?: Readonly<Record<string, string>>;
}

/** What a boot's probe waits for, beyond the defaults (every container running, the boot finished). */
export interface BootOptions {
    /** Containers whose `docker run` the probe waits for; all by default. */
    readonly expectRunning?: readonly string[];
    /** A file the probe waits for instead of the boot's end (a boot whose units keep restarting never ends). */
    readonly waitFor?: string;
    /** A script the probe runs after its record (PROBE_DIR/hook). */
    readonly hook?: string;
}

/** An image unit's docker calls (from its ensure-image argv) at a first boot (pull, or load from the artifact) and at later boots (inspect only). */
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
    /** What systemd parsed from the very same unit text (systemd --test): the argv each command gets. */
    readonly argvs: (unit: string, kind: string) => string[][];

    constructor(private readonly o: HostBootOptions) {
        this.r = o.root;
        this.unitNames = o.units.map((u) => u.name);
        this.byUnit = new Map(o.containers.map((c) => [containerUnitName(c.name), c]));
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
            environment: o.environment ?? FAST_ENVIRONMENT,
            ...(o.behaviour ? { behaviour: o.behaviour } : {}),
        });
        // The readiness report needs IMDS and S3, which these boots have not (no network): masked, as
        // `systemctl mask` does. test/report.test.ts runs its script against the IMDS and S3 stand-ins.
        if (this.unitNames.includes(REPORT_UNIT)) this.r.symlink("/dev/null", `/etc/systemd/system/${REPORT_UNIT}`);
    }

    /** How long after its `docker run` the fake Docker calls this container healthy. */
    healthyMs(c: ContainerUnit): number {
        const h = this.o.behaviour?.health?.[c.name];
        return h !== undefined && h !== "never" && "healthyAfterMs" in h ? h.healthyAfterMs : 0;
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
            `\n--- probe: system state, failed units, jobs, hook ---\n${["system-state", "failed", "jobs", "hook.out"].map((f) => r.readOrEmpty(`${PROBE_DIR}/${f}`)).join("")}`,
            `\n--- boot.json ---\n${r.readOrEmpty(BOOT_STATUS_FILE)}`,
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

    /** The boot.json the ready unit left in the root. */
    status(): BootStatus {
        return JSON.parse(this.r.read(BOOT_STATUS_FILE)) as BootStatus;
    }

    /** Boots the root until the probe reports, waits for its poweroff, and reads what it left. */
    async boot(label: string, opts: BootOptions = {}): Promise<Boot> {
        const r = this.r;
        for (const f of [
            "done",
            "show",
            "failed",
            "jobs",
            "running",
            "system-state",
            "log-offset",
            "analyze",
            "critical-chain",
            "hook.out",
        ])
            rmSync(r.at(`${PROBE_DIR}/${f}`), { force: true });
        r.write(`${PROBE_DIR}/containers`, (opts.expectRunning ?? this.o.containers.map((c) => c.name)).join("\n") + "\n");
        r.write(`${PROBE_DIR}/wait-for`, opts.waitFor ?? "");
        if (opts.hook) r.write(`${PROBE_DIR}/hook`, opts.hook, 0o755);
        else rmSync(r.at(`${PROBE_DIR}/hook`), { force: true });
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

    /** Everything that holds on every healthy boot. `imageStep`/`networkCalls` say what differs between the first and later boots. */
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
            const callsOf = (calls: readonly DockerCall[], unit: string) => calls.filter((c) => c.unit === unit);
            const argsOf = (calls: readonly DockerCall[], unit: string) => callsOf(calls, unit).map((c) => [...c.args]);
            const indexOf = (calls: readonly DockerCall[], unit: string) => {
                const i = calls.findIndex((c) => c.unit === unit);
                assert.ok(i >= 0, `${L}: no docker call from ${unit}`);
                return i;
            };
            /** When the fake Docker started calling the container healthy: its `docker run` plus its delay. */
            const healthyAt = (c: ContainerUnit) => {
                const run = callsOf(b.bootCalls, containerUnitName(c.name)).find((x) => x.args[0] === "run");
                assert.ok(run, `${L}: ${c.name} never ran`);
                return run.atMs + this.healthyMs(c);
            };

            // Nothing failed: the boot finished cleanly (not "degraded") and no unit is in failed state.
            assert.equal(r.read(`${PROBE_DIR}/system-state`).trim(), "running", `${L}: systemctl is-system-running`);
            assert.equal(r.read(`${PROBE_DIR}/failed`).trim(), "", `${L}: failed units`);

            for (const u of ["docker.service", "network-online.target", "multi-user.target"])
                assert.equal(prop(u, "ActiveState"), "active", `${L}: ${u} is active`);
            for (const u of [NETWORK_UNIT, PROVISION_UNIT, READY_UNIT, ...[...containers.values()].map((c) => imageUnitName(c.name))]) {
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
            assert.deepEqual(argsOf(b.bootCalls, NETWORK_UNIT), networkCalls, `${L}: the network unit's docker calls`);
            assert.deepEqual(argsOf(b.shutdownCalls, NETWORK_UNIT), [], `${L}: the network unit has no stop command`);

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

                // Its image unit fetched the image (a pull or load at the first boot, an inspect later).
                const image = imageUnitName(c.name);
                const [pre, start, stop, post] = ["ExecStartPre", "ExecStart", "ExecStop", "ExecStartPost"].map((k) => argvs(unit, k));
                const ensure = pre!.at(-1)!;
                assert.equal(ensure[0], ENSURE_IMAGE, `${unit}: the last ExecStartPre= is ensure-image`);
                assert.deepEqual(argvs(image, "ExecStart"), [ensure], `${image} runs the container's ensure-image`);
                assert.deepEqual(argsOf(b.bootCalls, image), imageStep(ensure), `${L}: ${image}'s docker calls at boot`);
                assert.deepEqual(argsOf(b.shutdownCalls, image), [], `${L}: ${image} has nothing to stop`);

                // The dependency wait, rm -f, the image step (a no-op now), run: exactly the argv systemd
                // parsed, in that order, with wait-healthy's status polls around the run; at poweroff, stop.
                const deps = (c.dependsOn ?? []).map((d) => d.name);
                assert.equal(pre!.length, deps.length ? 3 : 2, `${unit}: ExecStartPre= (wait-dependencies,) rm -f and the image step`);
                if (deps.length) assert.deepEqual(pre![0], [WAIT_DEPENDENCIES, ...deps.map(containerUnitName)]);
                const rm = pre!.at(-2)!;
                assert.equal(start!.length, 1, `${unit}: one ExecStart=`);
                assert.equal(stop!.length, 1, `${unit}: one ExecStop=`);
                for (const argv of [rm, start![0]!, stop![0]!]) assert.equal(argv[0], DOCKER, `${unit}: ${argv.join(" ")}`);
                assert.equal(post!.length, c.healthCheck ? 1 : 0, `${unit}: ExecStartPost= (wait-healthy) when it has a health check`);
                const mine = argsOf(b.bootCalls, unit);
                const isPoll = (a: readonly string[]) => a.length === 4 && a[0] === "inspect" && a[2] === HEALTH_STATUS && a[3] === c.name;
                assert.deepEqual(
                    mine.filter((a) => !isPoll(a)),
                    [
                        ...deps.map((d) => ["inspect", "--format", IF_HEALTH, d]),
                        rm.slice(1),
                        ["image", "inspect", ensure.at(-1)!],
                        start![0]!.slice(1),
                    ],
                    `${L}: ${unit}'s docker calls at boot, besides wait-healthy's polls`,
                );
                if (c.healthCheck) {
                    assert.ok(mine.filter(isPoll).length >= 1, `${L}: ${unit}: wait-healthy asked Docker for the health status`);
                    assert.ok(isPoll(mine.at(-1)!), `${L}: ${unit}: its last call at boot was wait-healthy's, the one that saw healthy`);
                }
                assert.deepEqual(argsOf(b.shutdownCalls, unit), [stop![0]!.slice(1)], `${L}: ${unit}'s docker calls at poweroff`);
                assert.deepEqual(
                    missingMounts.filter((l) => l.startsWith(`${c.name} `) && l.includes(ARTIFACT_ROOT)),
                    [],
                    `${L}: the artifact files ${c.name} mounts exist when it runs`,
                );

                // After docker.service, the network, its image and (when it mounts or loads from it) the artifact.
                const began = mono(unit, "InactiveExitTimestampMonotonic");
                for (const before of ["docker.service", NETWORK_UNIT, image, ...(needsArtifact(c) ? [PROVISION_UNIT] : [])])
                    assert.ok(mono(before, "ActiveEnterTimestampMonotonic") <= began, `${L}: ${unit} starts after ${before}`);
                assert.ok(
                    indexOf(b.bootCalls, NETWORK_UNIT) < indexOf(b.bootCalls, unit),
                    `${L}: ${unit} calls docker after the network unit`,
                );

                // Started means healthy: systemd saw it active no sooner than its health delay after it began.
                const activeAfter = (mono(unit, "ActiveEnterTimestampMonotonic") - began) / 1000;
                assert.ok(
                    activeAfter >= this.healthyMs(c),
                    `${L}: ${unit} became active ${activeAfter} ms after it began, before its container could be healthy`,
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

            // Dependencies: each container starts once what it depends on is healthy, and stops before it.
            const edges = this.o.containers.flatMap((c) => (c.dependsOn ?? []).map((d): [ContainerUnit, ContainerUnit] => [c, d]));
            for (const [c, d] of edges) {
                const [cu, du] = [containerUnitName(c.name), containerUnitName(d.name)];
                assert.ok(
                    mono(du, "ActiveEnterTimestampMonotonic") <= mono(cu, "InactiveExitTimestampMonotonic"),
                    `${L}: ${c.name} starts after ${d.name} is up`,
                );
                // Healthy, not merely forked: C's first docker call comes after the fake Docker called D healthy.
                const first = callsOf(b.bootCalls, cu)[0]!;
                assert.ok(
                    first.atMs >= healthyAt(d),
                    `${L}: ${c.name} began (${formatCall(first)}) ${healthyAt(d) - first.atMs} ms before ${d.name} was healthy`,
                );
                // The poweroff runs in reverse: C is stopped before D.
                assert.ok(indexOf(b.shutdownCalls, cu) < indexOf(b.shutdownCalls, du), `${L}: ${c.name} is stopped before ${d.name}`);
            }

            // boot.json: ready, every container up, first try, with times that agree with systemd's.
            const status = this.status();
            assert.equal(status.version, 1);
            assert.equal(status.state, "ready", `${L}: boot.json state`);
            // systemd-nspawn gives the container its own boot id; the journal knows it as this boot's.
            const bootIds = journal(r, ["--list-boots"]).trim().split("\n");
            assert.equal(
                status.bootId.replace(/-/g, ""),
                bootIds.at(-1)!.trim().split(/\s+/)[1],
                `${L}: boot.json's bootId is this boot's`,
            );
            assert.ok(status.budgetSeconds > 900, `budget ${status.budgetSeconds}`);
            assert.deepEqual(status.failed, []);
            assert.deepEqual(
                status.units.map((u) => u["unit"]),
                this.o.containers.map((c) => containerUnitName(c.name)),
            );
            for (const u of status.units) {
                const unit = String(u["unit"]);
                const c = containers.get(unit)!;
                assert.deepEqual(
                    [
                        u["state"],
                        u["activeState"],
                        u["subState"],
                        u["result"],
                        u["restarts"],
                        u["healthCheck"],
                        u["imageState"],
                        u["imageResult"],
                    ],
                    [c.healthCheck ? "healthy" : "running", "active", "running", "success", 0, Boolean(c.healthCheck), "active", "success"],
                    `${L}: boot.json for ${unit}`,
                );
                assert.equal(
                    u["healthyAfterMs"],
                    Math.floor(mono(unit, "ActiveEnterTimestampMonotonic") / 1000),
                    `${unit}: healthyAfterMs is systemd's`,
                );
                assert.equal(
                    u["activeSinceMs"],
                    Math.floor(mono(unit, "InactiveExitTimestampMonotonic") / 1000),
                    `${unit}: activeSinceMs is systemd's`,
                );
                assert.ok(Number(u["imageReadyMs"]) <= Number(u["activeSinceMs"]), `${unit}: its image was there before it began`);
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
