/* mhim/bigmem.h — large, long-lived buffers (the resident bag store).
 *
 * Memory is mapped lazily; mhim_big_populate then faults a range in with one call
 * (MADV_POPULATE_WRITE), which is much cheaper than one page fault per 4 KiB, and lets a thread prepare
 * the next destination while another one reads into the previous. Transparent huge pages are used when the
 * system enables them for all mappings; they are not requested with madvise, because with the usual
 * `defrag=madvise` setting that makes allocation stall in memory compaction (measured: 3x slower loading on a
 * machine whose memory was fragmented by the page cache). Never NULL (dies with the size on exhaustion);
 * release with mhim_big_free and the same size. */
#ifndef MHIM_BIGMEM_H
#define MHIM_BIGMEM_H

#include <stddef.h>

/* Zero-filled, lazily mapped memory of `bytes` bytes. */
void *mhim_big_alloc(size_t bytes);
/* Fault in [p, p + bytes) for writing now (falls back to touching one byte per page). */
void mhim_big_populate(void *p, size_t bytes);
void mhim_big_free(void *p, size_t bytes);

#endif
