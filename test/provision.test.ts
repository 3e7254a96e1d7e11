// The scripts written onto the host (host-scripts/), run for real (bash, curl, tar, sha256sum) against
// local fakes of IMDSv2 and S3 (test/helpers/fake-aws.ts). The script text is what the program reads
// from host-scripts/ and hostScripts() writes, never a copy.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as zlib from "node:zlib";
import * as tarStream from "tar-stream";
import { ENSURE_IMAGE } from "../units/layout";
import { PROVISION_RETRY_SECONDS, PROVISION_SCRIPT, hostScripts, provisionUnit } from "../units/provision";
import { renderOneShotUnit } from "../units/systemd";
import { HOST_SCRIPTS } from "./helpers/fixtures";
import { CredentialStore, EMPTY_SHA256, FakeConnectProxy, FakeImds, FakeImdsOptions, FakeS3, sigV4Signature } from "./helpers/fake-aws";

const REGION = "eu-west-1";
const BUCKET = "coreos-containers-test-1a2b3c";

function scriptText(p: string): string {
    const f = hostScripts(HOST_SCRIPTS).find((x) => x.path === p);
    assert.ok(f, `hostScripts() has no ${p}`);
    return f.content;
}

function sha256(b: Buffer): string {
    return crypto.createHash("sha256").update(b).digest("hex");
}

async function targz(files: Record<string, string>): Promise<Buffer> {
    const pack = tarStream.pack();
    for (const [name, content] of Object.entries(files)) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, content);
    pack.finalize();
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return zlib.gzipSync(Buffer.concat(chunks));
}

interface RunResult {
    code: number | null;
    output: string;
    ms: number;
}

