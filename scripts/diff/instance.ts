// What a change to each aws.ec2.Instance input does to the running host.
// Pure: no Pulumi, no I/O.
//
// Source: the `aws_instance` schema of terraform-provider-aws (internal/service/ec2/ec2_instance.go),
// which @pulumi/aws bridges: an argument marked `ForceNew` replaces the instance; every other argument
// is updated on the running instance. `user_data` is ForceNew only when `user_data_replace_on_change`
// is true (a CustomizeDiff). Re-check this table when @pulumi/aws moves a major version; the
// `pulumi preview` comment on the pull request is the provider's own verdict and wins over this one.

export type InputEffect = "replace" | "update";

export interface InputRule {
    readonly effect: InputEffect;
    /** What it means for the host, for the reviewer. */
    readonly note: string;
}

const replace = (note = "EC2 cannot change it on a running instance"): InputRule => ({ effect: "replace", note });
const update = (note = "changed on the running instance"): InputRule => ({ effect: "update", note });
const STOP_START = "EC2 stops and starts the instance (same instance and disk, a short outage)";

/** Input path (Pulumi's camelCase; nested with `.`) → effect of a change. */
export const INSTANCE_INPUTS: Readonly<Record<string, InputRule>> = {
    ami: replace("a new AMI means a new instance"),
    associatePublicIpAddress: replace(),
    availabilityZone: replace(),
    capacityReservationSpecification: update(),
    cpuCoreCount: replace(),
    cpuOptions: replace(),
    cpuThreadsPerCore: replace(),
    creditSpecification: update(),
    disableApiStop: update(),
    disableApiTermination: update(),
    ebsBlockDevices: replace(),
    ebsOptimized: replace(),
    enclaveOptions: replace(),
    ephemeralBlockDevices: replace(),
    hibernation: replace(),
    hostId: replace(),
    hostResourceGroupArn: update(),
    iamInstanceProfile: update("the new instance profile is associated with the running instance"),
    instanceInitiatedShutdownBehavior: update(),
    instanceType: update(STOP_START),
    ipv6AddressCount: replace(),
    ipv6Addresses: replace(),
    keyName: replace("the key pair is only read at launch"),
    launchTemplate: replace(),
    maintenanceOptions: update(),
    metadataOptions: update("instance metadata options change on the running instance"),
    monitoring: update(),
    networkInterfaces: replace(),
    placementGroup: replace(),
    placementPartitionNumber: replace(),
    privateDnsNameOptions: replace(),
    privateIp: replace(),
    "rootBlockDevice.deleteOnTermination": update(),
    "rootBlockDevice.encrypted": replace("a root volume cannot be encrypted or decrypted in place"),
    "rootBlockDevice.iops": update("EBS modifies the volume online"),
    "rootBlockDevice.kmsKeyId": replace(),
    "rootBlockDevice.tags": update(),
    "rootBlockDevice.throughput": update("EBS modifies the volume online"),
    "rootBlockDevice.volumeSize": update("EBS grows the volume online; no restart"),
    "rootBlockDevice.volumeType": update("EBS modifies the volume online"),
    secondaryPrivateIps: update(),
    securityGroups: replace(),
    sourceDestCheck: update(),
    subnetId: replace("an instance cannot move to another subnet"),
    tags: update("tags only; the instance keeps running"),
    tenancy: replace(),
    userData: update(STOP_START),
    userDataBase64: update(STOP_START),
    userDataReplaceOnChange: update("the flag itself; takes effect for the next user-data change"),
    volumeTags: update(),
    vpcSecurityGroupIds: update("security groups are swapped on the running instance"),
};

/** A path not in the table: assume the worst and say so. */
export const UNKNOWN_INPUT: InputRule = replace(
    "not in the table of known inputs (scripts/diff/instance.ts): assumed to replace; check the pulumi preview",
);

/** `rootBlockDevice.volumeSize`, `metadataOptions.httpTokens` → the most specific rule that covers the path. */
export function ruleFor(path: string): { key: string; rule: InputRule } {
    const parts = path
        .replace(/\[\d+\]/g, "")
        .split(".")
        .filter(Boolean);
    for (let n = parts.length; n > 0; n--) {
        const key = parts.slice(0, n).join(".");
        const rule = INSTANCE_INPUTS[key];
        if (rule) return { key, rule };
    }
    return { key: parts[0] ?? path, rule: UNKNOWN_INPUT };
}

/**
 * The rule for a changed path on this instance: `userData` replaces when the head plan sets
 * `userDataReplaceOnChange`, as the provider's CustomizeDiff does.
 */
export function effectiveRule(path: string, headInputs: Readonly<Record<string, unknown>>): { key: string; rule: InputRule } {
    const found = ruleFor(path);
    if ((found.key === "userData" || found.key === "userDataBase64") && headInputs["userDataReplaceOnChange"] === true) {
        return { key: found.key, rule: replace("userDataReplaceOnChange is set: new user-data means a new instance") };
    }
    return found;
}
