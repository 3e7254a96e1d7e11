// The tests' own host and artifact, apart from the user's hosts/ and artifact/: editing those never
// breaks a test. Pure helpers to build a host from the fixture containers, and the config that
// points a planned stack at the fixtures.
import * as path from "node:path";
import { readHostScripts } from "../../host-scripts";
import { buildHost } from "../../units/host";
import { usesData } from "../../units/dataVolume";
import { dataPath } from "../../units/layout";
import type { ContainerUnit, HostDefinition } from "../../units/model";
import type { ArtifactLocation } from "../../units/provision";
import { SECRET_NAME, SecretParameters, secretParameterName, secretUsers } from "../../units/secrets";
import type { FileChecks } from "../../units/validate";
import { seedContainers } from "../fixtures/hosts/seed";

export * from "../fixtures/hosts/seed";

export const PROJECT_DIR = path.resolve(__dirname, "..", "..");

/** The fixture folders, relative to the project (config keys take project-relative folders). */
export const FIXTURE_HOSTS_DIR = "test/fixtures/hosts";
export const FIXTURE_ARTIFACT_DIR = "test/fixtures/artifact";

/** Config that plans a stack with the fixture host and artifact instead of the user's. */
export const FIXTURE_CONFIG: Readonly<Record<string, string>> = {
    "coreos-containers:hostsDir": FIXTURE_HOSTS_DIR,
    "coreos-containers:artifactDir": FIXTURE_ARTIFACT_DIR,
};

/** The scripts of host-scripts/, as the program reads them. */
export const HOST_SCRIPTS = readHostScripts();

/** A fixed artifact location (any 64 hex digits do). */
export const FIXTURE_ARTIFACT: ArtifactLocation = {
    bucket: "coreos-containers-artifacts-test",
    key: `artifacts/${"ab".repeat(32)}.tar.gz`,
    sha256: "ab".repeat(32),
    region: "eu-west-1",
};

/** Version 1 of `/coreos-containers/test/<secret>` for every secret the containers take (well-named ones). */
export function fixtureSecretParameters(containers: readonly ContainerUnit[], version = 1): SecretParameters {
    return Object.fromEntries(
        Object.keys(secretUsers(containers))
            .filter((s) => SECRET_NAME.test(s))
            .map((s) => [s, { name: secretParameterName("coreos-containers", "test", s), version }]),
    );
}

/** The fixture data volume: a host whose containers mount data folders gets it (any `vol-` + 17 hex digits do). */
export const FIXTURE_VOLUME_ID = "vol-0123456789abcdef0";

/** File checks for tests whose artifact files and image tarballs all exist. */
export const ALL_FILES_EXIST: FileChecks = { artifactFileExists: () => true, imageFileExists: () => true };

/** A registry-image container named `name` (nginx:1.27), with whatever else a test gives it. */
export function testContainer(name: string, extra: Partial<ContainerUnit> = {}): ContainerUnit {
    return { kind: "container", name, image: { kind: "registry", ref: "nginx:1.27" }, ...extra };
}

/**
 * These containers with each data folder as a plain host folder at the same path: for the boots that
 * have no stand-in for the EBS volume (test/bootData.test.ts boots the data disk itself).
 */
export function withoutDataDisk(containers: readonly ContainerUnit[]): ContainerUnit[] {
    const byName = new Map<string, ContainerUnit>();
    const convert = (c: ContainerUnit): ContainerUnit => {
        const known = byName.get(c.name);
        if (known) return known;
        const copy: ContainerUnit = {
            ...c,
            ...(c.volumes
                ? {
                      volumes: c.volumes.map((v) =>
                          v.source.kind === "data" ? { ...v, source: { kind: "host" as const, path: dataPath(v.source.path) } } : v,
                      ),
                  }
                : {}),
            ...(c.dependsOn ? { dependsOn: c.dependsOn.map(convert) } : {}),
        };
        byName.set(c.name, copy);
        return copy;
    };
    return containers.map(convert);
}

/** A host of these containers (the seed's by default) with the project's one-shots and scripts. */
export function fixtureHost(
    containers: readonly ContainerUnit[] = seedContainers,
    opts: {
        readonly sshAuthorizedKeys?: readonly string[];
        readonly artifact?: ArtifactLocation;
        readonly secrets?: SecretParameters;
        readonly dataVolume?: { readonly volumeId: string };
    } = {},
): HostDefinition {
    return buildHost({
        containers,
        artifact: opts.artifact ?? FIXTURE_ARTIFACT,
        sshAuthorizedKeys: opts.sshAuthorizedKeys ?? [],
        scripts: HOST_SCRIPTS,
        secrets: opts.secrets ?? fixtureSecretParameters(containers),
        // As the program: a data volume exactly when a container mounts a data folder.
        ...(opts.dataVolume || containers.some(usesData) ? { dataVolume: opts.dataVolume ?? { volumeId: FIXTURE_VOLUME_ID } } : {}),
    });
}
