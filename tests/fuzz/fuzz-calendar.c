/* fuzz-calendar: calendar expressions (policies/calendar.c), as written in policy files. What
 * parses must print a normal form that parses back to the same normal form, and its next
 * elapses must move forward, agree with the normal form's, and end in bounded time. */
#include "policies/calendar.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(yb_calendar_freep) YbCalendar *c = NULL, *again = NULL;
        _cleanup_free_ char *text = NULL, *norm = NULL, *norm2 = NULL;
        char err[256];
        uint64_t h = 1469598103934665603ULL;
        int64_t t;

        if (size > 2048)
                return 0;
        /* The base time comes from the input too (2017..2048), so that searches start near DST
         * changes of all kinds. */
        for (size_t i = 0; i < size; i++)
                h = (h ^ data[i]) * 1099511628211ULL;
        t = (1500000000LL + (int64_t) (h % 1000000000ULL)) * 1000000;
        text = strndup((const char *) data, size); /* stops at an embedded NUL */
        FUZZ_CHECK(text);
        if (yb_calendar_parse(text, &c, err, sizeof(err)) < 0) {
                FUZZ_CHECK(!c && err[0] != 0); /* every refusal says why */
                return 0;
        }
        FUZZ_CHECK(c);

        norm = yb_calendar_to_string(c);
        FUZZ_CHECK(norm);
        FUZZ_CHECK(yb_calendar_parse(norm, &again, err, sizeof(err)) >= 0);
        norm2 = yb_calendar_to_string(again);
        FUZZ_CHECK(norm2 && streq(norm, norm2));

        for (int i = 0; i < 4; i++) {
                int64_t next;
                int r = yb_calendar_next(c, t, &next);

                FUZZ_CHECK(r == 0 || r == -ENOENT);
                if (r < 0)
                        break;
                FUZZ_CHECK(next > t);
                /* The normal form gives the same answers. */
                int64_t next2;
                FUZZ_CHECK(yb_calendar_next(again, t, &next2) == 0 && next2 == next);
                t = next;
        }
        return 0;
}
