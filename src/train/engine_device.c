/* The training engine's GPU path (see train/engine_device.h): the CPU engine's step (engine_step.c) with the
 * networks, losses, Adam and EMA on the device. */
#include "train/engine_device.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/bagstore.h"
#include "mhim/common.h"
#include "mhim/cuda_select.h"
#include "mhim/log.h"
#include "mhim/models/embed.h"
#include "mhim/ops/precision.h"

/* A CPU run: switch the bf16 GEMMs on or off for this process (--precision; the device check has already refused
 * the bf16 modes on a CPU without AVX512_BF16) and say which run. */
static int cpu_precision(const mhim_config *cfg) {
    static const char *const says[] = {
        [MHIM_PRECISION_BF16] = "first layer bf16 (fp32 sums, AVX512_BF16) on the CPU",
        [MHIM_PRECISION_BF16_LINEAR] = "linear layers bf16 (first layer and attention projections; fp32 sums, "
                                       "AVX512_BF16) on the CPU",
        [MHIM_PRECISION_BF16_ALL] = "every matrix product bf16 (linear layers, attention, pseudo-inverse; fp32 sums, "
                                    "AVX512_BF16) on the CPU",
    };
    mhim_precision p;
    int rc = mhim_precision_parse(cfg->precision, &p);
    if (rc == MHIM_OK) rc = mhim_precision_cpu_set(p);
    if (rc == MHIM_OK && p != MHIM_PRECISION_FP32) MHIM_INFO("%s", says[p]);
    return rc;
}

#ifdef MHIM_HAVE_CUDA
#include "mhim/cuda.h"
#include "mhim/cuda_bags.h"
#include "mhim/cuda_model.h"
#include "mhim/cuda_ops.h"
#ifdef MHIM_HAVE_NCCL
#include "mhim/cuda_nccl.h"
#endif
#include "mhim/ops/loss.h"

#define ARENA_SLACK ((size_t)1 << 20)

typedef struct engine_device {
    mhim_cuda_ctx *ctx;
    mhim_cuda_net *net;
    mhim_cuda_bags *bags;
    engine_data *data;           /* bag row counts for (re)planning the device bags */
    int64_t total;               /* floats of the layout */
    float *student, *teacher, *grads, *adam_m, *adam_v, *eval_params; /* device, total floats each */
    float *feat_t, *feat_s, *d_feat, *p_s, *p_t;                       /* device, feat_size each */
    float *out;                  /* device [logits C | max logits C | d logits C | d max logits C | probs C] */
    float *loss;                 /* device [class loss | consistency] */
    float *map;                  /* device (map_rows, max_instances) teacher map */
    int64_t *keep, *label;       /* device kept ids (max_instances), label (1) */
    float *step_sum;             /* device [total + ENGINE_STEP_EXTRA]: a step's summed gradients, then the extras
                                  * (NCCL); NULL with one bag per step */
#ifdef MHIM_HAVE_NCCL
    mhim_cuda_nccl *nccl;        /* the group's NCCL communicator (MHIM_GPU_ALLREDUCE=nccl), else NULL */
#endif
    float host_loss[2];
    int64_t host_label;
    size_t step_mark;            /* arena level above the persistent buffers */
    size_t bag_bytes;            /* device bytes of the bag cache or the streaming buffers */
    int fp16_bags;               /* resident bags kept in fp16 (--store_dtype=fp16 without --standardize) */
} engine_device;

/* The device copy of bag `bag` (host rows x): resident bags are uploaded on first use. */
static const float *device_bag(engine_device *g, int64_t bag, const float *x) {
    if (mhim_cuda_bags_resident(g->bags)) mhim_cuda_bags_put(g->bags, bag, x);
    return mhim_cuda_bags_get(g->bags, bag, x);
}

/* Plan the device bags: resident when the device can hold them all, else streamed. Resident bags are stored in
 * fp16 when g->fp16_bags (the host rows are then fp16 values already, so the device copy is exact). */
