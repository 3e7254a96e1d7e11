// validateHost: every check has a failing case that names where, the field, what is wrong and the fix.
import { strict as assert } from "node:assert";
import { ContainerUnit, HostDefinition, OneShotUnit, WriteFile } from "../units/model";
import { Problem, ValidationError, formatProblem } from "../units/problems";
import { FileChecks, findCycles, parseImageReference, unpinnedReason, validateHost } from "../units/validate";
import { renderHost } from "../formats/cloudconfig";
import { buildHost } from "../units/host";
import { ArtifactLocation } from "../units/provision";
import {
    ALL_FILES_EXIST,
    FIXTURE_VOLUME_ID,
    HOST_SCRIPTS,
    cadvisor,
    elastic,
    fluentd,
    kibana,
    nginx,
    nodeExporter,
    seedContainers,
} from "./helpers/fixtures";

const ARTIFACT: ArtifactLocation = {
    bucket: "coreos-containers-artifacts-1a2b3c",
    key: `artifacts/${"0".repeat(64)}.tar.gz`,
    sha256: "0".repeat(64),
    region: "eu-west-1",
};

function hostOf(containers: readonly ContainerUnit[]): HostDefinition {
    return buildHost({
        containers,
        artifact: ARTIFACT,
        sshAuthorizedKeys: [],
        scripts: HOST_SCRIPTS,
        dataVolume: { volumeId: FIXTURE_VOLUME_ID },
    });
}

const defaultHost = () => hostOf(seedContainers);

/** A plain container that passes every check, to change one thing at a time. */
function app(name: string, patch: Partial<ContainerUnit> = {}): ContainerUnit {
    return { kind: "container", name, image: { kind: "registry", ref: "nginx:1.27.2-alpine" }, ...patch };
}

function check(containers: readonly ContainerUnit[], files: FileChecks = ALL_FILES_EXIST): Problem[] {
    return validateHost(hostOf(containers), files);
}

const show = (problems: readonly Problem[]) => problems.map(formatProblem).join("\n") || "(no problems)";

interface Expected {
    readonly where: string;
    readonly field: string;
    readonly message: RegExp;
    readonly fix?: RegExp;
}

/** Exactly one problem, and it is this one. */
function expectOnly(problems: readonly Problem[], expected: Expected): void {
    assert.equal(problems.length, 1, `expected exactly one problem, got:\n${show(problems)}`);
    expectProblem(problems, expected);
}

/** Among the problems there is this one. */
function expectProblem(problems: readonly Problem[], expected: Expected): void {
    const hit = problems.find((p) => p.where === expected.where && p.field === expected.field && expected.message.test(p.message));
    assert.ok(hit, `no problem at ${expected.where} / ${expected.field} matching ${expected.message}; got:\n${show(problems)}`);
    if (expected.fix) assert.match(hit.fix, expected.fix);
    assert.ok(hit.fix.length > 10, `the fix should be a sentence: ${JSON.stringify(hit.fix)}`);
}

