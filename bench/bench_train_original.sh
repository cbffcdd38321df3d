#!/usr/bin/env bash
# Training epochs of `mhim train` next to the original MHIM-MIL v1 main.py (run with current PyTorch) on the same
# synthetic C16-sized cohort, same options, same threads, same run: seconds per epoch, peak RSS and ratios, plus the
# GEMM-FLOP bound of an epoch for ABMIL / TransMIL / DSMIL x pure / MHIM.
#
# usage: bench/bench_train_original.sh ORIGINAL_CHECKOUT
#   ORIGINAL_CHECKOUT: a checkout of the original repository at v1, e.g.
#       git -C <mirror of DearCaat/MHIM-MIL> worktree add /tmp/mhim-orig v1
# Environment knobs (defaults = the C16-sized cohort: 405 slides, 270 training bags per fold):
#   BUILD (build)  N_SLIDES (405)  MEAN (9000 instances)  MIN (1000)  MAX (30000)  EPOCHS (2)
#   THREADS (2)  BASELINES ("attn selfattn dsmil")  MODELS ("pure mhim")  PYTHON (.venv-ref/bin/python)
#   SGEMM_N (8000: rows of the N x 1024 x 512 sgemm whose rate gives the bound)
#   MHIM_OPTS (extra `mhim train` options for every mhim run, e.g. "--memory_budget=256M")
#   WORK (/tmp/mhim_bench_train; needs about twice the cohort size on disk)  KEEP (1 = keep WORK)
#   REUSE_COHORT (1 = take the cohort of an earlier KEEP=1 run in WORK instead of writing it again)
#   DEVICE (cpu | cuda): cpu hides every GPU from both programs (CUDA_VISIBLE_DEVICES=; the original moves its model
#   to the GPU whenever torch.cuda.is_available()); cuda gives mhim --device=cuda (BUILD must be a -DMHIM_USE_CUDA=ON
#   build, e.g. build-gpu) and lets the original take the GPU, and adds each program's peak GPU memory: the original's
#   torch.cuda.max_memory_allocated() (written at exit by the sitecustomize hook), mhim's logged arena peak + bags.
# Features are 1024 wide (the original hard-codes its input layer to 1024). Both programs run fold 2 of a 3-fold split (--cv_fold=3 --fold_start=2: 2/3 of the slides train, 1/3 validate)
# for EPOCHS epochs; an MHIM run takes its teacher from the same program's pure run. Seconds per epoch = wall time
# of the whole run (start-up and loading included) over EPOCHS, with each program's own epoch timer next to it;
# peak RSS from /usr/bin/time -v.
# The original needs numpy, scikit-learn, einops and torch; wandb, timm, torchvision and future (imported, unused
# by --model pure|mhim) are replaced by stub modules written to WORK/stubs, with a sitecustomize.py that restores
# numpy.Inf (removed in NumPy 2) for its EarlyStopping.
set -euo pipefail
orig=${1:?usage: bench_train_original.sh ORIGINAL_CHECKOUT}
root=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$root/build} N_SLIDES=${N_SLIDES:-405} MEAN=${MEAN:-9000} MIN=${MIN:-1000} MAX=${MAX:-30000}
DIM=1024 EPOCHS=${EPOCHS:-2} THREADS=${THREADS:-2} BASELINES=${BASELINES:-attn selfattn dsmil}
SGEMM_N=${SGEMM_N:-8000} MODELS=${MODELS:-pure mhim} DEVICE=${DEVICE:-cpu} PYTHON=${PYTHON:-$root/.venv-ref/bin/python} WORK=${WORK:-/tmp/mhim_bench_train}
mhim=$BUILD/mhim
read -r -a mhim_extra <<<"${MHIM_OPTS:-}"
[ -x "$mhim" ] || { echo "no $mhim: build first (cmake --build $BUILD)"; exit 2; }
[ -f "$orig/main.py" ] || { echo "$orig/main.py missing: give a checkout of the original repository at v1"; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time (GNU time) is needed for the peak RSS"; exit 2; }
"$PYTHON" -c "import torch, numpy, sklearn, einops, h5py" ||
    { echo "$PYTHON lacks one of torch numpy scikit-learn einops h5py"; exit 2; }
case $DEVICE in
cpu) export CUDA_VISIBLE_DEVICES= ;;
cuda) "$PYTHON" -c "import torch; assert torch.cuda.is_available()" ||
    { echo "DEVICE=cuda: $PYTHON sees no GPU"; exit 2; } ;;
*) echo "DEVICE=$DEVICE: expected cpu or cuda"; exit 2 ;;
esac
export OMP_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS OMP_WAIT_POLICY=passive

