/* Synthetic cohort generator: options, slide plan, feature model and per-slide values (mhim/synth.h). */
#include "mhim/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mhim/common.h"
#include "mhim/rng.h"

#define N_FACTORS 8      /* latent factors shared by all dimensions */
#define PATCH_STEP 512   /* level-0 pixels between neighbouring patches (CLAM step 512) */
#define DIFFICULTY_POWER 3.0 /* tumour strength = signal_strength * u^3: few easy, many subtle */

/* Sub-streams of MHIM_RNG_SYNTH (bag = slide index, 0 for cohort-wide streams). */
enum { SUB_PLAN = 0, SUB_MODEL = 1, SUB_SIZE = 2, SUB_STYLE = 3, SUB_TISSUE = 4, SUB_TUMOUR = 5, SUB_INSTANCE = 6 };

struct mhim_synth_model {
    mhim_synth_options opt;
    int64_t d;
    float *loadings;  /* (N_FACTORS, d) */
    float *bias;      /* (d) pre-activation mean */
    float *noise_sd;  /* (d) */
    float *scale;     /* (d) output scale */
    float *direction; /* (d) signal direction, unit RMS */
};

void mhim_synth_defaults(mhim_synth_options *o) {
    *o = (mhim_synth_options){.n_slides = 60,
                              .mean_instances = 9000,
                              .instances_sigma = 0.5,
                              .min_instances = 1000,
                              .max_instances = 30000,
                              .feature_dim = 1024,
                              .positive_fraction = 0.4,
                              .min_signal_fraction = 0.01,
                              .max_signal_fraction = 0.10,
                              .signal_strength = 1.0,
                              .seed = 1};
}

int mhim_synth_check(const mhim_synth_options *o) {
    if (o->n_slides < 1 || o->n_slides > 999999) return mhim_fail("n_slides=%d: expected 1..999999", o->n_slides);
    if (o->feature_dim < 1) return mhim_fail("feature_dim=%d: expected at least 1", o->feature_dim);
    if (o->min_instances < 1 || o->max_instances < o->min_instances)
        return mhim_fail("min_instances=%d, max_instances=%d: expected 1 <= min_instances <= max_instances",
                         o->min_instances, o->max_instances);
    if (!(o->mean_instances >= 1)) return mhim_fail("mean_instances=%g: expected at least 1", o->mean_instances);
    if (!(o->instances_sigma >= 0 && o->instances_sigma <= 3))
        return mhim_fail("instances_sigma=%g: expected a value in [0, 3]", o->instances_sigma);
    if (!(o->positive_fraction >= 0 && o->positive_fraction <= 1))
        return mhim_fail("positive_fraction=%g: expected a value in [0, 1]", o->positive_fraction);
    if (!(o->min_signal_fraction > 0 && o->min_signal_fraction <= o->max_signal_fraction &&
          o->max_signal_fraction <= 1))
        return mhim_fail("min_signal_fraction=%g, max_signal_fraction=%g: expected 0 < min <= max <= 1",
                         o->min_signal_fraction, o->max_signal_fraction);
    if (!(o->signal_strength >= 0 && o->signal_strength <= 100))
        return mhim_fail("signal_strength=%g: expected a value in [0, 100]", o->signal_strength);
    if ((int64_t)o->max_instances * o->feature_dim > ((int64_t)1 << 34))
        return mhim_fail("max_instances x feature_dim = %lld values per slide is too large (limit 2^34)",
                         (long long)o->max_instances * o->feature_dim);
    return MHIM_OK;
}

static mhim_rng stream(const mhim_synth_options *o, int slide, int sub) {
    return mhim_rng_stream(o->seed, 0, (uint32_t)slide, MHIM_RNG_SYNTH, (uint32_t)sub);
}

void mhim_synth_plan(const mhim_synth_options *o, mhim_synth_slide **out) {
    int n = o->n_slides;
    mhim_synth_slide *slides = mhim_calloc((size_t)n, sizeof *slides);
    int64_t *perm = mhim_malloc((size_t)n * sizeof *perm);
    mhim_rng r = stream(o, 0, SUB_PLAN);
    mhim_rng_permutation(&r, perm, n);
    int64_t n_pos = llround(o->positive_fraction * n);
    for (int64_t k = 0; k < n_pos; k++) slides[perm[k]].label = 1;
    free(perm);
    double mu = log(o->mean_instances) - 0.5 * o->instances_sigma * o->instances_sigma;
    int tumours = 0, normals = 0;
    for (int i = 0; i < n; i++) {
        mhim_synth_slide *s = &slides[i];
        snprintf(s->name, sizeof s->name, s->label ? "tumor_%03d" : "normal_%03d", s->label ? ++tumours : ++normals);
        mhim_rng rs = stream(o, i, SUB_SIZE);
        double count = exp(mu + o->instances_sigma * mhim_rng_normal(&rs));
        s->n = llround(fmin(fmax(count, o->min_instances), o->max_instances));
        double u = mhim_rng_uniform_f64(&rs);
        double lo = log(o->min_signal_fraction), hi = log(o->max_signal_fraction);
        s->signal_fraction = s->label ? exp(lo + u * (hi - lo)) : 0.0;
    }
    *out = slides;
}

