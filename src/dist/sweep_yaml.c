/* The `sweep:` block of a YAML configuration (mhim/dist.h): a mapping of option name -> list of values (a single
 * value is a list of one), expanded to the cartesian product in key order, last key varying fastest. The option
 * engine skips this block (src/core/options_yaml.c); everything else in the file is its business. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "mhim/common.h"
#include "mhim/dist.h"

typedef struct {
    const char *path;
    yaml_parser_t parser;
    yaml_event_t ev;
    int have;
} reader;

static int next(reader *r) {
    if (r->have) yaml_event_delete(&r->ev);
    r->have = 0;
    if (!yaml_parser_parse(&r->parser, &r->ev))
        return mhim_fail("%s:%zu: YAML syntax error: %s", r->path, r->parser.problem_mark.line + 1,
                         r->parser.problem ? r->parser.problem : "unreadable YAML");
    r->have = 1;
    return MHIM_OK;
}

static size_t line_of(const reader *r) { return r->ev.start_mark.line + 1; }

/* Skip the value whose first event is current (a scalar or a whole collection). */
static int skip_value(reader *r) {
    int depth = 0;
    do {
        yaml_event_type_t t = r->ev.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) depth++;
        if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) depth--;
        if (depth == 0) return MHIM_OK;
        int rc = next(r);
        if (rc) return rc;
    } while (1);
}

typedef struct {
    int n_keys;
    char **keys;
    int *n_values;
    char ***values; /* [key][value] */
} grid_lists;

static void lists_free(grid_lists *g) {
    for (int k = 0; k < g->n_keys; k++) {
        for (int v = 0; v < g->n_values[k]; v++) free(g->values[k][v]);
        free(g->values[k]);
        free(g->keys[k]);
    }
    free(g->keys);
    free(g->n_values);
    free(g->values);
}

/* Body of the sweep mapping (its MAPPING_START is current). */
static int read_lists(reader *r, grid_lists *g) {
    for (;;) {
        int rc = next(r);
        if (rc) return rc;
        if (r->ev.type == YAML_MAPPING_END_EVENT) return MHIM_OK;
        if (r->ev.type != YAML_SCALAR_EVENT)
            return mhim_fail("%s:%zu: sweep: expected an option name", r->path, line_of(r));
        g->keys = mhim_realloc(g->keys, (size_t)(g->n_keys + 1) * sizeof *g->keys);
        g->n_values = mhim_realloc(g->n_values, (size_t)(g->n_keys + 1) * sizeof *g->n_values);
        g->values = mhim_realloc(g->values, (size_t)(g->n_keys + 1) * sizeof *g->values);
        const int k = g->n_keys++;
        g->keys[k] = mhim_strdup((const char *)r->ev.data.scalar.value);
        g->n_values[k] = 0;
        g->values[k] = NULL;
        rc = next(r);
        if (rc) return rc;
        int list = r->ev.type == YAML_SEQUENCE_START_EVENT;
        if (!list && r->ev.type != YAML_SCALAR_EVENT)
            return mhim_fail("%s:%zu: sweep: %s: expected a list of values such as [0.01, 0.03]", r->path,
                             line_of(r), g->keys[k]);
        for (;;) {
            if (list) {
                rc = next(r);
                if (rc) return rc;
                if (r->ev.type == YAML_SEQUENCE_END_EVENT) break;
                if (r->ev.type != YAML_SCALAR_EVENT)
                    return mhim_fail("%s:%zu: sweep: %s: expected plain values in the list", r->path, line_of(r),
                                     g->keys[k]);
            }
            g->values[k] = mhim_realloc(g->values[k], (size_t)(g->n_values[k] + 1) * sizeof *g->values[k]);
            g->values[k][g->n_values[k]++] = mhim_strdup((const char *)r->ev.data.scalar.value);
            if (!list) break;
        }
        if (g->n_values[k] == 0)
            return mhim_fail("%s:%zu: sweep: %s: the list is empty (give at least one value)", r->path, line_of(r),
                             g->keys[k]);
    }
}

/* Cartesian product of g, last key fastest. */
static void expand(const grid_lists *g, mhim_sweep *out) {
    int64_t n = 1;
    for (int k = 0; k < g->n_keys; k++) n *= g->n_values[k];
    out->n_keys = g->n_keys;
    out->keys = mhim_malloc((size_t)MHIM_MAX(g->n_keys, 1) * sizeof *out->keys);
    for (int k = 0; k < g->n_keys; k++) out->keys[k] = mhim_strdup(g->keys[k]);
    out->n_points = g->n_keys ? n : 0;
    out->values = mhim_malloc((size_t)MHIM_MAX(out->n_points * g->n_keys, 1) * sizeof *out->values);
    for (int64_t p = 0; p < out->n_points; p++) {
        int64_t rest = p;
        for (int k = g->n_keys - 1; k >= 0; k--) {
            out->values[p * g->n_keys + k] = mhim_strdup(g->values[k][rest % g->n_values[k]]);
            rest /= g->n_values[k];
        }
    }
}

int mhim_sweep_read_yaml(const char *path, mhim_sweep *out) {
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return mhim_fail("cannot read config file '%s': %s", path, strerror(errno));
    reader r = {.path = path};
    yaml_parser_initialize(&r.parser);
    yaml_parser_set_input_file(&r.parser, f);
    grid_lists g = {0};
    int rc = MHIM_OK, found = 0, depth = 0;
    /* walk the stream; only a `sweep` key directly under the top-level mapping counts */
    while (rc == MHIM_OK && (rc = next(&r)) == MHIM_OK && r.ev.type != YAML_STREAM_END_EVENT) {
        yaml_event_type_t t = r.ev.type;
        if (t == YAML_MAPPING_START_EVENT && depth == 0) {
            depth = 1;
            continue;
        }
        if (depth != 1) continue;
        if (t == YAML_MAPPING_END_EVENT) {
            depth = 0;
            continue;
        }
        if (t != YAML_SCALAR_EVENT) continue; /* a malformed file: the option engine reports it */
        int is_sweep = !strcmp((const char *)r.ev.data.scalar.value, "sweep");
        rc = next(&r);
        if (rc) break;
        if (is_sweep && r.ev.type == YAML_MAPPING_START_EVENT) {
            lists_free(&g);
            memset(&g, 0, sizeof g);
            rc = read_lists(&r, &g);
            found = 1;
        } else {
            rc = skip_value(&r);
        }
    }
    if (rc == MHIM_OK && found) expand(&g, out);
    lists_free(&g);
    if (r.have) yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.parser);
    fclose(f);
    return rc;
}
