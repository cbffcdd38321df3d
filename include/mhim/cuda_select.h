/* mhim/cuda_select.h — the `--device` option: which backend a run uses and, for CUDA, which GPU.
 * Compiled in every build (the CUDA branch only reports what is missing when MHIM_USE_CUDA is off). */
#ifndef MHIM_CUDA_SELECT_H
#define MHIM_CUDA_SELECT_H

/* Resolve `device` ("cpu" or "cuda", as validated by the option table) for a training run.
 *   "cpu"  -> *cuda_ordinal = -1, MHIM_OK.
 *   "cuda" -> *cuda_ordinal = the node-local rank (OMPI_COMM_WORLD_LOCAL_RANK / SLURM_LOCALID) modulo the visible
 *             GPUs, MHIM_OK; MHIM_EINPUT with a message saying how to fix it when this build has no CUDA backend or
 *             when no GPU is usable (driver, CUDA_VISIBLE_DEVICES). What the GPU engine covers is checked when the
 *             run starts (src/train/engine_device.c). */
int mhim_device_select(const char *device, int *cuda_ordinal);

struct mhim_config;
/* Whether the GPU training engine covers the run: MHIM-MIL v1 with --baseline=attn|dsmil|selfattn (any
 * --bags_per_step, alone or in a data-parallel group). MHIM_OK, or MHIM_EINPUT naming what is not on the GPU
 * yet and to use --device=cpu. */
int mhim_device_gpu_coverage(const struct mhim_config *cfg);
/* mhim_device_select for a training configuration, then (GPU chosen) mhim_device_gpu_coverage. */
int mhim_device_check_training(const struct mhim_config *cfg, int *cuda_ordinal);

#endif
