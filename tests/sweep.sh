#!/usr/bin/env bash
# sweep.sh NPUSIM SOURCE_DIR: npusim sweep runs every combination, in one
# process or several with the same figures, and each row is what npusim run
# reports for that point.
set -euo pipefail
npusim="$1"; src="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
hw="$src/examples/hw/npu-128x128-ideal.textproto"
args=(--system "$hw" --layer tiny --kv-len 64 --vary batch=1,4 --vary core.array.count=1,2 --quiet)
"$npusim" sweep "${args[@]}" --csv "$out/one.csv" --reports "$out/reports"
"$npusim" sweep "${args[@]}" --csv "$out/two.csv" --jobs 2
cmp "$out/one.csv" "$out/two.csv" || { echo "--jobs 2 gave other figures" >&2; exit 1; }
ls "$out/reports"/batch={1,4}_core.array.count={1,2}.json > /dev/null
"$npusim" run --system "$hw" --layer tiny --kv-len 64 --batch 4 --set core.array.count=2 \
  --quiet --report "$out/direct.json"
/usr/bin/python3 - "$out/one.csv" "$out/direct.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 4, rows
assert list(rows[0])[:3] == ["batch", "core.array.count", "system"], list(rows[0])
assert [(r["batch"], r["core.array.count"]) for r in rows] == [
    ("1", "1"), ("1", "2"), ("4", "1"), ("4", "2")], rows
direct = json.load(open(sys.argv[2]))
assert int(rows[3]["cycles"]) == int(direct["cycles"]), (rows[3]["cycles"], direct["cycles"])
assert abs(float(rows[3]["joules"]) - direct["energy"]["joules"]) <= 1e-9 * direct["energy"]["joules"]
# Batch 4 makes more tokens per second than batch 1 on the same machine.
assert float(rows[2]["tokens_per_s"]) > 2 * float(rows[0]["tokens_per_s"])
PY
# The system file itself can be an axis.
"$npusim" sweep --layer tiny --quiet --csv "$out/systems.csv" \
  --vary "system=$hw,$src/examples/hw/edge-npu-32x32.textproto"
/usr/bin/python3 - "$out/systems.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [r["system"].rsplit("/", 1)[1] for r in rows] == [
    "npu-128x128-ideal.textproto", "edge-npu-32x32.textproto"], rows
assert float(rows[1]["seconds"]) > float(rows[0]["seconds"])  # 51 GB/s against 1 TB/s
PY
echo "sweep ok"
