/* MPI implementation of the data-parallel collectives (dist/allreduce.h). Counts above INT_MAX go in chunks. */
#include <limits.h>

#include "dist/allreduce.h"

#ifdef MHIM_HAVE_MPI

#define CHUNK (1 << 30)

static int sum_any(void *ctx, void *buf, int64_t n, MPI_Datatype type, size_t elem) {
    const mhim_world *w = ctx;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int len = (int)(n - off < CHUNK ? n - off : CHUNK);
        if (MPI_Allreduce(MPI_IN_PLACE, (char *)buf + (size_t)off * elem, len, type, MPI_SUM, w->group_comm) !=
            MPI_SUCCESS)
            return mhim_fail_code(MHIM_EINTERNAL, "MPI_Allreduce over the data-parallel group failed");
    }
    return MHIM_OK;
}

static int sum_f32(void *ctx, float *buf, int64_t n) { return sum_any(ctx, buf, n, MPI_FLOAT, sizeof *buf); }
static int sum_f64(void *ctx, double *buf, int64_t n) { return sum_any(ctx, buf, n, MPI_DOUBLE, sizeof *buf); }

static int bcast_f32(void *ctx, float *buf, int64_t n) {
    const mhim_world *w = ctx;
    for (int64_t off = 0; off < n; off += CHUNK) {
        int len = (int)(n - off < CHUNK ? n - off : CHUNK);
        if (MPI_Bcast(buf + off, len, MPI_FLOAT, 0, w->group_comm) != MPI_SUCCESS)
            return mhim_fail_code(MHIM_EINTERNAL, "MPI_Bcast of the teacher over the data-parallel group failed");
    }
    return MHIM_OK;
}

void mhim_allreduce_mpi_ops(mhim_world *w, mhim_dp_ops *ops) {
    *ops = (mhim_dp_ops){w->group_rank, w->group_size, w, sum_f32, sum_f64, bcast_f32};
}

#else

void mhim_allreduce_mpi_ops(mhim_world *w, mhim_dp_ops *ops) {
    (void)w;
    *ops = (mhim_dp_ops){0, 1, NULL, NULL, NULL, NULL};
}

#endif
