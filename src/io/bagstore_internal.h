/* io/bagstore_internal.h — state shared by the bag store's files: the reader thread (bagstore_loader.c),
 * open/preload/accessors (bagstore.c) and the streaming ring (bagstore_stream.c). */
#ifndef MHIM_IO_BAGSTORE_INTERNAL_H
#define MHIM_IO_BAGSTORE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "mhim/bagfile.h"
#include "mhim/bagstore.h"

/* One bag read, handed to the reader thread. The submitter fills the input part; the reader thread
 * owns the job from submit until `done`, then the output part is the submitter's to read. */
typedef struct {
    /* input */
    int64_t bag;
    float *dst;       /* fp32 destination of n*d values; NULL => the loader's staging buffer */
    uint16_t *dst16;  /* non-NULL: convert the values to fp16 into dst16 (n*d) */
    int check_values; /* count NaN/Inf (and fp16 overflows) on the reader thread */
    /* output */
    int done;
    int cancelled;         /* set through loader_cancel: skip the read if not started */
    int status;            /* MHIM_OK or the read's error code */
    char *message;         /* heap copy of the read error, or NULL */
    int64_t nonfinite;     /* NaN/Inf values (when check_values) */
    int64_t fp16_overflow; /* finite values that became inf in fp16 (when check_values and dst16) */
} bag_job;

typedef struct mhim_bagstore mhim_bagstore;

/* The single reader thread of a store: runs submitted jobs in FIFO order. */
typedef struct {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t work, finished;
    bag_job **queue; /* ring of cap pending jobs */
    int cap, head, count, stop, started;
    const mhim_bagstore *store; /* file lists and shapes (read-only while the thread runs) */
    float *staging;             /* (max bag rows * d) floats when a job may have dst == NULL */
    /* totals, under mu */
    int64_t reads, bytes_read;
    double busy_seconds;
} bag_loader;

/* Start the thread; queue_cap bounds the outstanding jobs; staging_floats may be 0. */
void loader_start(bag_loader *L, const mhim_bagstore *store, int queue_cap, int64_t staging_floats);
/* Queue a job (resets its output part); blocks while the queue is full. */
void loader_submit(bag_loader *L, bag_job *job);
/* Block until the job is done. */
void loader_wait(bag_loader *L, bag_job *job);
/* 1 if the job is done (non-blocking). */
int loader_is_done(bag_loader *L, bag_job *job);
/* Ask the thread to skip the job if it has not started it; it still becomes done. */
void loader_cancel(bag_loader *L, bag_job *job);
/* Finish the running job, drop the queued ones, join the thread, free the staging buffer. */
void loader_stop(bag_loader *L);
/* Read bag `bag` of the store into dst (fp32), on the calling thread, under the process I/O lock; *nonfinite =
 * its NaN/Inf count. */
int bagstore_read_bag(const mhim_bagstore *s, int64_t bag, float *dst, int64_t *nonfinite);

typedef struct {
    char *name;
    int64_t n_files;
    char **files;
    int64_t *file_rows; /* rows of each file */
    int64_t rows;       /* sum of file_rows */
    int selected;       /* in the subset */
    int64_t offset;     /* preload: first element in the resident block */
    mhim_bag_mapping map; /* preload fp32: the features mapped from the file (map.features NULL: copied) */
    char *skip_reason;  /* heap; non-NULL => bad and left out */
} store_bag;

/* Streaming ring buffer. A slot is FREE, PENDING (a job submitted for schedule position pos; stale
 * once the schedule moved past it or was replaced), or HELD by a view after its job completed. */
enum { SLOT_FREE = 0, SLOT_PENDING, SLOT_HELD };
typedef struct {
    int state, stale;
    int64_t pos;
    bag_job job;
    float *values32;   /* fp32 storage: max bag elements */
    uint16_t *values16; /* fp16 storage: max bag elements */
} ring_slot;

struct mhim_bagstore {
    int64_t n_bags;
    store_bag *bags;
    int64_t d;
    int64_t max_rows; /* over the bags that can be read */
    mhim_bagstore_options opt;
    int streaming;
    mhim_bagstore_stats stats;
    /* preload: the resident block */
    float *values32;
    uint16_t *values16;
    size_t resident_bytes; /* size of the mapped block holding values32/values16 */
    /* streaming */
    bag_loader loader;
    ring_slot *slots;
    int n_slots;
    int64_t *order; /* announced schedule */
    int64_t order_len, order_cap, cursor, fetch_pos;
};

/* A problem with a finished job as a heap string ("12 NaN/Inf values", the read error), or NULL. */
char *bagstore_job_problem(const bag_job *job);
/* Record a bad bag: skip it (skip_bad_bags) or fail with one line naming it. Takes `reason`. */
int bagstore_bad_bag(mhim_bagstore *s, int64_t i, char *reason);

/* Streaming (bagstore_stream.c). */
void bagstore_stream_open(mhim_bagstore *s, int n_slots);
void bagstore_stream_close(mhim_bagstore *s);
int bagstore_stream_scan(mhim_bagstore *s);
int bagstore_stream_announce(mhim_bagstore *s, const int64_t *order, int64_t n);
/* Ring slot holding bag i (HELD), fetched if needed. */
int bagstore_stream_acquire(mhim_bagstore *s, int64_t i, int *slot_out);
void bagstore_stream_release(mhim_bagstore *s, int slot);

#endif
