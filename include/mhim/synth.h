/* mhim/synth.h — synthetic whole-slide feature cohorts in the CLAM layout (docs/synthetic.md).
 *
 * `mhim_synth_cohort` writes DIR/h5_files/<slide>.h5 (`features` (N,D) float32, chunks (32,D),
 * maxshape (unlimited,D); `coords` (N,2) int32, chunks (32,2): the current CLAM writer's layout) and
 * DIR/label.csv (headerless `slide_id,label`, the original v1 C16 format; tumor_NNN = 1, normal_NNN = 0).
 *
 * Every value is a pure function of (seed, slide, instance) through counter-based streams
 * (mhim/rng.h, purpose MHIM_RNG_SYNTH), so the files are byte-identical for a seed whatever the
 * thread count. Features imitate post-ReLU average-pooled CNN features: non-negative, skewed, many
 * near-zero dimensions, correlated through a few latent factors plus a per-slide offset. In positive
 * slides a contiguous patch region of "tumour" instances is shifted along one fixed random direction by
 * a per-instance strength drawn with a difficulty gradient (few easy instances, many subtle ones). */
#ifndef MHIM_SYNTH_H
#define MHIM_SYNTH_H

#include <stdint.h>

typedef struct {
    int n_slides;               /* slides in the cohort */
    double mean_instances;      /* mean of the log-normal instance count (before clipping) */
    double instances_sigma;     /* sigma of log(N): the heavy tail */
    int min_instances;          /* clip range of N */
    int max_instances;
    int feature_dim;            /* D */
    double positive_fraction;   /* share of tumour (label 1) slides, rounded to a count */
    double min_signal_fraction; /* per positive slide, the tumour share of its instances is */
    double max_signal_fraction; /* log-uniform in [min, max] (at least one instance) */
    double signal_strength;     /* shift of the easiest tumour instance, in pre-activation SDs */
    uint64_t seed;
} mhim_synth_options;

/* Defaults: 60 slides, mean 9000 instances, sigma 0.5, clip [1000, 30000], D 1024, 40% positive,
 * signal fraction 1%..10%, strength 1.0, seed 1. */
void mhim_synth_defaults(mhim_synth_options *o);
/* Range checks; MHIM_EINPUT naming the option otherwise. */
int mhim_synth_check(const mhim_synth_options *o);

/* What one slide will be: name ("tumor_001"), label, instance count, tumour share. */
typedef struct {
    char name[32];
    int label;
    int64_t n;
    double signal_fraction; /* 0 for negative slides */
} mhim_synth_slide;

/* The cohort's slides in file order (*out: new array of o->n_slides). */
void mhim_synth_plan(const mhim_synth_options *o, mhim_synth_slide **out);

/* Cohort-wide generator parameters (latent loadings, biases, scales, signal direction). */
typedef struct mhim_synth_model mhim_synth_model;
mhim_synth_model *mhim_synth_model_new(const mhim_synth_options *o);
void mhim_synth_model_free(mhim_synth_model *m);
/* The signal direction in feature space (D floats, unit RMS), owned by the model. */
const float *mhim_synth_direction(const mhim_synth_model *m);

/* Generate slide `index` of the plan: features (n*D), coords (n*2: x, y level-0 pixels, x-major
 * patch-grid order, 512 px steps) and, if is_signal is not NULL, the tumour flag of each instance. */
void mhim_synth_slide_values(const mhim_synth_model *m, int index, const mhim_synth_slide *slide, float *features,
                             int32_t *coords, unsigned char *is_signal);

/* Write one bag in the CLAM h5_files layout (above); n may be 0. MHIM_EINPUT naming path on failure. */
int mhim_synth_write_h5(const char *path, const float *features, const int32_t *coords, int64_t n, int64_t d);

typedef struct {
    int64_t n_slides, n_positive;
    int64_t instances_total, instances_min, instances_max;
    int64_t bytes_written; /* size of the .h5 files */
    double seconds;
} mhim_synth_summary;

/* Write the cohort under out_dir (created if missing; must not already hold label.csv or
 * h5_files/). Logs progress; fills summary (may be NULL). */
int mhim_synth_cohort(const char *out_dir, const mhim_synth_options *o, mhim_synth_summary *summary);

/* The same cohort as a survival cohort (train with --datasets=surv_*, --loss=nll_surv, --n_classes=4): consecutive
 * groups of slides_per_case slides become one case (files h5_files/case_NNN_sK.h5, K = 1..slides_per_case; slides
 * left over are removed) and label.csv becomes `Study,ID,Event,Status,WSI` with months to event or censoring: the
 * hazard is exponential, higher for cases with tumour slides and growing with their largest tumour share, censoring
 * uniform on (0, 120) months. MHIM_EINPUT when slides_per_case is not in 1..n_slides. */
int mhim_synth_survival_cohort(const char *out_dir, const mhim_synth_options *o, int slides_per_case,
                               mhim_synth_summary *summary);

#endif
