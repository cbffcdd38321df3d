/* CUDA device discovery: skipped (77) unless built with MHIM_USE_CUDA and a GPU is visible. */
#include <stdio.h>

#ifdef MHIM_HAVE_CUDA
#include "mhim/cuda.h"
#endif

int main(void) {
#ifndef MHIM_HAVE_CUDA
    printf("skip: built without MHIM_USE_CUDA\n");
    return 77;
#else
    char why[256], line[256];
    int n = 0;
    mhim_cuda_versions(line, sizeof line);
    printf("%s\n", line);
    if (mhim_cuda_device_count(&n, why, sizeof why) != 0) {
        printf("skip: %s\n", why);
        return 77;
    }
    int bad = 0;
    for (int i = 0; i < n; i++) {
        bad |= mhim_cuda_device_describe(i, line, sizeof line);
        printf("%s\n", line);
    }
    return bad;
#endif
}
