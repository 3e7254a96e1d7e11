// Rules of validateHost (units/validate.ts) that the other tests leave open: secret file owners,
// values that are not strings, extra arguments, health checks, dependency cycles, required units,
// one-shot units and files. Each case checks the problem's code, where and field (and the message
// or fix where the words are the contract), and its neighbour that must pass.
import { strict as assert } from "node:assert";
import { ContainerUnit, HostDefinition, OneShotUnit, WriteFile } from "../units/model";
import { Problem, formatProblem } from "../units/problems";
import { FileChecks, findCycles, validateHost } from "../units/validate";
import { SECRETS_UNIT } from "../units/layout";
import { fixtureHost, testContainer } from "./helpers/fixtures";

const allFiles: FileChecks = { artifactFileExists: () => true, imageFileExists: () => true };

const show = (problems: readonly Problem[]) => problems.map(formatProblem).join("\n") || "(no problems)";

/** Problems of a host of these containers, with whatever else the test changes in the host. */
function check(containers: readonly ContainerUnit[], patch: (h: HostDefinition) => Partial<HostDefinition> = () => ({})): Problem[] {
    const host = fixtureHost(containers);
    return validateHost({ ...host, ...patch(host) }, allFiles);
}

/** The problems as `code where field`, to compare whole lists. */
const keys = (problems: readonly Problem[]) => problems.map((p) => `${p.code} ${p.where} ${p.field}`);

function only(problems: readonly Problem[]): Problem {
    assert.equal(problems.length, 1, `expected exactly one problem, got:\n${show(problems)}`);
    return problems[0]!;
}

const none = (problems: readonly Problem[]) => assert.deepEqual(problems, [], show(problems));

/** An invalid value where the type says otherwise, as a definition written in plain JavaScript could give. */
const bad = <T>(v: unknown): T => v as T;

describe("validateHost rules (units/validate.ts, in-process, part B)", function () {
    this.timeout(30_000);

    describe("baseline", function () {
        it("accepts a one-container host as buildHost makes it", function () {
            none(check([testContainer("web")]));
        });
    });

    describe("secret file owners", function () {
        const withOwner = (owner: { uid?: unknown; gid?: unknown }) =>
            check([testContainer("web", { secretFiles: [{ secret: "tls-key", target: "/run/secrets/tls.key", ...bad<object>(owner) }] })]);

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
            const problems = check([testContainer("web", { env: bad({ A: null, B: 5 }) })]);
            assert.deepEqual(keys(problems), ['VALUE_NOT_STRING web env["A"]', 'VALUE_NOT_STRING web env["B"]']);
            assert.equal(problems[0]!.message, "the value is a null, not a string");
            assert.equal(problems[1]!.message, "the value is a number, not a string");
        });

        it("refuses a command argument that is not a string, by its index", function () {
            const p = only(check([testContainer("web", { command: bad(["run", 5]) })]));
            assert.deepEqual(
                [p.code, p.where, p.field, p.message, p.fix],
                ["VALUE_NOT_STRING", "web", "command[1]", "5 is not a string", "give each argument as a string"],
            );
        });

        it("refuses an extra argument that is not a string, by its index in extraArgs", function () {
            assert.deepEqual(keys(check([testContainer("web", { extraArgs: bad([5]) })])), ["VALUE_NOT_STRING web extraArgs[0]"]);
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
        const health = (h: unknown) => check([testContainer("web", { healthCheck: bad(h) })]);

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
            const p = only(check([testContainer("web", { dependsOn: bad([undefined]) })]));
            assert.deepEqual([p.code, p.where, p.field], ["DEPENDENCY_UNKNOWN", "web", "dependsOn[0]"]);
        });

        it("follows the dependencies of the first of two containers with one name", function () {
            const a: ContainerUnit = testContainer("a");
            const b = testContainer("b", { dependsOn: [a] });
            const a1 = { ...a, dependsOn: [b] };
            const problems = validateHost({ ...fixtureHost([a1, b]), containers: [a1, b, testContainer("a")] }, allFiles);
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
            const noImage = check([testContainer("web", { image: bad(undefined) })]);
            assert.ok(noImage.length >= 1 && noImage.every((p) => p.code !== "UNIT_REQUIRES_UNDEFINED"), show(noImage));
            for (const volumes of [[{ target: "/b" }], [{ target: "/a", source: { kind: "host", path: "/srv" } }, { target: "/b" }]]) {
                const problems = check([testContainer("web", { volumes: bad(volumes) })]);
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
            ...bad<Partial<OneShotUnit>>(patch),
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
            ...bad<Partial<WriteFile>>(patch),
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
