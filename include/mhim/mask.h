/* mhim/mask.h — MHIM hard-instance masking: which instances of a bag the student sees (docs/masking.md).
 *
 * v1 get_mask (spec v1 §4.3): the masked set is M = R ∪ L ∪ Hs with
 *   R  = ceil(N·r) instances uniformly at random                       (--mask_ratio r)
 *   L  = the ceil(N·r_l) lowest-score instances                        (--mask_ratio_l r_l)
 *   Hs = a uniformly random ceil(K·ρ) of the K = ceil(N·r_h'/ρ) highest (--mask_ratio_h r_h, --mask_ratio_hr ρ,
 *        r_h' = r_h or its cosine schedule at iteration t)
 * computed exactly like the original's select(): each part is one call with (ratio, rr) where r' = ratio/rr, and
 * r' > 1 => rr := ratio, r' := 1 (R uses rr = 0.001, L rr = 1, Hs rr = ρ); k = ceil(N·r') and ceil(k·rr) are
 * taken of float64 products (100·0.07 -> 8). R therefore equals "uniform ceil(N·r)" only when r > 0.001; for
 * r <= 0.001 it is a random ceil(k·0.001) of the ceil(N·r/0.001) lowest-score instances, as in the original.
 *
 * Scores are (heads, N) row-major floats: heads = 1 for ABMIL/DSMIL (and v2 class-aware scores), heads = H for
 * TransMIL per-head attention, fused per part by 'vote' (each head marks its top-k, the k instances with the most
 * votes win) or 'mean' (union of every head's top-(k // H)). Deterministic tie rules (torch leaves them
 * undefined): equal scores rank the lower instance index first; equal votes likewise.
 *
 * Randomness: the random subset of a part is a partial Fisher–Yates shuffle of its candidates in ascending index
 * order, drawn from the stream mhim_rng_stream(seed, epoch, bag, MHIM_RNG_MASK, part) with part = MHIM_MASK_PART_*.
 * A mask is thus a pure function of (scores, ratios, seed, epoch, bag): independent of threads, ranks and bag
 * order. torch.randperm's streams are not reproduced (same distribution, different draws).
 *
 * Guard (the original crashes): when M would cover the whole bag, the masked instance with the lowest score (sum
 * over heads in double; ties: lower index) is unmasked, so at least one instance is kept; stats.guarded says so.
 * A single masked id needs no special handling here (the original's squeeze() crash does not exist).
 *
 * Output ids[N]: ids[0..len_keep) are the kept instances in the requested order (ascending, or the CPython order of
 * list(set(range(N)) - set(M)) that the original feeds to the encoder, spec v1 §4.4), ids[len_keep..N) are the
 * masked instances in ascending order.
 *
 * No allocation per call: everything lives in a mhim_mask_workspace sized once for the largest bag. */
#ifndef MHIM_MASK_H
#define MHIM_MASK_H

#include <stdint.h>

typedef enum { MHIM_MASK_FUSION_VOTE = 0, MHIM_MASK_FUSION_MEAN = 1 } mhim_mask_fusion;
typedef enum { MHIM_KEEP_ASCENDING = 0, MHIM_KEEP_CPYTHON_SET = 1 } mhim_keep_order;

/* Stream sub-index of each part's random draws (and the bit of the part in per-instance flags). */
enum { MHIM_MASK_PART_RANDOM = 0, MHIM_MASK_PART_LOW = 1, MHIM_MASK_PART_HIGH = 2 };

/* random_ratio of the original's random part. */
#define MHIM_MASK_RANDOM_RR 0.001

typedef struct {
    double ratio;            /* --mask_ratio r in [0, 1] (0 = off) */
    double ratio_l;          /* --mask_ratio_l r_l in [0, 1] (0 = off) */
    double ratio_h;          /* --mask_ratio_h r_h in [0, 1]: the base value (the per-call r_h' is an argument) */
    double ratio_hr;         /* --mask_ratio_hr ρ in (0, 1] */
    mhim_mask_fusion fusion; /* --msa_fusion, used when heads > 1 */
    mhim_keep_order order;   /* order of the kept ids */
} mhim_mask_config;

/* The random streams of one bag at one epoch (bag = the bag's index in the cohort, not its epoch position). */
typedef struct {
    uint64_t seed;
    uint32_t epoch, bag;
} mhim_mask_key;

/* Scratch for bags of up to n_max instances (and any head count). */
typedef struct {
    int64_t n_max;
    uint64_t *keys, *keys_tmp; /* [n_max] radix-sort ping-pong: (score rank key << 32) | index */
    int64_t *cand;             /* [n_max] candidates of one part */
    int32_t *marks;            /* [n_max] per-instance votes / candidate marks */
    uint8_t *parts;            /* [n_max] bit MHIM_MASK_PART_* set when a part masks the instance */
    int32_t *table;            /* [mhim_kept_order_table_len(n_max)] CPython set emulation */
} mhim_mask_workspace;

