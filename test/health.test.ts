// Health checks in the model (units/health.ts) and the units around them: defaults written out, the
// wait budget Docker's semantics imply, validation, and the ready unit (its budget, its environment,
// and that systemd orders it after none of the containers it watches).
import { usesData } from "../units/dataVolume";
import { strict as assert } from "node:assert";
import { ContainerUnit, HealthCheck } from "../units/model";
import { HEALTH_DEFAULTS, HEALTH_WAIT_MARGIN_SEC, healthFlags, healthSettings, healthWaitSec } from "../units/health";
import { READY_MARGIN_SEC, readyBudgetSec, readyContainersFile, readyUnit } from "../units/host";
import { READY_CONTAINERS_FILE, READY_SCRIPT } from "../units/layout";
import { BOOT_STATUS_FILE, READY_UNIT } from "../units/report";
import { CONTAINER_TIMEOUT_START_SEC } from "../units/systemd";
import { orderedUnits } from "../units/render";
import { validateHost } from "../units/validate";
import { ALL_FILES_EXIST, fixtureHost, seedContainers } from "./helpers/fixtures";
import { dumpUnits } from "./helpers/systemd";

const app = (name: string, patch: Partial<ContainerUnit> = {}): ContainerUnit => ({
    kind: "container",
    name,
    image: { kind: "registry", ref: "nginx:1.27.2-alpine" },
    ...patch,
});
const check = (command: string, patch: Partial<HealthCheck> = {}): HealthCheck => ({ command, ...patch });

describe("health checks (units/health.ts)", () => {
    it("write every Docker setting out, the project's defaults where the definition has none", () => {
        assert.deepEqual(healthFlags(check("true")), [
            ["--health-cmd", "true"],
            ["--health-interval", `${HEALTH_DEFAULTS.intervalSec}s`],
            ["--health-timeout", `${HEALTH_DEFAULTS.timeoutSec}s`],
            ["--health-retries", String(HEALTH_DEFAULTS.retries)],
            ["--health-start-period", `${HEALTH_DEFAULTS.startPeriodSec}s`],
            ["--health-start-interval", `${HEALTH_DEFAULTS.startIntervalSec}s`],
        ]);
        assert.deepEqual(
            healthFlags(check("x", { intervalSec: 7, timeoutSec: 3, retries: 5, startPeriodSec: 0, startIntervalSec: 1 })).slice(1),
            [
                ["--health-interval", "7s"],
                ["--health-timeout", "3s"],
                ["--health-retries", "5"],
                ["--health-start-period", "0s"],
                ["--health-start-interval", "1s"],
            ],
        );
    });

    it("wait as long as Docker may take to call the container unhealthy, plus a margin, unless the definition says", () => {
        // Docker decides at the latest start period + retries × (interval + timeout) after the start.
        assert.equal(
            healthWaitSec(check("x", { startPeriodSec: 120, retries: 3, intervalSec: 10, timeoutSec: 5 })),
            120 + 45 + HEALTH_WAIT_MARGIN_SEC,
        );
        assert.equal(healthWaitSec(check("x")), HEALTH_DEFAULTS.startPeriodSec + 3 * 15 + HEALTH_WAIT_MARGIN_SEC);
        assert.equal(healthWaitSec(check("x", { waitSec: 600 })), 600);
        assert.equal(healthSettings(check("x", { waitSec: 600 })).startPeriodSec, HEALTH_DEFAULTS.startPeriodSec);
    });

    describe("validation", () => {
        const problems = (c: ContainerUnit) => validateHost(fixtureHost([c]), ALL_FILES_EXIST);

        it("accepts every health check of the default host, and a minimal one", () => {
            assert.deepEqual(validateHost(fixtureHost(), ALL_FILES_EXIST), []);
            assert.deepEqual(problems(app("web", { healthCheck: check("wget -q -O /dev/null http://127.0.0.1/") })), []);
        });

        it("reports every bad field at once, each with its code", () => {
            const bad = {
                command: "",
                intervalSec: 0,
                timeoutSec: -1,
                retries: 1.5,
                startPeriodSec: -5,
                startIntervalSec: "2",
                waitSec: 0,
                interval: 10,
            };
            const got = problems(app("web", { healthCheck: bad as unknown as HealthCheck }));
            assert.deepEqual(
                got.map((p) => `${p.code} ${p.field}`),
                [
                    "HEALTH_CHECK_INVALID healthCheck.interval",
                    "HEALTH_COMMAND_INVALID healthCheck.command",
                    "SECONDS_INVALID healthCheck.intervalSec",
                    "SECONDS_INVALID healthCheck.timeoutSec",
                    "SECONDS_INVALID healthCheck.startIntervalSec",
                    "SECONDS_INVALID healthCheck.startPeriodSec",
                    "SECONDS_INVALID healthCheck.waitSec",
                    "HEALTH_RETRIES_INVALID healthCheck.retries",
                ],
            );
        });

        it("refuses a wait that ends within the start period, the default one included", () => {
            const [p] = problems(app("web", { healthCheck: check("true", { waitSec: HEALTH_DEFAULTS.startPeriodSec }) }));
            assert.equal(p?.code, "HEALTH_WAIT_TOO_SHORT");
            assert.deepEqual(problems(app("web", { healthCheck: check("true", { waitSec: HEALTH_DEFAULTS.startPeriodSec + 1 }) })), []);
        });

        it("refuses --health-* flags in extraArgs, whatever their form", () => {
            for (const extra of [["--health-cmd", "true"], ["--health-interval=5s"], ["--health-start-period", "1s"]]) {
                const got = problems(app("web", { extraArgs: extra }));
                assert.deepEqual(
                    got.map((p) => p.code),
                    ["EXTRA_ARG_MANAGED"],
                    extra.join(" "),
                );
            }
        });
    });
});

