// validateCloudConfig: coreos-cloudinit's `-validate` rules, case by case, and the real user-data passes.
import { strict as assert } from "node:assert";
import { gzipSync } from "node:zlib";
import { decodesAs, isCloudConfig, resolvePlainScalar, validateCloudConfig } from "../formats/cloudconfig/validate";
import { renderHost } from "../formats/cloudconfig";
import { buildHost } from "../units/host";
import { seedContainers, HOST_SCRIPTS, FIXTURE_VOLUME_ID } from "./helpers/fixtures";
import { applyOverrides } from "../units/stack";
import { findingLines } from "./helpers/cloudinit";

const H = "#cloud-config\n";

// [what, document, expected findings]. Line numbers count the #cloud-config header as line 1.
const CASES: [string, string, string[]][] = [
    // validate.go: the header
    [
        "a document without the header",
        "{}",
        [
            `line 1: error: must be "#cloud-config", multipart mime or begin with "#!" — this project always renders a cloud-config and its first line is not the header [(document)]`,
        ],
    ],
    [
        "a script",
        "#!/bin/bash\necho hi\n",
        [
            `line 1: error: must be "#cloud-config", multipart mime or begin with "#!" — this project always renders a cloud-config and it is a script [(document)]`,
        ],
    ],
    [
        "empty user-data",
        "",
        [
            `line 1: error: must be "#cloud-config", multipart mime or begin with "#!" — this project always renders a cloud-config and it is empty [(document)]`,
        ],
    ],
    [
        "a header with a BOM",
        "\ufeff#cloud-config\nhostname: a\n",
        [
            `line 1: error: must be "#cloud-config", multipart mime or begin with "#!" — this project always renders a cloud-config and its first line is not the header [(document)]`,
        ],
    ],

    // validate.go parseCloudConfig: YAML errors stop validation
    [
        "a YAML syntax error",
        H + "a:\n  b: [1\n",
        ["line 3: error: Flow sequence in block collection must be sufficiently indented and end with a ] [(syntax)]"],
    ],
    ["a key without a value", H + "hostname: a\nfoo\n", ["line 3: error: Implicit map keys need to be followed by map values [(syntax)]"]],
    [
        "a duplicate key (go-yaml keeps the last one silently)",
        H + "hostname: a\nhostname: b\n",
        ["line 3: error: Map keys must be unique [(syntax)]"],
    ],
    [
        "a control character (go-yaml's reader refuses it)",
        H + "hostname: a\x01b\n",
        ["line 2: error: control characters are not allowed (U+0001) [(document)]"],
    ],
    ["DEL", H + "hostname: a\x7fb\n", ["line 2: error: control characters are not allowed (U+007F) [(document)]"]],
    [
        "U+2028, a line break only to YAML 1.1",
        H + "write_files:\n- path: /etc/a\n  content: |\n    a\u2028b\n",
        [
            "line 5: error: U+2028 is a line break to coreos-cloudinit's YAML 1.1 parser but text to YAML 1.2 (this project's rule) [(document)]",
        ],
    ],
    [
        "a list at the top",
        H + "- hostname\n",
        ["line 2: error: the document is a list, not a map of keys (this project's rule) [(document)]"],
    ],

    // rules.go checkStructure: unknown keys
    ["an unknown top-level key", H + "test: 1\n", ['line 2: warning: unrecognized key "test" [test]']],
    ["an unknown nested key", H + "coreos:\n  flannel:\n    bad:\n", ['line 4: warning: unrecognized key "bad" [coreos.flannel.bad]']],
    [
        "a misspelt unit key",
        H + "coreos:\n  units:\n  - name: a.service\n    comand: start\n",
        ['line 5: warning: unrecognized key "comand" [coreos.units[0].comand]'],
    ],

    // checkStructure: deprecated keys
    [
        "deprecated etcd and one of its deprecated keys",
        H + "coreos:\n  etcd:\n    proxy: hi\n",
        [
            'line 3: warning: deprecated key "etcd" (etcd is no longer shipped in Container Linux) [coreos.etcd]',
            'line 4: warning: deprecated key "proxy" (etcd2 options no longer work for etcd) [coreos.etcd.proxy]',
        ],
    ],
    [
        "deprecated fleet",
        H + "coreos:\n  fleet:\n    public-ip: 10.0.0.1\n",
        ['line 3: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux) [coreos.fleet]'],
    ],
    [
        "a deprecated user key",
        H + "users:\n- name: core\n  coreos-ssh-import-github: someone\n",
        [
            'line 4: warning: deprecated key "coreos_ssh_import_github" (trying to fetch from a remote endpoint introduces too many intermittent errors) [users[0].coreos-ssh-import-github]',
        ],
    ],

    // checkStructure: types (YAML 1.1 typing: yes/off are booleans, 0744 an int)
    [
        "a quoted boolean",
        H + 'coreos:\n  units:\n  - name: a.service\n    enable: "true"\n',
        ['line 5: warning: incorrect type for "enable" (want bool) [coreos.units[0].enable]'],
    ],
    [
        "units as a map",
        H + "coreos:\n  units:\n    name: a.service\n",
        ['line 3: warning: incorrect type for "units" (want []struct) [coreos.units]'],
    ],
    [
        "a unit that is a string",
        H + "coreos:\n  units:\n  - a.service\n",
        ['line 4: warning: incorrect type for "units[0]" (want struct) [coreos.units[0]]'],
    ],
    ["a list where a string goes", H + "hostname:\n- a\n", ['line 2: warning: incorrect type for "hostname" (want string) [hostname]']],
    ["a key with no value", H + "hostname:\n", ['line 2: warning: incorrect type for "hostname" (want string) [hostname]']],
    [
        "a map among ssh keys",
        H + "ssh_authorized_keys:\n- key: x\n",
        ['line 3: warning: incorrect type for "ssh_authorized_keys[0]" (want string) [ssh_authorized_keys[0]]'],
    ],
    [
        "a float where an int goes",
        H + "coreos:\n  etcd2:\n    election_timeout: 1.5\n",
        [
            'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux) [coreos.etcd2]',
            'line 4: warning: incorrect type for "election_timeout" (want int) [coreos.etcd2.election_timeout]',
        ],
    ],

    // rules.go checkValidity: `valid:` tags
    [
        "an unknown unit command",
        H + "coreos:\n  units:\n  - name: a.service\n    command: lol\n",
        ["line 5: error: invalid value lol [coreos.units[0].command]"],
    ],
    [
        "a reboot strategy YAML 1.1 reads as a boolean",
        H + "coreos:\n  update:\n    reboot-strategy: false\n",
        ["line 4: error: invalid value false [coreos.update.reboot-strategy]"],
    ],
    [
        "an unknown reboot strategy",
        H + "coreos:\n  update:\n    reboot_strategy: always\n",
        ["line 4: error: invalid value always [coreos.update.reboot_strategy]"],
    ],
    [
        "permissions that are not octal",
        H + 'write_files:\n- path: /etc/a\n  permissions: "0644x"\n',
        ["line 4: error: invalid value 0644x [write_files[0].permissions]"],
    ],
    [
        "permissions with an 8",
        H + 'write_files:\n- path: /etc/a\n  permissions: "0844"\n',
        ["line 4: error: invalid value 0844 [write_files[0].permissions]"],
    ],
    [
        "an unknown encoding (both rules fire)",
        H + "write_files:\n- path: /etc/a\n  encoding: custom\n  content: hello\n",
        [
            "line 4: error: invalid value custom [write_files[0].encoding]",
            'line 5: error: content cannot be decoded as "custom" [write_files[0].content]',
        ],
    ],
    [
        "an etcd2 proxy mode",
        H + "coreos:\n  etcd2:\n    proxy: sometimes\n",
        [
            'line 3: warning: deprecated key "etcd2" (etcd2 is no longer shipped in Container Linux) [coreos.etcd2]',
            "line 4: error: invalid value sometimes [coreos.etcd2.proxy]",
        ],
    ],
    [
        "a locksmith window on no day",
        H + "coreos:\n  locksmith:\n    window_start: Thx 04:00\n",
        ["line 4: error: invalid value Thx 04:00 [coreos.locksmith.window_start]"],
    ],

    // rules.go checkEncoding
    [
        "content that is not base64",
        H + 'write_files:\n- path: /etc/a\n  encoding: base64\n  content: "hello!"\n',
        ['line 5: error: content cannot be decoded as "base64" [write_files[0].content]'],
    ],
    [
        "!!binary content that is not base64 once decoded",
        H + "write_files:\n  - encoding: base64\n    content: !!binary aGVsbG8K\n",
        ['line 4: error: content cannot be decoded as "base64" [write_files[0].content]'],
    ],
    [
        "content that is not gzip",
        H + "write_files:\n- path: /etc/a\n  encoding: gzip+base64\n  content: aGVsbG8K\n",
        ['line 5: error: content cannot be decoded as "gzip+base64" [write_files[0].content]'],
    ],

    // rules.go checkWriteFiles
    [
        "a file under /usr",
        H + "write_files:\n- path: /usr/bin/tool\n",
        ["line 3: error: file cannot be written to a read-only filesystem [write_files[0].path]"],
    ],
    [
        "a file that climbs into /usr, hyphenated key",
        H + "write-files:\n  - path: /tmp/../usr/invalid\n",
        ["line 3: error: file cannot be written to a read-only filesystem [write-files[0].path]"],
    ],

    // rules.go checkWriteFilesUnderCoreos (and checkStructure, which does not know the key there)
    [
        "write_files under coreos",
        H + "coreos:\n  write_files:\n  - path: /etc/a\n",
        [
            'line 3: warning: unrecognized key "write_files" [coreos.write_files]',
            "line 3: info: write_files doesn't belong under coreos [coreos.write_files]",
        ],
    ],

    // rules.go checkDiscoveryUrl
    [
        "an etcd discovery URL that is not a URL",
        H + "coreos:\n  etcd:\n    discovery: disco\n",
        [
            'line 3: warning: deprecated key "etcd" (etcd is no longer shipped in Container Linux) [coreos.etcd]',
            "line 4: warning: discovery URL is not valid [coreos.etcd.discovery]",
        ],
    ],

    // rules.go checkStructure looks keys up in Go structs: a key is known only when the struct has that
    // field, however the key is spelt (here: names every JavaScript object inherits)
    [
        "keys spelt like built-in object properties, at the top, under coreos and in a unit",
        H +
            "constructor: 1\ntoString:\n  a: 1\n__proto__: x\ncoreos:\n  hasOwnProperty: 1\n  units:\n  - name: a.service\n    valueOf: x\n",
        [
            'line 2: warning: unrecognized key "constructor" [constructor]',
            'line 3: warning: unrecognized key "toString" [toString]',
            'line 5: warning: unrecognized key "__proto__" [__proto__]',
            'line 7: warning: unrecognized key "hasOwnProperty" [coreos.hasOwnProperty]',
            'line 10: warning: unrecognized key "valueOf" [coreos.units[0].valueOf]',
        ],
    ],

    // rules.go isCompatible: an int fills a float64 field; a bool or text does not
    [
        "a float field given an integer (fine) and a boolean (not)",
        H + "coreos:\n  fleet:\n    engine_reconcile_interval: 2\n    etcd_request_timeout: yes\n",
        [
            'line 3: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux) [coreos.fleet]',
            'line 5: warning: incorrect type for "etcd_request_timeout" (want float64) [coreos.fleet.etcd_request_timeout]',
        ],
    ],

    // this project's rule: a mode must be quoted text
    [
        "unquoted permissions",
        H + "write_files:\n- path: /etc/a\n  permissions: 0644\n",
        [
            "line 4: warning: permissions 0644 is not a quoted string (this project's rule): YAML 1.2 readers take 0644 as a number, not octal text [write_files[0].permissions]",
        ],
    ],
];

