// The cutover: the address moves to a new host only once that host says it is ready, and the old host
// is retired only once the address has moved. Pulumi has no health gate of its own (pulumi/pulumi#20619),
// so the gate is a step in the dependency graph: instance → gate → Elastic IP → retire.
//
// Why it is built this way (engine facts at CLI 3.248, /work/notes/pulumi-cutover.md):
// - A failed step cancels the update before the engine's end-of-update deletes run
//   (deployment_executor.go performPostSteps; step_executor.go cancelDueToError), and since CLI 3.46 a
//   pending delete (the replaced instance, `delete: true` in state) runs only at the end of a later
//   successful update (commit a3128e50be, "Pending deletes are no longer executed before everything else").
//   A failed gate therefore leaves the address on the old host and the old host in place.
// - `--continue-on-error` and `--target <instance URN>` can still run that pending delete while the
//   address is on the old host. So the instance is `retainOnDelete`: the engine never calls
//   TerminateInstances (step.go DeleteStep.Apply, `s.old.RetainOnDelete`); old hosts are terminated by
//   the retire step below, found by their tag, after the address moved; `pulumi destroy` terminates
//   them through the teardown step. The engine reads the flag from the *old* state: see the README's
//   upgrade note.
// - The steps are `command:local:Command`s (@pulumi/command 1.2.1), not a dynamic provider: a Command
//   does nothing in a preview (commandController.go: "If in preview, don't run the command") or under
//   the mock runtime, a failed `create` fails the update and leaves nothing in state, so the next
//   `up` runs it again; a dynamic provider serialises its code into every state (`~__provider` diffs,
//   pulumi/pulumi#12401) and cannot capture the AWS SDK v3 (pulumi/pulumi#13960).
// - `triggers: [instance.id]` replaces gate and retire for every new instance (triggers are
//   replace-on-change), so their `create` runs once per host; `update: "true"` makes any other input
//   change (a timeout, the script path) a no-op update instead of a second run. Neither has a `delete`:
//   replacing them at the end of an update must do nothing.
// - Commands run with the working directory of the provider process, which the engine starts in the
//   project folder (pkg/engine/deployment.go: GetPwdMain → plugin context pwd; plugin.go `cmd.Dir = pwd`),
//   so the relative command line is the same in every state file and on every machine.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import * as command from "@pulumi/command";
import * as crypto from "node:crypto";
import {
    HOST_TAG_KEY,
    cutoverCommand,
    gateEnvironment,
    hostTagValue,
    reportKey,
    retireEnvironment,
    teardownEnvironment,
} from "../scripts/cutover/contract";

export { HOST_TAG_KEY, hostTagValue, reportKey };

/**
 * The bytes EC2 hands the instance (what IMDS `latest/user-data` returns): `userData` as UTF-8, or
 * `userDataBase64` decoded. The host hashes these bytes for its report; the plan must hash the same.
 */
export function ec2UserDataBytes(input: { readonly userData: string } | { readonly userDataBase64: string }): Buffer {
    return "userDataBase64" in input ? Buffer.from(input.userDataBase64, "base64") : Buffer.from(input.userData, "utf8");
}

/** Hex SHA-256 of {@link ec2UserDataBytes}. */
export function userDataSha256(input: { readonly userData: string } | { readonly userDataBase64: string }): string {
    return crypto.createHash("sha256").update(ec2UserDataBytes(input)).digest("hex");
}

export interface HostCutoverArgs {
    /** The stack's AWS region (`aws:region`), passed to the steps: they call S3 and EC2 there, e.g. `eu-west-1`. */
    readonly region: string;
    /** The bucket the host reports to (the artifact's), e.g. `coreos-containers-1a2b3c`. */
    readonly reportBucket: pulumi.Input<string>;
    /** SHA-256 of the user-data bytes the new instance gets ({@link userDataSha256}): names its report. */
    readonly userDataSha256: pulumi.Input<string>;
    /** The value of the host tag, {@link hostTagValue}, e.g. `coreos-containers/prod/host`. */
    readonly hostTag: string;
    /** How long the gate waits for the report, in minutes, e.g. `20`. */
    readonly readyTimeoutMinutes: number;
    /** The new host: tagged with the host tag, `retainOnDelete`, depending on the {@link hostTeardown} step. */
    readonly instance: aws.ec2.Instance;
    /**
     * Creates the address bound to the instance, depending on the given step (the gate). The caller
     * creates it, under its own parent, so the address's URN stays where it was.
     */
    readonly bindAddress: (after: pulumi.Resource) => aws.ec2.Eip;
    /**
     * The stack's data volume, e.g. `vol-0123456789abcdef0`: retire stops the old hosts, detaches it from them,
     * terminates them, and waits (up to `readyTimeoutMinutes`) for the new host to report it mounted and the
     * containers on it healthy. None: retire terminates the old hosts at once.
     */
    readonly dataVolumeId?: pulumi.Input<string>;
}

