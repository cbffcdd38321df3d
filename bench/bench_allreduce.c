/* All-reduce cost per optimiser step of a data-parallel group: the flat gradient buffer (+ the 7 extra floats of
 * the step) of ABMIL, DSMIL and TransMIL at input width DIM, summed over the group with the MPI implementation of
 * src/dist/allreduce.h. Run under mpirun: `mpirun -n 2 bench_allreduce [DIM] [REPEATS]`. Rank 0 prints one
 * markdown row per model: floats, MB, median and min microseconds per all-reduce, algorithm bandwidth. */
#include <stdio.h>
#include <stdlib.h>

#include "dist/allreduce.h"
#include "mhim/clock.h"
#include "mhim/config.h"
#include "mhim/model.h"
#include "mhim/params.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Gradient floats of `baseline` at input width dim (the layout's total). */
static int64_t grad_floats(const char *baseline, int dim) {
    char b[64];
    snprintf(b, sizeof b, "--baseline=%s", baseline);
    char *argv[] = {"train", b, NULL};
    mhim_config cfg;
    mhim_opt_args args;
    if (mhim_config_parse(&cfg, 2, argv, &args) != MHIM_OK) return -1;
    mhim_opt_args_free(&args);
    mhim_model_config mc;
    mhim_model *m = NULL;
    int rc = mhim_model_config_from_options(&mc, &cfg);
    mc.input_dim = dim;
    mc.n_classes = 2;
    if (rc == MHIM_OK) rc = mhim_model_create(&m, &mc);
    int64_t n = rc == MHIM_OK ? mhim_model_layout(m)->total : -1;
    mhim_model_free(m);
    mhim_config_free(&cfg);
    return n;
}

int main(int argc, char **argv) {
    const int dim = argc > 1 ? atoi(argv[1]) : 1024, repeats = argc > 2 ? atoi(argv[2]) : 50;
    mhim_world w;
    if (mhim_world_init(&w, 0) != MHIM_OK) mhim_world_abort(&w, 2);
    mhim_dp_ops dp;
    mhim_allreduce_mpi_ops(&w, &dp);
    const char *models[] = {"attn", "dsmil", "selfattn"};
    if (w.rank == 0)
        printf("| model (input %d) | gradient floats | MB | ranks | median us | min us | GB/s (algorithm) |\n"
               "|---|---|---|---|---|---|---|\n", dim);
    for (int m = 0; m < 3; m++) {
        const int64_t n = grad_floats(models[m], dim) + 7;
        if (n < 8) mhim_world_abort(&w, 2);
        float *buf = mhim_calloc((size_t)n, sizeof *buf);
        double *t = mhim_malloc((size_t)repeats * sizeof *t);
        for (int r = -3; r < repeats; r++) { /* 3 warm-up calls */
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = mhim_seconds();
            if (dp.sum_f32(dp.ctx, buf, n) != MHIM_OK) mhim_world_abort(&w, 2);
            if (r >= 0) t[r] = mhim_seconds() - t0;
        }
        qsort(t, (size_t)repeats, sizeof *t, cmp_double);
        const double mb = (double)n * 4.0 / 1e6;
        if (w.rank == 0)
            printf("| %s | %lld | %.2f | %d | %.0f | %.0f | %.2f |\n", models[m], (long long)n, mb, w.size,
                   1e6 * t[repeats / 2], 1e6 * t[0], mb / 1e3 / t[repeats / 2]);
        free(buf);
        free(t);
    }
    mhim_world_finalize(&w);
    return 0;
}
