/* A clock read as seconds (see mhim/clock.h). */
#include "mhim/clock.h"

double mhim_clock_seconds(clockid_t clock) {
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double mhim_seconds(void) { return mhim_clock_seconds(CLOCK_MONOTONIC); }

double mhim_cpu_seconds(void) { return mhim_clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }
