/* Leveled stderr logging with rank and wall-clock prefix (see mhim/log.h). */
#include "mhim/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int log_level = -1; /* -1: not yet read from the environment */
static int log_rank;

static const char *level_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

int mhim_log_parse_level(const char *text, mhim_log_level *out) {
    static const char *names[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (mhim_log_level)i;
            return MHIM_OK;
        }
    return mhim_fail("log level '%s' is not one of debug|info|warn|error", text);
}

void mhim_log_set_level(mhim_log_level level) { log_level = (int)level; }

void mhim_log_set_rank(int rank) { log_rank = rank; }

static int current_level(void) {
    if (log_level < 0) {
        mhim_log_level lvl = MHIM_LOG_INFO;
        const char *env = getenv("MHIM_LOG_LEVEL");
        if (env && mhim_log_parse_level(env, &lvl) != MHIM_OK) lvl = MHIM_LOG_INFO;
        log_level = (int)lvl;
    }
    return log_level;
}

void mhim_log(mhim_log_level level, const char *fmt, ...) {
    if ((int)level < current_level()) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char line[4096];
    int n = snprintf(line, sizeof line, "[r%d %02d:%02d:%02d.%03ld %s] ", log_rank, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000L, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line) vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
