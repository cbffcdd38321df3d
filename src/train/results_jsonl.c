/* metrics.jsonl: durable one-line-per-record appends with repair on open (mhim/results.h), and the
 * helpers that put metric sets into JSON records. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mhim/atomic_file.h"
#include "mhim/common.h"
#include "mhim/log.h"
#include "mhim/results.h"

struct mhim_jsonl {
    char *path;
    int fd;
    int64_t records;
    off_t size; /* bytes of complete records */
};

/* Byte offset just past the `keep`-th newline (every complete line when keep < 0) of buf[n], and the
 * number of complete lines before it. */
static off_t keep_offset(const char *buf, off_t n, int64_t keep, int64_t *lines) {
    off_t end = 0;
    int64_t count = 0;
    for (off_t i = 0; i < n && (keep < 0 || count < keep); i++)
        if (buf[i] == '\n') {
            count++;
            end = i + 1;
        }
    *lines = count;
    return end;
}

static int read_all(int fd, char *buf, off_t n) {
    off_t done = 0;
    while (done < n) {
        ssize_t got = pread(fd, buf + done, (size_t)(n - done), done);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) return -1;
        done += got;
    }
    return 0;
}

int mhim_jsonl_open(const char *path, int64_t keep_records, mhim_jsonl **out, int64_t *records) {
    *out = NULL;
    struct stat st;
    int existed = stat(path, &st) == 0;
    int fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
    if (fd < 0) {
        int err = errno;
        return mhim_fail_code(err == EIO || err == ENOSPC ? MHIM_EINTERNAL : MHIM_EINPUT,
                              "cannot open %s for appending: %s (check that the folder exists and is writable)",
                              path, strerror(err));
    }
    int rc = MHIM_OK;
    int64_t lines = 0;
    off_t end = 0;
    if (fstat(fd, &st) != 0) {
        rc = mhim_fail_code(MHIM_EINTERNAL, "cannot stat %s: %s", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        rc = mhim_fail("%s: expected a regular file for the metrics records", path);
    } else if (st.st_size > 0) {
        char *buf = mhim_malloc((size_t)st.st_size);
        if (read_all(fd, buf, st.st_size) != 0)
            rc = mhim_fail_code(MHIM_EINTERNAL, "cannot read %s: %s", path, strerror(errno));
        else
            end = keep_offset(buf, st.st_size, keep_records, &lines);
        free(buf);
        if (rc == MHIM_OK && end < st.st_size) {
            MHIM_WARN("%s: keeping %lld complete records, removing the %lld bytes after them (records of an "
                      "interrupted or resumed run)",
                      path, (long long)lines, (long long)(st.st_size - end));
            if (ftruncate(fd, end) != 0 || fsync(fd) != 0)
                rc = mhim_fail_code(MHIM_EINTERNAL, "cannot truncate %s: %s", path, strerror(errno));
        }
    }
    if (rc == MHIM_OK && !existed) rc = mhim_fsync_parent_dir(path);
    if (rc == MHIM_OK && keep_records > lines)
        rc = mhim_fail("%s holds %lld records, expected at least %lld (the file does not belong to this "
                       "checkpoint; restore it or start a fresh run folder)",
                       path, (long long)lines, (long long)keep_records);
    if (rc) {
        close(fd);
        return rc;
    }
    mhim_jsonl *w = mhim_malloc(sizeof *w);
    w->path = mhim_strdup(path);
    w->fd = fd;
    w->records = lines;
    w->size = end;
    if (records) *records = lines;
    *out = w;
    return MHIM_OK;
}

int mhim_jsonl_append(mhim_jsonl *w, const cJSON *record) {
    if (!cJSON_IsObject(record)) return mhim_fail("%s: a metrics record must be a JSON object", w->path);
    char *text = cJSON_PrintUnformatted(record);
    if (!text) return mhim_fail_code(MHIM_EINTERNAL, "%s: cannot serialise a metrics record", w->path);
    size_t len = strlen(text);
    char *line = mhim_malloc(len + 1);
    memcpy(line, text, len);
    line[len] = '\n';
    cJSON_free(text);
    size_t done = 0;
    int err = 0;
    while (done < len + 1) {
        ssize_t put = write(w->fd, line + done, len + 1 - done);
        if (put < 0 && errno == EINTR) continue;
        if (put <= 0) {
            err = put < 0 ? errno : EIO;
            break;
        }
        done += (size_t)put;
    }
    free(line);
    if (err == 0 && fdatasync(w->fd) != 0) err = errno;
    if (err) {
        /* Best effort: cut a partial line now; mhim_jsonl_open removes it otherwise. */
        if (ftruncate(w->fd, w->size) != 0) MHIM_WARN("%s: cannot remove a partial record", w->path);
        return mhim_fail_code(MHIM_EINTERNAL, "cannot append to %s: %s", w->path, strerror(err));
    }
    w->size += (off_t)(len + 1);
    w->records++;
    return MHIM_OK;
}

int64_t mhim_jsonl_records(const mhim_jsonl *w) { return w->records; }

void mhim_jsonl_close(mhim_jsonl *w) {
    if (!w) return;
    close(w->fd);
    free(w->path);
    free(w);
}

void mhim_json_add_five_scores(cJSON *obj, const char *prefix, const mhim_five_scores *s) {
    const char *names[] = {"accuracy", "auc", "precision", "recall", "fscore", "threshold"};
    double values[] = {s->accuracy, s->auc, s->precision, s->recall, s->fscore, s->threshold};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(names); i++) {
        char *key = mhim_asprintf("%s%s", prefix, names[i]);
        cJSON_AddNumberToObject(obj, key, values[i]);
        free(key);
    }
}

void mhim_json_add_cls_metrics(cJSON *obj, const char *prefix, const mhim_cls_metrics *m) {
    const char *names[] = {"acc", "auc", "precision", "recall", "fscore", "ck", "acc_micro"};
    double values[] = {m->acc, m->auc, m->precision, m->recall, m->f1, m->ck, m->acc_micro};
    for (size_t i = 0; i < MHIM_ARRAY_LEN(names); i++) {
        char *key = mhim_asprintf("%s%s", prefix, names[i]);
        cJSON_AddNumberToObject(obj, key, values[i]);
        free(key);
    }
}
