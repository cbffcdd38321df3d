/* mhim/results.h: results.csv text (per fold, mean, population std) and exact number round trips,
 * the human table and the original's closing lines, and metrics.jsonl: one JSON object per line,
 * repair of a partial last line, truncation to a checkpoint's record count, and a writer killed with
 * SIGKILL while appending (every remaining line must parse). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mhim/common.h"
#include "mhim/results.h"

static char dir[512];

static int text_is(const char *name, const char *got, const char *want) {
    int ok = got && strcmp(got, want) == 0;
    if (ok)
        printf("ok   %s\n", name);
    else
        printf("FAIL %s:\n--- got\n%s--- want\n%s---\n", name, got ? got : "(null)\n", want);
    return !ok;
}

static const char *names[] = {"accuracy", "auc", "fscore"};
static const int64_t folds[] = {0, 1, 2};
static const double values[] = {0.5, 0.9, 0.25, 0.75, 0.8, NAN, 1.0, 1.0 / 3.0, 0.75};

static int test_csv(void) {
    int fails = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    mhim_results_table t = {3, names, 3, folds, values};
    fails += check_true("write results.csv", mhim_results_write_csv(path, &t) == MHIM_OK);
    size_t n;
    char *got = test_read_file(path, &n);
    /* mean/std as numpy prints them: np.mean([.9, .8, 1/3]) = 0.6777777777777779, np.std = 0.2469567863432541 */
    fails += text_is("results.csv text", got,
                     "fold,accuracy,auc,fscore\n"
                     "0,0.5,0.9,0.25\n"
                     "1,0.75,0.8,nan\n"
                     "2,1,0.3333333333333333,0.75\n"
                     "mean,0.75,0.6777777777777779,nan\n"
                     "std,0.2041241452319315,0.2469567863432541,nan\n");
    free(got);

    /* every printed number reads back exactly */
    double odd[6] = {M_PI, 1e-300, -2.5e17, 0.1, 1.0 / 7.0, 123456789.123456789};
    int64_t ids[2] = {4, 9};
    const char *cols[3] = {"a", "b", "c"};
    mhim_results_table u = {3, cols, 2, ids, odd};
    fails += check_true("write odd numbers", mhim_results_write_csv(path, &u) == MHIM_OK);
    got = test_read_file(path, &n);
    int exact = 0;
    char *line = strchr(got, '\n') + 1;
    for (int r = 0; r < 2; r++) {
        char *p = strchr(line, ',') + 1;
        for (int j = 0; j < 3; j++) {
            char *end;
            exact += strtod(p, &end) == odd[r * 3 + j];
            p = end + 1;
        }
        line = strchr(line, '\n') + 1;
    }
    printf("%s numbers read back exactly: %d/6\n", exact == 6 ? "ok  " : "FAIL", exact);
    fails += exact != 6;
    free(got);

    const char *bad_names[3] = {"accuracy", "a,b", "c"};
    mhim_results_table bad = {3, bad_names, 2, ids, odd};
    int rc = mhim_results_write_csv(path, &bad);
    fails += check_true("column name with a comma is rejected", rc == MHIM_EINPUT && strstr(mhim_error(), "a,b"));
    mhim_error_clear();
    return fails;
}

static int test_tables(void) {
    int fails = 0;
    mhim_results_table t = {3, names, 3, folds, values};
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    mhim_results_print_table(out, &t, 4);
    fclose(out);
    fails += text_is("final table", buf,
                     "fold    accuracy      auc   fscore\n"
                     "0         0.5000   0.9000   0.2500\n"
                     "1         0.7500   0.8000      nan\n"
                     "2         1.0000   0.3333   0.7500\n"
                     "mean      0.7500   0.6778      nan\n"
                     "std       0.2041   0.2470      nan\n");
    free(buf);

    const char *print[2] = {"accuracy", "auc"};
    out = open_memstream(&buf, &size);
    int rc = mhim_results_print_cross_validation(out, &t, print, 2, 3);
    fclose(out);
    fails += check_true("cross-validation lines", rc == MHIM_OK);
    fails += text_is("cross-validation lines (v1 format)", buf,
                     "Cross validation accuracy mean: 0.750, std 0.204 \n"
                     "Cross validation auc mean: 0.678, std 0.247 \n");
    free(buf);
    const char *missing[1] = {"precision"};
    out = open_memstream(&buf, &size);
    rc = mhim_results_print_cross_validation(out, &t, missing, 1, 3);
    fclose(out);
    fails += check_true("unknown column is rejected", rc == MHIM_EINPUT && strstr(mhim_error(), "precision"));
    mhim_error_clear();
    free(buf);
    return fails;
}

/* Lines of the file that parse as JSON objects; *total = all lines; *tail_ok = ends with '\n'. */
static int count_json_lines(const char *path, int *total, int *tail_ok) {
    size_t n;
    char *text = test_read_file(path, &n);
    int good = 0;
    *total = 0;
    *tail_ok = text && (n == 0 || text[n - 1] == '\n');
    for (char *line = text; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = 0;
        cJSON *j = cJSON_Parse(line);
        good += cJSON_IsObject(j);
        cJSON_Delete(j);
        (*total)++;
        line = nl ? nl + 1 : line + strlen(line);
    }
    free(text);
    return good;
}

