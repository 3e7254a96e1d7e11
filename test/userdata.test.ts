// The user-data formats behind one interface: deterministic gzip for cloud-config, the Ignition
// config and stub, and reading either back by its bytes. Pure; the real tools' side is in
// test/ignition.test.ts (Ignition) and test/cloudinit.test.ts (coreos-cloudinit's rules).
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import { gunzipSync } from "node:zlib";
import { USER_DATA_LIMIT, formatFor, readUserData } from "../formats";
import { GZIP_HEADER, decompressIfGzip, deterministicGzip } from "../formats/gzip";
import { compressedSizeProblems } from "../formats/cloudconfig/render";
import { userDataSizeProblems } from "../formats/size";
import { IgnitionConfig, IgnitionStub, canonicalJson, dataUrl, dataUrlText } from "../formats/ignition";
import { HostContent, renderHostContent } from "../units/render";
import { ALL_FILES_EXIST, fixtureHost, seedContainers } from "./helpers/fixtures";

const target = { bucket: "coreos-containers-abc123", region: "eu-west-1" };
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIUserDataTestKey ops@example";
const contentOf = (containers = seedContainers, keys: string[] = [KEY]): HostContent =>
    renderHostContent(fixtureHost(containers, { sshAuthorizedKeys: keys }), ALL_FILES_EXIST);
const sha = (algo: string, data: Buffer | string) => crypto.createHash(algo).update(data).digest("hex");

