#!/usr/bin/env bash
# install.sh BUILD_DIR SOURCE_DIR: `cmake --install` into a fresh prefix
# puts the command, presets, model configs, scripts and the CMake package
# there; a small project finds the package (find_package(npusim)), links
# npusim::npusim and runs one simulation with the cycles `npusim run` gives.
set -euo pipefail
build="$1"; src="$2"
out="$(mktemp -d)"; trap 'rm -rf "$out"' EXIT
cmake --install "$build" --prefix "$out/prefix" > /dev/null
for f in bin/npusim share/npusim/hw/npu-hbm3.textproto share/npusim/models/llama2-7b.json \
         share/npusim/scripts/plot_roofline.py lib/cmake/npusim/npusimConfig.cmake \
         include/npusim/sim/simulator.h include/npusim/sim/report.pb.h \
         share/doc/npusim/LICENSE; do
  [ -e "$out/prefix/$f" ] || { echo "not installed: $f" >&2; exit 1; }
done
"$out/prefix/bin/npusim" --version | grep -q '^npusim [0-9]'
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$src/tests/install" -B "$out/embed" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$out/prefix" > "$out/configure.log" || { cat "$out/configure.log"; exit 1; }
cmake --build "$out/embed" > "$out/build.log" 2>&1 || { cat "$out/build.log"; exit 1; }
cycles="$("$out/embed/embed")"
"$out/prefix/bin/npusim" run --system "$out/prefix/share/npusim/hw/npu-128x128-ideal.textproto" \
  --layer tiny --kv-len 64 --quiet --report "$out/r.json"
expected="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["cycles"])' "$out/r.json")"
[ "$cycles" = "$expected" ] || { echo "embedded run: $cycles cycles, npusim run: $expected" >&2; exit 1; }
echo "install ok: the embedded run took $cycles cycles, as npusim run"
