// This project's port of ignition-validate (formats/ignition/validate.ts) against Debian's
// ignition-validate itself, rule by rule: each case must draw the same findings from both — level,
// JSON path and message (ours may add detail after ignition-validate's words) — and an error from ours
// exactly when the real one exits 1. In-process, apart from test/ignition.test.ts (which boots), so
// mutation testing runs these cases alone.
import { strict as assert } from "node:assert";
import { ignitionFindings } from "../formats/ignition";
import { ignitionValidate } from "./helpers/ignition";

describe("this project's port of ignition-validate agrees with it", () => {
    const V = { version: "3.3.0" };
    const unit = (contents: string, extra: Record<string, unknown> = {}) => ({
        ignition: V,
        systemd: { units: [{ name: "a.service", enabled: true, contents, ...extra }] },
    });
    const svc = (line: string) => `[Unit]\nDescription=a\n[Service]\n${line}\n[Install]\nWantedBy=multi-user.target\n`;
    const file = (patch: Record<string, unknown>) => ({ ignition: V, storage: { files: [{ path: "/etc/a", mode: 420, ...patch }] } });
    const stub = (source: string, hash = `sha512-${"a".repeat(128)}`) => ({
        ignition: { ...V, config: { replace: { source, verification: { hash } } } },
    });
    const cases: [string, unknown][] = [
        ["a clean unit", unit(svc("ExecStart=/bin/true"))],
        ["a unit line of 2047 bytes", unit(svc(`ExecStart=/bin/echo ${"x".repeat(2047 - 20)}`))],
        ["a unit line of 2048 bytes", unit(svc(`ExecStart=/bin/echo ${"x".repeat(2048 - 20)}`))],
        [
            "continuation lines longer than 2048 bytes together",
            unit(svc(`ExecStart=/bin/echo \\\n${"  xxxxxxxxxx \\\n".repeat(200)}  end`)),
        ],
        ["an enabled unit without [Install]", unit("[Service]\nExecStart=/bin/true\n")],
        ["an enabled unit of only a comment", unit("# nothing\n")],
        ["an enabled unit with empty contents", unit("")],
        ["an enabled unit without [Install] whose text does not parse", unit("[Service\nExecStart=/bin/true\n")],
        ["an enabled unit without [Install] with a line too long", unit(`[Service]\nExecStart=/bin/echo ${"x".repeat(2100)}\n`)],
        ["a disabled unit without [Install]", unit("[Service]\nExecStart=/bin/true\n", { enabled: false })],
        ["a section header not closed", unit("[Service\nExecStart=/bin/true\n")],
        ["a unit without a unit type", { ignition: V, systemd: { units: [{ name: "a", contents: svc("ExecStart=/bin/true") }] } }],
        ["a drop-in without .conf", unit(svc("ExecStart=/bin/true"), { dropins: [{ name: "x", contents: "[Service]\n" }] })],
        ["two units of one name", { ignition: V, systemd: { units: [{ name: "a.service" }, { name: "a.service" }] } }],
        ["an unknown key", unit(svc("ExecStart=/bin/true"), { permissions: 420 })],
        ["a relative path", file({ path: "etc/a" })],
        ["a duplicate path", { ignition: V, storage: { files: [{ path: "/etc/a" }, { path: "/etc/a" }] } }],
        ["mode 644 typed as decimal", file({ mode: 644 })],
        ["mode 99999", file({ mode: 99999 })],
        ["user by id and name", file({ user: { id: 0, name: "root" } })],
        ["overwrite without a source", file({ overwrite: true })],
        ["a percent-encoded data URL", file({ contents: { source: `data:,${encodeURIComponent("a b&c%\n")}` } })],
        ["a base64 data URL", file({ contents: { source: "data:;base64,aGk=" } })],
        ["a data URL with a raw space", file({ contents: { source: "data:,a b" } })],
        ["a data URL cut in a %XX", file({ contents: { source: "data:,50%" } })],
        ["gzip compression", file({ contents: { source: "data:,x", compression: "gzip" } })],
        ["bzip2 compression", file({ contents: { source: "data:,x", compression: "bzip2" } })],
        ["an s3 replace with sha512", stub("s3://bucket/ignition/x.json")],
        ["a replace with a short hash", stub("s3://bucket/ignition/x.json", "sha512-abc")],
        ["a replace with md5", stub("s3://bucket/ignition/x.json", `md5-${"a".repeat(32)}`)],
        ["an ftp replace", stub("ftp://host/x.json")],
        ["an empty S3 versionId", stub("s3://bucket/x.json?versionId=")],
        ["spec 3.2.0", { ignition: { version: "3.2.0" } }],
        ["spec 3.4.0 (experimental only in 2.14)", { ignition: { version: "3.4.0" } }],
        ["no version", { ignition: {} }],
        ["not JSON", "#cloud-config\n"],
    ];
    for (const [what, doc] of cases) {
        it(what, () => {
            const bytes = Buffer.from(typeof doc === "string" ? doc : JSON.stringify(doc));
            const real = ignitionValidate(bytes);
            const ours = ignitionFindings(bytes);
            // ignition-validate prints `<level> at <path>, line L col C: <message>`; a document that is
            // not JSON gets `error at line L col C: <Go's JSON error>` (ours words it as JavaScript's
            // parser does, so only its place is compared), and a version it refuses gets
            // `couldn't parse config: …` alone.
            const realFindings = real.output
                .split("\n")
                .filter(Boolean)
                .map((line) => {
                    const at = /^(error|warning) at (\$\S*), line \d+ col \d+: (.*)$/.exec(line);
                    if (at) return { level: at[1]!, path: at[2]!, message: at[3]! };
                    if (/^error at line \d+ col \d+: /.test(line)) return { level: "error", path: "$", message: "couldn't parse config: " };
                    assert.match(line, /^couldn't parse config: /, "an ignition-validate line of an unknown shape");
                    return { level: "error", path: undefined, message: line };
                });
            const unmatched = [...ours];
            for (const r of realFindings) {
                const i = unmatched.findIndex(
                    (f) => f.level === r.level && (r.path === undefined || f.path === r.path) && f.message.startsWith(r.message),
                );
                assert.ok(i >= 0, `ignition-validate says ${JSON.stringify(r)}; ours: ${JSON.stringify(ours)}`);
                unmatched.splice(i, 1);
            }
            assert.deepEqual(unmatched, [], `ignition-validate says only ${JSON.stringify(real.output)}`);
            assert.equal(
                ours.some((f) => f.level === "error"),
                real.status === 1,
                `errors: ignition-validate exits ${real.status}; ours: ${JSON.stringify(ours)}`,
            );
        });
    }
});
