/* Cross-entropy with hard labels and the soft-target (consistency) cross-entropy (see mhim/ops/loss.h). */
#include "mhim/ops/loss.h"

#include <math.h>

#include "mhim/common.h"

/* p = softmax(x / temp) over n elements (x / temp rounded to float first, as torch divides the tensor); returns
 * the log-normaliser log Σ exp(x/temp). */
static double softmax_scaled(float *p, const float *x, float temp, int64_t n) {
    float max = -INFINITY;
    for (int64_t j = 0; j < n; j++) max = fmaxf(max, x[j] / temp);
    double sum = 0.0;
    for (int64_t j = 0; j < n; j++) sum += exp((double)(x[j] / temp) - max);
    for (int64_t j = 0; j < n; j++) p[j] = (float)(exp((double)(x[j] / temp) - max) / sum);
    return (double)max + log(sum);
}

float mhim_cross_entropy_forward(float *probs, const float *logits, const int64_t *target, int64_t B, int64_t C) {
    MHIM_ASSERT(B > 0 && C > 0);
    double total = 0.0;
    for (int64_t b = 0; b < B; b++) {
        MHIM_ASSERT(target[b] >= 0 && target[b] < C);
        double lse = softmax_scaled(probs + b * C, logits + b * C, 1.0f, C);
        total += lse - logits[b * C + target[b]];
    }
    return (float)(total / (double)B);
}

void mhim_cross_entropy_backward(float *dlogits, const float *probs, const int64_t *target, float dloss, int64_t B,
                                 int64_t C) {
    float scale = dloss / (float)B;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < C; j++)
            dlogits[b * C + j] = scale * (probs[b * C + j] - (j == target[b] ? 1.0f : 0.0f));
}

float mhim_soft_target_ce_forward(float *p_student, float *p_teacher, const float *student, const float *teacher,
                                  float temp_t, float temp_s, int64_t R, int64_t D) {
    MHIM_ASSERT(temp_t > 0.0f && temp_s > 0.0f && R > 0 && D > 0);
    double total = 0.0;
    for (int64_t r = 0; r < R; r++) {
        const float *s = student + r * D;
        const float *pt = p_teacher + r * D;
        softmax_scaled(p_teacher + r * D, teacher + r * D, temp_t, D);
        double lse = softmax_scaled(p_student + r * D, s, temp_s, D);
        double row = 0.0;
        for (int64_t d = 0; d < D; d++) row -= (double)pt[d] * ((double)(s[d] / temp_s) - lse);
        total += row;
    }
    return (float)(total / (double)R);
}

void mhim_soft_target_ce_backward(float *dstudent, const float *p_student, const float *p_teacher, float dloss,
                                  float temp_s, int64_t R, int64_t D) {
    float scale = dloss / ((float)R * temp_s);
    int64_t n = R * D;
    for (int64_t i = 0; i < n; i++) dstudent[i] = scale * (p_student[i] - p_teacher[i]);
}
