// End to end under real systemd: the default host's user-data applied to a throw-away root the way
// coreos-cloudinit applies it on Flatcar, booted with systemd-nspawn (systemd 252 as PID 1), with
// honest stand-ins for what cannot exist here (Docker, the network, S3). See test/helpers/boot.ts.
//
// The first boot starts the units as coreos-cloudinit does on a new host: one at a time, in the
// user-data's order, each `start` waiting for its job (test/helpers/boot.ts startAsCloudInit). It
// proves: every unit loads and starts; provision.service takes its "already current"
// path (no network); the network unit creates the network; every image is fetched by its own unit as
// soon as Docker (and the artifact) is there, in parallel and not behind the containers it waits for,
// a failed pull retried; each container runs its dependency wait, `rm -f`, its image step (a no-op by
// then), then `docker run` with exactly the argv systemd parsed from its unit, and counts as started
// only once the fake Docker reports it healthy, so containers start after what they depend on is
// healthy, not merely forked; the ready unit writes boot.json, state ready; nothing fails and nothing
// restarts. Its poweroff proves each container is stopped by its ExecStop (`docker stop -t N NAME`),
// dependents first, while the Docker daemon is still up, and that systemd did not have to kill anything.
// The second boot of the same root (what every later boot of the host is: units, images and the
// network persist, the units are enabled and start with multi-user.target) proves the no-op paths: provision is a no-op again, the network is only inspected,
// images are only inspected (no pull, no load), everything runs again, and boot.json is rewritten.
// The third boot of the same root, with user-data whose restarts are quick, proves the failure paths:
// Elasticsearch turns unhealthy, so its unit fails with a journal line and Kibana, Fluentd and nginx
// never run; Grafana never turns healthy, so its unit fails once its wait budget passes; boot.json
// says failed; and a crash of node-exporter restarts node-exporter alone: Prometheus, which depends on
// it, keeps running (a Requires= dependency would have restarted it too).
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { cloudConfigObject, serializeCloudConfig } from "../formats/cloudconfig";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, seedContainers } from "./helpers/fixtures";
import { buildHost } from "../units/host";
import {
    ARTIFACT_IMAGES_DIR,
    ARTIFACT_ROOT,
    BOOT_STATUS_FILE,
    DOCKER,
    ENSURE_IMAGE,
    NETWORK_NAME,
    NETWORK_UNIT,
    PROVISION_UNIT,
    READY_UNIT,
    WAIT_DEPENDENCIES,
    containerUnitName,
    imageUnitName,
} from "../units/layout";
import { ContainerUnit } from "../units/model";
import { renderHostContent } from "../units/render";
import { RenderedUnit, needsArtifact } from "../units/systemd";
import { dumpUnits } from "./helpers/systemd";
import {
    DockerCall,
    FAKE_DOCKER_LOG,
    FAKE_DOCKER_RUN,
    FAKE_DOCKER_STATE,
    FakeDockerBehaviour,
    HostResidue,
    Machine,
    PROBE_DIR,
    ThrowAwayRoot,
    applyCloudConfig,
    assertNspawnUsable,
    formatCall,
    installStandIns,
    journal,
    parseDockerLog,
    parseShow,
    prepareBase,
    seedArtifact,
    setFakeDockerBehaviour,
    startAsCloudInit,
    tail,
} from "./helpers/boot";

const REPO = path.resolve(__dirname, "..");
/** A fixed artifact location. Any 64 hex digits do: the seeded release carries this hash. */
const SHA = "5d3b0a4f2b6f4d5c1a7e9b8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e";
const ARTIFACT = { bucket: "coreos-containers-artifacts-boottest", key: `artifacts/${SHA}.tar.gz`, sha256: SHA, region: "eu-west-1" };
const MACHINE_ID = "c0de0000b0075e5700000000000000ad";

/** Bounds per boot: until the probe reports (it gives up itself after 35 s), and the poweroff. Both take seconds here. */
const BOOT_TIMEOUT_MS = 60_000;
const SHUTDOWN_TIMEOUT_MS = 30_000;

/** For every unit of the booted root: poll and back off in tenths of a second, so a boot takes seconds. */
const FAST_ENVIRONMENT = { HEALTH_POLL_SECONDS: "0.1", READY_POLL_SECONDS: "0.1", RETRY_BACKOFF_MS: "100" };

