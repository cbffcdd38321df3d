/* train/progress.h — the live progress bar of `mhim train` on stderr: bags done in the epoch, it/s, mean loss so
 * far and the epoch's ETA, redrawn in place at most 10 times per second. Drawn only when stderr is a terminal, so
 * logs, pipes and tests see nothing of it. */
#ifndef MHIM_TRAIN_PROGRESS_H
#define MHIM_TRAIN_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    int enabled;           /* stderr is a terminal */
    int drawn;             /* a bar is on screen (cleared by train_progress_end) */
    int fold, epoch, n_epochs;
    int64_t total, first;  /* bags in the epoch; bags already done when the bar began (resume) */
    double t_start, t_drawn;
} train_progress;

/* Start the bar of one epoch (0-based `epoch` of n_epochs) of `total` bags, `first` of them already done. */
void train_progress_begin(train_progress *p, int fold, int epoch, int n_epochs, int64_t total, int64_t first);
/* `done` bags of the epoch finished, loss_sum = summed loss of those `done` bags; redraws
 * when 0.1 s have passed since the last drawing or the epoch is complete. */
void train_progress_update(train_progress *p, int64_t done, double loss_sum);
/* Erase the bar (before the epoch's result lines are printed). */
void train_progress_end(train_progress *p);

/* The bar text (no line control characters) into buf[cap] (truncated to cap - 1 characters, always terminated):
 * "[fold F] epoch E/T |#####-----| done/total bags  R it/s  loss L  ETA h:mm:ss". rate = bags per second (0 when
 * unknown: "-- it/s", ETA "--:--"); loss_mean NaN prints "loss --"; bar_width cells (0 = no bar). Returns the length
 * written. Pure function of its arguments. */
size_t train_progress_format(char *buf, size_t cap, int fold, int epoch, int n_epochs, int64_t done, int64_t total,
                             double rate, double loss_mean, int bar_width);

#endif
