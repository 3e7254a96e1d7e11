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
import { HOST_TAG_KEY, IMDS_PUT_RESPONSE_HOP_LIMIT } from "../components";
import { cutoverCommand, gateEnvironment, retireEnvironment, teardownEnvironment } from "../scripts/cutover/contract";
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
    command: "command:local:Command",
    volume: "aws:ebs/volume:Volume",
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
    /** The resource of this type and name (fails if there is none). */
    const named = (type: string, name: string): PlannedResource => {
        const found = plan.resources.find((r) => r.type === type && r.name === name);
        assert.ok(found, `no ${type} named ${name}`);
        return found;
    };

    before(async () => {
        plan = await planOffline({ stack: STACK, config: FIXTURE_CONFIG });
    });

    describe("the instance", () => {
        it("is replaced when its user-data changes", () => {
            assert.equal(input(T.instance, "userDataReplaceOnChange"), true);
        });

        it("requires IMDSv2 tokens, with a hop limit of 1: containers cannot get the role's credentials (test/imds.test.ts)", () => {
            assert.equal(IMDS_PUT_RESPONSE_HOP_LIMIT, 1);
            assert.deepEqual(input(T.instance, "metadataOptions"), {
                httpEndpoint: "enabled",
                httpTokens: "required",
                httpPutResponseHopLimit: IMDS_PUT_RESPONSE_HOP_LIMIT,
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
                // The account that publishes Flatcar's AMIs, written out here rather than read from the code under test.
                owners: ["075585003325"],
                mostRecent: true,
                filters: [
                    { name: "name", values: [`Flatcar-${config.flatcarChannel}-*`] },
                    { name: "architecture", values: ["x86_64"] },
                    { name: "virtualization-type", values: ["hvm"] },
                ],
            });
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
            const grant = named(T.rolePolicy, "host-read-artifact");
            const policy = JSON.parse(grant.inputs["policy"] as string) as PolicyDoc;
            assert.deepEqual(policy.Statement, [
                {
                    Effect: "Allow",
                    Action: ["s3:GetObject"],
                    Resource: [`arn:aws:s3:::${String(computed(T.bucket, "bucket"))}/artifacts/${sha}.tar.gz`],
                },
            ]);
            assert.equal(grant.inputs["role"], computed(T.role, "id"));
            assert.equal(
                plan.resources.filter((r) => r.type.startsWith("aws:iam/")).length,
                5,
                "a role, its three policies (read the artifact, write the report, attach the data volume) and the profile; nothing attached",
            );
        });

        it("allows exactly s3:PutObject on exactly the host's report key, status/<userDataSha256>.json", () => {
            const grant = named(T.rolePolicy, "host-write-report");
            const policy = JSON.parse(grant.inputs["policy"] as string) as PolicyDoc;
            const userDataSha = sha256(planUserDataBytes(plan));
            assert.deepEqual(policy.Statement, [
                {
                    Effect: "Allow",
                    Action: ["s3:PutObject"],
                    Resource: [`arn:aws:s3:::${String(computed(T.bucket, "bucket"))}/status/${userDataSha}.json`],
                },
            ]);
            assert.equal(grant.inputs["role"], computed(T.role, "id"));
        });

        it("the instance depends on both grants: the host reads and reports at its first boot", () => {
            const deps = one(T.instance).dependencies.all;
            for (const grant of ["host-read-artifact", "host-write-report"]) assert.ok(deps.includes(`${T.rolePolicy}::${grant}`), grant);
        });
    });

    describe("the security group", () => {
        type Rule = { protocol: string; fromPort: number; toPort: number; cidrBlocks?: string[] };
        const ingress = () => input<Rule[]>(T.sg, "ingress");

        it("opens to the internet exactly the ports the definitions expose to it (nginx's), one rule each, tcp and udp apart", () => {
            const containers = applyOverrides(seedContainers, config.containers);
            const expected = containers.flatMap((c) =>
                (c.ports ?? []).filter((p) => p.expose === "internet").map((p) => `${p.host}/${p.protocol ?? "tcp"}`),
            );
            assert.deepEqual(expected.sort(), ["443/tcp", "80/tcp"], "precondition: the seed exposes nginx's ports to the internet");
            const opened = ingress().map((r) => {
                assert.equal(r.fromPort, r.toPort, "one port per rule");
                assert.deepEqual(r.cidrBlocks, ["0.0.0.0/0"]);
                return `${r.fromPort}/${r.protocol}`;
            });
            assert.deepEqual([...opened].sort(), expected.sort());
        });

        it("does not open fluentd's 24224 (anyone reaching it writes into Elasticsearch) unless a stack names CIDRs", () => {
            assert.equal(config.containers["fluentd"]?.expose, undefined, "precondition: dev names no CIDRs for fluentd");
            assert.ok(!ingress().some((r) => r.fromPort <= 24224 && 24224 <= r.toPort), "no rule covers 24224");
            const fluentd = plan.units.find((u) => u.name === "docker-fluentd.service")!;
            assert.ok(fluentd.content.includes("-p 24224:24224/tcp"), "still published on the host for senders inside it");
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

        it("expires non-current artifacts, and readiness reports, after the configured days", () => {
            const rules = input<
                {
                    status: string;
                    filter: { prefix: string };
                    expiration?: { days?: number };
                    noncurrentVersionExpiration: { noncurrentDays: number };
                }[]
            >(T.lifecycle, "rules");
            assert.deepEqual(
                rules.map((r) => [r.status, r.filter.prefix, r.noncurrentVersionExpiration.noncurrentDays, r.expiration?.days]),
                [
                    ["Enabled", "artifacts/", config.artifactRetentionDays, undefined],
                    ["Enabled", "status/", 1, config.artifactRetentionDays],
                ],
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

    describe("the cutover (plan.json's dependencies, as a reader sees them)", () => {
        const ref = (r: PlannedResource) => `${r.type}::${r.name}`;
        /** What plan.json says this resource depends on. */
        const dependsOn = (r: PlannedResource): string[] => {
            const doc = JSON.parse(String(planFiles(plan)["plan.json"])) as { resources: PlannedResource[] };
            return doc.resources.find((x) => x.type === r.type && x.name === r.name)!.dependencies.all;
        };
        const gate = () => named(T.command, "host-cutover-gate");
        const retire = () => named(T.command, "host-cutover-retire");
        const teardown = () => named(T.command, "host-teardown");

        it("orders instance → readiness gate → address → retirement, and the gate's instance is the address's", () => {
            const [instance, eip] = [one(T.instance), one(T.eip)];
            assert.ok(dependsOn(gate()).includes(ref(instance)), "the gate waits for the instance");
            assert.ok(dependsOn(eip).includes(ref(gate())), "the address waits for the gate");
            assert.ok(dependsOn(retire()).includes(ref(eip)), "retirement waits for the address");
            assert.deepEqual(gate().dependencies.inputs["triggers"], [ref(instance)]);
            assert.ok(
                !dependsOn(instance).some((d) => d.startsWith(`${T.command}::host-cutover`)),
                "the instance does not wait for its own gate",
            );
            assert.equal(input(T.eip, "instance"), computed(T.instance, "id"));
        });

        it("the instance is retainOnDelete, tagged with the host tag, and created after the teardown step", () => {
            const instance = one(T.instance);
            assert.equal(instance.options.retainOnDelete, true);
            assert.equal((instance.inputs["tags"] as Record<string, string>)[HOST_TAG_KEY], "coreos-containers/dev/host");
            assert.ok(dependsOn(instance).includes(ref(teardown())));
        });

        it("gate and retire run once per new instance (triggers), do nothing on other changes, and have no delete", () => {
            const id = computed(T.instance, "id");
            for (const [c, step] of [
                [gate(), "gate"],
                [retire(), "retire"],
            ] as const) {
                assert.deepEqual(c.inputs["triggers"], [id], c.name);
                assert.equal(c.inputs["create"], cutoverCommand(step));
                assert.equal(c.inputs["update"], "true");
                assert.equal(c.inputs["delete"], undefined, `${c.name} has no delete: replacing it must do nothing`);
                assert.equal(c.inputs["addPreviousOutputInEnv"], false);
            }
        });

        it("the gate gets the region, the bucket, the report key, the instance, the user-data SHA-256 and the timeout from config, nothing secret", () => {
            const userDataSha = sha256(planUserDataBytes(plan));
            assert.equal(plan.outputs["userDataSha256"], userDataSha);
            assert.deepEqual(
                gate().inputs["environment"],
                gateEnvironment({
                    region: config.region,
                    bucket: String(computed(T.bucket, "bucket")),
                    userDataSha256: userDataSha,
                    reportKey: `status/${userDataSha}.json`,
                    instanceId: String(computed(T.instance, "id")),
                    timeoutSeconds: config.readyTimeoutMinutes * 60,
                }),
            );
            assert.deepEqual(
                retire().inputs["environment"],
                retireEnvironment({
                    region: config.region,
                    hostTag: "coreos-containers/dev/host",
                    instanceId: String(computed(T.instance, "id")),
                    allocationId: String(computed(T.eip, "allocationId")),
                    // The fixture host keeps data on the volume: retire hands it over and waits for the new host's second report.
                    dataVolume: {
                        volumeId: String(computed(T.volume, "id")),
                        bucket: String(computed(T.bucket, "bucket")),
                        reportKey: `status/${userDataSha}.json`,
                        userDataSha256: userDataSha,
                        timeoutSeconds: config.readyTimeoutMinutes * 60,
                    },
                }),
            );
        });

        it("teardown is never replaced (no triggers), terminates the hosts on destroy, and is destroyed before what hosts use", () => {
            const t = teardown();
            assert.equal(t.inputs["triggers"], undefined);
            assert.equal(t.inputs["create"], "true");
            assert.equal(t.inputs["delete"], cutoverCommand("teardown"));
            assert.deepEqual(
                t.inputs["environment"],
                teardownEnvironment({ region: config.region, hostTag: "coreos-containers/dev/host" }),
            );
            assert.deepEqual(dependsOn(t), [ref(one(T.sg)), ref(one(T.profile))].sort());
        });

        it("every command line is the same on every machine: relative, no path of this checkout", () => {
            const commands = plan.resources.filter((r) => r.type === T.command);
            assert.equal(commands.length, 3);
            for (const c of commands) {
                const text = JSON.stringify(c.inputs);
                assert.ok(!text.includes(PROJECT_DIR), `${c.name} names this checkout's path`);
                assert.equal(c.inputs["dir"], undefined, `${c.name}: the engine starts the provider in the project folder`);
            }
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
                "tokens required, hop limit 1",
                "80/tcp from anywhere",
                "443/tcp from anywhere",
                "no SSH",
                "2 inbound rules",
                "4 of 4",
                "AES256",
                "versioning Enabled",
                String(plan.outputs["artifactObjectKey"]),
                "never terminated by Pulumi (retainOnDelete)",
                `readiness gate: waits up to ${config.readyTimeoutMinutes} min for ${String(computed(T.instance, "id"))}'s report`,
                "stops every other host tagged coreos-containers/dev/host, detaches the data volume vol-",
                "instance/* tagged coreos-containers:host=coreos-containers/dev/host",
                "on destroy: terminates every host tagged coreos-containers/dev/host",
                "status/: expire after",
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
