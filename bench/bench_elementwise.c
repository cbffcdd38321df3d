/* bench_elementwise — memory bandwidth of the non-GEMM ops (include/mhim/ops) against memcpy, same run.
 *
 * usage: bench_elementwise [--threads T] [--reps R] [--n N] [--d D] [--clock wall|cpu] [--interleave]
 * Each op runs on an (N, D) float32 activation (N = 8000 instances, D = 512: the embedding of an average C16 bag;
 * D a multiple of 64). "bytes" counts the compulsory traffic: every input array read once and every output written
 * once; GB/s = bytes / time, for the median and for the best repetition (the best is the steadier figure on a
 * shared machine). memcpy of the same (N, D) array (2·N·D·4 bytes) is the ceiling: an op is memory-bandwidth bound
 * when its GB/s is of the order of memcpy's; "% of memcpy" compares the best repetitions. --clock cpu times the
 * process CPU time instead of wall time (with --threads 1: a figure that a busy shared machine disturbs less).
 * "% of relu" compares the best repetition with relu's of the same traffic (forward ops with relu forward, 8 bytes
 * per element; backward ops with relu backward, 12): an op at ~100% runs at the streaming rate of the run. The ops
 * run one after the other, R repetitions each; --interleave runs every op once per round instead (R rounds), so that
 * each op and its relu see the same state of a machine whose memory rate drifts (arrays larger than the caches), and
 * adds "% of relu (paired median)": the median over the rounds of relu's time / the op's time in the same round.
 * A second table times the convolutions of TransMIL (PPEG on (N, D) tokens, the Nyström residual convolution on D/64
 * heads of N × 64), whose 33–98 multiply-adds per element make them compute-bound: GFLOP/s counts 2 flops per tap
 * and element (interior cells; border cells have fewer taps). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mhim/arena.h"
#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/dropout.h"
#include "mhim/ops/gather.h"
#include "mhim/ops/norm.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"
#include "mhim/ops/softmax.h"
#include "mhim/rng.h"
#include "mhim/threads.h"

#define MAX_REPS 500

typedef struct {
    int64_t n, d;
    float *x, *y, *dy, *dx, *w, *b, *mean, *rstd, *scores, *probs;
    uint8_t *keep;
    int64_t *idx;
    float *conv_w, *conv_dw, *conv_scratch; /* PPEG (and residual conv) weights, their gradients, PPEG scratch */
    float *pooled;                          /* the (1, D) pooled vector (forward) and its gradient (backward) */
} arrays;

typedef struct {
    const char *name;
    double bytes_per_elem; /* bytes moved per element of the (N, D) array */
    void (*run)(arrays *a);
    int relu; /* index in ops[] of the relu op with the same traffic (RELU_FWD, RELU_BWD), NO_RELU: none */
    double flops_per_elem; /* > 0: a compute-bound op, reported in the second table */
} op;

enum { NO_RELU = -1, RELU_FWD = 1, RELU_BWD = 2 };

