/* mhim/model.h — one interface over the three MIL networks (ABMIL, TransMIL, DSMIL in include/mhim/models).
 *
 * A mhim_model holds a model's configuration, its parameter layout (names = the original state_dict keys) and the
 * caches of its last student forward; parameters, gradients, the teacher and Adam moments are caller-owned flat
 * buffers of mhim_model_layout(m). Dispatch is a switch over the kind: the numbers are those of the model files.
 *
 * Outputs of every forward (mhim_model_out): logits (C) = the predictor logits (ABMIL, TransMIL) or DSMIL's bag
 * logits; max_logits (C) = DSMIL's max-instance logits (unused by the other two); feat = the bag feature the
 * consistency loss uses (512 floats, DSMIL C·512). The model's own classification loss and its evaluation
 * probabilities (which combine DSMIL's two logit vectors per version) are mhim_model_class_loss / mhim_model_probs.
 *
 * Memory: forward/backward/predict allocate nothing; they carve their blocks from the caller's arena, sized by the
 * *_arena_bytes functions (linear in the instance count). A mhim_model is used by one thread at a time. */
#ifndef MHIM_MODEL_H
#define MHIM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/ops/act.h"
#include "mhim/params.h"
#include "mhim/rng.h"

struct mhim_config;

typedef enum { MHIM_MODEL_ABMIL = 1, MHIM_MODEL_TRANSMIL = 2, MHIM_MODEL_DSMIL = 3 } mhim_model_kind;

typedef struct {
    mhim_model_kind kind;
    int version;       /* 1 (MHIM-MIL) or 2 (MHIM-v2): key names, DSMIL loss/probabilities, teacher scores */
    int64_t input_dim; /* D_in */
    int64_t n_classes; /* C */
    mhim_act act;      /* front-end activation: relu | gelu */
    float dropout;     /* front-end dropout p */
    mhim_act da_act;   /* ABMIL attention activation: relu | gelu | tanh */
    int gated;         /* ABMIL gated variant */
    int64_t heads;     /* TransMIL heads */
    int attn2score;    /* v2 class-aware teacher scores (DSMIL: instance logits instead of attention) */
    int64_t merge_k;   /* v2 Merge global queries (--merge_k with --merge_enable); 0 = no Merge module (v1,
                          mhim_pure). > 0 puts the merge.* tensors first in the layout (mhim/v2.h) */
} mhim_model_config;

#define MHIM_MODEL_CONFIG_TEXT 256 /* buffer size for mhim_model_config_text */

/* "abmil" | "transmil" | "dsmil". */
const char *mhim_model_kind_name(mhim_model_kind kind);
/* The model the training options describe: baseline attn|selfattn|dsmil, mhim_version, input_dim, n_classes, act,
 * dropout, da_act, n_heads, attn2score, merge_k (v2 --model=mhim with --merge_enable, else 0). MHIM_EINPUT naming the
 * option otherwise. */
int mhim_model_config_from_options(mhim_model_config *mc, const struct mhim_config *cfg);
/* One-line text form stored in checkpoints: "version=1 input_dim=1024 n_classes=2 act=relu dropout=0.25 ..."
 * (every field except the kind, which is stored as the model name). */
void mhim_model_config_text(const mhim_model_config *mc, char *out, size_t cap);
/* Inverse of the above for model `name`; unknown or missing fields and bad values are MHIM_EINPUT. */
int mhim_model_config_parse(mhim_model_config *mc, const char *name, const char *text);

/* The model a torch.save state_dict holds, from its keys and shapes: kind (cls_token => TransMIL, i_classifier =>
 * DSMIL, attention => ABMIL, attention_a => gated ABMIL), version (patch_to_emb => 1, feature => 2), input_dim,
 * n_classes and TransMIL heads. What keys cannot tell (act, da_act, dropout, attn2score) is copied from *defaults.
 * section as in mhim_load_opts (NULL = auto). MHIM_EINPUT naming the file when it holds no known model. */
int mhim_model_config_infer_pt(mhim_model_config *mc, const char *path, const char *section,
                               const mhim_model_config *defaults);

