/* Thread-count invariance of the basic ops, on shapes large enough to be split between threads.
 *
 * 1. Our own loops: with OpenBLAS pinned to one thread, every output of every op must be bitwise identical for 1, 2
 *    and 3 OpenMP threads (linear incl. its bias reduction, GELU, dropout masks, layernorm, both softmaxes, attention
 *    pooling, the gated score network, gather/scatter).
 * 2. Both pools together (mhim_threads_init(1) vs (2), (3)): outputs that do not pass through a GEMM must still be
 *    bitwise identical. Outputs computed by cblas_sgemm are NOT guaranteed to be: OpenBLAS 0.3.21 assigns output
 *    tiles to threads by thread count and its edge-tile kernels sum in a different order (seen with
 *    OPENBLAS_CORETYPE=Haswell even for K = 64, and for any core type once K is not a multiple of the K block), so
 *    those are only required to agree to float32 rounding (documented in docs/numerics.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#ifdef MHIM_HAVE_OPENMP
#include <omp.h>
#endif

#include "check.h"
#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/gather.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/softmax.h"
#include "mhim/threads.h"

enum { N = 3001, C = 256, OC = 130, L = 64, M = 2500, MASK_N = 1 << 20 };

/* Inputs shared by all runs. */
typedef struct {
    float *x, *W, *b, *dout, *Wb, *wc, *ln_g, *ln_b;
    int64_t *idx;
    uint8_t *keep, *keep_cols;
} inputs;

/* Every tensor a run produces, in one array per name so that runs can be compared. */
enum {
    R_LIN_OUT, R_LIN_DX, R_LIN_DW, R_LIN_DB, R_GELU, R_GELU_DX, R_LN_OUT, R_LN_DX, R_LN_DG, R_LN_DB, R_SM_INST,
    R_SM_INST_DX, R_SM_ROWS, R_SM_ROWS_DX, R_POOL_Z, R_POOL_DA, R_POOL_DH, R_GATED_S, R_GATED_DH, R_GATED_DWA,
    R_GATED_DWB, R_GATED_DWC, R_GATHER, R_SCATTER, R_DROP_MASK, R_COUNT
};
/* 1 where the tensor is (or depends on) a cblas_sgemm result. */
static const int VIA_GEMM[R_COUNT] = {[R_LIN_OUT] = 1, [R_LIN_DX] = 1, [R_LIN_DW] = 1, [R_POOL_Z] = 1, [R_POOL_DA] = 1,
                                      [R_POOL_DH] = 1, [R_GATED_S] = 1, [R_GATED_DH] = 1, [R_GATED_DWA] = 1,
                                      [R_GATED_DWB] = 1, [R_GATED_DWC] = 1};
static const char *NAMES[R_COUNT] = {
    "linear out", "linear dx", "linear dW", "linear db", "gelu out", "gelu dx", "layernorm out", "layernorm dx",
    "layernorm dweight", "layernorm dbias", "softmax_instances out", "softmax_instances dx", "softmax_rows out",
    "softmax_rows dx", "attnpool z", "attnpool dA", "attnpool dh", "gated scores", "gated dh", "gated dWa",
    "gated dWb", "gated dWc", "gather out", "scatter dx", "dropout mask"};

typedef struct {
    void *data[R_COUNT];
    size_t bytes[R_COUNT];
} results;

static float *buf(results *r, int id, int64_t n) {
    r->bytes[id] = (size_t)n * sizeof(float);
    r->data[id] = mhim_calloc((size_t)n, sizeof(float));
    return r->data[id];
}

static void run_all(const inputs *in, results *r) {
    /* linear (N, C) -> (N, OC) */
    float *out = buf(r, R_LIN_OUT, N * OC);
    mhim_linear_forward(out, in->x, in->W, in->b, N, C, OC);
    mhim_linear_backward(buf(r, R_LIN_DX, N * C), buf(r, R_LIN_DW, OC * C), buf(r, R_LIN_DB, OC), in->dout, in->x,
                         in->W, N, C, OC);
    /* GELU on x */
    mhim_gelu_forward(buf(r, R_GELU, N * C), in->x, N * C);
    mhim_gelu_backward(buf(r, R_GELU_DX, N * C), in->dout, in->x, N * C);
    /* layernorm over C */
    float *mean = mhim_malloc(N * sizeof(float)), *rstd = mhim_malloc(N * sizeof(float));
    mhim_layernorm_forward(buf(r, R_LN_OUT, N * C), mean, rstd, in->x, in->ln_g, in->ln_b, N, C);
    mhim_layernorm_backward(buf(r, R_LN_DX, N * C), buf(r, R_LN_DG, C), buf(r, R_LN_DB, C), in->x, in->x, in->ln_g,
                            mean, rstd, N, C);
    /* softmax over instances of (N, 2) and over the rows of x (N, C) — views of existing data */
    float *si = buf(r, R_SM_INST, N * 2), *sr = buf(r, R_SM_ROWS, N * C);
    mhim_softmax_instances_forward(si, in->x, in->keep, N, 2);
    mhim_softmax_instances_backward(buf(r, R_SM_INST_DX, N * 2), in->dout, si, N, 2);
    mhim_softmax_rows_forward(sr, in->x, in->keep_cols, N, C);
    mhim_softmax_rows_backward(buf(r, R_SM_ROWS_DX, N * C), in->dout, sr, N, C);
    /* pooling with A = the instance softmax (N, 2), h = x (N, C) */
    mhim_attnpool_forward(buf(r, R_POOL_Z, 2 * C), si, in->x, N, 2, C);
    mhim_attnpool_backward(buf(r, R_POOL_DA, N * 2), buf(r, R_POOL_DH, N * C), in->dout, si, in->x, N, 2, C);
    /* gated scores h (N, C) -> (N, 1) with L hidden units */
    float *a = mhim_malloc((size_t)N * L * sizeof(float)), *bg = mhim_malloc((size_t)N * L * sizeof(float));
    float *gg = mhim_malloc((size_t)N * L * sizeof(float)), *scratch = mhim_malloc((size_t)2 * N * L * sizeof(float));
    float *s = buf(r, R_GATED_S, N);
    mhim_gated_scores_forward(s, NULL, a, bg, gg, in->x, in->W, NULL, in->Wb, NULL, in->wc, NULL, MHIM_ACT_RELU, N, C,
                              L, 1);
    mhim_gated_scores_backward(buf(r, R_GATED_DH, N * C), buf(r, R_GATED_DWA, L * C), NULL, buf(r, R_GATED_DWB, L * C),
                               NULL, buf(r, R_GATED_DWC, L), NULL, scratch, in->dout, in->x, NULL, a, bg, gg, in->W,
                               in->Wb, in->wc, MHIM_ACT_RELU, N, C, L, 1);
    /* gather M rows (with repeats) and scatter back */
    mhim_gather_rows_forward(buf(r, R_GATHER, M * C), in->x, in->idx, M, N, C);
    mhim_gather_rows_backward(buf(r, R_SCATTER, N * C), in->dout, in->idx, M, N, C);
    /* dropout mask from the counter-based stream */
    mhim_rng stream = mhim_rng_stream(7, 1, 2, MHIM_RNG_DROPOUT, 0);
    r->bytes[R_DROP_MASK] = MASK_N;
    r->data[R_DROP_MASK] = mhim_malloc(MASK_N);
    mhim_dropout_mask(r->data[R_DROP_MASK], &stream, 0, 0.25f, MASK_N);
    free(mean), free(rstd), free(a), free(bg), free(gg), free(scratch);
}

