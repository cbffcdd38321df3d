/* mhim/models/embed.h — the instance front end shared by every MHIM model: h = dp(act(x W_eᵀ + b_e)).
 *
 * Original modules: v1 MHIM.patch_to_emb = Sequential(Linear(1024, 512), ReLU | GELU) (state_dict keys
 * "patch_to_emb.0.weight" (512, D_in), "patch_to_emb.0.bias" (512)); v2 MHIM.feature = Sequential(Linear(input_dim,
 * 512), act) (keys "feature.0.weight", "feature.0.bias"); then MHIM.dp = Dropout(p) (Identity when p == 0; no
 * parameters).
 *
 * Kept instances: the original embeds all N instances and gathers the kept rows afterwards (h[:, ids_keep]). Here
 * the forward takes the kept indices and embeds only those rows. The dropout mask of row j is drawn for its ORIGINAL
 * instance index idx[j] (stream values idx[j]·dim .. idx[j]·dim + dim − 1), so the result equals "embed all, then
 * gather" exactly, for any order of the indices.
 *
 * Memory: the forward carves its caches from an arena (mhim_embed_arena_bytes); parameters and gradients are flat
 * buffers of the model's mhim_param_layout, addressed by the offsets that mhim_embed_bind resolves. Parameter
 * gradients ACCUMULATE (+=). */
#ifndef MHIM_MODELS_EMBED_H
#define MHIM_MODELS_EMBED_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/ops/act.h"
#include "mhim/params.h"
#include "mhim/rng.h"

#define MHIM_EMBED_DIM 512     /* mlp_dim: hard-coded 512 in both versions */
#define MHIM_EMBED_SPEC_ROWS 2 /* weight, bias */

typedef struct {
    int64_t input_dim; /* D_in (1024 for ResNet-50 features; 512/768/1536 for other encoders), >= 1 */
    int64_t dim;       /* output width, MHIM_EMBED_DIM in MHIM */
    mhim_act act;      /* MHIM_ACT_RELU or MHIM_ACT_GELU (the only two the original accepts) */
    float dropout;     /* p of dp in [0, 1); 0 = Identity */
    int version;       /* 1: keys "patch_to_emb.0.*"; 2: keys "feature.0.*" */
} mhim_embed_config;

/* Check a configuration; MHIM_EINPUT with a message naming the field otherwise. */
int mhim_embed_config_check(const mhim_embed_config *cfg);

/* Write the MHIM_EMBED_SPEC_ROWS parameter spec rows (names are static strings) to rows. cfg must be valid. */
void mhim_embed_param_spec(const mhim_embed_config *cfg, mhim_param_spec *rows);

/* Offsets of the two tensors inside any buffer of the model's layout (parameters, gradients, teacher). */
typedef struct {
    mhim_embed_config cfg;
    int64_t weight; /* offset of W_e (dim, input_dim) */
    int64_t bias;   /* offset of b_e (dim) */
} mhim_embed;

/* Resolve the offsets in layout L. MHIM_EINPUT (message naming the key and the expected shape) when a tensor is
 * missing or has the wrong shape, or when cfg is invalid. */
int mhim_embed_bind(mhim_embed *e, const mhim_embed_config *cfg, const mhim_param_layout *L);

/* Xavier-normal weight (std = sqrt(2 / (input_dim + dim))), zero bias, as the original's initialize_weights
 * (mhim_init_xavier_normal with tensor_index = the weight's index in the model's spec). */
void mhim_embed_init_params(const mhim_embed *e, float *params, uint64_t seed, uint32_t tensor_index);

/* Offset in floats of the tensor described by spec row `row` inside layout L (shared by the models' bind functions).
 * MHIM_EINPUT naming the key when it is absent, or naming the key and both shapes when the shape differs. */
int mhim_model_param_offset(int64_t *offset, const mhim_param_layout *L, const mhim_param_spec *row);

/* Initialisers shared by the models. Each tensor draws from its own stream (seed, 0, tensor_index, MHIM_RNG_INIT, 0),
 * element k from value k (normals: values 2k, 2k+1), so initialisation is independent of the thread count.
 *   mhim_init_xavier_normal: nn.init.xavier_normal_ on an (fan_out, fan_in) weight: N(0, 2 / (fan_in + fan_out)).
 *   mhim_init_normal:        N(0, std²) (e.g. the TransMIL cls token, torch.randn: std 1).
 *   mhim_init_uniform:       U(−bound, bound) (PyTorch's default conv init: bound = 1/sqrt(fan_in)). */
void mhim_init_xavier_normal(float *w, int64_t fan_out, int64_t fan_in, uint64_t seed, uint32_t tensor_index);
void mhim_init_normal(float *w, int64_t n, float std, uint64_t seed, uint32_t tensor_index);
void mhim_init_uniform(float *w, int64_t n, float bound, uint64_t seed, uint32_t tensor_index);

/* What the backward needs; every pointer lives in the arena passed to the forward. */
typedef struct {
    int64_t n;        /* rows embedded (M) */
    const float *x;   /* (M, input_dim) the embedded input rows (gathered when idx != NULL, else the caller's x) */
    float *pre;       /* (M, dim) x W_eᵀ + b_e, kept only for GELU (NULL otherwise) */
    float *act;       /* (M, dim) act(pre) */
    uint8_t *keep;    /* (M·dim) dropout keep mask, NULL when dropout is off */
    const float *h;   /* (M, dim) the output: dp(act) (== act when dropout is off) */
} mhim_embed_cache;

/* Arena bytes one forward needs for up to n_max rows (an upper bound, linear in n_max). */
size_t mhim_embed_arena_bytes(const mhim_embed_config *cfg, int64_t n_max);

/* Forward over the rows idx[0..M) of the bag x (N, input_dim) (idx == NULL: all rows, M must equal N).
 * dropout_stream: NULL = eval (dp is the identity), else train mode with masks drawn from that stream (purpose
 * MHIM_RNG_DROPOUT; student and teacher use different streams). The output is cache->h (M, dim). x must stay
 * alive until the backward when idx == NULL (cache->x points at it). M may be 0. Indices are the caller's contract
 * (0 <= idx[j] < N; a violation aborts). */
void mhim_embed_forward(mhim_embed_cache *cache, mhim_arena *arena, const mhim_embed *e, const float *params,
                        const float *x, int64_t N, const int64_t *idx, int64_t M, const mhim_rng *dropout_stream);

/* The bf16 first layer (--precision=bf16, bf16_linear and bf16_all on the CPU; mhim/ops/precision.h,
 * docs/numerics.md): while on, every front end of the process runs its two GEMMs (x·W_eᵀ and the weight gradient
 * dhᵀ·x) with x, W_e and dh rounded to bf16 and fp32 sums (AVX512_BF16); the bias, activation, dropout and everything
 * after stay fp32. Off by default. Requires mhim_precision_cpu_bf16_supported() to turn it on; set it through
 * mhim_precision_cpu_set before training starts, outside parallel regions. */
void mhim_embed_set_bf16(int on);

/* Backward for dh (M, dim): W_e and b_e gradients += into grads (the model's gradient buffer). dh is used as
 * scratch and overwritten. No input gradient (the features are data). */
void mhim_embed_backward(const mhim_embed *e, float *grads, float *dh, const mhim_embed_cache *cache);

#endif
