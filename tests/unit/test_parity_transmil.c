/* PyTorch parity of the TransMIL model (mhim/models/transmil.h) against the float64 reference of
 * tests/pytorch/gen_transmil_fixtures.py, for the cases of tests/fixtures/transmil/MANIFEST.tsv whose tier is
 * PARITY_TIER: "default" here (N in {1, 17 masked to 11, 255 (no padding), 300}, and a v2 case with 2 heads, GELU,
 * input_dim 768, 4 classes); "slow" in test_parity_transmil_slow (N in {5, 49} and the realistic N = 3000 unmasked
 * and 3500 masked to 3000, D_in 1024).
 *
 * Parameters and bags are not stored in the fixtures: both sides generate them with the same integer hash (see the
 * generator); the test first checks the generated values against the stored samples (exact), the state_dict
 * index and shape of every key. Then it compares: the student forward (logits, bag feature), every parameter
 * gradient of Σ logits·d_logits + Σ feat·d_feat, and the teacher forward (eval mode): per-head cls attention of
 * both layers, layer-1 instance values, v2 attn2score scores, feature and logits. Large tensors are compared
 * through 1024 sampled entries plus 4 random ±1 projections of the whole tensor.
 *
 * Tolerances (float32 vs float64, |err| <= atol + rtol·|want|): forward FWD_ATOL + FWD_RTOL, gradients BWD_ATOL +
 * BWD_RTOL; a projection must agree within PROJ_TOL·||tensor||₂. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "digest.h"
#include "fixture.h"
#include "mhim/arena.h"
#include "mhim/common.h"
#include "mhim/models/transmil.h"
#include "mhim/params.h"

/* observed (all tiers): forward max abs 1.9e-6, gradients max abs 8.1e-6 (res_conv weights of magnitude ~0.1-1),
 * projections 2.2e-6·||t|| */
#define FWD_ATOL 5e-6
#define FWD_RTOL 1e-4
#define BWD_ATOL 1e-5
#define BWD_RTOL 1e-3
#define PROJ_TOL 2e-5

#ifndef PARITY_TIER
#define PARITY_TIER "default"
#endif

static int64_t attr_i64(fixture *f, const char *name) { return (int64_t)fixture_scalar(f, name); }

/* Compare got (count floats) with the fixture tensor at `path`: whole or digest (support/digest.h). */
static int cmp_tensor(fixture *f, const char *cas, const char *path, const float *got, int64_t count, double atol,
                      double rtol) {
    return digest_check(f, cas, path, got, count, atol, rtol, PROJ_TOL);
}

/* Generate every parameter, checking index, shape and sampled values against the fixture. */
static int load_params(fixture *f, const char *cas, const mhim_param_layout *L, const mhim_param_spec *rows,
                       float *params, uint64_t seed) {
    int fails = check_true("fixture holds as many state_dict keys as the spec",
                           attr_i64(f, "n_params") == MHIM_TRANSMIL_SPEC_ROWS);
    char name[256];
    for (int r = 0; r < MHIM_TRANSMIL_SPEC_ROWS; r++) {
        const mhim_param_entry *e = mhim_param_find(L, rows[r].name);
        snprintf(name, sizeof name, "params/%s/shape", rows[r].name);
        int64_t ndim = 0;
        const int64_t *shape = fixture_has(f, name) ? fixture_i64(f, name, &ndim) : NULL;
        int same = shape && ndim == e->ndim;
        for (int d = 0; same && d < e->ndim; d++) same = shape[d] == e->shape[d];
        snprintf(name, sizeof name, "params/%s/index", rows[r].name);
        const int at_index = shape && attr_i64(f, name) == r;
        if (!same || !at_index) {
            printf("FAIL %s key %s: in the fixture=%d, same shape=%d, same state_dict index=%d\n", cas, rows[r].name,
                   shape != NULL, same, at_index);
            fails++;
            continue;
        }
        snprintf(name, sizeof name, "params/%s/offset", rows[r].name);
        const double offset = fixture_scalar(f, name);
        snprintf(name, sizeof name, "params/%s/exp", rows[r].name);
        digest_hash_fill(params + e->offset, e->numel, seed, (uint64_t)r, offset, (int)fixture_scalar(f, name));
        snprintf(name, sizeof name, "params/%s", rows[r].name);
        fails += cmp_tensor(f, cas, name, params + e->offset, e->numel, 0.0, 0.0);
    }
    return fails;
}

