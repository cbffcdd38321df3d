/* mhim/bagstore.h — in-memory store of feature bags: every bag is read from disk once per process.
 *
 * A store is opened over N bags; a bag is one or more feature files (.h5 / .pt, see mhim/bagfile.h)
 * concatenated along rows (a survival case owning several slides). Opening reads every file's shape
 * first (cheap) and checks that all bags share the feature width D, then loads the values:
 *
 *  - preload (memory_budget == 0, or the stored size fits the budget): every bag is read exactly
 *    once, on one reader thread, into one resident block that serves all later epochs, folds and
 *    sweep points. fp32 storage hands out zero-copy pointers.
 *  - streaming (the stored size exceeds the budget): one prefetch thread reads the bags the consumer
 *    announced (e.g. the epoch permutation) into a bounded ring of buffers that fits the budget.
 *
 * Storage dtype fp16 halves the memory; values are rounded to fp16 (nearest even) in both modes and
 * converted back to fp32 on access, so a run gives the same numbers whichever mode the budget picks.
 *
 * Bad bags — no rows, NaN/Inf values, an unreadable file, values beyond the fp16 range with fp16
 * storage — make open fail with one line naming the slide (and the count of bad values), unless
 * skip_bad_bags is set: they are then left out and listed (mhim_bagstore_skip_reason/summary).
 * A feature width differing from the first bag's is always an error naming both bags and widths.
 * With skip_bad_bags in streaming mode, open reads every value once to find bad bags up front; without
 * it, a NaN/Inf met while streaming fails that get() with the same message.
 *
 * Threads: all file reads of every store in the process are serialised by one lock (the HDF5 library
 * is not thread-safe); in streaming mode they all run on the prefetch thread. In preload mode
 * mhim_bagstore_get and mhim_bagstore_copy may be called from several threads at once, each with its
 * own view. A streaming store serves one consumer thread. No memory is allocated per access once each
 * view has seen the largest bag. */
#ifndef MHIM_BAGSTORE_H
#define MHIM_BAGSTORE_H

#include <stddef.h>
#include <stdint.h>

typedef enum { MHIM_STORE_FP32 = 0, MHIM_STORE_FP16 = 1 } mhim_store_dtype;

/* Parse "fp32|fp16" (also float32/float16); MHIM_EINPUT naming `field` otherwise. */
int mhim_store_dtype_parse(const char *text, const char *field, mhim_store_dtype *out);

/* One bag: its name (slide or case ID, for messages) and its files, whose rows are concatenated. */
typedef struct {
    const char *name;
    int64_t n_files;
    const char *const *files;
} mhim_bag_source;

typedef struct {
    mhim_store_dtype dtype;
    int64_t memory_budget;       /* bytes for bag values; 0 = unlimited (preload everything) */
    const unsigned char *subset; /* NULL = every bag; else subset[i] != 0 selects bag i (others are
                                  * never opened, e.g. another MPI rank's shard) */
    int skip_bad_bags;           /* 1: leave bad bags out (listed) instead of failing */
} mhim_bagstore_options;

/* Load figures, final once open returns (streaming adds to bytes_read and seconds as it goes). */
typedef struct {
    int64_t n_bags;       /* bags given to open */
    int64_t n_loaded;     /* bags available to get (in the subset and not skipped) */
    int64_t n_skipped;    /* bad bags left out (skip_bad_bags) */
    int64_t n_instances;  /* rows over the loaded bags */
    int64_t file_reads;   /* bag reads done so far (preload: == n_loaded + bad bags read; never grows) */
    int64_t bytes_read;   /* fp32 bytes read from files so far */
    int64_t bytes_stored; /* bytes held for values (preload block, or the streaming ring) */
    int64_t bytes_mapped; /* preload fp32: bytes of bags mapped from their files (page cache, no copy) */
    double seconds;       /* wall time spent reading (open, plus prefetch time when streaming) */
    double gb_per_s;      /* bytes_read / seconds / 1e9 */
    int streaming;        /* 1 when the budget forced streaming mode */
    int ring_slots;       /* streaming: buffers in the ring */
} mhim_bagstore_stats;