static int plan_bags(engine_device *g) {
    engine_data *d = g->data;
    int64_t *rows = mhim_malloc((size_t)MHIM_MAX(d->n_bags, 1) * sizeof *rows);
    for (int64_t i = 0; i < d->n_bags; i++) rows[i] = mhim_bagstore_n_instances(d->store, i);
    mhim_cuda_bags_destroy(g->bags);
    g->bags = NULL;
    int rc = mhim_cuda_bags_create(&g->bags, g->ctx, rows, d->n_bags, d->dim, g->fp16_bags, SIZE_MAX);
    if (rc != MHIM_OK) {
        MHIM_WARN("GPU bags: %s; streaming each bag instead", mhim_error());
        rc = mhim_cuda_bags_create(&g->bags, g->ctx, rows, d->n_bags, d->dim, 0, 0);
    }
    if (rc == MHIM_OK) {
        int64_t values = 0, largest = 0;
        for (int64_t i = 0; i < d->n_bags; i++) values += rows[i], largest = MHIM_MAX(largest, rows[i]);
        if (!mhim_cuda_bags_resident(g->bags))
            g->bag_bytes = (size_t)(2 * largest * d->dim) * sizeof(float); /* two streaming buffers */
        else if (g->fp16_bags) /* the cache plus one fp32 work buffer of the largest bag */
            g->bag_bytes = (size_t)(values * d->dim) * sizeof(uint16_t) + (size_t)(largest * d->dim) * sizeof(float);
        else
            g->bag_bytes = (size_t)(values * d->dim) * sizeof(float);
    }
    free(rows);
    return rc;
}

/* Bytes of one arena block of n floats or int64s (the arena's 256-byte blocks). */
static size_t block(int64_t n, size_t elem) { return ((size_t)n * elem + 255) / 256 * 256; }

/* The group's all-reduce on the GPU: MHIM_GPU_ALLREDUCE = mpi (default, host buffers) or nccl (device buffers,
 * NCCL builds). Sets *nccl; MHIM_EINPUT for another value or nccl without NCCL. */
static int allreduce_choice(int *nccl) {
    const char *v = getenv("MHIM_GPU_ALLREDUCE");
    *nccl = 0;
    if (!v || !*v || !strcmp(v, "mpi")) return MHIM_OK;
    if (strcmp(v, "nccl") != 0) return mhim_fail("MHIM_GPU_ALLREDUCE=%s: expected mpi or nccl", v);
#ifdef MHIM_HAVE_NCCL
    *nccl = 1;
    return MHIM_OK;
#else
    return mhim_fail("MHIM_GPU_ALLREDUCE=nccl: this mhim was built without NCCL; rebuild with -DMHIM_USE_NCCL=ON "
                     "or unset it (the MPI all-reduce is the default)");
#endif
}

#ifdef MHIM_HAVE_NCCL
/* Join the group's NCCL communicator: group rank 0 draws the id, dp->bcast_f32 carries its bytes (a float
 * broadcast copies the bits unchanged) to the other ranks. */
static int nccl_join(engine_device *g, const mhim_dp_ops *dp) {
    float words[MHIM_NCCL_ID_BYTES / sizeof(float)] = {0};
    unsigned char id[MHIM_NCCL_ID_BYTES] = {0};
    int rc = dp->rank == 0 ? mhim_cuda_nccl_unique_id(id) : MHIM_OK;
    memcpy(words, id, sizeof id);
    /* every rank joins the broadcast, also after a local failure, so that none waits forever */
    int brc = dp->bcast_f32(dp->ctx, words, (int64_t)MHIM_ARRAY_LEN(words));
    if (rc != MHIM_OK || brc != MHIM_OK) return rc != MHIM_OK ? rc : brc;
    memcpy(id, words, sizeof id);
    return mhim_cuda_nccl_create(&g->nccl, g->ctx, dp->size, dp->rank, id);
}
#endif

