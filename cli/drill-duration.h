/* cli/drill-duration.h: a duration in the words of a drill's record and page (drill-duration.c). */
#pragma once

#include <stdint.h>

/* yb_drill_format_seconds (core/evidence/drill.h): "1 h", "1 min 15 s", as `yunbak drill show`
 * and the page say a duration; in buf (returned). */
const char *cli_drill_seconds(int64_t s, char buf[32]);
