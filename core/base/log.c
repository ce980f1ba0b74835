#include "core/base/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <strings.h>
#include <syslog.h>

static const char *program = "yunbak";
static int max_level = YB_LOG_INFO;
static atomic_bool to_syslog;
static YbLogTapFn tap;
static void *tap_userdata;

void yb_log_set_tap(YbLogTapFn fn, void *userdata) {
        tap = fn;
        tap_userdata = userdata;
}

void yb_log_open_syslog(void) {
        openlog(program, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        atomic_store(&to_syslog, true);
}

void yb_log_set_program(const char *name) {
        program = name;
}

void yb_log_set_level(int level) {
        max_level = level;
}

int yb_log_get_level(void) {
        return max_level;
}

void yb_log_parse_env(void) {
        static const struct {
                const char *name;
                int level;
        } names[] = {
                { "err", YB_LOG_ERR },       { "error", YB_LOG_ERR }, { "warning", YB_LOG_WARNING },
                { "notice", YB_LOG_NOTICE }, { "info", YB_LOG_INFO }, { "debug", YB_LOG_DEBUG },
        };
        const char *e = getenv("YB_LOG_LEVEL");

        if (!e)
                return;
        for (size_t i = 0; i < ELEMENTSOF(names); i++)
                if (strcasecmp(e, names[i].name) == 0)
                        max_level = names[i].level;
}

int yb_log_internal(int level, int error, const char *file, int line, const char *fmt, ...) {
        char buf[4096];
        va_list ap;
        int saved = errno;

        /* %m follows the error we were given, not whatever errno happens to hold. */
        errno = error;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (tap && level <= YB_LOG_WARNING)
                tap(tap_userdata, level, buf);
        if (atomic_load(&to_syslog))
                syslog(level, "%s", buf); /* the priority says error or warning */
        else if (max_level >= YB_LOG_DEBUG)
                fprintf(stderr, "%s: [%s:%d] %s\n", program, file, line, buf);
        else if (level <= YB_LOG_WARNING)
                fprintf(stderr, "%s: %s%s\n", program,
                        level <= YB_LOG_ERR ? "error: " : "warning: ", buf);
        else
                fprintf(stderr, "%s: %s\n", program, buf);
        errno = saved;
        return -error;
}
