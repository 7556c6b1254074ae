#!/usr/bin/env bash
# plots.sh NPUSIM SOURCE_DIR: the plotting scripts run on a small report and
# a small timeline and write non-empty PNGs.
set -euo pipefail
npusim="$1"; src="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
hw="$src/examples/hw/npu-128x128-ideal.textproto"
"$npusim" run --system "$hw" --layer tiny --batch 2 --kv-len 64 --layers 2 --quiet \
  --report "$out/a.json" --trace "$out/t.json"
"$npusim" run --system "$hw" --layer tiny --batch 8 --kv-len 64 --layers 2 --quiet \
  --report "$out/b.json"
/usr/bin/python3 "$src/scripts/plot_roofline.py" "$out/a.json" "$out/b.json" -o "$out/roofline.png"
/usr/bin/python3 "$src/scripts/plot_timeline.py" "$out/t.json" -o "$out/timeline.png"
/usr/bin/python3 "$src/scripts/plot_compare.py" "$out/a.json" "$out/b.json" -o "$out/compare.png" \
  --labels "batch 2,batch 8"
"$npusim" sweep --system "$hw" --layer tiny --kv-len 64 --vary batch=1,4,16 \
  --vary core.array.count=1,2 --quiet --csv "$out/s.csv"
/usr/bin/python3 "$src/scripts/plot_sweep.py" "$out/s.csv" --x batch --y tokens_per_s \
  --series core.array.count --logx -o "$out/sweep.png"
/usr/bin/python3 "$src/scripts/plot_sweep.py" "$out/s.csv" --x batch --y tokens_per_s \
  --series batch --facet core.array.count --logx --logy --title "facets" -o "$out/facets.png"
# The trace says what the counters are drawn against.
/usr/bin/python3 - "$out/t.json" <<'PY'
import json, sys
other = json.load(open(sys.argv[1]))["otherData"]
assert other["system"] == "npu-128x128-ideal" and other["peak_memory_gbps"] == 1000, other
assert other["scratchpad_mib"] > 0, other
PY
for png in roofline timeline compare sweep facets; do
  test -s "$out/$png.png" || { echo "$png.png is empty" >&2; exit 1; }
  head -c 8 "$out/$png.png" | od -An -c | grep -q "P   N   G" || { echo "$png.png is no PNG" >&2; exit 1; }
done
echo "plots ok"
