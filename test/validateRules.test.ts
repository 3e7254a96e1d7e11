// validateHost (units/validate.ts) and the image-reference parser, rule by rule: the edges of each
// check that the other tests leave open, with the exact code, where and field (and the message or fix
// where the words are the contract), and the neighbour that must pass. In-process, for mutation testing.
import { strict as assert } from "node:assert";
import { ContainerUnit, HostDefinition, OneShotUnit, WriteFile } from "../units/model";
import { Problem, ProblemCode, formatProblem } from "../units/problems";
import { findCycles, isNormalizedAbsolute, parseImageReference, validateHost } from "../units/validate";
import { buildHost } from "../units/host";
import { SECRETS_UNIT } from "../units/layout";
import { ALL_FILES_EXIST, FIXTURE_ARTIFACT, FIXTURE_VOLUME_ID, HOST_SCRIPTS, fixtureHost, testContainer } from "./helpers/fixtures";

/** Loose values a host file written in plain JavaScript can hold, where the types say otherwise. */
const loose = <T>(v: unknown): T => v as T;

const show = (problems: readonly Problem[]) => problems.map(formatProblem).join("\n") || "(no problems)";

/** Problems of a host of these containers, with whatever else the test changes in the host. */
function check(containers: readonly ContainerUnit[], patch: (h: HostDefinition) => Partial<HostDefinition> = () => ({})): Problem[] {
    const host = fixtureHost(containers);
    return validateHost({ ...host, ...patch(host) }, ALL_FILES_EXIST);
}

/** The problems as `code where field`, to compare whole lists. */
const keys = (problems: readonly Problem[]) => problems.map((p) => `${p.code} ${p.where} ${p.field}`);

function only(problems: readonly Problem[]): Problem {
    assert.equal(problems.length, 1, `expected exactly one problem, got:\n${show(problems)}`);
    return problems[0]!;
}

const none = (problems: readonly Problem[]) => assert.deepEqual(problems, [], show(problems));

