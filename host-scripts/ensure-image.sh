#!/bin/bash
# Pulls or loads an image only when REF is missing, so restarts need no registry; cleanup never fails the unit.
# A failed pull or load is retried with backoff for IMAGE_RETRY_SECONDS (a registry or network hiccup at
# boot), each failure in the journal; then it fails the unit, never skipping the image silently.
# shellcheck source=aws.sh
. "${0%/*}/aws.sh"
set -euo pipefail
docker=${DOCKER:-/usr/bin/docker} max=${IMAGE_RETRY_SECONDS:-600}
has() { "$docker" image inspect "$1" >/dev/null 2>&1; }
pull() { "$docker" pull "$1" || { echo "<4>ensure-image: pull $1 failed"; return 1; }; }
load() { "$docker" load -i "$1" || { echo "<4>ensure-image: load $1 failed"; return 1; }; }
give_up() { echo "<3>ensure-image: giving up after ${max}s: $1"; exit 1; }
case "${1:-} $#" in
"pull 2") has "$2" || with_retries "$max" pull "$2" || give_up "could not pull $2" ;;
"load 3") has "$3" && exit
  with_retries "$max" load "$2" || give_up "could not load $2"
  has "$3" || { echo "<3>ensure-image: $2 did not contain $3" >&2; exit 1; }
  "${0%/*}/image-cleanup" || echo "ensure-image: image cleanup failed (ignored)" >&2 ;;
*) echo "usage: ensure-image pull REF | ensure-image load TARBALL REF" >&2; exit 2 ;;
esac
