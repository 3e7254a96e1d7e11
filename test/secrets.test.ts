// The secrets script (host-scripts/secrets.sh) run for real (bash, curl --aws-sigv4, jq, base64)
// against local stand-ins of IMDSv2 and SSM Parameter Store that verify every signature
// (test/helpers/fake-aws.ts). The manifest it reads is the one units/secrets.ts renders, and the
// script text is what the host gets (hostScripts()), never a copy.
import { strict as assert } from "node:assert";
import { spawn, spawnSync } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import { ContainerUnit } from "../units/model";
import { hostScripts } from "../units/provision";
import { SECRETS_SCRIPT, SecretParameters, secretParameterName, secretValueProblems, secretsManifest, secretsUnit } from "../units/secrets";
import { formatProblem } from "../units/problems";
import { checkStackConfig } from "../config";
import { app, db } from "./fixtures/hosts-secrets/app";
import { HOST_SCRIPTS, fixtureHost } from "./helpers/fixtures";
import { dumpUnits, verifyUnits } from "./helpers/systemd";
import { orderedUnits } from "../units/render";
import { RunResult as ChildRun, ScratchDir, planInChild, planToDir, scratchDir } from "./helpers/plan";
import { OFFLINE_SECRET_VALUE, OfflinePlan, loadStackConfig, stackSecretKeys } from "../scripts/offline";
import { readUserData } from "../formats";
import { planUserDataBytes } from "../scripts/planUserData";
import { DOCKER, SECRETS_MANIFEST, SECRETS_UNIT, secretEnvFile } from "../units/layout";
import { CredentialStore, FakeImds, FakeImdsOptions, FakeSsm, sigV4Signature } from "./helpers/fake-aws";

const REGION = "eu-west-1";
const STACK = "test";

/** Values that break naive quoting, splitting or decoding; none has a line break (those go as files). */
const NASTY: Readonly<Record<string, string>> = {
    quotes: `p"a's\`x\` "unbalanced`,
    dollar: "$HOME ${PATH} $(id) %(protocol)s %% %n",
    spaces: "  leading and trailing  ",
    equals: "=a=b==",
    backslash: "back\\slash\\n\\t\\\\ ends with \\",
    unicode: "grüße ✓ 日本語 🔑 \u00a0nbsp",
    hash: "#not a comment",
    tab: "tab\tinside",
};

const PEM = '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\r\nline with "quotes" and $VAR\n-----END PRIVATE KEY-----\n';
const BINARY = Buffer.concat([Buffer.from([0, 255, 10, 13, 0x80, 0x1b]), crypto.randomBytes(200)]);

interface RunResult {
    code: number | null;
    output: string;
    ms: number;
}

