/* Iterative Moore–Penrose pseudo-inverse of the Nyström landmark kernel, forward and unrolled backward
 * (see mhim/ops/nystrom.h, mhim_nystrom_pinv_*). */
#include <math.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/ops/nystrom.h"
#include "ops/gemm.h"

/* out = diag·I − x  (m,m); in place allowed. */
static void diag_minus(float *out, float diag, const float *x, int64_t m) {
    for (int64_t i = 0; i < m * m; i++) out[i] = -x[i];
    for (int64_t i = 0; i < m; i++) out[i * m + i] += diag;
}

static float sign_of(float x) { return (float)((x > 0.0f) - (x < 0.0f)); }

/* Row abs-sums and column abs-sums of one head, summed in index order. */
static float head_row_sum(const float *a, int64_t m, int64_t i) {
    float s = 0.0f;
    for (int64_t j = 0; j < m; j++) s += fabsf(a[i * m + j]);
    return s;
}
static float head_col_sum(const float *a, int64_t m, int64_t j) {
    float s = 0.0f;
    for (int64_t i = 0; i < m; i++) s += fabsf(a[i * m + j]);
    return s;
}

/* Global maxima of row and column abs-sums over all heads (torch.max over the whole tensor). */
static void pinv_norms(float *row_max, float *col_max, const float *a, int64_t heads, int64_t m) {
    float rmax = -INFINITY, cmax = -INFINITY;
    for (int64_t h = 0; h < heads; h++) {
        const float *ah = a + h * m * m;
        for (int64_t i = 0; i < m; i++) {
            rmax = fmaxf(rmax, head_row_sum(ah, m, i));
            cmax = fmaxf(cmax, head_col_sum(ah, m, i));
        }
    }
    *row_max = rmax;
    *col_max = cmax;
}

int64_t mhim_nystrom_pinv_forward_scratch_floats(int64_t heads, int64_t m) { return 3 * heads * m * m; }

/* Offset of iteration it's Y, U2, U3 of head h in the intermediates array (ITERS, heads, 3, m, m). */
static int64_t inter_offset(int64_t it, int64_t h, int64_t heads, int64_t m) { return (it * heads + h) * 3 * m * m; }

/* The six iterations of one head: z_h = z + h·m·m holds Z_0 on entry; scratch 3·m·m floats of its own; inter
 * (ITERS, heads, 3, m, m) receives each iteration's Y, U2, U3 when not NULL. */
static void pinv_head_iterate(float *z, float *inter, const float *ah, float *scratch, int64_t h, int64_t heads,
                              int64_t m) {
    const int64_t mm = m * m, hmm = heads * mm;
    for (int64_t it = 0; it < MHIM_NYSTROM_PINV_ITERS; it++) {
        const float *zc = z + it * hmm + h * mm;
        float *zn = z + (it + 1) * hmm + h * mm;
        float *slot = inter ? inter + inter_offset(it, h, heads, m) : NULL;
        float *y = slot ? slot : scratch, *u1 = scratch + mm;
        float *u2 = slot ? slot + mm : scratch + 2 * mm, *u3 = slot ? slot + 2 * mm : u1;
        mhim_gemm(0, 0, m, m, m, 1.0f, ah, zc, 0.0f, y);   /* Y  = a Z        */
        diag_minus(u1, 7.0f, y, m);                        /* U1 = 7I − Y      */
        mhim_gemm(0, 0, m, m, m, 1.0f, y, u1, 0.0f, u2);   /* P1 = Y U1        */
        diag_minus(u2, 15.0f, u2, m);                      /* U2 = 15I − P1    */
        mhim_gemm(0, 0, m, m, m, 1.0f, y, u2, 0.0f, u3);   /* P2 = Y U2        */
        diag_minus(u3, 13.0f, u3, m);                      /* U3 = 13I − P2    */
        mhim_gemm(0, 0, m, m, m, 0.25f, zc, u3, 0.0f, zn); /* Z' = 0.25 Z U3  */
    }
}

void mhim_nystrom_pinv_forward(float *z, float *inter, float *norm, float *scratch, const float *a, int64_t heads,
                               int64_t m) {
    MHIM_ASSERT(heads >= 1 && m >= 1);
    const int64_t mm = m * m;
    pinv_norms(&norm[0], &norm[1], a, heads, m);
    const float s = norm[0] * norm[1];
    for (int64_t h = 0; h < heads; h++) {
        const float *ah = a + h * mm;
        float *z0 = z + h * mm;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < m; j++) z0[j * m + i] = ah[i * m + j] / s;
    }
    const int token = mhim_gemm_serial_begin(); /* the heads are independent: one per thread */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = 0; h < heads; h++)
        pinv_head_iterate(z, inter, a + h * mm, scratch + h * 3 * mm, h, heads, m);
    mhim_gemm_serial_end(token);
}

int64_t mhim_nystrom_pinv_backward_scratch_floats(int64_t heads, int64_t m) { return 9 * heads * m * m; }

/* Gradient of the normaliser s = row_max · col_max into da, given ds. The full-tensor max sends its gradient
 * evenly to all tied maximisers, then |·| multiplies by sign(a). */
