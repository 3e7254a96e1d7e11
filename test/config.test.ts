// Stack config → typed object: every bad key is named, with its fix, all at once.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse } from "yaml";
import {
    CONFIG_KEYS,
    DEFAULTS,
    PROJECT,
    StackConfig,
    canonicalCidr,
    checkStackConfig,
    parseStackConfig,
    unknownPortProblems,
} from "../config";
import { ContainerOverride } from "../units/stack";
import { loadStackConfig, stacks } from "../scripts/offline";
import { FIXTURE_CONFIG, seedContainers } from "./helpers/fixtures";
import { Problem, ValidationError } from "../units/problems";
import { PROJECT_DIR, runNpmStart } from "./helpers/plan";

const NAMES = seedContainers.map((c) => c.name);
const key = (k: string) => `${PROJECT}:${k}`;
const REGION = { "aws:region": "eu-west-1" };

/** The problems parseStackConfig reports for this raw config (fails the test if it accepts it). */
function problemsOf(raw: Record<string, string>, secretKeys: string[] = []): readonly Problem[] {
    try {
        parseStackConfig({ ...REGION, ...raw }, secretKeys, NAMES);
    } catch (e) {
        if (e instanceof ValidationError) return e.problems;
        throw e;
    }
    assert.fail(`parseStackConfig accepted ${JSON.stringify(raw)}`);
}

function fields(problems: readonly Problem[]): string[] {
    return problems.map((p) => p.field).sort();
}

