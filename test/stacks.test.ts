// Other stacks and configs, each planned offline in a child process (test/helpers/plan.ts), and
// compared resource by resource: a change in config changes exactly what it should, nothing else.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as path from "node:path";
import { parseStackConfig } from "../config";
import { PROJECT, OfflinePlan, PlannedResource, loadStackConfig } from "../scripts/offline";
import { ContainerUnit, applyOverrides, containerUnitName, imageUnitName } from "../units";
import { FIXTURE_ARTIFACT_DIR, seedContainers } from "./helpers/fixtures";
import { decompressIfGzip } from "../formats/gzip";
import { planUserDataBytes } from "../scripts/planUserData";
import { PROJECT_DIR, ScratchDir, imageFixtures, planInChild, planToDir, scratchDir } from "./helpers/plan";

const key = (k: string) => `${PROJECT}:${k}`;
/** The cloud-config document of a plan, whatever EC2 carries it in (text, or gzip). */
const documentOf = (p: OfflinePlan) => decompressIfGzip(planUserDataBytes(p)).toString("utf8");
const INSTANCE = "aws:ec2/instance:Instance";
const SG = "aws:ec2/securityGroup:SecurityGroup";

/** Paths (`a.b.0.c`) where two JSON values differ; arrays of different lengths differ as a whole. */
function diffPaths(a: unknown, b: unknown, at = ""): string[] {
    if (JSON.stringify(a) === JSON.stringify(b)) return [];
    const join = (k: string | number) => (at ? `${at}.${k}` : String(k));
    if (Array.isArray(a) && Array.isArray(b) && a.length === b.length) return a.flatMap((x, i) => diffPaths(x, b[i], join(i)));
    if (a && b && typeof a === "object" && typeof b === "object" && !Array.isArray(a) && !Array.isArray(b)) {
        const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
        return keys.flatMap((k) => diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], join(k)));
    }
    return [at];
}

const id = (r: PlannedResource) => `${r.type} ${r.name}`;

/** Every differing input, as `<type> <name>: <path>`, plus resources present in only one plan. */
function resourceDiff(a: OfflinePlan, b: OfflinePlan): string[] {
    const byId = (p: OfflinePlan) => new Map(p.resources.map((r) => [id(r), r]));
    const [ma, mb] = [byId(a), byId(b)];
    const out: string[] = [];
    for (const k of [...new Set([...ma.keys(), ...mb.keys()])].sort()) {
        const [ra, rb] = [ma.get(k), mb.get(k)];
        if (!ra || !rb) out.push(`${k}: only in ${ra ? a.stack : b.stack}`);
        else {
            out.push(...diffPaths(ra.inputs, rb.inputs).map((p) => `${k}: ${p}`));
            out.push(...diffPaths(ra.options, rb.options).map((p) => `${k}: options.${p}`));
        }
    }
    return out;
}

/** Unit names whose hash differs between two plans (or that only one has). */
function changedUnits(a: OfflinePlan, b: OfflinePlan): string[] {
    const [ha, hb] = [a.outputs["unitSha256"] as Record<string, string>, b.outputs["unitSha256"] as Record<string, string>];
    return [...new Set([...Object.keys(ha), ...Object.keys(hb)])].filter((n) => ha[n] !== hb[n]).sort();
}

const resource = (p: OfflinePlan, type: string) => {
    const found = p.resources.filter((r) => r.type === type);
    assert.equal(found.length, 1, `one ${type} in ${p.stack}`);
    return found[0]!;
};

/** dev's own containers overrides (the key replaces the whole map, so a test extends it). */
const devContainers = () =>
    JSON.parse(loadStackConfig("dev")[key("containers")] ?? "{}") as Record<string, { env?: Record<string, string> }>;

