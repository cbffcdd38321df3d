/* The CPU bf16 GEMM (see ops/gemm_bf16.h): operands rounded to bf16 while they are packed into panels of k pairs,
 * an 8 × 32 AVX512_BF16 micro-kernel with fp32 sums.
 *
 * Blocking: the output is cut into blocks of GB_MC rows × GB_NC columns and the sum over k into blocks of
 * MHIM_GEMM_BF16_KC pairs (1024 values of k). For each (column block, k block) the B block is packed once into
 * panels of 32 columns, [pair][32] (the threads share the packing); each thread then takes whole row blocks, packs
 * its A block into tiles of 8 rows and runs the micro-kernel over every (panel, tile): the 8 tiles of a row block
 * pass over one B panel (64 KB, from L2: 128 bytes per step of 16 dot-product instructions) before the next.
 * Every output element is summed over the k blocks in order and within a block over its pairs in order, so the
 * bits depend on nothing but the shapes. */
#include "ops/gemm_bf16.h"

#include <stdlib.h>
#include <string.h>
#ifdef MHIM_HAVE_OPENMP
#include <omp.h>
#endif

#include "mhim/common.h"
#include "ops/gemm.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define GB_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define GB_INLINE static inline __attribute__((always_inline)) GB_TARGET

#define GB_MR 8                   /* rows of a micro-tile */
#define GB_NR 32                  /* columns of a micro-tile (two 16-float vectors) */
#define GB_KC MHIM_GEMM_BF16_KC   /* k pairs per block */
#define GB_MC 64                  /* rows per row block (a multiple of GB_MR) */
#define GB_NC 1024                /* columns per column block (a multiple of GB_NR) */

int mhim_gemm_bf16_available(void) {
    const char *off = getenv("MHIM_DISABLE_AVX512_BF16");
    if (off && *off && strcmp(off, "0") != 0) return 0;
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}

/* Packing scratch: for calls outside parallel regions one shared B block and one A block per thread (grown there);
 * a call from inside a parallel region runs on its thread alone with that thread's own pair of blocks. */
static uint32_t *pack_b_block, *pack_a_blocks;
static int pack_threads;
static _Thread_local uint32_t *local_b_block, *local_a_block;

static void *packing_alloc(size_t words) {
    void *p = aligned_alloc(64, words * sizeof(uint32_t));
    if (!p) MHIM_DIE("out of memory for the bf16 GEMM's packing buffers");
    return p;
}

static void ensure_scratch(int threads) {
    if (pack_b_block && threads <= pack_threads) return;
    free(pack_b_block);
    free(pack_a_blocks);
    pack_b_block = packing_alloc((size_t)GB_KC * GB_NC);
    pack_a_blocks = packing_alloc((size_t)threads * GB_KC * GB_MC);
    pack_threads = threads;
}

static void ensure_local_scratch(void) {
    if (local_b_block) return;
    local_b_block = packing_alloc((size_t)GB_KC * GB_NC);
    local_a_block = packing_alloc((size_t)GB_KC * GB_MC);
}

/* Upper 16 bits of each lane = the bf16 of the float, as mhim_float_to_bf16 (nearest even; NaN made quiet). */
GB_INLINE __m512i bf16_round_hi(__m512 x) {
    const __m512i bits = _mm512_castps_si512(x);
    const __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_add_epi32(bits, _mm512_add_epi32(odd, _mm512_set1_epi32(0x7fff)));
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(bits, _mm512_set1_epi32(0x7fffffff)),
                                                  _mm512_set1_epi32(0x7f800000));
    return _mm512_mask_or_epi32(rounded, nan, bits, _mm512_set1_epi32(0x400000));
}

/* Pairs (lo[c], hi[c]) of two rows of floats, for the lanes in `lanes` (others 0): lo in the low half. */
GB_INLINE __m512i pair_rows(const float *lo, const float *hi, __mmask16 lanes) {
    const __m512i l = bf16_round_hi(_mm512_maskz_loadu_ps(lanes, lo));
    const __m512i h = hi ? bf16_round_hi(_mm512_maskz_loadu_ps(lanes, hi)) : _mm512_setzero_si512();
    return _mm512_maskz_or_epi32(lanes, _mm512_srli_epi32(l, 16), _mm512_and_si512(h, _mm512_set1_epi32(-65536)));
}

