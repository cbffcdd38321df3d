/* TransMIL configuration, parameter spec (original state_dict keys), binding and initialisation
 * (see mhim/models/transmil.h). */
#include "mhim/models/transmil.h"

#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/ppeg.h"

/* Row indices of the spec table (= state_dict order of the original MHIM(baseline='selfattn')). */
enum {
    ROW_EMBED_W,
    ROW_EMBED_B,
    ROW_CLS,
    ROW_NORM_W,
    ROW_NORM_B,
    ROW_LAYER1, /* 6 rows per layer: norm.weight, norm.bias, to_qkv.weight, to_out.0.weight, to_out.0.bias,
                   res_conv.weight */
    ROW_PPEG = ROW_LAYER1 + 12, /* proj.weight, proj.bias, proj1.weight, proj1.bias, proj2.weight, proj2.bias */
    ROW_PRED_W = ROW_PPEG + 6,
    ROW_PRED_B,
    ROW_COUNT
};
_Static_assert(ROW_COUNT == MHIM_TRANSMIL_SPEC_ROWS, "spec row count");

static const char *const LAYER_KEYS[2][6] = {
    {"online_encoder.layer1.norm.weight", "online_encoder.layer1.norm.bias", "online_encoder.layer1.attn.to_qkv.weight",
     "online_encoder.layer1.attn.to_out.0.weight", "online_encoder.layer1.attn.to_out.0.bias",
     "online_encoder.layer1.attn.res_conv.weight"},
    {"online_encoder.layer2.norm.weight", "online_encoder.layer2.norm.bias", "online_encoder.layer2.attn.to_qkv.weight",
     "online_encoder.layer2.attn.to_out.0.weight", "online_encoder.layer2.attn.to_out.0.bias",
     "online_encoder.layer2.attn.res_conv.weight"}};
static const char *const PPEG_KEYS[6] = {
    "online_encoder.pos_embedding.proj.weight",  "online_encoder.pos_embedding.proj.bias",
    "online_encoder.pos_embedding.proj1.weight", "online_encoder.pos_embedding.proj1.bias",
    "online_encoder.pos_embedding.proj2.weight", "online_encoder.pos_embedding.proj2.bias"};
static const int64_t PPEG_KERNELS[3] = {MHIM_PPEG_K0, MHIM_PPEG_K1, MHIM_PPEG_K2};

mhim_transmil_config mhim_transmil_config_default(int version, int64_t input_dim, int64_t n_classes, int64_t heads,
                                                  mhim_act act) {
    mhim_transmil_config cfg = {
        .embed = {.input_dim = input_dim, .dim = MHIM_EMBED_DIM, .act = act, .dropout = 0.25f, .version = version},
        .n_classes = n_classes,
        .heads = heads,
        .dim_head = MHIM_TRANSMIL_DIM_HEAD,
        .landmarks = MHIM_TRANSMIL_LANDMARKS,
    };
    return cfg;
}

int mhim_transmil_config_check(const mhim_transmil_config *cfg) {
    int rc = mhim_embed_config_check(&cfg->embed);
    if (rc != MHIM_OK) return rc;
    if (cfg->n_classes < 1) return mhim_fail("transmil n_classes %lld: expected >= 1", (long long)cfg->n_classes);
    if (cfg->heads < 1)
        return mhim_fail("transmil n_heads %lld: expected >= 1 (8 by default, 2 for the TCGA recipes)",
                         (long long)cfg->heads);
    if (cfg->dim_head < 1 || cfg->landmarks < 1)
        return mhim_fail("transmil dim_head %lld / landmarks %lld: expected >= 1 (64 and 256 in MHIM)",
                         (long long)cfg->dim_head, (long long)cfg->landmarks);
    return MHIM_OK;
}

void mhim_transmil_param_spec(const mhim_transmil_config *cfg, mhim_param_spec *rows) {
    const int64_t D = cfg->embed.dim, I = cfg->heads * cfg->dim_head;
    mhim_embed_param_spec(&cfg->embed, rows);
    rows[ROW_CLS] = (mhim_param_spec){"online_encoder.cls_token", 3, {1, 1, D}};
    rows[ROW_NORM_W] = (mhim_param_spec){"online_encoder.norm.weight", 1, {D}};
    rows[ROW_NORM_B] = (mhim_param_spec){"online_encoder.norm.bias", 1, {D}};
    for (int L = 0; L < 2; L++) {
        mhim_param_spec *r = rows + ROW_LAYER1 + 6 * L;
        const char *const *k = LAYER_KEYS[L];
        r[0] = (mhim_param_spec){k[0], 1, {D}};
        r[1] = (mhim_param_spec){k[1], 1, {D}};
        r[2] = (mhim_param_spec){k[2], 2, {3 * I, D}};
        r[3] = (mhim_param_spec){k[3], 2, {D, I}};
        r[4] = (mhim_param_spec){k[4], 1, {D}};
        r[5] = (mhim_param_spec){k[5], 4, {cfg->heads, 1, MHIM_NYSTROM_RES_KERNEL, 1}};
    }
    for (int j = 0; j < 3; j++) {
        const int64_t k = PPEG_KERNELS[j];
        rows[ROW_PPEG + 2 * j] = (mhim_param_spec){PPEG_KEYS[2 * j], 4, {D, 1, k, k}};
        rows[ROW_PPEG + 2 * j + 1] = (mhim_param_spec){PPEG_KEYS[2 * j + 1], 1, {D}};
    }
    rows[ROW_PRED_W] = (mhim_param_spec){"predictor.weight", 2, {cfg->n_classes, D}};
    rows[ROW_PRED_B] = (mhim_param_spec){"predictor.bias", 1, {cfg->n_classes}};
}

