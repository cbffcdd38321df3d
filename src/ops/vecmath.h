/* src/ops/vecmath.h — let the compiler vectorise calls to erff, tanhf and expf inside `omp simd` loops.
 *
 * glibc's libmvec provides SIMD variants of these functions (x86-64, glibc >= 2.35); math.h only announces them
 * under -ffast-math, which the CPU reference must not use. Declaring them here with the simd attribute makes GCC
 * call the vector versions (at most 4 ulp from the scalar ones) in the element-wise loops: the same function for
 * every element and thread, so results stay independent of the thread count. Include after <math.h>. */
#ifndef MHIM_OPS_VECMATH_H
#define MHIM_OPS_VECMATH_H

#if defined(MHIM_HAVE_LIBMVEC) && defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((simd("notinbranch"))) float erff(float);
__attribute__((simd("notinbranch"))) float tanhf(float);
__attribute__((simd("notinbranch"))) float expf(float);
#endif

#endif
