// The persistent data volume: one encrypted gp3 EBS volume per host that outlives every host
// replacement, and its scheduled snapshots.
//
// Why it is built this way:
// - A volume attachment cannot follow a create-before-delete replacement (pulumi/pulumi-aws#2769: the new
//   attachment is created while the old host still holds the volume, and fails). So there is no
//   `aws.ec2.VolumeAttachment`: the new host attaches the volume itself with its role, once the cutover's
//   retire step has stopped the old host and detached the volume (scripts/cutover.ts).
// - The volume's inputs are config only (size, IOPS, throughput, key, zone, tags): nothing that changes
//   with the user-data, so replacing the host never touches it. A change of the zone or the key would
//   replace it (terraform-provider-aws ebs_volume.go: availability_zone, encrypted, kms_key_id,
//   snapshot_id are ForceNew), which `protect` turns into a failed `up` instead of a new, empty volume.
// - EBS has no deletion-protection flag for volumes (@pulumi/aws 7.x `ebs.Volume` has none), so:
//   `protect: true` — "ensures this resource cannot be deleted" (@pulumi/pulumi resource.d.ts): the engine
//   refuses to delete or replace it, on `up` and on `destroy`, until `pulumi state unprotect`;
//   `retainOnDelete: true` — "the provider's Delete method will not be called" (same file): even once
//   unprotected and removed from the program or destroyed, the volume stays in AWS, to be deleted there on
//   purpose (README, "Deleting the data volume on purpose");
//   `finalSnapshot: true` — the provider snapshots before a delete (ebs.Volume docs): a last guard should a
//   later change drop retainOnDelete.
// - Snapshots: AWS Data Lifecycle Manager, not AWS Backup: EBS snapshots of one tagged volume on a schedule
//   with a count retention is exactly DLM's job, with no vault or plan to manage and no charge beyond the
//   snapshots (EBS User Guide, "Automate backups with Amazon Data Lifecycle Manager"). The policy targets the
//   volume by a tag only this stack's volume carries.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { HOST_TAG_KEY } from "./cutover";

/** The tag DLM finds this stack's data volume by; its value is the host tag's (unique per stack and host). */
export const DATA_VOLUME_TAG_KEY = "coreos-containers:data-volume";

/** DLM's service role policy (EBS User Guide, "AWS managed policies for Amazon Data Lifecycle Manager"). */
export const DLM_SERVICE_ROLE_POLICY_ARN = "arn:aws:iam::aws:policy/service-role/AWSDataLifecycleManagerServiceRole";

/** DLM's CreateRule intervals, in hours (DLM API Reference, CreateRule.Interval). */
export const SNAPSHOT_INTERVAL_HOURS = [1, 2, 3, 4, 6, 8, 12, 24] as const;

export interface DataVolumeSnapshots {
    /** Hours between snapshots: 1, 2, 3, 4, 6, 8, 12 or 24, e.g. `24`. */
    readonly intervalHours: number;
    /** The first snapshot of the day, UTC `hh:mm`, e.g. `"03:00"`. */
    readonly time: string;
    /** How many snapshots to keep, 1 to 1000, e.g. `14`. */
    readonly retainCount: number;
}

export interface DataVolumeArgs {
    /** The Availability Zone of the host, e.g. `eu-west-1a`: the volume attaches only to instances there. */
    readonly availabilityZone: pulumi.Input<string>;
    /** Size in GiB, 1 to 16384, e.g. `20`. */
    readonly sizeGiB: number;
    /** Provisioned IOPS, gp3: 3000 to 16000, e.g. `3000`. */
    readonly iops: number;
    /** Throughput in MiB/s, gp3: 125 to 1000, e.g. `125`. */
    readonly throughputMiBps: number;
    /** A customer-managed KMS key ARN, e.g. `arn:aws:kms:eu-west-1:123456789012:key/…`; the account's default EBS key otherwise. */
    readonly kmsKeyArn?: string;
    /**
     * Create the volume from this snapshot, e.g. `snap-0123456789abcdef0` (a restore). Setting it on an existing
     * volume replaces the volume, which `protect` refuses until the volume is unprotected (README).
     */
    readonly snapshotId?: string;
    /** The host tag's value ({@link hostTagValue}), e.g. `coreos-containers/prod/host`: tags the volume and names its snapshots. */
    readonly hostTag: string;
    /** Scheduled snapshots; none when absent. */
    readonly snapshots?: DataVolumeSnapshots;
    /** Tags on every resource, e.g. `{ environment: "prod" }`. */
    readonly tags?: Readonly<Record<string, string>>;
}

export class DataVolume extends pulumi.ComponentResource {
    public readonly volumeId: pulumi.Output<string>;
    public readonly volumeArn: pulumi.Output<string>;
    public readonly availabilityZone: pulumi.Output<string>;
    public readonly volume: aws.ebs.Volume;
    /** The snapshot schedule, when snapshots are on. */
    public readonly snapshotPolicy?: aws.dlm.LifecyclePolicy;