/** Runs `bash FILE ARGS` without blocking the event loop (the fakes live in this process). */
function run(file: string, args: string[], env: Record<string, string>, timeoutMs = 15_000): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [file, ...args], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const timer = setTimeout(() => {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
            reject(new Error(`${path.basename(file)} still running after ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, output, ms: Date.now() - started });
        });
    });
}

/** Files under a directory, relative, sorted; symlinks shown as `name -> target`. */
function tree(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string, rel: string) => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
            const r = rel ? `${rel}/${e.name}` : e.name;
            if (e.isSymbolicLink()) out.push(`${r} -> ${fs.readlinkSync(path.join(d, e.name))}`);
            else if (e.isDirectory()) walk(path.join(d, e.name), r);
            else out.push(r);
        }
    };
    if (fs.existsSync(dir)) walk(dir, "");
    return out.sort();
}

describe("provision script (real bash, curl, tar, sha256sum against fake IMDS and S3)", function () {
    this.timeout(20_000);

    let tmp: string;
    let bin: string;
    let root: string;
    let tarLog: string;
    let store: CredentialStore;
    let imds: FakeImds;
    let s3: FakeS3;
    const closers: (() => Promise<void>)[] = [];

    const FILES_A = {
        "log/fluent.conf": "<source>\n  @type forward\n</source>\n",
        "images/app.tar": "saved image A",
        "nginx/conf.d/site.conf": "server {}\n",
    };
    const FILES_B = { "log/fluent.conf": "# release B\n", "images/app.tar": "saved image B" };
    let artifactA: Buffer;
    let artifactB: Buffer;

    before(async () => {
        artifactA = await targz(FILES_A);
        artifactB = await targz(FILES_B);
    });

    async function startFakes(imdsOpts: Partial<FakeImdsOptions> = {}): Promise<void> {
        store = new CredentialStore();
        imds = await new FakeImds({ store, ...imdsOpts }).start();
        s3 = await new FakeS3({ store, region: REGION }).start();
        closers.push(
            () => imds.close(),
            () => s3.close(),
        );
    }

    function keyOf(body: Buffer): string {
        return `artifacts/${sha256(body)}.tar.gz`;
    }

    /** The unit's own environment (so the test follows the unit's contract), pointed at the fakes. */
    function envFor(sha: string, extra: Record<string, string> = {}): Record<string, string> {
        const unit = provisionUnit({ bucket: BUCKET, key: `artifacts/${sha}.tar.gz`, sha256: sha, region: REGION });
        return {
            ...unit.environment,
            ARTIFACT_ROOT: root,
            PATH: `${path.join(tmp, "shim")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
            HOME: tmp, // no ~/.curlrc
            TAR_LOG: tarLog,
            CURL_ARGV_LOG: path.join(tmp, "curl-argv.log"),
            IMDS_ENDPOINT: imds.origin,
            PROVISION_S3_ENDPOINT: s3.endpoint(BUCKET),
            RETRY_BACKOFF_MS: "20",
            PROVISION_MAX_SECONDS: "10",
            ...extra,
        };
    }

    const provision = (sha: string, extra: Record<string, string> = {}) => run(path.join(bin, "provision"), [], envFor(sha, extra));
    const tarCalls = () => (fs.existsSync(tarLog) ? fs.readFileSync(tarLog, "utf8").split("\n").filter(Boolean) : []);
    const current = () => fs.readlinkSync(path.join(root, "current"));
    const read = (rel: string) => fs.readFileSync(path.join(root, "current", rel), "utf8");
    const s3Outcomes = () => s3.requests.map((r) => r.outcome);

    /** Neither the log nor any curl command line carries a credential. */
    function assertNoSecrets(output: string): void {
        const argvLog = path.join(tmp, "curl-argv.log");
        const argv = fs.existsSync(argvLog) ? fs.readFileSync(argvLog, "utf8") : "";
        assert.ok(argv.includes("--aws-sigv4"), "the curl shim saw no S3 request");
        assert.ok(store.all().length > 0);
        for (const c of store.all()) {
            for (const secret of [c.secretAccessKey, c.token, c.accessKeyId]) {
                assert.ok(!output.includes(secret), "a credential reached the log");
                assert.ok(!argv.includes(secret), "a credential is on a curl command line");
            }
        }
    }

    function assertInstalled(sha: string, files: Record<string, string>): void {
        assert.equal(current(), `releases/${sha}`);
        for (const [rel, content] of Object.entries(files)) assert.equal(read(rel), content, rel);
        const expected = [
            `current -> releases/${sha}`,
            `releases/${sha}/.provisioned`,
            ...Object.keys(files).map((f) => `releases/${sha}/${f}`),
        ];
        assert.deepEqual(tree(root), expected.sort());
    }

    /** The state a previous boot left: releases/<sha> complete, current pointing at it. */
    function installRelease(sha: string, files: Record<string, string>): void {
        const dir = path.join(root, "releases", sha);
        for (const [rel, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
            fs.writeFileSync(path.join(dir, rel), content);
        }
        fs.writeFileSync(path.join(dir, ".provisioned"), "");
        fs.symlinkSync(`releases/${sha}`, path.join(root, "current"));
    }

    let realTar: string;
    let realCurl: string;
    before(() => {
        const which = (cmd: string) => spawnSync("bash", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).stdout.trim();
        realTar = which("tar");
        realCurl = which("curl");
        assert.ok(realTar.startsWith("/") && realCurl.startsWith("/"), "tar and curl must be on PATH");
    });

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "provision-test-"));
        bin = path.join(tmp, "bin");
        root = path.join(tmp, "artifact");
        tarLog = path.join(tmp, "tar.log");
        fs.mkdirSync(bin);
        for (const f of hostScripts(HOST_SCRIPTS))
            fs.writeFileSync(path.join(bin, path.basename(f.path)), f.content, { mode: parseInt(f.permissions, 8) });
        // A tar that records its calls, to prove when unpacking did (not) happen.
        fs.mkdirSync(path.join(tmp, "shim"));
        fs.writeFileSync(path.join(tmp, "shim", "tar"), `#!/bin/bash\necho "$*" >>"$TAR_LOG"\nexec ${realTar} "$@"\n`, { mode: 0o755 });
        // A curl that records its argv (what `ps` would show), to prove no secret is on a command line.
        fs.writeFileSync(path.join(tmp, "shim", "curl"), `#!/bin/bash\necho "$*" >>"$CURL_ARGV_LOG"\nexec ${realCurl} "$@"\n`, {
            mode: 0o755,
        });
    });

    afterEach(async () => {
        while (closers.length) await closers.pop()!();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("is static text, valid bash, and small enough for user-data", () => {
        const text = scriptText(PROVISION_SCRIPT);
        assert.equal(spawnSync("bash", ["-n"], { input: text }).status, 0);
        assert.ok(Buffer.byteLength(text) <= 2500, `provision script is ${Buffer.byteLength(text)} bytes`);
        assert.ok(
            !text.includes(BUCKET) && !/\b[0-9a-f]{64}\b/.test(text.replace(EMPTY_SHA256, "")),
            "per-stack values belong in the unit",
        );
        assert.ok(text.includes("https://$ARTIFACT_BUCKET.s3.$ARTIFACT_REGION.amazonaws.com}/$ARTIFACT_KEY"));
    });

    it("fetches with the instance role, verifies, unpacks, and points current at releases/<sha>", async () => {
        await startFakes();
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        const r = await provision(sha);
        assert.equal(r.code, 0, r.output);
        assertInstalled(sha, FILES_A);
        assert.deepEqual(s3Outcomes(), ["ok"]);
        assert.equal(s3.requests[0]!.accessKeyId, imds.issued[0]!.accessKeyId);
        assert.deepEqual(
            { token: imds.counts.token, roleList: imds.counts.roleList, credentials: imds.counts.credentials },
            { token: 1, roleList: 1, credentials: 1 },
        );
        assert.equal(tarCalls().length, 1);
        assertNoSecrets(r.output);
    });

    it("replaces the previous release and removes leftovers of an interrupted run", async () => {
        await startFakes();
        const shaA = sha256(artifactA);
        const shaB = sha256(artifactB);
        installRelease(shaA, FILES_A);
        fs.mkdirSync(path.join(root, "releases", `${shaB}.tmp.4242`, "log"), { recursive: true });
        fs.writeFileSync(path.join(root, "releases", `${shaB}.tmp.4242`, "log", "fluent.conf"), "half");
        fs.writeFileSync(path.join(root, "releases", `${shaB}.tmp.4242.tgz`), "half");
        s3.putObject(BUCKET, keyOf(artifactB), artifactB);
        const r = await provision(shaB);
        assert.equal(r.code, 0, r.output);
        assertInstalled(shaB, FILES_B);
    });

    it("does nothing, and no network at all, when current is already that complete release; refetches without the marker", async () => {
        await startFakes();
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        assert.equal((await provision(sha)).code, 0);
        const before = { s3: s3.requests.length, imds: imds.counts.requests, tar: tarCalls().length };
        const again = await provision(sha);
        assert.equal(again.code, 0, again.output);
        assert.deepEqual({ s3: s3.requests.length, imds: imds.counts.requests, tar: tarCalls().length }, before);
        assertInstalled(sha, FILES_A);
        // A release without its marker is not trusted: fetched and unpacked again.
        fs.rmSync(path.join(root, "releases", sha, ".provisioned"));
        const third = await provision(sha);
        assert.equal(third.code, 0, third.output);
        assert.equal(s3.requests.length, before.s3 + 1);
        assertInstalled(sha, FILES_A);
    });

    it("retries 5xx answers with fresh credentials, then succeeds", async () => {
        await startFakes();
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        s3.inject({ kind: "status", status: 500 }, { kind: "status", status: 503 });
        const r = await provision(sha);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(s3Outcomes(), ["InternalError", "InternalError", "ok"]);
        assert.equal(imds.counts.credentials, 3);
        assert.match(r.output, /retrying in 0\.020s[\s\S]*retrying in 0\.040s/);
        assertInstalled(sha, FILES_A);
    });

    it("retries a truncated body and never unpacks the partial bytes", async () => {
        await startFakes();
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        s3.inject({ kind: "truncate" });
        const r = await provision(sha);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(s3Outcomes(), ["truncate", "ok"]);
        assert.match(r.output, /curl: \(18\)/, "curl itself should see the short body");
        assert.equal(tarCalls().length, 1);
        assertInstalled(sha, FILES_A);
    });

    it("retries a body of the right length with a flipped byte (hash check before unpack)", async () => {
        await startFakes();
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        s3.inject({ kind: "corrupt" });
        const r = await provision(sha);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(s3Outcomes(), ["corrupt", "ok"]);
        assert.match(r.output, /SHA-256 [0-9a-f]{64} is not the expected one/);
        assert.equal(tarCalls().length, 1);
        assertInstalled(sha, FILES_A);
    });

    it("on a hash mismatch: retries, gives up in bounded time, and leaves the current release untouched", async () => {
        await startFakes();
        const shaA = sha256(artifactA);
        installRelease(shaA, FILES_A);
        // The object under B's key holds other (valid tar.gz) bytes.
        const shaB = sha256(artifactB);
        const evil = await targz({ "evil.txt": "must never be unpacked" });
        s3.putObject(BUCKET, `artifacts/${shaB}.tar.gz`, evil);
        const tarBefore = tarCalls().length;
        const r = await provision(shaB, { PROVISION_MAX_SECONDS: "2" });
        assert.notEqual(r.code, 0, r.output);
        assert.match(r.output, /giving up after 2s/);
        assert.ok(r.ms < 6000, `took ${r.ms} ms`);
        assert.ok(s3.count("ok") >= 2, `only ${s3.count("ok")} download attempt(s)`);
        assert.equal(tarCalls().length, tarBefore, "tar ran on unverified bytes");
        assert.equal(imds.counts.credentials, s3.requests.length);
        assertInstalled(shaA, FILES_A);
    });

    it("unpacks into a temporary folder and renames it: an unpack that fails midway leaves no releases/<sha> and the current release as it was", async () => {
        await startFakes();
        const shaA = sha256(artifactA);
        const shaB = sha256(artifactB);
        installRelease(shaA, FILES_A);
        s3.putObject(BUCKET, keyOf(artifactB), artifactB);
        // A tar that writes every file, then fails (a full disk, a killed process): what it wrote is partial.
        fs.writeFileSync(path.join(tmp, "shim", "tar"), `#!/bin/bash\necho "$*" >>"$TAR_LOG"\n${realTar} "$@"\nexit 2\n`, { mode: 0o755 });
        const r = await provision(shaB);
        assert.notEqual(r.code, 0, r.output);
        assert.equal(tarCalls().length, 1, "the unpack ran");
        assertInstalled(shaA, FILES_A);
        // The next boot, with a working tar, installs B whole.
        fs.writeFileSync(path.join(tmp, "shim", "tar"), `#!/bin/bash\nexec ${realTar} "$@"\n`, { mode: 0o755 });
        const again = await provision(shaB);
        assert.equal(again.code, 0, again.output);
        assertInstalled(shaB, FILES_B);
    });

    it("waits for IMDS and for the role's credentials, then succeeds", async () => {
        await startFakes({ tokenUnavailable: 2, credentialsUnavailable: 3 });
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        const r = await provision(sha);
        assert.equal(r.code, 0, r.output);
        assert.equal(imds.counts.notFound, 3);
        assert.equal(imds.counts.token, 2 + 3 + 1);
        assert.deepEqual(s3Outcomes(), ["ok"], "S3 was asked before there were credentials");
        assert.match(r.output, /IMDS token: failed[\s\S]*credentials: not available yet/);
        assertInstalled(sha, FILES_A);
    });

    it("gets new credentials after S3 rejects expired ones (one-line JSON too)", async () => {
        await startFakes({ expireFirst: 1, compactJson: true });
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        const r = await provision(sha);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(s3Outcomes(), ["ExpiredToken", "ok"]);
        assert.deepEqual(
            s3.requests.map((q) => q.accessKeyId),
            imds.issued.map((c) => c.accessKeyId),
        );
        assert.notEqual(imds.issued[0]!.accessKeyId, imds.issued[1]!.accessKeyId);
        assertNoSecrets(r.output);
        assertInstalled(sha, FILES_A);
    });

    it("fails (does not accept the download) when S3 rejects the signature", async () => {
        await startFakes({ wrongSecret: true });
        const sha = sha256(artifactA);
        s3.putObject(BUCKET, keyOf(artifactA), artifactA);
        const r = await provision(sha, { PROVISION_MAX_SECONDS: "1" });
        assert.notEqual(r.code, 0, r.output);
        assert.match(r.output, /giving up after 1s/);
        assert.ok(s3.requests.length >= 1);
        assert.deepEqual(new Set(s3Outcomes()), new Set(["SignatureDoesNotMatch"]));
        assert.match(r.output, /403/);
        assert.equal(tarCalls().length, 0);
        assert.deepEqual(tree(root), []);
        assertNoSecrets(r.output);
    });

    it("uses the production endpoints by default: IMDS at 169.254.169.254, S3 at <bucket>.s3.<region>.amazonaws.com:443", async () => {
        await startFakes();
        const proxy = await new FakeConnectProxy().start();
        closers.push(() => proxy.close());
        const sha = sha256(artifactA);
        const env = envFor(sha, { PROVISION_MAX_SECONDS: "1", http_proxy: imds.origin, https_proxy: proxy.origin });
        delete env.IMDS_ENDPOINT;
        delete env.PROVISION_S3_ENDPOINT;
        const r = await run(path.join(bin, "provision"), [], env);
        assert.notEqual(r.code, 0, r.output);
        assert.ok(imds.counts.credentials >= 1, r.output);
        assert.deepEqual(new Set(imds.hosts), new Set(["169.254.169.254"]));
        assert.ok(proxy.targets.length >= 1, r.output);
        assert.deepEqual(new Set(proxy.targets), new Set([`${BUCKET}.s3.${REGION}.amazonaws.com:443`]));
        assert.deepEqual(tree(root), []);
    });

    it("refuses a malformed ARTIFACT_SHA256 before any network or file change", async () => {
        await startFakes();
        const r = await provision("../../etc");
        assert.equal(r.code, 2, r.output);
        assert.equal(imds.counts.requests + s3.requests.length, 0);
        assert.equal(fs.existsSync(root), false);
    });
});