describe("config: parseStackConfig", () => {
    it("accepts every stack file in the project", () => {
        assert.deepEqual(stacks(), ["dev", "prod"]);
        for (const stack of stacks()) {
            assert.doesNotThrow(() => parseStackConfig(loadStackConfig(stack), [], NAMES), `Pulumi.${stack}.yaml`);
        }
    });

    it("gives the defaults when only the region is set", () => {
        assert.deepEqual(parseStackConfig(REGION), { ...DEFAULTS, region: "eu-west-1" });
    });

    it("reads typed values: numbers, lists, maps, overrides", () => {
        const c: StackConfig = parseStackConfig(
            {
                ...REGION,
                [key("rootVolumeSizeGiB")]: "64",
                [key("sshCidrs")]: JSON.stringify(["203.0.113.0/24"]),
                [key("tags")]: JSON.stringify({ team: "ops" }),
                [key("containers")]: JSON.stringify({
                    nginx: { image: { tarball: "nginx.tar", ref: "coreos-containers/nginx:1.27.3" }, env: { A: "1" } },
                }),
            },
            [],
            NAMES,
        );
        assert.equal(c.rootVolumeSizeGiB, 64);
        assert.equal(parseStackConfig({ ...REGION, [key("userDataFormat")]: "ignition" }).userDataFormat, "ignition");
        assert.deepEqual(c.sshCidrs, ["203.0.113.0/24"]);
        assert.deepEqual(c.tags, { team: "ops" });
        assert.deepEqual(c.containers, {
            nginx: { image: { kind: "tarball", file: "nginx.tar", ref: "coreos-containers/nginx:1.27.3" }, env: { A: "1" } },
        });
    });

    it("names an unknown key and lists the known ones as the fix", () => {
        const [p, ...rest] = problemsOf({ [key("instanceSize")]: "t3.large" });
        assert.equal(rest.length, 0);
        assert.equal(p!.field, key("instanceSize"));
        for (const known of Object.keys(CONFIG_KEYS)) assert.match(p!.fix, new RegExp(`\\b${known}\\b`));
    });

    // Keys are the user's text: a table lookup must see only the table's own entries, never what every
    // JavaScript object inherits (a key `toString` once reached `spec.read is not a function`).
    const INHERITED_NAMES = ["toString", "constructor", "__proto__", "hasOwnProperty", "valueOf"];

    it("names a key spelt like a built-in object property as unknown, like any other", () => {
        const raw = Object.fromEntries(INHERITED_NAMES.map((n) => [key(n), "x"]));
        const problems = problemsOf(raw);
        assert.deepEqual(fields(problems), INHERITED_NAMES.map(key).sort());
        for (const p of problems) {
            assert.equal(p.code, "CONFIG_UNKNOWN_KEY");
            assert.equal(p.message, "is not a key of this project");
        }
    });

    it("names a container override spelt like a built-in object property as a container the host does not run", () => {
        const overrides = Object.fromEntries(INHERITED_NAMES.map((n) => [n, { env: { A: "1" } }]));
        const problems = problemsOf({ [key("containers")]: JSON.stringify(overrides) });
        assert.deepEqual(fields(problems), INHERITED_NAMES.map((n) => `${key("containers")}.${n}`).sort());
        for (const p of problems) assert.equal(p.code, "CONFIG_UNKNOWN_CONTAINER");
    });

    it("keeps an environment variable named like a built-in object property", () => {
        const env = Object.fromEntries(INHERITED_NAMES.map((n) => [n, `value of ${n}`]));
        const c = parseStackConfig({ ...REGION, [key("containers")]: JSON.stringify({ nginx: { env } }) }, [], NAMES);
        const kept = c.containers["nginx"]!.env!;
        assert.deepEqual(Object.keys(kept).sort(), [...INHERITED_NAMES].sort());
        for (const n of INHERITED_NAMES) assert.equal(Object.getOwnPropertyDescriptor(kept, n)?.value, `value of ${n}`, n);
    });

    it("leaves other namespaces alone (aws:*, other projects)", () => {
        assert.doesNotThrow(() => parseStackConfig({ ...REGION, "aws:profile": "ops", "other:thing": "x" }));
    });

    // Each bad value is reported under exactly this field, with a message and a fix.
    const cases: [string, Record<string, string>, string, RegExp?][] = [
        ["a size that is not a number", { [key("rootVolumeSizeGiB")]: "big" }, key("rootVolumeSizeGiB")],
        ["a size below Flatcar's minimum", { [key("rootVolumeSizeGiB")]: "4" }, key("rootVolumeSizeGiB")],
        ["a user-data format that does not exist", { [key("userDataFormat")]: "butane" }, key("userDataFormat"), /cloud-config, ignition/],
        ["sshCidrs that is not a list", { [key("sshCidrs")]: "203.0.113.0/24" }, key("sshCidrs"), /list/],
        ["a CIDR that is not one", { [key("sshCidrs")]: JSON.stringify(["203.0.113.0/24", "10.0.0.0/33"]) }, `${key("sshCidrs")}[1]`],
        ["a CIDR with host bits", { [key("sshCidrs")]: JSON.stringify(["203.0.113.7/24"]) }, `${key("sshCidrs")}[0]`, /203\.0\.113\.0\/24/],
        ["SSH from the whole internet", { [key("sshCidrs")]: JSON.stringify(["0.0.0.0/0"]) }, `${key("sshCidrs")}[0]`, /internet/],
        [
            "an unpinned image (:latest)",
            { [key("containers")]: JSON.stringify({ nginx: { image: "nginx:latest" } }) },
            `${key("containers")}.nginx.image`,
        ],
        [
            "an image without a tag",
            { [key("containers")]: JSON.stringify({ nginx: { image: "nginx" } }) },
            `${key("containers")}.nginx.image`,
        ],
        [
            "a tarball image without a pinned ref",
            { [key("containers")]: JSON.stringify({ nginx: { image: { tarball: "nginx.tar", ref: "nginx" } } }) },
            `${key("containers")}.nginx.image.ref`,
        ],
        [
            "an override with an unknown key",
            { [key("containers")]: JSON.stringify({ nginx: { ports: [8080] } }) },
            `${key("containers")}.nginx.ports`,
            /image.*env/,
        ],
        [
            "an env value that is not a string",
            { [key("containers")]: JSON.stringify({ elastic: { env: { HEAP: 4 } } }) },
            `${key("containers")}.elastic.env.HEAP`,
            /quote/,
        ],
        [
            "an override naming no container",
            { [key("containers")]: JSON.stringify({ ngnix: { env: { A: "1" } } }) },
            `${key("containers")}.ngnix`,
            /nginx/,
        ],
        ["containers that is not a map", { [key("containers")]: "[]" }, key("containers")],
        ["an absolute artifactDir", { [key("artifactDir")]: "/home/me/artifact" }, key("artifactDir"), /relative/],
        ["an artifactDir leaving the project", { [key("artifactDir")]: "../artifact" }, key("artifactDir")],
        ["an unknown Flatcar channel", { [key("flatcarChannel")]: "edge" }, key("flatcarChannel"), /stable/],
        ["a malformed instance type", { [key("instanceType")]: "large" }, key("instanceType")],
        ["a malformed AMI id", { [key("ami")]: "flatcar" }, key("ami")],
        ["a reserved tag key", { [key("tags")]: JSON.stringify({ "aws:team": "ops" }) }, `${key("tags")}.aws:team`],
        ["retention of zero days", { [key("artifactRetentionDays")]: "0" }, key("artifactRetentionDays")],
    ];
    for (const [what, raw, field, fix] of cases) {
        it(`refuses ${what}, naming ${field}`, () => {
            const problems = problemsOf(raw);
            assert.deepEqual(fields(problems), [field]);
            assert.ok(problems[0]!.message.length > 0 && problems[0]!.fix.length > 0);
            if (fix) assert.match(`${problems[0]!.message} ${problems[0]!.fix}`, fix);
        });
    }

    it("refuses a missing or malformed aws:region", () => {
        assert.throws(
            () => parseStackConfig({}),
            (e: unknown) => e instanceof ValidationError && fields(e.problems).join() === "aws:region",
        );
        assert.deepEqual(fields(problemsOf({ "aws:region": "Ireland" })), ["aws:region"]);
    });

    it("refuses secrets in containers (the user-data is plaintext), and accepts the same value as plain config", () => {
        const raw = { [key("containers")]: JSON.stringify({ elastic: { env: { ELASTIC_PASSWORD: "hunter2" } } }) };
        const problems = problemsOf(raw, [key("containers")]);
        assert.deepEqual(fields(problems), [key("containers")]);
        assert.match(problems[0]!.message, /plaintext/);
        assert.doesNotThrow(() => parseStackConfig({ ...REGION, ...raw }, [], NAMES));
    });

    it("refuses as a secret every key whose values the user-data carries in plaintext (containers, sshAuthorizedKeys)", () => {
        const raw = {
            [key("containers")]: JSON.stringify({ nginx: { env: { A: "1" } } }),
            [key("sshAuthorizedKeys")]: JSON.stringify(["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIConfigTestKey ops@example"]),
        };
        for (const k of Object.keys(raw)) {
            const problems = problemsOf(raw, [k]);
            assert.deepEqual(
                problems.map((p) => [p.code, p.field]),
                [["CONFIG_SECRET_NOT_ALLOWED", k]],
            );
        }
        assert.doesNotThrow(() => parseStackConfig({ ...REGION, ...raw }, [], NAMES));
    });

    it("reports every problem at once, in one error", () => {
        const raw = {
            [key("instanceSize")]: "x",
            [key("rootVolumeSizeGiB")]: "big",
            [key("sshCidrs")]: JSON.stringify(["10.0.0.1/8"]),
            [key("containers")]: JSON.stringify({ nginx: { image: "nginx:latest", extra: 1 }, ngnix: {} }),
        };
        const want = [
            key("containers") + ".nginx.extra",
            key("containers") + ".nginx.image",
            key("containers") + ".ngnix",
            key("instanceSize"),
            key("rootVolumeSizeGiB"),
            key("sshCidrs") + "[0]",
        ];
        let error: ValidationError | undefined;
        try {
            parseStackConfig({ ...REGION, ...raw }, [], NAMES);
        } catch (e) {
            error = e as ValidationError;
        }
        assert.ok(error instanceof ValidationError, "expected a ValidationError");
        assert.deepEqual(fields(error.problems), want);
        for (const f of want) assert.ok(error.message.includes(f), `the message names ${f}`);
    });

    it("canonicalCidr gives the network address", () => {
        const cases: [string, string][] = [
            ["203.0.113.7/24", "203.0.113.0/24"],
            ["203.0.113.0/24", "203.0.113.0/24"],
            ["10.1.2.3/8", "10.0.0.0/8"],
            ["192.168.1.1/32", "192.168.1.1/32"],
            ["172.16.255.255/12", "172.16.0.0/12"],
            ["255.255.255.255/0", "0.0.0.0/0"],
        ];
        for (const [input, want] of cases) assert.equal(canonicalCidr(input), want, input);
    });
});

