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

/* 1 when the running copy of a MHIM_SIMD_CLONES_FMA function is its AVX-512 (x86-64-v4) copy, else 0: for the loops
 * that stream faster there with 16-wide float vectors, which the other copies have no registers for (GCC keeps such
 * vectors on the stack there). Branch on it once per call; both paths must give the same bits. */
MHIM_CLONE_INLINE int mhim_copy_is_avx512(void) {
#if defined(MHIM_ISA_CLONES) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
    return __builtin_cpu_supports("x86-64-v4") != 0;
#elif defined(__AVX512F__)
    return 1;
#else
    return 0;
#endif
}

/* Fully unrolls the loop that follows over the lanes (rolled, GCC indexes the lane vectors in memory). */
#if defined(__GNUC__) && !defined(__clang__)
#define MHIM_UNROLL _Pragma("GCC unroll 8")
#else
#define MHIM_UNROLL
#endif

/* Fixed-order double row sums over MHIM_SUM_LANES lanes: element c goes to lane c % MHIM_SUM_LANES (32 independent
 * chains keep the adders busy at any vector width). The lanes are eight 4-wide GNU vectors (lanes 4q..4q+3 in v[q]),
 * so that every ISA copy keeps them in registers and converts float to double a vector at a time (left to the
 * auto-vectoriser, GCC kept them in memory; 64-byte vectors, which the AVX2 and baseline copies have no registers
 * for, GCC kept on the stack there: LayerNorm 3x slower). Row tails are added as whole zero-padded blocks (a lane
 * indexed at run time also sent the lanes to memory); a lane starts at +0 and so never holds −0, and adding +0 leaves
 * it unchanged: the same bits as adding the tail's terms alone. The arithmetic is element-wise and in the same order
 * in every copy. */
#define MHIM_SUM_LANES 32

typedef double mhim_v4d __attribute__((vector_size(32)));
typedef float mhim_v8f __attribute__((vector_size(32)));

typedef struct {
    mhim_v4d v[8];
} mhim_lanes;

/* *out = the 4 floats at p (any alignment), widened to double. Widening is written element by element, which GCC
 * compiles to one vector conversion (its __builtin_convertvector of 4 floats took two half conversions and an
 * insert). (Vectors go through pointers: a 32-byte vector argument or return value would change the ABI between
 * the ISA copies.) */
MHIM_CLONE_INLINE void mhim_load4_double(mhim_v4d *out, const float *p) { *out = (mhim_v4d){p[0], p[1], p[2], p[3]}; }

/* Float partial sums over the same 32 lanes (lanes 8h..8h+7 in v[h]), kept in registers between blocks (as
 * `float f[32]` arrays, GCC also stored them back to the stack after every block of 32 elements). */
typedef struct {
    mhim_v8f v[4];
} mhim_flanes;

/* *out = the 8 floats at p (any alignment). */
MHIM_CLONE_INLINE void mhim_load8(mhim_v8f *out, const float *p) { memcpy(out, p, sizeof *out); }

/* Each double lane k += float lane k of f (lane k of f widened to double). */
MHIM_CLONE_INLINE void mhim_lanes_add_flanes(mhim_lanes *l, const mhim_flanes *f) {
    MHIM_UNROLL
    for (int h = 0; h < 4; h++) {
        const mhim_v8f v = f->v[h];
        l->v[2 * h] += (mhim_v4d){v[0], v[1], v[2], v[3]};
        l->v[2 * h + 1] += (mhim_v4d){v[4], v[5], v[6], v[7]};
    }
}

/* The float lanes as two 16-wide vectors (lanes 16h..16h+15 in v[h]), for AVX-512 copies only (mhim_copy_is_avx512). */
typedef float mhim_v16f __attribute__((vector_size(64)));

typedef struct {
    mhim_v16f v[2];
} mhim_flanes16;

/* *out = the 16 floats at p (any alignment). */
MHIM_CLONE_INLINE void mhim_load16(mhim_v16f *out, const float *p) { memcpy(out, p, sizeof *out); }

/* Each double lane k += float lane k of f (lane k of f widened to double), through the 8-wide halves. */
MHIM_CLONE_INLINE void mhim_lanes_add_flanes16(mhim_lanes *l, const mhim_flanes16 *f) {
    mhim_flanes halves;
    MHIM_UNROLL
    for (int h = 0; h < 2; h++) {
        halves.v[2 * h] = __builtin_shufflevector(f->v[h], f->v[h], 0, 1, 2, 3, 4, 5, 6, 7);
        halves.v[2 * h + 1] = __builtin_shufflevector(f->v[h], f->v[h], 8, 9, 10, 11, 12, 13, 14, 15);
    }
    mhim_lanes_add_flanes(l, &halves);
}

/* Each double lane k += p[k] widened to double, for the MHIM_SUM_LANES floats at p. */
MHIM_CLONE_INLINE void mhim_lanes_add_floats(mhim_lanes *l, const float *p) {
    mhim_flanes f;
    MHIM_UNROLL
    for (int h = 0; h < 4; h++) mhim_load8(&f.v[h], p + 8 * h);
    mhim_lanes_add_flanes(l, &f);
}

/* Each double lane k += p[k], for the MHIM_SUM_LANES doubles at p (a row tail padded with +0). */
MHIM_CLONE_INLINE void mhim_lanes_add_doubles(mhim_lanes *l, const double *p) {
    MHIM_UNROLL
    for (int q = 0; q < 8; q++) {
        mhim_v4d v;
        memcpy(&v, p + 4 * q, sizeof v);
        l->v[q] += v;
    }
}

/* Σ of the lanes as a fixed tree: lane k + lane k+16, then the halves again (+8, +4, +2, +1): five dependent
 * additions per row instead of 31, the same order in every ISA copy. */
MHIM_CLONE_INLINE double mhim_lanes_total(const mhim_lanes *l) {
    const mhim_v4d lo = (l->v[0] + l->v[4]) + (l->v[2] + l->v[6]); /* lanes 0..3 of the 8-lane half sums */
    const mhim_v4d hi = (l->v[1] + l->v[5]) + (l->v[3] + l->v[7]); /* lanes 4..7 */
    return ((lo[0] + hi[0]) + (lo[2] + hi[2])) + ((lo[1] + hi[1]) + (lo[3] + hi[3]));
}

#endif
