/* mhim/atomic_file.h: content and mode of replaced files, no temporary files left behind, abort and
 * error paths, writers that write the temporary file by name, and a writer killed with SIGKILL at
 * random moments while it keeps replacing a file: the file must always be one complete version. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mhim/atomic_file.h"
#include "mhim/common.h"

static char dir[512];

static int file_is(const char *name, const char *path, const char *want) {
    size_t n;
    char *got = test_read_file(path, &n);
    int ok = got && n == strlen(want) && memcmp(got, want, n) == 0;
    printf("%s %s: %s holds \"%.40s\"\n", ok ? "ok  " : "FAIL", name, path, got ? got : "(missing)");
    free(got);
    return !ok;
}

/* Number of "*.tmp.*" entries in the scratch folder. */
static int count_temps(void) {
    DIR *d = opendir(dir);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) count += strstr(e->d_name, ".tmp.") != NULL;
    if (d) closedir(d);
    return count;
}

static void remove_temps(void) {
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp.")) {
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p);
        }
    if (d) closedir(d);
}

static int test_write_replace_abort(void) {
    int fails = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    unlink(path);
    fails += check_true("write new file", mhim_atomic_write(path, "first\n", 6) == MHIM_OK);
    fails += file_is("new file", path, "first\n");
    fails += check_true("replace", mhim_atomic_write(path, "second version\n", 15) == MHIM_OK);
    fails += file_is("replaced file", path, "second version\n");

    mode_t mask = umask(022);
    umask(mask);
    struct stat st;
    fails += check_true("mode is 0666 minus umask",
                        stat(path, &st) == 0 && (st.st_mode & 0777) == (0666 & ~mask));

    mhim_atomic_file *f;
    fails += check_true("open for abort", mhim_atomic_open(path, &f) == MHIM_OK);
    fprintf(mhim_atomic_stream(f), "never visible");
    const char *temp = mhim_atomic_temp_path(f);
    fails += check_true("temp file beside the target", strncmp(temp, path, strlen(path)) == 0 &&
                                                            strstr(temp + strlen(path), ".tmp.") != NULL);
    mhim_atomic_abort(f);
    fails += file_is("target untouched by abort", path, "second version\n");

    /* a library that writes the temporary file by name */
    fails += check_true("open for by-name writer", mhim_atomic_open(path, &f) == MHIM_OK);
    FILE *other = fopen(mhim_atomic_temp_path(f), "wb");
    fputs("written by name\n", other);
    fclose(other);
    fails += check_true("commit by-name write", mhim_atomic_commit(f) == MHIM_OK);
    fails += file_is("by-name content", path, "written by name\n");
    fails += check_true("no temporary file left", count_temps() == 0);
    return fails;
}

static int expect_error(const char *what, int rc, int want_rc, const char *needle) {
    int ok = rc == want_rc && strstr(mhim_error(), needle) != NULL;
    printf("%s error: %-28s -> rc %d \"%s\"\n", ok ? "ok  " : "FAIL", what, rc, mhim_error());
    mhim_error_clear();
    return !ok;
}

static int test_errors(void) {
    int fails = 0;
    char path[600];
    snprintf(path, sizeof path, "%s/no/such/folder/results.csv", dir);
    fails += expect_error("missing folder", mhim_atomic_write(path, "x", 1), MHIM_EINPUT, "no/such/folder");
    snprintf(path, sizeof path, "%s/a_directory", dir);
    mkdir(path, 0777);
    fails += expect_error("target is a folder", mhim_atomic_write(path, "x", 1), MHIM_EINPUT, "a_directory");
    fails += expect_error("empty path", mhim_atomic_write("", "x", 1), MHIM_EINPUT, "empty path");
    fails += check_true("no temporary file left after errors", count_temps() == 0);
    return fails;
}

/* A child replaces the file with version A or B (64 KiB each) as fast as it can; it is killed at a
 * random moment. The file must then be exactly A or exactly B. */
static int test_killed_writer(void) {
    enum { SIZE = 64 * 1024, ROUNDS = 25 };
    char path[600];
    snprintf(path, sizeof path, "%s/killed.bin", dir);
    char *a = malloc(SIZE), *b = malloc(SIZE);
    memset(a, 'A', SIZE);
    memset(b, 'B', SIZE);
    a[SIZE - 1] = b[SIZE - 1] = '\n';
    int bad = mhim_atomic_write(path, a, SIZE) != MHIM_OK;
    srand(12345);
    for (int round = 0; round < ROUNDS && !bad; round++) {
        fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
            for (unsigned i = 0;; i++)
                if (mhim_atomic_write(path, i % 2 ? b : a, SIZE) != MHIM_OK) _exit(3);
        }
        struct timespec delay = {0, 1000000L + (rand() % 20) * 500000L};
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        size_t n;
        char *got = test_read_file(path, &n);
        int whole = got && n == SIZE && (memcmp(got, a, SIZE) == 0 || memcmp(got, b, SIZE) == 0);
        if (!whole) printf("FAIL round %d: the file is not one complete version (%zu bytes)\n", round, n);
        bad |= !whole || !WIFSIGNALED(status);
        free(got);
    }
    printf("%s writer killed %d times: the file was always one complete version\n", bad ? "FAIL" : "ok  ", ROUNDS);
    remove_temps(); /* stale temporary files of the killed writer are expected */
    free(a);
    free(b);
    return bad;
}

int main(void) {
    const char *tmp = getenv("MHIM_TEST_TMP");
    snprintf(dir, sizeof dir, "%s/atomic_file_%ld", tmp ? tmp : "/tmp", (long)getpid());
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        printf("FAIL cannot create %s\n", dir);
        return 1;
    }
    int fails = test_write_replace_abort() + test_errors() + test_killed_writer();
    printf("%s\n", fails ? "FAILED" : "all passed");
    return fails != 0;
}
