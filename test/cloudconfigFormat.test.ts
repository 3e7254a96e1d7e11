// The cloud-config format in process: reading a document back (units, files, everything else), where a
// round-trip difference is reported, the plain object before YAML, and the errors a renderer bug gives.
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { formatFor, readUserData } from "../formats";
import type { UserDataFormatName } from "../formats";
import {
    CLOUD_CONFIG_HEADER,
    cloudConfig,
    cloudConfigObject,
    cloudConfigUserData,
    compressedSizeProblems,
    parseUserData,
    readCloudConfig,
    renderCloudConfig,
    roundTripProblems,
    serializeCloudConfig,
} from "../formats/cloudconfig";
import { deterministicGzip } from "../formats/gzip";
import { ValidationError } from "../units/problems";
import type { HostContent } from "../units/render";

const H = CLOUD_CONFIG_HEADER;
const FIX_ROUND_TRIP = "remove control or line-separator characters from the text, or report this as a renderer bug";

describe("cloud-config format (in process)", () => {
    describe("reading a document back", () => {
        it("splits each unit into its name, its content and the rest of its entry", () => {
            const view = readCloudConfig(
                `${H}coreos:\n  units:\n  - name: a.service\n    command: start\n    enable: true\n    content: |\n      [Unit]\n`,
            );
            assert.deepEqual(view.units, [{ name: "a.service", content: "[Unit]\n", settings: { command: "start", enable: true } }]);
            assert.deepEqual(view.files, []);
            assert.deepEqual(view.other, {});
        });

        it("splits each file into its path, its content and the rest of its entry", () => {
            const view = readCloudConfig(
                `${H}write_files:\n- path: /etc/x\n  permissions: "0644"\n  owner: root:root\n  content: |\n    hello\n`,
            );
            assert.deepEqual(view.files, [{ path: "/etc/x", content: "hello\n", settings: { permissions: "0644", owner: "root:root" } }]);
            assert.deepEqual(view.units, []);
            assert.deepEqual(view.other, {});
        });

        it("reads a unit or file without content as empty content", () => {
            const view = readCloudConfig(`${H}coreos:\n  units:\n  - name: a.service\n    command: stop\nwrite_files:\n- path: /etc/x\n`);
            assert.deepEqual(view.units, [{ name: "a.service", content: "", settings: { command: "stop" } }]);
            assert.deepEqual(view.files, [{ path: "/etc/x", content: "", settings: {} }]);
        });

        it("ignores unit and file entries that are not maps", () => {
            const view = readCloudConfig(
                `${H}coreos:\n  units:\n  - just-a-string\n  - name: a.service\nwrite_files:\n- 42\n- path: /etc/x\n`,
            );
            assert.deepEqual(
                view.units.map((u) => u.name),
                ["a.service"],
            );
            assert.deepEqual(
                view.files.map((f) => f.path),
                ["/etc/x"],
            );
        });

        it("keeps everything but write_files and coreos.units in `other`, coreos only when it sets more than units", () => {
            const withMore = readCloudConfig(
                `${H}ssh_authorized_keys:\n- ssh-ed25519 AAAA ops\nhostname: web\ncoreos:\n  update:\n    reboot_strategy: "off"\n  units: []\nwrite_files: []\n`,
            );
            assert.deepEqual(withMore.other, {
                ssh_authorized_keys: ["ssh-ed25519 AAAA ops"],
                hostname: "web",
                coreos: { update: { reboot_strategy: "off" } },
            });
            const unitsOnly = readCloudConfig(`${H}hostname: web\ncoreos:\n  units: []\n`);
            assert.deepEqual(unitsOnly.other, { hostname: "web" });
        });

        it("refuses user-data that is not a YAML map", () => {
            assert.throws(() => readCloudConfig(`${H}- a\n- b\n`), { message: "the user-data is not a cloud-config map" });
        });

        it("reads what it renders: units with command start and enable, files with their owner defaulted to root:root", () => {
            const doc = cloudConfigObject({ files: [{ path: "/etc/x", permissions: "0600", content: "x\n" }], sshAuthorizedKeys: ["k1"] }, [
                { name: "a.service", content: "[Unit]\n" },
            ]);
            const view = readCloudConfig(serializeCloudConfig(doc));
            assert.deepEqual(view, {
                units: [{ name: "a.service", content: "[Unit]\n", settings: { command: "start", enable: true } }],
                files: [{ path: "/etc/x", content: "x\n", settings: { permissions: "0600", owner: "root:root" } }],
                other: { ssh_authorized_keys: ["k1"] },
            });
        });

        it("reports gzip'd user-data as gzip delivery, with the readable document, and plain as inline", () => {
            const text = `${H}hostname: web\n`;
            const plain = cloudConfig.read(Buffer.from(text));
            assert.deepEqual(plain.delivery, { kind: "inline" });
            const gz = readUserData(deterministicGzip(Buffer.from(text)));
            assert.equal(gz.format, "cloud-config");
            assert.deepEqual(gz.delivery, { kind: "gzip", document: text });
            assert.deepEqual(gz.other, { hostname: "web" });
        });

        it("reads YAML as coreos-cloudinit's YAML 1.1 does: yes is true, 0755 is octal", () => {
            assert.deepEqual(parseUserData("a: yes\nb: 0755\nc: off\n"), { a: true, b: 0o755, c: false });
        });
    });

    describe("the plain object before YAML", () => {
        it("sets ssh_authorized_keys and write_files only when there are any", () => {
            assert.deepEqual(cloudConfigObject({ files: [], sshAuthorizedKeys: [] }, []), { coreos: { units: [] } });
        });
    });

    describe("where a round-trip difference is reported", () => {
        it("names the file of a write_files difference, and the field inside it", () => {
            const doc = cloudConfigObject({ files: [{ path: "/etc/x", permissions: "0644", content: "A\n" }], sshAuthorizedKeys: [] }, []);
            const tampered = serializeCloudConfig(doc).replace("A\n", "B\n");
            assert.deepEqual(roundTripProblems(doc, tampered), [
                {
                    code: "USER_DATA_ROUND_TRIP",
                    where: "/etc/x",
                    field: "content",
                    message: 'does not survive the YAML round trip: differs from character 0: expected "A\\n", read back "B\\n"',
                    fix: FIX_ROUND_TRIP,
                },
            ]);
        });

        it("names a list item by its index in brackets and nested keys with dots", () => {
            const doc = { ssh_authorized_keys: ["k1"], extra: { units: ["a"] } };
            const problems = roundTripProblems(doc, `${H}ssh_authorized_keys:\n- k2\nextra:\n  units:\n  - b\n`);
            assert.deepEqual(
                problems.map((p) => [p.where, p.field]),
                [
                    ["user-data", "ssh_authorized_keys[0]"],
                    ["user-data", "extra.units[0]"],
                ],
            );
        });

        it("names a unit only for differences inside coreos.units", () => {
            const doc = { coreos: { units: [{ name: "a.service", content: "x" }], etcd: ["one"] } };
            const problems = roundTripProblems(doc, `${H}coreos:\n  units:\n  - name: a.service\n    content: x\n  etcd:\n  - two\n`);
            assert.deepEqual(
                problems.map((p) => [p.where, p.field]),
                [["user-data", "coreos.etcd[0]"]],
            );
        });

        it("reports a list of another length as one difference at the list", () => {
            const doc = cloudConfigObject({ files: [], sshAuthorizedKeys: [] }, [
                { name: "a.service", content: "a" },
                { name: "b.service", content: "b" },
            ]);
            const oneUnit = serializeCloudConfig(
                cloudConfigObject({ files: [], sshAuthorizedKeys: [] }, [{ name: "a.service", content: "a" }]),
            );
            assert.deepEqual(
                roundTripProblems(doc, oneUnit).map((p) => [p.where, p.field]),
                [["user-data", "coreos.units"]],
            );
        });

        it("reports a map read back as a scalar, and a missing or extra key, with both values (long ones cut at 60 characters)", () => {
            const long = "x".repeat(100);
            const problems = roundTripProblems(
                { coreos: { units: [] }, hostname: long, size: 1 },
                `${H}coreos: 5\nother: 1\nsize: ${long}\n`,
            );
            assert.deepEqual(
                problems.map((p) => [p.field, p.message]),
                [
                    ["coreos", 'does not survive the YAML round trip: expected {"units":[]}, read back 5'],
                    [
                        "hostname",
                        `does not survive the YAML round trip: expected ${JSON.stringify(long).slice(0, 60)}, read back undefined`,
                    ],
                    ["size", `does not survive the YAML round trip: expected 1, read back ${JSON.stringify(long).slice(0, 60)}`],
                    ["other", "does not survive the YAML round trip: expected undefined, read back 1"],
                ],
            );
        });

        it("reports a document that does not parse back as one problem for the whole document", () => {
            const problems = roundTripProblems({ hostname: "web" }, `${H}hostname: [web\n`);
            assert.equal(problems.length, 1);
            const [p] = problems;
            assert.deepEqual(
                [p!.code, p!.where, p!.field, p!.fix],
                ["USER_DATA_ROUND_TRIP", "user-data", "(document)", "report this as a renderer bug"],
            );
            assert.match(p!.message, /^does not parse back: \S/);
        });
    });

    describe("errors", () => {
        it("refuses to render content coreos-cloudinit would reject, naming the rendered user-data", () => {
            const content: HostContent = {
                units: [{ name: "a.service", content: "[Unit]\nDescription=a\u2028b\n" }],
                files: [],
                sshAuthorizedKeys: [],
            };
            assert.throws(
                () => renderCloudConfig(content),
                (e: unknown) => {
                    assert.ok(e instanceof ValidationError);
                    assert.deepEqual(
                        e.problems.map((p) => p.code),
                        ["CLOUDINIT_LINE_BREAK_CHARACTER"],
                    );
                    assert.match(e.message, /^1 problem in the rendered user-data:/);
                    return true;
                },
            );
        });

        it("refuses a gzip that is still too large, naming the rendered user-data", () => {
            // base64 of a SHA-256 chain: text gzip cannot shrink below EC2's limit.
            let block = Buffer.alloc(0);
            for (let h = Buffer.from("seed"); block.length < 24000;) {
                h = createHash("sha256").update(h).digest();
                block = Buffer.concat([block, h]);
            }
            const content: HostContent = {
                units: [],
                files: [{ path: "/etc/big.txt", permissions: "0644", content: block.toString("base64") + "\n" }],
                sshAuthorizedKeys: [],
            };
            assert.throws(
                () => cloudConfigUserData(content),
                (e: unknown) => e instanceof ValidationError && /^1 problem in the rendered user-data:/.test(e.message),
            );
        });

        it("says how far a gzip is over the limit and that ignition fits any host", () => {
            assert.deepEqual(compressedSizeProblems(Buffer.alloc(40000), Buffer.alloc(16400)), [
                {
                    code: "USER_DATA_TOO_LARGE_COMPRESSED",
                    where: "user-data",
                    field: "size",
                    message: "the cloud-config is 40000 bytes, and 16400 bytes gzip'd, still over EC2's limit of 16384 bytes (by 16)",
                    fix:
                        "set coreos-containers:userDataFormat to ignition: the user-data becomes a small stub and the host fetches its " +
                        "full config from the artifact bucket, whatever its size (or move large files into the artifact, or run fewer containers here)",
                },
            ]);
        });

        it("refuses an unknown format name, naming it", () => {
            assert.throws(() => formatFor("yaml" as UserDataFormatName), { message: 'unknown user-data format "yaml"' });
        });
    });
});
