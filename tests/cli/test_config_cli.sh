#!/usr/bin/env bash
# CLI test of `mhim config|train|predict`: bad options and bad YAML exit 2 with exactly one
# "mhim: error: ..." line naming the problem; valid input exits 0 (config) / 1 (train: engine not
# built yet); `mhim config` output round-trips through `mhim train -c`.
set -u
BIN=${MHIM_BIN:?MHIM_BIN not set}
SRC=${MHIM_SOURCE_DIR:?MHIM_SOURCE_DIR not set}
TMP=${MHIM_TEST_TMP:-/tmp}/cli_config
mkdir -p "$TMP"
fails=0

# expect CODE SUBSTRING -- ARGS...: exit status CODE, stderr = one error line containing SUBSTRING.
expect() {
    local code=$1 want=$2
    shift 3
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    local errs
    errs=$(grep -c '^mhim: error: ' "$TMP/err")
    local first
    first=$(grep '^mhim: error: ' "$TMP/err" | head -1)
    if [[ $rc -eq $code && $errs -eq 1 && $first == *"$want"* ]]; then
        echo "ok   [$rc] mhim $* -> $first"
    else
        echo "FAIL mhim $*: rc=$rc (want $code), $errs error line(s) (want 1), got: $(cat "$TMP/err")"
        echo "     wanted message containing: $want"
        fails=$((fails + 1))
    fi
}

expect 2 "unknown option --mask_ratoi_h (did you mean --mask_ratio_h?)" -- config --mask_ratoi_h=0.1
expect 2 "--mask_ratio_h=1.5: expected a number in [0, 1]" -- train --mask_ratio_h=1.5
expect 2 "--cv_fold=1: expected an integer >= 2" -- predict --cv_fold=1
expect 2 "--lr_sche=foo: expected one of cosine|step|const" -- train --lr_sche foo
expect 2 "--lr: expected a value" -- train --lr
expect 2 "cannot mix MHIM-MIL v1 and v2 settings" -- config --cl_alpha=0.1 --aux_alpha=0.5
expect 2 "unexpected argument 'extra'" -- train extra
expect 2 "cannot read config file '$TMP/missing.yaml'" -- config -c "$TMP/missing.yaml"

printf 'lr: 2e-4\nmask_ratio_hh: 0.1\n' >"$TMP/unknown.yaml"
expect 2 "$TMP/unknown.yaml:2: unknown option 'mask_ratio_hh' (did you mean mask_ratio_h?)" -- config -c "$TMP/unknown.yaml"
printf 'lr: 2e-4\ncv_fold: 4: 5\n' >"$TMP/syntax.yaml"
expect 2 "$TMP/syntax.yaml:2: YAML syntax error" -- train -c "$TMP/syntax.yaml"
printf 'cv_fold: 1\n' >"$TMP/value.yaml"
expect 2 "$TMP/value.yaml:1: cv_fold=1: expected an integer >= 2" -- train -c "$TMP/value.yaml"
expect 2 "needs --merge_enable" -- train --datasets=nsclc --model=mhim --output_path=/o --mask_ratio_h=0.01
expect 2 "--model_path=/path/to/output: the folder does not exist" -- train -c "$SRC/configs/abmil_c16_mhim.yaml"

# help: exit 0, lists options with defaults
if "$BIN" train --help >"$TMP/help" 2>&1 && grep -q -- '--mask_ratio_h=NUM' "$TMP/help" &&
    grep -q '(default: 0.9999; v2: 0.9997)' "$TMP/help"; then
    echo "ok   mhim train --help"
else
    echo "FAIL mhim train --help"; fails=$((fails + 1))
fi

# round trip: config output -> train -c gives the same resolved configuration
"$BIN" config -c "$SRC/configs/v2_feat_cls.yaml,$SRC/configs/v2_nsclc_abmil_mhim.yaml" --mask_ratio_h=0.03 \
    >"$TMP/a.yaml" 2>/dev/null
rc_a=$?
"$BIN" config -c "$TMP/a.yaml" >"$TMP/b.yaml" 2>/dev/null
rc_b=$?
if [[ $rc_a -eq 0 && $rc_b -eq 0 ]] && cmp -s "$TMP/a.yaml" "$TMP/b.yaml" && grep -q '^mask_ratio_h: 0.03$' "$TMP/a.yaml" &&
    grep -q '^mhim_version: 2$' "$TMP/a.yaml"; then
    echo "ok   mhim config output round-trips through -c"
else
    echo "FAIL round trip (rc $rc_a/$rc_b):"; diff "$TMP/a.yaml" "$TMP/b.yaml" | head; fails=$((fails + 1))
fi

echo "$fails failure(s)"
[[ $fails -eq 0 ]]
