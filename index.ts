// The Pulumi program: config → the user's host (hosts/) → typed units → artifact → host.
//
// `pulumi up` runs this file; `npm start` runs this same file under the SDK's mock runtime.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, checkStackConfig, dataVolumeDecision, unknownContainerProblems, unknownPortProblems } from "./config";
import {
    ARTIFACT_IMAGES_DIR,
    ArtifactLocation,
    FileChecks,
    Problem,
    RenderedUnit,
    SECRET_NAME,
    SecretParameters,
    ValidationError,
    applyOverrides,
    buildHost,
    ingressRules,
    publishedPorts,
    renderHostContent,
    ruleLimitProblems,
    secretParameterName,
    secretUsers,
    secretValueProblems,
    usesDataVolume,
} from "./units";
import { RenderedUserData, formatFor } from "./formats";
import {
    ArtifactBundle,
    ArtifactUploads,
    CoreOsHost,
    DataVolume,
    HostSecretParameter,
    HostSecrets,
    artifactKey,
    hostAvailabilityZone,
    hostTagValue,
} from "./components";
import { readHostScripts } from "./host-scripts";
import { PackEntry, listFiles, pack } from "./packing/pack";
import { PlanProblems } from "./program/errors";
import { loadHosts } from "./program/hosts";

// Paths are resolved against the project folder and kept relative in state, so a plan made on a
// laptop and one made in CI agree.
const PROJECT_DIR = __dirname;
const fromProject = (p: string) => path.resolve(PROJECT_DIR, p);
const PACK_DIR = ".cache/artifacts";

function secretConfigKeys(): string[] {
    // The SDK keeps the list of secret keys next to the config; isConfigSecret is not in its typings.
    const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
    return isSecret ? Object.keys(pulumi.runtime.allConfig()).filter((k) => isSecret(k)) : [];
}

const { config, problems: configProblems } = checkStackConfig(pulumi.runtime.allConfig(), secretConfigKeys());
const loaded = loadHosts(fromProject(config.hostsDir), PROJECT_DIR);
const hostSpec = loaded.hosts[0]?.spec;
const containers = hostSpec ? applyOverrides(hostSpec.containers, config.containers) : [];
const scripts = readHostScripts();

const artifactDir = fromProject(config.artifactDir);
const imageDir = fromProject(config.imageDir);
const files: FileChecks = {
    artifactFileExists: (rel) => fs.existsSync(path.join(artifactDir, rel)),
    imageFileExists: (file) => fs.statSync(path.join(imageDir, file), { throwIfNoEntry: false })?.isFile() ?? false,
};

const format = formatFor(config.userDataFormat);
const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

interface HostUserData {
    readonly units: readonly RenderedUnit[];
    readonly userData: RenderedUserData;
}

// Secrets: each one a container takes becomes an SSM parameter of this stack; the user-data names its
// version, never its value. `users` maps each secret to the containers that take it.
const STACK = pulumi.getStack();
const users = secretUsers(containers);
const usedSecrets = Object.keys(users).filter((s) => SECRET_NAME.test(s));

// The data volume: made when a container has a data mount (or the stack keeps one with dataVolume: true).
const dataVolumeChoice = dataVolumeDecision(config, usesDataVolume(containers));
/** A volume id of the longest form (`vol-` and 17 hex digits), for the worst-case render. */
const WORST_CASE_VOLUME_ID = `vol-${"0".repeat(17)}`;

/** The host's units and its user-data for an artifact location. Throws a ValidationError listing every problem. */
function renderUserData(location: ArtifactLocation, secrets: SecretParameters, dataVolumeId?: string): HostUserData {
    const content = renderHostContent(
        buildHost({
            containers,
            artifact: location,
            sshAuthorizedKeys: config.sshAuthorizedKeys,
            scripts,
            secrets,
            ...(dataVolumeId !== undefined ? { dataVolume: { volumeId: dataVolumeId } } : {}),
        }),
        files,
    );
    return { units: content.units, userData: format.render(content, { bucket: location.bucket, region: location.region }) };
}

