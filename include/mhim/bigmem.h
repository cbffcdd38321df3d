/* mhim/bigmem.h — large, long-lived buffers (the resident bag store).
 *
 * The pages are mapped and zero-filled up front in one call (MAP_POPULATE), which is cheaper than
 * taking one page fault per 4 KiB while bags are read. Transparent huge pages are used when the
 * system enables them for all mappings; they are not requested with madvise, because with the usual
 * `defrag=madvise` setting that makes allocation stall in memory compaction (measured: 3x slower
 * loading on a machine whose memory was fragmented by the page cache). Never NULL (dies with the
 * size on exhaustion); release with mhim_big_free and the same size. */
#ifndef MHIM_BIGMEM_H
#define MHIM_BIGMEM_H

#include <stddef.h>

void *mhim_big_alloc(size_t bytes);
void mhim_big_free(void *p, size_t bytes);

#endif
