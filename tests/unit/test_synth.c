/* Synthetic cohort: plan, determinism (seed, thread count), feature statistics, patch grid, tumour
 * region, signal direction, and the written CLAM layout read back with mhim_bag_read. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(_OPENMP)
#include <omp.h>
#endif

#include "check.h"
#include "mhim/bagfile.h"
#include "mhim/common.h"
#include "mhim/synth.h"

static mhim_synth_options small_options(void) {
    mhim_synth_options o;
    mhim_synth_defaults(&o);
    o.n_slides = 10;
    o.mean_instances = 400;
    o.min_instances = 100;
    o.max_instances = 1200;
    o.feature_dim = 48;
    o.seed = 11;
    return o;
}

static int test_plan(void) {
    mhim_synth_options o = small_options();
    mhim_synth_slide *a, *b;
    mhim_synth_plan(&o, &a);
    mhim_synth_plan(&o, &b);
    int fails = check_true("plan is deterministic", memcmp(a, b, (size_t)o.n_slides * sizeof *a) == 0);
    int pos = 0, names_ok = 1, sizes_ok = 1, frac_ok = 1, tumours = 0, normals = 0;
    for (int i = 0; i < o.n_slides; i++) {
        char want[32];
        snprintf(want, sizeof want, a[i].label ? "tumor_%03d" : "normal_%03d", a[i].label ? ++tumours : ++normals);
        names_ok &= strcmp(a[i].name, want) == 0;
        sizes_ok &= a[i].n >= o.min_instances && a[i].n <= o.max_instances;
        frac_ok &= a[i].label ? a[i].signal_fraction >= o.min_signal_fraction &&
                                    a[i].signal_fraction <= o.max_signal_fraction
                              : a[i].signal_fraction == 0;
        pos += a[i].label;
        printf("  %-10s label %d n %5lld signal %.3f\n", a[i].name, a[i].label, (long long)a[i].n, a[i].signal_fraction);
    }
    fails += check_true("40% of 10 slides are positive", pos == 4);
    fails += check_true("names tumor_NNN / normal_NNN numbered in order", names_ok);
    fails += check_true("instance counts within [min, max]", sizes_ok);
    fails += check_true("signal fractions within [min, max] for positives, 0 for negatives", frac_ok);
    free(a);
    free(b);

    /* the log-normal mean, on a larger cohort without clipping effects */
    o.n_slides = 4000;
    o.mean_instances = 9000;
    o.min_instances = 1;
    o.max_instances = 1000000;
    mhim_synth_plan(&o, &a);
    double mean = 0;
    for (int i = 0; i < o.n_slides; i++) mean += (double)a[i].n / o.n_slides;
    printf("  mean instances over 4000 unclipped slides: %.0f (target 9000)\n", mean);
    fails += check_true("instance count mean matches mean_instances within 4%", fabs(mean / 9000 - 1) < 0.04);
    free(a);
    return fails;
}

typedef struct {
    float *x;
    int32_t *coords;
    unsigned char *signal;
} slide_data;

static slide_data generate(const mhim_synth_model *m, int index, const mhim_synth_slide *s, int64_t d) {
    slide_data out = {mhim_malloc((size_t)(s->n * d) * sizeof(float)), mhim_malloc((size_t)(s->n * 2) * sizeof(int32_t)),
                      mhim_malloc((size_t)s->n)};
    mhim_synth_slide_values(m, index, s, out.x, out.coords, out.signal);
    return out;
}

static void free_slide(slide_data *s) {
    free(s->x);
    free(s->coords);
    free(s->signal);
}

static int test_determinism(void) {
    mhim_synth_options o = small_options();
    mhim_synth_slide *plan;
    mhim_synth_plan(&o, &plan);
    mhim_synth_model *m = mhim_synth_model_new(&o);
    int64_t d = o.feature_dim, n = plan[3].n;
#if defined(_OPENMP)
    omp_set_num_threads(1);
#endif
    slide_data one = generate(m, 3, &plan[3], d);
#if defined(_OPENMP)
    omp_set_num_threads(3);
#endif
    slide_data three = generate(m, 3, &plan[3], d);
    int fails = check_true("same seed, 1 vs 3 threads: identical features, coords, flags",
                           memcmp(one.x, three.x, (size_t)(n * d) * sizeof(float)) == 0 &&
                               memcmp(one.coords, three.coords, (size_t)(n * 2) * sizeof(int32_t)) == 0 &&
                               memcmp(one.signal, three.signal, (size_t)n) == 0);
    o.seed = 12;
    mhim_synth_model *m2 = mhim_synth_model_new(&o);
    slide_data other = generate(m2, 3, &plan[3], d);
    int64_t differ = 0;
    for (int64_t k = 0; k < n * d; k++) differ += one.x[k] != other.x[k];
    printf("  seed 11 vs 12: %lld of %lld values differ\n", (long long)differ, (long long)(n * d));
    fails += check_true("another seed gives other features", differ > n * d / 2);
    free_slide(&one);
    free_slide(&three);
    free_slide(&other);
    mhim_synth_model_free(m);
    mhim_synth_model_free(m2);
    free(plan);
    return fails;
}

