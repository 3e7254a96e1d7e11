// End to end under real systemd: the default host's user-data applied to a throw-away root the way
// coreos-cloudinit applies it on Flatcar, booted with systemd-nspawn (systemd 252 as PID 1), with
// honest stand-ins for what cannot exist here (Docker, the network, S3). See test/helpers/boot.ts.
//
// The first boot proves: every unit loads and starts; provision.service takes its "already current"
// path (no network); the network unit creates the network; each container runs `rm -f`, then its
// image step (pull, or load from the artifact), then `docker run` with exactly the argv systemd parsed
// from its unit; containers start after what they depend on, after docker.service, the network and
// (when they use it) the artifact; nothing fails and nothing restarts. Its poweroff proves each
// container is stopped by its ExecStop (`docker stop -t N NAME`), dependents first, while the Docker
// daemon is still up, and that systemd did not have to kill anything.
// The second boot of the same root (what every later boot of the host is: units, images and the
// network persist) proves the no-op paths: provision is a no-op again, the network is only inspected,
// images are only inspected (no pull, no load), and everything runs again.
import { strict as assert } from "node:assert";
import { existsSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { renderHost } from "../formats/cloudconfig";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, seedContainers } from "./helpers/fixtures";
import { buildHost } from "../units/host";
import {
    ARTIFACT_IMAGES_DIR,
    ARTIFACT_ROOT,
    DOCKER,
    ENSURE_IMAGE,
    NETWORK_NAME,
    NETWORK_UNIT,
    PROVISION_UNIT,
    containerUnitName,
} from "../units/layout";
import { ContainerUnit } from "../units/model";
import { needsArtifact } from "../units/systemd";
import { REPORT_UNIT } from "../units/report";
import { dumpUnits } from "./helpers/systemd";
import {
    DockerCall,
    FAKE_DOCKER_LOG,
    FAKE_DOCKER_STATE,
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

/** What one boot left behind, read after its poweroff. */
interface Boot {
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

describe("boot: the default host under real systemd (systemd-nspawn)", function () {
    this.timeout(2 * (BOOT_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS) + 30_000);

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

    it("starts every container after what it depends on, with the argv systemd parsed, stops them on poweroff, and reboots as a no-op", async function () {
        const t0 = Date.now();
        assertNspawnUsable();

        // Render as the stack does, with the fixture artifact folder; image tarballs are faked below.
        const host = buildHost({ containers: seedContainers, artifact: ARTIFACT, sshAuthorizedKeys: [], scripts: HOST_SCRIPTS });
        const rendered = renderHost(host, {
            artifactFileExists: (p) => existsSync(path.join(REPO, FIXTURE_ARTIFACT_DIR, p)),
            imageFileExists: () => true,
        });
        const unitNames = rendered.units.map((u) => u.name);
        const containers = new Map(seedContainers.map((c) => [containerUnitName(c.name), c]));
        // What systemd parses from the very same unit text (systemd --test): the argv each command gets.
        const parsed = dumpUnits(rendered.units).units;
        const argvs = (unit: string, kind: string) => (parsed.get(unit)?.commands.get(kind) ?? []).map((x) => [...x.argv]);

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
        // The readiness report needs IMDS and S3, which this boot has not (no network): masked here, as
        // `systemctl mask` does. test/report.test.ts runs its script against the IMDS and S3 stand-ins.
        assert.ok(unitNames.includes(REPORT_UNIT));
        r.symlink("/dev/null", `/etc/systemd/system/${REPORT_UNIT}`);
        const tarballs = seedContainers.flatMap((c) => (c.image.kind === "tarball" ? [{ file: c.image.file, ref: c.image.ref }] : []));
        seedArtifact(r, {
            artifactRoot: ARTIFACT_ROOT,
            sha256: SHA,
            sourceDir: path.join(REPO, FIXTURE_ARTIFACT_DIR),
            images: tarballs,
            imagesDir: ARTIFACT_IMAGES_DIR,
        });
        installStandIns(r, {
            units: [...unitNames, "docker.service", "network-online.target", "multi-user.target"],
            containers: seedContainers.map((c) => c.name),
        });
        const prepared = Date.now();

        const dockerLog = () => {
            try {
                return parseDockerLog(readFileSync(r.at(FAKE_DOCKER_LOG)))
                    .map(formatCall)
                    .join("\n");
            } catch (e) {
                return `(${(e as Error).message})`;
            }
        };
        const diagnostics = (m: Machine) =>
            [
                `\n--- journal of the last boot, warnings and worse ---\n${tail(journal(r, ["-b", "0", "-p", "warning"]), 60)}`,
                `\n--- journal of the last boot, our units ---\n${tail(journal(r, ["-b", "0", ...unitNames.flatMap((u) => ["-u", u])]), 120)}`,
                `\n--- fake docker calls (all boots) ---\n${tail(dockerLog(), 80)}`,
                `\n--- probe: system state, failed units, jobs ---\n${["system-state", "failed", "jobs"].map((f) => r.readOrEmpty(`${PROBE_DIR}/${f}`)).join("")}`,
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

        const boot = async (label: string): Promise<Boot> => {
            for (const f of ["done", "show", "failed", "jobs", "running", "system-state", "log-offset", "analyze", "critical-chain"])
                rmSync(r.at(`${PROBE_DIR}/${f}`), { force: true });
            const logStart = existsSync(r.at(FAKE_DOCKER_LOG)) ? statSync(r.at(FAKE_DOCKER_LOG)).size : 0;
            const m = new Machine(r, "coreos-boot-test");
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
                assert.ok(
                    offset >= logStart && offset <= log.length,
                    `${label}: the probe's log offset ${offset} is within this boot's calls`,
                );
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

        /** Everything that holds on every boot. `imageStep`/`networkCalls` say what differs between the first and later boots. */
        const checkBoot = (b: Boot, imageStep: (unit: string) => string[][], networkCalls: string[][]) =>
            explained(b.machine, () => {
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
                const callsOf = (calls: readonly DockerCall[], unit: string) =>
                    calls.filter((c) => c.unit === unit).map((c) => [...c.args]);
                const indexOf = (calls: readonly DockerCall[], unit: string, which: "first" | "last" | "last before run") => {
                    const mine = calls.flatMap((c, i) =>
                        c.unit === unit && (which !== "last before run" || c.args[0] !== "run") ? [i] : [],
                    );
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
                    mono("network-online.target", "ActiveEnterTimestampMonotonic") <=
                        mono(PROVISION_UNIT, "InactiveExitTimestampMonotonic"),
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
                assert.equal(
                    readlinkSync(r.at(`${ARTIFACT_ROOT}/current`)),
                    `releases/${SHA}`,
                    `${L}: current still points at the release`,
                );
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
                        [pre[0]!.slice(1), ...imageStep(unit), start[0]!.slice(1)],
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
                    assert.ok(
                        mono("docker.service", "ActiveEnterTimestampMonotonic") <= began,
                        `${L}: ${unit} starts after docker.service`,
                    );
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

                // Dependencies, e.g. fluentd and kibana after elastic, nginx after kibana and grafana.
                const edges = seedContainers.flatMap((c) => (c.dependsOn ?? []).map((d): [ContainerUnit, ContainerUnit] => [c, d]));
                const named = new Set(edges.map(([c, d]) => `${c.name}>${d.name}`));
                for (const e of ["fluentd>elastic", "kibana>elastic", "nginx>kibana", "nginx>grafana", "grafana>prometheus"])
                    assert.ok(named.has(e), `the default host has ${e}`);
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

        const refOf = (unit: string) => {
            const ensure = argvs(unit, "ExecStartPre")[1]!;
            return { ensure, ref: ensure[ensure.length - 1]! };
        };

        // First boot: no images, no network yet.
        const first = await boot("first boot");
        checkBoot(
            first,
            (unit) => {
                const { ensure, ref } = refOf(unit);
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
            },
            [
                ["network", "inspect", NETWORK_NAME],
                ["network", "create", NETWORK_NAME],
            ],
        );
        const analyze = r.read(`${PROBE_DIR}/analyze`).trim().replace(/\n/g, " | ");

        // Second boot of the same root: images and the network are there, so they are only inspected.
        const second = await boot("second boot");
        checkBoot(second, (unit) => [["image", "inspect", refOf(unit).ref]], [["network", "inspect", NETWORK_NAME]]);

        console.log(
            `    boot test: prepare ${prepared - t0} ms; first boot until every container ran ${first.bootMs} ms, poweroff ${first.shutdownMs} ms; ` +
                `second boot ${second.bootMs} ms, poweroff ${second.shutdownMs} ms; test ${Date.now() - t0} ms before cleanup\n` +
                `    first boot, systemd-analyze: ${analyze}`,
        );
    });
});
