/* tests/unit/test-excerpt.c: core/base/excerpt.c, text quoted in messages. */
#include "core/base/excerpt.h"
#include "tests/unit/test.h"

TEST(excerpt_escapes_and_cuts) {
        char buf[16], small[8];

        ASSERT_STREQ(yb_excerpt("plain", buf, sizeof(buf)), "plain");
        ASSERT_STREQ(yb_excerpt("a\nb\t\\\x1b[31m", buf, sizeof(buf)), "a\\nb\\t\\\\\\x1b...");
        /* Cut at a character boundary: 中 is 3 bytes. */
        ASSERT_STREQ(yb_excerpt("中文中文中文", buf, sizeof(buf)), "中文中文...");
        ASSERT_STREQ(yb_excerpt("bad\xff", buf, sizeof(buf)), "bad\\xff");
        ASSERT_STREQ(yb_excerpt("abcdefghij", small, sizeof(small)), "abcd...");
        ASSERT_STREQ(yb_excerpt("", small, sizeof(small)), "");
}
