// The host's one-shot units and files as pure data, checked in-process (so a mutation of units/ shows):
// the network, provision, ready, report and handover units, the scripts and files the host gets and
// their modes, the stack's overrides, the secret paths and how problems are printed.
import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildHost, handoverUnit, HANDOVER_UNIT, networkUnit, readyBudgetSec, readyUnit } from "../units/host";
import { hostScriptPath, hostScripts, provisionUnit, PROVISION_RETRY_SECONDS, PROVISION_SCRIPT, shippedScript } from "../units/provision";
import { READY_UNIT, REPORT_RETRY_SECONDS, REPORT_SCRIPT, REPORT_UNIT, reportKey, reportUnit } from "../units/report";
import { applyOverrides } from "../units/stack";
import {
    ARTIFACT_ROOT,
    BIN_DIR,
    DOCKER,
    NETWORK_NAME,
    READY_SCRIPT,
    SECRETS_UNIT,
    SECRETS_MANIFEST,
    secretEnvFile,
    secretFilePath,
} from "../units/layout";
import { DATA_MOUNT_UNIT } from "../units/dataVolume";
import { CONTAINER_TIMEOUT_START_SEC, renderOneShotUnit } from "../units/systemd";
import { formatProblem, Problem, ValidationError } from "../units/problems";
import type { ContainerUnit, HealthCheck, OneShotUnit } from "../units/model";
import { FIXTURE_ARTIFACT, FIXTURE_VOLUME_ID, HOST_SCRIPTS, testContainer as container } from "./helpers/fixtures";

const DATA_VOLUME = (name: string): Partial<ContainerUnit> => ({
    volumes: [{ source: { kind: "data", path: name, owner: { uid: 0, gid: 0 } }, target: "/data" }],
});

