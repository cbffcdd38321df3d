/* src/models/transmil_scores.h — teacher-side outputs shared by the TransMIL teacher forward and the row-blocked
 * evaluation forward (private to src/models/transmil*.c). */
#ifndef MHIM_MODELS_TRANSMIL_SCORES_H
#define MHIM_MODELS_TRANSMIL_SCORES_H

#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/models/transmil.h"
#include "mhim/rng.h"

/* v2 get_pseudo_score_trans for the instances [i0, i0 + rows) of n_keep:
 *   ctx[i, h·dh + d] = attn[h, i] · v[h, pad+1+i, d];  u = Dropout0.1(ctx W_o1ᵀ + b_o1);  cam = u W_pᵀ + b_p[0];
 *   scores[i - i0] = max_c softmax_c(cam[i]).
 * attn (H, n_keep) layer-1 cls attention; v (H, pad + n_keep + 1, dh) layer-1 values (padded layout).
 * stream: NULL = eval, else the dropout of band 3 (values indexed by instance, so any row split draws the same
 * masks). Arena scratch (rows·(I + D + C) floats + rows·D bytes) is released before returning. */
void mhim_transmil_attn2score_rows(float *scores, mhim_arena *arena, const mhim_transmil *m, const float *params,
                                   const float *attn, const float *v, int64_t pad, int64_t n_keep, int64_t i0,
                                   int64_t rows, const mhim_rng *stream);

/* Arena bytes of one mhim_transmil_attn2score_rows call on `rows` rows. */
size_t mhim_transmil_attn2score_bytes(const mhim_transmil_config *cfg, int64_t rows);

/* values (H, n_keep, dh) = the instance rows pad+1.. of v (H, pad + n_keep + 1, dh). */
void mhim_transmil_copy_values(float *values, const float *v, int64_t H, int64_t pad, int64_t n_keep, int64_t dh);

#endif