/* Per-call sizes, for logging (kept-instance ratio) and tests. */
typedef struct {
    int64_t n;                 /* instances in the bag */
    int64_t len_keep;          /* kept = n - n_masked (>= 1) */
    int64_t n_masked;          /* |M| after the guard */
    int64_t n_random;          /* |R| (0 when off) */
    int64_t n_low;             /* |L| */
    int64_t n_high_candidates; /* K: ranked candidates of the high part before the random subset */
    int64_t n_high;            /* |Hs| */
    double ratio_h;            /* r_h' used for this call */
    int guarded;               /* 1 when M covered the bag and instance unmasked_id was kept */
    int64_t unmasked_id;       /* -1 unless guarded */
} mhim_mask_stats;

/* MHIM_OK, or MHIM_EINPUT naming the option: ratios not finite or outside [0, 1], ρ outside (0, 1], unknown fusion
 * or order. */
int mhim_mask_config_check(const mhim_mask_config *cfg);

/* Allocate a workspace for bags of 1..n_max instances (1 <= n_max < 2^31). Dies only on out of memory. */
void mhim_mask_workspace_init(mhim_mask_workspace *ws, int64_t n_max);
void mhim_mask_workspace_free(mhim_mask_workspace *ws);

/* r_h'(t) of `--mrh_sche`: utils.cosine_scheduler(r_h, 0, num_epoch, iters_per_epoch)[t] when scheduled, else r_h.
 * MHIM_EINPUT when scheduled and num_epoch < 1, iters_per_epoch < 1, or t outside [0, num_epoch·iters_per_epoch). */
int mhim_mask_ratio_h_at(double ratio_h, int scheduled, int64_t num_epoch, int64_t iters_per_epoch, int64_t t,
                         double *out);

/* v1 get_mask for a bag of n instances with scores (heads, n) at high ratio ratio_h_now (= r_h'(t)).
 * Writes ids[n] (see the top of this file) and *stats (may be NULL). When no part is on (all ratios 0), every
 * instance is kept in ascending order. MHIM_EINPUT on a bad ratio_h_now, n < 1, heads < 1 or a non-finite score
 * (message names the instance); MHIM_EINTERNAL when n exceeds the workspace. cfg must pass mhim_mask_config_check. */
int mhim_mask_select(const mhim_mask_config *cfg, double ratio_h_now, const float *scores, int64_t heads, int64_t n,
                     mhim_mask_key key, mhim_mask_workspace *ws, int64_t *ids, mhim_mask_stats *stats);

/* ---- v2 (spec v2 §3.4): high-score masking only --------------------------------------------------------------- */

/* v2 differs from v1 in configuration, not in select(): fusion is always 'vote' (no --msa_fusion), --mask_ratio and
 * --mask_ratio_l are 0, and --mask_ratio_h must be > 0 (the original fails with no mask). Scores are the teacher's
 * class-aware probabilities (heads = 1, --attn2score) or TransMIL layer-0 per-head attention (heads = H). */
typedef struct {
    double ratio_h;        /* --mask_ratio_h in (0, 1] (base value when scheduled) */
    double ratio_hr;       /* --mask_ratio_hr ρ in (0, 1] (default 1) */
    mhim_keep_order order; /* ascending = the original's order for masked fractions < 1/4 */
} mhim_mask_v2_config;

/* MHIM_OK, or MHIM_EINPUT naming the option (ratio_h must be > 0). */
int mhim_mask_v2_config_check(const mhim_mask_v2_config *cfg);

/* v2 get_mask: Hs only, same outputs, streams and guard as mhim_mask_select (the original keeps 0 instances when
 * every instance is masked, e.g. N = 1, and lets Merge recycle them; here one instance is kept and flagged).
 * ratio_h_now = r_h'(t) in [0, 1]; 0 keeps everything. */
int mhim_mask_select_v2(const mhim_mask_v2_config *cfg, double ratio_h_now, const float *scores, int64_t heads,
                        int64_t n, mhim_mask_key key, mhim_mask_workspace *ws, int64_t *ids, mhim_mask_stats *stats);

/* out[h·len_keep + j] = scores[h·n + ids[j]] for j < len_keep: the scores of the kept instances, in kept order, as
 * v2 passes them on to Merge. out holds heads·len_keep floats. */
void mhim_mask_gather_scores(const float *scores, int64_t heads, int64_t n, const int64_t *ids, int64_t len_keep,
                             float *out);

/* ---- CPython set order (kept_order.c) ------------------------------------------------------------------------- */

/* Slots the CPython-order emulation needs for a bag of n instances: 8·max(n, 1) + 8. */
int64_t mhim_kept_order_table_len(int64_t n);

/* out[0..n - n_masked) = list(set(range(n)) - set(M)) in CPython (3.7+) iteration order, where M = {i : masked[i]}
 * and n_masked = |M|: ascending when (n >> 2) > |M|, else the slot order of the result set built by inserting the
 * kept values in ascending order (spec v1 §4.4). table: mhim_kept_order_table_len(n) int32 slots of scratch. */
void mhim_kept_order_cpython(int64_t n, const uint8_t *masked, int64_t n_masked, int32_t *table, int64_t *out);

#endif
