// Feature bags on the GPU: resident cache or double-buffered streaming (see mhim/cuda_bags.h).
#include <cstdlib>
#include <cstring>

#include "internal.cuh"
extern "C" {
#include "mhim/cuda_bags.h"
#include "mhim/half.h"
}

#define SLOTS 2

struct stream_slot {
    float *pinned;           // host staging buffer (max_rows × dim)
    float *dev;              // device buffer (max_rows × dim)
    int64_t bag;             // bag held (−1: none)
    cudaEvent_t copied;      // the copy into dev finished (copy stream)
    cudaEvent_t released;    // the compute stream is done with dev (recorded when the next bag is handed out)
};

struct mhim_cuda_bags {
    mhim_cuda_ctx *ctx;
    int64_t n_bags, dim, max_rows;
    int64_t *rows, *offset;  // per bag: row count, first value in the resident store
    int fp16, resident;
    void *store;             // resident: all bags (float or half)
    unsigned char *uploaded; // resident: bag already put
    float *work;             // resident fp16: the widened bag; streaming: unused
    uint16_t *half_staging;  // resident fp16: host conversion buffer of the largest bag
    stream_slot slot[SLOTS];
    int last;                // streaming: slot handed out by the last get (−1: none)
};

static void bags_release(mhim_cuda_bags *b) {
    cudaStreamSynchronize(b->ctx->copy_stream);
    cudaStreamSynchronize(b->ctx->stream);
    for (int s = 0; s < SLOTS; s++) {
        if (b->slot[s].pinned) cudaFreeHost(b->slot[s].pinned);
        if (b->slot[s].dev) cudaFree(b->slot[s].dev);
        if (b->slot[s].copied) cudaEventDestroy(b->slot[s].copied);
        if (b->slot[s].released) cudaEventDestroy(b->slot[s].released);
    }
    if (b->store) cudaFree(b->store);
    if (b->work) cudaFree(b->work);
    free(b->half_staging);
    free(b->uploaded);
    free(b->rows);
    free(b->offset);
    free(b);
}

extern "C" int mhim_cuda_bags_create(mhim_cuda_bags **out, mhim_cuda_ctx *ctx, const int64_t *rows, int64_t n_bags,
                                     int64_t dim, int fp16, size_t budget_bytes) {
    MHIM_ASSERT(n_bags >= 0 && dim >= 1);
    mhim_cuda_bags *b = (mhim_cuda_bags *)mhim_calloc(1, sizeof *b);
    b->ctx = ctx;
    b->n_bags = n_bags;
    b->dim = dim;
    b->fp16 = fp16 != 0;
    b->last = -1;
    b->rows = (int64_t *)mhim_malloc((size_t)(n_bags + 1) * sizeof(int64_t));
    b->offset = (int64_t *)mhim_malloc((size_t)(n_bags + 1) * sizeof(int64_t));
    int64_t total = 0;
    for (int64_t i = 0; i < n_bags; i++) {
        MHIM_ASSERT(rows[i] >= 0);
        b->rows[i] = rows[i];
        b->offset[i] = total;
        total += rows[i] * dim;
        if (rows[i] > b->max_rows) b->max_rows = rows[i];
    }
    const size_t value_bytes = b->fp16 ? 2 : 4, bag_bytes = (size_t)(b->max_rows * dim) * sizeof(float);
    const size_t resident_bytes = (size_t)total * value_bytes + (b->fp16 ? bag_bytes : 0);
    b->resident = resident_bytes <= budget_bytes;
    cudaError_t err = cudaSuccess;
    if (b->resident) {
        err = cudaMalloc(&b->store, (size_t)total * value_bytes + 1);
        if (err == cudaSuccess && b->fp16) err = cudaMalloc((void **)&b->work, bag_bytes + 1);
        b->uploaded = (unsigned char *)mhim_calloc((size_t)n_bags + 1, 1);
        if (b->fp16) b->half_staging = (uint16_t *)mhim_malloc((size_t)(b->max_rows * dim + 1) * sizeof(uint16_t));
    } else {
        for (int s = 0; s < SLOTS && err == cudaSuccess; s++) {
            b->slot[s].bag = -1;
            err = cudaMallocHost((void **)&b->slot[s].pinned, bag_bytes + 1);
            if (err == cudaSuccess) err = cudaMalloc((void **)&b->slot[s].dev, bag_bytes + 1);
            if (err == cudaSuccess) err = cudaEventCreateWithFlags(&b->slot[s].copied, cudaEventDisableTiming);
            if (err == cudaSuccess) err = cudaEventCreateWithFlags(&b->slot[s].released, cudaEventDisableTiming);
        }
    }
    if (err != cudaSuccess) {
        const int resident = b->resident;
        bags_release(b);
        return mhim_fail("CUDA bag %s: cannot reserve %zu bytes: %s (lower --memory_budget or use fp16 storage)",
                         resident ? "cache" : "streaming buffers", resident ? resident_bytes : 2 * bag_bytes,
                         cudaGetErrorString(err));
    }
    *out = b;
    return MHIM_OK;
}

