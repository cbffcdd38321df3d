#!/usr/bin/env bash
# The GPU training engine's path (src/train/engine_device.c) on every machine: tests/cuda/test_cuda_train.sh with
# its --device=cuda half run by mhim_host_gpu, an mhim built (without CUDA) with host stand-ins of the device API
# (tests/unit/host_cuda/host_engine.c). Its device ops are the CPU ops, so ABMIL pure, ABMIL MHIM and DSMIL pure, and
# ABMIL MHIM and DSMIL pure with --bags_per_step 3 (the step sum on the device), must give the --device=cpu run's
# results.csv and metrics.jsonl exactly (timings aside), beyond the GPU test's loss and AUC checks. Skipped (77) in CUDA builds, where cuda_test_cuda_train runs on the GPU.
set -u
bin=${MHIM_BIN:?MHIM_BIN not set}
host=$(dirname "$bin")/tests/mhim_host_gpu
if [ ! -x "$host" ]; then
    echo "skip: no $host (a CUDA build: cuda_test_cuda_train runs these checks on the GPU)"
    exit 77
fi
MHIM_GPU_BIN=$host MHIM_EXPECT_IDENTICAL=1 MHIM_BAGS_PER_STEP=3 MHIM_TRAIN_DSMIL_BPS=1 MHIM_TRAIN_TRANSMIL=0 MHIM_TEST_NAME=train_device_host exec bash "${MHIM_SOURCE_DIR:?}/tests/cuda/test_cuda_train.sh"
