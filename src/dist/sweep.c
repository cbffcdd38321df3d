/* Sweep grids (mhim/dist.h): loading from the command line, point folder names, release. */
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/dist.h"

void mhim_sweep_free(mhim_sweep *s) {
    for (int k = 0; k < s->n_keys; k++) free(s->keys[k]);
    for (int64_t i = 0; i < s->n_points * s->n_keys; i++) free(s->values[i]);
    free(s->keys);
    free(s->values);
    memset(s, 0, sizeof *s);
}

char *mhim_sweep_point_name(const mhim_sweep *s, int64_t p) {
    size_t len = 1;
    for (int k = 0; k < s->n_keys; k++) len += strlen(s->keys[k]) + strlen(s->values[p * s->n_keys + k]) + 2;
    char *name = mhim_malloc(len);
    name[0] = '\0';
    for (int k = 0; k < s->n_keys; k++) {
        if (k) strcat(name, "_");
        strcat(name, s->keys[k]);
        strcat(name, "=");
        strcat(name, s->values[p * s->n_keys + k]);
    }
    return name;
}

/* Every key an option of `mhim train` (not one of the sweep's own), every value usable in a folder name. */
static int check_grid(const mhim_sweep *s, const char *where) {
    int n;
    const mhim_option *table = mhim_config_options(&n);
    static const char *const own[] = {"sweep", "sweep_point", "group_size", "model_path", "output_path",
                                      "project", "title", "resume", "auto_resume"};
    for (int k = 0; k < s->n_keys; k++) {
        if (!mhim_opts_find(table, n, s->keys[k]))
            return mhim_fail("%s: '%s' is not an option of mhim train (a sweep varies training options)", where,
                             s->keys[k]);
        for (size_t j = 0; j < MHIM_ARRAY_LEN(own); j++)
            if (!strcmp(s->keys[k], own[j]))
                return mhim_fail("%s: '%s' cannot be swept (it places or drives the sweep itself)", where, own[j]);
        for (int j = 0; j < k; j++)
            if (!strcmp(s->keys[k], s->keys[j])) return mhim_fail("%s: option '%s' appears twice", where, s->keys[k]);
    }
    for (int64_t i = 0; i < s->n_points * s->n_keys; i++) {
        const char *v = s->values[i];
        if (!v[0] || strchr(v, '/') || strpbrk(v, " \t\r\n"))
            return mhim_fail("%s: value '%s' of %s: expected a non-empty value without '/' or blanks (it names the "
                             "point folder)",
                             where, v, s->keys[i % s->n_keys]);
    }
    return MHIM_OK;
}

int mhim_sweep_load(const mhim_config *cfg, int argc, char **argv, mhim_sweep *out) {
    memset(out, 0, sizeof *out);
    mhim_config tmp;
    mhim_opt_args args;
    int rc = mhim_config_parse(&tmp, argc, argv, &args);
    if (rc != MHIM_OK) return rc;
    mhim_config_free(&tmp);
    const char *from = NULL;
    for (int f = 0; f < args.n_files && rc == MHIM_OK; f++) {
        mhim_sweep y;
        rc = mhim_sweep_read_yaml(args.files[f], &y);
        if (rc == MHIM_OK && y.n_points > 0) { /* a later file's block replaces an earlier one */
            mhim_sweep_free(out);
            *out = y;
            from = args.files[f];
        } else if (rc == MHIM_OK) {
            mhim_sweep_free(&y);
        }
    }
    char *where = NULL;
    if (rc == MHIM_OK && cfg->sweep && from)
        rc = mhim_fail("--sweep=%s and the 'sweep:' block of %s: give the grid one way only", cfg->sweep, from);
    if (rc == MHIM_OK && cfg->sweep) {
        rc = mhim_sweep_read_tsv(cfg->sweep, out);
        where = mhim_strdup(cfg->sweep);
    } else if (rc == MHIM_OK && from) {
        where = mhim_asprintf("%s: sweep", from);
    }
    if (rc == MHIM_OK && out->n_points > 0) rc = check_grid(out, where);
    if (rc == MHIM_OK && cfg->sweep_point >= 0 && cfg->sweep_point >= out->n_points)
        rc = mhim_fail("--sweep_point=%d: the sweep has %lld points (0..%lld)%s", cfg->sweep_point,
                       (long long)out->n_points, (long long)out->n_points - 1,
                       out->n_points ? "" : " — no sweep given (--sweep FILE.tsv or a YAML 'sweep:' block)");
    free(where);
    mhim_opt_args_free(&args);
    if (rc != MHIM_OK) mhim_sweep_free(out);
    return rc;
}
