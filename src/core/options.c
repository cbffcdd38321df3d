/* Option engine: value checking and storage, defaults, layering, byte sizes (see mhim/options.h). */
#include "mhim/options.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/options_internal.h"
#include "mhim/common.h"
#include "mhim/log.h"

#define FIELD(obj, opt, type) ((type *)((char *)(obj) + (opt)->offset))

static int parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(yes); i++) {
        if (!strcasecmp(s, yes[i])) return *out = true, 1;
        if (!strcasecmp(s, no[i])) return *out = false, 1;
    }
    return 0;
}

/* "in [0, 1]", ">= 2", "> 0", "" (unbounded); writes into buf. */
static const char *range_text(const mhim_option *opt, char *buf, size_t size) {
    bool lo = isfinite(opt->min), hi = isfinite(opt->max);
    char open_l = (opt->flags & MHIM_OPT_MIN_OPEN) ? '(' : '[';
    char close_r = (opt->flags & MHIM_OPT_MAX_OPEN) ? ')' : ']';
    if (lo && hi)
        snprintf(buf, size, " in %c%g, %g%c", open_l, opt->min, opt->max, close_r);
    else if (lo)
        snprintf(buf, size, " %s %g", (opt->flags & MHIM_OPT_MIN_OPEN) ? ">" : ">=", opt->min);
    else if (hi)
        snprintf(buf, size, " %s %g", (opt->flags & MHIM_OPT_MAX_OPEN) ? "<" : "<=", opt->max);
    else
        buf[0] = '\0';
    return buf;
}

static bool in_range(const mhim_option *opt, double v) {
    if (opt->flags & MHIM_OPT_MIN_OPEN ? !(v > opt->min) : !(v >= opt->min)) return false;
    if (opt->flags & MHIM_OPT_MAX_OPEN ? !(v < opt->max) : !(v <= opt->max)) return false;
    return true;
}

static bool choice_ok(const char *choices, const char *s) {
    size_t len = strlen(s);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t n = bar ? (size_t)(bar - p) : strlen(p);
        if (n == len && !strncmp(p, s, n)) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

/* Whether a YAML null is one of the option's values (see mhim/options.h). */
static bool null_allowed(const mhim_option *opt) {
    if (opt->type != MHIM_OPT_STRING || (opt->flags & MHIM_OPT_REQUIRED)) return false;
    return !opt->def || (opt->flags & MHIM_OPT_NULLABLE);
}

int mhim_opt_store_(const mhim_option *opt, const char *text, const char *origin, void *dst) {
    char range[96];
    const char *shown = text ? text : "null";
    if (!text && !null_allowed(opt))
        return mhim_fail("%s: expected a value, got null (give one, or remove the setting to keep the default)",
                         origin);
    switch (opt->type) {
    case MHIM_OPT_BOOL: {
        bool v;
        if (!parse_bool(text, &v)) return mhim_fail("%s=%s: expected true or false", origin, shown);
        if (dst) *FIELD(dst, opt, bool) = v;
        return MHIM_OK;
    }
    case MHIM_OPT_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(text, &end, 10);
        bool ok = end != text && *end == '\0' && errno == 0 && v >= INT_MIN && v <= INT_MAX &&
                  !isspace((unsigned char)text[0]);
        if (!ok || !in_range(opt, (double)v))
            return mhim_fail("%s=%s: expected an integer%s", origin, shown, range_text(opt, range, sizeof range));
        if (dst) *FIELD(dst, opt, int) = (int)v;
        return MHIM_OK;
    }
    case MHIM_OPT_DOUBLE: {
        char *end;
        errno = 0;
        double v = strtod(text, &end);
        bool ok = end != text && *end == '\0' && errno != ERANGE && isfinite(v) && !isspace((unsigned char)text[0]);
        if (!ok || !in_range(opt, v))
            return mhim_fail("%s=%s: expected a number%s", origin, shown, range_text(opt, range, sizeof range));
        if (dst) *FIELD(dst, opt, double) = v;
        return MHIM_OK;
    }
    case MHIM_OPT_CHOICE:
        if (!choice_ok(opt->choices, text))
            return mhim_fail("%s=%s: expected one of %s", origin, shown, opt->choices);
        /* fall through */
    case MHIM_OPT_STRING:
        if (dst) {
            char **field = FIELD(dst, opt, char *);
            free(*field);
            *field = text ? mhim_strdup(text) : NULL;
        }
        return MHIM_OK;
    }
    return mhim_fail("%s: option of unknown type", origin);
}

int mhim_opt_index_(const mhim_option *table, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(table[i].name, name)) return i;
    return -1;
}