/**
 * The teardown step: created before any host (the instance depends on it) and never replaced (no
 * triggers), so its `delete` runs exactly when the stack is destroyed, or when the step is removed from
 * the program (which therefore must not happen while hosts run). `pulumi destroy` runs the `delete` and
 * environment stored in state (commandController.go Delete), so no `--run-program` is needed.
 * `usedByHosts` (the security group, the instance profile) depend the other way: destroy deletes them
 * only after this step has terminated the hosts.
 */
export function hostTeardown(
    name: string,
    args: { readonly region: string; readonly hostTag: string; readonly usedByHosts: readonly pulumi.Resource[] },
    opts: { readonly parent: pulumi.Resource },
): command.local.Command {
    return new command.local.Command(
        name,
        {
            create: "true",
            update: "true",
            delete: cutoverCommand("teardown"),
            environment: teardownEnvironment({ region: args.region, hostTag: args.hostTag }),
            addPreviousOutputInEnv: false,
        },
        { parent: opts.parent, dependsOn: [...args.usedByHosts] },
    );
}

/** instance → gate → address → retire. */
export class HostCutover extends pulumi.ComponentResource {
    public readonly instance: aws.ec2.Instance;
    public readonly address: aws.ec2.Eip;
    /** Waits for the new instance's readiness report; the address depends on it. */
    public readonly gate: command.local.Command;
    /** Terminates the other hosts once the address is on the new one. */
    public readonly retire: command.local.Command;

    constructor(name: string, args: HostCutoverArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:host:HostCutover", name, {}, opts);
        if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(args.region))
            throw new pulumi.ResourceError(`[region] ${JSON.stringify(args.region)} is not an AWS region`, this);
        if (!Number.isInteger(args.readyTimeoutMinutes) || args.readyTimeoutMinutes < 1)
            throw new pulumi.ResourceError("[readyTimeoutMinutes] must be a whole number of minutes, at least 1", this);
        if (!args.hostTag) throw new pulumi.ResourceError("[hostTag] must be set", this);

        this.instance = args.instance;
        const instanceId = this.instance.id;

        this.gate = new command.local.Command(
            `${name}-gate`,
            {
                create: cutoverCommand("gate"),
                update: "true",
                triggers: [instanceId],
                environment: gateEnvironment({
                    region: args.region,
                    bucket: args.reportBucket,
                    userDataSha256: args.userDataSha256,
                    reportKey: pulumi.output(args.userDataSha256).apply(reportKey),
                    instanceId,
                    timeoutSeconds: args.readyTimeoutMinutes * 60,
                }),
                addPreviousOutputInEnv: false,
            },
            { parent: this },
        );

        this.address = args.bindAddress(this.gate);

        this.retire = new command.local.Command(
            `${name}-retire`,
            {
                create: cutoverCommand("retire"),
                update: "true",
                triggers: [instanceId],
                environment: retireEnvironment({
                    region: args.region,
                    hostTag: args.hostTag,
                    instanceId,
                    allocationId: this.address.allocationId,
                    ...(args.dataVolumeId
                        ? {
                              dataVolume: {
                                  volumeId: pulumi.output(args.dataVolumeId),
                                  bucket: pulumi.output(args.reportBucket),
                                  reportKey: pulumi.output(args.userDataSha256).apply(reportKey),
                                  userDataSha256: pulumi.output(args.userDataSha256),
                                  timeoutSeconds: args.readyTimeoutMinutes * 60,
                              },
                          }
                        : {}),
                }),
                addPreviousOutputInEnv: false,
            },
            { parent: this, dependsOn: [this.address] },
        );

        this.registerOutputs({});
    }
}
