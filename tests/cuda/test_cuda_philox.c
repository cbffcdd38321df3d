/* The device Philox generator (cuda/philox.cuh, compiled for the host) against the CPU's mhim_rng_u32_at: every
 * purpose, sub-stream, bag, epoch and 64-bit seed tried, indices near 0, at block boundaries and with block bits
 * 32..47 set. Runs without a GPU: it guards the bit-identity of device dropout masks in every CUDA build. */
#include <stdio.h>

#include "mhim/cuda_ops.h"
#include "mhim/rng.h"

int main(void) {
    const uint64_t seeds[] = {0ULL, 1ULL, 2024ULL, 0xDEADBEEFCAFEF00DULL};
    const uint64_t starts[] = {0ULL, 4095ULL, (1ULL << 34) + 3ULL, (1ULL << 50) - 64ULL};
    int64_t compared = 0, differ = 0;
    for (size_t s = 0; s < sizeof seeds / sizeof seeds[0]; s++)
        for (uint32_t purpose = MHIM_RNG_INIT; purpose <= MHIM_RNG_BOOTSTRAP; purpose++)
            for (uint32_t sub = 0; sub < 256; sub += 85) {
                mhim_rng r = mhim_rng_stream(seeds[s], purpose * 7u, purpose * 1000u + sub, (mhim_rng_purpose)purpose,
                                             sub);
                for (size_t k = 0; k < sizeof starts / sizeof starts[0]; k++)
                    for (uint64_t i = starts[k]; i < starts[k] + 64; i++) {
                        uint32_t want = mhim_rng_u32_at(&r, i), got = mhim_cuda_rng_u32_host(&r, i);
                        if (got != want && differ++ < 5)
                            printf("FAIL seed %llu purpose %u sub %u index %llu: device code %08x, CPU %08x\n",
                                   (unsigned long long)seeds[s], purpose, sub, (unsigned long long)i, got, want);
                        compared++;
                    }
            }
    printf("%s device Philox vs CPU: %lld values compared, %lld differ\n", differ ? "FAIL" : "ok  ",
           (long long)compared, (long long)differ);
    return differ != 0;
}
