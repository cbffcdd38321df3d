/* Early stopping as the original's utils.EarlyStopping called with -AUC (spec mhim_v1.md §5.3): ties reset the
 * counter, stopping needs counter >= patience AND epoch > stop_epoch, epochs before the stage score 0. Expected
 * stop epochs are worked out by hand from those rules. */
#include <stdio.h>

#include "check.h"
#include "mhim/engine.h"

/* Feed aucs[0..n) and return the epoch whose update asked to stop, or -1. */
static int stop_epoch_of(mhim_early_stop *es, const double *aucs, int n) {
    for (int e = 0; e < n; e++)
        if (mhim_early_stop_update(es, e, aucs[e])) return e;
    return -1;
}

int main(void) {
    int fail = 0;
    mhim_early_stop es;
    double a[40];

    /* improvement at epoch 0 only, patience 3, stop_epoch 1: counter hits 3 at epoch 3 (> 1) => stop at 3 */
    for (int e = 0; e < 40; e++) a[e] = e == 0 ? 0.9 : 0.8;
    mhim_early_stop_init(&es, 3, 1, 0);
    int got = stop_epoch_of(&es, a, 40);
    printf("decline after epoch 0, patience 3, stop_epoch 1: stop at %d (want 3)\n", got);
    fail += check_true("patience", got == 3);

    /* same, stop_epoch 10: counter >= 3 from epoch 3 but stopping waits for epoch 11 */
    mhim_early_stop_init(&es, 3, 10, 0);
    got = stop_epoch_of(&es, a, 40);
    printf("stop_epoch 10: stop at %d (want 11)\n", got);
    fail += check_true("stop_epoch", got == 11);

    /* ties reset: a constant AUC never stops */
    for (int e = 0; e < 40; e++) a[e] = 0.7;
    mhim_early_stop_init(&es, 2, 0, 0);
    got = stop_epoch_of(&es, a, 40);
    printf("constant AUC: stop at %d (want -1), counter %d (want 0)\n", got, es.counter);
    fail += check_true("ties reset the counter", got == -1 && es.counter == 0);

    /* stage 5: epochs 0-4 score 0, so epoch 5 (0.6) improves; then 0.5 x3 with patience 3 => stop at 8 */
    for (int e = 0; e < 40; e++) a[e] = e < 5 ? 0.99 : e == 5 ? 0.6 : 0.5;
    mhim_early_stop_init(&es, 3, 0, 5);
    got = stop_epoch_of(&es, a, 40);
    printf("stage 5: stop at %d (want 8), best %.2f (want 0.60)\n", got, es.best);
    fail += check_true("stage scores 0 before it", got == 8 && es.best == 0.6);

    /* an improvement in between resets: 0.9, 0.8, 0.8, 0.95, 0.8, 0.8, 0.8 with patience 3 => stop at 6 */
    const double b[] = {0.9, 0.8, 0.8, 0.95, 0.8, 0.8, 0.8, 0.8};
    mhim_early_stop_init(&es, 3, 0, 0);
    got = stop_epoch_of(&es, b, 8);
    printf("reset by a gain at epoch 3: stop at %d (want 6)\n", got);
    fail += check_true("gain resets", got == 6);
    return fail;
}
