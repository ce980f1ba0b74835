/* tests/unit/test-location.c: core/store/location.c, the store location grammar: what each kind
 * of location parses to, and what a bad one says. */
#include <errno.h>

#include "core/store/location.h"
#include "tests/unit/test.h"

static void parse_ok(const char *text, YbLocation *ret) {
        char err[160];
        int r = yb_location_parse(text, ret, err, sizeof(err));

        if (r < 0)
                fail_msg("'%s': %s", text, err);
}

static void assert_bad(const char *text, int want, const char *message) {
        YbLocation l = { .kind = YB_LOCATION_SFTP, .path = (char *) "untouched" };
        char err[160];

        ASSERT_ERR(yb_location_parse(text, &l, err, sizeof(err)), want);
        ASSERT_STREQ(err, message);
        ASSERT_STREQ(l.path, "untouched");
        ASSERT_ERR(yb_location_parse(text, &l, NULL, 0), want);
}

TEST(directories) {
        static const char *const cases[][2] = {
                { "/srv/backup", "/srv/backup" },
                { "backup", "backup" },
                { "file:///srv/backup", "/srv/backup" },
                { "./with://inside", "./with://inside" }, /* not a scheme before "://" */
                { "FILE:///srv", "FILE:///srv" },         /* schemes are lower case */
                { "file:/srv", "file:/srv" },             /* no "//": a relative directory */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                YbLocation l;

                parse_ok(cases[i][0], &l);
                ASSERT_EQ(l.kind, YB_LOCATION_LOCAL);
                ASSERT_STREQ(l.path, cases[i][1]);
                ASSERT_TRUE(l.endpoint.user == NULL && l.endpoint.address == NULL);
                yb_location_done(&l);
                ASSERT_EQ(yb_location_kind(cases[i][0]), YB_LOCATION_LOCAL);
        }
}

TEST(sftp_urls) {
        YbLocation l;

        parse_ok("sftp://yb@dr.example.gov.cn:2222/backup", &l);
        ASSERT_EQ(l.kind, YB_LOCATION_SFTP);
        ASSERT_STREQ(l.endpoint.user, "yb");
        ASSERT_STREQ(l.endpoint.address, "dr.example.gov.cn");
        ASSERT_EQ(l.endpoint.port, 2222);
        ASSERT_STREQ(l.path, "/backup");
        yb_location_done(&l);

        parse_ok("sftp://yb@[fd00::2]/srv/yunbak", &l);
        ASSERT_STREQ(l.endpoint.address, "fd00::2");
        ASSERT_EQ(l.endpoint.port, YB_ENDPOINT_DEFAULT_PORT);
        ASSERT_STREQ(l.path, "/srv/yunbak");
        yb_location_done(&l);

        parse_ok("sftp://backup.user@10.0.3.15/", &l);
        ASSERT_STREQ(l.endpoint.user, "backup.user");
        ASSERT_STREQ(l.endpoint.address, "10.0.3.15");
        ASSERT_STREQ(l.path, "/");
        yb_location_done(&l);
}

TEST(s3_urls) {
        YbLocation l;

        parse_ok("s3://yunbak-hz.backup/city/hz", &l);
        ASSERT_EQ(l.kind, YB_LOCATION_S3);
        ASSERT_STREQ(l.bucket, "yunbak-hz.backup");
        ASSERT_STREQ(l.path, "city/hz");
        yb_location_done(&l);

        parse_ok("s3://b01", &l);
        ASSERT_STREQ(l.bucket, "b01");
        ASSERT_STREQ(l.path, "");
        yb_location_done(&l);
        ASSERT_EQ(yb_location_kind("s3://bucket"), YB_LOCATION_S3);
}