int mhim_transmil_bind(mhim_transmil *m, const mhim_transmil_config *cfg, const mhim_param_layout *L) {
    int rc = mhim_transmil_config_check(cfg);
    if (rc != MHIM_OK) return rc;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    rc = mhim_embed_bind(&m->embed, &cfg->embed, L);
    if (rc != MHIM_OK) return rc;
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    mhim_transmil_param_spec(cfg, rows);
    int64_t *dst[MHIM_TRANSMIL_SPEC_ROWS] = {
        [ROW_EMBED_W] = &m->embed.weight, [ROW_EMBED_B] = &m->embed.bias, [ROW_CLS] = &m->cls_token,
        [ROW_NORM_W] = &m->norm_w,        [ROW_NORM_B] = &m->norm_b,      [ROW_PRED_W] = &m->pred_w,
        [ROW_PRED_B] = &m->pred_b};
    for (int l = 0; l < 2; l++) {
        mhim_transmil_layer *ly = &m->layer[l];
        int64_t **d = dst + ROW_LAYER1 + 6 * l;
        d[0] = &ly->norm_w, d[1] = &ly->norm_b, d[2] = &ly->w_qkv, d[3] = &ly->w_out, d[4] = &ly->b_out,
        d[5] = &ly->w_res;
    }
    for (int j = 0; j < 3; j++) dst[ROW_PPEG + 2 * j] = &m->ppeg_w[j], dst[ROW_PPEG + 2 * j + 1] = &m->ppeg_b[j];
    for (int r = 0; r < MHIM_TRANSMIL_SPEC_ROWS && rc == MHIM_OK; r++)
        rc = mhim_model_param_offset(dst[r], L, &rows[r]);
    return rc;
}

/* x[0..n) = v. */
static void fill(float *x, int64_t n, float v) {
    for (int64_t i = 0; i < n; i++) x[i] = v;
}

void mhim_transmil_init_params(const mhim_transmil *m, float *params, uint64_t seed) {
    const mhim_transmil_config *cfg = &m->cfg;
    const int64_t D = cfg->embed.dim, I = cfg->heads * cfg->dim_head, H = cfg->heads;
    mhim_embed_init_params(&m->embed, params, seed, ROW_EMBED_W);
    mhim_init_normal(params + m->cls_token, D, 1.0f, seed, ROW_CLS); /* torch.randn, never re-initialised */
    fill(params + m->norm_w, D, 1.0f);
    fill(params + m->norm_b, D, 0.0f);
    for (int l = 0; l < 2; l++) {
        const mhim_transmil_layer *ly = &m->layer[l];
        const uint32_t row = (uint32_t)(ROW_LAYER1 + 6 * l);
        fill(params + ly->norm_w, D, 1.0f);
        fill(params + ly->norm_b, D, 0.0f);
        mhim_init_xavier_normal(params + ly->w_qkv, 3 * I, D, seed, row + 2);
        mhim_init_xavier_normal(params + ly->w_out, D, I, seed, row + 3);
        fill(params + ly->b_out, D, 0.0f);
        /* Conv2d(H, H, (33, 1), groups=H): fan_in = 1·33·1 */
        mhim_init_uniform(params + ly->w_res, H * MHIM_NYSTROM_RES_KERNEL,
                          (float)(1.0 / sqrt((double)MHIM_NYSTROM_RES_KERNEL)), seed, row + 5);
    }
    for (int j = 0; j < 3; j++) {
        /* depthwise Conv2d(D, D, k, groups=D): fan_in = k·k for the weight and the bias */
        const int64_t k = PPEG_KERNELS[j];
        const float bound = (float)(1.0 / (double)k);
        mhim_init_uniform(params + m->ppeg_w[j], D * k * k, bound, seed, (uint32_t)(ROW_PPEG + 2 * j));
        mhim_init_uniform(params + m->ppeg_b[j], D, bound, seed, (uint32_t)(ROW_PPEG + 2 * j + 1));
    }
    mhim_init_xavier_normal(params + m->pred_w, cfg->n_classes, D, seed, ROW_PRED_W);
    fill(params + m->pred_b, cfg->n_classes, 0.0f);
}
