// The Flatcar host: AMI lookup, instance role, security group, instance, and an Elastic IP that
// follows the host across replacements, once the new host passed the cutover gate (components/cutover.ts).
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { HOST_TAG_KEY, HostCutover, hostTagValue, hostTeardown, reportKey, userDataSha256 } from "./cutover";
import { HostPort, ingressRules } from "../units/exposure";

export { publishedPorts } from "../units/exposure";
export type { HostPort } from "../units/exposure";

/** Flatcar's AMI publisher. */
export const FLATCAR_OWNER = "075585003325";

/**
 * IMDSv2's response hop limit. 1: the token a PUT gets back cannot cross the host's forwarding into a
 * bridged container (one more hop), so containers cannot obtain the instance role's credentials
 * ("By default, the response to PUT requests has a response hop limit (time to live) of 1 at the IP
 * protocol level", EC2 User Guide, "How Instance Metadata Service Version 2 works"; the hop limit 2 that
 * container hosts often set is what let containers in). The host's own scripts are zero hops away.
 * test/imds.test.ts proves both sides on a real kernel.
 */
export const IMDS_PUT_RESPONSE_HOP_LIMIT = 1;

export interface CoreOsHostArgs {
    /** The rendered user-data, exactly as the instance should receive it: text, or base64 of the bytes (see `userDataEncoding`). */
    readonly userData: pulumi.Input<string>;
    /**
     * `text` (default): `userData` goes to the instance's `userData`, readable in the console and in
     * `pulumi preview`. `base64`: it is base64 of binary user-data (a gzip'd cloud-config) and goes to
     * `userDataBase64`. Given as a plain value so the instance's inputs are known when it is declared.
     */
    readonly userDataEncoding?: "text" | "base64";
    /** ARN of the artifact object the host may read, e.g. `arn:aws:s3:::bucket/artifacts/<sha>.tar.gz`. */
    readonly artifactObjectArn: pulumi.Input<string>;
    /** ARNs of other objects the host reads at boot, e.g. its Ignition config `arn:aws:s3:::bucket/ignition/<sha>.json`. None by default. */
    readonly otherObjectArns?: readonly pulumi.Input<string>[];
    /** Ports the units publish on the host and who may reach each (see `publishedPorts`); the security group lets exactly those in. */
    readonly ports: readonly HostPort[];
    /** ARNs of the SSM parameters holding this host's secrets, e.g. `arn:aws:ssm:eu-west-1:123456789012:parameter/coreos-containers/prod/db`; the role may read exactly these. */
    readonly secretParameterArns?: readonly pulumi.Input<string>[];
    /** The customer-managed KMS key the secrets are encrypted with, e.g. `arn:aws:kms:eu-west-1:123456789012:key/…`; none: the account's `aws/ssm` key. */
    readonly secretsKmsKeyArn?: string;
    /** e.g. `t3.large`. */
    readonly instanceType: string;
    /** Root volume size in GiB, e.g. `30`. */
    readonly rootVolumeSizeGiB: number;
    /** Flatcar channel for the AMI lookup, e.g. `stable`. */
    readonly flatcarChannel: string;
    /** Pin an AMI instead of looking one up, e.g. `ami-0123456789abcdef0`. */
    readonly ami?: string;
    /** CIDRs allowed to SSH in, e.g. `["203.0.113.0/24"]`; empty means no SSH rule at all. */
    readonly sshCidrs: readonly string[];
    /** EC2 key pair name, e.g. `ops-2026`. */
    readonly keyName?: string;
    /** Subnet id, e.g. `subnet-0123456789abcdef0`; the default VPC's default subnet otherwise. */
    readonly subnetId?: string;
    /** Tags on every resource, e.g. `{ environment: "dev" }`. */
    readonly tags?: Readonly<Record<string, string>>;
    /** The stack's AWS region, for the cutover steps, e.g. `eu-west-1`. */
    readonly region: string;
    /** The bucket the host uploads its readiness report to (the artifact's), e.g. `coreos-containers-1a2b3c`. */
    readonly reportBucket: pulumi.Input<string>;
    /** That bucket's ARN, for the role's `s3:PutObject` on exactly its report key, e.g. `arn:aws:s3:::coreos-containers-1a2b3c`. */
    readonly reportBucketArn: pulumi.Input<string>;
    /** How long a cutover waits for the new host's readiness report, in minutes, e.g. `20`. */
    readonly readyTimeoutMinutes: number;
    /**
     * The Availability Zone to launch in when no `subnetId` is set (the default VPC's default subnet there),
     * e.g. `eu-west-1a`; with a subnet, the subnet's zone is the host's.
     */
    readonly availabilityZone?: string;
    /**
     * The stack's data volume ({@link DataVolume}), e.g. `{ volumeId: volume.volumeId, volumeArn: volume.volumeArn }`:
     * the role may attach exactly it, to this stack's hosts; the cutover's retire step detaches it from the old host.
     */
    readonly dataVolume?: {
        readonly volumeId: pulumi.Input<string>;
        readonly volumeArn: pulumi.Input<string>;
        /** The volume's customer-managed KMS key, when it has one: attaching needs a grant on it. */
        readonly kmsKeyArn?: string;
    };
}