describe("with_retries (aws.sh), on a stand-in clock", () => {
    /**
     * Runs `with_retries BUDGET cmd` under bash with aws.sh sourced, where `cmd` fails FAILURES times,
     * and `sleep` and `date` are stand-ins: sleeping advances a fake clock. Returns the waits, in seconds.
     */
    function waits(budgetSeconds: number, failures: number): { code: number | null; waits: number[] } {
        const aws = scriptText(`${path.dirname(PROVISION_SCRIPT)}/aws.sh`);
        const script = [
            aws,
            "now_ms=0; attempts=0",
            'date() { echo "$now_ms"; }',
            'sleep() { echo "slept $1"; now_ms=$((now_ms + 10#${1%.*} * 1000 + 10#${1#*.})); }',
            `cmd() { attempts=$((attempts + 1)); [ "$attempts" -gt ${failures} ]; }`,
            `with_retries ${budgetSeconds} cmd`,
        ].join("\n");
        const r = spawnSync("bash", ["-c", script], { encoding: "utf8", env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
        const slept = [...r.stdout.matchAll(/^slept (\S+)$/gm)].map((m) => Number(m[1]));
        return { code: r.status, waits: slept };
    }

    it("doubles the wait from 1 s and never waits more than 60 s between attempts", () => {
        assert.deepEqual(waits(100_000, 9), { code: 0, waits: [1, 2, 4, 8, 16, 32, 60, 60, 60] });
    });

    it("gives up, without waiting, once the next wait would pass the budget", () => {
        // 1+2+4+8+16+32+60+60 = 183 s; another 60 s would end at 243 s, past 200 s.
        assert.deepEqual(waits(200, 1_000), { code: 1, waits: [1, 2, 4, 8, 16, 32, 60, 60] });
    });
});

describe("fake S3 signature check (so the script tests can fail)", function () {
    this.timeout(10_000);
    let store: CredentialStore;
    let s3: FakeS3;

    beforeEach(async () => {
        store = new CredentialStore();
        s3 = await new FakeS3({ store, region: REGION }).start();
        s3.putObject(BUCKET, "artifacts/x.tar.gz", Buffer.from("payload"));
    });
    afterEach(() => s3.close());

    it("computes AWS's published SigV4 example (GET /test.txt on examplebucket)", () => {
        const signature = sigV4Signature({
            method: "GET",
            path: "/test.txt",
            query: "",
            headers: {
                host: "examplebucket.s3.amazonaws.com",
                range: "bytes=0-9",
                "x-amz-content-sha256": EMPTY_SHA256,
                "x-amz-date": "20130524T000000Z",
            },
            signedHeaders: ["host", "range", "x-amz-content-sha256", "x-amz-date"],
            payloadHash: EMPTY_SHA256,
            amzDate: "20130524T000000Z",
            region: "us-east-1",
            service: "s3",
            secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        });
        assert.equal(signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    });

    interface Sign {
        secret?: string;
        token?: string | null;
        contentSha?: string | null;
        region?: string;
        url?: string;
    }

    async function get(o: Sign): Promise<{ status: string; body: string }> {
        const c = store.all()[0] ?? store.issue();
        const cfg = [`user = "${c.accessKeyId}:${o.secret ?? c.secretAccessKey}"`];
        if (o.token !== null) cfg.push(`header = "x-amz-security-token: ${o.token ?? c.token}"`);
        const args = ["-sS", "-K", "-", "--aws-sigv4", `aws:amz:${o.region ?? REGION}:s3`, "-w", "\n%{http_code}"];
        if (o.contentSha !== null) args.push("-H", `x-amz-content-sha256: ${o.contentSha ?? EMPTY_SHA256}`);
        args.push(o.url ?? `${s3.endpoint(BUCKET)}/artifacts/x.tar.gz`);
        const out = await new Promise<string>((resolve, reject) => {
            const child = spawn("curl", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: os.tmpdir() } });
            let text = "";
            child.stdout.on("data", (d: Buffer) => (text += d.toString()));
            child.on("error", reject);
            child.on("close", () => resolve(text));
            child.stdin.end(cfg.join("\n") + "\n");
        });
        const nl = out.lastIndexOf("\n");
        return { status: out.slice(nl + 1), body: out.slice(0, nl) };
    }

    it("serves a correctly signed request, virtual-hosted and path-style", async () => {
        assert.deepEqual(await get({}), { status: "200", body: "payload" });
        assert.deepEqual(await get({ url: `${s3.pathStyleEndpoint(BUCKET)}/artifacts/x.tar.gz` }), { status: "200", body: "payload" });
    });

    it("rejects a wrong secret, a missing or wrong token, a missing content hash, and a wrong region", async () => {
        assert.equal((await get({ secret: "not-the-secret" })).status, "403");
        assert.equal((await get({ token: null })).status, "403");
        assert.equal((await get({ token: "forged" })).status, "400");
        assert.equal((await get({ contentSha: null })).status, "400");
        assert.equal((await get({ contentSha: sha256(Buffer.from("a body")) })).status, "400");
        assert.equal((await get({ region: "us-east-1" })).status, "400");
        assert.deepEqual(
            s3.requests.map((r) => r.outcome),
            [
                "SignatureDoesNotMatch",
                "InvalidAccessKeyId",
                "InvalidToken",
                "InvalidRequest",
                "XAmzContentSHA256Mismatch",
                "AuthorizationHeaderMalformed",
            ],
        );
    });
});

describe("ensure-image (with a fake docker)", function () {
    this.timeout(10_000);
    let tmp: string;
    let state: string;
    let bin: string;

    // Records every call; `load -i F` adds the refs listed in F plus a dangling image.
    const FAKE_DOCKER = `#!/bin/bash
s=$FAKE_DOCKER_STATE
echo "$*" >>"$s/calls"
case "$1" in
image) [ "$2" = inspect ] && grep -qxF -- "$3" "$s/images" ;;
pull) echo "$2" >>"$s/images" ;;
load) [ "$2" = -i ] && cat "$3" >>"$s/images" && echo sha256:dangling1 >>"$s/dangling" ;;
images) cat "$s/dangling" ;;
rmi) [ -z "\${FAKE_RMI_FAIL:-}" ] || { echo "conflict: image is being used" >&2; exit 1; } ;;
*) exit 99 ;;
esac
`;

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ensure-image-test-"));
        state = path.join(tmp, "state");
        bin = path.join(tmp, "bin");
        fs.mkdirSync(state);
        fs.mkdirSync(bin);
        for (const f of ["images", "dangling", "calls"]) fs.writeFileSync(path.join(state, f), "");
        for (const f of hostScripts(HOST_SCRIPTS))
            fs.writeFileSync(path.join(bin, path.basename(f.path)), f.content, { mode: parseInt(f.permissions, 8) });
        fs.writeFileSync(path.join(tmp, "docker"), FAKE_DOCKER, { mode: 0o755 });
    });
    afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

    const ensure = (args: string[], extra: Record<string, string> = {}) =>
        run(path.join(bin, path.basename(ENSURE_IMAGE)), args, {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            DOCKER: path.join(tmp, "docker"),
            FAKE_DOCKER_STATE: state,
            ...extra,
        });
    const calls = () => fs.readFileSync(path.join(state, "calls"), "utf8").split("\n").filter(Boolean);
    const tarball = (refs: string[]) => {
        const f = path.join(tmp, "app.tar");
        fs.writeFileSync(f, refs.map((r) => r + "\n").join(""));
        return f;
    };

    it("load: loads a missing image, checks it arrived, then removes dangling images", async () => {
        const tar = tarball(["app:1.2.3"]);
        const r = await ensure(["load", tar, "app:1.2.3"]);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(calls(), [
            "image inspect app:1.2.3",
            `load -i ${tar}`,
            "image inspect app:1.2.3",
            "images -q --filter dangling=true",
            "rmi sha256:dangling1",
        ]);
    });

    it("load: does nothing but look when the image is present", async () => {
        fs.writeFileSync(path.join(state, "images"), "app:1.2.3\n");
        const r = await ensure(["load", tarball(["app:1.2.3"]), "app:1.2.3"]);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(calls(), ["image inspect app:1.2.3"]);
    });

    it("load: fails when the tarball did not carry the ref", async () => {
        const r = await ensure(["load", tarball(["other:9"]), "app:1.2.3"]);
        assert.equal(r.code, 1, r.output);
        assert.match(r.output, /did not contain app:1\.2\.3/);
    });

    it("load: a failing cleanup does not fail the unit", async () => {
        const r = await ensure(["load", tarball(["app:1.2.3"]), "app:1.2.3"], { FAKE_RMI_FAIL: "1" });
        assert.equal(r.code, 0, r.output);
        assert.ok(calls().includes("rmi sha256:dangling1"));
        assert.match(r.output, /cleanup failed \(ignored\)/);
    });

    it("pull: pulls only when the image is missing", async () => {
        const first = await ensure(["pull", "nginx:1.27.2-alpine"]);
        assert.equal(first.code, 0, first.output);
        assert.deepEqual(calls(), ["image inspect nginx:1.27.2-alpine", "pull nginx:1.27.2-alpine"]);
        const second = await ensure(["pull", "nginx:1.27.2-alpine"]);
        assert.equal(second.code, 0, second.output);
        assert.deepEqual(calls().slice(2), ["image inspect nginx:1.27.2-alpine"]);
    });

    it("rejects wrong usage", async () => {
        for (const args of [[], ["pull"], ["load", "x.tar"], ["push", "a"]]) {
            const r = await ensure(args);
            assert.equal(r.code, 2, `${args.join(" ")}: ${r.output}`);
        }
        assert.deepEqual(calls(), []);
    });

    it("image-cleanup removes dangling images through $DOCKER", async () => {
        fs.writeFileSync(path.join(state, "dangling"), "sha256:a\nsha256:b\n");
        const r = await run(path.join(bin, "image-cleanup"), [], {
            PATH: process.env.PATH ?? "/usr/bin:/bin",
            DOCKER: path.join(tmp, "docker"),
            FAKE_DOCKER_STATE: state,
        });
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(calls(), ["images -q --filter dangling=true", "rmi sha256:a sha256:b"]);
    });
});

