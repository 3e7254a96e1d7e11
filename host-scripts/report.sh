#!/bin/bash
# Uploads the readiness report once the ready unit is done: boot.json as it is, plus who sends it (the
# instance id, the SHA-256 of the user-data this instance booted with, read back from IMDS, and this
# boot's id), to s3://$REPORT_BUCKET/status/<that SHA-256>.json, the one key the instance role may
# write. The cutover step (scripts/cutover.ts) waits for it, and judges it: a boot.json whose bootId is
# not this boot's means the ready unit wrote none. `boot` is null when there is no boot.json at all.
# Every byte here is user-data (16 KiB in all), hence the terse names: f status file, b boot id,
# s status, o the report, i instance id, u user-data SHA-256, h the report's SHA-256 (S3 checks it).
# shellcheck source=aws.sh
. "${0%/*}/aws.sh"
set -euo pipefail
f=${STATUS_FILE:-/var/lib/coreos-containers/status/boot.json} o=$(mktemp)
trap 'rm -f "$o"' EXIT
read -r b <"${BOOT_ID_FILE:-/proc/sys/kernel/random/boot_id}"
s=$(cat "$f" 2>/dev/null) || s=
try() {
  aws_credentials || return 1
  local i u h
  i=$(imds_get meta-data/instance-id) && u=$(imds_get user-data | sha256sum) || return 1
  u=${u%% *}
  printf '{"version":1,"instanceId":"%s","userDataSha256":"%s","bootId":"%s","boot":%s}\n' "$i" "$u" "$b" "${s:-null}" >"$o"
  h=$(sha256sum <"$o")
  aws_curl s3 "$REPORT_REGION" -f -m 60 -X PUT -H "x-amz-content-sha256: ${h%% *}" --data-binary "@$o" \
    "${REPORT_S3_ENDPOINT:-https://$REPORT_BUCKET.s3.$REPORT_REGION.amazonaws.com}/status/$u.json" || return 1
  echo "reported $i $u"
}
with_retries "${REPORT_MAX_SECONDS:-600}" try || { echo "<3>no report sent"; exit 1; }
