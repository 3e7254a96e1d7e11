// The program, in-process, under the SDK's mocks: the dev stack as `pulumi up` would create it.
//
// This is the one test file that imports index.ts (through planOffline: setMocks, then setAllConfig,
// then `await import("../index")`). Other stacks and configs: test/stacks.test.ts, in child processes.
import { strict as assert } from "node:assert";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { parseStackConfig } from "../config";
import { FLATCAR_OWNER } from "../components";
import { FAKE_AMI_PREFIX, OfflinePlan, PlannedResource, loadStackConfig, offlineMocks, planOffline } from "../scripts/offline";
import { planFiles, summarize } from "../scripts/plan";
import { applyOverrides, containerUnitName, imageUnitName } from "../units";
import { decompressIfGzip } from "../formats/gzip";
import { planUserDataBytes } from "../scripts/planUserData";
import { FIXTURE_CONFIG, seedContainers } from "./helpers/fixtures";
import { PROJECT_DIR } from "./helpers/plan";

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

const T = {
    instance: "aws:ec2/instance:Instance",
    eip: "aws:ec2/eip:Eip",
    sg: "aws:ec2/securityGroup:SecurityGroup",
    role: "aws:iam/role:Role",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    profile: "aws:iam/instanceProfile:InstanceProfile",
    bucket: "aws:s3/bucket:Bucket",
    publicAccess: "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    encryption: "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    versioning: "aws:s3/bucketVersioning:BucketVersioning",
    lifecycle: "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    bucketPolicy: "aws:s3/bucketPolicy:BucketPolicy",
    object: "aws:s3/bucketObjectv2:BucketObjectv2",
} as const;

interface PolicyDoc {
    Version: string;
    Statement: {
        Sid?: string;
        Effect: string;
        Principal?: unknown;
        Action: string | string[];
        Resource: string | string[];
        Condition?: unknown;
    }[];
}

