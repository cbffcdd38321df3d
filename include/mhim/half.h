/* mhim/half.h — IEEE 754 binary16 (fp16) <-> binary32 (fp32) conversion.
 *
 * fp16 -> fp32 is exact for every one of the 65536 bit patterns (subnormals, ±0, ±inf included;
 * a NaN stays a NaN with its sign and payload, made quiet). fp32 -> fp16 rounds to nearest, ties to even, produces fp16
 * subnormals, gives ±inf for |x| >= 65520, and maps NaN to a quiet NaN keeping the top payload bits.
 * The array forms give bit-identical results to the scalar forms (F16C instructions when the CPU has
 * them, portable bit arithmetic otherwise) and are safe to call from several threads. */
#ifndef MHIM_HALF_H
#define MHIM_HALF_H

#include <stdint.h>

float mhim_half_to_float(uint16_t h);
uint16_t mhim_float_to_half(float f);

/* bfloat16 (the top half of an fp32): widening is exact; narrowing rounds to nearest, ties to even (finite values
 * beyond the bf16 range give ±inf), and a NaN stays a quiet NaN with its sign and top payload bits. The device
 * conversion (mhim_cuda_float_to_bf16) gives the same bits. */
float mhim_bf16_to_float(uint16_t b);
uint16_t mhim_float_to_bf16(float f);

/* dst[i] = fp32(src[i]) for i < n; src and dst must not overlap. */
void mhim_half_to_float_array(const uint16_t *src, float *dst, int64_t n);
/* dst[i] = fp16(src[i]) for i < n (round to nearest even); src and dst must not overlap. */
void mhim_float_to_half_array(const float *src, uint16_t *dst, int64_t n);

#endif
