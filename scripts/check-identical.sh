#!/usr/bin/env bash
# Whether a change left the results alone: runs 19 reference workloads with
# this build and with OTHER_NPUSIM (say, a build of the commit before) and
# compares their reports byte for byte. A speed-up must pass it; a modelling
# change shows here which runs it moved. The runs span the memory models and
# paths a change can touch: DRAM whole rows and bursts, PIM, tiers, several
# cores, tensor and pipeline parallelism, prefill. Each is 2 decoder layers:
# about a minute in all on 2 cores.
# Usage: scripts/check-identical.sh OTHER_NPUSIM [KEEP_DIR]
#   exit 0: every report identical; 1: some differ or a run failed (listed);
#   2: bad usage. KEEP_DIR keeps both sides' files (this/, other/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -lt 1 || ! -x "$1" ]]; then
  echo "usage: scripts/check-identical.sh OTHER_NPUSIM [KEEP_DIR]" >&2
  exit 2
fi
other="$1"
this="$here/build/npusim"
[[ -x "$this" ]] || "$here/scripts/setup.sh" >/dev/null
out="${2:-$(mktemp -d)}"
mkdir -p "$out/this" "$out/other"
[[ $# -ge 2 ]] || trap 'rm -rf "$out"' EXIT
ex="$here/examples"
m7=(--model "$ex/models/llama2-7b.json" --layers 2)
m70=(--model "$ex/models/llama2-70b.json" --layers 2)

# Calls "$@" NAME ARGS... for each reference run: npusim run's arguments (its
# report is compared) or memtest's (its printout, without the wall time).
reference_runs() {
  local kv=(--kv-len 2048)
  "$@" hbm3 run --system "$ex/hw/npu-hbm3.textproto" "${m7[@]}" "${kv[@]}"
  "$@" a100 run --system "$ex/hw/a100-like.textproto" "${m7[@]}" "${kv[@]}"
  "$@" pim run --system "$ex/hw/npu-hbm3-pim.textproto" "${m7[@]}" "${kv[@]}"
  "$@" core4 run --system "$ex/hw/npu-hbm3-4core.textproto" "${m7[@]}" "${kv[@]}"
  "$@" socamm2 run --system "$ex/hw/lpu-socamm2.textproto" "${m7[@]}" "${kv[@]}"
  "$@" ddr5 run --system "$ex/hw/npu-hbm3-ddr5.textproto" "${m7[@]}" "${kv[@]}" --batch 8
  "$@" cxl run --system "$ex/hw/npu-hbm3-cxl.textproto" "${m7[@]}" "${kv[@]}" --batch 8
  "$@" kv-on-cxl run --system "$ex/hw/npu-hbm3-cxl.textproto" "${m7[@]}" --batch 16 \
    --kv-len 4096 --place kv_cache=cxl
  "$@" prefill512 run --system "$ex/hw/npu-hbm3.textproto" "${m7[@]}" --phase prefill \
    --prompt-len 512
  "$@" gb200 run --system "$ex/hw/gb200-like.textproto" "${m70[@]}" --dtype bf16 "${kv[@]}"
  "$@" tp8 run --system "$ex/hw/a100x8-nvlink.textproto" "${m70[@]}" --dtype bf16
  "$@" pp4-32chips run --system "$ex/hw/groq-like.textproto" "${m70[@]}" --pp 4 \
    --set topology.chips=32 --set topology.torus_y=4
  "$@" kv-on-socamm2 run --system "$ex/hw/vera-rubin-like.textproto" "${m70[@]}" --batch 16 \
    --kv-len 4096 --place kv_cache=socamm2
  local hbm3=(memtest --dram HBM3-6400)
  "$@" mt-seq64 "${hbm3[@]}" --pattern sequential --requests 200000 --request-bytes 64 \
    --outstanding 1024
  "$@" mt-rand64 "${hbm3[@]}" --pattern random --requests 100000 --request-bytes 64 \
    --outstanding 256
  "$@" mt-seq16k "${hbm3[@]}" --pattern sequential --requests 20000 --request-bytes 16384 \
    --outstanding 64
  "$@" mt-mix "${hbm3[@]}" --pattern sequential --requests 100000 --request-bytes 128 \
    --outstanding 256 --read-fraction 0.5
  "$@" mt-ddr5 memtest --dram DDR5-4800-RDIMM --pattern random --requests 50000 \
    --request-bytes 64 --outstanding 128
  "$@" mt-lpddr5x memtest --dram LPDDR5X-8533 --pattern sequential --requests 100000 \
    --request-bytes 256 --outstanding 128
}

# One run of binary $1 into directory $2 (its report or printout, and its
# stderr): the same files from both binaries must match.
one() {
  local bin="$1" dir="$2" name="$3"
  shift 3
  if [[ "$1" == run ]]; then
    "$bin" "$@" --quiet --report "$dir/$name.json" >/dev/null 2>"$dir/$name.err" || true
  else
    "$bin" "$@" 2>"$dir/$name.err" | grep -v '^wall time' >"$dir/$name.txt" || true
  fi
}
names=()
both() {
  names+=("$1")
  one "$this" "$out/this" "$@" &
  one "$other" "$out/other" "$@"
  wait
}
reference_runs both

differ=0
# A run that wrote no report (both binaries failing alike) proves nothing.
for name in "${names[@]}"; do
  for side in this other; do
    if [[ ! -s "$out/$side/$name.json" && ! -s "$out/$side/$name.txt" ]]; then
      echo "failed: $name ($side): $(head -c 300 "$out/$side/$name.err")" >&2
      differ=1
    fi
  done
done
for f in "$out/this"/*; do
  n="$(basename "$f")"
  if ! cmp -s "$f" "$out/other/$n"; then
    echo "differs: $n" >&2
    differ=1
  fi
done
count="$(ls "$out/this" | wc -l)"
if [[ $differ -eq 0 ]]; then
  echo "identical: ${#names[@]} runs, $count files ($this against $other)"
fi
exit $differ
