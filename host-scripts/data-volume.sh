#!/bin/bash
# coreos-containers-data.service: makes the persistent data volume (DATA_VOLUME_ID, an EBS volume) ready
# for its mount unit, with the instance role (IMDSv2 credentials, SigV4-signed EC2 Query API calls):
#   1. DescribeVolumes: attached here → go on; in use by another instance (the old host, under
#      create-before-delete) → wait, with backoff capped at DATA_POLL_CAP_MS, logging each wait, at most
#      DATA_MAX_SECONDS in all; available → AttachVolume (Device=/dev/xvdf), then poll until attached.
#   2. The device: on Nitro an NVMe disk whose by-id name carries the volume id without its dash
#      (systemd's 60-persistent-storage.rules), on Xen /dev/xvdf (or /dev/sdf).
#   3. blkid -p: no signature at all → mkfs.ext4 -L DATA_LABEL; any filesystem, whatever its label →
#      never formatted; a partition table or an ambiguous probe → fail, touch nothing.
#   4. DATA_LINK → the disk by UUID (/dev/disk/by-uuid, made by udev), the mount unit's What=.
# DATA_STATUS gets {volumeId, state, formatted, device, uuid} at each step; state is waiting-for-release,
# attaching, attached or failed (the ready unit reports it, and `mounted` once the mount unit is up).
# Tests point IMDS_ENDPOINT, EC2_ENDPOINT and DATA_BY_ID_DIR at stand-ins.
# shellcheck source=aws.sh
. "${0%/*}/aws.sh"
set -euo pipefail
V=${DATA_VOLUME_ID:?} region=${DATA_REGION:?} label=${DATA_LABEL:?} link=${DATA_LINK:?} st=${DATA_STATUS:?}
max=${DATA_MAX_SECONDS:-3600} cap=${DATA_POLL_CAP_MS:-5000}
E=${EC2_ENDPOINT:-https://ec2.$region.amazonaws.com}
formatted=false dev='' uuid='' state=starting
T=$(mktemp -d)
status() {
  state=$1
  mkdir -p "${st%/*}"
  jq -n --arg v "$V" --arg s "$1" --argjson f "$formatted" --arg d "$dev" --arg u "$uuid" \
    '{volumeId: $v, state: $s, formatted: $f} + if $d == "" then {} else {device: $d} end + if $u == "" then {} else {uuid: $u} end' >"$st.tmp"
  mv -f "$st.tmp" "$st"
}
trap 'c=$?; rm -rf "$T"; [ $c = 0 ] || status failed; exit $c' EXIT
now() { date +%s%3N; }
deadline=$(($(now) + max * 1000))
# XML on one line: the text of its <TAG> (each one asked for occurs once where it is asked).
x() { sed -n "s:.*<$1>\([^<]*\)</$1>.*:\1:p"; }
ids() {
  aws_credentials || return 1
  I=$(imds_get meta-data/instance-id) && Z=$(imds_get meta-data/placement/availability-zone)
}
# ec2 ACTION PARAMS: one signed call; the answer (one line) in $T/r. 0 on HTTP 200; 1 to retry (no
# answer, 5xx, throttling, auth not settled); 2 with the error code in $err.
ec2() {
  local c
  aws_credentials || return 1
  c=$(aws_curl ec2 "$region" -o "$T/a" -w '%{http_code}' -H 'Content-Type: application/x-www-form-urlencoded; charset=utf-8' \
    --data-binary "Action=$1&Version=2016-11-15&$2" "$E/") || { echo "<4>EC2 $1: no answer"; return 1; }
  tr -d '\r\n' <"$T/a" >"$T/r"
  [ "$c" != 200 ] || return 0
  err=$(x Code <"$T/r")
  echo "<4>EC2 $1: HTTP $c ${err:-}"
  case $c:$err in 5* | *:*RequestLimitExceeded | *:AuthFailure | *:*Expired* | *:SignatureDoesNotMatch) return 1 ;; esac
  return 2
}
describe() {
  local att r=0
  ec2 DescribeVolumes "VolumeId.1=$V" || r=$?
  [ $r = 0 ] || { [ $r = 1 ] && return 1; echo "<3>EC2 refused DescribeVolumes of $V: $err $(x Message <"$T/r")"; exit 2; }
  att=$(sed -n 's:.*<attachmentSet>\(.*\)</attachmentSet>.*:\1:p' <"$T/r")
  vs=$(sed 's:<attachmentSet>.*</attachmentSet>::; s:<tagSet>.*</tagSet>::' <"$T/r" | x status)
  vz=$(x availabilityZone <"$T/r")
  ai=$(x instanceId <<<"$att") as=$(x status <<<"$att")
}
must() { with_retries "$max" "$@" || { echo "<3>giving up after ${max}s: $*"; exit 1; }; }
must ids
wait_ms=${RETRY_BACKOFF_MS:-1000}
while :; do
  must describe
  [ "$vz" = "$Z" ] || { echo "<3>$V is in $vz, this host in $Z: EC2 cannot attach it here"; exit 3; }
  case $vs:$ai in
  in-use:"$I")
    [ "$as" = attached ] && break
    echo "$V: $as to this host" ;;
  in-use:*)
    [ "$state" = waiting-for-release ] || status waiting-for-release
    (($(now) + wait_ms < deadline)) || { echo "<3>$V is still attached to $ai after ${max}s: giving up"; exit 4; }
    echo "waiting for the old host $ai to release $V ($as)" ;;
  available:*)
    status attaching
    r=0
    ec2 AttachVolume "VolumeId=$V&InstanceId=$I&Device=%2Fdev%2Fxvdf" || r=$?
    case $r:${err:-} in
    # Look again soon: the attachment settles in seconds, however long the wait before was.
    0:*) echo "attaching $V as /dev/xvdf: $(x status <"$T/r")"; wait_ms=${RETRY_BACKOFF_MS:-1000} ;;
    # Another instance won the race, or EC2 is not done with the old attachment: look again.
    2:VolumeInUse | 2:IncorrectState | 1:*) ;;
    *) echo "<3>EC2 refused to attach $V: $err $(x Message <"$T/r")"; exit 5 ;;
    esac ;;
  creating:*) echo "$V is being created" ;;
  *) echo "<3>$V is $vs: it cannot be attached"; exit 6 ;;
  esac
  (($(now) + wait_ms < deadline)) || { echo "<3>$V is still $vs ($as) after ${max}s: giving up"; exit 4; }
  printf -v w %d.%03d $((wait_ms / 1000)) $((wait_ms % 1000))
  sleep "$w"
  wait_ms=$((wait_ms * 2 > cap ? cap : wait_ms * 2))
