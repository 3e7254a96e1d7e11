// The artifact's home: a private S3 bucket, and the packed artifact under a content-addressed key.
import * as pulumi from "@pulumi/pulumi";
import * as aws from "@pulumi/aws";

export interface ArtifactBundleArgs {
    /** The packed artifact: its relative path on this machine and its SHA-256, e.g. `{ path: ".cache/artifacts/ab12….tar.gz", sha256: "ab12…" }`. */
    readonly packed: pulumi.Input<{ readonly path: string; readonly sha256: string }>;
    /** Days to keep artifacts that are no longer current (old versions), e.g. `30`. */
    readonly retentionDays: number;
    /** Tags on the bucket and the object, e.g. `{ team: "ops" }`. */
    readonly tags?: Readonly<Record<string, string>>;
    /**
     * Key prefixes of other content-addressed objects kept next to the artifact, whose old versions
     * expire like old artifacts, e.g. `["ignition/"]` (see {@link ArtifactUploads}). None by default.
     */
    readonly otherPrefixes?: readonly string[];
}

/** `artifacts/<sha256>.tar.gz`: the key changes exactly when the bytes do. */
export function artifactKey(sha256: string): string {
    return `artifacts/${sha256}.tar.gz`;
}

export class ArtifactBundle extends pulumi.ComponentResource {
    public readonly bucketName: pulumi.Output<string>;
    public readonly bucketArn: pulumi.Output<string>;
    public readonly key: pulumi.Output<string>;
    public readonly sha256: pulumi.Output<string>;
    /** ARN of the artifact object, for a least-privilege `s3:GetObject` grant. */
    public readonly objectArn: pulumi.Output<string>;

    constructor(name: string, args: ArtifactBundleArgs, opts: pulumi.ComponentResourceOptions = {}) {
        super("coreos-containers:artifact:ArtifactBundle", name, {}, opts);
        if (!Number.isInteger(args.retentionDays) || args.retentionDays < 1) {
            throw new pulumi.ResourceError("[retentionDays] must be a whole number of days, at least 1", this);
        }
        const badPrefix = (args.otherPrefixes ?? []).find((p) => !/^[a-z0-9-]+\/$/.test(p) || p === "artifacts/");
        if (badPrefix !== undefined)
            throw new pulumi.ResourceError(
                `[otherPrefixes] ${JSON.stringify(badPrefix)} is not a folder like "ignition/" other than artifacts/`,
                this,
            );
        const tags = { ...(args.tags ?? {}) };
        const parent = { parent: this };

        const bucket = new aws.s3.Bucket(`${name}-bucket`, { bucketPrefix: "coreos-containers-", forceDestroy: false, tags }, parent);
        const publicAccess = new aws.s3.BucketPublicAccessBlock(
            `${name}-public-access`,
            {
                bucket: bucket.id,
                blockPublicAcls: true,
                blockPublicPolicy: true,
                ignorePublicAcls: true,
                restrictPublicBuckets: true,
            },
            parent,
        );
        new aws.s3.BucketServerSideEncryptionConfiguration(
            `${name}-encryption`,
            {
                bucket: bucket.id,
                rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
            },
            parent,
        );
        const versioning = new aws.s3.BucketVersioning(
            `${name}-versioning`,
            {
                bucket: bucket.id,
                versioningConfiguration: { status: "Enabled" },
            },
            parent,
        );
        new aws.s3.BucketLifecycleConfiguration(
            `${name}-lifecycle`,
            {
                bucket: bucket.id,
                // A new artifact has a new key; Pulumi deletes the old object, which in a versioned bucket
                // leaves a non-current version (kept `retentionDays` for rollbacks) behind a delete marker.
                // Other prefixes get a rule of their own only when given, so a stack without them keeps its rules as they were.
                rules: [
                    {
                        id: "expire-old-artifacts",
                        status: "Enabled",
                        filter: { prefix: "artifacts/" },
                        noncurrentVersionExpiration: { noncurrentDays: args.retentionDays },
                        expiration: { expiredObjectDeleteMarker: true },
                        abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
                    },
                    ...(args.otherPrefixes ?? []).map((prefix) => ({
                        id: `expire-old-${prefix.slice(0, -1)}`,
                        status: "Enabled",
                        filter: { prefix },
                        noncurrentVersionExpiration: { noncurrentDays: args.retentionDays },
                        expiration: { expiredObjectDeleteMarker: true },
                    })),
                ],
            },
            { parent: this, dependsOn: [versioning] },
        );
        new aws.s3.BucketPolicy(
            `${name}-tls-only`,
            {
                bucket: bucket.id,
                policy: pulumi.jsonStringify({
                    Version: "2012-10-17",
                    Statement: [
                        {
                            Sid: "DenyInsecureTransport",
                            Effect: "Deny",
                            Principal: "*",
                            Action: "s3:*",
                            Resource: [bucket.arn, pulumi.interpolate`${bucket.arn}/*`],
                            Condition: { Bool: { "aws:SecureTransport": "false" } },
                        },
                    ],
                }),
                // S3 refuses concurrent changes to a bucket's policy and its public-access block.
            },
            { parent: this, dependsOn: [publicAccess] },
        );

        const packed = pulumi.output(args.packed);
        this.sha256 = packed.sha256;
        const object = new aws.s3.BucketObjectv2(
            `${name}-object`,
            {
                bucket: bucket.id,
                key: packed.sha256.apply(artifactKey),
                source: packed.path.apply((p) => new pulumi.asset.FileAsset(p)),
                contentType: "application/gzip",
                serverSideEncryption: "AES256",
                tags,
            },
            { parent: this, dependsOn: [versioning] },
        );

        // From the object, not from the hash: whatever names the key (the user-data) waits for the upload.
        this.key = object.key;
        this.bucketName = bucket.bucket;
        this.bucketArn = bucket.arn;
        this.objectArn = pulumi.interpolate`${bucket.arn}/${object.key}`;
        this.registerOutputs({ bucketName: this.bucketName, key: this.key, sha256: this.sha256, objectArn: this.objectArn });
    }
}
