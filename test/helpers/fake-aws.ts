// Local stand-ins for the two AWS endpoints the provision script talks to, for tests only.
//
// FakeImds: IMDSv2 (token PUT required, then the instance role's name and its temporary credentials;
// the instance id and the user-data when given).
// FakeS3: serves objects by bucket/key and checks every request's SigV4 signature the way S3 does,
// recomputed with node:crypto from what actually arrived; then applies injected faults. PUTs are
// checked against the body's hash and an allow-list of keys (the instance role's IAM policy).
// FakeConnectProxy: records the host:port an HTTPS client asked to be tunnelled to, and refuses.
// All bind 127.0.0.1 on a random port, stop answering after `maxRequests`, and are closed by the test.
import * as crypto from "node:crypto";
import * as http from "node:http";
import { AddressInfo } from "node:net";

/** Temporary credentials of the instance role, as S3 knows them. */
export interface Credentials {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly token: string;
    expired: boolean;
}

/** What S3 "knows" about issued credentials. IMDS issues into it; S3 looks up in it. */
export class CredentialStore {
    private readonly byKey = new Map<string, Credentials>();
    private serial = 0;

    /** New random credentials; secrets and tokens contain `/`, `+` and `=` like real ones. */
    issue(): Credentials {
        this.serial++;
        const creds: Credentials = {
            accessKeyId: `ASIAFAKE${String(this.serial).padStart(4, "0")}${crypto.randomBytes(4).toString("hex").toUpperCase()}`,
            secretAccessKey: `s/+${crypto.randomBytes(27).toString("base64")}`,
            token: crypto.randomBytes(600).toString("base64"),
            expired: false,
        };
        this.byKey.set(creds.accessKeyId, creds);
        return creds;
    }

    get(accessKeyId: string): Credentials | undefined {
        return this.byKey.get(accessKeyId);
    }

    all(): Credentials[] {
        return [...this.byKey.values()];
    }
}

// ---- SigV4 (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html) ----

export const EMPTY_SHA256 = crypto.createHash("sha256").update("").digest("hex");

function sha256Hex(s: string): string {
    return crypto.createHash("sha256").update(s, "utf8").digest("hex");
}

function hmac(key: crypto.BinaryLike, data: string): Buffer {
    return crypto.createHmac("sha256", key).update(data, "utf8").digest();
}