typedef struct mhim_model mhim_model;

/* Check the configuration and build the model (layout + bound offsets). MHIM_EINPUT naming the field. */
int mhim_model_create(mhim_model **out, const mhim_model_config *mc);
void mhim_model_free(mhim_model *m);
const mhim_model_config *mhim_model_get_config(const mhim_model *m);
const mhim_param_layout *mhim_model_layout(const mhim_model *m);
/* The original initialisation (see each model's header), deterministic in seed. The network tensors are drawn
 * from mhim_model_network_init_seed(config, seed), the Merge tensors (merge_k > 0) from seed. */
void mhim_model_init_params(const mhim_model *m, float *params, uint64_t seed);
/* The key of the network tensors' initial draws: seed itself, or, for an MHIM-v2 stage-2 model (merge_k > 0), a
 * key derived from it. The original builds the Merge module, which draws from torch's stream, before it
 * initialises the network: with the same seed its stage-2 student is unrelated to the stage-1 (mhim_pure) model,
 * and so to the teacher trained from it. With the same key both would get the same weights, and the student would
 * start next to its teacher. */
uint64_t mhim_model_network_init_seed(const mhim_model_config *mc, uint64_t seed);
/* Floats of the bag feature (512, or C·512 for DSMIL). */
int64_t mhim_model_feat_size(const mhim_model *m);
/* Rows of the per-instance map of mhim_model_predict: TransMIL heads, else 1. */
int64_t mhim_model_map_rows(const mhim_model *m);

typedef struct {
    float *logits;     /* (C) written */
    float *max_logits; /* (C) DSMIL: written; other models: may be NULL */
    float *feat;       /* (feat_size) written when not NULL */
} mhim_model_out;

/* Arena bytes for one student forward + backward on up to n_max kept instances. */
size_t mhim_model_train_arena_bytes(const mhim_model *m, int64_t n_max);
/* Student forward on the kept rows idx[0..n) of the bag x (N, input_dim) (idx NULL: all rows, n == N), in the
 * order given (TransMIL depends on it). dropout: NULL = eval, else train mode with that stream. Caches stay in the
 * arena and in m for mhim_model_backward. MHIM_EINPUT when n < 1. */
int mhim_model_forward(mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                       const int64_t *idx, int64_t n, const mhim_rng *dropout, const mhim_model_out *out);
/* Backward of the last forward: d_logits (C), d_max_logits (C, DSMIL only), d_feat (feat_size) may each be NULL
 * (= 0). Parameter gradients ACCUMULATE into grads. */
void mhim_model_backward(mhim_model *m, mhim_arena *arena, const float *params, float *grads, const float *d_logits,
                         const float *d_max_logits, const float *d_feat);

/* The model's classification loss for label y with gradients (WRITTEN, scaled by weight) w.r.t. logits and
 * max_logits: CE(logits) for ABMIL/TransMIL; DSMIL v1 0.5·CE(bag) + 0.5·CE(max), v2 CE(mean). Returns the loss. */
float mhim_model_class_loss(const mhim_model *m, const mhim_model_out *out, int64_t y, float weight, float *d_logits,
                            float *d_max_logits);
/* Evaluation probabilities (C): softmax(logits), DSMIL per version (mhim/models/dsmil.h). */
void mhim_model_probs(const mhim_model *m, const mhim_model_out *out, float *probs);

/* Arena bytes for one mhim_model_predict on a bag of up to n_max instances. */
size_t mhim_model_predict_arena_bytes(const mhim_model *m, int64_t n_max);
/* Evaluation forward over the whole bag (no dropout, no caches kept): out as above, and when map is not NULL the
 * per-instance map (map_rows, N) the masking and heatmaps use: ABMIL softmax attention; TransMIL per-head
 * cls-row attention of layer 1 (not renormalised); DSMIL max over classes of the instance logits.
 * MHIM_EINPUT when N < 1. The arena is returned to its fill level. */
int mhim_model_predict(mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                       const mhim_model_out *out, float *map);

#endif
