// units/secrets.ts in-process (so mutation testing sees it): the checks on secret values and the
// problems they report, which containers take secrets, the manifest the secrets script reads (its exact
// JSON, one item per line), and the unit that runs the script. The script itself runs against SSM
// stand-ins in test/secrets.test.ts.
import { strict as assert } from "node:assert";
import { ContainerUnit } from "../units/model";
import { Problem } from "../units/problems";
import { SECRETS_DIR, SECRETS_MANIFEST, SECRETS_UNIT } from "../units/layout";
import {
    SECRETS_SCRIPT,
    SECRET_VALUE_LIMIT,
    SecretParameters,
    parameterSelector,
    secretParameterName,
    secretUsers,
    secretUses,
    secretValueProblems,
    secretsManifest,
    secretsManifestFile,
    secretsUnit,
    usesSecrets,
} from "../units/secrets";
import { app, db } from "./fixtures/hosts-secrets/app";
import { testContainer as container } from "./helpers/fixtures";

const REGION = "eu-west-1";

const envUser = (secret: string): ContainerUnit => container("web", { secretEnv: { TOKEN: secret } });
const fileUser = (secret: string, encoding?: "utf8" | "base64"): ContainerUnit =>
    container("web", { secretFiles: [{ secret, target: "/run/secrets/x", ...(encoding ? { encoding } : {}) }] });

/** The problems of one value used one way: [code, field] pairs. */
function codes(c: ContainerUnit, value: string): [string, string][] {
    return secretValueProblems([c], { s: value }).map((p) => [p.code, p.field]);
}

