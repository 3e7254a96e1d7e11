// The persistent data volume in the plan (issue 14, the Pulumi side): offline plans of the dev stack in
// child processes, with the data volume on (the fixture host mounts data folders; `dataVolume: true` also keeps it without any).
import { strict as assert } from "node:assert";
import { PROJECT } from "../config";
import { DATA_VOLUME_TAG_KEY, DLM_SERVICE_ROLE_POLICY_ARN, DLM_TEXT, HOST_TAG_KEY } from "../components";
import { CUTOVER_ENV } from "../scripts/cutover/contract";
import { FAKE_ACCOUNT, OfflinePlan, PlannedResource, loadStackConfig } from "../scripts/offline";
import { summarize } from "../scripts/plan";
import { summarize as prSummary } from "../scripts/diff/summary";
import { planArgs, planInChild, runPlanScript } from "./helpers/plan";

const key = (k: string) => `${PROJECT}:${k}`;
const KMS = "arn:aws:kms:eu-west-1:123456789012:key/0b1c2d3e-aaaa-bbbb-cccc-000000000001";
const T = {
    volume: "aws:ebs/volume:Volume",
    instance: "aws:ec2/instance:Instance",
    dlm: "aws:dlm/lifecyclePolicy:LifecyclePolicy",
    role: "aws:iam/role:Role",
    attachment: "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    rolePolicy: "aws:iam/rolePolicy:RolePolicy",
    command: "command:local:Command",
} as const;

const all = (p: OfflinePlan, type: string) => p.resources.filter((r) => r.type === type);
function one(p: OfflinePlan, type: string, name?: string): PlannedResource {
    const found = all(p, type).filter((r) => name === undefined || r.name === name);
    assert.equal(found.length, 1, `expected one ${type}${name ? ` named ${name}` : ""}, found ${found.length}`);
    return found[0]!;
}

interface Statement {
    Sid?: string;
    Effect: string;
    Action: string[];
    Resource: string | string[];
    Condition?: Record<string, Record<string, string>>;
}

