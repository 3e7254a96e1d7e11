// Objects a user-data format needs next to the artifact (formats/types.ts UploadObject), e.g.
// Ignition's full config: one S3 object each, in the artifact's bucket, under a content-addressed key.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

/** One object: a stable name, and a key and content that may be known only once the bucket exists. */
export interface ArtifactUpload {
    /** Names the resource (`<component>-<name>`), e.g. `ignition-config`; a new key replaces the object. */
    readonly name: string;
    /** Content-addressed key, e.g. `ignition/<sha256>.json`. */
    readonly key: pulumi.Input<string>;
    /** The object's text, e.g. the Ignition config. */
    readonly content: pulumi.Input<string>;
}

export interface ArtifactUploadsArgs {
    /** The artifact bucket's name, e.g. `coreos-containers-1a2b3c`. */
    readonly bucket: pulumi.Input<string>;
    /** The artifact bucket's ARN, for each object's ARN, e.g. `arn:aws:s3:::coreos-containers-1a2b3c`. */
    readonly bucketArn: pulumi.Input<string>;
    /** The objects, e.g. `[{ name: "ignition-config", key, content }]`; at least one. */
    readonly objects: readonly ArtifactUpload[];
    /** Content type of the objects, e.g. `application/json`. */
    readonly contentType?: string;
    /** Tags on every object, e.g. `{ team: "ops" }`. */
    readonly tags?: Readonly<Record<string, string>>;
}

export class ArtifactUploads extends pulumi.ComponentResource {
    /** The objects' ARNs, in the order given, for a least-privilege `s3:GetObject` grant. */
    public readonly objectArns: pulumi.Output<string>[];
    /** The objects' keys, in the order given: whatever names a key waits for its upload. */
    public readonly keys: pulumi.Output<string>[];

    /** `opts.dependsOn` (e.g. the ArtifactBundle, whose bucket versioning must be on first) holds for every object. */
    constructor(name: string, args: ArtifactUploadsArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:artifact:ArtifactUploads", name, {}, opts);
        if (args.objects.length === 0) throw new pulumi.ResourceError("[objects] must name at least one object", this);
        const names = args.objects.map((o) => o.name);
        const bad = names.find((n, i) => !/^[a-z0-9-]+$/.test(n) || names.indexOf(n) !== i);
        if (bad !== undefined)
            throw new pulumi.ResourceError(`[objects] ${JSON.stringify(bad)} is not a unique name of a-z, 0-9 and -`, this);
        const objects = args.objects.map(
            (o) =>
                new aws.s3.BucketObjectv2(
                    `${name}-${o.name}`,
                    {
                        bucket: args.bucket,
                        key: o.key,
                        content: o.content,
                        contentType: args.contentType ?? "application/json",
                        serverSideEncryption: "AES256",
                        tags: { ...(args.tags ?? {}) },
                    },
                    { parent: this, ...(opts.dependsOn ? { dependsOn: opts.dependsOn } : {}) },
                ),
        );
        this.keys = objects.map((o) => o.key);
        this.objectArns = objects.map((o) => pulumi.interpolate`${args.bucketArn}/${o.key}`);
        this.registerOutputs({ keys: this.keys, objectArns: this.objectArns });
    }
}
