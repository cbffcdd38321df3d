#!/usr/bin/env bash
# `mhim train` with the MHIM-v2 protocol on tiny synthetic cohorts: the two v2 stages (mhim_pure baseline, then
# --model=mhim with the README's v2 switches from it), their outputs under output_path/project/title, the v2
# metric columns, the timm cosine LR with lr_min 1e-7, the separate best teacher (its own file
# fold_{k}_ema_model_best.h5 beside fold_{k}_model_best.h5, as the original names them), and a synthetic survival cohort
# (`mhim synth --survival 2`) that trains to a C-index clearly above 0.5. Bad v2 option sets exit 2.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
tmp=${MHIM_TEST_TMP:-/tmp}/train_v2_cli
rm -rf "$tmp" && mkdir -p "$tmp/out"
fail=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fail=1; }
export OMP_WAIT_POLICY=passive

"$bin" synth --out "$tmp/coh" --n_slides 24 --mean_instances 30 --min_instances 10 --max_instances 50 \
    --feature_dim 32 --seed 3 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
common=(--dataset_root "$tmp/coh" --output_path "$tmp/out" --project p --num_epoch 3 --cv_fold 3 --threads 1 --quiet
    --num_bootstrap 20)
v2=(--attn2score --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 --mask_ratio_h=0.03 --merge_ratio=0.8 --merge_k=5)

# train TITLE HEADER ARGS...: exit 0, every output, results.csv header HEADER, 3 folds + mean + std
train() {
    local title=$1 header=$2; shift 2
    "$bin" train "${common[@]}" --title "$title" "$@" >"$tmp/stdout" 2>"$tmp/err"
    local rc=$? dir=$tmp/out/p/$title missing=""
    local files=(config.yaml train.log metrics.jsonl results.csv fold_0_model_best.h5 fold_2_model_best.h5)
    [[ " $* " == *" --model mhim "* ]] && files+=(fold_0_ema_model_best.h5 fold_2_ema_model_best.h5)
    for f in "${files[@]}"; do
        [ -s "$dir/$f" ] || missing="$missing $f"
    done
    local got; got=$(head -1 "$dir/results.csv" 2>/dev/null)
    local rows; rows=$(grep -c '' "$dir/results.csv" 2>/dev/null || echo 0)
    if [ $rc -eq 0 ] && [ -z "$missing" ] && [ "$got" = "$header" ] && [ "$rows" -eq 6 ]; then
        ok "$title (header $got)"
    else
        bad "$title: rc=$rc missing:[$missing] header '$got' (want '$header') rows $rows (want 6)"
        cat "$tmp/err"
    fi
}

train pure_attn "fold,acc,auc,precision,recall,f1,ck,acc_micro" --model mhim_pure --baseline attn
train mhim_attn "fold,acc,auc,precision,recall,f1,ck,acc_micro,teacher_acc,teacher_auc,teacher_f1,teacher_ck" \
    --model mhim --baseline attn --teacher_init "$tmp/out/p/pure_attn" "${v2[@]}"

# --merge_test changes the student's evaluation only (the original's teacher has merge_test off): the training
# losses and every teacher validation figure equal the run without it, the student's validation loss differs
train mhim_merge_test "fold,acc,auc,precision,recall,f1,ck,acc_micro,teacher_acc,teacher_auc,teacher_f1,teacher_ck" \
    --model mhim --baseline attn --teacher_init "$tmp/out/p/pure_attn" "${v2[@]}" --merge_test
fields() { grep -o "\"$1\":[0-9.e+-]*" "$tmp/out/p/$2/metrics.jsonl" | md5sum; }
same=1
for k in loss cl_loss teacher_val_loss teacher_val_auc; do
    [ "$(fields $k mhim_attn)" = "$(fields $k mhim_merge_test)" ] || { same=0; echo "  $k differs"; }
done
[ $same = 1 ] && ok "--merge_test: training and teacher validation unchanged" || bad "--merge_test changed training"
[ "$(fields val_loss mhim_attn)" != "$(fields val_loss mhim_merge_test)" ] &&
    ok "--merge_test: the student is evaluated with the recycled tokens" || bad "--merge_test: student eval unchanged"

# v2 LR: epoch 1 of 3 trains with 1e-7 + 0.5 (2e-4 - 1e-7)(1 + cos(pi/3)) = 1.50025e-4
lr=$(grep '"epoch":1,' "$tmp/out/p/pure_attn/metrics.jsonl" | head -1 | grep -o '"lr":[0-9.e+-]*' | cut -d: -f2)
echo "v2 lr at epoch 1: $lr (want 0.000150025)"
[ "$lr" = "0.000150025" ] && ok "timm cosine with lr_min 1e-7" || bad "v2 lr schedule"

