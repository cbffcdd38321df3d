/* Bag store: open (shape checks, mode choice), preload on one reader thread, and accessors
 * (see mhim/bagstore.h; the streaming ring is in bagstore_stream.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "io/bagstore_internal.h"
#include "mhim/bagfile.h"
#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/bigmem.h"
#include "mhim/half.h"
#include "mhim/log.h"

#define PROGRESS_EVERY_SECONDS 2.0
/* A streamed store holds at most this many bags: the one in use and three read ahead. One reader thread fills
 * them (HDF5 reads are serialised), so a deeper ring adds no read throughput, only memory; three bags ahead absorb a
 * slow read of the shared file system. (On the C16-sized benchmark, 2 buffers trained as fast as 16.) */
#define MAX_RING_SLOTS 4

/* "512 B", "3.4 MB", "1.25 GB" (decimal units) into buf. */
static const char *human_bytes(double bytes, char buf[32]) {
    static const char *units[] = {"B", "KB", "MB", "GB", "TB"};
    int u = 0;
    while (bytes >= 1000 && u < 4) {
        bytes /= 1000;
        u++;
    }
    snprintf(buf, 32, u ? "%.3g %s" : "%.0f %s", bytes, units[u]);
    return buf;
}

static const char *dtype_name(mhim_store_dtype t) { return t == MHIM_STORE_FP16 ? "fp16" : "fp32"; }

static int64_t element_bytes(const mhim_bagstore *s) { return s->opt.dtype == MHIM_STORE_FP16 ? 2 : 4; }

int mhim_store_dtype_parse(const char *text, const char *field, mhim_store_dtype *out) {
    if (!strcasecmp(text, "fp32") || !strcasecmp(text, "float32")) {
        *out = MHIM_STORE_FP32;
        return MHIM_OK;
    }
    if (!strcasecmp(text, "fp16") || !strcasecmp(text, "float16")) {
        *out = MHIM_STORE_FP16;
        return MHIM_OK;
    }
    return mhim_fail("%s: '%s' is not a storage dtype; expected fp32 or fp16", field, text);
}

static int usable(const store_bag *b) { return b->selected && !b->skip_reason; }

char *bagstore_job_problem(const bag_job *job) {
    if (job->status != MHIM_OK) return mhim_strdup(job->message ? job->message : "read failed");
    if (job->nonfinite > 0) return mhim_asprintf("%lld NaN/Inf values", (long long)job->nonfinite);
    if (job->fp16_overflow > 0)
        return mhim_asprintf("%lld values beyond the fp16 range (|x| >= 65520); store the bags as fp32",
                             (long long)job->fp16_overflow);
    return NULL;
}

int bagstore_bad_bag(mhim_bagstore *s, int64_t i, char *reason) {
    store_bag *b = &s->bags[i];
    if (!s->opt.skip_bad_bags) {
        int rc = mhim_fail("bag '%s' (%s%s): %s; fix or remove the slide, or set skip_bad_bags to leave such "
                           "bags out", b->name, b->files[0], b->n_files > 1 ? " and more" : "", reason);
        free(reason);
        return rc;
    }
    b->skip_reason = reason;
    s->stats.n_skipped++;
    MHIM_WARN("skipping bag '%s': %s", b->name, reason);
    return MHIM_OK;
}

/* Copy the sources and read every selected file's shape; checks D and empty bags. */
static int read_shapes(mhim_bagstore *s, const mhim_bag_source *src) {
    const store_bag *first = NULL;
    for (int64_t i = 0; i < s->n_bags; i++) {
        store_bag *b = &s->bags[i];
        b->name = mhim_strdup(src[i].name ? src[i].name : "(unnamed)");
        if (src[i].n_files < 1) return mhim_fail("bag '%s': no feature file given (expected at least one)", b->name);
        b->n_files = src[i].n_files;
        b->files = mhim_calloc((size_t)b->n_files, sizeof *b->files);
        b->file_rows = mhim_calloc((size_t)b->n_files, sizeof *b->file_rows);
        for (int64_t f = 0; f < b->n_files; f++) b->files[f] = mhim_strdup(src[i].files[f]);
        b->selected = !s->opt.subset || s->opt.subset[i];
        if (!b->selected) continue;
        int64_t d = -1;
        int rc = MHIM_OK;
        mhim_bagstore_io_lock();
        for (int64_t f = 0; f < b->n_files && rc == MHIM_OK; f++) {
            int64_t n, fd;
            rc = mhim_bag_read_shape(b->files[f], &n, &fd);
            if (rc != MHIM_OK) break;
            if (d >= 0 && fd != d) {
                mhim_bagstore_io_unlock();
                return mhim_fail("bag '%s': file %s has feature width D=%lld but %s has D=%lld; the files of "
                                 "one bag must come from the same encoder", b->name, b->files[f], (long long)fd,
                                 b->files[0], (long long)d);
            }
            d = fd;
            b->file_rows[f] = n;
            b->rows += n;
        }
        mhim_bagstore_io_unlock();
        if (rc != MHIM_OK) {
            rc = bagstore_bad_bag(s, i, mhim_strdup(mhim_error()));
            if (rc != MHIM_OK) return rc;
            continue;
        }
        if (first && d != s->d)
            return mhim_fail("bag '%s' (%s) has feature width D=%lld but bag '%s' (%s) has D=%lld; all bags must "
                             "come from the same encoder", b->name, b->files[0], (long long)d, first->name,
                             first->files[0], (long long)s->d);
        if (!first) {
            first = b;
            s->d = d;
        }
        if (b->rows == 0) {
            rc = bagstore_bad_bag(s, i, mhim_strdup("no instances (0 rows)"));
            if (rc != MHIM_OK) return rc;
        }
    }
    return MHIM_OK;
}

