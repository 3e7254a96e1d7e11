#!/bin/bash
# Fetches this host's secrets from SSM Parameter Store (GetParameters, JSON 1.1, SigV4 with the instance
# role) at the versions the manifest names, and writes them to tmpfs: one env file per container (for
# `docker run --env-file`) and one file per secret file, all root-only but for a file's declared owner.
# A value goes from curl's output file to jq's, both under /run: never argv, the journal or a disk.
# Nothing is written unless every parameter came back; a missing one fails the unit, so no container
# that needs a secret starts. Tests point SSM_ENDPOINT at a stand-in.
# shellcheck source=aws.sh
. "${0%/*}/aws.sh"
set -euo pipefail
M=${SECRETS_MANIFEST:?} D=${SECRETS_DIR:?} max=${SECRETS_MAX_SECONDS:?}
{ read -r region; mapfile -t S; } < <(jq -r '.region, .parameters[]' "$M")
E=${SSM_ENDPOINT:-https://ssm.$region.amazonaws.com}
umask 077
mkdir -p "${D%/*}"
T=$(mktemp -d "${D%/*}/.secrets.XXXXXX")
trap 'rm -rf "$T"' EXIT
mkdir "$T/o"
: >"$T/v"
# get SELECTOR…: one GetParameters call (at most 10 names); appends the answer to $T/v.
# Returns 1 to be retried (no credentials yet, no answer, 5xx, throttling, auth not settled yet); exits
# when retrying cannot help: a parameter is missing (InvalidParameters, HTTP 200) or the request is refused.
get() {
  aws_credentials || return 1
  jq -n '{Names: $ARGS.positional, WithDecryption: true}' --args "$@" >"$T/q"
  local c t
  c=$(aws_curl ssm "$region" -o "$T/r" -w '%{http_code}' -H 'Content-Type: application/x-amz-json-1.1' \
    -H 'X-Amz-Target: AmazonSSM.GetParameters' --data-binary "@$T/q" "$E/") || { echo "<4>SSM: no answer"; return 1; }
  if [ "$c" = 200 ]; then
    # A missing parameter: fail now, so no container that needs a secret starts (systemd names them).
    jq -r '.InvalidParameters[]? | "<3>parameter \(.) does not exist"' "$T/r" | grep . && exit 3
    cat "$T/r" >>"$T/v"
    return
  fi
  # The error's type is `__type`, maybe as `ns#Name:uri`: keep what is after # and before :.
  t=$(jq -r '.__type' "$T/r" 2>/dev/null | sed 's/:.*//; s/.*#//') || t=unknown
  echo "<4>SSM: HTTP $c $t"
  case $c:$t in 5* | *:*Throttl* | *:AccessDenied* | *:*Expired* | *:*Signature* | *:Unrecognized* | *:InvalidClientTokenId) return 1 ;; esac
  echo "<3>SSM refused the request; not retrying"
  exit 4
}
for ((i = 0; i < ${#S[@]}; i += 10)); do
  with_retries "$max" get "${S[@]:i:10}" || { echo "<3>giving up after ${max}s: secrets not fetched"; exit 1; }
done
jq -s 'map(.Parameters[] | {key: "\(.Name):\(.Version)", value: .Value}) | from_entries' "$T/v" >"$T/a"
m=$(jq -r --slurpfile v "$T/a" '.parameters[] | select($v[0][.] == null)' "$M")
[ -z "$m" ] || { echo "<3>not returned: $m"; exit 3; }
while read -r f; do
  jq -j --slurpfile v "$T/a" --arg f "$f" '.env[$f] | to_entries[] | "\(.key)=\($v[0][.value])\n"' "$M" >"$T/o/$f"
done < <(jq -r '.env | keys[]' "$M")
while IFS=$'\t' read -r p s b u g; do
  mkdir -p "$T/o/${p%/*}"
  jq -j --arg s "$s" '.[$s]' "$T/a" | if [ "$b" = true ]; then base64 -d; else cat; fi >"$T/o/$p"
  chown "$u:$g" "$T/o/$p"
  chmod 0400 "$T/o/$p"
done < <(jq -r '.files[] | [.path, .parameter, .base64, .uid, .gid] | @tsv' "$M")
rm -rf "$D"
mv -T "$T/o" "$D"
echo "${#S[@]} secret parameters delivered into $D"
