// validateHost and the image-reference parser, rule by rule: the edges of each check (ports, paths,
// names, data folders, secrets) with the exact code, where, field and message a user reads.
import { strict as assert } from "node:assert";
import { ContainerUnit, HostDefinition, OneShotUnit } from "../units/model";
import { Problem, ProblemCode } from "../units/problems";
import { FileChecks, isNormalizedAbsolute, parseImageReference, validateHost } from "../units/validate";
import { buildHost } from "../units/host";
import { FIXTURE_ARTIFACT, FIXTURE_VOLUME_ID, HOST_SCRIPTS, testContainer } from "./helpers/fixtures";

const allFiles: FileChecks = { artifactFileExists: () => true, imageFileExists: () => true };

/** Loose values a host file written in plain JavaScript can hold, where the types say otherwise. */
const loose = <T>(v: unknown): T => v as T;

describe("validateHost rules (A)", () => {
    let empty: HostDefinition;
    before(() => {
        empty = buildHost({
            containers: [],
            artifact: FIXTURE_ARTIFACT,
            sshAuthorizedKeys: [],
            scripts: HOST_SCRIPTS,
            dataVolume: { volumeId: FIXTURE_VOLUME_ID },
        });
    });

    /** The host with these containers (validated as given, not rebuilt), and whatever else a test changes. */
    const check = (containers: readonly ContainerUnit[], patch: Partial<HostDefinition> = {}): Problem[] =>
        validateHost({ ...empty, containers, dataVolume: { volumeId: FIXTURE_VOLUME_ID }, ...patch }, allFiles);
    const withCode = (problems: readonly Problem[], code: ProblemCode) => problems.filter((p) => p.code === code);
    const brief = (problems: readonly Problem[]) => problems.map((p) => ({ code: p.code, where: p.where, field: p.field }));

    describe("container names", () => {
        it("a container with an empty name is reported by its index", () => {
            const problems = withCode(check([testContainer("")]), "CONTAINER_NAME_INVALID");
            assert.deepEqual(brief(problems), [{ code: "CONTAINER_NAME_INVALID", where: "containers[0]", field: "name" }]);
        });

        it("a name that is not a string is refused even when it reads as a valid name", () => {
            const problems = withCode(check([testContainer(loose<string>(5))]), "CONTAINER_NAME_INVALID");
            assert.deepEqual(brief(problems), [{ code: "CONTAINER_NAME_INVALID", where: "containers[0]", field: "name" }]);
        });

        const suggestion = (name: string) => {
            const [p] = withCode(check([testContainer(name)]), "CONTAINER_NAME_NOT_DNS_LABEL");
            assert.ok(p, `no CONTAINER_NAME_NOT_DNS_LABEL for ${name}`);
            return /e\.g\. "(.*)"$/.exec(p.fix)?.[1];
        };

        it("the suggested DNS name turns each run of other characters into one dash", () => {
            assert.equal(suggestion("Web__Front..End"), "web-front-end");
        });

        it("the suggested DNS name drops trailing dashes", () => {
            assert.equal(suggestion("app-_."), "app");
        });

        it("the suggested DNS name is cut to a DNS label's 63 characters", () => {
            assert.equal(suggestion("A".repeat(70)), "a".repeat(63));
        });
    });

    describe("one-shot unit names", () => {
        it("a duplicate one-shot unit without a name is reported by its index", () => {
            const unit: OneShotUnit = { kind: "oneshot", name: "", description: "x", exec: [["/usr/bin/true"]] };
            const problems = withCode(check([], { oneshots: [...empty.oneshots, unit, unit] }), "UNIT_NAME_DUPLICATE");
            assert.deepEqual(brief(problems), [
                { code: "UNIT_NAME_DUPLICATE", where: `oneshots[${empty.oneshots.length + 1}]`, field: "name" },
            ]);
        });
    });

    describe("image references (distribution/reference grammar)", () => {
        it("an empty or missing reference is empty", () => {
            assert.equal(parseImageReference(""), "it is empty");
            assert.equal(parseImageReference(loose<string>(undefined)), "it is empty");
        });

        it("a digest is checked even when the name before @ is empty", () => {
            assert.equal(parseImageReference("@x"), '"x" is not a digest like sha256:<64 hex digits>');
        });

        it("a first component with upper case is a registry host, as Docker reads it", () => {
            assert.deepEqual(parseImageReference("Registry/app:1"), { domain: "Registry", path: "app", tag: "1" });
        });

        it("a registry host outside the host name grammar is refused", () => {
            assert.equal(parseImageReference("bad_host.io/app:1"), '"bad_host.io" is not a registry host');
        });

        it("one bad repository component is enough to refuse the name", () => {
            const why = parseImageReference("library/Nginx:1");
            assert.ok(typeof why === "string" && why.startsWith("the repository must be lower-case"), JSON.stringify(why));
        });

        it("a name of 255 characters is accepted, 256 refused, the registry host and its slash counted", () => {
            const long = "the name is longer than 255 characters";
            assert.deepEqual(parseImageReference("a".repeat(255)), { path: "a".repeat(255) });
            assert.equal(parseImageReference("a".repeat(256)), long);
            assert.deepEqual(parseImageReference(`a.io/${"a".repeat(250)}`), { domain: "a.io", path: "a".repeat(250) });
            assert.equal(parseImageReference(`a.io/${"a".repeat(251)}`), long);
        });

        it("a container without an image is reported, not a crash", () => {
            const problems = check([testContainer("app", { image: loose(undefined) })]);
            assert.deepEqual(brief(withCode(problems, "IMAGE_KIND_UNKNOWN")), [
                { code: "IMAGE_KIND_UNKNOWN", where: "app", field: "image" },
            ]);
        });

        it("a tarball image without a file is reported as an invalid file", () => {
            const problems = check([testContainer("app", { image: loose({ kind: "tarball", ref: "app:1" }) })]);
            assert.deepEqual(brief(problems), [{ code: "IMAGE_FILE_INVALID", where: "app", field: "image.file" }]);
        });
    });

    describe("ports", () => {
        it("ports 1 and 65535 are ports; 0 and 65536 are not", () => {
            assert.deepEqual(check([testContainer("app", { ports: [{ host: 1, container: 65535 }] })]), []);
            const problems = check([testContainer("app", { ports: [{ host: 65536, container: 0 }] })]);
            assert.deepEqual(brief(problems), [
                { code: "PORT_INVALID", where: "app", field: "ports[0].host" },
                { code: "PORT_INVALID", where: "app", field: "ports[0].container" },
            ]);
        });

        it('expose: "host" is a valid exposure', () => {
            assert.deepEqual(check([testContainer("app", { ports: [{ host: 8080, container: 80, expose: "host" }] })]), []);
        });
    });

    describe("volume paths", () => {
        it("an absolute path with an empty or . segment is not normalised", () => {
            assert.equal(isNormalizedAbsolute("/a/b"), true);
            assert.equal(isNormalizedAbsolute("/a//b"), false);
            assert.equal(isNormalizedAbsolute("/a/./b"), false);
        });

        it("a volume without a source is reported, not a crash", () => {
            const problems = check([testContainer("app", { volumes: [loose({ target: "/data" })] })]);
            assert.deepEqual(brief(problems), [{ code: "VOLUME_SOURCE_KIND_UNKNOWN", where: "app", field: "volumes[0].source" }]);
        });

        for (const kind of ["host", "artifact"] as const) {
            it(`a ${kind} volume without a path is reported as an invalid path`, () => {
                const problems = check([testContainer("app", { volumes: [loose({ source: { kind }, target: "/data" })] })]);
                assert.deepEqual(brief(problems), [{ code: "VOLUME_PATH_INVALID", where: "app", field: "volumes[0].source.path" }]);
            });
        }

        it("an artifact path with ':' is refused: docker -v splits on it", () => {
            const problems = check([
                testContainer("app", { volumes: [{ source: { kind: "artifact", path: "conf/a:b" }, target: "/etc/a" }] }),
            ]);
            assert.deepEqual(problems, [
                {
                    code: "VOLUME_PATH_COLON",
                    where: "app",
                    field: "volumes[0].source.path",
                    message: `"conf/a:b" contains ':', which docker's -v SOURCE:TARGET splits on`,
                    fix: "rename the file in the artifact",
                },
            ]);
        });

        it("a mount target with ':' is refused: docker -v splits on it", () => {
            const problems = check([testContainer("app", { volumes: [{ source: { kind: "host", path: "/srv" }, target: "/a:b" }] })]);
            assert.deepEqual(problems, [
                {
                    code: "VOLUME_PATH_COLON",
                    where: "app",
                    field: "volumes[0].target",
                    message: `"/a:b" contains ':', which docker's -v SOURCE:TARGET splits on`,
                    fix: "use a path without ':'",
                },
            ]);
        });

        it("a secret file mounted where a volume already is, is reported on the secret file", () => {
            const problems = check([
                testContainer("app", {
                    volumes: [{ source: { kind: "host", path: "/srv" }, target: "/run/x" }],
                    secretFiles: [{ secret: "tls-key", target: "/run/x" }],
                }),
            ]);
            const dup = withCode(problems, "VOLUME_TARGET_DUPLICATE");
            assert.deepEqual(brief(dup), [{ code: "VOLUME_TARGET_DUPLICATE", where: "app", field: "secretFiles[0].target" }]);
            assert.equal(dup[0]!.message, '"/run/x" is already mounted by volumes[0]');
        });
    });

    describe("data folders", () => {
        const data = (name: string, path: unknown, extra: Record<string, unknown> = {}, target = "/data") =>
            testContainer(name, { volumes: [loose({ source: { kind: "data", path, ...extra }, target })] });

        it("a data folder without a path is reported once, and does not ask for the data volume", () => {
            const problems = check([data("app", undefined)], { dataVolume: undefined });
            assert.deepEqual(brief(problems), [{ code: "DATA_PATH_INVALID", where: "app", field: "volumes[0].source.path" }]);
        });

        it("a data folder whose path is not a string is not taken as a folder", () => {
            const problems = check([data("app", 5)], { dataVolume: undefined });
            assert.deepEqual(brief(problems), [{ code: "DATA_PATH_INVALID", where: "app", field: "volumes[0].source.path" }]);
        });

        it("uid and gid 4294967294 are owners; 4294967295 (chown's -1) is not", () => {
            assert.deepEqual(check([data("app", "db", { owner: { uid: 0xfffffffe, gid: 0xfffffffe } })]), []);
            const problems = check([data("app", "db", { owner: { uid: 0xffffffff, gid: 0 } })]);
            assert.deepEqual(brief(problems), [{ code: "DATA_OWNER_INVALID", where: "app", field: "volumes[0].source.owner" }]);
        });

        it("the missing data volume names each container that mounts data, in the singular for one", () => {
            const one = withCode(check([data("a", "x")], { dataVolume: undefined }), "DATA_VOLUME_MISSING");
            assert.match(one[0]!.message, /^a mounts a folder of the data disk, but/);
            const two = withCode(check([data("a", "x"), data("b", "y")], { dataVolume: undefined }), "DATA_VOLUME_MISSING");
            assert.match(two[0]!.message, /^a, b mount a folder of the data disk, but/);
        });

        it("a null data volume is reported as an invalid volume id", () => {
            const problems = withCode(check([], { dataVolume: loose(null) }), "DATA_VOLUME_ID_INVALID");
            assert.deepEqual(brief(problems), [{ code: "DATA_VOLUME_ID_INVALID", where: "host", field: "dataVolume.volumeId" }]);
            assert.equal(problems[0]!.message, "undefined is not an EBS volume id");
        });

        it("two containers on the same data folder: the second one is reported", () => {
            const problems = check([data("a", "db"), data("b", "db")]);
            assert.deepEqual(brief(problems), [{ code: "DATA_PATH_SHARED", where: "b", field: "volumes[0].source.path" }]);
        });

        it("one container may mount a data folder and a folder inside it", () => {
            const c = testContainer("app", {
                volumes: [
                    { source: { kind: "data", path: "db" }, target: "/data" },
                    { source: { kind: "data", path: "db/wal" }, target: "/wal" },
                ],
            });
            assert.deepEqual(check([c]), []);
        });
    });

    describe("secrets", () => {
        it("well-named secret env and secret files are accepted", () => {
            const c = testContainer("app", {
                env: { MODE: "prod" },
                secretEnv: { "db.password": "db-pass" },
                secretFiles: [
                    { secret: "tls-key", target: "/run/a", encoding: "utf8" },
                    { secret: "tls-key", target: "/run/b", encoding: "base64" },
                    { secret: "tls-key", target: "/run/c" },
                ],
            });
            // The base host was built without secrets, so it lacks the secrets unit: that is checkRequiredUnits' rule, not these.
            assert.deepEqual(brief(check([c]).filter((p) => p.code !== "UNIT_REQUIRES_UNDEFINED")), []);
        });

        it("a secret env name docker run -e cannot take is refused", () => {
            const problems = withCode(check([testContainer("app", { secretEnv: { "1PASS": "db-pass" } })]), "ENV_NAME_INVALID");
            assert.deepEqual(problems, [
                {
                    code: "ENV_NAME_INVALID",
                    where: "app",
                    field: 'secretEnv["1PASS"]',
                    message: '"1PASS" is not a valid environment variable name',
                    fix: "rename it: letters, digits, _ and ., not starting with a digit",
                },
            ]);
        });

        it("a bad secret name is reported on the secretEnv entry or the secret file's secret", () => {
            const c = testContainer("app", { secretEnv: { PASS: "-bad" }, secretFiles: [{ secret: "-bad", target: "/run/x" }] });
            assert.deepEqual(brief(withCode(check([c]), "SECRET_NAME_INVALID")), [
                { code: "SECRET_NAME_INVALID", where: "app", field: 'secretEnv["PASS"]' },
                { code: "SECRET_NAME_INVALID", where: "app", field: "secretFiles[0].secret" },
            ]);
        });

        it("a secret file's target must be an absolute container path", () => {
            const c = testContainer("app", { secretFiles: [{ secret: "tls-key", target: "run/x" }] });
            assert.deepEqual(brief(withCode(check([c]), "VOLUME_PATH_INVALID")), [
                { code: "VOLUME_PATH_INVALID", where: "app", field: "secretFiles[0].target" },
            ]);
        });

        it("an encoding other than utf8 or base64 is refused", () => {
            const c = testContainer("app", { secretFiles: [{ secret: "tls-key", target: "/run/x", encoding: loose("hex") }] });
            assert.deepEqual(brief(withCode(check([c]), "SECRET_FILE_ENCODING_INVALID")), [
                { code: "SECRET_FILE_ENCODING_INVALID", where: "app", field: "secretFiles[0].encoding" },
            ]);
        });
    });
});
