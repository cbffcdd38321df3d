/* io/pt_dtype.h — element conversions for torch storages (little-endian bytes) to float32 / int64. */
#ifndef MHIM_IO_PT_DTYPE_H
#define MHIM_IO_PT_DTYPE_H

#include <stdint.h>

#include "mhim/ptfile.h"

/* dst[i] = (float)src[i] for n elements of a float dtype (float32/float16/bfloat16/float64). */
void pt_convert_to_f32(mhim_pt_dtype dtype, const void *src, float *dst, int64_t n);
/* dst[i] = (int64_t)src[i] for n elements of an integer/bool dtype. */
void pt_convert_to_i64(mhim_pt_dtype dtype, const void *src, int64_t *dst, int64_t n);

#endif
