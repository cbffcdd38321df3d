/* mhim/threads.h — the thread-count knob and fixed-order (thread-count invariant) reductions.
 *
 * One knob: mhim_threads_init(n) sets the OpenMP team size and the OpenBLAS thread count to the
 * same value. Our code never runs an OpenMP region and an OpenBLAS GEMM at the same time, so
 * both pools may use every core without oversubscription — provided idle OpenMP workers do not
 * spin while a GEMM runs. libgomp reads OMP_WAIT_POLICY once, while the program loads (before
 * main, and before any code of ours could set it), so the variable must come from the
 * environment: the job scripts export OMP_WAIT_POLICY=passive and mhim_threads_init warns when
 * it is unset. Measured on 2 cores, an 8000x1024x512 GEMM alternating with an OpenMP element
 * loop: 44 ms per GEMM with passive workers, 51-72 ms with libgomp's default (spin 300k
 * iterations before sleeping), 87 ms with OMP_WAIT_POLICY=active (docs/numerics.md).
 *
 * Reductions: mhim_sum_fixed and friends split the input into parts whose boundaries depend only
 * on the length, sum each part sequentially in double, and combine the parts in order, so the
 * result is bitwise identical for any thread count. */
#ifndef MHIM_THREADS_H
#define MHIM_THREADS_H

#include <stdint.h>

#define MHIM_SUM_PARTS 64        /* fixed number of parts of mhim_sum_fixed / mhim_sumsq_fixed */
#define MHIM_COLSUM_BLOCK 64     /* columns per task in mhim_colsum_acc */

/* Choose the thread count: n > 0 => n; else SLURM_CPUS_PER_TASK; else OMP_NUM_THREADS (first
 * entry of a list); else the CPUs this process may run on. Malformed variables are skipped with a
 * warning. Sets OpenMP (omp_set_num_threads, dynamic adjustment off) and OpenBLAS
 * (openblas_set_num_threads), logs the choice at INFO and returns it (>= 1). */
int mhim_threads_init(int n);
/* The count chosen by the last mhim_threads_init (1 before any call). */
int mhim_threads_count(void);

/* Σ x[i], i < n, in double with the fixed partition above. n >= 0; 0 for n == 0. */
double mhim_sum_fixed(const float *x, int64_t n);
/* Σ x[i]^2 in double with the same partition (squared L2 norm). */
double mhim_sumsq_fixed(const float *x, int64_t n);
/* out[j] += Σ_i x[i*cols + j] for an (rows, cols) row-major x: column sums (bias gradients),
 * each column accumulated over rows in order in double, then rounded once to float.
 * Deterministic for any thread count. */
void mhim_colsum_acc(float *out, const float *x, int64_t rows, int64_t cols);

#endif