static void log_progress(const mhim_bagstore *s, int64_t done, int64_t total, int64_t bytes, double elapsed) {
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    MHIM_INFO("loading bags: %lld/%lld (%.0f%%) | %.1f bags/s | %.2f GB/s | ETA %.0f s", (long long)done,
              (long long)total, total ? 100.0 * (double)done / (double)total : 100.0, rate,
              elapsed > 0 ? (double)bytes / elapsed / 1e9 : 0.0, eta);
}

/* fp32 single-file bags whose features lie contiguous and uncompressed in their file are mapped instead of
 * copied: no second copy in memory next to the page cache, and no copying. Values are checked here. */
static int map_bags(mhim_bagstore *s, int64_t *n_mapped, int64_t *bytes_mapped) {
    for (int64_t i = 0; i < s->n_bags; i++) {
        store_bag *b = &s->bags[i];
        if (!usable(b) || b->n_files != 1 || b->rows == 0) continue;
        mhim_bagstore_io_lock();
        int rc = mhim_bag_map(b->files[0], b->rows, s->d, &b->map);
        mhim_bagstore_io_unlock();
        char *problem = rc ? mhim_strdup(mhim_error()) : NULL;
        if (!problem && b->map.features) {
            int64_t bad = mhim_bag_count_nonfinite(b->map.features, b->rows * s->d);
            if (bad) problem = mhim_asprintf("%lld NaN/Inf values", (long long)bad);
            (*n_mapped)++;
            *bytes_mapped += b->rows * s->d * (int64_t)sizeof(float);
        }
        if (problem) {
            mhim_bag_unmap(&b->map);
            if ((rc = bagstore_bad_bag(s, i, problem)) != MHIM_OK) return rc;
        }
    }
    return MHIM_OK;
}

/* Read every usable bag once: fp32 bags are mapped where their layout allows (map_bags), the others are read
 * into the resident block. The reader thread stays at most READ_AHEAD bags ahead and counts NaN/Inf values as it
 * reads (fp16 bags are also converted there); meanwhile this thread faults in the next destinations. */
