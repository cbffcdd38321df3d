/* By-name matching of a checkpoint section against a parameter layout (see train/checkpoint_match.h). */
#include "train/checkpoint_match.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"

#define LIST_SHOWN 6 /* names listed per category before "(+N more)" */

void ckpt_keyset_add(ckpt_keyset *ks, const char *name, ckpt_key_kind kind, int ndim, const int64_t *shape,
                     int64_t source) {
    if (ks->count == ks->cap) {
        ks->cap = ks->cap ? 2 * ks->cap : 32;
        ks->keys = mhim_realloc(ks->keys, (size_t)ks->cap * sizeof *ks->keys);
    }
    ckpt_key *k = &ks->keys[ks->count++];
    memset(k, 0, sizeof *k);
    k->name = mhim_strdup(name);
    k->kind = kind;
    k->ndim = MHIM_MIN(ndim, CKPT_MAX_DIMS);
    for (int d = 0; d < k->ndim; d++) k->shape[d] = shape[d];
    k->source = source;
}

void ckpt_keyset_strip_module(ckpt_keyset *ks) {
    static const char prefix[] = "module.";
    const size_t len = sizeof prefix - 1;
    if (ks->count == 0) return;
    for (int64_t i = 0; i < ks->count; i++)
        if (strncmp(ks->keys[i].name, prefix, len) != 0) return;
    for (int64_t i = 0; i < ks->count; i++)
        memmove(ks->keys[i].name, ks->keys[i].name + len, strlen(ks->keys[i].name + len) + 1);
}

void ckpt_keyset_free(ckpt_keyset *ks) {
    for (int64_t i = 0; i < ks->count; i++) free(ks->keys[i].name);
    free(ks->keys);
    memset(ks, 0, sizeof *ks);
}

/* ---- message building --------------------------------------------------------------------------------------- */

typedef struct {
    char *s;
    size_t len, cap;
} strbuf;

