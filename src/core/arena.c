/* Bump allocator with 64-byte alignment, marks and NaN poisoning (see mhim/arena.h). */
#include "mhim/arena.h"

#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"

static const uint32_t poison_bits = 0x7fc00000u; /* quiet NaN */

static void fill_nan(unsigned char *p, size_t bytes) {
    for (size_t i = 0; i + sizeof poison_bits <= bytes; i += sizeof poison_bits)
        memcpy(p + i, &poison_bits, sizeof poison_bits);
}

static int poison_default(void) {
    const char *env = getenv("MHIM_ARENA_POISON");
    if (env && *env) return strcmp(env, "0") != 0;
#ifdef NDEBUG
    return 0;
#else
    return 1;
#endif
}

size_t mhim_arena_align(size_t bytes) {
    if (bytes > SIZE_MAX - (MHIM_ARENA_ALIGN - 1)) MHIM_DIE("arena block of %zu bytes is too large", bytes);
    return (bytes + MHIM_ARENA_ALIGN - 1) & ~(size_t)(MHIM_ARENA_ALIGN - 1);
}

size_t mhim_arena_floats_size(int64_t n) {
    MHIM_ASSERT(n >= 0 && (uint64_t)n <= SIZE_MAX / sizeof(float));
    return mhim_arena_align((size_t)n * sizeof(float));
}

void mhim_arena_init(mhim_arena *a, const char *name, size_t capacity) {
    memset(a, 0, sizeof *a);
    size_t len = strlen(name);
    if (len >= sizeof a->name) len = sizeof a->name - 1;
    memcpy(a->name, name, len);
    a->capacity = mhim_arena_align(capacity);
    /* aligned_alloc needs a non-zero multiple of the alignment. */
    a->base = aligned_alloc(MHIM_ARENA_ALIGN, a->capacity ? a->capacity : MHIM_ARENA_ALIGN);
    if (!a->base) MHIM_DIE("out of memory reserving %zu bytes for arena '%s'", a->capacity, a->name);
    a->poison = poison_default();
    if (a->poison) fill_nan(a->base, a->capacity);
}

void mhim_arena_free(mhim_arena *a) {
    free(a->base);
    a->base = NULL;
    a->capacity = a->used = a->peak = 0;
}

void mhim_arena_set_poison(mhim_arena *a, int on) { a->poison = on != 0; }

void *mhim_arena_alloc(mhim_arena *a, size_t bytes) {
    size_t size = mhim_arena_align(bytes);
    if (size > a->capacity - a->used)
        MHIM_DIE("arena '%s': a block of %zu bytes does not fit (%zu of %zu bytes in use); the arena was sized "
                 "for smaller inputs — size it at start-up for the largest bag",
                 a->name, bytes, a->used, a->capacity);
    void *p = a->base + a->used;
    a->used += size;
    if (a->used > a->peak) a->peak = a->used;
    return p;
}

float *mhim_arena_floats(mhim_arena *a, int64_t n) {
    MHIM_ASSERT(n >= 0 && (uint64_t)n <= SIZE_MAX / sizeof(float));
    return mhim_arena_alloc(a, (size_t)n * sizeof(float));
}

int64_t *mhim_arena_i64(mhim_arena *a, int64_t n) {
    MHIM_ASSERT(n >= 0 && (uint64_t)n <= SIZE_MAX / sizeof(int64_t));
    return mhim_arena_alloc(a, (size_t)n * sizeof(int64_t));
}

size_t mhim_arena_mark(const mhim_arena *a) { return a->used; }

void mhim_arena_reset(mhim_arena *a, size_t mark) {
    MHIM_ASSERT(mark <= a->used);
    if (a->poison) fill_nan(a->base + mark, a->used - mark);
    a->used = mark;
}
