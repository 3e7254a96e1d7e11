// Rendering of units (units/systemd.ts): exact text for small cases, the rules every container unit
// of the default host must follow (read back through systemd 252's own parser), systemd-analyze
// verify with no output at all, and byte-stable output.
import { strict as assert } from "node:assert";
import { ContainerUnit, HostDefinition, OneShotUnit } from "../units/model";
import { DATA_DIR, ENSURE_IMAGE, HOST_TARGET, WAIT_DEPENDENCIES, WAIT_HEALTHY, imageUnitName } from "../units/layout";
import { dataSources } from "../units/dataVolume";
import { healthSettings, healthWaitSec } from "../units/health";
import {
    CONTAINER_TIMEOUT_START_SEC,
    INSTALL,
    RenderedUnit,
    START_LIMIT_INTERVAL_SEC,
    imageUnit,
    renderContainerUnit,
    renderOneShotUnit,
} from "../units/systemd";
import {
    ARTIFACT_CURRENT,
    ARTIFACT_IMAGES_DIR,
    DOCKER,
    NETWORK_NAME,
    NETWORK_UNIT,
    PROVISION_UNIT,
    containerUnitName,
} from "../units/layout";
import { buildHost } from "../units/host";
import { FIXTURE_VOLUME_ID, HOST_SCRIPTS, seedContainers } from "./helpers/fixtures";
import { orderedUnits } from "../units/render";
import { Dump, DumpedUnit, dumpUnits, verifyUnits } from "./helpers/systemd";

const HEX = "0123456789abcdef".repeat(4);
const HOST_INPUT = {
    containers: seedContainers,
    artifact: { bucket: "b", key: `artifacts/${HEX}.tar.gz`, sha256: HEX, region: "eu-west-1" },
    sshAuthorizedKeys: [],
    scripts: HOST_SCRIPTS,
    dataVolume: { volumeId: FIXTURE_VOLUME_ID },
} as const;

const db: ContainerUnit = { kind: "container", name: "db", image: { kind: "registry", ref: "postgres:16.4" } };

const web: ContainerUnit = {
    kind: "container",
    name: "web",
    description: "Web front, 100% static",
    image: { kind: "registry", ref: "nginx:1.27.2-alpine" },
    ports: [{ host: 8080, container: 80 }],
    volumes: [{ source: { kind: "artifact", path: "web/site" }, target: "/usr/share/nginx/html", readOnly: true }],
    env: { TZ: "UTC", GREETING: "hello $USER" },
    dependsOn: [db],
    // Quotes, a backslash, $ and % must reach /bin/sh -c unchanged.
    healthCheck: { command: `wget -qO- http://127.0.0.1/ | grep -q "100% \\$HOSTNAME"`, startPeriodSec: 20, retries: 2 },
};

const shipper: ContainerUnit = {
    kind: "container",
    name: "shipper",
    image: { kind: "tarball", file: "shipper.tar", ref: "coreos-containers/shipper:1.17.1" },
    ports: [{ host: 24224, container: 24224, protocol: "udp" }],
    restart: "on-failure",
    restartSec: 10,
    stopTimeoutSec: 30,
    extraArgs: ["--log-driver", "none", "--read-only"],
    command: ["shipper", "-c", "/etc/shipper.conf"],
};

const fetcher: OneShotUnit = {
    kind: "oneshot",
    name: "fetch.service",
    description: "Fetch the artifact",
    wants: ["network-online.target"],
    requires: ["docker.service"],
    environment: { B_KEY: "artifacts/x y.tar.gz", A_BUCKET: "bucket-1" },
    exec: [
        ["/opt/coreos-containers/bin/fetch", "--verbose"],
        ["/bin/sh", "-c", "echo 100% > /dev/null"],
    ],
    timeoutStartSec: 600,
};

/** systemd's display of a time span below an hour (format_timespan): 5 → "5s", 900 → "15min". */
function timespan(seconds: number): string {
    assert.ok(seconds > 0 && seconds < 3600 && Number.isInteger(seconds), `timespan(${seconds})`);
    const minutes = Math.floor(seconds / 60);
    return [minutes ? `${minutes}min` : "", seconds % 60 ? `${seconds % 60}s` : ""].filter((s) => s).join(" ");
}