function rfc3986(s: string): string {
    return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

function canonicalQuery(query: string): string {
    if (query === "") return "";
    return query
        .split("&")
        .map((part) => {
            const eq = part.indexOf("=");
            const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
            const v = eq < 0 ? "" : decodeURIComponent(part.slice(eq + 1).replace(/\+/g, "%20"));
            return [rfc3986(k), rfc3986(v)] as const;
        })
        .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
        .map(([k, v]) => `${k}=${v}`)
        .join("&");
}

export interface SigningInput {
    readonly method: string;
    /** The path as sent (S3 does not normalise or re-encode it), without the query. */
    readonly path: string;
    /** The raw query string, without `?`. */
    readonly query: string;
    /** Lower-case header names to values. */
    readonly headers: Readonly<Record<string, string>>;
    /** Lower-case names, in the order of `SignedHeaders=`. */
    readonly signedHeaders: readonly string[];
    /** The `x-amz-content-sha256` value. */
    readonly payloadHash: string;
    readonly amzDate: string;
    readonly region: string;
    readonly service: string;
    readonly secretAccessKey: string;
}

export function canonicalRequest(i: SigningInput): string {
    const headers = i.signedHeaders.map((h) => `${h}:${(i.headers[h] ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
    return [i.method, i.path, canonicalQuery(i.query), headers, i.signedHeaders.join(";"), i.payloadHash].join("\n");
}

/** The hex signature SigV4 gives this request. */
export function sigV4Signature(i: SigningInput): string {
    const date = i.amzDate.slice(0, 8);
    const scope = `${date}/${i.region}/${i.service}/aws4_request`;
    const stringToSign = ["AWS4-HMAC-SHA256", i.amzDate, scope, sha256Hex(canonicalRequest(i))].join("\n");
    let key = hmac(`AWS4${i.secretAccessKey}`, date);
    for (const part of [i.region, i.service, "aws4_request"]) key = hmac(key, part);
    return hmac(key, stringToSign).toString("hex");
}

// ---- SigV4 verification, as the services do it ----

/** Why a request's SigV4 authentication failed, in the order AWS checks. Each stand-in maps these to its own errors. */
export type SigV4Failure =
    | "missing" // no Authorization header
    | "malformed" // not `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
    | "payload" // the service's own check of the payload hash failed (S3's x-amz-content-sha256)
    | "wrong-service"
    | "wrong-region"
    | "bad-date" // x-amz-date missing, malformed, or not the credential scope's date
    | "skewed" // more than maxSkewMs from now
    | "unsigned-headers" // host, x-amz-date or an x-amz-* header left out of SignedHeaders
    | "unknown-key"
    | "no-token"
    | "bad-token"
    | "signature"
    | "expired";

export interface SigV4Check {
    readonly store: CredentialStore;
    readonly service: string;
    readonly region: string;
    /** What the canonical request ends with: S3 takes x-amz-content-sha256; the JSON and Query APIs, the body's hash. */
    readonly payloadHash: string;
    /** The service's own check of the payload, run right after the header is parsed (S3's order); a message when it fails. */
    readonly checkPayload?: () => string | undefined;
    /** Headers that must be signed besides host, x-amz-date and every x-amz-* header sent. */
    readonly mustSign?: readonly string[];
    /** The path and query as sent; default `/` and none. */
    readonly path?: string;
    readonly query?: string;
    /** Allowed clock skew; SigV4's 15 minutes by default. */
    readonly maxSkewMs?: number;
}

export type SigV4Result =
    | { readonly ok: true; readonly accessKeyId: string; readonly creds: Credentials }
    | { readonly ok: false; readonly failure: SigV4Failure; readonly detail: string; readonly accessKeyId?: string };

const AUTHORIZATION =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** Authenticate a request the way AWS does: recompute its SigV4 signature from what actually arrived. */
export function verifySigV4(req: http.IncomingMessage, c: SigV4Check): SigV4Result {
    const auth = headerValue(req, "authorization");
    if (auth === undefined) return { ok: false, failure: "missing", detail: "no Authorization header" };
    const m = AUTHORIZATION.exec(auth);
    if (!m) return { ok: false, failure: "malformed", detail: "the authorization header is malformed" };
    const [, akid = "", scopeDate = "", region = "", service = "", signedList = "", signature = ""] = m;
    const no = (failure: SigV4Failure, detail: string): SigV4Result => ({ ok: false, failure, detail, accessKeyId: akid });
    const payloadProblem = c.checkPayload?.();
    if (payloadProblem !== undefined) return no("payload", payloadProblem);
    if (service !== c.service) return no("wrong-service", `the credential is scoped to '${service}', not '${c.service}'`);
    if (region !== c.region) return no("wrong-region", `the credential is scoped to '${region}', not '${c.region}'`);
    const amzDate = headerValue(req, "x-amz-date") ?? "";
    const when = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    if (!when || amzDate.slice(0, 8) !== scopeDate) return no("bad-date", "x-amz-date is missing or does not match the credential scope");
    const t = Date.UTC(+when[1]!, +when[2]! - 1, +when[3]!, +when[4]!, +when[5]!, +when[6]!);
    if (Math.abs(Date.now() - t) > (c.maxSkewMs ?? 15 * 60_000)) return no("skewed", "the request time is too far from now");
    const signed = signedList.split(";");
    const mustSign = ["host", "x-amz-date", ...(c.mustSign ?? []), ...Object.keys(req.headers).filter((h) => h.startsWith("x-amz-"))];
    const unsigned = [...new Set(mustSign.filter((h) => !signed.includes(h)))];
    if (unsigned.length > 0) return no("unsigned-headers", `headers not signed: ${unsigned.join(", ")}`);
    const creds = c.store.get(akid);
    if (creds === undefined) return no("unknown-key", "the access key id is not known");
    const token = headerValue(req, "x-amz-security-token");
    if (token === undefined) return no("no-token", "temporary credentials need x-amz-security-token");
    if (token !== creds.token) return no("bad-token", "the security token is not the one issued with this key");
    const headers: Record<string, string> = {};
    for (const h of signed) headers[h] = headerValue(req, h) ?? "";
    const expected = sigV4Signature({
        method: req.method ?? "",
        path: c.path ?? "/",
        query: c.query ?? "",
        headers,
        signedHeaders: signed,
        payloadHash: c.payloadHash,
        amzDate,
        region,
        service,
        secretAccessKey: creds.secretAccessKey,
    });
    if (!crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature))) return no("signature", "the signature does not match");
    if (creds.expired) return no("expired", "the credentials have expired");
    return { ok: true, accessKeyId: akid, creds };
}

/** S3's answer to each failure (status, code); a missing payload hash is InvalidRequest, a wrong one a mismatch. */
const S3_AUTH_ERRORS: Readonly<Record<SigV4Failure, (payloadHashSent: boolean) => readonly [number, string]>> = {
    missing: () => [403, "AccessDenied"],
    malformed: () => [400, "AuthorizationHeaderMalformed"],
    payload: (sent) => (sent ? [400, "XAmzContentSHA256Mismatch"] : [400, "InvalidRequest"]),
    "wrong-service": () => [400, "AuthorizationHeaderMalformed"],
    "wrong-region": () => [400, "AuthorizationHeaderMalformed"],
    "bad-date": () => [403, "AccessDenied"],
    skewed: () => [403, "RequestTimeTooSkewed"],
    "unsigned-headers": () => [403, "AccessDenied"],
    "unknown-key": () => [403, "InvalidAccessKeyId"],
    "no-token": () => [403, "InvalidAccessKeyId"],
    "bad-token": () => [400, "InvalidToken"],
    signature: () => [403, "SignatureDoesNotMatch"],
    expired: () => [400, "ExpiredToken"],
};

/** SSM's (awsJson1_1) answer to each failure: status and `__type`. */
const SSM_AUTH_ERRORS: Readonly<Record<SigV4Failure, readonly [number, string]>> = {
    missing: [400, "MissingAuthenticationTokenException"],
    malformed: [400, "IncompleteSignatureException"],
    payload: [400, "InvalidSignatureException"],
    "wrong-service": [400, "InvalidSignatureException"],
    "wrong-region": [400, "InvalidSignatureException"],
    "bad-date": [400, "IncompleteSignatureException"],
    skewed: [400, "InvalidSignatureException"],
    "unsigned-headers": [400, "InvalidSignatureException"],
    "unknown-key": [400, "UnrecognizedClientException"],
    "no-token": [400, "UnrecognizedClientException"],
    "bad-token": [400, "UnrecognizedClientException"],
    signature: [400, "InvalidSignatureException"],
    expired: [400, "ExpiredTokenException"],
};

// ---- common server plumbing ----

/** An HTTP server on a random loopback port; subclasses give it its handler. */
abstract class LoopbackServer {
    protected abstract readonly server: http.Server;
    port = 0;

    /** `http://127.0.0.1:<port>` */
    get origin(): string {
        return `http://127.0.0.1:${this.port}`;
    }

    /** Listen on 127.0.0.1, on `port` or (0, the default) a random free one. */
    async start(port = 0): Promise<this> {
        await new Promise<void>((resolve, reject) => {
            this.server.once("error", reject);
            this.server.listen(port, "127.0.0.1", () => resolve());
        });
        this.port = (this.server.address() as AddressInfo).port;
        return this;
    }

    async close(): Promise<void> {
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server.close(() => resolve()));
    }
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(",") : v;
}

// ---- IMDS ----

export interface FakeImdsOptions {
    readonly store: CredentialStore;
    readonly roleName?: string;
    /** Answer 404 to this many requests under `iam/security-credentials/` (role not attached yet). */
    readonly credentialsUnavailable?: number;
    /** Answer 503 to this many token PUTs (IMDS not up yet). */
    readonly tokenUnavailable?: number;
    /** Hand out a secret that differs from what S3 knows (the client will sign wrongly). */
    readonly wrongSecret?: boolean;
    /** Mark this many of the first issued credentials as expired in S3 right away. */
    readonly expireFirst?: number;
    /** One-line JSON instead of IMDS's pretty-printed layout. */
    readonly compactJson?: boolean;
    /** `meta-data/instance-id`; 404 when not given. */
    readonly instanceId?: string;
    /** `meta-data/placement/availability-zone`, e.g. `eu-west-1a`; 404 when not given. */
    readonly availabilityZone?: string;
    /** `user-data`: the exact bytes EC2 hands the instance (decoded, for a `userDataBase64`); 404 when not given. */
    readonly userData?: Buffer;
    readonly maxRequests?: number;
}

