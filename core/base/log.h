/* core/base/log.h: leveled logging to stderr (or syslog, for a detached daemon). core/ logs at
 * debug only; programs log the rest. */
#pragma once

#include "core/base/macro.h"

enum {
        YB_LOG_ERR = 3,
        YB_LOG_WARNING = 4,
        YB_LOG_NOTICE = 5,
        YB_LOG_INFO = 6,
        YB_LOG_DEBUG = 7,
};

/* Sets the name printed before each line ("yunbak: ..."). The string is borrowed for life. */
void yb_log_set_program(const char *name);
/* Sets the maximum level printed; yb_log_parse_env() reads YB_LOG_LEVEL (err|warning|info|debug).
 */
void yb_log_set_level(int level);
int yb_log_get_level(void);
void yb_log_parse_env(void);

/* From now on, log to syslog (facility daemon, tagged with the program's name and pid) instead
 * of stderr: for a daemon that has detached from the terminal that started it. */
void yb_log_open_syslog(void);

/* Called with each message logged at YB_LOG_WARNING or more severe, besides printing it: for a
 * program that must keep what went wrong in a record of its own (a restore drill's error). */
typedef void (*YbLogTapFn)(void *userdata, int level, const char *message);
/* Sets the tap (NULL: none); one at a time, for the thread that logs (not thread-safe). */
void yb_log_set_tap(YbLogTapFn fn, void *userdata);

/* Logs one line if level is enabled. With error != 0, %m expands to strerror(|error|).
 * Returns -|error|, or 0 when error is 0, so failure paths can "return log_error_errno(r, ...)". */
int yb_log_internal(int level, int error, const char *file, int line, const char *fmt, ...)
        _printf_(5, 6);

#define yb_log_full_errno(level, error, ...)                                                       \
        ({                                                                                         \
                int _e = (error);                                                                  \
                _e = _e < 0 ? -_e : _e;                                                            \
                (yb_log_get_level() >= (level))                                                    \
                        ? yb_log_internal((level), _e, __FILE__, __LINE__, __VA_ARGS__)            \
                        : -_e;                                                                     \
        })

#define log_debug_errno(e, ...) yb_log_full_errno(YB_LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) yb_log_full_errno(YB_LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) yb_log_full_errno(YB_LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) yb_log_full_errno(YB_LOG_ERR, (e), __VA_ARGS__)

#define log_debug(...) yb_log_full_errno(YB_LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) yb_log_full_errno(YB_LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) yb_log_full_errno(YB_LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) yb_log_full_errno(YB_LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) yb_log_full_errno(YB_LOG_ERR, 0, __VA_ARGS__)

/* Logs "out of memory" at error level and returns -ENOMEM. */
#define log_oom() log_error_errno(ENOMEM, "Out of memory.")