// Check everything before any resource exists: the definitions, the rendered document and its
// size. The bucket name is not known yet, so the check renders with the longest possible one.
const WORST_CASE_ARTIFACT: ArtifactLocation = {
    bucket: "x".repeat(63),
    key: artifactKey("0".repeat(64)),
    sha256: "0".repeat(64),
    region: config.region,
};
/** Versions are not known before the parameters exist: check the size with ten digits (ten billion edits of one parameter). */
const WORST_CASE_SECRETS: SecretParameters = Object.fromEntries(
    usedSecrets.map((s) => [s, { name: secretParameterName(PROJECT, STACK, s), version: 9_999_999_999 }]),
);
function checkBeforeDeploy(): HostUserData {
    const problems: Problem[] = [...configProblems, ...loaded.problems];
    let probe: HostUserData | undefined;
    if (hostSpec) {
        problems.push(
            ...unknownContainerProblems(
                config.containers,
                hostSpec.containers.map((c) => c.name),
            ),
            ...unknownPortProblems(config.containers, hostSpec.containers),
            ...secretValueProblems(containers, config.secrets),
            ...ruleLimitProblems(ingressRules(publishedPorts(containers), config.sshCidrs), config.securityGroupRuleLimit),
            ...dataVolumeChoice.problems,
        );
        try {
            probe = renderUserData(WORST_CASE_ARTIFACT, WORST_CASE_SECRETS, dataVolumeChoice.wanted ? WORST_CASE_VOLUME_ID : undefined);
        } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            problems.push(...e.problems);
        }
    }
    if (problems.length || !probe) throw new PlanProblems(problems);
    return probe;
}
// The worst case also says, before any resource exists, what the real render has: the objects to
// upload (their count does not depend on the location) and the user-data's encoding. The real
// document is never longer, so if the worst case fits as text, so does it.
const probe = checkBeforeDeploy();

// The artifact: every file under artifactDir, plus the tarball of each image the units load.
const entries: PackEntry[] = [
    ...(fs.existsSync(artifactDir) ? listFiles(artifactDir) : []).map((rel) => ({
        archivePath: rel,
        sourcePath: path.join(artifactDir, rel),
    })),
    ...[...new Set(containers.flatMap((c) => (c.image.kind === "tarball" ? [c.image.file] : [])))].sort().map((file) => ({
        archivePath: `${ARTIFACT_IMAGES_DIR}/${file}`,
        sourcePath: path.join(imageDir, file),
    })),
];
const packed = pack(entries, fromProject(PACK_DIR)).then((r) => ({
    sha256: r.sha256,
    path: path.relative(PROJECT_DIR, r.path).split(path.sep).join("/"),
}));

const uploadPrefixes = [...new Set(probe.userData.uploads.map((u) => u.key.slice(0, u.key.lastIndexOf("/") + 1)))].sort();
const artifact = new ArtifactBundle("artifact", {
    packed,
    retentionDays: config.artifactRetentionDays,
    tags: config.tags,
    ...(uploadPrefixes.length ? { otherPrefixes: uploadPrefixes } : {}),
});

// The values enter here and leave only as secret inputs of the parameters (HostSecrets makes them secrets).
const hostSecrets =
    usedSecrets.length > 0
        ? new HostSecrets("secrets", {
              project: PROJECT,
              stack: STACK,
              values: Object.fromEntries(usedSecrets.map((s) => [s, config.secrets[s]!])),
              ...(config.secretsKmsKeyArn ? { kmsKeyArn: config.secretsKmsKeyArn } : {}),
              tags: config.tags,
          })
        : undefined;
const secretParameters: pulumi.Output<Record<string, HostSecretParameter>> = hostSecrets
    ? hostSecrets.parameters
    : pulumi.output<Record<string, HostSecretParameter>>({});

// Its inputs are stack config only (never the user-data), so replacing the host leaves it as it is.
// The zone is the subnet's when subnetId is set, else availabilityZone (config.ts made sure one is).
const hostZone = dataVolumeChoice.wanted
    ? hostAvailabilityZone({ subnetId: config.subnetId, availabilityZone: config.availabilityZone })
    : undefined;
const dataVolume =
    dataVolumeChoice.wanted && hostZone
        ? new DataVolume("data", {
              availabilityZone: hostZone,
              sizeGiB: config.dataVolumeSizeGiB,
              iops: config.dataVolumeIops,
              throughputMiBps: config.dataVolumeThroughputMiBps,
              ...(config.dataVolumeKmsKeyArn ? { kmsKeyArn: config.dataVolumeKmsKeyArn } : {}),
              ...(config.dataVolumeSnapshotId ? { snapshotId: config.dataVolumeSnapshotId } : {}),
              // The host component below is named "host": the same tag its instances carry.
              hostTag: hostTagValue(PROJECT, STACK, "host"),
              ...(config.snapshots
                  ? {
                        snapshots: {
                            intervalHours: config.snapshotIntervalHours,
                            time: config.snapshotTime,
                            retainCount: config.snapshotRetainCount,
                        },
                    }
                  : {}),
              tags: config.tags,
          })
        : undefined;

/**
 * The real render, as plain strings: Pulumi lifts an output's value into plain data, which would
 * turn a Buffer into an object of its bytes. `userData` is the text EC2 receives, or base64 of its
 * bytes when the worst case needed base64.
 */