describe("validateHost", () => {
    describe("baseline", () => {
        it("accepts the default host", () => {
            assert.deepEqual(validateHost(defaultHost(), ALL_FILES_EXIST), []);
        });

        it("accepts the default host after config overrides copied every container", () => {
            // applyOverrides returns new objects; dependsOn still points at the originals.
            const copies = seedContainers.map((c) => ({ ...c, env: { ...(c.env ?? {}) } }));
            assert.deepEqual(check(copies), []);
        });

        it("asks about files only through FileChecks", () => {
            const asked: string[] = [];
            const files: FileChecks = {
                artifactFileExists: (p) => (asked.push(`artifact:${p}`), true),
                imageFileExists: (f) => (asked.push(`image:${f}`), true),
            };
            assert.deepEqual(validateHost(defaultHost(), files), []);
            assert.deepEqual(asked.sort(), [
                "artifact:grafana/datasources.yml",
                "artifact:log/fluent.conf",
                "artifact:nginx/nginx.conf",
                "artifact:prometheus/alertmanager.yml",
                "artifact:prometheus/prometheus.yml",
                "image:fluentd.tar",
                "image:nginx.tar",
            ]);
        });
    });

    describe("container names", () => {
        it("rejects a name Docker would refuse", () => {
            expectOnly(check([app("my app")]), {
                where: "my app",
                field: "name",
                message: /not a valid Docker container name/,
                fix: /lower-case/,
            });
        });

        it("rejects an empty name, reported by index", () => {
            expectOnly(check([app("")]), { where: "containers[0]", field: "name", message: /not a valid Docker container name/ });
        });

        it("rejects upper case: the name is a DNS name on the network", () => {
            expectOnly(check([app("Web")]), {
                where: "Web",
                field: "name",
                message: /not a lower-case DNS label.*DNS ignores case/,
                fix: /"web"/,
            });
        });

        it("rejects _ and . that Docker allows but host names do not", () => {
            const problems = check([app("log_shipper"), app("api.v2")]);
            assert.equal(problems.length, 2, show(problems));
            expectProblem(problems, { where: "log_shipper", field: "name", message: /DNS label.*_ or \./, fix: /"log-shipper"/ });
            expectProblem(problems, { where: "api.v2", field: "name", message: /DNS label/, fix: /"api-v2"/ });
        });

        it("rejects a name longer than a DNS label (63)", () => {
            const name = "a".repeat(64);
            expectOnly(check([app(name)]), { where: name, field: "name", message: /DNS label/ });
        });

        it("rejects two containers with one name", () => {
            expectOnly(check([app("web"), app("api"), app("web")]), {
                where: "web",
                field: "name",
                message: /containers\[0\] and containers\[2\] are both named "web"/,
            });
        });

        it("rejects two one-shot units with one name", () => {
            const host = defaultHost();
            const problems = validateHost({ ...host, oneshots: [...host.oneshots, host.oneshots[0]!] }, ALL_FILES_EXIST);
            expectOnly(problems, {
                where: "coreos-containers-network.service",
                field: "name",
                message: new RegExp(`oneshots\\[0\\] and oneshots\\[${host.oneshots.length}\\] are both named`),
            });
        });

        it("rejects a container whose unit has a one-shot's name", () => {
            const host = hostOf([app("web")]);
            const clash: OneShotUnit = { kind: "oneshot", name: "docker-web.service", description: "Clash", exec: [["/usr/bin/true"]] };
            expectOnly(validateHost({ ...host, oneshots: [...host.oneshots, clash] }, ALL_FILES_EXIST), {
                where: "web",
                field: "name",
                message: new RegExp(
                    `its unit docker-web\\.service has the same name as one-shot unit oneshots\\[${host.oneshots.length}\\]`,
                ),
                fix: /overwrite/,
            });
        });
    });

    describe("dependsOn", () => {
        it("rejects a dependency that is not a container of this host", () => {
            expectOnly(check([app("web", { dependsOn: [app("db")] })]), {
                where: "web",
                field: "dependsOn[0]",
                message: /depends on "db", which is not a container of this host/,
                fix: /add "db"/,
            });
        });

        it("rejects a container that depends on itself", () => {
            const web: ContainerUnit = app("web");
            expectOnly(check([{ ...web, dependsOn: [web] }]), { where: "web", field: "dependsOn[0]", message: /depends on itself/ });
        });

        it("rejects a dependency listed twice", () => {
            const db = app("db");
            expectOnly(check([db, app("web", { dependsOn: [db, db] })]), {
                where: "web",
                field: "dependsOn[1]",
                message: /lists "db" more than once/,
            });
        });

        it("reports a cycle once, named by its path", () => {
            const containers = seedContainers.map((c) => (c.name === "elastic" ? { ...elastic, dependsOn: [fluentd] } : c));
            expectOnly(check(containers), {
                where: "elastic",
                field: "dependsOn",
                message: /^dependency cycle: elastic → fluentd → elastic$/,
                fix: /remove one dependency/,
            });
        });

        it("reports every cycle once, each from its first-declared container", () => {
            // a ⇄ b, a ⇄ c and b → c → a: three elementary cycles.
            const a = app("a", { dependsOn: [app("b"), app("c")] });
            const b = app("b", { dependsOn: [app("a"), app("c")] });
            const c = app("c", { dependsOn: [app("a")] });
            const cycles = check([a, b, c]).map((p) => `${p.where}|${p.field}|${p.message}`);
            assert.deepEqual(cycles, [
                "a|dependsOn|dependency cycle: a → b → a",
                "a|dependsOn|dependency cycle: a → b → c → a",
                "a|dependsOn|dependency cycle: a → c → a",
            ]);
        });

        it("findCycles finds a long cycle and nothing in a DAG", () => {
            const edges = new Map([
                ["w", ["x"]],
                ["x", ["y"]],
                ["y", ["z"]],
                ["z", ["x"]],
            ]);
            assert.deepEqual(findCycles(["w", "x", "y", "z"], edges), { cycles: [["x", "y", "z", "x"]], truncated: false });
            const dag = new Map(seedContainers.map((c) => [c.name, (c.dependsOn ?? []).map((d) => d.name)]));
            assert.deepEqual(findCycles([...dag.keys()], dag), { cycles: [], truncated: false });
        });
    });

    describe("units a container unit requires", () => {
        it("rejects a host without the network unit, or without the provision unit when a container reads the artifact", () => {
            const host = hostOf([
                app("web"),
                app("conf", { volumes: [{ source: { kind: "artifact", path: "conf/app.conf" }, target: "/etc/app.conf" }] }),
            ]);
            const problems = validateHost({ ...host, oneshots: [] }, ALL_FILES_EXIST);
            assert.deepEqual(
                problems.map((p) => `${p.where} ${p.field} ${p.message}`),
                [
                    "web (unit requires) its unit requires coreos-containers-network.service, which this host does not define, so systemd would refuse to start it",
                    "conf (unit requires) its unit requires coreos-containers-network.service, which this host does not define, so systemd would refuse to start it",
                    "conf (unit requires) its unit requires provision.service, which this host does not define, so systemd would refuse to start it",
                ],
            );
            assert.match(problems[0]!.fix, /buildHost adds it/);
        });
    });

    describe("ports", () => {
        it("rejects ports outside 1-65535 or not whole numbers", () => {
            const problems = check([
                app("web", {
                    ports: [
                        { host: 0, container: 80 },
                        { host: 8080, container: 70000 },
                        { host: 80.5, container: 80 },
                    ],
                }),
            ]);
            assert.equal(problems.length, 3, show(problems));
            expectProblem(problems, { where: "web", field: "ports[0].host", message: /0 is not a port/, fix: /1 to 65535/ });
            expectProblem(problems, { where: "web", field: "ports[1].container", message: /70000 is not a port/ });
            expectProblem(problems, { where: "web", field: "ports[2].host", message: /80\.5 is not a port/ });
        });

        it("rejects an unknown protocol", () => {
            const problems = check([app("web", { ports: [{ host: 80, container: 80, protocol: "sctp" as "tcp" }] })]);
            expectOnly(problems, { where: "web", field: "ports[0].protocol", message: /"sctp"/, fix: /"tcp" or "udp"/ });
        });

        it("rejects two containers publishing one host port and protocol", () => {
            const problems = check([
                app("web", { ports: [{ host: 8080, container: 80 }] }),
                app("api", {
                    ports: [
                        { host: 9000, container: 9000 },
                        { host: 8080, container: 8080, protocol: "tcp" },
                    ],
                }),
            ]);
            expectOnly(problems, {
                where: "api",
                field: "ports[1].host",
                message: /host port 8080\/tcp is already published by web \(ports\[0\]\)/,
                fix: /change one/,
            });
        });

        it("rejects one container publishing a host port twice", () => {
            expectOnly(
                check([
                    app("web", {
                        ports: [
                            { host: 8080, container: 80 },
                            { host: 8080, container: 81 },
                        ],
                    }),
                ]),
                {
                    where: "web",
                    field: "ports[1].host",
                    message: /8080\/tcp is already published by web \(ports\[0\]\)/,
                },
            );
        });

        it("allows the same port number over tcp and udp", () => {
            assert.deepEqual(
                check([
                    app("dns", {
                        ports: [
                            { host: 53, container: 53, protocol: "udp" },
                            { host: 53, container: 53 },
                        ],
                    }),
                ]),
                [],
            );
        });

        it("rejects host port 22, which sshd holds on Flatcar", () => {
            expectOnly(check([app("web", { ports: [{ host: 22, container: 2222 }] })]), {
                where: "web",
                field: "ports[0].host",
                message: /22 is already taken on Flatcar by sshd/,
            });
        });
    });

    describe("volumes", () => {
        const host = (path: string) => ({ source: { kind: "host" as const, path }, target: "/data" });
        const artifact = (path: string) => ({ source: { kind: "artifact" as const, path }, target: "/etc/app.conf" });

        it("rejects a host path that is relative or not normalised", () => {
            const problems = check([
                app("web", {
                    volumes: [
                        host("data"),
                        { ...host("/var/lib/../etc"), target: "/b" },
                        { ...host("/var/lib/"), target: "/c" },
                        { ...host("/var//lib"), target: "/d" },
                    ],
                }),
            ]);
            assert.equal(problems.length, 4, show(problems));
            for (let i = 0; i < 4; i++)
                expectProblem(problems, {
                    where: "web",
                    field: `volumes[${i}].source.path`,
                    message: /not an absolute, normalised host path/,
                    fix: /absolute path/,
                });
        });

        it("rejects a ':' that would split docker's -v argument", () => {
            expectOnly(check([app("web", { volumes: [host("/srv/a:b")] })]), {
                where: "web",
                field: "volumes[0].source.path",
                message: /contains ':'/,
            });
        });

        it("rejects a container target that is relative, not normalised or /", () => {
            const problems = check([
                app("web", {
                    volumes: [
                        { ...host("/a"), target: "data" },
                        { ...host("/b"), target: "/x/../y" },
                        { ...host("/c"), target: "/" },
                    ],
                }),
            ]);
            assert.equal(problems.length, 3, show(problems));
            for (let i = 0; i < 3; i++)
                expectProblem(problems, {
                    where: "web",
                    field: `volumes[${i}].target`,
                    message: /not an absolute, normalised path inside the container/,
                });
        });

        it("rejects the same target mounted twice", () => {
            expectOnly(check([app("web", { volumes: [host("/a"), host("/b")] })]), {
                where: "web",
                field: "volumes[1].target",
                message: /"\/data" is already mounted by volumes\[0\]/,
            });
        });

        it("rejects an artifact path that is absolute, climbs out or is not normalised (., empty segments, a trailing /), without asking the file system", () => {
            const asked: string[] = [];
            const files: FileChecks = { ...ALL_FILES_EXIST, artifactFileExists: (p) => (asked.push(p), true) };
            const problems = check(
                [
                    app("web", {
                        volumes: [
                            artifact("/etc/passwd"),
                            { ...artifact("../secrets/key"), target: "/k" },
                            { ...artifact("conf/./app.conf"), target: "/c" },
                            { ...artifact("conf//app.conf"), target: "/d" },
                            { ...artifact("conf/"), target: "/e" },
                        ],
                    }),
                ],
                files,
            );
            assert.equal(problems.length, 5, show(problems));
            for (let i = 0; i < 5; i++)
                expectProblem(problems, {
                    where: "web",
                    field: `volumes[${i}].source.path`,
                    message: /not a relative path inside the artifact/,
                    fix: /relative to the artifact's root/,
                });
            assert.deepEqual(asked, []);
        });

        it("rejects an artifact file that does not exist", () => {
            const files: FileChecks = { ...ALL_FILES_EXIST, artifactFileExists: (p) => p !== "nginx/nginx.conf" };
            expectOnly(validateHost(defaultHost(), files), {
                where: "nginx",
                field: "volumes[0].source.path",
                message: /"nginx\/nginx\.conf" does not exist in the artifact folder/,
                fix: /add the file/,
            });
        });
    });

    describe("images", () => {
        const withRef = (ref: string) => [app("web", { image: { kind: "registry", ref } })];

        it("rejects a reference without a tag", () => {
            expectOnly(check(withRef("nginx")), {
                where: "web",
                field: "image.ref",
                message: /"nginx" has no tag, so Docker takes :latest/,
                fix: /pin a version tag or a digest/,
            });
        });

        it("rejects :latest", () => {
            expectOnly(check(withRef("docker.io/library/nginx:latest")), {
                where: "web",
                field: "image.ref",
                message: /uses the :latest tag/,
            });
        });

        it("reads the colon of a registry port as a port, not a tag", () => {
            expectOnly(check(withRef("localhost:5000/team/app")), {
                where: "web",
                field: "image.ref",
                message: /"localhost:5000\/team\/app" has no tag/,
            });
            assert.deepEqual(check(withRef("localhost:5000/team/app:2.1.0")), []);
        });

        it("accepts a digest, with or without a tag", () => {
            const digest = `sha256:${"a".repeat(64)}`;
            assert.deepEqual(check(withRef(`nginx@${digest}`)), []);
            assert.deepEqual(check(withRef(`nginx:latest@${digest}`)), []);
        });

        it("rejects a malformed reference", () => {
            expectOnly(check(withRef("Nginx:1.27")), {
                where: "web",
                field: "image.ref",
                message: /not a valid image reference: the repository must be lower-case/,
            });
            expectOnly(check(withRef("nginx:1.27 ")), {
                where: "web",
                field: "image.ref",
                message: /not a valid image reference: "1\.27 " is not a valid tag/,
            });
        });

        it("parses references the way Docker does", () => {
            assert.deepEqual(parseImageReference("quay.io/prometheus/node-exporter:v1.8.2"), {
                domain: "quay.io",
                path: "prometheus/node-exporter",
                tag: "v1.8.2",
            });
            assert.deepEqual(parseImageReference("grafana/grafana:11.3.0"), { path: "grafana/grafana", tag: "11.3.0" });
            assert.deepEqual(parseImageReference("localhost/app"), { domain: "localhost", path: "app" });
            assert.equal(unpinnedReason("gcr.io/cadvisor/cadvisor:v0.49.1"), undefined);
            assert.match(unpinnedReason("nginx@sha256:abc") ?? "", /not a digest/);
        });

        it("rejects a tarball that is not in the image folder", () => {
            const files: FileChecks = { ...ALL_FILES_EXIST, imageFileExists: (f) => f !== "fluentd.tar" };
            expectOnly(validateHost(defaultHost(), files), {
                where: "fluentd",
                field: "image.file",
                message: /"fluentd\.tar" does not exist in the image folder/,
                fix: /docker save/,
            });
        });

        it("rejects a tarball path outside the image folder or not normalised, without asking", () => {
            const asked: string[] = [];
            const files: FileChecks = { ...ALL_FILES_EXIST, imageFileExists: (f) => (asked.push(f), true) };
            for (const file of ["../web.tar", "/web.tar", "sub//web.tar", "web.tar/", "./web.tar"]) {
                expectOnly(check([app("web", { image: { kind: "tarball", file, ref: "web:1.0" } })], files), {
                    where: "web",
                    field: "image.file",
                    message: /not a relative path inside the image folder/,
                });
            }
            assert.deepEqual(asked, []);
        });

        it("rejects a tarball whose ref is not pinned", () => {
            expectOnly(check([app("web", { image: { kind: "tarball", file: "web.tar", ref: "coreos-containers/web" } })]), {
                where: "web",
                field: "image.ref",
                message: /has no tag/,
                fix: /the pinned tag the tarball carries/,
            });
        });
    });

    describe("env", () => {
        it("rejects an invalid variable name, naming it in the field", () => {
            expectOnly(check([app("web", { env: { "MY-VAR": "x", GOOD_ONE: "y", "discovery.type": "single-node" } })]), {
                where: "web",
                field: 'env["MY-VAR"]',
                message: /"MY-VAR" is not a valid environment variable name/,
                fix: /letters, digits, _ and \./,
            });
        });

        it("rejects a name starting with a digit", () => {
            expectOnly(check([app("web", { env: { "1X": "x" } })]), {
                where: "web",
                field: 'env["1X"]',
                message: /not a valid environment variable name/,
            });
        });

        it("rejects a NUL in a value, which systemd cannot carry", () => {
            expectOnly(check([app("web", { env: { TOKEN: "a\0b" } })]), {
                where: "web",
                field: 'env["TOKEN"]',
                message: /NUL character.*systemd/,
            });
        });

        it("accepts any other value: quotes, %, $, newlines, unicode", () => {
            assert.deepEqual(check([app("web", { env: { A: "%(x)s $HOME \"q\" 'q' \\ \n\t é" } })]), []);
        });
    });

    describe("restart and timeouts", () => {
        it("rejects restartSec and stopTimeoutSec that are not positive whole numbers", () => {
            const problems = check([app("web", { restartSec: 0 }), app("api", { stopTimeoutSec: 2.5 }), app("db", { restartSec: -1 })]);
            assert.equal(problems.length, 3, show(problems));
            expectProblem(problems, {
                where: "web",
                field: "restartSec",
                message: /0 is not a positive whole number of seconds/,
                fix: /1 or more/,
            });
            expectProblem(problems, { where: "api", field: "stopTimeoutSec", message: /2\.5 is not a positive whole number/ });
            expectProblem(problems, { where: "db", field: "restartSec", message: /-1 is not/ });
        });

        it("rejects an unknown restart policy", () => {
            expectOnly(check([app("web", { restart: "sometimes" as "always" })]), {
                where: "web",
                field: "restart",
                message: /"sometimes" is not a restart policy/,
                fix: /always, on-failure, no/,
            });
        });
    });

    describe("extraArgs", () => {
        const cases: [string, RegExp][] = [
            ["--name", /the unit names the container/],
            ["--name=other", /the unit names the container/],
            ["--rm", /always passes --rm/],
            ["-d", /systemd supervises the foreground `docker run`/],
            ["--detach", /systemd supervises the foreground/],
            ["-dit", /systemd supervises the foreground/],
            ["--network=host", /project's network coreos-containers/],
            ["--net", /project's network/],
            ["--restart=always", /systemd restarts the unit/],
        ];
        for (const [word, why] of cases) {
            it(`rejects ${word}, which the renderer manages`, () => {
                expectOnly(check([app("web", { extraArgs: ["--ulimit", "nofile=1024:1024", word] })]), {
                    where: "web",
                    field: "extraArgs[2]",
                    message: new RegExp(`^"${word}" sets .*, which the renderer manages: .*${why.source}`),
                    fix: /remove/,
                });
            });
        }

        it("leaves look-alike flags alone", () => {
            assert.deepEqual(
                check([
                    app("web", {
                        extraArgs: ["--network-alias", "www", "--name-prefix-is-not-a-flag", "-e", "X=-d", "--restart-policy-not"],
                    }),
                ]),
                [],
            );
        });

        it("rejects NUL in a command word", () => {
            expectOnly(check([app("web", { command: ["--flag", "a\0b"] })]), {
                where: "web",
                field: "command[1]",
                message: /NUL character/,
            });
        });
    });

    describe("write_files", () => {
        function checkFiles(files: WriteFile[]): Problem[] {
            const host = hostOf([]);
            return validateHost({ ...host, files: [...host.files, ...files] }, ALL_FILES_EXIST);
        }
        const file = (patch: Partial<WriteFile>): WriteFile => ({ path: "/etc/app.conf", permissions: "0644", content: "x\n", ...patch });

        it("rejects a relative or unnormalised path", () => {
            const problems = checkFiles([file({ path: "etc/app.conf" }), file({ path: "/etc/../root/x" })]);
            assert.equal(problems.length, 2, show(problems));
            expectProblem(problems, { where: "etc/app.conf", field: "path", message: /not an absolute, normalised file path/ });
            expectProblem(problems, { where: "/etc/../root/x", field: "path", message: /not an absolute, normalised file path/ });
        });

        it("rejects a path under /usr, read-only on Flatcar", () => {
            expectOnly(checkFiles([file({ path: "/usr/local/bin/tool" })]), {
                where: "/usr/local/bin/tool",
                field: "path",
                message: /under \/usr, which is read-only on Flatcar/,
                fix: /\/opt or \/etc/,
            });
        });

        it("rejects permissions that are not a 4-digit octal string", () => {
            const problems = checkFiles([
                file({ path: "/a", permissions: "644" }),
                file({ path: "/b", permissions: "0844" }),
                file({ path: "/c", permissions: 420 as unknown as string }),
            ]);
            assert.equal(problems.length, 3, show(problems));
            expectProblem(problems, {
                where: "/a",
                field: "permissions",
                message: /"644" is not a 4-digit octal mode string/,
                fix: /"0644"/,
            });
            expectProblem(problems, { where: "/b", field: "permissions", message: /"0844"/ });
            expectProblem(problems, { where: "/c", field: "permissions", message: /420/ });
        });

        it("rejects an owner that is not user:group", () => {
            expectOnly(checkFiles([file({ owner: "root" })]), {
                where: "/etc/app.conf",
                field: "owner",
                message: /"root" is not of the form user:group/,
                fix: /"root:root"/,
            });
        });

        it("rejects two files with one path", () => {
            const n = hostOf([]).files.length;
            expectOnly(checkFiles([file({}), file({ content: "y\n" })]), {
                where: "/etc/app.conf",
                field: "path",
                message: new RegExp(`files\\[${n}\\] and files\\[${n + 1}\\] both write`),
            });
        });
    });

    describe("one-shot units", () => {
        function checkOneShot(patch: Partial<OneShotUnit>): Problem[] {
            const host = hostOf([]);
            const unit: OneShotUnit = {
                kind: "oneshot",
                name: "setup.service",
                description: "Set up",
                exec: [["/usr/bin/true"]],
                ...patch,
            };
            return validateHost({ ...host, oneshots: [...host.oneshots, unit] }, ALL_FILES_EXIST);
        }

        it("rejects a name without a unit suffix", () => {
            expectOnly(checkOneShot({ name: "setup" }), {
                where: "setup",
                field: "name",
                message: /not a systemd unit name ending in a unit type/,
                fix: /setup-disks\.service/,
            });
        });

        it("rejects a suffix other than .service: a one-shot has a [Service] section", () => {
            expectOnly(checkOneShot({ name: "setup.timer" }), {
                where: "setup.timer",
                field: "name",
                message: /is a \.timer unit.*\[Service\]/,
                fix: /"setup\.service"/,
            });
        });

        it("rejects a template name with no instance, but not an instance name", () => {
            expectOnly(checkOneShot({ name: "setup@.service" }), { where: "setup@.service", field: "name", message: /template unit/ });
            assert.deepEqual(checkOneShot({ name: "setup@disk1.service" }), []);
        });

        it("rejects a command whose argv[0] is not absolute", () => {
            expectOnly(checkOneShot({ exec: [["/usr/bin/true"], ["docker", "ps"]] }), {
                where: "setup.service",
                field: "exec[1][0]",
                message: /"docker" is not an absolute path/,
                fix: /\/usr\/bin\/docker/,
            });
        });

        it("rejects a unit with nothing to run", () => {
            expectOnly(checkOneShot({ exec: [] }), { where: "setup.service", field: "exec", message: /no command/ });
        });

        it("rejects requires/wants that are not unit names", () => {
            expectOnly(checkOneShot({ wants: ["network-online"] }), {
                where: "setup.service",
                field: "wants[0]",
                message: /"network-online" is not a systemd unit name/,
            });
        });

        it("rejects an Environment= name systemd refuses (no dots there)", () => {
            expectOnly(checkOneShot({ environment: { "a.b": "1" } }), {
                where: "setup.service",
                field: 'environment["a.b"]',
                message: /not a valid environment variable name/,
                fix: /systemd's rule/,
            });
        });

        it("rejects a timeout that is not a positive whole number", () => {
            expectOnly(checkOneShot({ timeoutStartSec: 0 }), {
                where: "setup.service",
                field: "timeoutStartSec",
                message: /0 is not a positive whole number/,
            });
        });
    });

    describe("many problems at once", () => {
        it("reports every one of them, not just the first", () => {
            const bad: ContainerUnit[] = [
                app("Web_1", { image: { kind: "registry", ref: "nginx" }, ports: [{ host: 0, container: 80 }], env: { "BAD-NAME": "x" } }),
                app("api", {
                    dependsOn: [app("ghost")],
                    restartSec: 0,
                    extraArgs: ["-d"],
                    volumes: [{ source: { kind: "host", path: "rel" }, target: "/x" }],
                }),
                app("api", { image: { kind: "tarball", file: "missing.tar", ref: "api:latest" } }),
                { ...cadvisor, dependsOn: [nodeExporter] },
                { ...nodeExporter, dependsOn: [cadvisor] },
                { ...kibana, dependsOn: [] },
                {
                    ...nginx,
                    image: { kind: "registry", ref: "nginx:1.27.2" },
                    dependsOn: [kibana],
                    ports: [
                        { host: 443, container: 443 },
                        { host: 443, container: 8443 },
                    ],
                },
            ];
            const host = hostOf(bad);
            const problems = validateHost(
                { ...host, files: [...host.files, { path: "/usr/x", permissions: "755", content: "" }] },
                { artifactFileExists: () => true, imageFileExists: () => false },
            );
            const got = problems.map((p) => `${p.where} ${p.field}`);
            assert.deepEqual(
                got,
                [
                    "Web_1 name",
                    "api name",
                    "Web_1 image.ref",
                    "Web_1 ports[0].host",
                    'Web_1 env["BAD-NAME"]',
                    "api volumes[0].source.path",
                    "api restartSec",
                    "api extraArgs[0]",
                    "api image.file",
                    "api image.ref",
                    "api dependsOn[0]",
                    "cadvisor dependsOn",
                    "nginx ports[1].host",
                    "/usr/x path",
                    "/usr/x permissions",
                ],
                show(problems),
            );
            assert.match(
                problems.find((p) => p.field === "dependsOn")!.message,
                /cadvisor → node-exporter → cadvisor|node-exporter → cadvisor → node-exporter/,
            );
        });
    });

    describe("end to end through renderHost", () => {
        it("throws a ValidationError that lists every problem of a bad definition", () => {
            const bad = hostOf([
                app("Web", { image: { kind: "registry", ref: "nginx:latest" } }),
                app("api", { extraArgs: ["--rm"], env: { "X-Y": "1" }, dependsOn: [app("db")] }),
            ]);
            let error: unknown;
            assert.throws(
                () => renderHost(bad, ALL_FILES_EXIST),
                (e: unknown) => ((error = e), e instanceof ValidationError),
            );
            const v = error as ValidationError;
            assert.deepEqual(
                v.problems.map((p) => `${p.where} ${p.field}`),
                ["Web name", "Web image.ref", 'api env["X-Y"]', "api extraArgs[0]", "api dependsOn[0]"],
            );
            assert.match(v.message, /^5 problems in the host definition:\n/);
            for (const p of v.problems) assert.ok(v.message.includes(formatProblem(p)), `message lists ${formatProblem(p)}`);
        });

        it("renders the default host without problems", () => {
            assert.doesNotThrow(() => renderHost(defaultHost(), ALL_FILES_EXIST));
        });
    });
});