describe("secrets (units/secrets.ts): value checks", function () {
    it("accepts an ordinary value as env and as a file", function () {
        assert.deepEqual(codes(envUser("s"), "hunter2"), []);
        assert.deepEqual(codes(fileUser("s"), "hunter2"), []);
    });

    it("refuses an empty value, telling how to set one for that secret", function () {
        const [p] = secretValueProblems([envUser("s")], { s: "" });
        assert.deepEqual(
            { code: p?.code, where: p?.where, field: p?.field },
            { code: "SECRET_VALUE_EMPTY", where: "web", field: 'secretEnv["TOKEN"]' },
        );
        assert.match(p!.message, /^secret "s": .*empty/);
        assert.equal(p!.fix, "set a value: pulumi config set --secret --path 'coreos-containers:secrets.s' < FILE");
    });

    it("counts the SSM limit in UTF-8 bytes: 4096 bytes pass, 4097 do not, and multi-byte characters count as their bytes", function () {
        assert.equal(SECRET_VALUE_LIMIT, 4096);
        assert.deepEqual(codes(envUser("s"), "a".repeat(4096)), []);
        assert.deepEqual(codes(envUser("s"), "a".repeat(4097)), [["SECRET_VALUE_TOO_LARGE", 'secretEnv["TOKEN"]']]);
        const wide = "é".repeat(2049); // 2049 characters, 4098 bytes
        const [p] = secretValueProblems([fileUser("s")], { s: wide });
        assert.equal(p?.code, "SECRET_VALUE_TOO_LARGE");
        assert.match(p.message, /4098 bytes.*at most 4096/);
        assert.match(p.fix, /smaller/);
    });

    it("refuses a NUL or a lone surrogate in any use, and accepts a proper surrogate pair", function () {
        for (const v of ["a\0b", "a\uD800b", "\uDC00", "x\uD83D"]) {
            const ps = secretValueProblems([fileUser("s")], { s: v });
            assert.deepEqual(
                ps.map((p) => p.code),
                ["SECRET_VALUE_UNENCODABLE"],
                JSON.stringify(v),
            );
            assert.match(ps[0]!.message, /NUL/);
            assert.match(ps[0]!.fix, /base64/);
        }
        assert.deepEqual(codes(envUser("s"), "smile \uD83D\uDE00"), []);
    });

    it("refuses a line break in an env value, but a file may hold one", function () {
        for (const v of ["a\nb", "a\rb", "a\r\n"]) {
            const ps = secretValueProblems([envUser("s")], { s: v });
            assert.deepEqual(
                ps.map((p) => p.code),
                ["SECRET_VALUE_MULTILINE"],
                JSON.stringify(v),
            );
            assert.match(ps[0]!.message, /line break/);
            assert.match(ps[0]!.fix, /secretFiles/);
        }
        assert.deepEqual(codes(fileUser("s"), "line 1\nline 2\n"), []);
    });

    it("refuses an env value wrapped in matching quotes (a newer Docker CLI would strip them), files keep them", function () {
        for (const v of ['"abc"', "'abc'", '""', "''", "'x'"]) {
            const ps = secretValueProblems([envUser("s")], { s: v });
            assert.deepEqual(
                ps.map((p) => [p.code, p.where, p.field]),
                [["SECRET_VALUE_QUOTED", "web", 'secretEnv["TOKEN"]']],
                v,
            );
            assert.match(ps[0]!.message, /quote/);
            assert.match(ps[0]!.fix, /secretFiles/);
        }
        // Not wrapped: one quote alone, unmatched quotes, a quote on one side, the same non-quote character at both ends.
        for (const v of ['"', "'", "\"abc'", "'abc\"", '"abc', "abc'", "abca", "xx"]) assert.deepEqual(codes(envUser("s"), v), [], v);
        assert.deepEqual(codes(fileUser("s"), '"abc"'), []);
        assert.deepEqual(codes(fileUser("s"), "'abc'"), []);
    });

    it("refuses a base64 file whose value is not base64, and only base64 files", function () {
        for (const v of ["aGVsbG8=", "aGVsbG8h", "aGk=", "AAECAw=="]) assert.deepEqual(codes(fileUser("s", "base64"), v), [], v);
        for (const v of ["not base64!", "aGVsbG8", "aGVs\nbG8h", "aGk==="]) {
            const ps = secretValueProblems([fileUser("s", "base64")], { s: v });
            assert.deepEqual(
                ps.map((p) => [p.code, p.field]),
                [["SECRET_VALUE_NOT_BASE64", "secretFiles[0]"]],
                JSON.stringify(v),
            );
            assert.match(ps[0]!.message, /base64/);
            assert.equal(
                ps[0]!.fix,
                "store the base64 text, e.g. base64 -w0 FILE | pulumi config set --secret --path 'coreos-containers:secrets.s'",
            );
        }
        assert.deepEqual(codes(fileUser("s", "utf8"), "not base64!"), []);
        assert.deepEqual(codes(fileUser("s"), "not base64!"), []);
        assert.deepEqual(codes(envUser("s"), "not base64!"), []);
    });

    it("reports a secret a container needs that the stack does not set, per use, with the command to set it", function () {
        const c = container("web", { secretEnv: { A: "missing" }, secretFiles: [{ secret: "missing", target: "/k" }] });
        const problems = secretValueProblems([c], { toString: "x" });
        const notSet = problems.filter((p) => p.code === "SECRET_NOT_SET");
        assert.deepEqual(
            notSet.map((p) => p.field),
            ['secretEnv["A"]', "secretFiles[0]"],
        );
        assert.deepEqual(notSet[0], {
            code: "SECRET_NOT_SET",
            where: "web",
            field: 'secretEnv["A"]',
            message: 'needs the secret "missing", which this stack does not set',
            fix: "pulumi config set --secret --path 'coreos-containers:secrets.missing' (it prompts for the value; or pipe it in: < FILE)",
        } satisfies Problem);
    });

    it("leaves secrets with invalid names to validation: no problem about their values", function () {
        const c = container("web", {
            secretEnv: { A: "bad name", B: 42 as unknown as string },
            secretFiles: [{ secret: "-dash", target: "/k" }],
        });
        assert.deepEqual(secretValueProblems([c], {}), []);
    });

    it("reports each secret the stack sets that no container uses, sorted by name, and never a used one", function () {
        const problems = secretValueProblems([envUser("used")], { zeta: "1", used: "v", alpha: "2" });
        assert.deepEqual(problems, [
            {
                code: "CONFIG_SECRET_UNUSED",
                where: "config",
                field: "coreos-containers:secrets.alpha",
                message: 'no container uses the secret "alpha"; it would be stored for nothing',
                fix: "use it in a container's secretEnv or secretFiles, or remove it: pulumi config rm --path 'coreos-containers:secrets.alpha'",
            },
            {
                code: "CONFIG_SECRET_UNUSED",
                where: "config",
                field: "coreos-containers:secrets.zeta",
                message: 'no container uses the secret "zeta"; it would be stored for nothing',
                fix: "use it in a container's secretEnv or secretFiles, or remove it: pulumi config rm --path 'coreos-containers:secrets.zeta'",
            },
        ]);
    });

    it("never puts a value in a problem", function () {
        const value = '"sekrit-Value-42"';
        const problems = secretValueProblems([envUser("s")], { s: value, other: value });
        assert.equal(problems.length, 2);
        for (const p of problems) assert.ok(!JSON.stringify(p).includes("sekrit"), p.code);
    });
});