#define READ_AHEAD 2
static int preload(mhim_bagstore *s) {
    int fp16 = s->opt.dtype == MHIM_STORE_FP16;
    int64_t n_jobs = 0, total = 0, n_mapped = 0, bytes_mapped = 0;
    double start = mhim_seconds();
    if (!fp16) {
        int rc = map_bags(s, &n_mapped, &bytes_mapped);
        if (rc != MHIM_OK) return rc;
    }
    for (int64_t i = 0; i < s->n_bags; i++)
        if (usable(&s->bags[i]) && !s->bags[i].map.features) {
            s->bags[i].offset = total;
            total += s->bags[i].rows * s->d;
            n_jobs++;
        }
    s->stats.bytes_stored = total * element_bytes(s);
    s->resident_bytes = (size_t)MHIM_MAX(total, 1) * (size_t)element_bytes(s);
    if (fp16)
        s->values16 = mhim_big_alloc(s->resident_bytes);
    else
        s->values32 = mhim_big_alloc(s->resident_bytes);
    bag_job *jobs = mhim_calloc((size_t)MHIM_MAX(n_jobs, 1), sizeof *jobs);
    int64_t k = 0;
    for (int64_t i = 0; i < s->n_bags; i++)
        if (usable(&s->bags[i]) && !s->bags[i].map.features) {
            jobs[k].bag = i;
            jobs[k].dst = fp16 ? NULL : s->values32 + s->bags[i].offset;
            jobs[k].dst16 = fp16 ? s->values16 + s->bags[i].offset : NULL;
            jobs[k++].check_values = 1;
        }
    bag_loader L;
    loader_start(&L, s, READ_AHEAD, fp16 ? s->max_rows * s->d : 0);
    int rc = MHIM_OK;
    double last_log = mhim_seconds();
    int64_t bytes = bytes_mapped, submitted = 0;
    for (k = 0; k < n_jobs && rc == MHIM_OK; k++) {
        for (; submitted < n_jobs && submitted <= k + READ_AHEAD - 1; submitted++) {
            bag_job *next = &jobs[submitted];
            size_t count = (size_t)(s->bags[next->bag].rows * s->d);
            /* fault the destination in here, so that the reader thread only copies */
            if (fp16) mhim_big_populate(next->dst16, count * sizeof(uint16_t));
            else mhim_big_populate(next->dst, count * sizeof(float));
            loader_submit(&L, next);
        }
        bag_job *job = &jobs[k];
        loader_wait(&L, job);
        const store_bag *b = &s->bags[job->bag];
        char *problem = bagstore_job_problem(job);
        if (problem) rc = bagstore_bad_bag(s, job->bag, problem);
        bytes += b->rows * s->d * (int64_t)sizeof(float);
        double t = mhim_seconds();
        if (t - last_log >= PROGRESS_EVERY_SECONDS) {
            log_progress(s, n_mapped + k + 1, n_mapped + n_jobs, bytes, t - start);
            last_log = t;
        }
    }
    loader_stop(&L);
    s->stats.bytes_mapped = bytes_mapped;
    s->stats.file_reads = L.reads + n_mapped;
    s->stats.bytes_read = L.bytes_read + bytes_mapped;
    s->stats.seconds = mhim_seconds() - start;
    for (k = 0; k < n_jobs; k++) free(jobs[k].message);
    free(jobs);
    return rc;
}

/* Ring slots that fit the budget next to the fp32 staging buffer (fp16 only): 2 .. MAX_RING_SLOTS. */
static int ring_slots_for_budget(const mhim_bagstore *s, int64_t n_usable) {
    int64_t slot_bytes = MHIM_MAX(s->max_rows * s->d * element_bytes(s), 1);
    int64_t staging = s->opt.dtype == MHIM_STORE_FP16 ? s->max_rows * s->d * 4 : 0;
    int64_t fit = (s->opt.memory_budget - staging) / slot_bytes;
    int64_t slots = MHIM_MIN(MHIM_MAX(fit, 2), MAX_RING_SLOTS);
    slots = MHIM_MIN(slots, MHIM_MAX(n_usable, 2));
    char b1[32], b2[32], b3[32];
    if (fit < 2)
        MHIM_WARN("memory budget %s holds fewer than two of the largest bag (%s each); streaming through 2 "
                  "buffers (%s) anyway", human_bytes((double)s->opt.memory_budget, b1),
                  human_bytes((double)slot_bytes, b2), human_bytes((double)(2 * slot_bytes + staging), b3));
    return (int)slots;
}