# the MHIM run masked, recycled into merge_k tokens and trained the consistency loss
line=$(head -1 "$tmp/out/p/mhim_attn/metrics.jsonl")
patches=$(grep -o '"patch_num":[0-9.]*' <<<"$line" | cut -d: -f2)
tokens=$(grep -o '"keep_num":[0-9.]*' <<<"$line" | cut -d: -f2)
aux=$(grep -o '"cl_loss":[0-9.e+-]*' <<<"$line" | cut -d: -f2)
echo "mhim epoch 0: instances $patches, encoder tokens $tokens (n_keep + 5), aux loss $aux"
awk -v p="$patches" -v t="$tokens" -v a="$aux" 'BEGIN { exit !(t < p && t > 5 && a > 0) }' &&
    ok "masking, merge and aux loss active" || bad "masking/merge/aux loss not active"
grep -q '"teacher_val_auc"' "$tmp/out/p/mhim_attn/metrics.jsonl" && ok "teacher validated every epoch" ||
    bad "teacher validation missing"
[ ! -e "$tmp/out/p/pure_attn/fold_0_model_best_auc.h5" ] && [ ! -e "$tmp/out/p/pure_attn/fold_0_ema_model_best.h5" ] &&
    ok "v2 baseline writes fold_{k}_model_best.h5 only" || bad "v2 baseline wrote a v1 or teacher file"

# best teacher and best student: each file holds the epoch of its own best validation AUC in metrics.jsonl (the
# first best wins)
if command -v h5dump >/dev/null; then
    d=$tmp/out/p/mhim_attn
    attr() { h5dump -a "/$2" "$1" 2>/dev/null | grep -A1 'DATA {' | tail -1 | grep -o -- '-\?[0-9][0-9.e+-]*$'; }
    best_epoch() { # best_epoch KEY FOLD: first epoch with the highest KEY of fold FOLD in metrics.jsonl
        awk -v k="\"$1\":" -v f="\"fold\":$2," 'index($0, f) == 2 { i = index($0, k); v = substr($0, i + length(k)) + 0;
            if (n == 0 || v > best) { best = v; e = n + 0 } n++ } END { print e }' "$d/metrics.jsonl"
    }
    for k in 0 1 2; do
        se=$(attr "$d/fold_${k}_model_best.h5" epoch) te=$(attr "$d/fold_${k}_ema_model_best.h5" epoch)
        we=$(best_epoch val_auc $k) wt=$(best_epoch teacher_val_auc $k)
        echo "fold $k: student file epoch $se (want $we), teacher file epoch $te (want $wt)"
        [ "$se" = "$we" ] && [ "$te" = "$wt" ] && ok "fold $k: separate best epochs" || bad "fold $k: best epochs"
    done
else
    echo "skip best-epoch checks: h5dump not found"
fi

# survival: 2 slides per case, the bag of a case concatenates them; C-index clearly above 0.5
"$bin" synth --out "$tmp/surv" --survival 2 --n_slides 160 --mean_instances 30 --min_instances 10 \
    --max_instances 60 --feature_dim 32 --seed 5 --positive_fraction 0.4 --max_signal_fraction 0.4 \
    --min_signal_fraction 0.1 --signal_strength 3 >/dev/null 2>&1 || bad "synth --survival"
head -1 "$tmp/surv/label.csv" | grep -q '^Study,ID,Event,Status,WSI$' && ok "survival label CSV header" ||
    bad "survival label CSV header"
[ -f "$tmp/surv/h5_files/case_000_s2.h5" ] && ok "case files case_NNN_sK.h5" || bad "case files missing"
common=(--dataset_root "$tmp/surv" --output_path "$tmp/out" --project p --num_epoch 30 --cv_fold 3 --threads 1 --quiet
    --num_bootstrap 100 --datasets surv_synth --loss nll_surv --n_classes 4 --lr 2e-3 --standardize)
train surv_pure "fold,cindex" --model mhim_pure --baseline attn
bags=$(grep -o 'bag store: [0-9]* bags' "$tmp/err" | grep -o '[0-9]*')
echo "survival bag store: $bags bags (want 80 = one per case)"
[ "$bags" = "80" ] && ok "one bag per case" || bad "bags per case"
cindex=$(grep '^mean,' "$tmp/out/p/surv_pure/results.csv" | cut -d, -f2)
echo "survival C-index (bootstrap mean over 3 folds): $cindex (want > 0.58)"
awk -v c="$cindex" 'BEGIN { exit !(c > 0.58) }' && ok "survival learns" || bad "survival C-index $cindex"

# bad v2 option sets: exit 2 with one line naming the option
"$bin" train --dataset_root "$tmp/coh" --output_path "$tmp/out" --model mhim --baseline attn --aux_alpha 0.5 \
    --mask_ratio_h 0.03 --teacher_init "$tmp/out/p/pure_attn" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "merge_enable" "$tmp/err" && ok "v2 mhim without --merge_enable refused (B3)" ||
    { bad "B3: rc=$rc"; cat "$tmp/err"; }
"$bin" train --dataset_root "$tmp/coh" --model mhim_pure --baseline attn --output_path "$tmp/nowhere" \
    >/dev/null 2>"$tmp/err"
rc=$?
[ $rc -eq 2 ] && grep -q "output_path" "$tmp/err" && ok "missing output_path folder refused" ||
    { bad "output_path: rc=$rc"; cat "$tmp/err"; }
exit $fail