static int run_case(const char *file) {
    char path[1100], cas[1024];
    snprintf(path, sizeof path, "fixtures/transmil/%s", file);
    snprintf(cas, sizeof cas, "%.*s", (int)(strlen(file) - 3), file);
    fixture *f = fixture_open(path);
    if (!f) return 1;
    const int64_t N = attr_i64(f, "N"), n_keep = attr_i64(f, "n_keep"), D_in = attr_i64(f, "input_dim");
    const int64_t C = attr_i64(f, "n_classes"), H = attr_i64(f, "heads");
    const uint64_t seed = (uint64_t)attr_i64(f, "seed");
    mhim_transmil_config cfg = mhim_transmil_config_default((int)attr_i64(f, "version"), D_in, C, H,
                                                            attr_i64(f, "act") ? MHIM_ACT_GELU : MHIM_ACT_RELU);
    mhim_param_spec rows[MHIM_TRANSMIL_SPEC_ROWS];
    mhim_transmil_param_spec(&cfg, rows);
    mhim_param_layout L;
    mhim_transmil m;
    if (mhim_param_layout_init(&L, rows, MHIM_TRANSMIL_SPEC_ROWS) != MHIM_OK ||
        mhim_transmil_bind(&m, &cfg, &L) != MHIM_OK) {
        printf("FAIL %s: %s\n", cas, mhim_error());
        fixture_close(f);
        return 1;
    }
    float *params = mhim_params_alloc(&L), *grads = mhim_params_alloc(&L);
    int fails = load_params(f, cas, &L, rows, params, seed);
    float *x = mhim_malloc((size_t)(N * D_in) * sizeof(float));
    digest_hash_fill(x, N * D_in, seed, DIGEST_X_STREAM, 0.0, (int)attr_i64(f, "x_exp"));
    fails += cmp_tensor(f, cas, "inputs/x", x, N * D_in, 0.0, 0.0);
    const int64_t *keep = attr_i64(f, "masked") ? fixture_i64(f, "inputs/keep", NULL) : NULL;
    const float *d_logits = fixture_f32(f, "inputs/d_logits", NULL), *d_feat = fixture_f32(f, "inputs/d_feat", NULL);
    if (fails || (attr_i64(f, "masked") && !keep) || !d_logits || !d_feat) {
        printf("FAIL %s: fixture inputs unusable, parity not run\n", cas);
        fixture_close(f), mhim_param_layout_free(&L), mhim_params_free(params), mhim_params_free(grads), free(x);
        return fails + 1;
    }

    const size_t train_bytes = mhim_transmil_arena_bytes(&cfg, n_keep);
    const size_t teach_bytes = mhim_transmil_teacher_arena_bytes(&cfg, n_keep);
    mhim_arena arena;
    mhim_arena_init(&arena, "transmil parity", train_bytes > teach_bytes ? train_bytes : teach_bytes);
    mhim_arena_set_poison(&arena, 1);
    const int64_t Dm = cfg.embed.dim;
    float logits[8], feat[MHIM_EMBED_DIM];
    mhim_transmil_cache cache;
    fails += check_true("student forward", mhim_transmil_forward(&cache, &arena, &m, params, x, N, keep, n_keep, NULL,
                                                                 logits, feat) == MHIM_OK);
    fails += cmp_tensor(f, cas, "outputs/logits", logits, C, FWD_ATOL, FWD_RTOL);
    fails += cmp_tensor(f, cas, "outputs/feat", feat, Dm, FWD_ATOL, FWD_RTOL);
    mhim_transmil_backward(&m, grads, params, &cache, &arena, d_logits, d_feat);
    fails += check_true("training step stays within mhim_transmil_arena_bytes", arena.peak <= train_bytes);
    for (int r = 0; r < MHIM_TRANSMIL_SPEC_ROWS; r++) {
        const mhim_param_entry *e = mhim_param_find(&L, rows[r].name);
        char name[256];
        snprintf(name, sizeof name, "grads/%s", rows[r].name);
        fails += cmp_tensor(f, cas, name, grads + e->offset, e->numel, BWD_ATOL, BWD_RTOL);
    }

    /* teacher / evaluation forward: layer-1 exports, then the layer-2 attention */
    mhim_arena_reset(&arena, 0);
    arena.peak = 0;
    float *attn = mhim_malloc((size_t)(H * n_keep) * sizeof(float));
    float *values = mhim_malloc((size_t)(H * n_keep * MHIM_TRANSMIL_DIM_HEAD) * sizeof(float));
    float *scores = mhim_malloc((size_t)n_keep * sizeof(float));
    float t_logits[8], t_feat[MHIM_EMBED_DIM];
    mhim_transmil_teacher_out out = {
        .attn_layer = 0, .feat = t_feat, .logits = t_logits, .attn = attn, .values = values, .scores = scores};
    fails += check_true("teacher forward",
                        mhim_transmil_teacher_forward(&out, &arena, &m, params, x, N, keep, n_keep, NULL) == MHIM_OK);
    fails += cmp_tensor(f, cas, "outputs/attn0", attn, H * n_keep, FWD_ATOL, FWD_RTOL);
    fails += cmp_tensor(f, cas, "outputs/values", values, H * n_keep * MHIM_TRANSMIL_DIM_HEAD, FWD_ATOL, FWD_RTOL);
    fails += cmp_tensor(f, cas, "outputs/scores", scores, n_keep, FWD_ATOL, FWD_RTOL);
    fails += cmp_tensor(f, cas, "outputs/feat", t_feat, Dm, FWD_ATOL, FWD_RTOL);
    fails += cmp_tensor(f, cas, "outputs/logits", t_logits, C, FWD_ATOL, FWD_RTOL);
    mhim_transmil_teacher_out last = {.attn_layer = -1, .attn = attn};
    fails += check_true("teacher forward (last layer)",
                        mhim_transmil_teacher_forward(&last, &arena, &m, params, x, N, keep, n_keep, NULL) == MHIM_OK);
    fails += cmp_tensor(f, cas, "outputs/attn1", attn, H * n_keep, FWD_ATOL, FWD_RTOL);
    fails += check_true("teacher forward stays within mhim_transmil_teacher_arena_bytes", arena.peak <= teach_bytes);

    mhim_arena_free(&arena);
    free(attn), free(values), free(scores), free(x);
    mhim_params_free(params), mhim_params_free(grads);
    mhim_param_layout_free(&L);
    fixture_close(f);
    printf("%s %s\n", fails ? "FAIL" : "ok  ", cas);
    return fails;
}

int main(void) {
    FILE *manifest = fopen("fixtures/transmil/MANIFEST.tsv", "r");
    if (!manifest) {
        printf("FAIL cannot open fixtures/transmil/MANIFEST.tsv (run from tests/)\n");
        return 1;
    }
    char line[1024];
    int fails = 0, cases = 0;
    while (fgets(line, sizeof line, manifest)) {
        char *tab = strchr(line, '\t'), *tier = strrchr(line, '\t');
        if (!tab || strncmp(line, "file\t", 5) == 0) continue;
        *tab = '\0';
        tier[strcspn(tier, "\r\n")] = '\0';
        if (strcmp(tier + 1, PARITY_TIER) != 0) continue;
        fails += run_case(line);
        cases++;
    }
    fclose(manifest);
    fails += check_true("MANIFEST lists at least one case of tier " PARITY_TIER, cases > 0);
    printf("%d case(s), %d failure(s)\n", cases, fails);
    return fails ? 1 : 0;
}