int mhim_bagstore_open(const mhim_bag_source *bags, int64_t n_bags, const mhim_bagstore_options *opt,
                       mhim_bagstore **out) {
    *out = NULL;
    if (n_bags < 0) return mhim_fail("bag store: negative bag count %lld", (long long)n_bags);
    if (opt && opt->memory_budget < 0)
        return mhim_fail("bag store: memory budget %lld bytes is negative (0 = unlimited)",
                         (long long)opt->memory_budget);
    mhim_bagstore *s = mhim_calloc(1, sizeof *s);
    if (opt) s->opt = *opt;
    s->n_bags = n_bags;
    s->bags = mhim_calloc((size_t)MHIM_MAX(n_bags, 1), sizeof *s->bags);
    s->stats.n_bags = n_bags;
    int rc = read_shapes(s, bags);
    s->opt.subset = NULL; /* not kept: the caller's array may go away */
    if (rc != MHIM_OK) {
        mhim_bagstore_close(s);
        return rc;
    }
    int64_t stored = 0, n_usable = 0;
    for (int64_t i = 0; i < n_bags; i++)
        if (usable(&s->bags[i])) {
            stored += s->bags[i].rows * s->d * element_bytes(s);
            s->max_rows = MHIM_MAX(s->max_rows, s->bags[i].rows);
            n_usable++;
        }
    s->streaming = s->opt.memory_budget > 0 && stored > s->opt.memory_budget;
    if (s->streaming) {
        bagstore_stream_open(s, ring_slots_for_budget(s, n_usable));
        char b1[32], b2[32], b3[32];
        MHIM_INFO("bag store: %lld bags (%s as %s) exceed the memory budget of %s: streaming through %d buffers "
                  "of %s", (long long)n_usable, human_bytes((double)stored, b1), dtype_name(s->opt.dtype),
                  human_bytes((double)s->opt.memory_budget, b2), s->n_slots,
                  human_bytes((double)(s->max_rows * s->d * element_bytes(s)), b3));
        if (s->opt.skip_bad_bags) rc = bagstore_stream_scan(s);
    } else {
        rc = preload(s);
    }
    if (rc != MHIM_OK) {
        mhim_bagstore_close(s);
        return rc;
    }
    mhim_bagstore_stats st;
    mhim_bagstore_stats_get(s, &st);
    char b1[32], b2[32], b3[32];
    if (!s->streaming)
        MHIM_INFO("bag store: %lld bags (%lld skipped), %lld instances x %lld, %s read in %.2f s (%.2f GB/s), "
                  "holding %s as %s, %s mapped from the files", (long long)st.n_loaded, (long long)st.n_skipped,
                  (long long)st.n_instances, (long long)s->d, human_bytes((double)st.bytes_read, b1), st.seconds,
                  st.gb_per_s, human_bytes((double)st.bytes_stored, b2), dtype_name(s->opt.dtype),
                  human_bytes((double)st.bytes_mapped, b3));
    *out = s;
    return MHIM_OK;
}

void mhim_bagstore_close(mhim_bagstore *s) {
    if (!s) return;
    if (s->streaming) bagstore_stream_close(s);
    for (int64_t i = 0; i < s->n_bags; i++) {
        store_bag *b = &s->bags[i];
        for (int64_t f = 0; f < b->n_files && b->files; f++) free(b->files[f]);
        free(b->files);
        free(b->file_rows);
        free(b->name);
        free(b->skip_reason);
        mhim_bag_unmap(&b->map);
    }
    free(s->bags);
    mhim_big_free(s->values32 ? (void *)s->values32 : (void *)s->values16, s->resident_bytes);
    free(s);
}

int64_t mhim_bagstore_count(const mhim_bagstore *s) { return s->n_bags; }

int64_t mhim_bagstore_dim(const mhim_bagstore *s) { return s->d; }

int mhim_bagstore_available(const mhim_bagstore *s, int64_t i) {
    return i >= 0 && i < s->n_bags && usable(&s->bags[i]);
}

int64_t mhim_bagstore_n_instances(const mhim_bagstore *s, int64_t i) {
    return mhim_bagstore_available(s, i) ? s->bags[i].rows : 0;
}

const char *mhim_bagstore_name(const mhim_bagstore *s, int64_t i) {
    return i >= 0 && i < s->n_bags ? s->bags[i].name : NULL;
}

const char *mhim_bagstore_skip_reason(const mhim_bagstore *s, int64_t i) {
    return i >= 0 && i < s->n_bags ? s->bags[i].skip_reason : NULL;
}

void mhim_bagstore_skip_summary(const mhim_bagstore *s, int max_names, char *buf, size_t cap) {
    if (cap == 0) return;
    buf[0] = '\0';
    if (s->stats.n_skipped == 0) return;
    size_t used = (size_t)snprintf(buf, cap, "%lld bag%s skipped:", (long long)s->stats.n_skipped,
                                   s->stats.n_skipped == 1 ? "" : "s");
    int shown = 0;
    for (int64_t i = 0; i < s->n_bags && shown < max_names && used < cap; i++)
        if (s->bags[i].skip_reason)
            used += (size_t)snprintf(buf + used, cap - used, "%s %s (%s)", shown++ ? "," : "", s->bags[i].name,
                                     s->bags[i].skip_reason);
    if (s->stats.n_skipped > shown && used < cap)
        snprintf(buf + used, cap - used, " and %lld more", (long long)(s->stats.n_skipped - shown));
}

void mhim_bagstore_stats_get(const mhim_bagstore *s, mhim_bagstore_stats *out) {
    *out = s->stats;
    out->n_loaded = 0;
    out->n_instances = 0;
    for (int64_t i = 0; i < s->n_bags; i++)
        if (usable(&s->bags[i])) {
            out->n_loaded++;
            out->n_instances += s->bags[i].rows;
        }
    if (s->streaming) {
        bag_loader *L = (bag_loader *)&s->loader;
        pthread_mutex_lock(&L->mu);
        out->file_reads = L->reads;
        out->bytes_read = L->bytes_read;
        out->seconds = L->busy_seconds;
        pthread_mutex_unlock(&L->mu);
        out->streaming = 1;
        out->ring_slots = s->n_slots;
    }
    out->gb_per_s = out->seconds > 0 ? (double)out->bytes_read / out->seconds / 1e9 : 0;
}

