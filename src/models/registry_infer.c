/* Inferring the model configuration of a torch.save state_dict from its keys (see mhim/model.h). */
#include <stdio.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/model.h"
#include "mhim/ptfile.h"

/* Entry `key` of the state_dict (under prefix, optionally behind "module."), or NULL. */
static const mhim_pt_entry *find_key(const mhim_ptfile *pt, const char *prefix, const char *key) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", prefix, key);
    int64_t i = mhim_pt_find(pt, name);
    if (i < 0) {
        snprintf(name, sizeof name, "%smodule.%s", prefix, key);
        i = mhim_pt_find(pt, name);
    }
    const mhim_pt_entry *e = i >= 0 ? mhim_pt_entry_at(pt, i) : NULL;
    return e && e->kind == MHIM_PT_TENSOR ? e : NULL;
}

static int any_under(const mhim_ptfile *pt, const char *prefix) {
    for (int64_t i = 0; i < mhim_pt_entry_count(pt); i++)
        if (strncmp(mhim_pt_entry_at(pt, i)->name, prefix, strlen(prefix)) == 0) return 1;
    return 0;
}

int mhim_model_config_infer_pt(mhim_model_config *mc, const char *path, const char *section,
                               const mhim_model_config *defaults) {
    mhim_ptfile *pt;
    int rc = mhim_pt_open(path, &pt);
    if (rc != MHIM_OK) return rc;
    char prefix[80] = "";
    int64_t top = section ? mhim_pt_find(pt, section) : -1;
    if (top >= 0 && mhim_pt_entry_at(pt, top)->kind == MHIM_PT_NONE) {
        rc = mhim_fail("%s: '%s' is None: the checkpoint holds no %s weights", path, section, section);
        mhim_pt_close(pt);
        return rc;
    }
    if (section) snprintf(prefix, sizeof prefix, "%s.", section);
    else if (any_under(pt, "model.")) snprintf(prefix, sizeof prefix, "model.");
    else if (any_under(pt, "state_dict.")) snprintf(prefix, sizeof prefix, "state_dict.");
    *mc = *defaults;
    const mhim_pt_entry *front = find_key(pt, prefix, "patch_to_emb.0.weight");
    mc->version = 1;
    if (!front) {
        front = find_key(pt, prefix, "feature.0.weight");
        mc->version = 2;
    }
    const mhim_pt_entry *pred = find_key(pt, prefix, "predictor.weight");
    const mhim_pt_entry *heads = find_key(pt, prefix, "online_encoder.layer1.attn.res_conv.weight");
    mc->gated = 0;
    if (find_key(pt, prefix, "online_encoder.cls_token")) mc->kind = MHIM_MODEL_TRANSMIL;
    else if (find_key(pt, prefix, "online_encoder.i_classifier.0.weight")) mc->kind = MHIM_MODEL_DSMIL;
    else if (find_key(pt, prefix, "online_encoder.attention.attention.0.weight")) mc->kind = MHIM_MODEL_ABMIL;
    else if (find_key(pt, prefix, "online_encoder.attention.attention_a.0.weight")) {
        mc->kind = MHIM_MODEL_ABMIL;
        mc->gated = 1;
    } else {
        mc->kind = 0;
    }
    if (!mc->kind || !front || front->ndim != 2 || !pred || pred->ndim != 2 ||
        (mc->kind == MHIM_MODEL_TRANSMIL && (!heads || heads->ndim < 1))) {
        rc = mhim_fail("%s: not an MHIM model state_dict%s%s (expected patch_to_emb.0.weight or feature.0.weight, "
                       "predictor.weight and online_encoder.{attention|cls_token|i_classifier} keys)", path,
                       prefix[0] ? " under " : "", prefix);
    } else {
        mc->input_dim = front->shape[1];
        mc->n_classes = pred->shape[0];
        if (mc->kind == MHIM_MODEL_TRANSMIL) mc->heads = heads->shape[0];
        const mhim_pt_entry *queries = find_key(pt, prefix, "merge.global_q_mm");
        mc->merge_k = queries && queries->ndim == 3 ? queries->shape[1] : 0;
    }
    mhim_pt_close(pt);
    return rc;
}