/** Graviton instance families (`m7g`, `t4g`, `c6gn`, `x2gd`, `a1`) run arm64. */
export function architectureFor(instanceType: string): "arm64" | "x86_64" {
    const family = instanceType.split(".")[0] ?? "";
    return /^(a1|[a-z]+\d+g[a-z]*)$/.test(family) ? "arm64" : "x86_64";
}

export class CoreOsHost extends pulumi.ComponentResource {
    public readonly instanceId: pulumi.Output<string>;
    public readonly publicIp: pulumi.Output<string>;
    public readonly amiId: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;
    /** SHA-256 of the user-data bytes EC2 hands the instance: the host's report names it. */
    public readonly userDataSha256: pulumi.Output<string>;

    constructor(name: string, args: CoreOsHostArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:host:CoreOsHost", name, {}, opts);
        if (!args.instanceType) throw new pulumi.ResourceError("[instanceType] must be set", this);
        const encoding = args.userDataEncoding ?? "text";
        if (encoding !== "text" && encoding !== "base64")
            throw new pulumi.ResourceError('[userDataEncoding] must be "text" or "base64"', this);
        if (!(args.rootVolumeSizeGiB >= 8))
            throw new pulumi.ResourceError("[rootVolumeSizeGiB] must be at least 8 (Flatcar's image needs it)", this);
        const badPort = args.ports.find((p) => !Number.isInteger(p.port) || p.port < 1 || p.port > 65535);
        if (badPort)
            throw new pulumi.ResourceError(
                `[ports] ${badPort.port}/${badPort.protocol} (published by ${badPort.publishedBy}) is not a port from 1 to 65535`,
                this,
            );
        const tags = { ...(args.tags ?? {}) };
        const parent = { parent: this };

        this.amiId = args.ami
            ? pulumi.output(args.ami)
            : aws.ec2.getAmiOutput(
                  {
                      owners: [FLATCAR_OWNER],
                      mostRecent: true,
                      filters: [
                          { name: "name", values: [`Flatcar-${args.flatcarChannel}-*`] },
                          { name: "architecture", values: [architectureFor(args.instanceType)] },
                          { name: "virtualization-type", values: ["hvm"] },
                      ],
                  },
                  parent,
              ).id;

        const role = new aws.iam.Role(
            `${name}-role`,
            {
                assumeRolePolicy: JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
                }),
                tags,
            },
            parent,
        );
        // The host reads exactly the objects it was built for: the artifact, and its Ignition config when
        // it has one. Containers cannot reach these credentials (IMDS hop limit 1, below).
        const readArtifact = new aws.iam.RolePolicy(
            `${name}-read-artifact`,
            {
                role: role.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Action: ["s3:GetObject"], Resource: [args.artifactObjectArn, ...(args.otherObjectArns ?? [])] },
                    ],
                }),
            },
            parent,
        );
        // ... and writes exactly one: the readiness report for the user-data it boots with (status/<sha>.json).
        this.userDataSha256 = pulumi
            .output(args.userData)
            .apply((userData) => userDataSha256(encoding === "base64" ? { userDataBase64: userData } : { userData }));
        const writeReport = new aws.iam.RolePolicy(
            `${name}-write-report`,
            {
                role: role.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Effect: "Allow",
                            Action: ["s3:PutObject"],
                            Resource: [pulumi.interpolate`${args.reportBucketArn}/${this.userDataSha256.apply(reportKey)}`],
                        },
                    ],
                }),
            },
            parent,
        );
        const readSecrets = secretsPolicy(args, name, role, parent);
        // The stack's hosts carry this tag; the cutover's retire and teardown steps find them by it.
        const hostTag = hostTagValue(pulumi.getProject(), pulumi.getStack(), name);
        const attachData = args.dataVolume ? dataVolumePolicy(args.dataVolume, hostTag, name, role, parent) : undefined;
        const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, parent);

        // A security group lives in one VPC and must be the subnet's: without a subnet both default to
        // the default VPC; with one, the group follows the subnet's VPC.
        const vpcId = args.subnetId ? aws.ec2.getSubnetOutput({ id: args.subnetId }, parent).vpcId : undefined;
        const sg = new aws.ec2.SecurityGroup(
            `${name}-sg`,
            {
                description: "coreos-containers host: published container ports and SSH from named CIDRs only",
                ...(vpcId ? { vpcId } : {}),
                // Inline rules: the group holds exactly these, and a rule added by hand is removed on the next up.
                // A port is open only to whom its exposure names (units/exposure.ts); none by default.
                ingress: ingressRules(args.ports, args.sshCidrs).map((r) => ({ ...r, cidrBlocks: [...r.cidrBlocks] })),
                egress: [
                    {
                        description: "all outbound (registries, S3, Flatcar updates)",
                        protocol: "-1",
                        fromPort: 0,
                        toPort: 0,
                        cidrBlocks: ["0.0.0.0/0"],
                    },
                ],
                tags,
            },
            parent,
        );

        const teardown = hostTeardown(`${name}-teardown`, { region: args.region, hostTag, usedByHosts: [sg, profile] }, parent);

        // Left at AWS defaults on purpose:
        // - instanceInitiatedShutdownBehavior "stop": a host that powers itself off keeps its disk.
        // - disableApiTermination: the retire step terminates the old instance after every cutover;
        //   termination protection would fail it.
        // - monitoring (1-minute CloudWatch metrics) and creditSpecification (burstable types only,
        //   t3 defaults to unlimited): cost choices, not correctness; add config when someone needs them.
        // The architecture is part of the instance's name. ignoreChanges (below) makes Pulumi reuse
        // the AMI recorded in state, even for a replacement; moving to a Graviton type would then boot
        // an x86_64 image on arm64. A new name is a new resource, created from the fresh lookup.
        const arch = architectureFor(args.instanceType);
        const instanceName = arch === "x86_64" ? `${name}-instance` : `${name}-instance-${arch}`;
        const instance = new aws.ec2.Instance(
            instanceName,
            {
                ami: this.amiId,
                instanceType: args.instanceType,
                ...(encoding === "base64" ? { userDataBase64: args.userData } : { userData: args.userData }),
                // coreos-cloudinit applies units on every boot, but a changed document should meet a fresh
                // disk, not units and files left behind by the previous one: replace, don't stop/start. Ignition
                // runs only on a first boot, so a stopped and started host would ignore a new config. The flag
                // covers userDataBase64 too (terraform-provider-aws ec2_instance.go CustomizeDiff).
                userDataReplaceOnChange: true,
                iamInstanceProfile: profile.name,
                vpcSecurityGroupIds: [sg.id],
                ...(args.subnetId ? { subnetId: args.subnetId } : {}),
                // Pinned so that every new host lands where the data volume is. Without a subnet, RunInstances'
                // Placement.AvailabilityZone picks the default VPC's default subnet in that zone (EC2 User Guide,
                // "Default subnets": "If you launch an instance into a default VPC without specifying a subnet, ...
                // we choose a default subnet"; the zone narrows the choice to that zone's).
                ...(args.availabilityZone && !args.subnetId ? { availabilityZone: args.availabilityZone } : {}),
                ...(args.keyName ? { keyName: args.keyName } : {}),
                // IMDSv2 only, and only for the host itself: see IMDS_PUT_RESPONSE_HOP_LIMIT.
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: IMDS_PUT_RESPONSE_HOP_LIMIT },
                rootBlockDevice: {
                    encrypted: true,
                    volumeSize: args.rootVolumeSizeGiB,
                    volumeType: "gp3",
                    deleteOnTermination: true,
                    tags,
                },
                tags: { ...tags, Name: name, [HOST_TAG_KEY]: hostTag },
            },
            {
                parent: this,
                // The host fetches the artifact (and its Ignition config) and its secrets, and writes its report
                // at boot: the grants must name the new objects first. The teardown step exists before any
                // host, so destroy finds them all.
                dependsOn: [
                    readArtifact,
                    writeReport,
                    teardown,
                    ...(readSecrets ? [readSecrets] : []),
                    ...(attachData ? [attachData] : []),
                ],
                // The engine never terminates a host (not on replace, not with --continue-on-error or
                // --target, not on destroy): the cutover's retire and teardown steps do, in that order.
                retainOnDelete: true,
                // A looked-up AMI moves with every Flatcar release; without this, any `up` after a release
                // would replace the host. Flatcar updates a running host itself. The cost: a replacement
                // (user-data change) reuses the AMI recorded in state, which Flatcar unpublishes after
                // about nine months; the create then fails and the old host keeps running. Set `ami` to
                // a current id to move on: a pinned AMI is not ignored, so changing it replaces the host.
                ignoreChanges: args.ami ? [] : ["ami"],
            },
        );

        // The address is bound through the Eip's own `instance` input: a replacement updates it in
        // place to the new instance. A separate EipAssociation would be created for the new host and
        // then the old one deleted, detaching the address (create-before-delete ordering). The update
        // waits for the cutover gate: the address moves only to a host that reported ready.
        const cutover = new HostCutover(
            `${name}-cutover`,
            {
                region: args.region,
                reportBucket: args.reportBucket,
                userDataSha256: this.userDataSha256,
                hostTag,
                readyTimeoutMinutes: args.readyTimeoutMinutes,
                instance,
                ...(args.dataVolume ? { dataVolumeId: args.dataVolume.volumeId } : {}),
                bindAddress: (gate) =>
                    new aws.ec2.Eip(
                        `${name}-eip`,
                        { domain: "vpc", instance: instance.id, tags: { ...tags, Name: name } },
                        { parent: this, dependsOn: [gate] },
                    ),
            },
            parent,
        );
        const eip = cutover.address;

        this.instanceId = instance.id;
        this.publicIp = eip.publicIp;
        this.securityGroupId = sg.id;
        this.registerOutputs({
            instanceId: this.instanceId,
            publicIp: this.publicIp,
            amiId: this.amiId,
            securityGroupId: this.securityGroupId,
        });
    }
}

