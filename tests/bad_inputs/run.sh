#!/usr/bin/env bash
# run.sh NPUSIM CASEFILE: runs a catalogue of bad inputs against npusim.
#
# A case file has one case per line (blank lines and lines starting with '#'
# are skipped):
#
#   name<TAB>expected-ERE<TAB>arguments
#
# `arguments` is a bash word list, expanded with these variables set:
#   $HW     examples/hw/npu-128x128-ideal.textproto
#   $EX     examples/
#   $BAD    tests/bad/
#   $FILES  tests/bad_inputs/files/
#   $TMP    a fresh, empty directory for this case (npusim runs inside it)
# All are absolute paths, directories without a trailing slash.
#
# Two helpers write inputs into $TMP and print their path, for use as
# $(...) in the arguments:
#   mkfile NAME TEXT          writes TEXT (no newline added) to $TMP/NAME
#   jset SRC NAME KEY VALUE   copies the JSON file SRC to $TMP/NAME with the
#                             top-level "KEY": value replaced by VALUE (JSON
#                             text, inserted as is) or, when VALUE is
#                             DELETE, the key removed; KEY must be on a line
#                             of its own in SRC (as in examples/models/)
#   sedit SRC NAME SCRIPT     copies the text file SRC to $TMP/NAME edited by
#                             the sed -E script SCRIPT (which must change it)
#
# A case passes only when `timeout 60 NPUSIM arguments...` exits with status
# 2, its standard error matches the ERE (grep -E) and names no internal error,
# uncaught exception or SystemC report, and it left no new file in $TMP (a
# partial output). Files the arguments' expansion itself creates (e.g.
# $(printf x > $TMP/in)) are inputs, not outputs. Prints one line per failing
# case and a summary; exits 1 if any case failed.
#
# A case whose name ends in _file_limit runs under `ulimit -f 1` (1 KiB):
# its outputs cannot be written whole, as on a full disk.
#
# NPUSIM_BAD_TIMEOUT overrides the 60 s limit; NPUSIM_BAD_ONLY=ERE runs only
# the cases whose name matches.
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 NPUSIM CASEFILE" >&2
  exit 2
fi
npusim="$(realpath "$1")"
casefile="$2"
[ -x "$npusim" ] || { echo "$npusim: not an executable" >&2; exit 2; }
[ -r "$casefile" ] || { echo "$casefile: cannot read" >&2; exit 2; }

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HW="$root/examples/hw/npu-128x128-ideal.textproto"
EX="$root/examples"
BAD="$root/tests/bad"
FILES="$root/tests/bad_inputs/files"
limit="${NPUSIM_BAD_TIMEOUT:-60}"
only="${NPUSIM_BAD_ONLY:-}"

mkfile() {
  printf '%s' "$2" >"$TMP/$1" && printf '%s' "$TMP/$1"
}
jset() {
  local src="$1" dest="$TMP/$2" key="$3" value="$4"
  grep -q "^  \"$key\":" "$src" || { echo "jset: no line \"$key\": in $src" >&2; return 1; }
  if [ "$value" = DELETE ]; then
    grep -v "^  \"$key\":" "$src" >"$dest"
  else
    awk -v key="$key" -v value="$value" '
      index($0, "  \"" key "\":") == 1 {
        comma = ($0 ~ /,[[:space:]]*$/) ? "," : ""
        print "  \"" key "\": " value comma; next
      }
      { print }' "$src" >"$dest"
  fi
  printf '%s' "$dest"
}
sedit() {
  local src="$1" dest="$TMP/$2"
  sed -E "$3" "$src" >"$dest" || return 1
  if cmp -s "$src" "$dest"; then echo "sedit: '$3' does not change $src" >&2; return 1; fi
  printf '%s' "$dest"
}
export -f mkfile jset sedit

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

total=0
failed=0
declare -A seen=()

