// The provisioning unit and the scripts cloud-config writes: fetch the artifact at boot, verify it,
// unpack it atomically; pull or load images only when missing; clean dangling images.
import { OneShotUnit, WriteFile } from "./model";
import { ARTIFACT_ROOT, BIN_DIR, DOCKER, PROVISION_UNIT } from "./layout";

/** Where the artifact is and what it must hash to. Becomes part of the user-data. */
export interface ArtifactLocation {
    /** S3 bucket name, e.g. `coreos-containers-artifacts-1a2b3c`. */
    readonly bucket: string;
    /** Object key, `artifacts/<sha256>.tar.gz`. */
    readonly key: string;
    /** Hex SHA-256 of the object's bytes. */
    readonly sha256: string;
    /** The bucket's region, e.g. `eu-west-1`. */
    readonly region: string;
}

export const PROVISION_SCRIPT = `${BIN_DIR}/provision`;
export const IMAGE_CLEANUP_SCRIPT = `${BIN_DIR}/image-cleanup`;
export const ENSURE_IMAGE_SCRIPT = `${BIN_DIR}/ensure-image`;

// PLACEHOLDER: issue 4 replaces this with the real fetch/verify/unpack script.
const provisionScript = `#!/bin/bash
set -euo pipefail
echo "provision: not implemented" >&2
exit 1
`;

const imageCleanupScript = `#!/bin/bash
# Remove images left untagged when a newer load took their tag (the seed's ImageCleanup.sh).
set -u
${DOCKER} images -q --filter "dangling=true" | xargs -r ${DOCKER} rmi
`;

const ensureImageScript = `#!/bin/bash
# ensure-image pull REF | ensure-image load TARBALL REF
# Pulls or loads an image only when REF is not present yet, so restarts need no registry.
set -euo pipefail
docker=\${DOCKER:-${DOCKER}}
case "\${1:-}" in
  pull)
    ref=$2
    "$docker" image inspect "$ref" >/dev/null 2>&1 || "$docker" pull "$ref"
    ;;
  load)
    tarball=$2 ref=$3
    if ! "$docker" image inspect "$ref" >/dev/null 2>&1; then
      "$docker" load -i "$tarball"
      "$docker" image inspect "$ref" >/dev/null || { echo "ensure-image: $tarball did not contain $ref" >&2; exit 1; }
      ${IMAGE_CLEANUP_SCRIPT}
    fi
    ;;
  *)
    echo "usage: ensure-image pull REF | ensure-image load TARBALL REF" >&2
    exit 2
    ;;
esac
`;

/** The scripts every host gets. Static text: per-stack values travel in the unit's environment. */
export function hostScripts(): WriteFile[] {
    return [
        { path: ENSURE_IMAGE_SCRIPT, permissions: "0755", owner: "root:root", content: ensureImageScript },
        { path: IMAGE_CLEANUP_SCRIPT, permissions: "0755", owner: "root:root", content: imageCleanupScript },
        { path: PROVISION_SCRIPT, permissions: "0755", owner: "root:root", content: provisionScript },
    ];
}

/** The unit that runs the provision script at every boot. */
export function provisionUnit(artifact: ArtifactLocation): OneShotUnit {
    return {
        kind: "oneshot",
        name: PROVISION_UNIT,
        description: "Fetch, verify and unpack the coreos-containers artifact",
        wants: ["network-online.target"],
        environment: {
            ARTIFACT_BUCKET: artifact.bucket,
            ARTIFACT_KEY: artifact.key,
            ARTIFACT_SHA256: artifact.sha256,
            ARTIFACT_REGION: artifact.region,
            ARTIFACT_ROOT,
        },
        exec: [[PROVISION_SCRIPT]],
        timeoutStartSec: 900,
    };
}
