#!/usr/bin/env bash
# sweep_mpi.sh NPUSIM SOURCE_DIR: `mpirun -np 3 npusim sweep` deals the points
# to three ranks and writes the same CSV and reports as one process, byte for
# byte; with a rank killed midway the job stops, and the same command
# finishes it with the same results; --jobs and a point that does not fit
# are refused under MPI with rank 0's message.
set -euo pipefail
npusim="$1"; src="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
mpi=(mpirun --oversubscribe --allow-run-as-root -np 3)
# Containers often forbid the cross-process memory access OpenMPI uses for
# large messages (a report is one): copy through shared memory instead.
export OMPI_MCA_btl_vader_single_copy_mechanism=none
hw="$src/examples/hw/npu-128x128-ideal.textproto"
args=(--system "$hw" --kv-len 256 --layers 10 --vary batch=1,2,4,8 --vary core.array.count=1,2,4 --quiet)
"$npusim" sweep "${args[@]}" --csv "$out/one.csv" --reports "$out/one"
"${mpi[@]}" "$npusim" sweep "${args[@]}" --csv "$out/mpi.csv" --reports "$out/mpi"
cmp "$out/one.csv" "$out/mpi.csv" || { echo "3 ranks wrote another CSV" >&2; exit 1; }
diff -r -x journal "$out/one" "$out/mpi" > /dev/null || { echo "3 ranks wrote other reports" >&2; exit 1; }

# A rank killed: mpirun ends the job; the same command resumes it.
"${mpi[@]}" "$npusim" sweep "${args[@]}" --csv "$out/k.csv" > "$out/k.log" 2>&1 &
launcher=$!
sleep 1
ranks=($(pgrep -P "$launcher" || true))
[ "${#ranks[@]}" -gt 0 ] && kill -9 "${ranks[-1]}"
wait "$launcher" 2>/dev/null || true
before=$(grep -c '^point ' "$out/k.csv.journal" 2>/dev/null || true)
"${mpi[@]}" "$npusim" sweep "${args[@]}" --csv "$out/k.csv"
cmp "$out/one.csv" "$out/k.csv" || { echo "resumed under MPI: another CSV" >&2; exit 1; }
[ "$(grep -c '^point ' "$out/k.csv.journal")" -eq 12 ] || { echo "points twice" >&2; exit 1; }
echo "a rank killed with ${before:-0} of 12 points done: resumed"

if "${mpi[@]}" "$npusim" sweep "${args[@]}" --jobs 2 > "$out/err" 2>&1; then
  echo "--jobs under MPI was accepted" >&2; exit 1
fi
grep -q -- "--jobs: under MPI each of the 3 ranks runs one point at a time" "$out/err"
# A point that does not fit: rank 0 refuses the sweep before any runs, and
# says why (the other ranks end quietly, not cutting it off).
if "${mpi[@]}" "$npusim" sweep --system "$hw" --layer tiny --quiet \
    --vary memory.capacity_bytes=1073741824,65536 > "$out/err" 2>&1; then
  echo "a point that does not fit ran under MPI" >&2; exit 1
fi
grep -q "memory.capacity_bytes=65536.*bytes too many" "$out/err"
echo "sweep mpi ok"