// Documents coreos-cloudinit accepts without a word (from its own tests and ours).
const CLEAN: [string, string][] = [
    ["only the header", H],
    ["the header with trailing spaces", "#cloud-config  \r\nhostname: a\r\n"],
    ["a hyphenated reboot-strategy off (a YAML 1.1 boolean, still the text off)", H + "coreos:\n  update:\n    reboot-strategy: off\n"],
    ["numbers and booleans where strings go", H + "hostname: 4\nmanage_etc_hosts: localhost\n"],
    [
        "every unit command",
        H +
            "coreos:\n  units:\n" +
            ["start", "stop", "restart", "reload", "try-restart", "reload-or-restart", "reload-or-try-restart"]
                .map((c) => `  - name: a.service\n    command: ${c}\n`)
                .join(""),
    ],
    [
        "quoted permissions of 3 and 4 digits",
        H + "write_files:\n- path: /etc/a\n  permissions: \"0744\"\n- path: /etc/b\n  permissions: '744'\n",
    ],
    [
        "base64 and gzip content",
        H +
            `write_files:\n- path: /etc/a\n  encoding: b64\n  content: aGVsbG8K\n- path: /etc/b\n  encoding: gz+b64\n  content: ${gzipSync("hello\n").toString("base64")}\n`,
    ],
    ["a file under /tmp/usr", H + "write_files:\n- path: /tmp/usr/valid\n"],
    [
        "users with groups and keys",
        H + "users:\n- name: ops\n  groups: [sudo, docker]\n  ssh-authorized-keys: [ssh-ed25519 AAAA ops]\n  no-create-home: true\n",
    ],
    ["a locksmith window", H + "coreos:\n  locksmith:\n    window_start: thu 04:00\n    window_length: 1h30m\n"],
    [
        "an anchor and a merge key",
        H + "coreos:\n  units:\n  - &base {name: a.service, command: start}\n  - <<: *base\n    name: b.service\n",
    ],
    [
        "drop-ins",
        H + "coreos:\n  units:\n  - name: docker.service\n    drop_ins:\n    - name: 10-opts.conf\n      content: |\n        [Service]\n",
    ],
];

