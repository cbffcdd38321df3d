/* src/ops/gemm_bf16.h — the CPU bf16 GEMM of the opt-in bf16 first layer (--precision=bf16; docs/numerics.md).
 *
 * Row-major c (M,N) = alpha · op(a) · op(b) + beta · c, where every element of a and b is first rounded to bf16
 * (round to nearest even, the bits of mhim_float_to_bf16) and the products are summed in fp32 by the AVX512_BF16
 * dot-product instruction (VDPBF16PS: a product of two bf16 values is exact in fp32; each instruction adds the
 * products of an odd and an even k to the fp32 sum, in that order; subnormal inputs and sums are flushed to 0, as
 * the instruction does). This is the contract of mhim_cuda_gemm_bf16 (fp32 sums of exact products), with a
 * different summation order. Matches torch.mm on bf16-rounded operands up to the order of the fp32 sums.
 *
 * The sum of every output element runs over k in one fixed order (blocks of MHIM_GEMM_BF16_KC pairs, pairs in
 * order within a block), whoever computes it: results never depend on the thread count. Threads (OpenMP, the
 * process's --threads) split the output rows; a call from inside an OpenMP parallel region (e.g. one attention head
 * per thread) runs on the calling thread alone, with packing buffers of its own. */
#ifndef MHIM_OPS_GEMM_BF16_H
#define MHIM_OPS_GEMM_BF16_H

#include <stdint.h>

/* k pairs per block of the sum (1024 values of k: the whole K of a 1024-wide first layer's forward). */
#define MHIM_GEMM_BF16_KC 512

/* 1 when this CPU (and this build) runs mhim_gemm_bf16: an x86-64 CPU with AVX512_BF16 (AMD Zen 4 and later, Intel
 * Cooper Lake, Sapphire Rapids and later), else 0. The environment variable MHIM_DISABLE_AVX512_BF16 (set and not
 * "0") makes it 0 on any CPU (to see the refusal, or for tests). */
int mhim_gemm_bf16_available(void);

/* The GEMM above. Leading dimensions follow from the shapes (a: trans_a ? M : K, b: trans_b ? K : N, c: N).
 * Requires mhim_gemm_bf16_available(); beta == 0 never reads c. */
void mhim_gemm_bf16(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                    const float *b, float beta, float *c);
/* The same on strided blocks: lda, ldb, ldc are the row strides of a, b and c (as mhim_gemm_ld). */
void mhim_gemm_bf16_ld(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

#endif
