/* ABMIL teacher outputs: forward_teacher (bag feature + softmax attention) and the v2 class-aware instance score
 * attn2score (see mhim/models/abmil.h). */
#include "mhim/models/abmil.h"

#include <math.h>

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/linear.h"

void mhim_abmil_attn2score(float *score, float *scratch, const float *h, const float *attn, const float *pred_w,
                           const float *pred_b, int64_t n, int64_t D, int64_t C) {
    mhim_linear_forward(scratch, h, pred_w, NULL, n, D, C); /* (h_i · W_p[c]) */
    const float shift = pred_b[0];
#pragma omp parallel for schedule(static) if (n * C >= MHIM_OPS_PARALLEL_MIN)
    for (int64_t i = 0; i < n; i++) {
        float *cam = scratch + i * C;
        float top = -INFINITY;
        for (int64_t c = 0; c < C; c++) {
            cam[c] = attn[i] * cam[c] + shift;
            top = fmaxf(top, cam[c]);
        }
        /* max_c softmax_c = exp(top − top) / Σ_c exp(cam_c − top) */
        double sum = 0.0;
        for (int64_t c = 0; c < C; c++) sum += exp((double)cam[c] - (double)top);
        score[i] = (float)(1.0 / sum);
    }
}

void mhim_abmil_teacher_forward(float *z, float *attn, float *score, mhim_arena *arena, const mhim_abmil *m,
                                const float *params, const float *x, int64_t N, const mhim_rng *dropout_stream) {
    size_t mark = mhim_arena_mark(arena);
    mhim_abmil_cache c;
    mhim_abmil_forward(&c, arena, m, params, x, N, NULL, N, dropout_stream);
    for (int64_t j = 0; j < MHIM_EMBED_DIM; j++) z[j] = c.z[j];
    for (int64_t i = 0; i < N; i++) attn[i] = c.attn[i];
    if (score) {
        float *scratch = mhim_arena_floats(arena, N * m->cfg.n_classes);
        mhim_abmil_attn2score(score, scratch, c.h, c.attn, params + m->pred_w, params + m->pred_b, N, MHIM_EMBED_DIM,
                              m->cfg.n_classes);
    }
    mhim_arena_reset(arena, mark);
}
