/* tests/unit/host_cuda/host_engine.c — the device API of the GPU training engine (src/train/engine_device.c) on the
 * host: the op stand-ins of host_ops.c and host_ops_mil.c, the GPU networks (cuda/model*.c), and host versions of
 * the bag cache, the losses, Adam, EMA and sync. Linked into `mhim_host_gpu` (builds WITHOUT CUDA only), an mhim
 * whose --device=cuda runs the engine's device path on these stand-ins, so test_train_device_host.sh checks the
 * engine's GPU seam (uploads/downloads, arena marks, mask round trip, loss and optimiser calls) on every machine. */
#include "host_cuda/host_ops.c"
#include "host_cuda/host_ops_mil.c"

#include "../../../cuda/model.c"
#include "../../../cuda/model_abmil.c"
#include "../../../cuda/model_dsmil.c"
#include "../../../cuda/model_embed.c"
#include "../../../cuda/model_transmil.c"
#include "mhim/cuda_bags.h"
#include "mhim/half.h"
#include "mhim/optim.h"

void mhim_cuda_sync(mhim_cuda_ctx *ctx) { (void)ctx; }

void mhim_cuda_versions(char *buf, size_t len) { snprintf(buf, len, "host stand-in of the CUDA runtime"); }

/* Resident bags only: each bag copied into its own host block on its first put; with fp16 storage the block holds
 * fp16 bits and get widens them into one work buffer, as the device cache does. */
struct mhim_cuda_bags {
    int64_t n_bags, dim, *rows;
    int fp16;
    void **store;
    float *work; /* fp16: the widened rows of the last get */
};

int mhim_cuda_bags_create(mhim_cuda_bags **out, mhim_cuda_ctx *ctx, const int64_t *rows, int64_t n_bags, int64_t dim,
                          int fp16, size_t budget_bytes) {
    (void)ctx, (void)budget_bytes;
    mhim_cuda_bags *b = mhim_calloc(1, sizeof *b);
    b->n_bags = n_bags;
    b->dim = dim;
    b->fp16 = fp16;
    b->rows = mhim_malloc((size_t)(n_bags + 1) * sizeof *b->rows);
    memcpy(b->rows, rows, (size_t)n_bags * sizeof *rows);
    b->store = mhim_calloc((size_t)n_bags + 1, sizeof *b->store);
    int64_t largest = 1;
    for (int64_t i = 0; i < n_bags; i++) largest = MHIM_MAX(largest, rows[i]);
    if (fp16) b->work = mhim_malloc((size_t)(largest * dim) * sizeof(float));
    *out = b;
    return MHIM_OK;
}

void mhim_cuda_bags_destroy(mhim_cuda_bags *b) {
    if (!b) return;
    for (int64_t i = 0; i < b->n_bags; i++) free(b->store[i]);
    free(b->store);
    free(b->rows);
    free(b->work);
    free(b);
}

int mhim_cuda_bags_resident(const mhim_cuda_bags *b) {
    (void)b;
    return 1;
}

void mhim_cuda_bags_put(mhim_cuda_bags *b, int64_t bag, const float *host) {
    MHIM_ASSERT(bag >= 0 && bag < b->n_bags);
    if (b->store[bag]) return;
    const int64_t n = b->rows[bag] * b->dim;
    b->store[bag] = mhim_malloc((size_t)n * (b->fp16 ? sizeof(uint16_t) : sizeof(float)) + 1);
    if (b->fp16)
        mhim_float_to_half_array(host, b->store[bag], n);
    else
        memcpy(b->store[bag], host, (size_t)n * sizeof(float));
}

const float *mhim_cuda_bags_get(mhim_cuda_bags *b, int64_t bag, const float *host) {
    (void)host;
    MHIM_ASSERT(bag >= 0 && bag < b->n_bags && b->store[bag]);
    if (!b->fp16) return b->store[bag];
    mhim_half_to_float_array(b->store[bag], b->work, b->rows[bag] * b->dim);
    return b->work;
}

void mhim_cuda_cross_entropy_forward(mhim_cuda_ctx *ctx, float *loss, float *probs, const float *logits,
                                     const int64_t *target, int64_t B, int64_t C) {
    (void)ctx;
    *loss = mhim_cross_entropy_forward(probs, logits, target, B, C);
}

void mhim_cuda_cross_entropy_backward(mhim_cuda_ctx *ctx, float *dlogits, const float *probs, const int64_t *target,
                                      float dloss, int64_t B, int64_t C) {
    (void)ctx;
    mhim_cross_entropy_backward(dlogits, probs, target, dloss, B, C);
}

void mhim_cuda_soft_target_ce_forward(mhim_cuda_ctx *ctx, float *loss, float *p_student, float *p_teacher,
                                      const float *student, const float *teacher, float temp_t, float temp_s,
                                      int64_t R, int64_t D) {
    (void)ctx;
    *loss = mhim_soft_target_ce_forward(p_student, p_teacher, student, teacher, temp_t, temp_s, R, D);
}

void mhim_cuda_soft_target_ce_backward(mhim_cuda_ctx *ctx, float *dstudent, const float *p_student,
                                       const float *p_teacher, float dloss, float temp_s, int64_t R, int64_t D) {
    (void)ctx;
    mhim_soft_target_ce_backward(dstudent, p_student, p_teacher, dloss, temp_s, R, D);
}

void mhim_cuda_adam_update(mhim_cuda_ctx *ctx, const mhim_adam *o, float *param, const float *grad, float *m,
                           float *v, int64_t n) {
    (void)ctx;
    mhim_adam_update(o, param, grad, m, v, n);
}

void mhim_cuda_ema_update(mhim_cuda_ctx *ctx, float *teacher, const float *student, int64_t n, double momentum) {
    (void)ctx;
    mhim_ema_update(teacher, student, n, momentum);
}
