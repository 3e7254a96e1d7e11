// The persistent data disk, host side: the real data-volume script (host-scripts/data-volume.sh as the
// host gets it) with bash, curl, blkid and mkfs.ext4 against a loop device standing in for the EBS volume, the IMDS stand-in and the EC2
// stand-in that checks every request's SigV4 signature.
import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { dataVolumeUnit } from "../units/dataVolume";
import { DATA_LABEL, DATA_SCRIPT } from "../units/layout";
import { hostScripts } from "../units/provision";
import { CredentialStore, FakeEc2, FakeImds } from "./helpers/fake-aws";
import { HOST_SCRIPTS } from "./helpers/fixtures";
import { LoopDisk, sh } from "./helpers/loopDisk";

const REGION = "eu-west-1";
const AZ = "eu-west-1a";
const VOLUME = "vol-0a1b2c3d4e5f60718";
const NEW_HOST = "i-0new0000000000001";
const OLD_HOST = "i-0old0000000000001";
const OTHER_HOST = "i-0b00000000000002";

interface Run {
    readonly code: number | null;
    readonly output: string;
    readonly status: Record<string, unknown>;
    readonly ms: number;
}

describe("data volume: the script (bash, curl, blkid, mkfs.ext4; loop device, IMDS and SigV4-checking EC2 stand-ins)", function () {
    this.timeout(60_000);
    let tmp: string;
    let disk: LoopDisk;
    let store: CredentialStore;
    let ec2: FakeEc2;
    const closers: (() => Promise<void>)[] = [];

    beforeEach(async () => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "data-volume-test-"));
        disk = LoopDisk.create(tmp);
        store = new CredentialStore();
        ec2 = await new FakeEc2({ store, region: REGION }).start();
        closers.push(() => ec2.close());
        ec2.addInstance(NEW_HOST, {});
        ec2.addInstance(OLD_HOST, {});
        ec2.addInstance(OTHER_HOST, {});
    });
    afterEach(async () => {
        while (closers.length) await closers.pop()!();
        disk.dispose();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** Runs the script as its unit would on `instanceId`, the loop device at the volume's by-id name. */
    async function run(instanceId: string, opts: { az?: string; maxSeconds?: number } = {}): Promise<Run> {
        const imds = await new FakeImds({ store, instanceId, availabilityZone: opts.az ?? AZ }).start();
        closers.push(() => imds.close());
        const dir = fs.mkdtempSync(path.join(tmp, "host-"));
        const bin = path.join(dir, "bin");
        const byId = path.join(dir, "by-id");
        fs.mkdirSync(bin);
        fs.mkdirSync(byId);
        fs.symlinkSync(disk.device, path.join(byId, `nvme-Amazon_Elastic_Block_Store_${VOLUME.replace("-", "")}`));
        for (const f of hostScripts(HOST_SCRIPTS))
            fs.writeFileSync(path.join(bin, path.basename(f.path)), f.content, { mode: parseInt(f.permissions, 8) });
        const unit = dataVolumeUnit(VOLUME, REGION);
        const statusFile = path.join(dir, "run", "data-volume.json");
        const env: Record<string, string> = {
            ...unit.environment,
            PATH: process.env["PATH"] ?? "/usr/sbin:/usr/bin:/sbin:/bin",
            HOME: dir,
            IMDS_ENDPOINT: imds.origin,
            EC2_ENDPOINT: ec2.origin,
            DATA_BY_ID_DIR: byId,
            DATA_XEN_DEVICES: path.join(dir, "no-xvdf"),
            DATA_LINK: path.join(dir, "run", "data-disk"),
            DATA_STATUS: statusFile,
            DATA_MAX_SECONDS: String(opts.maxSeconds ?? 20),
            DATA_POLL_CAP_MS: "400",
            RETRY_BACKOFF_MS: "50",
        };
        const t0 = Date.now();
        const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve, reject) => {
            const child = spawn("bash", [path.join(bin, path.basename(DATA_SCRIPT))], { env, stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            child.stdout.on("data", (d: Buffer) => (out += d.toString()));
            child.stderr.on("data", (d: Buffer) => (out += d.toString()));
            const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
            child.on("error", reject);
            child.on("close", (c) => {
                clearTimeout(timer);
                resolve({ code: c, output: out });
            });
        });
        const status = fs.existsSync(statusFile) ? (JSON.parse(fs.readFileSync(statusFile, "utf8")) as Record<string, unknown>) : {};
        const link = path.join(dir, "run", "data-disk");
        if (code === 0) assert.equal(fs.realpathSync(link), disk.device, `the link leads to the disk:\n${output}`);
        for (const c of store.all())
            for (const secret of [c.secretAccessKey, c.token]) assert.ok(!output.includes(secret), "a credential reached the log");
        return { code, output, status, ms: Date.now() - t0 };
    }

    it("attaches an available blank volume, formats it once, and a second host finds the data: no mkfs, the same UUID", async function () {
        ec2.addVolume(VOLUME, AZ);
        const a = await run(NEW_HOST);
        assert.equal(a.code, 0, a.output);
        assert.deepEqual(ec2.actions().slice(0, 2), ["DescribeVolumes", "AttachVolume"], a.output);
        const attach = ec2.requests.find((q) => q.action === "AttachVolume")!;
        assert.deepEqual(attach.params, { VolumeId: VOLUME, InstanceId: NEW_HOST, Device: "/dev/xvdf" });
        assert.ok(
            ec2.requests.every((q) => q.outcome === "ok" && store.all().some((c) => c.accessKeyId === q.accessKeyId)),
            "every EC2 call was signed with the role's credentials and accepted",
        );
        const first = disk.probe();
        assert.equal(first.get("TYPE"), "ext4");
        assert.equal(first.get("LABEL"), DATA_LABEL);
        assert.deepEqual(a.status, {
            volumeId: VOLUME,
            state: "attached",
            formatted: true,
            device: a.status["device"],
            uuid: first.get("UUID"),
        });
        assert.match(a.output, /carries no filesystem: formatting it as ext4/);
        disk.withMounted(tmp, (at) => fs.writeFileSync(path.join(at, "kept"), "written by host A"));

        // Host B: the volume is still attached to the old host (A) for a while, then released.
        const v = ec2.volumes.get(VOLUME)!;
        v.attachment = { instanceId: OLD_HOST, device: "/dev/xvdf", status: "attached", attachedAt: new Date().toISOString() };
        ec2.releaseAfter(VOLUME, 1500);
        ec2.requests.length = 0;
        const c = await run(OTHER_HOST);
        assert.equal(c.code, 0, c.output);
        assert.match(c.output, new RegExp(`waiting for the old host ${OLD_HOST} to release ${VOLUME}`));
        assert.ok(c.ms >= 1500, `it waited for the release (${c.ms} ms)`);
        assert.ok(ec2.actions().filter((x) => x === "DescribeVolumes").length >= 3, "it polled while the old host held the volume");
        assert.equal(ec2.actions().filter((x) => x === "AttachVolume").length, 1, "one attach, once the volume was available");
        assert.doesNotMatch(c.output, /carries no filesystem|formatting it/);
        assert.deepEqual(
            { formatted: c.status["formatted"], uuid: c.status["uuid"], state: c.status["state"] },
            { formatted: false, uuid: first.get("UUID"), state: "attached" },
        );
        assert.equal(
            disk.withMounted(tmp, (at) => fs.readFileSync(path.join(at, "kept"), "utf8")),
            "written by host A",
        );
    });

    it("never formats a disk that carries a filesystem, whatever its label", async function () {
        sh("mkfs.ext4", ["-q", "-L", "someone-else", disk.device]);
        const before = disk.probe();
        ec2.addVolume(VOLUME, AZ, NEW_HOST);
        const r = await run(NEW_HOST);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(ec2.actions(), ["DescribeVolumes"], "attached to this host already: no AttachVolume");
        assert.deepEqual(disk.probe(), before, "the filesystem is untouched: same UUID, same label");
        assert.equal(r.status["formatted"], false);
        assert.match(r.output, /already carries ext4, label 'someone-else'/);
    });

    it("fails, touching nothing, when the volume is in another availability zone or the old host never lets go", async function () {
        ec2.addVolume(VOLUME, "eu-west-1b");
        const zone = await run(NEW_HOST);
        assert.equal(zone.code, 3, zone.output);
        assert.match(zone.output, /is in eu-west-1b, this host in eu-west-1a/);
        assert.equal(zone.status["state"], "failed");
        ec2.volumes.delete(VOLUME);
        ec2.addVolume(VOLUME, AZ, OLD_HOST);
        const held = await run(NEW_HOST, { maxSeconds: 2 });
        assert.equal(held.code, 4, held.output);
        assert.equal(held.status["state"], "failed");
        assert.deepEqual(disk.probe(), new Map(), "the blank disk is still blank");
        assert.ok(!ec2.actions().includes("AttachVolume"));
    });

    it("the EC2 stand-in refuses an unsigned or wrongly signed DescribeVolumes", async function () {
        ec2.addVolume(VOLUME, AZ);
        const body = `Action=DescribeVolumes&Version=2016-11-15&VolumeId.1=${VOLUME}`;
        // curl as a child process, asynchronously: the stand-in answers from this very event loop.
        const curl = (args: readonly string[], input = "") =>
            new Promise<string>((resolve, reject) => {
                const child = spawn("curl", [
                    "-sS",
                    "-o",
                    "/dev/null",
                    "-w",
                    "%{http_code}",
                    ...args,
                    "--data-binary",
                    body,
                    `${ec2.origin}/`,
                ]);
                let out = "";
                child.stdout.on("data", (d: Buffer) => (out += d.toString()));
                child.on("error", reject);
                child.on("close", () => resolve(out));
                child.stdin.end(input);
            });
        assert.equal(await curl([]), "401");
        const creds = store.issue();
        const config = `user = "${creds.accessKeyId}:${creds.secretAccessKey}x"\nheader = "x-amz-security-token: ${creds.token}"\n`;
        assert.equal(await curl(["-K", "-", "--aws-sigv4", `aws:amz:${REGION}:ec2`], config), "403");
        assert.deepEqual(
            ec2.requests.map((q) => q.outcome),
            ["AuthFailure", "SignatureDoesNotMatch"],
        );
    });
});