done
status attached
echo "$V is attached to $I"
by_id=${DATA_BY_ID_DIR:-/dev/disk/by-id}/nvme-Amazon_Elastic_Block_Store_${V/-/}
for ((i = 0; i < ${DATA_DEVICE_SECONDS:-120}; i++)); do
  ! command -v udevadm >/dev/null || udevadm settle -t 5 || true
  for d in "$by_id" ${DATA_XEN_DEVICES:-/dev/xvdf /dev/sdf}; do [ -b "$d" ] && { dev=$d; break 2; }; done
  sleep 1
done
[ -n "$dev" ] || { echo "<3>no block device for $V after ${DATA_DEVICE_SECONDS:-120}s (looked for $by_id)"; exit 7; }
r=0
blkid -p -o export "$dev" >"$T/b" || r=$?
if [ $r = 2 ]; then
  echo "$dev ($V) carries no filesystem: formatting it as ext4, label $label"
  mkfs.ext4 -q -L "$label" "$dev"
  formatted=true
elif [ $r != 0 ]; then
  echo "<3>blkid -p $dev exited $r (ambiguous or unreadable): not formatting, not mounting"; exit 8
fi
blkid -p -o export "$dev" >"$T/b"
t=$(sed -n 's/^TYPE=//p' "$T/b") uuid=$(sed -n 's/^UUID=//p' "$T/b")
[ -n "$t" ] && [ -n "$uuid" ] || { echo "<3>$dev carries no filesystem with a UUID ($(tr '\n' ' ' <"$T/b")): not formatting, not mounting"; exit 9; }
[ $formatted = true ] || echo "$dev ($V) already carries $t, label '$(sed -n 's/^LABEL=//p' "$T/b")', UUID $uuid: not formatting"
# By UUID where udev made the link (a real host); a container without udev has only the device itself.
target=/dev/disk/by-uuid/$uuid
[ -b "$target" ] || target=$(readlink -f "$dev")
mkdir -p "${link%/*}"
ln -sfn "$target" "$link.tmp"
mv -T "$link.tmp" "$link"
status attached
echo "$V ready to mount: $link -> $target"
