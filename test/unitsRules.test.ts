// Rules of the pure unit modules that the other in-process tests leave open (mutation testing's
// survivors in units/systemd.ts, dataVolume.ts, exposure.ts, render.ts, ceilings.ts, values.ts,
// quote.ts): exact unit text where the text is the contract, start order, sort order, boundaries.
import { strict as assert } from "node:assert";
import { MAX_CONTAINERS_PER_NETWORK, hostCeilingProblems } from "../units/ceilings";
import { DATA_WAIT_SECONDS, dataMountUnit, dataVolumeUnit } from "../units/dataVolume";
import { publishedPorts } from "../units/exposure";
import { DATA_SCRIPT, containerUnitName } from "../units/layout";
import { ContainerUnit, HostDefinition, OneShotUnit } from "../units/model";
import { textValue } from "../units/quote";
import { orderedUnits } from "../units/render";
import { RenderedUnit, ensureImageArgv, renderContainerUnit, renderOneShotUnit } from "../units/systemd";
import { isPlainObject } from "../units/values";
import { FIXTURE_VOLUME_ID, testContainer as container } from "./helpers/fixtures";
import { verifyUnits } from "./helpers/systemd";

const host = (containers: readonly ContainerUnit[]): HostDefinition => ({ containers, oneshots: [], files: [], sshAuthorizedKeys: [] });

/** The `docker run` line of a container unit, continuation lines joined (one flag group per line). */
function dockerRunGroups(unit: RenderedUnit): string[] {
    const lines = unit.content.split("\n");
    const start = lines.findIndex((l) => l.startsWith("ExecStart="));
    const groups: string[] = [];
    for (let i = start; i < lines.length; i++) {
        const line = lines[i]!;
        groups.push(line.replace(/ \\$/, "").trim());
        if (!line.endsWith("\\")) break;
    }
    return groups;
}