describe("the ready unit (coreos-containers-ready.service)", () => {
    it("budgets a first fetch plus the longest chain of health waits along dependsOn", () => {
        const db = app("db", { healthCheck: check("x", { waitSec: 100 }) });
        const api = app("api", { healthCheck: check("x", { waitSec: 40 }), dependsOn: [db] });
        const cache = app("cache", { healthCheck: check("x", { waitSec: 200 }) });
        const web = app("web", { healthCheck: check("x", { waitSec: 10 }), dependsOn: [api, cache] });
        const plain = app("plain", { dependsOn: [web] });
        // web after cache (200) beats web after api after db (150); plain adds nothing: no health check.
        assert.equal(readyBudgetSec([db, api, cache, web, plain]), CONTAINER_TIMEOUT_START_SEC + 210);
        assert.equal(readyBudgetSec([]), CONTAINER_TIMEOUT_START_SEC);
        // A cycle (validation reports it) does not hang the budget.
        const a: { -readonly [K in keyof ContainerUnit]: ContainerUnit[K] } = app("a", { healthCheck: check("x", { waitSec: 5 }) });
        const b = app("b", { healthCheck: check("x", { waitSec: 7 }), dependsOn: [a] });
        a.dependsOn = [b];
        assert.equal(readyBudgetSec([a, b]), CONTAINER_TIMEOUT_START_SEC + 12);
    });

    it("runs the ready script with its budget, the file of containers and what each reports when up, and the status file", () => {
        const containers = [app("db", { healthCheck: check("x", { waitSec: 100 }) }), app("cron")];
        const unit = readyUnit(containers, ["provision.service", "coreos-containers-secrets.service"]);
        assert.equal(unit.name, READY_UNIT);
        assert.deepEqual(unit.exec, [[READY_SCRIPT]]);
        assert.deepEqual(unit.environment, {
            READY_BUDGET_SECONDS: String(CONTAINER_TIMEOUT_START_SEC + 100),
            READY_CONTAINERS_FILE,
            READY_PREREQUISITES: "provision.service coreos-containers-secrets.service",
            READY_STATUS_FILE: BOOT_STATUS_FILE,
        });
        assert.equal(unit.timeoutStartSec, CONTAINER_TIMEOUT_START_SEC + 100 + READY_MARGIN_SEC);
        assert.deepEqual(readyContainersFile(containers), {
            path: READY_CONTAINERS_FILE,
            permissions: "0644",
            owner: "root:root",
            content: "db healthy\ncron running\n",
        });
        assert.ok(
            fixtureHost(containers).files.some((f) => f.path === READY_CONTAINERS_FILE),
            "the host writes it",
        );
    });

    it("keeps every line of its unit short however many containers there are (Ignition refuses a unit line of 2,048 bytes)", () => {
        const many = Array.from({ length: 500 }, (_, i) => app(`app-${i}`, { healthCheck: check("true") }));
        const text = orderedUnits(fixtureHost(many)).find((u) => u.name === READY_UNIT)!.content;
        assert.ok(Math.max(...text.split("\n").map((l) => l.length)) < 200, "no long line");
    });

    it("is started at boot and ordered after none of the containers it watches (systemd's own view)", function () {
        this.timeout(30_000);
        const dump = dumpUnits(orderedUnits(fixtureHost()));
        const ready = dump.units.get(READY_UNIT)!;
        const ordered = [...(ready.properties.get("After") ?? []), ...(ready.properties.get("Requires") ?? [])].map(
            (v) => v.split(" ")[0]!,
        );
        assert.deepEqual(
            ordered.filter((u) => u.startsWith("docker-") || u.startsWith("image-")),
            [],
        );
        assert.deepEqual(ready.properties.get("Type"), ["oneshot"]);
        const env = (ready.properties.get("Environment") ?? []).join("\n");
        assert.match(env, new RegExp(`READY_CONTAINERS_FILE=${READY_CONTAINERS_FILE}`));
        const listed = fixtureHost().files.find((f) => f.path === READY_CONTAINERS_FILE)!.content;
        assert.equal(listed, seedContainers.map((c) => `${c.name} healthy${usesData(c) ? " data" : ""}\n`).join(""));
    });
});
