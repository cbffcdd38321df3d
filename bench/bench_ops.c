/* bench_ops — nn.Linear(1024 -> 512) forward and backward (mhim/ops/linear.h) against a plain cblas_sgemm of
 * the same shape, measured in the same run.
 *
 * usage: bench_ops [--threads T] [--reps R] [--n N1,N2,...] [--in C] [--out OC]
 * Prints one Markdown table row per N with median times over R repetitions (after 2 warm-ups) and GFLOP/s:
 *   sgemm      out(N,OC) = X(N,C) · W(OC,C)ᵀ, the reference rate (2·N·C·OC flops)
 *   fwd        mhim_linear_forward with bias (2·N·C·OC)
 *   bwd        mhim_linear_backward with dinp, dweight, dbias (4·N·C·OC)
 *   bwd_noin   the same without dinp (first layer: 2·N·C·OC)
 *   fwd+bwd    fwd then bwd (6·N·C·OC); "% sgemm" = its rate over the sgemm rate, from the medians and from
 *              the best repetitions, and from median process CPU time (flops per CPU-second: least
 *              sensitive to other processes). Repetitions interleave the ops so that load from other
 *              processes on a shared machine affects all of them alike. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/ops/linear.h"
#include "mhim/rng.h"
#include "mhim/threads.h"

#define WARMUPS 2
#define MAX_REPS 200
#define MAX_SIZES 16

typedef struct {
    int64_t N, C, OC;
    float *x, *w, *b, *y, *dy, *dx, *dw, *db;
} bench_case;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

enum { OP_SGEMM, OP_FWD, OP_BWD, OP_BWD_NOIN, OP_FWD_BWD, OP_COUNT };
static const double op_flop_units[OP_COUNT] = {2, 2, 4, 2, 6}; /* multiples of N·C·OC */

static void run_op(int op, bench_case *k) {
    switch (op) {
    case OP_SGEMM:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k->N, (int)k->OC, (int)k->C, 1.0f, k->x, (int)k->C,
                    k->w, (int)k->C, 0.0f, k->y, (int)k->OC);
        break;
    case OP_FWD: mhim_linear_forward(k->y, k->x, k->w, k->b, k->N, k->C, k->OC); break;
    case OP_BWD: mhim_linear_backward(k->dx, k->dw, k->db, k->dy, k->x, k->w, k->N, k->C, k->OC); break;
    case OP_BWD_NOIN: mhim_linear_backward(NULL, k->dw, k->db, k->dy, k->x, k->w, k->N, k->C, k->OC); break;
    case OP_FWD_BWD:
        mhim_linear_forward(k->y, k->x, k->w, k->b, k->N, k->C, k->OC);
        mhim_linear_backward(k->dx, k->dw, k->db, k->dy, k->x, k->w, k->N, k->C, k->OC);
        break;
    }
}

static float *random_buffer(int64_t n, uint32_t bag) {
    float *p = mhim_malloc((size_t)n * sizeof *p);
    mhim_rng r = mhim_rng_stream(2024, 0, bag, MHIM_RNG_SYNTH, 0);
    mhim_rng_fill_uniform(&r, 0, p, n, -1.0f, 1.0f);
    return p;
}

/* Parse "1000,8000,30000" into sizes; returns the count or -1. */
static int parse_sizes(const char *text, int64_t *sizes) {
    int count = 0;
    const char *p = text;
    while (*p && count < MAX_SIZES) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p || v < 1) return -1;
        sizes[count++] = v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') return -1;
    }
    return count;
}

static void usage(void) {
    fprintf(stderr, "usage: bench_ops [--threads T] [--reps R] [--n N1,N2,...] [--in C] [--out OC]\n");
}

