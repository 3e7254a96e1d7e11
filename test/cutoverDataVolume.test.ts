// The cutover with a data volume (issue 14): the gate takes a data disk that waits for the old host as
// ready; retire hands the volume over — stop the old host, detach once it is stopped, terminate, then wait
// for the new host's report that the volume is mounted and the containers on it are healthy. The steps
// run as their Commands run them (scripts/cutover.ts in a child process) against the SigV4-checking
// stand-ins: FakeEc2 (instances, the address, the volume) and FakeS3 (the readiness reports).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
    BootStatus,
    DataVolumeStatus,
    HOST_TAG_KEY,
    ReadinessReport,
    gateEnvironment,
    judge,
    judgeHandover,
    parseReport,
    retireEnvironment,
} from "../scripts/cutover/contract";
import { reportKey } from "../units/report";
import { CredentialStore, FakeEc2, FakeS3 } from "./helpers/fake-aws";
import { cutoverAwsEnv, runCutoverStep } from "./helpers/cutover";
import { bootJson, sha256 } from "./helpers/report";

const REGION = "eu-west-1";
const BUCKET = "coreos-containers-handover-test";
const TAG = "coreos-containers/prod/host";
const ALLOCATION = "eipalloc-0aa11bb22cc33dd44";
const OLD = "i-0000000000000000a";
const NEW = "i-0000000000000000b";
const VOLUME = "vol-0123456789abcdef0";
const BOOT_ID = "5b0c1a8e-3f1d-4c2b-9e7a-0d6f8b4c2a19";
const USER_DATA = Buffer.from("#cloud-config\n# build B\n");
const KEY = reportKey(sha256(USER_DATA));

/** The report the new host uploads: boot.json's units, and its data disk's state. */
function report(units: Parameters<typeof bootJson>[0]["units"], dataVolume: DataVolumeStatus, state: "ready" | "failed" = "ready"): Buffer {
    const failed = units
        .filter((u) => u.state === "failed")
        .map((u) => ({ unit: u.unit, container: u.container, journal: [`${u.container} exited 1`] }));
    return Buffer.from(
        JSON.stringify({
            version: 1,
            instanceId: NEW,
            userDataSha256: sha256(USER_DATA),
            bootId: BOOT_ID,
            boot: JSON.parse(bootJson({ state, bootId: BOOT_ID, units, failed, dataVolume })) as unknown,
        }) + "\n",
    );
}
const nginx = { unit: "docker-nginx.service", container: "nginx", state: "healthy" as const };
/** The gate of this test's new host, waiting at most 3 s. */
const gateEnv = () =>
    gateEnvironment({
        region: REGION,
        bucket: BUCKET,
        userDataSha256: sha256(USER_DATA),
        reportKey: KEY,
        instanceId: NEW,
        timeoutSeconds: 3,
    });
const elastic = (state: "healthy" | "failed" | "starting") => ({ unit: "docker-elastic.service", container: "elastic", state, data: true });
const waiting: DataVolumeStatus = { state: "waiting-for-release", volumeId: VOLUME, formatted: false };
const mounted: DataVolumeStatus = { state: "mounted", volumeId: VOLUME, formatted: false, device: "/dev/nvme1n1" };

