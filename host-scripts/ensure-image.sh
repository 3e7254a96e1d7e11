#!/bin/bash
# Pulls or loads an image only when REF is missing, so restarts need no registry; cleanup never fails the unit.
set -euo pipefail
d=${DOCKER:-/usr/bin/docker}
has() { "$d" image inspect "$1" >/dev/null 2>&1; }
case "${1:-} $#" in
"pull 2") has "$2" || "$d" pull "$2" ;;
"load 3") has "$3" && exit
  "$d" load -i "$2"
  has "$3" || { echo "ensure-image: $2 did not contain $3" >&2; exit 1; }
  "${0%/*}/image-cleanup" || echo "ensure-image: image cleanup failed (ignored)" >&2 ;;
*) echo "usage: ensure-image pull REF | ensure-image load TARBALL REF" >&2; exit 2 ;;
esac