static void op_memcpy(arrays *a) { memcpy(a->y, a->x, (size_t)(a->n * a->d) * sizeof(float)); }
static void op_relu_f(arrays *a) { mhim_relu_forward(a->y, a->x, a->n * a->d); }
static void op_relu_b(arrays *a) { mhim_relu_backward(a->dx, a->dy, a->y, a->n * a->d); }
static void op_gelu_f(arrays *a) { mhim_gelu_forward(a->y, a->x, a->n * a->d); }
static void op_gelu_b(arrays *a) { mhim_gelu_backward(a->dx, a->dy, a->x, a->n * a->d); }
static void op_tanh_f(arrays *a) { mhim_tanh_forward(a->y, a->x, a->n * a->d); }
static void op_tanh_b(arrays *a) { mhim_tanh_backward(a->dx, a->dy, a->y, a->n * a->d); }
static void op_sigmoid_f(arrays *a) { mhim_sigmoid_forward(a->y, a->x, a->n * a->d); }
static void op_sigmoid_b(arrays *a) { mhim_sigmoid_backward(a->dx, a->dy, a->y, a->n * a->d); }
static void op_dropout_f(arrays *a) { mhim_dropout_forward(a->y, a->keep, a->x, 0.25f, a->n * a->d); }
static void op_dropout_b(arrays *a) { mhim_dropout_backward(a->dx, a->dy, a->keep, 0.25f, a->n * a->d); }
static void op_ln_f(arrays *a) { mhim_layernorm_forward(a->y, a->mean, a->rstd, a->x, a->w, a->b, a->n, a->d); }
static void op_ln_b(arrays *a) {
    mhim_layernorm_backward(a->dx, a->w + a->d, a->b + a->d, a->dy, a->x, a->w, a->mean, a->rstd, a->n, a->d);
}
static void op_gather_f(arrays *a) { mhim_gather_rows_forward(a->y, a->x, a->idx, a->n / 2, a->n, a->d); }
static void op_gather_b(arrays *a) { mhim_gather_rows_backward(a->dx, a->dy, a->idx, a->n / 2, a->n, a->d); }
static void op_softmax_rows_f(arrays *a) { mhim_softmax_rows_forward(a->y, a->x, NULL, a->n, a->d); }
static void op_softmax_rows_b(arrays *a) { mhim_softmax_rows_backward(a->dx, a->dy, a->y, a->n, a->d); }
/* ABMIL's pooling z = Aᵀh with one attention column (A = the N scores). */
static void op_attnpool_f(arrays *a) { mhim_attnpool_forward(a->pooled, a->scores, a->x, a->n, 1, a->d); }
static void op_attnpool_b(arrays *a) {
    mhim_attnpool_backward(a->probs, a->dx, a->pooled, a->scores, a->x, a->n, 1, a->d);
}

/* PPEG weights in conv_w: w0 (D, 7·7), b0 (D), w1 (D, 5·5), b1 (D), w2 (D, 3·3), b2 (D); the same layout in
 * conv_dw. Offsets in units of D floats. */
enum {
    PPEG_T0 = MHIM_PPEG_K0 * MHIM_PPEG_K0,
    PPEG_T1 = MHIM_PPEG_K1 * MHIM_PPEG_K1,
    PPEG_T2 = MHIM_PPEG_K2 * MHIM_PPEG_K2,
    PPEG_B0 = PPEG_T0,
    PPEG_W1 = PPEG_B0 + 1,
    PPEG_B1 = PPEG_W1 + PPEG_T1,
    PPEG_W2 = PPEG_B1 + 1,
    PPEG_B2 = PPEG_W2 + PPEG_T2,
    PPEG_W_ROWS = PPEG_B2 + 1,
    RES_TAPS = MHIM_NYSTROM_RES_KERNEL,
};
static void op_ppeg_f(arrays *a) {
    const int64_t d = a->d;
    const float *w = a->conv_w;
    mhim_ppeg_forward(a->y, a->conv_scratch, a->x, w, w + PPEG_B0 * d, w + PPEG_W1 * d, w + PPEG_B1 * d,
                      w + PPEG_W2 * d, w + PPEG_B2 * d, a->n, d);
}
static void op_ppeg_b(arrays *a) {
    const int64_t d = a->d;
    const float *w = a->conv_w;
    float *g = a->conv_dw;
    mhim_ppeg_backward(a->dx, g, g + PPEG_B0 * d, g + PPEG_W1 * d, g + PPEG_B1 * d, g + PPEG_W2 * d, g + PPEG_B2 * d,
                       a->dy, a->conv_scratch, a->x, w, w + PPEG_W1 * d, w + PPEG_W2 * d, a->n, d);
}
/* The residual convolution on D/64 heads of (N, 64) (TransMIL: 8 heads of 64); weights (heads, RES_TAPS). */
static void op_res_conv_f(arrays *a) { mhim_nystrom_res_conv_forward_acc(a->y, a->x, a->conv_w, a->d / 64, a->n, 64); }
static void op_res_conv_b(arrays *a) {
    mhim_nystrom_res_conv_backward_acc(a->dx, a->conv_dw, a->dy, a->x, a->conv_w, a->d / 64, a->n, 64);
}

