/* src/core/float_bits.h — a float's IEEE-754 bits and back, through memcpy (no aliasing, no float-to-int
 * conversion, whose out-of-range cases would be undefined). Always inlined, so that vector clones of a caller
 * (src/ops/vecmath.h) keep them in their own code. */
#ifndef MHIM_CORE_FLOAT_BITS_H
#define MHIM_CORE_FLOAT_BITS_H

#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define MHIM_BITS_INLINE static inline __attribute__((always_inline))
#else
#define MHIM_BITS_INLINE static inline
#endif

MHIM_BITS_INLINE uint32_t mhim_float_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

MHIM_BITS_INLINE float mhim_bits_float(uint32_t u) {
    float x;
    memcpy(&x, &u, sizeof x);
    return x;
}

#endif
