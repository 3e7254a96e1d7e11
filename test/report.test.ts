// The readiness report, host side: the real report script (host-scripts/report.sh as the host gets it)
// run with bash and curl against the IMDS stand-in and the S3 stand-in that checks SigV4, the body's
// hash and which key the instance role may write (the IAM policy's one object).
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import { userDataSha256 } from "../components/cutover";
import { REPORT_RETRY_SECONDS, REPORT_SCRIPT, READY_UNIT, BOOT_STATUS_FILE, reportKey, reportUnit } from "../units/report";
import { renderHost } from "../formats/cloudconfig";
import { CredentialStore, FakeImds, FakeS3, sigV4Signature } from "./helpers/fake-aws";
import { FakeHostDir, bootJson, sha256 } from "./helpers/report";
import { HOST_SCRIPTS, fixtureHost } from "./helpers/fixtures";
import { HANDOVER_UNIT } from "../units/host";

const REGION = "eu-west-1";
const BUCKET = "coreos-containers-report-test";
const INSTANCE = "i-0123456789abcdef0";
const BOOT_ID = "5b0c1a8e-3f1d-4c2b-9e7a-0d6f8b4c2a19";
const USER_DATA = Buffer.from("#cloud-config\ncoreos:\n  units: []\n", "utf8");

