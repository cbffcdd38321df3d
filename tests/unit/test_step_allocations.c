/* No heap allocation in the training loop: the library's calls to malloc, calloc, realloc, aligned_alloc and
 * posix_memalign are counted (the linker's --wrap, tests/CMakeLists.txt) while whole training steps run (engine_step:
 * teacher forward, masking, student forward/backward, losses, Adam, EMA) on 2 threads, for each baseline (ABMIL,
 * TransMIL, DSMIL) as `pure`, as MHIM v1 (teacher, high-score and random masking), as MHIM v2 (class-aware scores,
 * Merge) and with bf16 GEMMs. Each network is created for bags of up to MAX_INST instances and warmed up by one step
 * on the largest bag (buffers that grow once, e.g. the bf16 packing blocks, are allocated then); the steps after it,
 * on bags of 1 to MAX_INST instances, must allocate nothing. Exits non-zero otherwise. */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/threads.h"
#include "train/engine_internal.h"
#include "train_options.h"

#define MAX_INST 300
#define DIM 64
#define CLASSES 2

/* ---- allocation counting (the library's references to these functions are wrapped at link time) ---------------- */

static long allocations; /* calls while counting */
static int counting;

void *__real_malloc(size_t n);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_aligned_alloc(size_t align, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);

static void count_one(void) {
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED)) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
}

void *__wrap_malloc(size_t n) {
    count_one();
    return __real_malloc(n);
}

void *__wrap_calloc(size_t count, size_t size) {
    count_one();
    return __real_calloc(count, size);
}

void *__wrap_realloc(void *p, size_t n) {
    count_one();
    return __real_realloc(p, n);
}

void *__wrap_aligned_alloc(size_t align, size_t n) {
    count_one();
    return __real_aligned_alloc(align, n);
}

int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    count_one();
    return __real_posix_memalign(p, align, n);
}

/* ---- the steps ------------------------------------------------------------------------------------------------ */

/* One network from `options`: a warm-up step on MAX_INST instances, then counted steps on the sizes below (bags cut
 * from x, labels alternating); fails when a step fails or the counted steps allocate. */
static int check_steps(const char *options, const float *x) {
    static const int64_t sizes[] = {MAX_INST, 1, 2, 37, MAX_INST - 1, 128, 5, MAX_INST};
    mhim_config cfg;
    if (test_parse_train(&cfg, options)) return 1;
    engine_net n;
    if (engine_net_create(&n, &cfg, DIM, CLASSES, MAX_INST, 4) != MHIM_OK) {
        printf("FAIL %s: engine_net_create: %s\n", options, mhim_error());
        mhim_config_free(&cfg);
        return 1;
    }
    mhim_model_init_params(n.model, n.student, 7);
    if (n.teacher && n.teacher != n.student) mhim_model_init_params(n.model, n.teacher, 8);
    n.adam.lr = 1e-4;
    int failed_steps = 0;
    long counted = 0;
    const double t0 = mhim_clock_seconds(CLOCK_MONOTONIC);
    for (size_t k = 0; k <= MHIM_ARRAY_LEN(sizes); k++) {
        const int64_t N = k == 0 ? MAX_INST : sizes[k - 1];
        engine_step_ctx ctx = {.cfg = &cfg, .seed = 2021, .epoch = 1, .bag = (int64_t)k, .r_h = cfg.mask_ratio_h,
                               .mm = cfg.mm};
        engine_step_stats st;
        const long before = allocations;
        __atomic_store_n(&counting, k > 0, __ATOMIC_RELAXED);
        const int rc = engine_step(&n, &ctx, x, N, (int64_t)(k % CLASSES), &st);
        __atomic_store_n(&counting, 0, __ATOMIC_RELAXED);
        counted += allocations - before;
        if (rc != MHIM_OK) {
            printf("FAIL %s: step on %lld instances: %s\n", options, (long long)N, mhim_error());
            failed_steps++;
        }
    }
    printf("%s: %zu counted steps, %ld allocations (%.1f s)\n", options, MHIM_ARRAY_LEN(sizes), counted,
           mhim_clock_seconds(CLOCK_MONOTONIC) - t0);
    char name[160];
    snprintf(name, sizeof name, "no allocation in the steps of: %s", options);
    const int fails = failed_steps + check_true(name, counted == 0);
    engine_net_free(&n);
    mhim_config_free(&cfg);
    return fails;
}

int main(void) {
    static const char *configs[] = {
        "--model=pure --baseline=attn",
        "--model=pure --baseline=selfattn",
        "--model=pure --baseline=dsmil",
        "--model=mhim --mhim_version=1 --baseline=attn --mask_ratio_h=0.02 --mask_ratio=0.5",
        "--model=mhim --mhim_version=1 --baseline=selfattn --mask_ratio_h=0.03 --mask_ratio=0.7",
        "--model=mhim --mhim_version=1 --baseline=dsmil --mask_ratio_h=0.01 --mask_ratio=0.6",
        "--model=mhim --mhim_version=1 --baseline=attn --mask_ratio_h=0.02 --mask_ratio=0.5 --precision=bf16",
        "--model=mhim --mhim_version=2 --baseline=attn --attn2score --merge_enable --merge_mm=0.9999 --aux_alpha=0.5 "
        "--mask_ratio_h=0.05 --merge_ratio=0.8 --merge_k=5",
        "--model=mhim --mhim_version=2 --baseline=selfattn --attn2score --merge_enable --merge_mm=0.9999 "
        "--aux_alpha=0.5 --mask_ratio_h=0.05 --merge_ratio=0.8 --merge_k=5",
    };
    mhim_threads_init(2);
    float *x = mhim_malloc((size_t)MAX_INST * DIM * sizeof(float));
    test_rng r = {42};
    test_fill_uniform(&r, x, (int64_t)MAX_INST * DIM, -1.0f, 1.0f);
    int fails = 0;
    for (size_t i = 0; i < MHIM_ARRAY_LEN(configs); i++) fails += check_steps(configs[i], x);
    free(x);
    printf("%s: %d failure(s)\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
