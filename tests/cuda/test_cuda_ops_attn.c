/* CPU-vs-GPU parity of the MIL attention ops: attention pooling, the ABMIL score network (ReLU and GELU), gated
 * attention (ReLU without biases as MHIM, tanh with biases as Ilse et al.) and the DSMIL pieces (critical
 * instances, critical-instance attention, bag classifier, the v1 class loss), forward and backward. Skipped (77)
 * without a GPU. */
#include <stdio.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/models/dsmil.h"
#include "mhim/ops.h"
#include "parity.h"

#define G TOL_GEMM_ATOL, TOL_GEMM_RTOL

static int t_attnpool(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t N = 700, K = 2, D = 128;
    float *A = parity_random(r, N * K, 0, 0.01f), *h = parity_random(r, N * D, -1, 1);
    float *dz = parity_random(r, K * D, -1, 1), *z = parity_zeros(K * D), *dA = parity_zeros(N * K);
    float *dh = parity_random(r, N * D, -1, 1), *dh_acc = parity_copy(dh, N * D);
    float *A_d = parity_up(ctx, A, N * K), *h_d = parity_up(ctx, h, N * D), *dz_d = parity_up(ctx, dz, K * D);
    float *z_d = mhim_cuda_floats(ctx, K * D), *dA_d = mhim_cuda_floats(ctx, N * K);
    float *dh_d = mhim_cuda_floats(ctx, N * D), *dha_d = parity_up(ctx, dh_acc, N * D);
    int bad = 0;
    mhim_attnpool_forward(z, A, h, N, K, D);
    mhim_cuda_attnpool_forward(ctx, z_d, A_d, h_d, N, K, D);
    bad += parity_check(ctx, "attnpool forward", z_d, z, K * D, G);
    mhim_attnpool_backward(dA, dh, dz, A, h, N, K, D);
    mhim_cuda_attnpool_backward(ctx, dA_d, dh_d, dz_d, A_d, h_d, N, K, D);
    bad += parity_check(ctx, "attnpool backward dA", dA_d, dA, N * K, G);
    bad += parity_check(ctx, "attnpool backward dh", dh_d, dh, N * D, G);
    mhim_attnpool_backward_acc(dA, dh_acc, dz, A, h, N, K, D);
    mhim_cuda_attnpool_backward_acc(ctx, dA_d, dha_d, dz_d, A_d, h_d, N, K, D);
    bad += parity_check(ctx, "attnpool backward_acc dh (+=)", dha_d, dh_acc, N * D, G);
    mhim_attnpool_forward(z, A, h, 0, K, D);
    mhim_cuda_attnpool_forward(ctx, z_d, A_d, h_d, 0, K, D);
    bad += parity_check(ctx, "attnpool forward N=0 (zeros)", z_d, z, K * D, 0, 0);
    return bad;
}

