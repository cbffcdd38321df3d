/* Emulation of CPython's set iteration order for list(set(range(n)) - set(M)) (see mhim/mask.h, spec v1 §4.4).
 *
 * CPython (Objects/setobject.c, unchanged since 3.7): set.difference copies the left set and discards M when
 * len(left) >> 2 > len(M) — the copy of set(range(n)) iterates in ascending order. Otherwise it inserts the kept
 * values, ascending, into a fresh table of 8 slots: the hash of a small int is the int itself; a probe at slot i
 * looks at slots i..i+9 when i + 9 <= mask (else only i), then perturb >>= 5, i = (5i + 1 + perturb) & mask; after
 * an insert that makes 5·fill >= 3·mask the table is rebuilt with the smallest power of two > 4·used (2·used above
 * 50000 entries), re-inserting the old slots in slot order. Iteration is slot order. */
#include "mhim/mask.h"

#include "mhim/common.h"

#define SET_MINSIZE 8
#define LINEAR_PROBES 9
#define PERTURB_SHIFT 5
#define EMPTY_SLOT (-1)

int64_t mhim_kept_order_table_len(int64_t n) { return 8 * (n > 0 ? n : 1) + 8; }

/* Insert value v (its own hash) into a table of `size` slots (power of two) that has a free slot. */
static void set_insert(int32_t *table, uint64_t size, int32_t v) {
    uint64_t mask = size - 1, perturb = (uint64_t)v, i = (uint64_t)v & mask;
    for (;;) {
        uint64_t last = i + LINEAR_PROBES <= mask ? i + LINEAR_PROBES : i;
        for (uint64_t s = i; s <= last; s++) {
            if (table[s] == EMPTY_SLOT) {
                table[s] = v;
                return;
            }
        }
        perturb >>= PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* Copy the occupied slots of table[0..size) to out in slot order; returns how many. */
static int64_t set_slots(const int32_t *table, uint64_t size, int64_t *out) {
    int64_t m = 0;
    for (uint64_t s = 0; s < size; s++)
        if (table[s] != EMPTY_SLOT) out[m++] = table[s];
    return m;
}

static void fill_empty(int32_t *table, uint64_t size) {
    for (uint64_t s = 0; s < size; s++) table[s] = EMPTY_SLOT;
}

void mhim_kept_order_cpython(int64_t n, const uint8_t *masked, int64_t n_masked, int32_t *table, int64_t *out) {
    MHIM_ASSERT(n >= 0 && n < INT32_MAX && n_masked >= 0 && n_masked <= n);
    if ((n >> 2) > n_masked) {
        int64_t m = 0;
        for (int64_t v = 0; v < n; v++)
            if (!masked[v]) out[m++] = v;
        return;
    }
    uint64_t size = SET_MINSIZE;
    int64_t fill = 0;
    fill_empty(table, size);
    for (int64_t v = 0; v < n; v++) {
        if (masked[v]) continue;
        set_insert(table, size, (int32_t)v);
        fill++;
        if ((uint64_t)fill * 5 < (size - 1) * 3) continue;
        uint64_t min_used = (uint64_t)(fill > 50000 ? fill * 2 : fill * 4), new_size = SET_MINSIZE;
        while (new_size <= min_used) new_size <<= 1;
        MHIM_ASSERT((int64_t)new_size <= mhim_kept_order_table_len(n));
        int64_t m = set_slots(table, size, out); /* out is free until the end: park the old slot order there */
        size = new_size;
        fill_empty(table, size);
        for (int64_t j = 0; j < m; j++) set_insert(table, size, (int32_t)out[j]);
    }
    int64_t m = set_slots(table, size, out);
    MHIM_ASSERT(m == n - n_masked);
}
