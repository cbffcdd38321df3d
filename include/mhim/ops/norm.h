/* mhim/ops/norm.h — LayerNorm over the last dimension (nn.LayerNorm(C), eps 1e-5, affine). */
#ifndef MHIM_OPS_NORM_H
#define MHIM_OPS_NORM_H

#include <stdint.h>

#define MHIM_LAYERNORM_EPS 1e-5f

/* nn.LayerNorm(C, eps=MHIM_LAYERNORM_EPS) on each of N rows:
 *   out[i] = (inp[i] − mean_i) · rstd_i · weight + bias,  rstd_i = 1/sqrt(var_i + eps), var biased (÷C).
 *   out (N, C) written (must not alias inp), inp (N, C), weight (C), bias (C);
 *   caches mean (N) and rstd (N) for the backward. Row statistics are computed in double. */
void mhim_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *weight,
                            const float *bias, int64_t N, int64_t C);

/* Backward for dout (N, C), with g = dout·weight and x̂ = (inp − mean)·rstd:
 *   dinp    (N, C) = rstd · (g − mean_C(g) − x̂ · mean_C(g·x̂))   (written)
 *   dweight (C)   += Σ_rows dout · x̂        (double; summation order fixed by N and C, thread-count invariant)
 *   dbias   (C)   += Σ_rows dout */
void mhim_layernorm_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                             const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C);
/* Same, but dinp += (the residual stream x + f(LayerNorm(x)) feeds x twice). */
void mhim_layernorm_backward_acc(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                                 const float *weight, const float *mean, const float *rstd, int64_t N, int64_t C);

#endif
