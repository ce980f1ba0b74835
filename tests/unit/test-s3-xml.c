/* tests/unit/test-s3-xml.c: core/store/s3-xml.c, the reader of S3's answers: real answers of
 * radosgw 16 read into their records, entities decoded, and every malformed or oversized document
 * refused (-EBADMSG, -E2BIG) rather than half read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/store/s3-xml.h"
#include "tests/unit/test.h"

static int parse_all(const char *doc) {
        char *v = NULL;
        int r = yb_s3_xml_value(doc, strlen(doc), "nothing", &v);

        free(v);
        return r;
}

static void assert_value(const char *doc, const char *path, const char *want) {
        char *v = NULL;

        ASSERT_OK(yb_s3_xml_value(doc, strlen(doc), path, &v));
        if (!want)
                ASSERT_TRUE(v == NULL);
        else
                ASSERT_STREQ(v, want);
        free(v);
}

TEST(error_and_configuration_answers) {
        static const char err[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>NoSuchBucket</Code>"
                "<Message></Message><BucketName>nob</BucketName><RequestId>tx0-1</RequestId>"
                "<HostId>1008-default-default</HostId></Error>";
        static const char ver[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><VersioningConfiguration "
                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>Enabled</Status>"
                "<MfaDelete>Disabled</MfaDelete></VersioningConfiguration>";
        static const char lock[] =
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ObjectLockConfiguration>"
                "<ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";

        assert_value(err, "Error/Code", "NoSuchBucket");
        assert_value(err, "Error/Message", "");
        assert_value(ver, "VersioningConfiguration/Status", "Enabled");
        assert_value("<VersioningConfiguration xmlns=\"x\"></VersioningConfiguration>",
                     "VersioningConfiguration/Status", NULL);
        assert_value(lock, "ObjectLockConfiguration/ObjectLockEnabled", "Enabled");
        assert_value("<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>"
                     "2~abc</UploadId></InitiateMultipartUploadResult>",
                     "InitiateMultipartUploadResult/UploadId", "2~abc");
}

typedef struct Seen {
        char text[512];
} Seen;

static int seen_fn(void *ud, char **v) {
        Seen *s = ud;
        size_t l = strlen(s->text);

        snprintf(s->text + l, sizeof(s->text) - l, "[%s|%s|%s]", v[0] ? v[0] : "-",
                 v[1] ? v[1] : "-", v[2] ? v[2] : "-");
        return 0;
}

TEST(list_records_with_entities) {
        static const char doc[] =
                "<?xml version=\"1.0\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/"
                "2006-03-01/\">\n  <Name>plain</Name><Prefix>p/</Prefix><KeyCount>3</KeyCount>"
                "<IsTruncated>true</IsTruncated><NextContinuationToken>t&amp;1</"
                "NextContinuationToken>"
                "<Contents><Key>p/a&lt;b&gt;&amp;&quot;&apos;</Key><Size>11</Size>"
                "<LastModified>2026-12-06T20:11:18.290Z</LastModified></Contents>"
                "<Contents><Key>p/&#233;&#x4e2d;</Key><Size>0</Size></Contents>"
                "<!-- a comment --><CommonPrefixes><Prefix>p/dir/</Prefix></CommonPrefixes>"
                "<s3:Contents><s3:Key>p/ns</s3:Key></s3:Contents>"
                "</ListBucketResult>\n";
        static const char *const fields[] = { "Key", "Size", "Missing" };
        Seen s = { "" };

        ASSERT_OK(yb_s3_xml_records(doc, strlen(doc), "ListBucketResult/Contents", fields, 3,
                                    seen_fn, &s));
        ASSERT_STREQ(s.text, "[p/a<b>&\"'|11|-][p/\xc3\xa9\xe4\xb8\xad|0|-][p/ns|-|-]");
        s.text[0] = 0;
        ASSERT_OK(yb_s3_xml_records(doc, strlen(doc), "ListBucketResult/CommonPrefixes", fields + 0,
                                    0, seen_fn, &s));
        ASSERT_STREQ(s.text, "[-|-|-]");
        assert_value(doc, "ListBucketResult/NextContinuationToken", "t&1");
        assert_value(doc, "ListBucketResult/IsTruncated", "true");
}

TEST(refuses_malformed_documents) {
        static const char *const bad[] = {
                "",
                "   ",
                "<a>",
                "<a></b>",
                "<a><b></a></b>",
                "<a>x</a>trailing",
                "<a></a><b></b>",
                "<a>&unknown;</a>",
                "<a>&amp</a>",
                "<a>&#0;</a>",
                "<a>&#xD800;</a>",
                "<a>&#x110000;</a>",
                "<a>&#;</a>",
                "<!DOCTYPE a><a></a>",
                "<a><![CDATA[x]]></a>",
                "<a><?pi x?></a>",
                "<a b=c></a>",
                "<a b=\"c></a>",
                "<a/ >",
                "<a><!-- never closed </a>",
                "text<a></a>",
                "<>",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (parse_all(bad[i]) != -EBADMSG)
                        fail_msg("'%s' was not refused: %d", bad[i], parse_all(bad[i]));
        ASSERT_OK(parse_all("<a b='1' c=\"2\"><c/><d >x</d ></a>"));
}

TEST(bounds) {
        char deep[YB_S3_XML_DEPTH * 8 + 64] = "";
        char *big;
        size_t n = 0;

        for (int i = 0; i <= YB_S3_XML_DEPTH; i++)
                n += (size_t) sprintf(deep + n, "<a>");
        ASSERT_ERR(parse_all(deep), E2BIG);

        big = malloc(YB_S3_XML_TEXT + 32);
        ASSERT_TRUE(big != NULL);
        strcpy(big, "<a>");
        memset(big + 3, 'x', YB_S3_XML_TEXT + 1);
        strcpy(big + 3 + YB_S3_XML_TEXT + 1, "</a>");
        ASSERT_ERR(parse_all(big), E2BIG);
        strcpy(big + 3 + YB_S3_XML_TEXT, "</a>");
        ASSERT_OK(parse_all(big));
        free(big);
        ASSERT_ERR(yb_s3_xml_value("<a/>", YB_S3_XML_MAX + 1, "a", &big), E2BIG);
}
