// End to end under real systemd: the default host's user-data applied to a throw-away root the way
// coreos-cloudinit applies it on Flatcar, booted with systemd-nspawn (systemd 252 as PID 1), with
// honest stand-ins for what cannot exist here (Docker, the network, S3). See test/helpers/boot.ts;
// the checks every boot makes are test/helpers/hostBoot.ts's (test/ignition.test.ts shares them).
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
import { existsSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { renderHost } from "../formats/cloudconfig";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, seedContainers as fixtureContainers, withoutDataDisk } from "./helpers/fixtures";
import { buildHost } from "../units/host";
import { containerUnitName, imageUnitName } from "../units/layout";
import { BOOT_STATUS_FILE, READY_UNIT } from "../units/report";
import { ContainerUnit } from "../units/model";
import {
    DockerCall,
    FAKE_DOCKER_LOG,
    FAKE_DOCKER_RUN,
    FAKE_DOCKER_STATE,
    HostResidue,
    PROBE_DIR,
    ThrowAwayRoot,
    applyCloudConfig,
    assertNspawnUsable,
    journal,
    parseDockerLog,
    parseShow,
    prepareBase,
    setFakeDockerBehaviour,
    startAsCloudInit,
} from "./helpers/boot";

/** The seed's containers, their data folders as plain host folders: this boot has no stand-in for the EBS volume (test/bootData.test.ts boots that). */
const seedContainers = withoutDataDisk(fixtureContainers);
import {
    BOOT_TIMEOUT_MS,
    FIRST_BOOT_IMAGE_STEP,
    FIRST_BOOT_NETWORK_CALLS,
    HostBoot,
    LATER_BOOT_IMAGE_STEP,
    LATER_BOOT_NETWORK_CALLS,
    SHUTDOWN_TIMEOUT_MS,
} from "./helpers/hostBoot";

const REPO = path.resolve(__dirname, "..");
/** A fixed artifact location. Any 64 hex digits do: the seeded release carries this hash. */
const SHA = "5d3b0a4f2b6f4d5c1a7e9b8c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e";
const ARTIFACT = { bucket: "coreos-containers-artifacts-boottest", key: `artifacts/${SHA}.tar.gz`, sha256: SHA, region: "eu-west-1" };
const MACHINE_ID = "c0de0000b0075e5700000000000000ad";

/** The healthy boots' fake Docker: pulls, loads and health take fractions of a second, Elasticsearch's and Kibana's longest. */
const PULL_MS: Readonly<Record<string, number>> = { elastic: 600, kibana: 500 };
const HEALTHY_MS: Readonly<Record<string, number>> = { elastic: 500, kibana: 400 };
const pullMs = (c: ContainerUnit) => PULL_MS[c.name] ?? 200;
const healthyMs = (c: ContainerUnit) => HEALTHY_MS[c.name] ?? 100;
/** Its first pull fails, as a registry that cannot be reached: ensure-image retries it. */
const FLAKY = seedContainers.find((c) => c.name === "cadvisor")!;

/** The host's units and the cloud-config document coreos-cloudinit reads (plain, or gunzipped from what EC2 carries). */
function userDataFor(containers: readonly ContainerUnit[]) {
    return renderHost(buildHost({ containers, artifact: ARTIFACT, sshAuthorizedKeys: [], scripts: HOST_SCRIPTS }), {
        artifactFileExists: (p) => existsSync(path.join(REPO, FIXTURE_ARTIFACT_DIR, p)),
        imageFileExists: () => true,
    });
}

