/* src/io/compression_bound.h — the one bound on declared sizes of compressed data that the readers share. */
#ifndef MHIM_IO_COMPRESSION_BOUND_H
#define MHIM_IO_COMPRESSION_BOUND_H

#include <stdbool.h>
#include <stdint.h>

/* Whether `declared` uncompressed bytes are more than any compression of `stored` bytes yields: deflate (h5py, CLAM,
 * TRIDENT, zip) shrinks data at most 1032:1; 1100:1 plus 1 MiB of slack. A larger declared size is a corrupt size
 * field, refused before it sizes an allocation. */
static inline bool mhim_beyond_compression(uint64_t declared, uint64_t stored) {
    return declared / 1100 > stored + ((uint64_t)1 << 20);
}

#endif