describe("cutover with a data volume (scripts/cutover.ts against the EC2 and S3 stand-ins)", function () {
    this.timeout(30_000);
    let tmp: string;
    let store: CredentialStore;
    let s3: FakeS3;
    let ec2: FakeEc2;

    beforeEach(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "handover-test-"));
        store = new CredentialStore();
        s3 = await new FakeS3({ store, region: REGION }).start();
        ec2 = await new FakeEc2({ store, region: REGION }).start();
        // The old host holds the volume; the new one passed the gate and has the address.
        ec2.addInstance(OLD, { [HOST_TAG_KEY]: TAG });
        ec2.addInstance(NEW, { [HOST_TAG_KEY]: TAG });
        ec2.addAddress(ALLOCATION, "203.0.113.10", NEW);
        ec2.addVolume(VOLUME, "eu-west-1a", OLD);
    });
    afterEach(async () => {
        await s3.close();
        await ec2.close();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    const step = (name: "gate" | "retire", env: Record<string, string>) =>
        runCutoverStep(name, {
            ...cutoverAwsEnv({ store, home: tmp, s3: s3.origin, ec2: ec2.origin }),
            CUTOVER_POLL_SECONDS: "0.1",
            ...env,
        });

    const retireEnv = (timeoutSeconds = 5) =>
        retireEnvironment({
            region: REGION,
            hostTag: TAG,
            instanceId: NEW,
            allocationId: ALLOCATION,
            dataVolume: { volumeId: VOLUME, bucket: BUCKET, reportKey: KEY, userDataSha256: sha256(USER_DATA), timeoutSeconds },
        });
    const state = (id: string) => ec2.instances.get(id)?.state;
    /** The new host: once the volume is free it attaches it, mounts it and reports `then`. */
    function newHostTakesOver(then: Buffer): void {
        ec2.onDescribeVolumes = () => {
            const v = ec2.volumes.get(VOLUME)!;
            if (v.state === "available") {
                v.state = "in-use";
                v.attachment = { instanceId: NEW, device: "/dev/xvdf", status: "attached", attachedAt: new Date().toISOString() };
                s3.putObject(BUCKET, KEY, then);
            }
        };
    }

    it("the gate passes while the new host's data disk waits for the old host (its stateless containers are healthy)", async () => {
        s3.putObject(BUCKET, KEY, report([nginx], waiting));
        const gate = await step("gate", gateEnv());
        assert.equal(gate.code, 0, gate.stderr);
        assert.match(gate.stdout, new RegExp(`${NEW} is ready`));
    });

    it("the gate fails when the new host's data disk failed, naming the volume and why; nothing else happens", async () => {
        s3.putObject(BUCKET, KEY, report([nginx], { state: "failed", volumeId: VOLUME, formatted: false }, "failed"));
        const gate = await step("gate", gateEnv());
        assert.equal(gate.code, 1);
        assert.match(gate.stderr, new RegExp(`^cutover gate: the new host ${NEW} is not ready \\(its data volume failed\\):$`, "m"));
        assert.match(gate.stderr, new RegExp(`^ {2}data volume ${VOLUME}: failed \\(its data unit or mount unit failed\\)$`, "m"));
        assert.deepEqual(ec2.actions(), []);
    });

    it("retire: stop the old host, detach the volume once it is stopped, terminate it, then wait for the new host's data disk — in that order", async () => {
        s3.putObject(BUCKET, KEY, report([nginx], waiting));
        newHostTakesOver(report([nginx, elastic("healthy")], mounted));
        const r = await step("retire", retireEnv());
        assert.equal(r.code, 0, r.stderr);
        const calls = ec2.actions();
        const at = (a: string) => calls.indexOf(a);
        assert.equal(calls[0], "DescribeAddresses", "the address is checked first");
        assert.ok(
            at("StopInstances") > 0 && at("StopInstances") < at("DetachVolume") && at("DetachVolume") < at("TerminateInstances"),
            calls.join(" "),
        );
        // The detach came only after a DescribeInstances that saw the old host stopped.
        assert.ok(calls.slice(at("StopInstances"), at("DetachVolume")).includes("DescribeInstances"));
        assert.deepEqual(
            ec2.requests.filter((q) => q.action === "StopInstances" || q.action === "DetachVolume").map((q) => [q.action, q.params]),
            [
                ["StopInstances", { "InstanceId.1": OLD }],
                ["DetachVolume", { VolumeId: VOLUME, InstanceId: OLD }],
            ],
        );
        assert.deepEqual([state(OLD), state(NEW), ec2.volumes.get(VOLUME)?.attachment?.instanceId], ["shutting-down", "running", NEW]);
        assert.match(r.stdout, new RegExp(`${OLD}: running → stopping`));
        assert.match(r.stdout, new RegExp(`${NEW} mounted ${VOLUME}; elastic healthy after`));
        assert.deepEqual(new Set(ec2.requests.map((q) => q.outcome)), new Set(["ok"]), "every EC2 call was signed right and valid");
    });

    it("retire checks the address first: while it is on another host, nothing is stopped or detached", async () => {
        ec2.addresses.get(ALLOCATION)!.instanceId = OLD;
        const r = await step("retire", retireEnv());
        assert.equal(r.code, 1);
        assert.match(r.stderr, /nothing was retired/);
        assert.deepEqual(ec2.actions(), ["DescribeAddresses"]);
        assert.deepEqual([state(OLD), ec2.volumes.get(VOLUME)?.attachment?.instanceId], ["running", OLD]);
    });

    it("retire fails clearly when the old host does not stop in time: nothing detached, nothing terminated", async () => {
        ec2.stuckStopping.add(OLD);
        const r = await step("retire", { ...retireEnv(), CUTOVER_STOP_TIMEOUT_SECONDS: "0.5" });
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            new RegExp(`^cutover retire: ${OLD} \\(stopping\\) not stopped after 0\\.5 s; nothing was detached or terminated\\.$`, "m"),
        );
        assert.match(r.stderr, /run `pulumi up` again/);
        assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
        assert.ok(!ec2.actions().includes("DetachVolume") && !ec2.actions().includes("TerminateInstances"));
        assert.equal(ec2.volumes.get(VOLUME)?.attachment?.instanceId, OLD);
    });

    it("retire fails naming the containers on the volume when they do not come up on the new host", async () => {
        newHostTakesOver(report([nginx, elastic("failed")], mounted, "failed"));
        const r = await step("retire", retireEnv());
        assert.equal(r.code, 1);
        assert.match(r.stderr, new RegExp(`^cutover retire: the new host ${NEW} could not take over the data volume:$`, "m"));
        assert.match(r.stderr, /^ {2}docker-elastic\.service \(elastic\): failed$/m);
        assert.match(r.stderr, /^ {4}\| elastic exited 1$/m);
        assert.equal(state(OLD), "shutting-down", "the old host was retired before the wait");
    });

    it("retire times out naming what it waited for when the new host never reports the volume mounted", async () => {
        s3.putObject(BUCKET, KEY, report([nginx], waiting));
        const r = await step("retire", retireEnv(1));
        assert.equal(r.code, 1);
        assert.match(
            r.stderr,
            new RegExp(
                `^cutover retire: the new host ${NEW} did not report the data volume mounted and its containers healthy within 1 s \\(last: the new host's data volume: waiting-for-release`,
                "m",
            ),
        );
    });

    it("retire on the first deploy (no old host) only waits for the new host's data disk", async () => {
        ec2.instances.delete(OLD);
        ec2.volumes.get(VOLUME)!.attachment = {
            instanceId: NEW,
            device: "/dev/xvdf",
            status: "attached",
            attachedAt: new Date().toISOString(),
        };
        s3.putObject(BUCKET, KEY, report([nginx, elastic("healthy")], mounted));
        const r = await step("retire", retireEnv());
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(ec2.actions(), ["DescribeAddresses", "DescribeInstances"]);
    });
});

