/* mhim/ops/act.h — element-wise activations: ReLU, exact-erf GELU, tanh, sigmoid.
 *
 * All functions take n elements of host float32 and may run in place (out == inp, dinp == dout). The input
 * gradient is WRITTEN (=). Each backward takes whichever forward tensor is cheapest: the output for ReLU, tanh and
 * sigmoid, the input for GELU. */
#ifndef MHIM_OPS_ACT_H
#define MHIM_OPS_ACT_H

#include <stdint.h>

/* Loops of the CPU ops over fewer elements than this run on one thread (a fork/join costs more than the work).
 * Every element is computed the same way either way, so results do not depend on it. */
#define MHIM_OPS_PARALLEL_MIN 32768

typedef enum { MHIM_ACT_RELU = 0, MHIM_ACT_GELU, MHIM_ACT_TANH, MHIM_ACT_SIGMOID } mhim_act;

/* F.relu: out = max(inp, 0). Backward: dinp = dout · 1[out > 0] (= torch's threshold_backward on the output). */
void mhim_relu_forward(float *out, const float *inp, int64_t n);
void mhim_relu_backward(float *dinp, const float *dout, const float *out, int64_t n);

/* F.gelu(approximate='none'): out = inp · Φ(inp) = 0.5·x·(1 + erf(x/√2)).
 * Backward: dinp = dout · (Φ(x) + x·φ(x)), φ the standard normal density; needs the forward INPUT. */
void mhim_gelu_forward(float *out, const float *inp, int64_t n);
void mhim_gelu_backward(float *dinp, const float *dout, const float *inp, int64_t n);

/* torch.tanh. Backward: dinp = dout · (1 − out²). */
void mhim_tanh_forward(float *out, const float *inp, int64_t n);
void mhim_tanh_backward(float *dinp, const float *dout, const float *out, int64_t n);

/* torch.sigmoid: out = 1/(1 + e^−x). Backward: dinp = dout · out · (1 − out). */
void mhim_sigmoid_forward(float *out, const float *inp, int64_t n);
void mhim_sigmoid_backward(float *dinp, const float *dout, const float *out, int64_t n);

/* Dispatch on act. mhim_act_backward reads `inp` only for GELU and `out` only for the others, so a caller that
 * never uses GELU need not keep the pre-activation (pass NULL). */
void mhim_act_forward(mhim_act act, float *out, const float *inp, int64_t n);
void mhim_act_backward(mhim_act act, float *dinp, const float *dout, const float *inp, const float *out, int64_t n);
/* True when mhim_act_backward needs the forward input (GELU). */
int mhim_act_needs_input(mhim_act act);

#endif