MHIM_PRINTF(2, 3) static void sb_printf(strbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need <= 0) return;
    if (b->len + (size_t)need + 1 > b->cap) {
        b->cap = 2 * (b->len + (size_t)need + 1);
        b->s = mhim_realloc(b->s, b->cap);
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

static void sb_shape(strbuf *b, int ndim, const int64_t *shape) {
    sb_printf(b, "(");
    for (int d = 0; d < ndim; d++) sb_printf(b, "%s%lld", d ? ", " : "", (long long)shape[d]);
    sb_printf(b, ")");
}

/* One category: "missing 2 keys [a, b]" into b; items are names (or, for mis-shaped keys, name + shapes). */
typedef struct {
    int64_t count;
    strbuf items; /* "a, b, ..." for the first LIST_SHOWN */
} category;

static void category_add(category *c, const char *name) {
    if (c->count < LIST_SHOWN) sb_printf(&c->items, "%s%s", c->count ? ", " : "", name);
    c->count++;
}

static void category_emit(strbuf *b, const category *c, const char *label, int *first) {
    if (c->count == 0) return;
    sb_printf(b, "%s%s %lld key%s [%s", *first ? "" : "; ", label, (long long)c->count, c->count == 1 ? "" : "s",
              c->items.s ? c->items.s : "");
    if (c->count > LIST_SHOWN) sb_printf(b, ", +%lld more", (long long)(c->count - LIST_SHOWN));
    sb_printf(b, "]");
    *first = 0;
}

static int has_prefix(const char *s, const char *prefix) {
    return prefix == NULL || strncmp(s, prefix, strlen(prefix)) == 0;
}

static const ckpt_key *find_key(const ckpt_keyset *ks, const char *name) {
    for (int64_t i = 0; i < ks->count; i++)
        if (strcmp(ks->keys[i].name, name) == 0) return &ks->keys[i];
    return NULL;
}

static int same_shape(const ckpt_key *k, const mhim_param_entry *e) {
    if (k->ndim != e->ndim) return 0;
    for (int d = 0; d < e->ndim; d++)
        if (k->shape[d] != e->shape[d]) return 0;
    return 1;
}

/* A hint for the most common cause: the v1 and v2 front ends differ only in the embedding's key prefix. */
static const char *version_hint(const category *missing, const category *unexpected, const ckpt_keyset *ks,
                                const mhim_param_layout *L) {
    if (missing->count == 0 || unexpected->count == 0) return "";
    int model_v1 = mhim_param_index(L, "patch_to_emb.0.weight") >= 0;
    int model_v2 = mhim_param_index(L, "feature.0.weight") >= 0;
    if (model_v1 && find_key(ks, "feature.0.weight"))
        return " (the file has the v2 key names feature.*: use --mhim_version=2)";
    if (model_v2 && find_key(ks, "patch_to_emb.0.weight"))
        return " (the file has the v1 key names patch_to_emb.*: use --mhim_version=1)";
    return "";
}

int ckpt_match_load(const char *path, const char *section, const ckpt_keyset *ks, const mhim_param_layout *L,
                    float *params, const mhim_load_opts *opts, ckpt_read_fn read, void *ctx,
                    mhim_load_report *report) {
    static const mhim_load_opts defaults = {MHIM_LOAD_STRICT, NULL, NULL, NULL};
    if (!opts) opts = &defaults;
    const char *what = opts->what ? opts->what : "the model";
    const int strict = opts->mode == MHIM_LOAD_STRICT;
    category missing = {0}, unexpected = {0}, misshaped = {0};
    int64_t wanted = 0;
    char detail[512];

    for (int64_t i = 0; i < L->count; i++) {
        const mhim_param_entry *e = &L->entries[i];
        if (!has_prefix(e->name, opts->only_prefix)) continue;
        wanted++;
        const ckpt_key *k = find_key(ks, e->name);
        if (!k) {
            category_add(&missing, e->name);
        } else if (k->kind != CKPT_KEY_FLOAT || !same_shape(k, e)) {
            strbuf s = {0};
            sb_printf(&s, "%s: file ", e->name);
            if (k->kind == CKPT_KEY_FLOAT) sb_shape(&s, k->ndim, k->shape);
            else sb_printf(&s, "not a float tensor");
            sb_printf(&s, " vs model ");
            sb_shape(&s, e->ndim, e->shape);
            category_add(&misshaped, s.s);
            free(s.s);
        }
    }
    for (int64_t i = 0; i < ks->count; i++)
        if (has_prefix(ks->keys[i].name, opts->only_prefix) && mhim_param_index(L, ks->keys[i].name) < 0)
            category_add(&unexpected, ks->keys[i].name);

    const int64_t matched = wanted - missing.count - misshaped.count;
    int failed = misshaped.count > 0 || (strict && (missing.count > 0 || unexpected.count > 0)) ||
                 (wanted > 0 && matched == 0);
    strbuf lists = {0};
    int first = 1;
    category_emit(&lists, &missing, "missing", &first);
    category_emit(&lists, &unexpected, "unexpected", &first);
    category_emit(&lists, &misshaped, "mis-shaped", &first);

    int rc = MHIM_OK;
    if (failed) {
        const char *why = misshaped.count ? "" : matched == 0 ? "no tensor matches: " : "";
        rc = mhim_fail("%s: state_dict%s%s%s does not fit %s (%s load): %s%s%s; the model options (baseline, "
                       "version, heads, input_dim, n_classes) must be those the checkpoint was trained with",
                       path, section[0] ? " '" : "", section, section[0] ? "'" : "", what,
                       strict ? "strict" : "non-strict", why, lists.s ? lists.s : "",
                       version_hint(&missing, &unexpected, ks, L));
    } else {
        for (int64_t i = 0; i < L->count && rc == MHIM_OK; i++) {
            const mhim_param_entry *e = &L->entries[i];
            if (!has_prefix(e->name, opts->only_prefix)) continue;
            const ckpt_key *k = find_key(ks, e->name);
            if (k) rc = read(ctx, k->source, params + e->offset, e->numel);
        }
    }
    if (report && rc == MHIM_OK) {
        memset(report, 0, sizeof *report);
        report->loaded = matched;
        report->missing = missing.count;
        report->unexpected = unexpected.count;
        snprintf(report->section, sizeof report->section, "%s", section);
        snprintf(detail, sizeof detail, "%s", lists.s ? lists.s : "");
        snprintf(report->text, sizeof report->text, "loaded %lld of %lld tensors%s%s%s", (long long)matched,
                 (long long)wanted, detail[0] ? " (" : "", detail, detail[0] ? ")" : "");
    }
    free(lists.s);
    free(missing.items.s);
    free(unexpected.items.s);
    free(misshaped.items.s);
    return rc;
}
