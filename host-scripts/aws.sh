# shellcheck shell=bash
# Sourced by the host scripts, never run: the instance role's credentials through IMDSv2, requests
# signed with SigV4 by curl, and retries with exponential backoff. Secrets reach curl through its
# config on stdin, never its argv or the journal. `<N>` at the start of a line is its journal priority.
# Tests point IMDS_ENDPOINT at a stand-in and shorten RETRY_BACKOFF_MS.
imds=${IMDS_ENDPOINT:-http://169.254.169.254}/latest
imds_get() { curl -fsS -m 10 -H "X-aws-ec2-metadata-token: $imds_token" "$imds/$1"; }
json_str() { sed -n "s/.*\"$1\" *: *\"\([^\"]*\)\".*/\1/p"; }
# Sets imds_token and aws_key, aws_secret, aws_token (the role's temporary credentials).
aws_credentials() {
  local role c
  imds_token=$(curl -fsS -m 10 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$imds/api/token") ||
    { echo "<4>IMDS token: failed"; return 1; }
  if ! role=$(imds_get meta-data/iam/security-credentials/) || ! c=$(imds_get "meta-data/iam/security-credentials/$role"); then
    echo "<4>instance role credentials: not available yet"; return 1
  fi
  aws_key=$(json_str AccessKeyId <<<"$c") aws_secret=$(json_str SecretAccessKey <<<"$c") aws_token=$(json_str Token <<<"$c")
}
# aws_curl SERVICE REGION CURL-ARGS…: one request signed for SERVICE in REGION with the credentials above.
aws_curl() {
  local service=$1 region=$2
  shift 2
  printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' "$aws_key" "$aws_secret" "$aws_token" |
    curl -sS -K - --aws-sigv4 "aws:amz:$region:$service" --connect-timeout 10 "$@"
}
# with_retries SECONDS COMMAND…: runs COMMAND until it succeeds, waiting 1 s, 2 s, 4 s… (at most 60 s)
# between attempts; fails once the next wait would pass SECONDS.
with_retries() {
  local max=$1 d=${RETRY_BACKOFF_MS:-1000} end w
  shift
  end=$(($(date +%s%3N) + max * 1000))
  until "$@"; do
    (($(date +%s%3N) + d < end)) || return 1
    printf -v w %d.%03d $((d / 1000)) $((d % 1000))
    echo "retrying in ${w}s"
    sleep "$w"
    d=$((d * 2 > 60000 ? 60000 : d * 2))
  done
}