function run(file: string, env: Record<string, string>, timeoutMs = 15_000): Promise<RunResult> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const child = spawn("bash", [file], { env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        let output = "";
        child.stdout.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr.on("data", (d: Buffer) => (output += d.toString()));
        const timer = setTimeout(() => {
            if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
            reject(new Error(`secrets still running after ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        child.on("error", reject);
        child.on("close", (code) => {
            clearTimeout(timer);
            resolve({ code, output, ms: Date.now() - started });
        });
    });
}

const container = (name: string, patch: Partial<ContainerUnit>): ContainerUnit => ({
    kind: "container",
    name,
    image: { kind: "registry", ref: "example/app:1.0.0" },
    ...patch,
});

describe("secrets script (real bash, curl, jq against SigV4-checking IMDS and SSM stand-ins)", function () {
    this.timeout(20_000);

    let tmp: string;
    let bin: string;
    let runDir: string;
    let store: CredentialStore;
    let imds: FakeImds;
    let ssm: FakeSsm;
    const closers: (() => Promise<void>)[] = [];
    const uid = process.getuid?.() ?? 0;
    const gid = process.getgid?.() ?? 0;

    /** app takes every NASTY value as env; files takes a PEM (text) and random bytes (base64), owned by us. */
    const CONTAINERS: ContainerUnit[] = [
        container("app", { secretEnv: Object.fromEntries(Object.keys(NASTY).map((k) => [`V_${k.toUpperCase()}`, k])) }),
        container("files", {
            secretEnv: { ONLY: "quotes" },
            secretFiles: [
                { secret: "pem", target: "/run/secrets/key.pem", uid, gid },
                { secret: "blob", target: "/run/secrets/blob.bin", encoding: "base64", uid, gid },
            ],
        }),
    ];
    const VALUES: Record<string, string> = { ...NASTY, pem: PEM, blob: BINARY.toString("base64") };

    async function startFakes(imdsOpts: Partial<FakeImdsOptions> = {}): Promise<void> {
        store = new CredentialStore();
        imds = await new FakeImds({ store, ...imdsOpts }).start();
        ssm = await new FakeSsm({ store, region: REGION }).start();
        closers.push(
            () => imds.close(),
            () => ssm.close(),
        );
    }

    /** Put each value into SSM; the parameters (version as stored) for the manifest. */
    function store_(values: Readonly<Record<string, string>>): SecretParameters {
        return Object.fromEntries(
            Object.entries(values).map(([s, v]) => {
                const name = secretParameterName("coreos-containers", STACK, s);
                return [s, { name, version: ssm.put(name, v) }];
            }),
        );
    }

    const secretsDir = () => path.join(runDir, "secrets");

    /** The unit's own environment, pointed at the stand-ins. */
    function envFor(containers: readonly ContainerUnit[], params: SecretParameters, extra: Record<string, string> = {}) {
        const manifest = path.join(tmp, "secrets.json");
        fs.writeFileSync(manifest, secretsManifest(containers, params, REGION), { mode: 0o600 });
        return {
            ...secretsUnit().environment,
            SECRETS_MANIFEST: manifest,
            SECRETS_DIR: secretsDir(),
            PATH: `${path.join(tmp, "shim")}:${process.env.PATH ?? "/usr/bin:/bin"}`,
            HOME: tmp,
            CURL_ARGV_LOG: path.join(tmp, "curl-argv.log"),
            IMDS_ENDPOINT: imds.origin,
            SSM_ENDPOINT: ssm.endpoint,
            RETRY_BACKOFF_MS: "20",
            SECRETS_MAX_SECONDS: "10",
            ...extra,
        };
    }

    const secrets = (containers: readonly ContainerUnit[], params: SecretParameters, extra: Record<string, string> = {}) =>
        run(path.join(bin, "secrets"), envFor(containers, params, extra));

    /** No value and no credential in the output or on any curl command line; nothing left in /run but the delivery. */
    function assertNoLeaks(r: RunResult, values: Readonly<Record<string, string>> = VALUES): void {
        const argvLog = path.join(tmp, "curl-argv.log");
        const argv = fs.existsSync(argvLog) ? fs.readFileSync(argvLog, "utf8") : "";
        for (const [name, v] of Object.entries(values)) {
            for (const probe of [v, v.trim()].filter((p) => p.length >= 6)) {
                assert.ok(!r.output.includes(probe), `the value of ${name} reached the script's output`);
                assert.ok(!argv.includes(probe), `the value of ${name} is on a curl command line`);
            }
        }
        for (const c of store.all())
            for (const s of [c.secretAccessKey, c.token]) {
                assert.ok(!r.output.includes(s), "a credential reached the output");
                assert.ok(!argv.includes(s), "a credential is on a curl command line");
            }
        const leftovers = fs.existsSync(runDir) ? fs.readdirSync(runDir).filter((f) => f !== "secrets") : [];
        assert.deepEqual(leftovers, [], "temporary files left under /run");
    }

    const mode = (p: string) => fs.statSync(p).mode & 0o777;

    beforeEach(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), "secrets-test-"));
        bin = path.join(tmp, "bin");
        runDir = path.join(tmp, "run", "coreos-containers");
        fs.mkdirSync(bin);
        for (const f of hostScripts(HOST_SCRIPTS))
            fs.writeFileSync(path.join(bin, path.basename(f.path)), f.content, { mode: parseInt(f.permissions, 8) });
        // A curl that records its argv (what `ps` would show).
        fs.mkdirSync(path.join(tmp, "shim"));
        const curl = spawnSync("bash", ["-c", "command -v curl"], { encoding: "utf8" }).stdout.trim();
        assert.ok(curl.startsWith("/"), "curl must be on PATH");
        fs.writeFileSync(path.join(tmp, "shim", "curl"), `#!/bin/bash\necho "$*" >>"$CURL_ARGV_LOG"\nexec ${curl} "$@"\n`, { mode: 0o755 });
    });

    afterEach(async () => {
        while (closers.length) await closers.pop()!();
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    it("writes each env file with the exact bytes of every value and each secret file with its exact bytes (text, base64 decoded), root-only", async () => {
        await startFakes();
        const r = await secrets(CONTAINERS, store_(VALUES));
        assert.equal(r.code, 0, r.output);
        const expected = Object.keys(NASTY)
            .map((k) => `V_${k.toUpperCase()}=${NASTY[k]}\n`)
            .sort()
            .join("");
        assert.equal(fs.readFileSync(path.join(secretsDir(), "app.env"), "utf8"), expected);
        assert.equal(fs.readFileSync(path.join(secretsDir(), "files.env"), "utf8"), `ONLY=${NASTY["quotes"]}\n`);
        assert.equal(mode(path.join(secretsDir(), "app.env")), 0o600);
        assert.equal(mode(secretsDir()), 0o700);
        const pem = path.join(secretsDir(), "files", "0-pem");
        const blob = path.join(secretsDir(), "files", "1-blob");
        assert.equal(fs.readFileSync(pem, "utf8"), PEM);
        assert.ok(fs.readFileSync(blob).equals(BINARY), "the binary file differs from the decoded bytes");
        for (const f of [pem, blob]) {
            assert.equal(mode(f), 0o400, f);
            assert.deepEqual([fs.statSync(f).uid, fs.statSync(f).gid], [uid, gid], f);
        }
        assert.match(r.output, /^10 secret parameters delivered into /m);
        assertNoLeaks(r);
    });

    it("gives a secret file the owner the container runs as (root only)", async () => {
        assert.equal(uid, 0, "chown to another user needs root: run the tests as root (npm test does in CI)");
        await startFakes();
        const grafana = [container("grafana", { secretFiles: [{ secret: "pem", target: "/run/secrets/admin", uid: 472, gid: 472 }] })];
        const r = await secrets(grafana, store_({ pem: PEM }));
        assert.equal(r.code, 0, r.output);
        const st = fs.statSync(path.join(secretsDir(), "grafana", "0-pem"));
        assert.deepEqual([st.uid, st.gid, st.mode & 0o777], [472, 472, 0o400]);
    });

    it("asks for each parameter's pinned version, at most 10 names per call, with the instance role's credentials", async () => {
        await startFakes();
        const many: Record<string, string> = Object.fromEntries(
            Array.from({ length: 12 }, (_, i) => [`s${String(i).padStart(2, "0")}`, `value-${i}`]),
        );
        const params = store_(many);
        // A newer value of s00 exists; the host must get the version its user-data names.
        ssm.put(params["s00"]!.name, "a newer value");
        const c = [container("many", { secretEnv: Object.fromEntries(Object.keys(many).map((s) => [s.toUpperCase(), s])) })];
        const r = await secrets(c, params);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(
            ssm.requests.map((q) => [q.outcome, q.names.length]),
            [
                ["ok", 10],
                ["ok", 2],
            ],
        );
        assert.deepEqual(
            ssm.requests.flatMap((q) => q.names).sort(),
            Object.values(params)
                .map((p) => `${p.name}:1`)
                .sort(),
        );
        assert.ok(ssm.requests.every((q) => q.target === "AmazonSSM.GetParameters"));
        assert.deepEqual(
            ssm.requests.map((q) => q.accessKeyId),
            imds.issued.map((i) => i.accessKeyId),
        );
        assert.ok(fs.readFileSync(path.join(secretsDir(), "many.env"), "utf8").includes("S00=value-0\n"));
        assertNoLeaks(r, many);
    });

    it("retries 5xx answers and throttling with fresh credentials, then delivers", async () => {
        await startFakes();
        const params = store_(VALUES);
        ssm.inject(
            { status: 500, type: "InternalServerError" },
            { status: 400, type: "ThrottlingException" },
            { status: 503, type: "ServiceUnavailable" },
        );
        const r = await secrets(CONTAINERS, params);
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(
            ssm.requests.map((q) => q.outcome),
            ["InternalServerError", "ThrottlingException", "ServiceUnavailable", "ok"],
        );
        assert.equal(imds.counts.credentials, 4);
        assert.match(
            r.output,
            /HTTP 500 InternalServerError[\s\S]*retrying in 0\.020s[\s\S]*HTTP 400 ThrottlingException[\s\S]*retrying in 0\.040s/,
        );
        assert.ok(fs.existsSync(path.join(secretsDir(), "app.env")));
        assertNoLeaks(r);
    });

    it("waits for IMDS and for the role's credentials, and asks SSM nothing before it has them", async () => {
        await startFakes({ tokenUnavailable: 2, credentialsUnavailable: 2 });
        const r = await secrets(CONTAINERS, store_(VALUES));
        assert.equal(r.code, 0, r.output);
        assert.match(r.output, /IMDS token: failed[\s\S]*credentials: not available yet/);
        assert.deepEqual(
            ssm.requests.map((q) => q.outcome),
            ["ok"],
        );
        assertNoLeaks(r);
    });

    it("a missing parameter fails at once (HTTP 200, InvalidParameters), names it, and delivers nothing", async () => {
        await startFakes();
        const params = store_(VALUES);
        ssm.delete(params["pem"]!.name);
        const r = await secrets(CONTAINERS, params);
        assert.equal(r.code, 3, r.output);
        assert.ok(r.output.includes(`<3>parameter ${params["pem"]!.name}:1 does not exist`), r.output);
        assert.deepEqual(
            ssm.requests.map((q) => q.outcome),
            ["ok"],
            "no retry: the answer will not change",
        );
        assert.equal(fs.existsSync(secretsDir()), false, "nothing delivered, not even the other containers' files");
        assertNoLeaks(r);
    });

    it("a version that does not exist fails the same way", async () => {
        await startFakes();
        const params = store_(VALUES);
        const r = await secrets(CONTAINERS, { ...params, quotes: { ...params["quotes"]!, version: 7 } });
        assert.equal(r.code, 3, r.output);
        assert.ok(r.output.includes(`parameter ${params["quotes"]!.name}:7 does not exist`), r.output);
        assert.equal(fs.existsSync(secretsDir()), false);
    });

    it("a request SSM refuses for good (ValidationException) fails at once; AccessDenied is retried until the budget runs out", async () => {
        await startFakes();
        const params = store_(VALUES);
        ssm.inject({ status: 400, type: "ValidationException" });
        const refused = await secrets(CONTAINERS, params);
        assert.equal(refused.code, 4, refused.output);
        assert.match(refused.output, /HTTP 400 ValidationException[\s\S]*not retrying/);
        assert.equal(ssm.requests.length, 1);

        ssm.inject(...Array.from({ length: 50 }, () => ({ status: 400, type: "AccessDeniedException" })));
        const denied = await secrets(CONTAINERS, params, { SECRETS_MAX_SECONDS: "1" });
        assert.equal(denied.code, 1, denied.output);
        assert.match(denied.output, /giving up after 1s: secrets not fetched/);
        assert.ok(ssm.count("AccessDeniedException") >= 3, `only ${ssm.count("AccessDeniedException")} attempts`);
        // It stops at its 1 s budget, not at the 10-minute default (generous for a machine under load).
        assert.ok(denied.ms < 15_000, `took ${denied.ms} ms`);
        assert.equal(fs.existsSync(secretsDir()), false);
    });

    it("replaces an earlier delivery whole (a new version, a container that no longer takes secrets)", async () => {
        await startFakes();
        const params = store_(VALUES);
        assert.equal((await secrets(CONTAINERS, params)).code, 0);
        const v2 = ssm.put(params["quotes"]!.name, "rotated value");
        const onlyFiles = [CONTAINERS[1]!];
        const r = await secrets(onlyFiles, { ...params, quotes: { ...params["quotes"]!, version: v2 } });
        assert.equal(r.code, 0, r.output);
        assert.deepEqual(fs.readdirSync(secretsDir()).sort(), ["files", "files.env"]);
        assert.equal(fs.readFileSync(path.join(secretsDir(), "files.env"), "utf8"), "ONLY=rotated value\n");
        assertNoLeaks(r);
    });
});

