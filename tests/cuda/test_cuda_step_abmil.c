/* One ABMIL+MHIM training step composed from the ops, CPU vs GPU on the same inputs: student forward (first layer,
 * ReLU, dropout from the shared Philox stream, attention scores, instance softmax with the MHIM keep mask, pooling,
 * classifier), teacher forward (EMA weights, no dropout, no mask), CE + consistency loss, the full backward into a
 * flat gradient buffer, one Adam step and the EMA teacher update. Losses and every gradient are compared; Adam and
 * EMA then run from the same (CPU) gradients on both sides so the updated weights, moments and teacher are compared
 * tightly. Skipped (77) without a GPU. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops.h"
#include "mhim/optim.h"
#include "parity.h"

enum { NI = 400, DIN = 256, D = 128, L = 64, C = 2 };
#define DROPOUT_P 0.25f
#define CONS_ALPHA 0.5f
#define EMA_MOMENTUM 0.9999

/* Offsets of the tensors in the flat parameter buffer. */
enum { O_W0 = 0, O_B0 = O_W0 + D * DIN, O_W1 = O_B0 + D, O_W2 = O_W1 + L * D, O_WC = O_W2 + L, O_BC = O_WC + C * D,
       N_PARAMS = O_BC + C };

/* The step on one backend: `dev` selects the op table; pointers are host (CPU) or device (GPU) memory. */
typedef struct {
    mhim_cuda_ctx *ctx; /* NULL = CPU */
    const float *x, *teacher;
    float *params, *grad;
    const uint8_t *keep_mask, *keep_drop;
    const int64_t *label;
    /* activations */
    float *pre0, *h, *hid, *s, *A, *z, *logits, *probs, *zt, *pst, *ptt, *dz, *dlogits, *dA, *dh, *scratch, *loss;
} step;

#define P(o) (st->params + (o))
#define T(o) (st->teacher + (o))
#define GR(o) (st->grad + (o))

/* z (1, D) of the attention branch for weights w (student or teacher) on h; keep may be NULL. */
static void pool(step *st, const float *w, float *z, const uint8_t *keep) {
    if (st->ctx) {
        mhim_cuda_abmil_scores_forward(st->ctx, st->s, NULL, st->hid, st->h, w + O_W1, NULL, w + O_W2, NULL,
                                       MHIM_ACT_RELU, NI, D, L, 1);
        mhim_cuda_softmax_instances_forward(st->ctx, st->A, st->s, keep, NI, 1);
        mhim_cuda_attnpool_forward(st->ctx, z, st->A, st->h, NI, 1, D);
    } else {
        mhim_abmil_scores_forward(st->s, NULL, st->hid, st->h, w + O_W1, NULL, w + O_W2, NULL, MHIM_ACT_RELU, NI, D,
                                  L, 1);
        mhim_softmax_instances_forward(st->A, st->s, keep, NI, 1);
        mhim_attnpool_forward(z, st->A, st->h, NI, 1, D);
    }
}

static void embed(step *st, const float *w, int dropout) {
    if (st->ctx) {
        mhim_cuda_linear_forward(st->ctx, st->pre0, st->x, w + O_W0, w + O_B0, NI, DIN, D);
        mhim_cuda_act_forward(st->ctx, MHIM_ACT_RELU, st->h, st->pre0, NI * D);
        if (dropout) mhim_cuda_dropout_forward(st->ctx, st->h, st->keep_drop, st->h, DROPOUT_P, NI * D);
    } else {
        mhim_linear_forward(st->pre0, st->x, w + O_W0, w + O_B0, NI, DIN, D);
        mhim_relu_forward(st->h, st->pre0, NI * D);
        if (dropout) mhim_dropout_forward(st->h, st->keep_drop, st->h, DROPOUT_P, NI * D);
    }
}

