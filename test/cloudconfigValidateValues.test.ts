// coreos-cloudinit's value rules, edge by edge: content encodings, the /usr rule on cleaned paths, `valid:` tags and
// null values, unquoted modes, which characters the YAML reader accepts, and how findings are ordered and worded.
import { strict as assert } from "node:assert";
import { gzipSync } from "node:zlib";
import { cloudConfigFindings, decodesAs } from "../formats/cloudconfig/validate";
import { findingLines } from "./helpers/cloudinit";

const H = "#cloud-config\n";
const KNOWS_TOP = "ssh_authorized_keys, coreos, write_files, hostname, users, manage_etc_hosts";
const LINE_BREAK = (cp: string) => `${cp} is a line break to coreos-cloudinit's YAML 1.1 parser but text to YAML 1.2 (this project's rule)`;

/** One write_files entry at /etc/x with the given extra lines (already indented). */
const file = (...lines: string[]) => H + "write_files:\n- path: /etc/x\n" + lines.map((l) => `  ${l}\n`).join("");

describe("cloud-config validation: values (coreos-cloudinit rules, edge cases)", () => {
    describe("content encodings (config.DecodeContent)", () => {
        let gzipLatin1: string;
        let gzipBase64: string;
        before(() => {
            gzipLatin1 = gzipSync("x").toString("latin1");
            gzipBase64 = gzipSync("x").toString("base64");
        });

        it("no encoding takes any content as it is, even text that is not base64", () => {
            assert.equal(decodesAs("not base64!", ""), true);
        });

        it("every gzip spelling accepts gzip, and every gzip+base64 spelling accepts base64 of gzip", () => {
            for (const enc of ["gz", "gzip"]) assert.equal(decodesAs(gzipLatin1, enc), true, enc);
            for (const enc of ["gz+base64", "gzip+base64", "gz+b64", "gzip+b64"]) {
                assert.equal(decodesAs(gzipBase64, enc), true, enc);
                assert.equal(decodesAs(Buffer.from("plain text, not gzip").toString("base64"), enc), false, enc);
            }
        });

        it("base64 accepts both padded endings (one and two `=`)", () => {
            assert.equal(decodesAs("aA==", "base64"), true); // "h"
            assert.equal(decodesAs("aGk=", "base64"), true); // "hi"
            assert.equal(decodesAs("aGVsbG8hIQ==", "b64"), true); // "hello!!"
            assert.equal(decodesAs("a===", "base64"), false);
            assert.equal(decodesAs("=A==", "base64"), false);
        });

        it("gzip needs the whole ten-byte header: magic 1f 8b and method 8", () => {
            const header = (...bytes: number[]) => Buffer.from(bytes).toString("latin1");
            const rest = [0, 0, 0, 0, 0, 0, 0];
            assert.equal(decodesAs(header(0x1f, 0x8b, 8, ...rest), "gz"), true, "exactly ten bytes");
            assert.equal(decodesAs(header(0x1f, 0x8b, 8, ...rest.slice(1)), "gz"), false, "nine bytes");
            assert.equal(decodesAs(header(0x00, 0x8b, 8, ...rest), "gz"), false, "first magic byte wrong");
            assert.equal(decodesAs(header(0x1f, 0x00, 8, ...rest), "gz"), false, "second magic byte wrong");
            assert.equal(decodesAs(header(0x1f, 0x8b, 7, ...rest), "gz"), false, "method not deflate");
            assert.equal(decodesAs(header(0x00, 0x00, 8, ...rest), "gz"), false, "only the method right");
        });

        it("a file without content decodes as empty: fine for base64, reported on the entry for an unknown encoding", () => {
            assert.deepEqual(findingLines(file("encoding: base64")), []);
            assert.deepEqual(findingLines(file("encoding: rot13")), [
                'line 3: error: content cannot be decoded as "rot13" [write_files[0].content]',
                "line 4: error: invalid value rot13 [write_files[0].encoding]",
            ]);
        });

        it("the encoding finding's fix lists every encoding coreos-cloudinit knows", () => {
            const f = cloudConfigFindings(file("encoding: rot13", "content: hi")).find((x) => x.code === "CLOUDINIT_ENCODING")!;
            assert.equal(
                f.fix,
                "encode the content as rot13 says, or set encoding to one of: base64, b64, gz, gzip, gz+base64, gzip+base64, gz+b64, gzip+b64",
            );
        });

        it("a null encoding is only a type warning, not a decoding error", () => {
            assert.deepEqual(findingLines(file("encoding: ~", "content: hi")), [
                'line 4: warning: incorrect type for "encoding" (want string) [write_files[0].encoding]',
            ]);
        });
    });

    describe("keys and valid values", () => {
        it("an unknown key's fix names every key known at that level, comma-separated", () => {
            const f = cloudConfigFindings(file("mode: 1"))[0]!;
            assert.equal(f.code, "CLOUDINIT_UNKNOWN_KEY");
            assert.equal(f.fix, "remove mode or correct its spelling; coreos-cloudinit knows: encoding, content, owner, path, permissions");
        });

        it("an empty value passes a `valid:` tag (rules.go skips empty strings)", () => {
            assert.deepEqual(findingLines(file('permissions: ""')), []);
        });

        it("a null value is neither checked against `valid:` nor called unquoted: only its type is wrong", () => {
            assert.deepEqual(findingLines(file("permissions: ~")), [
                'line 4: warning: incorrect type for "permissions" (want string) [write_files[0].permissions]',
            ]);
        });

        it("a list or a map as permissions, even an empty one, is a type warning, not an unquoted mode", () => {
            for (const value of ["[1]", "[]", "{}", "{ a: 1 }"]) {
                assert.deepEqual(
                    findingLines(file(`permissions: ${value}`)),
                    ['line 4: warning: incorrect type for "permissions" (want string) [write_files[0].permissions]'],
                    value,
                );
            }
        });

        it("an unquoted mode's fix quotes an octal mode padded to four digits, and suggests 0644 for anything else", () => {
            const fixes = (mode: string) =>
                cloudConfigFindings(file(`permissions: ${mode}`))
                    .filter((f) => f.code === "CLOUDINIT_PERMISSIONS_UNQUOTED")
                    .map((f) => f.fix);
            assert.deepEqual(fixes("755"), ['quote it, e.g. permissions: "0755"']);
            assert.deepEqual(fixes("0750"), ['quote it, e.g. permissions: "0750"']);
            assert.deepEqual(fixes("87"), ['quote it, e.g. permissions: "0644"']);
            assert.deepEqual(fixes("78"), ['quote it, e.g. permissions: "0644"']);
            assert.deepEqual(fixes("1.5"), ['quote it, e.g. permissions: "0644"']);
        });

        it("an empty write_files under coreos is only an unknown key there, not misplaced files", () => {
            assert.deepEqual(findingLines(H + "coreos:\n  write_files:\n"), [
                'line 3: warning: unrecognized key "write_files" [coreos.write_files]',
            ]);
        });
    });

    describe("read-only /usr: the file's directory, cleaned as Go's path.Dir does", () => {
        const refused = (path: string) =>
            cloudConfigFindings(H + `write_files:\n- path: ${path}\n`).some((f) => f.code === "CLOUDINIT_READ_ONLY_PATH");

        it("a file named /usr lives in / and is accepted", () => {
            assert.equal(refused("/usr"), false);
        });

        it("`.` segments are dropped before the check: /./usr/x is under /usr", () => {
            assert.equal(refused("/./usr/x"), true);
            assert.equal(refused("/etc/../usr/x"), true);
        });

        it("segments keep their slashes: /us/r/x is not under /usr", () => {
            assert.equal(refused("/us/r/x"), false);
        });

        it("a relative path that climbs stays relative, so it is not under /usr", () => {
            assert.equal(refused("a/../../usr/x"), false);
            assert.equal(refused("usr/x"), false);
        });
    });

    describe("characters the YAML reader accepts (libyaml's printable set)", () => {
        const charFindings = (ch: string) => findingLines(H + `hostname: "a${ch}"\n`);
        const control = (cp: string) => [`line 2: error: control characters are not allowed (${cp}) [(document)]`];

        it("accepts the printable ranges up to their edges", () => {
            for (const ch of ["\u00a0", "\ud7ff", "\ue000", "\ufffd", "\u{10000}", "\u{10ffff}"]) {
                assert.deepEqual(charFindings(ch), [], `U+${ch.codePointAt(0)!.toString(16)}`);
            }
        });

        it("refuses the non-characters between the ranges", () => {
            assert.deepEqual(charFindings("\ufffe"), control("U+FFFE"));
            assert.deepEqual(charFindings("\u009f"), control("U+009F"));
        });

        it("U+0085 and U+2029 are line breaks to YAML 1.1: refused as such, the rest still checked", () => {
            assert.deepEqual(findingLines(H + "a: \u0085\nb: \u2029\n"), [
                `line 2: error: ${LINE_BREAK("U+0085")} [(document)]`,
                'line 2: warning: unrecognized key "a" [a]',
                `line 3: error: ${LINE_BREAK("U+2029")} [(document)]`,
                'line 3: warning: unrecognized key "b" [b]',
            ]);
        });

        it("a control character stops validation: nothing else is reported", () => {
            assert.deepEqual(findingLines(H + "x: \u0001\nbogus: 1\n"), control("U+0001"));
        });

        it("a line-break character does not stop validation", () => {
            const f = cloudConfigFindings(H + "bogus: \u2028\n");
            assert.deepEqual(
                f.map((x) => x.code),
                ["CLOUDINIT_LINE_BREAK_CHARACTER", "CLOUDINIT_UNKNOWN_KEY"],
            );
            assert.equal(f[1]!.fix, `remove bogus or correct its spelling; coreos-cloudinit knows: ${KNOWS_TOP}`);
        });
    });

    describe("syntax errors and the order of findings", () => {
        it("a syntax error's message drops the position, even past line 9 and column 9", () => {
            assert.deepEqual(findingLines(H + "\n".repeat(11) + "hostname: abcdefghij: x\n"), [
                "line 13: error: Nested mappings are not allowed in compact mappings [(syntax)]",
            ]);
        });

        it("an error at the end of a document without a final newline stays on its last line", () => {
            const f = cloudConfigFindings(H + "a: b\nc: [1, 2");
            assert.deepEqual(
                f.map((x) => [x.code, x.line]),
                [["CLOUDINIT_YAML_SYNTAX", 3]],
            );
        });

        it("findings are ordered by line when a syntax error comes before a line-break character", () => {
            assert.deepEqual(findingLines(H + "a: b: c\nx: \u2028\n"), [
                "line 2: error: Nested mappings are not allowed in compact mappings [(syntax)]",
                `line 3: error: ${LINE_BREAK("U+2028")} [(document)]`,
            ]);
        });

        it("an empty document: a YAML warning and a later line-break character, ordered by line", () => {
            assert.deepEqual(findingLines(H + "%FOO\n---\n# \u2028\n"), [
                "line 2: warning: Unknown directive %FOO [(syntax)]",
                `line 4: error: ${LINE_BREAK("U+2028")} [(document)]`,
            ]);
        });

        it("a list document: not a map, reported before a later line-break character", () => {
            assert.deepEqual(findingLines(H + "- a\n- \u2028\n"), [
                "line 2: error: the document is a list, not a map of keys (this project's rule) [(document)]",
                `line 3: error: ${LINE_BREAK("U+2028")} [(document)]`,
            ]);
        });

        it("a scalar document is called a scalar", () => {
            assert.deepEqual(findingLines(H + "hello\n"), [
                "line 2: error: the document is a scalar, not a map of keys (this project's rule) [(document)]",
            ]);
        });
    });
});