describe("config: a bad value is named, explained, and never used", () => {
    const K = PROJECT;
    const k = (name: string) => `${K}:${name}`;
    // [key, bad raw value, the fields its problems name]. Each reader's branches, boundaries included.
    const BAD: [string, string, string[]][] = [
        ["rootVolumeSizeGiB", "7", [k("rootVolumeSizeGiB")]],
        ["rootVolumeSizeGiB", "16385", [k("rootVolumeSizeGiB")]],
        ["rootVolumeSizeGiB", "1e3", [k("rootVolumeSizeGiB")]],
        ["rootVolumeSizeGiB", "100.0", [k("rootVolumeSizeGiB")]],
        ["rootVolumeSizeGiB", "x12", [k("rootVolumeSizeGiB")]],
        ["sshAuthorizedKeys", "[ssh-ed25519", [k("sshAuthorizedKeys")]],
        ["sshAuthorizedKeys", '"ssh-ed25519 AAAA"', [k("sshAuthorizedKeys")]],
        ["sshAuthorizedKeys", '["ssh-ed25519 AAAA a", 3]', [k("sshAuthorizedKeys")]],
        ["sshAuthorizedKeys", '["ssh-ed25519 AAAA a", "not a key"]', [`${k("sshAuthorizedKeys")}[1]`]],
        ["sshCidrs", '["10.0.0.0/8", "0.0.0.0/0"]', [`${k("sshCidrs")}[1]`]],
        ["sshCidrs", '["10.0.0.1/8"]', [`${k("sshCidrs")}[0]`]],
        ["tags", '{"team": "ops", "aws:x": "1"}', [`${k("tags")}.aws:x`]],
        ["tags", '{"team": 1}', [`${k("tags")}.team`]],
        ["tags", '{"team": null}', [`${k("tags")}.team`]],
        ["tags", `{"team": "${"v".repeat(257)}"}`, [`${k("tags")}.team`]],
        ["tags", '["team"]', [k("tags")]],
        ["secrets", '{"grafana-admin": "pw", "-bad": "pw"}', [`${k("secrets")}.-bad`]],
        ["secrets", '{"grafana-admin": 1}', [`${k("secrets")}.grafana-admin`]],
        ["secrets", '{"grafana-admin": null}', [`${k("secrets")}.grafana-admin`]],
        ["secrets", '{"grafana-admin": ["pw"]}', [`${k("secrets")}.grafana-admin`]],
        ["secrets", "not json", [k("secrets")]],
        [
            "containers",
            '{"nginx": {"image": {"tarball": "nginx.tar", "ref": "x:1", "extra": 1}}}',
            [`${k("containers")}.nginx.image.extra`],
        ],
        ["containers", '{"nginx": {"image": {"tarball": "../nginx.tar", "ref": "x:1"}}}', [`${k("containers")}.nginx.image.tarball`]],
        ["containers", '{"nginx": {"image": {"tarball": "nginx.tar", "ref": 1}}}', [`${k("containers")}.nginx.image.ref`]],
        ["containers", '{"nginx": {"image": 1}}', [`${k("containers")}.nginx.image`]],
        ["containers", '{"nginx": {"env": {"1A": "x"}}}', [`${k("containers")}.nginx.env.1A`]],
        ["containers", '{"nginx": {"env": {"A": 1}}}', [`${k("containers")}.nginx.env.A`]],
        ["containers", '{"nginx": {"env": ["A"]}}', [`${k("containers")}.nginx.env`]],
        ["containers", '{"nginx": {"expose": {"80x": "internet"}}}', [`${k("containers")}.nginx.expose.80x`]],
        ["containers", '{"nginx": {"expose": {"80": "everyone"}}}', [`${k("containers")}.nginx.expose.80`]],
        ["containers", '{"nginx": {"expose": {"80": [1]}}}', [`${k("containers")}.nginx.expose.80`]],
        ["containers", '{"nginx": {"expose": {"80": ["10.0.0.0/99"]}}}', [`${k("containers")}.nginx.expose.80[0]`]],
        ["containers", '{"nginx": {"expose": {"80": ["0.0.0.0/0"]}}}', [`${k("containers")}.nginx.expose.80[0]`]],
        ["containers", '{"nginx": {"expose": {"80": ["10.0.0.1/16"]}}}', [`${k("containers")}.nginx.expose.80[0]`]],
        ["containers", '{"nginx": {"expose": ["80"]}}', [`${k("containers")}.nginx.expose`]],
        ["containers", '{"nginx": 1}', [`${k("containers")}.nginx`]],
    ];

    for (const [name, raw, expected] of BAD) {
        it(`${name} = ${raw.length > 60 ? raw.slice(0, 60) + "…" : raw}: names ${expected.join(", ")}, says why and what to do, and the default stands`, () => {
            const { config, problems } = checkStackConfig({ ...REGION, [k(name)]: raw }, name === "secrets" ? [k(name)] : []);
            assert.deepEqual(
                problems.map((p) => p.field),
                expected,
            );
            for (const p of problems) {
                assert.ok(p.message.trim().length > 3 && !p.message.startsWith(" "), `a message: ${JSON.stringify(p.message)}`);
                assert.ok(p.fix.trim().length > 3, `a fix: ${JSON.stringify(p.fix)}`);
                if (name === "secrets") assert.ok(!`${p.message} ${p.fix}`.includes("pw"), "never quotes a secret value");
            }
            if (name === "containers") {
                // A container's override keeps nothing of a bad image, env or expose.
                assert.deepEqual(
                    Object.values(config.containers).filter((o) => Object.keys(o).length > 0),
                    [],
                    "the bad value is not used",
                );
            } else {
                assert.deepEqual(
                    (config as unknown as Record<string, unknown>)[name],
                    (DEFAULTS as Record<string, unknown>)[name],
                    "the bad value is not used",
                );
            }
        });
    }

    it("accepts the edges: the smallest and largest sizes, surrounding spaces, a 256-character tag, internet and host", () => {
        const { config, problems } = checkStackConfig({
            ...REGION,
            [k("rootVolumeSizeGiB")]: " 8 ",
            [k("artifactRetentionDays")]: "3650",
            [k("tags")]: JSON.stringify({ team: "v".repeat(256) }),
            [k("containers")]: JSON.stringify({ nginx: { expose: { "80": "internet", "443/tcp": "host", "9100": ["10.0.0.0/16"] } } }),
        });
        assert.deepEqual(problems, []);
        assert.equal(config.rootVolumeSizeGiB, 8);
        assert.equal(config.artifactRetentionDays, 3650);
        assert.deepEqual(config.containers["nginx"]!.expose, { "80": "internet", "443/tcp": "host", "9100": ["10.0.0.0/16"] });
    });

    it("reports keys in sorted order, whatever order the stack file has them in", () => {
        const raw = { [k("tags")]: "[", [k("ami")]: "x", [k("sshCidrs")]: "[" };
        const reversed = Object.fromEntries(Object.entries(raw).reverse());
        for (const r of [raw, reversed]) {
            assert.deepEqual(
                checkStackConfig({ ...REGION, ...r }).problems.map((p) => p.field),
                [k("ami"), k("sshCidrs"), k("tags")],
            );
        }
    });

    it("names a region that is not one, and a missing one", () => {
        for (const region of ["eu-west", "xeu-west-1", "eu-west-1x", "eu-1"]) {
            const [p, ...rest] = checkStackConfig({ "aws:region": region }).problems;
            assert.equal(rest.length, 0);
            assert.deepEqual([p!.code, p!.field], ["CONFIG_INVALID_VALUE", "aws:region"], region);
            assert.ok(p!.message.includes(region));
        }
        assert.deepEqual(checkStackConfig({ "aws:region": "ap-southeast-2" }).problems, []);
        assert.equal(checkStackConfig({}).problems[0]!.code, "CONFIG_REGION_MISSING");
    });
});

