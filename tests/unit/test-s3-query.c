/* tests/unit/test-s3-query.c: core/store/s3-query.c, the canonical query strings and key
 * encoding that SigV4 signs (radosgw refuses a request whose URL is not in this form with 403
 * SignatureDoesNotMatch): sorted by name then value, "uploads=" for a bare parameter, values and
 * keys percent-encoded with upper-case hex and only A-Z a-z 0-9 - . _ ~ left as they are. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/s3-query.h"
#include "tests/unit/test.h"

static void assert_query(const YbS3Param *p, size_t n, const char *want) {
        char *got = NULL;

        ASSERT_OK(yb_s3_query(p, n, &got));
        ASSERT_STREQ(got, want);
        free(got);
}

TEST(sorted_and_bare_parameters_get_equals) {
        YbS3Param p[] = { { "uploads", NULL }, { "prefix", "a/b" }, { "delimiter", "/" } };

        assert_query(p, 3, "delimiter=%2F&prefix=a%2Fb&uploads=");
}

TEST(none_is_empty_and_null_names_are_skipped) {
        YbS3Param p[] = { { NULL, "x" }, { "versioning", "" } };

        assert_query(p, 0, "");
        assert_query(p, 2, "versioning=");
}

TEST(values_are_percent_encoded_upper_case) {
        YbS3Param p[] = { { "prefix", "a b+c=d&e~f_g.h-i\xc3\xa9*" },
                          { "continuation-token", "1/ABC==" } };

        assert_query(p, 2,
                     "continuation-token=1%2FABC%3D%3D&prefix=a%20b%2Bc%3Dd%26e~f_g.h-i%C3%A9%2A");
}

TEST(same_name_sorts_by_value_and_by_encoded_bytes) {
        /* '~' (0x7E) sorts after 'a'; "%2F" (the encoded '/') sorts before letters. */
        YbS3Param p[] = { { "k", "b" }, { "k", "a" }, { "a~", "1" }, { "a", "/" } };

        assert_query(p, 4, "a=%2F&a~=1&k=a&k=b");
}

TEST(keys_keep_slashes_in_paths) {
        YbBuf b = YB_BUF_INIT;

        ASSERT_OK(yb_s3_uri_encode(&b, "hr/snapshots/2026 x/h%+", true));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_STREQ((char *) b.data, "hr/snapshots/2026%20x/h%25%2B");
        yb_buf_clear(&b);
        ASSERT_OK(yb_s3_uri_encode(&b, "a/b", false));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        ASSERT_STREQ((char *) b.data, "a%2Fb");
        yb_buf_done(&b);
}
