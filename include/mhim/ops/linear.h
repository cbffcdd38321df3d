/* mhim/ops/linear.h — fully connected layer (nn.Linear).
 *
 * Host float32, row-major; dimensions int64_t. Parameter gradients ACCUMULATE (+=); the input gradient is
 * WRITTEN (=) by mhim_linear_backward and ADDED (+=) by mhim_linear_backward_acc. The three products go through
 * cblas_sgemm with transposition flags (no copies; the bf16 GEMM under mhim_linear_set_bf16), except for thin
 * layers (OC ≤ 8 and OC·C ≤ 1024: DSMIL's instance classifier, the attention networks' last layer), which make one
 * pass over the wide operand in an order fixed by the shapes (sums in double; bitwise independent of the thread
 * count). */
#ifndef MHIM_OPS_LINEAR_H
#define MHIM_OPS_LINEAR_H

#include <stdint.h>

/* nn.Linear / F.linear(inp, weight, bias): out = inp · weightᵀ + bias.
 *   out    (N, OC)   written
 *   inp    (N, C)
 *   weight (OC, C)   PyTorch layout (state_dict "<name>.weight")
 *   bias   (OC)      or NULL (bias=False)
 * Caches nothing: the backward needs inp, which the caller keeps. N may be 0 (nothing is written); C, OC >= 1. */
void mhim_linear_forward(float *out, const float *inp, const float *weight, const float *bias, int64_t N, int64_t C,
                         int64_t OC);

/* Backward of mhim_linear_forward for upstream gradient dout (N, OC):
 *   dinp    (N, C)   = dout · weight      (written; NULL skips the GEMM, e.g. the input projection)
 *   dweight (OC, C)  += doutᵀ · inp       (NULL for a frozen weight)
 *   dbias   (OC)     += Σ_rows dout       (NULL when there is no bias; mhim_colsum_acc: fixed order) */
void mhim_linear_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                          const float *weight, int64_t N, int64_t C, int64_t OC);
/* Same, but dinp += dout · weight (for inputs that fan out, e.g. DSMIL's h feeding three linear layers). */
void mhim_linear_backward_acc(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                              const float *weight, int64_t N, int64_t C, int64_t OC);

/* The bf16 linear layers (--precision=bf16_linear and bf16_all on the CPU; mhim/ops/precision.h, docs/numerics.md):
 * while on, the three GEMMs above (not the thin layers) round their operands to bf16 and sum the products in fp32
 * (AVX512_BF16, ops/gemm_bf16.h; bitwise independent of the thread count); the bias and its gradient stay fp32. Off
 * by default. Requires mhim_precision_cpu_bf16_supported() to turn it on; set it through mhim_precision_cpu_set. */
void mhim_linear_set_bf16(int on);

#endif
