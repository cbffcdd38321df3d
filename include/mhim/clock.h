/* mhim/clock.h — a clock read as seconds, for progress lines, load statistics and benchmarks. */
#ifndef MHIM_CLOCK_H
#define MHIM_CLOCK_H

#include <time.h>

/* clock_gettime(clock) in seconds (CLOCK_MONOTONIC for intervals, CLOCK_PROCESS_CPUTIME_ID for CPU time). */
double mhim_clock_seconds(clockid_t clock);

/* Seconds on CLOCK_MONOTONIC: differences of two calls are elapsed wall time. */
double mhim_seconds(void);

/* The process's CPU seconds (all threads; CLOCK_PROCESS_CPUTIME_ID). */
double mhim_cpu_seconds(void);

#endif
