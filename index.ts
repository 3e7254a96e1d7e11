// The Pulumi program: config → the user's host (hosts/) → typed units → artifact → host.
//
// `pulumi up` runs this file; `npm start` runs this same file under the SDK's mock runtime.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { PROJECT, checkStackConfig, unknownContainerProblems, unknownPortProblems } from "./config";
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
} from "./units";
import { formatFor } from "./formats";
import { ArtifactBundle, CoreOsHost, HostSecretParameter, HostSecrets, artifactKey } from "./components";
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

const format = formatFor("cloud-config");

// Secrets: each one a container takes becomes an SSM parameter of this stack; the user-data names its
// version, never its value. `users` maps each secret to the containers that take it.
const STACK = pulumi.getStack();
const users = secretUsers(containers);
const usedSecrets = Object.keys(users).filter((s) => SECRET_NAME.test(s));

/** The host's units and its user-data for an artifact location. Throws a ValidationError listing every problem. */
function renderUserData(location: ArtifactLocation, secrets: SecretParameters): { units: readonly RenderedUnit[]; userData: string } {
    const content = renderHostContent(
        buildHost({ containers, artifact: location, sshAuthorizedKeys: config.sshAuthorizedKeys, scripts, secrets }),
        files,
    );
    const userData = format.render(content, { bucket: location.bucket, region: location.region });
    return { units: content.units, userData: userData.bytes.toString("utf8") };
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
function checkBeforeDeploy(): void {
    const problems: Problem[] = [...configProblems, ...loaded.problems];
    if (hostSpec) {
        problems.push(
            ...unknownContainerProblems(
                config.containers,
                hostSpec.containers.map((c) => c.name),
            ),
            ...unknownPortProblems(config.containers, hostSpec.containers),
            ...secretValueProblems(containers, config.secrets),
            ...ruleLimitProblems(ingressRules(publishedPorts(containers), config.sshCidrs), config.securityGroupRuleLimit),
        );
        try {
            renderUserData(WORST_CASE_ARTIFACT, WORST_CASE_SECRETS);
        } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
            problems.push(...e.problems);
        }
    }
    if (problems.length) throw new PlanProblems(problems);
}
checkBeforeDeploy();

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

const artifact = new ArtifactBundle("artifact", {
    packed,
    retentionDays: config.artifactRetentionDays,
    tags: config.tags,
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

const rendered = pulumi
    .all([artifact.bucketName, artifact.key, artifact.sha256, secretParameters])
    .apply(([bucket, key, sha256, secrets]) => renderUserData({ bucket, key, sha256, region: config.region }, secrets));

const host = new CoreOsHost("host", {
    userData: rendered.userData,
    artifactObjectArn: artifact.objectArn,
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
});

const sha256 = (text: string) => crypto.createHash("sha256").update(text, "utf8").digest("hex");

export const publicIp = host.publicIp;
export const instanceId = host.instanceId;
export const amiId = host.amiId;
export const artifactBucket = artifact.bucketName;
export const artifactObjectKey = artifact.key;
export const userDataSha256 = rendered.userData.apply(sha256);
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
