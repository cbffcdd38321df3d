/* Streaming mode of the bag store: a ring of buffers filled by the reader thread in the order the
 * consumer announced; a request off that order is read on demand and the order resumes after it. */
#include <stdlib.h>
#include <string.h>

#include "io/bagstore_internal.h"
#include "mhim/common.h"
#include "mhim/log.h"

void bagstore_stream_open(mhim_bagstore *s, int n_slots) {
    int fp16 = s->opt.dtype == MHIM_STORE_FP16;
    int64_t elems = MHIM_MAX(s->max_rows * s->d, 1);
    s->n_slots = n_slots;
    s->slots = mhim_calloc((size_t)n_slots, sizeof *s->slots);
    for (int k = 0; k < n_slots; k++) {
        if (fp16)
            s->slots[k].values16 = mhim_malloc((size_t)elems * sizeof(uint16_t));
        else
            s->slots[k].values32 = mhim_malloc((size_t)elems * sizeof(float));
    }
    s->stats.bytes_stored = (int64_t)n_slots * elems * (fp16 ? 2 : 4) + (fp16 ? elems * 4 : 0);
    loader_start(&s->loader, s, n_slots, fp16 ? elems : 0);
}

void bagstore_stream_close(mhim_bagstore *s) {
    loader_stop(&s->loader);
    for (int k = 0; k < s->n_slots; k++) {
        if (s->slots[k].state == SLOT_HELD)
            MHIM_DIE("bag store closed while a view still holds bag '%s'", s->bags[s->slots[k].job.bag].name);
        free(s->slots[k].values32);
        free(s->slots[k].values16);
        free(s->slots[k].job.message);
    }
    free(s->slots);
    free(s->order);
}

/* A slot that can take a new job: free, or stale with its (cancelled) job finished. */
static int reusable_slot(mhim_bagstore *s) {
    for (int k = 0; k < s->n_slots; k++) {
        ring_slot *r = &s->slots[k];
        if (r->state == SLOT_FREE) return k;
        if (r->state == SLOT_PENDING && r->stale && loader_is_done(&s->loader, &r->job)) {
            r->state = SLOT_FREE;
            return k;
        }
    }
    return -1;
}

static void mark_stale(mhim_bagstore *s, ring_slot *r) {
    r->stale = 1;
    loader_cancel(&s->loader, &r->job);
}

/* Submit reads for the next schedule positions, up to one ring's worth ahead of the cursor. */
static void refill(mhim_bagstore *s) {
    while (s->fetch_pos < s->order_len && s->fetch_pos < s->cursor + s->n_slots) {
        int k = reusable_slot(s);
        if (k < 0) return;
        ring_slot *r = &s->slots[k];
        r->state = SLOT_PENDING;
        r->stale = 0;
        r->pos = s->fetch_pos++;
        r->job.bag = s->order[r->pos];
        r->job.dst = r->values32;
        r->job.dst16 = r->values16;
        r->job.check_values = 1;
        loader_submit(&s->loader, &r->job);
    }
}

static void reserve_order(mhim_bagstore *s, int64_t n) {
    if (n <= s->order_cap) return;
    s->order_cap = MHIM_MAX(n, 2 * s->order_cap);
    s->order = mhim_realloc(s->order, (size_t)s->order_cap * sizeof *s->order);
}

int bagstore_stream_announce(mhim_bagstore *s, const int64_t *order, int64_t n) {
    for (int k = 0; k < s->n_slots; k++)
        if (s->slots[k].state == SLOT_PENDING) mark_stale(s, &s->slots[k]);
    reserve_order(s, n);
    if (n > 0) memcpy(s->order, order, (size_t)n * sizeof *order);
    s->order_len = n;
    s->cursor = s->fetch_pos = 0;
    refill(s);
    return MHIM_OK;
}

