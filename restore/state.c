/* restore/state.c: what every part of a restore does with the shared state: report an entry that
 * could not be restored, and name a staging file. Below restore.c, content.c and place.c, which
 * all use it. */
#include <stdarg.h>
#include <stdio.h>

#include "core/base/pathutil.h"
#include "restore/restore-internal.h"

void restore_fail_entry(Restore *r, const char *path, bool damaged, const char *fmt, ...) {
        _cleanup_free_ char *esc = yb_path_escape(path);
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pthread_mutex_lock(&r->lock);
        r->stats.errors++;
        if (damaged)
                r->stats.damaged++;
        r->report(r->userdata, esc ? esc : path, msg);
        pthread_mutex_unlock(&r->lock);
}

void restore_staging_name(const Restore *r, size_t job, unsigned gen, char ret[64]) {
        snprintf(ret, 64, "%zu.%u", job, gen);
}
