#!/usr/bin/env bash
# Runs each libFuzzer harness (tests/fuzz/fuzz_<kind>.cpp) for a while in the
# sanitized build (scripts/sanitize.sh --build-only), one per core at a time, its seeds
# and saved regressions as the starting corpus; fails if any finds a crash, a
# sanitizer report, a leak, an input slower than 10 s or one needing more than
# 2 GB. Crashing inputs are left in build-san/fuzz-work/<kind>/ with the log
# (tests/fuzz/README.md). Standard output is closed (-close_fd_mask=1): the
# harnesses have nothing to say there.
# The seed is fixed (NPUSIM_FUZZ_SEED, default 1; 0 picks one at random), so
# that a run on the same build explores the same inputs as far as time allows.
# Usage: scripts/fuzz.sh [seconds_per_target] [kind ...]   (default: 60, all)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-60}"
shift || true
kinds=("$@")
[ "${#kinds[@]}" -gt 0 ] || kinds=(system hf_config onnx graph program trace npy)
source "$here/scripts/sanitizer-options.sh"
"$here/scripts/sanitize.sh" --build-only

# One target per core at a time.
jobs="$(nproc 2>/dev/null || echo 2)"
fuzz_one() {
  local kind="$1" work="$san_build/fuzz-work/$1"
  mkdir -p "$work/corpus"
  rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
  if "$san_build/fuzz/fuzz_$kind" -seed="${NPUSIM_FUZZ_SEED:-1}" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -close_fd_mask=1 -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" \
    "$here/tests/fuzz/corpus/$kind" "$here/tests/fuzz/regressions/$kind" >"$work/log" 2>&1; then
    echo "fuzz: $kind: $(grep -a -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$work/log" \
      | grep -o '[0-9]*$') runs in ${seconds} s, no crash"
  else
    echo "fuzz: $kind: FAILED; the input is in $work/, the log in $work/log:"
    grep -a -v '^#[0-9]' "$work/log" | tail -n 60
    return 1
  fi
}
failed=0
running=0
for kind in "${kinds[@]}"; do
  fuzz_one "$kind" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
