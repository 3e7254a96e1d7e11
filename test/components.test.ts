// The pure decisions inside the components (no Pulumi runtime needed).
import { strict as assert } from "node:assert";
import { architectureFor, artifactKey, publishedPorts } from "../components";
import { ContainerUnit } from "../units/model";

const container = (name: string, ports: ContainerUnit["ports"]): ContainerUnit => ({
    kind: "container",
    name,
    image: { kind: "registry", ref: "example/app:1.0.0" },
    ...(ports ? { ports } : {}),
});

describe("components: architectureFor", () => {
    const cases: [string, "arm64" | "x86_64"][] = [
        ["t3.large", "x86_64"],
        ["m6i.xlarge", "x86_64"],
        ["m6a.large", "x86_64"],
        ["g4dn.xlarge", "x86_64"],
        ["c5n.large", "x86_64"],
        ["z1d.large", "x86_64"],
        ["m7g.large", "arm64"],
        ["t4g.medium", "arm64"],
        ["c6gn.large", "arm64"],
        ["r7gd.xlarge", "arm64"],
        ["x2gd.large", "arm64"],
        ["im4gn.large", "arm64"],
        ["g5g.xlarge", "arm64"],
        ["a1.large", "arm64"],
    ];
    for (const [type, arch] of cases) {
        it(`${type} → ${arch}`, () => assert.equal(architectureFor(type), arch));
    }
});

describe("components: publishedPorts", () => {
    it("opens each (port, protocol) once, tcp by default, udp apart, sorted", () => {
        const ports = publishedPorts([
            container("web", [
                { host: 443, container: 8443 },
                { host: 80, container: 8080, protocol: "tcp" },
            ]),
            container("logs", [
                { host: 24224, container: 24224, protocol: "udp" },
                { host: 24224, container: 24224 },
            ]),
            container("plain", undefined),
            container("web2", [{ host: 80, container: 80 }]),
        ]);
        assert.deepEqual(
            ports.map(({ port, protocol, publishedBy }) => ({ port, protocol, publishedBy })),
            [
                { port: 80, protocol: "tcp", publishedBy: "web" },
                { port: 443, protocol: "tcp", publishedBy: "web" },
                { port: 24224, protocol: "tcp", publishedBy: "logs" },
                { port: 24224, protocol: "udp", publishedBy: "logs" },
            ],
        );
    });

    it("uses the host port, not the container port", () => {
        assert.deepEqual(
            publishedPorts([container("web", [{ host: 8080, container: 80 }])]).map((p) => p.port),
            [8080],
        );
    });

    it("opens nothing when nothing is published", () => {
        assert.deepEqual(publishedPorts([container("quiet", undefined)]), []);
    });
});

describe("components: artifactKey", () => {
    it("is artifacts/<sha256>.tar.gz", () => {
        assert.equal(artifactKey("ab".repeat(32)), `artifacts/${"ab".repeat(32)}.tar.gz`);
    });
});