describe("validateCloudConfig (coreos-cloudinit -validate, ported)", () => {
    describe("finds", () => {
        for (const [what, doc, expected] of CASES) {
            it(what, () => {
                assert.deepEqual(findingLines(doc), expected);
            });
        }
    });

    describe("accepts", () => {
        for (const [what, doc] of CLEAN) {
            it(what, () => {
                assert.deepEqual(findingLines(doc), []);
            });
        }
    });

    it("reports every finding of a document, ordered by line", () => {
        const doc =
            H +
            'hostname: a\nbogus: 1\ncoreos:\n  units:\n  - name: a.service\n    command: go\n    enable: yes please\nwrite_files:\n- path: /usr/x\n  permissions: "9"\n';
        assert.deepEqual(findingLines(doc), [
            'line 3: warning: unrecognized key "bogus" [bogus]',
            "line 7: error: invalid value go [coreos.units[0].command]",
            'line 8: warning: incorrect type for "enable" (want bool) [coreos.units[0].enable]',
            "line 10: error: file cannot be written to a read-only filesystem [write_files[0].path]",
            "line 11: error: invalid value 9 [write_files[0].permissions]",
        ]);
    });

    it("turns each finding into a Problem: where user-data, field `line N: path`, the level in the message, a fix", () => {
        const problems = validateCloudConfig(H + "coreos:\n  units:\n  - name: a.service\n    command: lol\n");
        assert.deepEqual(problems, [
            {
                code: "CLOUDINIT_INVALID_VALUE",
                where: "user-data",
                field: "line 5: coreos.units[0].command",
                message: "error: invalid value lol",
                fix: "set command to one of: start, stop, restart, reload, try-restart, reload-or-restart, reload-or-try-restart (coreos-cloudinit checks ^(start|stop|restart|reload|try-restart|reload-or-restart|reload-or-try-restart)$)",
            },
        ]);
        const unknown = validateCloudConfig(H + "coreos:\n  unit:\n  - name: a\n")[0]!;
        assert.equal(unknown.code, "CLOUDINIT_UNKNOWN_KEY");
        assert.equal(unknown.message, 'warning: unrecognized key "unit"');
        assert.match(unknown.fix, /remove unit or correct its spelling; coreos-cloudinit knows: .*units/);
    });

    describe("the rendered user-data", () => {
        const files = { artifactFileExists: () => true, imageFileExists: () => true };
        const artifact = { bucket: "x".repeat(63), key: `artifacts/${"0".repeat(64)}.tar.gz`, sha256: "0".repeat(64), region: "eu-west-1" };

        it("the default host's user-data has no findings at all", () => {
            const { userData } = renderHost(
                buildHost({
                    containers: seedContainers,
                    artifact,
                    sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBase64Key ops@example"],
                    scripts: HOST_SCRIPTS,
                    dataVolume: { volumeId: FIXTURE_VOLUME_ID },
                }),
                files,
            );
            assert.ok(isCloudConfig(userData));
            assert.deepEqual(validateCloudConfig(userData), []);
        });

        it("the dev stack's user-data (its image and env overrides) has no findings", () => {
            const containers = applyOverrides(seedContainers, {
                fluentd: { image: { kind: "registry", ref: "fluent/fluentd-kubernetes-daemonset:v1.17-debian-elasticsearch8-1" } },
                nginx: { image: { kind: "registry", ref: "nginx:1.27.2-alpine" } },
                elastic: { env: { ES_JAVA_OPTS: "-Xms512m -Xmx512m" } },
            });
            const { userData } = renderHost(
                buildHost({
                    containers,
                    artifact,
                    sshAuthorizedKeys: [],
                    scripts: HOST_SCRIPTS,
                    dataVolume: { volumeId: FIXTURE_VOLUME_ID },
                }),
                files,
            );
            assert.deepEqual(validateCloudConfig(userData), []);
        });
    });

    describe("building blocks", () => {
        it("types plain scalars the way go-yaml v1 (YAML 1.1) does", () => {
            const table: [string, string][] = [
                ["yes", "bool"],
                ["Off", "bool"],
                ["y", "bool"],
                ["TRUE", "bool"],
                ["~", "null"],
                ["null", "null"],
                ["", "null"],
                ["0744", "int"],
                ["0x1F", "int"],
                ["-12", "int"],
                ["1_000", "int"],
                ["0b101", "int"],
                ["1.5", "float64"],
                ["1e3", "float64"],
                [".inf", "float64"],
                ["-.INF", "float64"],
                ["0800", "float64"],
                ["start", "string"],
                ["1.2.3", "string"],
                ["12:30", "string"],
                ["2001-12-14", "string"],
                ["nginx:1.27", "string"],
            ];
            for (const [text, kind] of table) assert.equal(resolvePlainScalar(text), kind, text);
        });

        it("decodes content as config.DecodeContent does", () => {
            assert.equal(decodesAs("anything", ""), true);
            assert.equal(decodesAs("aGVsbG8K", "base64"), true);
            assert.equal(decodesAs("aGVsbG8K\n", "b64"), true);
            assert.equal(decodesAs("aGVsbG8", "base64"), false);
            assert.equal(decodesAs(gzipSync("x").toString("latin1"), "gzip"), true);
            assert.equal(decodesAs("plain", "gz"), false);
            assert.equal(decodesAs("aGVsbG8K", "rot13"), false);
        });
    });
});
