/* src/ops/vecmath.h — vector tanhf inside `omp simd` loops, and the ISA copies (target_clones) of the vectorised
 * element and row loops.
 *
 * glibc's libmvec provides SIMD variants of tanhf (x86-64, glibc >= 2.35: SSE4 "b", AVX2 "d" and AVX-512 "e"
 * versions, at most 1.4 ulp from the correctly rounded result); math.h only announces them under -ffast-math, which
 * the CPU reference must not use. Declaring it here with the simd attribute makes GCC call the vector versions in the
 * tanh loop. (exp and erf come from src/ops/fastmath.h.)
 *
 * The project builds for the x86-64 baseline (SSE2); the vectorised loops are therefore compiled once per ISA with
 * MHIM_SIMD_CLONES_* (GNU target_clones: the loader picks the widest clone the CPU supports, once per process). Every
 * thread of a process runs the same clone, and the tanh loop evaluates fixed blocks of MHIM_SIMD_BLOCK elements
 * starting at index 0, so every element takes the same (vector or scalar) path whatever the thread count: results
 * are bitwise independent of it. Different CPUs may select different clones, whose results may differ by a few ulp
 * (docs/numerics.md). Include after <math.h>. */
#ifndef MHIM_OPS_VECMATH_H
#define MHIM_OPS_VECMATH_H

/* Loops calling tanhf run over blocks of this many elements, each block vectorised on its own. */
#define MHIM_SIMD_BLOCK 64

#if defined(MHIM_HAVE_LIBMVEC) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((simd("notinbranch"))) float tanhf(float);
/* AVX-512, AVX2 and baseline copies (tanhf and the double row sums: AVX-512 is fastest on AVX-512 CPUs). */
#define MHIM_SIMD_CLONES_WIDE __attribute__((target_clones("avx512f", "avx2", "default")))
/* x86-64-v4 (AVX-512 with FMA), x86-64-v3 (AVX2 with FMA) and baseline copies, with a·b + c contracted into FMAs
 * where the copy has them: for the polynomial code of src/ops/fastmath.h (half the instructions). The FMA copies
 * and the baseline copy may then round differently (docs/numerics.md). */
#define MHIM_SIMD_CLONES_FMA                                                                                        \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default"), optimize("fp-contract=fast")))
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

#endif