describe("provision unit", () => {
    it("is a oneshot after network-online with a timeout beyond the retry budget", () => {
        const unit = renderOneShotUnit(
            provisionUnit({ bucket: BUCKET, key: "artifacts/x.tar.gz", sha256: "0".repeat(64), region: REGION }),
        );
        const lines = unit.content.split("\n");
        for (const l of [
            "Wants=network-online.target",
            "After=network-online.target",
            "Type=oneshot",
            "RemainAfterExit=yes",
            `ExecStart=${PROVISION_SCRIPT}`,
        ]) {
            assert.ok(lines.includes(l), `${l} missing:\n${unit.content}`);
        }
        const timeout = Number(/^TimeoutStartSec=(\d+)$/m.exec(unit.content)?.[1]);
        assert.ok(timeout >= PROVISION_RETRY_SECONDS + 300, `TimeoutStartSec=${timeout}`);
        // The retry budget has one home: the unit passes it; the script has no default of its own.
        assert.ok(lines.includes(`Environment=PROVISION_MAX_SECONDS=${PROVISION_RETRY_SECONDS}`), unit.content);
        assert.match(scriptText(PROVISION_SCRIPT), /max=\$\{PROVISION_MAX_SECONDS:\?\}/);
        assert.ok(!/PROVISION_S3_ENDPOINT|IMDS_ENDPOINT|RETRY_BACKOFF_MS/.test(unit.content), "the unit must not set test overrides");
    });
});
