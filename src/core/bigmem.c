/* Large lazily mapped allocations, populated on demand (see mhim/bigmem.h). */
#include "mhim/bigmem.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mhim/common.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux >= 5.14; older kernels answer EINVAL and we touch the pages */
#endif

void *mhim_big_alloc(size_t bytes) {
    size_t size = bytes ? bytes : 1;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) MHIM_DIE("out of memory mapping %zu bytes", size);
    return p;
}

void mhim_big_populate(void *p, size_t bytes) {
    if (!bytes) return;
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = (uintptr_t)p & ~(page - 1), end = (uintptr_t)p + bytes;
    if (madvise((void *)start, end - start, MADV_POPULATE_WRITE) == 0) return;
    for (volatile unsigned char *c = (unsigned char *)start; (uintptr_t)c < end; c += page) *c = *c;
}

void mhim_big_free(void *p, size_t bytes) {
    if (p) munmap(p, bytes ? bytes : 1);
}