/* 8 pairs from 16 consecutive floats (x[2p], x[2p+1]); `count` floats are read (0..16), the rest taken as 0. */
GB_INLINE __m256i pair_run(const float *x, int count) {
    const __mmask16 lanes = (__mmask16)(count >= 16 ? 0xffff : (1u << count) - 1u);
    const __m512i r = _mm512_srli_epi32(bf16_round_hi(_mm512_maskz_loadu_ps(lanes, x)), 16);
    return _mm512_cvtepi32_epi16(_mm512_maskz_mov_epi32(lanes, r));
}

/* Pack pairs [p0, p0 + kp) of rows [r0, r0 + rows) of a k-contiguous operand (element (r, k) at x[r·ld + k]) as
 * rows of GB_KC pairs: out[r·GB_KC + p]. Rows past `rows` (up to `rows_pad`) are zero. */
GB_INLINE void pack_rows_kcontig(uint32_t *out, const float *x, int64_t ld, int64_t r0, int64_t rows, int64_t rows_pad,
                                 int64_t p0, int64_t kp, int64_t K) {
    for (int64_t r = 0; r < rows_pad; r++) {
        uint32_t *o = out + r * GB_KC;
        if (r >= rows) {
            memset(o, 0, (size_t)kp * sizeof *o);
            continue;
        }
        const float *row = x + (r0 + r) * ld;
        for (int64_t p = 0; p < kp; p += 8) {
            const int64_t k = 2 * (p0 + p);
            const int64_t left = K - k;
            _mm256_storeu_si256((__m256i *)(void *)(o + p), pair_run(row + k, (int)(left < 16 ? left : 16)));
        }
    }
}

/* Pack pair p (of the block starting at pair p0) of columns [c0, c0 + cols) of a k-strided operand (element (k, c)
 * at x[k·ld + c]) into the block's panels of 32 columns, [pair][32] (panel q at out + q·32·GB_KC; columns past
 * cols zero up to a whole panel): reads the pair's two rows once, left to right. */
GB_INLINE void pack_pair_kstrided_panels(uint32_t *out, const float *x, int64_t ld, int64_t c0, int64_t cols,
                                         int64_t p0, int64_t p, int64_t K) {
    const int64_t k = 2 * (p0 + p);
    const float *lo = x + k * ld + c0, *hi = k + 1 < K ? lo + ld : NULL;
    for (int64_t c = 0; c < cols; c += 16) {
        const int64_t w = MHIM_MIN(16, cols - c);
        const __mmask16 lanes = (__mmask16)(w >= 16 ? 0xffff : (1u << w) - 1u);
        uint32_t *o = out + (c / GB_NR) * GB_NR * GB_KC + p * GB_NR + c % GB_NR;
        _mm512_store_si512(o, pair_rows(lo + c, hi ? hi + c : NULL, lanes));
    }
    if (cols % GB_NR && cols % GB_NR <= 16) /* the last panel's upper half */
        _mm512_store_si512(out + (cols / GB_NR) * GB_NR * GB_KC + p * GB_NR + 16, _mm512_setzero_si512());
}

/* Pack pairs [p0, p0 + kp) of columns [c0, c0 + width) of a k-strided operand as tiles of 8 columns, each
 * [pair][8]: tile t at out + t·8·GB_KC, element out[t·8·GB_KC + p·8 + c]; columns past width are zero up to a whole
 * tile. Reads each pair's two rows as 16-column runs. */
GB_INLINE void pack_pairs_kstrided_tiles(uint32_t *out, const float *x, int64_t ld, int64_t c0, int64_t width,
                                         int64_t p0, int64_t kp, int64_t K) {
    for (int64_t p = 0; p < kp; p++) {
        const int64_t k = 2 * (p0 + p);
        const float *lo = x + k * ld + c0, *hi = k + 1 < K ? lo + ld : NULL;
        for (int64_t c = 0; c < width; c += 16) {
            const int64_t w = MHIM_MIN(16, width - c);
            const __m512i v = pair_rows(lo + c, hi ? hi + c : NULL, (__mmask16)(w >= 16 ? 0xffff : (1u << w) - 1u));
            uint32_t *t = out + (c / GB_MR) * GB_MR * GB_KC + p * GB_MR;
            _mm256_storeu_si256((__m256i *)(void *)t, _mm512_castsi512_si256(v));
            if (w > 8) _mm256_storeu_si256((__m256i *)(void *)(t + GB_MR * GB_KC), _mm512_extracti64x4_epi64(v, 1));
        }
    }
}

/* Pack pairs [p0, p0 + kp) of columns [c0, c0 + width) of a k-contiguous operand (element (k, c) at x[c·ld + k]) as
 * [pair][32]: each column's run of pairs, spread with stride 32. */
