#!/usr/bin/env bash
# Compute-bound GEMMs on DRAM against ideal memory: M x 12288 x 12288 fp16 on
# a100-like and npu-hbm3, each program also on ideal memory with the DRAM's
# peak bandwidth and unloaded latency. Prints the simulated time of both, the
# ratio, the arrays' utilisation, the limiter and the tiler's estimate.
# (M = 256 and 1024 are unit tests: tests/test_gemm_roof.cpp.)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
npusim="${NPUSIM:-$here/build/npusim}"
dir="$(mktemp -d)"; trap 'rm -rf "$dir"' EXIT
printf "%-10s %6s %10s %10s %6s %6s %-16s %9s\n" system M "dram us" "ideal us" ratio util "limited by" "estimate"
for hw in a100-like npu-hbm3; do
  sys="$here/examples/hw/$hw.textproto"
  for m in ${GEMM_M:-256 1024 4096 8192}; do
    g="$dir/gemm$m.textproto"
    cat >"$g" <<G
name: "gemm$m"
tensors { name: "x" shape: [$m, 12288] dtype: FP16 tensor_class: ACTIVATION }
tensors { name: "w" shape: [12288, 12288] dtype: FP16 tensor_class: WEIGHT is_parameter: true }
tensors { name: "y" shape: [$m, 12288] dtype: FP16 tensor_class: ACTIVATION }
nodes { name: "mm" op: MATMUL inputs: ["x", "w"] outputs: ["y"] }
G
    "$npusim" compile --system "$sys" --model "$g" --output "$dir/p.pb"
    "$npusim" run --system "$sys" --program "$dir/p.pb" --quiet --report "$dir/d.json"
    read -r peak lat < <(python3 -c "import json; t = json.load(open('$dir/d.json'))['traffic']; print(t['peak_bandwidth_gbps'], t['unloaded_latency_ns'])")
    # The same program on ideal memory.
    "$npusim" run --system "$sys" --program "$dir/p.pb" --quiet --report "$dir/i.json" \
      --set "memory.ideal.bandwidth_gbps=$peak" --set "memory.ideal.latency_ns=$lat"
    est=$("$npusim" compile --system "$sys" --model "$g" --emit tiled | grep -A2 estimated_cycles | grep -o '[0-9]*' | tail -1)
    python3 - "$dir/d.json" "$dir/i.json" "$hw" "$m" "$est" <<'P'
import json, sys
d, i = (json.load(open(p)) for p in sys.argv[1:3])
hw, m, est = sys.argv[3], sys.argv[4], float(sys.argv[5]) / (d["core_clock_ghz"] * 1e9)
print(f"{hw:<10} {m:>6} {d['seconds']*1e6:>10.1f} {i['seconds']*1e6:>10.1f} "
      f"{d['seconds']/i['seconds']:>6.3f} {100*d['compute']['array_utilization']:>5.1f}% "
      f"{d['limiter']['resource']:<16} {est/d['seconds']:>8.3f}x")
P
  done
done
