/* tests/cuda/support/model_parity.h — CPU model vs GPU network (mhim/cuda_model.h) on the same random parameters
 * and bag: student forward in train mode (dropout on, a shuffled kept-index list) and eval mode (all rows), the
 * backward of each (every parameter tensor's gradient, accumulated onto a non-zero start), the evaluation predict
 * (logits, feature, map) and the teacher predict in train mode (feature, map). Inputs are re-drawn until no ReLU
 * input lies within PARITY_RELU_MARGIN of 0 and no arg-max is that close to a tie (a sign flip there is float
 * rounding, not a bug); the model file supplies that check and its CPU teacher reference. */
#ifndef MHIM_TEST_CUDA_MODEL_PARITY_H
#define MHIM_TEST_CUDA_MODEL_PARITY_H

#include <stdint.h>

#include "mhim/arena.h"
#include "mhim/cuda_ops.h"
#include "mhim/model.h"
#include "mhim/rng.h"

#define PARITY_RELU_MARGIN 1e-5

typedef struct {
    const char *name;
    mhim_model_config mc;
    int64_t N, kept; /* bag rows, kept rows of the train-mode forward */
    /* Smallest distance of a ReLU input (or an arg-max gap) from its switching point in a CPU forward of m on rows
     * idx[0..n) of x (idx NULL: all N), dropout NULL = eval. */
    double (*margin)(const mhim_model *m, const float *params, const float *x, int64_t N, const int64_t *idx,
                     int64_t n, const mhim_rng *dropout);
    /* The CPU teacher forward in train mode: feat (feat_size) and map (N). */
    void (*teacher)(const mhim_model *m, mhim_arena *arena, const float *params, const float *x, int64_t N,
                    const mhim_rng *dropout, float *feat, float *map);
} model_parity_case;

/* Run every comparison of case c (printing one line each); returns the number of failing checks. */
int model_parity_run(mhim_cuda_ctx *ctx, const model_parity_case *c, uint64_t seed);

/* Smallest |v| over v (n) (the margin of ReLU inputs). */
double model_parity_min_abs(const float *v, int64_t n);

#endif