describe("boot: the default host under real systemd (systemd-nspawn)", function () {
    this.timeout(3 * (BOOT_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS) + 30_000);

    let residue: HostResidue | undefined;
    let root: ThrowAwayRoot | undefined;
    let host: HostBoot | undefined;

    after(async function () {
        this.timeout(60_000);
        const problems: string[] = [];
        const did = host ? await host.stopAll() : [];
        if (did.length) console.log(`    boot test cleanup: ${did.join("; ")}`);
        if (root) problems.push(...root.dispose());
        if (residue) problems.push(...residue.cleanup());
        if (root && existsSync(root.base)) problems.push(`${root.base} is still there`);
        assert.deepEqual(problems, [], "the throw-away root and systemd-nspawn's host state were not all cleaned up");
    });

    const callsOf = (calls: readonly DockerCall[], unit: string) => calls.filter((c) => c.unit === unit);
    const argsOf = (calls: readonly DockerCall[], unit: string) => callsOf(calls, unit).map((c) => [...c.args]);

    it("fetches every image at once, starts each container once what it depends on is healthy, records boot.json, stops them on poweroff, and reboots as a no-op", async function () {
        const t0 = Date.now();
        assertNspawnUsable();

        // Render as the stack does, with the fixture artifact folder; image tarballs are faked below.
        const rendered = userDataFor(seedContainers);
        // The seed's dependencies the checks below follow, e.g. fluentd and kibana after elastic.
        const named = new Set(seedContainers.flatMap((c) => (c.dependsOn ?? []).map((d) => `${c.name}>${d.name}`)));
        for (const e of ["fluentd>elastic", "kibana>elastic", "nginx>kibana", "nginx>grafana", "grafana>prometheus"])
            assert.ok(named.has(e), `the default host has ${e}`);

        residue = await HostResidue.acquire();
        root = ThrowAwayRoot.create();
        const r = root;
        prepareBase(r, MACHINE_ID);
        const applied = applyCloudConfig(r, rendered.userData);
        assert.deepEqual(
            applied.units.map((u) => u.name),
            rendered.units.map((u) => u.name),
            "the user-data's units are the rendered ones, in order",
        );
        assert.ok(applied.files.length > 0, "the user-data writes the host scripts");
        startAsCloudInit(r, applied);
        const h = new HostBoot({
            root: r,
            residue,
            units: rendered.units,
            containers: seedContainers,
            artifactSha256: SHA,
            artifactDir: path.join(REPO, FIXTURE_ARTIFACT_DIR),
            machineName: `coreos-boot-${process.pid}`,
            behaviour: {
                pullMs: Object.fromEntries(seedContainers.filter((c) => c.image.kind === "registry").map((c) => [c.image.ref, pullMs(c)])),
                loadMs: Object.fromEntries(seedContainers.filter((c) => c.image.kind === "tarball").map((c) => [c.image.ref, pullMs(c)])),
                pullFailures: { [FLAKY.image.ref]: 1 },
                health: Object.fromEntries(seedContainers.map((c) => [c.name, { healthyAfterMs: healthyMs(c) }])),
            },
        });
        host = h;
        const prepared = Date.now();

        // First boot, as coreos-cloudinit starts a new host: no images, no network yet; the flaky pull is retried once.
        const first = await h.boot("first boot");
        h.check(
            first,
            (ensure) => [
                ...FIRST_BOOT_IMAGE_STEP(ensure),
                ...(ensure[1] === "pull" && ensure[2] === FLAKY.image.ref ? [["pull", ensure[2]]] : []),
            ],
            FIRST_BOOT_NETWORK_CALLS,
        );
        h.explained(first.machine, () => {
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
            const flaky = journal(r, ["-b", "0", "-u", imageUnitName(FLAKY.name), "-o", "cat"]);
            assert.match(flaky, /^ensure-image: pull \S+ failed$/m, "the failed pull is in the journal");
            assert.match(flaky, /^retrying in 0\.100s$/m);
            assert.match(
                journal(r, ["-b", "0", "-u", imageUnitName(FLAKY.name), "-p", "warning", "-o", "cat"]),
                /pull .* failed/,
                "as a warning",
            );
        });
        const firstStatus = h.status();
        const analyze = h.analyze();

        // Second boot of the same root: images and the network are there, so they are only inspected.
        const second = await h.boot("second boot");
        h.check(second, LATER_BOOT_IMAGE_STEP, LATER_BOOT_NETWORK_CALLS);
        assert.ok(h.status().startedAt > firstStatus.finishedAt, "boot.json was rewritten by the second boot");

        console.log(
            `    boot test: prepare ${prepared - t0} ms; first boot until every container was healthy ${first.bootMs} ms, poweroff ${first.shutdownMs} ms; ` +
                `second boot ${second.bootMs} ms, poweroff ${second.shutdownMs} ms; test ${Date.now() - t0} ms before cleanup\n` +
                `    first boot, systemd-analyze: ${analyze}`,
        );
    });

    it("fails a container that turns unhealthy or never turns healthy, never starts its dependents, records boot.json failed, and restarts a crashed dependency alone", async function () {
        const r = root;
        const h = host;
        assert.ok(r && h, "the first boot's root (that test failed before making it)");
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
            // Elastic's second failure may decide the boot before Grafana's 2 s wait has passed on a busy
            // machine: let Grafana's health gate give up first (it is what the test reads), at most 15 s.
            `for ((i = 0; i < 150; i++)); do journalctl -b -u ${containerUnitName("grafana")} -p err -o cat | grep -q "grafana is not healthy" && break; sleep 0.1; done`,
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
        const third = await h.boot("third boot", {
            expectRunning: ["node-exporter", "cadvisor", "alertmanager", "prometheus"],
            waitFor: BOOT_STATUS_FILE,
            hook,
        });
        h.explained(third.machine, () => {
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
            const status = h.status();
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
            // From the journal: systemd resets Result= when the unit starts again, and the report unit's Wants=
            // may start it again once this boot's re-applied units are started one at a time.
            assert.match(log(READY_UNIT), /Failed with result 'exit-code'/, "the ready unit fails on a failed boot");

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
            const afterCrash = parseDockerLog(readFileSync(r.at(FAKE_DOCKER_LOG)).subarray(Number(r.read(crashOffset).trim())));
            assert.deepEqual(
                argsOf(afterCrash, pr),
                [h.argvs(pr, "ExecStop")[0]!.slice(1)],
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
