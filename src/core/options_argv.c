/* Option engine: command-line flags via getopt_long, and the -c/--config file list (mhim/options.h). */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "core/options_internal.h"
#include "mhim/common.h"

enum { CODE_POSITIONAL = 1, CODE_HELP = 'h', CODE_CONFIG = 'c', CODE_FIRST_ROW = 1000 };

/* "--name[=value]" -> heap copy of "name". */
static char *flag_name(const char *token) {
    const char *s = token + 2;
    size_t len = strcspn(s, "=");
    char *name = mhim_malloc(len + 1);
    memcpy(name, s, len);
    name[len] = '\0';
    return name;
}

static int unknown_flag(const mhim_option *table, int n, const char *command, const char *token) {
    if (strncmp(token, "--", 2) != 0)
        return mhim_fail("unknown option '%s' (option names take two dashes, e.g. --%s; see mhim %s --help)",
                         token, n > 0 ? table[0].name : "help", command);
    char *name = flag_name(token);
    const char *hint = mhim_opt_suggest_(table, n, name);
    int rc = hint ? mhim_fail("unknown option --%s (did you mean --%s?)", name, hint)
                  : mhim_fail("unknown option --%s (see mhim %s --help)", name, command);
    free(name);
    return rc;
}

/* Split "a.yaml,b.yaml" (argparse also hands "-c=a.yaml" over as "a.yaml") into files. */
static void add_config_list(mhim_opt_args *out, const char *list) {
    if (list[0] == '=') list++;
    char *copy = mhim_strdup(list);
    for (char *save = NULL, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ') tok++;
        size_t len = strlen(tok);
        while (len > 0 && tok[len - 1] == ' ') tok[--len] = '\0';
        if (len == 0) continue;
        out->files = mhim_realloc(out->files, (size_t)(out->n_files + 1) * sizeof *out->files);
        out->files[out->n_files++] = mhim_strdup(tok);
    }
    free(copy);
}

static struct option *build_long_options(const mhim_option *table, int n) {
    struct option *opts = mhim_calloc((size_t)n + 3, sizeof *opts);
    for (int i = 0; i < n; i++) {
        MHIM_ASSERT(strcmp(table[i].name, "help") != 0 && strcmp(table[i].name, "config") != 0);
        opts[i].name = table[i].name;
        opts[i].has_arg = table[i].type == MHIM_OPT_BOOL ? optional_argument : required_argument;
        opts[i].val = CODE_FIRST_ROW + i;
    }
    opts[n] = (struct option){"help", no_argument, NULL, CODE_HELP};
    opts[n + 1] = (struct option){"config", required_argument, NULL, CODE_CONFIG};
    return opts;
}

/* Handle one recognised table flag: reject abbreviations, check and record the value. */
static int take_flag(const mhim_option *table, int row, const char *token, const char *value, mhim_opt_args *flags) {
    const mhim_option *opt = &table[row];
    char *name = flag_name(token);
    int same = !strcmp(name, opt->name);
    free(name);
    if (!same)
        return mhim_fail("%s: abbreviated option names are not accepted; write --%s", token, opt->name);
    if (opt->type == MHIM_OPT_BOOL && !value) {
        if (opt->flags & MHIM_OPT_SWITCH) value = "true";
        else if (opt->flags & MHIM_OPT_STORE_FALSE) value = "false";
        else return mhim_fail("--%s: expected a value (--%s=true or --%s=false)", opt->name, opt->name, opt->name);
    }
    char origin[200];
    snprintf(origin, sizeof origin, "--%s", opt->name);
    int rc = mhim_opt_store_(opt, value, origin, NULL);
    if (rc == MHIM_OK) mhim_opt_args_push_(flags, row, value, origin);
    return rc;
}

static int scan_argv(const mhim_option *table, int n, int argc, char **argv, mhim_opt_args *out,
                     mhim_opt_args *flags) {
    const char *command = argc > 0 ? argv[0] : "command";
    struct option *longopts = build_long_options(table, n);
    int rc = MHIM_OK;
    optind = 0; /* full re-initialisation of getopt's state (GNU) */
    opterr = 0;
    for (;;) {
        int c = getopt_long(argc, argv, "-:hc:", longopts, NULL);
        if (c == -1) break;
        const char *token = argv[optind - 1];
        if (c == CODE_POSITIONAL) {
            out->positional = mhim_realloc(out->positional, (size_t)(out->n_positional + 1) * sizeof(char *));
            out->positional[out->n_positional++] = mhim_strdup(optarg);
        } else if (c == CODE_HELP) {
            out->help = true;
        } else if (c == CODE_CONFIG) {
            add_config_list(out, optarg);
        } else if (c >= CODE_FIRST_ROW) {
            /* With "--key value" optarg is argv[optind-1] and the flag itself is one earlier. */
            if (optarg && optarg == argv[optind - 1] && optind >= 2) token = argv[optind - 2];
            rc = take_flag(table, c - CODE_FIRST_ROW, token, optarg, flags);
        } else if (c == ':') {
            rc = optopt == 'c' || !strncmp(token, "--config", 8)
                     ? mhim_fail("%s: expected a YAML file name (-c FILE or -c a.yaml,b.yaml)", token)
                     : mhim_fail("%s: expected a value (%s=VALUE or %s VALUE)", token, token, token);
        } else if (!strcmp(token, "--help") || !strncmp(token, "--help=", 7)) {
            rc = mhim_fail("--help takes no value");
        } else if (optopt && strncmp(token, "--", 2) != 0) {
            char shown[3] = {'-', (char)optopt, '\0'};
            rc = unknown_flag(table, n, command, shown);
        } else {
            rc = unknown_flag(table, n, command, token);
        }
        if (rc != MHIM_OK) break;
    }
    for (int i = optind; rc == MHIM_OK && i < argc; i++) { /* after a literal "--" */
        out->positional = mhim_realloc(out->positional, (size_t)(out->n_positional + 1) * sizeof(char *));
        out->positional[out->n_positional++] = mhim_strdup(argv[i]);
    }
    free(longopts);
    return rc;
}

int mhim_opts_collect(const mhim_option *table, int n, int argc, char **argv, mhim_opt_args *out) {
    memset(out, 0, sizeof *out);
    mhim_opt_args flags = {0};
    int rc = scan_argv(table, n, argc, argv, out, &flags);
    for (int i = 0; rc == MHIM_OK && i < out->n_files; i++) rc = mhim_opt_read_yaml_(table, n, out->files[i], out);
    for (int i = 0; rc == MHIM_OK && i < flags.n_settings; i++)
        mhim_opt_args_push_(out, flags.settings[i].index, flags.settings[i].value, flags.settings[i].origin);
    mhim_opt_args_free(&flags);
    if (rc != MHIM_OK) mhim_opt_args_free(out);
    return rc;
}