describe("config: exposure overrides name ports the container publishes", () => {
    const containers = [
        { name: "web", ports: [{ host: 80 }, { host: 53, protocol: "udp" }] },
        { name: "quiet", ports: [] },
    ];
    const fieldsOf = (overrides: Record<string, ContainerOverride>) => unknownPortProblems(overrides, containers).map((p) => p.field);

    it("accepts a port it publishes, by number or by number and protocol", () => {
        assert.deepEqual(fieldsOf({ web: { expose: { "80": "internet", "80/tcp": "host", "53": "host", "53/udp": "host" } } }), []);
    });

    it("names a port it does not publish, or publishes with another protocol, and lists the ones it does", () => {
        const problems = unknownPortProblems({ web: { expose: { "9999": "host", "80/udp": "host" } } }, containers);
        assert.deepEqual(
            problems.map((p) => [p.code, p.field]),
            [
                ["CONFIG_UNKNOWN_PORT", `${PROJECT}:containers.web.expose.9999`],
                ["CONFIG_UNKNOWN_PORT", `${PROJECT}:containers.web.expose.80/udp`],
            ],
        );
        for (const p of problems) assert.match(p.fix, /80\/tcp, 53\/udp/);
        assert.match(unknownPortProblems({ quiet: { expose: { "80": "host" } } }, containers)[0]!.fix, /\(it publishes none\)/);
    });

    it("leaves an override for a container the host does not run to unknownContainerProblems", () => {
        assert.deepEqual(fieldsOf({ ghost: { expose: { "80": "host" } } }), []);
    });
});

