/* bench_models — one training step's forward + backward per bag for each model through the registry
 * (mhim/model.h): ABMIL, TransMIL (8 heads) and DSMIL, on a bag of N instances (D_in 1024, 2 classes, train-mode
 * dropout, unmasked), next to a plain cblas_sgemm measured in the same run.
 *
 * usage: OMP_WAIT_POLICY=passive OPENBLAS_THREAD_TIMEOUT=4 bench_models [--threads T] [--reps R] [--n N] [--models LIST]
 *        [--precision fp32|bf16|bf16_linear|bf16_all]
 *        (defaults 2, 10, 8000, abmil,transmil,dsmil, fp32; LIST: comma-separated model names; bf16, bf16_linear,
 *        bf16_all = the bf16 GEMMs of mhim train's --precision, whose bound below is still counted at the fp32 sgemm
 *        rate)
 * Prints one Markdown row per model: median and best ms over R repetitions (after 2 warm-ups, repetitions
 * interleaved across models), the GEMM FLOPs of one step (counted below), the GEMM-FLOP bound = FLOPs / the sgemm
 * rate (an Nx1024x512 sgemm, median of the same run), and time / bound; the same ratio in process CPU time (the
 * step's CPU seconds over the bound at the sgemm's FLOPs per CPU second), which a busy shared machine disturbs
 * less than wall time; and the GEMM FLOPs of the original modules with time over their bound (they differ where
 * mhim associates a product differently). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/model.h"
#include "mhim/ops/precision.h"
#include "mhim/rng.h"
#include "mhim/threads.h"

#define WARMUPS 2
#define MAX_REPS 100
#define D_IN 1024
#define DIM 512.0

/* Median of the sorted v[0..n). */
static double median(const double *v, int n) { return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* GEMM FLOPs of forward + backward (backward = 2x forward for every GEMM, except the first layer whose input
 * gradient is not needed: 1x). Small terms (C-wide heads, per-instance dots) are included; non-GEMM work
 * (softmax, LayerNorm, convolutions, activations) is not. as_original: the products as the original modules
 * compute them (TransMIL: (a1 · pinv) · (a3 · v), an np × m × m GEMM per head, every row of both layers); otherwise
 * as mhim does (a1 · (pinv · (a3 · v)), docs/numerics.md; the second layer's q, a1, output and to_out for its cls
 * row only, the one row the model reads, and its landmark queries projected from the segment means of its input). */
static double gemm_flops(mhim_model_kind kind, double n, double H, int as_original) {
    const double embed = 2 * n * D_IN * DIM * 2; /* forward + weight gradient */
    const double C = 2;
    switch (kind) {
    case MHIM_MODEL_ABMIL: return embed + 3 * (2 * n * DIM * 128 + 2 * n * 128 + 2 * n * DIM) + 3 * 2 * DIM * C;
    case MHIM_MODEL_DSMIL:
        return embed + 3 * (2 * n * DIM * C + 2 * n * DIM * 128 + 2 * n * 128 * 128 + 2 * n * DIM * DIM +
                            2 * n * 128 * C + 2 * n * C * DIM + 2 * C * C * DIM);
    case MHIM_MODEL_TRANSMIL: {
        const double m = 256, dh = 64, inner = dh * H, np = m * ceil((n + 1) / m); /* np: padded tokens */
        double layers = 0;
        for (int l = 0; l < 2; l++) {
            /* the query rows whose a1, output and to_out are computed: mhim's second layer only its cls row */
            const double r = l == 1 && !as_original ? 1 : np;
            /* to_qkv (mhim's second layer: k, v of every row; q of its cls row and of the landmark means), to_out */
            double layer = (r == np ? 2 * np * DIM * 3 * inner : 2 * np * DIM * 2 * inner + 2 * (r + m) * DIM * inner) +
                           2 * r * inner * DIM;
            layer += H * (2 * r * m * dh + 2 * m * m * dh + 2 * m * np * dh);    /* the three logits */
            layer += H * (6 * 8 * m * m * m + 2 * m * np * dh + 2 * r * m * dh); /* pinv, a3 · v, the output */
            layer += H * (as_original ? 2 * np * m * m : 2 * m * m * dh);        /* a1 · pinv or pinv · a3v */
            layers += layer;
        }
        return embed + 3 * layers + 3 * 2 * DIM * C;
    }
    }
    return 0;
}

/* True when the comma-separated list names `name` (case-insensitive). */
static int list_has(const char *list, const char *name) {
    const size_t len = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == len && !strncasecmp(p, name, len)) return 1;
        p += n + (end != NULL);
    }
    return 0;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 10;
    int64_t N = 8000;
    const char *models_arg = "abmil,transmil,dsmil", *precision = "fp32";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--n")) N = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "--models")) models_arg = argv[i + 1];
        else if (!strcmp(argv[i], "--precision")) precision = argv[i + 1];
    }
    mhim_precision prec;
    if (mhim_precision_parse(precision, &prec) != MHIM_OK || mhim_precision_cpu_set(prec) != MHIM_OK)
        return fprintf(stderr, "bench_models: %s\n", mhim_error()), 2;
    reps = MHIM_MAX(1, MHIM_MIN(reps, MAX_REPS));
    threads = mhim_threads_init(threads);
    const char *wait = getenv("OMP_WAIT_POLICY"), *timeout = getenv("OPENBLAS_THREAD_TIMEOUT");
    printf("# bench_models: N %lld, D_in %d, threads %d, precision %s, OMP_WAIT_POLICY=%s, OPENBLAS_THREAD_TIMEOUT=%s, "
           "median/best of %d after %d warm-ups\n",
           (long long)N, D_IN, threads, precision, wait ? wait : "unset", timeout ? timeout : "unset", reps, WARMUPS);

    float *x = mhim_malloc((size_t)(N * D_IN) * sizeof(float));
    mhim_rng r = mhim_rng_stream(1, 0, 0, MHIM_RNG_SYNTH, 0);
    mhim_rng_fill_uniform(&r, 0, x, N * D_IN, -1.0f, 1.0f);
    const mhim_model_kind all_kinds[3] = {MHIM_MODEL_ABMIL, MHIM_MODEL_TRANSMIL, MHIM_MODEL_DSMIL};
    mhim_model_kind kinds[3];
    int n_models = 0;
    for (int k = 0; k < 3; k++)
        if (list_has(models_arg, mhim_model_kind_name(all_kinds[k]))) kinds[n_models++] = all_kinds[k];
    if (n_models == 0) return fprintf(stderr, "bench_models: --models %s names no model\n", models_arg), 2;
    mhim_model *models[3];
    float *params[3], *grads[3];
    mhim_arena arenas[3];
    for (int k = 0; k < n_models; k++) {
        mhim_model_config mc = {kinds[k], 1, D_IN, 2, MHIM_ACT_RELU, 0.25f, MHIM_ACT_RELU, 0, 8, 0, 0};
        if (mhim_model_create(&models[k], &mc)) return fprintf(stderr, "%s\n", mhim_error()), 1;
        params[k] = mhim_params_alloc(mhim_model_layout(models[k]));
        grads[k] = mhim_params_alloc(mhim_model_layout(models[k]));
        mhim_model_init_params(models[k], params[k], 1);
        mhim_arena_init(&arenas[k], "bench", mhim_model_train_arena_bytes(models[k], N));
        mhim_arena_set_poison(&arenas[k], 0);
    }
    float *gw = mhim_malloc((size_t)512 * D_IN * sizeof(float)), *gy = mhim_malloc((size_t)(N * 512) * sizeof(float));
    mhim_rng_fill_uniform(&r, 1ull << 40, gw, 512 * D_IN, -1.0f, 1.0f);

    static double t[4][MAX_REPS], tc[4][MAX_REPS];
    for (int rep = -WARMUPS; rep < reps; rep++) {
        double t0 = mhim_seconds(), c0 = mhim_cpu_seconds();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, 512, D_IN, 1.0f, x, D_IN, gw, D_IN, 0.0f, gy, 512);
        if (rep >= 0) t[3][rep] = mhim_seconds() - t0, tc[3][rep] = mhim_cpu_seconds() - c0;
        for (int k = 0; k < n_models; k++) {
            float logits[2], maxl[2], dl[2], dm[2];
            mhim_model_out out = {logits, maxl, NULL};
            mhim_rng drop = mhim_rng_stream(1, (uint32_t)(rep + WARMUPS), 0, MHIM_RNG_DROPOUT, 0);
            t0 = mhim_seconds(), c0 = mhim_cpu_seconds();
            mhim_model_forward(models[k], &arenas[k], params[k], x, N, NULL, N, &drop, &out);
            mhim_model_class_loss(models[k], &out, 1, 1.0f, dl, dm);
            mhim_model_backward(models[k], &arenas[k], params[k], grads[k], dl, kinds[k] == MHIM_MODEL_DSMIL ? dm : NULL,
                                NULL);
            if (rep >= 0) t[k][rep] = mhim_seconds() - t0, tc[k][rep] = mhim_cpu_seconds() - c0;
            mhim_arena_reset(&arenas[k], 0);
        }
    }
    for (int k = 0; k < 4; k++)
        if (k == 3 || k < n_models) {
            qsort(t[k], (size_t)reps, sizeof(double), cmp_double);
            qsort(tc[k], (size_t)reps, sizeof(double), cmp_double);
        }
    const double sgemm_ms = 1e3 * median(t[3], reps), sgemm_cpu_ms = 1e3 * median(tc[3], reps);
    const double rate = 2.0 * (double)N * 512 * D_IN / (sgemm_ms * 1e-3);
    const double cpu_rate = 2.0 * (double)N * 512 * D_IN / (sgemm_cpu_ms * 1e-3); /* FLOPs per CPU second */
    printf("# sgemm %lldx1024x512: %.1f ms median = %.1f GFLOP/s; %.1f CPU-ms = %.1f GFLOP per CPU-s\n",
           (long long)N, sgemm_ms, rate * 1e-9, sgemm_cpu_ms, cpu_rate * 1e-9);
    printf("| model | fwd+bwd ms (median) | best ms | GEMM GFLOP | GEMM-FLOP bound ms | median / bound "
           "| CPU-ms (median) | CPU-ms / CPU bound | original's GEMM GFLOP | median / original's bound |\n"
           "|---|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < n_models; k++) {
        double med = 1e3 * median(t[k], reps), med_cpu = 1e3 * median(tc[k], reps);
        double flops = gemm_flops(kinds[k], (double)N, 8, 0), bound = 1e3 * flops / rate;
        double flops_orig = gemm_flops(kinds[k], (double)N, 8, 1);
        printf("| %s | %.1f | %.1f | %.1f | %.1f | %.2f | %.1f | %.2f | %.1f | %.2f |\n",
               mhim_model_kind_name(kinds[k]), med, 1e3 * t[k][0], flops * 1e-9, bound, med / bound, med_cpu,
               med_cpu / (1e3 * flops / cpu_rate), flops_orig * 1e-9, med / (1e3 * flops_orig / rate));
    }
    for (int k = 0; k < n_models; k++) {
        mhim_arena_free(&arenas[k]);
        mhim_params_free(params[k]), mhim_params_free(grads[k]);
        mhim_model_free(models[k]);
    }
    free(x), free(gw), free(gy);
    return 0;
}