/** Seconds in systemd's display of a time span (format_timespan): "1min 30s" → 90; "infinity" → Infinity. */
function spanSeconds(text: string): number {
    if (text === "infinity") return Infinity;
    const unit: Record<string, number> = { d: 86400, h: 3600, min: 60, s: 1, ms: 0.001, us: 0.000001 };
    const parts = text.split(" ").map((p) => /^(\d+)(d|h|min|s|ms|us)$/.exec(p));
    assert.ok(text !== "" && parts.every((m) => m), `not a time span: ${JSON.stringify(text)}`);
    return parts.reduce((sum, m) => sum + Number(m![1]) * unit[m![2]!]!, 0);
}

/** The unit names a `Key=` line of our (single-line) dependency directives lists. */
function directive(unit: RenderedUnit, key: string): string[] {
    const lines = unit.content.split("\n").filter((l) => l.startsWith(`${key}=`));
    return lines.flatMap((l) =>
        l
            .slice(key.length + 1)
            .split(" ")
            .filter((w) => w),
    );
}

/** Units systemd recorded under a dependency property from the unit file itself. */
function fromFile(unit: DumpedUnit, property: string): string[] {
    return (unit.properties.get(property) ?? []).filter((v) => / \(.*origin-file.*\)$/.test(v)).map((v) => v.split(" ")[0]!);
}

function argvOf(unit: DumpedUnit, kind: string): string[][] {
    return (unit.commands.get(kind) ?? []).map((c) => [...c.argv]);
}

/** Executables a Flatcar host of ours has: Docker, a shell, and the scripts cloud-config writes. */
function hostExecutables(host: HostDefinition): string[] {
    // install(1): coreutils, in Flatcar's /usr.
    return [DOCKER, "/bin/sh", INSTALL, ...host.files.filter((f) => parseInt(f.permissions, 8) & 0o100).map((f) => f.path)];
}