static int t_abmil_scores(mhim_cuda_ctx *ctx, test_rng *r, mhim_act act, int biases, const char *label) {
    const int64_t N = 500, D = 256, L = 128, K = 1;
    float *h = parity_random(r, N * D, -1, 1), *W1 = parity_random(r, L * D, -0.1f, 0.1f);
    float *b1 = parity_random(r, L, -0.1f, 0.1f), *W2 = parity_random(r, K * L, -0.1f, 0.1f);
    float *b2 = parity_random(r, K, -0.1f, 0.1f), *ds = parity_random(r, N * K, -1, 1);
    float *s = parity_zeros(N * K), *pre = parity_zeros(N * L), *hid = parity_zeros(N * L);
    float *dh = parity_zeros(N * D), *dW1 = parity_zeros(L * D), *db1 = parity_zeros(L), *dW2 = parity_zeros(K * L);
    float *db2 = parity_zeros(K), *scratch = parity_zeros(N * L);
    float *h_d = parity_up(ctx, h, N * D), *W1_d = parity_up(ctx, W1, L * D), *b1_d = parity_up(ctx, b1, L);
    float *W2_d = parity_up(ctx, W2, K * L), *b2_d = parity_up(ctx, b2, K), *ds_d = parity_up(ctx, ds, N * K);
    float *s_d = mhim_cuda_floats(ctx, N * K), *pre_d = mhim_cuda_floats(ctx, N * L);
    float *hid_d = mhim_cuda_floats(ctx, N * L), *dh_d = mhim_cuda_floats(ctx, N * D);
    float *dW1_d = parity_up(ctx, dW1, L * D), *db1_d = parity_up(ctx, db1, L), *dW2_d = parity_up(ctx, dW2, K * L);
    float *db2_d = parity_up(ctx, db2, K), *scratch_d = mhim_cuda_floats(ctx, N * L);
    const float *bias1 = biases ? b1 : NULL, *bias2 = biases ? b2 : NULL;
    const float *bias1_d = biases ? b1_d : NULL, *bias2_d = biases ? b2_d : NULL;
    int bad = 0;
    char name[96];
    mhim_abmil_scores_forward(s, pre, hid, h, W1, bias1, W2, bias2, act, N, D, L, K);
    mhim_cuda_abmil_scores_forward(ctx, s_d, pre_d, hid_d, h_d, W1_d, bias1_d, W2_d, bias2_d, act, N, D, L, K);
    snprintf(name, sizeof name, "abmil scores %s forward", label);
    bad += parity_check(ctx, name, s_d, s, N * K, G);
    mhim_cuda_upload(ctx, pre_d, pre, (size_t)(N * L) * sizeof(float)); /* same caches on both sides */
    mhim_cuda_upload(ctx, hid_d, hid, (size_t)(N * L) * sizeof(float));
    mhim_abmil_scores_backward(dh, dW1, biases ? db1 : NULL, dW2, biases ? db2 : NULL, scratch, ds, h, pre, hid, W1,
                               W2, act, N, D, L, K);
    mhim_cuda_abmil_scores_backward(ctx, dh_d, dW1_d, biases ? db1_d : NULL, dW2_d, biases ? db2_d : NULL,
                                    scratch_d, ds_d, h_d, pre_d, hid_d, W1_d, W2_d, act, N, D, L, K);
    snprintf(name, sizeof name, "abmil scores %s dh", label);
    bad += parity_check(ctx, name, dh_d, dh, N * D, G);
    snprintf(name, sizeof name, "abmil scores %s dW1", label);
    bad += parity_check(ctx, name, dW1_d, dW1, L * D, G);
    snprintf(name, sizeof name, "abmil scores %s dW2", label);
    bad += parity_check(ctx, name, dW2_d, dW2, K * L, G);
    if (biases) {
        snprintf(name, sizeof name, "abmil scores %s db1", label);
        bad += parity_check(ctx, name, db1_d, db1, L, G);
    }
    return bad;
}

