// The Flatcar host: AMI lookup, instance role, security group, instance, and an Elastic IP that
// follows the host across replacements.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

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
    /** The rendered cloud-config, exactly as the instance should receive it. */
    readonly userData: pulumi.Input<string>;
    /** ARN of the artifact object the host may read, e.g. `arn:aws:s3:::bucket/artifacts/<sha>.tar.gz`. */
    readonly artifactObjectArn: pulumi.Input<string>;
    /** Ports the units publish on the host; the security group opens exactly these. */
    readonly ports: readonly HostPort[];
    /** e.g. `t3.large`. */
    readonly instanceType: string;
    /** Root volume size in GiB, e.g. `30`. */
    readonly rootVolumeSizeGiB: number;
    /** Flatcar channel for the AMI lookup, e.g. `stable`. */
    readonly flatcarChannel: string;
    /** Pin an AMI instead of looking one up, e.g. `ami-0123456789abcdef0`. */
    readonly ami?: string;
    /** CIDRs allowed to SSH in; empty means no SSH rule at all. */
    readonly sshCidrs: readonly string[];
    /** EC2 key pair name, e.g. `ops-2026`. */
    readonly keyName?: string;
    /** Subnet id, e.g. `subnet-0123456789abcdef0`. */
    readonly subnetId?: string;
    /** Tags on every resource. */
    readonly tags?: Readonly<Record<string, string>>;
}

/** Graviton instance families (`m7g`, `t4g`, `c6gn`, `a1`) run arm64. */
export function architectureFor(instanceType: string): "arm64" | "x86_64" {
    const family = instanceType.split(".")[0] ?? "";
    return /^(a1|[a-z]+\d+g[a-z]*)$/.test(family) ? "arm64" : "x86_64";
}

export class CoreOsHost extends pulumi.ComponentResource {
    public readonly instanceId: pulumi.Output<string>;
    public readonly publicIp: pulumi.Output<string>;
    public readonly amiId: pulumi.Output<string>;
    public readonly securityGroupId: pulumi.Output<string>;

    constructor(name: string, args: CoreOsHostArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:host:CoreOsHost", name, {}, opts);
        if (!args.instanceType) throw new pulumi.ResourceError("[instanceType] must be set", this);
        if (!(args.rootVolumeSizeGiB >= 8)) throw new pulumi.ResourceError("[rootVolumeSizeGiB] must be at least 8 (Flatcar's image needs it)", this);
        const tags = { ...(args.tags ?? {}) };
        const parent = { parent: this };

        this.amiId = args.ami
            ? pulumi.output(args.ami)
            : aws.ec2.getAmiOutput({
                owners: [FLATCAR_OWNER],
                mostRecent: true,
                filters: [
                    { name: "name", values: [`Flatcar-${args.flatcarChannel}-*`] },
                    { name: "architecture", values: [architectureFor(args.instanceType)] },
                    { name: "virtualization-type", values: ["hvm"] },
                ],
            }, parent).id;

        const role = new aws.iam.Role(`${name}-role`, {
            assumeRolePolicy: JSON.stringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }],
            }),
            tags,
        }, parent);
        new aws.iam.RolePolicy(`${name}-read-artifact`, {
            role: role.id,
            policy: pulumi.jsonStringify({
                Version: "2012-10-17",
                Statement: [{ Effect: "Allow", Action: ["s3:GetObject"], Resource: [args.artifactObjectArn] }],
            }),
        }, parent);
        const profile = new aws.iam.InstanceProfile(`${name}-profile`, { role: role.name, tags }, parent);

        const sg = new aws.ec2.SecurityGroup(`${name}-sg`, {
            description: "coreos-containers host: published container ports and SSH from named CIDRs only",
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
            egress: [{ description: "all outbound", protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
            tags,
        }, parent);

        const instance = new aws.ec2.Instance(`${name}-instance`, {
            ami: this.amiId,
            instanceType: args.instanceType,
            userData: args.userData,
            userDataReplaceOnChange: true,
            iamInstanceProfile: profile.name,
            vpcSecurityGroupIds: [sg.id],
            ...(args.subnetId ? { subnetId: args.subnetId } : {}),
            ...(args.keyName ? { keyName: args.keyName } : {}),
            metadataOptions: { httpEndpoint: "enabled", httpTokens: "required", httpPutResponseHopLimit: 2 },
            rootBlockDevice: { encrypted: true, volumeSize: args.rootVolumeSizeGiB, volumeType: "gp3", deleteOnTermination: true },
            tags: { ...tags, Name: name },
        }, {
            parent: this,
            // A looked-up AMI moves with every Flatcar release; Flatcar updates a running host itself.
            // Only a pinned AMI is a change the user asked for.
            ignoreChanges: args.ami ? [] : ["ami"],
        });

        // The address is bound through the Eip's own `instance` input: a replacement updates it in
        // place to the new instance. A separate EipAssociation would be created for the new host and
        // then the old one deleted, detaching the address (create-before-delete ordering).
        const eip = new aws.ec2.Eip(`${name}-eip`, { domain: "vpc", instance: instance.id, tags: { ...tags, Name: name } }, parent);

        this.instanceId = instance.id;
        this.publicIp = eip.publicIp;
        this.securityGroupId = sg.id;
        this.registerOutputs({ instanceId: this.instanceId, publicIp: this.publicIp, amiId: this.amiId });
    }
}