const mhim_option *mhim_opts_find(const mhim_option *table, int n, const char *name) {
    int i = mhim_opt_index_(table, n, name);
    return i < 0 ? NULL : &table[i];
}

/* Optimal-string-alignment distance (insert, delete, substitute, swap neighbours), case-blind. */
static size_t edit_distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b), w = lb + 1;
    size_t *d = mhim_malloc((la + 1) * w * sizeof *d);
    for (size_t i = 0; i <= la; i++) d[i * w] = i;
    for (size_t j = 0; j <= lb; j++) d[j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int ai = tolower((unsigned char)a[i - 1]), bj = tolower((unsigned char)b[j - 1]);
            size_t best = MHIM_MIN(d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1);
            best = MHIM_MIN(best, d[(i - 1) * w + j - 1] + (ai != bj));
            if (i > 1 && j > 1 && ai == tolower((unsigned char)b[j - 2]) && tolower((unsigned char)a[i - 2]) == bj)
                best = MHIM_MIN(best, d[(i - 2) * w + j - 2] + 1);
            d[i * w + j] = best;
        }
    size_t dist = d[la * w + lb];
    free(d);
    return dist;
}

const char *mhim_opt_suggest_(const mhim_option *table, int n, const char *name) {
    size_t len = strlen(name);
    if (len == 0) return NULL;
    const char *best = NULL;
    size_t best_d = (size_t)-1;
    for (int i = 0; i < n; i++) {
        size_t d = edit_distance(name, table[i].name);
        if (d < best_d) best_d = d, best = table[i].name;
    }
    size_t limit = len <= 3 ? 1 : len <= 8 ? 2 : 3;
    if (best && best_d <= limit) return best;
    for (int i = 0; i < n; i++) /* a prefix of a longer name, e.g. "mask_ratio_" */
        if (!strncmp(table[i].name, name, len)) return table[i].name;
    return NULL;
}

void mhim_opt_args_push_(mhim_opt_args *args, int index, const char *value, const char *origin) {
    args->settings = mhim_realloc(args->settings, (size_t)(args->n_settings + 1) * sizeof *args->settings);
    mhim_opt_setting *s = &args->settings[args->n_settings++];
    s->index = index;
    s->value = value ? mhim_strdup(value) : NULL;
    s->origin = mhim_strdup(origin);
}

void mhim_opt_args_free(mhim_opt_args *args) {
    for (int i = 0; i < args->n_positional; i++) free(args->positional[i]);
    for (int i = 0; i < args->n_files; i++) free(args->files[i]);
    for (int i = 0; i < args->n_settings; i++) {
        free(args->settings[i].value);
        free(args->settings[i].origin);
    }
    free(args->positional);
    free(args->files);
    free(args->settings);
    memset(args, 0, sizeof *args);
}

const mhim_opt_setting *mhim_opt_args_find(const mhim_opt_args *args, const mhim_option *table, const char *name) {
    for (int i = args->n_settings - 1; i >= 0; i--)
        if (!strcmp(table[args->settings[i].index].name, name)) return &args->settings[i];
    return NULL;
}

void mhim_opts_set_defaults(const mhim_option *table, int n, void *obj, const mhim_opt_default *overlay,
                            int n_overlay) {
    for (int i = 0; i < n; i++) {
        const mhim_option *opt = &table[i];
        const char *def = opt->def;
        for (int k = 0; k < n_overlay; k++)
            if (!strcmp(overlay[k].name, opt->name)) def = overlay[k].value;
        if (def) {
            if (mhim_opt_store_(opt, def, opt->name, obj) != MHIM_OK)
                MHIM_DIE("bad default in option table: %s", mhim_error());
            continue;
        }
        switch (opt->type) {
        case MHIM_OPT_BOOL: *FIELD(obj, opt, bool) = false; break;
        case MHIM_OPT_INT: *FIELD(obj, opt, int) = 0; break;
        case MHIM_OPT_DOUBLE: *FIELD(obj, opt, double) = 0.0; break;
        case MHIM_OPT_STRING:
        case MHIM_OPT_CHOICE: {
            char **field = FIELD(obj, opt, char *);
            free(*field);
            *field = NULL;
            break;
        }
        }
    }
}