describe("program: the dev stack, in-process with mocks", function () {
    this.timeout(60_000);
    const STACK = "dev";
    const config = parseStackConfig(loadStackConfig(STACK));
    let plan: OfflinePlan;

    /** The one resource of this type (fails if there are none or several). */
    const one = (type: string): PlannedResource => {
        const found = plan.resources.filter((r) => r.type === type);
        assert.equal(found.length, 1, `expected exactly one ${type}, found ${found.length}`);
        return found[0]!;
    };
    const input = <V = unknown>(type: string, name: string): V => one(type).inputs[name] as V;
    const computed = (type: string, name: string): unknown => one(type).computed[name];

    before(async () => {
        plan = await planOffline({ stack: STACK, config: FIXTURE_CONFIG });
    });

    describe("the instance", () => {
        it("is replaced when its user-data changes", () => {
            assert.equal(input(T.instance, "userDataReplaceOnChange"), true);
        });

        it("requires IMDSv2 tokens, with a hop limit of 2 for containers", () => {
            assert.deepEqual(input(T.instance, "metadataOptions"), {
                httpEndpoint: "enabled",
                httpTokens: "required",
                httpPutResponseHopLimit: 2,
            });
        });

        it("has an encrypted gp3 root volume of the configured size", () => {
            const root = input<Record<string, unknown>>(T.instance, "rootBlockDevice");
            assert.equal(root["encrypted"], true);
            assert.equal(root["volumeType"], "gp3");
            assert.equal(root["volumeSize"], config.rootVolumeSizeGiB);
            assert.equal(input(T.instance, "instanceType"), config.instanceType);
        });

        it("runs the most recent Flatcar AMI of the stack's channel and the instance's architecture", () => {
            const lookups = plan.calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi");
            assert.equal(lookups.length, 1);
            assert.deepEqual(lookups[0]!.inputs, {
                owners: [FLATCAR_OWNER],
                mostRecent: true,
                filters: [
                    { name: "name", values: [`Flatcar-${config.flatcarChannel}-*`] },
                    { name: "architecture", values: ["x86_64"] },
                    { name: "virtualization-type", values: ["hvm"] },
                ],
            });
            assert.equal(FLATCAR_OWNER, "075585003325");
            assert.ok(String(input(T.instance, "ami")).startsWith(FAKE_AMI_PREFIX), "the instance runs the looked-up AMI");
            assert.equal(plan.outputs["amiId"], input(T.instance, "ami"));
        });

        it("ignores changes of a looked-up AMI (a Flatcar release does not replace the host)", () => {
            assert.equal(config.ami, undefined, "precondition: dev does not pin an AMI");
            assert.deepEqual(one(T.instance).options.ignoreChanges, ["ami"]);
        });

        it("gets its role through the instance profile, and only the host's security group", () => {
            assert.equal(input(T.instance, "iamInstanceProfile"), computed(T.profile, "name"));
            assert.equal(input(T.profile, "role"), computed(T.role, "name"));
            assert.deepEqual(input(T.instance, "vpcSecurityGroupIds"), [computed(T.sg, "id")]);
            const trust = JSON.parse(input<string>(T.role, "assumeRolePolicy")) as PolicyDoc;
            assert.deepEqual(
                trust.Statement.map((s) => [s.Effect, s.Principal, s.Action]),
                [["Allow", { Service: "ec2.amazonaws.com" }, "sts:AssumeRole"]],
            );
        });
    });

    describe("IAM", () => {
        it("allows exactly s3:GetObject on exactly the artifact object's ARN", () => {
            const objectSource = input<{ path: string }>(T.object, "source");
            const sha = sha256(fs.readFileSync(path.join(PROJECT_DIR, objectSource.path)));
            const policy = JSON.parse(input<string>(T.rolePolicy, "policy")) as PolicyDoc;
            assert.deepEqual(policy.Statement, [
                {
                    Effect: "Allow",
                    Action: ["s3:GetObject"],
                    Resource: [`arn:aws:s3:::${String(computed(T.bucket, "bucket"))}/artifacts/${sha}.tar.gz`],
                },
            ]);
            assert.equal(input(T.rolePolicy, "role"), computed(T.role, "id"));
            assert.equal(
                plan.resources.filter((r) => r.type.startsWith("aws:iam/")).length,
                3,
                "a role, its one policy and the profile; nothing attached",
            );
        });
    });

    describe("the security group", () => {
        type Rule = { protocol: string; fromPort: number; toPort: number; cidrBlocks?: string[] };
        const ingress = () => input<Rule[]>(T.sg, "ingress");

        it("opens exactly the host ports the unit definitions publish, tcp and udp apart, to anyone", () => {
            const containers = applyOverrides(seedContainers, config.containers);
            const expected = new Set(containers.flatMap((c) => (c.ports ?? []).map((p) => `${p.host}/${p.protocol ?? "tcp"}`)));
            assert.ok(expected.size > 0, "precondition: some container publishes a port");
            const opened = ingress().map((r) => {
                assert.equal(r.fromPort, r.toPort, "one port per rule");
                assert.deepEqual(r.cidrBlocks, ["0.0.0.0/0"]);
                return `${r.fromPort}/${r.protocol}`;
            });
            assert.deepEqual([...opened].sort(), [...expected].sort());
        });

        it("does not open SSH when sshCidrs is not set", () => {
            assert.deepEqual(config.sshCidrs, [], "precondition: dev sets no sshCidrs");
            assert.ok(!ingress().some((r) => r.fromPort <= 22 && 22 <= r.toPort), "no rule covers port 22");
        });

        it("lives in the default VPC when no subnet is given", () => {
            assert.equal(input(T.sg, "vpcId"), undefined);
            assert.equal(input(T.instance, "subnetId"), undefined);
        });
    });

    describe("the Elastic IP", () => {
        it("is bound through the Eip's own instance input, with no EipAssociation", () => {
            assert.equal(plan.resources.filter((r) => /eipAssociation/i.test(r.type)).length, 0);
            assert.equal(input(T.eip, "instance"), computed(T.instance, "id"));
            assert.equal(input(T.eip, "domain"), "vpc");
        });

        it("is the exported public IP", () => {
            assert.equal(plan.outputs["publicIp"], computed(T.eip, "publicIp"));
            assert.equal(plan.outputs["instanceId"], computed(T.instance, "id"));
        });
    });

    describe("the artifact bucket", () => {
        const bucketId = () => computed(T.bucket, "id");

        it("blocks all four kinds of public access", () => {
            const block = one(T.publicAccess).inputs;
            assert.equal(block["bucket"], bucketId());
            for (const k of ["blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"])
                assert.equal(block[k], true, k);
        });

        it("encrypts at rest and keeps versions", () => {
            assert.equal(input(T.encryption, "bucket"), bucketId());
            assert.deepEqual(
                input<{ applyServerSideEncryptionByDefault: { sseAlgorithm: string } }[]>(T.encryption, "rules").map(
                    (r) => r.applyServerSideEncryptionByDefault.sseAlgorithm,
                ),
                ["AES256"],
            );
            assert.equal(input(T.versioning, "bucket"), bucketId());
            assert.deepEqual(input(T.versioning, "versioningConfiguration"), { status: "Enabled" });
        });

        it("denies every request not made over TLS", () => {
            assert.equal(input(T.bucketPolicy, "bucket"), bucketId());
            const policy = JSON.parse(input<string>(T.bucketPolicy, "policy")) as PolicyDoc;
            const arn = String(computed(T.bucket, "arn"));
            const deny = policy.Statement.find(
                (s) => s.Effect === "Deny" && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { "aws:SecureTransport": "false" } }),
            );
            assert.ok(deny, "a statement denies aws:SecureTransport=false");
            assert.equal(deny.Principal, "*");
            assert.equal(deny.Action, "s3:*");
            assert.deepEqual([deny.Resource].flat().sort(), [arn, `${arn}/*`].sort());
        });

        it("expires non-current artifacts after the configured days", () => {
            const rules = input<{ status: string; filter: { prefix: string }; noncurrentVersionExpiration: { noncurrentDays: number } }[]>(
                T.lifecycle,
                "rules",
            );
            assert.deepEqual(
                rules.map((r) => [r.status, r.filter.prefix, r.noncurrentVersionExpiration.noncurrentDays]),
                [["Enabled", "artifacts/", config.artifactRetentionDays]],
            );
        });
    });

    describe("the artifact", () => {
        it("is stored under artifacts/<sha256 of the packed file>.tar.gz", () => {
            const source = input<{ asset: string; path: string }>(T.object, "source");
            assert.equal(source.asset, "file");
            assert.ok(!path.isAbsolute(source.path), `the asset path ${source.path} is relative, so state agrees between machines`);
            const sha = sha256(fs.readFileSync(path.join(PROJECT_DIR, source.path)));
            assert.equal(input(T.object, "key"), `artifacts/${sha}.tar.gz`);
            assert.equal(input(T.object, "bucket"), computed(T.bucket, "id"));
            assert.equal(plan.outputs["artifactObjectKey"], `artifacts/${sha}.tar.gz`);
        });

        it("is named, with its hash and bucket, in the provision unit of the user-data", () => {
            const source = input<{ path: string }>(T.object, "source");
            const sha = sha256(fs.readFileSync(path.join(PROJECT_DIR, source.path)));
            const provision = plan.units.find((u) => u.name === "provision.service");
            assert.ok(provision, "the user-data has provision.service");
            assert.ok(provision.content.includes(`artifacts/${sha}.tar.gz`), "the unit names the key");
            assert.ok(provision.content.includes(sha), "the unit names the hash");
            assert.ok(provision.content.includes(String(computed(T.bucket, "bucket"))), "the unit names the bucket");
        });
    });

    describe("the user-data and the outputs", () => {
        it("is a #cloud-config document (gzip'd: it is over the limit as text) with two units per container plus the one-shots", () => {
            const document = decompressIfGzip(planUserDataBytes(plan)).toString("utf8");
            assert.equal(plan.userDataEncoding, "base64");
            assert.ok(document.startsWith("#cloud-config\n"));
            assert.ok(parse(document), "parses as YAML");
            const names = plan.units.map((u) => u.name);
            for (const c of seedContainers)
                for (const unit of [containerUnitName(c.name), imageUnitName(c.name)]) assert.ok(names.includes(unit), unit);
            assert.equal(new Set(names).size, names.length, "unit names are unique");
        });

        it("exports userDataSha256 = SHA-256 of the instance's user-data", () => {
            assert.equal(plan.outputs["userDataSha256"], sha256(Buffer.from(input<string>(T.instance, "userDataBase64"), "base64")));
        });

        it("exports unitSha256 = unit name → SHA-256 of the unit's text in the user-data", () => {
            assert.deepEqual(plan.outputs["unitSha256"], Object.fromEntries(plan.units.map((u) => [u.name, sha256(u.content)])));
        });

        it("exports the artifact key, instance id, public IP and bucket", () => {
            for (const k of ["artifactBucket", "artifactObjectKey", "instanceId", "publicIp", "amiId", "userDataSha256", "unitSha256"]) {
                assert.ok(plan.outputs[k], `output ${k}`);
            }
            assert.equal(plan.outputs["artifactBucket"], computed(T.bucket, "bucket"));
        });
    });

    describe("the offline plan", () => {
        it("names every resource and its key settings in the summary", () => {
            const text = summarize(plan);
            for (const r of plan.resources) assert.ok(text.includes(r.name), r.name);
            for (const s of [
                config.instanceType,
                String(input(T.instance, "ami")),
                `${config.rootVolumeSizeGiB} GiB gp3 encrypted`,
                "tokens required, hop limit 2",
                "80/tcp",
                "443/tcp",
                "24224/tcp",
                "24224/udp",
                "no SSH",
                "4 of 4",
                "AES256",
                "versioning Enabled",
                String(plan.outputs["artifactObjectKey"]),
            ]) {
                assert.ok(text.includes(s), `the summary mentions ${s}:\n${text}`);
            }
            assert.ok(text.split("\n").length <= plan.resources.length + 8, "one line per resource, plus a few");
        });

        it("writes user-data, plan.json and one file per unit", () => {
            const files = planFiles(plan);
            assert.deepEqual(files["user-data"], planUserDataBytes(plan));
            assert.equal(files["user-data.decoded"], decompressIfGzip(planUserDataBytes(plan)).toString("utf8"));
            for (const u of plan.units) assert.equal(files[`units/${u.name}`], u.content);
            assert.equal(Object.keys(files).length, plan.units.length + 3);
            const doc = JSON.parse(String(files["plan.json"])) as { resources: PlannedResource[]; outputs: unknown };
            assert.deepEqual(
                doc.resources.map((r) => `${r.type} ${r.name}`),
                plan.resources.map((r) => `${r.type} ${r.name}`),
            );
            assert.deepEqual(doc.outputs, plan.outputs);
        });

        it("its mocks throw on a data source nobody mocked", () => {
            const mocks = offlineMocks([], []);
            assert.throws(() => mocks.call({ token: "aws:ec2/getVpc:getVpc", inputs: {} }), /unmocked call aws:ec2\/getVpc:getVpc/);
        });
    });
});