int engine_device_attach(engine_net *n, const mhim_config *cfg, const mhim_engine_options *opt, engine_data *d) {
    int ordinal = -1;
    int rc = mhim_device_check_training(cfg, &ordinal);
    if (rc != MHIM_OK || ordinal < 0) return rc != MHIM_OK ? rc : cpu_precision(cfg);
    const int group = opt->dp && opt->dp->size > 1, several = group || cfg->bags_per_step > 1;
    int use_nccl = 0;
    if (group && (rc = allreduce_choice(&use_nccl)) != MHIM_OK) return rc;
    engine_device *g = mhim_calloc(1, sizeof *g);
    n->dev = g;
    g->data = d;
    g->total = n->L->total;
    /* fp16 on the device only where it is exact: z-scored rows are not fp16 values any more */
    mhim_store_dtype dtype = MHIM_STORE_FP32;
    if ((rc = mhim_store_dtype_parse(cfg->store_dtype, "--store_dtype", &dtype)) != MHIM_OK) return rc;
    g->fp16_bags = dtype == MHIM_STORE_FP16 && !cfg->standardize;
    const int64_t C = n->C, F = n->feat_size, M = MHIM_MAX(d->max_instances, 1);
    if ((rc = mhim_cuda_net_create(&g->net, n->model)) != MHIM_OK) return rc;
    size_t bytes = 6 * block(g->total, sizeof(float)) + 5 * block(F, sizeof(float)) + block(5 * C, sizeof(float));
    bytes += block(2, sizeof(float)) + block(n->map_rows * M, sizeof(float)) + block(M, sizeof(int64_t)) + block(1, sizeof(int64_t));
    if (several) bytes += block(g->total + ENGINE_STEP_EXTRA, sizeof(float));
    bytes += mhim_cuda_net_arena_bytes(g->net, M) + ARENA_SLACK;
    const int bf16 = cfg->precision && !strcmp(cfg->precision, "bf16");
    /* bf16 copies of the front end: the teacher's forward and the student's step may both hold theirs */
    if (bf16) bytes += 2 * mhim_cuda_bf16_first_layer_bytes(M, d->dim, MHIM_EMBED_DIM);
    if ((rc = mhim_cuda_ctx_create(&g->ctx, ordinal, bytes)) != MHIM_OK) return rc;
    mhim_cuda_set_first_layer_bf16(g->ctx, bf16);
    float **params[] = {&g->student, &g->teacher, &g->grads, &g->adam_m, &g->adam_v, &g->eval_params};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(params); i++) *params[i] = mhim_cuda_floats(g->ctx, g->total);
    float **feats[] = {&g->feat_t, &g->feat_s, &g->d_feat, &g->p_s, &g->p_t};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(feats); i++) *feats[i] = mhim_cuda_floats(g->ctx, F);
    g->out = mhim_cuda_floats(g->ctx, 5 * C);
    g->loss = mhim_cuda_floats(g->ctx, 2);
    g->map = mhim_cuda_floats(g->ctx, n->map_rows * M);
    g->keep = mhim_cuda_i64(g->ctx, M);
    g->label = mhim_cuda_i64(g->ctx, 1);
    if (several) g->step_sum = mhim_cuda_floats(g->ctx, g->total + ENGINE_STEP_EXTRA);
    g->step_mark = mhim_cuda_mark(g->ctx);
    if ((rc = plan_bags(g)) != MHIM_OK) return rc;
#ifdef MHIM_HAVE_NCCL
    if (use_nccl && (rc = nccl_join(g, opt->dp)) != MHIM_OK) return rc;
#endif
    if (group)
        MHIM_INFO("data-parallel group rank %d of %d: gradients summed %s", opt->dp->rank, opt->dp->size,
                  use_nccl ? "on the GPUs (NCCL)" : "through the host (MPI)");
    char desc[256];
    mhim_cuda_device_describe(ordinal, desc, sizeof desc);
    MHIM_INFO("training on GPU %d (%s): arena %.1f MiB, bags %s (%.1f MiB), first layer %s", ordinal, desc,
              (double)bytes / 1048576.0,
              !mhim_cuda_bags_resident(g->bags) ? "streamed" : g->fp16_bags ? "resident (fp16)" : "resident (fp32)",
              (double)g->bag_bytes / 1048576.0, bf16 ? "bf16 (fp32 sums)" : "fp32");
    return MHIM_OK;
}

void engine_device_detach(engine_net *n) {
    engine_device *g = n->dev;
    if (!g) return;
    if (g->ctx)
        MHIM_INFO("GPU memory peak: arena %.1f MiB + bags %.1f MiB", (double)mhim_cuda_arena_peak(g->ctx) / 1048576.0,
                  (double)g->bag_bytes / 1048576.0);
#ifdef MHIM_HAVE_NCCL
    mhim_cuda_nccl_destroy(g->nccl);
#endif
    mhim_cuda_bags_destroy(g->bags);
    mhim_cuda_net_free(g->net);
    mhim_cuda_ctx_destroy(g->ctx);
    free(g);
    n->dev = NULL;
}

/* The host buffers mirrored on the device: {host, device} pairs; the teacher only for a separate MHIM teacher. */
static int mirrored(engine_net *n, float *host[4], float *dev[4]) {
    engine_device *g = n->dev;
    int k = 0;
    host[k] = n->student, dev[k++] = g->student;
    host[k] = n->adam_m, dev[k++] = g->adam_m;
    host[k] = n->adam_v, dev[k++] = g->adam_v;
    if (n->mhim && !n->tea_same) host[k] = n->teacher, dev[k++] = g->teacher;
    return k;
}

