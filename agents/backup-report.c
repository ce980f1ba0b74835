/* How a backup reports what goes wrong, in the two ways it can: an entry left out of the snapshot
 * (a warning; the snapshot is partial and the summary lists it), or a failure that ends the
 * backup (an error, and the exit code that says what kind). */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>

#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"

void agent_backup_error(AgentBackup *b, const char *abs, int error, const char *why) {
        _cleanup_free_ char *esc = yb_path_escape(abs), *msg = NULL;

        if (asprintf(&msg, "%s%s%s", why, error ? ": " : "", error ? strerror(-error) : "") < 0)
                msg = NULL;
        log_warning("Skipped '%s': %s.", esc ? esc : abs, msg ? msg : why);
        b->hdr.counts.errors++;
        b->hdr.partial = true;
        json_array_append_new(b->errors, json_pack("{s:s, s:s}", "path", esc ? esc : "", "error",
                                                   msg ? msg : why));
}

int agent_backup_failed(const AgentBackup *b, int r) {
        return agent_fail(r, "Backup of system '%s' failed, nothing was committed: %s",
                          b->args->system, r == -ENOSPC ? "the store is full" : strerror(-r));
}

int agent_fail(int r, const char *fmt, ...) {
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_error("%s", msg);
        return yb_exit_code_from_errno(r);
}
