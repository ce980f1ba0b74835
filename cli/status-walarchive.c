/* cli/status-walarchive.c: the WAL archives in `yunbak status` (cli/status-walarchive.h). */
#include "cli/status-walarchive.h"

#include <stdio.h>
#include <string.h>

#include "core/base/log.h"

static bool hook_attention(json_t *h) {
        const char *state = cli_json_str(h, "state");

        return !state || !streq(state, "archiving");
}

bool cli_status_walarchive_attention(json_t *s) {
        json_t *a = json_object_get(s, "wal_archive"), *h;
        size_t i;

        json_array_foreach(a, i, h) if (hook_attention(h)) return true;
        return false;
}

bool cli_status_walarchive_add(CliTable *t, json_t *s, int64_t now, YbBuf *notes) {
        json_t *a = json_object_get(s, "wal_archive"), *h;
        const char *id = cli_json_str(s, "id") ?: "?";
        bool attention = false;
        size_t i;

        json_array_foreach(a, i, h) {
                const char *hook = cli_json_str(h, "hook") ?: "?",
                           *state = cli_json_str(h, "state") ?: "?", *why = cli_json_str(h, "why");
                char last[96] = "-", b1[32], b2[32];
                int64_t at = 0;

                if (cli_json_int(h, "last_archived_usec", &at))
                        snprintf(last, sizeof(last), "%s (%s ago)", cli_format_time(at, b1),
                                 cli_format_duration(now - at, b2));
                if (cli_table_add(t, id, hook, state, last, cli_json_str(h, "base") ?: "-") < 0)
                        log_oom();
                if (hook_attention(h)) {
                        attention = true;
                        (void) yb_buf_printf(notes, "%s: the WAL archive of hook '%s' is %s%s%s\n",
                                             id, hook, state, why ? ": " : "", why ?: "");
                }
        }
        return attention;
}
