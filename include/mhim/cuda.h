/* mhim/cuda.h — what the CUDA backend reports about the machine (compiled only with MHIM_USE_CUDA=ON).
 * Without a GPU or driver every query fails cleanly with a message; nothing aborts. */
#ifndef MHIM_CUDA_H
#define MHIM_CUDA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Number of usable CUDA devices in *count; returns 0, or non-zero with a reason written to `why`
 * (e.g. "CUDA driver version is insufficient for CUDA runtime version" on machines without a driver). */
int mhim_cuda_device_count(int *count, char *why, size_t why_len);
/* One line describing device `index` (name, memory, compute capability) into buf. */
int mhim_cuda_device_describe(int index, char *buf, size_t len);
/* Runtime and (when built with NCCL) NCCL versions, e.g. "CUDA runtime 13.0, NCCL 2.28.9". */
void mhim_cuda_versions(char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
