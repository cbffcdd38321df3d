/* Early stopping of the original (utils.EarlyStopping called with val_loss = -AUC), see mhim/engine.h. */
#include "mhim/engine.h"

void mhim_early_stop_init(mhim_early_stop *es, int patience, int stop_epoch, int stage) {
    *es = (mhim_early_stop){patience, stop_epoch, stage, 0, 0.0, 0};
}

int mhim_early_stop_update(mhim_early_stop *es, int epoch, double val_auc) {
    double score = epoch >= es->stage ? val_auc : 0.0;
    if (!es->has_best) {
        es->has_best = 1;
        es->best = score;
        return 0;
    }
    if (score < es->best) {
        es->counter++;
        return es->counter >= es->patience && epoch > es->stop_epoch;
    }
    es->best = score;
    es->counter = 0;
    return 0;
}