/* Non-negative, finite, skewed, partly sparse; coords unique on a contiguous 512 px grid, x-major. */
static int test_slide_shape(void) {
    mhim_synth_options o = small_options();
    mhim_synth_slide *plan;
    mhim_synth_plan(&o, &plan);
    mhim_synth_model *m = mhim_synth_model_new(&o);
    int64_t d = o.feature_dim;
    int fails = 0;
    int idx = 0;
    while (!plan[idx].label) idx++;
    const mhim_synth_slide *s = &plan[idx];
    slide_data v = generate(m, idx, s, d);
    int64_t n = s->n, zeros = 0, bad = 0;
    double sum = 0, sum2 = 0, sum3 = 0;
    for (int64_t k = 0; k < n * d; k++) {
        float x = v.x[k];
        bad += !(x >= 0) || !isfinite(x);
        zeros += x == 0;
        sum += x;
    }
    double mean = sum / (double)(n * d);
    for (int64_t k = 0; k < n * d; k++) {
        double c = v.x[k] - mean;
        sum2 += c * c;
        sum3 += c * c * c;
    }
    double sd = sqrt(sum2 / (double)(n * d)), skew = sum3 / (double)(n * d) / (sd * sd * sd);
    printf("  %s: mean %.3f sd %.3f skewness %.2f zeros %.1f%%\n", s->name, mean, sd, skew,
           100.0 * (double)zeros / (double)(n * d));
    fails += check_true("features finite and non-negative", bad == 0);
    fails += check_true("features right-skewed (skewness > 1) and partly sparse (5%..50% zeros)",
                        skew > 1 && zeros > n * d / 20 && zeros < n * d / 2);

    int grid_ok = 1, order_ok = 1, unique_ok = 1, touching = 1;
    for (int64_t t = 0; t < n; t++) {
        int32_t x = v.coords[2 * t], y = v.coords[2 * t + 1];
        grid_ok &= x >= 0 && y >= 0 && (x - v.coords[0]) % 512 == 0 && (y - v.coords[1]) % 512 == 0;
        if (t > 0) {
            int32_t px = v.coords[2 * t - 2], py = v.coords[2 * t - 1];
            order_ok &= px < x || (px == x && py < y);
            unique_ok &= px != x || py != y;
        }
        int neighbour = 0; /* some other patch one step away (4-neighbourhood) */
        for (int64_t u = 0; u < n && !neighbour; u++) {
            int32_t dx = abs(v.coords[2 * u] - x), dy = abs(v.coords[2 * u + 1] - y);
            neighbour = dx + dy == 512;
        }
        touching &= neighbour;
    }
    fails += check_true("coords on one 512 px grid, non-negative", grid_ok);
    fails += check_true("coords in x-major order without duplicates", order_ok && unique_ok);
    fails += check_true("every patch touches another (one contiguous tissue region)", touching);

    int64_t n_signal = 0;
    for (int64_t t = 0; t < n; t++) n_signal += v.signal[t];
    int64_t want = llround(s->signal_fraction * (double)n);
    printf("  %s: %lld tumour instances of %lld (fraction %.3f)\n", s->name, (long long)n_signal, (long long)n,
           s->signal_fraction);
    fails += check_true("tumour instance count = round(fraction * n)", n_signal == MHIM_MAX(want, 1));
    free_slide(&v);
    mhim_synth_model_free(m);
    free(plan);
    return fails;
}

/* Projection on the signal direction: tumour instances above the others, positive slides above negatives. */
static int test_signal(void) {
    mhim_synth_options o = small_options();
    o.n_slides = 16;
    o.feature_dim = 256;
    o.min_signal_fraction = 0.2; /* slide-level check: enough tumour for the slide mean to move clearly */
    o.max_signal_fraction = 0.4;
    mhim_synth_slide *plan;
    mhim_synth_plan(&o, &plan);
    mhim_synth_model *m = mhim_synth_model_new(&o);
    const float *dir = mhim_synth_direction(m);
    int64_t d = o.feature_dim;
    double inst_sig = 0, inst_bg = 0, slide_pos = 0, slide_neg = 0;
    int64_t n_sig = 0, n_bg = 0, n_pos = 0, n_neg = 0;
    for (int i = 0; i < o.n_slides; i++) {
        slide_data v = generate(m, i, &plan[i], d);
        double slide_sum = 0;
        for (int64_t t = 0; t < plan[i].n; t++) {
            double p = 0;
            for (int64_t j = 0; j < d; j++) p += (double)v.x[t * d + j] * dir[j];
            p /= (double)d;
            slide_sum += p;
            if (v.signal[t]) {
                inst_sig += p;
                n_sig++;
            } else if (plan[i].label) {
                inst_bg += p;
                n_bg++;
            }
        }
        if (plan[i].label) {
            slide_pos += slide_sum / (double)plan[i].n;
            n_pos++;
        } else {
            slide_neg += slide_sum / (double)plan[i].n;
            n_neg++;
        }
        free_slide(&v);
    }
    inst_sig /= (double)n_sig;
    inst_bg /= (double)n_bg;
    slide_pos /= (double)n_pos;
    slide_neg /= (double)n_neg;
    printf("  mean projection: tumour instances %.4f, other instances of positive slides %.4f\n", inst_sig, inst_bg);
    printf("  mean projection per slide: positive %.4f, negative %.4f\n", slide_pos, slide_neg);
    int fails = check_true("tumour instances project higher on the signal direction", inst_sig > inst_bg);
    fails += check_true("positive slides' mean projection is higher than negatives'", slide_pos > slide_neg);
    mhim_synth_model_free(m);
    free(plan);
    return fails;
}