int main(int argc, char **argv) {
    int threads = 0, reps = 10;
    int64_t sizes[MAX_SIZES] = {1000, 8000, 30000}, C = 1024, OC = 512;
    int n_sizes = 3;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val) return usage(), 2;
        if (!strcmp(arg, "--threads")) threads = atoi(val);
        else if (!strcmp(arg, "--reps")) reps = atoi(val);
        else if (!strcmp(arg, "--n")) n_sizes = parse_sizes(val, sizes);
        else if (!strcmp(arg, "--in")) C = atoll(val);
        else if (!strcmp(arg, "--out")) OC = atoll(val);
        else return usage(), 2;
        i++;
    }
    if (reps < 1 || reps > MAX_REPS || n_sizes < 1 || C < 1 || OC < 1) return usage(), 2;
    threads = mhim_threads_init(threads);
    const char *policy = getenv("OMP_WAIT_POLICY"), *core = getenv("OPENBLAS_CORETYPE");
    printf("# bench_ops: Linear(%lld -> %lld), threads %d, OpenBLAS core %s (OPENBLAS_CORETYPE=%s), "
           "OMP_WAIT_POLICY=%s, median of %d after %d warm-ups\n",
           (long long)C, (long long)OC, threads, openblas_get_corename(), core ? core : "unset",
           policy ? policy : "unset", reps, WARMUPS);
    printf("| N | sgemm ms | GFLOP/s | fwd ms | GFLOP/s | bwd ms | GFLOP/s | bwd_noin ms | GFLOP/s | fwd+bwd ms | "
           "GFLOP/s | %% sgemm (median) | %% sgemm (best) | %% sgemm (CPU time) |\n"
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int s = 0; s < n_sizes; s++) {
        bench_case k = {.N = sizes[s], .C = C, .OC = OC};
        k.x = random_buffer(k.N * C, 1), k.w = random_buffer(OC * C, 2), k.b = random_buffer(OC, 3);
        k.dy = random_buffer(k.N * OC, 4), k.y = random_buffer(k.N * OC, 5), k.dx = random_buffer(k.N * C, 6);
        k.dw = mhim_calloc((size_t)(OC * C), sizeof(float)), k.db = mhim_calloc((size_t)OC, sizeof(float));
        /* Repetitions outer, ops inner: on a shared machine every op sees the same load over time. */
        double t[OP_COUNT][MAX_REPS], cpu[OP_COUNT][MAX_REPS], med[OP_COUNT], rate[OP_COUNT], best[OP_COUNT];
        for (int r = 0; r < WARMUPS + reps; r++)
            for (int op = 0; op < OP_COUNT; op++) {
                double t0 = mhim_seconds(), c0 = mhim_cpu_seconds();
                run_op(op, &k);
                if (r >= WARMUPS) {
                    t[op][r - WARMUPS] = mhim_seconds() - t0;
                    cpu[op][r - WARMUPS] = mhim_cpu_seconds() - c0;
                }
            }
        double cpu_ratio = op_flop_units[OP_FWD_BWD] / median(cpu[OP_FWD_BWD], reps) /
                           (op_flop_units[OP_SGEMM] / median(cpu[OP_SGEMM], reps));
        for (int op = 0; op < OP_COUNT; op++) {
            med[op] = median(t[op], reps); /* sorts t[op] */
            rate[op] = op_flop_units[op] * (double)k.N * (double)C * (double)OC / med[op] * 1e-9;
            best[op] = op_flop_units[op] * (double)k.N * (double)C * (double)OC / t[op][0] * 1e-9;
        }
        printf("| %lld |", (long long)k.N);
        for (int op = 0; op < OP_COUNT; op++) printf(" %.2f | %.1f |", med[op] * 1e3, rate[op]);
        printf(" %.0f%% | %.0f%% | %.0f%% |\n", 100.0 * rate[OP_FWD_BWD] / rate[OP_SGEMM],
               100.0 * best[OP_FWD_BWD] / best[OP_SGEMM], 100.0 * cpu_ratio);
        fflush(stdout);
        free(k.x), free(k.w), free(k.b), free(k.dy), free(k.y), free(k.dx), free(k.dw), free(k.db);
    }
    return 0;
}
