/* Nyström attention layer: cache layout, forward and the cls attention export (see mhim/ops/nystrom.h). */
#include <cblas.h>
#include <math.h>

#include "mhim/common.h"
#include "mhim/ops/linear.h"
#include "mhim/ops/nystrom.h"
#include "ops/gemm.h"

int64_t mhim_nystrom_cache_floats(int64_t n, int64_t heads, int64_t dim_head, int64_t landmarks) {
    const int64_t np = mhim_nystrom_padded_len(n, landmarks), H = heads, m = landmarks, dh = dim_head;
    return 3 * H * np * dh + 2 * H * m * dh + H * np * m + H * m * m + H * m * np +
           (MHIM_NYSTROM_PINV_ITERS + 1) * H * m * m + 3 * MHIM_NYSTROM_PINV_ITERS * H * m * m + 2 + 2 * H * m * dh +
           n * H * dh;
}

void mhim_nystrom_cache_bind(mhim_nystrom_cache *c, float *buf, int64_t n, int64_t heads, int64_t dim_head,
                             int64_t landmarks) {
    const int64_t np = mhim_nystrom_padded_len(n, landmarks), H = heads, m = landmarks, dh = dim_head;
    float *p = buf;
    c->q = p, p += H * np * dh;
    c->k = p, p += H * np * dh;
    c->v = p, p += H * np * dh;
    c->q_land = p, p += H * m * dh;
    c->k_land = p, p += H * m * dh;
    c->a1 = p, p += H * np * m;
    c->a2 = p, p += H * m * m;
    c->a3 = p, p += H * m * np;
    c->z = p, p += (MHIM_NYSTROM_PINV_ITERS + 1) * H * m * m;
    c->pinv_inter = p, p += 3 * MHIM_NYSTROM_PINV_ITERS * H * m * m;
    c->pinv_norm = p, p += 2;
    c->a3v = p, p += H * m * dh;
    c->za3v = p, p += H * m * dh;
    c->merged = p, p += n * H * dh;
    MHIM_ASSERT(p - buf == mhim_nystrom_cache_floats(n, heads, dim_head, landmarks));
}

int64_t mhim_nystrom_forward_scratch_floats(int64_t n, int64_t dim, int64_t heads, int64_t dim_head,
                                            int64_t landmarks) {
    const int64_t np = mhim_nystrom_padded_len(n, landmarks);
    return 3 * n * heads * dim_head + heads * np * dim_head + landmarks * (dim + heads * dim_head) +
           mhim_nystrom_pinv_forward_scratch_floats(heads, landmarks);
}

float mhim_nystrom_q_scale(int64_t dim_head) { return (float)pow((double)dim_head, -0.5); }

