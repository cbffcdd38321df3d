/* The bag store's reader thread: runs bag reads in submission order, all under the process I/O lock. */
#include <stdlib.h>
#include <string.h>

#include "io/bagstore_internal.h"
#include "mhim/bagfile.h"
#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/half.h"

static pthread_mutex_t io_lock = PTHREAD_MUTEX_INITIALIZER;

void mhim_bagstore_io_lock(void) { pthread_mutex_lock(&io_lock); }

void mhim_bagstore_io_unlock(void) { pthread_mutex_unlock(&io_lock); }

int bagstore_read_bag(const mhim_bagstore *s, int64_t bag, float *dst, int64_t *nonfinite) {
    const store_bag *b = &s->bags[bag];
    int rc = MHIM_OK;
    int64_t row = 0;
    *nonfinite = 0;
    mhim_bagstore_io_lock();
    for (int64_t f = 0; f < b->n_files && rc == MHIM_OK; f++) {
        int64_t bad = 0;
        if (b->file_rows[f] > 0)
            rc = mhim_bag_read_into_counted(b->files[f], dst + row * s->d, b->file_rows[f], s->d, &bad);
        *nonfinite += bad;
        row += b->file_rows[f];
    }
    mhim_bagstore_io_unlock();
    return rc;
}

/* fp16 values with an all-ones exponent (inf or NaN). */
static int64_t count_half_nonfinite(const uint16_t *h, int64_t n) {
    int64_t count = 0;
    for (int64_t i = 0; i < n; i++) count += (h[i] & 0x7c00u) == 0x7c00u;
    return count;
}

static void run_job(bag_loader *L, bag_job *job) {
    const mhim_bagstore *s = L->store;
    int64_t count = s->bags[job->bag].rows * s->d;
    float *values = job->dst ? job->dst : L->staging;
    double start = mhim_seconds();
    int64_t nonfinite = 0;
    job->status = bagstore_read_bag(s, job->bag, values, &nonfinite);
    if (job->status != MHIM_OK) {
        job->message = mhim_strdup(mhim_error());
        return;
    }
    if (job->check_values) job->nonfinite = nonfinite;
    if (job->dst16) {
        mhim_float_to_half_array(values, job->dst16, count);
        if (job->check_values) job->fp16_overflow = count_half_nonfinite(job->dst16, count) - job->nonfinite;
    }
    pthread_mutex_lock(&L->mu);
    L->reads++;
    L->bytes_read += count * (int64_t)sizeof(float);
    L->busy_seconds += mhim_seconds() - start;
    pthread_mutex_unlock(&L->mu);
}

static void *loader_main(void *arg) {
    bag_loader *L = arg;
    pthread_mutex_lock(&L->mu);
    for (;;) {
        while (!L->stop && L->count == 0) pthread_cond_wait(&L->work, &L->mu);
        if (L->stop) break;
        bag_job *job = L->queue[L->head];
        L->head = (L->head + 1) % L->cap;
        L->count--;
        pthread_cond_broadcast(&L->finished); /* a queue place became free */
        if (!job->cancelled) {
            pthread_mutex_unlock(&L->mu);
            run_job(L, job);
            pthread_mutex_lock(&L->mu);
        }
        job->done = 1;
        pthread_cond_broadcast(&L->finished);
    }
    pthread_mutex_unlock(&L->mu);
    return NULL;
}

void loader_start(bag_loader *L, const mhim_bagstore *store, int queue_cap, int64_t staging_floats) {
    memset(L, 0, sizeof *L);
    L->store = store;
    L->cap = queue_cap > 0 ? queue_cap : 1;
    L->queue = mhim_calloc((size_t)L->cap, sizeof *L->queue);
    if (staging_floats > 0) L->staging = mhim_malloc((size_t)staging_floats * sizeof(float));
    pthread_mutex_init(&L->mu, NULL);
    pthread_cond_init(&L->work, NULL);
    pthread_cond_init(&L->finished, NULL);
    if (pthread_create(&L->thread, NULL, loader_main, L) != 0) MHIM_DIE("cannot start the bag reader thread");
    L->started = 1;
}

void loader_submit(bag_loader *L, bag_job *job) {
    job->done = 0;
    job->cancelled = 0;
    job->status = MHIM_OK;
    free(job->message);
    job->message = NULL;
    job->nonfinite = 0;
    job->fp16_overflow = 0;
    pthread_mutex_lock(&L->mu);
    while (L->count == L->cap) pthread_cond_wait(&L->finished, &L->mu);
    L->queue[(L->head + L->count) % L->cap] = job;
    L->count++;
    pthread_cond_signal(&L->work);
    pthread_mutex_unlock(&L->mu);
}

void loader_wait(bag_loader *L, bag_job *job) {
    pthread_mutex_lock(&L->mu);
    while (!job->done) pthread_cond_wait(&L->finished, &L->mu);
    pthread_mutex_unlock(&L->mu);
}

int loader_is_done(bag_loader *L, bag_job *job) {
    pthread_mutex_lock(&L->mu);
    int done = job->done;
    pthread_mutex_unlock(&L->mu);
    return done;
}

void loader_cancel(bag_loader *L, bag_job *job) {
    pthread_mutex_lock(&L->mu);
    job->cancelled = 1;
    pthread_mutex_unlock(&L->mu);
}

void loader_stop(bag_loader *L) {
    if (!L->started) return;
    pthread_mutex_lock(&L->mu);
    L->stop = 1;
    for (int k = 0; k < L->count; k++) L->queue[(L->head + k) % L->cap]->done = 1;
    L->count = 0;
    pthread_cond_broadcast(&L->work);
    pthread_mutex_unlock(&L->mu);
    pthread_join(L->thread, NULL);
    pthread_mutex_destroy(&L->mu);
    pthread_cond_destroy(&L->work);
    pthread_cond_destroy(&L->finished);
    free(L->queue);
    free(L->staging);
    L->queue = NULL;
    L->staging = NULL;
    L->started = 0;
}
