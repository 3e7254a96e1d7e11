// The Ignition format's pure parts, in-process (test/ignition.test.ts runs the real binaries; these
// rules hold without them): reading a stub back through its config, data URLs, canonical JSON,
// owners and files, the size ceilings, and the problems the ignition-validate port reports, with
// where, field, message and fix (test/ignitionValidate.test.ts compares level, path and message with
// the real ignition-validate; this file pins what a user reads).
import { strict as assert } from "node:assert";
import {
    IGNITION_CONFIG_MAX_BYTES,
    IGNITION_VERSION,
    canonicalJson,
    configSizeProblems,
    dataUrl,
    dataUrlText,
    ignition,
    ignitionConfig,
    ignitionFile,
    ignitionFindings,
    ignitionOwner,
    isIgnitionConfig,
    readIgnition,
    validateIgnition,
} from "../formats/ignition";
import { ValidationError } from "../units/problems";

const V = { version: "3.3.0" };
const json = (doc: unknown) => Buffer.from(JSON.stringify(doc));
const svc = "[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n";

describe("the Ignition format, in-process", () => {
    describe("reading a user-data back", () => {
        const full = {
            ignition: V,
            passwd: { users: [{ name: "core", sshAuthorizedKeys: ["ssh-ed25519 AAAA"] }] },
            storage: {
                directories: [{ path: "/opt/x" }],
                files: [
                    { path: "/etc/a", mode: 420, overwrite: true, contents: { source: "data:,hello%20world" } },
                    { path: "/etc/empty", mode: 384 },
                    "not a file",
                ],
            },
            systemd: {
                units: [{ name: "a.service", enabled: true, contents: svc }, { name: "b.service", mask: true }, 7],
                future: true,
            },
        };
        let stub: Buffer;
        let uploads: Map<string, string>;
        before(() => {
            stub = json({ ignition: { ...V, config: { replace: { source: "s3://bucket/ignition/k.json" } } } });
            uploads = new Map([["ignition/k.json", JSON.stringify(full)]]);
        });

        it("a stub is read through the config its s3:// source names: units, files and the rest, each entry's other settings kept", () => {
            assert.deepEqual(readIgnition(stub, uploads), {
                format: "ignition",
                delivery: {
                    kind: "fetched",
                    source: "s3://bucket/ignition/k.json",
                    key: "ignition/k.json",
                    documentBytes: Buffer.byteLength(uploads.get("ignition/k.json")!),
                },
                units: [
                    { name: "a.service", content: svc, settings: { enabled: true } },
                    { name: "b.service", content: "", settings: { mask: true } },
                ],
                files: [
                    { path: "/etc/a", content: "hello world", settings: { mode: 420, overwrite: true } },
                    { path: "/etc/empty", content: "", settings: { mode: 384 } },
                ],
                other: { passwd: full.passwd, storage: { directories: [{ path: "/opt/x" }] }, systemd: { future: true } },
            });
        });

        it("a config without replace is read inline; no systemd or storage keys beyond units and files means none in the rest", () => {
            const doc = { ignition: V, systemd: { units: [{ name: "a.service", contents: svc }] }, storage: { files: [] } };
            assert.deepEqual(readIgnition(json(doc)), {
                format: "ignition",
                delivery: { kind: "inline" },
                units: [{ name: "a.service", content: svc, settings: {} }],
                files: [],
                other: {},
            });
        });

        it("bytes that are not JSON are refused as such, with the parser's error as the cause", () => {
            const e = catchError(() => readIgnition(Buffer.from("#cloud-config\n")));
            assert.match(e.message, /^the user-data is not JSON: /);
            assert.ok(e.cause instanceof SyntaxError);
        });

        it("JSON without a string ignition.version is not an Ignition config, in the stub or the config it names", () => {
            assert.throws(() => readIgnition(json({ ignition: { version: 3 } })), {
                message: "the user-data is not an Ignition config (no ignition.version)",
            });
            assert.throws(() => readIgnition(stub, new Map([["ignition/k.json", "{}"]])), {
                message: "the Ignition config ignition/k.json is not an Ignition config (no ignition.version)",
            });
        });

        it("a replace source that is not exactly s3://bucket/key is refused, and so is a key the plan does not upload", () => {
            for (const source of ["https://bucket/ignition/k.json", "xs3://bucket/ignition/k.json", "s3://bucket/ignition/k.json\nx"]) {
                const bad = json({ ignition: { ...V, config: { replace: { source } } } });
                assert.throws(() => readIgnition(bad, new Map([["ignition/k.json", JSON.stringify(full)]])), {
                    message: `the Ignition stub replaces itself with ${source}, which is not an s3:// URL of this project`,
                });
            }
            assert.throws(() => readIgnition(stub, new Map()), {
                message: "the Ignition stub names s3://bucket/ignition/k.json, but the plan uploads no object with the key ignition/k.json",
            });
        });

        it("an Ignition config is recognised by its string ignition.version alone", () => {
            assert.equal(isIgnitionConfig(JSON.stringify({ ignition: { version: "3.3.0" } })), true);
            for (const text of [
                "#cloud-config\n",
                "[]",
                "{}",
                JSON.stringify({ ignition: {} }),
                JSON.stringify({ ignition: { version: 3 } }),
            ])
                assert.equal(isIgnitionConfig(text), false, text);
        });
    });

    describe("data URLs", () => {
        it("on a tie in length the percent-encoded form is written, as it is the readable one", () => {
            assert.equal(dataUrl("\n\n\n\n\n"), "data:,%0A%0A%0A%0A%0A");
            assert.equal(dataUrl("\n\n\n\n\n\n"), "data:;base64,CgoKCgoK");
        });

        it("only a URL starting with data: is read, and the error quotes its first 40 characters", () => {
            const url = `xdata:,${"a".repeat(60)}`;
            assert.throws(() => dataUrlText(url), { message: `not a data URL: ${JSON.stringify(url.slice(0, 40))}` });
        });

        it(";base64 marks base64 only at the end of the media type", () => {
            assert.equal(dataUrlText("data:;base64,aGk="), "hi");
            assert.equal(dataUrlText("data:;base64x,aGk%3D"), "aGk=");
        });
    });

    it("canonical JSON keeps null and scalars as they are and sorts keys at every level", () => {
        assert.equal(
            canonicalJson({ b: [1, null, "x", true, { d: null, c: 2 }], a: null }),
            '{"a":null,"b":[1,null,"x",true,{"c":2,"d":null}]}\n',
        );
        assert.throws(() => canonicalJson({ a: 1.5 }), /whole numbers only/);
    });

    describe("owners and files", () => {
        it("root and digits are ids, anything else is a name", () => {
            assert.deepEqual(["root", "0", "500", "12", "core", "a1", "1a", "docker"].map(ignitionOwner), [
                { id: 0 },
                { id: 0 },
                { id: 500 },
                { id: 12 },
                { name: "core" },
                { name: "a1" },
                { name: "1a" },
                { name: "docker" },
            ]);
        });

        it("a file without an owner is root's (id 0), and an owner without a group gets group root", () => {
            const f = { path: "/etc/a", permissions: "0644", content: "x" };
            assert.deepEqual(ignitionFile(f), {
                path: "/etc/a",
                mode: 420,
                overwrite: true,
                user: { id: 0 },
                group: { id: 0 },
                contents: { source: "data:,x" },
            });
            assert.deepEqual(
                [ignitionFile({ ...f, owner: "core" }).user, ignitionFile({ ...f, owner: "core" }).group],
                [{ name: "core" }, { id: 0 }],
            );
        });

        it("a host without files or keys gets no storage or passwd section", () => {
            assert.deepEqual(ignitionConfig({ files: [], sshAuthorizedKeys: [] }, [{ name: "a.service", content: svc }]), {
                ignition: { version: IGNITION_VERSION },
                systemd: { units: [{ name: "a.service", enabled: true, contents: svc }] },
            });
        });
    });

    describe("size ceilings", () => {
        it("a config of exactly the ceiling passes; one byte more is IGNITION_CONFIG_TOO_LARGE", () => {
            assert.deepEqual(configSizeProblems(Buffer.alloc(IGNITION_CONFIG_MAX_BYTES), "k"), []);
            assert.deepEqual(
                configSizeProblems(Buffer.alloc(IGNITION_CONFIG_MAX_BYTES + 1), "k").map((p) => [p.code, p.where, p.field]),
                [["IGNITION_CONFIG_TOO_LARGE", "k", "size"]],
            );
        });

        it("a stub over EC2's limit (a bucket name too long) is refused, and the fix names the bucket", () => {
            const content = { units: [{ name: "a.service", content: svc }], files: [], sshAuthorizedKeys: [] };
            const e = catchError(() => ignition.render(content, { bucket: "b".repeat(17000), region: "eu-west-1" }));
            assert.ok(e instanceof ValidationError);
            assert.deepEqual(
                e.problems.map((p) => [p.code, p.fix]),
                [["USER_DATA_TOO_LARGE", "use a shorter bucket name (the stub names it)"]],
            );
            assert.match(e.message, /^1 problem in the rendered Ignition config:/);
        });
    });

    describe("the ignition-validate port's problems: code, where, field, message", () => {
        const unit = (u: Record<string, unknown>) => ({
            ignition: V,
            systemd: { units: [{ name: "a.service", enabled: true, contents: svc, ...u }] },
        });
        const file = (f: Record<string, unknown>) => ({ ignition: V, storage: { files: [{ path: "/etc/a", mode: 420, ...f }] } });
        const hash = `sha512-${"a".repeat(128)}`;
        const replace = (r: Record<string, unknown>) => ({ ignition: { ...V, config: { replace: { source: "s3://b/k.json", ...r } } } });
        type Row = [string, string, string, string];
        const cases: [string, unknown, Row[]][] = [
            [
                "a clean file: no compression, a null mode, owners by id or name alone",
                file({ mode: null, user: { id: 0, name: null }, group: { id: null, name: "core" } }),
                [],
            ],
            ["empty compression is none", file({ contents: { source: "data:,x", compression: "" } }), []],
            [
                "mode 0 and mode 07777 are legal modes (the latter warns of its special bits)",
                {
                    ignition: V,
                    storage: {
                        files: [
                            { path: "/a", mode: 0 },
                            { path: "/b", mode: 0o7777 },
                        ],
                    },
                },
                [
                    [
                        "IGNITION_FILE_INVALID",
                        "/b",
                        "$.storage.files.1.mode",
                        "warning: setuid/setgid/sticky bits are not supported in spec versions older than 3.4.0",
                    ],
                ],
            ],
            [
                "a negative mode is illegal",
                file({ mode: -1 }),
                [
                    [
                        "IGNITION_FILE_INVALID",
                        "/etc/a",
                        "$.storage.files.0.mode",
                        "warning: setuid/setgid/sticky bits are not supported in spec versions older than 3.4.0",
                    ],
                    ["IGNITION_FILE_INVALID", "/etc/a", "$.storage.files.0.mode", "error: illegal file mode"],
                ],
            ],
            [
                "a mode that is not a whole number",
                file({ mode: "420" }),
                [
                    [
                        "IGNITION_FILE_INVALID",
                        "/etc/a",
                        "$.storage.files.0.mode",
                        "error: json: cannot unmarshal into Go struct field File.storage.files.mode of type int",
                    ],
                ],
            ],
            [
                "a file without a path is named by the document",
                { ignition: V, storage: { files: [{ mode: 420 }] } },
                [["IGNITION_FILE_INVALID", "user-data", "$.storage.files.0.path", "error: path not absolute"]],
            ],
            [
                "user by id and name",
                file({ user: { id: 0, name: "root", x: 1 } }),
                [
                    ["IGNITION_CONFIG_INVALID", "/etc/a", "$.storage.files.0.user.x", "warning: Unused key x"],
                    ["IGNITION_FILE_INVALID", "/etc/a", "$.storage.files.0.user", "error: cannot set both id and name"],
                ],
            ],
            [
                "a source that is not a string",
                file({ contents: { source: 5 } }),
                [["IGNITION_FILE_INVALID", "/etc/a", "$.storage.files.0.contents.source", "error: source is not a string"]],
            ],
            [
                "a URL whose scheme is not at its start",
                file({ contents: { source: "./data:,x" } }),
                [["IGNITION_FILE_INVALID", "/etc/a", "$.storage.files.0.contents.source", "error: invalid url scheme"]],
            ],
            [
                "a data URL with a raw newline",
                file({ contents: { source: "data:,a\nb" } }),
                [["IGNITION_FILE_INVALID", "/etc/a", "$.storage.files.0.contents.source", "error: unable to parse url"]],
            ],
            [
                "a % followed by one hex digit",
                file({ contents: { source: "data:,5%4" } }),
                [
                    [
                        "IGNITION_FILE_INVALID",
                        "/etc/a",
                        "$.storage.files.0.contents.source",
                        "error: rfc2396: unexpected end of unescape sequence",
                    ],
                ],
            ],
            [
                "bzip2 compression",
                file({ contents: { source: "data:,x", compression: "bzip2" } }),
                [["IGNITION_FILE_INVALID", "/etc/a", "$.storage.files.0.contents.compression", "error: invalid compression method"]],
            ],
            [
                "overwrite without a source",
                file({ overwrite: true }),
                [
                    [
                        "IGNITION_FILE_INVALID",
                        "/etc/a",
                        "$.storage.files.0.overwrite",
                        "error: overwrite must be false if source is unspecified",
                    ],
                ],
            ],
            [
                "a duplicate path",
                { ignition: V, storage: { files: [{ path: "/a" }, { path: "/a" }], x: 1 } },
                [
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.storage.x", "warning: Unused key x"],
                    ["IGNITION_FILE_INVALID", "/a", "$.storage.files.1", "error: duplicate entry defined"],
                ],
            ],
            [
                "an S3 URL without a key, or with s3:// not at its start",
                { ignition: { ...V, config: { replace: { source: "s3://bucket" }, merge: [{ source: "s3:s3://b/k" }] } } },
                [
                    [
                        "IGNITION_REFERENCE_INVALID",
                        "user-data",
                        "$.ignition.config.replace.source",
                        "error: invalid S3 URL: s3://<bucket>/<key>",
                    ],
                    [
                        "IGNITION_REFERENCE_INVALID",
                        "user-data",
                        "$.ignition.config.merge.0.source",
                        "error: invalid S3 URL: s3://<bucket>/<key>",
                    ],
                ],
            ],
            ["a null hash is no hash", replace({ verification: { hash: null } }), []],
            [
                "a hash that is not a string, or not <function>-<sum> from its start to its end",
                {
                    ignition: {
                        ...V,
                        config: { merge: [5, `_${hash}`, `${hash}\n`].map((h) => ({ source: "s3://b/k", verification: { hash: h } })) },
                    },
                },
                [0, 1, 2].map((i) => [
                    "IGNITION_REFERENCE_INVALID",
                    "user-data",
                    `$.ignition.config.merge.${i}.verification.hash`,
                    "error: unrecognized hash function",
                ]),
            ],
            [
                "a sum of the right length with a non-hex digit at either end",
                {
                    ignition: {
                        ...V,
                        config: {
                            merge: [`sha512-G${"a".repeat(127)}`, `sha512-${"a".repeat(127)}G`].map((h) => ({
                                source: "s3://b/k",
                                verification: { hash: h, x: 1 },
                            })),
                        },
                    },
                },
                [0, 1].flatMap((i): Row[] => [
                    ["IGNITION_CONFIG_INVALID", "user-data", `$.ignition.config.merge.${i}.verification.x`, "warning: Unused key x"],
                    [
                        "IGNITION_REFERENCE_INVALID",
                        "user-data",
                        `$.ignition.config.merge.${i}.verification.hash`,
                        "error: incorrect size for hash sum",
                    ],
                ]),
            ],
            [
                "unknown keys at every level are named by their path",
                {
                    ignition: { ...V, x: 1, config: { x: 1 } },
                    x: 1,
                    passwd: { x: 1, users: [{ name: "core", x: 1 }] },
                    systemd: { units: [], x: 1 },
                },
                [
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.x", "warning: Unused key x"],
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.ignition.x", "warning: Unused key x"],
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.ignition.config.x", "warning: Unused key x"],
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.passwd.x", "warning: Unused key x"],
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.passwd.users.0.x", "warning: Unused key x"],
                    ["IGNITION_CONFIG_INVALID", "user-data", "$.systemd.x", "warning: Unused key x"],
                ],
            ],
            [
                "a line too long is counted from line 1",
                unit({ contents: `[Service]\nExecStart=/bin/echo ${"x".repeat(2100)}\n[Install]\nWantedBy=multi-user.target\n` }),
                [
                    [
                        "IGNITION_UNIT_LINE_TOO_LONG",
                        "a.service",
                        "$.systemd.units.0.contents",
                        "error: invalid unit content: line too long (max 2048 bytes): line 2 is 2120 bytes",
                    ],
                ],
            ],
            [
                "section headers are read with surrounding blanks trimmed",
                unit({ contents: "[Service]\nExecStart=/bin/true\n [Install] \nWantedBy=multi-user.target\n  [Unit\n" }),
                [
                    [
                        "IGNITION_UNIT_INVALID",
                        "a.service",
                        "$.systemd.units.0.contents",
                        "error: invalid unit content: unable to find end of section",
                    ],
                ],
            ],
            ["an enabled unit without contents draws no [Install] warning", unit({ contents: undefined }), []],
            [
                "an enabled unit without [Install]",
                unit({ contents: "[Service]\nExecStart=/bin/true\n" }),
                [
                    [
                        "IGNITION_UNIT_INVALID",
                        "a.service",
                        "$.systemd.units.0.contents",
                        'warning: unit "a.service" is enabled, but has no install section so enable does nothing',
                    ],
                ],
            ],
            [
                "a unit named only by a type, and a unit without a name",
                { ignition: V, systemd: { units: [{ name: "service" }, {}] } },
                [
                    ["IGNITION_UNIT_INVALID", "service", "$.systemd.units.0.name", "error: invalid systemd unit extension"],
                    ["IGNITION_UNIT_INVALID", "user-data", "$.systemd.units.1.name", "error: invalid systemd unit extension"],
                ],
            ],
            [
                "two units of one name",
                { ignition: V, systemd: { units: [{ name: "a.service" }, { name: "a.service" }] } },
                [["IGNITION_UNIT_INVALID", "a.service", "$.systemd.units.1", "error: duplicate entry defined"]],
            ],
            [
                "drop-ins: a .conf name is right, their text is read like a unit's, their keys checked",
                unit({ dropins: [{ name: "x.conf", contents: "[Service\n", x: 1 }, { name: "conf.x" }] }),
                [
                    ["IGNITION_CONFIG_INVALID", "a.service", "$.systemd.units.0.dropins.0.x", "warning: Unused key x"],
                    [
                        "IGNITION_UNIT_INVALID",
                        "a.service",
                        "$.systemd.units.0.dropins.0.contents",
                        "error: invalid unit content: unable to find end of section",
                    ],
                    ["IGNITION_UNIT_INVALID", "a.service", "$.systemd.units.0.dropins.1.name", "error: invalid systemd drop-in extension"],
                ],
            ],
            ...["x3.3.0", "3.3.0x", "3.3", "3.3.0-rc1"].map((version): [string, unknown, Row[]] => [
                `version ${version} does not parse`,
                { ignition: { version } },
                [
                    [
                        "IGNITION_CONFIG_INVALID",
                        "user-data",
                        "$.ignition.version",
                        "error: couldn't parse config: invalid config version (couldn't parse)",
                    ],
                ],
            ]),
            ...["33.0.0", "3.33.0", "3.3.33", "3.4.0"].map((version): [string, unknown, Row[]] => [
                `version ${version} parses but is not supported`,
                { ignition: { version } },
                [
                    [
                        "IGNITION_CONFIG_INVALID",
                        "user-data",
                        "$.ignition.version",
                        "error: couldn't parse config: unsupported config version",
                    ],
                ],
            ]),
        ];
        for (const [what, doc, expected] of cases) {
            it(what, () => {
                const problems = validateIgnition(json(doc));
                assert.deepEqual(
                    problems.map((p) => [p.code, p.where, p.field, p.message]),
                    expected,
                );
                for (const p of problems) assert.match(p.fix, /\w{3}/, `${p.field} says how to fix it`);
            });
        }

        it("every problem says how to fix it, and each names its config", () => {
            const problems = validateIgnition(Buffer.from("{"), "ignition/k.json");
            assert.deepEqual(
                problems.map((p) => [p.code, p.where, p.field]),
                [["IGNITION_CONFIG_INVALID", "ignition/k.json", "$"]],
            );
            assert.match(problems[0]!.message, /^error: couldn't parse config: /);
            assert.equal(problems[0]!.fix, "render the config as JSON");
        });

        it("fixes name the rule they answer", () => {
            const fixes = (doc: unknown) => validateIgnition(json(doc)).map((p) => p.fix);
            assert.deepEqual(fixes({ ignition: { version: "x" } }), ['set ignition.version to "3.3.0"']);
            assert.deepEqual(fixes(file({ x: 1 })), ["remove x: spec 3.3.0 does not know it"]);
        });

        it("a finding outside any unit or file carries no where of its own", () => {
            assert.deepEqual(ignitionFindings(json({ ignition: V, x: 1 })), [
                {
                    code: "IGNITION_CONFIG_INVALID",
                    level: "warning",
                    path: "$.x",
                    message: "Unused key x",
                    fix: "remove x: spec 3.3.0 does not know it",
                },
            ]);
        });
    });
});

function catchError(f: () => unknown): Error {
    try {
        f();
    } catch (e) {
        return e as Error;
    }
    assert.fail("expected an error");
}