describe("host units (units/host.ts, provision.ts, report.ts: in-process)", function () {
    describe("network unit", function () {
        let tmp: string;
        before(function () {
            tmp = fs.mkdtempSync(path.join(os.tmpdir(), "host-units-"));
            // A stand-in for docker: logs its arguments; `network inspect` fails when INSPECT_FAILS is set.
            fs.writeFileSync(
                path.join(tmp, "docker"),
                '#!/bin/sh\necho "$*" >>"$LOG"\nif [ "$1 $2" = "network inspect" ] && [ -n "$INSPECT_FAILS" ]; then exit 1; fi\nexit 0\n',
                { mode: 0o755 },
            );
        });
        after(function () {
            fs.rmSync(tmp, { recursive: true, force: true });
        });

        function runNetworkUnit(inspectFails: boolean): string[] {
            const log = path.join(tmp, `log-${String(inspectFails)}`);
            fs.rmSync(log, { force: true });
            const unit = networkUnit();
            assert.equal(unit.exec.length, 1);
            const [program, ...args] = unit.exec[0]!.map((w) => w.split(DOCKER).join(path.join(tmp, "docker")));
            execFileSync(program!, args, { env: { PATH: "/usr/bin:/bin", LOG: log, ...(inspectFails ? { INSPECT_FAILS: "1" } : {}) } });
            return fs.readFileSync(log, "utf8").trim().split("\n");
        }

        it("creates the network only when docker network inspect fails", function () {
            assert.deepEqual(runNetworkUnit(true), [`network inspect ${NETWORK_NAME}`, `network create ${NETWORK_NAME}`]);
        });

        it("leaves an existing network alone (idempotent across reboots)", function () {
            assert.deepEqual(runNetworkUnit(false), [`network inspect ${NETWORK_NAME}`]);
        });

        it("requires docker.service and names the network in its description", function () {
            const unit = networkUnit();
            assert.deepEqual(unit.requires, ["docker.service"]);
            assert.match(unit.description, new RegExp(`network ${NETWORK_NAME}`));
        });
    });

    describe("provision unit and scripts", function () {
        it("the provision unit runs the provision script after network-online.target with the artifact's location", function () {
            const unit = provisionUnit(FIXTURE_ARTIFACT);
            assert.deepEqual(unit.wants, ["network-online.target"]);
            assert.deepEqual(unit.exec, [[PROVISION_SCRIPT]]);
            assert.deepEqual(unit.environment, {
                ARTIFACT_BUCKET: FIXTURE_ARTIFACT.bucket,
                ARTIFACT_KEY: FIXTURE_ARTIFACT.key,
                ARTIFACT_SHA256: FIXTURE_ARTIFACT.sha256,
                ARTIFACT_REGION: FIXTURE_ARTIFACT.region,
                ARTIFACT_ROOT,
                PROVISION_MAX_SECONDS: String(PROVISION_RETRY_SECONDS),
            });
            assert.match(unit.description, /artifact/);
        });

        it("a script starting with #! is installed executable (0755) without its .sh suffix", function () {
            assert.deepEqual(hostScriptPath("provision.sh", "#!/bin/bash\n"), { path: `${BIN_DIR}/provision`, permissions: "0755" });
            // Only the final .sh goes.
            assert.deepEqual(hostScriptPath("x.shim.sh", "#!/bin/bash\n"), { path: `${BIN_DIR}/x.shim`, permissions: "0755" });
        });

        it("a sourced library (no #!) keeps its name and is not executable (0644)", function () {
            assert.deepEqual(hostScriptPath("aws.sh", "set -eu\n"), { path: `${BIN_DIR}/aws.sh`, permissions: "0644" });
        });

        it("a shipped script loses its whole-line comments, keeps the #! line and every line of code", function () {
            const text = "#!/bin/bash\n# a comment\n  # an indented comment\necho a # not a whole-line comment\nx=a#b\n#!/not/first\n";
            assert.equal(shippedScript(text), "#!/bin/bash\necho a # not a whole-line comment\nx=a#b\n");
        });

        it("a first line that is a comment but not #! is dropped too", function () {
            assert.equal(shippedScript("# header\necho hi"), "echo hi");
        });

        it("the host's scripts are sorted by their path on the host, owned by root", function () {
            const files = hostScripts({
                "b-x.sh": "#!/bin/sh\nb-x",
                "b.sh": "#!/bin/sh\nb",
                "c-x.sh": "#!/bin/sh\nc-x",
                "c.sh": "#!/bin/sh\nc",
                "a.sh": "lib",
            });
            assert.deepEqual(
                files.map((f) => [f.path, f.permissions, f.owner, f.content]),
                [
                    [`${BIN_DIR}/a.sh`, "0644", "root:root", "lib"],
                    [`${BIN_DIR}/b`, "0755", "root:root", "#!/bin/sh\nb"],
                    [`${BIN_DIR}/b-x`, "0755", "root:root", "#!/bin/sh\nb-x"],
                    [`${BIN_DIR}/c`, "0755", "root:root", "#!/bin/sh\nc"],
                    [`${BIN_DIR}/c-x`, "0755", "root:root", "#!/bin/sh\nc-x"],
                ],
            );
        });
    });

    describe("ready budget", function () {
        const hc = (waitSec: number): HealthCheck => ({ command: "true", waitSec });

        it("a container without a well-formed health check adds nothing to the budget (validation reports it)", function () {
            const broken = [
                container("null-check", { healthCheck: null as unknown as HealthCheck }),
                container("negative", { healthCheck: hc(-100) }),
                container("infinite", { healthCheck: hc(Infinity) }),
                container("nan", { healthCheck: hc(NaN) }),
            ];
            assert.equal(readyBudgetSec(broken), CONTAINER_TIMEOUT_START_SEC);
        });

        it("a negative health wait counts as 0 along a dependsOn chain", function () {
            const a = container("a", { healthCheck: hc(50) });
            const negative = container("negative", { healthCheck: hc(-100), dependsOn: [a] });
            const d = container("d", { healthCheck: hc(10), dependsOn: [negative] });
            assert.equal(readyBudgetSec([a, negative, d]), CONTAINER_TIMEOUT_START_SEC + 60);
        });

        it("a missing dependency entry does not stop the budget (validation reports it)", function () {
            const c = container("a", { healthCheck: hc(50), dependsOn: [undefined as unknown as ContainerUnit] });
            assert.equal(readyBudgetSec([c]), CONTAINER_TIMEOUT_START_SEC + 50);
        });

        it("adds up the health waits along the longest dependsOn chain", function () {
            const a = container("a", { healthCheck: hc(50) });
            const b = container("b", { healthCheck: hc(70), dependsOn: [a] });
            const c = container("c", { healthCheck: hc(10) });
            assert.equal(readyBudgetSec([a, b, c]), CONTAINER_TIMEOUT_START_SEC + 120);
        });
    });

    describe("ready, report and handover units", function () {
        it("the ready unit names the data disk's units only on a host with a data disk", function () {
            const without = readyUnit([container("a")], ["x.service"]);
            const withData = readyUnit([container("a")], ["x.service"], true);
            assert.equal(Object.keys(without.environment ?? {}).filter((k) => k.startsWith("READY_DATA_")).length, 0);
            assert.deepEqual(
                Object.keys(withData.environment ?? {})
                    .filter((k) => k.startsWith("READY_DATA_"))
                    .sort(),
                ["READY_DATA_MOUNT", "READY_DATA_STATUS", "READY_DATA_UNIT"],
            );
            assert.equal(withData.environment?.READY_DATA_MOUNT, DATA_MOUNT_UNIT);
            assert.match(without.description, /healthy/);
        });

        it("the report key is status/<user-data sha256>.json", function () {
            assert.equal(reportKey("ab".repeat(32)), `status/${"ab".repeat(32)}.json`);
        });

        it("the report unit runs after the ready unit and uploads to the artifact's bucket and region", function () {
            const unit = reportUnit({ bucket: "bucket-1", region: "eu-central-1" });
            assert.deepEqual(unit.wants, [READY_UNIT]);
            assert.deepEqual(unit.environment, { REPORT_BUCKET: "bucket-1", REPORT_REGION: "eu-central-1" });
            assert.deepEqual(unit.exec, [[REPORT_SCRIPT]]);
            assert.match(renderOneShotUnit(unit).content, /^Description=\S.*report/im);
        });

        it("the handover unit runs the ready script then the report, after the data mount and the first report", function () {
            const containers = [container("a", { healthCheck: { command: "true", waitSec: 40 } })];
            const target = { bucket: "bucket-1", region: "eu-central-1" };
            const ready = readyUnit(containers, ["x.service"], true);
            const unit = handoverUnit(containers, ["x.service"], target);
            assert.equal(unit.name, HANDOVER_UNIT);
            assert.deepEqual(unit.wants, [DATA_MOUNT_UNIT, REPORT_UNIT]);
            assert.equal(unit.environment?.READY_DATA_MOUNT, DATA_MOUNT_UNIT, "the second ready run counts the data disk");
            assert.deepEqual(unit.environment, { ...ready.environment, REPORT_BUCKET: "bucket-1", REPORT_REGION: "eu-central-1" });
            assert.deepEqual(unit.exec, [["/bin/sh", "-c", `${READY_SCRIPT}; exec ${REPORT_SCRIPT}`]]);
            assert.equal(unit.timeoutStartSec, (ready.timeoutStartSec ?? 0) + REPORT_RETRY_SECONDS);
            assert.match(unit.description, /data disk/);
        });
    });

    describe("buildHost: which units and files a host gets", function () {
        const host = (containers: ContainerUnit[], withVolume = false) =>
            buildHost({
                containers,
                artifact: FIXTURE_ARTIFACT,
                sshAuthorizedKeys: [],
                scripts: HOST_SCRIPTS,
                secrets: { token: { name: "/p/s/token", version: 1 } },
                ...(withVolume ? { dataVolume: { volumeId: FIXTURE_VOLUME_ID } } : {}),
            });
        const names = (units: readonly OneShotUnit[]) => units.map((u) => u.name);

        it("a host where only some containers take secrets gets the secrets unit, script and manifest", function () {
            const h = host([container("plain"), container("secret", { secretEnv: { TOKEN: "token" } })]);
            assert.ok(names(h.oneshots).includes(SECRETS_UNIT));
            const paths = h.files.map((f) => f.path);
            assert.ok(paths.includes(`${BIN_DIR}/secrets`));
            assert.ok(paths.includes(SECRETS_MANIFEST));
        });

        it("a host without secrets gets no secrets unit, script or manifest, but every other script", function () {
            const h = host([container("plain")]);
            assert.ok(!names(h.oneshots).includes(SECRETS_UNIT));
            const paths = h.files.map((f) => f.path);
            assert.ok(!paths.includes(`${BIN_DIR}/secrets`));
            assert.ok(!paths.includes(SECRETS_MANIFEST));
            assert.ok(!paths.includes(`${BIN_DIR}/data-volume`));
            assert.ok(paths.includes(PROVISION_SCRIPT));
            assert.ok(paths.includes(REPORT_SCRIPT));
            assert.ok(paths.includes(`${BIN_DIR}/aws.sh`));
        });

        it("a host with a data disk ships the data-volume script and the handover unit", function () {
            const h = host([container("db", DATA_VOLUME("db"))], true);
            assert.ok(h.files.map((f) => f.path).includes(`${BIN_DIR}/data-volume`));
            assert.ok(names(h.oneshots).includes(HANDOVER_UNIT));
        });
    });
});

