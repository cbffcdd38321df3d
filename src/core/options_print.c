/* Option engine: --help text and the YAML dump of resolved values (see mhim/options.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/options_internal.h"
#include "mhim/common.h"

enum { HELP_COLUMN = 34 };

/* Distinct group names in first-appearance order; returns the count (caller frees *out). */
static int list_groups(const mhim_option *table, int n, const char ***out) {
    const char **groups = mhim_malloc((size_t)(n > 0 ? n : 1) * sizeof *groups);
    int count = 0;
    for (int i = 0; i < n; i++) {
        const char *g = table[i].group ? table[i].group : "Options";
        int seen = 0;
        for (int k = 0; k < count && !seen; k++) seen = !strcmp(groups[k], g);
        if (!seen) groups[count++] = g;
    }
    *out = groups;
    return count;
}

static bool in_group(const mhim_option *opt, const char *group) {
    return !strcmp(opt->group ? opt->group : "Options", group);
}

static const char *syntax(const mhim_option *opt, char *buf, size_t size) {
    switch (opt->type) {
    case MHIM_OPT_BOOL:
        return (opt->flags & (MHIM_OPT_SWITCH | MHIM_OPT_STORE_FALSE)) ? "[=BOOL]" : "=BOOL";
    case MHIM_OPT_INT: return "=INT";
    case MHIM_OPT_DOUBLE: return "=NUM";
    case MHIM_OPT_STRING: return "=TEXT";
    case MHIM_OPT_CHOICE: snprintf(buf, size, "={%s}", opt->choices); return buf;
    }
    return "";
}

static void print_default(FILE *out, const mhim_option *opt, const mhim_opts_help_style *style) {
    if (opt->flags & MHIM_OPT_REQUIRED) {
        fprintf(out, " (required)");
        return;
    }
    const char *def = opt->def;
    if (!def) def = opt->type == MHIM_OPT_BOOL ? "false" : opt->type == MHIM_OPT_STRING ? "null" : "0";
    fprintf(out, " (default: %s", def);
    for (int k = 0; style && k < style->n_alt; k++)
        if (!strcmp(style->alt[k].name, opt->name))
            fprintf(out, "; %s: %s", style->alt_label ? style->alt_label : "alt",
                    style->alt[k].value ? style->alt[k].value : "null");
    if (opt->flags & MHIM_OPT_STORE_FALSE) fprintf(out, "; the bare flag sets false");
    fprintf(out, ")");
}

void mhim_opts_print_help(FILE *out, const mhim_option *table, int n, const mhim_opts_help_style *style) {
    if (style && style->usage) fprintf(out, "%s\n", style->usage);
    fprintf(out, "Values are layered: defaults < -c/--config YAML files (comma list or repeated; later wins) < flags.\n"
                 "Flags: --name=value or --name value; switches: --name or --name=false.\n");
    const char **groups;
    int n_groups = list_groups(table, n, &groups);
    for (int g = 0; g < n_groups; g++) {
        fprintf(out, "\n%s:\n", groups[g]);
        for (int i = 0; i < n; i++) {
            const mhim_option *opt = &table[i];
            if (!in_group(opt, groups[g])) continue;
            char buf[256];
            int width = fprintf(out, "  --%s%s", opt->name, syntax(opt, buf, sizeof buf));
            if (width >= HELP_COLUMN) fprintf(out, "\n%*s", HELP_COLUMN, "");
            else fprintf(out, "%*s", HELP_COLUMN - width, "");
            const char *tag = style && style->tag ? style->tag(opt) : NULL;
            if (tag) fprintf(out, "[%s] ", tag);
            fprintf(out, "%s", opt->help ? opt->help : "");
            if (opt->flags & MHIM_OPT_NO_EFFECT) fprintf(out, " [accepted, no effect in mhim]");
            print_default(out, opt, style);
            fprintf(out, "\n");
        }
    }
    free(groups);
    fprintf(out, "\n  -c, --config=FILE[,FILE]      YAML file(s) of 'name: value' lines (values become defaults)\n"
                 "  -h, --help                    this text\n");
    if (style && style->epilog) fprintf(out, "\n%s\n", style->epilog);
}

static bool needs_quotes(const char *s) {
    static const char *const words[] = {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"};
    if (!*s) return true;
    for (size_t i = 0; i < MHIM_ARRAY_LEN(words); i++)
        if (!strcasecmp(s, words[i])) return true;
    if (strchr("-?:,[]{}#&*!|>'\"%@` ", s[0])) return true;
    if (s[strlen(s) - 1] == ' ' || s[strlen(s) - 1] == ':') return true;
    if (strstr(s, ": ") || strstr(s, " #")) return true;
    for (const char *p = s; *p; p++)
        if (iscntrl((unsigned char)*p)) return true;
    return false;
}

static void print_scalar(FILE *out, const mhim_option *opt, const char *text) {
    bool is_text = opt->type == MHIM_OPT_STRING || opt->type == MHIM_OPT_CHOICE;
    if (!text) {
        fputs("null", out);
    } else if (!is_text || !needs_quotes(text)) {
        fputs(text, out);
    } else {
        fputc('"', out);
        for (const char *p = text; *p; p++) {
            if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
            else if (*p == '\n') fputs("\\n", out);
            else if (*p == '\t') fputs("\\t", out);
            else if (iscntrl((unsigned char)*p)) fprintf(out, "\\x%02x", (unsigned char)*p);
            else fputc(*p, out);
        }
        fputc('"', out);
    }
}

void mhim_opts_print_yaml(FILE *out, const mhim_option *table, int n, const void *obj,
                          bool (*keep)(const mhim_option *opt, const void *ctx), const void *ctx) {
    const char **groups;
    int n_groups = list_groups(table, n, &groups);
    for (int g = 0; g < n_groups; g++) {
        bool heading = false;
        for (int i = 0; i < n; i++) {
            const mhim_option *opt = &table[i];
            if (!in_group(opt, groups[g]) || (keep && !keep(opt, ctx))) continue;
            if (!heading) fprintf(out, "%s# %s\n", g ? "\n" : "", groups[g]);
            heading = true;
            char *text = mhim_opts_value_text(opt, obj);
            fprintf(out, "%s: ", opt->name);
            print_scalar(out, opt, text);
            fputc('\n', out);
            free(text);
        }
    }
    free(groups);
}