export class FakeImds extends LoopbackServer {
    readonly counts = { requests: 0, token: 0, roleList: 0, credentials: 0, unauthorized: 0, notFound: 0, userData: 0, instanceId: 0 };
    /** The Host header of every request (tells whether a client came through a proxy for 169.254.169.254). */
    readonly hosts: string[] = [];
    /** Credentials handed out, in order. */
    readonly issued: Credentials[] = [];
    private readonly tokens = new Map<string, number>(); // token → expiry (ms)
    private credentialsUnavailable: number;
    private tokenUnavailable: number;
    protected readonly server = http.createServer((req, res) => this.handle(req, res));

    constructor(private readonly opts: FakeImdsOptions) {
        super();
        this.credentialsUnavailable = opts.credentialsUnavailable ?? 0;
        this.tokenUnavailable = opts.tokenUnavailable ?? 0;
    }

    get roleName(): string {
        return this.opts.roleName ?? "coreos-containers-host";
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
        this.counts.requests++;
        if (this.counts.requests > (this.opts.maxRequests ?? 300)) {
            req.socket.destroy();
            return;
        }
        this.hosts.push(req.headers.host ?? "");
        // Absolute-form URLs arrive when the client uses this server as its HTTP proxy.
        const path = new URL(req.url ?? "/", "http://imds.invalid").pathname;
        const send = (status: number, body: string) => {
            res.writeHead(status, { "Content-Type": "text/plain" });
            res.end(body);
        };
        if (path === "/latest/api/token") {
            if (req.method !== "PUT") return send(405, "");
            this.counts.token++;
            const ttl = Number(headerValue(req, "x-aws-ec2-metadata-token-ttl-seconds"));
            if (!Number.isInteger(ttl) || ttl < 1 || ttl > 21600) return send(400, "");
            if (this.tokenUnavailable > 0) {
                this.tokenUnavailable--;
                return send(503, "");
            }
            const token = crypto.randomBytes(32).toString("base64");
            this.tokens.set(token, Date.now() + ttl * 1000);
            return send(200, token);
        }
        const token = headerValue(req, "x-aws-ec2-metadata-token") ?? "";
        const expiry = this.tokens.get(token);
        if (req.method !== "GET" || expiry === undefined || expiry < Date.now()) {
            this.counts.unauthorized++;
            return send(401, "");
        }
        if (path === "/latest/meta-data/placement/availability-zone") {
            if (this.opts.availabilityZone === undefined) {
                this.counts.notFound++;
                return send(404, "");
            }
            return send(200, this.opts.availabilityZone);
        }
        const identity = { "/latest/meta-data/instance-id": this.opts.instanceId, "/latest/user-data": this.opts.userData };
        if (path === "/latest/meta-data/instance-id" || path === "/latest/user-data") {
            const value = identity[path];
            if (value === undefined) {
                this.counts.notFound++;
                return send(404, "");
            }
            this.counts[path === "/latest/user-data" ? "userData" : "instanceId"]++;
            res.writeHead(200, { "Content-Type": "application/octet-stream" });
            return void res.end(value);
        }
        const prefix = "/latest/meta-data/iam/security-credentials/";
        if (!path.startsWith(prefix)) {
            this.counts.notFound++;
            return send(404, "");
        }
        const role = path.slice(prefix.length);
        if (role === "") this.counts.roleList++;
        else this.counts.credentials++;
        if (this.credentialsUnavailable > 0) {
            this.credentialsUnavailable--;
            this.counts.notFound++;
            return send(404, "");
        }
        if (role === "") return send(200, this.roleName);
        if (role !== this.roleName) {
            this.counts.notFound++;
            return send(404, "");
        }
        // Rotating: every answer is a fresh set, so a client that re-fetches gets new keys.
        const creds = this.opts.store.issue();
        this.issued.push(creds);
        if (this.issued.length <= (this.opts.expireFirst ?? 0)) creds.expired = true;
        const doc = {
            Code: "Success",
            LastUpdated: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
            Type: "AWS-HMAC",
            AccessKeyId: creds.accessKeyId,
            SecretAccessKey: this.opts.wrongSecret ? `${creds.secretAccessKey.slice(0, -4)}AAAA` : creds.secretAccessKey,
            Token: creds.token,
            Expiration: new Date(Date.now() + 6 * 3600_000).toISOString().replace(/\.\d+Z$/, "Z"),
        };
        // IMDS's own layout: two-space indent, " : " between key and value.
        const body = this.opts.compactJson
            ? JSON.stringify(doc)
            : "{\n" +
              Object.entries(doc)
                  .map(([k, v]) => `  "${k}" : "${v}"`)
                  .join(",\n") +
              "\n}";
        send(200, body);
    }
}

// ---- S3 ----

export type S3Fault =
    | { readonly kind: "status"; readonly status: number }
    /** Advertise the full Content-Length, send half the bytes, close the connection. */
    | { readonly kind: "truncate" }
    /** Send the right length with one byte flipped. */
    | { readonly kind: "corrupt" };

export interface S3RequestRecord {
    readonly method: string;
    /** The Host header as it arrived (virtual-hosted or path-style). */
    readonly host: string;
    readonly bucket: string;
    readonly key: string;
    readonly accessKeyId: string | undefined;
    readonly status: number;
    /** `ok`, an S3 error code, or the fault applied. */
    readonly outcome: string;
}

export interface FakeS3Options {
    readonly store: CredentialStore;
    readonly region: string;
    readonly maxRequests?: number;
    /** Allowed clock skew, as S3's 15 minutes. */
    readonly maxSkewMs?: number;
}

