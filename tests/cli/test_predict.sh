#!/usr/bin/env bash
# `mhim predict`: the original's checkpoint layouts (.pt fixtures) and an mhim HDF5 checkpoint on one bag, a folder
# and a label CSV; CSV/HDF5 attention outputs with coordinates; the same bag gives the same line whichever way it
# is given; bad inputs exit 2 with one line naming the file, and leave no output behind.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
fix=${MHIM_SOURCE_DIR:?MHIM_SOURCE_DIR not set}/tests/fixtures/ckpt
tmp=${MHIM_TEST_TMP:-/tmp}/predict_cli
rm -rf "$tmp" && mkdir -p "$tmp"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
export OMP_WAIT_POLICY=passive

"$bin" synth --out "$tmp/coh" --n_slides 4 --mean_instances 30 --min_instances 10 --max_instances 60 \
    --feature_dim 16 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
"$bin" synth --out "$tmp/wide" --n_slides 1 --mean_instances 20 --min_instances 10 --max_instances 30 \
    --feature_dim 8 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
bags=$tmp/coh/h5_files

# run NAME ARGS...: expect exit 0 and an empty stdout
run() {
    local name=$1; shift
    "$bin" predict "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -eq 0 ]; then ok "$name"; else bad "$name (rc=$rc)"; cat "$tmp/err"; fi
}

# expect_bad NAME REGEX ARGS...: exit 2, exactly one stderr line matching REGEX
expect_bad() {
    local name=$1 re=$2; shift 2
    "$bin" predict "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$? lines
    lines=$(grep -vc '^\[' "$tmp/err")
    echo "     $name -> rc=$rc: $(grep -v '^\[' "$tmp/err")"
    if [ $rc -eq 2 ] && [ "$lines" -eq 1 ] && grep -Eq -- "$re" "$tmp/err"; then ok "$name"; else bad "$name"; fi
}

# check_probs FILE ROWS: header + ROWS lines, probabilities in [0,1] summing to 1, pred = argmax
check_probs() {
    local file=$1 rows=$2
    awk -F, -v rows="$rows" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i ~ /^prob_/) { if (!first) first = i; last = i }; next }
        { n++; s = 0; best = first; for (i = first; i <= last; i++) { if ($i < 0 || $i > 1) bad = 1; s += $i;
          if ($i > $best) best = i }; if (s < 0.99999 || s > 1.00001) bad = 1; if ($NF != best - first) bad = 1 }
        END { exit !(n == rows && !bad && first) }' "$file"
}

run "abmil .pt on a folder, attention CSV" --checkpoint="$fix/abmil_v1_bare.pt" --input="$bags" \
    --output="$tmp/abmil.csv" --attention="$tmp/abmil_attn.csv"
head -2 "$tmp/abmil.csv" | sed 's/^/     /'
check_probs "$tmp/abmil.csv" 4 && ok "abmil probabilities" || bad "abmil probabilities"
total=$("$bin" info "$bags"/*.h5 | sed -n 's|^  /features: float32 (\([0-9]*\), 16).*|\1|p' | awk '{s += $1} END {print s}')
rows=$(($(wc -l <"$tmp/abmil_attn.csv") - 1))
[ "$rows" -eq "$total" ] && ok "one attention row per instance ($rows)" || bad "attention rows $rows != $total"
head -1 "$tmp/abmil_attn.csv" | grep -q '^slide,instance,x,y,attention$' && ok "attention CSV header" || bad "attention CSV header"
awk -F, 'NR > 1 { s[$1] += $5 } END { for (k in s) if (s[k] < 0.9999 || s[k] > 1.0001) exit 1 }' "$tmp/abmil_attn.csv" \
    && ok "ABMIL attention sums to 1 per bag" || bad "ABMIL attention sums"
awk -F, 'NR > 1 && ($3 == "" || $4 == "") { exit 1 }' "$tmp/abmil_attn.csv" && ok "coordinates present" || bad "coordinates"

run "one bag file" --checkpoint="$fix/abmil_v1_bare.pt" --input="$bags/tumor_001.h5" --output="$tmp/one.csv"
grep '^tumor_001,' "$tmp/abmil.csv" >"$tmp/a" && grep '^tumor_001,' "$tmp/one.csv" >"$tmp/b"
cmp -s "$tmp/a" "$tmp/b" && ok "same bag, same line (file vs folder)" || bad "file vs folder differ"

run "dsmil .pt ({'model', 'teacher': None}), attention HDF5" --checkpoint="$fix/dsmil_v1_model.pt" --input="$bags" \
    --output="$tmp/dsmil.csv" --attention="$tmp/dsmil_attn.h5"
check_probs "$tmp/dsmil.csv" 4 && ok "dsmil probabilities" || bad "dsmil probabilities"
h5ls -r "$tmp/dsmil_attn.h5" | grep -Eq '^/tumor_001/attention +Dataset \{1, [0-9]+\}' && \
    h5ls -r "$tmp/dsmil_attn.h5" | grep -Eq '^/tumor_001/coords +Dataset \{[0-9]+, 2\}' && ok "attention HDF5 layout" \
    || { bad "attention HDF5 layout"; h5ls -r "$tmp/dsmil_attn.h5"; }

run "v2 .pt teacher weights (module. prefixes, merge.* ignored)" --checkpoint="$fix/abmil_v2_nested.pt" \
    --section=teacher --input="$bags" --output="$tmp/v2t.csv"
check_probs "$tmp/v2t.csv" 4 && ok "v2 teacher probabilities" || bad "v2 teacher probabilities"

run "mhim checkpoint on a label CSV" --checkpoint="$fix/mhim_written.h5" --input="$tmp/coh/label.csv" \
    --dataset_root="$tmp/coh" --output="$tmp/labels.csv"
head -1 "$tmp/labels.csv" | grep -q '^slide,label,prob_0,prob_1,pred$' && ok "label column" || bad "label column"
grep -q '^tumor_001,1,' "$tmp/labels.csv" && grep -q '^normal_001,0,' "$tmp/labels.csv" && ok "labels from the CSV" \
    || bad "labels from the CSV"

expect_bad "missing --checkpoint" "checkpoint" --input="$bags" --output="$tmp/x.csv"
expect_bad "feature width differs" "wide/h5_files/.*8 features per instance.*input_dim 16" \
    --checkpoint="$fix/abmil_v1_bare.pt" --input="$tmp/wide/h5_files" --output="$tmp/x.csv"
[ ! -e "$tmp/x.csv" ] && [ -z "$(ls -A "$tmp" | grep '\.tmp\.')" ] && ok "no output and no temporary left" \
    || bad "output or temporary left behind"
expect_bad "a bag is not a checkpoint" "not an mhim checkpoint" --checkpoint="$bags/tumor_001.h5" --input="$bags" \
    --output="$tmp/x.csv"
expect_bad "v2 teacher absent in a v1 file" "'teacher' is None" --checkpoint="$fix/dsmil_v1_model.pt" \
    --section=teacher --input="$bags" --output="$tmp/x.csv"
expect_bad "output folder missing" "nowhere/p.csv: cannot create" --checkpoint="$fix/abmil_v1_bare.pt" \
    --input="$bags" --output="$tmp/nowhere/p.csv"
expect_bad "label CSV without dataset_root" "dataset_root" --checkpoint="$fix/abmil_v1_bare.pt" \
    --input="$tmp/coh/label.csv" --output="$tmp/x.csv"
"$bin" predict --help >"$tmp/out" 2>&1 && grep -q -- "--checkpoint" "$tmp/out" && grep -q -- "--dataset_root" "$tmp/out" \
    && ok "help" || bad "help"
exit $fail