describe("config: Pulumi.yaml", () => {
    const project = parse(fs.readFileSync(path.join(PROJECT_DIR, "Pulumi.yaml"), "utf8")) as {
        name: string;
        config: Record<string, { type: string; default: unknown; description?: string }>;
    };
    // Pulumi.yaml can declare only string, integer, boolean and array keys; maps default to {} in config.ts.
    const MAP_KEYS = ["containers", "tags", "secrets"];

    it("is this project", () => {
        assert.equal(project.name, PROJECT);
    });

    // Keys of other namespaces (aws:region) are project-level values for every stack, not this project's keys.
    const ownKeys = () => Object.keys(project.config).filter((k) => !k.includes(":"));

    it("sets aws:region for every stack, so a stack without a stack file plans", () => {
        assert.deepEqual(
            Object.keys(project.config).filter((k) => k.includes(":")),
            ["aws:region"],
        );
        assert.deepEqual(project.config["aws:region"], { value: "eu-west-1" });
    });

    it("declares defaults equal to config.ts DEFAULTS, for every key but the map-valued ones", () => {
        const declared = ownKeys().sort();
        assert.deepEqual(
            declared,
            Object.keys(DEFAULTS)
                .filter((k) => !MAP_KEYS.includes(k))
                .sort(),
        );
        for (const k of declared) assert.deepEqual(project.config[k]!.default, DEFAULTS[k as keyof typeof DEFAULTS], k);
        for (const k of MAP_KEYS) assert.deepEqual(DEFAULTS[k as keyof typeof DEFAULTS], {}, k);
    });

    it("declares only keys config.ts reads, each with a description and a type that fits its default", () => {
        const typeOf = (v: unknown) => (Array.isArray(v) ? "array" : Number.isInteger(v) ? "integer" : typeof v);
        for (const k of ownKeys()) {
            const spec = project.config[k]!;
            assert.ok(Object.hasOwn(CONFIG_KEYS, k), `${k} is not a key config.ts reads`);
            assert.ok(spec.description, `${k} has no description`);
            assert.equal(spec.type, typeOf(spec.default), k);
        }
    });

    it("its defaults, as the CLI hands them over, parse to DEFAULTS", () => {
        const raw = Object.fromEntries(
            ownKeys().map((k) => [
                key(k),
                typeof project.config[k]!.default === "string"
                    ? String(project.config[k]!.default)
                    : JSON.stringify(project.config[k]!.default),
            ]),
        );
        assert.deepEqual(parseStackConfig({ ...REGION, ...raw }), { ...DEFAULTS, region: "eu-west-1" });
    });
});

