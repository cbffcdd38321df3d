/* mhim/common.h — error reporting, checked allocation, and shared constants.
 *
 * Error model: library functions that can fail on user input return an int status
 * (MHIM_OK = 0, otherwise MHIM_EINPUT or MHIM_EINTERNAL) and record a one-line,
 * human-readable message with mhim_fail(). The CLI prints "mhim: error: <message>"
 * and exits with the status. Messages name the file, the field and what was expected. */
#ifndef MHIM_COMMON_H
#define MHIM_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define MHIM_OK 0
#define MHIM_EINTERNAL 1 /* a bug, an OS failure (out of memory, disk full) */
#define MHIM_EINPUT 2    /* bad user input: file, option, CSV row, ... (CLI exit code 2) */

#if defined(__GNUC__)
#define MHIM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define MHIM_NORETURN __attribute__((noreturn))
#else
#define MHIM_PRINTF(a, b)
#define MHIM_NORETURN
#endif

/* Record a formatted one-line error message (thread-local) and return MHIM_EINPUT. */
int mhim_fail(const char *fmt, ...) MHIM_PRINTF(1, 2);
/* Same, with an explicit status code; returns `code`. */
int mhim_fail_code(int code, const char *fmt, ...) MHIM_PRINTF(2, 3);
/* The last recorded message of this thread ("" if none). */
const char *mhim_error(void);
void mhim_error_clear(void);

/* Print "mhim: fatal: <message> (file:line)" and abort the process (and the MPI job once
 * a handler is installed with mhim_set_abort_handler). For broken invariants and OOM only. */
MHIM_NORETURN void mhim_die(const char *file, int line, const char *fmt, ...) MHIM_PRINTF(3, 4);
#define MHIM_DIE(...) mhim_die(__FILE__, __LINE__, __VA_ARGS__)
#define MHIM_ASSERT(c) \
    do { if (!(c)) mhim_die(__FILE__, __LINE__, "assertion failed: %s", #c); } while (0)
/* Called by mhim_die after printing, before abort(); e.g. MPI_Abort in multi-rank runs. */
void mhim_set_abort_handler(void (*handler)(int code));

/* Allocation that never returns NULL (dies with the requested size instead). */
void *mhim_malloc(size_t n);
void *mhim_calloc(size_t count, size_t size);
void *mhim_realloc(void *p, size_t n);
char *mhim_strdup(const char *s);
/* printf into a fresh heap string. */
char *mhim_asprintf(const char *fmt, ...) MHIM_PRINTF(1, 2);

#define MHIM_MIN(a, b) ((a) < (b) ? (a) : (b))
#define MHIM_MAX(a, b) ((a) > (b) ? (a) : (b))
#define MHIM_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