int engine_device_begin_fold(engine_net *n, const engine_standardizer *z) {
    engine_device *g = n->dev;
    float *host[4], *dev[4];
    const int k = mirrored(n, host, dev);
    for (int i = 0; i < k; i++) mhim_cuda_upload(g->ctx, dev[i], host[i], (size_t)g->total * sizeof(float));
    mhim_cuda_sync(g->ctx);
    return z->mean ? plan_bags(g) : MHIM_OK;
}

void engine_device_download(engine_net *n) {
    engine_device *g = n->dev;
    float *host[4], *dev[4];
    const int k = mirrored(n, host, dev);
    for (int i = 0; i < k; i++) mhim_cuda_download(g->ctx, host[i], dev[i], (size_t)g->total * sizeof(float));
}

/* The teacher forward, the mask chosen on the host from the downloaded map, the kept ids uploaded. */
static int teacher_and_mask(engine_net *n, const engine_step_ctx *ctx, const float *x_d, int64_t N, int64_t *kept,
                            engine_step_stats *st) {
    engine_device *g = n->dev;
    const uint32_t ep = (uint32_t)ctx->epoch, bag = (uint32_t)ctx->bag;
    const float *teacher = n->tea_same ? g->student : g->teacher;
    mhim_rng tdrop = mhim_rng_stream(ctx->seed, ep, bag, MHIM_RNG_DROPOUT, 1);
    int rc = mhim_cuda_net_predict(g->net, g->ctx, teacher, x_d, N, &tdrop, ctx->cfg->attn_layer, NULL, NULL,
                                   g->feat_t, g->map);
    if (rc != MHIM_OK) return rc;
    mhim_cuda_download(g->ctx, n->map, g->map, (size_t)(n->map_rows * N) * sizeof(float));
    if (ctx->given_keep) {
        if (ctx->given_len < 1 || ctx->given_len > N)
            return mhim_fail("training step: %lld given kept ids for a bag of %lld instances",
                             (long long)ctx->given_len, (long long)N);
        memcpy(n->keep, ctx->given_keep, (size_t)ctx->given_len * sizeof *n->keep);
        *kept = ctx->given_len;
    } else {
        mhim_mask_stats ms;
        rc = mhim_mask_select(&n->mask, ctx->r_h, n->map, n->map_rows, N, (mhim_mask_key){ctx->seed, ep, bag},
                              &n->mws, n->keep, &ms);
        if (rc != MHIM_OK) return rc;
        *kept = ms.len_keep;
        st->guarded = ms.guarded;
    }
    mhim_cuda_upload(g->ctx, g->keep, n->keep, (size_t)*kept * sizeof(int64_t));
    return MHIM_OK;
}