describe("config: npm start with a bad config", function () {
    this.timeout(60_000);

    it("names keys spelt like built-in object properties as unknown keys, and does not crash", async () => {
        const out = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-containers-config-"));
        try {
            const bad = ["toString", "constructor", "__proto__"];
            const r = await runNpmStart([
                "--stack",
                "dev",
                "--out",
                out,
                "--config-json",
                JSON.stringify({ ...FIXTURE_CONFIG, ...Object.fromEntries(bad.map((n) => [key(n), "x"])) }),
            ]);
            assert.notEqual(r.code, 0, `npm start succeeded:\n${r.stdout}`);
            assert.doesNotMatch(r.stderr, /TypeError|^\s+at /m, "no crash, no stack trace");
            for (const n of bad) assert.ok(r.stderr.includes(`${key(n)}: is not a key of this project`), `names ${n}:\n${r.stderr}`);
            assert.deepEqual(fs.readdirSync(out), [], "nothing written");
        } finally {
            fs.rmSync(out, { recursive: true, force: true });
        }
    });

    it("exits non-zero, lists every problem, and writes nothing", async () => {
        const parent = fs.mkdtempSync(path.join(os.tmpdir(), "coreos-containers-config-"));
        const out = path.join(parent, "out");
        fs.mkdirSync(out);
        fs.writeFileSync(path.join(out, "sentinel"), "from an earlier plan\n");
        try {
            const r = await runNpmStart([
                "--stack",
                "dev",
                "--out",
                out,
                "--config-json",
                JSON.stringify({
                    ...FIXTURE_CONFIG,
                    [key("instanceSize")]: "t3.large",
                    [key("rootVolumeSizeGiB")]: "big",
                    [key("sshCidrs")]: ["10.0.0.1/8"],
                    [key("containers")]: { elastic: { env: { ELASTIC_PASSWORD: "hunter2" } } },
                }),
                "--secret",
                key("containers"),
            ]);
            assert.notEqual(r.code, 0, `npm start succeeded:\n${r.stdout}`);
            for (const f of [key("instanceSize"), key("rootVolumeSizeGiB"), `${key("sshCidrs")}[0]`, key("containers")]) {
                assert.ok(r.stderr.includes(f), `stderr names ${f}:\n${r.stderr}`);
            }
            // The four config problems, and what the secret `containers` could not override: dev's images stay the host's tarballs, which are not built here.
            assert.deepEqual(
                [...r.stderr.matchAll(/^ {2}- \[([A-Z_]+)\]/gm)].map((m) => m[1]),
                [
                    "CONFIG_SECRET_NOT_ALLOWED",
                    "CONFIG_UNKNOWN_KEY",
                    "CONFIG_INVALID_VALUE",
                    "CONFIG_CIDR_HOST_BITS",
                    "IMAGE_FILE_MISSING",
                    "IMAGE_FILE_MISSING",
                ],
                r.stderr,
            );
            assert.match(r.stderr, /6 problems/);
            assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
            assert.match(r.stderr, /Nothing was written/);
            assert.deepEqual(fs.readdirSync(parent), ["out"], "nothing next to the out folder");
            assert.deepEqual(fs.readdirSync(out), ["sentinel"], "nothing added to or removed from the out folder");
            assert.equal(fs.readFileSync(path.join(out, "sentinel"), "utf8"), "from an earlier plan\n");
        } finally {
            fs.rmSync(parent, { recursive: true, force: true });
        }
    });
});