export class FakeS3 extends LoopbackServer {
    readonly requests: S3RequestRecord[] = [];
    private readonly objects = new Map<string, Buffer>();
    private readonly faults: S3Fault[] = [];
    /** `bucket/key` the signed-in principal may PUT; any other PUT is AccessDenied, as IAM would answer. */
    private readonly writable = new Set<string>();
    protected readonly server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            try {
                this.handle(req, res, Buffer.concat(chunks));
            } catch (e) {
                res.writeHead(400);
                res.end(String(e));
            }
        });
    });
    private seen = 0;

    constructor(private readonly opts: FakeS3Options) {
        super();
    }

    /**
     * Virtual-hosted endpoint for a bucket. curl resolves `*.localhost` to the loopback address itself,
     * so the Host header (and what the client signs) has the same shape as `<bucket>.s3.<region>.amazonaws.com`.
     */
    endpoint(bucket: string): string {
        return `http://${bucket}.s3.${this.opts.region}.localhost:${this.port}`;
    }

    /** Path-style endpoint for a bucket: `http://127.0.0.1:PORT/<bucket>`. */
    pathStyleEndpoint(bucket: string): string {
        return `http://127.0.0.1:${this.port}/${bucket}`;
    }

    putObject(bucket: string, key: string, body: Buffer): void {
        this.objects.set(`${bucket}/${key}`, body);
    }

    /** The object's bytes, or undefined. */
    getObject(bucket: string, key: string): Buffer | undefined {
        return this.objects.get(`${bucket}/${key}`);
    }

    /** Keys of a bucket, sorted. */
    keys(bucket: string): string[] {
        return [...this.objects.keys()]
            .filter((k) => k.startsWith(`${bucket}/`))
            .map((k) => k.slice(bucket.length + 1))
            .sort();
    }

    /** Called after each successful GET has been answered, e.g. to change what the next one finds. */
    onGet: ((bucket: string, key: string) => void) | undefined;

    /** Let signed requests PUT exactly this key (what an `s3:PutObject` statement on the object's ARN allows). */
    allowPut(bucket: string, key: string): void {
        this.writable.add(`${bucket}/${key}`);
    }

    /** Faults for the next authenticated GETs of an existing object, in order. */
    inject(...faults: S3Fault[]): void {
        this.faults.push(...faults);
    }

    count(outcome: string): number {
        return this.requests.filter((r) => r.outcome === outcome).length;
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse, requestBody: Buffer): void {
        if (++this.seen > (this.opts.maxRequests ?? 300)) {
            req.socket.destroy();
            return;
        }
        const url = req.url ?? "/";
        const q = url.indexOf("?");
        const rawPath = q < 0 ? url : url.slice(0, q);
        const query = q < 0 ? "" : url.slice(q + 1);
        const host = (req.headers.host ?? "").replace(/:\d+$/, "");
        const vhost = /^(.+)\.s3[.-]/.exec(host);
        const decode = (s: string) => {
            try {
                return decodeURIComponent(s);
            } catch {
                return s;
            }
        };
        let bucket: string;
        let key: string;
        if (vhost) {
            bucket = vhost[1]!;
            key = decode(rawPath.slice(1));
        } else {
            const [, b = "", ...rest] = rawPath.split("/");
            bucket = decode(b);
            key = decode(rest.join("/"));
        }
        // Filled in once the Authorization header is read; requests refused before that have none.
        const seen: { accessKeyId?: string } = {};
        const record = (status: number, outcome: string) =>
            this.requests.push({
                method: req.method ?? "",
                host: req.headers.host ?? "",
                bucket,
                key,
                accessKeyId: seen.accessKeyId,
                status,
                outcome,
            });
        const fail = (status: number, code: string, message: string) => {
            record(status, code);
            const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
            res.writeHead(status, { "Content-Type": "application/xml", "Content-Length": Buffer.byteLength(body) });
            res.end(body);
        };

        // Authentication, in S3's order; x-amz-content-sha256 is S3's own: it must be sent and match what arrived.
        const payloadHash = headerValue(req, "x-amz-content-sha256");
        const auth = verifySigV4(req, {
            store: this.opts.store,
            service: "s3",
            region: this.opts.region,
            payloadHash: payloadHash ?? "",
            mustSign: ["x-amz-content-sha256"],
            path: rawPath,
            query,
            ...(this.opts.maxSkewMs !== undefined ? { maxSkewMs: this.opts.maxSkewMs } : {}),
            checkPayload: () => {
                if (payloadHash === undefined) return "Missing required header for this request: x-amz-content-sha256";
                // S3 hashes what arrived and compares (UNSIGNED-PAYLOAD opts out; these tests never send it with a body).
                const bodyHash = crypto.createHash("sha256").update(requestBody).digest("hex");
                if (payloadHash !== bodyHash && !(payloadHash === "UNSIGNED-PAYLOAD" && requestBody.length === 0))
                    return "The provided 'x-amz-content-sha256' header does not match what was computed";
                return undefined;
            },
        });
        seen.accessKeyId = auth.accessKeyId;
        if (!auth.ok) {
            const [status, code] = S3_AUTH_ERRORS[auth.failure](payloadHash !== undefined);
            return fail(status, code, auth.detail);
        }

        if (req.method === "PUT") {
            if (!this.writable.has(`${bucket}/${key}`)) return fail(403, "AccessDenied", `not allowed to PUT ${bucket}/${key}`);
            this.objects.set(`${bucket}/${key}`, requestBody);
            record(200, "ok");
            res.writeHead(200, { ETag: `"${crypto.createHash("md5").update(requestBody).digest("hex")}"`, "Content-Length": 0 });
            return void res.end();
        }
        if (req.method !== "GET" && req.method !== "HEAD") return fail(405, "MethodNotAllowed", "only GET, HEAD and PUT here");
        const body = this.objects.get(`${bucket}/${key}`);
        if (body === undefined) return fail(404, "NoSuchKey", "The specified key does not exist.");

        const fault = this.faults.shift();
        if (fault?.kind === "status")
            return fail(fault.status, fault.status >= 500 ? "InternalError" : `Status${fault.status}`, "injected");
        const headersOut = { "Content-Type": "application/octet-stream", "Content-Length": body.length };
        if (fault?.kind === "truncate") {
            record(200, "truncate");
            res.writeHead(200, headersOut);
            res.write(body.subarray(0, Math.floor(body.length / 2)), () => res.socket?.destroy());
            return;
        }
        let out = body;
        if (fault?.kind === "corrupt") {
            out = Buffer.from(body);
            out[out.length >> 1] = out[out.length >> 1]! ^ 0xff;
        }
        record(200, fault?.kind ?? "ok");
        res.writeHead(200, headersOut);
        res.end(req.method === "HEAD" ? undefined : out);
        if (req.method === "GET") this.onGet?.(bucket, key);
    }
}

// ---- CONNECT proxy ----