/** The healthy boots' fake Docker: pulls, loads and health take fractions of a second, Elasticsearch's and Kibana's longest. */
const PULL_MS: Readonly<Record<string, number>> = { elastic: 600, kibana: 500 };
const HEALTHY_MS: Readonly<Record<string, number>> = { elastic: 500, kibana: 400 };
const pullMs = (c: ContainerUnit) => PULL_MS[c.name] ?? 200;
const healthyMs = (c: ContainerUnit) => HEALTHY_MS[c.name] ?? 100;
/** Its first pull fails, as a registry that cannot be reached: ensure-image retries it. */
const FLAKY = "cadvisor";

const IF_HEALTH = "{{if .State.Health}}{{.State.Health.Status}}{{end}}";
const HEALTH_STATUS = "{{.State.Health.Status}}";

/** What one boot left behind, read after its poweroff. */
interface Boot {
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
interface BootStatus {
    readonly version: number;
    readonly state: string;
    readonly bootId: string;
    readonly startedAt: string;
    readonly finishedAt: string;
    readonly budgetSeconds: number;
    readonly units: readonly Readonly<Record<string, string | number | boolean | null>>[];
    readonly failed: readonly { readonly unit: string; readonly container: string; readonly journal: readonly string[] }[];
}

/**
 * The cloud-config document coreos-cloudinit reads for these containers, validated and rendered as
 * the stack renders it. Not through the format's size check: whether EC2 carries it plain or gzip'd
 * is the format's business (its own tests); coreos-cloudinit reads this document either way.
 */
function userDataFor(containers: readonly ContainerUnit[]): { units: readonly RenderedUnit[]; userData: string } {
    const host = buildHost({ containers, artifact: ARTIFACT, sshAuthorizedKeys: [], scripts: HOST_SCRIPTS });
    const content = renderHostContent(host, {
        artifactFileExists: (p) => existsSync(path.join(REPO, FIXTURE_ARTIFACT_DIR, p)),
        imageFileExists: () => true,
    });
    return { units: content.units, userData: serializeCloudConfig(cloudConfigObject(content, content.units)) };
}

describe("boot: the default host under real systemd (systemd-nspawn)", function () {
    this.timeout(3 * (BOOT_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS) + 30_000);

    let residue: HostResidue | undefined;
    let root: ThrowAwayRoot | undefined;
    const machines: Machine[] = [];

    after(async function () {
        this.timeout(60_000);
        const problems: string[] = [];
        for (const m of machines) {
            const did = await m.ensureStopped(residue!);
            if (did.length) console.log(`    boot test cleanup: ${did.join("; ")}`);
        }
        if (root) problems.push(...root.dispose());
        if (residue) problems.push(...residue.cleanup());
        if (root && existsSync(root.base)) problems.push(`${root.base} is still there`);
        assert.deepEqual(problems, [], "the throw-away root and systemd-nspawn's host state were not all cleaned up");
    });

    const rendered = userDataFor(seedContainers);
    const unitNames = rendered.units.map((u) => u.name);
    const containers = new Map(seedContainers.map((c) => [containerUnitName(c.name), c]));

    const dockerLog = () => {
        try {
            return parseDockerLog(readFileSync(root!.at(FAKE_DOCKER_LOG)))
                .map(formatCall)
                .join("\n");
        } catch (e) {
            return `(${(e as Error).message})`;
        }
    };
    const diagnostics = (m: Machine) =>
        [
            `\n--- journal of the last boot, warnings and worse ---\n${tail(journal(root!, ["-b", "0", "-p", "warning"]), 60)}`,
            `\n--- journal of the last boot, our units ---\n${tail(journal(root!, ["-b", "0", ...unitNames.flatMap((u) => ["-u", u])]), 120)}`,
            `\n--- fake docker calls (all boots) ---\n${tail(dockerLog(), 80)}`,
            `\n--- probe: system state, failed units, jobs, hook ---\n${["system-state", "failed", "jobs", "hook.out"].map((f) => root!.readOrEmpty(`${PROBE_DIR}/${f}`)).join("")}`,
            `\n--- boot.json ---\n${root!.readOrEmpty(BOOT_STATUS_FILE)}`,
            `\n--- console (systemd-nspawn and the container) ---\n${tail(m.console, 50)}`,
        ].join("\n");
    /** Runs `check`; a failure gets the machine's journal, docker calls and console appended. */
    const explained = (m: Machine, check: () => void) => {
        try {
            check();
        } catch (e) {
            // A new error: mocha prints an AssertionError's message from its stack, made before we could add to it.
            throw new Error(`${e instanceof Error ? e.message : String(e)}${diagnostics(m)}`, { cause: e });
        }
    };

    /** Boots the root once, until the probe reports and the machine powers off. `expectRunning`: containers the probe waits for. */
    const boot = async (label: string, opts: { expectRunning: readonly string[]; waitFor?: string; hook?: string }): Promise<Boot> => {
        const r = root!;
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
        r.write(`${PROBE_DIR}/containers`, opts.expectRunning.join("\n") + "\n");
        r.write(`${PROBE_DIR}/wait-for`, opts.waitFor ?? "");
        if (opts.hook) r.write(`${PROBE_DIR}/hook`, opts.hook, 0o755);
        else rmSync(r.at(`${PROBE_DIR}/hook`), { force: true });
        const logStart = existsSync(r.at(FAKE_DOCKER_LOG)) ? statSync(r.at(FAKE_DOCKER_LOG)).size : 0;
        const m = new Machine(r, `coreos-boot-test-${process.pid}`);
        machines.push(m);
        const reported = await m.waitForFile(`${PROBE_DIR}/done`, BOOT_TIMEOUT_MS);
        const bootMs = Date.now() - m.startedAt;
        if (!reported) {
            throw new Error(
                (m.running
                    ? `${label}: the probe did not report within ${BOOT_TIMEOUT_MS / 1000} s`
                    : `${label}: the machine exited (${JSON.stringify(m.exit)}) before the probe reported`) + diagnostics(m),
            );
        }
        const stoppedInTime = await m.waitForExit(SHUTDOWN_TIMEOUT_MS);
        const shutdownMs = Date.now() - m.startedAt - bootMs;
        if (!stoppedInTime)
            throw new Error(`${label}: the machine did not power off within ${SHUTDOWN_TIMEOUT_MS / 1000} s${diagnostics(m)}`);
        let result: Boot | undefined;
        explained(m, () => {
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
    };

    const readStatus = (): BootStatus => JSON.parse(root!.read(BOOT_STATUS_FILE)) as BootStatus;
    const callsOf = (calls: readonly DockerCall[], unit: string) => calls.filter((c) => c.unit === unit);
    const argsOf = (calls: readonly DockerCall[], unit: string) => callsOf(calls, unit).map((c) => [...c.args]);

    // What systemd parses from the very same unit text (systemd --test): the argv each command gets.
    const parsed = dumpUnits(rendered.units).units;
    const argvs = (unit: string, kind: string) => (parsed.get(unit)?.commands.get(kind) ?? []).map((x) => [...x.argv]);
    const refOf = (c: ContainerUnit) => c.image.ref;

    /** Everything that holds on every healthy boot. `imageStep`/`networkCalls` say what differs between the first and later boots. */
    const checkHealthyBoot = (b: Boot, imageStep: (c: ContainerUnit) => string[][], networkCalls: string[][]) =>
        explained(b.machine, () => {
            const r = root!;
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
            const indexOf = (calls: readonly DockerCall[], unit: string) => {
                const i = calls.findIndex((c) => c.unit === unit);
                assert.ok(i >= 0, `${L}: no docker call from ${unit}`);
                return i;
            };
            /** When the fake Docker started reporting the container healthy: its `docker run` plus its delay. */
            const healthyAt = (c: ContainerUnit) => {
                const run = callsOf(b.bootCalls, containerUnitName(c.name)).find((x) => x.args[0] === "run");
                assert.ok(run, `${L}: ${c.name} never ran`);
                return run.atMs + healthyMs(c);
            };

            // Nothing failed: the boot finished cleanly (not "degraded") and no unit is in failed state.
            assert.equal(r.read(`${PROBE_DIR}/system-state`).trim(), "running", `${L}: systemctl is-system-running`);
            assert.equal(r.read(`${PROBE_DIR}/failed`).trim(), "", `${L}: failed units`);

            for (const u of ["docker.service", "network-online.target", "multi-user.target"])
                assert.equal(prop(u, "ActiveState"), "active", `${L}: ${u} is active`);
            for (const u of [NETWORK_UNIT, PROVISION_UNIT, READY_UNIT, ...seedContainers.map((c) => imageUnitName(c.name))]) {
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

                // Its image unit fetched the image: pull or load at the first boot, only an inspect later.
                const image = imageUnitName(c.name);
                assert.deepEqual(
                    argvs(image, "ExecStart"),
                    [argvs(unit, "ExecStartPre").at(-1)],
                    `${image} runs the container's ensure-image`,
                );
                assert.deepEqual(argsOf(b.bootCalls, image), imageStep(c), `${L}: ${image}'s docker calls at boot`);
                assert.deepEqual(argsOf(b.shutdownCalls, image), [], `${L}: ${image} has nothing to stop`);

                // The dependency wait, rm -f, the image step (a no-op now), run: exactly the argv systemd
                // parsed, in that order, with wait-healthy's status polls around the run; at poweroff, stop.
                const deps = (c.dependsOn ?? []).map((d) => d.name);
                const [pre, start, stop, post] = ["ExecStartPre", "ExecStart", "ExecStop", "ExecStartPost"].map((k) => argvs(unit, k));
                assert.deepEqual(pre!.length, deps.length ? 3 : 2, `${unit}: ExecStartPre= (wait-dependencies,) rm -f and the image step`);
                if (deps.length) assert.deepEqual(pre![0], [WAIT_DEPENDENCIES, ...deps.map(containerUnitName)]);
                const [rm, ensure] = pre!.slice(-2);
                assert.equal(rm![0], DOCKER);
                assert.equal(ensure![0], ENSURE_IMAGE);
                assert.equal(post!.length, 1, `${unit}: one ExecStartPost= (wait-healthy)`);
                const mine = argsOf(b.bootCalls, unit);
                const isPoll = (a: readonly string[]) => a.length === 4 && a[0] === "inspect" && a[2] === HEALTH_STATUS && a[3] === c.name;
                assert.deepEqual(
                    mine.filter((a) => !isPoll(a)),
                    [
                        ...deps.map((d) => ["inspect", "--format", IF_HEALTH, d]),
                        rm!.slice(1),
                        ["image", "inspect", refOf(c)],
                        start![0]!.slice(1),
                    ],
                    `${L}: ${unit}'s docker calls at boot, besides wait-healthy's polls`,
                );
                assert.ok(mine.filter(isPoll).length >= 1, `${L}: ${unit}: wait-healthy asked Docker for the health status`);
                assert.ok(isPoll(mine.at(-1)!), `${L}: ${unit}: the last call at boot was wait-healthy's (the one that saw healthy)`);
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
                assert.ok(
                    mono(unit, "ActiveEnterTimestampMonotonic") - began >= healthyMs(c) * 1000,
                    `${L}: ${unit} became active ${(mono(unit, "ActiveEnterTimestampMonotonic") - began) / 1000} ms after it began, before its container could be healthy`,
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

            // Dependencies, e.g. fluentd and kibana after elastic, nginx after kibana and grafana.
            const edges = seedContainers.flatMap((c) => (c.dependsOn ?? []).map((d): [ContainerUnit, ContainerUnit] => [c, d]));
            const named = new Set(edges.map(([c, d]) => `${c.name}>${d.name}`));
            for (const e of ["fluentd>elastic", "kibana>elastic", "nginx>kibana", "nginx>grafana", "grafana>prometheus"])
                assert.ok(named.has(e), `the default host has ${e}`);
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

            // boot.json: ready, every container healthy, first try, with times that agree with systemd's.
            const status = readStatus();
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
                seedContainers.map((c) => containerUnitName(c.name)),
            );
            for (const u of status.units) {
                const unit = String(u["unit"]);
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
                    ["healthy", "active", "running", "success", 0, true, "active", "success"],
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

    it("fetches every image at once, starts each container once what it depends on is healthy, records boot.json, stops them on poweroff, and reboots as a no-op", async function () {
        const t0 = Date.now();
        assertNspawnUsable();
        residue = new HostResidue();
        root = ThrowAwayRoot.create();
        const r = root;
        prepareBase(r, MACHINE_ID);
        const applied = applyCloudConfig(r, rendered.userData);
        assert.deepEqual(
            applied.units.map((u) => u.name),
            unitNames,
            "the user-data's units are the rendered ones, in order",
        );
        assert.ok(applied.files.length > 0, "the user-data writes the host scripts");
        startAsCloudInit(r, applied);
        const tarballs = seedContainers.flatMap((c) => (c.image.kind === "tarball" ? [{ file: c.image.file, ref: c.image.ref }] : []));
        seedArtifact(r, {
            artifactRoot: ARTIFACT_ROOT,
            sha256: SHA,
            sourceDir: path.join(REPO, FIXTURE_ARTIFACT_DIR),
            images: tarballs,
            imagesDir: ARTIFACT_IMAGES_DIR,
        });
        const behaviour: FakeDockerBehaviour = {
            pullMs: Object.fromEntries(seedContainers.filter((c) => c.image.kind === "registry").map((c) => [c.image.ref, pullMs(c)])),
            loadMs: Object.fromEntries(seedContainers.filter((c) => c.image.kind === "tarball").map((c) => [c.image.ref, pullMs(c)])),
            pullFailures: { [seedContainers.find((c) => c.name === FLAKY)!.image.ref]: 1 },
            health: Object.fromEntries(seedContainers.map((c) => [c.name, { healthyAfterMs: healthyMs(c) }])),
        };
        installStandIns(r, {
            units: [...unitNames, "docker.service", "network-online.target", "multi-user.target"],
            containers: seedContainers.map((c) => c.name),
            environment: FAST_ENVIRONMENT,
            behaviour,
        });
        const prepared = Date.now();
        const all = seedContainers.map((c) => c.name);

        // First boot, as coreos-cloudinit starts a new host: no images, no network yet.
        const first = await boot("first boot", { expectRunning: all });
        checkHealthyBoot(
            first,
            (c) => {
                const ensure = argvs(imageUnitName(c.name), "ExecStart")[0]!;
                if (ensure[1] === "load")
                    return [
                        ["image", "inspect", c.image.ref],
                        ["load", "-i", ensure[2]!],
                        ["image", "inspect", c.image.ref],
                        ["images", "-q", "--filter", "dangling=true"],
                    ];
                const pulls = c.name === FLAKY ? 2 : 1;
                return [["image", "inspect", c.image.ref], ...Array.from({ length: pulls }, () => ["pull", c.image.ref])];
            },
            [
                ["network", "inspect", NETWORK_NAME],
                ["network", "create", NETWORK_NAME],
            ],
        );
        explained(first.machine, () => {
            // Fetched in parallel, independent of the dependency chain: each image's fetch began before
            // the last container it waits for was healthy (one after the other, it would begin only once
            // all of them are up), and Kibana's pull overlapped Elasticsearch's.
            const fetchOf = (c: ContainerUnit) => {
                const call = callsOf(first.bootCalls, imageUnitName(c.name)).find((x) => x.args[0] === "pull" || x.args[0] === "load");
                assert.ok(call, `no fetch for ${c.name}`);
                return call;
            };
            const runAt = (c: ContainerUnit) => callsOf(first.bootCalls, containerUnitName(c.name)).find((x) => x.args[0] === "run")!.atMs;
            for (const c of seedContainers.filter((x) => x.dependsOn?.length)) {
                const lastHealthy = Math.max(
                    ...c.dependsOn!.map((d) => runAt(seedContainers.find((s) => s.name === d.name)!) + healthyMs(d)),
                );
                assert.ok(fetchOf(c).atMs < lastHealthy, `${c.name}'s image was fetched only once what it depends on was up`);
            }
            const [elastic, kibana] = ["elastic", "kibana"].map((n) => seedContainers.find((c) => c.name === n)!);
            assert.ok(fetchOf(kibana!).atMs < fetchOf(elastic!).atMs + pullMs(elastic!), "kibana's pull began while elastic's was running");
            // The flaky pull was retried after a backoff, and said so in the journal (warning priority).
            const flaky = journal(r, ["-b", "0", "-u", imageUnitName(FLAKY), "-o", "cat"]);
            assert.match(flaky, /^ensure-image: pull \S+ failed$/m, "the failed pull is in the journal");
            assert.match(flaky, /^retrying in 0\.100s$/m);
            assert.match(
                journal(r, ["-b", "0", "-u", imageUnitName(FLAKY), "-p", "warning", "-o", "cat"]),
                /pull .* failed/,
                "as a warning",
            );
        });
        const firstStatus = readStatus();
        const analyze = r.read(`${PROBE_DIR}/analyze`).trim().replace(/\n/g, " | ");

        // Second boot of the same root: images and the network are there, so they are only inspected.
        const second = await boot("second boot", { expectRunning: all });
        checkHealthyBoot(second, (c) => [["image", "inspect", c.image.ref]], [["network", "inspect", NETWORK_NAME]]);
        assert.ok(readStatus().startedAt > firstStatus.finishedAt, "boot.json was rewritten by the second boot");

        console.log(
            `    boot test: prepare ${prepared - t0} ms; first boot until every container was healthy ${first.bootMs} ms, poweroff ${first.shutdownMs} ms; ` +
                `second boot ${second.bootMs} ms, poweroff ${second.shutdownMs} ms; test ${Date.now() - t0} ms before cleanup\n` +
                `    first boot, systemd-analyze: ${analyze}`,
        );
    });

    it("fails a container that turns unhealthy or never turns healthy, never starts its dependents, records boot.json failed, and restarts a crashed dependency alone", async function () {
        const r = root;
        assert.ok(r, "the first boot's root (that test failed before making it)");
        const t0 = Date.now();
        // The same host with quick restarts, and a Grafana that gives up waiting after 2 s.
        const failing = seedContainers.map((c): ContainerUnit => {
            if (c.name === "grafana") return { ...c, restartSec: 1, healthCheck: { ...c.healthCheck!, startPeriodSec: 1, waitSec: 2 } };
            return ["elastic", "node-exporter"].includes(c.name) ? { ...c, restartSec: 1 } : c;
        });
        applyCloudConfig(r, userDataFor(failing).userData);
        setFakeDockerBehaviour(r, { health: { elastic: { unhealthyAfterMs: 200 }, grafana: "never" } });
        rmSync(r.at(BOOT_STATUS_FILE));
        const crashOffset = `${PROBE_DIR}/crash-log-offset`;
        // Kills node-exporter's `docker run` (a container crash ends it so), then waits for its unit to bring it back.
        const hook = [
            "#!/bin/bash",
            `O=${PROBE_DIR} C=${FAKE_DOCKER_RUN}/containers/node-exporter`,
            "show() { systemctl show -p Id,ActiveState,SubState,NRestarts,MainPID docker-node-exporter.service docker-prometheus.service; }",
            'show >"$O/before-crash"',
            `flock ${FAKE_DOCKER_STATE}/lock stat -c %s ${FAKE_DOCKER_LOG} >${crashOffset}`,
            'p=$(cat "$C"); kill -KILL "$p"',
            'for ((i = 0; i < 150; i++)); do sleep 0.1; q=$(cat "$C" 2>/dev/null) || continue',
            '  [ "$q" != "$p" ] && [ "$(systemctl is-active docker-node-exporter.service)" = active ] && break; done',
            'show >"$O/after-crash"',
            "",
        ].join("\n");
        const third = await boot("third boot", {
            expectRunning: ["node-exporter", "cadvisor", "alertmanager", "prometheus"],
            waitFor: BOOT_STATUS_FILE,
            hook,
        });
        explained(third.machine, () => {
            const calls = [...third.bootCalls, ...third.shutdownCalls];
            const ran = (name: string) => callsOf(calls, containerUnitName(name)).some((c) => c.args[0] === "run");
            const log = (unit: string, ...args: string[]) => journal(r, ["-b", "0", "-u", unit, "-o", "cat", ...args]);

            // Elasticsearch turned unhealthy: its unit failed with one error line saying so, and was restarted.
            assert.match(
                log(containerUnitName("elastic"), "-p", "err"),
                /^elastic is not healthy: Docker reports it unhealthy after \d+s; last check: exit 1: fake check of elastic: unhealthy ?$/m,
            );
            assert.match(log(containerUnitName("elastic")), /Control process exited, code=exited, status=1\/FAILURE/);
            // Grafana stayed "starting": its unit failed once its 2 s wait budget passed.
            assert.match(
                log(containerUnitName("grafana"), "-p", "err"),
                /^grafana is not healthy: still starting after 2s, its wait budget; last check: exit 1: fake check of grafana: starting ?$/m,
            );
            // Their dependents never ran a container: Kibana and Fluentd waited for Elasticsearch to be
            // healthy; nginx's start job stayed queued behind Kibana's.
            for (const name of ["kibana", "fluentd", "nginx"])
                assert.ok(!ran(name), `${name} ran although what it depends on never became healthy`);
            for (const name of ["kibana", "fluentd"])
                assert.match(log(containerUnitName(name)), /^waiting for docker-elastic\.service: activating$/m, name);

            // boot.json: failed, because elastic's start failed twice; its journal says why.
            const status = readStatus();
            assert.equal(status.state, "failed");
            const elastic = status.failed.find((f) => f.container === "elastic");
            assert.ok(elastic, `elastic is among the failed: ${JSON.stringify(status.failed.map((f) => f.container))}`);
            assert.equal(elastic.unit, containerUnitName("elastic"));
            assert.ok(elastic.journal.length > 0 && elastic.journal.length <= 20, `${elastic.journal.length} journal lines`);
            assert.ok(
                elastic.journal.some((l) => l.includes("elastic is not healthy: Docker reports it unhealthy")),
                elastic.journal.join("\n"),
            );
            const byName = new Map(status.units.map((u) => [String(u["container"]), u]));
            assert.equal(byName.get("elastic")!["state"], "failed");
            assert.ok(Number(byName.get("elastic")!["restarts"]) >= 2);
            for (const name of ["kibana", "fluentd", "nginx"]) assert.equal(byName.get(name)!["state"], "starting", name);
            // The others were up, or on their way when elastic's second failure decided the boot; they did come up.
            for (const name of ["node-exporter", "cadvisor", "alertmanager", "prometheus"]) {
                assert.ok(["healthy", "starting"].includes(String(byName.get(name)!["state"])), `${name}: ${byName.get(name)!["state"]}`);
                assert.match(log(containerUnitName(name)), new RegExp(`^${name} is healthy after \\d+s$`, "m"), name);
            }
            assert.notEqual(third.show.get(READY_UNIT)?.get("Result"), "success", "the ready unit fails on a failed boot");

            // The crash: node-exporter's unit restarted it; Prometheus, which depends on it, kept its process.
            const before = parseShow(r.read(`${PROBE_DIR}/before-crash`));
            const after = parseShow(r.read(`${PROBE_DIR}/after-crash`));
            const [ne, pr] = [containerUnitName("node-exporter"), containerUnitName("prometheus")];
            assert.equal(after.get(ne)?.get("ActiveState"), "active", "node-exporter is back");
            assert.equal(
                Number(after.get(ne)?.get("NRestarts")),
                Number(before.get(ne)?.get("NRestarts")) + 1,
                "node-exporter was restarted once",
            );
            assert.notEqual(after.get(ne)?.get("MainPID"), before.get(ne)?.get("MainPID"));
            for (const k of ["ActiveState", "SubState", "NRestarts", "MainPID"])
                assert.equal(after.get(pr)?.get(k), before.get(pr)?.get(k), `prometheus ${k} is unchanged by node-exporter's crash`);
            const offset = Number(r.read(crashOffset).trim());
            const afterCrash = parseDockerLog(readFileSync(r.at(FAKE_DOCKER_LOG)).subarray(offset));
            assert.deepEqual(
                argsOf(afterCrash, pr),
                [argvs(pr, "ExecStop")[0]!.slice(1)],
                "after node-exporter's crash, prometheus's only docker call is its stop at poweroff",
            );
            assert.ok(
                callsOf(afterCrash, ne).some((c) => c.args[0] === "run"),
                "node-exporter's unit ran its container again",
            );
        });
        console.log(
            `    boot test: third boot (failures, a crash) ${third.bootMs} ms, poweroff ${third.shutdownMs} ms; test ${Date.now() - t0} ms`,
        );
    });
});
