// cuda/philox.cuh — Philox4x32-10 on the device, the same function as mhim_philox4x32 / mhim_rng_* in
// src/core/rng.c (same key, counter layout and uniform conversion), so device draws equal host draws bit for bit.
#ifndef MHIM_CUDA_PHILOX_CUH
#define MHIM_CUDA_PHILOX_CUH

#include <cstdint>

extern "C" {
#include "mhim/rng.h"
}

// High 32 bits of a 32x32-bit product (the device intrinsic on the GPU, a 64-bit product on the host).
__host__ __device__ inline uint32_t mhim_cuda_mulhi(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
    return __umulhi(a, b);
#else
    return (uint32_t)(((uint64_t)a * b) >> 32);
#endif
}

// Value `i` of the keyed stream r (as mhim_rng_u32_at). Also compiled for the host, so that builds without a GPU
// check this code against src/core/rng.c (mhim_cuda_rng_u32_host).
__host__ __device__ inline uint32_t mhim_cuda_rng_u32_at(const mhim_rng &r, uint64_t i) {
    const uint64_t block = i >> 2;
    uint32_t c0 = (uint32_t)block, c1 = (uint32_t)(block >> 32) | r.ctr_hi, c2 = r.bag, c3 = r.epoch;
    uint32_t k0 = r.key[0], k1 = r.key[1];
    for (int round = 0; round < MHIM_PHILOX_ROUNDS; round++) {
        if (round > 0) {
            k0 += 0x9E3779B9u;
            k1 += 0xBB67AE85u;
        }
        const uint32_t lo0 = 0xD2511F53u * c0, hi0 = mhim_cuda_mulhi(0xD2511F53u, c0);
        const uint32_t lo1 = 0xCD9E8D57u * c2, hi1 = mhim_cuda_mulhi(0xCD9E8D57u, c2);
        const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
        c0 = n0;
        c1 = lo1;
        c2 = n2;
        c3 = lo0;
    }
    switch (i & 3) {
    case 0: return c0;
    case 1: return c1;
    case 2: return c2;
    default: return c3;
    }
}

// Uniform float in [0, 1) with 24 bits (as mhim_rng_uniform_at).
__host__ __device__ inline float mhim_cuda_rng_uniform_at(const mhim_rng &r, uint64_t i) {
    return (float)(mhim_cuda_rng_u32_at(r, i) >> 8) * 0x1p-24f;
}

#endif