describe("fake SSM signature check (so the script tests can fail)", function () {
    this.timeout(10_000);
    let store: CredentialStore;
    let ssm: FakeSsm;
    const NAME = "/coreos-containers/test/db";
    const BODY = JSON.stringify({ Names: [`${NAME}:1`], WithDecryption: true });

    beforeEach(async () => {
        store = new CredentialStore();
        ssm = await new FakeSsm({ store, region: REGION }).start();
        ssm.put(NAME, "s3cr3t value");
    });
    afterEach(() => ssm.close());

    interface Sign {
        secret?: string;
        token?: string | null;
        service?: string;
        target?: string;
        unsigned?: boolean;
    }

    /** A request as the script makes it (curl --aws-sigv4, credentials on stdin), with one thing changed. */
    async function post(o: Sign): Promise<{ status: string; body: string }> {
        const c = store.all()[0] ?? store.issue();
        const cfg = [`user = "${c.accessKeyId}:${o.secret ?? c.secretAccessKey}"`];
        if (o.token !== null) cfg.push(`header = "x-amz-security-token: ${o.token ?? c.token}"`);
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "fake-ssm-"));
        fs.writeFileSync(path.join(dir, "q"), BODY);
        const args = [
            "-sS",
            ...(o.unsigned ? [] : ["-K", "-", "--aws-sigv4", `aws:amz:${REGION}:${o.service ?? "ssm"}`]),
            "-w",
            "\n%{http_code}",
            "-H",
            "Content-Type: application/x-amz-json-1.1",
            "-H",
            `X-Amz-Target: ${o.target ?? "AmazonSSM.GetParameters"}`,
            "--data-binary",
            `@${path.join(dir, "q")}`,
            `${ssm.endpoint}/`,
        ];
        const out = await new Promise<string>((resolve, reject) => {
            const child = spawn("curl", args, { env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir } });
            let text = "";
            child.stdout.on("data", (d: Buffer) => (text += d.toString()));
            child.on("error", reject);
            child.on("close", () => resolve(text));
            child.stdin.end(o.unsigned ? "" : cfg.join("\n") + "\n");
        });
        fs.rmSync(dir, { recursive: true, force: true });
        const nl = out.lastIndexOf("\n");
        return { status: out.slice(nl + 1), body: out.slice(0, nl) };
    }

    it("answers a correctly signed GetParameters with the version asked for", async () => {
        const r = await post({});
        assert.equal(r.status, "200", r.body);
        const doc = JSON.parse(r.body) as {
            Parameters: { Name: string; Value: string; Version: number; Selector: string }[];
            InvalidParameters: string[];
        };
        assert.deepEqual(
            doc.Parameters.map((p) => [p.Name, p.Value, p.Version, p.Selector]),
            [[NAME, "s3cr3t value", 1, ":1"]],
        );
        assert.deepEqual(doc.InvalidParameters, []);
    });

    it("rejects unsigned, wrongly keyed, token-less, wrongly scoped and unknown-operation requests", async () => {
        assert.equal((await post({ unsigned: true })).status, "400");
        assert.equal((await post({ secret: "not-the-secret" })).status, "400");
        assert.equal((await post({ token: null })).status, "400");
        assert.equal((await post({ service: "s3" })).status, "400");
        assert.equal((await post({ target: "AmazonSSM.GetParametersByPath" })).status, "400");
        assert.deepEqual(
            ssm.requests.map((q) => q.outcome),
            [
                "MissingAuthenticationTokenException",
                "InvalidSignatureException",
                "UnrecognizedClientException",
                "InvalidSignatureException",
                "UnknownOperationException",
            ],
        );
    });

    it("rejects a body other than the one signed (the payload hash is in the canonical request)", async () => {
        const c = store.issue();
        const amzDate = new Date()
            .toISOString()
            .replace(/[-:]/g, "")
            .replace(/\.\d+Z$/, "Z");
        const host = new URL(ssm.endpoint).host;
        const headers = {
            "content-type": "application/x-amz-json-1.1",
            host,
            "x-amz-date": amzDate,
            "x-amz-security-token": c.token,
            "x-amz-target": "AmazonSSM.GetParameters",
        };
        const signedHeaders = Object.keys(headers).sort();
        const signFor = (body: string) =>
            sigV4Signature({
                method: "POST",
                path: "/",
                query: "",
                headers,
                signedHeaders,
                payloadHash: crypto.createHash("sha256").update(body).digest("hex"),
                amzDate,
                region: REGION,
                service: "ssm",
                secretAccessKey: c.secretAccessKey,
            });
        const send = (body: string, signature: string) =>
            new Promise<number>((resolve, reject) => {
                const req = http.request(
                    `http://127.0.0.1:${ssm.port}/`,
                    {
                        method: "POST",
                        headers: {
                            ...headers,
                            authorization: `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${amzDate.slice(0, 8)}/${REGION}/ssm/aws4_request, SignedHeaders=${signedHeaders.join(";")}, Signature=${signature}`,
                        },
                    },
                    (res) => {
                        res.resume();
                        res.on("end", () => resolve(res.statusCode ?? 0));
                    },
                );
                req.on("error", reject);
                req.end(body);
            });
        const other = JSON.stringify({ Names: [`${NAME}:1`, "/coreos-containers/other/db:1"], WithDecryption: true });
        assert.equal(await send(BODY, signFor(BODY)), 200, "the honest request, as a control");
        assert.equal(await send(other, signFor(BODY)), 400);
        assert.deepEqual(
            ssm.requests.map((q) => q.outcome),
            ["ok", "InvalidSignatureException"],
        );
    });
});