fail() {  # fail NAME REASON [STDERR-FILE]
  failed=$((failed + 1))
  local msg="FAIL $1: $2"
  if [ $# -ge 3 ] && [ -s "$3" ]; then
    msg+="; stderr: $(head -c 400 "$3" | tr '\n' ' ')"
  fi
  echo "$msg"
}

lineno=0
while IFS= read -r line || [ -n "$line" ]; do
  lineno=$((lineno + 1))
  case "$line" in '' | '#'*) continue ;; esac
  [[ "$line" =~ ^[[:space:]]*$ ]] && continue
  name="${line%%$'\t'*}"
  rest="${line#*$'\t'}"
  if [ "$rest" = "$line" ] || [ "${rest#*$'\t'}" = "$rest" ]; then
    total=$((total + 1))
    fail "${casefile##*/}:$lineno" "expected name<TAB>ERE<TAB>arguments"
    continue
  fi
  expect="${rest%%$'\t'*}"
  argtext="${rest#*$'\t'}"
  if [ -n "$only" ] && ! grep -Eq -- "$only" <<<"$name"; then continue; fi
  total=$((total + 1))
  if [ -n "${seen[$name]:-}" ]; then
    fail "$name" "duplicate case name (line $lineno and ${seen[$name]})"
    continue
  fi
  seen[$name]=$lineno

  TMP="$work/case"
  rm -rf "$TMP" && mkdir "$TMP"
  export HW EX BAD FILES TMP
  args=()
  if ! eval "args=($argtext)" 2>"$work/eval.err" || [ -s "$work/eval.err" ]; then
    fail "$name" "arguments do not expand: $(tr '\n' ' ' <"$work/eval.err")"
    continue
  fi
  (cd "$TMP" && find . -mindepth 1 | sort) >"$work/before"
  start=$SECONDS
  # (the outer redirection hides bash's own "Segmentation fault" notice)
  # A case named *_file_limit runs with a file size limit of 1 KiB: its
  # output cannot be written whole (as on a full disk).
  fsize=unlimited
  case "$name" in *_file_limit) fsize=1 ;; esac
  { (cd "$TMP" && ulimit -f "$fsize" && exec timeout -k 5 "$limit" "$npusim" "${args[@]}") \
    </dev/null >"$work/stdout" 2>"$work/stderr"; } 2>/dev/null
  status=$?
  elapsed=$((SECONDS - start))
  (cd "$TMP" && find . -mindepth 1 | sort) >"$work/after"
  new="$(comm -13 "$work/before" "$work/after" | tr '\n' ' ')"

  if [ $status -eq 124 ] || { [ $status -eq 137 ] && [ $elapsed -ge "$limit" ]; }; then
    fail "$name" "hang (no exit within ${limit} s)" "$work/stderr"
  elif [ $status -gt 128 ]; then
    fail "$name" "signal $((status - 128))" "$work/stderr"
  elif [ $status -eq 1 ]; then
    fail "$name" "internal error (exit 1)" "$work/stderr"
  elif [ $status -eq 0 ]; then
    fail "$name" "accepted nonsense (exit 0)" "$work/stderr"
  elif [ $status -ne 2 ]; then
    fail "$name" "exit status $status, not 2" "$work/stderr"
  elif grep -Eq -- 'internal error|terminate called|Error: \(E|SystemC' "$work/stderr"; then
    fail "$name" "stderr names an internal error, an uncaught exception or SystemC" "$work/stderr"
  elif grep -q -- '/OSCI/SystemC' "$work/stdout"; then
    fail "$name" "stdout has a SystemC report" "$work/stdout"
  elif ! grep -Eq -- "$expect" "$work/stderr"; then
    fail "$name" "stderr does not match '$expect'" "$work/stderr"
  elif [ -n "$new" ]; then
    fail "$name" "left a partial output: $new" "$work/stderr"
  fi
done <"$casefile"

echo "${casefile##*/}: $total cases, $((total - failed)) passed, $failed failed"
[ $failed -eq 0 ]