/* Make bag i the bag at the cursor: skip ahead to its next announced position, or insert it. */
static void reschedule(mhim_bagstore *s, int64_t i) {
    int64_t p = s->cursor;
    while (p < s->order_len && s->order[p] != i) p++;
    if (p < s->order_len) { /* skipped positions [cursor, p) are dropped; prefetches from p on stay */
        for (int k = 0; k < s->n_slots; k++) {
            ring_slot *r = &s->slots[k];
            if (r->state == SLOT_PENDING && !r->stale && r->pos < p) mark_stale(s, r);
        }
        s->cursor = p;
        s->fetch_pos = MHIM_MAX(s->fetch_pos, p);
        return;
    }
    /* Not announced ahead: read it now, then resume the announced order at the cursor. */
    for (int k = 0; k < s->n_slots; k++)
        if (s->slots[k].state == SLOT_PENDING && !s->slots[k].stale) mark_stale(s, &s->slots[k]);
    if (s->cursor == 0) {
        reserve_order(s, s->order_len + 1);
        memmove(s->order + 1, s->order, (size_t)s->order_len * sizeof *s->order);
        s->order_len++;
    } else {
        s->cursor--; /* that position was consumed already: reuse it */
    }
    s->order[s->cursor] = i;
    s->fetch_pos = s->cursor;
}

/* Index of the live slot for the cursor position, waiting for stale reads to finish when they are what
 * keeps it from being submitted; -1 when every buffer is held by a view. */
static int cursor_slot(mhim_bagstore *s) {
    for (;;) {
        refill(s);
        int stale = -1;
        for (int k = 0; k < s->n_slots; k++) {
            const ring_slot *r = &s->slots[k];
            if (r->state != SLOT_PENDING) continue;
            if (!r->stale && r->pos == s->cursor) return k;
            if (r->stale) stale = k;
        }
        if (stale < 0) return -1;
        loader_wait(&s->loader, &s->slots[stale].job);
    }
}

/* acquire; on a bad bag *problem gets the reason (heap) and MHIM_EINPUT is returned. */
static int acquire_checked(mhim_bagstore *s, int64_t i, int *slot_out, char **problem) {
    *problem = NULL;
    if (!(s->cursor < s->order_len && s->order[s->cursor] == i)) reschedule(s, i);
    int k = cursor_slot(s);
    if (k < 0)
        return mhim_fail_code(MHIM_EINTERNAL, "bag store: all %d ring buffers are held by views; release a view "
                              "before the next get", s->n_slots);
    ring_slot *r = &s->slots[k];
    loader_wait(&s->loader, &r->job);
    s->cursor++;
    *problem = bagstore_job_problem(&r->job);
    r->state = *problem ? SLOT_FREE : SLOT_HELD;
    refill(s);
    *slot_out = k;
    return *problem ? MHIM_EINPUT : MHIM_OK;
}

int bagstore_stream_acquire(mhim_bagstore *s, int64_t i, int *slot_out) {
    char *problem;
    int rc = acquire_checked(s, i, slot_out, &problem);
    if (!problem) return rc;
    const store_bag *b = &s->bags[i];
    rc = mhim_fail("bag '%s' (%s%s): %s; fix or remove the slide, or set skip_bad_bags to find and leave out such "
                   "bags when the store opens", b->name, b->files[0], b->n_files > 1 ? " and more" : "", problem);
    free(problem);
    return rc;
}

void bagstore_stream_release(mhim_bagstore *s, int slot) {
    s->slots[slot].state = SLOT_FREE;
    refill(s);
}

/* skip_bad_bags: read every bag once through the ring to find the bad ones before training starts. */
int bagstore_stream_scan(mhim_bagstore *s) {
    int64_t n = 0;
    int64_t *order = mhim_malloc((size_t)MHIM_MAX(s->n_bags, 1) * sizeof *order);
    for (int64_t i = 0; i < s->n_bags; i++)
        if (s->bags[i].selected && !s->bags[i].skip_reason) order[n++] = i;
    bagstore_stream_announce(s, order, n);
    int rc = MHIM_OK;
    for (int64_t k = 0; k < n && rc == MHIM_OK; k++) {
        int slot;
        char *problem;
        rc = acquire_checked(s, order[k], &slot, &problem);
        if (problem)
            rc = bagstore_bad_bag(s, order[k], problem);
        else if (rc == MHIM_OK)
            bagstore_stream_release(s, slot);
    }
    bagstore_stream_announce(s, NULL, 0);
    free(order);
    return rc;
}