describe("data volume: the plan", function () {
    this.timeout(180_000);
    const DEV = "dev";
    const devContainers = JSON.parse(loadStackConfig(DEV)[key("containers")]!) as Record<string, { env?: Record<string, string> }>;
    const withVolume = { [key("dataVolume")]: "true", [key("snapshots")]: "true" };
    // A unit changes (elastic's env), so does the user-data, and the host is replaced; snapshots go off too.
    const unitChanged = {
        [key("dataVolume")]: "true",
        [key("containers")]: JSON.stringify({ ...devContainers, elastic: { env: { ES_JAVA_OPTS: "-Xms256m -Xmx256m" } } }),
    };
    const subnetOnly = {
        [key("dataVolume")]: "true",
        [key("subnetId")]: "subnet-0123456789abcdef0",
        [key("dataVolumeSnapshotId")]: "snap-0123456789abcdef0",
        [key("dataVolumeKmsKeyArn")]: KMS,
    };
    let base: OfflinePlan;
    let changed: OfflinePlan;
    let inSubnet: OfflinePlan;

    before(async () => {
        // The dev stack file sets availabilityZone (eu-west-1a), which the subnet plan repeats: the two agree.
        [base, changed, inSubnet] = await Promise.all([
            planInChild({ stack: DEV, config: withVolume }),
            planInChild({ stack: DEV, config: unitChanged }),
            planInChild({ stack: DEV, config: { ...subnetOnly, [key("availabilityZone")]: "eu-west-1a" } }),
        ]);
    });

    it("is one encrypted gp3 volume with the configured size, IOPS and throughput, in the host's zone, tagged for the stack", () => {
        const v = one(base, T.volume).inputs;
        assert.deepEqual(
            { type: v["type"], encrypted: v["encrypted"], size: v["size"], iops: v["iops"], throughput: v["throughput"] },
            { type: "gp3", encrypted: true, size: 20, iops: 3000, throughput: 125 },
        );
        assert.equal(v["availabilityZone"], "eu-west-1a");
        assert.equal(one(base, T.instance).inputs["availabilityZone"], "eu-west-1a", "the host is launched where its volume is");
        const tags = v["tags"] as Record<string, string>;
        assert.equal(tags[HOST_TAG_KEY], "coreos-containers/dev/host");
        assert.equal(tags[DATA_VOLUME_TAG_KEY], "coreos-containers/dev/host");
        assert.equal(tags["environment"], "dev", "the stack's tags");
        assert.equal(v["kmsKeyId"], undefined, "the account's default EBS key unless one is configured");
    });

    it("cannot be deleted by the engine: protect and retainOnDelete, and a final snapshot should a delete ever reach AWS", () => {
        const v = one(base, T.volume);
        assert.deepEqual(v.options, { protect: true, retainOnDelete: true });
        assert.equal(v.inputs["finalSnapshot"], true);
    });

    it("npm start's summary shows the volume's settings, its protection and the snapshot schedule", () => {
        const summary = summarize(base);
        assert.match(
            summary,
            /data-volume +Volume: gp3 20 GiB, 3000 IOPS, 125 MiB\/s in eu-west-1a, encrypted with the account's default EBS key, protected, kept in AWS when removed$/m,
        );
        assert.match(
            summary,
            /data-snapshots +LifecyclePolicy: every 24 h from 03:00 UTC, 14 kept, of volumes tagged coreos-containers:data-volume=coreos-containers\/dev\/host$/m,
        );
    });

    it("survives a user-data change: the host is replaced, the volume's inputs stay exactly the same", () => {
        const [a, b] = [one(base, T.instance).inputs, one(changed, T.instance).inputs];
        const userData = (i: Record<string, unknown>) => i["userData"] ?? i["userDataBase64"];
        assert.notEqual(userData(a), userData(b), "the unit change reached the user-data");
        assert.equal(a["userDataReplaceOnChange"], true, "so the host is replaced");
        assert.deepEqual(one(changed, T.volume).inputs, one(base, T.volume).inputs);
        assert.deepEqual(one(changed, T.volume).options, one(base, T.volume).options);
        // Nothing a replacement changes can reach it: its inputs depend on no resource at all.
        assert.deepEqual(one(base, T.volume).dependencies, { all: [], inputs: {} });
    });

    it("the pull-request summary of a unit change: the host is replaced, the volume is not among the changes, no warning", () => {
        const pr = prSummary(base, changed, { stack: DEV });
        assert.equal(pr.host, "replace");
        assert.ok(!pr.resources.some((r) => r.type === T.volume), pr.resources.map((r) => r.name).join(", "));
        assert.deepEqual(pr.warnings, []);
    });

    it("the pull-request summary warns when the volume would be replaced (another zone) or removed", () => {
        // The head plan with the volume in another zone (as `availabilityZone: eu-west-1b` plans it; the decision reads the inputs only).
        const otherZone = {
            ...base,
            resources: base.resources.map((r) =>
                r.type === T.volume ? { ...r, inputs: { ...r.inputs, availabilityZone: "eu-west-1b" } } : r,
            ),
        };
        const moved = prSummary(base, otherZone, { stack: DEV });
        assert.equal(moved.warnings.length, 1, moved.warnings.join("\n"));
        assert.match(
            moved.warnings[0]!,
            /^The data volume `data-volume` would be replaced \(`availabilityZone` changed\): `pulumi up` fails on its protection/,
        );
        const plainDev = { ...base, resources: base.resources.filter((r) => r.type !== T.volume) };
        const removed = prSummary(base, plainDev, { stack: DEV });
        assert.match(removed.warnings.join("\n"), /The data volume `data-volume` leaves the stack/);
    });

    it("lets the host attach exactly this volume, only to the stack's tagged hosts, and describe volumes (no resource-level permission exists)", () => {
        const volumeArn = String(one(base, T.volume).computed["arn"]);
        const policy = JSON.parse(String(one(base, T.rolePolicy, "host-attach-data-volume").inputs["policy"])) as {
            Statement: Statement[];
        };
        const byAction = (a: string) => policy.Statement.filter((s) => s.Action.includes(a));
        assert.deepEqual(
            policy.Statement.flatMap((s) => s.Action),
            ["ec2:AttachVolume", "ec2:AttachVolume", "ec2:DescribeVolumes"],
            "nothing else: no DetachVolume, no wildcard action",
        );
        assert.ok(policy.Statement.every((s) => s.Effect === "Allow"));
        const [onVolume, onInstances] = byAction("ec2:AttachVolume");
        assert.deepEqual(onVolume!.Resource, [volumeArn]);
        assert.equal(onVolume!.Condition, undefined);
        assert.deepEqual(onInstances!.Resource, [`arn:aws:ec2:eu-west-1:${FAKE_ACCOUNT}:instance/*`]);
        assert.deepEqual(onInstances!.Condition, { StringEquals: { [`aws:ResourceTag/${HOST_TAG_KEY}`]: "coreos-containers/dev/host" } });
        assert.equal(
            (one(base, T.instance).inputs["tags"] as Record<string, string>)[HOST_TAG_KEY],
            "coreos-containers/dev/host",
            "the host carries the tag the condition names",
        );
        assert.deepEqual(byAction("ec2:DescribeVolumes")[0]!.Resource, "*");
        assert.ok(
            one(base, T.instance).dependencies.all.includes(`${T.rolePolicy}::host-attach-data-volume`),
            "granted before the host boots",
        );
    });

    it("exports the volume id and hands the retire step the volume to hand over, with the gate's report key and timeout", () => {
        const volumeId = String(one(base, T.volume).computed["id"]);
        assert.equal(base.outputs["dataVolumeId"], volumeId);
        const retire = one(base, T.command, "host-cutover-retire").inputs["environment"] as Record<string, string>;
        assert.equal(retire[CUTOVER_ENV.dataVolumeId], volumeId);
        const gate = one(base, T.command, "host-cutover-gate").inputs["environment"] as Record<string, string>;
        assert.equal(
            retire[CUTOVER_ENV.reportKey],
            gate[CUTOVER_ENV.reportKey],
            "retire waits for the new host's report at the gate's key",
        );
        assert.equal(retire[CUTOVER_ENV.timeoutSeconds], gate[CUTOVER_ENV.timeoutSeconds]);
    });

    it("schedules snapshots with DLM when enabled: the volume's own tag, the interval, time and retention from config, DLM's role", () => {
        const policy = one(base, T.dlm).inputs as {
            description: string;
            executionRoleArn: string;
            state: string;
            policyDetails: {
                resourceTypes: string[];
                targetTags: Record<string, string>;
                schedules: { name: string; createRule: Record<string, unknown>; retainRule: Record<string, unknown>; copyTags: boolean }[];
            };
        };
        assert.equal(policy.state, "ENABLED");
        assert.deepEqual(policy.policyDetails.resourceTypes, ["VOLUME"]);
        const volumeTags = one(base, T.volume).inputs["tags"] as Record<string, string>;
        const [[k, v]] = Object.entries(policy.policyDetails.targetTags) as [[string, string]];
        assert.equal(volumeTags[k], v, "the policy targets a tag the volume carries");
        assert.equal(k, DATA_VOLUME_TAG_KEY);
        assert.equal(v, "coreos-containers/dev/host", "unique to this stack's host");
        assert.deepEqual(policy.policyDetails.schedules.length, 1);
        const s = policy.policyDetails.schedules[0]!;
        assert.deepEqual(s.createRule, { interval: 24, intervalUnit: "HOURS", times: "03:00" });
        assert.deepEqual(s.retainRule, { count: 14 });
        assert.equal(s.copyTags, true);
        // DLM refuses other characters in these two (the provider does not check them before the API call).
        assert.match(policy.description, DLM_TEXT);
        assert.match(s.name, DLM_TEXT);
        assert.equal(policy.description, "coreos-containers data volume snapshots for coreos-containers dev host");
        const role = one(base, T.role, "data-snapshots-role");
        assert.equal(policy.executionRoleArn, role.computed["arn"]);
        assert.match(String(role.inputs["assumeRolePolicy"]), /"Service":"dlm\.amazonaws\.com"/);
        assert.equal(one(base, T.attachment, "data-snapshots-policy").inputs["policyArn"], DLM_SERVICE_ROLE_POLICY_ARN);
    });

    it("schedules no snapshots when they are off (dev's default), and makes no volume without a data mount or dataVolume", async () => {
        assert.deepEqual(all(changed, T.dlm), []);
        assert.deepEqual(all(changed, T.attachment), []);
        assert.equal(all(changed, T.volume).length, 1);
        const plain = await planInChild({
            stack: DEV,
            config: { [key("hostsDir")]: "test/fixtures/hosts-stateless", [key("containers")]: {} },
        });
        for (const t of [T.volume, T.dlm]) assert.deepEqual(all(plain, t), [], t);
        assert.ok(!plain.resources.some((r) => r.name === "host-attach-data-volume"));
        assert.equal(plain.outputs["dataVolumeId"], undefined);
    });

    it("with a subnet, takes the subnet's zone (the instance follows its subnet; a matching availabilityZone is fine); a snapshot id and a KMS key reach the volume, the key's grant the role", () => {
        assert.equal(one(inSubnet, T.volume).inputs["availabilityZone"], "eu-west-1a");
        assert.equal(one(base, T.volume).inputs["snapshotId"], undefined);
        assert.equal(one(inSubnet, T.volume).inputs["snapshotId"], "snap-0123456789abcdef0", "a restore creates it from the snapshot");
        assert.equal(one(inSubnet, T.volume).inputs["kmsKeyId"], KMS, "a configured key encrypts it");
        // ... and the host may have EC2 create a grant on that key for the attachment, nothing more.
        const kms = (
            JSON.parse(String(one(inSubnet, T.rolePolicy, "host-attach-data-volume").inputs["policy"])) as { Statement: Statement[] }
        ).Statement.filter((x) => x.Action.some((a) => a.startsWith("kms:")));
        assert.deepEqual(kms, [
            {
                Sid: "GrantTheVolumesKeyToTheInstance",
                Effect: "Allow",
                Action: ["kms:CreateGrant"],
                Resource: [KMS],
                Condition: {
                    Bool: { "kms:GrantIsForAWSResource": "true" },
                    StringEquals: { "kms:ViaService": "ec2.eu-west-1.amazonaws.com" },
                },
            },
        ]);
        assert.equal(one(inSubnet, T.instance).inputs["subnetId"], "subnet-0123456789abcdef0");
        assert.equal(one(inSubnet, T.instance).inputs["availabilityZone"], undefined);
    });

    it("refuses a zone that is not the subnet's, naming both and the fix", async () => {
        const r = await runPlanScript([
            ...planArgs({ stack: DEV, config: { ...subnetOnly, [key("availabilityZone")]: "eu-west-1b" } }),
            "--json",
        ]);
        assert.notEqual(r.code, 0);
        assert.match(
            r.stderr,
            /coreos-containers:availabilityZone is eu-west-1b, but coreos-containers:subnetId subnet-0123456789abcdef0 is in eu-west-1a: remove availabilityZone/,
        );
    });

    it("refuses a data volume whose zone is not fixed (CONFIG_AVAILABILITY_ZONE_MISSING), before any resource", async () => {
        // A stack without a stack file: the project's defaults, so no availabilityZone.
        const r = await runPlanScript([...planArgs({ stack: "nozone", config: { [key("dataVolume")]: "true" } }), "--json"]);
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /CONFIG_AVAILABILITY_ZONE_MISSING/);
        assert.match(r.stderr, /pulumi config set coreos-containers:availabilityZone eu-west-1a/);
    });
});
