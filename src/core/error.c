/* Thread-local error messages, fatal aborts and checked allocation (see mhim/common.h). */
#include "mhim/common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char error_message[1024];
static void (*abort_handler)(int code);

static int record(int code, const char *fmt, va_list ap) {
    vsnprintf(error_message, sizeof error_message, fmt, ap);
    /* Keep the message on one line. */
    for (char *p = error_message; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}

int mhim_fail(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int code = record(MHIM_EINPUT, fmt, ap);
    va_end(ap);
    return code;
}

int mhim_fail_code(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    record(code, fmt, ap);
    va_end(ap);
    return code;
}

const char *mhim_error(void) { return error_message; }

void mhim_error_clear(void) { error_message[0] = '\0'; }

void mhim_set_abort_handler(void (*handler)(int code)) { abort_handler = handler; }

void mhim_die(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "mhim: fatal: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (%s:%d)\n", file, line);
    va_end(ap);
    fflush(stderr);
    if (abort_handler) abort_handler(MHIM_EINTERNAL);
    abort();
}

void *mhim_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) MHIM_DIE("out of memory allocating %zu bytes", n);
    return p;
}

void *mhim_calloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) MHIM_DIE("out of memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *mhim_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) MHIM_DIE("out of memory reallocating to %zu bytes", n);
    return q;
}

char *mhim_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = mhim_malloc(n);
    memcpy(d, s, n);
    return d;
}

char *mhim_asprintf(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) MHIM_DIE("bad format string '%s'", fmt);
    char *s = mhim_malloc((size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return s;
}
