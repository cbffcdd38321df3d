/* The `--device` option (see mhim/cuda_select.h). */
#include "mhim/cuda_select.h"

#include <stdio.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/ops/precision.h"
#ifdef MHIM_HAVE_CUDA
#include "mhim/cuda_ops.h"
#endif

int mhim_device_select(const char *device, int *cuda_ordinal) {
    *cuda_ordinal = -1;
    if (!device || !strcmp(device, "cpu")) return MHIM_OK;
    if (strcmp(device, "cuda") != 0) return mhim_fail("--device=%s: expected cpu or cuda", device);
#ifndef MHIM_HAVE_CUDA
    return mhim_fail("--device=cuda: this mhim was built without the CUDA backend; rebuild with "
                     "-DMHIM_USE_CUDA=ON on a machine with the CUDA toolkit (docs/gpu.md) or use --device=cpu");
#else
    int ordinal = -1;
    if (mhim_cuda_local_device(&ordinal) != MHIM_OK) {
        char why[512];
        snprintf(why, sizeof why, "%s", mhim_error());
        return mhim_fail("--device=cuda: %s, or use --device=cpu", why);
    }
    *cuda_ordinal = ordinal;
    return MHIM_OK;
#endif
}

int mhim_device_gpu_coverage(const mhim_config *cfg) {
    const char *what = NULL;
    if (cfg->version != 1)
        what = "MHIM-v2 (--mhim_version=2)";
    else if (strcmp(cfg->baseline, "attn") != 0 && strcmp(cfg->baseline, "dsmil") != 0 &&
             strcmp(cfg->baseline, "selfattn") != 0)
        what = cfg->baseline;
    if (!what) return MHIM_OK;
    return mhim_fail("--device=cuda: %s is not on the GPU yet (MHIM-MIL v1 training of ABMIL, TransMIL and DSMIL, one "
                     "process per GPU, --bags_per_step and data-parallel groups included, is); use --device=cpu",
                     what);
}

int mhim_device_check_training(const mhim_config *cfg, int *cuda_ordinal) {
    *cuda_ordinal = -1;
    mhim_precision precision;
    int rc = mhim_precision_parse(cfg->precision, &precision);
    if (rc != MHIM_OK) return rc;
    const int cuda = cfg->device && !strcmp(cfg->device, "cuda");
    if (cuda && (precision == MHIM_PRECISION_BF16_LINEAR || precision == MHIM_PRECISION_BF16_ALL))
        return mhim_fail("--precision=%s runs on the CPU only; on the GPU use --precision=bf16 (the first layer's "
                         "GEMMs in bf16) or fp32",
                         mhim_precision_name(precision));
    if (!cuda && (rc = mhim_precision_cpu_check(precision)) != MHIM_OK) return rc;
    rc = mhim_device_select(cfg->device, cuda_ordinal);
    if (rc != MHIM_OK || *cuda_ordinal < 0) return rc;
    return mhim_device_gpu_coverage(cfg);
}
