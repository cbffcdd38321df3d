/* dtype names, sizes and element conversions for torch storages (see mhim/ptfile.h, io/pt_dtype.h).
 * Storages are little-endian; so is every supported host. */
#include "io/pt_dtype.h"

#include <string.h>

#include "mhim/half.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the .pt reader assumes a little-endian host"
#endif

const char *mhim_pt_dtype_name(mhim_pt_dtype dtype) {
    switch (dtype) {
    case MHIM_PT_FLOAT32: return "float32";
    case MHIM_PT_FLOAT16: return "float16";
    case MHIM_PT_BFLOAT16: return "bfloat16";
    case MHIM_PT_FLOAT64: return "float64";
    case MHIM_PT_INT64: return "int64";
    case MHIM_PT_INT32: return "int32";
    case MHIM_PT_INT16: return "int16";
    case MHIM_PT_INT8: return "int8";
    case MHIM_PT_UINT8: return "uint8";
    case MHIM_PT_BOOL8: return "bool";
    }
    return "?";
}

int mhim_pt_dtype_is_float(mhim_pt_dtype dtype) {
    return dtype == MHIM_PT_FLOAT32 || dtype == MHIM_PT_FLOAT16 || dtype == MHIM_PT_BFLOAT16 ||
           dtype == MHIM_PT_FLOAT64;
}

int mhim_pt_dtype_size(mhim_pt_dtype dtype) {
    switch (dtype) {
    case MHIM_PT_FLOAT64:
    case MHIM_PT_INT64: return 8;
    case MHIM_PT_FLOAT32:
    case MHIM_PT_INT32: return 4;
    case MHIM_PT_FLOAT16:
    case MHIM_PT_BFLOAT16:
    case MHIM_PT_INT16: return 2;
    case MHIM_PT_INT8:
    case MHIM_PT_UINT8:
    case MHIM_PT_BOOL8: return 1;
    }
    return 1;
}

void pt_convert_to_f32(mhim_pt_dtype dtype, const void *src, float *dst, int64_t n) {
    if (dtype == MHIM_PT_FLOAT16) { /* src comes from malloc: aligned for uint16_t */
        mhim_half_to_float_array(src, dst, n);
        return;
    }
    const unsigned char *bytes = src;
    for (int64_t k = 0; k < n; k++) {
        if (dtype == MHIM_PT_FLOAT32) {
            memcpy(&dst[k], bytes + 4 * k, 4);
        } else if (dtype == MHIM_PT_FLOAT64) {
            double v;
            memcpy(&v, bytes + 8 * k, 8);
            dst[k] = (float)v;
        } else {
            uint16_t h; /* bfloat16 = the upper half of a float32 */
            memcpy(&h, bytes + 2 * k, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&dst[k], &bits, sizeof bits);
        }
    }
}

void pt_convert_to_i64(mhim_pt_dtype dtype, const void *src, int64_t *dst, int64_t n) {
    const unsigned char *bytes = src;
    for (int64_t k = 0; k < n; k++) {
        switch (dtype) {
        case MHIM_PT_INT64: memcpy(&dst[k], bytes + 8 * k, 8); break;
        case MHIM_PT_INT32: {
            int32_t v;
            memcpy(&v, bytes + 4 * k, 4);
            dst[k] = v;
            break;
        }
        case MHIM_PT_INT16: {
            int16_t v;
            memcpy(&v, bytes + 2 * k, 2);
            dst[k] = v;
            break;
        }
        case MHIM_PT_INT8: dst[k] = (int8_t)bytes[k]; break;
        case MHIM_PT_BOOL8: dst[k] = bytes[k] != 0; break;
        default: dst[k] = bytes[k]; break; /* uint8 */
        }
    }
}
