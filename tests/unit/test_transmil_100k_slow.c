/* A 100,000-instance bag through the TransMIL evaluation forward (mhim_transmil_eval_forward; v1, 8 heads, D_in
 * 1024, with the layer-1 attention and the v2 scores): every output finite, the arena the model
 * asks for is under 700 MiB, and the peak resident memory of the process stays under that arena plus the bag, the
 * outputs, the parameters and a fixed 256 MiB allowance — under 1.5 GB in all (memory linear in N: no N × N matrix,
 * no n × 256 attention map held whole). Slow: about 0.5 TFLOP. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "check.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/transmil.h"
#include "mhim/params.h"

#define N_BAG 100000
#define ALLOWANCE (256.0 * 1024 * 1024)

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

int main(void) {
    mhim_transmil_config cfg = mhim_transmil_config_default(1, 1024, 2, 8, MHIM_ACT_RELU);
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    mhim_transmil_param_spec(&cfg, rows);
    mhim_param_layout L;
    mhim_transmil m;
    MHIM_ASSERT(mhim_param_layout_init(&L, rows, MHIM_TRANSMIL_SPEC_ROWS) == MHIM_OK);
    MHIM_ASSERT(mhim_transmil_bind(&m, &cfg, &L) == MHIM_OK);
    float *params = mhim_params_alloc(&L);
    mhim_transmil_init_params(&m, params, 2021);
    const int64_t N = N_BAG, H = cfg.heads;
    float *x = mhim_malloc((size_t)(N * 1024) * sizeof(float));
    test_rng r = {.s = 100000};
    test_fill_uniform(&r, x, N * 1024, 0.0f, 1.0f);
    float *attn = mhim_malloc((size_t)(H * N) * sizeof(float)), *scores = mhim_malloc((size_t)N * sizeof(float));
    float feat[MHIM_EMBED_DIM], logits[2];

    const size_t bytes = mhim_transmil_eval_arena_bytes(&cfg, N);
    mhim_arena arena;
    mhim_arena_init(&arena, "transmil 100k", bytes);
    mhim_arena_set_poison(&arena, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    mhim_transmil_teacher_out out = {.attn_layer = 0, .feat = feat, .logits = logits, .attn = attn, .scores = scores};
    int fails = check_true("evaluation forward on 100k instances",
                           mhim_transmil_eval_forward(&out, &arena, &m, params, x, N, NULL, N) == MHIM_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fails += check_true("logits, feature, attention and scores are finite",
                        all_finite(logits, 2) && all_finite(feat, MHIM_EMBED_DIM) && all_finite(attn, H * N) &&
                            all_finite(scores, N));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const double rss = (double)ru.ru_maxrss * 1024.0;
    const double data = (double)(N * 1024 + H * N + N) * 4.0;
    const double bound = (double)bytes + data + (double)L.total * 4.0 + ALLOWANCE;
    printf("N = %d: %.1f s, arena %.2f GiB (peak used %.2f GiB), peak RSS %.2f GiB, bound %.2f GiB\n", N_BAG,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), (double)bytes / 1073741824.0,
           (double)arena.peak / 1073741824.0, rss / 1073741824.0, bound / 1073741824.0);
    fails += check_true("arena under 700 MiB", (double)bytes < 700.0 * 1048576.0);
    fails += check_true("peak RSS within arena + bag + outputs + parameters + 256 MiB", rss <= bound);
    fails += check_true("peak RSS under 1.5 GB", rss < 1.5e9);
    mhim_arena_free(&arena);
    free(x), free(attn), free(scores);
    mhim_params_free(params);
    mhim_param_layout_free(&L);
    return fails ? 1 : 0;
}
