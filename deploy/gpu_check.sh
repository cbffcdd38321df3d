#!/usr/bin/env bash
# Everything a GPU machine should run, in one command: build mhim with CUDA (+ NCCL when the toolkit or PyTorch's
# wheel has it), run `ctest -L cuda` (parity tests and the CPU-vs-GPU training test) and the GPU benchmarks, and
# write the logs to OUT_DIR. For a machine without package-manager access, pass the tarball of
# deploy/bundle_deps.sh; with the dependencies installed, pass "-".
#   deploy/gpu_check.sh mhim-deps.tar.gz|- [OUT_DIR=gpu-check] [CUDA_ARCH=90]
# Env: MHIM_TEST_THREADS (CPU threads of the CPU half of the training test; default 2: its TransMIL run is dominated
# by 256 x 256 pseudo-inverse GEMMs and took over 3 min with 16 threads on a 16-core GPU node, ~2 min with 2 on the
# 2-core development machine),
# CHECK_TIMEOUT (s per step, default 900), BENCH=0 (skip the benchmarks).
# Prints one summary line per step; exits 1 when the build or a test fails, 2 when no GPU is usable
# (the GPU tests skipped).
set -u
deps=${1:?usage: deploy/gpu_check.sh mhim-deps.tar.gz|- [OUT_DIR] [CUDA_ARCH]}
out=$(realpath -m "${2:-gpu-check}") arch=${3:-90} limit=${CHECK_TIMEOUT:-900}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
if [ "$deps" != - ]; then
    tmp=$(mktemp -d) && tar xzf "$deps" -C "$tmp" && source "$tmp"/*/env.sh ||
        { echo "gpu_check: cannot unpack $deps (expected a tarball of deploy/bundle_deps.sh)"; exit 2; }
fi
nccl=OFF # NCCL from the toolkit, else from PyTorch's nvidia-nccl wheel when present
if [ -z "${NCCL_ROOT:-}" ]; then
    NCCL_ROOT=$(python3 -c 'import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null) && export NCCL_ROOT &&
        export LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}:$NCCL_ROOT/lib
fi
{ [ -n "${NCCL_ROOT:-}" ] || ls /usr/local/cuda/lib64/libnccl* >/dev/null 2>&1 || ldconfig -p | grep -q libnccl; } && nccl=ON
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | sed 's/^/GPU: /'
build=$root/build-gpu-check
t0=$(date +%s)
{ cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DMHIM_USE_CUDA=ON -DMHIM_USE_NCCL=$nccl -DMHIM_USE_MPI=OFF \
    -DCMAKE_CUDA_ARCHITECTURES="$arch" -DHDF5_C_COMPILER_EXECUTABLE=/nonexistent &&
    cmake --build "$build" -j "$(nproc)"; } >"$out/build.log" 2>&1 ||
    { echo "build: FAILED (see $out/build.log)"; grep -m5 -E "error" "$out/build.log"; exit 1; }
echo "build: ok in $(( $(date +%s) - t0 )) s (NCCL $nccl, architectures $arch)"
fail=0
t0=$(date +%s)
MHIM_TEST_THREADS=${MHIM_TEST_THREADS:-2} timeout "$limit" ctest --test-dir "$build" -L cuda --output-on-failure \
    >"$out/ctest.log" 2>&1 || fail=1
echo "ctest -L cuda: $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1) in $(( $(date +%s) - t0 )) s"
grep -E "^ *[0-9]+/[0-9]+ Test" "$out/ctest.log" | grep -v Passed
if grep -qE "test_cuda_bags .*Skipped" "$out/ctest.log"; then # (test_cuda_philox runs without a GPU)
    echo "gpu_check: the GPU tests were skipped: no usable GPU on this machine (nvidia-smi, CUDA_VISIBLE_DEVICES)"
    exit 2
fi
if [ "${BENCH:-1}" = 1 ]; then
    for p in fp32 bf16; do timeout 120 "$build/bench/bench_gpu" 9000 1024 50 "$p" | tail -1; done | tee "$out/bench.log"
    PYTHONUNBUFFERED=1 timeout 120 python3 "$root/bench/bench_gpu.py" 9000 1024 50 2>&1 | tail -1 | tee -a "$out/bench.log"
fi
exit $fail