TEST(bad_locations) {
        assert_bad("", EINVAL,
                   "the location is empty: use a directory, file:///path, "
                   "sftp://user@host[:port]/path or s3://bucket[/prefix]");
        assert_bad("s3://Bucket/x", EINVAL,
                   "'Bucket' is not an S3 bucket name: 3 to 63 of a-z, 0-9, '.' and '-', "
                   "starting and ending with a letter or digit (write s3://bucket[/prefix])");
        assert_bad("s3://ab", EINVAL,
                   "'ab' is not an S3 bucket name: 3 to 63 of a-z, 0-9, '.' and '-', "
                   "starting and ending with a letter or digit (write s3://bucket[/prefix])");
        assert_bad("s3://bucket/a//b", EINVAL,
                   "the prefix 'a//b' has an empty, '.' or '..' part (write s3://bucket/a/b, "
                   "without a trailing '/')");
        assert_bad("s3://bucket/a/../b", EINVAL,
                   "the prefix 'a/../b' has an empty, '.' or '..' part (write s3://bucket/a/b, "
                   "without a trailing '/')");
        assert_bad("s3://bucket/a/", EINVAL,
                   "the prefix 'a/' ends with '/': write s3://bucket/a/b");
        assert_bad("files:///tmp", EPROTONOSUPPORT,
                   "unsupported kind of store 'files': use a directory, file:///path, "
                   "sftp://user@host[:port]/path or s3://bucket[/prefix]");
        assert_bad("file://srv/backup", EINVAL,
                   "a file URL needs an absolute path, as file:///srv/backup");
        assert_bad("file://", EINVAL, "a file URL needs an absolute path, as file:///srv/backup");
        assert_bad("sftp://yb@dr.example.gov.cn", EINVAL,
                   "the path is missing: write sftp://user@host[:port]/path");
        assert_bad("sftp://dr.example.gov.cn/backup", EINVAL,
                   "the user is missing: write user@host or user@host:port");
        assert_bad("sftp://yb@host:0/x", EINVAL, "the port must be a number from 1 to 65535");
        assert_bad("sftp://yb@::1/x", EINVAL,
                   "write an IPv6 address in brackets, as [2001:db8::1]:22");
        assert_bad("sftp://-oProxyCommand=x@h/x", EINVAL,
                   "the user '-oProxyCommand=x' is not valid (letters, digits, '.', '_' and '-')");
        assert_bad("sftp://yb@bad\nhost/x", EINVAL,
                   "'bad\\nhost' is not a host name or IP address (letters, digits, '-' and '.')");
        ASSERT_EQ(yb_location_kind("sftp://host/x"), YB_LOCATION_SFTP);
        ASSERT_ERR(yb_location_kind("gs://bucket"), EPROTONOSUPPORT);
}

TEST(endpoints) {
        YbEndpoint e;
        char err[160];

        ASSERT_OK(yb_location_endpoint_parse("127.0.0.1:9100", 14,
                                             YB_ENDPOINT_PORT | YB_ENDPOINT_NUMERIC, &e, err,
                                             sizeof(err)));
        ASSERT_TRUE(e.user == NULL);
        ASSERT_STREQ(e.address, "127.0.0.1");
        ASSERT_EQ(e.port, 9100);
        yb_location_endpoint_done(&e);
        /* Only the n bytes given are read. */
        ASSERT_OK(yb_location_endpoint_parse("root@web-03:22/rest", 11, YB_ENDPOINT_USER, &e, err,
                                             sizeof(err)));
        ASSERT_STREQ(e.user, "root");
        ASSERT_STREQ(e.address, "web-03");
        ASSERT_EQ(e.port, 22);
        yb_location_endpoint_done(&e);
        ASSERT_ERR(yb_location_endpoint_parse("localhost:9100", 14,
                                              YB_ENDPOINT_PORT | YB_ENDPOINT_NUMERIC, &e, err,
                                              sizeof(err)),
                   EINVAL);
        ASSERT_STREQ(err, "'localhost' is not an IP address: write one, as 127.0.0.1:9100 or "
                          "[::1]:9100");
        ASSERT_ERR(yb_location_endpoint_parse("yb@h", 4, YB_ENDPOINT_PORT, &e, err, sizeof(err)),
                   EINVAL);
        ASSERT_STREQ(err, "no user is needed here: write host:port");
}