describe("secrets (units/secrets.ts): which containers take which secrets", function () {
    it("a container takes secrets when it has a secret env variable or a secret file, either alone", function () {
        assert.equal(usesSecrets(container("a", { secretEnv: { A: "s" } })), true);
        assert.equal(usesSecrets(container("b", { secretFiles: [{ secret: "s", target: "/s" }] })), true);
        assert.equal(usesSecrets(container("c", { secretEnv: { A: "s" }, secretFiles: [{ secret: "t", target: "/t" }] })), true);
        assert.equal(usesSecrets(container("d")), false);
        assert.equal(usesSecrets(container("e", { secretEnv: {}, secretFiles: [] })), false);
    });

    it("lists uses by container in order, env sorted by variable then files in order, with their kind and encoding", function () {
        const c = container("web", {
            secretEnv: { ZED: "z", ALPHA: "a" },
            secretFiles: [
                { secret: "f2", target: "/b", encoding: "base64" },
                { secret: "f1", target: "/a", encoding: "utf8" },
                { secret: "f0", target: "/c" },
            ],
        });
        assert.deepEqual(secretUses([c, container("none"), container("db", { secretEnv: { P: "p" } })]), [
            { container: "web", secret: "a", field: 'secretEnv["ALPHA"]', kind: "env", base64: false },
            { container: "web", secret: "z", field: 'secretEnv["ZED"]', kind: "env", base64: false },
            { container: "web", secret: "f2", field: "secretFiles[0]", kind: "file", base64: true },
            { container: "web", secret: "f1", field: "secretFiles[1]", kind: "file", base64: false },
            { container: "web", secret: "f0", field: "secretFiles[2]", kind: "file", base64: false },
            { container: "db", secret: "p", field: 'secretEnv["P"]', kind: "env", base64: false },
        ]);
    });

    it("maps each secret to its containers, secrets sorted and containers sorted, each once", function () {
        const users = secretUsers([
            container("web", { secretEnv: { A: "shared", B: "shared" } }),
            container("api", { secretEnv: { Z: "zeta" }, secretFiles: [{ secret: "shared", target: "/s" }] }),
            container("cron", { secretFiles: [{ secret: "alpha", target: "/a" }] }),
        ]);
        assert.equal(JSON.stringify(users), JSON.stringify({ alpha: ["cron"], shared: ["api", "web"], zeta: ["api"] }));
    });
});

