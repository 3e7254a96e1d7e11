#!/bin/bash
# Fetches the artifact named by the unit's environment with the instance role, checks its SHA-256,
# unpacks it into a fresh release folder and swaps `current` to it; a no-op when it is current.
# shellcheck source=aws.sh
. "${0%/*}/aws.sh"
set -euo pipefail
S=$ARTIFACT_SHA256 R=${ARTIFACT_ROOT:?} max=${PROVISION_MAX_SECONDS:?}
[[ $S =~ ^[0-9a-f]{64}$ ]] || { echo "<3>bad ARTIFACT_SHA256"; exit 2; }
rel=$R/releases/$S tmp=$R/releases/$S.tmp.$$
if [ "$(readlink "$R/current")" = "releases/$S" ] && [ -f "$rel/.provisioned" ]; then echo "artifact $S already current"; exit 0; fi
U=${PROVISION_S3_ENDPOINT:-https://$ARTIFACT_BUCKET.s3.$ARTIFACT_REGION.amazonaws.com}/$ARTIFACT_KEY
trap 'rm -rf "$tmp" "$tmp.tgz"' EXIT
mkdir -p "$R/releases"
try() {
  aws_credentials || return 1
  # S3 requires x-amz-content-sha256; the empty-body hash is right for a GET.
  aws_curl s3 "$ARTIFACT_REGION" -f -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    --speed-limit 1024 --speed-time 60 -o "$tmp.tgz" "$U" || { echo "<4>download: failed"; return 1; }
  local h
  h=$(sha256sum <"$tmp.tgz")
  [ "${h%% *}" = "$S" ] || { echo "<4>download: SHA-256 ${h%% *} is not the expected one"; return 1; }
}
echo "fetching $U"
with_retries "$max" try || { echo "<3>giving up after ${max}s: artifact $S not provisioned"; exit 1; }
rm -rf "$tmp"; mkdir "$tmp"; tar -xzf "$tmp.tgz" -C "$tmp"; touch "$tmp/.provisioned"; sync
rm -rf "$rel"; mv -T "$tmp" "$rel"
ln -sfn "releases/$S" "$R/.current.$$"; mv -T "$R/.current.$$" "$R/current"
for o in "$R"/releases/*; do [ "$o" = "$rel" ] || rm -rf "$o" || echo "<4>could not remove $o"; done
echo "artifact $S is current"