describe("stack overrides (units/stack.ts)", function () {
    const web = container("web", {
        env: { A: "1", B: "2" },
        ports: [
            { host: 8080, container: 80 },
            { host: 9090, container: 90, protocol: "udp" },
        ],
    });

    it("an env override is merged over the definition's env", function () {
        const [c] = applyOverrides([web], { web: { env: { B: "3", C: "4" } } });
        assert.deepEqual(c!.env, { A: "1", B: "3", C: "4" });
    });

    it("an image override replaces the image and leaves the rest", function () {
        const image = { kind: "registry" as const, ref: "example.org/other:2" };
        const [c] = applyOverrides([web], { web: { image } });
        assert.deepEqual(c, { ...web, image });
    });

    it("an expose by port/tcp applies to a port without a protocol; a port no key names is left as it is", function () {
        const [c] = applyOverrides([web], { web: { expose: { "8080/tcp": "internet" } } });
        assert.deepStrictEqual(c!.ports, [{ host: 8080, container: 80, expose: "internet" }, web.ports![1]]);
    });
});

describe("secret paths and problem text (units/layout.ts, units/problems.ts)", function () {
    it("secret env files and secret files live under the tmpfs secrets directory", function () {
        assert.equal(secretEnvFile("web"), "/run/coreos-containers/secrets/web.env");
        assert.equal(secretFilePath("web", 2, "tls-key"), "/run/coreos-containers/secrets/web/2-tls-key");
    });

    const p = (code: string): Problem =>
        ({ code, where: "container web", field: "ports[0].host", message: "bad", fix: "change it" }) as Problem;

    it("a ValidationError counts its problems and lists each on its own line", function () {
        const one = new ValidationError([p("A")], "the stack");
        assert.equal(one.name, "ValidationError");
        assert.equal(one.message, `1 problem in the stack:\n  - ${formatProblem(p("A"))}`);
        const two = new ValidationError([p("A"), p("B")]);
        assert.equal(two.message, `2 problems in the host definition:\n  - ${formatProblem(p("A"))}\n  - ${formatProblem(p("B"))}`);
    });
});