extern "C" void mhim_cuda_bags_destroy(mhim_cuda_bags *bags) {
    if (bags) bags_release(bags);
}

extern "C" int mhim_cuda_bags_resident(const mhim_cuda_bags *bags) { return bags->resident; }

extern "C" void mhim_cuda_bags_put(mhim_cuda_bags *b, int64_t bag, const float *host) {
    MHIM_ASSERT(b->resident && bag >= 0 && bag < b->n_bags);
    if (b->uploaded[bag]) return;
    const int64_t n = b->rows[bag] * b->dim;
    if (b->fp16) {
        mhim_float_to_half_array(host, b->half_staging, n);
        MHIM_CUDA_CHECK(cudaMemcpy((uint16_t *)b->store + b->offset[bag], b->half_staging,
                                   (size_t)n * sizeof(uint16_t), cudaMemcpyHostToDevice));
    } else {
        MHIM_CUDA_CHECK(cudaMemcpy((float *)b->store + b->offset[bag], host, (size_t)n * sizeof(float),
                                   cudaMemcpyHostToDevice));
    }
    b->uploaded[bag] = 1;
}

// Copy `bag` into slot s on the copy stream, after the compute stream has released the slot's device buffer.
static void stream_into(mhim_cuda_bags *b, int s, int64_t bag, const float *host) {
    stream_slot *sl = &b->slot[s];
    const size_t bytes = (size_t)(b->rows[bag] * b->dim) * sizeof(float);
    MHIM_CUDA_CHECK(cudaEventSynchronize(sl->copied)); // the previous copy out of `pinned` is complete
    memcpy(sl->pinned, host, bytes);
    MHIM_CUDA_CHECK(cudaStreamWaitEvent(b->ctx->copy_stream, sl->released, 0));
    if (bytes)
        MHIM_CUDA_CHECK(cudaMemcpyAsync(sl->dev, sl->pinned, bytes, cudaMemcpyHostToDevice, b->ctx->copy_stream));
    MHIM_CUDA_CHECK(cudaEventRecord(sl->copied, b->ctx->copy_stream));
    sl->bag = bag;
}

extern "C" void mhim_cuda_bags_prefetch(mhim_cuda_bags *b, int64_t bag, const float *host) {
    MHIM_ASSERT(bag >= 0 && bag < b->n_bags);
    if (b->resident) return;
    for (int s = 0; s < SLOTS; s++)
        if (b->slot[s].bag == bag && s != b->last) return; // already on its way
    stream_into(b, b->last == 0 ? 1 : 0, bag, host);
}

extern "C" const float *mhim_cuda_bags_get(mhim_cuda_bags *b, int64_t bag, const float *host) {
    MHIM_ASSERT(bag >= 0 && bag < b->n_bags);
    if (b->resident) {
        MHIM_ASSERT(b->uploaded[bag]);
        if (!b->fp16) return (const float *)b->store + b->offset[bag];
        mhim_cuda_half_to_float(b->ctx, b->work, (const uint16_t *)b->store + b->offset[bag], b->rows[bag] * b->dim);
        return b->work;
    }
    int s = -1;
    for (int k = 0; k < SLOTS; k++)
        if (b->slot[k].bag == bag) s = k;
    if (b->last >= 0) // everything enqueued so far on the compute stream may still read the last bag's buffer
        MHIM_CUDA_CHECK(cudaEventRecord(b->slot[b->last].released, b->ctx->stream));
    if (s < 0) {
        MHIM_ASSERT(host != NULL);
        s = b->last == 0 ? 1 : 0;
        stream_into(b, s, bag, host);
    }
    MHIM_CUDA_CHECK(cudaStreamWaitEvent(b->ctx->stream, b->slot[s].copied, 0));
    b->last = s;
    return b->slot[s].dev;
}