int engine_device_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                            engine_step_stats *st) {
    engine_device *g = n->dev;
    mhim_cuda_ctx *c = g->ctx;
    const mhim_config *cfg = ctx->cfg;
    const int64_t C = n->C;
    const int use_cl = n->mhim && cfg->cl_alpha != 0.0;
    const int dsmil = mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL;
    int64_t kept = N;
    int rc = MHIM_OK;
    memset(st, 0, sizeof *st);
    if (N < 1) return mhim_fail("training step: bag %lld has no instance", (long long)ctx->bag);
    const float *x_d = device_bag(g, ctx->bag, x);
    if (n->mhim && (rc = teacher_and_mask(n, ctx, x_d, N, &kept, st)) != MHIM_OK) return rc;
    float *logits = g->out, *max_logits = g->out + C, *d_logits = g->out + 2 * C, *d_max = g->out + 3 * C;
    float *probs = g->out + 4 * C;
    g->host_label = y;
    mhim_cuda_upload(c, g->label, &g->host_label, sizeof g->host_label);
    mhim_cuda_memset0(c, g->grads, (size_t)g->total * sizeof(float));
    mhim_cuda_memset0(c, g->loss, 2 * sizeof(float));
    mhim_rng sdrop = mhim_rng_stream(ctx->seed, (uint32_t)ctx->epoch, (uint32_t)ctx->bag, MHIM_RNG_DROPOUT, 0);
    rc = mhim_cuda_net_forward(g->net, c, g->student, x_d, N, n->mhim ? g->keep : NULL, kept, &sdrop, logits,
                               dsmil ? max_logits : NULL, use_cl ? g->feat_s : NULL);
    if (rc != MHIM_OK) {
        mhim_cuda_reset(c, g->step_mark);
        return rc;
    }
    const double scale = 1.0 / (double)MHIM_MAX(cfg->accumulation_steps, 1);
    const float w = (float)(cfg->cls_alpha * scale);
    /* the model's class loss: CE (ABMIL, TransMIL); DSMIL v1 0.5·CE(bag) + 0.5·CE(max), in double as the CPU */
    if (dsmil) {
        mhim_cuda_dsmil_loss_v1(c, g->loss, d_logits, d_max, logits, max_logits, g->label, w, C);
    } else {
        mhim_cuda_cross_entropy_forward(c, g->loss, probs, logits, g->label, 1, C);
        mhim_cuda_cross_entropy_backward(c, d_logits, probs, g->label, w, 1, C);
    }
    if (use_cl) {
        const int64_t R = n->feat_size / MHIM_EMBED_DIM;
        mhim_cuda_soft_target_ce_forward(c, g->loss + 1, g->p_s, g->p_t, g->feat_s, g->feat_t, (float)cfg->temp_t,
                                         MHIM_CONSISTENCY_TEMP_S, R, MHIM_EMBED_DIM);
        mhim_cuda_soft_target_ce_backward(c, g->d_feat, g->p_s, g->p_t, (float)(cfg->cl_alpha * scale),
                                          MHIM_CONSISTENCY_TEMP_S, R, MHIM_EMBED_DIM);
    }
    mhim_cuda_net_backward(g->net, c, g->student, g->grads, d_logits, dsmil ? d_max : NULL,
                           use_cl ? g->d_feat : NULL);
    mhim_cuda_reset(c, g->step_mark);
    mhim_cuda_download(c, g->host_loss, g->loss, sizeof g->host_loss);
    const float cls = g->host_loss[0];
    st->cls = cls;
    st->loss = cfg->cls_alpha * cls;
    if (use_cl) {
        st->cl = g->host_loss[1];
        st->loss += cfg->cl_alpha * st->cl;
    }
    return engine_step_finish(st, ctx, N, kept);
}

void engine_device_step_apply(engine_net *n, int summed, double mm) {
    engine_device *g = n->dev;
    MHIM_ASSERT(!summed || g->step_sum);
    const float *grads = summed ? g->step_sum : g->grads;
    const int dsmil = mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL;
    mhim_adam_begin_step(&n->adam);
    for (int64_t t = 0; t < n->L->count; t++) {
        const mhim_param_entry *e = &n->L->entries[t];
        if (dsmil && !strncmp(e->name, "predictor.", 10)) continue; /* no gradient reaches it (torch: grad None) */
        mhim_cuda_adam_update(g->ctx, &n->adam, g->student + e->offset, grads + e->offset, g->adam_m + e->offset,
                              g->adam_v + e->offset, e->numel);
    }
    if (n->mhim && !n->tea_same) mhim_cuda_ema_update(g->ctx, g->teacher, g->student, g->total, mm);
}

void engine_device_step_begin(engine_net *n) {
    engine_device *g = n->dev;
    MHIM_ASSERT(g->step_sum);
    mhim_cuda_memset0(g->ctx, g->step_sum, (size_t)g->total * sizeof(float));
}

void engine_device_step_add(engine_net *n) {
    engine_device *g = n->dev;
    mhim_cuda_add(g->ctx, g->step_sum, g->grads, g->total);
}

int engine_device_step_allreduce(engine_net *n, const mhim_dp_ops *dp) {
    engine_device *g = n->dev;
    const int64_t total = g->total;
#ifdef MHIM_HAVE_NCCL
    if (g->nccl) {
        float *extra = n->step_grads + total;
        mhim_cuda_upload(g->ctx, g->step_sum + total, extra, ENGINE_STEP_EXTRA * sizeof(float));
        mhim_cuda_nccl_allreduce_sum(g->nccl, g->step_sum, total + ENGINE_STEP_EXTRA);
        mhim_cuda_download(g->ctx, extra, g->step_sum + total, ENGINE_STEP_EXTRA * sizeof(float));
        return MHIM_OK;
    }
#endif
    mhim_cuda_download(g->ctx, n->step_grads, g->step_sum, (size_t)total * sizeof(float));
    int rc = dp->sum_f32(dp->ctx, n->step_grads, total + ENGINE_STEP_EXTRA);
    if (rc != MHIM_OK) return rc;
    mhim_cuda_upload(g->ctx, g->step_sum, n->step_grads, (size_t)total * sizeof(float));
    mhim_cuda_sync(g->ctx); /* n->step_grads is the next step's host buffer */
    return MHIM_OK;
}

