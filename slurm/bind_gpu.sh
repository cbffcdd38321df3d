#!/usr/bin/env bash
# Per-rank launcher of train_ddp_multinode.sbatch (run by srun on every rank): bind_gpu.sh CMD...
# Slurm sets CUDA_VISIBLE_DEVICES to the GPUs the step holds on this node (from --gres / --gpus-per-node); the rank
# keeps entry SLURM_LOCALID of that list (its node-local rank), so each rank sees exactly one GPU as its device 0,
# prints the binding on stderr and execs CMD. When Slurm already bound one GPU per task (--gpus-per-task=1), that
# GPU is kept. Exits 2 with a message when the node has no GPU or fewer GPUs than ranks.
set -u
local_id=${SLURM_LOCALID:?bind_gpu.sh runs under srun (SLURM_LOCALID is not set)}
node=${SLURMD_NODENAME:-$(hostname)}
IFS=, read -r -a gpus <<<"${CUDA_VISIBLE_DEVICES:-}"
n=${#gpus[@]}
if [ "$n" -eq 0 ]; then
    echo "mhim-slurm: error: rank ${SLURM_PROCID:-?} on $node sees no GPU (CUDA_VISIBLE_DEVICES is empty):" \
        "request GPUs with --gres=gpu:G or --gpus-per-node=G" >&2
    exit 2
fi
if [ "$n" -eq 1 ]; then
    gpu=${gpus[0]}
elif [ "$local_id" -lt "$n" ]; then
    gpu=${gpus[$local_id]}
else
    echo "mhim-slurm: error: rank ${SLURM_PROCID:-?} has node-local rank $local_id but $node has only $n GPUs" \
        "($CUDA_VISIBLE_DEVICES): use --ntasks-per-node <= GPUs per node" >&2
    exit 2
fi
export CUDA_VISIBLE_DEVICES=$gpu
echo "mhim-slurm: rank ${SLURM_PROCID:-?} node $node local $local_id gpu $gpu" >&2
exec "$@"
