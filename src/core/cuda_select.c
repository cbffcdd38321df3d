/* The `--device` option (see mhim/cuda_select.h). */
#include "mhim/cuda_select.h"

#include <stdio.h>
#include <string.h>

#include "mhim/common.h"
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