GB_INLINE void pack_pairs_kcontig32(uint32_t *out, const float *x, int64_t ld, int64_t c0, int64_t width, int64_t p0,
                                    int64_t kp, int64_t K) {
    for (int64_t c = 0; c < GB_NR; c++) {
        if (c >= width) {
            for (int64_t p = 0; p < kp; p++) out[p * GB_NR + c] = 0;
            continue;
        }
        const float *col = x + (c0 + c) * ld;
        for (int64_t p = 0; p < kp; p += 8) {
            const int64_t k = 2 * (p0 + p);
            const int64_t left = K - k;
            uint32_t run[8];
            _mm256_storeu_si256((__m256i *)(void *)run, pair_run(col + k, (int)(left < 16 ? left : 16)));
            for (int64_t q = 0; q < 8 && p + q < kp; q++) out[(p + q) * GB_NR + c] = run[q];
        }
    }
}

/* acc (8 × 32) = Σ_p a(i, p) · b(p, :) over kp pairs; a(i, p) at a[i·A_ROW + p·A_PAIR], b(p, :) at b[p·32 ..].
 * Then c = alpha·acc + beta·c (first k block; beta == 0 does not read c) or c += alpha·acc, on mr rows and nr
 * columns. */
GB_INLINE void kernel_8x32(int64_t kp, const uint32_t *a, int64_t A_ROW, int64_t A_PAIR, const uint32_t *b, float *c,
                           int64_t ldc, int64_t mr, int64_t nr, float alpha, float beta, int first) {
    const int read_c = !first || beta != 0.0f;
    if (read_c) /* the tile's output lines arrive while the sums run */
        for (int64_t i = 0; i < mr; i++) {
            _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
            _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
        }
    __m512 acc[GB_MR][2];
    for (int i = 0; i < GB_MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (int64_t p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_load_si512(b + p * GB_NR);
        const __m512bh b1 = (__m512bh)_mm512_load_si512(b + p * GB_NR + 16);
        const uint32_t *ap = a + p * A_PAIR;
#pragma GCC unroll 8
        for (int i = 0; i < GB_MR; i++) {
            const __m512bh ai = (__m512bh)_mm512_set1_epi32((int)ap[i * A_ROW]);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], ai, b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], ai, b1);
        }
    }
    const int64_t n0 = MHIM_MIN(nr, 16), n1 = nr - n0;
    const __mmask16 m0 = (__mmask16)(n0 >= 16 ? 0xffff : (1u << n0) - 1u);
    const __mmask16 m1 = (__mmask16)(n1 >= 16 ? 0xffff : n1 <= 0 ? 0 : (1u << n1) - 1u);
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(first ? beta : 1.0f);
    for (int64_t i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, acc[i][0]), r1 = _mm512_mul_ps(va, acc[i][1]);
        if (read_c) {
            r0 = _mm512_add_ps(r0, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m0, ci)));
            r1 = _mm512_add_ps(r1, _mm512_mul_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16)));
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

typedef struct {
    int trans_a, trans_b;
    int64_t M, N, K;
    float alpha, beta;
    const float *a, *b;
    int64_t lda, ldb, ldc;
    float *c;
    uint32_t *pack_b, *pack_a; /* the shared B block, the first thread's A block (then one per thread) */
} gemm_bf16_args;

/* One thread's row block [i0, i0 + rows) against the packed B block (columns [j0, j0 + cols), pairs [p0, p0 + kp)). */
GB_INLINE void row_block(const gemm_bf16_args *g, uint32_t *apack, const uint32_t *bpack, int64_t i0, int64_t rows,
                         int64_t j0, int64_t cols, int64_t p0, int64_t kp) {
    const int64_t tiles = (rows + GB_MR - 1) / GB_MR;
    if (!g->trans_a) /* tile t: rows of GB_KC pairs */
        pack_rows_kcontig(apack, g->a, g->lda, i0, rows, tiles * GB_MR, p0, kp, g->K);
    else /* tile t: [pair][8] */
        pack_pairs_kstrided_tiles(apack, g->a, g->lda, i0, rows, p0, kp, g->K);
    const int first = p0 == 0;
    for (int64_t j = 0; j < cols; j += GB_NR) {
        const uint32_t *panel = bpack + j * GB_KC;
        const int64_t nr = MHIM_MIN(GB_NR, cols - j);
        for (int64_t t = 0; t < tiles; t++) {
            const uint32_t *tile = apack + t * GB_MR * GB_KC;
            float *ct = g->c + (i0 + t * GB_MR) * g->ldc + j0 + j;
            const int64_t mr = MHIM_MIN(GB_MR, rows - t * GB_MR);
            if (!g->trans_a)
                kernel_8x32(kp, tile, GB_KC, 1, panel, ct, g->ldc, mr, nr, g->alpha, g->beta, first);
            else
                kernel_8x32(kp, tile, 1, GB_MR, panel, ct, g->ldc, mr, nr, g->alpha, g->beta, first);
        }
    }
}

