/* The whole DSMIL aggregator (instance classifier, value/query networks, critical-instance attention, bag
 * classifier), forward and backward (see mhim/ops/dsmil.h). */
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/act.h"
#include "mhim/ops/dsmil.h"
#include "mhim/ops/linear.h"

int64_t mhim_dsmil_cache_floats(int64_t n, int64_t C, int64_t Dq, int64_t D) {
    return 2 * n * C + n * D + 2 * n * Dq + C * D;
}

void mhim_dsmil_cache_bind(mhim_dsmil_cache *c, float *buf, int64_t *crit_buf, int64_t n, int64_t C, int64_t Dq,
                           int64_t D) {
    float *p = buf;
    c->inst = p, p += n * C;
    c->v = p, p += n * D;
    c->q_hidden = p, p += n * Dq;
    c->q = p, p += n * Dq;
    c->attn = p, p += n * C;
    c->bag = p, p += C * D;
    c->crit = crit_buf;
    MHIM_ASSERT(p - buf == mhim_dsmil_cache_floats(n, C, Dq, D));
}

int64_t mhim_dsmil_backward_scratch_floats(int64_t n, int64_t C, int64_t Dq, int64_t D) {
    return C * D + n * D + 2 * n * Dq + n * C + (n * C + 2 * C * Dq);
}

void mhim_dsmil_forward(float *bag_logit, float *max_logit, mhim_dsmil_cache *c, const float *h, const float *w_i,
                        const float *b_i, const float *w_v, const float *b_v, const float *w_q1, const float *b_q1,
                        const float *w_q2, const float *b_q2, const float *w_fcc, const float *b_fcc, int64_t n,
                        int64_t C, int64_t Dq, int64_t D) {
    MHIM_ASSERT(n >= 1 && C >= 1 && Dq >= 1 && D >= 1);
    mhim_linear_forward(c->inst, h, w_i, b_i, n, D, C);
    mhim_linear_forward(c->v, h, w_v, b_v, n, D, D);
    mhim_relu_forward(c->v, c->v, n * D);
    mhim_linear_forward(c->q_hidden, h, w_q1, b_q1, n, D, Dq);
    mhim_relu_forward(c->q_hidden, c->q_hidden, n * Dq);
    mhim_linear_forward(c->q, c->q_hidden, w_q2, b_q2, n, Dq, Dq);
    mhim_tanh_forward(c->q, c->q, n * Dq);
    mhim_dsmil_critical_forward(c->crit, max_logit, c->inst, n, C);
    mhim_dsmil_attention_forward(c->bag, c->attn, c->q, c->crit, c->v, n, C, Dq, D);
    mhim_dsmil_fcc_forward(bag_logit, c->bag, w_fcc, b_fcc, C, D);
}

void mhim_dsmil_backward(float *dh, float *dw_i, float *db_i, float *dw_v, float *db_v, float *dw_q1, float *db_q1,
                         float *dw_q2, float *db_q2, float *dw_fcc, float *db_fcc, const float *d_bag_logit,
                         const float *d_max_logit, const float *d_bag, const mhim_dsmil_cache *c, float *scratch,
                         const float *h, const float *w_i, const float *w_v, const float *w_q1, const float *w_q2,
                         const float *w_fcc, int64_t n, int64_t C, int64_t Dq, int64_t D) {
    MHIM_ASSERT(n >= 1 && C >= 1 && Dq >= 1 && D >= 1);
    float *dbag = scratch;       /* (C, D)  */
    float *dv = dbag + C * D;    /* (n, D)  */
    float *dq = dv + n * D;      /* (n, Dq) */
    float *dqh = dq + n * Dq;    /* (n, Dq) */
    float *dinst = dqh + n * Dq; /* (n, C)  */
    float *att_tmp = dinst + n * C;

    memset(dbag, 0, (size_t)(C * D) * sizeof(float));
    if (d_bag_logit) mhim_dsmil_fcc_backward(dbag, dw_fcc, db_fcc, d_bag_logit, c->bag, w_fcc, C, D);
    if (d_bag)
        for (int64_t j = 0; j < C * D; j++) dbag[j] += d_bag[j];
    mhim_dsmil_attention_backward(dq, dv, dbag, att_tmp, c->attn, c->q, c->crit, c->v, n, C, Dq, D);
    mhim_relu_backward(dv, dv, c->v, n * D);
    mhim_tanh_backward(dq, dq, c->q, n * Dq);
    mhim_linear_backward(dqh, dw_q2, db_q2, dq, c->q_hidden, w_q2, n, Dq, Dq);
    mhim_relu_backward(dqh, dqh, c->q_hidden, n * Dq);
    memset(dinst, 0, (size_t)(n * C) * sizeof(float));
    if (d_max_logit) mhim_dsmil_critical_backward_acc(dinst, d_max_logit, c->crit, n, C);
    /* h fans out into the three branches */
    mhim_linear_backward(dh, dw_i, db_i, dinst, h, w_i, n, D, C);
    mhim_linear_backward_acc(dh, dw_v, db_v, dv, h, w_v, n, D, D);
    mhim_linear_backward_acc(dh, dw_q1, db_q1, dqh, h, w_q1, n, D, Dq);
}
