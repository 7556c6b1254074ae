#!/usr/bin/env bash
# golden.sh GOLDEN COMMAND...: runs COMMAND and diffs its output with GOLDEN.
# Set NPUSIM_UPDATE_GOLDEN=1 to rewrite the golden file instead.
golden="$1"; shift
out="$(mktemp)"; trap 'rm -f "$out"' EXIT
"$@" >"$out" || exit 1
if [ "${NPUSIM_UPDATE_GOLDEN:-0}" = 1 ]; then cp "$out" "$golden"; echo "updated $golden"; exit 0; fi
diff -u "$golden" "$out" | head -50
cmp -s "$golden" "$out"