# REUSE_COHORT=1 keeps WORK/cohort and WORK/orig_data of an earlier run with the same cohort knobs (and KEEP=1)
if [ "${REUSE_COHORT:-0}" = 1 ] && [ -f "$WORK/cohort/label.csv" ] && [ -f "$WORK/orig_data/label.csv" ]; then
    rm -rf "$WORK/runs_orig" "$WORK/runs_mhim" && mkdir -p "$WORK/runs_orig" "$WORK/runs_mhim"
    reuse=1
else
    rm -rf "$WORK" && mkdir -p "$WORK/runs_orig" "$WORK/runs_mhim"
    reuse=0
fi
. "$root/bench/original_stubs.sh"
write_original_stubs "$WORK/stubs"

echo "# cohort: $N_SLIDES slides, mean $MEAN instances ($MIN..$MAX) x $DIM; $EPOCHS epochs of fold 2/3; $THREADS threads; device $DEVICE"
dev_opts=()
[ "$DEVICE" = cuda ] && dev_opts=(--device=cuda) && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | sed 's/^/# GPU: /'
if [ "$reuse" = 0 ]; then
    "$mhim" synth --out "$WORK/cohort" --n_slides "$N_SLIDES" --mean_instances "$MEAN" --min_instances "$MIN" \
        --max_instances "$MAX" --feature_dim "$DIM" --seed 1 | sed 's/^/# /'
    "$PYTHON" "$root/bench/bench_train_helper.py" to_pt "$WORK/cohort" "$WORK/orig_data"
fi
"$mhim" splits --dataset_root "$WORK/cohort" --cv_fold 3 --seed 2021 --format csv >"$WORK/splits.csv" 2>/dev/null
rate=$(OMP_NUM_THREADS=$THREADS "$BUILD/bench/bench_models" --threads "$THREADS" --reps 5 --n "$SGEMM_N" --models abmil |
    sed -n 's/^# sgemm.*= \([0-9.]*\) GFLOP\/s.*/\1/p')
echo "# sgemm rate (${SGEMM_N}x1024x512, $THREADS threads): $rate GFLOP/s"

common=(--cv_fold=3 --fold_start=2 --num_epoch="$EPOCHS" --seed=2021)
mhim_opts=(--cl_alpha=0.1 --mask_ratio=0.5 --mask_ratio_l=0. --mask_ratio_h=0.01 --mask_ratio_hr=0.5 --mrh_sche
           --init_stu_type=fc)
tmil_opts=(--cl_alpha=0.1 --mask_ratio=0. --mask_ratio_l=0.8 --mask_ratio_h=0.03 --mask_ratio_hr=0.5 --mrh_sche
           --mm_sche --init_stu_type=fc --attn_layer=0)

# calc EXPR: EXPR evaluated in floating point (awk; accepts 1e9 notation)
calc() { awk "BEGIN { printf \"%.6g\", $1 }"; }