mhim_synth_model *mhim_synth_model_new(const mhim_synth_options *o) {
    mhim_synth_model *m = mhim_calloc(1, sizeof *m);
    int64_t d = o->feature_dim;
    m->opt = *o;
    m->d = d;
    m->loadings = mhim_malloc((size_t)(N_FACTORS * d) * sizeof(float));
    m->bias = mhim_malloc((size_t)d * sizeof(float));
    m->noise_sd = mhim_malloc((size_t)d * sizeof(float));
    m->scale = mhim_malloc((size_t)d * sizeof(float));
    m->direction = mhim_malloc((size_t)d * sizeof(float));
    mhim_rng r = stream(o, 0, SUB_MODEL);
    for (int64_t i = 0; i < N_FACTORS * d; i++) m->loadings[i] = (float)(0.3 * mhim_rng_normal(&r));
    double sum_sq = 0;
    for (int64_t j = 0; j < d; j++) {
        m->bias[j] = (float)(0.5 + 0.6 * mhim_rng_normal(&r));
        m->noise_sd[j] = (float)(0.4 * exp(0.25 * mhim_rng_normal(&r)));
        m->scale[j] = (float)(0.5 * exp(0.4 * mhim_rng_normal(&r)));
        m->direction[j] = (float)mhim_rng_normal(&r);
        sum_sq += (double)m->direction[j] * m->direction[j];
    }
    double rms = sqrt(sum_sq / (double)d);
    for (int64_t j = 0; j < d; j++) m->direction[j] = (float)(m->direction[j] / rms);
    return m;
}

void mhim_synth_model_free(mhim_synth_model *m) {
    if (!m) return;
    free(m->loadings);
    free(m->bias);
    free(m->noise_sd);
    free(m->scale);
    free(m->direction);
    free(m);
}

const float *mhim_synth_direction(const mhim_synth_model *m) { return m->direction; }

/* ---- patch grid ------------------------------------------------------------------------------ */

typedef struct {
    double key;
    int32_t gx, gy;
    int64_t index;
} grid_cell;