typedef struct mhim_bagstore mhim_bagstore;

/* A consumer's handle on one bag at a time. Initialise it with MHIM_BAG_VIEW_INIT before the first
 * get; after use call mhim_bag_view_free. x stays valid until the view's next get or release. */
typedef struct {
    const float *x; /* (n, d) row-major fp32 */
    int64_t n, d;
    int64_t bag;    /* index of the bag shown, -1 if none */
    /* private */
    float *scratch; /* fp16 -> fp32 conversion buffer, grown to the largest bag seen */
    int64_t scratch_cap;
    int slot;       /* streaming ring slot held, or -1 */
    mhim_bagstore *store;
} mhim_bag_view;
#define MHIM_BAG_VIEW_INIT {NULL, 0, 0, -1, NULL, 0, -1, NULL}

/* Open a store over bags[0..n_bags) (opt may be NULL = fp32, preload, all bags, strict). The
 * store copies names and paths. On error *out is NULL and mhim_error() holds one line. */
int mhim_bagstore_open(const mhim_bag_source *bags, int64_t n_bags, const mhim_bagstore_options *opt,
                       mhim_bagstore **out);
/* Stop the prefetch thread and free everything. Every view must be released first. NULL is a no-op. */
void mhim_bagstore_close(mhim_bagstore *s);

int64_t mhim_bagstore_count(const mhim_bagstore *s);          /* n_bags given to open */
int64_t mhim_bagstore_dim(const mhim_bagstore *s);            /* feature width D (0 if nothing loaded) */
int mhim_bagstore_available(const mhim_bagstore *s, int64_t i); /* 1 if bag i can be read */
int64_t mhim_bagstore_n_instances(const mhim_bagstore *s, int64_t i); /* rows of bag i (0 if unavailable) */
const char *mhim_bagstore_name(const mhim_bagstore *s, int64_t i);
/* Why bag i was skipped ("no instances", "12 NaN/Inf values", the read error), or NULL. */
const char *mhim_bagstore_skip_reason(const mhim_bagstore *s, int64_t i);
/* "N bags skipped: a (reason), b (reason), ... and K more" (first `max_names`), or "" if none;
 * written into buf (always NUL-terminated). */
void mhim_bagstore_skip_summary(const mhim_bagstore *s, int max_names, char *buf, size_t cap);
void mhim_bagstore_stats_get(const mhim_bagstore *s, mhim_bagstore_stats *out);

/* Streaming: the order in which bags will be requested next (replaces any earlier announcement;
 * prefetching starts at once). Preload: accepted and ignored. Unavailable bags are an error. */
int mhim_bagstore_announce(mhim_bagstore *s, const int64_t *order, int64_t n);
/* Show bag i through the view (releases what the view held). Streaming: a bag other than the next
 * announced one is read on demand and the announced order resumes after it. MHIM_EINPUT if bag i is
 * unavailable or (streaming) turns out bad. */
int mhim_bagstore_get(mhim_bagstore *s, int64_t i, mhim_bag_view *view);
/* Copy bag i as fp32 into dst (n_instances(i) * dim floats). Same errors as get. */
int mhim_bagstore_copy(mhim_bagstore *s, int64_t i, float *dst);
/* Give back what the view holds (its ring slot); x becomes invalid. The scratch is kept. */
void mhim_bag_view_release(mhim_bag_view *view);
/* Release and free the view's scratch; the view can be reused after MHIM_BAG_VIEW_INIT. */
void mhim_bag_view_free(mhim_bag_view *view);

/* The process-wide lock held around every bag-file read: code that calls the HDF5 library while a
 * streaming store may be reading (e.g. a checkpoint writer) must hold it too. */
void mhim_bagstore_io_lock(void);
void mhim_bagstore_io_unlock(void);

#endif
