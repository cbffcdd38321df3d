/* mhim/mask_private.h — pieces of the masking code shared by its files (see mhim/mask.h). */
#ifndef MHIM_MASK_PRIVATE_H
#define MHIM_MASK_PRIVATE_H

#include <stdint.h>

#include "mhim/mask.h"

/* The candidates of one select() call before its random subset: ws->cand[0..return) in ascending index order.
 * k instances ranked first by score (largest or smallest; ties: lower index) for heads = 1; for heads > 1 the fused
 * set ('vote': k instances with the most per-head top-k votes, ties lower index; 'mean': union of the per-head
 * top-(k / heads)). 0 <= k <= n; scores are finite. Uses ws->keys, keys_tmp and marks. */
int64_t mask_part_candidates(const float *scores, int64_t heads, int64_t n, int64_t k, int largest,
                             mhim_mask_fusion fusion, mhim_mask_workspace *ws);

/* The core of v1 and v2 get_mask: parts on when their ratio > 0 (ratios already validated). */
int mask_select_parts(double ratio, double ratio_l, double ratio_h, double ratio_hr, mhim_mask_fusion fusion,
                      mhim_keep_order order, const float *scores, int64_t heads, int64_t n, mhim_mask_key key,
                      mhim_mask_workspace *ws, int64_t *ids, mhim_mask_stats *stats);

/* MHIM_OK when v is finite and in [lo, hi] (lo_open: > lo); else MHIM_EINPUT naming `what`. */
int mask_check_ratio(const char *what, double v, double lo, int lo_open, double hi);

#endif