static int by_key(const void *pa, const void *pb) {
    const grid_cell *a = pa, *b = pb;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

static int by_position(const void *pa, const void *pb) { /* x-major, as CLAM's meshgrid(indexing='ij') */
    const grid_cell *a = pa, *b = pb;
    if (a->gx != b->gx) return a->gx < b->gx ? -1 : 1;
    return (a->gy > b->gy) - (a->gy < b->gy);
}

/* n patches forming one blob with a wavy outline: the n grid cells of lowest normalised radius. */
static void tissue_grid(const mhim_synth_options *o, int slide, int64_t n, int32_t *coords) {
    mhim_rng r = stream(o, slide, SUB_TISSUE);
    const double pi = 3.14159265358979323846;
    double aspect = exp(0.4 * (2 * mhim_rng_uniform_f64(&r) - 1));
    double ax = sqrt((double)n * aspect / pi), ay = (double)n / (pi * ax);
    double phase3 = 2 * pi * mhim_rng_uniform_f64(&r), phase5 = 2 * pi * mhim_rng_uniform_f64(&r);
    int32_t hx = (int32_t)ceil(1.5 * ax) + 2, hy = (int32_t)ceil(1.5 * ay) + 2;
    int32_t x0 = 16 * (int32_t)mhim_rng_below(&r, 1280), y0 = 16 * (int32_t)mhim_rng_below(&r, 1280);
    int64_t n_cand = (int64_t)(2 * hx + 1) * (2 * hy + 1);
    grid_cell *cells = mhim_malloc((size_t)n_cand * sizeof *cells);
    int64_t c = 0;
    for (int32_t gx = -hx; gx <= hx; gx++)
        for (int32_t gy = -hy; gy <= hy; gy++, c++) {
            double u = gx / ax, v = gy / ay, theta = atan2(v, u);
            double outline = 1 + 0.12 * sin(3 * theta + phase3) + 0.08 * sin(5 * theta + phase5);
            cells[c] = (grid_cell){hypot(u, v) / outline, gx + hx, gy + hy, c};
        }
    MHIM_ASSERT(n <= n_cand);
    qsort(cells, (size_t)n_cand, sizeof *cells, by_key);
    qsort(cells, (size_t)n, sizeof *cells, by_position);
    for (int64_t t = 0; t < n; t++) {
        coords[2 * t] = x0 + PATCH_STEP * cells[t].gx;
        coords[2 * t + 1] = y0 + PATCH_STEP * cells[t].gy;
    }
    free(cells);
}

/* Flag the k = round(fraction * n) patches nearest a random patch (one contiguous lesion). */
static void tumour_region(const mhim_synth_options *o, int slide, const mhim_synth_slide *s, const int32_t *coords,
                          unsigned char *is_signal) {
    int64_t n = s->n;
    for (int64_t t = 0; t < n; t++) is_signal[t] = 0;
    if (!s->label) return;
    int64_t k = MHIM_MIN(MHIM_MAX(llround(s->signal_fraction * (double)n), 1), n);
    mhim_rng r = stream(o, slide, SUB_TUMOUR);
    int64_t centre = (int64_t)mhim_rng_below(&r, (uint64_t)n);
    grid_cell *cells = mhim_malloc((size_t)n * sizeof *cells);
    for (int64_t t = 0; t < n; t++) {
        double dx = coords[2 * t] - coords[2 * centre], dy = coords[2 * t + 1] - coords[2 * centre + 1];
        cells[t] = (grid_cell){dx * dx + dy * dy, 0, 0, t};
    }
    qsort(cells, (size_t)n, sizeof *cells, by_key);
    for (int64_t t = 0; t < k; t++) is_signal[cells[t].index] = 1;
    free(cells);
}

/* ---- features -------------------------------------------------------------------------------- */

/* Approximately standard normal from 32 random bits: the sum of four 8-bit uniforms (Irwin–Hall),
 * centred and scaled to unit variance. */
static float quick_normal(uint32_t bits) {
    uint32_t sum = (bits & 0xff) + ((bits >> 8) & 0xff) + ((bits >> 16) & 0xff) + (bits >> 24);
    return ((float)sum - 510.0f) * (1.7320508f / 256.0f);
}

/* noise[j] = sd[j] * N(0,1)-like values, two per 64-bit draw. */
static void fill_noise(uint64_t *state, const float *sd, float *noise, int64_t d) {
    int64_t j = 0;
    for (; j + 2 <= d; j += 2) {
        uint64_t w = mhim_splitmix64(state);
        noise[j] = sd[j] * quick_normal((uint32_t)w);
        noise[j + 1] = sd[j + 1] * quick_normal((uint32_t)(w >> 32));
    }
    if (j < d) noise[j] = sd[j] * quick_normal((uint32_t)mhim_splitmix64(state));
}

/* One instance: x = stain * scale * r * (1 + r/2), r = relu(bias + a*direction + loadings^T z + noise). */
static void instance_values(const mhim_synth_model *m, const float *offset, float stain, float strength,
                            int tumour, uint64_t state, float *restrict x, float *restrict noise) {
    int64_t d = m->d;
    float z[N_FACTORS];
    for (int k = 0; k < N_FACTORS; k++) {
        uint64_t w = mhim_splitmix64(&state);
        z[k] = offset[k] + 0.5f * (quick_normal((uint32_t)w) + quick_normal((uint32_t)(w >> 32))) * 1.4142136f;
    }
    float a = 0;
    if (tumour) a = strength * powf((float)(mhim_splitmix64(&state) >> 40) * 0x1p-24f, (float)DIFFICULTY_POWER);
    fill_noise(&state, m->noise_sd, noise, d);
    const float *restrict bias = m->bias, *restrict dir = m->direction, *restrict scale = m->scale;
#if defined(_OPENMP)
#pragma omp simd
#endif
    for (int64_t j = 0; j < d; j++) x[j] = bias[j] + a * dir[j] + noise[j];
    for (int k = 0; k < N_FACTORS; k++) {
        const float *restrict w = m->loadings + k * d;
        const float zk = z[k];
#if defined(_OPENMP)
#pragma omp simd
#endif
        for (int64_t j = 0; j < d; j++) x[j] += zk * w[j];
    }
#if defined(_OPENMP)
#pragma omp simd
#endif
    for (int64_t j = 0; j < d; j++) {
        float r = x[j] > 0 ? x[j] : 0;
        x[j] = stain * scale[j] * r * (1 + 0.5f * r);
    }
}

void mhim_synth_slide_values(const mhim_synth_model *m, int index, const mhim_synth_slide *slide, float *features,
                             int32_t *coords, unsigned char *is_signal) {
    const mhim_synth_options *o = &m->opt;
    int64_t n = slide->n, d = m->d;
    unsigned char *signal = is_signal ? is_signal : mhim_malloc((size_t)MHIM_MAX(n, 1));
    tissue_grid(o, index, n, coords);
    tumour_region(o, index, slide, coords, signal);
    mhim_rng style = stream(o, index, SUB_STYLE);
    float offset[N_FACTORS];
    for (int k = 0; k < N_FACTORS; k++) offset[k] = (float)(0.35 * mhim_rng_normal(&style));
    float stain = (float)exp(0.1 * mhim_rng_normal(&style));
    const mhim_rng inst = stream(o, index, SUB_INSTANCE);
    const float strength = (float)o->signal_strength;
#if defined(_OPENMP)
#pragma omp parallel
#endif
    {
        float *noise = mhim_malloc((size_t)d * sizeof(float));
#if defined(_OPENMP)
#pragma omp for schedule(static)
#endif
        for (int64_t t = 0; t < n; t++) {
            uint64_t state = (uint64_t)mhim_rng_u32_at(&inst, 2 * (uint64_t)t) << 32 |
                             mhim_rng_u32_at(&inst, 2 * (uint64_t)t + 1);
            instance_values(m, offset, stain, strength, signal[t], state, features + t * d, noise);
        }
        free(noise);
    }
    if (!is_signal) free(signal);
}