describe("stacks: plans in child processes", function () {
    this.timeout(180_000);
    const scratch: ScratchDir[] = [];
    const plans: Record<string, Promise<OfflinePlan>> = {};
    const CHANGED_CONTAINER = "kibana";
    let baseRun: { stdout: string } | undefined;
    let prodImagesConfig: Record<string, string> = {};

    before(() => {
        // Start every plan now; the helper runs one per core and each test awaits its own.
        const out = scratchDir("out-dev");
        scratch.push(out);
        plans["base"] = planToDir({ stack: "dev" }, path.join(out.abs, "dev")).then((r) => ((baseRun = r.run), r.plan));

        const containers = devContainers();
        containers[CHANGED_CONTAINER] = {
            ...containers[CHANGED_CONTAINER],
            env: { ...(containers[CHANGED_CONTAINER]?.env ?? {}), LOGGING_ROOT_LEVEL: "warn" },
        };
        plans["env"] = planInChild({ stack: "dev", config: { [key("containers")]: containers } });

        const same = scratchDir("artifact-same");
        const changed = scratchDir("artifact-changed");
        scratch.push(same, changed);
        fs.cpSync(path.join(PROJECT_DIR, FIXTURE_ARTIFACT_DIR), same.abs, { recursive: true });
        fs.cpSync(path.join(PROJECT_DIR, FIXTURE_ARTIFACT_DIR), changed.abs, { recursive: true });
        const file = path.join(changed.abs, "nginx", "nginx.conf");
        const bytes = fs.readFileSync(file);
        bytes[0] = bytes[0]! ^ 0x01; // one byte, one bit
        fs.writeFileSync(file, bytes);
        plans["artifactSame"] = planInChild({ stack: "dev", config: { [key("artifactDir")]: same.rel } });
        plans["artifactChanged"] = planInChild({ stack: "dev", config: { [key("artifactDir")]: changed.rel } });

        const images = imageFixtures("prod");
        scratch.push(images);
        plans["prod"] = planInChild({ stack: "prod", config: images.config });
        prodImagesConfig = images.config;

        plans["preview"] = planInChild({ stack: "dev", preview: true });
        plans["graviton"] = planInChild({
            stack: "dev",
            config: {
                [key("instanceType")]: "m7g.large",
                [key("subnetId")]: "subnet-0123456789abcdef0",
                [key("keyName")]: "ops-2026",
                [key("sshCidrs")]: ["198.51.100.0/24"],
            },
        });
        plans["pinned"] = planInChild({ stack: "dev", config: { [key("ami")]: "ami-0123456789abcdef0" } });
        // No unhandled rejections while a plan waits for its test.
        for (const p of Object.values(plans)) p.catch(() => undefined);
    });

    after(() => {
        for (const s of scratch) s.remove();
    });

    it("npm start writes the plan, the user-data and one file per unit, and prints every resource", async () => {
        const base = await plans["base"]!; // readPlanDir checked units/ against the user-data
        assert.ok(base.units.length > 0);
        for (const r of base.resources) assert.ok(baseRun!.stdout.includes(r.name), `the summary lists ${r.name}`);
    });

    it("changing one container's env changes the user-data and exactly that unit's hash (→ host replaced)", async () => {
        const [base, env] = await Promise.all([plans["base"]!, plans["env"]!]);
        assert.deepEqual(changedUnits(base, env), [containerUnitName(CHANGED_CONTAINER)]);
        assert.notEqual(env.outputs["userDataSha256"], base.outputs["userDataSha256"]);
        // The seed host's document is over the limit as text: it goes gzip'd, through userDataBase64.
        // The user-data's SHA-256 names the host's readiness report: its grant and the cutover gate follow it.
        assert.deepEqual(
            resourceDiff(base, env),
            [
                `${INSTANCE} host-instance: userDataBase64`,
                "aws:iam/rolePolicy:RolePolicy host-write-report: policy",
                "command:local:Command host-cutover-gate: environment.CUTOVER_REPORT_KEY",
                "command:local:Command host-cutover-gate: environment.CUTOVER_USER_DATA_SHA256",
                // Retire waits for the new host's second report (the data disk handed over) under the same key.
                "command:local:Command host-cutover-retire: environment.CUTOVER_REPORT_KEY",
                "command:local:Command host-cutover-retire: environment.CUTOVER_USER_DATA_SHA256",
            ],
            "only the instance's user-data changes, and what its hash names",
        );
        assert.equal(resource(env, INSTANCE).inputs["userDataReplaceOnChange"], true, "so the change replaces the host");
        assert.ok(documentOf(env).includes("LOGGING_ROOT_LEVEL=warn"));
        assert.equal(env.outputs["artifactObjectKey"], base.outputs["artifactObjectKey"]);
    });

    it("the same artifact files in another folder give the same artifact and the same plan", async () => {
        const [base, same] = await Promise.all([plans["base"]!, plans["artifactSame"]!]);
        assert.equal(same.outputs["artifactObjectKey"], base.outputs["artifactObjectKey"]);
        assert.deepEqual(resourceDiff(base, same), []);
    });

    it("changing one byte of one artifact file changes the key, the user-data and the provision unit only", async () => {
        const [base, changed] = await Promise.all([plans["base"]!, plans["artifactChanged"]!]);
        assert.notEqual(changed.outputs["artifactObjectKey"], base.outputs["artifactObjectKey"]);
        assert.match(String(changed.outputs["artifactObjectKey"]), /^artifacts\/[0-9a-f]{64}\.tar\.gz$/);
        assert.deepEqual(changedUnits(base, changed), ["provision.service"]);
        assert.deepEqual(resourceDiff(base, changed), [
            `${INSTANCE} host-instance: userDataBase64`,
            "aws:iam/rolePolicy:RolePolicy host-read-artifact: policy",
            "aws:iam/rolePolicy:RolePolicy host-write-report: policy",
            "aws:s3/bucketObjectv2:BucketObjectv2 artifact-object: key",
            "aws:s3/bucketObjectv2:BucketObjectv2 artifact-object: source.path",
            "command:local:Command host-cutover-gate: environment.CUTOVER_REPORT_KEY",
            "command:local:Command host-cutover-gate: environment.CUTOVER_USER_DATA_SHA256",
            "command:local:Command host-cutover-retire: environment.CUTOVER_REPORT_KEY",
            "command:local:Command host-cutover-retire: environment.CUTOVER_USER_DATA_SHA256",
        ]);
        assert.ok(documentOf(changed).includes(String(changed.outputs["artifactObjectKey"])));
    });

    it("prod differs from dev only where their configs differ", async () => {
        const [dev, prod] = await Promise.all([plans["base"]!, plans["prod"]!]);
        const rawDev = loadStackConfig("dev");
        const rawProd = { ...loadStackConfig("prod"), ...prodImagesConfig };
        const differing = [...new Set([...Object.keys(rawDev), ...Object.keys(rawProd)])]
            .filter((k) => rawDev[k] !== rawProd[k])
            .map((k) => k.replace(`${PROJECT}:`, ""))
            .sort();
        assert.deepEqual(differing, [
            "artifactRetentionDays",
            "containers",
            "flatcarChannel",
            "imageDir",
            "instanceType",
            "rootVolumeSizeGiB",
            "snapshots",
            "sshCidrs",
            "tags",
        ]);

        // Each differing input, and the config keys that may explain it.
        const explanations: [RegExp, string[]][] = [
            [/Instance host-instance: instanceType$/, ["instanceType"]],
            [/Instance host-instance: ami$/, ["flatcarChannel", "instanceType"]],
            [/Instance host-instance: rootBlockDevice\.volumeSize$/, ["rootVolumeSizeGiB"]],
            [/: (rootBlockDevice\.)?tags\.environment$/, ["tags"]],
            [/SecurityGroup host-sg: ingress$/, ["sshCidrs"]],
            [
                /BucketLifecycleConfiguration artifact-lifecycle: rules\.(0\.noncurrentVersionExpiration\.noncurrentDays|1\.expiration\.days)$/,
                ["artifactRetentionDays"],
            ],
            // The units' images and env; tarball images (prod) also go into the artifact.
            [/Instance host-instance: userData(Base64)?$/, ["containers", "imageDir"]],
            [/BucketObjectv2 artifact-object: (key|source\.path)$/, ["containers", "imageDir"]],
            [/RolePolicy host-read-artifact: policy$/, ["containers", "imageDir"]],
            // The user-data's hash names the readiness report.
            [/RolePolicy host-write-report: policy$/, ["containers", "imageDir"]],
            [/Command host-cutover-(gate|retire): environment\.CUTOVER_(REPORT_KEY|USER_DATA_SHA256)$/, ["containers", "imageDir"]],
            // The data volume's snapshots: a DLM policy and its role, in prod only.
            [/ data-snapshots(-role|-policy)?: only in prod$/, ["snapshots"]],
        ];
        // The host tag names the stack: it differs by the stack's name, not by a config key.
        const byStackName =
            /: (tags\.coreos-containers:(host|data-volume)|environment\.CUTOVER_HOST_TAG)$|data-volume: tags\.Name$|host-attach-data-volume: policy$/;
        // (the attach policy's only stack-specific part is its condition on the host tag; test/dataVolumePlan.test.ts pins the whole document)
        for (const [p, stack] of [
            [dev, "dev"],
            [prod, "prod"],
        ] as const)
            assert.equal(
                (resource(p, INSTANCE).inputs["tags"] as Record<string, string>)["coreos-containers:host"],
                `coreos-containers/${stack}/host`,
            );
        const diffs = resourceDiff(dev, prod).filter((d) => !byStackName.test(d));
        const used = new Set<string>();
        for (const d of diffs) {
            const match = explanations.find(([re]) => re.test(d));
            assert.ok(match, `unexplained difference: ${d}`);
            assert.ok(
                match[1].some((k) => differing.includes(k)),
                `${d} is explained by ${match[1].join("/")}, which do not differ`,
            );
            match[1].forEach((k) => used.add(k));
        }
        // Snapshots are of the data volume: without one (no container has a data mount) the key changes nothing.
        const hasDataVolume = prod.resources.some((r) => r.type === "aws:ebs/volume:Volume");
        for (const k of differing)
            if (k !== "snapshots" || hasDataVolume) assert.ok(used.has(k), `config key ${k} differs but nothing in the plan does`);

        // The SSH rule is the only ingress difference, and it is exactly prod's CIDRs.
        type Rule = { protocol: string; fromPort: number; toPort: number; cidrBlocks: string[] };
        const ingress = (p: OfflinePlan) => resource(p, SG).inputs["ingress"] as Rule[];
        const isSsh = (r: Rule) => r.fromPort === 22;
        assert.deepEqual(
            ingress(prod).filter((r) => !isSsh(r)),
            ingress(dev).filter((r) => !isSsh(r)),
        );
        assert.deepEqual(ingress(dev).filter(isSsh), []);
        const prodConfig = parseStackConfig(rawProd);
        assert.deepEqual(
            ingress(prod)
                .filter(isSsh)
                .map((r) => [r.protocol, r.toPort, r.cidrBlocks]),
            [["tcp", 22, [...prodConfig.sshCidrs]]],
        );

        // Inside the user-data: exactly the units of containers whose image or env differ, the image
        // units of those whose image differs, plus provision (its artifact holds prod's image tarballs).
        const effective = (raw: Record<string, string>, what: (c: ContainerUnit) => unknown) =>
            new Map(
                applyOverrides(seedContainers, parseStackConfig(raw).containers).map((c: ContainerUnit) => [
                    c.name,
                    JSON.stringify(what(c)),
                ]),
            );
        const [ed, ep] = [effective(rawDev, (c) => [c.image, c.env ?? {}]), effective(rawProd, (c) => [c.image, c.env ?? {}])];
        const [id, ip] = [effective(rawDev, (c) => c.image), effective(rawProd, (c) => c.image)];
        const expected = [
            ...[...ed.keys()].filter((n) => ed.get(n) !== ep.get(n)).map(containerUnitName),
            ...[...id.keys()].filter((n) => id.get(n) !== ip.get(n)).map(imageUnitName),
        ];
        assert.ok(expected.length > 0, "precondition: the stacks' containers differ");
        assert.notEqual(prod.outputs["artifactObjectKey"], dev.outputs["artifactObjectKey"]);
        assert.deepEqual(changedUnits(dev, prod), [...expected, "provision.service"].sort());
    });

    it("prod loads the images CI builds: fluentd and nginx from tarballs in the artifact", async () => {
        const prod = await plans["prod"]!;
        for (const name of ["fluentd", "nginx"]) {
            const unit = prod.units.find((u) => u.name === containerUnitName(name));
            assert.ok(unit && /ensure-image load \S+\/images\/\S+\.tar/.test(unit.content), `${name} loads a tarball`);
        }
    });

    it("preview mode plans the same resources, settings and outputs as an update", async () => {
        const [base, preview] = await Promise.all([plans["base"]!, plans["preview"]!]);
        assert.equal(preview.preview, true);
        assert.deepEqual(resourceDiff(base, preview), []);
        assert.deepEqual(preview.resources, base.resources);
        assert.deepEqual(preview.calls, base.calls);
        assert.deepEqual(preview.outputs, base.outputs);
        assert.equal(preview.userData, base.userData);
    });

    it("a Graviton type gets an arm64 AMI; a subnet puts the security group in the subnet's VPC", async () => {
        const [base, g] = await Promise.all([plans["base"]!, plans["graviton"]!]);
        const lookup = g.calls.find((c) => c.token === "aws:ec2/getAmi:getAmi");
        const filters = lookup?.inputs["filters"] as { name: string; values: string[] }[];
        assert.deepEqual(filters.find((f) => f.name === "architecture")?.values, ["arm64"]);
        assert.notEqual(resource(g, INSTANCE).inputs["ami"], resource(base, INSTANCE).inputs["ami"]);
        // ignoreChanges keeps the AMI in state even through a replacement; a new architecture must be
        // a new instance resource, or an x86_64 image would boot on an arm64 type.
        assert.equal(resource(base, INSTANCE).name, "host-instance");
        assert.equal(resource(g, INSTANCE).name, "host-instance-arm64");

        const subnetLookup = g.calls.find((c) => c.token === "aws:ec2/getSubnet:getSubnet");
        assert.deepEqual(subnetLookup?.inputs, { id: "subnet-0123456789abcdef0" });
        assert.match(String(resource(g, SG).inputs["vpcId"]), /^vpc-/);
        assert.equal(resource(g, INSTANCE).inputs["subnetId"], "subnet-0123456789abcdef0");
        assert.equal(resource(g, INSTANCE).inputs["keyName"], "ops-2026");
        const ssh = (resource(g, SG).inputs["ingress"] as { fromPort: number; protocol: string; cidrBlocks: string[] }[]).filter(
            (r) => r.fromPort === 22,
        );
        assert.deepEqual(
            ssh.map((r) => [r.protocol, r.cidrBlocks]),
            [["tcp", ["198.51.100.0/24"]]],
        );
    });

    it("a pinned AMI is used as given, without a lookup, and its changes are not ignored", async () => {
        const pinned = await plans["pinned"]!;
        assert.equal(pinned.calls.filter((c) => c.token === "aws:ec2/getAmi:getAmi").length, 0);
        assert.equal(resource(pinned, INSTANCE).inputs["ami"], "ami-0123456789abcdef0");
        assert.equal(resource(pinned, INSTANCE).options.ignoreChanges, undefined);
        assert.equal(pinned.outputs["amiId"], "ami-0123456789abcdef0");
    });
});
