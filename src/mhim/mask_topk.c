/* Ranked candidates of one masking part: top-k by score with a strict (score, index) order, and the multi-head
 * 'vote' / 'mean' fusions of the original select() (see mhim/mask.h). Top-k is a stable LSD radix sort of 32-bit
 * order-preserving score keys over an index payload: O(n) per head, ties keep ascending index order. */
#include <string.h>

#include "mhim/common.h"
#include "mhim/mask_private.h"

/* A uint32 whose unsigned order is the float order (-0 and +0 equal), reversed when `largest`. */
static uint32_t rank_key(float f, int largest) {
    uint32_t b;
    if (f == 0.0f) f = 0.0f; /* -0 -> +0: torch ranks them as equal */
    memcpy(&b, &f, sizeof b);
    uint32_t ord = (b & 0x80000000u) ? ~b : (b | 0x80000000u);
    return largest ? ~ord : ord;
}

/* Stable sort of keys[0..n) by their high 32 bits (the low 32 bits hold the instance index and start ascending).
 * Returns the buffer holding the result (keys or tmp). */
static uint64_t *sort_by_high_word(uint64_t *keys, uint64_t *tmp, int64_t n) {
    int64_t count[256];
    for (int shift = 32; shift < 64; shift += 8) {
        memset(count, 0, sizeof count);
        for (int64_t i = 0; i < n; i++) count[(keys[i] >> shift) & 0xFF]++;
        if (count[(keys[0] >> shift) & 0xFF] == n) continue; /* one bucket: the pass would not move anything */
        int64_t pos = 0;
        for (int b = 0; b < 256; b++) {
            int64_t c = count[b];
            count[b] = pos;
            pos += c;
        }
        for (int64_t i = 0; i < n; i++) tmp[count[(keys[i] >> shift) & 0xFF]++] = keys[i];
        uint64_t *swap = keys;
        keys = tmp;
        tmp = swap;
    }
    return keys;
}

/* The n instances of row s ranked by (score, index); returns the sorted key buffer (index = low 32 bits). */
static const uint64_t *rank_row(const float *s, int64_t n, int largest, mhim_mask_workspace *ws) {
    for (int64_t i = 0; i < n; i++) ws->keys[i] = ((uint64_t)rank_key(s[i], largest) << 32) | (uint64_t)i;
    return sort_by_high_word(ws->keys, ws->keys_tmp, n);
}

/* ws->cand = the instances with marks[i] != 0, ascending; returns how many. */
static int64_t collect_marked(const int32_t *marks, int64_t n, int64_t *cand) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
        if (marks[i]) cand[m++] = i;
    return m;
}

static int64_t all_instances(int64_t n, int64_t *cand) {
    for (int64_t i = 0; i < n; i++) cand[i] = i;
    return n;
}

/* marks[i] += 1 for the top-k instances of every head row. */
static void vote_rows(const float *scores, int64_t heads, int64_t n, int64_t k, int largest,
                      mhim_mask_workspace *ws) {
    memset(ws->marks, 0, (size_t)n * sizeof *ws->marks);
    for (int64_t h = 0; h < heads; h++) {
        const uint64_t *ranked = rank_row(scores + h * n, n, largest, ws);
        for (int64_t j = 0; j < k; j++) ws->marks[ranked[j] & 0xFFFFFFFFu]++;
    }
}

int64_t mask_part_candidates(const float *scores, int64_t heads, int64_t n, int64_t k, int largest,
                             mhim_mask_fusion fusion, mhim_mask_workspace *ws) {
    MHIM_ASSERT(k >= 0 && k <= n && heads >= 1);
    if (heads > 1 && fusion == MHIM_MASK_FUSION_MEAN) {
        vote_rows(scores, heads, n, k / heads, largest, ws); /* union of the per-head top-(k // H) */
        return collect_marked(ws->marks, n, ws->cand);
    }
    if (k == n) return all_instances(n, ws->cand); /* every head marks everything: all n win */
    if (heads == 1) {
        const uint64_t *ranked = rank_row(scores, n, largest, ws);
        memset(ws->marks, 0, (size_t)n * sizeof *ws->marks);
        for (int64_t j = 0; j < k; j++) ws->marks[ranked[j] & 0xFFFFFFFFu] = 1;
        return collect_marked(ws->marks, n, ws->cand);
    }
    vote_rows(scores, heads, n, k, largest, ws);
    /* the k instances with the most votes, ties lower index: rank by (heads - votes, index) */
    for (int64_t i = 0; i < n; i++) ws->keys[i] = ((uint64_t)(heads - ws->marks[i]) << 32) | (uint64_t)i;
    const uint64_t *ranked = sort_by_high_word(ws->keys, ws->keys_tmp, n);
    memset(ws->marks, 0, (size_t)n * sizeof *ws->marks);
    for (int64_t j = 0; j < k; j++) ws->marks[ranked[j] & 0xFFFFFFFFu] = 1;
    return collect_marked(ws->marks, n, ws->cand);
}
