/* fuzz-s3-xml: the reader of S3's answers (core/store/s3-xml.c), which reads whatever the
 * endpoint sends. Every path it reports is under the bounds, every text is terminated at its
 * length, the records reader agrees with the event stream on how many records there are (or
 * refuses a record with a field twice), and a document is read the same way twice. */
#include <errno.h>
#include <string.h>

#include "core/store/s3-xml.h"
#include "tests/fuzz/fuzz-common.h"

typedef struct Count {
        size_t events, contents;
} Count;

static int count_fn(void *ud, const char *path, const char *text, size_t len) {
        Count *c = ud;

        FUZZ_CHECK(strlen(path) < YB_S3_XML_DEPTH * 128);
        FUZZ_CHECK(len <= YB_S3_XML_TEXT && text[len] == 0);
        c->events++;
        if (strcmp(path, "ListBucketResult/Contents") == 0)
                c->contents++;
        return 0;
}

static int record_fn(void *ud, char **v) {
        size_t *n = ud;

        (*n)++;
        for (size_t i = 0; i < 2; i++)
                FUZZ_CHECK(!v[i] || strlen(v[i]) <= YB_S3_XML_TEXT);
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static const char *const fields[] = { "Key", "Size" };
        Count a = { 0 }, b = { 0 };
        size_t records = 0;
        int r, r2;

        r = yb_s3_xml_parse((const char *) data, size, count_fn, &a);
        r2 = yb_s3_xml_parse((const char *) data, size, count_fn, &b);
        FUZZ_CHECK(r == r2 && a.events == b.events);
        FUZZ_CHECK(r == 0 || r == -EBADMSG || r == -E2BIG);
        if (r == 0) {
                /* The records reader is stricter: a field twice in one record is refused. */
                r = yb_s3_xml_records((const char *) data, size, "ListBucketResult/Contents",
                                      fields, 2, record_fn, &records);
                FUZZ_CHECK(r == 0 || r == -EBADMSG);
                FUZZ_CHECK(r < 0 || records == a.contents);
        }
        return 0;
}