describe("readiness report (real bash and curl against the IMDS and S3 stand-ins)", function () {
    this.timeout(20_000);
    let tmp: string;
    let host: FakeHostDir;
    let store: CredentialStore;
    const closers: (() => Promise<void>)[] = [];

    async function fakes(userData: Buffer = USER_DATA): Promise<{ imds: FakeImds; s3: FakeS3 }> {
        store = new CredentialStore();
        const imds = await new FakeImds({ store, instanceId: INSTANCE, userData }).start();
        const s3 = await new FakeS3({ store, region: REGION }).start();
        closers.push(
            () => imds.close(),
            () => s3.close(),
        );
        return { imds, s3 };
    }

    const healthy = () =>
        bootJson({
            state: "ready",
            bootId: BOOT_ID,
            units: [{ unit: "docker-elastic.service", container: "elastic", state: "healthy", healthyAfterMs: 41_000 }],
        });

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "report-test-"));
        host = new FakeHostDir(tmp);
        fs.writeFileSync(host.bootIdFile, `${BOOT_ID}\n`);
    });
    afterEach(async () => {
        while (closers.length) await closers.pop()!();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    function assertNoSecrets(output: string): void {
        for (const c of store.all())
            for (const secret of [c.secretAccessKey, c.token]) assert.ok(!output.includes(secret), "a credential reached the log");
    }

    it("uploads boot.json plus instance id, boot id and the user-data's SHA-256 to status/<sha>.json, signed with the instance role", async () => {
        const { imds, s3 } = await fakes();
        const key = reportKey(sha256(USER_DATA));
        s3.allowPut(BUCKET, key);
        fs.writeFileSync(host.statusFile, healthy());
        const r = await host.runReport({ imds, s3, bucket: BUCKET, region: REGION });
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(s3.keys(BUCKET), [key]);
        const report = JSON.parse(s3.getObject(BUCKET, key)!.toString("utf8")) as Record<string, unknown>;
        assert.deepEqual(report, {
            version: 1,
            instanceId: INSTANCE,
            userDataSha256: sha256(USER_DATA),
            bootId: BOOT_ID,
            boot: JSON.parse(healthy()) as unknown,
        });
        assert.deepEqual(
            s3.requests.map((q) => [q.method, q.outcome, q.accessKeyId]),
            [["PUT", "ok", imds.issued[0]!.accessKeyId]],
        );
        assert.equal(s3.requests[0]!.host.split(":")[0], `${BUCKET}.s3.${REGION}.localhost`, "virtual-hosted, as on S3");
        assert.equal(imds.counts.userData, 1);
        assertNoSecrets(r.output);
    });

    it("hashes the exact bytes EC2 hands the instance, as the plan does: a gzip user-data given as userDataBase64", async () => {
        const gz = zlib.gzipSync(USER_DATA);
        const planSide = userDataSha256({ userDataBase64: gz.toString("base64") });
        assert.notEqual(planSide, userDataSha256({ userData: USER_DATA.toString("utf8") }));
        const { imds, s3 } = await fakes(gz);
        s3.allowPut(BUCKET, reportKey(planSide));
        fs.writeFileSync(host.statusFile, healthy());
        const r = await host.runReport({ imds, s3, bucket: BUCKET, region: REGION });
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(s3.keys(BUCKET), [reportKey(planSide)]);
    });

    it("may write only its own key: a host booted with other user-data is refused (403) and gives up in bounded time", async () => {
        const { imds, s3 } = await fakes(Buffer.from("#cloud-config\n# another build\n"));
        s3.allowPut(BUCKET, reportKey(sha256(USER_DATA)));
        fs.writeFileSync(host.statusFile, healthy());
        const r = await host.runReport({ imds, s3, bucket: BUCKET, region: REGION, maxSeconds: 1 });
        assert.notEqual(r.code, 0, r.output);
        assert.match(r.output, /403/);
        assert.match(r.output, /no report sent/);
        assert.deepEqual(s3.keys(BUCKET), []);
        assert.ok(s3.requests.length >= 2, "it retried");
        assert.deepEqual(new Set(s3.requests.map((q) => q.outcome)), new Set(["AccessDenied"]));
        assertNoSecrets(r.output);
    });

    it("reports again at the next boot, overwriting its report; with no boot.json it reports boot: null", async () => {
        const { imds, s3 } = await fakes();
        const key = reportKey(sha256(USER_DATA));
        s3.allowPut(BUCKET, key);
        const r1 = await host.runReport({ imds, s3, bucket: BUCKET, region: REGION });
        assert.equal(r1.code, 0, r1.output);
        assert.equal((JSON.parse(s3.getObject(BUCKET, key)!.toString()) as { boot: unknown }).boot, null);
        const nextBoot = "0e9d4c3b-2a1f-4e5d-8c7b-6a5f4e3d2c1b";
        fs.writeFileSync(host.bootIdFile, `${nextBoot}\n`);
        fs.writeFileSync(host.statusFile, bootJson({ state: "ready", bootId: nextBoot, units: [] }));
        const r2 = await host.runReport({ imds, s3, bucket: BUCKET, region: REGION });
        assert.equal(r2.code, 0, r2.output);
        const second = JSON.parse(s3.getObject(BUCKET, key)!.toString()) as { bootId: string; boot: { bootId: string } };
        assert.deepEqual([second.bootId, second.boot.bootId], [nextBoot, nextBoot]);
    });

    it("runs from a one-shot unit after the ready unit (Wants, so a failed boot reports too), listed after every container", () => {
        const unit = reportUnit({ bucket: BUCKET, region: REGION });
        assert.deepEqual(unit.exec, [[REPORT_SCRIPT]]);
        assert.ok(unit.wants?.includes(READY_UNIT) && !(unit.requires ?? []).includes(READY_UNIT));
        assert.deepEqual(unit.environment, { REPORT_BUCKET: BUCKET, REPORT_REGION: REGION });
        const script = HOST_SCRIPTS["report.sh"]!;
        assert.ok(script.includes(`\${REPORT_MAX_SECONDS:-${REPORT_RETRY_SECONDS}}`), "the retry budget is the script's default");
        assert.ok(script.includes(`\${STATUS_FILE:-${BOOT_STATUS_FILE}}`), "the script reads the ready unit's file");
        const rendered = renderHost(fixtureHost(), { artifactFileExists: () => true, imageFileExists: () => true });
        const names = rendered.units.map((u) => u.name);
        // coreos-cloudinit starts it last (it waits for each job); only the handover unit, which reports again, comes after it.
        assert.deepEqual(names.slice(names.indexOf(unit.name) + 1), [HANDOVER_UNIT]);
        assert.ok(
            names.slice(names.indexOf(unit.name)).every((n) => !n.startsWith("docker-")),
            "after every container",
        );
        assert.ok(names.indexOf("provision.service") < names.findIndex((n) => n.startsWith("docker-")));
    });

    it("the S3 stand-in refuses a PUT whose body does not match x-amz-content-sha256 (so the tests above can fail)", async () => {
        const { s3 } = await fakes();
        s3.allowPut(BUCKET, "status/x.json");
        const creds = store.issue();
        const body = Buffer.from('{"version":1}');
        const amzDate = new Date()
            .toISOString()
            .replace(/[-:]/g, "")
            .replace(/\.\d+Z$/, "Z");
        const claimed = sha256("something else");
        const headers = {
            host: `127.0.0.1:${s3.port}`,
            "x-amz-content-sha256": claimed,
            "x-amz-date": amzDate,
            "x-amz-security-token": creds.token,
        };
        const signedHeaders = Object.keys(headers).sort();
        const signature = sigV4Signature({
            method: "PUT",
            path: `/${BUCKET}/status/x.json`,
            query: "",
            headers,
            signedHeaders,
            payloadHash: claimed,
            amzDate,
            region: REGION,
            service: "s3",
            secretAccessKey: creds.secretAccessKey,
        });
        const res = await fetch(`${s3.origin}/${BUCKET}/status/x.json`, {
            method: "PUT",
            body,
            headers: {
                ...headers,
                authorization: `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${amzDate.slice(0, 8)}/${REGION}/s3/aws4_request, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`,
            },
        });
        assert.equal(res.status, 400);
        assert.match(await res.text(), /XAmzContentSHA256Mismatch/);
        assert.deepEqual(s3.keys(BUCKET), []);
    });
});
