#!/bin/bash
# ExecStartPost= of a container with a health check: wait-healthy NAME SECONDS.
# Returns once Docker reports NAME healthy; systemd counts the unit as started only then, so the units
# ordered after it (its dependents) start then too. Fails, with one journal line naming the container,
# its last health status and the last check's output, when Docker reports it unhealthy (its verdict
# after the start period and `retries` failed checks) or SECONDS pass first; Restart= then retries.
set -u
d=${DOCKER:-/usr/bin/docker} n=${1:?usage: wait-healthy NAME SECONDS} max=${2:?usage: wait-healthy NAME SECONDS}
now() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t / 1000)); }
end=$(($(now) + max * 1000)) s=''
while (($(now) < end)); do
  # Right after `docker run` is forked the container may not exist yet: no status is "not yet".
  # (A Docker daemon that does not answer must not hold the unit past its budget.)
  s=$(timeout 10 "$d" inspect --format '{{.State.Health.Status}}' "$n" 2>/dev/null) || s=
  case $s in
  healthy) echo "$n is healthy after ${SECONDS}s"; exit 0 ;;
  unhealthy) break ;;
  esac
  sleep "${HEALTH_POLL_SECONDS:-0.5}"
done
# {"Status":…,"FailingStreak":…,"Log":[{"Start":…,"End":…,"ExitCode":…,"Output":…}]} (moby api/types/container/health.go)
last=$(timeout 10 "$d" inspect --format '{{json .State.Health}}' "$n" 2>/dev/null |
  jq -r '.Log[-1] // empty | "exit \(.ExitCode): \(.Output)"' 2>/dev/null | tr -s '\n\t' '  ')
if [ "$s" = unhealthy ]; then why="Docker reports it unhealthy after ${SECONDS}s"; else why="still ${s:-not created} after ${max}s, its wait budget"; fi
echo "<3>$n is not healthy: $why; last check: ${last:-none}" | cut -c1-1000
exit 1
