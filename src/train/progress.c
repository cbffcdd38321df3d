/* The live progress bar of `mhim train` (train/progress.h). */
#include "train/progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "mhim/clock.h"
#include "mhim/common.h"

#define REDRAW_INTERVAL_S 0.1
#define BAR_WIDTH 24

/* Append printf output to buf at *len, never past cap - 1. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...) MHIM_PRINTF(4, 5);
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...) {
    if (*len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n > 0) *len = *len + (size_t)n < cap ? *len + (size_t)n : cap - 1;
}

size_t train_progress_format(char *buf, size_t cap, int fold, int epoch, int n_epochs, int64_t done, int64_t total,
                             double rate, double loss_mean, int bar_width) {
    size_t len = 0;
    if (cap == 0) return 0;
    buf[0] = '\0';
    append(buf, cap, &len, "[fold %d] epoch %d/%d ", fold, epoch + 1, n_epochs);
    if (bar_width > 0) {
        int64_t filled = total > 0 ? done * bar_width / total : 0;
        append(buf, cap, &len, "|");
        for (int i = 0; i < bar_width; i++) append(buf, cap, &len, "%c", i < filled ? '#' : '-');
        append(buf, cap, &len, "| ");
    }
    append(buf, cap, &len, "%lld/%lld bags", (long long)done, (long long)total);
    if (rate > 0 && isfinite(rate))
        append(buf, cap, &len, "  %.1f it/s", rate);
    else
        append(buf, cap, &len, "  -- it/s");
    if (isnan(loss_mean))
        append(buf, cap, &len, "  loss --");
    else
        append(buf, cap, &len, "  loss %.3E", loss_mean);
    if (rate > 0 && isfinite(rate) && done <= total) {
        double eta = (double)(total - done) / rate;
        long long s = eta < 1e9 ? (long long)(eta + 0.5) : 999999999LL;
        append(buf, cap, &len, "  ETA %lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    } else {
        append(buf, cap, &len, "  ETA --:--");
    }
    return len;
}

void train_progress_begin(train_progress *p, int fold, int epoch, int n_epochs, int64_t total, int64_t first) {
    *p = (train_progress){.enabled = isatty(STDERR_FILENO), .fold = fold, .epoch = epoch, .n_epochs = n_epochs,
                          .total = total, .first = first};
    p->t_start = mhim_seconds();
    p->t_drawn = p->t_start - REDRAW_INTERVAL_S;
}

void train_progress_update(train_progress *p, int64_t done, double loss_sum) {
    if (!p->enabled) return;
    double now = mhim_seconds();
    if (now - p->t_drawn < REDRAW_INTERVAL_S && done < p->total) return;
    double elapsed = now - p->t_start;
    double rate = elapsed > 0 && done > p->first ? (double)(done - p->first) / elapsed : 0.0;
    char line[256];
    train_progress_format(line, sizeof line, p->fold, p->epoch, p->n_epochs, done, p->total, rate,
                          done > 0 ? loss_sum / (double)done : NAN, BAR_WIDTH);
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    p->drawn = 1;
    p->t_drawn = now;
}

void train_progress_end(train_progress *p) {
    if (!p->drawn) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
    p->drawn = 0;
}
