#!/bin/bash
# The job's receipt: the runner runs this hook (ACTIONS_RUNNER_HOOK_JOB_COMPLETED, set
# by entrypoint.sh) when the job ends, and its output is the last block of the job's
# log. It also goes to the job summary when the runner gives hooks one.
#
# Its figures come from the environment the App gave the sandbox:
#   MODAL_RUNNER_PROFILE, MODAL_RUNNER_CPU (physical cores), MODAL_RUNNER_MEMORY_MIB,
#   MODAL_RUNNER_GPU, MODAL_RUNNER_PRICE_PER_SECOND (dollars, worked out by the App from
#   the same price table as modal_runner_cost_dollars_total), MODAL_RUNNER_UNPRICED_GPU,
#   MODAL_RUNNER_STARTED_AT (epoch seconds, set by the entrypoint),
#   MODAL_RUNNER_SMALLER_PROFILES ("name:cpu:memoryMiB" words, for the hint).
# Usage comes from the sandbox's cgroup files when it exposes them (v2 or v1).
# Nothing here may fail the job: every figure has a "not available" form.
set -u

cgroup="${MODAL_RUNNER_CGROUP_ROOT:-/sys/fs/cgroup}"
now="${MODAL_RUNNER_ENDED_AT:-$(date +%s)}"
started="${MODAL_RUNNER_STARTED_AT:-}"
profile="${MODAL_RUNNER_PROFILE:-unknown}"
cpu="${MODAL_RUNNER_CPU:-}"
memory_mib="${MODAL_RUNNER_MEMORY_MIB:-}"
gpu="${MODAL_RUNNER_GPU:-}"
price="${MODAL_RUNNER_PRICE_PER_SECOND:-}"

number() { [[ "${1:-}" =~ ^[0-9]+([.][0-9]+)?([eE][-+]?[0-9]+)?$ ]]; }
read_first() { [ -r "$1" ] && head -c 64 "$1" | head -n 1; }
calc() { awk "BEGIN { $1 }" </dev/null; }

wall=""
if number "$started" && number "$now" && [ "$now" -ge "$started" ]; then wall=$((now - started)); fi

# Peak memory (bytes) and CPU time (seconds), v2 first.
peak="" cpu_seconds=""
if [ -r "$cgroup/cgroup.controllers" ]; then
  peak="$(read_first "$cgroup/memory.peak")"
  usec="$(awk '$1 == "usage_usec" { print $2; exit }' "$cgroup/cpu.stat" 2>/dev/null)"
  number "$usec" && cpu_seconds="$(calc "printf \"%.1f\", $usec / 1000000")"
else
  peak="$(read_first "$cgroup/memory/memory.max_usage_in_bytes")"
  for file in "$cgroup/cpuacct/cpuacct.usage" "$cgroup/cpu,cpuacct/cpuacct.usage"; do
    nsec="$(read_first "$file")"
    if number "$nsec"; then cpu_seconds="$(calc "printf \"%.1f\", $nsec / 1000000000")"; break; fi
  done
fi
number "$peak" || peak=""

gib() { calc "printf \"%.1f\", $1 / 1073741824"; }

receipt() {
  echo "Modal runner receipt"
  local reserved="${cpu:-?} CPU cores, $(number "$memory_mib" && gib "$memory_mib * 1048576" || echo "?") GiB memory"
  [ -n "$gpu" ] && reserved="$reserved, GPU $gpu"
  echo "  profile        $profile ($reserved)"
  if [ -n "$wall" ]; then echo "  wall time      ${wall} s in the sandbox"; else echo "  wall time      not available"; fi
  if [ -n "$wall" ] && number "$price"; then
    local dollars
    dollars="$(calc "printf \"%.6f\", $wall * $price")"
    echo "  estimated cost \$$dollars ($wall s at \$$price/s, the App's price table; Modal bills the higher of reserved and used)"
    [ -n "${MODAL_RUNNER_UNPRICED_GPU:-}" ] && echo "                 (no price known for GPU ${MODAL_RUNNER_UNPRICED_GPU}: left out)"
  else
    echo "  estimated cost not available"
  fi
  if [ -n "$peak" ]; then
    echo "  peak memory    $(gib "$peak") GiB$(number "$memory_mib" && echo " of $(gib "$memory_mib * 1048576") GiB")"
  else
    echo "  peak memory    not available"
  fi
  if [ -n "$cpu_seconds" ] && [ -n "$wall" ] && [ "$wall" -gt 0 ]; then
    echo "  CPU            ${cpu_seconds} s of CPU time, $(calc "printf \"%.2f\", $cpu_seconds / $wall") cores on average${cpu:+ of $cpu}"
  else
    echo "  CPU            not available"
  fi
  hint
}

# A hint when the job used far less than it reserved: the smallest profile that
# would have held its peak memory (with a quarter more for headroom).
hint() {
  number "$peak" && number "$memory_mib" || return 0
  local needed_mib fits="" best_mib="" entry name ecpu emem
  needed_mib="$(calc "printf \"%d\", $peak * 1.25 / 1048576 + 1")"
  [ "$needed_mib" -lt "$((memory_mib / 2))" ] || return 0
  for entry in ${MODAL_RUNNER_SMALLER_PROFILES:-}; do
    IFS=: read -r name ecpu emem <<<"$entry"
    number "$emem" || continue
    if [ "$emem" -ge "$needed_mib" ] && { [ -z "$best_mib" ] || [ "$emem" -lt "$best_mib" ]; }; then
      fits="$name"
      best_mib="$emem"
    fi
  done
  if [ -n "$fits" ]; then
    echo "  hint           peak memory $(gib "$peak") GiB of $(gib "$memory_mib * 1048576") GiB: the \`$fits\` profile would have fit"
  else
    echo "  hint           peak memory $(gib "$peak") GiB of $(gib "$memory_mib * 1048576") GiB: a profile with less memory would do"
  fi
}

text="$(receipt)"
printf '%s\n' "$text"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ] && [ -w "$(dirname "$GITHUB_STEP_SUMMARY")" ]; then
  { echo; echo '```'; printf '%s\n' "$text"; echo '```'; } >>"$GITHUB_STEP_SUMMARY" 2>/dev/null || true
fi
exit 0
