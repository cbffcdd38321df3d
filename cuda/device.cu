// Device discovery for the CUDA backend (see include/mhim/cuda.h).
#include <cstdio>
#include <cuda_runtime.h>
#ifdef MHIM_HAVE_NCCL
#include <nccl.h>
#endif

#include "mhim/cuda.h"

extern "C" int mhim_cuda_device_count(int *count, char *why, size_t why_len) {
    int n = 0;
    cudaError_t err = cudaGetDeviceCount(&n);
    if (err != cudaSuccess) {
        snprintf(why, why_len, "%s", cudaGetErrorString(err));
        *count = 0;
        return 1;
    }
    *count = n;
    if (n == 0) snprintf(why, why_len, "no CUDA device visible");
    return n == 0;
}

extern "C" int mhim_cuda_device_describe(int index, char *buf, size_t len) {
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, index);
    if (err != cudaSuccess) {
        snprintf(buf, len, "device %d: %s", index, cudaGetErrorString(err));
        return 1;
    }
    snprintf(buf, len, "device %d: %s, %.1f GiB, compute capability %d.%d", index, prop.name,
             (double)prop.totalGlobalMem / (1024.0 * 1024.0 * 1024.0), prop.major, prop.minor);
    return 0;
}

extern "C" void mhim_cuda_versions(char *buf, size_t len) {
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);
    int n = snprintf(buf, len, "CUDA runtime %d.%d", runtime / 1000, (runtime % 1000) / 10);
#ifdef MHIM_HAVE_NCCL
    int nccl = 0;
    ncclGetVersion(&nccl);
    if (n > 0 && (size_t)n < len)
        snprintf(buf + n, len - (size_t)n, ", NCCL %d.%d.%d", nccl / 10000, (nccl / 100) % 100, nccl % 100);
#else
    (void)n;
#endif
}
