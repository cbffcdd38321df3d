/* The progress bar text of `mhim train` (train/progress.h): train_progress_format is a pure function of its
 * arguments, compared here with hand-written lines (start of an epoch, mid-epoch with ETA, complete, no rate yet,
 * no bar, truncation to a small buffer). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "train/progress.h"

static int expect(const char *label, const char *got, size_t len, const char *want) {
    int ok = !strcmp(got, want) && len == strlen(want);
    printf("%s %s:\n     got  \"%s\" (%zu)\n     want \"%s\" (%zu)\n", ok ? "ok  " : "FAIL", label, got, len, want,
           strlen(want));
    return !ok;
}

int main(void) {
    char buf[256];
    int fails = 0;
    size_t n = train_progress_format(buf, sizeof buf, 0, 2, 200, 0, 270, 0.0, NAN, 10);
    fails += expect("start of epoch 3", buf, n,
                    "[fold 0] epoch 3/200 |----------| 0/270 bags  -- it/s  loss --  ETA --:--");
    /* 135 of 270 done at 4.5 bags/s: 135 / 4.5 = 30 s left */
    n = train_progress_format(buf, sizeof buf, 1, 0, 50, 135, 270, 4.5, 0.61234, 10);
    fails += expect("half an epoch", buf, n,
                    "[fold 1] epoch 1/50 |#####-----| 135/270 bags  4.5 it/s  loss 6.123E-01  ETA 0:00:30");
    /* 7265 s = 2 h 1 min 5 s */
    n = train_progress_format(buf, sizeof buf, 2, 9, 10, 1, 7266, 1.0, 1.5, 4);
    fails += expect("hours of ETA", buf, n,
                    "[fold 2] epoch 10/10 |----| 1/7266 bags  1.0 it/s  loss 1.500E+00  ETA 2:01:05");
    n = train_progress_format(buf, sizeof buf, 0, 0, 1, 12, 12, 30.25, 2e-3, 3);
    fails += expect("complete", buf, n, "[fold 0] epoch 1/1 |###| 12/12 bags  30.2 it/s  loss 2.000E-03  ETA 0:00:00");
    n = train_progress_format(buf, sizeof buf, 0, 0, 1, 5, 12, 2.0, 1.0, 0);
    fails += expect("no bar", buf, n, "[fold 0] epoch 1/1 5/12 bags  2.0 it/s  loss 1.000E+00  ETA 0:00:04");
    char small[12];
    n = train_progress_format(small, sizeof small, 0, 0, 1, 5, 12, 2.0, 1.0, 0);
    fails += expect("truncated to 11 characters", small, n, "[fold 0] ep");
    n = train_progress_format(small, 0, 0, 0, 1, 5, 12, 2.0, 1.0, 0);
    fails += check_true("capacity 0 writes nothing", n == 0);
    printf("%s\n", fails ? "FAILED" : "all progress format checks passed");
    return fails ? 1 : 0;
}