void mhim_nystrom_forward(float *out, mhim_nystrom_cache *c, float *scratch, const float *x, const float *w_qkv,
                          const float *w_out, const float *b_out, const float *w_res, int64_t n, int64_t dim,
                          int64_t heads, int64_t dim_head, int64_t landmarks, int64_t out_rows) {
    MHIM_ASSERT(mhim_nystrom_check_dims(n, dim, heads, dim_head, landmarks) == MHIM_OK);
    const int64_t H = heads, dh = dim_head, m = landmarks, inner = H * dh;
    const int64_t p = mhim_nystrom_pad(n, m), np = n + p, l = np / m;
    int64_t a1_first, a1_rows; /* the query rows whose a1 is computed */
    mhim_nystrom_a1_span(n, m, out_rows, &a1_first, &a1_rows);
    const float scale = mhim_nystrom_q_scale(dh);
    float *qkv = scratch;           /* (n, 3I) */
    float *o = qkv + n * 3 * inner; /* (H, np, dh) */
    float *seg = o + H * np * dh;   /* (m, D) segment means of the padded x (out_rows < n) */
    float *q_seg = seg + m * dim;   /* (m, I) their projection */
    float *pinv_tmp = q_seg + m * inner;

    /* q, k, v of every row in one (n, 3I) block; with out_rows < n, k and v of every row as (n, 2I) and q of the
     * output rows only as (out_rows, I) after them */
    const int whole = out_rows == n;
    const int64_t kv_ld = whole ? 3 * inner : 2 * inner;
    const float *q_src = qkv, *kv_src = whole ? qkv + inner : qkv;
    int64_t q_ld = 3 * inner;
    if (whole) {
        mhim_linear_forward(qkv, x, w_qkv, NULL, n, dim, 3 * inner);
    } else {
        mhim_linear_forward(qkv, x, w_qkv + inner * dim, NULL, n, dim, 2 * inner);
        q_src = qkv + n * 2 * inner, q_ld = inner;
        mhim_linear_forward(qkv + n * 2 * inner, x, w_qkv, NULL, out_rows, dim, inner);
    }
    /* split heads into the padded head-major layout, one token row at a time (its values read once, in order);
     * the p front rows are zeros (F.pad before to_qkv); q for the a1 rows only */
#pragma omp parallel for schedule(static)
    for (int64_t tp = 0; tp < np; tp++)
        for (int64_t h = 0; h < H; h++) {
            const int64_t at = (h * np + tp) * dh;
            float *qr = c->q + at, *kr = c->k + at, *vr = c->v + at;
            if (tp < p) {
                for (int64_t d = 0; d < dh; d++) qr[d] = kr[d] = vr[d] = 0.0f;
                continue;
            }
            const float *kv = kv_src + (tp - p) * kv_ld + h * dh;
            for (int64_t d = 0; d < dh; d++) {
                kr[d] = kv[d];
                vr[d] = kv[inner + d];
            }
            if (tp < a1_first + a1_rows) {
                const float *q = q_src + (tp - p) * q_ld + h * dh;
                for (int64_t d = 0; d < dh; d++) qr[d] = q[d] * scale;
            }
        }
    if (out_rows == n) {
        mhim_nystrom_landmarks_forward(c->q_land, c->q, H, m, l, dh);
    } else {
        /* to_qkv has no bias: the landmark mean of q over a segment is the segment mean of x projected */
        mhim_nystrom_segment_means(seg, x, n, dim, m);
        mhim_nystrom_landmark_queries(c->q_land, q_seg, seg, w_qkv, m, dim, H, dh);
    }
    mhim_nystrom_landmarks_forward(c->k_land, c->k, H, m, l, dh);
    int token = mhim_gemm_serial_begin(); /* independent heads: one per thread */
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = 0; h < H; h++) {
        const float *qh = c->q + h * np * dh, *kh = c->k + h * np * dh;
        const float *qlh = c->q_land + h * m * dh, *klh = c->k_land + h * m * dh;
        /* q k_landᵀ, q_land k_landᵀ, q_land kᵀ */
        mhim_gemm(0, 1, a1_rows, m, dh, 1.0f, qh + a1_first * dh, klh, 0.0f, c->a1 + (h * np + a1_first) * m);
        mhim_gemm(0, 1, m, m, dh, 1.0f, qlh, klh, 0.0f, c->a2 + h * m * m);
        mhim_gemm(0, 1, m, np, dh, 1.0f, qlh, kh, 0.0f, c->a3 + h * m * np);
    }
    mhim_gemm_serial_end(token);
    for (int64_t h = 0; h < H; h++) mhim_nystrom_softmax_rows(c->a1 + (h * np + a1_first) * m, a1_rows, m);
    mhim_nystrom_softmax_rows(c->a2, H * m, m);
    mhim_nystrom_softmax_rows(c->a3, H * m, np);
    mhim_nystrom_pinv_forward(c->z, c->pinv_inter, c->pinv_norm, pinv_tmp, c->a2, H, m);
    const float *pinv = c->z + MHIM_NYSTROM_PINV_ITERS * H * m * m;
    token = mhim_gemm_serial_begin();
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t h = 0; h < H; h++) {
        float *a3v = c->a3v + h * m * dh, *za3v = c->za3v + h * m * dh;
        /* a3 · v, pinv · a3v, a1 · za3v */
        mhim_gemm(0, 0, m, dh, np, 1.0f, c->a3 + h * m * np, c->v + h * np * dh, 0.0f, a3v);
        mhim_gemm(0, 0, m, dh, m, 1.0f, pinv + h * m * m, a3v, 0.0f, za3v);
        mhim_gemm(0, 0, a1_rows, dh, m, 1.0f, c->a1 + (h * np + a1_first) * m, za3v, 0.0f,
                  o + (h * np + a1_first) * dh);
    }
    mhim_gemm_serial_end(token);
    /* merge heads of the output rows: merged[t, h*dh + d] = o[h, p + t, d], then + res_conv(v) on those rows (the
     * same additions, in the same order, as adding the convolution before the merge) */
#pragma omp parallel for schedule(static)
    for (int64_t t = 0; t < out_rows; t++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t d = 0; d < dh; d++) c->merged[t * inner + h * dh + d] = o[(h * np + p + t) * dh + d];
    mhim_nystrom_res_conv_rows_acc(c->merged, inner, c->v, w_res, H, np, dh, p, out_rows);
    mhim_linear_forward(out, c->merged, w_out, b_out, out_rows, inner, dim);
}

void mhim_nystrom_cls_attention(float *attn, const mhim_nystrom_cache *c, float *scratch, int64_t n, int64_t heads,
                                int64_t landmarks) {
    if (n < 2) return; /* no instance tokens */
    const int64_t m = landmarks, p = mhim_nystrom_pad(n, m), np = n + p;
    const float *pinv = c->z + MHIM_NYSTROM_PINV_ITERS * heads * m * m;
    for (int64_t h = 0; h < heads; h++) {
        const float *r = c->a1 + (h * np + p) * m, *zh = pinv + h * m * m, *a3h = c->a3 + h * m * np;
        /* scratch = r · pinv_h (1, m);  attn[h] = scratch · a3_h[:, p+1:] (the instance key columns) */
        cblas_sgemv(CblasRowMajor, CblasTrans, mhim_blas_dim(m), mhim_blas_dim(m), 1.0f, zh, mhim_blas_dim(m), r, 1,
                    0.0f, scratch, 1);
        cblas_sgemv(CblasRowMajor, CblasTrans, mhim_blas_dim(m), mhim_blas_dim(n - 1), 1.0f, a3h + p + 1,
                    mhim_blas_dim(np), scratch, 1, 0.0f, attn + h * (n - 1), 1);
    }
}
