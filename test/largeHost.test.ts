// A host of 40 realistic containers (scripts/capacity/host.ts), planned offline in child processes
// as cloud-config and as Ignition: what EC2 receives and what the host fetches, the Pulumi wiring of
// the Ignition config, what `npm start` writes, and what the PR summary says when the format changes.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { gunzipSync } from "node:zlib";
import { PROJECT } from "../config";
import { USER_DATA_LIMIT, formatFor } from "../formats";
import { GZIP_HEADER } from "../formats/gzip";
import type { OfflinePlan, PlannedResource } from "../scripts/offline";
import { summarize as planSummary } from "../scripts/plan";
import { summarize } from "../scripts/diff/summary";
import { realisticConfigFile, realisticContainers } from "../scripts/capacity/host";
import { fixtureHost } from "./helpers/fixtures";
import { PROJECT_DIR, RunResult, ScratchDir, planToDir, scratchDir } from "./helpers/plan";
import { ignitionValidate } from "./helpers/ignition";

const key = (k: string) => `${PROJECT}:${k}`;
const COUNT = 40;
/** The one-shot units the project adds to a host of these containers (network, provision, report…). */
const ONESHOTS = fixtureHost(realisticContainers(COUNT)).oneshots.length;
const INSTANCE = "aws:ec2/instance:Instance";

const one = (plan: OfflinePlan, name: string): PlannedResource => {
    const found = plan.resources.filter((r) => r.name === name);
    assert.equal(found.length, 1, `one resource named ${name}`);
    return found[0]!;
};