interface RenderedForHost {
    readonly units: readonly RenderedUnit[];
    readonly userData: string;
    readonly uploads: readonly { readonly name: string; readonly key: string; readonly content: string }[];
}
const encoding = probe.userData.encoding;
function forHost(r: HostUserData): RenderedForHost {
    const received = r.userData;
    // A worst case that needed base64 (gzip) gives base64 even if the real document just fits as
    // text: EC2 then receives the plain document, which is valid. The reverse cannot happen.
    if (encoding === "text" && received.encoding !== "text") throw new Error("the user-data needs base64 although its worst case did not");
    return {
        units: r.units,
        userData: received.bytes.toString(encoding === "base64" ? "base64" : "utf8"),
        uploads: received.uploads,
    };
}

const rendered = pulumi
    .all([artifact.bucketName, artifact.key, artifact.sha256, secretParameters, dataVolume?.volumeId ?? ""])
    .apply(([bucket, key, sha256, secrets, volumeId]) =>
        forHost(renderUserData({ bucket, key, sha256, region: config.region }, secrets, volumeId || undefined)),
    );

/** The real render's upload of this name (the worst case had the same ones). */
function upload(r: RenderedForHost, name: string): { key: string; content: string } {
    const found = r.uploads.find((u) => u.name === name);
    if (!found) throw new Error(`the ${format.name} user-data has no upload named ${name}, although its worst case had one`);
    return found;
}
// Created only for a format that uploads something, so a cloud-config stack's plan is as it was.
const uploads = probe.userData.uploads.length
    ? new ArtifactUploads(
          "artifact-uploads",
          {
              bucket: artifact.bucketName,
              bucketArn: artifact.bucketArn,
              objects: probe.userData.uploads.map((u) => ({
                  name: u.name,
                  key: rendered.apply((r) => upload(r, u.name).key),
                  content: rendered.apply((r) => upload(r, u.name).content),
              })),
              tags: config.tags,
          },
          { dependsOn: [artifact] },
      )
    : undefined;

// The instance's user-data, taken through the uploaded objects' keys so that the instance is created
// after them (the stub names them).
const userDataInput = pulumi.all([rendered.userData, pulumi.all(uploads?.keys ?? [])]).apply(([userData]) => userData);

const host = new CoreOsHost("host", {
    userData: userDataInput,
    userDataEncoding: encoding,
    artifactObjectArn: artifact.objectArn,
    ...(uploads ? { otherObjectArns: uploads.objectArns } : {}),
    // The security group lets in whom the typed definitions (and the stack's overrides) name: one source of truth.
    ports: publishedPorts(containers),
    ...(hostSecrets ? { secretParameterArns: hostSecrets.arns } : {}),
    ...(config.secretsKmsKeyArn ? { secretsKmsKeyArn: config.secretsKmsKeyArn } : {}),
    instanceType: config.instanceType,
    rootVolumeSizeGiB: config.rootVolumeSizeGiB,
    flatcarChannel: config.flatcarChannel,
    ami: config.ami,
    sshCidrs: config.sshCidrs,
    keyName: config.keyName,
    subnetId: config.subnetId,
    tags: config.tags,
    region: config.region,
    reportBucket: artifact.bucketName,
    reportBucketArn: artifact.bucketArn,
    readyTimeoutMinutes: config.readyTimeoutMinutes,
    ...(config.availabilityZone ? { availabilityZone: config.availabilityZone } : {}),
    ...(dataVolume
        ? {
              dataVolume: {
                  volumeId: dataVolume.volumeId,
                  volumeArn: dataVolume.volumeArn,
                  ...(config.dataVolumeKmsKeyArn ? { kmsKeyArn: config.dataVolumeKmsKeyArn } : {}),
              },
          }
        : {}),
});

export const publicIp = host.publicIp;
export const instanceId = host.instanceId;
export const amiId = host.amiId;
export const artifactBucket = artifact.bucketName;
/** The persistent data volume's id, when the stack has one (e.g. for a restore: README, "Restoring from a snapshot"). */
export const dataVolumeId = dataVolume?.volumeId;
export const artifactObjectKey = artifact.key;
/** Over the bytes EC2 hands the instance: the host's readiness report names the same hash. */
export const userDataSha256 = host.userDataSha256;
/** Unit name → SHA-256 of its text: `pulumi preview` shows which units changed. */
export const unitSha256 = rendered.units.apply((units) => Object.fromEntries(units.map((u) => [u.name, sha256(u.content)])));
/** Secret name → its SSM parameter, version and the containers that take it (no values). */
export const secrets = secretParameters.apply((params) =>
    Object.fromEntries(
        Object.keys(params)
            .sort()
            .map((s) => [s, { parameter: params[s]!.name, version: params[s]!.version, usedBy: users[s] ?? [] }]),
    ),
);