    constructor(name: string, args: DataVolumeArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:host:DataVolume", name, {}, opts);
        const whole = (n: number, min: number, max: number) => Number.isInteger(n) && n >= min && n <= max;
        if (!whole(args.sizeGiB, 1, 16384)) throw new pulumi.ResourceError("[sizeGiB] must be a whole number from 1 to 16384", this);
        if (!whole(args.iops, 3000, 16000)) throw new pulumi.ResourceError("[iops] must be a whole number from 3000 to 16000 (gp3)", this);
        if (!whole(args.throughputMiBps, 125, 1000))
            throw new pulumi.ResourceError("[throughputMiBps] must be a whole number from 125 to 1000 (gp3)", this);
        if (!args.hostTag) throw new pulumi.ResourceError("[hostTag] must be set", this);
        const s = args.snapshots;
        if (s) {
            if (!(SNAPSHOT_INTERVAL_HOURS as readonly number[]).includes(s.intervalHours))
                throw new pulumi.ResourceError(`[snapshots.intervalHours] must be one of ${SNAPSHOT_INTERVAL_HOURS.join(", ")}`, this);
            if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(s.time))
                throw new pulumi.ResourceError("[snapshots.time] must be UTC hh:mm, e.g. 03:00", this);
            if (!whole(s.retainCount, 1, 1000)) throw new pulumi.ResourceError("[snapshots.retainCount] must be from 1 to 1000", this);
        }
        const tags = { ...(args.tags ?? {}) };

        this.volume = new aws.ebs.Volume(
            `${name}-volume`,
            {
                availabilityZone: args.availabilityZone,
                type: "gp3",
                size: args.sizeGiB,
                iops: args.iops,
                throughput: args.throughputMiBps,
                encrypted: true,
                ...(args.kmsKeyArn ? { kmsKeyId: args.kmsKeyArn } : {}),
                // snapshot_id is Optional+Computed+ForceNew (ebs_volume.go): removing it later changes nothing.
                ...(args.snapshotId ? { snapshotId: args.snapshotId } : {}),
                finalSnapshot: true,
                tags: { ...tags, Name: `${args.hostTag} data`, [HOST_TAG_KEY]: args.hostTag, [DATA_VOLUME_TAG_KEY]: args.hostTag },
            },
            { parent: this, protect: true, retainOnDelete: true },
        );

        if (s) {
            const role = new aws.iam.Role(
                `${name}-snapshots-role`,
                {
                    assumeRolePolicy: JSON.stringify({
                        Version: "2012-10-17",
                        Statement: [{ Effect: "Allow", Principal: { Service: "dlm.amazonaws.com" }, Action: "sts:AssumeRole" }],
                    }),
                    tags,
                },
                { parent: this },
            );
            const managed = new aws.iam.RolePolicyAttachment(
                `${name}-snapshots-policy`,
                { role: role.name, policyArn: DLM_SERVICE_ROLE_POLICY_ARN },
                { parent: this },
            );
            this.snapshotPolicy = new aws.dlm.LifecyclePolicy(
                `${name}-snapshots`,
                {
                    description: dlmText(`coreos-containers data volume snapshots for ${args.hostTag}`),
                    executionRoleArn: role.arn,
                    state: "ENABLED",
                    policyDetails: {
                        resourceTypes: ["VOLUME"],
                        targetTags: { [DATA_VOLUME_TAG_KEY]: args.hostTag },
                        schedules: [
                            {
                                name: dlmText(`every ${s.intervalHours} h from ${s.time.replace(":", "")} UTC keep ${s.retainCount}`),
                                createRule: { interval: s.intervalHours, intervalUnit: "HOURS", times: s.time },
                                retainRule: { count: s.retainCount },
                                // The volume's tags (host, stack) go to its snapshots, so a restore finds them by tag.
                                copyTags: true,
                                tagsToAdd: { "coreos-containers:snapshot-of": args.hostTag },
                            },
                        ],
                    },
                    tags,
                },
                { parent: this, dependsOn: [managed] },
            );
        }

        this.volumeId = this.volume.id;
        this.volumeArn = this.volume.arn;
        this.availabilityZone = this.volume.availabilityZone;
        this.registerOutputs({ volumeId: this.volumeId, volumeArn: this.volumeArn });
    }
}

/** DLM takes only `[0-9A-Za-z _-]` in a policy's description and a schedule's name (DLM API Reference, CreateLifecyclePolicy). */
export const DLM_TEXT = /^[0-9A-Za-z _-]+$/;
const dlmText = (text: string) =>
    text
        .replace(/[^0-9A-Za-z _-]/g, " ")
        .replace(/ +/g, " ")
        .trim();

/**
 * The host's Availability Zone, fixed: the subnet's when `subnetId` is set (looked up), else
 * `availabilityZone`. Both set: they must agree, checked once the subnet's zone is known (at `up`, and in
 * the plan). Neither: undefined (config.ts reports it when a data volume needs one).
 */
export function hostAvailabilityZone(
    args: { readonly subnetId?: string; readonly availabilityZone?: string },
    opts: pulumi.InvokeOptions = {},
): pulumi.Output<string> | undefined {
    if (!args.subnetId) return args.availabilityZone ? pulumi.output(args.availabilityZone) : undefined;
    const subnetId = args.subnetId;
    return aws.ec2.getSubnetOutput({ id: subnetId }, opts).availabilityZone.apply((zone) => {
        if (args.availabilityZone && zone !== args.availabilityZone)
            throw new pulumi.RunError(
                `coreos-containers:availabilityZone is ${args.availabilityZone}, but coreos-containers:subnetId ${subnetId} is in ${zone}: remove availabilityZone (the subnet decides), or set it to ${zone}`,
            );
        return zone;
    });
}