static const op ops[] = {
    {"memcpy", 8, op_memcpy, NO_RELU, 0},
    {"relu fwd", 8, op_relu_f, RELU_FWD, 0},
    {"relu bwd", 12, op_relu_b, RELU_BWD, 0},
    {"gelu fwd", 8, op_gelu_f, RELU_FWD, 0},
    {"gelu bwd", 12, op_gelu_b, RELU_BWD, 0},
    {"tanh fwd", 8, op_tanh_f, RELU_FWD, 0},
    {"tanh bwd", 12, op_tanh_b, RELU_BWD, 0},
    {"sigmoid fwd", 8, op_sigmoid_f, RELU_FWD, 0},
    {"sigmoid bwd", 12, op_sigmoid_b, RELU_BWD, 0},
    {"dropout fwd", 9, op_dropout_f, NO_RELU, 0},
    {"dropout bwd", 9, op_dropout_b, NO_RELU, 0},
    {"layernorm fwd", 8, op_ln_f, RELU_FWD, 0},
    {"layernorm bwd", 12, op_ln_b, RELU_BWD, 0},
    {"gather half the rows", 4, op_gather_f, NO_RELU, 0},
    {"scatter half the rows (gather bwd)", 6, op_gather_b, NO_RELU, 0},
    {"softmax rows", 8, op_softmax_rows_f, RELU_FWD, 0},
    {"softmax rows bwd", 12, op_softmax_rows_b, RELU_BWD, 0},
    {"attention pooling fwd (1 column)", 4, op_attnpool_f, NO_RELU, 0},
    {"attention pooling bwd (1 column)", 8, op_attnpool_b, RELU_FWD, 0},
    {"PPEG fwd (7x7 + 5x5 + 3x3 depthwise)", 8, op_ppeg_f, NO_RELU, 2 * (PPEG_T0 + PPEG_T1 + PPEG_T2)},
    {"PPEG bwd", 12, op_ppeg_b, NO_RELU, 2 * (PPEG_T0 + PPEG_T0)}, /* the summed 7x7 correlation, the 7x7 weight sums */
    {"residual conv fwd (33 taps)", 8, op_res_conv_f, NO_RELU, 2 * RES_TAPS},
    {"residual conv bwd", 12, op_res_conv_b, NO_RELU, 2 * (RES_TAPS + RES_TAPS)}, /* dv, then dw */
};

static clockid_t bench_clock = CLOCK_MONOTONIC;

/* Seconds of one run of the op. */
static double time_op(const op *o, arrays *a) {
    const double t0 = mhim_clock_seconds(bench_clock);
    o->run(a);
    return mhim_clock_seconds(bench_clock) - t0;
}

static int cmp_double(const void *p, const void *q) {
    double x = *(const double *)p, y = *(const double *)q;
    return (x > y) - (x < y);
}

/* Arrays start on MHIM_ARENA_ALIGN (64-byte) boundaries, as the training arena's blocks do: a plain malloc of a large
 * array returns an address 16 bytes past a page, where every 64-byte vector access straddles two cache lines. */
static void *arena_aligned(size_t bytes) {
    void *p = aligned_alloc(MHIM_ARENA_ALIGN, mhim_arena_align(bytes));
    if (!p) MHIM_DIE("bench_elementwise: out of memory (%zu bytes)", bytes);
    return p;
}

static float *filled(const mhim_rng *r, uint64_t first, int64_t count, float lo, float hi) {
    float *v = arena_aligned((size_t)count * sizeof(float));
    mhim_rng_fill_uniform(r, first, v, count, lo, hi);
    return v;
}

