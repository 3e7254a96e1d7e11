// End to end under real systemd: the default host's user-data applied to a throw-away root the way
// coreos-cloudinit applies it on Flatcar, booted with systemd-nspawn (systemd 252 as PID 1), with
// honest stand-ins for what cannot exist here (Docker, the network, S3). See test/helpers/boot.ts;
// the checks every boot makes are test/helpers/hostBoot.ts's (test/ignition.test.ts shares them).
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
import { existsSync } from "node:fs";
import * as path from "node:path";
import { renderHost } from "../formats/cloudconfig";
import { FIXTURE_ARTIFACT_DIR, HOST_SCRIPTS, seedContainers } from "./helpers/fixtures";
import { buildHost } from "../units/host";
import { HostResidue, ThrowAwayRoot, applyCloudConfig, assertNspawnUsable, prepareBase } from "./helpers/boot";
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

describe("boot: the default host under real systemd (systemd-nspawn)", function () {
    this.timeout(2 * (BOOT_TIMEOUT_MS + SHUTDOWN_TIMEOUT_MS) + 30_000);

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

    it("starts every container after what it depends on, with the argv systemd parsed, stops them on poweroff, and reboots as a no-op", async function () {
        const t0 = Date.now();
        assertNspawnUsable();

        // Render as the stack does, with the fixture artifact folder; image tarballs are faked below.
        const rendered = renderHost(
            buildHost({ containers: seedContainers, artifact: ARTIFACT, sshAuthorizedKeys: [], scripts: HOST_SCRIPTS }),
            {
                artifactFileExists: (p) => existsSync(path.join(REPO, FIXTURE_ARTIFACT_DIR, p)),
                imageFileExists: () => true,
            },
        );
        // The seed's dependencies the checks below follow, e.g. fluentd and kibana after elastic.
        const named = new Set(seedContainers.flatMap((c) => (c.dependsOn ?? []).map((d) => `${c.name}>${d.name}`)));
        for (const e of ["fluentd>elastic", "kibana>elastic", "nginx>kibana", "nginx>grafana", "grafana>prometheus"])
            assert.ok(named.has(e), `the default host has ${e}`);

        residue = new HostResidue();
        root = ThrowAwayRoot.create();
        prepareBase(root, MACHINE_ID);
        const applied = applyCloudConfig(root, rendered.userData);
        assert.deepEqual(
            applied.units.map((u) => u.name),
            rendered.units.map((u) => u.name),
            "the user-data's units are the rendered ones, in order",
        );
        assert.ok(applied.files.length > 0, "the user-data writes the host scripts");
        host = new HostBoot({
            root,
            residue,
            units: rendered.units,
            containers: seedContainers,
            artifactSha256: SHA,
            artifactDir: path.join(REPO, FIXTURE_ARTIFACT_DIR),
            machineName: `coreos-boot-${process.pid}`,
        });
        const prepared = Date.now();

        // First boot: no images, no network yet.
        const first = await host.boot("first boot");
        host.check(first, FIRST_BOOT_IMAGE_STEP, FIRST_BOOT_NETWORK_CALLS);
        const analyze = host.analyze();

        // Second boot of the same root: images and the network are there, so they are only inspected.
        const second = await host.boot("second boot");
        host.check(second, LATER_BOOT_IMAGE_STEP, LATER_BOOT_NETWORK_CALLS);

        console.log(
            `    boot test: prepare ${prepared - t0} ms; first boot until every container ran ${first.bootMs} ms, poweroff ${first.shutdownMs} ms; ` +
                `second boot ${second.bootMs} ms, poweroff ${second.shutdownMs} ms; test ${Date.now() - t0} ms before cleanup\n` +
                `    first boot, systemd-analyze: ${analyze}`,
        );
    });
});
