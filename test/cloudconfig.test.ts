// The cloud-config document: unit order, exact YAML round trips, stable bytes, the size limit (gzip when needed), a golden document.
import { usesData } from "../units/dataVolume";
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { Scalar, isMap, isScalar, isSeq, parseDocument } from "yaml";
import { ContainerUnit, HostDefinition, OneShotUnit } from "../units/model";
import { ValidationError } from "../units/problems";
import { RenderedUnit } from "../units/systemd";
import { USER_DATA_LIMIT, readUserData } from "../formats";
import { orderedUnits } from "../units/render";
import {
    cloudConfigObject,
    cloudConfigUserData,
    parseUserData,
    renderHost,
    roundTripProblems,
    serializeCloudConfig,
} from "../formats/cloudconfig";
import { buildHost } from "../units/host";
import { ArtifactLocation } from "../units/provision";
import { ALL_FILES_EXIST, FIXTURE_VOLUME_ID, HOST_SCRIPTS, seedContainers } from "./helpers/fixtures";

const ARTIFACT: ArtifactLocation = {
    bucket: "x".repeat(63),
    key: `artifacts/${"0".repeat(64)}.tar.gz`,
    sha256: "0".repeat(64),
    region: "eu-west-1",
};
const hostOf = (containers: readonly ContainerUnit[], sshAuthorizedKeys: string[] = []): HostDefinition =>
    buildHost({
        containers,
        artifact: ARTIFACT,
        sshAuthorizedKeys,
        scripts: HOST_SCRIPTS,
        ...(containers.some(usesData) ? { dataVolume: { volumeId: FIXTURE_VOLUME_ID } } : {}),
    });

const byName = (name: string) => seedContainers.find((c) => c.name === name)!;
const containerOrder = (host: HostDefinition) =>
    orderedUnits(host)
        .filter((u) => u.name.startsWith("docker-"))
        .map((u) => u.name.replace(/^docker-|\.service$/g, ""));

/** A deterministic shuffle (mulberry32), so a failing order can be reproduced. */
function shuffled<T>(items: readonly T[], seed: number): T[] {
    let a = seed >>> 0;
    const random = () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
}

/** Every string scalar under `content` keys, with its style, from the serialised document. */
function contentScalars(userData: string): { path: string; type: string | undefined; value: string }[] {
    const doc = parseDocument(userData, { version: "1.1" });
    const out: { path: string; type: string | undefined; value: string }[] = [];
    const walk = (node: unknown, path: string) => {
        if (isMap(node)) {
            for (const pair of node.items) {
                const key = isScalar(pair.key) ? String(pair.key.value) : "?";
                if (key === "content" && isScalar(pair.value))
                    out.push({ path: `${path}.content`, type: pair.value.type, value: String(pair.value.value) });
                else walk(pair.value, path ? `${path}.${key}` : key);
            }
        } else if (isSeq(node)) {
            node.items.forEach((item, i) => walk(item, `${path}[${i}]`));
        }
    };
    walk(doc.contents, "");
    return out;
}