int mhim_opts_apply(const mhim_option *table, int n, void *obj, const mhim_opt_args *args) {
    char **before = mhim_calloc((size_t)(n > 0 ? n : 1), sizeof *before); /* values of NO_EFFECT rows */
    for (int i = 0; i < n; i++)
        if (table[i].flags & MHIM_OPT_NO_EFFECT) before[i] = mhim_opts_value_text(&table[i], obj);
    int rc = MHIM_OK;
    for (int i = 0; rc == MHIM_OK && i < args->n_settings; i++) {
        const mhim_opt_setting *s = &args->settings[i];
        rc = mhim_opt_store_(&table[s->index], s->value, s->origin, obj);
    }
    for (int i = 0; rc == MHIM_OK && i < n; i++) {
        const mhim_opt_setting *given = mhim_opt_args_find(args, table, table[i].name);
        if ((table[i].flags & MHIM_OPT_REQUIRED) && !given)
            rc = mhim_fail("missing required option --%s (give it as a flag or in a -c YAML file)", table[i].name);
        if (!(table[i].flags & MHIM_OPT_NO_EFFECT) || !given) continue;
        char *after = mhim_opts_value_text(&table[i], obj);
        bool changed = (before[i] == NULL) != (after == NULL) || (after && strcmp(before[i], after) != 0);
        if (changed)
            MHIM_WARN("%s: accepted for compatibility with the original program; no effect in mhim", given->origin);
        free(after);
    }
    for (int i = 0; i < n; i++) free(before[i]);
    free(before);
    return rc;
}

int mhim_opts_parse(const mhim_option *table, int n, void *obj, int argc, char **argv, mhim_opt_args *out) {
    int rc = mhim_opts_collect(table, n, argc, argv, out);
    if (rc != MHIM_OK) return rc;
    mhim_opts_set_defaults(table, n, obj, NULL, 0);
    rc = mhim_opts_apply(table, n, obj, out);
    if (rc != MHIM_OK) {
        mhim_opts_free(table, n, obj);
        mhim_opt_args_free(out);
    }
    return rc;
}

int mhim_opts_set(const mhim_option *table, int n, void *obj, const char *name, const char *value,
                  const char *origin) {
    const mhim_option *opt = mhim_opts_find(table, n, name);
    if (!opt) return mhim_fail("unknown option --%s", name);
    char fallback[160];
    if (!origin) {
        snprintf(fallback, sizeof fallback, "--%s", name);
        origin = fallback;
    }
    return mhim_opt_store_(opt, value, origin, obj);
}

void mhim_opts_free(const mhim_option *table, int n, void *obj) {
    for (int i = 0; i < n; i++) {
        if (table[i].type != MHIM_OPT_STRING && table[i].type != MHIM_OPT_CHOICE) continue;
        char **field = FIELD(obj, &table[i], char *);
        free(*field);
        *field = NULL;
    }
}

/* Shortest "%.*g" text that reads back as exactly v. */
static char *double_text(double v) {
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return mhim_strdup(buf);
}

char *mhim_opts_value_text(const mhim_option *opt, const void *obj) {
    const char *base = obj;
    switch (opt->type) {
    case MHIM_OPT_BOOL: return mhim_strdup(*(const bool *)(base + opt->offset) ? "true" : "false");
    case MHIM_OPT_INT: return mhim_asprintf("%d", *(const int *)(base + opt->offset));
    case MHIM_OPT_DOUBLE: return double_text(*(const double *)(base + opt->offset));
    case MHIM_OPT_STRING:
    case MHIM_OPT_CHOICE: {
        const char *s = *(char *const *)(base + opt->offset);
        return s ? mhim_strdup(s) : NULL;
    }
    }
    return NULL;
}

int mhim_parse_bytes(const char *text, int64_t *out) {
    const char *p = text;
    if (!p || !isdigit((unsigned char)*p))
        return mhim_fail("'%s': expected a byte size such as 0, 512M or 8G", text ? text : "");
    int64_t v = 0;
    for (; isdigit((unsigned char)*p); p++) {
        if (v > (INT64_MAX - 9) / 10) return mhim_fail("'%s': byte size too large", text);
        v = v * 10 + (*p - '0');
    }
    int shift = 0;
    switch (toupper((unsigned char)*p)) {
    case 'K': shift = 10; p++; break;
    case 'M': shift = 20; p++; break;
    case 'G': shift = 30; p++; break;
    case 'T': shift = 40; p++; break;
    default: break;
    }
    if (shift && toupper((unsigned char)*p) == 'I') p++;
    if (toupper((unsigned char)*p) == 'B') p++;
    if (*p != '\0')
        return mhim_fail("'%s': expected a byte size such as 0, 512M or 8G (suffix K, M, G or T)", text);
    if (shift && v > (INT64_MAX >> shift)) return mhim_fail("'%s': byte size too large", text);
    *out = v << shift;
    return MHIM_OK;
}