describe("unit rules (units/, in-process)", function () {
    this.timeout(30_000);

    describe("container units (units/systemd.ts)", function () {
        let full: RenderedUnit;
        let plain: RenderedUnit;
        before(function () {
            full = renderContainerUnit(
                container("app", {
                    // Declared out of order: the unit lists them sorted by name.
                    env: { ZETA: "z", MID: "m", ALPHA: "a", BETA: "b", lower: "l" },
                    secretEnv: { DB_PASSWORD: "db-password" },
                    secretFiles: [
                        { secret: "tls-key", target: "/run/secrets/tls.key" },
                        { secret: "tls-cert", target: "/run/secrets/tls.crt" },
                    ],
                    volumes: [
                        { source: { kind: "artifact", path: "conf/app.conf" }, target: "/etc/app.conf", readOnly: true },
                        { source: { kind: "data", path: "app" }, target: "/var/lib/app" },
                        { source: { kind: "host", path: "/var/log" }, target: "/host/log" },
                    ],
                }),
            );
            plain = renderContainerUnit(container("web"));
        });

        it("renders every kind of mount, env sorted by name, and secrets only as files: exact text", function () {
            assert.equal(
                full.content,
                [
                    "[Unit]",
                    "Description=Container app",
                    "Requires=docker.service coreos-containers-network.service provision.service coreos-containers-secrets.service image-app.service",
                    "RequiresMountsFor=/var/lib/containerdata",
                    "After=docker.service coreos-containers-network.service provision.service coreos-containers-secrets.service image-app.service",
                    "StartLimitIntervalSec=300",
                    "",
                    "[Service]",
                    "TimeoutStartSec=900",
                    "Restart=always",
                    "RestartSec=5",
                    "ExecStartPre=/usr/bin/install -d -o 0 -g 0 /var/lib/containerdata/app",
                    "ExecStartPre=-/usr/bin/docker rm -f app",
                    "ExecStartPre=/opt/coreos-containers/bin/ensure-image pull nginx:1.27",
                    "ExecStart=/usr/bin/docker run --rm --name app \\",
                    "  --network coreos-containers \\",
                    "  -v /var/lib/coreos-containers/artifact/current/conf/app.conf:/etc/app.conf:ro \\",
                    "  -v /var/lib/containerdata/app:/var/lib/app \\",
                    "  -v /var/log:/host/log \\",
                    "  -e ALPHA=a \\",
                    "  -e BETA=b \\",
                    "  -e MID=m \\",
                    "  -e ZETA=z \\",
                    "  -e lower=l \\",
                    "  --env-file /run/coreos-containers/secrets/app.env \\",
                    "  -v /run/coreos-containers/secrets/app/0-tls-key:/run/secrets/tls.key:ro \\",
                    "  -v /run/coreos-containers/secrets/app/1-tls-cert:/run/secrets/tls.crt:ro \\",
                    "  nginx:1.27",
                    "ExecStop=/usr/bin/docker stop -t 2 app",
                    "TimeoutStopSec=17",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
        });

        it("a container without secrets neither requires the secrets unit nor reads an env file", function () {
            assert.doesNotMatch(plain.content, /coreos-containers-secrets\.service/);
            assert.doesNotMatch(plain.content, /--env-file|\/run\/coreos-containers\/secrets/);
        });

        it("a container with only a secret file still requires the secrets unit, and gets no env file", function () {
            const unit = renderContainerUnit(container("tls", { secretFiles: [{ secret: "tls-key", target: "/k" }] }));
            assert.match(unit.content, /^Requires=.* coreos-containers-secrets\.service /m);
            assert.doesNotMatch(unit.content, /--env-file/);
            assert.ok(dockerRunGroups(unit).includes("-v /run/coreos-containers/secrets/tls/0-tls-key:/k:ro"));
        });

        it("an extra argument joins the flag before it only when that flag stands alone: never another value, never a flag", function () {
            const unit = renderContainerUnit(
                container("x", { extraArgs: ["--privileged", "--cap-add", "NET_ADMIN", "--label", "a=b-", "first", "second", "--init"] }),
            );
            assert.deepEqual(dockerRunGroups(unit).slice(2), [
                "--privileged",
                "--cap-add NET_ADMIN",
                "--label a=b-",
                "first",
                "second",
                "--init",
                "nginx:1.27",
            ]);
        });

        it("an unknown image kind is refused with the kind named", function () {
            const bad = container("x", { image: { kind: "oci", ref: "r" } as unknown as ContainerUnit["image"] });
            assert.throws(() => ensureImageArgv(bad), /unknown image kind \{"kind":"oci","ref":"r"\}/);
        });
    });

    describe("one-shot units (units/systemd.ts)", function () {
        it("a one-shot with neither wants nor requires has no Wants=, Requires= or After= line", function () {
            const unit = renderOneShotUnit({ kind: "oneshot", name: "x.service", description: "X", exec: [["/bin/true"]] });
            assert.equal(
                unit.content,
                [
                    "[Unit]",
                    "Description=X",
                    "",
                    "[Service]",
                    "Type=oneshot",
                    "RemainAfterExit=yes",
                    "ExecStart=/bin/true",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
        });

        it("several wants are listed space-separated, and only wants (no Requires=) order the unit", function () {
            const unit = renderOneShotUnit({
                kind: "oneshot",
                name: "x.service",
                description: "X",
                wants: ["a.service", "b.service"],
                exec: [["/bin/true"]],
            });
            const head = unit.content.split("\n").slice(0, 4);
            assert.deepEqual(head, ["[Unit]", "Description=X", "Wants=a.service b.service", "After=a.service b.service"]);
        });
    });

    describe("data volume units (units/dataVolume.ts)", function () {
        it("the data unit waits for the network, gets the volume in its environment and an hour plus ten minutes to start: exact text", function () {
            const unit: OneShotUnit = dataVolumeUnit(FIXTURE_VOLUME_ID, "eu-west-1");
            assert.equal(unit.timeoutStartSec, DATA_WAIT_SECONDS + 600);
            assert.equal(
                renderOneShotUnit(unit).content,
                [
                    "[Unit]",
                    `Description=Attach the data volume ${FIXTURE_VOLUME_ID}`,
                    "Wants=network-online.target",
                    "After=network-online.target",
                    "",
                    "[Service]",
                    "Type=oneshot",
                    "RemainAfterExit=yes",
                    "TimeoutStartSec=4200",
                    "Environment=DATA_LABEL=containerdata",
                    "Environment=DATA_LINK=/run/coreos-containers/data-disk",
                    "Environment=DATA_MAX_SECONDS=3600",
                    "Environment=DATA_REGION=eu-west-1",
                    "Environment=DATA_STATUS=/run/coreos-containers/data-volume.json",
                    `Environment=DATA_VOLUME_ID=${FIXTURE_VOLUME_ID}`,
                    "ExecStart=/opt/coreos-containers/bin/data-volume",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
        });

        it("the mount unit mounts the linked disk at the data folder with noatime, after the data unit: exact text, and systemd verifies it", function () {
            const unit = dataMountUnit(FIXTURE_VOLUME_ID);
            assert.equal(
                unit.content,
                [
                    "[Unit]",
                    `Description=The data volume ${FIXTURE_VOLUME_ID} at /var/lib/containerdata`,
                    "DefaultDependencies=no",
                    "Requires=coreos-containers-data.service",
                    "After=coreos-containers-data.service",
                    "Conflicts=umount.target",
                    "Before=umount.target",
                    "",
                    "[Mount]",
                    "What=/run/coreos-containers/data-disk",
                    "Where=/var/lib/containerdata",
                    "Options=noatime",
                    "",
                    "[Install]",
                    "WantedBy=multi-user.target",
                    "",
                ].join("\n"),
            );
            assert.deepEqual(verifyUnits([unit, renderOneShotUnit(dataVolumeUnit(FIXTURE_VOLUME_ID, "eu-west-1"))], [DATA_SCRIPT]), {
                status: 0,
                output: "",
            });
        });
    });

    describe("start order (units/render.ts)", function () {
        it("a dependency on a container the host does not run does not hold a container back", function () {
            const order = orderedUnits(host([container("a", { dependsOn: [container("elsewhere")] }), container("b")])).map((u) => u.name);
            assert.ok(order.indexOf(containerUnitName("a")) < order.indexOf(containerUnitName("b")), order.join(" "));
        });

        it("a container that names itself as a dependency keeps its declared place", function () {
            const order = orderedUnits(host([container("a", { dependsOn: [container("a")] }), container("b")])).map((u) => u.name);
            assert.ok(order.indexOf(containerUnitName("a")) < order.indexOf(containerUnitName("b")), order.join(" "));
        });
    });

    describe("published ports (units/exposure.ts)", function () {
        it("one port on both protocols is listed tcp before udp, whatever the declaration order", function () {
            const ports = publishedPorts([
                container("dns", {
                    ports: [
                        { host: 53, container: 53, protocol: "udp", expose: "internet" },
                        { host: 53, container: 53, protocol: "tcp", expose: "internet" },
                    ],
                }),
            ]);
            assert.deepEqual(
                ports.map((p) => `${p.port}/${p.protocol}`),
                ["53/tcp", "53/udp"],
            );
        });
    });

    describe("ceilings (units/ceilings.ts)", function () {
        it(`${MAX_CONTAINERS_PER_NETWORK} containers on one network are allowed, one more is HOST_TOO_MANY_CONTAINERS`, function () {
            const many = (n: number) => host(Array.from({ length: n }, (_, i) => container(`c${i}`)));
            assert.deepEqual(hostCeilingProblems(many(MAX_CONTAINERS_PER_NETWORK)), []);
            assert.deepEqual(
                hostCeilingProblems(many(MAX_CONTAINERS_PER_NETWORK + 1)).map((p) => [p.code, p.where, p.field]),
                [["HOST_TOO_MANY_CONTAINERS", "host", "containers"]],
            );
        });
    });

    describe("values and quoting (units/values.ts, units/quote.ts)", function () {
        it("null is not a plain object (YAML's `key:` with no value)", function () {
            assert.equal(isPlainObject(null), false);
            assert.equal(isPlainObject({}), true);
            assert.equal(isPlainObject([]), false);
        });

        it("a free-text value turns a lone surrogate into U+FFFD, the replacement character", function () {
            assert.equal(textValue("a\uD800b"), "a\uFFFDb");
            assert.equal(textValue("a\uDC00"), "a\uFFFD");
        });
    });
});
