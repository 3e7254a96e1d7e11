// The persistent data disk's units, in-process (so mutation testing sees them): names as systemd-escape
// makes them, ordering as systemd's own parser reads it, which hosts get the data unit, and which
// containers count as stateful. The data-volume script itself runs in test/dataVolume.test.ts.
import { strict as assert } from "node:assert";
import { DATA_MOUNT_UNIT, mountUnitName, usesDataVolume } from "../units/dataVolume";
import { ContainerUnit } from "../units/model";
import { DATA_DIR, DATA_SCRIPT, DATA_UNIT, DOCKER, containerUnitName } from "../units/layout";
import { INSTALL } from "../units/systemd";
import { orderedUnits } from "../units/render";
import { FIXTURE_VOLUME_ID, fixtureHost, seedContainers } from "./helpers/fixtures";
import { dumpUnits, verifyUnits } from "./helpers/systemd";
import { sh } from "./helpers/loopDisk";

describe("data volume: units (systemd's parser, systemd-escape)", function () {
    this.timeout(30_000);

    it("names the mount unit exactly as systemd-escape --path does", function () {
        const paths = [DATA_DIR, "/var/lib/coreos-containers/data", "/srv/a b/ü.x", "/mnt//data/", "/.hidden/x"];
        // The root, control bytes and a leading dot: the escapes' edge cases.
        for (const p of [...paths, "/", "//", "/a\tb", "/a\x01b", "/.hidden"]) {
            const expected = sh("systemd-escape", ["--path", "--suffix=mount", p]).trim();
            assert.equal(mountUnitName(p), expected, JSON.stringify(p));
        }
        assert.equal(DATA_MOUNT_UNIT, "var-lib-containerdata.mount", "a plain word: no escapes for cloud-config or a shell to mangle");
    });

    it("orders containers with data mounts after the disk's mount and the data unit, and stateless ones after neither", function () {
        const host = fixtureHost(seedContainers);
        const units = orderedUnits(host);
        assert.ok(
            units.some((u) => u.name === DATA_MOUNT_UNIT),
            "the host gets the mount unit",
        );
        const parsed = dumpUnits(units).units;
        // systemd --test prints each dependency with where it came from: `docker.service (origin-file)`.
        const deps = (unit: string, key: string) => (parsed.get(unit)?.properties.get(key) ?? []).map((v) => v.split(" ")[0]!);
        const stateful = seedContainers.filter((c) => (c.volumes ?? []).some((v) => v.source.kind === "data")).map((c) => c.name);
        assert.deepEqual(stateful.sort(), ["alertmanager", "elastic", "grafana", "prometheus"]);
        for (const c of seedContainers) {
            assert.ok(parsed.has(containerUnitName(c.name)), `systemd parsed ${c.name}`);
            const after = deps(containerUnitName(c.name), "After");
            const requires = deps(containerUnitName(c.name), "Requires");
            const wants = stateful.includes(c.name);
            assert.equal(after.includes(DATA_MOUNT_UNIT), wants, `${c.name}: After=${DATA_MOUNT_UNIT}`);
            assert.equal(requires.includes(DATA_MOUNT_UNIT), wants, `${c.name}: Requires=${DATA_MOUNT_UNIT}`);
        }
        assert.ok(parsed.has(DATA_MOUNT_UNIT), "systemd parsed the mount unit");
        for (const [k, v] of [
            ["After", DATA_UNIT],
            ["Requires", DATA_UNIT],
            ["Before", "umount.target"],
            ["Conflicts", "umount.target"],
        ] as const)
            assert.ok(deps(DATA_MOUNT_UNIT, k).includes(v), `${DATA_MOUNT_UNIT}: ${k}=${v}; has ${deps(DATA_MOUNT_UNIT, k).join(" ")}`);
        assert.ok(
            !deps(DATA_MOUNT_UNIT, "Before").includes("local-fs.target"),
            "not before local-fs.target: the data unit needs the network",
        );
        const executables = [
            DOCKER,
            INSTALL,
            "/bin/sh",
            ...host.files.filter((f) => parseInt(f.permissions, 8) & 0o100).map((f) => f.path),
        ];
        assert.deepEqual(verifyUnits(units, executables), { status: 0, output: "" }, "systemd-analyze verify");
    });

    it("ships the data script and unit only to a host with a data volume", function () {
        const stateless = fixtureHost(seedContainers.filter((c) => !(c.volumes ?? []).some((v) => v.source.kind === "data")));
        assert.equal(stateless.dataVolume, undefined);
        assert.ok(!stateless.oneshots.some((u) => u.name === DATA_UNIT));
        assert.ok(!stateless.files.some((f) => f.path === DATA_SCRIPT));
        const host = fixtureHost(seedContainers);
        assert.deepEqual(host.dataVolume, { volumeId: FIXTURE_VOLUME_ID });
        assert.ok(host.files.some((f) => f.path === DATA_SCRIPT));
    });
});

describe("data volume: which containers are stateful", function () {
    const stateless: ContainerUnit = { kind: "container", name: "web", image: { kind: "registry", ref: "nginx:1.25" } };
    const withData: ContainerUnit = {
        ...stateless,
        name: "db",
        volumes: [{ source: { kind: "data", path: "db" }, target: "/var/lib/db" }],
    };

    it("one container with a data mount among stateless ones is enough for the stack to need its volume", function () {
        assert.equal(usesDataVolume([stateless, withData, { ...stateless, name: "web2" }]), true);
        assert.equal(usesDataVolume([stateless]), false);
        assert.equal(usesDataVolume([]), false);
    });

    it("a volume without a source (not yet validated) counts as no data mount instead of crashing the plan", function () {
        const broken = { ...stateless, volumes: [{ target: "/x" }, undefined] } as unknown as ContainerUnit;
        assert.equal(usesDataVolume([broken]), false);
    });
});