describe("systemd units (units/systemd.ts)", () => {
    describe("exact text", () => {
        it("a registry container with a port, an artifact volume, env and a dependency", () => {
            assert.equal(
                renderContainerUnit(web).content,
                [
                    "[Unit]",
                    "Description=Web front, 100%% static",
                    "Requires=docker.service coreos-containers-network.service provision.service image-web.service",
                    "Wants=docker-db.service",
                    "After=docker.service coreos-containers-network.service provision.service image-web.service docker-db.service",
                    "StartLimitIntervalSec=300",
                    "",
                    "[Service]",
                    // 900 s for a pull, plus the wait: 20 + 2 × (10 + 5) + 30.
                    "TimeoutStartSec=980",
                    "Restart=always",
                    "RestartSec=5",
                    "ExecStartPre=/opt/coreos-containers/bin/wait-dependencies docker-db.service",
                    "ExecStartPre=-/usr/bin/docker rm -f web",
                    "ExecStartPre=/opt/coreos-containers/bin/ensure-image pull nginx:1.27.2-alpine",
                    "ExecStart=/usr/bin/docker run --rm --name web \\",
                    "  --network coreos-containers \\",
                    "  -p 8080:80/tcp \\",
                    "  -v /var/lib/coreos-containers/artifact/current/web/site:/usr/share/nginx/html:ro \\",
                    '  -e "GREETING=hello $$USER" \\',
                    "  -e TZ=UTC \\",
                    '  --health-cmd "wget -qO- http://127.0.0.1/ | grep -q \\"100%% \\\\$$HOSTNAME\\"" \\',
                    "  --health-interval 10s \\",
                    "  --health-timeout 5s \\",
                    "  --health-retries 2 \\",
                    "  --health-start-period 20s \\",
                    "  --health-start-interval 2s \\",
                    "  nginx:1.27.2-alpine",
                    "ExecStartPost=/opt/coreos-containers/bin/wait-healthy web 80",
                    "ExecStop=/usr/bin/docker stop -t 2 web",
                    "TimeoutStopSec=17",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
            assert.equal(renderContainerUnit(web).name, "docker-web.service");
        });

        it("a tarball container with restart settings, extra arguments and a command", () => {
            assert.equal(
                renderContainerUnit(shipper).content,
                [
                    "[Unit]",
                    "Description=Container shipper",
                    "Requires=docker.service coreos-containers-network.service provision.service image-shipper.service",
                    "After=docker.service coreos-containers-network.service provision.service image-shipper.service",
                    "StartLimitIntervalSec=300",
                    "",
                    "[Service]",
                    "TimeoutStartSec=900",
                    "Restart=on-failure",
                    "RestartSec=10",
                    "ExecStartPre=-/usr/bin/docker rm -f shipper",
                    "ExecStartPre=/opt/coreos-containers/bin/ensure-image load /var/lib/coreos-containers/artifact/current/images/shipper.tar coreos-containers/shipper:1.17.1",
                    "ExecStart=/usr/bin/docker run --rm --name shipper \\",
                    "  --network coreos-containers \\",
                    "  -p 24224:24224/udp \\",
                    "  --log-driver none \\",
                    "  --read-only \\",
                    "  coreos-containers/shipper:1.17.1 shipper -c /etc/shipper.conf",
                    "ExecStop=/usr/bin/docker stop -t 30 shipper",
                    "TimeoutStopSec=45",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
        });

        it("image units: after Docker (and provision for a tarball) and nothing else, running ensure-image", () => {
            assert.deepEqual(renderOneShotUnit(imageUnit(web)), {
                name: "image-web.service",
                content: [
                    "[Unit]",
                    "Description=Image of container web",
                    "Requires=docker.service",
                    "After=docker.service",
                    "",
                    "[Service]",
                    "Type=oneshot",
                    "RemainAfterExit=yes",
                    "TimeoutStartSec=900",
                    "ExecStart=/opt/coreos-containers/bin/ensure-image pull nginx:1.27.2-alpine",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            });
            const tarball = renderOneShotUnit(imageUnit(shipper)).content;
            assert.match(tarball, /^Requires=docker\.service provision\.service\nAfter=docker\.service provision\.service$/m);
            assert.match(
                tarball,
                /^ExecStart=\/opt\/coreos-containers\/bin\/ensure-image load \/var\/lib\/coreos-containers\/artifact\/current\/images\/shipper\.tar coreos-containers\/shipper:1\.17\.1$/m,
            );
        });

        it("a one-shot unit with wants, requires, sorted environment and two commands", () => {
            const unit = renderOneShotUnit(fetcher);
            assert.equal(unit.name, "fetch.service");
            assert.equal(
                unit.content,
                [
                    "[Unit]",
                    "Description=Fetch the artifact",
                    "Wants=network-online.target",
                    "Requires=docker.service",
                    "After=network-online.target docker.service",
                    "",
                    "[Service]",
                    "Type=oneshot",
                    "RemainAfterExit=yes",
                    "TimeoutStartSec=600",
                    "Environment=A_BUCKET=bucket-1",
                    'Environment="B_KEY=artifacts/x y.tar.gz"',
                    "ExecStart=/opt/coreos-containers/bin/fetch --verbose",
                    'ExecStart=/bin/sh -c "echo 100%% > /dev/null"',
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
        });
    });

    describe("every unit of the default host, as systemd 252 loads it", function () {
        this.timeout(60_000);
        // Built in the hook, not while mocha loads the file (mutation testing: see test/helpers/mutationHooks.ts).
        let host: HostDefinition;
        let units: RenderedUnit[];
        let byName: Map<string, RenderedUnit>;
        let dump: Dump;

        before(() => {
            host = buildHost(HOST_INPUT);
            units = orderedUnits(host);
            byName = new Map(units.map((u) => [u.name, u]));
            dump = dumpUnits(units);
        });

        it("renders two units per container (its image and itself), one per one-shot, the host target and the data disk's mount, and systemd loads each without a warning", () => {
            assert.equal(units.length, 2 * host.containers.length + host.oneshots.length + 1 + (host.dataVolume ? 1 : 0));
            assert.deepEqual(dump.warnings, []);
            for (const u of units) assert.deepEqual(dump.units.get(u.name)!.properties.get("Unit Load State"), ["loaded"], u.name);
        });

        it("the host target wants every other unit, so coreos-cloudinit's first start starts them all in one transaction", () => {
            const target = dump.units.get(HOST_TARGET)!;
            assert.equal(units[0]!.name, HOST_TARGET, "first in the user-data's list");
            assert.deepEqual(
                fromFile(target, "Wants").sort(),
                units
                    .slice(1)
                    .map((u) => u.name)
                    .sort(),
            );
            assert.deepEqual(directive(units[0]!, "WantedBy"), ["multi-user.target"]);
        });

        it("every command runs an absolute path the host has (also those verify skips)", () => {
            const known = new Set(hostExecutables(host));
            for (const u of units) {
                for (const [kind, list] of dump.units.get(u.name)!.commands) {
                    for (const c of list) {
                        assert.ok(c.argv[0]!.startsWith("/"), `${u.name} ${kind}: ${c.display}`);
                        assert.ok(known.has(c.argv[0]!), `${u.name} ${kind} runs ${c.argv[0]}, which the host does not have`);
                    }
                }
            }
        });

        for (const c of seedContainers) {
            describe(containerUnitName(c.name), () => {
                const name = containerUnitName(c.name);
                const unit = () => dump.units.get(name)!;

                const deps = (c.dependsOn ?? []).map((d) => containerUnitName(d.name));
                const ensure =
                    c.image.kind === "tarball"
                        ? [ENSURE_IMAGE, "load", `${ARTIFACT_CURRENT}/${ARTIFACT_IMAGES_DIR}/${c.image.file}`, c.image.ref]
                        : [ENSURE_IMAGE, "pull", c.image.ref];

                it("first waits for its dependencies to be active and healthy, creates its data folders with their owners, then removes a leftover container, ignoring failure (ExecStartPre=-)", () => {
                    const pre = argvOf(unit(), "ExecStartPre");
                    if (deps.length) assert.deepEqual(pre[0], [WAIT_DEPENDENCIES, ...deps]);
                    const folders = dataSources(c).map((d) => [
                        INSTALL,
                        "-d",
                        "-o",
                        String(d.owner?.uid ?? 0),
                        "-g",
                        String(d.owner?.gid ?? 0),
                        `${DATA_DIR}/${d.path}`,
                    ]);
                    const first = deps.length ? 1 : 0;
                    assert.deepEqual(pre.slice(first, first + folders.length), folders);
                    assert.deepEqual(pre[first + folders.length], [DOCKER, "rm", "-f", c.name]);
                    assert.ok(byName.get(name)!.content.includes(`\nExecStartPre=-${DOCKER} rm -f ${c.name}\n`));
                });

                it("then pulls or loads its image only through ensure-image (a no-op: its image unit fetched it)", () => {
                    assert.deepEqual(argvOf(unit(), "ExecStartPre").slice(-2), [[DOCKER, "rm", "-f", c.name], ensure]);
                    const image = dump.units.get(imageUnitName(c.name))!;
                    assert.deepEqual(argvOf(image, "ExecStart"), [ensure]);
                });

                it("its image unit is a one-shot ordered after Docker (and provision for a tarball) only, so images are fetched in parallel", () => {
                    const image = dump.units.get(imageUnitName(c.name))!;
                    assert.deepEqual(image.properties.get("Type"), ["oneshot"]);
                    assert.deepEqual(image.properties.get("RemainAfterExit"), ["yes"]);
                    const expected = ["docker.service", ...(c.image.kind === "tarball" ? [PROVISION_UNIT] : [])];
                    const ours = (property: string) =>
                        fromFile(image, property).filter((u) => !["system.slice", "systemd-journald.socket"].includes(u));
                    assert.deepEqual(ours("After").sort(), expected.sort());
                    assert.deepEqual(ours("Requires").sort(), expected.sort());
                    assert.deepEqual(image.properties.get("TimeoutStartSec"), [timespan(CONTAINER_TIMEOUT_START_SEC)]);
                });

                it("has a health check: docker run gets the --health-* flags, and ExecStartPost= waits for healthy within its budget", () => {
                    assert.ok(c.healthCheck, "every container of the default host has a health check");
                    const argv = argvOf(unit(), "ExecStart")[0]!;
                    const flags = argv.slice(0, argv.lastIndexOf(c.image.ref));
                    const value = (flag: string) => {
                        assert.equal(flags.filter((w) => w === flag).length, 1, `one ${flag}`);
                        return flags[flags.indexOf(flag) + 1];
                    };
                    const h = healthSettings(c.healthCheck);
                    assert.equal(value("--health-cmd"), c.healthCheck.command, "the command reaches docker as one word, unchanged");
                    assert.equal(value("--health-interval"), `${h.intervalSec}s`);
                    assert.equal(value("--health-timeout"), `${h.timeoutSec}s`);
                    assert.equal(value("--health-retries"), String(h.retries));
                    assert.equal(value("--health-start-period"), `${h.startPeriodSec}s`);
                    assert.equal(value("--health-start-interval"), `${h.startIntervalSec}s`);
                    assert.deepEqual(argvOf(unit(), "ExecStartPost"), [[WAIT_HEALTHY, c.name, String(healthWaitSec(c.healthCheck))]]);
                });

                it("runs in the foreground: docker run --rm --name NAME, never detached, on the host's network", () => {
                    const starts = argvOf(unit(), "ExecStart");
                    assert.equal(starts.length, 1);
                    const argv = starts[0]!;
                    assert.deepEqual(argv.slice(0, 5), [DOCKER, "run", "--rm", "--name", c.name]);
                    const imageAt = argv.lastIndexOf(c.image.ref);
                    assert.ok(imageAt > 0, "the image ref is a word");
                    assert.deepEqual(argv.slice(imageAt + 1), [...(c.command ?? [])], "the container's command follows the image");
                    const flags = argv.slice(0, imageAt);
                    for (const w of flags) assert.ok(!/^--detach(=|$)/.test(w) && !/^-[^-=]*d/.test(w), `detaching flag ${w}`);
                    const net = flags.indexOf("--network");
                    assert.ok(net > 0 && flags[net + 1] === NETWORK_NAME, "--network coreos-containers");
                });

                it("stops with docker stop -t N NAME", () => {
                    assert.deepEqual(argvOf(unit(), "ExecStop"), [[DOCKER, "stop", "-t", String(c.stopTimeoutSec ?? 2), c.name]]);
                });

                it("restarts always after RestartSec, gives up on a crash loop, and may take a pull plus its health wait to start", () => {
                    assert.deepEqual(unit().properties.get("Restart"), [c.restart ?? "always"]);
                    assert.deepEqual(unit().properties.get("RestartSec"), [timespan(c.restartSec ?? 5)]);
                    const wait = c.healthCheck ? healthWaitSec(c.healthCheck) : 0;
                    assert.deepEqual(unit().properties.get("TimeoutStartSec"), [timespan(CONTAINER_TIMEOUT_START_SEC + wait)]);
                    // systemd --test does not dump the start limit; a misspelt or misplaced key would be a load warning (checked above).
                    const text = byName.get(name)!.content;
                    assert.ok(text.indexOf("\nStartLimitIntervalSec=") < text.indexOf("\n[Service]"), "in [Unit]");
                    assert.deepEqual(directive(byName.get(name)!, "StartLimitIntervalSec"), [String(START_LIMIT_INTERVAL_SEC)]);
                });

                it("requires and comes after docker, the network unit, its image unit and provision when it reads the artifact; only wants its dependencies", () => {
                    const needsArtifact = c.image.kind === "tarball" || (c.volumes ?? []).some((v) => v.source.kind === "artifact");
                    const required = ["docker.service", NETWORK_UNIT, ...(needsArtifact ? [PROVISION_UNIT] : []), imageUnitName(c.name)];
                    const rendered = byName.get(name)!;
                    assert.deepEqual(directive(rendered, "Requires").sort(), [...required].sort());
                    assert.deepEqual(directive(rendered, "Wants").sort(), [...deps].sort());
                    assert.deepEqual(directive(rendered, "After").sort(), [...required, ...deps].sort());
                    for (const unitName of required)
                        assert.ok(fromFile(unit(), "Requires").includes(unitName), `systemd has Requires=${unitName}`);
                    for (const dep of deps) {
                        assert.ok(fromFile(unit(), "Wants").includes(dep), `systemd has Wants=${dep}`);
                        assert.ok(
                            !fromFile(unit(), "Requires").includes(dep),
                            `systemd has no Requires=${dep}: its restart must not restart this unit`,
                        );
                    }
                    for (const unitName of [...required, ...deps])
                        assert.ok(fromFile(unit(), "After").includes(unitName), `systemd has After=${unitName}`);
                    assert.deepEqual(directive(rendered, "WantedBy"), ["multi-user.target"]);
                });
            });
        }

        it("every unit that runs docker stop -t N gives it longer than N before systemd kills it (TimeoutStopSec, as systemd reads it)", () => {
            let stops = 0;
            for (const [name, u] of dump.units) {
                for (const argv of argvOf(u, "ExecStop")) {
                    if (argv[0] !== DOCKER || argv[1] !== "stop") continue;
                    const t = argv.indexOf("-t");
                    assert.ok(t > 0, `${name}: docker stop without -t waits Docker's default`);
                    const grace = Number(argv[t + 1]);
                    const timeout = spanSeconds(u.properties.get("TimeoutStopSec")?.[0] ?? "");
                    assert.ok(timeout > grace, `${name}: TimeoutStopSec ${timeout} s is not longer than docker stop -t ${grace}`);
                    stops++;
                }
            }
            assert.equal(stops, seedContainers.length, "one docker stop per container");
        });

        it("one-shots are Type=oneshot, RemainAfterExit=yes", () => {
            for (const o of host.oneshots) {
                const u = dump.units.get(o.name)!;
                assert.deepEqual(u.properties.get("Type"), ["oneshot"], o.name);
                assert.deepEqual(u.properties.get("RemainAfterExit"), ["yes"], o.name);
                assert.deepEqual(
                    argvOf(u, "ExecStart"),
                    o.exec.map((a) => [...a]),
                    o.name,
                );
            }
        });
    });

    describe("systemd-analyze verify", function () {
        this.timeout(60_000);

        it("passes every unit of the default host with no output at all", () => {
            const host = buildHost(HOST_INPUT);
            assert.deepEqual(verifyUnits(orderedUnits(host), hostExecutables(host)), { status: 0, output: "" });
        });

        it("does report what it can see: a missing executable, a missing required unit, an unknown key (self-check)", () => {
            const broken: RenderedUnit = {
                name: "broken.service",
                content: "[Unit]\nDescription=broken\nRequires=not-there.service\n\n[Service]\nNoSuchKey=1\nExecStart=/usr/bin/not-there\n",
            };
            const result = verifyUnits([broken], [DOCKER]);
            assert.notEqual(result.status, 0);
            assert.match(result.output, /not-there\.service/);
            assert.match(result.output, /\/usr\/bin\/not-there/);
            assert.match(result.output, /NoSuchKey/);
        });
    });

    describe("byte-stable output", () => {
        it("rendering the default host twice gives identical bytes", () => {
            const first = orderedUnits(buildHost(HOST_INPUT));
            const second = orderedUnits(buildHost(structuredClone(HOST_INPUT)));
            assert.deepStrictEqual(second, first);
            assert.equal(second.map((u) => u.content).join("\0"), first.map((u) => u.content).join("\0"));
        });

        it("does not depend on the insertion order of env and environment maps", () => {
            const reversed = Object.fromEntries(Object.entries(web.env!).reverse());
            assert.notDeepEqual(Object.keys(reversed), Object.keys(web.env!));
            assert.equal(renderContainerUnit({ ...web, env: reversed }).content, renderContainerUnit(web).content);
            const env = Object.fromEntries(Object.entries(fetcher.environment!).reverse());
            assert.equal(renderOneShotUnit({ ...fetcher, environment: env }).content, renderOneShotUnit(fetcher).content);
        });
    });
});