int main(int argc, char **argv) {
    int threads = 2, reps = 50, interleave = 0;
    int64_t n = 8000, d = 512;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(opt, "--interleave")) {
            interleave = 1;
            continue;
        }
        i++;
        if (val && !strcmp(opt, "--threads")) threads = atoi(val);
        else if (val && !strcmp(opt, "--reps")) reps = atoi(val);
        else if (val && !strcmp(opt, "--n")) n = atoll(val);
        else if (val && !strcmp(opt, "--d")) d = atoll(val);
        else if (val && !strcmp(opt, "--clock") && !strcmp(val, "cpu")) bench_clock = CLOCK_PROCESS_CPUTIME_ID;
        else if (val && !strcmp(opt, "--clock") && !strcmp(val, "wall")) bench_clock = CLOCK_MONOTONIC;
        else {
            fprintf(stderr, "usage: bench_elementwise [--threads T] [--reps R] [--n N] [--d D] [--clock wall|cpu] "
                            "[--interleave]\n");
            return 2;
        }
    }
    if (reps < 1 || reps > MAX_REPS || n < 2 || d < 64 || d % 64) {
        fprintf(stderr, "bench_elementwise: expected 1 <= reps <= %d, n >= 2, d a multiple of 64 (the residual "
                        "convolution's heads are 64 wide)\n", MAX_REPS);
        return 2;
    }
    threads = mhim_threads_init(threads);
    mhim_rng r = mhim_rng_stream(1, 0, 0, MHIM_RNG_SYNTH, 0);
    int64_t count = n * d;
    arrays a = {n, d, filled(&r, 0, count, -3, 3), filled(&r, 0, count, 0, 1), filled(&r, count, count, -1, 1),
                filled(&r, 0, count, 0, 0), filled(&r, 0, 2 * d, 0.5f, 1.5f), filled(&r, 0, 2 * d, -0.1f, 0.1f),
                filled(&r, 0, n, 0, 0), filled(&r, 0, n, 0, 0), filled(&r, 2 * count, n, -4, 4),
                filled(&r, 0, n, 0, 0), arena_aligned((size_t)count), arena_aligned((size_t)n * sizeof(int64_t)),
                filled(&r, 3 * count, PPEG_W_ROWS * d, -0.05f, 0.05f), filled(&r, 0, PPEG_W_ROWS * d, 0, 0),
                filled(&r, 0, mhim_ppeg_backward_scratch_floats(n, d), 0, 0), filled(&r, 4 * count, d, -1, 1)};
    mhim_dropout_mask(a.keep, &r, 0, 0.25f, count);
    for (int64_t i = 0; i < n; i++) a.idx[i] = (i * 2) % n;
    printf("# bench_elementwise: N=%lld D=%lld threads=%d reps=%d clock=%s\n", (long long)n, (long long)d, threads,
           reps, bench_clock == CLOCK_MONOTONIC ? "wall" : "process CPU");
    printf("| op | ms (median) | ms (best) | GB/s (median) | GB/s (best) | %% of memcpy (best) | %% of relu (best) "
           "| %% of relu (paired median) |\n|---|---|---|---|---|---|---|---|\n");
    enum { N_OPS = MHIM_ARRAY_LEN(ops) };
    static double t[N_OPS][MAX_REPS];
    for (size_t k = 0; k < N_OPS; k++) ops[k].run(&a); /* warm-up */
    if (interleave)
        for (int i = 0; i < reps; i++)
            for (size_t k = 0; k < N_OPS; k++) t[k][i] = time_op(&ops[k], &a);
    else
        for (size_t k = 0; k < N_OPS; k++)
            for (int i = 0; i < reps; i++) t[k][i] = time_op(&ops[k], &a);
    /* With --interleave, each round's op and relu ran seconds apart: the median over rounds of their time ratio. */
    double paired[N_OPS];
    for (size_t k = 0; k < N_OPS; k++) {
        if (!interleave || ops[k].relu == NO_RELU) continue;
        static double ratio[MAX_REPS];
        for (int i = 0; i < reps; i++) ratio[i] = t[ops[k].relu][i] / t[k][i];
        qsort(ratio, (size_t)reps, sizeof *ratio, cmp_double);
        paired[k] = ratio[reps / 2];
    }
    double best_rate[N_OPS], memcpy_rate = 0;
    for (size_t k = 0; k < N_OPS; k++) {
        qsort(t[k], (size_t)reps, sizeof *t[k], cmp_double);
        if (ops[k].flops_per_elem > 0) continue; /* second table */
        double med = t[k][reps / 2], best = t[k][0];
        double gbs = ops[k].bytes_per_elem * (double)count / med / 1e9;
        best_rate[k] = ops[k].bytes_per_elem * (double)count / best / 1e9;
        if (k == 0) memcpy_rate = best_rate[k];
        char relu[16] = "", relu_paired[16] = "";
        if (ops[k].relu != NO_RELU)
            snprintf(relu, sizeof relu, "%.0f%%", 100.0 * best_rate[k] / best_rate[ops[k].relu]);
        if (interleave && ops[k].relu != NO_RELU) snprintf(relu_paired, sizeof relu_paired, "%.0f%%", 100 * paired[k]);
        printf("| %s | %.3f | %.3f | %.1f | %.1f | %.0f%% | %s | %s |\n", ops[k].name, med * 1e3, best * 1e3, gbs,
               best_rate[k], 100.0 * best_rate[k] / memcpy_rate, relu, relu_paired);
    }
    /* The instance softmax (ABMIL attention, one score per instance) works on N values only: unmasked (what ABMIL
     * calls: 8 bytes per score) and with a keep mask (9 bytes). */
    static double ts[MAX_REPS];
    for (int masked = 0; masked <= 1; masked++) {
        const uint8_t *keep = masked ? a.keep : NULL;
        const double bytes = masked ? 9.0 : 8.0;
        for (int i = 0; i < reps; i++) {
            double t0 = mhim_clock_seconds(bench_clock);
            mhim_softmax_instances_forward(a.probs, a.scores, keep, a.n, 1);
            ts[i] = mhim_clock_seconds(bench_clock) - t0;
        }
        qsort(ts, (size_t)reps, sizeof *ts, cmp_double);
        printf("| softmax over instances (N scores%s) | %.4f | %.4f | %.1f | %.1f | %.0f%% | | |\n",
               masked ? ", masked" : "", ts[reps / 2] * 1e3, ts[0] * 1e3, bytes * (double)n / ts[reps / 2] / 1e9,
               bytes * (double)n / ts[0] / 1e9, 100.0 * bytes * (double)n / ts[0] / 1e9 / memcpy_rate);
    }
    printf("\n| compute-bound op | ms (median) | ms (best) | GFLOP/s (median) | GFLOP/s (best) | GB/s (best) |\n"
           "|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < N_OPS; k++) {
        if (ops[k].flops_per_elem <= 0) continue;
        const double med = t[k][reps / 2], best = t[k][0], flops = ops[k].flops_per_elem * (double)count;
        printf("| %s | %.3f | %.3f | %.1f | %.1f | %.1f |\n", ops[k].name, med * 1e3, best * 1e3, flops / med / 1e9,
               flops / best / 1e9, ops[k].bytes_per_elem * (double)count / best / 1e9);
    }
    float *arrays_to_free[] = {a.x, a.y, a.dy, a.dx, a.w, a.b, a.mean, a.rstd, a.scores, a.probs,
                               a.conv_w, a.conv_dw, a.conv_scratch, a.pooled};
    for (size_t k = 0; k < MHIM_ARRAY_LEN(arrays_to_free); k++) free(arrays_to_free[k]);
    free(a.keep);
    free(a.idx);
    return 0;
}
