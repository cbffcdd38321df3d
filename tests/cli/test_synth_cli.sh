#!/usr/bin/env bash
# `mhim synth`: equal seeds give byte-identical cohorts, another seed differs, the files have the CLAM
# layout (features float32 (N,D) chunks (32,D), coords int32 (N,2)), label.csv matches the files, and bad
# input exits 2 with exactly one stderr line.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
tmp=${MHIM_TEST_TMP:-/tmp}/cli_synth.$$
rm -rf "$tmp"
mkdir -p "$tmp"
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # check NAME COMMAND...: ok when the command succeeds
    local name=$1; shift
    if "$@"; then echo "ok   $name"; else echo "FAIL $name"; fail=1; fi
}
small=(--n_slides 6 --mean_instances 150 --min_instances 40 --max_instances 400 --feature_dim 24)

for run in a b; do "$bin" synth --out "$tmp/$run" "${small[@]}" --seed 5 >"$tmp/$run.out" 2>"$tmp/$run.err"; done
"$bin" synth --out "$tmp/c" "${small[@]}" --seed 6 >"$tmp/c.out" 2>"$tmp/c.err"
cat "$tmp/a.out"
check "synth exits 0 and prints the summary" grep -q "wrote 6 slides (2 positive, 4 negative)" "$tmp/a.out"
sums() { (cd "$1" && sha256sum label.csv h5_files/*.h5); }
sums "$tmp/a" >"$tmp/a.sum"
sums "$tmp/b" >"$tmp/b.sum"
sums "$tmp/c" >"$tmp/c.sum"
head -3 "$tmp/a.sum"
check "same seed: byte-identical label.csv and .h5 files" cmp -s "$tmp/a.sum" "$tmp/b.sum"
check "another seed: different .h5 files" bash -c "! cmp -s <(grep h5 '$tmp/a.sum') <(grep h5 '$tmp/c.sum')"

# label.csv: headerless slide_id,label; one row per .h5 file; tumor_* = 1, normal_* = 0
check "label.csv has 6 rows, tumor_NNN,1 / normal_NNN,0" \
    bash -c "[ \$(wc -l <'$tmp/a/label.csv') -eq 6 ] && ! grep -Ev '^(tumor_[0-9]{3},1|normal_[0-9]{3},0)$' '$tmp/a/label.csv'"
check "every label row has its h5 file and nothing else is there" \
    bash -c "diff <(cut -d, -f1 '$tmp/a/label.csv' | sort | sed 's/\$/.h5/') <(ls '$tmp/a/h5_files' | sort)"

# layout, read by mhim's own reader
first=$(head -1 "$tmp/a/label.csv" | cut -d, -f1)
"$bin" info "$tmp/a/h5_files/$first.h5" >"$tmp/info" 2>&1
cat "$tmp/info"
check "features float32 (N, 24), chunks (32, 24), no NaN/Inf" \
    grep -Eq "/features: float32 \([0-9]+, 24\), chunks \(32, 24\), no filters, NaN 0, Inf 0" "$tmp/info"
check "coords int32 (N, 2), chunks (32, 2)" grep -Eq "/coords: int32 \([0-9]+, 2\), chunks \(32, 2\)" "$tmp/info"
if command -v h5dump >/dev/null; then
    check "unlimited first dimension (h5dump)" \
        bash -c "h5dump -H '$tmp/a/h5_files/$first.h5' | grep -c 'H5S_UNLIMITED, 24' | grep -q 1"
fi

# bad input: exit 2, one line on stderr naming the problem
expect_bad() { # expect_bad NAME REGEX ARGS...
    local name=$1 re=$2; shift 2
    "$bin" synth "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(wc -l <"$tmp/err")
    echo "     $name -> rc=$rc: $(cat "$tmp/err")"
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$re" "$tmp/err"; then echo "ok   $name"; else
        echo "FAIL $name (rc=$rc, $lines stderr lines, wanted /$re/)"; fail=1; fi
}
expect_bad "existing cohort folder" "already holds a cohort" --out "$tmp/a" "${small[@]}"
expect_bad "missing --out" "--out" "${small[@]}"
expect_bad "out of range" "positive_fraction" --out "$tmp/d" --positive_fraction 1.5
expect_bad "min > max instances" "min_instances" --out "$tmp/d" --min_instances 500 --max_instances 100
expect_bad "unknown option" "n_slide" --out "$tmp/d" --n_slide 3
expect_bad "output under a file" "$tmp/a/label.csv" --out "$tmp/a/label.csv/x" "${small[@]}"
check "--help exits 0 and lists the options" bash -c "'$bin' synth --help | grep -q -- '--mean_instances'"
exit $fail