/* threaded: split the row blocks over the OpenMP threads (g->pack_a then holds one A block per thread). */
GB_TARGET static void gemm_bf16_run(const gemm_bf16_args *g, int threaded) {
    const int64_t pairs = (g->K + 1) / 2, row_blocks = (g->M + GB_MC - 1) / GB_MC;
#pragma omp parallel if (threaded)
    {
#ifdef MHIM_HAVE_OPENMP
        uint32_t *apack = g->pack_a + (threaded ? (size_t)omp_get_thread_num() * GB_KC * GB_MC : 0);
#else
        uint32_t *apack = g->pack_a;
#endif
        for (int64_t j0 = 0; j0 < g->N; j0 += GB_NC) {
            const int64_t cols = MHIM_MIN(GB_NC, g->N - j0), panels = (cols + GB_NR - 1) / GB_NR;
            for (int64_t p0 = 0; p0 < pairs; p0 += GB_KC) {
                const int64_t kp = MHIM_MIN(GB_KC, pairs - p0);
                if (g->trans_b) {
#pragma omp for schedule(static)
                    for (int64_t q = 0; q < panels; q++)
                        pack_pairs_kcontig32(g->pack_b + q * GB_NR * GB_KC, g->b, g->ldb, j0 + q * GB_NR,
                                             MHIM_MIN(GB_NR, cols - q * GB_NR), p0, kp, g->K);
                } else {
#pragma omp for schedule(static)
                    for (int64_t p = 0; p < kp; p++)
                        pack_pair_kstrided_panels(g->pack_b, g->b, g->ldb, j0, cols, p0, p, g->K);
                }
#pragma omp for schedule(static)
                for (int64_t r = 0; r < row_blocks; r++)
                    row_block(g, apack, g->pack_b, r * GB_MC, MHIM_MIN(GB_MC, g->M - r * GB_MC), j0, cols, p0, kp);
            }
        }
    }
}

void mhim_gemm_bf16_ld(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    MHIM_ASSERT(M >= 0 && N >= 0 && K >= 0);
    if (M == 0 || N == 0) return;
    if (K == 0) { /* no products: c = beta·c */
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        return;
    }
    gemm_bf16_args g = {trans_a, trans_b, M, N, K, alpha, beta, a, b, lda, ldb, ldc, c, NULL, NULL};
#ifdef MHIM_HAVE_OPENMP
    if (omp_in_parallel()) { /* one thread of a parallel region: alone, on its own buffers */
        ensure_local_scratch();
        g.pack_b = local_b_block, g.pack_a = local_a_block;
        gemm_bf16_run(&g, 0);
        return;
    }
    ensure_scratch(omp_get_max_threads());
#else
    ensure_scratch(1);
#endif
    g.pack_b = pack_b_block, g.pack_a = pack_a_blocks;
    /* small products on the calling thread, with the bound of the fp32 GEMM wrapper */
    const double mnk = (double)M * (double)N * (double)K;
    gemm_bf16_run(&g, (M + GB_MC - 1) / GB_MC > 1 && mnk >= (double)MHIM_GEMM_SERIAL_MAX_MNK);
}

void mhim_gemm_bf16(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                    const float *b, float beta, float *c) {
    mhim_gemm_bf16_ld(trans_a, trans_b, M, N, K, alpha, a, trans_a ? M : K, b, trans_b ? K : N, beta, c, N);
}

#else /* not x86-64 GNU C: no bf16 GEMM */

int mhim_gemm_bf16_available(void) { return 0; }

void mhim_gemm_bf16_ld(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                       int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
    (void)trans_a, (void)trans_b, (void)M, (void)N, (void)K, (void)alpha, (void)a, (void)lda, (void)b, (void)ldb,
        (void)beta, (void)c, (void)ldc;
    MHIM_DIE("the bf16 GEMM needs an x86-64 build with AVX512_BF16 support");
}

void mhim_gemm_bf16(int trans_a, int trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float *a,
                    const float *b, float beta, float *c) {
    mhim_gemm_bf16_ld(trans_a, trans_b, M, N, K, alpha, a, trans_a ? M : K, b, trans_b ? K : N, beta, c, N);
}

#endif
