#!/usr/bin/env bash
# CLI test of `--device`: cpu is accepted by `mhim config`; an unknown device exits 2 naming the choices; cuda exits
# 2 with exactly one error line that says what is missing (no CUDA backend in this build, no usable GPU, or the
# training engine not running on the GPU) and how to continue (--device=cpu), never falling back silently.
set -u
BIN=${MHIM_BIN:?MHIM_BIN not set}
TMP=${MHIM_TEST_TMP:-/tmp}/cli_device
mkdir -p "$TMP"
fails=0

# expect CODE SUBSTRING ARGS...: exit status CODE and (for CODE 2) one "mhim: error:" line containing SUBSTRING.
expect() {
    local code=$1 want=$2
    shift 2
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    local errs first
    errs=$(grep -c '^mhim: error: ' "$TMP/err")
    first=$(grep '^mhim: error: ' "$TMP/err" | head -1)
    if [[ $rc -eq $code && ( $code -eq 0 && $errs -eq 0 || $errs -eq 1 && $first == *"$want"* ) ]]; then
        echo "ok   [$rc] mhim $* ${first:+-> $first}"
    else
        echo "FAIL mhim $*: rc=$rc (want $code), $errs error line(s), stderr: $(cat "$TMP/err")"
        echo "     wanted: $want"
        fails=$((fails + 1))
    fi
}

expect 0 "" config --device=cpu
grep -q '^device: cpu' "$TMP/out" || { echo "FAIL mhim config does not echo 'device: cpu'"; fails=$((fails + 1)); }
expect 2 "expected one of cpu|cuda" config --device=gpu
# v2: refused on GPU machines too (MHIM-v2 is not on the GPU yet), before a run folder exists
expect 2 "--device=cuda" train --device=cuda --mhim_version=2 --model=mhim --model_path="$TMP/run"
grep -q -- "--device=cpu" "$TMP/err" || { echo "FAIL the cuda message does not suggest --device=cpu"; fails=$((fails + 1)); }
[[ ! -e "$TMP/run" ]] || { echo "FAIL a run folder was created for a refused --device=cuda"; fails=$((fails + 1)); }

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
