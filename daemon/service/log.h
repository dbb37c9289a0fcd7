/* Structured logging: logfmt or JSON lines on stderr, or the systemd journal
 * with priorities. A message is a short text plus key/value string pairs:
 *
 *     log_info("listening", "address", "127.0.0.1:19180");
 *
 * Safe from any thread; one write(2) per line. */
#ifndef POOLD_LOG_H
#define POOLD_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };
enum log_format { LOG_FMT_LOGFMT, LOG_FMT_JSON, LOG_FMT_JOURNAL };

void log_setup(enum log_level level, enum log_format format);
bool log_enabled(enum log_level level);
/* True when stderr is the journal stream systemd set up ($JOURNAL_STREAM). */
bool log_stderr_is_journal(void);

/* Key/value pairs of strings, terminated by NULL (the macros add it). */
void log_msg(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__, (char *)0)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__, (char *)0)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__, (char *)0)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__, (char *)0)

#endif
