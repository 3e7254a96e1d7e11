// The host scripts behind health-gated starts, run for real (bash, jq, coreutils) against stand-ins for
// `docker`, `systemctl` and `journalctl` that answer from files and record their calls:
// - wait-healthy (ExecStartPost=): healthy → success; unhealthy or the wait budget → one <3> journal line;
// - wait-dependencies (ExecStartPre=): waits while a dependency starts, fails when it stays down;
// - ensure-image: retries a failed pull with backoff, reports every failure, gives up loudly;
// - ready: decides ready / failed / timeout and writes boot.json in its documented shape.
// The real boot (test/boot.test.ts) runs the same scripts under systemd; these cover the branches a
// boot does not reach cheaply.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PROJECT_DIR } from "./helpers/fixtures";

const SCRIPTS = path.join(PROJECT_DIR, "host-scripts");

// Each stand-in reads its answers from STUB/<name>: a file of lines, one per call, the last one
// repeated; it appends each call's argv to STUB/calls.
const NEXT = `next() { local f=$STUB/$1 c n; [ -f "$f" ] || return 1; c=$(cat "$f.n" 2>/dev/null || echo 0); n=$(wc -l <"$f")
  ((c + 1 < n)) && echo $((c + 1)) >"$f.n"; sed -n "$((c + 1))p" "$f"; }`;

const DOCKER_STUB = `#!/bin/bash
${NEXT}
echo "docker $*" >>"$STUB/calls"
case "$1 \${2:-}" in
"inspect --format")
  case "$3" in
  "{{json .State.Health}}") cat "$STUB/json-$4" 2>/dev/null || echo null ;;
  *) s=$(next "health-$4") || s=missing
    [ "$s" != missing ] || { echo "Error: No such object: $4" >&2; exit 1; }
    [ "$s" != none ] || s=""
    echo "$s" ;;
  esac ;;
"image inspect") grep -Fxq -- "$3" "$STUB/images" 2>/dev/null || { echo "Error: No such image: $3" >&2; exit 1; } ;;
"pull "*) r=$(next pull) || r=ok
  [ "$r" = ok ] || { echo "Error response from daemon: $r" >&2; exit 1; }
  echo "$2" >>"$STUB/images" ;;
*) echo "docker stub: unexpected $*" >&2; exit 2 ;;
esac
`;

const SYSTEMCTL_STUB = `#!/bin/bash
${NEXT}
echo "systemctl $*" >>"$STUB/calls"
case "$1" in
is-active) a=$(next "active-$2") || a=inactive; echo "$a"; [ "$a" = active ] ;;
show) shift 3; first=1
  for u in "$@"; do
    [ $first = 1 ] || echo
    first=0
    cat "$STUB/show-$u" 2>/dev/null || printf 'ActiveState=inactive\\nSubState=dead\\nResult=success\\nNRestarts=0\\nInactiveExitTimestampMonotonic=0\\nActiveEnterTimestampMonotonic=0\\n'
  done ;;
*) echo "systemctl stub: unexpected $*" >&2; exit 2 ;;
esac
`;

const JOURNALCTL_STUB = `#!/bin/bash
echo "journalctl $*" >>"$STUB/calls"
for ((i = 1; i <= 25; i++)); do echo "[ $i.000000] line $i of $*"; done
`;

interface Run {
    readonly status: number | null;
    readonly stdout: string;
    readonly stderr: string;
    readonly calls: string[];
    readonly ms: number;
}

let stub = "";
let bin = "";

/** Files of answers for the stand-ins (name → lines). */
function answers(files: Readonly<Record<string, readonly string[] | string>>): void {
    for (const [name, lines] of Object.entries(files))
        fs.writeFileSync(path.join(stub, name), typeof lines === "string" ? lines : lines.map((l) => l + "\n").join(""));
}

function runScript(script: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Run {
    const t0 = Date.now();
    const r = spawnSync("bash", [path.join(SCRIPTS, script), ...args], {
        encoding: "utf8",
        timeout: 20_000,
        env: {
            PATH: `${bin}:/usr/bin:/bin`,
            LANG: "C.UTF-8",
            STUB: stub,
            DOCKER: path.join(bin, "docker"),
            HEALTH_POLL_SECONDS: "0.05",
            ...env,
        },
    });
    if (r.error) throw r.error;
    const calls = fs.existsSync(path.join(stub, "calls"))
        ? fs.readFileSync(path.join(stub, "calls"), "utf8").split("\n").filter(Boolean)
        : [];
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls, ms: Date.now() - t0 };
}