/** An HTTPS proxy that records `CONNECT host:port` targets and refuses them (no TLS, no DNS needed). */
export class FakeConnectProxy extends LoopbackServer {
    readonly targets: string[] = [];
    protected readonly server = http.createServer((_req, res) => {
        res.writeHead(405);
        res.end();
    });

    constructor(private readonly maxRequests = 300) {
        super();
        this.server.on("connect", (req: http.IncomingMessage, socket) => {
            if (this.targets.length >= this.maxRequests) {
                socket.destroy();
                return;
            }
            this.targets.push(req.url ?? "");
            socket.end("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        });
    }
}

// ---- EC2 ----

/** An instance as the EC2 stand-in knows it. */
export interface FakeInstance {
    readonly id: string;
    state: "pending" | "running" | "shutting-down" | "terminated" | "stopping" | "stopped";
    readonly tags: Readonly<Record<string, string>>;
}

/** An Elastic IP: its allocation, public address, and the instance it is associated with (if any). */
export interface FakeAddress {
    readonly allocationId: string;
    readonly publicIp: string;
    instanceId?: string;
}

/**
 * An EBS volume as the EC2 stand-in knows it. `attachment` is whom it is attached to; a test scripts a
 * handover with {@link FakeEc2.releaseAfter} (attached to the old host, then available after N ms).
 */
export interface FakeVolume {
    readonly id: string;
    readonly availabilityZone: string;
    state: "creating" | "available" | "in-use" | "deleting" | "deleted" | "error";
    attachment?: { instanceId: string; device: string; status: "attaching" | "attached" | "detaching"; attachedAt: string };
}

export interface Ec2RequestRecord {
    readonly action: string;
    /** The form parameters other than Action and Version. */
    readonly params: Readonly<Record<string, string>>;
    readonly accessKeyId: string | undefined;
    readonly status: number;
    /** `ok` or the EC2 error code. */
    readonly outcome: string;
}

const STATE_CODES: Readonly<Record<FakeInstance["state"], number>> = {
    pending: 0,
    running: 16,
    "shutting-down": 32,
    terminated: 48,
    stopping: 64,
    stopped: 80,
};

const xmlText = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * EC2's Query API (form-encoded POST, XML answers), for the calls the cutover step makes:
 * DescribeInstances (InstanceId.N, Filter.N with `tag:KEY` and `instance-state-name`), DescribeAddresses
 * (AllocationId.N), TerminateInstances. Every request's SigV4 signature is recomputed over the body's
 * hash, as EC2 does (no x-amz-content-sha256 header there). A terminated instance loses its address,
 * as on EC2 ("Any Elastic IP addresses associated with the instance are detached"). Terminating goes
 * through shutting-down: the next DescribeInstances after a terminate shows it terminated.
 */
export class FakeEc2 extends LoopbackServer {
    readonly requests: Ec2RequestRecord[] = [];
    readonly instances = new Map<string, FakeInstance>();
    readonly addresses = new Map<string, FakeAddress>();
    readonly volumes = new Map<string, FakeVolume>();
    /** Volume id → when (Date.now() ms) its current attachment goes away (the old host detaches it). */
    private readonly releases = new Map<string, number>();
    /** AttachVolume answers `attaching`; this many DescribeVolumes later the attachment is `attached`, as EC2's eventual consistency. */
    attachPolls = 1;
    private readonly attaching = new Map<string, number>();
    private readonly shuttingDown = new Set<string>();
    // The retire step's handover: StopInstances (through `stopping`), DetachVolume (through `detaching`).
    private readonly stopping = new Set<string>();
    /** Instances whose shutdown hangs: they stay `stopping` (a unit's ExecStop that never returns). */
    readonly stuckStopping = new Set<string>();
    /** Called at each DescribeVolumes after detaches settled, before the answer: a test plays the new host attaching. */
    onDescribeVolumes?: () => void;
    protected readonly server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            try {
                this.handle(req, res, Buffer.concat(chunks));
            } catch (e) {
                res.writeHead(500);
                res.end(String(e));
            }
        });
    });

    constructor(private readonly opts: { readonly store: CredentialStore; readonly region: string; readonly maxRequests?: number }) {
        super();
    }

    addInstance(id: string, tags: Record<string, string>, state: FakeInstance["state"] = "running"): FakeInstance {
        const i = { id, state, tags };
        this.instances.set(id, i);
        return i;
    }

    addAddress(allocationId: string, publicIp: string, instanceId?: string): FakeAddress {
        const a: FakeAddress = { allocationId, publicIp, ...(instanceId ? { instanceId } : {}) };
        this.addresses.set(allocationId, a);
        return a;
    }

    addVolume(id: string, availabilityZone: string, attachedTo?: string): FakeVolume {
        const v: FakeVolume = {
            id,
            availabilityZone,
            state: attachedTo ? "in-use" : "available",
            ...(attachedTo
                ? {
                      attachment: {
                          instanceId: attachedTo,
                          device: "/dev/xvdf",
                          status: "attached" as const,
                          attachedAt: new Date().toISOString(),
                      },
                  }
                : {}),
        };
        this.volumes.set(id, v);
        return v;
    }

    /** The volume's current attachment goes away `ms` from now, as when the old host is retired and detaches it. */
    releaseAfter(volumeId: string, ms: number): void {
        this.releases.set(volumeId, Date.now() + ms);
    }

    /** Applies scripted releases that are due and settles attachments that have been polled enough. */
    private advanceVolumes(): void {
        for (const v of this.volumes.values())
            if (v.attachment?.status === "detaching") {
                delete v.attachment;
                v.state = "available";
            }
        for (const [id, at] of this.releases) {
            if (Date.now() < at) continue;
            const v = this.volumes.get(id)!;
            delete v.attachment;
            v.state = "available";
            this.releases.delete(id);
        }
        for (const [id, left] of this.attaching) {
            const v = this.volumes.get(id)!;
            if (left <= 0 && v.attachment) {
                v.attachment.status = "attached";
                this.attaching.delete(id);
            } else this.attaching.set(id, left - 1);
        }
    }

    /** The calls made, by action name, in order. */
    actions(): string[] {
        return this.requests.map((r) => r.action);
    }

    private handle(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer): void {
        let action = "";
        const params: Record<string, string> = {};
        const seen: { accessKeyId?: string } = {};
        const record = (status: number, outcome: string) =>
            this.requests.push({ action, params, accessKeyId: seen.accessKeyId, status, outcome });
        const send = (status: number, xml: string) => {
            res.writeHead(status, { "Content-Type": "text/xml;charset=UTF-8", "Content-Length": Buffer.byteLength(xml) });
            res.end(xml);
        };
        const fail = (status: number, code: string, message: string) => {
            record(status, code);
            send(
                status,
                `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${xmlText(message)}</Message></Error></Errors><RequestID>${crypto.randomUUID()}</RequestID></Response>`,
            );
        };
        if (this.requests.length >= (this.opts.maxRequests ?? 300)) {
            req.socket.destroy();
            return;
        }
        const form = new URLSearchParams(body.toString("utf8"));
        action = form.get("Action") ?? "";
        for (const [k, v] of form) if (k !== "Action" && k !== "Version") params[k] = v;
        if (req.method !== "POST" || (req.url ?? "/") !== "/") return fail(400, "InvalidAction", "POST / only here");

        const auth = verifySigV4(req, {
            store: this.opts.store,
            service: "ec2",
            region: this.opts.region,
            payloadHash: crypto.createHash("sha256").update(body).digest("hex"),
        });
        seen.accessKeyId = auth.accessKeyId;
        if (!auth.ok) {
            if (auth.failure === "signature")
                return fail(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.");
            return fail(401, "AuthFailure", `AWS was not able to validate the provided access credentials (${auth.detail})`);
        }

        const ns = 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"';
        const requestId = `<requestId>${crypto.randomUUID()}</requestId>`;
        const list = (prefix: string) =>
            Object.entries(params)
                .filter(([k]) => new RegExp(`^${prefix.replace(/\./g, "\\.")}\\.\\d+$`).test(k))
                .map(([, v]) => v);
        const stateXml = (tag: string, s: FakeInstance["state"]) => `<${tag}><code>${STATE_CODES[s]}</code><name>${s}</name></${tag}>`;
        switch (action) {
            case "DescribeInstances": {
                // What was shutting down last time is terminated now.
                for (const id of this.shuttingDown) this.instances.get(id)!.state = "terminated";
                this.shuttingDown.clear();
                this.settleStops();
                const ids = list("InstanceId");
                const filters: { name: string; values: string[] }[] = [];
                for (const [k, v] of Object.entries(params)) {
                    const f = /^Filter\.(\d+)\.Name$/.exec(k);
                    if (f) filters.push({ name: v, values: list(`Filter.${f[1]}.Value`) });
                }
                const unknownFilter = filters.find((f) => !f.name.startsWith("tag:") && f.name !== "instance-state-name");
                if (unknownFilter) return fail(400, "InvalidParameterValue", `The filter '${unknownFilter.name}' is invalid`);
                const missing = ids.find((id) => !this.instances.has(id));
                if (missing) return fail(400, "InvalidInstanceID.NotFound", `The instance ID '${missing}' does not exist`);
                const matches = [...this.instances.values()].filter(
                    (i) =>
                        (ids.length === 0 || ids.includes(i.id)) &&
                        filters.every((f) =>
                            f.name === "instance-state-name"
                                ? f.values.includes(i.state)
                                : f.values.includes(i.tags[f.name.slice(4)] ?? "\0"),
                        ),
                );
                const items = matches
                    .map(
                        (i) =>
                            `<item><instanceId>${i.id}</instanceId>${stateXml("instanceState", i.state)}<tagSet>${Object.entries(i.tags)
                                .map(([k, v]) => `<item><key>${xmlText(k)}</key><value>${xmlText(v)}</value></item>`)
                                .join("")}</tagSet></item>`,
                    )
                    .join("");
                record(200, "ok");
                return send(
                    200,
                    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeInstancesResponse ${ns}>${requestId}<reservationSet>${
                        items
                            ? `<item><reservationId>r-0fake</reservationId><ownerId>123456789012</ownerId><instancesSet>${items}</instancesSet></item>`
                            : ""
                    }</reservationSet></DescribeInstancesResponse>`,
                );
            }
            case "DescribeAddresses": {
                const ids = list("AllocationId");
                const missing = ids.find((id) => !this.addresses.has(id));
                if (missing) return fail(400, "InvalidAllocationID.NotFound", `The allocation ID '${missing}' does not exist`);
                const items = [...this.addresses.values()]
                    .filter((a) => ids.length === 0 || ids.includes(a.allocationId))
                    .map(
                        (a) =>
                            `<item><publicIp>${a.publicIp}</publicIp><allocationId>${a.allocationId}</allocationId><domain>vpc</domain>${
                                a.instanceId
                                    ? `<instanceId>${a.instanceId}</instanceId><associationId>eipassoc-${a.instanceId.slice(2)}</associationId>`
                                    : ""
                            }</item>`,
                    )
                    .join("");
                record(200, "ok");
                return send(
                    200,
                    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeAddressesResponse ${ns}>${requestId}<addressesSet>${items}</addressesSet></DescribeAddressesResponse>`,
                );
            }
            case "TerminateInstances": {
                const ids = list("InstanceId");
                if (ids.length === 0) return fail(400, "MissingParameter", "The request must contain the parameter InstanceId");
                const missing = ids.find((id) => !this.instances.has(id));
                if (missing) return fail(400, "InvalidInstanceID.NotFound", `The instance ID '${missing}' does not exist`);
                const items = ids.map((id) => {
                    const i = this.instances.get(id)!;
                    const previous = i.state;
                    if (i.state !== "terminated") {
                        i.state = "shutting-down";
                        this.shuttingDown.add(id);
                        for (const a of this.addresses.values()) if (a.instanceId === id) delete a.instanceId;
                    }
                    return `<item><instanceId>${id}</instanceId>${stateXml("currentState", i.state)}${stateXml("previousState", previous)}</item>`;
                });
                record(200, "ok");
                return send(
                    200,
                    `<?xml version="1.0" encoding="UTF-8"?>\n<TerminateInstancesResponse ${ns}>${requestId}<instancesSet>${items.join("")}</instancesSet></TerminateInstancesResponse>`,
                );
            }
            // DescribeVolumes / AttachVolume as API_DescribeVolumes.html and API_AttachVolume.html show them
            // (root element, volumeSet/item, attachmentSet/item, lower-camel names), errors as errors-overview.html.
            case "DescribeVolumes": {
                this.advanceVolumes();
                this.onDescribeVolumes?.();
                const ids = list("VolumeId");
                const missing = ids.find((id) => !this.volumes.has(id));
                if (missing) return fail(400, "InvalidVolume.NotFound", `The volume '${missing}' does not exist.`);
                const items = [...this.volumes.values()]
                    .filter((v) => ids.length === 0 || ids.includes(v.id))
                    .map(
                        (v) =>
                            `<item><volumeId>${v.id}</volumeId><size>20</size><snapshotId/><availabilityZone>${v.availabilityZone}</availabilityZone><status>${v.state}</status><createTime>2026-12-01T00:00:00.000Z</createTime>${
                                v.attachment
                                    ? `<attachmentSet><item><volumeId>${v.id}</volumeId><instanceId>${v.attachment.instanceId}</instanceId><device>${v.attachment.device}</device><status>${v.attachment.status}</status><attachTime>${v.attachment.attachedAt}</attachTime><deleteOnTermination>false</deleteOnTermination></item></attachmentSet>`
                                    : "<attachmentSet/>"
                            }<volumeType>gp3</volumeType><encrypted>true</encrypted><multiAttachEnabled>false</multiAttachEnabled></item>`,
                    )
                    .join("");
                record(200, "ok");
                return send(
                    200,
                    `<?xml version="1.0" encoding="UTF-8"?>\n<DescribeVolumesResponse ${ns}>\n    ${requestId}\n    <volumeSet>${items}</volumeSet>\n</DescribeVolumesResponse>`,
                );
            }
            case "AttachVolume": {
                this.advanceVolumes();
                const [volumeId, instanceId, device] = [params["VolumeId"], params["InstanceId"], params["Device"]];
                if (!volumeId || !instanceId || !device)
                    return fail(400, "MissingParameter", "The request must contain the parameters VolumeId, InstanceId and Device");
                const v = this.volumes.get(volumeId);
                if (!v) return fail(400, "InvalidVolume.NotFound", `The volume '${volumeId}' does not exist.`);
                if (!this.instances.has(instanceId))
                    return fail(400, "InvalidInstanceID.NotFound", `The instance ID '${instanceId}' does not exist`);
                if (v.state === "in-use") return fail(400, "VolumeInUse", `${volumeId} is already attached to an instance`);
                if (v.state !== "available") return fail(400, "IncorrectState", `The volume '${volumeId}' is not 'available'.`);
                const attachedAt = new Date().toISOString();
                v.state = "in-use";
                v.attachment = { instanceId, device, status: "attaching", attachedAt };
                this.attaching.set(volumeId, this.attachPolls);
                record(200, "ok");
                return send(
                    200,
                    `<?xml version="1.0" encoding="UTF-8"?>\n<AttachVolumeResponse ${ns}>${requestId}<volumeId>${volumeId}</volumeId><instanceId>${instanceId}</instanceId><device>${xmlText(device)}</device><status>attaching</status><attachTime>${attachedAt}</attachTime><deleteOnTermination>false</deleteOnTermination></AttachVolumeResponse>`,
                );
            }
            case "StopInstances":
            case "DetachVolume": {
                const answer = this.volumeAction(action, list, params);
                if ("error" in answer) return fail(400, answer.error, answer.message);
                record(200, "ok");
                return send(
                    200,
                    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response ${ns}>${requestId}${answer.xml}</${action}Response>`,
                );
            }
            default:
                return fail(400, "InvalidAction", `The action ${action} is not valid for this web service.`);
        }
    }

    // ---- data volume handover (issue 14, Pulumi side) ----

    private settleStops(): void {
        for (const id of this.stopping) {
            if (this.stuckStopping.has(id)) continue;
            this.instances.get(id)!.state = "stopped";
            this.stopping.delete(id);
        }
    }

    /** StopInstances (InstanceId.N) and DetachVolume (VolumeId, InstanceId): the XML inside the response. */
    private volumeAction(
        action: string,
        list: (prefix: string) => string[],
        params: Readonly<Record<string, string>>,
    ): { xml: string } | { error: string; message: string } {
        const stateXml = (tag: string, s: FakeInstance["state"]) => `<${tag}><code>${STATE_CODES[s]}</code><name>${s}</name></${tag}>`;
        if (action === "StopInstances") {
            const ids = list("InstanceId");
            if (ids.length === 0) return { error: "MissingParameter", message: "The request must contain the parameter InstanceId" };
            const missing = ids.find((id) => !this.instances.has(id));
            if (missing) return { error: "InvalidInstanceID.NotFound", message: `The instance ID '${missing}' does not exist` };
            const items = ids.map((id) => {
                const i = this.instances.get(id)!;
                const previous = i.state;
                if (i.state === "running" || i.state === "pending") {
                    i.state = "stopping";
                    this.stopping.add(id);
                }
                return `<item><instanceId>${id}</instanceId>${stateXml("currentState", i.state)}${stateXml("previousState", previous)}</item>`;
            });
            return { xml: `<instancesSet>${items.join("")}</instancesSet>` };
        }
        // DetachVolume: the attachment goes through `detaching`; the next DescribeVolumes shows it available.
        const volumeId = params["VolumeId"] ?? "";
        const v = this.volumes.get(volumeId);
        if (!v) return { error: "InvalidVolume.NotFound", message: `The volume '${volumeId}' does not exist.` };
        const instanceId = params["InstanceId"];
        const holder = v.attachment?.instanceId;
        if (!v.attachment || (instanceId && instanceId !== holder))
            return {
                error: "IncorrectState",
                message: `Volume '${volumeId}' is in the '${v.state}' state${holder ? ` (attached to ${holder})` : ""}.`,
            };
        v.attachment.status = "detaching";
        return {
            xml: `<volumeId>${v.id}</volumeId><instanceId>${holder}</instanceId><device>${xmlText(v.attachment.device)}</device><status>detaching</status>`,
        };
    }
}

// ---- SSM Parameter Store ----
//
// The awsJson1_1 protocol as SSM speaks it: `POST /` with `Content-Type: application/x-amz-json-1.1`
// and `X-Amz-Target: AmazonSSM.<Operation>`, errors as `{"__type": …, "message": …}` (smithy
// aws-json protocol; botocore's ssm service-2.json). SigV4 without x-amz-content-sha256: the
// canonical request ends with the SHA-256 of the body that arrived (verified against curl 7.88 and
// botocore in /work/notes/aws-host-facts.md §1). GetParameters: 1 to 10 names, `name:version`
// selectors, results in alphabetical order, a missing name or version in InvalidParameters with HTTP
// 200 (API_GetParameters).

/** A fault for the next authenticated GetParameters calls, in order: an HTTP status with an error type. */
export interface SsmFault {
    readonly status: number;
    /** e.g. `ThrottlingException`, `InternalServerError`, `AccessDeniedException`. */
    readonly type: string;
}

export interface SsmRequestRecord {
    readonly target: string;
    readonly accessKeyId: string | undefined;
    /** The names the call asked for, as sent. */
    readonly names: readonly string[];
    readonly status: number;
    /** `ok`, or the error type returned. */
    readonly outcome: string;
}

export interface FakeSsmOptions {
    readonly store: CredentialStore;
    readonly region: string;
    readonly maxRequests?: number;
    /** Allowed clock skew (SigV4's 15 minutes). */
    readonly maxSkewMs?: number;
}

export class FakeSsm extends LoopbackServer {
    readonly requests: SsmRequestRecord[] = [];
    /** Parameter name → its values, version 1 first. */
    private readonly parameters = new Map<string, string[]>();
    private readonly faults: SsmFault[] = [];
    protected readonly server = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (c: Buffer) => chunks.push(c));
        req.on("end", () => {
            try {
                this.handle(req, Buffer.concat(chunks), res);
            } catch (e) {
                res.writeHead(500);
                res.end(String(e));
            }
        });
    });
    private seen = 0;

    constructor(private readonly opts: FakeSsmOptions) {
        super();
    }

    /** `http://ssm.<region>.localhost:<port>`: curl resolves *.localhost to loopback, so the signed Host has SSM's shape. */
    get endpoint(): string {
        return `http://ssm.${this.opts.region}.localhost:${this.port}`;
    }

    /** Store a new version of a parameter (PutParameter with Overwrite); returns its version. */
    put(name: string, value: string): number {
        const versions = this.parameters.get(name) ?? [];
        versions.push(value);
        this.parameters.set(name, versions);
        return versions.length;
    }

    delete(name: string): void {
        this.parameters.delete(name);
    }

    arn(name: string): string {
        return `arn:aws:ssm:${this.opts.region}:123456789012:parameter${name}`;
    }

    inject(...faults: SsmFault[]): void {
        this.faults.push(...faults);
    }

    count(outcome: string): number {
        return this.requests.filter((r) => r.outcome === outcome).length;
    }

    private handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
        if (++this.seen > (this.opts.maxRequests ?? 300)) {
            req.socket.destroy();
            return;
        }
        const target = headerValue(req, "x-amz-target") ?? "";
        const seen: { accessKeyId?: string; names: string[] } = { names: [] };
        const reply = (status: number, outcome: string, doc: unknown) => {
            this.requests.push({ target, accessKeyId: seen.accessKeyId, names: seen.names, status, outcome });
            const text = JSON.stringify(doc);
            res.writeHead(status, { "Content-Type": "application/x-amz-json-1.1", "Content-Length": Buffer.byteLength(text) });
            res.end(text);
        };
        const fail = (status: number, type: string, message: string) => reply(status, type, { __type: type, message });

        // Authentication first, as AWS does: nothing unsigned or mis-signed gets further.
        const url = req.url ?? "/";
        const q = url.indexOf("?");
        const auth = verifySigV4(req, {
            store: this.opts.store,
            service: "ssm",
            region: this.opts.region,
            payloadHash: crypto.createHash("sha256").update(body).digest("hex"),
            path: q < 0 ? url : url.slice(0, q),
            query: q < 0 ? "" : url.slice(q + 1),
            ...(this.opts.maxSkewMs !== undefined ? { maxSkewMs: this.opts.maxSkewMs } : {}),
        });
        seen.accessKeyId = auth.accessKeyId;
        if (!auth.ok) {
            const [status, type] = SSM_AUTH_ERRORS[auth.failure];
            return fail(status, type, auth.detail);
        }

        // The protocol.
        if (req.method !== "POST" || url !== "/") return fail(404, "UnknownOperationException", "awsJson1_1 is POST /");
        if (target !== "AmazonSSM.GetParameters") return fail(400, "UnknownOperationException", `unknown operation ${target}`);
        if ((headerValue(req, "content-type") ?? "") !== "application/x-amz-json-1.1")
            return fail(400, "SerializationException", "Content-Type must be application/x-amz-json-1.1");
        let doc: { Names?: unknown; WithDecryption?: unknown };
        try {
            doc = JSON.parse(body.toString("utf8")) as typeof doc;
        } catch {
            return fail(400, "SerializationException", "the body is not JSON");
        }
        const names = doc.Names;
        if (
            !Array.isArray(names) ||
            names.length < 1 ||
            names.length > 10 ||
            names.some((n) => typeof n !== "string" || n.length < 1 || n.length > 2048)
        )
            return fail(
                400,
                "ValidationException",
                "1 validation error detected: Value at 'names' failed to satisfy constraint: Member must have length between 1 and 10",
            );
        seen.names = names as string[];

        const fault = this.faults.shift();
        if (fault) return fail(fault.status, fault.type, "injected");

        const found: Record<string, unknown>[] = [];
        const invalid: string[] = [];
        for (const sent of names as string[]) {
            const sel = /^(.*):(\d+)$/.exec(sent);
            const name = sel ? sel[1]! : sent;
            const versions = this.parameters.get(name);
            const version = sel ? Number(sel[2]) : (versions?.length ?? 0);
            const value = versions?.[version - 1];
            if (value === undefined) {
                invalid.push(sent);
                continue;
            }
            found.push({
                Name: name,
                Type: "SecureString",
                // Without decryption a SecureString comes back as its ciphertext.
                Value: doc.WithDecryption === true ? value : Buffer.from(`ciphertext:${name}:${version}`).toString("base64"),
                Version: version,
                ...(sel ? { Selector: `:${version}` } : {}),
                LastModifiedDate: 1767225600.123,
                ARN: this.arn(name),
                DataType: "text",
            });
        }
        found.sort((a, b) => (String(a["Name"]) < String(b["Name"]) ? -1 : 1));
        reply(200, "ok", { Parameters: found, InvalidParameters: invalid });
    }
}