/**
 * The host attaches the data volume itself (a VolumeAttachment cannot follow a create-before-delete
 * replacement, pulumi/pulumi-aws#2769). AttachVolume is authorized against both the volume and the
 * instance (EC2 User Guide, example policies, "Attach and detach volumes": one statement per resource
 * type), so: the one volume by its ARN, and only instances carrying this stack's host tag (the tag is set
 * at launch, so the new host has it when it boots). DescribeVolumes has no resource-level permissions
 * (Service Authorization Reference, Amazon EC2: no resource type for DescribeVolumes), hence `*`; it only
 * reads. No DetachVolume: the cutover's retire step detaches, with the credentials of `pulumi up`.
 * A volume under a customer-managed key needs a KMS grant for the instance when it is attached: the
 * `kms:CreateGrant` that the default key policy's "Allow attachment of persistent resources" statement
 * gives, only for AWS resources (`kms:GrantIsForAWSResource`) and only through EC2 (KMS Developer Guide,
 * "Default key policy" and "How Amazon EBS uses AWS KMS"). The account's default EBS key needs none.
 */
function dataVolumePolicy(
    volume: { readonly volumeArn: pulumi.Input<string>; readonly kmsKeyArn?: string },
    hostTag: string,
    name: string,
    role: aws.iam.Role,
    opts: pulumi.CustomResourceOptions,
): aws.iam.RolePolicy {
    return new aws.iam.RolePolicy(
        `${name}-attach-data-volume`,
        {
            role: role.id,
            policy: pulumi.output(volume.volumeArn).apply((arn) => {
                // arn:<partition>:ec2:<region>:<account>:volume/<id>: the instances live in the same partition, region and account.
                const [, partition, , region, account] = arn.split(":");
                return JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Sid: "AttachTheDataVolume", Effect: "Allow", Action: ["ec2:AttachVolume"], Resource: [arn] },
                        {
                            Sid: "ToThisStacksHosts",
                            Effect: "Allow",
                            Action: ["ec2:AttachVolume"],
                            Resource: [`arn:${partition}:ec2:${region}:${account}:instance/*`],
                            Condition: { StringEquals: { [`aws:ResourceTag/${HOST_TAG_KEY}`]: hostTag } },
                        },
                        { Sid: "SeeTheVolume", Effect: "Allow", Action: ["ec2:DescribeVolumes"], Resource: "*" },
                        ...(volume.kmsKeyArn
                            ? [
                                  {
                                      Sid: "GrantTheVolumesKeyToTheInstance",
                                      Effect: "Allow",
                                      Action: ["kms:CreateGrant"],
                                      Resource: [volume.kmsKeyArn],
                                      Condition: {
                                          Bool: { "kms:GrantIsForAWSResource": "true" },
                                          StringEquals: { "kms:ViaService": `ec2.${region}.amazonaws.com` },
                                      },
                                  },
                              ]
                            : []),
                    ],
                });
            }),
        },
        opts,
    );
}