static int t_gated(mhim_cuda_ctx *ctx, test_rng *r, mhim_act act, int biases, const char *label) {
    const int64_t N = 400, D = 192, L = 128, K = 1, NL = N * L;
    float *h = parity_random(r, N * D, -1, 1), *Wa = parity_random(r, L * D, -0.1f, 0.1f);
    float *Wb = parity_random(r, L * D, -0.1f, 0.1f), *Wc = parity_random(r, K * L, -0.1f, 0.1f);
    float *ba = parity_random(r, L, -0.1f, 0.1f), *bb = parity_random(r, L, -0.1f, 0.1f);
    float *bc = parity_random(r, K, -0.1f, 0.1f), *ds = parity_random(r, N * K, -1, 1);
    float *s = parity_zeros(N * K), *a_pre = parity_zeros(NL), *a = parity_zeros(NL), *b = parity_zeros(NL);
    float *g = parity_zeros(NL), *dh = parity_random(r, N * D, -1, 1), *dWa = parity_zeros(L * D);
    float *dWb = parity_zeros(L * D), *dWc = parity_zeros(K * L), *dba = parity_zeros(L), *dbb = parity_zeros(L);
    float *dbc = parity_zeros(K), *scratch = parity_zeros(2 * NL);
    float *h_d = parity_up(ctx, h, N * D), *Wa_d = parity_up(ctx, Wa, L * D), *Wb_d = parity_up(ctx, Wb, L * D);
    float *Wc_d = parity_up(ctx, Wc, K * L), *ba_d = parity_up(ctx, ba, L), *bb_d = parity_up(ctx, bb, L);
    float *bc_d = parity_up(ctx, bc, K), *ds_d = parity_up(ctx, ds, N * K), *s_d = mhim_cuda_floats(ctx, N * K);
    float *a_pre_d = mhim_cuda_floats(ctx, NL), *a_d = mhim_cuda_floats(ctx, NL), *b_d = mhim_cuda_floats(ctx, NL);
    float *g_d = mhim_cuda_floats(ctx, NL), *dh_d = parity_up(ctx, dh, N * D), *dWa_d = parity_up(ctx, dWa, L * D);
    float *dWb_d = parity_up(ctx, dWb, L * D), *dWc_d = parity_up(ctx, dWc, K * L), *dba_d = parity_up(ctx, dba, L);
    float *dbb_d = parity_up(ctx, dbb, L), *dbc_d = parity_up(ctx, dbc, K), *scratch_d = mhim_cuda_floats(ctx, 2 * NL);
    int bad = 0;
    char name[96];
    mhim_gated_scores_forward(s, a_pre, a, b, g, h, Wa, biases ? ba : NULL, Wb, biases ? bb : NULL, Wc,
                              biases ? bc : NULL, act, N, D, L, K);
    mhim_cuda_gated_scores_forward(ctx, s_d, a_pre_d, a_d, b_d, g_d, h_d, Wa_d, biases ? ba_d : NULL, Wb_d,
                                   biases ? bb_d : NULL, Wc_d, biases ? bc_d : NULL, act, N, D, L, K);
    snprintf(name, sizeof name, "gated scores %s forward", label);
    bad += parity_check(ctx, name, s_d, s, N * K, G);
    snprintf(name, sizeof name, "gated scores %s gate g", label);
    bad += parity_check(ctx, name, g_d, g, NL, G);
    const float *caches[] = {a_pre, a, b, g};
    float *caches_d[] = {a_pre_d, a_d, b_d, g_d};
    for (int i = 0; i < 4; i++) mhim_cuda_upload(ctx, caches_d[i], caches[i], (size_t)NL * sizeof(float));
    mhim_gated_scores_backward_acc(dh, dWa, biases ? dba : NULL, dWb, biases ? dbb : NULL, dWc, biases ? dbc : NULL,
                                   scratch, ds, h, a_pre, a, b, g, Wa, Wb, Wc, act, N, D, L, K);
    mhim_cuda_gated_scores_backward_acc(ctx, dh_d, dWa_d, biases ? dba_d : NULL, dWb_d, biases ? dbb_d : NULL, dWc_d,
                                        biases ? dbc_d : NULL, scratch_d, ds_d, h_d, a_pre_d, a_d, b_d, g_d, Wa_d,
                                        Wb_d, Wc_d, act, N, D, L, K);
    snprintf(name, sizeof name, "gated scores %s dh (+=)", label);
    bad += parity_check(ctx, name, dh_d, dh, N * D, G);
    snprintf(name, sizeof name, "gated scores %s dWa", label);
    bad += parity_check(ctx, name, dWa_d, dWa, L * D, G);
    snprintf(name, sizeof name, "gated scores %s dWb", label);
    bad += parity_check(ctx, name, dWb_d, dWb, L * D, G);
    snprintf(name, sizeof name, "gated scores %s dWc", label);
    bad += parity_check(ctx, name, dWc_d, dWc, K * L, G);
    if (biases) {
        snprintf(name, sizeof name, "gated scores %s dba", label);
        bad += parity_check(ctx, name, dba_d, dba, L, G);
        snprintf(name, sizeof name, "gated scores %s dbb", label);
        bad += parity_check(ctx, name, dbb_d, dbb, L, G);
    }
    return bad;
}

