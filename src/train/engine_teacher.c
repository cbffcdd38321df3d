/* The teacher forward of the MHIM step (forward_teacher of the original): bag feature and per-instance map over
 * all N instances, in train mode (dropout on, as the original) or eval mode. Binds each network's own teacher
 * forward on the registry model's layout, with the configuration conversions the registry uses. */
#include "mhim/common.h"
#include "mhim/models/network_configs.h"
#include "train/engine_internal.h"

int engine_teacher_bind(engine_teacher *t, const mhim_model *m, int attn_layer) {
    const mhim_model_config *c = mhim_model_get_config(m);
    const mhim_param_layout *L = mhim_model_layout(m);
    t->kind = c->kind;
    t->attn_layer = attn_layer;
    switch (c->kind) {
    case MHIM_MODEL_ABMIL: {
        mhim_abmil_config a = mhim_registry_abmil_config(c);
        return mhim_abmil_bind(&t->net.abmil, &a, L);
    }
    case MHIM_MODEL_TRANSMIL: {
        if (attn_layer != 0 && attn_layer != 1 && attn_layer != -1)
            return mhim_fail("--attn_layer=%d: expected 0 (layer 1) or -1 / 1 (layer 2)", attn_layer);
        mhim_transmil_config tc = mhim_registry_transmil_config(c);
        return mhim_transmil_bind(&t->net.transmil, &tc, L);
    }
    case MHIM_MODEL_DSMIL: {
        mhim_dsmil_config dc = mhim_registry_dsmil_config(c);
        return mhim_dsmil_bind(&t->net.dsmil, &dc, L);
    }
    }
    return mhim_fail("teacher: unknown model kind %d", (int)c->kind);
}

size_t engine_teacher_arena_bytes(const engine_teacher *t, int64_t n_max) {
    switch (t->kind) {
    case MHIM_MODEL_ABMIL: return mhim_abmil_arena_bytes(&t->net.abmil.cfg, n_max);
    case MHIM_MODEL_TRANSMIL: return mhim_transmil_teacher_arena_bytes(&t->net.transmil.cfg, n_max);
    case MHIM_MODEL_DSMIL: return mhim_dsmil_arena_bytes(&t->net.dsmil.cfg, n_max);
    }
    return 0;
}

int engine_teacher_forward(engine_teacher *t, mhim_arena *arena, const float *params, const float *x, int64_t N,
                           const mhim_rng *dropout, float *feat, float *map) {
    if (N < 1) return mhim_fail("teacher forward: empty bag");
    switch (t->kind) {
    case MHIM_MODEL_ABMIL:
        mhim_abmil_teacher_forward(feat, map, NULL, arena, &t->net.abmil, params, x, N, dropout);
        return MHIM_OK;
    case MHIM_MODEL_TRANSMIL: {
        mhim_transmil_teacher_out o = {.attn_layer = t->attn_layer, .feat = feat, .attn = map};
        return mhim_transmil_teacher_forward(&o, arena, &t->net.transmil, params, x, N, NULL, N, dropout);
    }
    case MHIM_MODEL_DSMIL:
        mhim_dsmil_teacher_forward(feat, map, arena, &t->net.dsmil, params, x, N, dropout);
        return MHIM_OK;
    }
    return mhim_fail("teacher: unknown model kind %d", (int)t->kind);
}
