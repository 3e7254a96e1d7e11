// The Flatcar host: AMI lookup, instance role, security group, instance, and an Elastic IP that
// follows the host across replacements.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import type { ContainerUnit } from "../units/model";

/** Flatcar's AMI publisher. */
export const FLATCAR_OWNER = "075585003325";

/** One port the host publishes, from the typed units. */
export interface HostPort {
    readonly port: number;
    readonly protocol: "tcp" | "udp";
    /** Who publishes it, for the rule's description, e.g. `fluentd`. */
    readonly publishedBy: string;
}

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
    /** Ports the units publish on the host (see {@link publishedPorts}); the security group opens exactly these. */
    readonly ports: readonly HostPort[];
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
}

/** Graviton instance families (`m7g`, `t4g`, `c6gn`, `x2gd`, `a1`) run arm64. */
export function architectureFor(instanceType: string): "arm64" | "x86_64" {
    const family = instanceType.split(".")[0] ?? "";
    return /^(a1|[a-z]+\d+g[a-z]*)$/.test(family) ? "arm64" : "x86_64";
}

/**
 * The host ports the containers publish, one per (port, protocol), sorted by port then protocol so
 * that reordering the definitions does not show up as a security-group diff. The first container
 * to publish a port names the rule; two containers on one port is a conflict validation reports.
 */
export function publishedPorts(containers: readonly ContainerUnit[]): HostPort[] {
    const ports = new Map<string, HostPort>();
    for (const c of containers) {
        for (const p of c.ports ?? []) {
            const protocol = p.protocol ?? "tcp";
            const key = `${p.host}/${protocol}`;
            if (!ports.has(key)) ports.set(key, { port: p.host, protocol, publishedBy: c.name });
        }
    }
    return [...ports.values()].sort((a, b) => a.port - b.port || (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0));
}

export class CoreOsHost extends pulumi.ComponentResource {
    public readonly instanceId: pulumi.Output<string>;
    public readonly publicIp: pulumi.Output<string>;
    public readonly amiId: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;

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
        // it has one. IMDS hop limit 2 (below) lets containers reach these credentials too; this grant
        // is why that is acceptable.
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
                ingress: [
                    ...args.ports.map((p) => ({
                        description: `published by ${p.publishedBy}`,
                        protocol: p.protocol,
                        fromPort: p.port,
                        toPort: p.port,
                        cidrBlocks: ["0.0.0.0/0"],
                    })),
                    ...(args.sshCidrs.length > 0
                        ? [{ description: "SSH", protocol: "tcp", fromPort: 22, toPort: 22, cidrBlocks: [...args.sshCidrs] }]
                        : []),
                ],
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

        // Left at AWS defaults on purpose:
        // - instanceInitiatedShutdownBehavior "stop": a host that powers itself off keeps its disk.
        // - disableApiTermination: a user-data change replaces the host, which must delete the old
        //   instance; termination protection would fail every such update halfway.
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
                ...(args.keyName ? { keyName: args.keyName } : {}),
                // IMDSv2 only; hop limit 2 so a process in a bridged container still gets a token.
                metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
                rootBlockDevice: {
                    encrypted: true,
                    volumeSize: args.rootVolumeSizeGiB,
                    volumeType: "gp3",
                    deleteOnTermination: true,
                    tags,
                },
                tags: { ...tags, Name: name },
            },
            {
                parent: this,
                // The host fetches the artifact (and its Ignition config) at boot: its read grant must name the new objects first.
                dependsOn: [readArtifact],
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
        // then the old one deleted, detaching the address (create-before-delete ordering).
        const eip = new aws.ec2.Eip(`${name}-eip`, { domain: "vpc", instance: instance.id, tags: { ...tags, Name: name } }, parent);

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