static int t_dsmil(mhim_cuda_ctx *ctx, test_rng *r) {
    const int64_t n = 300, C = 2, Dq = 128, D = 256;
    float *inst = parity_random(r, n * C, -3, 3), *q = parity_random(r, n * Dq, -1, 1);
    float *v = parity_random(r, n * D, -1, 1), *d_bag = parity_random(r, C * D, -1, 1);
    float *w = parity_random(r, C * C * D, -0.05f, 0.05f), *bw = parity_random(r, C, -0.1f, 0.1f);
    float *dlogit = parity_random(r, C, -1, 1), *dmax = parity_random(r, C, -1, 1);
    int64_t crit[2];
    float max_logit[2], score_cpu[300], bag[2 * 256], attn[300 * 2], logit[2];
    float *dq = parity_zeros(n * Dq), *dv = parity_zeros(n * D), *scratch = parity_zeros(n * C + 2 * C * Dq);
    float *d_inst = parity_random(r, n * C, -1, 1), *dbag2 = parity_zeros(C * D), *dw = parity_zeros(C * C * D);
    float *db = parity_zeros(C);
    float *inst_d = parity_up(ctx, inst, n * C), *q_d = parity_up(ctx, q, n * Dq), *v_d = parity_up(ctx, v, n * D);
    float *dbag_d = parity_up(ctx, d_bag, C * D), *w_d = parity_up(ctx, w, C * C * D), *bw_d = parity_up(ctx, bw, C);
    float *dlogit_d = parity_up(ctx, dlogit, C), *dmax_d = parity_up(ctx, dmax, C);
    float *max_d = mhim_cuda_floats(ctx, C), *score_d = mhim_cuda_floats(ctx, n), *bag_d = mhim_cuda_floats(ctx, C * D);
    float *attn_d = mhim_cuda_floats(ctx, n * C), *logit_d = mhim_cuda_floats(ctx, C);
    float *dq_d = mhim_cuda_floats(ctx, n * Dq), *dv_d = mhim_cuda_floats(ctx, n * D);
    float *scratch_d = mhim_cuda_floats(ctx, n * C + 2 * C * Dq), *d_inst_d = parity_up(ctx, d_inst, n * C);
    float *dbag2_d = mhim_cuda_floats(ctx, C * D), *dw_d = parity_up(ctx, dw, C * C * D), *db_d = parity_up(ctx, db, C);
    int64_t *crit_d = mhim_cuda_i64(ctx, C), crit_got[2];
    int bad = 0;
    mhim_dsmil_critical_forward(crit, max_logit, inst, n, C);
    mhim_cuda_dsmil_critical_forward(ctx, crit_d, max_d, inst_d, n, C);
    mhim_cuda_download(ctx, crit_got, crit_d, sizeof crit_got);
    bad += check_equal_i64("dsmil critical instances", crit_got, crit, C);
    bad += parity_check(ctx, "dsmil max instance logit", max_d, max_logit, C, 0, 0);
    mhim_dsmil_critical_backward_acc(d_inst, dmax, crit, n, C);
    mhim_cuda_dsmil_critical_backward_acc(ctx, d_inst_d, dmax_d, crit_d, n, C);
    bad += parity_check(ctx, "dsmil critical backward_acc", d_inst_d, d_inst, n * C, 0, 0);
    mhim_dsmil_instance_score(score_cpu, inst, n, C);
    mhim_cuda_dsmil_instance_score(ctx, score_d, inst_d, n, C);
    bad += parity_check(ctx, "dsmil instance score", score_d, score_cpu, n, 0, 0);
    mhim_dsmil_attention_forward(bag, attn, q, crit, v, n, C, Dq, D);
    mhim_cuda_dsmil_attention_forward(ctx, bag_d, attn_d, q_d, crit_d, v_d, n, C, Dq, D);
    bad += parity_check(ctx, "dsmil attention forward attn", attn_d, attn, n * C, G);
    bad += parity_check(ctx, "dsmil attention forward bag", bag_d, bag, C * D, G);
    mhim_cuda_upload(ctx, attn_d, attn, sizeof attn);
    mhim_dsmil_attention_backward(dq, dv, d_bag, scratch, attn, q, crit, v, n, C, Dq, D);
    mhim_cuda_dsmil_attention_backward(ctx, dq_d, dv_d, dbag_d, scratch_d, attn_d, q_d, crit_d, v_d, n, C, Dq, D);
    bad += parity_check(ctx, "dsmil attention backward dq", dq_d, dq, n * Dq, G);
    bad += parity_check(ctx, "dsmil attention backward dv", dv_d, dv, n * D, G);
    mhim_cuda_upload(ctx, bag_d, bag, sizeof bag);
    mhim_dsmil_fcc_forward(logit, bag, w, bw, C, D);
    mhim_cuda_dsmil_fcc_forward(ctx, logit_d, bag_d, w_d, bw_d, C, D);
    bad += parity_check(ctx, "dsmil bag classifier forward", logit_d, logit, C, G);
    mhim_dsmil_fcc_backward(dbag2, dw, db, dlogit, bag, w, C, D);
    mhim_cuda_dsmil_fcc_backward(ctx, dbag2_d, dw_d, db_d, dlogit_d, bag_d, w_d, C, D);
    bad += parity_check(ctx, "dsmil bag classifier d_bag", dbag2_d, dbag2, C * D, G);
    bad += parity_check(ctx, "dsmil bag classifier dw (+=)", dw_d, dw, C * C * D, G);
    bad += parity_check(ctx, "dsmil bag classifier db (+=)", db_d, db, C, G);
    return bad;
}

