#!/usr/bin/env bash
# Data-parallel groups with --device=cuda: `mpirun -n 2 mhim_host_gpu train --device=cuda --group_size 2` (the GPU
# engine on host stand-ins of the device API, tests/unit/host_cuda/host_engine.c: each rank's bag gradients summed
# on its "device", the group sum through the MPI all-reduce, the teacher broadcast uploaded, sharded evaluation)
# must give the `mpirun -n 2 mhim train --device=cpu --group_size 2` run's results.csv, metrics and best weights
# exactly (weights bit-equal), for ABMIL MHIM (--cv_fold 4: 13-14 training bags, so a last step with one bag) and
# DSMIL pure.
# MHIM_GPU_ALLREDUCE=nccl is refused there (no NCCL). Skipped (77) without mpirun and in CUDA builds (no
# mhim_host_gpu; cuda_test_cuda_train runs on the GPU).
name=device_host
source "$(dirname "$0")/mpi_common.sh"
host=$(dirname "$bin")/tests/mhim_host_gpu
[ -x "$host" ] || { echo "SKIP: no $host (a CUDA build)"; exit 77; }
command -v h5diff >/dev/null || { echo "SKIP: h5diff not found"; exit 77; }
make_cohort "$tmp/coh"
args=(train --dataset_root "$tmp/coh" --model_path "$tmp/models" --project p --num_epoch 2 --threads 1 --quiet
      --group_size 2)
# run TITLE EXE ARGS...: a 2-rank group
run() {
    local t=$1 exe=$2
    shift 2
    mpirun -n 2 --bind-to none "$exe" "${args[@]}" --title "$t" "$@" >"$tmp/$t.out" 2>&1 || {
        bad "run $t"
        cat "$tmp/$t.out"
        exit 1
    }
}
# metrics of a run without its timing fields (the per-fold files of a distributed run)
metrics() { cat "$tmp/models/p/$1"/metrics*.jsonl | sed -e 's/,"epoch_seconds":[0-9.e+-]*//' -e 's/,"peak_rss_mib":[0-9.e+-]*//'; }
m=$tmp/models/p
for model in mhim_attn pure_dsmil; do
    case $model in
        mhim_attn) margs=(--baseline attn --model mhim --cl_alpha 0.1 --mask_ratio_h 0.05 --cv_fold 4) groups=(model teacher) ;;
        pure_dsmil) margs=(--baseline dsmil --model pure --cv_fold 3) groups=(model) ;;
    esac
    run "${model}_cpu" "$bin" --device cpu "${margs[@]}"
    run "${model}_cuda" "$host" --device cuda "${margs[@]}"
    if [ "$(grep -c "data-parallel group rank [01] of 2: gradients summed through the host (MPI)" "$tmp/${model}_cuda.out")" -ge 2 ]; then
        ok "$model: both ranks trained on the GPU path, summing through MPI"
    else
        bad "$model: the --device=cuda run does not say that both ranks trained in a group on the GPU path"
    fi
    same_file "$model results.csv (group on the device vs on the CPU)" "$m/${model}_cpu/results.csv" "$m/${model}_cuda/results.csv"
    if cmp -s <(metrics "${model}_cpu") <(metrics "${model}_cuda"); then
        ok "$model metrics.jsonl identical (timings aside): $(metrics "${model}_cpu" | wc -l) lines"
    else
        bad "$model metrics.jsonl differ"
        diff <(metrics "${model}_cpu") <(metrics "${model}_cuda") | head -4
    fi
    for k in 0 1; do
        for g in "${groups[@]}"; do
            a=$m/${model}_cpu/fold_${k}_model_best_auc.h5 b=$m/${model}_cuda/fold_${k}_model_best_auc.h5
            if out=$(h5diff -d 0 "$a" "$b" "/$g" "/$g" 2>&1); then
                ok "$model fold $k best /$g equal within 0"
            else
                bad "$model fold $k best /$g differ beyond 0: $(echo "$out" | tail -1)"
            fi
        done
    done
done
# MHIM_GPU_ALLREDUCE=nccl in a build without NCCL: refused on every rank with a message, no hang
MHIM_GPU_ALLREDUCE=nccl timeout 120 mpirun -n 2 --bind-to none -x MHIM_GPU_ALLREDUCE "$host" "${args[@]}" --title nccl \
    --device cuda --baseline attn --model pure --cv_fold 3 >"$tmp/nccl.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "MHIM_GPU_ALLREDUCE=nccl: this mhim was built without NCCL" "$tmp/nccl.out"; then
    ok "MHIM_GPU_ALLREDUCE=nccl without NCCL refused (rc=$rc)"
else
    bad "MHIM_GPU_ALLREDUCE=nccl without NCCL: rc=$rc, want a refusal naming it"
    tail -3 "$tmp/nccl.out"
fi
exit $fail