// ---------------------------------------------------------------------------------------------
// A stack with secrets, planned offline in child processes: what the program registers, and a
// search for distinctive planted values in everything the plan writes and prints.

const SECRETS_HOSTS_DIR = "test/fixtures/hosts-secrets";
const NS = "coreos-containers";

describe("a stack with secrets, planned offline (npm start)", function () {
    this.timeout(120_000);
    const mark = crypto.randomBytes(6).toString("hex");
    const BLOB = Buffer.concat([Buffer.from(`PLANTED-BYTES-${mark}`), crypto.randomBytes(40)]);
    /** Distinctive values; a hit for any of them (or its JSON or base64 form) anywhere is a leak. */
    const PLANTED: Record<string, string> = {
        "db-password": `PLANTED-db-${mark} "quoted" $dollar`,
        "database-url": `postgres://app:PLANTED-url-${mark}@db:5432/app?sslmode=disable`,
        "session-key": `PLANTED-session-${mark}`,
        "tls-key": `-----BEGIN PRIVATE KEY-----\nPLANTED-tls-${mark}\n-----END PRIVATE KEY-----\n`,
        "signing-key": BLOB.toString("base64"),
    };
    const probes = () => [
        ...Object.values(PLANTED),
        ...Object.values(PLANTED).map((v) => JSON.stringify(v).slice(1, -1)),
        `PLANTED-BYTES-${mark}`,
        mark,
    ];
    const config = (extra: Record<string, unknown> = {}) => ({
        [`${NS}:hostsDir`]: SECRETS_HOSTS_DIR,
        [`${NS}:artifactDir`]: "test/fixtures/artifact",
        [`${NS}:containers`]: {},
        [`${NS}:secrets`]: PLANTED,
        ...extra,
    });
    const SECRET_KEYS = [`${NS}:secrets`];
    let out: ScratchDir;
    let planned: Promise<{ run: ChildRun; plan: OfflinePlan }>;
    let withKey: Promise<OfflinePlan>;

    before(() => {
        out = scratchDir("out-secrets");
        planned = planToDir({ stack: "dev", userHosts: true, config: config(), secretKeys: SECRET_KEYS }, path.join(out.abs, "dev"));
        withKey = planInChild({
            stack: "dev",
            userHosts: true,
            config: config({ [`${NS}:secretsKmsKeyArn`]: KMS_KEY }),
            secretKeys: SECRET_KEYS,
        });
        planned.catch(() => undefined);
        withKey.catch(() => undefined);
    });
    after(() => out?.remove());

    const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";
    const byType = (plan: OfflinePlan, type: string) => plan.resources.filter((r) => r.type === type);
    const policies = (plan: OfflinePlan) =>
        byType(plan, "aws:iam/rolePolicy:RolePolicy").map((r) => ({
            name: r.name,
            doc: JSON.parse(String(r.inputs["policy"])) as { Statement: Record<string, unknown>[] },
        }));

    it("stores each secret as a SecureString parameter under /coreos-containers/<stack>/, its value a Pulumi secret", async () => {
        const { plan } = await planned;
        const params = byType(plan, "aws:ssm/parameter:Parameter");
        assert.deepEqual(
            params.map((p) => [p.name, p.inputs["name"], p.inputs["type"], p.inputs["tier"], p.inputs["value"], p.inputs["keyId"]]),
            Object.keys(PLANTED)
                .sort()
                .map((s) => [`secrets-${s}`, `/coreos-containers/dev/${s}`, "SecureString", "Standard", "[secret]", undefined]),
        );
    });

    it("lets the role read exactly those parameters, and (with the aws/ssm key) nothing else", async () => {
        const { plan } = await planned;
        const arns = Object.keys(PLANTED)
            .sort()
            .map((s) => `arn:aws:ssm:eu-west-1:123456789012:parameter/coreos-containers/dev/${s}`);
        const read = policies(plan).find((p) => p.name === "host-read-secrets");
        assert.ok(read, "a read-secrets policy");
        assert.deepEqual(read.doc.Statement, [{ Effect: "Allow", Action: ["ssm:GetParameters"], Resource: arns }]);
        assert.deepEqual(
            policies(plan)
                .map((p) => p.name)
                .sort(),
            ["host-read-artifact", "host-read-secrets", "host-write-report"],
        );
    });

    it("with a customer-managed key, lets the role decrypt only through SSM and only for those parameters", async () => {
        const plan = await withKey;
        const arns = Object.keys(PLANTED)
            .sort()
            .map((s) => `arn:aws:ssm:eu-west-1:123456789012:parameter/coreos-containers/dev/${s}`);
        assert.deepEqual(
            byType(plan, "aws:ssm/parameter:Parameter").map((p) => p.inputs["keyId"]),
            Object.keys(PLANTED).map(() => KMS_KEY),
        );
        assert.deepEqual(policies(plan).find((p) => p.name === "host-read-secrets")?.doc.Statement, [
            { Effect: "Allow", Action: ["ssm:GetParameters"], Resource: arns },
            {
                Effect: "Allow",
                Action: ["kms:Decrypt"],
                Resource: [KMS_KEY],
                Condition: {
                    StringEquals: { "kms:ViaService": "ssm.eu-west-1.amazonaws.com", "kms:EncryptionContext:PARAMETER_ARN": arns },
                },
            },
        ]);
    });

    it("puts each parameter's version in the user-data (never a value), and runs the secrets unit before the containers that need it", async () => {
        const { plan } = await planned;
        const manifest = JSON.parse(readUserData(planUserDataBytes(plan)).files.find((f) => f.path === SECRETS_MANIFEST)!.content) as {
            parameters: string[];
            env: Record<string, Record<string, string>>;
        };
        assert.deepEqual(
            manifest.parameters,
            Object.keys(PLANTED)
                .sort()
                .map((s) => `/coreos-containers/dev/${s}:1`),
        );
        assert.deepEqual(manifest.env["app.env"], {
            DATABASE_URL: "/coreos-containers/dev/database-url:1",
            SESSION_KEY: "/coreos-containers/dev/session-key:1",
        });
        const names = plan.units.map((u) => u.name);
        assert.ok(names.indexOf(SECRETS_UNIT) < names.indexOf("docker-db.service"), names.join(" "));
        const app = plan.units.find((u) => u.name === "docker-app.service")!.content;
        assert.match(app, new RegExp(`^Requires=.* ${SECRETS_UNIT.replace(/\./g, "\\.")}`, "m"));
        assert.ok(app.includes("  --env-file /run/coreos-containers/secrets/app.env \\\n"), app);
        assert.ok(app.includes("  -v /run/coreos-containers/secrets/app/1-signing-key:/run/secrets/signing.der:ro \\\n"), app);
        assert.deepEqual(plan.outputs["secrets"], {
            "database-url": { parameter: "/coreos-containers/dev/database-url", version: 1, usedBy: ["app"] },
            "db-password": { parameter: "/coreos-containers/dev/db-password", version: 1, usedBy: ["db"] },
            "session-key": { parameter: "/coreos-containers/dev/session-key", version: 1, usedBy: ["app"] },
            "signing-key": { parameter: "/coreos-containers/dev/signing-key", version: 1, usedBy: ["app"] },
            "tls-key": { parameter: "/coreos-containers/dev/tls-key", version: 1, usedBy: ["app"] },
        });
    });

    it("a planted secret value appears in no file the plan writes, nor in what npm start prints", async () => {
        const { run } = await planned;
        const dir = path.join(out.abs, "dev");
        const files = fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile());
        assert.ok(files.length >= 3, "user-data, plan.json and units/ were written");
        const texts: [string, string][] = [
            ...files.map((e): [string, string] => [
                path.join(e.parentPath, e.name),
                fs.readFileSync(path.join(e.parentPath, e.name), "latin1"),
            ]),
            ["stdout", run.stdout],
            ["stderr", run.stderr],
        ];
        for (const [where, text] of texts) for (const p of probes()) assert.ok(!text.includes(p), `a planted value is in ${where}`);
        assert.ok(fs.readFileSync(path.join(dir, "plan.json"), "utf8").includes('"value": "[secret]"'), "plan.json shows [secret]");
        assert.match(run.stdout, /secrets-db-password +Parameter: SecureString \/coreos-containers\/dev\/db-password, value \[secret\]/);
    });

    it("refuses values it cannot deliver, and secrets set without --secret, naming the secret but never printing a value", () => {
        // Every check that reads values, fed planted ones it must refuse; their problem lines are what npm start and pulumi print.
        const containers = [db, app];
        const bad: Record<string, string> = {
            "db-password": "",
            "database-url": `PLANTED-two-${mark}\nlines`,
            "session-key": `"PLANTED-quoted-${mark}"`,
            "tls-key": `PLANTED-nul-${mark}\0`,
            "signing-key": `PLANTED-not-base64-${mark}!`,
            unused: `PLANTED-unused-${mark}`,
        };
        const problems = [
            ...secretValueProblems(containers, bad),
            ...secretValueProblems(containers, { ...PLANTED, "tls-key": `PLANTED-big-${mark}`.repeat(300) }),
            ...checkStackConfig({ "aws:region": "eu-west-1", [`${NS}:secrets`]: JSON.stringify(PLANTED) }).problems,
            ...checkStackConfig(
                { "aws:region": "eu-west-1", [`${NS}:secrets`]: JSON.stringify({ "bad name": `PLANTED-key-${mark}`, n: 5 }) },
                [`${NS}:secrets`],
            ).problems,
            ...checkStackConfig({ "aws:region": "eu-west-1", [`${NS}:secrets`]: `{"x": "PLANTED-json-${mark}"` }, [`${NS}:secrets`])
                .problems,
        ];
        assert.deepEqual(
            problems.map((p) => `${p.code} ${p.where} ${p.field}`),
            [
                'SECRET_VALUE_EMPTY db secretEnv["POSTGRES_PASSWORD"]',
                'SECRET_VALUE_MULTILINE app secretEnv["DATABASE_URL"]',
                'SECRET_VALUE_QUOTED app secretEnv["SESSION_KEY"]',
                "SECRET_VALUE_UNENCODABLE app secretFiles[0]",
                "SECRET_VALUE_NOT_BASE64 app secretFiles[1]",
                "CONFIG_SECRET_UNUSED config coreos-containers:secrets.unused",
                "SECRET_VALUE_TOO_LARGE app secretFiles[0]",
                "CONFIG_SECRETS_NOT_SECRET config coreos-containers:secrets",
                "CONFIG_INVALID_VALUE config coreos-containers:secrets.bad name",
                "CONFIG_WRONG_TYPE config coreos-containers:secrets.n",
                "CONFIG_WRONG_TYPE config coreos-containers:secrets",
            ],
        );
        const text = problems.map(formatProblem).join("\n");
        assert.ok(!text.includes("PLANTED") && !text.includes(mark), `a value is in a problem:\n${text}`);
    });
});

