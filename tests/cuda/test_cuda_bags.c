/* Device bag storage: resident fp32 (bit-exact), resident fp16 (equal to the host fp16 round trip), and streaming
 * through pinned buffers with prefetch (in order, out of order, and without a prefetch), each bag's device rows
 * compared with the host rows. Skipped (77) without a GPU. */
#include <stdio.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/cuda_bags.h"
#include "mhim/half.h"
#include "parity.h"

enum { NB = 5, DIM = 48 };
static const int64_t rows[NB] = {120, 3, 0, 257, 64};

static int check_bag(mhim_cuda_ctx *ctx, const char *mode, int64_t bag, const float *dev, const float *want) {
    char name[96];
    snprintf(name, sizeof name, "%s bag %lld (%lld rows)", mode, (long long)bag, (long long)rows[bag]);
    return parity_check(ctx, name, dev, want, rows[bag] * DIM, 0, 0);
}

int main(void) {
    mhim_cuda_ctx *ctx = NULL;
    int rc = parity_open(&ctx);
    if (rc) return rc;
    test_rng rng = {31337ULL};
    float *host[NB], *rounded[NB];
    for (int b = 0; b < NB; b++) {
        host[b] = parity_random(&rng, rows[b] * DIM, -3, 3);
        rounded[b] = parity_zeros(rows[b] * DIM);
        for (int64_t i = 0; i < rows[b] * DIM; i++) rounded[b][i] = mhim_half_to_float(mhim_float_to_half(host[b][i]));
    }
    int bad = 0;
    for (int fp16 = 0; fp16 <= 1; fp16++) {
        mhim_cuda_bags *bags = NULL;
        if (mhim_cuda_bags_create(&bags, ctx, rows, NB, DIM, fp16, (size_t)1 << 30) != MHIM_OK) {
            printf("FAIL %s\n", mhim_error());
            return 1;
        }
        bad += check_true("resident when the budget allows", mhim_cuda_bags_resident(bags));
        for (int b = NB - 1; b >= 0; b--) mhim_cuda_bags_put(bags, b, host[b]);
        for (int b = 0; b < NB; b++)
            bad += check_bag(ctx, fp16 ? "resident fp16" : "resident fp32", b, mhim_cuda_bags_get(bags, b, NULL),
                             fp16 ? rounded[b] : host[b]);
        mhim_cuda_bags_destroy(bags);
    }
    mhim_cuda_bags *bags = NULL;
    if (mhim_cuda_bags_create(&bags, ctx, rows, NB, DIM, 0, 1000) != MHIM_OK) {
        printf("FAIL %s\n", mhim_error());
        return 1;
    }
    bad += check_true("streaming when the budget is too small", !mhim_cuda_bags_resident(bags));
    const int order[] = {0, 1, 2, 3, 4, 3, 1, 1, 0};
    const int n_order = (int)(sizeof order / sizeof order[0]);
    mhim_cuda_bags_prefetch(bags, order[0], host[order[0]]);
    for (int k = 0; k < n_order; k++) {
        const int b = order[k];
        const float *dev = mhim_cuda_bags_get(bags, b, host[b]);
        if (k + 1 < n_order && k != 4) /* k = 4: the next bag is fetched without a prefetch */
            mhim_cuda_bags_prefetch(bags, order[k + 1], host[order[k + 1]]);
        bad += check_bag(ctx, "streamed", b, dev, host[b]);
    }
    mhim_cuda_bags_destroy(bags);
    mhim_cuda_ctx_destroy(ctx);
    printf("%s: %d failing check(s)\n", bad ? "FAIL" : "PASS", bad);
    return bad ? 1 : 0;
}
