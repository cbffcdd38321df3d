/* Synthetic cohort writer: DIR/h5_files/<slide>.h5 + DIR/label.csv, with progress and a summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/synth.h"

#define PROGRESS_EVERY_SECONDS 2.0

static int make_dir(const char *path) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return MHIM_OK;
        return mhim_fail("%s exists and is not a folder; choose another output folder", path);
    }
    return mhim_fail("cannot create folder %s: %s", path, strerror(errno));
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

static int write_labels(const char *path, const mhim_synth_slide *slides, int n) {
    FILE *f = fopen(path, "w");
    if (!f) return mhim_fail("cannot write %s: %s", path, strerror(errno));
    for (int i = 0; i < n; i++) fprintf(f, "%s,%d\n", slides[i].name, slides[i].label);
    if (fclose(f) != 0) return mhim_fail("cannot write %s: %s (disk full?)", path, strerror(errno));
    return MHIM_OK;
}

static int prepare_folders(const char *out_dir, char **h5_dir, char **labels) {
    *h5_dir = mhim_asprintf("%s/h5_files", out_dir);
    *labels = mhim_asprintf("%s/label.csv", out_dir);
    if (exists(*h5_dir) || exists(*labels))
        return mhim_fail("%s already holds a cohort (h5_files/ or label.csv); choose a new folder or delete it "
                         "first", out_dir);
    int rc = make_dir(out_dir);
    return rc == MHIM_OK ? make_dir(*h5_dir) : rc;
}

int mhim_synth_cohort(const char *out_dir, const mhim_synth_options *o, mhim_synth_summary *summary) {
    int rc = mhim_synth_check(o);
    if (rc != MHIM_OK) return rc;
    char *h5_dir, *labels;
    rc = prepare_folders(out_dir, &h5_dir, &labels);
    if (rc != MHIM_OK) {
        free(h5_dir);
        free(labels);
        return rc;
    }
    mhim_synth_slide *slides;
    mhim_synth_plan(o, &slides);
    mhim_synth_model *model = mhim_synth_model_new(o);
    int64_t max_n = 0;
    for (int i = 0; i < o->n_slides; i++) max_n = MHIM_MAX(max_n, slides[i].n);
    float *features = mhim_malloc((size_t)(max_n * o->feature_dim) * sizeof(float));
    int32_t *coords = mhim_malloc((size_t)(max_n * 2) * sizeof(int32_t));
    mhim_synth_summary sum = {.n_slides = o->n_slides, .instances_min = INT64_MAX};
    double start = mhim_seconds(), last_log = start;
    for (int i = 0; i < o->n_slides && rc == MHIM_OK; i++) {
        const mhim_synth_slide *s = &slides[i];
        mhim_synth_slide_values(model, i, s, features, coords, NULL);
        char *path = mhim_asprintf("%s/%s.h5", h5_dir, s->name);
        rc = mhim_synth_write_h5(path, features, coords, s->n, o->feature_dim);
        struct stat st;
        if (rc == MHIM_OK && stat(path, &st) == 0) sum.bytes_written += (int64_t)st.st_size;
        free(path);
        sum.n_positive += s->label;
        sum.instances_total += s->n;
        sum.instances_min = MHIM_MIN(sum.instances_min, s->n);
        sum.instances_max = MHIM_MAX(sum.instances_max, s->n);
        double t = mhim_seconds();
        if (t - last_log >= PROGRESS_EVERY_SECONDS) {
            double rate = (i + 1) / (t - start);
            MHIM_INFO("synth: %d/%d slides | %.2f GB written | %.2f GB/s | ETA %.0f s", i + 1, o->n_slides,
                      (double)sum.bytes_written / 1e9, (double)sum.bytes_written / 1e9 / (t - start),
                      (o->n_slides - i - 1) / rate);
            last_log = t;
        }
    }
    if (rc == MHIM_OK) rc = write_labels(labels, slides, o->n_slides);
    sum.seconds = mhim_seconds() - start;
    if (summary) *summary = sum;
    free(features);
    free(coords);
    mhim_synth_model_free(model);
    free(slides);
    free(h5_dir);
    free(labels);
    return rc;
}