/* DSMIL's v1 class loss (0.5·CE(bag) + 0.5·CE(max), both gradients) vs mhim_dsmil_loss, 3 classes. */
static int t_dsmil_loss(mhim_cuda_ctx *ctx, test_rng *r) {
    enum { C = 3 };
    const int64_t y = 2;
    const float dloss = 0.7f;
    float *bag = parity_random(r, C, -3.0f, 3.0f), *mx = parity_random(r, C, -3.0f, 3.0f);
    float d_bag[C], d_max[C];
    const float loss = mhim_dsmil_loss(d_bag, d_max, 1, bag, mx, y, dloss, C);
    float *bag_d = parity_up(ctx, bag, C), *max_d = parity_up(ctx, mx, C), *loss_d = mhim_cuda_floats(ctx, 1);
    float *dbag_d = mhim_cuda_floats(ctx, C), *dmax_d = mhim_cuda_floats(ctx, C);
    int64_t *y_d = parity_up_i64(ctx, &y, 1);
    mhim_cuda_dsmil_loss_v1(ctx, loss_d, dbag_d, dmax_d, bag_d, max_d, y_d, dloss, C);
    int bad = parity_check_scalar(ctx, "dsmil v1 loss", loss_d, loss, 1e-6, 1e-6);
    bad += parity_check(ctx, "dsmil v1 loss d_bag", dbag_d, d_bag, C, 1e-6, 1e-6);
    bad += parity_check(ctx, "dsmil v1 loss d_max", dmax_d, d_max, C, 1e-6, 1e-6);
    free(bag);
    free(mx);
    return bad;
}

static int t_relu_plain(mhim_cuda_ctx *c, test_rng *r) { return t_abmil_scores(c, r, MHIM_ACT_RELU, 0, "relu"); }
static int t_gelu_bias(mhim_cuda_ctx *c, test_rng *r) { return t_abmil_scores(c, r, MHIM_ACT_GELU, 1, "gelu+bias"); }
static int t_gated_mhim(mhim_cuda_ctx *c, test_rng *r) { return t_gated(c, r, MHIM_ACT_RELU, 0, "relu"); }
static int t_gated_ilse(mhim_cuda_ctx *c, test_rng *r) { return t_gated(c, r, MHIM_ACT_TANH, 1, "tanh+bias"); }

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {777ULL};
    int (*tests[])(mhim_cuda_ctx *, test_rng *) = {t_attnpool, t_relu_plain, t_gelu_bias, t_gated_mhim,
                                                   t_gated_ilse, t_dsmil, t_dsmil_loss};
    int bad = 0;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        size_t mark = mhim_cuda_mark(ctx);
        bad += tests[i](ctx, &rng);
        mhim_cuda_reset(ctx, mark);
    }
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