/* Teacher pass, then the student pass, losses and backward (grad written from zero). */
static void forward_backward(step *st) {
    mhim_cuda_ctx *c = st->ctx;
    embed(st, st->teacher, 0);
    pool(st, st->teacher, st->zt, NULL);
    embed(st, st->params, 1);
    pool(st, st->params, st->z, st->keep_mask);
    if (c) {
        mhim_cuda_linear_forward(c, st->logits, st->z, P(O_WC), P(O_BC), 1, D, C);
        mhim_cuda_cross_entropy_forward(c, st->loss, st->probs, st->logits, st->label, 1, C);
        mhim_cuda_soft_target_ce_forward(c, st->loss + 1, st->pst, st->ptt, st->z, st->zt, MHIM_CONSISTENCY_TEMP_T,
                                         MHIM_CONSISTENCY_TEMP_S, 1, D);
        mhim_cuda_memset0(c, st->grad, N_PARAMS * sizeof(float));
        mhim_cuda_cross_entropy_backward(c, st->dlogits, st->probs, st->label, 1.0f, 1, C);
        mhim_cuda_soft_target_ce_backward(c, st->dz, st->pst, st->ptt, CONS_ALPHA, MHIM_CONSISTENCY_TEMP_S, 1, D);
        mhim_cuda_linear_backward_acc(c, st->dz, GR(O_WC), GR(O_BC), st->dlogits, st->z, P(O_WC), 1, D, C);
        mhim_cuda_attnpool_backward(c, st->dA, st->dh, st->dz, st->A, st->h, NI, 1, D);
        mhim_cuda_softmax_instances_backward(c, st->dA, st->dA, st->A, NI, 1);
        mhim_cuda_abmil_scores_backward_acc(c, st->dh, GR(O_W1), NULL, GR(O_W2), NULL, st->scratch, st->dA, st->h,
                                            NULL, st->hid, P(O_W1), P(O_W2), MHIM_ACT_RELU, NI, D, L, 1);
        mhim_cuda_dropout_backward(c, st->dh, st->dh, st->keep_drop, DROPOUT_P, NI * D);
        mhim_cuda_act_backward(c, MHIM_ACT_RELU, st->dh, st->dh, NULL, st->pre0, NI * D);
        mhim_cuda_linear_backward(c, NULL, GR(O_W0), GR(O_B0), st->dh, st->x, P(O_W0), NI, DIN, D);
    } else {
        mhim_linear_forward(st->logits, st->z, P(O_WC), P(O_BC), 1, D, C);
        st->loss[0] = mhim_cross_entropy_forward(st->probs, st->logits, st->label, 1, C);
        st->loss[1] = mhim_soft_target_ce_forward(st->pst, st->ptt, st->z, st->zt, MHIM_CONSISTENCY_TEMP_T,
                                                  MHIM_CONSISTENCY_TEMP_S, 1, D);
        memset(st->grad, 0, N_PARAMS * sizeof(float));
        mhim_cross_entropy_backward(st->dlogits, st->probs, st->label, 1.0f, 1, C);
        mhim_soft_target_ce_backward(st->dz, st->pst, st->ptt, CONS_ALPHA, MHIM_CONSISTENCY_TEMP_S, 1, D);
        mhim_linear_backward_acc(st->dz, GR(O_WC), GR(O_BC), st->dlogits, st->z, P(O_WC), 1, D, C);
        mhim_attnpool_backward(st->dA, st->dh, st->dz, st->A, st->h, NI, 1, D);
        mhim_softmax_instances_backward(st->dA, st->dA, st->A, NI, 1);
        mhim_abmil_scores_backward_acc(st->dh, GR(O_W1), NULL, GR(O_W2), NULL, st->scratch, st->dA, st->h, NULL,
                                       st->hid, P(O_W1), P(O_W2), MHIM_ACT_RELU, NI, D, L, 1);
        mhim_dropout_backward(st->dh, st->dh, st->keep_drop, DROPOUT_P, NI * D);
        /* ReLU backward from the pre-activation: pre0 > 0 exactly where the ReLU output is > 0 */
        mhim_relu_backward(st->dh, st->dh, st->pre0, NI * D);
        mhim_linear_backward(NULL, GR(O_W0), GR(O_B0), st->dh, st->x, P(O_W0), NI, DIN, D);
    }
}

/* Activation buffers on the host or in the device arena. */
static float *buf(mhim_cuda_ctx *ctx, int64_t n) { return ctx ? mhim_cuda_floats(ctx, n) : parity_zeros(n); }

static void alloc_acts(step *st) {
    mhim_cuda_ctx *c = st->ctx;
    st->pre0 = buf(c, NI * D), st->h = buf(c, NI * D), st->hid = buf(c, NI * L), st->s = buf(c, NI);
    st->A = buf(c, NI), st->z = buf(c, D), st->logits = buf(c, C), st->probs = buf(c, C), st->zt = buf(c, D);
    st->pst = buf(c, D), st->ptt = buf(c, D), st->dz = buf(c, D), st->dlogits = buf(c, C), st->dA = buf(c, NI);
    st->dh = buf(c, NI * D), st->scratch = buf(c, NI * L), st->loss = buf(c, 2);
}

/* 1 when no first-layer pre-activation of weights w on x lies within RELU_MARGIN of 0: there the ReLU's side would
 * depend on the last bit of the GEMM, and a flipped unit moves its whole weight-gradient row (not a parity error). */
