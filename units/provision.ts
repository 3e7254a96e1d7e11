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

/** How long the provision script keeps retrying before it fails the unit (the script's default). */
export const PROVISION_RETRY_SECONDS = 600;

// The provision script. It lands in user-data (16 KiB for everything), so it is terse; test/provision.test.ts
// runs this very text against fake IMDS and S3 servers.
// - Static text: per-stack values come from the unit's Environment=. PROVISION_IMDS_ENDPOINT,
//   PROVISION_S3_ENDPOINT, PROVISION_BACKOFF_MS and PROVISION_MAX_SECONDS exist for tests; the unit sets none.
// - No network at all when releases/<sha> carries its `.provisioned` marker and `current` points at it.
// - Each attempt: IMDSv2 token → role → fresh credentials → SigV4 GET (curl --aws-sigv4) into a temp file →
//   SHA-256 check. Any failure (IMDS not up, no credentials yet, 403/400/5xx, truncation, wrong bytes) is
//   retried with exponential backoff (capped at 60 s) until PROVISION_MAX_SECONDS; then exit 1.
// - Only verified bytes are unpacked: into releases/<sha>.tmp.<pid>, marker, sync, rename to releases/<sha>,
//   then `current` is swapped with a rename. Every other entry of releases/ (the previous release,
//   leftovers of interrupted runs) is removed afterwards; a rollback is a deploy of the old hash.
// - Secrets reach curl through its config on stdin, never argv or the log. `<N>` sets the journal priority.
const provisionScript = `#!/bin/bash
set -euo pipefail
S=$ARTIFACT_SHA256 R=\${ARTIFACT_ROOT:?}
[[ $S =~ ^[0-9a-f]{64}$ ]] || { echo "<3>bad ARTIFACT_SHA256"; exit 2; }
rel=$R/releases/$S tmp=$R/releases/$S.tmp.$$
if [ "$(readlink "$R/current")" = "releases/$S" ] && [ -f "$rel/.provisioned" ]; then echo "artifact $S already current"; exit 0; fi
I=\${PROVISION_IMDS_ENDPOINT:-http://169.254.169.254}/latest
U=\${PROVISION_S3_ENDPOINT:-https://$ARTIFACT_BUCKET.s3.$ARTIFACT_REGION.amazonaws.com}/$ARTIFACT_KEY
d=\${PROVISION_BACKOFF_MS:-1000} max=\${PROVISION_MAX_SECONDS:-${PROVISION_RETRY_SECONDS}}
trap 'rm -rf "$tmp" "$tmp.tgz"' EXIT
mkdir -p "$R/releases"
md() { curl -fsS -m 10 -H "X-aws-ec2-metadata-token: $tok" "$I/meta-data/iam/security-credentials/\${1-}"; }
j() { sed -n "s/.*\\"$1\\" *: *\\"\\([^\\"]*\\)\\".*/\\1/p" <<<"$c"; }
try() {
  tok=$(curl -fsS -m 10 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$I/api/token") || { echo "<4>IMDS token: failed"; return 1; }
  role=$(md) && c=$(md "$role") || { echo "<4>instance role credentials: not available yet"; return 1; }
  # S3 requires x-amz-content-sha256; the empty-body hash is right for a GET with any curl that has --aws-sigv4.
  printf 'user = "%s:%s"\\nheader = "x-amz-security-token: %s"\\n' "$(j AccessKeyId)" "$(j SecretAccessKey)" "$(j Token)" |
    curl -fsS -K - --aws-sigv4 "aws:amz:$ARTIFACT_REGION:s3" -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \\
      --connect-timeout 10 --speed-limit 1024 --speed-time 60 -o "$tmp.tgz" "$U" || { echo "<4>download: failed"; return 1; }
  h=$(sha256sum <"$tmp.tgz") && [ "\${h%% *}" = "$S" ] || { echo "<4>download: SHA-256 \${h%% *} is not the expected one"; return 1; }
}
echo "fetching $U"
end=$(($(date +%s%3N) + max * 1000))
until try; do
  (($(date +%s%3N) + d < end)) || { echo "<3>giving up after \${max}s: artifact $S not provisioned"; exit 1; }
  printf -v w %d.%03d $((d / 1000)) $((d % 1000)); echo "retrying in \${w}s"; sleep "$w"; d=$((d * 2 > 60000 ? 60000 : d * 2))
done
rm -rf "$tmp"; mkdir "$tmp"; tar -xzf "$tmp.tgz" -C "$tmp"; touch "$tmp/.provisioned"; sync
rm -rf "$rel"; mv -T "$tmp" "$rel"
ln -sfn "releases/$S" "$R/.current.$$"; mv -T "$R/.current.$$" "$R/current"
for o in "$R"/releases/*; do [ "$o" = "$rel" ] || rm -rf "$o" || echo "<4>could not remove $o"; done
echo "artifact $S is current"
`;

const imageCleanupScript = `#!/bin/bash
# Remove images left untagged when a newer load took their tag (the seed's ImageCleanup.sh).
d=\${DOCKER:-${DOCKER}}
"$d" images -q --filter dangling=true | xargs -r "$d" rmi
`;

// Pulls or loads an image only when REF is missing, so restarts need no registry; cleanup never fails the unit.
const ensureImageScript = `#!/bin/bash
set -euo pipefail
d=\${DOCKER:-${DOCKER}}
has() { "$d" image inspect "$1" >/dev/null 2>&1; }
case "\${1:-} $#" in
"pull 2") has "$2" || "$d" pull "$2" ;;
"load 3") has "$3" && exit
  "$d" load -i "$2"
  has "$3" || { echo "ensure-image: $2 did not contain $3" >&2; exit 1; }
  "\${0%/*}/image-cleanup" || echo "ensure-image: image cleanup failed (ignored)" >&2 ;;
*) echo "usage: ensure-image pull REF | ensure-image load TARBALL REF" >&2; exit 2 ;;
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
        // The retry budget plus room for the last attempt's download; then systemd marks the unit failed.
        timeoutStartSec: PROVISION_RETRY_SECONDS + 600,
    };
}
