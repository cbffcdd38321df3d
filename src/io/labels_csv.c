/* A small RFC 4180 CSV reader for label and split files (see io/labels_private.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/labels_private.h"
#include "mhim/common.h"

typedef struct {
    char *buf;
    size_t len, cap;
} text_buf;

static void buf_push(text_buf *b, char c) {
    if (b->len + 1 >= b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->buf = mhim_realloc(b->buf, b->cap);
    }
    b->buf[b->len++] = c;
    b->buf[b->len] = '\0';
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 1 << 16, n = 0;
    char *data = mhim_malloc(cap + 1);
    size_t got;
    while ((got = fread(data + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            data = mhim_realloc(data, cap + 1);
        }
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) {
        free(data);
        return NULL;
    }
    data[n] = '\0';
    *len = n;
    return data;
}

/* Trim spaces and tabs of an unquoted field in place. */
static char *trimmed_copy(const char *s, size_t n) {
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
    char *d = mhim_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static void row_add_field(mhim_csv_row *row, char *field) {
    row->fields = mhim_realloc(row->fields, sizeof(char *) * (size_t)(row->n_fields + 1));
    row->fields[row->n_fields++] = field;
}

static int row_is_blank(const mhim_csv_row *row) { return row->n_fields == 1 && row->fields[0][0] == '\0'; }

static void row_free(mhim_csv_row *row) {
    for (int i = 0; i < row->n_fields; i++) free(row->fields[i]);
    free(row->fields);
}

int mhim_csv_read(const char *path, mhim_csv_file *out) {
    memset(out, 0, sizeof *out);
    size_t len = 0;
    char *data = read_file(path, &len);
    if (!data) return mhim_fail("%s: cannot read the file (%s)", path, strerror(errno ? errno : EIO));
    size_t pos = 0;
    if (len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
        (unsigned char)data[2] == 0xBF)
        pos = 3;
    int64_t line = 1, cap = 0;
    int rc = MHIM_OK;
    while (pos < len && rc == MHIM_OK) {
        mhim_csv_row row = {.line = line};
        for (;;) { /* one field per iteration */
            text_buf field = {0};
            int quoted = 0;
            if (pos < len && data[pos] == '"') {
                quoted = 1;
                int64_t open_line = line;
                pos++;
                for (;;) {
                    if (pos >= len) {
                        rc = mhim_fail("%s:%lld: unterminated quoted field (a '\"' opened here is never closed)",
                                       path, (long long)open_line);
                        break;
                    }
                    char c = data[pos++];
                    if (c == '"') {
                        if (pos < len && data[pos] == '"') {
                            buf_push(&field, '"');
                            pos++;
                            continue;
                        }
                        break;
                    }
                    if (c == '\n') line++;
                    buf_push(&field, c);
                }
                while (rc == MHIM_OK && pos < len && (data[pos] == ' ' || data[pos] == '\t')) pos++;
                if (rc == MHIM_OK && pos < len && data[pos] != ',' && data[pos] != '\n' && data[pos] != '\r')
                    rc = mhim_fail("%s:%lld: unexpected text after a closing quote (expected ',' or end of line)",
                                   path, (long long)line);
            } else {
                size_t start = pos;
                while (pos < len && data[pos] != ',' && data[pos] != '\n' && data[pos] != '\r') pos++;
                free(field.buf);
                field.buf = trimmed_copy(data + start, pos - start);
            }
            if (rc != MHIM_OK) {
                free(field.buf);
                break;
            }
            row_add_field(&row, quoted && !field.buf ? mhim_strdup("") : field.buf);
            if (pos < len && data[pos] == ',') {
                pos++;
                continue;
            }
            if (pos < len && data[pos] == '\r') pos++;
            if (pos < len && data[pos] == '\n') pos++;
            line++;
            break;
        }
        if (rc != MHIM_OK || row_is_blank(&row)) {
            row_free(&row);
            continue;
        }
        if (out->n_rows == cap) {
            cap = cap ? 2 * cap : 256;
            out->rows = mhim_realloc(out->rows, sizeof(mhim_csv_row) * (size_t)cap);
        }
        out->rows[out->n_rows++] = row;
    }
    free(data);
    if (rc != MHIM_OK) mhim_csv_free(out);
    return rc;
}

void mhim_csv_free(mhim_csv_file *f) {
    for (int64_t i = 0; i < f->n_rows; i++) row_free(&f->rows[i]);
    free(f->rows);
    memset(f, 0, sizeof *f);
}

int mhim_csv_parse_i64(const char *text, int64_t *out) {
    if (!text[0]) return 0;
    errno = 0;
    char *end = NULL;
    long long v = strtoll(text, &end, 10);
    if (errno || *end != '\0' || end == text || text[0] == ' ') return 0;
    *out = (int64_t)v;
    return 1;
}

int mhim_csv_parse_f64(const char *text, double *out) {
    if (!text[0]) return 0;
    errno = 0;
    char *end = NULL;
    double v = strtod(text, &end);
    if (errno == ERANGE || *end != '\0' || end == text || !isfinite(v) || text[0] == ' ') return 0;
    *out = v;
    return 1;
}
