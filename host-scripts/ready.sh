#!/bin/bash
# coreos-containers-ready.service: knows when the boot is done, and writes how it went to
# READY_STATUS_FILE (boot.json, rewritten on every boot: a temp file, then a rename).
# Ordered after nothing of ours, it polls the container units (docker-NAME.service) and their image
# units (image-NAME.service) until
#   ready    every container is up: its unit active (with a health check: it passed its health gate);
#   failed   one has failed: its image unit or its unit is `failed` (systemd gave up on it), or its unit
#            has been restarted READY_FAILED_STARTS (2) times and is not active, i.e. its start (health
#            gate, dependency wait, process) failed twice; or a one-shot the containers need
#            (READY_PREREQUISITES: provisioning, secrets, the network) failed, so they can never start;
#   timeout  READY_BUDGET_SECONDS have passed.
# READY_CONTAINERS_FILE lists the containers, a `NAME UP [data]` line each, UP being the state an up container
# reports (healthy, or running when Docker has no health check for it), `data` when it mounts the data disk.
# The data disk (READY_DATA_STATUS, the data unit's JSON, and READY_DATA_MOUNT, its mount unit): while the
# data unit waits for the old host to release the volume, the containers on it are `pending`, which does
# not hold the verdict back: the host is ready for the cutover once the others are up, and the cutover's
# retire step is what releases the volume. boot.json's dataVolume records the disk's state. Times in the file are milliseconds since boot (systemd's monotonic
# timestamps; CLOCK_BOOTTIME for the file's own, equal unless the machine was suspended).
# Exits 0 only when ready, so a failed boot also shows in `systemctl --failed`.
set -u
budget=${READY_BUDGET_SECONDS:?} out=${READY_STATUS_FILE:?} poll=${READY_POLL_SECONDS:-1} fail_starts=${READY_FAILED_STARTS:-2}
spec=()
while read -r name up kind _; do [ -z "$name" ] || spec+=("$name:$up:${kind:-}"); done <"${READY_CONTAINERS_FILE:?}"
uptime_ms() { local up _; read -r up _ </proc/uptime; echo $((10#${up%.*} * 1000 + 10#${up#*.} * 10)); }
now() { date -u +%Y-%m-%dT%H:%M:%S.%3NZ; }
clock_ms() { local t=${EPOCHREALTIME//[!0-9]/}; echo $((10#$t / 1000)); }
started=$(now) started_ms=$(uptime_ms) deadline=$(($(clock_ms) + budget * 1000))
units=()
for s in "${spec[@]}"; do units+=("docker-${s%%:*}.service" "image-${s%%:*}.service"); done
read -r -a prereqs <<<"${READY_PREREQUISITES:-}"
dstat=${READY_DATA_STATUS:-} dmount=${READY_DATA_MOUNT:-} dstate=
# The mount failing leaves the containers on the disk unable to start, as a failed prerequisite does.
[ -z "$dmount" ] || prereqs+=("$dmount")
units+=("${prereqs[@]}")
declare -A P state
# P[UNIT.Key]: `systemctl show` prints one block per unit, in the order asked, separated by a blank line.
snapshot() {
  local i=0 line
  P=()
  while IFS= read -r line; do
    if [ -z "$line" ]; then i=$((i + 1)); else P["${units[i]}.${line%%=*}"]=${line#*=}; fi
  done < <(systemctl show -p ActiveState,SubState,Result,NRestarts,InactiveExitTimestampMonotonic,ActiveEnterTimestampMonotonic "${units[@]}")
}
# The data disk's state: mounted (its mount unit active), failed, or what the data unit last wrote.
data_state() {
  if [ "${P[$dmount.ActiveState]:-}" = active ]; then echo mounted
  elif [ "${P[$dmount.ActiveState]:-}" = failed ] || [ "${P[${READY_DATA_UNIT:-}.ActiveState]:-}" = failed ]; then echo failed
  else jq -r '.state // "starting"' "$dstat" 2>/dev/null || echo starting; fi
}
judge() {
  local n=${1%%:*} r=${1#*:} up u i
  up=${r%%:*} u=docker-$n.service i=image-$n.service
  if [ "${P[$u.ActiveState]:-}" = active ]; then echo "$up"
  elif [ "${P[$i.ActiveState]:-}" = failed ] || [ "${P[$u.ActiveState]:-}" = failed ] || ((${P[$u.NRestarts]:-0} >= fail_starts)); then echo failed
  elif [ "${r#*:}" = data ] && [ "$dstate" = waiting-for-release ]; then echo pending
  else echo starting; fi
}
result=ready
while ((${#spec[@]})); do
  snapshot
  [ -z "$dmount" ] || dstate=$(data_state)
  result=ready
  for s in "${spec[@]}"; do
    st=$(judge "$s")
    [ "${state[$s]:-}" = "$st" ] || echo "${s%%:*}: $st"
    state[$s]=$st
    case $st in failed) result=failed ;; starting) [ $result = failed ] || result=starting ;; esac
  done
  for p in "${prereqs[@]}"; do
    [ "${P[$p.ActiveState]:-}" != failed ] || { [ "${state[$p]:-}" = failed ] || echo "$p: failed"; state[$p]=failed; result=failed; }
  done
  [ $result = starting ] || break
  (($(clock_ms) < deadline)) || { result=timeout; break; }
  sleep "$poll"
done
echo "boot $result after ${SECONDS}s"
ms() { local v=${P[$1]:-0}; if ((v > 0)); then echo $((v / 1000)); else echo null; fi; }
entries=() failed=()
for s in "${spec[@]}"; do
  n=${s%%:*}
  u=docker-$n.service i=image-$n.service st=${state[$s]}
  entries+=("$(jq -cn --arg unit "$u" --arg container "$n" --arg state "$st" --argjson healthCheck "$(r=${s#*:}; [ "${r%%:*}" = healthy ] && echo true || echo false)" \
    --arg activeState "${P[$u.ActiveState]:-}" --arg subState "${P[$u.SubState]:-}" --arg result "${P[$u.Result]:-}" \
    --argjson restarts "${P[$u.NRestarts]:-0}" --argjson data "$([ "${s##*:}" = data ] && echo true || echo false)" --argjson activeSinceMs "$(ms "$u.InactiveExitTimestampMonotonic")" \
    --argjson healthyAfterMs "$(ms "$u.ActiveEnterTimestampMonotonic")" --arg imageUnit "$i" --arg imageState "${P[$i.ActiveState]:-}" \
    --arg imageResult "${P[$i.Result]:-}" --argjson imageReadyMs "$(ms "$i.ActiveEnterTimestampMonotonic")" \
    '$ARGS.named')")
  # The failed ones; on a timeout also the ones still starting, which are why.
  if [ "$st" = failed ] || { [ $result = timeout ] && [ "$st" = starting ]; }; then
    failed+=("$(journalctl -b -u "$u" -u "$i" -n 20 -o short-monotonic --no-hostname --no-pager 2>&1 |
      jq -cR --arg unit "$u" --arg container "$n" -s '{unit: $unit, container: $container, journal: (split("\n") | map(select(length > 0)) | .[-20:])}')")
  fi
done
# A failed prerequisite: its own journal says why no container could start.
for p in "${prereqs[@]}"; do
  [ "${state[$p]:-}" = failed ] || continue
  failed+=("$(journalctl -b -u "$p" -n 20 -o short-monotonic --no-hostname --no-pager 2>&1 |
    jq -cR --arg unit "$p" -s '{unit: $unit, journal: (split("\n") | map(select(length > 0)) | .[-20:])}')")
done
mkdir -p "${out%/*}"
tmp=$out.tmp.$$
if jq -n --arg state "$result" --arg bootId "$(cat /proc/sys/kernel/random/boot_id)" --arg startedAt "$started" --arg finishedAt "$(now)" \
  --argjson budgetSeconds "$budget" --argjson startedMs "$started_ms" --argjson finishedMs "$(uptime_ms)" \
  --slurpfile units <(printf '%s\n' "${entries[@]}") --slurpfile failed <(printf '%s\n' "${failed[@]}") \
  --argjson dataVolume "$(if [ -n "$dmount" ]; then jq -c --arg s "$dstate" '. + {state: $s}' "$dstat" 2>/dev/null ||
    jq -cn --arg s "$dstate" '{state: $s, formatted: false}'; else echo null; fi)" \
  '{version: 1, state: $state, bootId: $bootId, startedAt: $startedAt, finishedAt: $finishedAt, budgetSeconds: $budgetSeconds,
    times: "ms since boot", startedMs: $startedMs, finishedMs: $finishedMs, units: $units, failed: $failed, dataVolume: $dataVolume}' >"$tmp"; then
  mv -f "$tmp" "$out"
else
  rm -f "$tmp"; echo "<3>could not write $out"; exit 1
fi
[ $result = ready ] || { echo "<3>boot $result: see $out"; exit 1; }
