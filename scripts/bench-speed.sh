#!/usr/bin/env bash
# Simulation speed, the figures issue 16 sets targets for, each printed with
# the command that measures it (median of 3 runs by default, and the best run; one core each):
#   - a Llama-2-7B decode token, KV 2048, on npu-hbm3 (target: simulate <= 1 s);
#   - a Llama-2-70B decode token on gb200-like, one chip that holds it
#     (target: simulate <= 10 s);
#   - burst-level memtest, sequential 64-byte reads on one HBM3 stack
#     (target: >= 8 M requests/s);
#   - and, for where the time goes, the 7B token with an ideal memory in
#     place of the DRAM (no target).
# Usage: scripts/bench-speed.sh [--against OTHER_NPUSIM] [--quick]
#   --against  also runs OTHER_NPUSIM (say, a build of an earlier commit),
#              alternating with this one, and prints OTHER / this: before
#              and after measured side by side, as noisy machines need.
#   --quick    2 of the models' decoder layers instead of all (a smoke run).
#   --runs N   runs of each figure (default 3). On a loaded machine the
#              best of many runs (printed beside the median) is the
#              steadier figure: other work only ever slows a run down.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
other=""
layers=()
runs=3
while [[ $# -gt 0 ]]; do
  case "$1" in
    --against) other="$2"; shift 2 ;;
    --quick) layers=(--layers 2); shift ;;
    --runs) runs="${2:-}"; shift $(($# > 1 ? 2 : 1)) ;;
    *) echo "bench-speed.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bench-speed.sh: --runs takes a count, not '$runs'" >&2; exit 2; }
"$here/scripts/setup.sh" >/dev/null
this="$here/build/npusim"

# One figure of one run of binary $1: the rest is the command.
figure() {
  local bin="$1" kind="$2"; shift 2
  if [[ "$kind" == memtest ]]; then
    "$bin" memtest "$@" | sed -n 's/^wall time .*(\([0-9.]*\) M requests\/s.*/\1/p'
  else
    "$bin" bench --repeat 1 "$@" | awk '/^simulate /{print $2}'
  fi
}
median() { tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
# The best of the runs: the least time (ms), or the most requests per second.
best() {
  local unit="$1"
  tr ' ' '\n' | sed '/^$/d' | sort -g | awk -v u="$unit" '{a[NR]=$1} END{print (u == "ms") ? a[1] : a[NR]}'
}

measure() {
  local name="$1" unit="$2" kind="$3"; shift 3
  echo "== $name"
  echo "   npusim $kind $*"
  local mine="" theirs=""
  for _ in $(seq "$runs"); do
    mine="$mine $(figure "$this" "$kind" "$@")"
    if [[ -n "$other" ]]; then theirs="$theirs $(figure "$other" "$kind" "$@")"; fi
  done
  local m mb
  m=$(echo "$mine" | median)
  mb=$(echo "$mine" | best "$unit")
  echo "   this build: $m $unit (median of $runs:$mine; best $mb)"
  if [[ -n "$other" ]]; then
    local t tb
    t=$(echo "$theirs" | median)
    tb=$(echo "$theirs" | best "$unit")
    echo "   $other: $t $unit (median of $runs:$theirs; best $tb)"
    awk -v a="$t" -v b="$m" -v ab="$tb" -v bb="$mb" -v u="$unit" 'BEGIN{
      r = (u == "ms") ? a / b : b / a
      rb = (u == "ms") ? ab / bb : bb / ab
      printf "   speed-up of this build: %.2fx by median, %.2fx by best run\n", r, rb }'
  fi
}

ex="$here/examples"
measure "Llama-2-7B decode token, KV 2048, npu-hbm3 (simulate)" ms bench \
  --system "$ex/hw/npu-hbm3.textproto" --model "$ex/models/llama2-7b.json" --kv-len 2048 \
  "${layers[@]}"
# The same token with an ideal memory of the same bandwidth in place of the
# DRAM: the rest of the simulator's share (no target; the gap to the first
# figure is what the DRAM model costs).
measure "Llama-2-7B decode token, as above, ideal 4096 GB/s memory (simulate)" ms bench \
  --system "$ex/hw/npu-hbm3.textproto" --model "$ex/models/llama2-7b.json" --kv-len 2048 \
  --set memory.ideal.bandwidth_gbps=4096 --set memory.ideal.latency_ns=100 "${layers[@]}"
measure "Llama-2-70B decode token, KV 2048, gb200-like (simulate)" ms bench \
  --system "$ex/hw/gb200-like.textproto" --model "$ex/models/llama2-70b.json" --dtype bf16 \
  --kv-len 2048 "${layers[@]}"
measure "memtest: sequential 64 B reads, one HBM3 stack" "M requests/s" memtest \
  --dram HBM3-6400 --pattern sequential --requests 2000000 --request-bytes 64 --outstanding 1024
