/* TSV sweep grids (mhim/dist.h): header row of option names, then one point per row, tab-separated. Empty lines
 * and lines starting with '#' are ignored. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/common.h"
#include "mhim/dist.h"

static int count_fields(const char *line) {
    int n = 1;
    for (const char *p = line; (p = strchr(p, '\t')); p++) n++;
    return n;
}

/* Split line (modified in place) at its tabs into fields[0..count_fields(line)). */
static void split_tabs(char *line, char **fields) {
    int n = 0;
    for (char *p = line;;) {
        char *tab = strchr(p, '\t');
        fields[n++] = p;
        if (!tab) break;
        *tab = '\0';
        p = tab + 1;
    }
}

int mhim_sweep_read_tsv(const char *path, mhim_sweep *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) return mhim_fail("--sweep=%s: cannot read the file: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int rc = MHIM_OK, lineno = 0;
    int64_t cap_points = 0;
    for (ssize_t len; rc == MHIM_OK && (len = getline(&line, &cap, f)) >= 0;) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
        if (len == 0 || line[0] == '#') continue;
        int n = count_fields(line);
        char **fields = mhim_malloc((size_t)n * sizeof *fields);
        split_tabs(line, fields);
        if (!out->keys) {
            out->n_keys = n;
            out->keys = mhim_malloc((size_t)n * sizeof *out->keys);
            for (int k = 0; k < n; k++) out->keys[k] = mhim_strdup(fields[k]);
        } else if (n != out->n_keys) {
            rc = mhim_fail("%s:%d: %d fields, the header has %d (one tab-separated value per option)", path, lineno,
                           n, out->n_keys);
        } else {
            if (out->n_points == cap_points) {
                cap_points = cap_points ? 2 * cap_points : 16;
                out->values = mhim_realloc(out->values, (size_t)(cap_points * n) * sizeof *out->values);
            }
            for (int k = 0; k < n; k++) out->values[out->n_points * n + k] = mhim_strdup(fields[k]);
            out->n_points++;
        }
        free(fields);
    }
    free(line);
    fclose(f);
    if (rc == MHIM_OK && out->n_points == 0)
        rc = mhim_fail("--sweep=%s: no points (expected a header row of option names and one row per point)", path);
    if (rc != MHIM_OK) mhim_sweep_free(out);
    return rc;
}
