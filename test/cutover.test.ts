// The cutover steps (scripts/cutover.ts), run as child processes exactly as their Commands run them
// (`/bin/sh -c "<create>"` in the project folder, with the Command's environment), with the AWS SDK
// pointed at the stand-ins that verify SigV4: FakeS3 (the readiness reports) and FakeEc2 (instances,
// the Elastic IP, termination). `pulumi up`'s order is gate → the Eip update → retire; `upWith` plays it:
// the address moves only when the gate exited 0, retire runs only after that.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { HOST_TAG_KEY, gateEnvironment, retireEnvironment, teardownEnvironment } from "../scripts/cutover/contract";
import { describeNotReady, judge, parseReport } from "../scripts/cutover/contract";
import { reportKey } from "../units/report";
import { CredentialStore, FakeEc2, FakeImds, FakeS3 } from "./helpers/fake-aws";
import { PROJECT_DIR } from "./helpers/fixtures";
import { StepRun, cutoverAwsEnv, runCutoverStep } from "./helpers/cutover";
import { FakeHostDir, bootJson, hostReport, sha256 } from "./helpers/report";

const REGION = "eu-west-1";
const BUCKET = "coreos-containers-cutover-test";
const TAG = "coreos-containers/prod/host";
const ALLOCATION = "eipalloc-0aa11bb22cc33dd44";
const PUBLIC_IP = "203.0.113.10";
const OLD = "i-0000000000000000a";
const NEW = "i-0000000000000000b";
const NEWER = "i-0000000000000000c";
const OTHER_STACK = "i-0000000000000000d";
const BOOT_ID = "5b0c1a8e-3f1d-4c2b-9e7a-0d6f8b4c2a19";
const userDataOf = (build: string) => Buffer.from(`#cloud-config\n# build ${build}\n`);

const KIBANA_JOURNAL = [
    "Dec 01 13:04:51 ip-10-0-0-11 docker[2211]: kibana health check failed: curl: (7) Failed to connect to localhost port 5601",
    "Dec 01 13:05:10 ip-10-0-0-11 systemd[1]: docker-kibana.service: Failed with result 'exit-code'.",
];

