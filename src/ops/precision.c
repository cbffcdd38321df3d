/* `--precision` on the CPU (see mhim/ops/precision.h): the process-wide switches of the bf16 GEMMs. */
#include "mhim/ops/precision.h"

#include <string.h>

#include "mhim/common.h"
#include "mhim/models/embed.h"
#include "mhim/ops/linear.h"
#include "ops/gemm.h"
#include "ops/gemm_bf16.h"

static const char *const names[] = {"fp32", "bf16", "bf16_linear", "bf16_all"};

int mhim_precision_parse(const char *value, mhim_precision *out) {
    *out = MHIM_PRECISION_FP32;
    if (!value) return MHIM_OK;
    for (int p = 0; p < (int)MHIM_ARRAY_LEN(names); p++)
        if (!strcmp(value, names[p])) return *out = (mhim_precision)p, MHIM_OK;
    return mhim_fail("--precision=%s: expected fp32, bf16, bf16_linear or bf16_all", value);
}

const char *mhim_precision_name(mhim_precision p) { return names[p]; }

int mhim_precision_cpu_bf16_supported(void) { return mhim_gemm_bf16_available(); }

int mhim_precision_cpu_check(mhim_precision p) {
    if (p == MHIM_PRECISION_FP32 || mhim_gemm_bf16_available()) return MHIM_OK;
    return mhim_fail("--precision=%s on the CPU needs AVX512_BF16 (AMD Zen 4 or later, Intel Cooper Lake or "
                     "Sapphire Rapids or later), which this CPU lacks: use --precision=fp32%s",
                     names[p], p == MHIM_PRECISION_BF16 ? " or --device=cuda" : "");
}

int mhim_precision_cpu_set(mhim_precision p) {
    const int rc = mhim_precision_cpu_check(p);
    if (rc != MHIM_OK) return rc;
    mhim_embed_set_bf16(p != MHIM_PRECISION_FP32);
    mhim_linear_set_bf16(p == MHIM_PRECISION_BF16_LINEAR || p == MHIM_PRECISION_BF16_ALL);
    mhim_gemm_set_bf16(p == MHIM_PRECISION_BF16_ALL);
    return MHIM_OK;
}