describe("the offline plan reads secure: values as the CLI hands them over, without decrypting anything", () => {
    it("marks a key secret when any part of it is secure:, and gives the program a placeholder for each ciphertext", () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "stack-secrets-"));
        try {
            fs.writeFileSync(
                path.join(dir, "Pulumi.yaml"),
                "name: coreos-containers\nruntime: nodejs\nconfig:\n  aws:region:\n    value: eu-west-1\n",
            );
            fs.writeFileSync(
                path.join(dir, "Pulumi.s.yaml"),
                "config:\n  coreos-containers:secrets:\n    db:\n      secure: v1:CIPHERdbAAAA\n    api:\n      secure: v1:CIPHERapiBBBB\n  coreos-containers:instanceType: t3.large\n",
            );
            const raw = loadStackConfig("s", dir);
            assert.deepEqual(stackSecretKeys("s", dir), ["coreos-containers:secrets"]);
            assert.deepEqual(JSON.parse(raw["coreos-containers:secrets"]!), { db: OFFLINE_SECRET_VALUE, api: OFFLINE_SECRET_VALUE });
            assert.equal(raw["coreos-containers:instanceType"], "t3.large");
            assert.ok(!JSON.stringify(raw).includes("CIPHER"), "a ciphertext reached the program's config");
            // The placeholder passes the value checks, however a secret is used (env, text file, base64 file).
            const uses = [container("a", { secretEnv: { DB: "db" }, secretFiles: [{ secret: "api", target: "/k", encoding: "base64" }] })];
            assert.deepEqual(secretValueProblems(uses, JSON.parse(raw["coreos-containers:secrets"]!) as Record<string, string>), []);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});

