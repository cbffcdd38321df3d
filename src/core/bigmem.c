/* Pre-populated large allocations (see mhim/bigmem.h). */
#include "mhim/bigmem.h"

#include <sys/mman.h>

#include "mhim/common.h"

void *mhim_big_alloc(size_t bytes) {
    size_t size = bytes ? bytes : 1;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED) MHIM_DIE("out of memory mapping %zu bytes", size);
    return p;
}

void mhim_big_free(void *p, size_t bytes) {
    if (p) munmap(p, bytes ? bytes : 1);
}