static cJSON *record(int epoch) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "fold", 0);
    cJSON_AddNumberToObject(r, "epoch", epoch);
    cJSON_AddStringToObject(r, "note", "line\nbreak \"quoted\"");
    mhim_five_scores s = {.accuracy = 0.5, .auc = NAN, .precision = 1, .recall = 0.25, .fscore = 0.4, .threshold = 0.3};
    mhim_json_add_five_scores(r, "val_", &s);
    mhim_cls_metrics m = {.acc = 0.5, .auc = 0.75, .ck = NAN};
    mhim_json_add_cls_metrics(r, "test_", &m);
    return r;
}

static int test_jsonl(void) {
    int fails = 0, total, tail_ok;
    char path[600];
    snprintf(path, sizeof path, "%s/metrics.jsonl", dir);
    unlink(path);
    mhim_jsonl *w;
    int64_t kept = -1;
    fails += check_true("open new metrics.jsonl", mhim_jsonl_open(path, -1, &w, &kept) == MHIM_OK && kept == 0);
    for (int e = 0; e < 3; e++) {
        cJSON *r = record(e);
        fails += mhim_jsonl_append(w, r) != MHIM_OK;
        cJSON_Delete(r);
    }
    fails += check_true("3 records", mhim_jsonl_records(w) == 3);
    mhim_jsonl_close(w);
    fails += check_true("3 lines, each a JSON object", count_json_lines(path, &total, &tail_ok) == 3 && total == 3);

    size_t n;
    char *text = test_read_file(path, &n);
    cJSON *first = cJSON_ParseWithLength(text, strcspn(text, "\n"));
    cJSON *auc = cJSON_GetObjectItemCaseSensitive(first, "val_auc");
    cJSON *note = cJSON_GetObjectItemCaseSensitive(first, "note");
    int keys_ok = cJSON_IsNull(auc) && cJSON_GetObjectItemCaseSensitive(first, "test_ck") &&
                  cJSON_GetObjectItemCaseSensitive(first, "val_fscore");
    fails += check_true("NaN written as null, prefixed keys", keys_ok);
    fails += check_true("string with a line break survives",
                        cJSON_IsString(note) && strcmp(note->valuestring, "line\nbreak \"quoted\"") == 0);
    cJSON_Delete(first);
    free(text);

    /* a partial last line (a run killed mid-write) is removed on open */
    FILE *f = fopen(path, "ab");
    fputs("{\"fold\":0,\"epo", f);
    fclose(f);
    fails += check_true("reopen drops the partial line", mhim_jsonl_open(path, -1, &w, &kept) == MHIM_OK && kept == 3);
    cJSON *r = record(3);
    fails += mhim_jsonl_append(w, r) != MHIM_OK;
    cJSON_Delete(r);
    mhim_jsonl_close(w);
    fails += check_true("4 clean lines after repair",
                        count_json_lines(path, &total, &tail_ok) == 4 && total == 4 && tail_ok);

    /* resume from a checkpoint taken after 2 records */
    fails += check_true("keep 2 records", mhim_jsonl_open(path, 2, &w, &kept) == MHIM_OK && kept == 2);
    mhim_jsonl_close(w);
    fails += check_true("2 lines left", count_json_lines(path, &total, &tail_ok) == 2 && total == 2);
    int rc = mhim_jsonl_open(path, 5, &w, &kept);
    fails += check_true("checkpoint expecting 5 records is rejected", rc == MHIM_EINPUT && strstr(mhim_error(), "5"));
    mhim_error_clear();
    r = cJSON_CreateArray();
    fails += check_true("open again", mhim_jsonl_open(path, -1, &w, NULL) == MHIM_OK);
    fails += check_true("a non-object record is rejected", mhim_jsonl_append(w, r) == MHIM_EINPUT);
    mhim_error_clear();
    cJSON_Delete(r);
    mhim_jsonl_close(w);
    char missing[640];
    snprintf(missing, sizeof missing, "%s/none/metrics.jsonl", dir);
    fails += check_true("missing folder is an input error", mhim_jsonl_open(missing, -1, &w, NULL) == MHIM_EINPUT);
    mhim_error_clear();
    return fails;
}

/* A child appends records until it is killed; reopening must leave only complete JSON lines. */
static int test_killed_appender(void) {
    char path[600];
    snprintf(path, sizeof path, "%s/killed.jsonl", dir);
    int bad = 0, lines = 0;
    srand(777);
    for (int round = 0; round < 10 && !bad; round++) {
        unlink(path);
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            mhim_jsonl *w;
            if (mhim_jsonl_open(path, -1, &w, NULL) != MHIM_OK) _exit(3);
            cJSON *big = record(0);
            char pad[5000];
            memset(pad, 'x', sizeof pad - 1);
            pad[sizeof pad - 1] = 0;
            cJSON_AddStringToObject(big, "pad", pad);
            for (;;)
                if (mhim_jsonl_append(w, big) != MHIM_OK) _exit(4);
        }
        struct timespec delay = {0, 2000000L + (rand() % 10) * 1000000L};
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        mhim_jsonl *w;
        int64_t kept = 0;
        int total, tail_ok;
        bad |= mhim_jsonl_open(path, -1, &w, &kept) != MHIM_OK;
        if (!bad) mhim_jsonl_close(w);
        int good = count_json_lines(path, &total, &tail_ok);
        bad |= good != total || !tail_ok || good != kept;
        lines += good;
    }
    printf("%s appender killed 10 times: %d complete records, no partial line after reopening\n",
           bad ? "FAIL" : "ok  ", lines);
    return bad;
}

int main(void) {
    const char *tmp = getenv("MHIM_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/results_%ld", tmp ? tmp : "/tmp", (long)getpid());
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        printf("FAIL cannot create %s\n", dir);
        return 1;
    }
    int fails = test_csv() + test_tables() + test_jsonl() + test_killed_appender();
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