static int test_cohort_files(void) {
    const char *base = getenv("MHIM_TEST_TMP");
    char *dir = mhim_asprintf("%s/synth_unit_%ld", base ? base : "/tmp", (long)getpid());
    mhim_synth_options o = small_options();
    o.n_slides = 5;
    mhim_synth_summary sum;
    int rc = mhim_synth_cohort(dir, &o, &sum);
    int fails = check_true("cohort written", rc == MHIM_OK);
    if (rc != MHIM_OK) {
        printf("  %s\n", mhim_error());
        free(dir);
        return fails;
    }
    printf("  summary: %lld slides, %lld positive, instances %lld..%lld total %lld, %lld bytes, %.3f s\n",
           (long long)sum.n_slides, (long long)sum.n_positive, (long long)sum.instances_min,
           (long long)sum.instances_max, (long long)sum.instances_total, (long long)sum.bytes_written, sum.seconds);
    mhim_synth_slide *plan;
    mhim_synth_plan(&o, &plan);
    mhim_synth_model *m = mhim_synth_model_new(&o);
    int64_t total = 0;
    for (int i = 0; i < o.n_slides; i++) {
        char *path = mhim_asprintf("%s/h5_files/%s.h5", dir, plan[i].name);
        mhim_bag bag;
        rc = mhim_bag_read(path, 1, &bag);
        char name[96];
        snprintf(name, sizeof name, "%s read back with mhim_bag_read (%lld x %d)", plan[i].name, (long long)plan[i].n,
                 o.feature_dim);
        if (rc != MHIM_OK) {
            printf("  %s\n", mhim_error());
            fails += check_true(name, 0);
            free(path);
            continue;
        }
        slide_data v = generate(m, i, &plan[i], o.feature_dim);
        fails += check_true(name, bag.n == plan[i].n && bag.d == o.feature_dim && bag.coords);
        fails += check_close(name, bag.features, v.x, bag.n * bag.d, 0, 0);
        int64_t coord_bad = 0;
        for (int64_t k = 0; bag.coords && k < 2 * bag.n; k++) coord_bad += bag.coords[k] != v.coords[k];
        fails += check_true("  coords match", coord_bad == 0);
        total += bag.n;
        free_slide(&v);
        mhim_bag_free(&bag);
        free(path);
    }
    fails += check_true("summary counts", sum.instances_total == total && sum.n_positive == 2 && sum.bytes_written > total * o.feature_dim * 4);

    char *labels = mhim_asprintf("%s/label.csv", dir);
    FILE *f = fopen(labels, "r");
    char line[128];
    int row = 0, rows_ok = f != NULL;
    while (f && fgets(line, sizeof line, f)) {
        char want[64];
        snprintf(want, sizeof want, "%s,%d\n", plan[row].name, plan[row].label);
        rows_ok &= row < o.n_slides && strcmp(line, want) == 0;
        row++;
    }
    if (f) fclose(f);
    fails += check_true("label.csv: headerless slide_id,label rows in plan order", rows_ok && row == o.n_slides);

    rc = mhim_synth_cohort(dir, &o, NULL);
    fails += check_true("writing into an existing cohort folder fails naming it",
                        rc == MHIM_EINPUT && strstr(mhim_error(), dir) && strstr(mhim_error(), "already"));
    o.positive_fraction = 1.5;
    rc = mhim_synth_cohort(dir, &o, NULL);
    fails += check_true("bad option names it", rc == MHIM_EINPUT && strstr(mhim_error(), "positive_fraction"));
    printf("  error: %s\n", mhim_error());
    mhim_synth_model_free(m);
    free(plan);
    free(labels);
    free(dir);
    return fails;
}

int main(void) {
    int fails = 0;
    fails += test_plan();
    fails += test_determinism();
    fails += test_slide_shape();
    fails += test_signal();
    fails += test_cohort_files();
    printf("%s\n", fails ? "FAILED" : "all synth checks passed");
    return fails != 0;
}