describe("config: the data volume's keys", () => {
    it("reads them, typed, and lets an unset dataVolume follow the host", () => {
        const c = parseStackConfig({
            ...REGION,
            [key("dataVolume")]: "true",
            [key("dataVolumeSizeGiB")]: "100",
            [key("dataVolumeIops")]: "6000",
            [key("dataVolumeThroughputMiBps")]: "500",
            [key("availabilityZone")]: "eu-west-1c",
            [key("snapshots")]: "true",
            [key("snapshotIntervalHours")]: "12",
            [key("snapshotTime")]: "23:45",
            [key("snapshotRetainCount")]: "30",
        });
        assert.deepEqual(
            [c.dataVolume, c.dataVolumeSizeGiB, c.dataVolumeIops, c.dataVolumeThroughputMiBps, c.availabilityZone],
            [true, 100, 6000, 500, "eu-west-1c"],
        );
        assert.deepEqual([c.snapshots, c.snapshotIntervalHours, c.snapshotTime, c.snapshotRetainCount], [true, 12, "23:45", 30]);
        assert.equal(parseStackConfig(REGION).dataVolume, undefined);
    });

    it("refuses values gp3 and DLM refuse, each naming the key and what it takes", () => {
        const problems = problemsOf({
            [key("dataVolume")]: "yes",
            [key("dataVolumeIops")]: "20000",
            [key("dataVolumeThroughputMiBps")]: "100",
            [key("snapshotIntervalHours")]: "5",
            [key("snapshotTime")]: "3:00",
            [key("availabilityZone")]: "eu-west-1",
        });
        assert.deepEqual(fields(problems), [
            key("availabilityZone"),
            key("dataVolume"),
            key("dataVolumeIops"),
            key("dataVolumeThroughputMiBps"),
            key("snapshotIntervalHours"),
            key("snapshotTime"),
        ]);
        const fix = (k: string) => problems.find((p) => p.field === key(k))!.fix;
        assert.equal(fix("snapshotIntervalHours"), "set one of 1, 2, 3, 4, 6, 8, 12, 24");
        assert.equal(fix("dataVolumeIops"), "set a whole number from 3000 to 16000");
        assert.equal(fix("dataVolume"), "set true or false");
    });

    it("takes gp3's baseline at any size, and checks the ratios above it", () => {
        // 3000 IOPS and 750 MiB/s come with a 1 GiB volume; 500 IOPS per GiB and 0.25 MiB/s per IOPS above.
        assert.doesNotThrow(() =>
            parseStackConfig({ ...REGION, [key("dataVolumeSizeGiB")]: "1", [key("dataVolumeThroughputMiBps")]: "750" }),
        );
        assert.deepEqual(fields(problemsOf({ [key("dataVolumeSizeGiB")]: "8", [key("dataVolumeIops")]: "4001" })), [key("dataVolumeIops")]);
        assert.doesNotThrow(() => parseStackConfig({ ...REGION, [key("dataVolumeSizeGiB")]: "8", [key("dataVolumeIops")]: "4000" }));
        const throughput = problemsOf({ [key("dataVolumeIops")]: "3200", [key("dataVolumeThroughputMiBps")]: "801" });
        assert.equal(throughput[0]!.code, "CONFIG_DATA_VOLUME_THROUGHPUT_TOO_HIGH");
        assert.match(throughput[0]!.fix, /at most 800, or dataVolumeIops to at least 3204/);
    });
});
