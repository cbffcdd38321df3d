/* Loading a torch.save state_dict (.pt/.pth) into a parameter layout (see mhim/checkpoint.h). */
#include <stdio.h>
#include <string.h>

#include "mhim/checkpoint.h"
#include "mhim/common.h"
#include "mhim/ptfile.h"
#include "train/checkpoint_match.h"

static int starts_with_section(const char *name, const char *section) {
    size_t n = strlen(section);
    return strncmp(name, section, n) == 0 && name[n] == '.';
}

static int any_under(const mhim_ptfile *pt, const char *section) {
    for (int64_t i = 0; i < mhim_pt_entry_count(pt); i++)
        if (starts_with_section(mhim_pt_entry_at(pt, i)->name, section)) return 1;
    return 0;
}

/* "a, b, c" = the distinct top-level keys (first dotted component), for messages. */
static void top_level_keys(const mhim_ptfile *pt, char *out, size_t cap) {
    size_t pos = 0;
    out[0] = '\0';
    const char *prev = NULL;
    size_t prev_len = 0;
    int shown = 0;
    for (int64_t i = 0; i < mhim_pt_entry_count(pt) && shown < 8; i++) {
        const char *name = mhim_pt_entry_at(pt, i)->name;
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        if (prev && len == prev_len && strncmp(prev, name, len) == 0) continue;
        int w = snprintf(out + pos, cap - pos, "%s%.*s", shown ? ", " : "", (int)len, name);
        if (w < 0 || (size_t)w >= cap - pos) break;
        pos += (size_t)w;
        prev = name;
        prev_len = len;
        shown++;
    }
}

/* Choose the section: the requested one, or model / state_dict / the whole file. "" = whole file. */
static int choose_section(mhim_ptfile *pt, const char *path, const char *requested, const char **section) {
    char tops[256];
    const char *want = requested;
    if (!want) want = any_under(pt, "model") ? "model" : any_under(pt, "state_dict") ? "state_dict" : NULL;
    if (!want) {
        int64_t none = mhim_pt_find(pt, "model");
        if (none >= 0 && mhim_pt_entry_at(pt, none)->kind == MHIM_PT_NONE)
            return mhim_fail("%s: 'model' is None: the checkpoint holds no model weights", path);
        *section = "";
        return MHIM_OK;
    }
    if (!any_under(pt, want)) {
        int64_t at = mhim_pt_find(pt, want);
        if (at >= 0 && mhim_pt_entry_at(pt, at)->kind == MHIM_PT_NONE)
            return mhim_fail("%s: '%s' is None: the checkpoint holds no %s weights", path, want, want);
        top_level_keys(pt, tops, sizeof tops);
        return mhim_fail("%s: no state_dict '%s' in the checkpoint (top-level keys: %s)", path, want,
                         tops[0] ? tops : "none");
    }
    *section = want;
    return MHIM_OK;
}

static int read_pt_tensor(void *ctx, int64_t source, float *dst, int64_t n) {
    return mhim_pt_read_f32((mhim_ptfile *)ctx, source, dst, n);
}

int ckpt_load_pt(const char *path, const mhim_param_layout *L, float *params, const mhim_load_opts *opts,
                 mhim_load_report *report) {
    mhim_ptfile *pt;
    int rc = mhim_pt_open(path, &pt);
    if (rc != MHIM_OK) return rc;
    const char *section = "";
    rc = choose_section(pt, path, opts ? opts->section : NULL, &section);
    ckpt_keyset ks = {0};
    if (rc == MHIM_OK) {
        size_t skip = section[0] ? strlen(section) + 1 : 0;
        for (int64_t i = 0; i < mhim_pt_entry_count(pt); i++) {
            const mhim_pt_entry *e = mhim_pt_entry_at(pt, i);
            if (section[0] && !starts_with_section(e->name, section)) continue;
            ckpt_key_kind kind =
                e->kind == MHIM_PT_TENSOR && mhim_pt_dtype_is_float(e->dtype) ? CKPT_KEY_FLOAT : CKPT_KEY_OTHER;
            ckpt_keyset_add(&ks, e->name + skip, kind, e->kind == MHIM_PT_TENSOR ? e->ndim : 0, e->shape, i);
        }
        ckpt_keyset_strip_module(&ks);
        rc = ckpt_match_load(path, section, &ks, L, params, opts, read_pt_tensor, pt, report);
    }
    ckpt_keyset_free(&ks);
    mhim_pt_close(pt);
    return rc;
}
