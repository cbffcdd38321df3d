/* DSMIL pieces: critical instances, critical-instance attention, bag classifier (see mhim/ops/dsmil.h). */
#include <math.h>

#include "mhim/common.h"
#include "mhim/ops/attnpool.h"
#include "mhim/ops/dsmil.h"
#include "mhim/ops/softmax.h"
#include "ops/gemm.h"
#include "ops/thin.h"

void mhim_dsmil_critical_forward(int64_t *crit, float *max_logit, const float *inst, int64_t n, int64_t C) {
    MHIM_ASSERT(n >= 1 && C >= 1);
    for (int64_t c = 0; c < C; c++) {
        int64_t best = 0;
        for (int64_t i = 1; i < n; i++)
            if (inst[i * C + c] > inst[best * C + c]) best = i;
        crit[c] = best;
        if (max_logit) max_logit[c] = inst[best * C + c];
    }
}

void mhim_dsmil_critical_backward_acc(float *d_inst, const float *d_max_logit, const int64_t *crit, int64_t n,
                                      int64_t C) {
    for (int64_t c = 0; c < C; c++) {
        MHIM_ASSERT(crit[c] >= 0 && crit[c] < n);
        d_inst[crit[c] * C + c] += d_max_logit[c];
    }
}

void mhim_dsmil_instance_score(float *score, const float *inst, int64_t n, int64_t C) {
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float best = inst[i * C];
        for (int64_t c = 1; c < C; c++) best = fmaxf(best, inst[i * C + c]);
        score[i] = best;
    }
}

/* qm (C, Dq) = q[crit]. */
static void gather_critical(float *qm, const float *q, const int64_t *crit, int64_t n, int64_t C, int64_t Dq) {
    for (int64_t c = 0; c < C; c++) {
        MHIM_ASSERT(crit[c] >= 0 && crit[c] < n);
        for (int64_t d = 0; d < Dq; d++) qm[c * Dq + d] = q[crit[c] * Dq + d];
    }
}

/* attn (n, C) = q · q_maxᵀ, q_max = q[crit]: the thin row products (q_max copied to the stack) where they fit,
 * else each dot product in float in order. */
static void critical_scores(float *attn, const float *q, const int64_t *crit, int64_t n, int64_t C, int64_t Dq) {
    if (mhim_thin_fits(C, Dq)) {
        float qm[MHIM_THIN_KD_MAX];
        gather_critical(qm, q, crit, n, C, Dq);
        mhim_thin_dot_rows(attn, q, qm, NULL, n, C, Dq);
        return;
    }
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < C; c++) {
            const float *qi = q + i * Dq, *qc = q + crit[c] * Dq;
            float s = 0.0f;
            for (int64_t d = 0; d < Dq; d++) s += qi[d] * qc[d];
            attn[i * C + c] = s;
        }
}

void mhim_dsmil_attention_forward(float *bag, float *attn, const float *q, const int64_t *crit, const float *v,
                                  int64_t n, int64_t C, int64_t Dq, int64_t D) {
    MHIM_ASSERT(n >= 1 && C >= 1 && Dq >= 1 && D >= 1);
    const float norm = sqrtf((float)Dq);
    critical_scores(attn, q, crit, n, C, Dq);
    for (int64_t j = 0; j < n * C; j++) attn[j] /= norm;
    mhim_softmax_instances_forward(attn, attn, NULL, n, C);
    mhim_attnpool_forward(bag, attn, v, n, C, D); /* bag = attnᵀ v */
}

void mhim_dsmil_attention_backward(float *dq, float *dv, const float *d_bag, float *scratch, const float *attn,
                                   const float *q, const int64_t *crit, const float *v, int64_t n, int64_t C,
                                   int64_t Dq, int64_t D) {
    MHIM_ASSERT(n >= 1 && C >= 1 && Dq >= 1 && D >= 1);
    const float norm = sqrtf((float)Dq);
    float *ds = scratch, *qm = ds + n * C, *dqm = qm + C * Dq;
    /* dv = attn · d_bag and d_attn = v · d_bagᵀ: the attention-pooling backward (one pass over v) */
    mhim_attnpool_backward(ds, dv, d_bag, attn, v, n, C, D);
    /* softmax over instances (columns), then the 1/sqrt(Dq) scaling */
    mhim_softmax_instances_backward(ds, ds, attn, n, C);
    for (int64_t j = 0; j < n * C; j++) ds[j] /= norm;
    gather_critical(qm, q, crit, n, C, Dq);
    if (mhim_thin_fits(C, Dq)) {
        mhim_thin_combine_rows(dq, 0, ds, qm, n, C, Dq); /* dq     = ds · q_max */
        mhim_thin_weighted_colsum(dqm, 0, ds, q, n, C, Dq); /* dq_max = dsᵀ · q   */
    } else {
        mhim_gemm(0, 0, n, Dq, C, 1.0f, ds, qm, 0.0f, dq);
        mhim_gemm(1, 0, C, Dq, n, 1.0f, ds, q, 0.0f, dqm);
    }
    for (int64_t c = 0; c < C; c++)
        for (int64_t d = 0; d < Dq; d++) dq[crit[c] * Dq + d] += dqm[c * Dq + d];
}

void mhim_dsmil_fcc_forward(float *logit, const float *bag, const float *w, const float *b, int64_t C, int64_t D) {
    const int64_t K = C * D;
    for (int64_t o = 0; o < C; o++) {
        double s = 0.0;
        for (int64_t j = 0; j < K; j++) s += (double)w[o * K + j] * bag[j];
        logit[o] = (float)(b[o] + s);
    }
}

void mhim_dsmil_fcc_backward(float *d_bag, float *dw, float *db, const float *d_logit, const float *bag, const float *w,
                             int64_t C, int64_t D) {
    const int64_t K = C * D;
#pragma omp parallel for schedule(static)
    for (int64_t j = 0; j < K; j++) {
        double s = 0.0;
        for (int64_t o = 0; o < C; o++) {
            s += (double)d_logit[o] * w[o * K + j];
            dw[o * K + j] += d_logit[o] * bag[j];
        }
        d_bag[j] = (float)s;
    }
    for (int64_t o = 0; o < C; o++) db[o] += d_logit[o];
}
