#!/usr/bin/env bash
# `mhim train --device=cuda` against `--device=cpu` on a small synthetic cohort: ABMIL pure, ABMIL mhim (teacher
# from the pure run), ABMIL mhim with --bags_per_step 2 (MHIM_BAGS_PER_STEP; the step's gradients summed on the
# device), DSMIL pure (and with MHIM_TRAIN_DSMIL_BPS=1 also with --bags_per_step), ABMIL pure with --store_dtype fp16
# (bags cached in fp16 on the device) and TransMIL mhim (random teacher); ABMIL pure and mhim with --precision bf16
# on the GPU only (against the fp32 CPU runs, loss within 1e-2 relative, AUC within 0.05);
# 3 epochs x 3 folds each; the mean test AUC of results.csv must agree within
# 0.02 and the first epoch's mean training loss within 1e-3 relative (float rounding only: same seeds, dropout masks
# and mask code). Prints both per model. Exits 77 when this mhim has no CUDA backend or no GPU is usable (the first
# --device=cuda run says so). MHIM_GPU_BIN (default MHIM_BIN) runs the --device=cuda half; with MHIM_EXPECT_IDENTICAL=1
# (the host stand-in, whose device ops are the CPU ops) results.csv and metrics.jsonl (timings aside) must be equal.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
gpu_bin=${MHIM_GPU_BIN:-$bin}
tmp=${MHIM_TEST_TMP:-/tmp}/${MHIM_TEST_NAME:-cuda_train}
rm -rf "$tmp" && mkdir -p "$tmp/models"
fail=0
export OMP_WAIT_POLICY=passive

# a learnable but not trivial cohort (CPU mean test AUC about 0.95-0.97): far from AUC ties, so float rounding
# cannot move it by whole ranking pairs
"$bin" synth --out "$tmp/coh" --n_slides 36 --mean_instances 60 --min_instances 20 --max_instances 120 \
    --feature_dim 64 --seed 5 --signal_strength 2 --min_signal_fraction 0.1 --max_signal_fraction 0.3 \
    --positive_fraction 0.5 >/dev/null 2>&1 || { echo "FAIL synth"; exit 1; }
common=(--dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --num_epoch 3 --cv_fold 3 --threads "${MHIM_TEST_THREADS:-2}" --quiet)

# run DEVICE TITLE ARGS...: train on DEVICE; the CUDA refusal for a missing backend/GPU skips the whole test.
run() {
    local device=$1 title=$2
    shift 2
    local exe=$bin
    [ "$device" = cuda ] && exe=$gpu_bin
    "$exe" train "${common[@]}" --device "$device" --title "${title}_$device" "$@" >"$tmp/out" 2>"$tmp/err"
    local rc=$?
    if [ $rc -ne 0 ] && [ "$device" = cuda ] &&
        grep -q -e "no usable CUDA device" -e "built without the CUDA backend" "$tmp/err"; then
        echo "skip: $(grep 'mhim: error' "$tmp/err" | head -1)"
        exit 77
    fi
    if [ $rc -ne 0 ]; then
        echo "FAIL $title on $device: rc=$rc"
        cat "$tmp/err"
        fail=1
    fi
    grep -e "training on GPU" -e "GPU memory peak" "$tmp/err" | sed 's/^/     /'
}

# mean test AUC (student) of a run's results.csv
mean_auc() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "auc" || $i == "test_auc") col = i }
             $1 == "mean" && col { print $col; exit }' "$tmp/models/p/$1/results.csv" 2>/dev/null
}

# first_loss RUN: the mean training loss of fold 0, epoch 0 (metrics.jsonl)
first_loss() { grep -o '"loss":[0-9.e+-]*' "$tmp/models/p/$1/metrics.jsonl" 2>/dev/null | head -1 | cut -d: -f2; }

# compare TITLE [CPU_TITLE LOSS_RTOL AUC_TOL]: the CPU run CPU_TITLE (default TITLE) against the GPU run TITLE: mean
# test AUC within AUC_TOL (0.02), first-epoch training loss within LOSS_RTOL relative (1e-3)
compare() {
    local lc lg rtol=${3:-1e-3} atol=${4:-0.02}
    lc=$(first_loss "${2:-$1}_cpu")
    lg=$(first_loss "$1_cuda")
    if [ -n "$lc" ] && [ -n "$lg" ] &&
        awk -v a="$lc" -v b="$lg" -v t="$rtol" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= t * a) }'; then
        echo "ok   $1: first-epoch training loss cpu $lc cuda $lg"
    else
        echo "FAIL $1: first-epoch training loss cpu '${lc}' cuda '${lg}' (want within $rtol relative)"
        fail=1
    fi
    local cpu gpu
    cpu=$(mean_auc "${2:-$1}_cpu")
    gpu=$(mean_auc "$1_cuda")
    if [ -n "$cpu" ] && [ -n "$gpu" ] &&
        awk -v a="$cpu" -v b="$gpu" -v t="$atol" 'BEGIN { d = a - b; exit !(d <= t && d >= -t) }'; then
        echo "ok   $1: mean test AUC cpu $cpu cuda $gpu (|diff| <= $atol)"
    else
        echo "FAIL $1: mean test AUC cpu '${cpu}' cuda '${gpu}' (want |diff| <= $atol)"
        fail=1
    fi
}