# timed NAME CMD...: runs CMD under /usr/bin/time -v; sets secs (wall) and rss (MiB); on failure prints a table row
# with the error and returns 1
timed() {
    local name=$1; shift
    local t0; t0=$(date +%s.%N)
    if ! /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"; then
        echo "| $name | FAILED: $(grep -v '^\s' "$WORK/$name.err" | grep -i error | tail -1) |"
        return 1
    fi
    secs=$(calc "$(date +%s.%N) - $t0")
    rss=$(awk -F: '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$name.time")
}

gpu_head='' gpu_rule=''
[ "$DEVICE" = cuda ] && gpu_head=' original GPU peak MiB | mhim GPU peak MiB (arena + bags) |' gpu_rule='---|---|'
printf '| run | original s/epoch | mhim s/epoch | speed-up | steady epoch: original s | steady epoch: mhim s | steady speed-up | original peak RSS MiB | mhim peak RSS MiB | memory ratio | GEMM-FLOP bound s/epoch | mhim steady epoch / bound |%s\n' "$gpu_head"
printf '|---|---|---|---|---|---|---|---|---|---|---|---|%s\n' "$gpu_rule"
for b in $BASELINES; do
    for m in $MODELS; do
        title=${m}_$b
        opts=(--baseline="$b" --title="$title")
        if [ "$m" = mhim ]; then
            if [ "$b" = selfattn ]; then opts+=("${tmil_opts[@]}"); else opts+=("${mhim_opts[@]}"); fi
        else
            opts+=(--model=pure)
        fi
        tea_o=() tea_m=()
        [ "$m" = mhim ] && tea_o=(--teacher_init="$WORK/runs_orig/bench/pure_$b") tea_m=(--teacher_init="$WORK/runs_mhim/bench/pure_$b")
        cd "$orig"
        rm -f "$WORK/orig_$title.epochs"
        MHIM_BENCH_EPOCH_TIMES="$WORK/orig_$title.epochs" MHIM_BENCH_GPU_MEM="$WORK/orig_$title.gpumem" \
            PYTHONPATH="$WORK/stubs" timed "orig_$title" "$PYTHON" main.py --datasets=camelyon16 \
            --dataset_root="$WORK/orig_data" --model_path="$WORK/runs_orig" --project=bench --num_workers=0 \
            "${common[@]}" "${opts[@]}" "${tea_o[@]}" || { cd "$root"; continue; }
        o_secs=$secs o_rss=$rss
        # the original's own timer: mean training-loop seconds per epoch (last "time: last(mean)" of its log)
        o_epoch=$(grep -o 'time: [0-9.]*([0-9.]*)' "$WORK/orig_$title.out" | tail -1 | sed 's/.*(\(.*\))/\1/' || true)
        cd "$root"
        timed "mhim_$title" "$mhim" train --dataset_root="$WORK/cohort" --model_path="$WORK/runs_mhim" --project=bench \
            --threads="$THREADS" --quiet "${dev_opts[@]}" "${common[@]}" "${opts[@]}" "${tea_m[@]}" "${mhim_extra[@]}" || continue
        m_secs=$secs m_rss=$rss
        m_epoch=$(grep -o '"epoch_seconds":[0-9.]*' "$WORK/runs_mhim/bench/$title/metrics.jsonl" |
            awk -F: '{ s += $2; n++ } END { printf "%.3f", s / n }')
        # steady state: the epochs after the first (the first also warms caches and, for the original, imports);
        # the original's from the times of its end-of-epoch checkpoint saves, mhim's from its epoch timer
        o_steady=$(awk 'NR > 1 { s += $1 - p; n++ } { p = $1 } END { if (n) printf "%.3f", s / n }' \
            "$WORK/orig_$title.epochs" 2>/dev/null || true)
        m_steady=$(grep -o '"epoch_seconds":[0-9.]*' "$WORK/runs_mhim/bench/$title/metrics.jsonl" |
            awk -F: 'NR > 1 { s += $2; n++ } END { if (n) printf "%.3f", s / n }')
        kept=$(grep -o '"kept_ratio":[0-9.]*' "$WORK/runs_mhim/bench/$title/metrics.jsonl" | tail -1 | cut -d: -f2)
        flops=$("$PYTHON" "$root/bench/bench_train_helper.py" flops "$WORK/cohort" "$WORK/splits.csv" 2 "$b" "$m" "$kept")
        bound=$(calc "$flops / ($rate * 1e9)")
        # whole-run wall time over epochs, and each program's own epoch timer (original: training loop only;
        # mhim: training + validation)
        gpu_cols=''
        if [ "$DEVICE" = cuda ]; then
            o_gpu=$(cat "$WORK/orig_$title.gpumem" 2>/dev/null || echo "?")
            m_gpu=$(sed -n 's/.*GPU memory peak: arena \([0-9.]*\) MiB + bags \([0-9.]*\) MiB.*/\1 + \2/p' \
                "$WORK/mhim_$title.err" | tail -1)
            gpu_cols=" $o_gpu | ${m_gpu:-?} |"
        fi
        steady_ratio=n/a
        [ -n "$o_steady" ] && [ -n "$m_steady" ] && steady_ratio=$(awk "BEGIN { printf \"%.2fx\", $o_steady / $m_steady }")
        printf '| %s | %.2f (train loop %.2f) | %.2f (epoch %.2f) | %.2fx | %s | %s | %s | %s | %s | %.2f | %.2f | %.2f |%s\n' \
            "$title" "$(calc "$o_secs / $EPOCHS")" "${o_epoch:-0}" "$(calc "$m_secs / $EPOCHS")" "$m_epoch" \
            "$(calc "$o_secs / $m_secs")" "${o_steady:-n/a}" "${m_steady:-n/a}" "$steady_ratio" "$o_rss" "$m_rss" \
            "$(calc "$m_rss / $o_rss")" "$bound" "$(calc "${m_steady:-$m_epoch} / $bound")" "$gpu_cols"
    done
done
echo "# s/epoch = wall time of the whole run (start-up and loading included) / $EPOCHS; in parentheses each program's own"
echo "# per-epoch timer. Steady epoch = mean of epochs 2..$EPOCHS (needs EPOCHS >= 2): the original's from the times of"
echo "# its end-of-epoch ckp.pt saves (training loop, student and teacher validation, saves), mhim's epoch timer (the same"
echo "# parts). Bound = GEMM FLOPs of an epoch (train steps + teacher forwards + validation forwards of every validated"
echo "# model) / sgemm rate; the last column divides the steady epoch (or, with EPOCHS=1, the epoch) by it."
[ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