describe(`a host of ${COUNT} realistic containers, planned as cloud-config and as Ignition`, function () {
    this.timeout(180_000);
    let scratch: ScratchDir | undefined;
    const runs = {} as Record<"cc" | "ign", Promise<{ run: RunResult; plan: OfflinePlan }>>;
    const out = (which: "cc" | "ign") => path.join(scratch!.abs, `out-${which}`);

    before(() => {
        scratch = scratchDir("large-host");
        const hosts = path.join(scratch.abs, "hosts");
        fs.mkdirSync(hosts);
        const module = path
            .relative(hosts, path.join(PROJECT_DIR, "scripts", "capacity", "host"))
            .split(path.sep)
            .join("/");
        fs.writeFileSync(
            path.join(hosts, "large.ts"),
            `import { realisticHost } from "${module}";\nexport default realisticHost(${COUNT});\n`,
        );
        for (let i = 0; i < COUNT; i++) {
            const file = path.join(scratch.abs, "artifact", realisticConfigFile(i));
            fs.mkdirSync(path.dirname(file), { recursive: true });
            fs.writeFileSync(file, `# app ${i}\nlisten = 8080\n`);
        }
        // A stack without a stack file: the project's defaults, so no override names a missing container.
        const config = { [key("hostsDir")]: `${scratch.rel}/hosts`, [key("artifactDir")]: `${scratch.rel}/artifact` };
        runs.cc = planToDir({ stack: "large", config }, out("cc"));
        runs.ign = planToDir({ stack: "large", config: { ...config, [key("userDataFormat")]: "ignition" } }, out("ign"));
        for (const r of Object.values(runs)) r.catch(() => undefined);
    });

    after(() => scratch?.remove());

    describe("as cloud-config", () => {
        it("sends the document gzip'd through userDataBase64, within EC2's 16,384 bytes", async () => {
            const { plan } = await runs.cc;
            const instance = one(plan, "host-instance");
            assert.equal(instance.inputs["userData"], undefined);
            const bytes = Buffer.from(String(instance.inputs["userDataBase64"]), "base64");
            assert.deepEqual(bytes.subarray(0, 10), GZIP_HEADER);
            assert.ok(bytes.length <= USER_DATA_LIMIT, `${bytes.length} bytes`);
            assert.equal(plan.outputs["userDataSha256"], crypto.createHash("sha256").update(bytes).digest("hex"));
        });

        it("whose document is clean under coreos-cloudinit's rules, as it reads it: gunzipped", async () => {
            const { plan } = await runs.cc;
            const bytes = Buffer.from(plan.userData, "base64");
            assert.deepEqual(formatFor("cloud-config").validate(bytes), []);
            // Each container's unit and image unit, the one-shots, the host target.
            assert.equal(plan.units.length, 2 * COUNT + ONESHOTS + 1);
        });

        it("npm start writes user-data as the bytes EC2 receives and user-data.decoded as the document", async () => {
            const { run, plan } = await runs.cc;
            const written = fs.readFileSync(path.join(out("cc"), "user-data"));
            assert.deepEqual(written, Buffer.from(plan.userData, "base64"));
            assert.equal(fs.readFileSync(path.join(out("cc"), "user-data.decoded"), "utf8"), gunzipSync(written).toString("utf8"));
            assert.match(
                run.stdout,
                new RegExp(
                    `user-data  cloud-config gzip, ${written.length} of 16384 bytes \\(\\d+%\\), sha256 [0-9a-f]{12}…; \\d+ bytes decompressed \\(user-data.decoded\\)`,
                ),
            );
            assert.equal(fs.existsSync(path.join(out("cc"), "uploads")), false, "cloud-config uploads nothing");
        });
    });

    describe("as Ignition", () => {
        it("uploads the full config to the artifact bucket under ignition/<sha256>.json, and the user-data is a stub naming it with its SHA-512", async () => {
            const { plan } = await runs.ign;
            const object = one(plan, "artifact-uploads-ignition-config");
            const bucket = one(plan, "artifact-bucket").computed["bucket"];
            const content = String(object.inputs["content"]);
            assert.equal(object.type, "aws:s3/bucketObjectv2:BucketObjectv2");
            assert.equal(object.inputs["bucket"], bucket);
            assert.equal(object.inputs["key"], `ignition/${crypto.createHash("sha256").update(content).digest("hex")}.json`);
            const stub = JSON.parse(String(one(plan, "host-instance").inputs["userData"])) as {
                ignition: { config: { replace: { source: string; verification: { hash: string } } } };
            };
            assert.deepEqual(stub.ignition.config.replace, {
                source: `s3://${String(bucket)}/${String(object.inputs["key"])}`,
                verification: { hash: `sha512-${crypto.createHash("sha512").update(content).digest("hex")}` },
            });
            assert.equal(plan.units.length, 2 * COUNT + ONESHOTS + 1, "the plan reads the units from the uploaded config");
        });

        it("lets the host read exactly the artifact and its config, and creates the instance after both and after the grant", async () => {
            const { plan } = await runs.ign;
            const policy = JSON.parse(String(one(plan, "host-read-artifact").inputs["policy"])) as {
                Statement: { Action: string[]; Resource: string[] }[];
            };
            const bucketArn = String(one(plan, "artifact-bucket").computed["arn"]);
            assert.deepEqual(
                policy.Statement.map((s) => [s.Action, s.Resource]),
                [
                    [
                        ["s3:GetObject"],
                        [
                            `${bucketArn}/${String(plan.outputs["artifactObjectKey"])}`,
                            `${bucketArn}/${String(one(plan, "artifact-uploads-ignition-config").inputs["key"])}`,
                        ],
                    ],
                ],
            );
            // `type::name` references; the names are what this test is about.
            const names = (r: string) => one(plan, r).dependencies.all.map((ref) => ref.slice(ref.lastIndexOf("::") + 2));
            const deps = names("host-instance");
            for (const d of ["artifact-object", "artifact-uploads-ignition-config", "host-read-artifact"])
                assert.ok(deps.includes(d), `the instance waits for ${d}: ${deps.join(", ")}`);
            assert.ok(names("artifact-uploads-ignition-config").includes("artifact-versioning"), "the upload waits for versioning");
        });

        it("keeps every resource name of the cloud-config plan, adds only the upload, and expires old configs like old artifacts", async () => {
            const [{ plan: cc }, { plan: ign }] = await Promise.all([runs.cc, runs.ign]);
            const names = (p: OfflinePlan) => p.resources.map((r) => r.name).sort();
            assert.deepEqual(
                names(ign).filter((n) => !names(cc).includes(n)),
                ["artifact-uploads", "artifact-uploads-ignition-config"],
            );
            assert.deepEqual(
                names(cc).filter((n) => !names(ign).includes(n)),
                [],
            );
            const rules = one(ign, "artifact-lifecycle").inputs["rules"] as { id: string; filter: { prefix: string } }[];
            assert.deepEqual(
                rules.map((r) => [r.id, r.filter.prefix]),
                [
                    ["expire-old-artifacts", "artifacts/"],
                    ["expire-old-ignition", "ignition/"],
                    ["expire-old-reports", "status/"],
                ],
            );
            assert.deepEqual(
                (one(cc, "artifact-lifecycle").inputs["rules"] as { id: string }[]).map((r) => r.id),
                ["expire-old-artifacts", "expire-old-reports"],
                "a cloud-config stack has no rule for Ignition configs",
            );
        });

        it("ignition-validate accepts the stub and the config npm start wrote; the summary gives the stub's and the config's sizes", async () => {
            const { run, plan } = await runs.ign;
            const object = one(plan, "artifact-uploads-ignition-config");
            const stub = fs.readFileSync(path.join(out("ign"), "user-data"));
            const config = fs.readFileSync(path.join(out("ign"), "uploads", String(object.inputs["key"])));
            assert.equal(config.toString("utf8"), object.inputs["content"]);
            assert.deepEqual(ignitionValidate(stub), { output: "", status: 0 });
            assert.deepEqual(ignitionValidate(config), { output: "", status: 0 });
            assert.match(
                run.stdout,
                new RegExp(
                    `user-data  ignition stub, ${stub.length} of 16384 bytes \\(\\d+%\\), sha256 [0-9a-f]{12}…; full config ignition/[0-9a-f]{12}….json ${config.length} bytes \\(uploads/\\)`,
                ),
            );
            assert.equal(planSummary(plan).split("\n")[1], run.stdout.split("\n")[1]);
        });
    });

    describe("the PR summary", () => {
        it("reads a format switch as one reason, the format, with no unit or file changed", async () => {
            const [{ plan: cc }, { plan: ign }] = await Promise.all([runs.cc, runs.ign]);
            for (const [base, head, before, after] of [
                [cc, ign, "cloud-config", "ignition"],
                [ign, cc, "ignition", "cloud-config"],
            ] as const) {
                const s = summarize(base, head, { stack: "large" });
                assert.equal(s.host, "replace");
                assert.equal(
                    s.headline,
                    `**The host will be replaced** because its user-data format changed (\`${before}\` → \`${after}\`).`,
                );
                assert.deepEqual(s.units, { added: [], removed: [], changed: [], reordered: false, onlyArtifact: [] });
                assert.deepEqual(s.files, { added: [], removed: [], changed: [] });
            }
        });

        it("reads a document that now goes gzip'd as that, not as a change to every unit", async () => {
            const { plan: cc } = await runs.cc;
            const plain = structuredClone(cc);
            const instance = plain.resources.find((r) => r.type === INSTANCE)!;
            const document = gunzipSync(Buffer.from(cc.userData, "base64")).toString("utf8");
            delete instance.inputs["userDataBase64"];
            instance.inputs["userData"] = document;
            const s = summarize({ ...plain, userData: document, userDataEncoding: "text" }, cc, { stack: "large" });
            assert.equal(
                s.headline,
                "**The host will be replaced** because its user-data changed: the document is now sent gzip'd (it no longer fits EC2's 16,384 bytes as text).",
            );
            assert.deepEqual(s.units.changed, []);
            assert.match(
                s.markdown,
                new RegExp(`\\| \`userDataBase64\` \\| 0 bytes \\| ${Buffer.from(cc.userData, "base64").length} bytes \\|`),
            );
        });
    });
});