static void pinv_norm_backward(float *da, float ds, const float *a, const float *norm, int64_t heads, int64_t m) {
    const int64_t mm = m * m;
    const float d_row = ds * norm[1], d_col = ds * norm[0];
    int64_t row_ties = 0, col_ties = 0;
    for (int64_t h = 0; h < heads; h++)
        for (int64_t i = 0; i < m; i++) {
            row_ties += head_row_sum(a + h * mm, m, i) == norm[0];
            col_ties += head_col_sum(a + h * mm, m, i) == norm[1];
        }
    MHIM_ASSERT(row_ties >= 1 && col_ties >= 1);
    const float g_row = d_row / (float)row_ties, g_col = d_col / (float)col_ties;
    for (int64_t h = 0; h < heads; h++) {
        const float *ah = a + h * mm;
        float *dah = da + h * mm;
        for (int64_t i = 0; i < m; i++) {
            if (head_row_sum(ah, m, i) == norm[0])
                for (int64_t j = 0; j < m; j++) dah[i * m + j] += g_row * sign_of(ah[i * m + j]);
            if (head_col_sum(ah, m, i) == norm[1])
                for (int64_t r = 0; r < m; r++) dah[r * m + i] += g_col * sign_of(ah[r * m + i]);
        }
    }
}

/* Backward through the six iterations of one head: dah written with the iterations' part of da; on return
 * scratch's first m·m floats hold G_0, the gradient of Z_0 (scratch: 9·m·m floats of its own). Each iteration's Y,
 * U2, U3 come from inter when not NULL, else they are recomputed (the same GEMMs, so the same bits). */
static void pinv_head_backward(float *dah, const float *dpinv_h, const float *z, const float *inter, float *scratch,
                               const float *ah, int64_t h, int64_t heads, int64_t m) {
    const int64_t mm = m * m, hmm = heads * mm;
    float *g = scratch, *gn = g + mm, *u1 = gn + mm, *du = u1 + mm, *dy = du + mm, *dt = dy + mm;
    float *own = dt + mm; /* Y, U2, U3 when recomputed */
    memset(dah, 0, (size_t)mm * sizeof(float));
    memcpy(g, dpinv_h, (size_t)mm * sizeof(float));
    for (int64_t it = MHIM_NYSTROM_PINV_ITERS - 1; it >= 0; it--) {
        const float *zc = z + it * hmm + h * mm;
        const float *y, *u2, *u3;
        if (inter) {
            y = inter + inter_offset(it, h, heads, m), u2 = y + mm, u3 = y + 2 * mm;
            diag_minus(u1, 7.0f, y, m);
        } else { /* recompute the iteration's intermediates */
            float *ry = own, *ru2 = own + mm, *ru3 = own + 2 * mm;
            mhim_gemm(0, 0, m, m, m, 1.0f, ah, zc, 0.0f, ry);
            diag_minus(u1, 7.0f, ry, m);
            mhim_gemm(0, 0, m, m, m, 1.0f, ry, u1, 0.0f, ru2);
            diag_minus(ru2, 15.0f, ru2, m);
            mhim_gemm(0, 0, m, m, m, 1.0f, ry, ru2, 0.0f, ru3);
            diag_minus(ru3, 13.0f, ru3, m);
            y = ry, u2 = ru2, u3 = ru3;
        }
        /* Z' = 0.25 Z U3:  dZ = 0.25 G U3ᵀ,  dU3 = 0.25 Zᵀ G */
        mhim_gemm(0, 1, m, m, m, 0.25f, g, u3, 0.0f, gn);
        mhim_gemm(1, 0, m, m, m, 0.25f, zc, g, 0.0f, du);
        /* U3 = 13I − Y U2:  dY = −dU3 U2ᵀ,  dP1 = −dU2 = Yᵀ dU3 */
        mhim_gemm(0, 1, m, m, m, -1.0f, du, u2, 0.0f, dy);
        mhim_gemm(1, 0, m, m, m, 1.0f, y, du, 0.0f, dt);
        /* U2 = 15I − Y U1:  dY += dP1 U1ᵀ;  U1 = 7I − Y:  dY −= Yᵀ dP1 */
        mhim_gemm(0, 1, m, m, m, 1.0f, dt, u1, 1.0f, dy);
        mhim_gemm(1, 0, m, m, m, -1.0f, y, dt, 1.0f, dy);
        /* Y = a Z:  da += dY Zᵀ,  dZ += aᵀ dY */
        mhim_gemm(0, 1, m, m, m, 1.0f, dy, zc, 1.0f, dah);
        mhim_gemm(1, 0, m, m, m, 1.0f, ah, dy, 1.0f, gn);
        float *swap = g;
        g = gn;
        gn = swap;
    }
    if (g != scratch) memcpy(scratch, g, (size_t)mm * sizeof(float));
}

void mhim_nystrom_pinv_backward(float *da, const float *dpinv, const float *z, const float *inter, const float *norm,
                                float *scratch, const float *a, int64_t heads, int64_t m) {
    MHIM_ASSERT(heads >= 1 && m >= 1);
    const int64_t mm = m * m;
    const float s = norm[0] * norm[1];
    const int token = mhim_gemm_serial_begin(); /* the heads are independent up to the normaliser: one per thread */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = 0; h < heads; h++)
        pinv_head_backward(da + h * mm, dpinv + h * mm, z, inter, scratch + h * 9 * mm, a + h * mm, h, heads, m);
    mhim_gemm_serial_end(token);
    /* Z_0 = aᵀ / s: da += G_0ᵀ / s, and ds = −Σ G_0 ⊙ Z_0 / s (summed over the heads in order) */
    double ds = 0.0;
    for (int64_t h = 0; h < heads; h++) {
        const float *g = scratch + h * 9 * mm, *z0 = z + h * mm;
        float *dah = da + h * mm;
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < m; j++) {
                dah[i * m + j] += g[j * m + i] / s;
                ds -= (double)g[j * m + i] * z0[j * m + i];
            }
    }
    pinv_norm_backward(da, (float)(ds / s), a, norm, heads, m);
}