describe("user-data formats", () => {
    describe("gzip (cloud-config that does not fit)", () => {
        it("writes the header 1f8b 08 00 00000000 02 03: deflate, no name or comment, mtime 0, level 9, OS Unix", () => {
            const out = deterministicGzip(Buffer.from("#cloud-config\nhostname: a\n"));
            assert.equal(out.subarray(0, 10).toString("hex"), "1f8b0800000000000203");
            assert.deepEqual(out.subarray(0, 10), GZIP_HEADER);
        });

        it("gives the same bytes for the same document, and gunzips to it", () => {
            const doc = Buffer.from("#cloud-config\n" + "write_files: []\n".repeat(100));
            assert.deepEqual(deterministicGzip(doc), deterministicGzip(Buffer.from(doc)));
            assert.deepEqual(gunzipSync(deterministicGzip(doc)), doc);
        });

        it("compresses this fixed document to exactly the recorded bytes (a Node.js whose zlib writes otherwise fails here, before it replaces a host)", () => {
            const doc = Buffer.from(Array.from({ length: 200 }, (_, i) => `line ${i}: ${"abc".repeat(i % 7)}\n`).join(""));
            assert.equal(
                sha("sha256", deterministicGzip(doc)),
                GOLDEN_GZIP_SHA256,
                `Node ${process.versions.node}, zlib ${process.versions.zlib}`,
            );
        });

        it("leaves bytes that are not gzip as they are, as coreos-cloudinit's decompressIfGzip does", () => {
            const plain = Buffer.from("#cloud-config\n");
            assert.equal(decompressIfGzip(plain), plain);
        });
    });

    describe("cloud-config", () => {
        const cc = formatFor("cloud-config");

        it("validates a gzip user-data as coreos-cloudinit sees it: gunzipped first", () => {
            const bad = deterministicGzip(Buffer.from("#cloud-config\ncoreos:\n  unit: []\n"));
            assert.deepEqual(
                cc.validate(bad).map((p) => [p.code, p.field]),
                [["CLOUDINIT_UNKNOWN_KEY", "line 3: coreos.unit"]],
            );
            assert.deepEqual(cc.validate(deterministicGzip(Buffer.from("#cloud-config\nhostname: a\n"))), []);
        });

        // EC2 takes up to 16384 bytes, counted as bytes (AWS EC2 User Guide: "limited to 16 KB, in raw
        // form"). A host whose one unit is padded so the document is exactly `bytes` long:
        const padded = (pad: string): HostContent => ({
            units: [{ name: "pad.service", content: `[Unit]\nDescription=${pad}\n` }],
            files: [],
            sshAuthorizedKeys: [],
        });
        const documentOf = (content: HostContent) => decompressIfGzip(cc.render(content, target).bytes);
        const exactly = (bytes: number, last = "x"): HostContent => {
            const base = documentOf(padded("x")).length;
            const content = padded("x".repeat(bytes - base + 1 - Buffer.byteLength(last)) + last);
            assert.equal(documentOf(content).length, bytes, "precondition: the document has the size under test");
            return content;
        };

        it("sends a document of exactly EC2's limit as it is, and one byte more gzip'd", () => {
            const atLimit = cc.render(exactly(USER_DATA_LIMIT), target);
            assert.equal(atLimit.encoding, "text");
            assert.equal(atLimit.bytes.length, USER_DATA_LIMIT);
            assert.equal(cc.render(exactly(USER_DATA_LIMIT + 1), target).encoding, "base64");
        });

        it("counts the document in bytes, not characters: one two-byte character past the limit goes gzip'd", () => {
            const content = exactly(USER_DATA_LIMIT + 1, "é");
            assert.equal(documentOf(content).toString("utf8").length, USER_DATA_LIMIT, "precondition: the limit in characters");
            assert.equal(cc.render(content, target).encoding, "base64");
        });

        it("accepts a gzip of exactly EC2's limit, and refuses one a byte longer, saying by how much", () => {
            const document = Buffer.alloc(3 * USER_DATA_LIMIT, "#");
            assert.deepEqual(compressedSizeProblems(document, Buffer.alloc(USER_DATA_LIMIT)), []);
            const over = compressedSizeProblems(document, Buffer.alloc(USER_DATA_LIMIT + 1));
            assert.deepEqual(
                over.map((p) => p.code),
                ["USER_DATA_TOO_LARGE_COMPRESSED"],
            );
            assert.match(over[0]!.message, /\(by 1\)/);
        });

        it("accepts any user-data of exactly EC2's limit in bytes, and refuses one a byte longer, saying by how much", () => {
            assert.deepEqual(userDataSizeProblems(Buffer.alloc(USER_DATA_LIMIT, "#"), "send less"), []);
            const over = userDataSizeProblems(Buffer.alloc(USER_DATA_LIMIT + 1, "#"), "send less");
            assert.deepEqual(
                over.map((p) => [p.code, p.fix]),
                [["USER_DATA_TOO_LARGE", "send less"]],
            );
            assert.match(over[0]!.message, /\(by 1\)/);
            const twoByteChars = Buffer.from("é".repeat(USER_DATA_LIMIT / 2) + "#");
            assert.equal(twoByteChars.length, USER_DATA_LIMIT + 1);
            assert.equal(userDataSizeProblems(twoByteChars, "send less").length, 1, "bytes are counted, not characters");
        });

        it("a host of 40 realistic containers goes gzip'd, fits, and its document passes every check", async () => {
            const { realisticContainers } = await import("../scripts/capacity/host");
            const r = cc.render(contentOf(realisticContainers(40), []), { bucket: "x".repeat(63), region: "eu-west-1" });
            assert.equal(r.encoding, "base64");
            assert.ok(r.bytes.length <= USER_DATA_LIMIT, `${r.bytes.length} bytes`);
            assert.deepEqual(cc.validate(r.bytes), []);
            const view = cc.read(r.bytes);
            assert.equal(view.delivery.kind, "gzip");
            // Every unit the project adds to a host, read back.
            const containers = realisticContainers(40);
            // Two units per container (its own and its image unit), the one-shots, the host target.
            assert.equal(view.units.length, 2 * containers.length + fixtureHost(containers).oneshots.length + 1);
        });
    });

    describe("Ignition", () => {
        const ign = formatFor("ignition");
        // Rendered in a hook, not while mocha loads the file: what runs at load time counts as "static"
        // for mutation testing, which then needs a fresh test process per mutant.
        let content: HostContent;
        let r: ReturnType<typeof ign.render>;
        let upload: (typeof r.uploads)[number];
        let full: IgnitionConfig;
        let stub: IgnitionStub;
        before(() => {
            content = contentOf();
            r = ign.render(content, target);
            upload = r.uploads[0]!;
            full = JSON.parse(upload.content) as IgnitionConfig;
            stub = JSON.parse(r.bytes.toString("utf8")) as IgnitionStub;
        });

        it("serialises canonical JSON: keys sorted at every level, no spaces, one newline", () => {
            assert.equal(canonicalJson({ b: [{ d: 1, c: "x" }], a: true }), '{"a":true,"b":[{"c":"x","d":1}]}\n');
            assert.throws(() => canonicalJson({ a: 0.5 }), /whole numbers/);
            assert.equal(upload.content, canonicalJson(full as never), "the uploaded config is canonical");
            assert.equal(r.bytes.toString("utf8"), canonicalJson(stub as never), "the stub is canonical");
        });

        it("renders twice to the same bytes, and a changed unit to a new key, hash and stub", () => {
            const again = ign.render(contentOf(seedContainers.map((c) => ({ ...c }))), target);
            assert.deepEqual(again.bytes, r.bytes);
            assert.deepEqual(again.uploads, r.uploads);
            const changed = ign.render(
                contentOf(seedContainers.map((c) => (c.name === "kibana" ? { ...c, env: { ...c.env, FOO: "bar" } } : c))),
                target,
            );
            assert.notEqual(changed.uploads[0]!.key, upload.key);
            assert.notDeepEqual(changed.bytes, r.bytes);
        });

        it("uploads the config under ignition/<sha256>.json; the stub replaces itself with s3://bucket/key, verified by its SHA-512", () => {
            assert.equal(upload.name, "ignition-config");
            assert.equal(upload.key, `ignition/${sha("sha256", upload.content)}.json`);
            assert.deepEqual(stub, {
                ignition: {
                    version: "3.3.0",
                    config: {
                        replace: {
                            source: `s3://${target.bucket}/${upload.key}`,
                            verification: { hash: `sha512-${sha("sha512", upload.content)}` },
                        },
                    },
                },
            });
            assert.equal(r.encoding, "text", "plain JSON: Ignition's AWS provider does not gunzip user-data");
            assert.ok(r.bytes.length < 512, `${r.bytes.length} bytes`);
        });

        it("carries the same unit text as cloud-config, every unit enabled, in start order, and no commands", () => {
            assert.deepEqual(
                full.systemd.units,
                content.units.map((u) => ({ name: u.name, enabled: true, contents: u.content })),
            );
        });

        it("writes each file with its mode in decimal, root as id 0, and its exact text", () => {
            assert.deepEqual(
                full.storage!.files.map((f) => [
                    f.path,
                    f.mode.toString(8).padStart(4, "0"),
                    f.user,
                    f.group,
                    f.overwrite,
                    dataUrlText(f.contents.source),
                ]),
                content.files.map((f) => [f.path, f.permissions, { id: 0 }, { id: 0 }, true, f.content]),
            );
        });

        it("gives core its SSH keys through passwd.users, and no passwd section without keys", () => {
            assert.deepEqual(full.passwd, { users: [{ name: "core", sshAuthorizedKeys: [KEY] }] });
            const none = JSON.parse(ign.render(contentOf(seedContainers, []), target).uploads[0]!.content) as IgnitionConfig;
            assert.equal(none.passwd, undefined);
        });

        it("writes data URLs that read back exactly, the shorter of percent-encoded and base64", () => {
            for (const text of ["", "plain", "a b&c%\n", "#!/bin/bash\nset -eu\necho \"$1\" 'x'\n", "héllo ✓\u2028\t", "\x00\x01"]) {
                const url = dataUrl(text);
                assert.equal(dataUrlText(url), text, JSON.stringify(text));
                const other = url.startsWith("data:;base64,")
                    ? `data:,${encodeURIComponent(text)}`
                    : `data:;base64,${Buffer.from(text).toString("base64")}`;
                assert.ok(url.length <= other.length, `${url} is not the shorter form`);
            }
        });

        it("reads back through the config the stub names: units, files and where the document came from", () => {
            const view = readUserData(r.bytes, new Map([[upload.key, upload.content]]));
            assert.equal(view.format, "ignition");
            assert.deepEqual(view.delivery, {
                kind: "fetched",
                source: `s3://${target.bucket}/${upload.key}`,
                key: upload.key,
                documentBytes: Buffer.byteLength(upload.content),
            });
            assert.deepEqual(
                view.units.map((u) => [u.name, u.content]),
                content.units.map((u) => [u.name, u.content]),
            );
            assert.deepEqual(
                view.files.map((f) => [f.path, f.content]),
                content.files.map((f) => [f.path, f.content]),
            );
            assert.throws(() => readUserData(r.bytes), new RegExp(`uploads no object with the key ${upload.key}`));
        });

        it("refuses a unit line Ignition would refuse (2048 bytes or more), naming the unit", () => {
            const long = contentOf(
                seedContainers.map((c) => (c.name === "kibana" ? { ...c, env: { ...c.env, BIG: "x".repeat(2100) } } : c)),
            );
            assert.throws(
                () => ign.render(long, target),
                (e: unknown) => {
                    const problems = (e as { problems?: { code: string; where: string }[] }).problems ?? [];
                    assert.deepEqual(
                        problems.map((p) => [p.code, p.where]),
                        [["IGNITION_UNIT_LINE_TOO_LONG", "docker-kibana.service"]],
                    );
                    return true;
                },
            );
            // cloud-config has no such ceiling: coreos-cloudinit writes units without parsing them.
            assert.doesNotThrow(() => formatFor("cloud-config").render(long, target));
        });
    });

    describe("recognised by their bytes", () => {
        it("plain cloud-config, gzip'd cloud-config, an Ignition stub", () => {
            // One container: a document that fits as it is (the whole seed host goes gzip'd).
            const content = contentOf(seedContainers.filter((c) => c.name === "node-exporter"));
            // One unit and no files fits as plain text (a whole host's scripts no longer do).
            const small: HostContent = { units: content.units.slice(0, 1), files: [], sshAuthorizedKeys: [] };
            const plain = formatFor("cloud-config").render(small, target).bytes;
            assert.deepEqual([readUserData(plain).format, readUserData(plain).delivery.kind], ["cloud-config", "inline"]);
            const gz = deterministicGzip(plain);
            const view = readUserData(gz);
            assert.deepEqual([view.format, view.delivery.kind], ["cloud-config", "gzip"]);
            assert.equal(view.delivery.kind === "gzip" ? view.delivery.document : "", plain.toString("utf8"));
            const ign = formatFor("ignition").render(small, target);
            assert.equal(readUserData(ign.bytes, new Map(ign.uploads.map((u) => [u.key, u.content]))).format, "ignition");
        });
    });
});

/** SHA-256 of the gzip of the fixed document above, as Node 20's zlib writes it. */
const GOLDEN_GZIP_SHA256 = "1c2623a2a909cd84cf691a2866b3f4e0d3208d3418c33fbfc62c6cf6715e8a7b";
