#!/usr/bin/env bash
# sweep_resume.sh NPUSIM SOURCE_DIR: a sweep killed with SIGKILL at several
# moments, in one process or two, leaves no process behind, and the same
# command then finishes it: every point once, the CSV and the reports
# byte-identical to a run never interrupted. A point that fails stops the
# sweep with the finished points kept, or with --keep-going is recorded in
# the CSV's error column; a point that does not fit is refused before any
# point runs.
set -euo pipefail
npusim="$1"; src="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
hw="$src/examples/hw/npu-128x128-ideal.textproto"
args=(--system "$hw" --kv-len 256 --layers 6 --vary batch=1,2,4,8 --vary core.array.count=1,2,4 --quiet)
"$npusim" sweep "${args[@]}" --csv "$out/ref.csv" --reports "$out/ref"
[ "$(wc -l < "$out/ref.csv")" -eq 13 ] || { echo "expected 12 rows" >&2; exit 1; }

for delay_jobs in 0.3:1 0.7:2 1.2:2 2.0:1; do
  delay="${delay_jobs%:*}"; jobs="${delay_jobs#*:}"
  run="$out/k$delay"
  "$npusim" sweep "${args[@]}" --csv "$run.csv" --reports "$run" --jobs "$jobs" &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  sleep 0.3
  # Children die with the sweep.
  if pgrep -f -- "--csv $run.csv" > /dev/null; then
    echo "killed after ${delay}s (--jobs $jobs): processes left behind" >&2; exit 1
  fi
  before=$(grep -c '^point ' "$run.csv.journal" 2>/dev/null || true)
  "$npusim" sweep "${args[@]}" --csv "$run.csv" --reports "$run" --jobs "$jobs"
  cmp "$out/ref.csv" "$run.csv" || { echo "killed after ${delay}s: another CSV" >&2; exit 1; }
  diff -r "$out/ref" "$run" -x journal > /dev/null || { echo "killed after ${delay}s: other reports" >&2; exit 1; }
  [ "$(grep -c '^point ' "$run.csv.journal")" -eq 12 ] || { echo "killed after ${delay}s: points twice" >&2; exit 1; }
  ls "$out" | grep -q partial && { echo "temporary files left" >&2; exit 1; }
  echo "killed after ${delay}s with ${before:-0} of 12 points done (--jobs $jobs): resumed"
done

# Another sweep over the same files is refused, not mixed in.
if "$npusim" sweep "${args[@]/batch=1,2,4,8/batch=1,2}" --csv "$out/ref.csv" 2> "$out/err"; then
  echo "a changed sweep was mixed into the old results" >&2; exit 1
fi
grep -q "holds the results of another sweep" "$out/err"

# A point that fails when it runs: the sweep stops, keeping the finished one.
fail=(--system "$hw" --layer tiny --vary core.scratchpad.capacity_bytes=1048576,2048 --quiet)
if "$npusim" sweep "${fail[@]}" --csv "$out/f.csv" 2> "$out/err"; then
  echo "a failed point did not stop the sweep" >&2; exit 1
fi
grep -q "too small for node" "$out/err"
grep -q "1 of 2 points finished" "$out/err"
[ "$(wc -l < "$out/f.csv")" -eq 2 ]
# With --keep-going it is recorded, with its error.
"$npusim" sweep "${fail[@]}" --csv "$out/f.csv" --keep-going
/usr/bin/python3 - "$out/f.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 2, rows
assert rows[0]["error"] == "" and float(rows[0]["seconds"]) > 0, rows[0]
assert "too small for node" in rows[1]["error"] and rows[1]["seconds"] == "", rows[1]
PY

# A full disk (here a 1 KiB file size limit) stops the sweep with a clear
# error; what it kept is whole, and the same command finishes the sweep.
if (ulimit -f 1 && exec "$npusim" sweep "${args[@]}" --csv "$out/l.csv") 2> "$out/err"; then
  echo "a sweep that could not write its results succeeded" >&2; exit 1
fi
grep -Eq "l[.]csv([.]journal)?: .*writing the file failed" "$out/err"
/usr/bin/python3 - "$out/l.csv" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1])))
assert all(len(r) == len(rows[0]) for r in rows), rows
PY
"$npusim" sweep "${args[@]}" --csv "$out/l.csv"
cmp "$out/ref.csv" "$out/l.csv"

# A point that does not fit is refused before any point runs.
if "$npusim" sweep --system "$hw" --layer tiny --vary memory.capacity_bytes=1073741824,65536 \
    --csv "$out/c.csv" --quiet 2> "$out/err"; then
  echo "a point that does not fit ran" >&2; exit 1
fi
grep -q "memory.capacity_bytes=65536.*bytes too many" "$out/err"
[ ! -e "$out/c.csv" ] || { echo "points ran before the check" >&2; exit 1; }
echo "sweep resume ok"