const show = (active: string, sub: string, result: string, restarts: number, exitUs: number, enterUs: number) =>
    `ActiveState=${active}\nSubState=${sub}\nResult=${result}\nNRestarts=${restarts}\n` +
    `InactiveExitTimestampMonotonic=${exitUs}\nActiveEnterTimestampMonotonic=${enterUs}\n`;

describe("health-gate host scripts, against stand-ins for docker, systemctl and journalctl", function () {
    this.timeout(30_000);

    beforeEach(() => {
        stub = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-containers-health-"));
        bin = path.join(stub, "bin");
        fs.mkdirSync(bin);
        for (const [name, text] of [
            ["docker", DOCKER_STUB],
            ["systemctl", SYSTEMCTL_STUB],
            ["journalctl", JOURNALCTL_STUB],
        ] as const) {
            fs.writeFileSync(path.join(bin, name), text);
            fs.chmodSync(path.join(bin, name), 0o755);
        }
    });
    afterEach(() => fs.rmSync(stub, { recursive: true, force: true }));

    describe("wait-healthy NAME SECONDS (ExecStartPost=)", () => {
        it("returns once Docker reports the container healthy, treating a container not created yet as not yet", () => {
            answers({ "health-web": ["missing", "starting", "starting", "healthy"] });
            const r = runScript("wait-healthy.sh", ["web", "30"]);
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /^web is healthy after \d+s$/m);
            assert.equal(r.calls.filter((c) => c === "docker inspect --format {{.State.Health.Status}} web").length, 4);
        });

        it("fails at once when Docker reports it unhealthy, with one <3> journal line naming it, the status and the last check's output", () => {
            answers({
                "health-web": ["starting", "unhealthy"],
                "json-web": JSON.stringify({
                    Status: "unhealthy",
                    FailingStreak: 3,
                    Log: [
                        { Start: "a", End: "b", ExitCode: 0, Output: "ok\n" },
                        { Start: "c", End: "d", ExitCode: 7, Output: "curl: (7) Failed to connect\nto 127.0.0.1 port 80\n" },
                    ],
                }),
            });
            const r = runScript("wait-healthy.sh", ["web", "30"]);
            assert.equal(r.status, 1);
            const lines = r.stdout.trimEnd().split("\n");
            assert.equal(lines.length, 1, r.stdout);
            assert.match(
                lines[0]!,
                /^<3>web is not healthy: Docker reports it unhealthy after \d+s; last check: exit 7: curl: \(7\) Failed to connect to 127\.0\.0\.1 port 80 ?$/,
            );
            assert.ok(r.ms < 5_000, `it did not wait for its budget (${r.ms} ms)`);
        });

        it("fails when its wait budget passes while Docker still says starting", () => {
            answers({ "health-web": ["starting"], "json-web": '{"Status":"starting","FailingStreak":1,"Log":[]}' });
            const r = runScript("wait-healthy.sh", ["web", "1"]);
            assert.equal(r.status, 1);
            assert.equal(r.stdout, "<3>web is not healthy: still starting after 1s, its wait budget; last check: none\n");
            assert.ok(r.ms >= 900, `it waited ${r.ms} ms`);
        });
    });

    describe("wait-dependencies UNIT… (ExecStartPre=)", () => {
        it("returns at once when every dependency is active and healthy, or active without a health check", () => {
            answers({
                "active-docker-db.service": ["active"],
                "health-db": ["healthy"],
                "active-docker-cache.service": ["active"],
                "health-cache": ["none"],
            });
            const r = runScript("wait-dependencies.sh", ["docker-db.service", "docker-cache.service"]);
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.calls, [
                "systemctl is-active docker-db.service",
                "docker inspect --format {{if .State.Health}}{{.State.Health.Status}}{{end}} db",
                "systemctl is-active docker-cache.service",
                "docker inspect --format {{if .State.Health}}{{.State.Health.Status}}{{end}} cache",
            ]);
        });

        it("waits while a dependency is starting or restarting, or active but not healthy, then returns", () => {
            answers({
                "active-docker-db.service": ["activating", "activating", "inactive", "active", "active"],
                "health-db": ["unhealthy", "healthy"],
            });
            const r = runScript("wait-dependencies.sh", ["docker-db.service"]);
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.equal(
                r.stdout,
                "waiting for docker-db.service: activating\nwaiting for docker-db.service: inactive\nwaiting for docker-db.service: unhealthy\n",
            );
        });

        it("fails with a <3> journal line when a dependency stays failed, so the container never starts against it", () => {
            answers({ "active-docker-db.service": ["failed"] });
            const r = runScript("wait-dependencies.sh", ["docker-db.service"]);
            assert.equal(r.status, 1);
            assert.match(r.stdout, /^<3>dependency docker-db\.service is failed: not starting$/m);
            assert.ok(!r.calls.some((c) => c.startsWith("docker ")), "no docker call for a dependency that is down");
        });
    });

    describe("ensure-image", () => {
        it("pulls nothing when the image is there", () => {
            answers({ images: ["nginx:1.27.2-alpine"] });
            const r = runScript("ensure-image.sh", ["pull", "nginx:1.27.2-alpine"]);
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.deepEqual(r.calls, ["docker image inspect nginx:1.27.2-alpine"]);
        });

        it("retries a failed pull with backoff, each failure in the journal, until it succeeds", () => {
            answers({ pull: ["dial tcp: i/o timeout", "dial tcp: i/o timeout", "ok"] });
            const r = runScript("ensure-image.sh", ["pull", "nginx:1.27.2-alpine"], { RETRY_BACKOFF_MS: "20" });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.equal(r.calls.filter((c) => c === "docker pull nginx:1.27.2-alpine").length, 3);
            assert.equal(r.stdout.match(/^<4>ensure-image: pull nginx:1\.27\.2-alpine failed$/gm)?.length, 2, r.stdout);
            assert.deepEqual(r.stdout.match(/^retrying in .*$/gm), ["retrying in 0.020s", "retrying in 0.040s"]);
        });

        it("gives up with a <3> journal line once IMAGE_RETRY_SECONDS have passed, failing its unit", () => {
            answers({ pull: ["dial tcp: i/o timeout"] });
            const r = runScript("ensure-image.sh", ["pull", "nginx:1.27.2-alpine"], { RETRY_BACKOFF_MS: "100", IMAGE_RETRY_SECONDS: "1" });
            assert.equal(r.status, 1);
            assert.match(r.stdout, /^<3>ensure-image: giving up after 1s: could not pull nginx:1\.27\.2-alpine$/m);
            assert.ok(r.calls.filter((c) => c.startsWith("docker pull")).length >= 3, r.calls.join("\n"));
        });
    });

    describe("ready (coreos-containers-ready.service)", () => {
        const file = () => path.join(stub, "status", "boot.json");
        const env = (extra: Readonly<Record<string, string>> = {}) => ({
            READY_CONTAINERS_FILE: path.join(stub, "containers"),
            READY_BUDGET_SECONDS: "30",
            READY_STATUS_FILE: file(),
            READY_POLL_SECONDS: "0.05",
            ...extra,
        });
        const up = () =>
            answers({
                containers: ["db healthy", "web healthy", "cron running"],
                "show-docker-db.service": show("active", "running", "success", 0, 2_000_000, 5_500_000),
                "show-image-db.service": show("active", "exited", "success", 0, 1_000_000, 1_900_000),
                "show-docker-web.service": show("active", "running", "success", 0, 5_600_000, 7_250_000),
                "show-image-web.service": show("active", "exited", "success", 0, 1_000_000, 1_500_000),
                "show-docker-cron.service": show("active", "running", "success", 0, 1_200_000, 1_300_000),
                "show-image-cron.service": show("active", "exited", "success", 0, 1_000_000, 1_100_000),
            });
        const read = () =>
            JSON.parse(fs.readFileSync(file(), "utf8")) as Record<string, unknown> & {
                units: Record<string, unknown>[];
                failed: { unit: string; container: string; journal: string[] }[];
            };

        it("writes boot.json, state ready, when every container is up, with each unit's state and times in ms since boot", () => {
            up();
            const r = runScript("ready.sh", [], env());
            assert.equal(r.status, 0, r.stdout + r.stderr);
            const doc = read();
            assert.deepEqual(Object.keys(doc), [
                "version",
                "state",
                "bootId",
                "startedAt",
                "finishedAt",
                "budgetSeconds",
                "times",
                "startedMs",
                "finishedMs",
                "units",
                "failed",
                "dataVolume",
            ]);
            assert.equal(doc["dataVolume"], null, "no data disk on this host");
            assert.equal(doc["version"], 1);
            assert.equal(doc["state"], "ready");
            assert.equal(doc["bootId"], fs.readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim());
            for (const k of ["startedAt", "finishedAt"]) assert.match(String(doc[k]), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, k);
            assert.equal(doc["budgetSeconds"], 30);
            assert.deepEqual(doc.units[0], {
                unit: "docker-db.service",
                container: "db",
                state: "healthy",
                healthCheck: true,
                activeState: "active",
                subState: "running",
                result: "success",
                restarts: 0,
                data: false,
                activeSinceMs: 2000,
                healthyAfterMs: 5500,
                imageUnit: "image-db.service",
                imageState: "active",
                imageResult: "success",
                imageReadyMs: 1900,
            });
            assert.deepEqual(
                doc.units.map((u) => [u["container"], u["state"]]),
                [
                    ["db", "healthy"],
                    ["web", "healthy"],
                    ["cron", "running"],
                ],
            );
            assert.deepEqual(doc.failed, []);
            assert.deepEqual(fs.readdirSync(path.dirname(file())), ["boot.json"], "the temp file was renamed, none is left");
        });

        it("decides failed as soon as an image unit failed, with that container's last 20 journal lines", () => {
            up();
            answers({
                "show-docker-web.service": show("inactive", "dead", "success", 0, 0, 0),
                "show-image-web.service": show("failed", "failed", "exit-code", 0, 1_000_000, 0),
            });
            const r = runScript("ready.sh", [], env());
            assert.equal(r.status, 1);
            assert.match(r.stdout, /^<3>boot failed: see /m);
            const doc = read();
            assert.equal(doc["state"], "failed");
            assert.equal(doc.units[1]!["state"], "failed");
            assert.equal(doc.units[1]!["healthyAfterMs"], null);
            assert.equal(doc.failed.length, 1);
            assert.equal(doc.failed[0]!.unit, "docker-web.service");
            assert.equal(doc.failed[0]!.container, "web");
            assert.equal(doc.failed[0]!.journal.length, 20);
            assert.match(doc.failed[0]!.journal[19]!, /line 25 of -b -u docker-web\.service -u image-web\.service -n 20/);
        });

        it("decides failed at once when a one-shot the containers need failed (secrets, provisioning), with its journal", () => {
            up();
            answers({
                "show-docker-db.service": show("inactive", "dead", "success", 0, 0, 0),
                "show-docker-web.service": show("inactive", "dead", "success", 0, 0, 0),
                "show-provision.service": show("active", "exited", "success", 0, 1_000_000, 1_200_000),
                "show-coreos-containers-secrets.service": show("failed", "failed", "exit-code", 0, 1_000_000, 0),
            });
            const r = runScript("ready.sh", [], env({ READY_PREREQUISITES: "provision.service coreos-containers-secrets.service" }));
            assert.equal(r.status, 1, r.stdout + r.stderr);
            const doc = read();
            assert.equal(doc["state"], "failed");
            assert.deepEqual(
                doc.failed.map((f) => [f.unit, f.container]),
                [["coreos-containers-secrets.service", undefined]],
            );
            assert.match(doc.failed[0]!.journal[19]!, /-u coreos-containers-secrets\.service -n 20/);
        });

        it("does not hold a ready boot back for a prerequisite still running: prerequisites only decide failure", () => {
            up();
            answers({ "show-provision.service": ["ActiveState=activating", "SubState=start", "Result=success", "NRestarts=0"] });
            const r = runScript("ready.sh", [], env({ READY_PREREQUISITES: "provision.service", READY_BUDGET_SECONDS: "1" }));
            // Every container is up: the boot is ready whatever a prerequisite does; it only decides failure.
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.equal(read()["state"], "ready");
        });

        it("decides failed when a unit has been restarted twice without becoming active (its start failed twice)", () => {
            up();
            answers({ "show-docker-db.service": ["ActiveState=activating", "SubState=auto-restart", "Result=exit-code", "NRestarts=2"] });
            const r = runScript("ready.sh", [], env());
            assert.equal(r.status, 1);
            assert.deepEqual(
                read().failed.map((f) => f.container),
                ["db"],
            );
        });

        it("keeps waiting while a unit restarted once, and decides timeout when the budget passes, listing the containers still starting", () => {
            up();
            answers({ "show-docker-db.service": show("activating", "start-post", "exit-code", 1, 2_000_000, 0) });
            const r = runScript("ready.sh", [], env({ READY_BUDGET_SECONDS: "1" }));
            assert.equal(r.status, 1);
            assert.ok(r.ms >= 900, `it waited ${r.ms} ms`);
            const doc = read();
            assert.equal(doc["state"], "timeout");
            assert.equal(doc.units[0]!["state"], "starting");
            assert.equal(doc.units[0]!["restarts"], 1);
            assert.deepEqual(
                doc.failed.map((f) => f.container),
                ["db"],
            );
        });
    });
});
