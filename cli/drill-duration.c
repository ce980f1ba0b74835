/* cli/drill-duration.c: a duration in the words of a drill's record and page (cli_drill_seconds,
 * drill-duration.h), so that the run's summary and `yunbak drill show` say "1 h" alike. Its own
 * file: core/evidence/drill.h (the record's reader) and restore/drill-run.h (the run's engine) both
 * name a YbDrillPhase, so no one file includes both. */
#include "cli/drill-duration.h"

#include "core/evidence/drill.h"

const char *cli_drill_seconds(int64_t s, char buf[32]) {
        return yb_drill_format_seconds(s, buf);
}
