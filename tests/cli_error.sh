#!/usr/bin/env bash
# cli_error.sh EXPECTED_REGEX NPUSIM ARGS...: passes when npusim exits with
# status 2 and its standard error matches EXPECTED_REGEX.
expect="$1"; shift
err="$("$@" 2>&1 >/dev/null)"
status=$?
if [ "$status" -ne 2 ]; then
  echo "expected exit status 2, got $status; stderr: $err"; exit 1
fi
if ! grep -Eq -- "$expect" <<<"$err"; then
  echo "stderr does not match '$expect': $err"; exit 1
fi
echo "ok: $err"
