/* mhim/ops/precision.h — `--precision` on the CPU: which GEMMs run as bf16 products with fp32 sums.
 *
 *   fp32         everything fp32 (the default, the original program's precision)
 *   bf16         the first layer's two GEMMs (x·W_eᵀ and the weight gradient dhᵀ·x); the GPU runs the same contract
 *   bf16_linear  every linear layer's GEMMs (forward, input gradient, weight gradient): the first layer, the attention
 *                networks' projections (ABMIL/DSMIL attention and value layers, TransMIL's to_qkv and to_out, v2's
 *                merge projections); CPU only. Thin layers (≤ 8 outputs, ops/thin.h), biases, activations,
 *                normalisation, the attention products (q·kᵀ, the Nyström pseudo-inverse), convolutions, losses and
 *                the optimiser stay fp32.
 *   bf16_all     every matrix product: the linear layers of bf16_linear and the attention products (q·kᵀ, attention
 *                · v, the Nyström pseudo-inverse iteration, v2's merge attention); CPU only. Thin layers and
 *                everything that is not a matrix product stay fp32 (torch.autocast's bf16 matmuls, with fp32
 *                outputs).
 * The bf16 GEMM needs AVX512_BF16 (docs/numerics.md). Switches are process-wide: set them before training starts,
 * outside parallel regions. */
#ifndef MHIM_OPS_PRECISION_H
#define MHIM_OPS_PRECISION_H

typedef enum {
    MHIM_PRECISION_FP32,
    MHIM_PRECISION_BF16,
    MHIM_PRECISION_BF16_LINEAR,
    MHIM_PRECISION_BF16_ALL
} mhim_precision;

/* value of --precision (NULL = fp32) into *out; MHIM_EINPUT naming the expected values otherwise. */
int mhim_precision_parse(const char *value, mhim_precision *out);
/* The option value of p ("fp32", "bf16", "bf16_linear", "bf16_all"). */
const char *mhim_precision_name(mhim_precision p);
/* 1 when this CPU runs the bf16 modes (AVX512_BF16; MHIM_DISABLE_AVX512_BF16=1 makes it 0), else 0. */
int mhim_precision_cpu_bf16_supported(void);
/* MHIM_OK when this CPU runs p, else MHIM_EINPUT with one line naming the option and what to use instead. */
int mhim_precision_cpu_check(mhim_precision p);
/* Switch the CPU ops of this process to p (mhim_precision_cpu_check first; fails the same way). */
int mhim_precision_cpu_set(mhim_precision p);

#endif
