#!/bin/bash
# ExecStartPre= of a container with dependencies: wait-dependencies UNIT… (UNIT = docker-NAME.service).
# The container unit only Wants= its dependencies (their restarts must not restart it), so this is
# what keeps it from starting against one that is down: it returns once every UNIT is active (for a
# container with a health check: it passed its health gate) and, when Docker checks its health, is
# healthy now. While a UNIT is starting or waiting to be restarted it waits (the unit's
# TimeoutStartSec= bounds that); when one stays inactive or failed, nothing is bringing it back, so
# it fails, and Restart= tries again later.
set -u
d=${DOCKER:-/usr/bin/docker}
for u in "$@"; do
  n=${u#docker-} n=${n%.service} said='' down=0
  while :; do
    a=$(systemctl is-active "$u")
    case $a in
    active)
      down=0
      h=$("$d" inspect --format '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$n" 2>&1) || h="not found: $h"
      [ -z "$h" ] || [ "$h" = healthy ] && break ;;
    # A restart passes through inactive for an instant: only a state seen three times in a row counts.
    inactive | failed) h=$a down=$((down + 1))
      ((down < 3)) || { echo "<3>dependency $u is $a: not starting"; exit 1; } ;;
    *) h=$a down=0 ;;
    esac
    [ "$said" = "$h" ] || echo "waiting for $u: $h"
    said=$h
    sleep "${HEALTH_POLL_SECONDS:-0.5}"
  done
done
