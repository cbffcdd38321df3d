/* The dropout mask is value `first + i` of its counter stream for every element i, whatever the alignment
 * of `first` to Philox's 4-value blocks, the length, and the thread count. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/ops/dropout.h"
#include "mhim/rng.h"
#include "mhim/threads.h"

int main(void) {
    int bad = 0;
    mhim_rng r = mhim_rng_stream(2021, 3, 17, MHIM_RNG_DROPOUT, 1);
    const int64_t lengths[] = {0, 1, 3, 4, 5, 7, 33, 70001};
    uint8_t *keep = malloc(70001);
    for (int threads = 1; threads <= 2; threads++) {
        mhim_threads_init(threads);
        for (uint64_t first = 0; first < 6; first++)
            for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
                int64_t n = lengths[k], wrong = 0;
                mhim_dropout_mask(keep, &r, first * 1000003 + first, 0.25f, n);
                for (int64_t i = 0; i < n; i++)
                    wrong += keep[i] != (mhim_rng_uniform_at(&r, first * 1000003 + first + (uint64_t)i) < 0.75f);
                if (wrong) {
                    printf("FAIL threads=%d first=%llu n=%lld: %lld elements differ from the stream\n", threads,
                           (unsigned long long)first, (long long)n, (long long)wrong);
                    bad = 1;
                }
            }
    }
    bad |= check_true("dropout masks equal the per-element stream definition", !bad);
    free(keep);
    return bad;
}
