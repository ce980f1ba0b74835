#include "core/base/pathutil.h"
#include "tests/unit/test.h"

static const struct {
        const char *path;
        bool safe;
} paths[] = {
        { "a", true },
        { "a/b", true },
        { "hr-portal/db/hr.db", true },
        { ".hidden", true },
        { "..a", true },
        { "a..", true },
        { "a/.../b", true },
        { "a\nb", true },         /* any byte but '/' and NUL is a name */
        { "a/\xff\xfe/c", true }, /* not UTF-8: still fine */
        { "with space/x", true },
        { "", false },
        { "/a", false },
        { "/", false },
        { "a//b", false },
        { "a/./b", false },
        { "./a", false },
        { "a/.", false },
        { ".", false },
        { "a/..", false },
        { "..", false },
        { "../a", false },
        { "a/../b", false },
        { "a/b/", false },
};

TEST(path_is_safe_cases) {
        for (size_t i = 0; i < ELEMENTSOF(paths); i++) {
                _cleanup_free_ char *esc = yb_path_escape(paths[i].path);

                if (yb_path_is_safe(paths[i].path, strlen(paths[i].path)) != paths[i].safe)
                        fail_msg("yb_path_is_safe(\"%s\") should be %s", esc,
                                 paths[i].safe ? "true" : "false");
        }
}

TEST(path_is_safe_uses_length_not_nul) {
        /* The length decides: a NUL inside is refused, bytes beyond n are not looked at. */
        ASSERT_FALSE(yb_path_is_safe("a\0b", 3));
        ASSERT_TRUE(yb_path_is_safe("ab/..", 2));
        ASSERT_FALSE(yb_path_is_safe("ab/..", 5));
        ASSERT_FALSE(yb_path_is_safe("a/", 2));
        ASSERT_FALSE(yb_path_is_safe("x", 0));
}

TEST(path_startswith_cases) {
        ASSERT_TRUE(yb_path_startswith("a/b/c", "a/b"));
        ASSERT_TRUE(yb_path_startswith("a/b", "a/b"));
        ASSERT_TRUE(yb_path_startswith("a/b/c", "a/b/"));
        ASSERT_FALSE(yb_path_startswith("a/bc", "a/b"));
        ASSERT_FALSE(yb_path_startswith("a", "a/b"));
        ASSERT_FALSE(yb_path_startswith("b/a", "a"));
        ASSERT_TRUE(yb_path_startswith("/srv/x", "/srv"));
        ASSERT_TRUE(yb_path_startswith("/srv", "/"));
}

TEST(path_walk_cmp_is_the_walks_order) {
        /* As a walk meets them: each directory's names by strcmp, its contents right after it
         * ('\x01' and '-' sort before '/' in strcmp, not in a walk). */
        static const char *const order[] = {
                "a", "a/b", "a/b/c", "a/b\x01", "a/b-c", "a\x01", "a-c", "a-c/d", "a\xff", "b",
        };

        for (size_t i = 0; i < ELEMENTSOF(order); i++)
                for (size_t j = 0; j < ELEMENTSOF(order); j++) {
                        int c = yb_path_walk_cmp(order[i], order[j]);

                        if ((i < j && c >= 0) || (i > j && c <= 0) || (i == j && c != 0))
                                fail_msg("'%s' against '%s': %d", order[i], order[j], c);
                }
}

TEST(path_escape_cases) {
        static const struct {
                const char *in, *out;
        } cases[] = {
                { "plain/path.txt", "plain/path.txt" },
                { "a\nb", "a\\x0ab" },
                { "\xff", "\\xff" },
                { "back\\slash", "back\\x5cslash" },
                { "\x7f\x01", "\\x7f\\x01" },
                { "", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *s = yb_path_escape(cases[i].in);

                ASSERT_STREQ(s, cases[i].out);
        }
}