describe("cloud-config rendering", () => {
    describe("unit order", () => {
        it("puts the host target first, then one-shots, the image units, containers after their dependencies, keeping declaration order, then the data disk and the one-shots that wait for them", () => {
            const names = orderedUnits(hostOf(seedContainers)).map((u) => u.name);
            assert.deepEqual(names, [
                "coreos-containers.target",
                "coreos-containers-network.service",
                "provision.service",
                "coreos-containers-ready.service",
                "image-elastic.service",
                "image-fluentd.service",
                "image-kibana.service",
                "image-node-exporter.service",
                "image-cadvisor.service",
                "image-alertmanager.service",
                "image-prometheus.service",
                "image-grafana.service",
                "image-nginx.service",
                "docker-elastic.service",
                "docker-fluentd.service",
                "docker-kibana.service",
                "docker-node-exporter.service",
                "docker-cadvisor.service",
                "docker-alertmanager.service",
                "docker-prometheus.service",
                "docker-grafana.service",
                "docker-nginx.service",
                // coreos-cloudinit's start of these waits for the data disk (maybe for the old host): after every container.
                "var-lib-containerdata.mount",
                "coreos-containers-data.service",
                "coreos-containers-report.service",
                // It reports again once the data disk has an outcome (the retire step waits for that).
                "coreos-containers-handover.service",
            ]);
        });

        it("orders a reversed declaration topologically, ties going to the container declared first", () => {
            const reversed = [...seedContainers].reverse();
            // Declared: nginx grafana prometheus alertmanager cadvisor node-exporter kibana fluentd elastic.
            assert.deepEqual(containerOrder(hostOf(reversed)), [
                "alertmanager",
                "cadvisor",
                "node-exporter",
                "prometheus",
                "grafana",
                "elastic",
                "kibana",
                "nginx",
                "fluentd",
            ]);
        });

        it("orders a shuffled declaration the same way", () => {
            const declared = [
                "grafana",
                "kibana",
                "fluentd",
                "nginx",
                "prometheus",
                "elastic",
                "cadvisor",
                "node-exporter",
                "alertmanager",
            ].map(byName);
            assert.deepEqual(containerOrder(hostOf(declared)), [
                "elastic",
                "kibana",
                "fluentd",
                "cadvisor",
                "node-exporter",
                "alertmanager",
                "prometheus",
                "grafana",
                "nginx",
            ]);
        });

        it("always yields a dependency order for any shuffle, with the host target and one-shots first (those that wait for the containers last) and stable output", () => {
            for (let seed = 1; seed <= 25; seed++) {
                const host = hostOf(shuffled(seedContainers, seed));
                const units = orderedUnits(host).map((u) => u.name);
                const early = host.oneshots.filter((u) => !u.startAfterContainers).map((u) => u.name);
                const late = host.oneshots.filter((u) => u.startAfterContainers).map((u) => u.name);
                assert.ok(late.length > 0);
                assert.deepEqual(
                    [units[0], ...units.slice(1, 1 + early.length), ...units.slice(units.length - late.length)],
                    ["coreos-containers.target", ...early, ...late],
                    `seed ${seed}`,
                );
                const position = new Map(units.map((n, i) => [n, i]));
                for (const c of host.containers) {
                    for (const d of c.dependsOn ?? []) {
                        assert.ok(
                            position.get(`docker-${d.name}.service`)! < position.get(`docker-${c.name}.service`)!,
                            `seed ${seed}: ${d.name} before ${c.name}`,
                        );
                    }
                }
                assert.deepEqual(orderedUnits(host), orderedUnits(host));
            }
        });

        it("compares dependencies by name, so copies made by config overrides order the same", () => {
            const copies = [...seedContainers].reverse().map((c) => ({ ...c }));
            assert.deepEqual(containerOrder(hostOf(copies)), containerOrder(hostOf([...seedContainers].reverse())));
        });

        it("terminates on a cycle (validation reports it), placing the rest in declaration order", () => {
            const a: ContainerUnit = {
                kind: "container",
                name: "a",
                image: { kind: "registry", ref: "a:1" },
                dependsOn: [{ kind: "container", name: "b", image: { kind: "registry", ref: "b:1" } }],
            };
            const b: ContainerUnit = { kind: "container", name: "b", image: { kind: "registry", ref: "b:1" }, dependsOn: [a] };
            assert.deepEqual(containerOrder(hostOf([a, b])), ["a", "b"]);
        });
    });

    describe("YAML round trip", () => {
        const NASTY: readonly string[] = [
            "plain\n",
            "  leading spaces on the first line\nthen none\n",
            "trailing spaces   \nand a trailing tab\t\n",
            "\ttab first\n\tand again\n",
            "# a comment-looking line\nkey: value\n- dash\n",
            "colon: space and a # hash\n",
            "no trailing newline",
            "two trailing newlines\n\n",
            "\n\nleading blank lines\n",
            "blank line with spaces\n   \nbetween\n",
            "   \n",
            " ",
            "",
            "\n",
            "---\ndocument marker\n...\n",
            "%YAML 1.1\n",
            "quotes \" and ' and \\ backslash\n",
            "systemd $VAR and %i and ${X}\n",
            "unicode é ✓ 🚀\n",
            "windows\r\nline endings\r\n",
            "0755",
            "yes",
            "off",
            "1:20",
            "~",
            "@at `backtick {brace} [bracket] *star &amp !bang |pipe >gt\n",
            "a very long line " + "x".repeat(500) + "\n",
        ];

        function roundTrip(content: string): { userData: string; parsed: Record<string, unknown> } {
            const host: HostDefinition = {
                containers: [],
                oneshots: [],
                files: [{ path: "/etc/x", permissions: "0644", content }],
                sshAuthorizedKeys: [],
            };
            const units: RenderedUnit[] = [{ name: "x.service", content }];
            const userData = serializeCloudConfig(cloudConfigObject(host, units));
            return { userData, parsed: parseUserData(userData) as Record<string, unknown> };
        }

        for (const content of NASTY) {
            it(`keeps ${JSON.stringify(content.length > 40 ? content.slice(0, 40) + "…" : content)} exactly, in a unit and in a file`, () => {
                const { userData, parsed } = roundTrip(content);
                const units = (parsed["coreos"] as { units: { content: string }[] }).units;
                const files = parsed["write_files"] as { content: string }[];
                assert.equal(units[0]!.content, content, userData);
                assert.equal(files[0]!.content, content, userData);
                assert.deepEqual(
                    roundTripProblems(
                        cloudConfigObject(
                            {
                                files: [{ path: "/etc/x", permissions: "0644", content }],
                                sshAuthorizedKeys: [],
                            },
                            [{ name: "x.service", content }],
                        ),
                        userData,
                    ),
                    [],
                );
            });
        }

        it("writes multi-line text as literal blocks, even with leading spaces, trailing spaces, tabs, # and ': '", () => {
            const literal = NASTY.filter((c) => c.includes("\n") && !c.includes("\r") && /\S/.test(c));
            for (const content of literal) {
                const scalars = contentScalars(roundTrip(content).userData);
                assert.deepEqual(
                    scalars.map((s) => s.type),
                    [Scalar.BLOCK_LITERAL, Scalar.BLOCK_LITERAL],
                    JSON.stringify(content),
                );
            }
        });

        it("keeps every unit and script of the default host as an exact literal block", () => {
            const host = hostOf(seedContainers, ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey ops@example"]);
            const { units, userData } = renderHost(host, ALL_FILES_EXIST);
            const scalars = contentScalars(userData);
            const expected = [...host.files.map((f) => f.content), ...units.map((u) => u.content)];
            assert.equal(scalars.length, expected.length);
            scalars.forEach((s, i) => {
                assert.equal(s.type, Scalar.BLOCK_LITERAL, s.path);
                assert.equal(s.value, expected[i], s.path);
            });
        });

        it("reports text that does not survive against its unit", () => {
            const units: RenderedUnit[] = [{ name: "a.service", content: "[Unit]\nDescription=A\n" }];
            const doc = cloudConfigObject({ files: [], sshAuthorizedKeys: [] }, units);
            const tampered = serializeCloudConfig(doc).replace("Description=A", "Description=B");
            assert.deepEqual(roundTripProblems(doc, tampered), [
                {
                    code: "USER_DATA_ROUND_TRIP",
                    where: "a.service",
                    field: "content",
                    message: 'does not survive the YAML round trip: differs from character 19: expected "A\\n", read back "B\\n"',
                    fix: "remove control or line-separator characters from the text, or report this as a renderer bug",
                },
            ]);
        });
    });

    describe("bytes", () => {
        it("renders twice to identical bytes", () => {
            const first = renderHost(hostOf(seedContainers), ALL_FILES_EXIST).userData;
            const second = renderHost(hostOf(seedContainers.map((c) => ({ ...c }))), ALL_FILES_EXIST).userData;
            assert.equal(second, first);
        });

        it("starts with the #cloud-config header and ends with one newline", () => {
            const { userData } = renderHost(hostOf(seedContainers), ALL_FILES_EXIST);
            assert.ok(userData.startsWith("#cloud-config\n"));
            assert.match(userData, /[^\n]\n$/);
        });

        it("sends a document over EC2's 16,384 bytes gzip'd through userDataBase64, which gunzips to the very document", () => {
            const base = hostOf(seedContainers);
            const big: HostDefinition = {
                ...base,
                files: [...base.files, { path: "/etc/big.txt", permissions: "0644", content: "y".repeat(10000) + "\n" }],
            };
            const document = serializeCloudConfig(cloudConfigObject(big, orderedUnits(big)));
            assert.ok(Buffer.byteLength(document) > USER_DATA_LIMIT, `the fixture must be over the limit (${Buffer.byteLength(document)})`);
            const { userData, received } = renderHost(big, ALL_FILES_EXIST);
            assert.equal(userData, document);
            assert.equal(received.encoding, "base64");
            assert.ok(received.bytes.length <= USER_DATA_LIMIT, `${received.bytes.length} bytes gzip'd`);
            assert.equal(gunzipSync(received.bytes).toString("utf8"), document);
        });

        it("keeps a document that fits as plain text, so existing stacks keep their user-data", () => {
            // A host's scripts alone no longer fit as text; a small document (one unit, no files) does.
            const units = orderedUnits(hostOf([byName("node-exporter")])).slice(-1);
            const received = cloudConfigUserData({ units, files: [], sshAuthorizedKeys: [] });
            assert.ok(received.bytes.length <= USER_DATA_LIMIT);
            assert.equal(received.encoding, "text");
            assert.match(received.bytes.toString("utf8"), /^#cloud-config\n/);
            assert.equal(readUserData(received.bytes).delivery.kind, "inline");
        });

        it("fails a host whose gzip'd user-data is still over the limit, with both sizes and the switch to ignition", () => {
            const base = hostOf(seedContainers);
            // Text gzip cannot shrink much: base64 of a SHA-256 chain.
            let block = Buffer.alloc(0);
            for (let h = Buffer.from("seed"); block.length < 24000;) {
                h = createHash("sha256").update(h).digest();
                block = Buffer.concat([block, h]);
            }
            const big: HostDefinition = {
                ...base,
                files: [...base.files, { path: "/etc/big.txt", permissions: "0644", content: block.toString("base64") + "\n" }],
            };
            assert.throws(
                () => renderHost(big, ALL_FILES_EXIST),
                (e: unknown) => {
                    assert.ok(e instanceof ValidationError);
                    assert.deepEqual(
                        e.problems.map((p) => [p.code, p.where, p.field]),
                        [["USER_DATA_TOO_LARGE_COMPRESSED", "user-data", "size"]],
                    );
                    assert.match(
                        e.problems[0]!.message,
                        /^the cloud-config is \d+ bytes, and \d+ bytes gzip'd, still over EC2's limit of 16384 bytes \(by \d+\)$/,
                    );
                    assert.match(e.problems[0]!.fix, /userDataFormat to ignition/);
                    return true;
                },
            );
        });

        it("accepts the default host, whose document (health checks, image units) is over the limit and fits gzip'd", () => {
            const { userData, received } = renderHost(hostOf(seedContainers), ALL_FILES_EXIST);
            assert.ok(Buffer.byteLength(userData) > USER_DATA_LIMIT, `${Buffer.byteLength(userData)} bytes`);
            assert.equal(received.encoding, "base64");
            assert.ok(received.bytes.length <= USER_DATA_LIMIT, `${received.bytes.length} bytes gzip'd`);
        });
    });

    describe("golden document", () => {
        const network: OneShotUnit = {
            kind: "oneshot",
            name: "coreos-containers-network.service",
            description: "Network",
            requires: ["docker.service"],
            exec: [["/usr/bin/docker", "network", "create", "coreos-containers"]],
        };
        const web: ContainerUnit = {
            kind: "container",
            name: "web",
            description: "Web server",
            image: { kind: "registry", ref: "nginx:1.27.2-alpine" },
            ports: [{ host: 8080, container: 80 }],
            env: { GREETING: "hello world" },
        };
        const tiny: HostDefinition = {
            containers: [web],
            oneshots: [network],
            files: [{ path: "/etc/motd.d/hello.conf", permissions: "0644", content: "  indented # not a comment\nkey: value\t\n" }],
            sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey ops@example"],
        };

        it("renders a tiny host to exactly this document", () => {
            const expected = [
                "#cloud-config",
                "ssh_authorized_keys:",
                "- ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIExampleKey ops@example",
                "write_files:",
                "- path: /etc/motd.d/hello.conf",
                '  permissions: "0644"',
                "  owner: root:root",
                "  content: |2",
                "      indented # not a comment",
                "    key: value\t",
                "coreos:",
                "  units:",
                "  - name: coreos-containers.target",
                "    command: start",
                "    enable: true",
                "    content: |",
                "      [Unit]",
                "      Description=Everything this host runs, started together",
                "      Wants=coreos-containers-network.service",
                "      Wants=image-web.service",
                "      Wants=docker-web.service",
                "",
                "      [Install]",
                "      WantedBy=multi-user.target",
                "  - name: coreos-containers-network.service",
                "    command: start",
                "    enable: true",
                "    content: |",
                "      [Unit]",
                "      Description=Network",
                "      Requires=docker.service",
                "      After=docker.service",
                "",
                "      [Service]",
                "      Type=oneshot",
                "      RemainAfterExit=yes",
                "      ExecStart=/usr/bin/docker network create coreos-containers",
                "",
                "      [Install]",
                "      WantedBy=multi-user.target",
                "  - name: image-web.service",
                "    command: start",
                "    enable: true",
                "    content: |",
                "      [Unit]",
                "      Description=Image of container web",
                "      Requires=docker.service",
                "      After=docker.service",
                "",
                "      [Service]",
                "      Type=oneshot",
                "      RemainAfterExit=yes",
                "      TimeoutStartSec=900",
                "      ExecStart=/opt/coreos-containers/bin/ensure-image pull nginx:1.27.2-alpine",
                "",
                "      [Install]",
                "      WantedBy=multi-user.target",
                "  - name: docker-web.service",
                "    command: start",
                "    enable: true",
                "    content: |",
                "      [Unit]",
                "      Description=Web server",
                "      Requires=docker.service coreos-containers-network.service image-web.service",
                "      After=docker.service coreos-containers-network.service image-web.service",
                "      StartLimitIntervalSec=300",
                "",
                "      [Service]",
                "      TimeoutStartSec=900",
                "      Restart=always",
                "      RestartSec=5",
                "      ExecStartPre=-/usr/bin/docker rm -f web",
                "      ExecStartPre=/opt/coreos-containers/bin/ensure-image pull nginx:1.27.2-alpine",
                "      ExecStart=/usr/bin/docker run --rm --name web \\",
                "        --network coreos-containers \\",
                "        -p 8080:80/tcp \\",
                '        -e "GREETING=hello world" \\',
                "        nginx:1.27.2-alpine",
                "      ExecStop=/usr/bin/docker stop -t 2 web",
                "      TimeoutStopSec=17",
                "",
                "      [Install]",
                "      WantedBy=multi-user.target",
                "",
            ].join("\n");
            assert.equal(renderHost(tiny, ALL_FILES_EXIST).userData, expected);
        });
    });
});