static void free_results(results *r) {
    for (int i = 0; i < R_COUNT; i++) free(r->data[i]);
}

int main(void) {
    test_rng rng = {99};
    inputs in;
    in.x = mhim_malloc((size_t)N * C * sizeof(float));
    in.W = mhim_malloc((size_t)OC * C * sizeof(float));
    in.b = mhim_malloc(OC * sizeof(float));
    in.dout = mhim_malloc((size_t)N * C * sizeof(float)); /* large enough for every upstream gradient above */
    in.Wb = mhim_malloc((size_t)L * C * sizeof(float));
    in.wc = mhim_malloc(L * sizeof(float));
    in.ln_g = mhim_malloc(C * sizeof(float));
    in.ln_b = mhim_malloc(C * sizeof(float));
    test_fill_uniform(&rng, in.x, (int64_t)N * C, -1, 1);
    test_fill_uniform(&rng, in.W, (int64_t)OC * C, -0.1f, 0.1f);
    test_fill_uniform(&rng, in.b, OC, -0.1f, 0.1f);
    test_fill_uniform(&rng, in.dout, (int64_t)N * C, -1, 1);
    test_fill_uniform(&rng, in.Wb, (int64_t)L * C, -0.1f, 0.1f);
    test_fill_uniform(&rng, in.wc, L, -0.3f, 0.3f);
    test_fill_uniform(&rng, in.ln_g, C, 0.5f, 1.5f);
    test_fill_uniform(&rng, in.ln_b, C, -0.2f, 0.2f);
    in.idx = mhim_malloc(M * sizeof(int64_t));
    for (int64_t j = 0; j < M; j++) in.idx[j] = (j * 7919) % N / 2; /* repeats, and rows never gathered */
    in.keep = mhim_malloc(N);
    for (int64_t i = 0; i < N; i++) in.keep[i] = (uint8_t)(i % 5 != 3);
    in.keep_cols = mhim_malloc(C);
    for (int64_t i = 0; i < C; i++) in.keep_cols[i] = (uint8_t)(i % 3 != 1);

    int fails = 0;
    results base = {0};
    mhim_threads_init(1);
    run_all(&in, &base);
    for (int phase = 1; phase <= 2; phase++) {
        for (int threads = 2; threads <= 3; threads++) {
            results other = {0};
            if (phase == 1) { /* OpenMP only; OpenBLAS stays at one thread */
#ifdef MHIM_HAVE_OPENMP
                omp_set_num_threads(threads);
#endif
                openblas_set_num_threads(1);
            } else {
                mhim_threads_init(threads);
            }
            run_all(&in, &other);
            for (int i = 0; i < R_COUNT; i++) {
                char name[128];
                int same = base.bytes[i] == other.bytes[i] && memcmp(base.data[i], other.data[i], base.bytes[i]) == 0;
                if (phase == 2 && VIA_GEMM[i]) {
                    snprintf(name, sizeof name, "%s: 1 vs %d threads (OpenMP+OpenBLAS, %s)", NAMES[i], threads,
                             same ? "bitwise equal" : "GEMM rounding only");
                    fails += check_close(name, other.data[i], base.data[i], (int64_t)(base.bytes[i] / sizeof(float)),
                                         1e-4, 1e-4);
                } else {
                    snprintf(name, sizeof name, "%s: 1 vs %d threads (%s) bitwise equal", NAMES[i], threads,
                             phase == 1 ? "OpenMP" : "OpenMP+OpenBLAS");
                    fails += check_true(name, same);
                }
            }
            free_results(&other);
        }
    }
    free_results(&base);
    free(in.x), free(in.W), free(in.b), free(in.dout), free(in.Wb), free(in.wc), free(in.ln_g), free(in.ln_b),
        free(in.idx), free(in.keep), free(in.keep_cols);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