int mhim_bagstore_announce(mhim_bagstore *s, const int64_t *order, int64_t n) {
    for (int64_t k = 0; k < n; k++)
        if (!mhim_bagstore_available(s, order[k]))
            return mhim_fail("bag store: announced bag %lld (position %lld) is %s", (long long)order[k],
                             (long long)k, order[k] < 0 || order[k] >= s->n_bags ? "out of range"
                                                                                  : "not loaded (outside the subset "
                                                                                    "or skipped)");
    return s->streaming ? bagstore_stream_announce(s, order, n) : MHIM_OK;
}

static int check_available(const mhim_bagstore *s, int64_t i) {
    if (i < 0 || i >= s->n_bags)
        return mhim_fail("bag store: bag index %lld is out of range [0, %lld)", (long long)i, (long long)s->n_bags);
    const store_bag *b = &s->bags[i];
    if (!b->selected) return mhim_fail("bag store: bag '%s' is outside this store's subset", b->name);
    if (b->skip_reason) return mhim_fail("bag store: bag '%s' was skipped: %s", b->name, b->skip_reason);
    return MHIM_OK;
}

/* Scratch of at least the largest bag (allocated once per view). */
static float *view_scratch(const mhim_bagstore *s, mhim_bag_view *v, int64_t count) {
    if (v->scratch_cap < count) {
        free(v->scratch);
        v->scratch_cap = MHIM_MAX(count, s->max_rows * s->d);
        v->scratch = mhim_malloc((size_t)v->scratch_cap * sizeof(float));
    }
    return v->scratch;
}

int mhim_bagstore_get(mhim_bagstore *s, int64_t i, mhim_bag_view *view) {
    mhim_bag_view_release(view);
    int rc = check_available(s, i);
    if (rc != MHIM_OK) return rc;
    const store_bag *b = &s->bags[i];
    int64_t count = b->rows * s->d;
    if (!s->streaming) {
        if (b->map.features) {
            view->x = b->map.features;
        } else if (s->values32) {
            view->x = s->values32 + b->offset;
        } else {
            float *x = view_scratch(s, view, count);
            mhim_half_to_float_array(s->values16 + b->offset, x, count);
            view->x = x;
        }
    } else {
        int slot;
        rc = bagstore_stream_acquire(s, i, &slot);
        if (rc != MHIM_OK) return rc;
        if (s->opt.dtype == MHIM_STORE_FP16) {
            float *x = view_scratch(s, view, count);
            mhim_half_to_float_array(s->slots[slot].values16, x, count);
            bagstore_stream_release(s, slot);
            view->x = x;
        } else {
            view->x = s->slots[slot].values32;
            view->slot = slot;
        }
    }
    view->n = b->rows;
    view->d = s->d;
    view->bag = i;
    view->store = s;
    return MHIM_OK;
}

int mhim_bagstore_copy(mhim_bagstore *s, int64_t i, float *dst) {
    int rc = check_available(s, i);
    if (rc != MHIM_OK) return rc;
    const store_bag *b = &s->bags[i];
    int64_t count = b->rows * s->d;
    if (!s->streaming) {
        if (b->map.features)
            memcpy(dst, b->map.features, (size_t)count * sizeof(float));
        else if (s->values32)
            memcpy(dst, s->values32 + b->offset, (size_t)count * sizeof(float));
        else
            mhim_half_to_float_array(s->values16 + b->offset, dst, count);
        return MHIM_OK;
    }
    int slot;
    rc = bagstore_stream_acquire(s, i, &slot);
    if (rc != MHIM_OK) return rc;
    if (s->opt.dtype == MHIM_STORE_FP16)
        mhim_half_to_float_array(s->slots[slot].values16, dst, count);
    else
        memcpy(dst, s->slots[slot].values32, (size_t)count * sizeof(float));
    bagstore_stream_release(s, slot);
    return MHIM_OK;
}

void mhim_bag_view_release(mhim_bag_view *view) {
    if (view->store && view->slot >= 0) bagstore_stream_release(view->store, view->slot);
    view->slot = -1;
    view->x = NULL;
    view->n = 0;
    view->bag = -1;
}

void mhim_bag_view_free(mhim_bag_view *view) {
    mhim_bag_view_release(view);
    free(view->scratch);
    view->scratch = NULL;
    view->scratch_cap = 0;
    view->store = NULL;
}