describe("a host with secrets, as systemd 252 reads its units", function () {
    this.timeout(60_000);
    const host = fixtureHost([db, app]);
    const units = orderedUnits(host);

    it("passes systemd-analyze verify with no output at all", () => {
        const executables = [DOCKER, "/bin/sh", ...host.files.filter((f) => parseInt(f.permissions, 8) & 0o100).map((f) => f.path)];
        assert.deepEqual(verifyUnits(units, executables), { status: 0, output: "" });
    });

    it("runs the secrets script with its environment, and each container with --env-file and -v …:ro, requiring the secrets unit", () => {
        const dump = dumpUnits(units);
        assert.deepEqual(dump.warnings, []);
        const secretsUnitDump = dump.units.get(SECRETS_UNIT)!;
        assert.deepEqual(
            secretsUnitDump.commands.get("ExecStart")?.map((c) => [...c.argv]),
            [[SECRETS_SCRIPT]],
        );
        assert.deepEqual([...secretsUnitDump.environment].sort(), [
            `SECRETS_DIR=/run/coreos-containers/secrets`,
            `SECRETS_MANIFEST=${SECRETS_MANIFEST}`,
            `SECRETS_MAX_SECONDS=600`,
        ]);
        const run = dump.units.get("docker-app.service")!.commands.get("ExecStart")![0]!.argv;
        const after = (flag: string) => run.flatMap((w, i) => (w === flag ? [run[i + 1]] : []));
        assert.deepEqual(after("--env-file"), [secretEnvFile("app")]);
        assert.deepEqual(after("-v").slice(-2), [
            "/run/coreos-containers/secrets/app/0-tls-key:/run/secrets/tls.key:ro",
            "/run/coreos-containers/secrets/app/1-signing-key:/run/secrets/signing.der:ro",
        ]);
        assert.ok(!run.some((w) => w.startsWith("DATABASE_URL")), "no secret variable on the command line");
        for (const c of ["docker-app.service", "docker-db.service"]) {
            assert.ok(dump.units.get(c)!.properties.get("Requires")?.join(" ").includes(SECRETS_UNIT), `${c} requires ${SECRETS_UNIT}`);
            assert.ok(dump.units.get(c)!.properties.get("After")?.join(" ").includes(SECRETS_UNIT), `${c} starts after ${SECRETS_UNIT}`);
        }
    });

    it("a host whose containers take no secret gets neither the unit, the manifest nor the script", () => {
        const plain = fixtureHost([{ ...db, secretEnv: undefined }]);
        assert.ok(!plain.oneshots.some((u) => u.name === SECRETS_UNIT));
        assert.ok(!plain.files.some((f) => f.path === SECRETS_MANIFEST || f.path === SECRETS_SCRIPT));
        assert.ok(host.files.some((f) => f.path === SECRETS_SCRIPT));
    });
});
