// The host's secrets as SSM Parameter Store SecureString parameters, one per secret, under a path of
// their own per stack. The values stay Pulumi secrets end to end: they enter as secret outputs, the
// provider marks `value` secret too (additionalSecretOutputs), so state holds them encrypted and
// `pulumi preview` shows [secret]. What leaves this component is names, ARNs and versions.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";
import { SECRET_NAME, secretParameterName } from "../units/secrets";

export interface HostSecretsArgs {
    /** The project, the first part of each parameter's path, e.g. `coreos-containers`. */
    readonly project: string;
    /** The stack, the second part, e.g. `prod`: stacks sharing an account and region never share a parameter. */
    readonly stack: string;
    /** Secret name → its value, e.g. `{ "grafana-admin": config secret }`; each value is made a Pulumi secret here. */
    readonly values: Readonly<Record<string, pulumi.Input<string>>>;
    /** A customer-managed KMS key's ARN, e.g. `arn:aws:kms:eu-west-1:123456789012:key/…`; none: the account's `aws/ssm` key. */
    readonly kmsKeyArn?: string;
    /** Tags on every parameter, e.g. `{ environment: "prod" }`. */
    readonly tags?: Readonly<Record<string, string>>;
}

/** One secret's parameter, as the host asks for it. */
export interface HostSecretParameter {
    readonly name: string;
    readonly arn: string;
    readonly version: number;
}

export class HostSecrets extends pulumi.ComponentResource {
    /** Secret name → its parameter's name, ARN and version (a new value is a new version). */
    public readonly parameters: pulumi.Output<Record<string, HostSecretParameter>>;
    /** The parameters' ARNs, sorted by secret name: what the host's role may read. */
    public readonly arns: pulumi.Output<string>[];

    constructor(name: string, args: HostSecretsArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:host:HostSecrets", name, {}, opts);
        const bad = Object.keys(args.values).find((s) => !SECRET_NAME.test(s));
        if (bad !== undefined) throw new pulumi.ResourceError(`[values] ${JSON.stringify(bad)} is not a secret name`, this);
        if (args.kmsKeyArn !== undefined && !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/.test(args.kmsKeyArn))
            throw new pulumi.ResourceError("[kmsKeyArn] must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)", this);

        const entries = Object.keys(args.values)
            .sort()
            .map((secret) => {
                const parameter = new aws.ssm.Parameter(
                    `${name}-${secret}`,
                    {
                        name: secretParameterName(args.project, args.stack, secret),
                        type: "SecureString",
                        // Standard tier: values up to 4 KB, no charge; units/secrets.ts checks the size first.
                        tier: "Standard",
                        value: pulumi.secret(args.values[secret]!),
                        ...(args.kmsKeyArn ? { keyId: args.kmsKeyArn } : {}),
                        // Fixed text: a description change would make a new version, and so a new host.
                        description: `${args.project} secret ${secret} of stack ${args.stack}`,
                        tags: { ...(args.tags ?? {}) },
                    },
                    { parent: this },
                );
                return { secret, parameter };
            });
        this.arns = entries.map((e) => e.parameter.arn);
        this.parameters = pulumi
            .all(entries.map((e) => pulumi.all([e.parameter.name, e.parameter.arn, e.parameter.version])))
            .apply((resolved) =>
                Object.fromEntries(resolved.map(([pname, arn, version], i) => [entries[i]!.secret, { name: pname, arn, version }])),
            );
        this.registerOutputs({ parameters: this.parameters });
    }
}
