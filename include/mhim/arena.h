/* mhim/arena.h — bump allocator for per-step temporaries (activations, scratch).
 *
 * One allocation is reserved at start-up, sized for the largest bag; each step carves 64-byte
 * aligned blocks out of it and resets it afterwards, so the training loop never calls malloc.
 * A request that does not fit is a sizing bug: the process dies with a message naming the arena,
 * the request and the reservation (never a silent overflow).
 *
 * Poisoning: when enabled, the reserved memory is filled with NaN (0x7fc00000) at init and every
 * block released by mhim_arena_reset is refilled with NaN, so a read of memory that was not
 * written in this step shows up as NaN. Enabled by mhim_arena_set_poison(), by the environment
 * variable MHIM_ARENA_POISON=1, or by default in builds without NDEBUG. */
#ifndef MHIM_ARENA_H
#define MHIM_ARENA_H

#include <stddef.h>
#include <stdint.h>

#define MHIM_ARENA_ALIGN 64

typedef struct {
    char name[48];      /* shown in messages */
    unsigned char *base; /* 64-byte aligned reservation */
    size_t capacity;    /* bytes reserved */
    size_t used;        /* bytes handed out (incl. alignment padding) */
    size_t peak;        /* largest `used` seen since init */
    int poison;         /* NaN-fill released memory */
} mhim_arena;

/* Round `bytes` up to a multiple of MHIM_ARENA_ALIGN: the footprint of one block. */
size_t mhim_arena_align(size_t bytes);
/* Footprint of a block of n floats; sum these to size an arena (n >= 0). */
size_t mhim_arena_floats_size(int64_t n);

/* Reserve `capacity` bytes (rounded up to the alignment; 0 allowed). Dies on out-of-memory. */
void mhim_arena_init(mhim_arena *a, const char *name, size_t capacity);
/* Release the reservation; the struct may be re-initialised. */
void mhim_arena_free(mhim_arena *a);
/* Turn NaN poisoning on (1) or off (0); default from MHIM_ARENA_POISON / NDEBUG. */
void mhim_arena_set_poison(mhim_arena *a, int on);

/* A 64-byte aligned block of `bytes` bytes (contents undefined, NaN when poisoned). Never NULL;
 * dies if the block does not fit in the reservation. */
void *mhim_arena_alloc(mhim_arena *a, size_t bytes);
/* A block of n floats (n >= 0). */
float *mhim_arena_floats(mhim_arena *a, int64_t n);
/* A block of n int64 values (n >= 0). */
int64_t *mhim_arena_i64(mhim_arena *a, int64_t n);

/* Current fill level, to be passed to mhim_arena_reset later (nested scopes). */
size_t mhim_arena_mark(const mhim_arena *a);
/* Release every block carved after `mark` (0 = everything); poisons them when enabled. */
void mhim_arena_reset(mhim_arena *a, size_t mark);

#endif
