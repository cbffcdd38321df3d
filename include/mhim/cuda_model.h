/* mhim/cuda_model.h — the MIL networks on the GPU (compiled only with MHIM_USE_CUDA=ON): the same computation as
 * the CPU models of mhim/model.h, built from the device op table (mhim/cuda_ops.h) on device pointers.
 *
 * A GPU net is created from a CPU mhim_model and takes its configuration and flat parameter layout, so parameters,
 * gradients, teacher and Adam moments are device copies of the CPU buffers, offset for offset. Caches of the last
 * student forward are carved from the context's arena: the caller marks the arena before the forward and resets it
 * after the backward. Dropout in train mode draws exactly the CPU model's masks (same Philox stream and counters as
 * mhim_model_forward), so CPU and GPU agree with dropout on. Results equal the CPU's up to float rounding
 * (docs/gpu.md). Every function that can fail on its inputs returns MHIM_OK or MHIM_EINPUT with an mhim_fail message.
 *
 * Per model kind <m> (abmil | dsmil | transmil) the same interface:
 *   create     config + layout of the CPU model (MHIM_EINPUT when the kind does not match)
 *   arena_bytes  device bytes of one train forward + backward, or of one predict, on up to n_max instances
 *   forward    student forward on the kept rows idx[0..n) (device int64; NULL = all rows, n == N) of the device bag
 *              x (N, input_dim); dropout NULL = eval; logits (C), max_logits (C, DSMIL; else may be NULL), feat
 *              (feat_size, may be NULL) device outputs
 *   backward   backward of the last forward; d_* device, each may be NULL (= 0); parameter gradients ACCUMULATE
 *   predict    whole-bag forward keeping no caches (teacher in eval or train mode via dropout, evaluation): logits,
 *              max_logits, feat, map (map_rows, N) device, each may be NULL; map = mhim_model_predict's map (ABMIL
 *              softmax attention, DSMIL max over classes of the instance logits); the arena is returned to its level.
 * attn_layer is TransMIL's (ignored by the others). */
#ifndef MHIM_CUDA_MODEL_H
#define MHIM_CUDA_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "mhim/cuda_ops.h"
#include "mhim/model.h"
#include "mhim/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ABMIL (plain or gated attention; act relu|gelu; da_act relu|gelu|tanh), cuda/model_abmil.c ---------------- */

typedef struct mhim_cuda_abmil mhim_cuda_abmil;
int mhim_cuda_abmil_create(mhim_cuda_abmil **out, const mhim_model *cpu_model);
void mhim_cuda_abmil_free(mhim_cuda_abmil *net);
size_t mhim_cuda_abmil_arena_bytes(const mhim_cuda_abmil *net, int64_t n_max);
int mhim_cuda_abmil_forward(mhim_cuda_abmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits, float *max_logits,
                            float *feat);
void mhim_cuda_abmil_backward(mhim_cuda_abmil *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                              const float *d_logits, const float *d_max_logits, const float *d_feat);
int mhim_cuda_abmil_predict(mhim_cuda_abmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits, float *feat,
                            float *map);

/* ---- DSMIL (i_classifier + BClassifier; logits = bag logits, max_logits = max-instance logits), cuda/model_dsmil.c */

typedef struct mhim_cuda_dsmil mhim_cuda_dsmil;
int mhim_cuda_dsmil_create(mhim_cuda_dsmil **out, const mhim_model *cpu_model);
void mhim_cuda_dsmil_free(mhim_cuda_dsmil *net);
size_t mhim_cuda_dsmil_arena_bytes(const mhim_cuda_dsmil *net, int64_t n_max);
int mhim_cuda_dsmil_forward(mhim_cuda_dsmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits, float *max_logits,
                            float *feat);
void mhim_cuda_dsmil_backward(mhim_cuda_dsmil *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                              const float *d_logits, const float *d_max_logits, const float *d_feat);
int mhim_cuda_dsmil_predict(mhim_cuda_dsmil *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                            const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits, float *feat,
                            float *map);

/* ---- TransMIL: mhim_cuda_transmil_* with the same signatures, declared in cuda/model_transmil.h ------------------ */

/* ---- dispatcher over the kinds, cuda/model.c -------------------------------------------------------------------- */

typedef struct mhim_cuda_net mhim_cuda_net;
/* The GPU net of cpu_model's kind (ABMIL, DSMIL or TransMIL); MHIM_EINPUT with the network's message when its
 * create refuses the model (e.g. TransMIL with the v2 Merge module). */
int mhim_cuda_net_create(mhim_cuda_net **out, const mhim_model *cpu_model);
void mhim_cuda_net_free(mhim_cuda_net *net);
size_t mhim_cuda_net_arena_bytes(const mhim_cuda_net *net, int64_t n_max);
int mhim_cuda_net_forward(mhim_cuda_net *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                          const int64_t *idx, int64_t n, const mhim_rng *dropout, float *logits, float *max_logits,
                          float *feat);
void mhim_cuda_net_backward(mhim_cuda_net *net, mhim_cuda_ctx *ctx, const float *params, float *grads,
                            const float *d_logits, const float *d_max_logits, const float *d_feat);
int mhim_cuda_net_predict(mhim_cuda_net *net, mhim_cuda_ctx *ctx, const float *params, const float *x, int64_t N,
                          const mhim_rng *dropout, int attn_layer, float *logits, float *max_logits, float *feat,
                          float *map);

#ifdef __cplusplus
}
#endif
#endif
