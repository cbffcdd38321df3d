/* mhim/log.h — leveled logging to stderr: "[r0 20:03:54.123 INFO] message".
 * The level comes from MHIM_LOG_LEVEL (debug|info|warn|error) or mhim_log_set_level(). */
#ifndef MHIM_LOG_H
#define MHIM_LOG_H

#include "mhim/common.h"

typedef enum { MHIM_LOG_DEBUG = 0, MHIM_LOG_INFO, MHIM_LOG_WARN, MHIM_LOG_ERROR } mhim_log_level;

void mhim_log(mhim_log_level level, const char *fmt, ...) MHIM_PRINTF(2, 3);
void mhim_log_set_level(mhim_log_level level);
/* Rank shown in the prefix (default 0); set once MPI is up. */
void mhim_log_set_rank(int rank);
/* Parse "debug|info|warn|error"; returns MHIM_OK or MHIM_EINPUT. */
int mhim_log_parse_level(const char *text, mhim_log_level *out);

#define MHIM_INFO(...) mhim_log(MHIM_LOG_INFO, __VA_ARGS__)
#define MHIM_WARN(...) mhim_log(MHIM_LOG_WARN, __VA_ARGS__)
#define MHIM_DEBUG(...) mhim_log(MHIM_LOG_DEBUG, __VA_ARGS__)

#endif