bps=${MHIM_BAGS_PER_STEP:-2}
# MHIM_TRAIN_TRANSMIL=0 leaves the TransMIL run out (the host stand-in run: test_cuda_transmil_on_host covers it)
for device in cuda cpu; do
    run "$device" pure_attn --model pure --baseline attn
    run "$device" mhim_attn --baseline attn --teacher_init "$tmp/models/p/pure_attn_$device" --cl_alpha=0.1 \
        --mask_ratio=0.5 --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc
    run "$device" mhim_attn_bps --baseline attn --teacher_init "$tmp/models/p/pure_attn_$device" --cl_alpha=0.1 \
        --mask_ratio=0.5 --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc --bags_per_step "$bps"
    run "$device" pure_dsmil --model pure --baseline dsmil
    run "$device" pure_attn_fp16 --model pure --baseline attn --store_dtype fp16
    if [ "$device" = cuda ] && ! grep -q "bags resident (fp16)" "$tmp/err"; then
        echo "FAIL pure_attn_fp16: --store_dtype fp16 did not keep the bags in fp16 on the device"
        fail=1
    fi
    [ "${MHIM_TRAIN_DSMIL_BPS:-0}" = 1 ] && run "$device" pure_dsmil_bps --model pure --baseline dsmil --bags_per_step "$bps"
    if [ "$device" = cuda ]; then # bf16 first layer: GPU only, compared with the fp32 CPU runs below
        run cuda pure_attn_bf16 --model pure --baseline attn --precision bf16
        grep -q "first layer bf16" "$tmp/err" || { echo "FAIL pure_attn_bf16: the log does not say bf16"; fail=1; }
        run cuda mhim_attn_bf16 --baseline attn --teacher_init "$tmp/models/p/pure_attn_bf16_cuda" --cl_alpha=0.1 \
            --mask_ratio=0.5 --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche --init_stu_type=fc --precision bf16
    fi
    [ "${MHIM_TRAIN_TRANSMIL:-1}" = 1 ] && run "$device" mhim_tmil --baseline selfattn --model mhim --cl_alpha=0.1 --mask_ratio=0.5 --mask_ratio_h=0.01 \
        --mask_ratio_hr=0.5 --mrh_sche
done
# metrics.jsonl of a run without its timing fields
metrics() { sed -e 's/,"epoch_seconds":[0-9.e+-]*//' -e 's/,"peak_rss_mib":[0-9.e+-]*//' "$tmp/models/p/$1/metrics.jsonl"; }

titles=(pure_attn mhim_attn mhim_attn_bps pure_dsmil pure_attn_fp16)
[ "${MHIM_TRAIN_DSMIL_BPS:-0}" = 1 ] && titles+=(pure_dsmil_bps)
[ "${MHIM_TRAIN_TRANSMIL:-1}" = 1 ] && titles+=(mhim_tmil)
for title in "${titles[@]}"; do
    compare "$title"
    [ "${MHIM_EXPECT_IDENTICAL:-0}" = 1 ] || continue
    if cmp -s "$tmp/models/p/${title}_cpu/results.csv" "$tmp/models/p/${title}_cuda/results.csv" &&
        cmp -s <(metrics "${title}_cpu") <(metrics "${title}_cuda"); then
        echo "ok   $title: results.csv and metrics.jsonl identical"
    else
        echo "FAIL $title: results.csv or metrics.jsonl differ between the devices"
        diff <(metrics "${title}_cpu") <(metrics "${title}_cuda") | head -4
        fail=1
    fi
done
# bf16 rounds the first layer's inputs (relative error 2^-9): the loss moves in the third digit, the AUC barely
compare pure_attn_bf16 pure_attn 1e-2 0.05
compare mhim_attn_bf16 mhim_attn 1e-2 0.05
if cmp -s <(metrics mhim_attn_cpu) <(metrics mhim_attn_bps_cpu); then
    echo "FAIL --bags_per_step $bps trained as one bag per step (metrics.jsonl equal)"
    fail=1
fi
exit $fail