#define RELU_MARGIN 1e-5f
static int relu_margin_ok(const float *x, const float *w) {
    float *pre = parity_zeros(NI * D);
    mhim_linear_forward(pre, x, w + O_W0, w + O_B0, NI, DIN, D);
    int ok = 1;
    for (int64_t i = 0; i < NI * D; i++) ok &= fabsf(pre[i]) >= RELU_MARGIN;
    free(pre);
    return ok;
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {99ULL};
    float *x = NULL, *params = NULL, *teacher = NULL;
    for (int draw = 0;; draw++) { /* inputs whose ReLU sides are unambiguous in fp32 */
        free(x), free(params), free(teacher);
        x = parity_random(&rng, NI * DIN, -1, 1), params = parity_random(&rng, N_PARAMS, -0.08f, 0.08f);
        teacher = parity_copy(params, N_PARAMS);
        for (int64_t i = 0; i < N_PARAMS; i++) teacher[i] += test_uniform(&rng, -0.01f, 0.01f);
        if (relu_margin_ok(x, params) && relu_margin_ok(x, teacher)) break;
        MHIM_ASSERT(draw < 100);
        printf("draw %d: a ReLU pre-activation within %g of 0, drawing again\n", draw, (double)RELU_MARGIN);
    }
    uint8_t keep_mask[NI], *keep_drop = mhim_malloc(NI * D);
    for (int i = 0; i < NI; i++) keep_mask[i] = test_uniform(&rng, 0, 1) < 0.8f;
    const mhim_rng drop_stream = mhim_rng_stream(7, 1, 12, MHIM_RNG_DROPOUT, 0);
    mhim_dropout_mask(keep_drop, &drop_stream, 0, DROPOUT_P, NI * D);
    int64_t label = 1;

    step cpu = {0}, gpu = {0};
    cpu.x = x, cpu.teacher = teacher, cpu.params = parity_copy(params, N_PARAMS), cpu.grad = parity_zeros(N_PARAMS);
    cpu.keep_mask = keep_mask, cpu.keep_drop = keep_drop, cpu.label = &label;
    alloc_acts(&cpu);
    gpu.ctx = ctx;
    gpu.x = parity_up(ctx, x, NI * DIN), gpu.teacher = parity_up(ctx, teacher, N_PARAMS);
    gpu.params = parity_up(ctx, params, N_PARAMS), gpu.grad = mhim_cuda_floats(ctx, N_PARAMS);
    gpu.keep_mask = parity_up_u8(ctx, keep_mask, NI), gpu.label = parity_up_i64(ctx, &label, 1);
    uint8_t *drop_d = mhim_cuda_alloc(ctx, NI * D);
    mhim_cuda_dropout_mask(ctx, drop_d, &drop_stream, 0, DROPOUT_P, NI * D); /* drawn on the device */
    gpu.keep_drop = drop_d;
    alloc_acts(&gpu);

    forward_backward(&cpu);
    forward_backward(&gpu);
    int bad = 0;
    bad += parity_check(ctx, "step teacher bag feature", gpu.zt, cpu.zt, D, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "step student bag feature", gpu.z, cpu.z, D, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    bad += parity_check(ctx, "step losses (CE, consistency)", gpu.loss, cpu.loss, 2, TOL_GEMM_ATOL, TOL_GEMM_RTOL);
    static const struct { const char *name; int64_t off, n; } tensors[] = {
        {"grad first layer weight", O_W0, D * DIN}, {"grad first layer bias", O_B0, D},
        {"grad attention W1", O_W1, L * D},         {"grad attention W2", O_W2, L},
        {"grad classifier weight", O_WC, C * D},    {"grad classifier bias", O_BC, C}};
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++)
        bad += parity_check(ctx, tensors[i].name, gpu.grad + tensors[i].off, cpu.grad + tensors[i].off, tensors[i].n,
                            TOL_GEMM_ATOL, 1e-3);

    /* Adam and EMA from the same gradients */
    mhim_cuda_upload(ctx, gpu.grad, cpu.grad, N_PARAMS * sizeof(float));
    float *m = parity_zeros(N_PARAMS), *v = parity_zeros(N_PARAMS), *tea = parity_copy(teacher, N_PARAMS);
    float *m_d = parity_up(ctx, m, N_PARAMS), *v_d = parity_up(ctx, v, N_PARAMS);
    float *tea_d = parity_up(ctx, tea, N_PARAMS);
    mhim_adam opt;
    mhim_adam_init(&opt, MHIM_OPT_ADAMW, 2e-4, 1e-4);
    for (int k = 0; k < 2; k++) { /* two steps: the bias corrections change */
        mhim_adam_begin_step(&opt);
        mhim_adam_update(&opt, cpu.params, cpu.grad, m, v, N_PARAMS);
        mhim_cuda_adam_update(ctx, &opt, gpu.params, gpu.grad, m_d, v_d, N_PARAMS);
        mhim_ema_update(tea, cpu.params, N_PARAMS, EMA_MOMENTUM);
        mhim_cuda_ema_update(ctx, tea_d, gpu.params, N_PARAMS, EMA_MOMENTUM);
    }
    bad += parity_check(ctx, "AdamW updated weights", gpu.params, cpu.params, N_PARAMS, 1e-7, 1e-5);
    bad += parity_check(ctx, "AdamW first moments", m_d, m, N_PARAMS, 1e-9, 1e-5);
    bad += parity_check(ctx, "AdamW second moments", v_d, v, N_PARAMS, 1e-12, 1e-5);
    bad += parity_check(ctx, "EMA teacher", tea_d, tea, N_PARAMS, 1e-7, 1e-5);
    float norm_cpu = mhim_grad_norm(cpu.grad, N_PARAMS), *norm_d = mhim_cuda_floats(ctx, 1);
    mhim_cuda_grad_norm(ctx, norm_d, gpu.grad, N_PARAMS);
    bad += parity_check_scalar(ctx, "gradient norm", norm_d, norm_cpu, TOL_ELEM_ATOL, TOL_ELEM_RTOL);
    printf("arena peak %.1f MiB\n", (double)mhim_cuda_arena_peak(ctx) / (1024.0 * 1024.0));
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
