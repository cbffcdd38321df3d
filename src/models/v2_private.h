/* src/models/v2_private.h — the mhim_v2 companion object (mhim/v2.h), shared by its source files. */
#ifndef MHIM_MODELS_V2_PRIVATE_H
#define MHIM_MODELS_V2_PRIVATE_H

#include "mhim/models/abmil.h"
#include "mhim/models/dsmil.h"
#include "mhim/models/transmil.h"
#include "mhim/ops/merge.h"
#include "mhim/v2.h"

struct mhim_v2 {
    mhim_model_config cfg;
    mhim_v2_options opt;
    const mhim_param_layout *layout; /* the model's */
    mhim_merge merge;
    union {
        mhim_abmil abmil;
        mhim_transmil transmil;
        mhim_dsmil dsmil;
    } net;
    const mhim_embed *embed; /* the front end inside net */
    /* caches of the last student forward (blocks in the caller's arena) */
    mhim_embed_cache emb;
    mhim_merge_cache mc;
    union {
        mhim_abmil_cache abmil;
        mhim_transmil_cache transmil;
        mhim_dsmil_model_cache dsmil;
    } head;
    int64_t *perm;             /* (L) copy of the shuffle */
    int64_t L, n_keep, tokens; /* hard-kept rows, Merge-kept rows, encoder tokens */
    float *tok;                /* (tokens, 512) encoder input concat(Xk, Z) */
    float *xm;                 /* (L − n_keep, 512) recycled rows */
    int cached;                /* a student forward ran since the last backward */
};

/* Encoder (+ predictor) forward on tokens tok (n, 512): logits (C; DSMIL averaged) and feat (feat_size, or NULL)
 * written; caches in v->head. dropout: TransMIL's to_out layers (bands 1, 2); NULL = none. */
void mhim_v2_head_forward(mhim_v2 *v, mhim_arena *arena, const float *params, const float *tok, int64_t n,
                          const mhim_rng *dropout, float *logits, float *feat);
/* Arena bytes of mhim_v2_head_forward + its backward on up to n tokens. */
size_t mhim_v2_head_arena_bytes(const mhim_v2 *v, int64_t n);

#endif
