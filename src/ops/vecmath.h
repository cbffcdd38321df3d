/* src/ops/vecmath.h — the ISA copies (target_clones) of the vectorised element and row loops, and the fixed-order
 * double lanes of the row sums.
 *
 * The project builds for the x86-64 baseline (SSE2); the vectorised loops are therefore compiled once per ISA with
 * MHIM_SIMD_CLONES_* (GNU target_clones: the loader picks the widest clone the CPU supports, once per process). Every
 * thread of a process runs the same clone, so results are bitwise independent of the thread count. Different CPUs
 * may select different clones; copies with FMA contraction may differ from the others in the last bits
 * (docs/numerics.md). The clones are enabled in x86-64 GCC builds with MHIM_ISA_CLONES (CMake option, default on);
 * without it, one copy is built for the ISA of the compiler flags (`-march=x86-64-v3` builds exactly the AVX2 copy). */
#ifndef MHIM_OPS_VECMATH_H
#define MHIM_OPS_VECMATH_H

#include <string.h>

/* Element-wise spans (src/ops/elementwise.h) are multiples of this many elements. */
#define MHIM_SIMD_BLOCK 64

#if defined(MHIM_ISA_CLONES) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
/* AVX-512, AVX2 and baseline copies (the double row sums: AVX-512 is fastest on AVX-512 CPUs). */
#define MHIM_SIMD_CLONES_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
/* x86-64-v4 (AVX-512 with FMA), x86-64-v3 (AVX2 with FMA) and baseline copies, with a·b + c contracted into FMAs
 * where the copy has them: for the polynomial code of src/ops/fastmath.h (half the instructions). The FMA copies
 * and the baseline copy may then round differently (docs/numerics.md). */
#define MHIM_SIMD_CLONES_FMA                                                                                        \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
#elif defined(__GNUC__) && !defined(__clang__)
/* One copy for the compiler's ISA, contracted into FMAs where the FMA copies are. */
#define MHIM_SIMD_CLONES_WIDE
#define MHIM_SIMD_CLONES_FMA __attribute__((optimize("fp-contract=fast")))
#else
#define MHIM_SIMD_CLONES_WIDE
#define MHIM_SIMD_CLONES_FMA
#endif

/* Helpers called from a cloned function must be inlined into it to be compiled for the clone's ISA (an out-of-line
 * helper keeps the baseline code). */
#if defined(__GNUC__)
#define MHIM_CLONE_INLINE static inline __attribute__((always_inline))
#else
#define MHIM_CLONE_INLINE static inline
#endif

/* Fixed-order double row sums over MHIM_SUM_LANES lanes: element c goes to lane c % MHIM_SUM_LANES (32 independent
 * chains keep the adders busy at any vector width). The lanes are four 8-wide GNU vectors (lanes 8q..8q+7 in v[q]),
 * so that every ISA copy keeps them in registers and converts float to double a vector at a time (left to the
 * auto-vectoriser, GCC kept them in memory); the arithmetic is element-wise and in the same order in every copy. */
#define MHIM_SUM_LANES 32

typedef double mhim_v8d __attribute__((vector_size(64)));
typedef float mhim_v8f __attribute__((vector_size(32)));

typedef struct {
    mhim_v8d v[4];
} mhim_lanes;

/* *out = the 8 floats at p (any alignment), widened to double. (Vectors go through pointers: a 64-byte vector
 * argument or return value would change the ABI between the ISA copies.) */
MHIM_CLONE_INLINE void mhim_load8_double(mhim_v8d *out, const float *p) {
    mhim_v8f f;
    memcpy(&f, p, sizeof f);
    *out = __builtin_convertvector(f, mhim_v8d);
}

/* Float partial sums over the same 32 lanes (lanes 16h..16h+15 in v[h]), kept in registers between blocks (as
 * `float f[32]` arrays, GCC also stored them back to the stack after every block of 32 elements). */
typedef float mhim_v16f __attribute__((vector_size(64)));

typedef struct {
    mhim_v16f v[2];
} mhim_flanes;

/* *out = the 16 floats at p (any alignment). */
MHIM_CLONE_INLINE void mhim_load16(mhim_v16f *out, const float *p) { memcpy(out, p, sizeof *out); }

/* Each double lane k += float lane k of f (lane k of f widened to double). */
MHIM_CLONE_INLINE void mhim_lanes_add_flanes(mhim_lanes *l, const mhim_flanes *f) {
    for (int h = 0; h < 2; h++) {
        const mhim_v8f lo = __builtin_shufflevector(f->v[h], f->v[h], 0, 1, 2, 3, 4, 5, 6, 7);
        const mhim_v8f hi = __builtin_shufflevector(f->v[h], f->v[h], 8, 9, 10, 11, 12, 13, 14, 15);
        l->v[2 * h] += __builtin_convertvector(lo, mhim_v8d);
        l->v[2 * h + 1] += __builtin_convertvector(hi, mhim_v8d);
    }
}

/* Lane k += v for a lane k < MHIM_SUM_LANES chosen at run time (row tails). */
MHIM_CLONE_INLINE void mhim_lanes_add_one(mhim_lanes *l, int k, double v) { l->v[k / 8][k % 8] += v; }

/* Σ of the lanes as a fixed tree: lane k + lane k+16, then the halves again (+8, +4, +2, +1): five dependent
 * additions per row instead of 31, the same order in every ISA copy. */
MHIM_CLONE_INLINE double mhim_lanes_total(const mhim_lanes *l) {
    const mhim_v8d a = (l->v[0] + l->v[2]) + (l->v[1] + l->v[3]);
    return ((a[0] + a[4]) + (a[2] + a[6])) + ((a[1] + a[5]) + (a[3] + a[7]));
}

#endif
