/* Nyström attention layer backward (see mhim/ops/nystrom.h, mhim_nystrom_backward). */

#include "mhim/common.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/nystrom.h"
#include "mhim/ops/softmax.h"
#include "ops/gemm.h"

int64_t mhim_nystrom_backward_scratch_floats(int64_t n, int64_t dim, int64_t heads, int64_t dim_head,
                                             int64_t landmarks) {
    const int64_t np = mhim_nystrom_padded_len(n, landmarks), H = heads, m = landmarks, dh = dim_head;
    return 4 * n * H * dh + 4 * H * np * dh + np * m + 2 * m * dh + m * np + 2 * H * m * m + 2 * H * m * dh +
           m * (2 * dim + H * dh) + mhim_nystrom_pinv_backward_scratch_floats(H, m);
}

void mhim_nystrom_backward(float *dx, float *dw_qkv, float *dw_out, float *db_out, float *dw_res, const float *dout,
                           const mhim_nystrom_cache *c, float *scratch, const float *x, const float *w_qkv,
                           const float *w_out, const float *w_res, int64_t n, int64_t dim, int64_t heads,
                           int64_t dim_head, int64_t landmarks, int64_t out_rows) {
    MHIM_ASSERT(mhim_nystrom_check_dims(n, dim, heads, dim_head, landmarks) == MHIM_OK);
    const int64_t H = heads, dh = dim_head, m = landmarks, inner = H * dh;
    const int64_t p = mhim_nystrom_pad(n, m), np = n + p, l = np / m;
    int64_t a1_first, a1_rows; /* the a1 rows the forward computed; the others carry no gradient */
    mhim_nystrom_a1_span(n, m, out_rows, &a1_first, &a1_rows);
    const float scale = mhim_nystrom_q_scale(dh);
    float *dmerged = scratch;          /* (n, I)     */
    float *dqkv = dmerged + n * inner; /* (n, 3I)    */
    float *d_o = dqkv + n * 3 * inner; /* (H, np, dh) */
    float *dq = d_o + H * np * dh;     /* (H, np, dh) */
    float *dk = dq + H * np * dh;      /* (H, np, dh) */
    float *dv = dk + H * np * dh;      /* (H, np, dh) */
    float *da1 = dv + H * np * dh;     /* (np, m) one head */
    float *dza3v = da1 + np * m;       /* (m, dh) one head */
    float *da3v = dza3v + m * dh;      /* (m, dh) one head */
    float *da3 = da3v + m * dh;        /* (m, np) one head */
    float *dz = da3 + m * np;          /* (H, m, m)  */
    float *da2 = dz + H * m * m;       /* (H, m, m)  */
    float *dql = da2 + H * m * m;      /* (H, m, dh) */
    float *dkl = dql + H * m * dh;     /* (H, m, dh) */
    float *seg = dkl + H * m * dh;     /* (m, D) segment means of x (out_rows < n) */
    float *g_seg = seg + m * dim;      /* (m, I) their projection's gradient */
    float *dseg = g_seg + m * inner;   /* (m, D) */
    float *pinv_tmp = dseg + m * dim;
    const float *pinv = c->z + MHIM_NYSTROM_PINV_ITERS * H * m * m;

    /* to_out and the crop: only the output rows carry gradient. d_o holds it on rows [p, p + out_rows) of each head
     * and zeros on the other rows the a1 products read (the front padding when the whole layer is computed); its
     * other rows are never read. dv starts at zero. */
    mhim_linear_backward(dmerged, dw_out, db_out, dout, c->merged, w_out, out_rows, inner, dim);
    const int64_t span = a1_first + a1_rows;
#pragma omp parallel for schedule(static)
    for (int64_t ht = 0; ht < H * np; ht++) {
        const int64_t h = ht / np, tp = ht % np;
        float *g = d_o + ht * dh, *gv = dv + ht * dh;
        for (int64_t d = 0; d < dh; d++) gv[d] = 0.0f;
        if (tp >= p && tp < p + out_rows)
            for (int64_t d = 0; d < dh; d++) g[d] = dmerged[(tp - p) * inner + h * dh + d];
        else if (tp >= a1_first && tp < span)
            for (int64_t d = 0; d < dh; d++) g[d] = 0.0f;
    }
    mhim_nystrom_res_conv_backward_rows_acc(dv, dw_res, d_o, c->v, w_res, H, np, dh, p, out_rows);

    for (int64_t h = 0; h < H; h++) {
        const float *a1h = c->a1 + h * np * m, *a3h = c->a3 + h * m * np, *zh = pinv + h * m * m;
        const float *qh = c->q + h * np * dh, *kh = c->k + h * np * dh, *vh = c->v + h * np * dh;
        const float *qlh = c->q_land + h * m * dh, *klh = c->k_land + h * m * dh;
        const float *doh = d_o + h * np * dh;
        /* o = a1 · za3v (da1 holds the a1_rows rows from a1_first) */
        mhim_gemm(0, 1, a1_rows, m, dh, 1.0f, doh + a1_first * dh, c->za3v + h * m * dh, 0.0f, da1);
        mhim_gemm(1, 0, m, dh, a1_rows, 1.0f, a1h + a1_first * m, doh + a1_first * dh, 0.0f, dza3v);
        /* za3v = Z · a3v */
        mhim_gemm(0, 1, m, m, dh, 1.0f, dza3v, c->a3v + h * m * dh, 0.0f, dz + h * m * m);
        mhim_gemm(1, 0, m, dh, m, 1.0f, zh, dza3v, 0.0f, da3v);
        /* a3v = a3 · v */
        mhim_gemm(0, 1, m, np, dh, 1.0f, da3v, vh, 0.0f, da3);
        mhim_gemm(1, 0, np, dh, m, 1.0f, a3h, da3v, 1.0f, dv + h * np * dh);
        /* softmaxes of a1 and a3 */
        mhim_softmax_rows_backward(da1, da1, a1h + a1_first * m, a1_rows, m);
        mhim_softmax_rows_backward(da3, da3, a3h, m, np);
        /* s1 = q k_landᵀ,  s3 = q_land kᵀ */
        mhim_gemm(0, 0, a1_rows, dh, m, 1.0f, da1, klh, 0.0f, dq + (h * np + a1_first) * dh);
        mhim_gemm(1, 0, m, dh, a1_rows, 1.0f, da1, qh + a1_first * dh, 0.0f, dkl + h * m * dh);
        mhim_gemm(0, 0, m, dh, np, 1.0f, da3, kh, 0.0f, dql + h * m * dh);
        mhim_gemm(1, 0, np, dh, m, 1.0f, da3, qlh, 0.0f, dk + h * np * dh);
    }
    /* pinv (global normaliser couples the heads), then the softmax of a2 and s2 = q_land k_landᵀ */
    mhim_nystrom_pinv_backward(da2, dz, c->z, c->pinv_inter, c->pinv_norm, pinv_tmp, c->a2, H, m);
    mhim_softmax_rows_backward(da2, da2, c->a2, H * m, m);
    for (int64_t h = 0; h < H; h++) {
        const float *da2h = da2 + h * m * m;
        mhim_gemm(0, 0, m, dh, m, 1.0f, da2h, c->k_land + h * m * dh, 1.0f, dql + h * m * dh);
        mhim_gemm(1, 0, m, dh, m, 1.0f, da2h, c->q_land + h * m * dh, 1.0f, dkl + h * m * dh);
    }
    mhim_nystrom_landmarks_backward_acc(dk, dkl, H, m, l, dh);
    const int whole = out_rows == n;
    if (whole) mhim_nystrom_landmarks_backward_acc(dq, dql, H, m, l, dh);
    /* q scaling and head merge of the real rows, as the forward split them: [q | k | v] as (n, 3I) for the whole
     * layer; else k, v as (n, 2I) and q of the output rows (dq holds those rows only) as (out_rows, I) */
    const int64_t kv_ld = whole ? 3 * inner : 2 * inner, q_ld = whole ? 3 * inner : inner;
    float *kv_dst = whole ? dqkv + inner : dqkv, *q_dst = whole ? dqkv : dmerged;
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n; t++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t src = (h * np + p + t) * dh;
            float *kv = kv_dst + t * kv_ld + h * dh;
            for (int64_t d = 0; d < dh; d++) {
                kv[d] = dk[src + d];
                kv[inner + d] = dv[src + d];
            }
            if (t >= out_rows) continue;
            float *q = q_dst + t * q_ld + h * dh;
            for (int64_t d = 0; d < dh; d++) q[d] = dq[src + d] * scale;
        }
    if (whole) {
        mhim_linear_backward(dx, dw_qkv, NULL, dqkv, x, w_qkv, n, dim, 3 * inner);
        return;
    }
    /* out_rows < n: to_qkv's k, v rows of every row, its q rows for the output rows and for the landmark means,
     * which the forward projected from the segment means of x */
    const float *dkv = dqkv, *g_rows = dmerged;
    for (int64_t h = 0; h < H; h++)
        for (int64_t j = 0; j < m; j++)
            for (int64_t d = 0; d < dh; d++) g_seg[j * inner + h * dh + d] = dql[(h * m + j) * dh + d] * scale;
    mhim_nystrom_segment_means(seg, x, n, dim, m);
    mhim_linear_backward(dx, dw_qkv + inner * dim, NULL, dkv, x, w_qkv + inner * dim, n, dim, 2 * inner);
    mhim_linear_backward_acc(dx, dw_qkv, NULL, g_rows, x, w_qkv, out_rows, dim, inner);
    mhim_linear_backward(dx ? dseg : NULL, dw_qkv, NULL, g_seg, seg, w_qkv, m, dim, inner);
    if (!dx) return;
    /* each real row of segment j gets dseg[j] / l (the padding rows have no gradient to take) */
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < n; t++) {
        const float *g = dseg + ((p + t) / l) * dim;
        for (int64_t j = 0; j < dim; j++) dx[t * dim + j] += g[j] / (float)l;
    }
}