describe("cutover: the data disk in the report (pure)", () => {
    const expected = { instanceId: NEW, userDataSha256: sha256(USER_DATA) };
    const parsed = (b: Buffer): ReadinessReport => {
        const r = parseReport(b.toString("utf8"));
        if (typeof r === "string") return assert.fail(r);
        return r;
    };

    it("after retire: waiting while the disk waits for release or its containers are not up yet; done once they are", () => {
        assert.equal(judgeHandover(parsed(report([nginx], waiting)), expected).kind, "waiting");
        const notYet = judgeHandover(parsed(report([nginx, elastic("starting")], mounted)), expected);
        assert.deepEqual(notYet, { kind: "waiting", reason: "the containers on the data volume are not up yet: elastic" });
        assert.equal(judgeHandover(parsed(report([nginx, elastic("healthy")], mounted)), expected).kind, "done");
        assert.equal(judgeHandover(parsed(report([nginx, elastic("failed")], mounted, "failed")), expected).kind, "failed");
    });

    it("another instance's report is never the handover's answer", () => {
        const other = judgeHandover(parsed(report([nginx, elastic("healthy")], mounted)), { ...expected, instanceId: OLD });
        assert.equal(other.kind, "waiting");
    });

    it("the gate: a disk waiting for release is ready, a failed one is not", () => {
        assert.equal(judge(parsed(report([nginx], waiting)), expected).kind, "ready");
        assert.equal(judge(parsed(report([nginx], { state: "failed", formatted: false })), expected).kind, "not-ready");
    });

    it("refuses a data disk state it does not know", () => {
        const boot = JSON.parse(bootJson({ state: "ready", bootId: BOOT_ID, units: [nginx], dataVolume: mounted })) as BootStatus;
        const text = JSON.stringify({
            version: 1,
            instanceId: NEW,
            userDataSha256: "ab".repeat(32),
            bootId: BOOT_ID,
            boot: { ...boot, dataVolume: { state: "lost", formatted: false } },
        });
        assert.equal(parseReport(text), 'boot.dataVolume.state "lost" is unknown');
    });

    it("the containers on the data disk are boot.json's units marked data", () => {
        assert.deepEqual(parsed(report([nginx, elastic("healthy")], mounted)).dataVolume?.containers, ["elastic"]);
    });
});