void engine_device_step_average(engine_net *n, int count) {
    engine_device *g = n->dev;
    mhim_cuda_div(g->ctx, g->step_sum, (float)count, g->total);
}

void engine_device_upload_teacher(engine_net *n) {
    engine_device *g = n->dev;
    if (!n->mhim || n->tea_same) return;
    mhim_cuda_upload(g->ctx, g->teacher, n->teacher, (size_t)g->total * sizeof(float));
    mhim_cuda_sync(g->ctx);
}

void engine_device_set_eval_params(engine_net *n, const float *params) {
    engine_device *g = n->dev;
    mhim_cuda_upload(g->ctx, g->eval_params, params, (size_t)g->total * sizeof(float));
    mhim_cuda_sync(g->ctx);
}

int engine_device_predict(engine_net *n, int64_t bag, const float *x, int64_t N, const mhim_model_out *out) {
    engine_device *g = n->dev;
    const int64_t C = n->C;
    if (N < 1) return mhim_fail("evaluation: bag %lld has no instance", (long long)bag);
    const float *x_d = device_bag(g, bag, x);
    int rc = mhim_cuda_net_predict(g->net, g->ctx, g->eval_params, x_d, N, NULL, 0, g->out, g->out + C, NULL, NULL);
    if (rc != MHIM_OK) return rc;
    mhim_cuda_download(g->ctx, out->logits, g->out, (size_t)C * sizeof(float));
    if (mhim_model_get_config(n->model)->kind == MHIM_MODEL_DSMIL)
        mhim_cuda_download(g->ctx, out->max_logits, g->out + C, (size_t)C * sizeof(float));
    return MHIM_OK;
}

#else /* CPU-only build: mhim_device_select refuses --device=cuda, so n->dev stays NULL and the calls that need it
       * (all guarded by n->dev) are never made */

int engine_device_attach(engine_net *n, const mhim_config *cfg, const mhim_engine_options *opt, engine_data *d) {
    (void)n, (void)opt, (void)d;
    int ordinal = -1;
    int rc = mhim_device_check_training(cfg, &ordinal);
    return rc != MHIM_OK ? rc : cpu_precision(cfg);
}

void engine_device_detach(engine_net *n) { MHIM_ASSERT(n->dev == NULL); }

int engine_device_begin_fold(engine_net *n, const engine_standardizer *z) {
    (void)z;
    MHIM_ASSERT(n->dev != NULL);
    return MHIM_OK;
}

void engine_device_download(engine_net *n) { MHIM_ASSERT(n->dev != NULL); }

int engine_device_step_grad(engine_net *n, const engine_step_ctx *ctx, const float *x, int64_t N, int64_t y,
                            engine_step_stats *st) {
    (void)ctx, (void)x, (void)N, (void)y, (void)st;
    MHIM_ASSERT(n->dev != NULL);
    return MHIM_OK;
}

void engine_device_step_apply(engine_net *n, int summed, double mm) {
    (void)summed, (void)mm;
    MHIM_ASSERT(n->dev != NULL);
}

void engine_device_step_begin(engine_net *n) { MHIM_ASSERT(n->dev != NULL); }

void engine_device_step_add(engine_net *n) { MHIM_ASSERT(n->dev != NULL); }

int engine_device_step_allreduce(engine_net *n, const mhim_dp_ops *dp) {
    (void)dp;
    MHIM_ASSERT(n->dev != NULL);
    return MHIM_OK;
}

void engine_device_step_average(engine_net *n, int count) {
    (void)count;
    MHIM_ASSERT(n->dev != NULL);
}

void engine_device_upload_teacher(engine_net *n) { MHIM_ASSERT(n->dev != NULL); }

void engine_device_set_eval_params(engine_net *n, const float *params) {
    (void)params;
    MHIM_ASSERT(n->dev != NULL);
}

int engine_device_predict(engine_net *n, int64_t bag, const float *x, int64_t N, const mhim_model_out *out) {
    (void)bag, (void)x, (void)N, (void)out;
    MHIM_ASSERT(n->dev != NULL);
    return MHIM_OK;
}

#endif
