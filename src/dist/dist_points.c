/* Sweep points as configurations (dist/dist_internal.h): the command line re-parsed with the point's values,
 * the point folder and its sweep_point.tsv, and the merge of the per-unit logs of a point. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dist/dist_internal.h"
#include "mhim/atomic_file.h"

int dist_point_config(int argc, char **argv, const mhim_sweep *sw, int64_t p, const char *run_dir, mhim_config *out) {
    const int extra = sw->n_points ? sw->n_keys : 0;
    char **av = mhim_malloc((size_t)(argc + extra + 1) * sizeof *av);
    for (int i = 0; i < argc; i++) av[i] = argv[i];
    for (int k = 0; k < extra; k++) av[argc + k] = mhim_asprintf("--%s=%s", sw->keys[k], sw->values[p * sw->n_keys + k]);
    av[argc + extra] = NULL;
    bool help;
    int rc = mhim_config_from_command(out, argc + extra, av, true, &help);
    for (int k = 0; k < extra; k++) free(av[argc + k]);
    free(av);
    if (rc != MHIM_OK) return rc;
    free(out->sweep);
    out->sweep = NULL;
    out->sweep_point = -1;
    if (sw->n_points) {
        char *name = mhim_sweep_point_name(sw, p);
        free(out->run_dir);
        out->run_dir = mhim_asprintf("%s/%s", run_dir, name);
        free(name);
    }
    return MHIM_OK;
}

int dist_make_dir(const char *path) {
    if (mkdir(path, 0755) == 0 || errno == EEXIST) return MHIM_OK;
    return mhim_fail("cannot create the folder '%s': %s (check --model_path / --output_path)", path, strerror(errno));
}

int dist_make_run_dir(const mhim_config *cfg) {
    const char *base = cfg->version == 2 ? cfg->output_path : cfg->model_path;
    struct stat st;
    if (!base || stat(base, &st) != 0 || !S_ISDIR(st.st_mode))
        return mhim_fail("--%s=%s: the folder does not exist (create it; the run writes %s/project/title)",
                         cfg->version == 2 ? "output_path" : "model_path", base ? base : "", base ? base : "...");
    char *project = mhim_asprintf("%s/%s", base, cfg->project);
    int rc = dist_make_dir(project);
    free(project);
    return rc == MHIM_OK ? dist_make_dir(cfg->run_dir) : rc;
}

int dist_make_point_dir(const mhim_sweep *sw, int64_t p, const char *run_dir) {
    char *name = mhim_sweep_point_name(sw, p);
    char *dir = mhim_asprintf("%s/%s", run_dir, name);
    int rc = dist_make_dir(dir);
    if (rc == MHIM_OK) {
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        fprintf(f, "point");
        for (int k = 0; k < sw->n_keys; k++) fprintf(f, "\t%s", sw->keys[k]);
        fprintf(f, "\n%lld", (long long)p);
        for (int k = 0; k < sw->n_keys; k++) fprintf(f, "\t%s", sw->values[p * sw->n_keys + k]);
        fprintf(f, "\n");
        fclose(f);
        char *path = mhim_asprintf("%s/sweep_point.tsv", dir);
        rc = mhim_atomic_write(path, text, len);
        free(path);
        free(text);
    }
    free(name);
    free(dir);
    return rc;
}

/* Concatenate dir/<prefix>_fold_{k}.<ext> for folds [first, end) into dir/<name> (atomic). */
static int concat(const char *dir, const char *prefix, const char *ext, const char *name, int first, int end) {
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    for (int k = first; k < end; k++) {
        char *path = mhim_asprintf("%s/%s_fold_%d.%s", dir, prefix, k, ext);
        FILE *f = fopen(path, "r");
        free(path);
        if (!f) continue;
        char buf[65536];
        for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) fwrite(buf, 1, n, out);
        fclose(f);
    }
    fclose(out);
    char *path = mhim_asprintf("%s/%s", dir, name);
    int rc = mhim_atomic_write(path, text, len);
    free(path);
    free(text);
    return rc;
}

int dist_merge_unit_logs(const char *dir, int first, int end) {
    int rc = concat(dir, "train", "log", "train.log", first, end);
    return rc == MHIM_OK ? concat(dir, "metrics", "jsonl", "metrics.jsonl", first, end) : rc;
}
