/* mhim_bench_load — time loading a folder of bag files (.h5 or .pt) into the bag store.
 *
 *   mhim_bench_load [--ext h5|pt] [--dtype fp32|fp16] [--memory_budget SIZE] FOLDER
 *
 * Opens a store over every FOLDER/<name>.<ext> file (one bag per file, sorted by name), which reads each
 * bag once, and prints one machine-readable line:
 *   load ext=h5 dtype=fp32 bags=100 bytes=3700000000 seconds=1.234 gb_per_s=3.00 cpu_seconds=1.5
 *        gb_per_cpu_s=2.47 streaming=0
 * (cpu_seconds: CPU time of all threads, a fairer figure than wall time on a shared machine).
 * With a budget below the data size the store streams: the line then reports one full pass over the
 * bags in file order through the prefetch ring. */
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mhim/bagstore.h"
#include "mhim/clock.h"
#include "mhim/common.h"
#include "mhim/options.h"

typedef struct {
    char *ext;
    char *dtype;
    char *memory_budget;
} bench_settings;

#define T bench_settings
static const mhim_option bench_table[] = {
    MHIM_OPTION_CHOICE(T, ext, "h5", "h5|pt", 0, "Input", "bag file type to load from FOLDER"),
    MHIM_OPTION_CHOICE(T, dtype, "fp32", "fp32|fp16", 0, "Store", "storage dtype of the bag store"),
    MHIM_OPTION_STRING(T, memory_budget, "0", 0, "Store", "memory budget (0 = preload; e.g. 512M to stream)"),
};
#undef T
#define N_OPTIONS ((int)MHIM_ARRAY_LEN(bench_table))

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted full paths of the folder's <name>.<ext> files. */
static int list_files(const char *folder, const char *ext, char ***out, int64_t *n_out) {
    DIR *dir = opendir(folder);
    if (!dir) return mhim_fail("%s: cannot open the folder", folder);
    char **paths = NULL;
    int64_t n = 0, cap = 0;
    size_t ext_len = strlen(ext);
    for (struct dirent *e; (e = readdir(dir));) {
        size_t len = strlen(e->d_name);
        if (len <= ext_len + 1 || e->d_name[len - ext_len - 1] != '.' || strcmp(e->d_name + len - ext_len, ext))
            continue;
        if (n == cap) paths = mhim_realloc(paths, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *paths);
        paths[n++] = mhim_asprintf("%s/%s", folder, e->d_name);
    }
    closedir(dir);
    if (n == 0) {
        free(paths);
        return mhim_fail("%s: no .%s files", folder, ext);
    }
    qsort(paths, (size_t)n, sizeof *paths, by_name);
    *out = paths;
    *n_out = n;
    return MHIM_OK;
}

/* Read every bag once: preload happens in open; streaming makes one pass in file order. */
static int load_all(char **paths, int64_t n, const mhim_bagstore_options *opt, mhim_bagstore_stats *st,
                    double *seconds, double *cpu_seconds) {
    mhim_bag_source *src = mhim_malloc((size_t)n * sizeof *src);
    for (int64_t i = 0; i < n; i++) src[i] = (mhim_bag_source){paths[i], 1, (const char *const *)&paths[i]};
    double start = mhim_seconds(), cpu_start = mhim_cpu_seconds();
    mhim_bagstore *s;
    int rc = mhim_bagstore_open(src, n, opt, &s);
    if (rc == MHIM_OK) {
        mhim_bagstore_stats_get(s, st);
        if (st->streaming) {
            int64_t *order = mhim_malloc((size_t)n * sizeof *order);
            for (int64_t i = 0; i < n; i++) order[i] = i;
            mhim_bagstore_announce(s, order, n);
            mhim_bag_view v = MHIM_BAG_VIEW_INIT;
            for (int64_t i = 0; i < n && rc == MHIM_OK; i++) rc = mhim_bagstore_get(s, i, &v);
            mhim_bag_view_free(&v);
            free(order);
            mhim_bagstore_stats_get(s, st);
        }
        *seconds = mhim_seconds() - start;
        *cpu_seconds = mhim_cpu_seconds() - cpu_start;
        mhim_bagstore_close(s);
    }
    free(src);
    return rc;
}

int main(int argc, char **argv) {
    mhim_opt_args args;
    bench_settings st = {0};
    int rc = mhim_opts_parse(bench_table, N_OPTIONS, &st, argc, argv, &args);
    int parsed = rc == MHIM_OK;
    if (rc == MHIM_OK && (args.help || args.n_positional != 1)) {
        mhim_opts_print_help(args.help ? stdout : stderr, bench_table, N_OPTIONS,
                             &(mhim_opts_help_style){.usage = "usage: mhim_bench_load [options] FOLDER\n"});
        rc = args.help ? MHIM_OK : mhim_fail("expected exactly one FOLDER argument");
    } else if (rc == MHIM_OK) {
        mhim_bagstore_options opt = {.dtype = strcmp(st.dtype, "fp16") ? MHIM_STORE_FP32 : MHIM_STORE_FP16};
        char **paths = NULL;
        int64_t n = 0;
        rc = mhim_parse_bytes(st.memory_budget, &opt.memory_budget);
        if (rc == MHIM_OK) rc = list_files(args.positional[0], st.ext, &paths, &n);
        mhim_bagstore_stats stats;
        double seconds = 0, cpu = 0;
        if (rc == MHIM_OK) rc = load_all(paths, n, &opt, &stats, &seconds, &cpu);
        if (rc == MHIM_OK)
            printf("load ext=%s dtype=%s bags=%lld bytes=%lld seconds=%.3f gb_per_s=%.3f cpu_seconds=%.3f "
                   "gb_per_cpu_s=%.3f streaming=%d\n", st.ext, st.dtype, (long long)stats.n_loaded,
                   (long long)stats.bytes_read, seconds, (double)stats.bytes_read / seconds / 1e9, cpu,
                   (double)stats.bytes_read / cpu / 1e9, stats.streaming);
        for (int64_t i = 0; i < n; i++) free(paths[i]);
        free(paths);
    }
    if (parsed) mhim_opt_args_free(&args);
    mhim_opts_free(bench_table, N_OPTIONS, &st);
    if (rc != MHIM_OK) fprintf(stderr, "mhim_bench_load: error: %s\n", mhim_error());
    return rc;
}