describe("validateHost rules: names, image references, ports, volume paths, data folders, secrets", () => {
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
        validateHost({ ...empty, containers, dataVolume: { volumeId: FIXTURE_VOLUME_ID }, ...patch }, ALL_FILES_EXIST);
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

describe("validateHost rules: secret file owners, loose values, extra arguments, health checks, dependencies, one-shots, files", function () {
    this.timeout(30_000);

    describe("baseline", function () {
        it("accepts a one-container host as buildHost makes it", function () {
            none(check([testContainer("web")]));
        });
    });

    describe("secret file owners", function () {
        const withOwner = (owner: { uid?: unknown; gid?: unknown }) =>
            check([
                testContainer("web", { secretFiles: [{ secret: "tls-key", target: "/run/secrets/tls.key", ...loose<object>(owner) }] }),
            ]);

        it("accepts numeric ids from 0 to 2^32-2, and no ids at all", function () {
            none(withOwner({}));
            none(withOwner({ uid: 0, gid: 0 }));
            none(withOwner({ uid: 472, gid: 472 }));
            none(withOwner({ uid: 2 ** 32 - 2, gid: 2 ** 32 - 2 }));
        });

        it("refuses 2^32-1 (the kernel's 'no id'), a negative or fractional id, and a numeric string", function () {
            assert.deepEqual(keys(withOwner({ uid: 2 ** 32 - 1 })), ["SECRET_FILE_OWNER_INVALID web secretFiles[0].uid"]);
            assert.deepEqual(keys(withOwner({ uid: -1, gid: 1.5 })), [
                "SECRET_FILE_OWNER_INVALID web secretFiles[0].uid",
                "SECRET_FILE_OWNER_INVALID web secretFiles[0].gid",
            ]);
            assert.deepEqual(keys(withOwner({ gid: "5" })), ["SECRET_FILE_OWNER_INVALID web secretFiles[0].gid"]);
        });

        it("names a user id for uid and a group id for gid", function () {
            const [u, g] = withOwner({ uid: -1, gid: -2 });
            assert.equal(u!.message, "-1 is not a numeric user id");
            assert.equal(g!.message, "-2 is not a numeric group id");
        });
    });

    describe("values that are not strings", function () {
        it("says which type an env value has instead of a string", function () {
            const problems = check([testContainer("web", { env: loose({ A: null, B: 5 }) })]);
            assert.deepEqual(keys(problems), ['VALUE_NOT_STRING web env["A"]', 'VALUE_NOT_STRING web env["B"]']);
            assert.equal(problems[0]!.message, "the value is a null, not a string");
            assert.equal(problems[1]!.message, "the value is a number, not a string");
        });

        it("refuses a command argument that is not a string, by its index", function () {
            const p = only(check([testContainer("web", { command: loose(["run", 5]) })]));
            assert.deepEqual(
                [p.code, p.where, p.field, p.message, p.fix],
                ["VALUE_NOT_STRING", "web", "command[1]", "5 is not a string", "give each argument as a string"],
            );
        });

        it("refuses an extra argument that is not a string, by its index in extraArgs", function () {
            assert.deepEqual(keys(check([testContainer("web", { extraArgs: loose([5]) })])), ["VALUE_NOT_STRING web extraArgs[0]"]);
        });
    });

    describe("extra arguments", function () {
        it("reads a cluster of short flags that ends in -d as detaching", function () {
            const p = only(check([testContainer("web", { extraArgs: ["-itd"] })]));
            assert.equal(`${p.code} ${p.field}`, "EXTRA_ARG_MANAGED extraArgs[0]");
            assert.match(p.message, /sets -d,/);
        });

        it("does not read a short flag with an attached value as a cluster (-edb=1 sets env db=1)", function () {
            none(check([testContainer("web", { extraArgs: ["-edb=1"] })]));
        });
    });

    describe("health checks", function () {
        const health = (h: unknown) => check([testContainer("web", { healthCheck: loose(h) })]);

        it("refuses an unknown field, listing the fields there are", function () {
            const p = only(health({ command: "true", interval: 5 }));
            assert.deepEqual(
                [p.code, p.field, p.message, p.fix],
                [
                    "HEALTH_CHECK_INVALID",
                    "healthCheck.interval",
                    '"interval" is not a field of a health check, so it would be ignored',
                    "use one of: command, intervalSec, timeoutSec, retries, startPeriodSec, startIntervalSec, waitSec",
                ],
            );
        });

        it("refuses a command that is blank or not a string, with an example of one", function () {
            for (const command of ["   ", 5]) {
                const p = only(health({ command }));
                assert.deepEqual([p.code, p.field], ["HEALTH_COMMAND_INVALID", "healthCheck.command"]);
                assert.equal(p.message, `${JSON.stringify(command)} is not a shell command`);
                assert.match(p.fix, /exits 0 when the container works, e\.g\. "wget/);
            }
        });

        it("refuses the exec form even after leading blanks", function () {
            const p = only(health({ command: '  ["CMD", "true"]' }));
            assert.deepEqual([p.code, p.field], ["HEALTH_COMMAND_INVALID", "healthCheck.command"]);
            assert.match(p.message, /exec form/);
        });

        it("refuses a NUL in the command", function () {
            const p = only(health({ command: "true\0false" }));
            assert.deepEqual(
                [p.code, p.where, p.field, p.message, p.fix],
                [
                    "VALUE_HAS_NUL",
                    "web",
                    "healthCheck.command",
                    "the command contains a NUL character, which systemd cannot pass to a process",
                    "remove the NUL character",
                ],
            );
        });

        it("accepts the smallest seconds: a start period of 0, an interval of 1", function () {
            none(health({ command: "true", startPeriodSec: 0, intervalSec: 1, timeoutSec: 1, startIntervalSec: 1, waitSec: 1 }));
        });

        it("does not compare the wait with the default start period when the given start period is invalid", function () {
            // The start period given is wrong (reported); the default 30 s is not what the user meant.
            assert.deepEqual(keys(health({ command: "true", startPeriodSec: -1, waitSec: 5 })), [
                "SECONDS_INVALID web healthCheck.startPeriodSec",
            ]);
            // Left out, the default applies.
            assert.deepEqual(keys(health({ command: "true", waitSec: 5 })), ["HEALTH_WAIT_TOO_SHORT web healthCheck.waitSec"]);
        });
    });

    describe("dependencies", function () {
        it("reports a missing dependency entry as an unknown container", function () {
            const p = only(check([testContainer("web", { dependsOn: loose([undefined]) })]));
            assert.deepEqual([p.code, p.where, p.field], ["DEPENDENCY_UNKNOWN", "web", "dependsOn[0]"]);
        });

        it("follows the dependencies of the first of two containers with one name", function () {
            const a: ContainerUnit = testContainer("a");
            const b = testContainer("b", { dependsOn: [a] });
            const a1 = { ...a, dependsOn: [b] };
            const problems = validateHost({ ...fixtureHost([a1, b]), containers: [a1, b, testContainer("a")] }, ALL_FILES_EXIST);
            assert.ok(
                problems.some((p) => p.code === "DEPENDENCY_CYCLE" && p.message === "dependency cycle: a → b → a"),
                show(problems),
            );
        });

        it("findCycles does not count a self-edge as a cycle (DEPENDENCY_SELF reports it)", function () {
            assert.deepEqual(findCycles(["a"], new Map([["a", ["a"]]])), { cycles: [], truncated: false });
        });

        it("findCycles lists 50 cycles and says when there are more", function () {
            const hub = (n: number) => {
                const spokes = Array.from({ length: n }, (_, i) => `s${i}`);
                const edges = new Map<string, string[]>([["h", spokes], ...spokes.map((s): [string, string[]] => [s, ["h"]])]);
                return findCycles(["h", ...spokes], edges);
            };
            const fifty = hub(50);
            assert.deepEqual([fifty.cycles.length, fifty.truncated], [50, false]);
            const more = hub(51);
            assert.deepEqual([more.cycles.length, more.truncated], [50, true]);
        });
    });

    describe("host ports", function () {
        it("reports an invalid host port once, not as a clash between containers", function () {
            const problems = check([
                testContainer("a", { ports: [{ host: 0, container: 80 }] }),
                testContainer("b", { ports: [{ host: 0, container: 80 }] }),
            ]);
            assert.ok(!problems.some((p) => p.code === "PORT_CLASH"), show(problems));
            assert.ok(problems.length >= 2, show(problems));
        });
    });

    describe("required units", function () {
        it("requires the secrets unit of a container that takes secrets", function () {
            const problems = check([testContainer("web", { secretEnv: { TOKEN: "api-token" } })], (h) => ({
                oneshots: h.oneshots.filter((u) => u.name !== SECRETS_UNIT),
            }));
            assert.deepEqual(keys(problems), ["UNIT_REQUIRES_UNDEFINED web (unit requires)"]);
            assert.match(problems[0]!.message, new RegExp(`requires ${SECRETS_UNIT.replace(/\./g, "\\.")}`));
        });

        it("asks nothing of a container without an image or with a volume without a source", function () {
            const noImage = check([testContainer("web", { image: loose(undefined) })]);
            assert.ok(noImage.length >= 1 && noImage.every((p) => p.code !== "UNIT_REQUIRES_UNDEFINED"), show(noImage));
            for (const volumes of [[{ target: "/b" }], [{ target: "/a", source: { kind: "host", path: "/srv" } }, { target: "/b" }]]) {
                const problems = check([testContainer("web", { volumes: loose(volumes) })]);
                assert.ok(problems.length >= 1 && problems.every((p) => p.code !== "UNIT_REQUIRES_UNDEFINED"), show(problems));
            }
        });
    });

    describe("one-shot units", function () {
        const oneshot = (patch: Partial<Record<keyof OneShotUnit, unknown>>): OneShotUnit => ({
            kind: "oneshot",
            name: "setup.service",
            description: "set up",
            exec: [["/usr/bin/true"]],
            ...loose<Partial<OneShotUnit>>(patch),
        });
        const withOneshot = (u: OneShotUnit) => check([testContainer("web")], (h) => ({ oneshots: [...h.oneshots, u] }));

        it("accepts a unit name of 255 characters and refuses one of 256", function () {
            none(withOneshot(oneshot({ name: `${"a".repeat(247)}.service` })));
            assert.deepEqual(keys(withOneshot(oneshot({ name: `${"a".repeat(248)}.service` }))), [
                `ONESHOT_NAME_INVALID ${"a".repeat(248)}.service name`,
            ]);
        });

        it("refuses a name that is not a string, listing the unit types", function () {
            const p = only(withOneshot(oneshot({ name: ["setup.service"] })));
            assert.deepEqual([p.code, p.field], ["ONESHOT_NAME_INVALID", "name"]);
            assert.match(p.message, /\(\.service, \.socket, \.device, .*\.scope\)$/);
        });

        it("reports an unnamed unit by its index", function () {
            const problems = check([testContainer("web")], (h) => ({ oneshots: [...h.oneshots, oneshot({ name: "" })] }));
            const n = fixtureHost([testContainer("web")]).oneshots.length;
            assert.deepEqual(keys(problems), [`ONESHOT_NAME_INVALID oneshots[${n}] name`]);
        });

        it("suggests the .service name, replacing only the last suffix", function () {
            const p = only(withOneshot(oneshot({ name: "setup.disk.mount" })));
            assert.deepEqual([p.code, p.fix], ["ONESHOT_NOT_SERVICE", 'name it "setup.disk.service"']);
        });

        it("reports a missing exec once", function () {
            assert.deepEqual(keys(withOneshot(oneshot({ exec: undefined }))), ["ONESHOT_NO_EXEC setup.service exec"]);
        });

        it("refuses an exec entry that is missing or has a non-string argument", function () {
            assert.deepEqual(keys(withOneshot(oneshot({ exec: [undefined] }))), ["EXEC_NOT_ABSOLUTE setup.service exec[0][0]"]);
            assert.deepEqual(keys(withOneshot(oneshot({ exec: [["/usr/bin/true", 5]] }))), ["VALUE_NOT_STRING setup.service exec[0][1]"]);
        });

        it("refuses a unit reference that is not a string", function () {
            assert.deepEqual(keys(withOneshot(oneshot({ requires: [["docker.service"]] }))), [
                "UNIT_REFERENCE_INVALID setup.service requires[0]",
            ]);
        });
    });

    describe("files", function () {
        const file = (patch: Partial<Record<keyof WriteFile, unknown>>): WriteFile => ({
            path: "/opt/tool",
            permissions: "0644",
            content: "x",
            ...loose<Partial<WriteFile>>(patch),
        });
        const withFiles = (...files: WriteFile[]) => check([testContainer("web")], (h) => ({ files: [...h.files, ...files] }));
        const index = () => fixtureHost([testContainer("web")]).files.length;

        it("accepts a plain file", function () {
            none(withFiles(file({ owner: "core:core" })));
        });

        it("refuses the root, a path that is not a string, and reports a file without a path by its index", function () {
            assert.deepEqual(keys(withFiles(file({ path: "/" }))), ["FILE_PATH_INVALID / path"]);
            assert.deepEqual(keys(withFiles(file({ path: ["/opt/tool"] }))), ["FILE_PATH_INVALID /opt/tool path"]);
            assert.deepEqual(keys(withFiles(file({ path: "" }))), [`FILE_PATH_INVALID files[${index()}] path`]);
        });

        it("refuses /usr itself and what is under it", function () {
            assert.deepEqual(keys(withFiles(file({ path: "/usr" }))), ["FILE_UNDER_USR /usr path"]);
            assert.deepEqual(keys(withFiles(file({ path: "/usr/bin/x" }))), ["FILE_UNDER_USR /usr/bin/x path"]);
            none(withFiles(file({ path: "/usrx" })));
        });

        it("takes permissions as exactly four octal digits in a string", function () {
            for (const permissions of ["0644x", "x0644", ["0644"], 644])
                assert.deepEqual(
                    keys(withFiles(file({ permissions }))),
                    ["FILE_PERMISSIONS_INVALID /opt/tool permissions"],
                    String(permissions),
                );
        });

        it("takes an owner only as a string", function () {
            assert.deepEqual(keys(withFiles(file({ owner: ["root:root"] }))), ["FILE_OWNER_INVALID /opt/tool owner"]);
        });

        it("refuses content that is not a string, saying what it is", function () {
            for (const [content, what] of [
                [null, "null"],
                [5, "number"],
            ] as const) {
                const p = only(withFiles(file({ content })));
                assert.deepEqual(
                    [p.code, p.where, p.field, p.message, p.fix],
                    [
                        "VALUE_NOT_STRING",
                        "/opt/tool",
                        "content",
                        `the content is a ${what}, not a string`,
                        "give the file's text as a string",
                    ],
                );
            }
        });

        it("reports a second file without a path by its own index", function () {
            const problems = withFiles(file({ path: "" }), file({ path: "" }));
            const n = index();
            assert.ok(
                problems.some(
                    (p) =>
                        p.code === "FILE_PATH_DUPLICATE" &&
                        p.where === `files[${n + 1}]` &&
                        p.message.includes(`files[${n}] and files[${n + 1}]`),
                ),
                show(problems),
            );
        });
    });
});