describe("cutover steps (scripts/cutover.ts as the Commands run it, against the S3 and EC2 stand-ins)", function () {
    this.timeout(30_000);
    let tmp: string;
    let store: CredentialStore;
    let s3: FakeS3;
    let ec2: FakeEc2;
    const closers: (() => Promise<void>)[] = [];

    beforeEach(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cutover-test-"));
        store = new CredentialStore();
        s3 = await new FakeS3({ store, region: REGION }).start();
        ec2 = await new FakeEc2({ store, region: REGION }).start();
        closers.push(
            () => s3.close(),
            () => ec2.close(),
        );
        // The serving host with the address, and a host of another stack that no step may touch.
        ec2.addInstance(OLD, { [HOST_TAG_KEY]: TAG, Name: "host" });
        ec2.addInstance(OTHER_STACK, { [HOST_TAG_KEY]: "coreos-containers/dev/host" });
        ec2.addAddress(ALLOCATION, PUBLIC_IP, OLD);
    });
    afterEach(async () => {
        while (closers.length) await closers.pop()!();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    const awsEnv = () => cutoverAwsEnv({ store, home: tmp, s3: s3.origin, ec2: ec2.origin });
    const step = (name: "gate" | "retire" | "teardown", env: Record<string, string>) => runCutoverStep(name, { ...awsEnv(), ...env });

    const gateEnv = (instanceId: string, userData: Buffer, timeoutSeconds = 5) => ({
        ...gateEnvironment({
            region: REGION,
            bucket: BUCKET,
            userDataSha256: sha256(userData),
            reportKey: reportKey(sha256(userData)),
            instanceId,
            timeoutSeconds,
        }),
        CUTOVER_POLL_SECONDS: "0.2",
    });
    const retireEnv = (instanceId: string) => retireEnvironment({ region: REGION, hostTag: TAG, instanceId, allocationId: ALLOCATION });

    /** A new host of this stack, booted with `userData`, that reports `boot` (written as the host's script writes it). */
    function launch(instanceId: string, userData: Buffer, boot: string | null | undefined): void {
        ec2.addInstance(instanceId, { [HOST_TAG_KEY]: TAG, Name: "host" });
        if (boot !== undefined)
            s3.putObject(
                BUCKET,
                reportKey(sha256(userData)),
                hostReport({ instanceId, userDataSha256: sha256(userData), bootId: BOOT_ID, boot }),
            );
    }
    const ready = () =>
        bootJson({
            state: "ready",
            bootId: BOOT_ID,
            units: [{ unit: "docker-elastic.service", container: "elastic", state: "healthy", healthyAfterMs: 41_000 }],
        });
    const kibanaFails = () =>
        bootJson({
            state: "failed",
            bootId: BOOT_ID,
            units: [
                { unit: "docker-elastic.service", container: "elastic", state: "healthy", healthyAfterMs: 41_000 },
                { unit: "docker-kibana.service", container: "kibana", state: "failed", restarts: 3 },
            ],
            failed: [{ unit: "docker-kibana.service", container: "kibana", journal: KIBANA_JOURNAL }],
        });

    /** `pulumi up` from the gate on: the Eip update only after the gate passed, retire only after that. */
    async function upWith(instanceId: string, userData: Buffer, timeoutSeconds?: number): Promise<{ gate: StepRun; retire?: StepRun }> {
        const gate = await step("gate", gateEnv(instanceId, userData, timeoutSeconds));
        if (gate.code !== 0) return { gate };
        ec2.addresses.get(ALLOCATION)!.instanceId = instanceId; // the Eip's in-place update
        return { gate, retire: await step("retire", retireEnv(instanceId)) };
    }

    const state = (id: string) => ec2.instances.get(id)?.state;
    const addressOn = () => ec2.addresses.get(ALLOCATION)?.instanceId;

    it("ready: the gate passes, the address moves, then retire terminates every other host of the stack (not the new one, not another stack's)", async () => {
        launch(NEW, userDataOf("B"), ready());
        const { gate, retire } = await upWith(NEW, userDataOf("B"));
        assert.equal(gate.code, 0, gate.stderr);
        assert.match(gate.stdout, new RegExp(`${NEW} is ready \\(1 unit healthy, the last after 41 s\\)`));
        assert.equal(retire?.code, 0, retire?.stderr);
        assert.match(retire.stdout, new RegExp(`${OLD}: running → shutting-down`));
        assert.deepEqual([state(OLD), state(NEW), state(OTHER_STACK), addressOn()], ["shutting-down", "running", "running", NEW]);
        const terminate = ec2.requests.filter((r) => r.action === "TerminateInstances");
        assert.deepEqual(
            terminate.map((r) => r.params),
            [{ "InstanceId.1": OLD }],
        );
        assert.deepEqual(new Set(ec2.requests.map((r) => r.outcome)), new Set(["ok"]), "every EC2 call was signed right");
        assert.deepEqual(new Set(s3.requests.map((r) => `${r.method} ${r.outcome}`)), new Set(["GET ok"]), "S3 saw signed GETs");
    });

    it("failed: the gate fails at once naming the failing units with their journal lines; the address stays, nothing is retired", async () => {
        launch(NEW, userDataOf("B"), kibanaFails());
        // A 20 s wait allowed: ending well before it shows the failed report ended the wait (node's start-up alone can take seconds under load).
        const { gate, retire } = await upWith(NEW, userDataOf("B"), 20);
        assert.equal(gate.code, 1);
        assert.equal(retire, undefined);
        assert.match(gate.stderr, new RegExp(`^cutover gate: the new host ${NEW} is not ready \\(state failed after 312 s\\):$`, "m"));
        assert.match(gate.stderr, /^ {2}docker-kibana\.service \(kibana\): failed, 3 restarts$/m);
        for (const line of KIBANA_JOURNAL) assert.ok(gate.stderr.includes(`    | ${line}\n`), line);
        assert.doesNotMatch(gate.stderr, /elastic/, "healthy units are not listed");
        assert.match(gate.stderr, /The address stays on the serving host/);
        assert.doesNotMatch(gate.stderr, /^\s+at /m, "no stack trace");
        assert.ok(gate.ms < 15_000, `took ${gate.ms} ms: a failed report ends the wait`);
        // The README shows this very output (with another instance id).
        const readme = fs.readFileSync(path.join(PROJECT_DIR, "README.md"), "utf8");
        for (const line of gate.stderr.trimEnd().split("\n"))
            assert.ok(readme.includes(line.split(NEW).join("i-0b1c2d3e4f5a6b7c8")), `README.md's "When a cutover fails" shows: ${line}`);
        assert.deepEqual([addressOn(), state(OLD)], [OLD, "running"]);
    });

    it("timed out: no report within the timeout fails the gate with what to check; the address stays", async () => {
        launch(NEW, userDataOf("B"), undefined);
        s3.putObject(BUCKET, "status/unrelated.json", Buffer.from("{}"));
        const gate = await step("gate", gateEnv(NEW, userDataOf("B"), 1));
        assert.equal(gate.code, 1, gate.stderr);
        assert.match(
            gate.stderr,
            new RegExp(
                `^cutover gate: no readiness report from the new host ${NEW} within 1 s \\(expected at s3://${BUCKET}/status/${sha256(userDataOf("B"))}\\.json\\)\\.$`,
                "m",
            ),
        );
        assert.match(gate.stderr, /readyTimeoutMinutes/);
        assert.ok(s3.requests.filter((r) => r.outcome === "NoSuchKey").length >= 3, "it polled");
        assert.deepEqual([addressOn(), state(OLD)], [OLD, "running"]);
    });

    it("ignores a report from another instance or for another user-data, and passes on the new host's own", async () => {
        launch(NEW, userDataOf("B"), null);
        const key = reportKey(sha256(userDataOf("B")));
        // What an earlier host of the same build left (a failed one), then a report naming another build
        // (a failed one), then the new host's: each read once, in turn.
        const reports = [
            hostReport({ instanceId: OLD, userDataSha256: sha256(userDataOf("B")), bootId: BOOT_ID, boot: kibanaFails() }),
            hostReport({ instanceId: NEW, userDataSha256: sha256(userDataOf("A")), bootId: BOOT_ID, boot: kibanaFails() }),
            hostReport({ instanceId: NEW, userDataSha256: sha256(userDataOf("B")), bootId: BOOT_ID, boot: ready() }),
        ];
        s3.putObject(BUCKET, key, reports.shift()!);
        s3.onGet = () => {
            const next = reports.shift();
            if (next) s3.putObject(BUCKET, key, next);
        };
        const gate = await step("gate", gateEnv(NEW, userDataOf("B"), 8));
        assert.equal(gate.code, 0, gate.stderr);
        assert.match(gate.stdout, new RegExp(`ignoring the report at .*: it is from instance ${OLD}`));
        assert.match(gate.stdout, /ignoring the report at .*: it is for user-data [0-9a-f]{12}…, not [0-9a-f]{12}…/);
        assert.match(gate.stdout, new RegExp(`${NEW} is ready`));
        assert.equal(s3.requests.filter((r) => r.outcome === "ok").length, 3);
    });

    it("retire refuses while the address is on another instance, and terminates nothing", async () => {
        launch(NEW, userDataOf("B"), ready());
        const retire = await step("retire", retireEnv(NEW));
        assert.equal(retire.code, 1);
        assert.match(
            retire.stderr,
            new RegExp(
                `^cutover retire: the address ${ALLOCATION} \\(${PUBLIC_IP.replace(/\./g, "\\.")}\\) is on ${OLD}, not on the new host ${NEW}; nothing was retired`,
                "m",
            ),
        );
        assert.deepEqual(ec2.actions(), ["DescribeAddresses"]);
        assert.deepEqual([state(OLD), state(NEW)], ["running", "running"]);
    });

    it("a retry after a failed cutover keeps the serving host until a new one passes; then both older hosts are retired", async () => {
        launch(NEW, userDataOf("B"), kibanaFails());
        const first = await upWith(NEW, userDataOf("B"));
        assert.equal(first.gate.code, 1);
        // `pulumi up` again without a fix: the gate runs again (a failed Command is not in state) and fails again.
        const again = await upWith(NEW, userDataOf("B"));
        assert.equal(again.gate.code, 1);
        assert.deepEqual([addressOn(), state(OLD), state(NEW)], [OLD, "running", "running"]);
        assert.ok(!ec2.actions().includes("TerminateInstances"));
        // The fix: a new build, so a new instance (the failed one stays in state, pending delete, retained).
        launch(NEWER, userDataOf("C"), ready());
        const fixed = await upWith(NEWER, userDataOf("C"));
        assert.equal(fixed.gate.code, 0, fixed.gate.stderr);
        assert.equal(fixed.retire?.code, 0, fixed.retire?.stderr);
        assert.deepEqual(
            [addressOn(), state(OLD), state(NEW), state(NEWER), state(OTHER_STACK)],
            [NEWER, "shutting-down", "shutting-down", "running", "running"],
        );
    });

    it("teardown (pulumi destroy) terminates every host of the stack and waits until they are gone", async () => {
        launch(NEW, userDataOf("B"), null);
        ec2.addInstance("i-0000000000000000e", { [HOST_TAG_KEY]: TAG }, "terminated");
        const r = await step("teardown", { ...teardownEnvironment({ region: REGION, hostTag: TAG }), CUTOVER_POLL_SECONDS: "0.1" });
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual([state(OLD), state(NEW), state(OTHER_STACK)], ["terminated", "terminated", "running"]);
        assert.deepEqual(
            ec2.requests.filter((q) => q.action === "TerminateInstances").map((q) => q.params),
            [{ "InstanceId.1": OLD, "InstanceId.2": NEW }],
        );
        assert.match(r.stdout, new RegExp(`no instance tagged ${HOST_TAG_KEY}=${TAG} is left`));
    });

    it("fails with a one-line reason, no stack trace: missing inputs (exit 2), credentials S3 does not know (exit 1, at once)", async () => {
        const missing = await step("gate", { CUTOVER_REGION: REGION });
        assert.equal(missing.code, 2);
        assert.match(missing.stderr, /^cutover gate: CUTOVER_BUCKET \(or --bucket\) is not set; CUTOVER_REPORT_KEY/m);
        const unknownKey = await step("gate", { ...gateEnv(NEW, userDataOf("B"), 20), AWS_ACCESS_KEY_ID: "ASIAUNKNOWN0000000000" });
        assert.equal(unknownKey.code, 1);
        assert.match(
            unknownKey.stderr,
            new RegExp(
                `^cutover gate: cannot read s3://${BUCKET}/status/[0-9a-f]{64}\\.json with the credentials of this \`pulumi up\`: InvalidAccessKeyId`,
                "m",
            ),
        );
        assert.ok(unknownKey.ms < 15_000, `took ${unknownKey.ms} ms: at once, not at the 20 s wait's end`);
        for (const r of [missing, unknownKey]) assert.doesNotMatch(r.stderr, /^\s+at /m);
    });

    it("end to end: a container whose health check always fails ends the gate naming it and its journal lines; retire never runs; the address stays on the old host", async () => {
        // The new host: the real report script, with kibana failing in boot.json as the ready unit writes it.
        const userData = userDataOf("bad kibana");
        ec2.addInstance(NEW, { [HOST_TAG_KEY]: TAG });
        const imds = await new FakeImds({ store, instanceId: NEW, userData }).start();
        closers.push(() => imds.close());
        const host = new FakeHostDir(path.join(tmp, "host"));
        fs.writeFileSync(host.bootIdFile, `${BOOT_ID}\n`);
        fs.writeFileSync(host.statusFile, kibanaFails());
        s3.allowPut(BUCKET, reportKey(sha256(userData)));
        const report = await host.runReport({ imds, s3, bucket: BUCKET, region: REGION });
        assert.equal(report.code, 0, report.output);

        const { gate, retire } = await upWith(NEW, userData);
        assert.equal(gate.code, 1, gate.stdout);
        assert.match(gate.stderr, /docker-kibana\.service \(kibana\): failed/);
        for (const line of KIBANA_JOURNAL) assert.ok(gate.stderr.includes(line), line);
        assert.equal(retire, undefined, "retire is never reached");
        assert.equal(addressOn(), OLD, "the address still points at the old instance");
        assert.ok(!ec2.actions().includes("TerminateInstances"));
        assert.deepEqual([state(OLD), state(NEW)], ["running", "running"]);
    });
});

describe("cutover: reading a report (pure)", () => {
    const report = (boot: unknown, extra: Record<string, unknown> = {}) =>
        JSON.stringify({ version: 1, instanceId: NEW, userDataSha256: "ab".repeat(32), bootId: BOOT_ID, boot, ...extra });
    const expected = { instanceId: NEW, userDataSha256: "ab".repeat(32) };
    const verdict = (text: string) => {
        const r = parseReport(text);
        if (typeof r === "string") assert.fail(r);
        return judge(r, expected);
    };

    it("a boot.json from another boot, or none, is not ready: the ready unit wrote nothing this boot", () => {
        const v = verdict(report(JSON.parse(bootJson({ state: "ready", bootId: "another-boot", units: [] }))));
        assert.equal(v.kind, "not-ready");
        assert.match(
            describeNotReady((v as { report: Parameters<typeof describeNotReady>[0] }).report).join("\n"),
            /boot\.json is from boot another-boot, not from this boot/,
        );
        assert.equal(verdict(report(null)).kind, "not-ready");
    });

    it("timeout lists the units that were not healthy yet", () => {
        const v = verdict(
            report(
                JSON.parse(
                    bootJson({
                        state: "timeout",
                        bootId: BOOT_ID,
                        units: [
                            { unit: "docker-elastic.service", container: "elastic", state: "healthy" },
                            { unit: "docker-kibana.service", container: "kibana", state: "starting" },
                        ],
                    }),
                ),
            ),
        );
        assert.equal(v.kind, "not-ready");
        assert.deepEqual(describeNotReady((v as { report: Parameters<typeof describeNotReady>[0] }).report), [
            "  docker-kibana.service (kibana): starting",
        ]);
    });

    it("a host whose data disk waits for the old host is ready with its stateful containers pending; the disk's state comes along", () => {
        const boot = JSON.parse(
            bootJson({
                state: "ready",
                bootId: BOOT_ID,
                units: [
                    { unit: "docker-nginx.service", container: "nginx", state: "healthy" },
                    { unit: "docker-elastic.service", container: "elastic", state: "pending", data: true },
                ],
                dataVolume: { volumeId: "vol-0123456789abcdef0", state: "waiting-for-release", formatted: false },
            }),
        ) as Record<string, unknown>;
        const v = verdict(report(boot));
        assert.equal(v.kind, "ready");
        assert.deepEqual((v as { report: { boot: { dataVolume: unknown } } }).report.boot.dataVolume, boot.dataVolume);
        const bad = parseReport(report({ ...boot, dataVolume: { volumeId: "vol-0123456789abcdef0", state: "lost", formatted: false } }));
        assert.equal(bad, 'boot.dataVolume.state "lost" is unknown');
    });

    it("refuses what is not a report", () => {
        const why = (text: string) => {
            const r = parseReport(text);
            if (typeof r !== "string") return assert.fail("parsed as a report");
            return r;
        };
        assert.match(why("{"), /not JSON/);
        assert.match(why(JSON.stringify({ version: 2 })), /version 2 is not 1/);
        assert.match(why(report({ state: "green", units: [] })), /boot\.state "green" is unknown/);
    });
});
