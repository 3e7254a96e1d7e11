// coreos-cloudinit's `-validate` rules (formats/cloudconfig/validate.ts), one rule per test: how plain and tagged
// scalars are typed, how anchors, aliases and merge keys are read, which values fit which field, and which
// discovery URLs Go's url.ParseRequestURI accepts. Each expectation is the exact finding `-validate` prints.
import { strict as assert } from "node:assert";
import { resolvePlainScalar } from "../formats/cloudconfig/validate";
import { findingLines } from "./helpers/cloudinit";

const H = "#cloud-config\n";

const FLEET_GONE = 'line 3: warning: deprecated key "fleet" (fleet is no longer shipped in Container Linux) [coreos.fleet]';

describe("cloud-config validation rules (coreos-cloudinit -validate)", () => {
    describe("plain scalars are typed as go-yaml v1 types them", () => {
        // go-yaml v1 resolve(): only a scalar starting with a sign, a digit or a dot is tried as a number, and
        // Go's strconv.ParseFloat takes "nan" and "inf" only unsigned-or-signed as words, never after a digit.
        const table: [string, string][] = [
            ["inf", "string"],
            ["Infinity", "string"],
            ["nan", "string"],
            ["+nan", "string"],
            ["-nan", "string"],
            ["+inf", "float64"],
            ["10b1", "string"],
            ["0b12", "string"],
            ["0b2", "string"],
            ["-0b101", "int"],
            [".5", "float64"],
            [".5e3", "float64"],
            [".x", "string"],
            [".xnan", "string"],
            [".nAn", "string"],
        ];
        for (const [text, kind] of table) {
            it(`${JSON.stringify(text)} is a ${kind}`, () => {
                assert.equal(resolvePlainScalar(text), kind);
            });
        }
    });

    describe("an explicit YAML tag decides the type, whatever the scalar looks like", () => {
        it("!!str makes a number a string, which a float64 field refuses", () => {
            assert.deepEqual(findingLines(H + "coreos:\n  fleet:\n    engine_reconcile_interval: !!str 2\n"), [
                FLEET_GONE,
                'line 4: warning: incorrect type for "engine_reconcile_interval" (want float64) [coreos.fleet.engine_reconcile_interval]',
            ]);
        });

        it("!!binary is a string even when its bytes spell a number", () => {
            // MTIz is base64 for "123".
            assert.deepEqual(findingLines(H + "coreos:\n  fleet:\n    engine_reconcile_interval: !!binary MTIz\n"), [
                FLEET_GONE,
                'line 4: warning: incorrect type for "engine_reconcile_interval" (want float64) [coreos.fleet.engine_reconcile_interval]',
            ]);
        });

        it("!!int makes a quoted number an int, which an int field accepts", () => {
            assert.deepEqual(findingLines(H + 'coreos:\n  fleet:\n    token_limit: !!int "5"\n'), [FLEET_GONE]);
        });

        it("!!float makes a quoted number a float64, which a float64 field accepts", () => {
            assert.deepEqual(findingLines(H + 'coreos:\n  fleet:\n    engine_reconcile_interval: !!float "2.5"\n'), [FLEET_GONE]);
        });

        it("!!bool makes a quoted word a bool, which a bool field accepts", () => {
            assert.deepEqual(findingLines(H + 'coreos:\n  units:\n  - name: a.service\n    enable: !!bool "true"\n'), []);
        });

        it("!!null makes a quoted empty string null, which a string field refuses", () => {
            assert.deepEqual(findingLines(H + 'hostname: !!null ""\n'), [
                'line 2: warning: incorrect type for "hostname" (want string) [hostname]',
            ]);
        });
    });

    describe("which values fit which field (rules.go isCompatible)", () => {
        it("a string field takes a float, and a float64 field takes a float", () => {
            assert.deepEqual(findingLines(H + "hostname: 1.5\ncoreos:\n  fleet:\n    engine_reconcile_interval: 2.5\n"), [
                FLEET_GONE.replace("line 3", "line 4"),
            ]);
        });
    });

    describe("anchors, aliases and merge keys", () => {
        it("an aliased value is checked like the anchored one, and reported on the alias's line", () => {
            assert.deepEqual(findingLines(H + "hostname: &h a\ncoreos:\n  units:\n  - *h\n"), [
                'line 5: warning: incorrect type for "units[0]" (want struct) [coreos.units[0]]',
            ]);
        });

        it("a merge key brings in the anchored map's entries; the map's own keys override them", () => {
            const doc =
                H +
                "coreos:\n  units:\n  - &base {name: a.service, command: bogus, enable: maybe}\n  - <<: *base\n    name: b.service\n    command: start\n";
            assert.deepEqual(findingLines(doc), [
                'line 4: warning: incorrect type for "enable" (want bool) [coreos.units[0].enable]',
                'line 4: warning: incorrect type for "enable" (want bool) [coreos.units[1].enable]',
                "line 4: error: invalid value bogus [coreos.units[0].command]",
            ]);
        });

        it("a merge key is only the plain `<<`: a quoted one is an ordinary (unknown) key", () => {
            assert.deepEqual(findingLines(H + '"<<": {hostname: a}\n'), ['line 2: warning: unrecognized key "<<" [<<]']);
        });

        it("a key that is not a scalar is reported as an unknown [complex key]", () => {
            assert.deepEqual(findingLines(H + "? [a, b]\n: 1\n"), ['line 2: warning: unrecognized key "[complex key]" [[complex key]]']);
        });

        it("nothing nested deeper than 64 levels (merge chains included) is read, so an alias bomb cannot run away", () => {
            // units[k] merges units[k-1]'s map, down to units[0]'s: that map sits k merges below
            // document → coreos → units → units[k] (depth 3 + k), its command one level further (depth 4 + k).
            // Past depth 64 a node reads as empty: a command there is null, a map there has no keys.
            const count = 70;
            const items = ["  - &m0 {command: bogus}", ...Array.from({ length: count - 1 }, (_, k) => `  - &m${k + 1} {<<: *m${k}}`)];
            const doc = H + "coreos:\n  units:\n" + items.join("\n") + "\n";
            const ks = Array.from({ length: count }, (_, k) => k);
            const emptied = ks.filter((k) => 3 + k <= 64 && 4 + k > 64);
            const checked = ks.filter((k) => 4 + k <= 64);
            assert.deepEqual([emptied, checked.length], [[61], 61]);
            assert.deepEqual(findingLines(doc), [
                ...emptied.map((k) => `line 4: warning: incorrect type for "command" (want string) [coreos.units[${k}].command]`),
                ...checked.map((k) => `line 4: error: invalid value bogus [coreos.units[${k}].command]`),
            ]);
        });
    });

    describe("write_files content of the wrong shape is refused by type, not also by encoding", () => {
        // Go checks the encoding of the content's string form; a map, a list or a missing value has none to decode.
        for (const [what, item] of [
            ["a map", "- path: /etc/x\n  encoding: base64\n  content: {a: 1}\n"],
            ["a list", "- path: /etc/x\n  encoding: base64\n  content: [a]\n"],
        ] as const) {
            it(`content that is ${what}`, () => {
                assert.deepEqual(findingLines(H + "write_files:\n" + item), [
                    'line 5: warning: incorrect type for "content" (want string) [write_files[0].content]',
                ]);
            });
        }

        it("content that is a key without a value", () => {
            assert.deepEqual(findingLines(H + "write_files:\n- {path: /etc/x, encoding: base64, content}\n"), [
                'line 3: warning: incorrect type for "content" (want string) [write_files[0].content]',
            ]);
        });
    });

    describe("coreos.etcd.discovery must be a request URI (Go's url.ParseRequestURI)", () => {
        const discovery = (url: string) => findingLines(H + `coreos:\n  etcd:\n    discovery: ${url}\n`, "CLOUDINIT_DISCOVERY_URL");
        const refused = ["line 4: warning: discovery URL is not valid [coreos.etcd.discovery]"];

        const accepted = [
            "https://discovery.etcd.io/0123abcd",
            "http://etcd.example/",
            "http://etcd.example:2379/v2/keys",
            "http://ops@etcd.example:2379/",
            "http://[::1]:2379/",
            "/v2/keys",
            // an opaque URI: no `//`, so no host to check
            "urn:ab^c",
            "~",
        ];
        for (const url of accepted) {
            it(`accepts ${url}${url === "~" ? " (null: no discovery URL)" : ""}`, () => {
                assert.deepEqual(discovery(url), []);
            });
        }

        const bad = ['""', '"/with space"', "1http://etcd.example/", "http://a^b/", "http://a^b:2379/"];
        for (const url of bad) {
            it(`refuses ${url}`, () => {
                assert.deepEqual(discovery(url), refused);
            });
        }
    });
});
