/* The GPU TransMIL network (cuda/model_transmil.c) and its parity test (tests/cuda/test_cuda_model_transmil.c) run
 * on the host: the device API is stood in for by the CPU ops (host_cuda/host_ops.c), so every comparison of the GPU
 * test runs here against the CPU model and checks how the network composes the ops (order, strides, transposes,
 * head layouts, parameter offsets, arena sizes, dropout counters), in builds without CUDA. CUDA builds skip it (77):
 * there test_cuda_model_transmil runs the same checks on the device. */
#include <stdio.h>

#ifdef MHIM_HAVE_CUDA
int main(void) {
    printf("skip: CUDA build; test_cuda_model_transmil runs these checks on the device\n");
    return 77;
}
#else
#include "host_cuda/host_ops.c"
#include "host_cuda/host_ops_mil.c"

#include "../../cuda/model_embed.c"
#include "../../cuda/model_transmil.c"
#include "../cuda/support/parity.c"
#include "../cuda/test_cuda_model_transmil.c"
#endif
