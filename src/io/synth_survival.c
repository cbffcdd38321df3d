/* Synthetic survival cohort: the classification cohort of mhim_synth_cohort regrouped into cases of several
 * slides (files renamed case_NNN_sK.h5) with label.csv replaced by a survival label CSV in the v2 format (Study,ID,Event,Status,WSI).
 * A case's hazard grows with the tumour content of its slides, so risk is learnable from the features. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/rng.h"
#include "mhim/synth.h"

#define SURV_BASE_RATE 0.02    /* events per month of a case without tumour */
#define SURV_TUMOUR_LOG_HR 2.5 /* log hazard ratio of a case with tumour slides */
#define SURV_SHARE_LOG_HR 8.0  /* extra log hazard per unit of tumour share (max over its slides) */
#define SURV_CENSOR_MAX 120.0  /* censoring time ~ U(0, 120) months */

/* Event time and status of case `c` with tumour flag `tumour` and max tumour share `share`. */
static void case_outcome(uint64_t seed, int c, int tumour, double share, double *time, int *status) {
    mhim_rng r = mhim_rng_stream(seed, 0, (uint32_t)c, MHIM_RNG_SYNTH, 7);
    const double rate = SURV_BASE_RATE * exp(tumour ? SURV_TUMOUR_LOG_HR + SURV_SHARE_LOG_HR * share : 0.0);
    const double t_event = -log(1.0 - mhim_rng_uniform_f64(&r)) / rate;
    const double t_censor = SURV_CENSOR_MAX * mhim_rng_uniform_f64(&r);
    *status = t_event <= t_censor;
    *time = fmax(*status ? t_event : t_censor, 0.01);
}

int mhim_synth_survival_cohort(const char *out_dir, const mhim_synth_options *o, int slides_per_case,
                               mhim_synth_summary *summary) {
    if (slides_per_case < 1 || o->n_slides < slides_per_case)
        return mhim_fail("--survival=%d: expected 1..n_slides (%d) slides per case", slides_per_case, o->n_slides);
    int rc = mhim_synth_cohort(out_dir, o, summary);
    if (rc != MHIM_OK) return rc;
    mhim_synth_slide *slides;
    mhim_synth_plan(o, &slides);
    const int n_cases = o->n_slides / slides_per_case; /* trailing slides that do not fill a case are removed */
    char *csv = mhim_asprintf("%s/label.csv", out_dir); /* replaces the classification labels */
    FILE *f = fopen(csv, "w");
    if (!f) rc = mhim_fail("cannot write %s: %s", csv, strerror(errno));
    if (f) fprintf(f, "Study,ID,Event,Status,WSI\n");
    for (int i = 0; i < o->n_slides && rc == MHIM_OK; i++) {
        const int c = i / slides_per_case;
        char *from = mhim_asprintf("%s/h5_files/%s.h5", out_dir, slides[i].name);
        char *to = c < n_cases ? mhim_asprintf("%s/h5_files/case_%03d_s%d.h5", out_dir, c, i % slides_per_case + 1)
                               : NULL;
        if (to ? rename(from, to) != 0 : remove(from) != 0)
            rc = mhim_fail("cannot rename %s: %s", from, strerror(errno));
        free(from);
        free(to);
        if (rc != MHIM_OK || c >= n_cases || i % slides_per_case != slides_per_case - 1) continue;
        int tumour = 0;
        double share = 0.0;
        for (int j = c * slides_per_case; j <= i; j++) {
            tumour |= slides[j].label;
            share = fmax(share, slides[j].signal_fraction);
        }
        double time;
        int status;
        case_outcome(o->seed, c, tumour, share, &time, &status);
        fprintf(f, "SYNTH,case_%03d,%.6f,%d,\n", c, time, status);
    }
    if (f && fclose(f) != 0 && rc == MHIM_OK) rc = mhim_fail("cannot write %s: %s (disk full?)", csv, strerror(errno));
    free(csv);
    free(slides);
    return rc;
}