/**
 * The role may read exactly this host's secret parameters (`ssm:GetParameters` on their ARNs, the
 * action the host's script calls), and, with a customer-managed key, decrypt only through SSM and only
 * for those parameters: Parameter Store passes `PARAMETER_ARN` as the encryption context
 * (KMS Developer Guide, "How AWS Systems Manager Parameter Store uses AWS KMS"). With the account's
 * `aws/ssm` key no KMS statement is needed: its key policy lets the account's principals decrypt
 * through SSM (Systems Manager User Guide, "Restricting access to Parameter Store parameters"), so
 * `ssm:GetParameters` is the only gate.
 */
function secretsPolicy(
    args: CoreOsHostArgs,
    name: string,
    role: aws.iam.Role,
    opts: pulumi.CustomResourceOptions,
): aws.iam.RolePolicy | undefined {
    const arns = args.secretParameterArns ?? [];
    if (arns.length === 0) return undefined;
    return new aws.iam.RolePolicy(
        `${name}-read-secrets`,
        {
            role: role.id,
            policy: pulumi.all([...arns]).apply((resolved) => {
                const parameters = [...resolved].sort();
                const region = parameters[0]!.split(":")[3];
                return JSON.stringify({
                    Version: "2012-10-17",
                    Statement: [
                        { Effect: "Allow", Action: ["ssm:GetParameters"], Resource: parameters },
                        ...(args.secretsKmsKeyArn
                            ? [
                                  {
                                      Effect: "Allow",
                                      Action: ["kms:Decrypt"],
                                      Resource: [args.secretsKmsKeyArn],
                                      Condition: {
                                          StringEquals: {
                                              "kms:ViaService": `ssm.${region}.amazonaws.com`,
                                              "kms:EncryptionContext:PARAMETER_ARN": parameters,
                                          },
                                      },
                                  },
                              ]
                            : []),
                    ],
                });
            }),
        },
        opts,
    );
}
