/* Model configurations of the registry: from the training options, and to/from the one-line text stored in
 * checkpoints (see mhim/model.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/config.h"
#include "mhim/model.h"

static const char *const kind_names[] = {NULL, "abmil", "transmil", "dsmil"};
static const char *const act_names[] = {"relu", "gelu", "tanh", "sigmoid"};

const char *mhim_model_kind_name(mhim_model_kind kind) {
    return kind >= MHIM_MODEL_ABMIL && kind <= MHIM_MODEL_DSMIL ? kind_names[kind] : "unknown";
}

static int parse_act(const char *text, mhim_act *out) {
    for (int i = 0; i < (int)MHIM_ARRAY_LEN(act_names); i++)
        if (strcmp(text, act_names[i]) == 0) {
            *out = (mhim_act)i;
            return 1;
        }
    return 0;
}

static const char *act_name(mhim_act a) {
    return (int)a >= 0 && (int)a < (int)MHIM_ARRAY_LEN(act_names) ? act_names[a] : "unknown";
}

int mhim_model_config_from_options(mhim_model_config *mc, const mhim_config *cfg) {
    memset(mc, 0, sizeof *mc);
    const char *b = cfg->baseline ? cfg->baseline : "";
    if (!strcmp(b, "attn")) mc->kind = MHIM_MODEL_ABMIL;
    else if (!strcmp(b, "selfattn")) mc->kind = MHIM_MODEL_TRANSMIL;
    else if (!strcmp(b, "dsmil")) mc->kind = MHIM_MODEL_DSMIL;
    else return mhim_fail("--baseline=%s: expected attn, selfattn or dsmil", b);
    mc->version = cfg->version;
    mc->input_dim = cfg->input_dim;
    mc->n_classes = cfg->n_classes;
    if (!cfg->act || !parse_act(cfg->act, &mc->act) || (mc->act != MHIM_ACT_RELU && mc->act != MHIM_ACT_GELU))
        return mhim_fail("--act=%s: the mhim models support relu or gelu", cfg->act ? cfg->act : "");
    mc->dropout = (float)cfg->dropout;
    if (!cfg->da_act || !parse_act(cfg->da_act, &mc->da_act))
        return mhim_fail("--da_act=%s: expected relu, gelu or tanh", cfg->da_act ? cfg->da_act : "");
    mc->gated = 0; /* the gated ABMIL is not reachable from the original's options; checkpoints can select it */
    mc->heads = cfg->n_heads;
    mc->attn2score = cfg->attn2score;
    /* the Merge module exists only in v2 --model=mhim with --merge_enable (mhim_pure builds it with merge off) */
    const int merge = cfg->version == 2 && cfg->merge_enable && cfg->model && !strcmp(cfg->model, "mhim");
    mc->merge_k = merge ? cfg->merge_k : 0;
    if (merge && mc->merge_k < 1)
        return mhim_fail("--merge_k=%lld: expected >= 1 global queries", (long long)mc->merge_k);
    return MHIM_OK;
}

void mhim_model_config_text(const mhim_model_config *mc, char *out, size_t cap) {
    snprintf(out, cap, "version=%d input_dim=%lld n_classes=%lld act=%s dropout=%.9g da_act=%s gated=%d heads=%lld "
                       "attn2score=%d",
             mc->version, (long long)mc->input_dim, (long long)mc->n_classes, act_name(mc->act), (double)mc->dropout,
             act_name(mc->da_act), mc->gated, (long long)mc->heads, mc->attn2score);
    size_t used = strlen(out);
    if (mc->merge_k > 0 && used < cap) snprintf(out + used, cap - used, " merge_k=%lld", (long long)mc->merge_k);
}

/* Parse an integer field value; 0 on a malformed value. */
static int parse_i64(const char *v, int64_t *out) {
    char *end;
    long long x = strtoll(v, &end, 10);
    if (end == v || *end) return 0;
    *out = x;
    return 1;
}

int mhim_model_config_parse(mhim_model_config *mc, const char *name, const char *text) {
    memset(mc, 0, sizeof *mc);
    mc->kind = 0;
    for (int k = MHIM_MODEL_ABMIL; k <= MHIM_MODEL_DSMIL; k++)
        if (name && !strcmp(name, kind_names[k])) mc->kind = (mhim_model_kind)k;
    if (!mc->kind) return mhim_fail("model '%s': expected abmil, transmil or dsmil", name ? name : "");
    /* defaults for fields that older texts may omit */
    mc->act = MHIM_ACT_RELU;
    mc->da_act = MHIM_ACT_RELU;
    mc->heads = 8;
    int have_version = 0, have_dim = 0, have_classes = 0;
    char *copy = mhim_strdup(text ? text : "");
    int rc = MHIM_OK;
    for (char *save = NULL, *tok = strtok_r(copy, " ", &save); tok && rc == MHIM_OK; tok = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = mhim_fail("model_config '%s': expected key=value", tok);
            break;
        }
        *eq = '\0';
        const char *v = eq + 1;
        int64_t i = 0;
        int ok = 1;
        if (!strcmp(tok, "version")) ok = parse_i64(v, &i) && (i == 1 || i == 2), mc->version = (int)i, have_version = 1;
        else if (!strcmp(tok, "input_dim")) ok = parse_i64(v, &mc->input_dim) && mc->input_dim > 0, have_dim = 1;
        else if (!strcmp(tok, "n_classes")) ok = parse_i64(v, &mc->n_classes) && mc->n_classes > 0, have_classes = 1;
        else if (!strcmp(tok, "act")) ok = parse_act(v, &mc->act);
        else if (!strcmp(tok, "da_act")) ok = parse_act(v, &mc->da_act);
        else if (!strcmp(tok, "dropout")) {
            char *end;
            mc->dropout = strtof(v, &end);
            ok = end != v && !*end && mc->dropout >= 0 && mc->dropout < 1;
        } else if (!strcmp(tok, "gated")) ok = parse_i64(v, &i) && (i == 0 || i == 1), mc->gated = (int)i;
        else if (!strcmp(tok, "heads")) ok = parse_i64(v, &mc->heads) && mc->heads > 0;
        else if (!strcmp(tok, "attn2score")) ok = parse_i64(v, &i) && (i == 0 || i == 1), mc->attn2score = (int)i;
        else if (!strcmp(tok, "merge_k")) ok = parse_i64(v, &mc->merge_k) && mc->merge_k > 0;
        else rc = mhim_fail("model_config: unknown field '%s'", tok);
        if (rc == MHIM_OK && !ok) rc = mhim_fail("model_config: bad value %s=%s", tok, v);
    }
    free(copy);
    if (rc == MHIM_OK && !(have_version && have_dim && have_classes))
        rc = mhim_fail("model_config '%s': version, input_dim and n_classes are required", text ? text : "");
    return rc;
}