describe("secrets (units/secrets.ts): what the host gets", function () {
    let parameters: SecretParameters;
    before(function () {
        const p = (secret: string, version: number) => ({ name: secretParameterName("coreos-containers", "test", secret), version });
        parameters = {
            "db-password": p("db-password", 3),
            "database-url": p("database-url", 1),
            "session-key": p("session-key", 2),
            "tls-key": p("tls-key", 1),
            "signing-key": p("signing-key", 7),
        };
    });

    it("names a secret's parameter /<project>/<stack>/<secret> and selects a version as name:version", function () {
        assert.equal(secretParameterName("coreos-containers", "prod", "grafana-admin"), "/coreos-containers/prod/grafana-admin");
        assert.equal(parameterSelector({ name: "/p/s/x", version: 12 }), "/p/s/x:12");
    });

    it("renders the manifest as JSON, one parameter, env file or secret file per line, every list sorted", function () {
        // app's env variables in reverse order, db listed before app: the output must not follow either.
        const appReversed: ContainerUnit = { ...app, secretEnv: { SESSION_KEY: "session-key", DATABASE_URL: "database-url" } };
        const manifest = secretsManifest([db, appReversed], parameters, REGION);
        assert.equal(
            manifest,
            [
                "{",
                ' "region": "eu-west-1",',
                ' "parameters": [',
                '  "/coreos-containers/test/database-url:1",',
                '  "/coreos-containers/test/db-password:3",',
                '  "/coreos-containers/test/session-key:2",',
                '  "/coreos-containers/test/signing-key:7",',
                '  "/coreos-containers/test/tls-key:1"',
                " ],",
                ' "env": {',
                '  "app.env": {"DATABASE_URL":"/coreos-containers/test/database-url:1","SESSION_KEY":"/coreos-containers/test/session-key:2"},',
                '  "db.env": {"POSTGRES_PASSWORD":"/coreos-containers/test/db-password:3"}',
                " },",
                ' "files": [',
                '  {"path":"app/0-tls-key","parameter":"/coreos-containers/test/tls-key:1","base64":false,"uid":1000,"gid":1000},',
                '  {"path":"app/1-signing-key","parameter":"/coreos-containers/test/signing-key:7","base64":true,"uid":0,"gid":0}',
                " ]",
                "}",
                "",
            ].join("\n"),
        );
        assert.deepEqual((JSON.parse(manifest) as { region: string }).region, REGION, "it is JSON");
    });

    it("lists a parameter once however many containers take it", function () {
        const a = container("a", { secretEnv: { X: "tls-key" } });
        const b = container("b", { secretFiles: [{ secret: "tls-key", target: "/k" }] });
        const m = JSON.parse(secretsManifest([a, b], parameters, REGION)) as { parameters: string[] };
        assert.deepEqual(m.parameters, ["/coreos-containers/test/tls-key:1"]);
    });

    it("renders empty lists on one line when no container takes secrets", function () {
        assert.equal(
            secretsManifest([container("a")], {}, "us-east-1"),
            '{\n "region": "us-east-1",\n "parameters": [],\n "env": {},\n "files": []\n}\n',
        );
    });

    it("leaves out secrets with invalid names (validation reports them) instead of asking for a parameter", function () {
        const c = container("web", {
            secretEnv: { BAD: "bad name", GOOD: "tls-key" },
            secretFiles: [
                { secret: "-bad", target: "/x" },
                { secret: "session-key", target: "/y" },
            ],
        });
        assert.deepEqual(JSON.parse(secretsManifest([c], parameters, REGION)), {
            region: REGION,
            parameters: ["/coreos-containers/test/session-key:2", "/coreos-containers/test/tls-key:1"],
            env: { "web.env": { GOOD: "/coreos-containers/test/tls-key:1" } },
            files: [{ path: "web/1-session-key", parameter: "/coreos-containers/test/session-key:2", base64: false, uid: 0, gid: 0 }],
        });
        const onlyBad = container("web", { secretEnv: { BAD: "bad name" }, secretFiles: [{ secret: "-bad", target: "/x" }] });
        assert.equal(secretsManifest([onlyBad], {}, REGION), secretsManifest([], {}, REGION));
    });

    it("refuses to render a manifest without a parameter for a secret a container takes", function () {
        assert.throws(() => secretsManifest([envUser("unknown")], parameters, REGION), /no SSM parameter for secret "unknown"/);
        assert.throws(() => secretsManifest([fileUser("toString")], parameters, REGION), /no SSM parameter for secret "toString"/);
    });

    it("writes the manifest root-only, to the path the script reads", function () {
        const f = secretsManifestFile([db], parameters, REGION);
        assert.deepEqual(f, {
            path: SECRETS_MANIFEST,
            permissions: "0600",
            owner: "root:root",
            content: secretsManifest([db], parameters, REGION),
        });
    });

    it("the secrets unit runs the script after the network, tells it where the manifest and secrets go, and stops retrying before systemd's timeout", function () {
        const u = secretsUnit();
        assert.equal(u.name, SECRETS_UNIT);
        assert.equal(u.kind, "oneshot");
        assert.match(u.description, /secrets.*SSM/);
        assert.deepEqual(u.wants, ["network-online.target"]);
        assert.deepEqual(u.exec, [[SECRETS_SCRIPT]]);
        assert.equal(SECRETS_SCRIPT, "/opt/coreos-containers/bin/secrets");
        assert.deepEqual(u.environment, { SECRETS_DIR, SECRETS_MANIFEST, SECRETS_MAX_SECONDS: "600" });
        const retry = Number(u.environment["SECRETS_MAX_SECONDS"]);
        assert.ok(
            u.timeoutStartSec! >= retry + 60,
            `TimeoutStartSec=${u.timeoutStartSec} leaves the last attempt time after ${retry}s of retries`,
        );
    });
});
