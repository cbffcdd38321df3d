/* Option engine: YAML configuration files (a flat mapping of option names to scalars), read with
 * libyaml's event parser so that every error carries file:line (see mhim/options.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "core/options_internal.h"
#include "mhim/common.h"

typedef struct {
    const char *path;
    yaml_parser_t parser;
    yaml_event_t event;
    bool have_event;
} yaml_reader;

/* Next event into r->event; MHIM_EINPUT with "file:line: YAML syntax error: ..." on failure. */
static int next_event(yaml_reader *r) {
    if (r->have_event) yaml_event_delete(&r->event);
    r->have_event = false;
    if (!yaml_parser_parse(&r->parser, &r->event)) {
        const char *problem = r->parser.problem ? r->parser.problem : "unreadable YAML";
        if (r->parser.context)
            return mhim_fail("%s:%zu: YAML syntax error: %s %s", r->path, r->parser.problem_mark.line + 1, problem,
                             r->parser.context);
        return mhim_fail("%s:%zu: YAML syntax error: %s", r->path, r->parser.problem_mark.line + 1, problem);
    }
    r->have_event = true;
    return MHIM_OK;
}

static size_t event_line(const yaml_reader *r) { return r->event.start_mark.line + 1; }

static bool is_plain_null(const yaml_event_t *ev) {
    if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
    const char *v = (const char *)ev->data.scalar.value;
    return !strcmp(v, "") || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

/* Skip the rest of the collection whose start event was just read (nested collections included). */
static int skip_collection(yaml_reader *r) {
    for (int depth = 1; depth > 0;) {
        int rc = next_event(r);
        if (rc) return rc;
        yaml_event_type_t t = r->event.type;
        if (t == YAML_MAPPING_START_EVENT || t == YAML_SEQUENCE_START_EVENT) depth++;
        if (t == YAML_MAPPING_END_EVENT || t == YAML_SEQUENCE_END_EVENT) depth--;
    }
    return MHIM_OK;
}

/* Body of the top-level mapping: key/value scalar pairs until MAPPING_END. */
static int read_pairs(yaml_reader *r, const mhim_option *table, int n, mhim_opt_args *args, int first_setting) {
    for (;;) {
        int rc = next_event(r);
        if (rc) return rc;
        if (r->event.type == YAML_MAPPING_END_EVENT) return MHIM_OK;
        size_t line = event_line(r);
        if (r->event.type != YAML_SCALAR_EVENT)
            return mhim_fail("%s:%zu: expected an option name (the file must be a flat mapping 'name: value')",
                             r->path, line);
        char *key = mhim_strdup((const char *)r->event.data.scalar.value);
        int row = mhim_opt_index_(table, n, key);
        if (row < 0) {
            const char *hint = mhim_opt_suggest_(table, n, key);
            rc = hint ? mhim_fail("%s:%zu: unknown option '%s' (did you mean %s?)", r->path, line, key, hint)
                      : mhim_fail("%s:%zu: unknown option '%s'", r->path, line, key);
            free(key);
            return rc;
        }
        for (int i = first_setting; i < args->n_settings; i++)
            if (args->settings[i].index == row) {
                rc = mhim_fail("%s:%zu: option '%s' is given twice in this file", r->path, line, key);
                free(key);
                return rc;
            }
        rc = next_event(r);
        if (rc == MHIM_OK && !strcmp(key, "sweep") && r->event.type == YAML_MAPPING_START_EVENT) {
            free(key); /* a sweep grid (lists of option values): read by the sweep layer (src/dist/sweep_yaml.c) */
            rc = skip_collection(r);
            if (rc) return rc;
            continue;
        }
        if (rc == MHIM_OK && r->event.type != YAML_SCALAR_EVENT)
            rc = mhim_fail("%s:%zu: %s: expected a single value, not a list or mapping", r->path, event_line(r), key);
        if (rc == MHIM_OK) {
            char origin[512];
            snprintf(origin, sizeof origin, "%s:%zu: %s", r->path, event_line(r), key);
            const char *value = is_plain_null(&r->event) ? NULL : (const char *)r->event.data.scalar.value;
            rc = mhim_opt_store_(&table[row], value, origin, NULL);
            if (rc == MHIM_OK) mhim_opt_args_push_(args, row, value, origin);
        }
        free(key);
        if (rc) return rc;
    }
}

static int read_stream(yaml_reader *r, const mhim_option *table, int n, mhim_opt_args *args) {
    int first_setting = args->n_settings;
    int rc = next_event(r); /* STREAM_START */
    if (rc == MHIM_OK) rc = next_event(r);
    if (rc || r->event.type == YAML_STREAM_END_EVENT) return rc; /* empty file: no settings */
    rc = next_event(r);                                            /* after DOCUMENT_START */
    if (rc) return rc;
    if (r->event.type == YAML_SCALAR_EVENT && is_plain_null(&r->event)) {
        rc = next_event(r); /* a document with only "---" */
    } else if (r->event.type == YAML_MAPPING_START_EVENT) {
        rc = read_pairs(r, table, n, args, first_setting);
        if (rc == MHIM_OK) rc = next_event(r);
    } else {
        return mhim_fail("%s:%zu: expected a mapping of option names to values ('name: value' lines)", r->path,
                         event_line(r));
    }
    if (rc) return rc;
    if (r->event.type != YAML_DOCUMENT_END_EVENT) return mhim_fail("%s:%zu: unexpected content", r->path, event_line(r));
    rc = next_event(r);
    if (rc == MHIM_OK && r->event.type != YAML_STREAM_END_EVENT)
        return mhim_fail("%s:%zu: only one YAML document per file is supported", r->path, event_line(r));
    return rc;
}

int mhim_opt_read_yaml_(const mhim_option *table, int n, const char *path, mhim_opt_args *args) {
    FILE *f = fopen(path, "rb");
    if (!f) return mhim_fail("cannot read config file '%s': %s", path, strerror(errno));
    yaml_reader r = {.path = path};
    if (!yaml_parser_initialize(&r.parser)) {
        fclose(f);
        return mhim_fail_code(MHIM_EINTERNAL, "cannot initialise the YAML parser for '%s'", path);
    }
    yaml_parser_set_input_file(&r.parser, f);
    int rc = read_stream(&r, table, n, args);
    if (r.have_event) yaml_event_delete(&r.event);
    yaml_parser_delete(&r.parser);
    fclose(f);
    return rc;
}
